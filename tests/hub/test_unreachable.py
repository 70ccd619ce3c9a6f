"""A hub that is down: a 503 page in words, health says down, no stack trace."""

import pytest
from helpers.stack import PREFIX, another_app, settings_env
from hubdesk.devhub import free_port


@pytest.fixture
def stranded(stack):
    """hubdesk with the same settings but a hub API where nothing listens."""
    env = settings_env(
        stack.hub,
        stack.token,
        stack.secret_key,
        HUBDESK_CONNECT_TIMEOUT="0.5",
        HUBDESK_STATE_DIR=stack.env["HUBDESK_STATE_DIR"],  # its database: the same sessions
    )
    env["JUPYTERHUB_API_URL"] = f"http://127.0.0.1:{free_port()}/hub/api"
    with another_app(env) as app:
        yield app.test_client()


def test_health_says_down_with_503(stranded):
    r = stranded.get(f"{PREFIX}health")
    assert r.status_code == 503
    assert r.get_json() == {"status": "unavailable", "hub": "down", "database": "up"}
    # but the process is alive: a liveness probe must not restart it for the hub's sake
    r = stranded.get(f"{PREFIX}health/live")
    assert r.status_code == 200 and r.get_json() == {"status": "ok"}


def test_pages_answer_503_in_words(stack, stranded):
    signed_in = stack.signin("admin")
    stranded.set_cookie("hubdesk-session", signed_in.cookies["hubdesk-session"], path=PREFIX)
    for path in ("", "groups/", "status"):
        r = stranded.get(PREFIX + path)
        page = r.get_data(as_text=True)
        assert r.status_code == 503, path
        assert "cannot reach JupyterHub" in page
        assert "Traceback" not in page and stack.token not in page


def test_signing_in_needs_no_hub_until_the_callback(stranded):
    r = stranded.get(f"{PREFIX}")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
