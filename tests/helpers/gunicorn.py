"""hubdesk under the image's own command (its Dockerfile's CMD), run by the gunicorn
installed beside this Python: started, waited for, stopped."""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from helpers.image import image_cmd

START_TIMEOUT = 60  # seconds for gunicorn to boot and answer /health


STOP_TIMEOUT = 30  # more than gunicorn_conf.graceful_timeout


POLL_INTERVAL = 0.2


def gunicorn_command() -> list[str]:
    """The image's CMD, run with the gunicorn installed beside this Python."""
    program, *args = image_cmd()
    assert program == "gunicorn"
    exe = Path(sys.executable).with_name("gunicorn")
    return [str(exe), *args] if exe.exists() else [sys.executable, "-m", "gunicorn", *args]


def base_env(**changes) -> dict:
    """This process's environment without any hubdesk or hub setting of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTERHUB_", "HUBDESK_"))}
    env.update(changes)
    return env


def stop(process: subprocess.Popen) -> None:
    """SIGTERM (gunicorn's graceful stop); SIGKILL to its process group if it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: gunicorn and its workers
            process.wait(timeout=10)


@contextmanager
def gunicorn(env: dict, cwd: Path):
    """gunicorn running the image's command; its output goes to cwd/gunicorn.log."""
    log_path = cwd / "gunicorn.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            gunicorn_command(),
            cwd=cwd,  # not the checkout: the installed package is what gets imported
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process, log_path
        finally:
            stop(process)
            assert process.poll() is not None, "gunicorn is still running"


def wait_healthy(process: subprocess.Popen, url: str, log_path: Path) -> requests.Response:
    deadline = time.monotonic() + START_TIMEOUT
    last = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = log_path.read_text(errors="replace")
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{log}")
        try:
            r = requests.get(url, timeout=5)
            if r.status_code == 200:
                return r
            last = f"{r.status_code} {r.text[:200]}"
        except (requests.ConnectionError, requests.Timeout) as e:  # not listening, or booting
            last = repr(e)
        time.sleep(POLL_INTERVAL)
    pytest.fail(
        f"{url} did not answer 200 within {START_TIMEOUT}s (last: {last}):\n"
        f"{log_path.read_text(errors='replace')}"
    )
