"""What ships: the wheel, the Docker image's recipe, and a clean lint.

The wheel test builds hubdesk's wheel the way the Dockerfile's first stage does
and runs the app from it alone, away from the checkout, so that a template or
static file left out of the wheel fails here rather than in the image.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers.image import (
    DOCKERFILE,
    REPO,
    dockerfile_instructions,
    final_stage,
    healthcheck_cmd,
    image_cmd,
)
from hubdesk.config import Settings
from hubdesk.devhub import free_port
from sqlalchemy.engine import make_url

IMAGE_CMD = ["gunicorn", "-c", "python:hubdesk.gunicorn_conf", "hubdesk.wsgi:application"]

# the least configuration create_app() accepts; nothing is contacted
MINIMAL_ENV = {
    "JUPYTERHUB_API_URL": "http://127.0.0.1:9/hub/api",
    "JUPYTERHUB_API_TOKEN": "x" * 32,
    "HUBDESK_SECRET_KEY": "0123456789abcdef" * 4,
}


def tool(name: str) -> str:
    """An executable installed beside this Python (the test extra's ruff, hadolint...)."""
    exe = Path(sys.executable).with_name(name)
    if exe.exists():
        return str(exe)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found beside {sys.executable} nor on PATH: pip install -e .[test]")
    return found


# -- the Dockerfile, read as Docker reads it ----------------------------------


def test_dockerfile_cmd_is_the_command_the_gunicorn_test_runs():
    # tests/test_gunicorn.py starts gunicorn with image_cmd(): keep them one and the same
    assert image_cmd() == IMAGE_CMD


def test_dockerfile_final_stage():
    stage = final_stage()
    assert stage[0] == ("FROM", "python:3.12-slim")
    users = [arguments for keyword, arguments in stage if keyword == "USER"]
    assert users and users[-1].partition(":")[0] not in ("root", "0")
    assert ("EXPOSE", "8000") in stage
    env = " ".join(arguments for keyword, arguments in stage if keyword == "ENV")
    assert "HUBDESK_BIND=0.0.0.0:8000" in env.split()
    assert "PYTHONUNBUFFERED=1" in env.split()
    runs = " ".join(
        arguments for keyword, arguments in dockerfile_instructions() if keyword == "RUN"
    )
    assert "-e " not in runs and "--editable" not in runs
    assert runs.count("pip ") == runs.count("--no-cache-dir")
    assert healthcheck_cmd()[0] == "python"  # slim images have no curl


def test_dockerfile_builds_with_any_builder():
    """No BuildKit-only syntax: the classic builder (and an air-gapped BuildKit) builds it."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    # a parser directive (`# syntax=` makes BuildKit pull a frontend image from a registry)
    assert not re.search(r"(?im)^#\s*(syntax|escape|check)\s*=", text)
    for keyword, arguments in dockerfile_instructions():
        assert not re.search(r"--mount\b|--network\b|--security\b", arguments), (keyword, arguments)
        assert "<<" not in arguments, f"a heredoc in {keyword} needs BuildKit"
        if keyword in ("COPY", "ADD"):
            assert not re.search(r"--(link|parents|exclude|checksum)\b", arguments), arguments
    stage = final_stage()
    copies = [a for k, a in stage if k == "COPY"]
    # the final stage takes the built environment, never the wheel itself
    assert copies == ["--from=build /opt/hubdesk /opt/hubdesk"]
    env = " ".join(a for k, a in stage if k == "ENV").split()
    assert "PATH=/opt/hubdesk/bin:$PATH" in env


def image_env() -> dict[str, str]:
    """The final stage's ENV, as NAME=value pairs (the form this Dockerfile uses)."""
    pairs = " ".join(a for k, a in final_stage() if k == "ENV").split()
    return dict(pair.split("=", 1) for pair in pairs)


def test_the_image_keeps_its_database_where_the_readme_mounts_a_volume(tmp_path):
    state = image_env()["HUBDESK_STATE_DIR"]
    # the directory exists in the image and belongs to its user: a new named volume
    # mounted there starts as a copy of it, writable by hubdesk
    (user,) = [a for k, a in final_stage() if k == "USER"]
    runs = " ".join(a for k, a in final_stage() if k == "RUN")
    assert f"mkdir -p {state}" in runs and f"chown {user} {state}" in runs
    # hubdesk's default database is a file in it
    settings = Settings.from_env(dict(MINIMAL_ENV, HUBDESK_STATE_DIR=state))
    assert Path(make_url(settings.db_url).database).parent == Path(state)
    # the README's docker run mounts a named volume there
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    docker = readme[readme.index("### With Docker") :]
    run = docker[docker.index("docker run") : docker.index("```", docker.index("docker run"))]
    assert re.search(rf"-v [a-z][\w.-]*:{re.escape(state)}\s", run), run


def test_dockerfile_passes_hadolint():
    result = subprocess.run(
        [tool("hadolint"), "--no-color", str(DOCKERFILE)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_healthcheck_fails_when_nothing_answers():
    # the HEALTHCHECK's own command, pointed at a port where nothing listens
    env = {**os.environ, "HUBDESK_BIND": f"0.0.0.0:{free_port()}"}
    env.pop("JUPYTERHUB_SERVICE_PREFIX", None)
    result = subprocess.run(
        [sys.executable, *healthcheck_cmd()[1:]], env=env, capture_output=True, timeout=30
    )
    assert result.returncode != 0


# -- the wheel ----------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """hubdesk's wheel, built from this checkout like the Dockerfile builds it."""
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-cache-dir",
            "-w",
            str(out),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    wheels = list(out.glob("hubdesk-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_contents(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "hubdesk/__init__.py",
        "hubdesk/wsgi.py",
        "hubdesk/gunicorn_conf.py",
        "hubdesk/devhub/jupyterhub_config.py",
        "hubdesk/migrations/script.py.mako",
        "hubdesk/templates/base.html",
        "hubdesk/templates/home.html",
        "hubdesk/templates/error.html",
        "hubdesk/static/hubdesk.css",
        "hubdesk/static/vendor/bootstrap/bootstrap.min.css",
        "hubdesk/static/vendor/bootstrap/bootstrap.subset.min.css",
        "hubdesk/static/vendor/bootstrap/bootstrap.bundle.min.js",
    ):
        assert needed in names, needed
    # every template and static file of the checkout, not just the ones named above
    for folder in ("templates", "static"):
        for path in (REPO / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                assert f"hubdesk/{path.relative_to(REPO).as_posix()}" in names, path
    # every module of app/ (the folder), under the import name hubdesk; no top-level `app`
    for path in (REPO / "app").rglob("*.py"):
        if "__pycache__" not in path.parts:
            assert f"hubdesk/{path.relative_to(REPO / 'app').as_posix()}" in names, path
    assert not [n for n in names if n.startswith("app/")]
    assert not [n for n in names if n.startswith("tests/") or "/tests/" in n]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith("/LICENSE") for n in names)


# Runs in a child Python that sees only the unpacked wheel: the checkout is taken
# off sys.path before importing hubdesk.
FROM_THE_WHEEL = r"""
import json, sys
from pathlib import Path

unpacked, repo = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
env = json.loads(sys.argv[3])
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != repo]

import hubdesk
from hubdesk import create_app

flask_app = create_app(env)
client = flask_app.test_client()
css = client.get("/services/hubdesk/static/hubdesk.css")
bootstrap = client.get("/services/hubdesk/static/vendor/bootstrap/bootstrap.subset.min.css")
missing = client.get("/services/hubdesk/no-such-page")  # error.html, extending base.html
print(json.dumps({
    "package": str(Path(hubdesk.__file__).resolve()),
    "templates": str(Path(flask_app.template_folder).resolve()),
    "static": str(Path(flask_app.static_folder).resolve()),
    "css": [css.status_code, css.get_data(as_text=True)],
    "bootstrap": bootstrap.status_code,
    "missing": [missing.status_code, missing.get_data(as_text=True)],
}))
"""


def test_app_runs_from_the_wheel_alone(wheel, tmp_path):
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTERHUB_", "HUBDESK_"))}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            FROM_THE_WHEEL,
            str(unpacked),
            str(REPO),
            # its database is made from the wheel's own migrations
            json.dumps(dict(MINIMAL_ENV, HUBDESK_STATE_DIR=str(tmp_path / "state"))),
        ],
        cwd=tmp_path,  # not the checkout
        env={**env, "PYTHONPATH": str(unpacked), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    package = unpacked.resolve() / "hubdesk"
    assert seen["package"] == str(package / "__init__.py")
    assert seen["templates"] == str(package / "templates")
    assert seen["static"] == str(package / "static")
    assert seen["css"] == [200, (REPO / "static" / "hubdesk.css").read_text(encoding="utf-8")]
    assert seen["bootstrap"] == 200
    status, page = seen["missing"]
    assert status == 404
    assert "Not found" in page
    assert "/services/hubdesk/static/vendor/bootstrap/bootstrap.subset.min.css" in page


# -- lint ---------------------------------------------------------------------


def test_ruff_check():
    result = subprocess.run(
        [tool("ruff"), "check", "--no-cache", "--output-format=concise", "."],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
