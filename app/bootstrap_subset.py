"""The part of Bootstrap's stylesheet that hubdesk's pages use, built from the full one.

Bootstrap's 232 KB stylesheet is parsed and matched on every navigation; a page uses a
small part of it. Measured (benchmarks/bench_rows.py, its trace): the full sheet cost
the renderer ~2 ms to parse and ~5.5 ms of style per page, the subset ~0.3 and ~2.2.

Run it again whenever templates/, static/*.js or the app's Python add a class::

    python -m hubdesk.bootstrap_subset

tests/unit/test_stylesheet.py fails when a class a page uses is in Bootstrap but not in the
subset. What stays: every rule with no class in its selector (the reboot, ``:root`` and
``[data-bs-theme=dark]`` colour modes, elements), every ``@keyframes``, and each selector
whose classes all appear as words in those sources (over-keeping is harmless; a word
ending in ``-`` just before ``{{``, ``{%`` or ``${`` keeps every class it starts:
``alert-{{ category }}``). Media queries keep their order and what is left inside them.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FULL = ROOT / "static" / "vendor" / "bootstrap" / "bootstrap.min.css"
SUBSET = ROOT / "static" / "vendor" / "bootstrap" / "bootstrap.subset.min.css"

WORD = re.compile(r"[A-Za-z_][\w-]*")
CLASS = re.compile(r"\.(-?[A-Za-z_][\w-]*)")
NOT = re.compile(r":not\((?:[^()]|\([^()]*\))*\)")  # classes a selector must not have
ATTRIBUTE = re.compile(r"\[[^\]]*\]")
COMMENT = re.compile(r"/\*(?!!).*?\*/", re.S)  # a /*! licence */ banner stays
BANNER = re.compile(r"/\*!.*?\*/", re.S)


def sources(root: Path = ROOT) -> list[Path]:
    """The files whose words may be classes on a page."""
    return sorted(
        [
            *(root / "templates").rglob("*.html"),
            *(root / "static").glob("*.js"),
            *(root / "app").rglob("*.py"),
        ]
    )


def words_in(texts: Iterable[str]) -> tuple[set[str], tuple[str, ...]]:
    """Every word, and the prefixes a template or script completes at run time."""
    words, prefixes = set(), set()
    for text in texts:
        for m in WORD.finditer(text):
            word = m.group(0)
            words.add(word)
            if word.endswith("-") and text[m.end() : m.end() + 2] in ("{{", "{%", "${"):
                prefixes.add(word)
    return words, tuple(sorted(prefixes))


def split_selectors(prelude: str) -> list[str]:
    """``a, b:not(.c, .d)`` -> ``["a", "b:not(.c, .d)"]``."""
    out, depth, cur = [], 0, []
    for ch in prelude:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur).strip())
    return out


def classes_of(selector: str) -> list[str]:
    """The classes an element must have for ``selector`` to match it."""
    return CLASS.findall(NOT.sub("", ATTRIBUTE.sub("", selector)))


def blocks(css: str, i: int = 0) -> tuple[list, int]:
    """``[(prelude, body)]`` where body is the declarations, or a list for an at-rule's rules."""
    out = []
    while i < len(css):
        close, open_ = css.find("}", i), css.find("{", i)
        if open_ == -1 or (close != -1 and close < open_):
            return out, (len(css) if close == -1 else close + 1)
        prelude = css[i:open_].strip()
        if prelude.startswith(("@media", "@supports", "@container", "@layer")):
            inner, i = blocks(css, open_ + 1)
            out.append((prelude, inner))
        else:  # declarations, or @keyframes' frames: up to the brace that closes it
            depth, j = 0, open_
            while True:
                depth += (css[j] == "{") - (css[j] == "}")
                if depth == 0:
                    break
                j += 1
            out.append((prelude, css[open_ + 1 : j]))
            i = j + 1
    return out, i


def subset(css: str, words: set[str], prefixes: tuple[str, ...] = ()) -> str:
    """The rules of ``css`` that can match an element with classes from ``words``."""

    def used(cls: str) -> bool:
        return cls in words or cls.startswith(prefixes)

    def emit(items) -> str:
        out = []
        for prelude, body in items:
            if isinstance(body, list):
                inner = emit(body)
                if inner:
                    out.append(f"{prelude}{{{inner}}}")
            elif prelude.startswith("@"):  # @keyframes, @font-face, …
                out.append(f"{prelude}{{{body}}}")
            else:
                kept = [s for s in split_selectors(prelude) if all(map(used, classes_of(s)))]
                if kept:
                    out.append(f"{','.join(kept)}{{{body}}}")
        return "".join(out)

    banner = BANNER.search(css)
    charset = '@charset "UTF-8";' if css.startswith("@charset") else ""
    body = COMMENT.sub("", BANNER.sub("", css)).removeprefix('@charset "UTF-8";')
    items, _ = blocks(body.strip())
    head = charset + (banner.group(0) + "\n" if banner else "")
    return (
        head + "/* hubdesk's subset: python -m hubdesk.bootstrap_subset */\n" + emit(items) + "\n"
    )


def build(root: Path = ROOT) -> str:
    words, prefixes = words_in(p.read_text(encoding="utf-8") for p in sources(root))
    return subset(FULL.read_text(encoding="utf-8"), words, prefixes)


def main() -> int:
    text = build()
    SUBSET.write_text(text, encoding="utf-8")
    print(f"wrote {SUBSET.relative_to(ROOT)}: {len(text):,} bytes of {FULL.stat().st_size:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
