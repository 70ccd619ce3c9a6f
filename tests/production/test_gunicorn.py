"""hubdesk under gunicorn, started with exactly the Docker image's command.

The in-thread hubdesk of the ``stack`` fixture is where people sign in; a
second hubdesk, under gunicorn with several worker processes, must accept the
same session (they share HUBDESK_SECRET_KEY, as replicas of a deployment do).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
from contextlib import suppress

import pytest
import requests
from helpers.gunicorn import (
    base_env,
    gunicorn,
    gunicorn_command,
    stop,
    wait_healthy,
)
from helpers.image import healthcheck_cmd
from helpers.stack import PREFIX, csrf_token, unique, wait_for
from hubdesk.devhub import free_port
from hubdesk.hub import HubAPIError

CONFIG_ERROR = "hubdesk: configuration error: HUBDESK_SECRET_KEY"


def hubdesk_env(stack, workers: int = 1, **settings) -> tuple[dict, str]:
    """The stack's hubdesk, on a free loopback port with ``settings``; and its base URL."""
    bind = f"127.0.0.1:{free_port()}"
    env = base_env(
        **{**stack.env, "HUBDESK_BIND": bind, "HUBDESK_WORKERS": str(workers), **settings}
    )
    return env, f"http://{bind}{PREFIX}"


def json_lines(text: str) -> list[dict]:
    """Every line of a log, each one JSON object (fails on the first that is not)."""
    lines = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            parsed = json.loads(line)
        except ValueError:
            parsed = None
        assert isinstance(parsed, dict), f"line {number} is not a JSON object: {line!r}\n{text}"
        lines.append(parsed)
    return lines


