"""The pages load a subset of Bootstrap (app/bootstrap_subset.py): it must hold what they use."""

import re
from pathlib import Path

import pytest
from hubdesk import bootstrap_subset as bs
from hubdesk import states

ROOT = Path(__file__).resolve().parents[2]  # the checkout (the installed package has no templates/)
# the checkout's files, not the installed package's (CI installs it, not editable)
FULL = ROOT / bs.FULL.relative_to(bs.ROOT)
SUBSET = ROOT / bs.SUBSET.relative_to(bs.ROOT)
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
LITERAL = re.compile(r"'([^'\\]*)'|\"([^\"\\]*)\"")


def literal_words(code: str) -> set[str]:
    return {w for m in LITERAL.finditer(code) for w in (m.group(1) or m.group(2) or "").split()}


def in_class_value(value: str) -> tuple[set[str], set[str]]:
    """Classes and class prefixes of ``class="…"``'s value, with Jinja or ${…} inside."""
    classes, prefixes = set(), set()
    pieces = re.split(r"(\{\{.*?\}\}|\{%.*?%\}|\$\{.*?\})", value, flags=re.S)
    for i, piece in enumerate(pieces):
        if i % 2:  # an expression: the classes are its string literals
            classes |= literal_words(piece)
            continue
        words = piece.split()
        if words and not piece[-1:].isspace() and i + 1 < len(pieces) and words[-1][-1] == "-":
            prefixes.add(words.pop())  # alert-{{ category }}
        classes |= set(words)
    return classes, prefixes


def used_classes() -> tuple[set[str], set[str]]:
    """Every class written in templates/, static/*.js and the app's HTML strings."""
    classes, prefixes = set(), set()

    def add(pair):
        classes.update(pair[0])
        prefixes.update(pair[1])

    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        # class="…" whose value may hold Jinja (and its quotes): up to the quote that closes it
        for m in re.finditer(r'class="((?:\{\{.*?\}\}|\{%.*?%\}|[^"{])*)"', text, re.S):
            add(in_class_value(m.group(1)))
        for m in re.finditer(r"class_=(\"[^\"]*\"|'[^']*')", text):
            add(in_class_value(m.group(1)[1:-1]))
    for path in (ROOT / "static").glob("*.js"):
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"classList\.\w+\(([^)]*)\)|className\s*=\s*([^;\n]*)", text):
            code = m.group(1) or m.group(2)
            classes |= literal_words(code)
            for t in re.finditer(r"`([^`]*)`", code):
                add(in_class_value(t.group(1)))
        for m in re.finditer(r'class="([^"]*)"', text):
            add(in_class_value(m.group(1)))
    for badge, alert in states.TONES.values():  # the vocabulary's colours, named in Python
        classes.update(badge.split() + alert.split())
    for path in (ROOT / "app").rglob("*.py"):
        for m in re.finditer(r"class=\\?[\"']([^\"'\\]*)", path.read_text(encoding="utf-8")):
            add(in_class_value(m.group(1)))
    return {c for c in classes if re.fullmatch(r"-?[A-Za-z_][\w-]*", c)}, prefixes


def rules(css: str) -> set[tuple[str, str, str]]:
    """(media query, selector, declarations) of every selector of a stylesheet."""
    out = set()

    def walk(items, context=""):
        for prelude, body in items:
            if isinstance(body, list):
                walk(body, context + prelude)
            else:
                out.update((context, sel, body) for sel in bs.split_selectors(prelude))

    walk(bs.blocks(bs.COMMENT.sub("", bs.BANNER.sub("", css)).removeprefix('@charset "UTF-8";'))[0])
    return out


def test_every_rule_the_pages_classes_can_match_is_in_the_subset():
    full = FULL.read_text(encoding="utf-8")
    classes, prefixes = used_classes()
    assert {"btn", "table", "navbar", "alert"} <= classes  # the extraction finds classes at all
    needed = rules(bs.subset(full, classes, tuple(sorted(prefixes))))
    missing = needed - rules(SUBSET.read_text(encoding="utf-8"))
    assert not missing, (
        f"{len(missing)} rules of Bootstrap that the pages' classes can match are not in "
        f"{SUBSET.name}, e.g. {sorted(sel for _, sel, _ in missing)[:10]}: "
        "run `python -m hubdesk.bootstrap_subset`"
    )


def test_the_pages_link_the_subset():
    base = (ROOT / "templates" / "base.html").read_text(encoding="utf-8")
    assert "vendor/bootstrap/bootstrap.subset.min.css" in base
    assert "vendor/bootstrap/bootstrap.min.css" not in base


def test_the_colour_modes_and_the_licence_stay():
    full = FULL.read_text(encoding="utf-8")
    mine = SUBSET.read_text(encoding="utf-8")
    assert "Licensed under MIT" in mine
    for block in ("[data-bs-theme=dark]{", ":root,[data-bs-theme=light]{"):
        start = full.index(block)
        assert full[start : full.index("}", start)] in mine, block
    assert mine.count("@keyframes") == full.count("@keyframes")
    assert len(mine) < len(full) / 3


@pytest.mark.parametrize(
    ("css", "words", "prefixes", "expected"),
    [
        (".a{x:1}.b{x:2}", {"a"}, (), ".a{x:1}"),
        # a selector list keeps the selectors that can match
        (".a,.b>p{x:1}", {"b"}, (), ".b>p{x:1}"),
        # classes an element must not have do not count; attributes are not classes
        (".a:not(.b){x:1}[href$='.c']{y:2}", {"a"}, (), ".a:not(.b){x:1}[href$='.c']{y:2}"),
        # no class: kept (the reboot, the colour modes)
        (":root,[data-bs-theme=dark]{--c:#000}", set(), (), ":root,[data-bs-theme=dark]{--c:#000}"),
        # a media query keeps what is left inside it, or goes
        ("@media (min-width:1px){.a{x:1}.b{x:2}}@media print{.b{x:3}}", {"a"}, (), None),
        ("@keyframes k{0%{x:1}to{x:2}}", set(), (), "@keyframes k{0%{x:1}to{x:2}}"),
        (".alert-danger{x:1}.alert-link{x:2}.bg-x{x:3}", set(), ("alert-",), None),
    ],
)
def test_subset_rules(css, words, prefixes, expected):
    out = bs.subset(css, words, prefixes).split("\n", 1)[1].strip()
    if expected is None:
        expected = {
            "@media (min-width:1px)": "@media (min-width:1px){.a{x:1}}",
            ".alert-danger": ".alert-danger{x:1}.alert-link{x:2}",
        }[next(k for k in ("@media (min-width:1px)", ".alert-danger") if css.startswith(k))]
    assert out == expected


def test_words_that_a_template_completes_keep_every_class_they_start():
    words, prefixes = bs.words_in(['<div class="alert alert-{{ kind }}">', "`badge-${x}`"])
    assert "alert" in words and prefixes == ("alert-", "badge-")
