"""Settings: read from the environment in one place, one clear line when wrong."""

import subprocess
import sys
from pathlib import Path

import pytest
from hubdesk.config import ConfigError, Settings

GOOD = {
    "JUPYTERHUB_API_URL": "http://hub:8081/hub/api",
    "JUPYTERHUB_API_TOKEN": "t" * 32,
    "HUBDESK_SECRET_KEY": "k" * 64,
}


def settings(**changes):
    env = dict(GOOD)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return Settings.from_env(env)


def test_defaults_follow_the_jupyterhub_service_conventions():
    s = settings()
    assert s.service_name == "hubdesk"
    assert s.service_prefix == "/services/hubdesk/"
    assert s.client_id == "service-hubdesk"
    assert s.oauth_callback_url == "/services/hubdesk/oauth_callback"
    assert s.authorize_url == "/hub/api/oauth2/authorize"
    assert s.verify is True


def test_service_variables_are_used():
    s = settings(
        JUPYTERHUB_SERVICE_NAME="desk",
        JUPYTERHUB_SERVICE_PREFIX="/services/desk",
        JUPYTERHUB_BASE_URL="/jupyter/",
        JUPYTERHUB_HOST="https://hub.example.org",
    )
    assert s.service_prefix == "/services/desk/"
    assert s.client_id == "service-desk"
    assert s.authorize_url == "https://hub.example.org/jupyter/hub/api/oauth2/authorize"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"JUPYTERHUB_API_URL": None}, "JUPYTERHUB_API_URL"),
        ({"JUPYTERHUB_API_URL": "hub:8081"}, "JUPYTERHUB_API_URL"),
        ({"JUPYTERHUB_API_TOKEN": None}, "JUPYTERHUB_API_TOKEN"),
        ({"HUBDESK_SECRET_KEY": None}, "HUBDESK_SECRET_KEY"),
        ({"HUBDESK_SECRET_KEY": "short"}, "HUBDESK_SECRET_KEY"),
        ({"HUBDESK_TLS_VERIFY": "maybe"}, "HUBDESK_TLS_VERIFY"),
        ({"HUBDESK_READ_TIMEOUT": "soon"}, "HUBDESK_READ_TIMEOUT"),
        ({"HUBDESK_READ_TIMEOUT": "0"}, "HUBDESK_READ_TIMEOUT"),
        ({"HUBDESK_CA_BUNDLE": "/no/such/ca.pem"}, "HUBDESK_CA_BUNDLE"),
        ({"HUBDESK_API_TOKEN_FILE": "/no/such/token"}, "HUBDESK_API_TOKEN_FILE"),
        ({"HUBDESK_SECURE_COOKIES": "sometimes"}, "HUBDESK_SECURE_COOKIES"),
        ({"HUBDESK_LOG_LEVEL": "LOUD"}, "HUBDESK_LOG_LEVEL"),
        ({"HUBDESK_MAX_STREAMS": "0"}, "HUBDESK_MAX_STREAMS"),
        ({"HUBDESK_WORKER_CONNECTIONS": "many"}, "HUBDESK_WORKER_CONNECTIONS"),
        ({"HUBDESK_WORKER_CONNECTIONS": "0"}, "HUBDESK_WORKER_CONNECTIONS"),
        ({"HUBDESK_BODY_TIMEOUT": "soon"}, "HUBDESK_BODY_TIMEOUT"),
    ],
)
def test_a_bad_setting_is_named(change, named):
    with pytest.raises(ConfigError) as e:
        settings(**change)
    message = str(e.value)
    assert message.startswith(named)
    assert "\n" not in message


@pytest.mark.parametrize(
    ("change", "streams"),
    [
        ({}, 32),
        ({"HUBDESK_MAX_STREAMS": "5"}, 5),
    ],
)
def test_progress_streams_per_worker(change, streams):
    assert settings(**change).max_streams == streams


def test_secrets_from_files(tmp_path):
    token, key = tmp_path / "token", tmp_path / "key"
    token.write_text("from-a-kubernetes-secret\n")
    key.write_text("s" * 40)
    s = settings(
        JUPYTERHUB_API_TOKEN=None,
        HUBDESK_API_TOKEN_FILE=str(token),
        HUBDESK_SECRET_KEY=None,
        HUBDESK_SECRET_KEY_FILE=str(key),
    )
    assert s.api_token == "from-a-kubernetes-secret"
    assert s.secret_key == "s" * 40