def test_gunicorn_serves_the_sessions_of_another_instance(stack, tmp_path):
    port = free_port()
    bind = f"127.0.0.1:{port}"
    env = base_env(**stack.env, HUBDESK_BIND=bind, HUBDESK_WORKERS="2")
    base = f"http://{bind}{PREFIX}"

    with gunicorn(env, tmp_path) as (process, log_path):
        health = wait_healthy(process, f"{base}health", log_path)
        assert health.json() == {"status": "ok", "hub": "up", "database": "up"}

        # the image's HEALTHCHECK agrees
        check = subprocess.run(
            [sys.executable, *healthcheck_cmd()[1:]],
            env=base_env(HUBDESK_BIND=bind, JUPYTERHUB_SERVICE_PREFIX=PREFIX),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert check.returncode == 0, check.stderr

        # signed in on the in-thread hubdesk, through the hub's proxy and OAuth...
        admin = stack.signin("admin")
        cookie = admin.cookies.get("hubdesk-session", path=PREFIX)
        assert cookie
        # ...and so signed in on gunicorn's, asked directly, not through the proxy
        r = requests.get(
            base, cookies={"hubdesk-session": cookie}, allow_redirects=False, timeout=30
        )
        assert r.status_code == 200, (r.status_code, r.headers.get("Location"))
        assert "Hello, admin" in r.text

        # two worker processes; a new connection each time, so either may answer
        for i in range(10):
            r = requests.get(
                base,
                cookies={"hubdesk-session": cookie},
                headers={"Connection": "close"},
                allow_redirects=False,
                timeout=30,
            )
            assert r.status_code == 200 and "Hello, admin" in r.text, (i, r.status_code)

        log = log_path.read_text(errors="replace")
        assert log.count("Booting worker with pid") >= 2, log

        # a spawn's progress is passed on as it comes, not when it ends (asked directly:
        # the PyPI proxy in front of the hub buffers whole answers)
        user = unique("live")
        stack.api.create_users([user])
        try:
            stack.api.start_server(user, "live", {"profile": "slow"})  # 3 s, 3 steps
            arrivals = []
            with requests.get(
                f"{base}users/{user}/servers/live/progress/events",
                cookies={"hubdesk-session": cookie},
                stream=True,
                timeout=30,
            ) as r:
                for line in r.iter_lines(chunk_size=1, decode_unicode=True):
                    if line.startswith("data:"):
                        arrivals.append((time.monotonic(), json.loads(line[5:])))
            first = next(t for t, e in arrivals if "step 1 of 3" in e.get("message", ""))
            ready = next(t for t, e in arrivals if e.get("ready"))
            assert ready - first > 1.0, arrivals
        finally:
            stack.api.stop_server(user, "live", remove=True)

    assert process.returncode == 0, log_path.read_text(errors="replace")
    assert stack.token not in log_path.read_text(errors="replace")


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_gunicorn_refuses_to_start_without_a_secret_key(stack, tmp_path, log_format):
    env = base_env(
        **stack.env, HUBDESK_BIND=f"127.0.0.1:{free_port()}", HUBDESK_LOG_FORMAT=log_format
    )
    del env["HUBDESK_SECRET_KEY"]
    process = subprocess.Popen(
        gunicorn_command(),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        stop(process)
        process.communicate()
        pytest.fail("gunicorn did not exit within 20 s without HUBDESK_SECRET_KEY")
    finally:
        stop(process)
    assert process.returncode != 0, stderr
    if log_format == "json":  # every line a JSON object, that one too
        lines = [line["message"] for line in json_lines(stderr) if line["level"] == "critical"]
    else:
        lines = stderr.splitlines()
    # the on_starting hook checks once, in the arbiter, before any worker forks
    assert len([line for line in lines if line.startswith(CONFIG_ERROR)]) == 1, stderr


def test_metrics_under_the_production_command_add_up_every_workers_counts(stack, tmp_path):
    """The image's CMD loads hubdesk.gunicorn_conf, and so the app package, first: nothing of it
    may import prometheus_client before PROMETHEUS_MULTIPROC_DIR is set, or each worker
    counts in its own memory and a scrape reads an empty folder."""
    token = "m" * 32
    env, base = hubdesk_env(stack, 2, HUBDESK_METRICS_TOKEN=token)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # as in the image: gunicorn_conf chooses it
    with gunicorn(env, tmp_path) as (process, log_path):
        wait_healthy(process, f"{base}health", log_path)
        for _ in range(20):  # new connections: both workers answer some
            requests.get(f"{base}health/live", timeout=10)
        r = requests.get(f"{base}metrics", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        counted = re.findall(
            r'^hubdesk_requests_total\{endpoint="main.live",method="GET",status="200"\} (\S+)$',
            r.text,
            re.M,
        )
        assert counted and float(counted[0]) >= 20, r.text[:2000]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_the_access_log_never_holds_a_query_string(stack, tmp_path, log_format):
    """The OAuth callback's code and state (the hub redacts them in its own log)."""
    env, base = hubdesk_env(stack, HUBDESK_LOG_FORMAT=log_format)
    code, state = "code-" + "c" * 20, "state-" + "s" * 20
    with gunicorn(env, tmp_path) as (process, log_path):
        wait_healthy(process, f"{base}health", log_path)
        r = requests.get(f"{base}oauth_callback?code={code}&state={state}", timeout=10)
        assert r.status_code == 400
        requests.get(f"{base}users/?q=secret-search-{code}", timeout=10)
        wait_for(lambda: "/oauth_callback" in log_path.read_text())
        wait_for(lambda: "/users/" in log_path.read_text())
    text = log_path.read_text()
    if log_format == "json":
        accesses = [line for line in json_lines(text) if line["logger"] == "gunicorn.access"]
        assert {"method": "GET", "path": f"{PREFIX}oauth_callback", "status": 400}.items() <= (
            next(a for a in accesses if a["path"].endswith("/oauth_callback")).items()
        )
        assert all("?" not in a["path"] and "?" not in a["message"] for a in accesses)
    else:
        assert '"GET /services/hubdesk/oauth_callback HTTP/1.1" 400' in text
    assert code not in text and state not in text and "secret-search" not in text


def series(scrape: str) -> set[str]:
    """A scrape's series: each sample's name and labels, without its value."""
    return {line.rsplit(" ", 1)[0] for line in scrape.splitlines() if line and line[0] != "#"}


def test_made_up_methods_add_no_series_to_the_metrics(stack, tmp_path):
    """A method's name is a label only if HTTP has it; any other is "other", or every name a
    client makes up would be a new series, without a sign-in."""
    token = "m" * 32
    env, base = hubdesk_env(stack, 2, HUBDESK_METRICS_TOKEN=token)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)

    def scrape() -> set[str]:
        r = requests.get(f"{base}metrics", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        return series(r.text)

    def made_up(method: str) -> None:
        for path in ("health", "groups/", "no-such-page"):  # a 405 and a 404 each
            r = requests.request(method, f"{base}{path}", headers={"Connection": "close"})
            assert r.status_code in (404, 405), (method, path, r.status_code)

    with gunicorn(env, tmp_path) as (process, log_path):
        wait_healthy(process, f"{base}health", log_path)
        made_up("FOO")  # the "other" series, once
        scrape()  # and the scrape's own
        before = scrape()
        for i in range(30):
            made_up(f"MADEUP{i}")
        after = scrape()
    assert after == before, sorted(after - before)
    assert any('method="other"' in s for s in after) and not any("MADEUP" in s for s in after)


@pytest.mark.parametrize("asked", [False, True])
def test_gunicorns_control_socket_only_where_asked_for(stack, tmp_path, asked):
    """gunicorn's default would be $HOME/.gunicorn/gunicorn.ctl, one for every gunicorn of
    the user (and an ERROR where $HOME is read-only): none unless HUBDESK_CONTROL_SOCKET
    says where."""
    home, control = tmp_path / "home", tmp_path / "run" / "hubdesk.ctl"
    home.mkdir()
    env, base = hubdesk_env(stack, HOME=str(home))
    env.pop("XDG_RUNTIME_DIR", None)  # gunicorn's first choice for its default
    if asked:
        env["HUBDESK_CONTROL_SOCKET"] = str(control)
    with gunicorn(env, tmp_path) as (process, log_path):
        wait_healthy(process, f"{base}health", log_path)
        if asked:
            wait_for(control.exists)  # made by a thread of the arbiter
            assert stat.S_ISSOCK(control.stat().st_mode)
        else:
            assert not control.exists()
        assert list(home.iterdir()) == []


def listens(host: str, port: int) -> bool:
    """Whether something answers a TCP connection at host:port."""
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError:
        return False
    return True


@pytest.mark.parametrize(
    ("metrics_bind", "answers", "refuses"),
    [("", "127.0.0.1", "127.0.0.2"), ("127.0.0.2", "127.0.0.2", "127.0.0.1")],
)
def test_the_metrics_port_listens_where_hubdesk_does(
    stack, tmp_path, metrics_bind, answers, refuses
):
    """HUBDESK_METRICS_PORT (no token) on the host of HUBDESK_BIND, not on every address;
    HUBDESK_METRICS_BIND chooses another. (Every 127.x address is this machine's.)"""
    metrics_port = free_port()
    env, base = hubdesk_env(
        stack, HUBDESK_METRICS_PORT=str(metrics_port), HUBDESK_METRICS_BIND=metrics_bind
    )
    with gunicorn(env, tmp_path) as (process, log_path):
        wait_healthy(process, f"{base}health", log_path)
        r = requests.get(f"http://{answers}:{metrics_port}/metrics", timeout=10)
        assert r.status_code == 200 and "hubdesk_requests_total" in r.text
        assert not listens(refuses, metrics_port)


def test_the_metrics_host_follows_the_bind_address(monkeypatch, tmp_path):
    # importing the settings chooses a metrics folder for this process, unless one is set
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    import hubdesk.gunicorn_conf
    from hubdesk.gunicorn_conf import metrics_host

    assert metrics_host("127.0.0.1:8000") == "127.0.0.1"
    assert metrics_host("0.0.0.0:8000") == "0.0.0.0"
    assert metrics_host("[::1]:8000") == "::1"
    assert metrics_host("[::]:8000") == "::"
    assert metrics_host("hubdesk.example:8000") == "hubdesk.example"
    assert metrics_host("unix:/run/hubdesk.sock") == "127.0.0.1"
    assert metrics_host("fd://3") == "127.0.0.1"
    assert metrics_host("127.0.0.1:8000", "10.0.0.5") == "10.0.0.5"
    assert metrics_host("127.0.0.1:8000", "[::]") == "::"

    # a managed service told to listen on an IPv6 address
    monkeypatch.delenv("HUBDESK_BIND", raising=False)
    monkeypatch.setenv("JUPYTERHUB_SERVICE_URL", "http://[::1]:8123/")
    conf = importlib.reload(hubdesk.gunicorn_conf)
    assert conf.bind == "[::1]:8123" and metrics_host(conf.bind) == "::1"


def test_json_logs_are_json_from_start_to_stop_with_an_unwritable_home(stack, tmp_path):
    """HUBDESK_LOG_FORMAT=json: gunicorn's lines (start-up, workers, accesses) as well as
    hubdesk's, an audit record's parts as fields; and nothing is written to $HOME (the
    image's root filesystem is read-only), so no ERROR at start."""
    home = "/proc/hubdesk-home"  # nobody may make it, root included
    assert not os.path.exists(home)
    env, base = hubdesk_env(stack, 2, HUBDESK_LOG_FORMAT="json", HOME=home)
    env.pop("XDG_RUNTIME_DIR", None)  # gunicorn would put its control socket there instead
    name = unique("json-log")
    try:
        with gunicorn(env, tmp_path) as (process, log_path):
            wait_healthy(process, f"{base}health", log_path)
            admin = stack.signin("admin")
            cookies = {"hubdesk-session": admin.cookies.get("hubdesk-session", path=PREFIX)}
            form = requests.get(f"{base}groups/", cookies=cookies, timeout=30).text
            r = requests.post(
                f"{base}groups/",
                data={"csrf_token": csrf_token(form), "name": name},
                cookies=cookies,
                allow_redirects=False,
                timeout=30,
            )
            assert r.status_code in (302, 303), (r.status_code, r.text[:500])
            created = r.headers["X-Request-Id"]
            wait_for(lambda: log_path.read_text().count(created) >= 2)  # audit, access
        assert process.returncode == 0, log_path.read_text(errors="replace")
        lines = json_lines(log_path.read_text())
        assert not [line for line in lines if line["level"] in ("error", "critical")], lines
        assert {"time", "level", "logger", "request_id", "message"} <= set(lines[0])
        loggers = {line["logger"] for line in lines}
        assert {"gunicorn.error", "gunicorn.access", "hubdesk.audit"} <= loggers, loggers

        (audit,) = [line for line in lines if line.get("action") == "group.create"]
        assert audit["logger"] == "hubdesk.audit" and audit["level"] == "info"
        assert audit["target"] == {"group": name}
        assert audit["person"] == "admin" and audit["request_id"] == created
        assert audit["hub"] == "201" and isinstance(audit["record"], int)
        assert not audit["message"].startswith("{"), audit  # a short line, not JSON again

        (post,) = [
            line
            for line in lines
            if line["logger"] == "gunicorn.access" and line.get("method") == "POST"
        ]
        assert post["path"] == f"{PREFIX}groups/" and post["status"] == r.status_code
        assert post["request_id"] == created and post["remote_addr"] == "127.0.0.1"
        assert isinstance(post["bytes"], int) and isinstance(post["duration_ms"], float)
    finally:
        with suppress(HubAPIError):  # none if the test failed before making it
            stack.api.delete_group(name)
