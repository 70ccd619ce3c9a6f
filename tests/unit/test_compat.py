"""The hub releases hubdesk knows of: which refuse 64-character tokens, and what it says then.

The rule itself is a pure function (hubdesk.compat). The hub under test is a supported release,
so health and the status page say nothing of it there (tests/test_signin.py checks the
health answer word for word); what they say on an affected release is checked here with a
stand-in that answers only the version question as such a release would.
"""

from __future__ import annotations

import json
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hubdesk import compat, create_app
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("version", "fixed"),
    [("6.1.0", "6.1.1"), ("5.5.3", "5.5.4"), ("6.1.0rc1", "6.1.1"), (" 5.5.3.dev0", "5.5.4")],
)
def test_the_affected_releases_are_named_with_their_fix(version, fixed):
    words = compat.token_problem(version)
    release = compat.release_of(version)
    assert words.startswith(f"JupyterHub {'.'.join(map(str, release))} rejects API tokens")
    assert "exactly 64 characters" in words and "zero-to-jupyterhub" in words
    assert f"upgrade the hub to {fixed} or newer" in words
    assert "hubdesk's own token" not in words  # its length was not said


@pytest.mark.parametrize(
    "version", ["6.1.1", "5.5.4", "6.0.1", "6.0.0", "5.5.2", "6.2.0", "7.0.0", "5.5", "", "dev"]
)
def test_other_releases_have_no_such_problem(version):
    assert compat.token_problem(version, 64) == ""
    assert not compat.refuses_own_token(version, 64)


def test_a_64_character_token_of_hubdesks_own_is_refused_outright():
    words = compat.token_problem("6.1.0", 64)
    assert "hubdesk's own token is 64 characters long" in words
    assert compat.refuses_own_token("6.1.0", 64)
    # a token of another length works there: the warning stays, hubdesk is not refused
    assert "hubdesk's own token" not in compat.token_problem("6.1.0", 48)
    assert not compat.refuses_own_token("6.1.0", 48)


def test_the_fixes_are_the_minimum_releases():
    for release, fixed in compat.REFUSES_64_CHARACTER_TOKENS.items():
        assert compat.release_of(fixed) == compat.MINIMUM[release[0]] > release


def test_pyproject_and_the_docs_state_the_minimum_releases():
    """pip refuses an unsupported JupyterHub beside hubdesk; the docs name the minimums."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]
    (hub,) = [Requirement(d) for d in project["dependencies"] if d.startswith("jupyterhub")]
    for version in ("5.4.6", "5.5.3", "6.0.1", "6.1.0"):
        assert version not in hub.specifier, version
    for version in ("5.5.4", "5.6.0", "6.1.1", "6.2.0"):
        assert version in hub.specifier, version
    readme = (REPO / "README.md").read_text("utf-8")
    compatibility = readme[readme.index("## Compatibility") :]
    deploy = (REPO / "deploy" / "README.md").read_text("utf-8")
    for minimum in compat.MINIMUM.values():
        text = ".".join(map(str, minimum))
        assert text in compatibility and text in deploy, text


class VersionOnly(BaseHTTPRequestHandler):
    """Answers the hub's unauthenticated version question, as JupyterHub 6.1.0 would."""

    version = "6.1.0"

    def do_GET(self):  # noqa: N802 (http.server's name)
        body = json.dumps({"version": self.version}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def affected_hub():
    server = ThreadingHTTPServer(("127.0.0.1", 0), VersionOnly)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hub/api"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("token_length", [64, 48])
def test_health_says_so_on_an_affected_release(affected_hub, tmp_path, token_length):
    app = create_app(
        {
            "JUPYTERHUB_API_URL": affected_hub,
            "JUPYTERHUB_API_TOKEN": "t" * token_length,
            "HUBDESK_SECRET_KEY": "k" * 64,
            "HUBDESK_STATE_DIR": str(tmp_path),
        }
    )
    r = app.test_client().get("/services/hubdesk/health")
    answer = r.get_json()
    assert answer["hub"] == "up" and answer["database"] == "up"
    assert answer["hub_problem"] == compat.token_problem("6.1.0", token_length)
    if token_length == 64:  # the hub refuses hubdesk itself: not ready
        assert r.status_code == 503 and answer["status"] == "degraded"
    else:  # hubdesk works; the warning is for the hub's other 64-character tokens
        assert r.status_code == 200 and answer["status"] == "ok"