# Reads a secret file as the image's user (uid 1000) would, the way hubdesk starts: the
# modules are imported first (as root may), then the process becomes uid 1000 and reads.
AS_THE_IMAGES_USER = r"""
import os, sys
from hubdesk.config import ConfigError, Settings
if os.geteuid() == 0:
    os.setgroups([]); os.setgid(1000); os.setuid(1000)
try:
    Settings.from_env()
except ConfigError as e:
    sys.stderr.write(f"hubdesk: configuration error: {e}\n")
    sys.exit(4)
"""


def test_a_secret_file_only_root_may_read_stops_hubdesk_with_one_line(tmp_path_factory):
    """A mounted secret of mode 0600 owned by root, read by the image's user (uid 1000)."""
    import os
    import tempfile

    if not hasattr(os, "geteuid"):
        pytest.skip("no POSIX users here")
    folder = Path(tempfile.mkdtemp())  # /tmp/...: uid 1000 may look inside
    try:
        folder.chmod(0o755)
        secret = folder / "secret-key"
        secret.write_text("k" * 40)
        secret.chmod(0o600 if os.geteuid() == 0 else 0o000)  # root's own, or nobody's
        env = dict(GOOD, PATH="/usr/bin:/bin", HUBDESK_SECRET_KEY_FILE=str(secret))
        del env["HUBDESK_SECRET_KEY"]
        result = subprocess.run(
            [sys.executable, "-c", AS_THE_IMAGES_USER],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()
    assert result.returncode == 4, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"hubdesk: configuration error: HUBDESK_SECRET_KEY_FILE='{secret}'")
    assert "cannot read it (Permission denied)" in line
    assert "must be readable by that user or group" in line


@pytest.mark.parametrize(
    ("content", "words"),
    [(None, "cannot read it (Is a directory)"), (b"\xff\xfe\x00", "is not UTF-8 text")],
    ids=["a-directory", "not-text"],
)
def test_a_secret_file_hubdesk_cannot_use_is_one_line(tmp_path, content, words):
    path = tmp_path / "token"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(ConfigError) as e:
        settings(JUPYTERHUB_API_TOKEN=None, HUBDESK_API_TOKEN_FILE=str(path))
    assert str(e.value).startswith(f"HUBDESK_API_TOKEN_FILE={str(path)!r}: ")
    assert words in str(e.value) and "\n" not in str(e.value)


def test_secrets_stay_out_of_repr():
    text = repr(settings())
    assert "t" * 32 not in text and "k" * 64 not in text


def test_tls_verification_is_on_unless_turned_off(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("---")
    assert settings(HUBDESK_CA_BUNDLE=str(bundle)).verify == str(bundle)
    assert settings(HUBDESK_TLS_VERIFY="false").verify is False


def test_turning_tls_verification_off_logs_a_warning(caplog, tmp_path):
    from hubdesk import create_app

    # DEBUG: logging is per process, and the real-hub tests read hubdesk's debug lines
    create_app(
        dict(
            GOOD,
            HUBDESK_TLS_VERIFY="false",
            HUBDESK_LOG_LEVEL="DEBUG",
            HUBDESK_STATE_DIR=str(tmp_path),
        )
    )
    assert any("NOT checked" in r.getMessage() for r in caplog.records)


def test_wsgi_entry_point_stops_with_one_line():
    result = subprocess.run(
        [sys.executable, "-c", "import hubdesk.wsgi"],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 4
    assert result.stderr.strip().splitlines() == [
        result.stderr.strip()
    ] and result.stderr.startswith("hubdesk: configuration error: JUPYTERHUB_API_URL")


def test_the_readme_documents_rotating_the_secret_key():
    """Each variable of the key's rotation is a row of the configuration reference's table."""
    from pathlib import Path

    repo = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").exists())
    readme = (repo / "docs" / "reference" / "configuration.md").read_text()
    rows = {line.split("`")[1] for line in readme.splitlines() if line.startswith("| `")}
    for name in ("HUBDESK_SECRET_KEY_PREVIOUS", "HUBDESK_SECRET_KEY_PREVIOUS_FILE"):
        assert name in rows, name
    previous = "| `HUBDESK_SECRET_KEY_PREVIOUS` "
    (row,) = [line for line in readme.splitlines() if line.startswith(previous)]
    assert "restart every worker and replica" in row and "HUBDESK_SESSION_HOURS" in row
    # and the setting is read: sealed data opens with either key
    assert settings(HUBDESK_SECRET_KEY_PREVIOUS="p" * 40).secret_key_previous == "p" * 40
