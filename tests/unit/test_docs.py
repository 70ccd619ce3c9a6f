"""The documentation stays true: the configuration reference names exactly the settings
hubdesk reads, the README stays short, and every relative link leads to a file.

No hub, no fixtures: the settings are found by asking ``Settings.from_env`` itself which
variables it reads (a mapping that records every name asked of it) and by reading
``hubdesk.gunicorn_conf``'s source for the names it looks up.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
README = REPO / "README.md"
REFERENCE = DOCS / "reference" / "configuration.md"
# a setting's name as the code and the reference write it
SETTING = re.compile(r"\b(?:HUBDESK|JUPYTERHUB)_[A-Z0-9_]*[A-Z0-9]\b")
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")


class Recording(dict):
    """An environment that notes every name asked of it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.asked: set[str] = set()

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.asked.add(key)
        return super().__contains__(key)


def read_by_settings() -> set[str]:
    """Every variable ``Settings.from_env`` asks for, with the few it needs to go on."""
    from hubdesk.config import Settings

    env = Recording(
        JUPYTERHUB_API_URL="http://127.0.0.1:8081/hub/api",
        JUPYTERHUB_API_TOKEN="t" * 32,
        HUBDESK_SECRET_KEY="k" * 40,
    )
    Settings.from_env(env)
    return env.asked


def read_by_gunicorn_conf() -> set[str]:
    """Every environment name in ``hubdesk.gunicorn_conf``'s source that it looks up:
    ``os.environ.get(X)``, ``os.environ[X]``, ``X in os.environ``, ``_number(X, ...)``."""
    origin = importlib.util.find_spec("hubdesk.gunicorn_conf").origin
    tree = ast.parse(Path(origin).read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        candidates = []
        if isinstance(node, ast.Call) and node.args:
            candidates.append(node.args[0])
        elif isinstance(node, ast.Subscript):
            candidates.append(node.slice)
        elif isinstance(node, ast.Compare):
            candidates.append(node.left)
        for c in candidates:
            if isinstance(c, ast.Constant) and isinstance(c.value, str):
                if ENV_NAME.match(c.value):
                    names.add(c.value)
    return names


def read_by_hubdesk() -> set[str]:
    return read_by_settings() | read_by_gunicorn_conf()


def named_in(path: Path) -> set[str]:
    return set(SETTING.findall(path.read_text(encoding="utf-8")))


def test_the_readers_find_the_settings_everyone_knows():
    """A guard on the guard: the recording finds what the code is known to read."""
    read = read_by_hubdesk()
    for name in (
        "JUPYTERHUB_API_URL",
        "HUBDESK_API_TOKEN_FILE",
        "HUBDESK_SECRET_KEY_PREVIOUS_FILE",
        "HUBDESK_DB_URL",
        "HUBDESK_METRICS_TOKEN_FILE",
        "HUBDESK_BIND",
        "JUPYTERHUB_SERVICE_URL",
        "HUBDESK_WORKERS",
        "HUBDESK_METRICS_BIND",
        "PROMETHEUS_MULTIPROC_DIR",
    ):
        assert name in read, name
    # issue 19: the gthread worker's setting is gone
    assert "HUBDESK_THREADS" not in read


def test_every_setting_hubdesk_reads_is_in_the_configuration_reference():
    text = REFERENCE.read_text(encoding="utf-8")
    missing = sorted(n for n in read_by_hubdesk() if f"`{n}`" not in text)
    assert not missing, f"read by hubdesk, missing from {REFERENCE.relative_to(REPO)}: {missing}"


def test_the_configuration_reference_names_no_setting_hubdesk_does_not_read():
    unread = sorted(named_in(REFERENCE) - read_by_hubdesk())
    where = REFERENCE.relative_to(REPO)
    assert not unread, f"{where} names settings hubdesk does not read: {unread}"


def test_each_setting_has_a_row_of_its_own():
    """One table row per setting, its name first, so that a reader finds it by name."""
    rows = [
        line.split("`")[1]
        for line in REFERENCE.read_text(encoding="utf-8").splitlines()
        if line.startswith("| `")
    ]
    assert len(rows) == len(set(rows)), [r for r in rows if rows.count(r) > 1]
    assert set(rows) == read_by_hubdesk()


def test_the_reference_says_how_to_rotate_the_secret_key():
    """The key's rotation, step by step, where the previous key is explained."""
    text = REFERENCE.read_text(encoding="utf-8")
    (row,) = [
        line for line in text.splitlines() if line.startswith("| `HUBDESK_SECRET_KEY_PREVIOUS` ")
    ]
    assert "restart every worker and replica" in row and "HUBDESK_SESSION_HOURS" in row


def test_the_readme_is_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 220, f"README.md has {len(lines)} lines: move detail into docs/"


def documents() -> list[Path]:
    found = [
        README,
        REPO / "CHANGELOG.md",
        REPO / "CONTRIBUTING.md",
        REPO / "SECURITY.md",
        REPO / "deploy" / "README.md",
        *sorted(DOCS.rglob("*.md")),
    ]
    return [p for p in found if p.exists()]


LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def relative_links(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # code blocks hold no links
    links = []
    for target in LINK.findall(text):
        parsed = urlparse(target)
        if parsed.scheme or target.startswith(("#", "//", "mailto:")):
            continue
        links.append(target)
    return links


def test_every_relative_link_leads_to_a_file():
    broken = []
    for doc in documents():
        for target in relative_links(doc):
            path = unquote(target.split("#", 1)[0])
            if not (doc.parent / path).resolve().exists():
                broken.append(f"{doc.relative_to(REPO)}: {target}")
    assert not broken, broken


def anchors(path: Path) -> set[str]:
    """The anchors GitHub makes from a Markdown file's headings."""
    found = set()
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


def test_every_link_to_a_heading_in_the_docs_finds_it():
    broken = []
    for doc in documents():
        for target in relative_links(doc) + re.findall(r"\]\((#[^)\s]+)\)", doc.read_text()):
            path, _, anchor = target.partition("#")
            if not anchor:
                continue
            into = (doc.parent / unquote(path)).resolve() if path else doc
            if into.suffix == ".md" and anchor not in anchors(into):
                broken.append(f"{doc.relative_to(REPO)}: {target}")
    assert not broken, broken


def test_every_deploy_path_the_docs_name_exists():
    """`deploy/...` named in a guide is a file or folder that is there (kubectl's
    `deploy/<Deployment>`, as in `kubectl exec deploy/hubdesk`, is no path)."""
    missing = []
    for doc in documents():
        for named in re.findall(r"(?<![\w/.])deploy/[\w./-]*[\w/]", doc.read_text("utf-8")):
            if named in ("deploy/hub", "deploy/hubdesk"):
                continue
            if not (REPO / named).exists():
                missing.append(f"{doc.relative_to(REPO)}: {named}")
    assert not missing, missing


def test_the_docs_images_are_the_scripts():
    """The pictures the docs show are made by docs/screenshots.py, and each one is used."""
    script = (DOCS / "screenshots.py").read_text(encoding="utf-8")
    made = set(re.findall(r'shoot\(page, "([\w-]+)"', script))
    shown = set()
    for doc in documents():
        shown |= set(re.findall(r"images/([\w-]+)\.png", doc.read_text(encoding="utf-8")))
    on_disk = {p.stem for p in (DOCS / "images").glob("*.png")}
    assert shown == made == on_disk, (shown, made, on_disk)
