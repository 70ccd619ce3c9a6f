"""Hostile clients against the production command, straight to its port and through Node's
configurable-http-proxy (zero-to-jupyterhub's proxy): memory stays under the Deployment's
limit, /health/live answers within a second throughout, CPU stays bounded; oversized
requests are refused with the right status; progress streams still arrive event by event.

One hubdesk under gunicorn (the image's command, its 2 workers) serves the whole module,
with a short body deadline so that its test is short. The attacks are those of
tests/attackers.py, shortened; benchmarks/attacks.py runs them at full length
(docs/serving.md).
"""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import requests
from helpers.attackers import (
    Watch,
    big_bodies,
    chunked_trickle,
    idle_flood,
    long_heads,
    many_headers,
    node_proxy,
    node_proxy_command,
    slow_bodies,
)
from helpers.gunicorn import base_env, gunicorn, wait_healthy
from helpers.stack import PREFIX, unique
from hubdesk.devhub import free_port

MEMORY_LIMIT_MIB = 512  # deploy/kubernetes/deployment.yaml: the pod's whole limit
BODY_TIMEOUT = 4


@pytest.fixture(scope="module")
def served(stack, tmp_path_factory):
    """(hubdesk's port, the proxy's port, gunicorn's process, its log)."""
    if node_proxy_command() is None:
        pytest.fail(
            "Node's configurable-http-proxy is needed: npm install -g configurable-http-proxy"
        )
    root = tmp_path_factory.mktemp("attacks")
    port = free_port()
    env = base_env(
        **{
            **stack.env,
            "HUBDESK_BIND": f"127.0.0.1:{port}",
            "HUBDESK_BODY_TIMEOUT": str(BODY_TIMEOUT),
        }
    )
    env.pop("HUBDESK_WORKERS", None)  # as shipped
    with gunicorn(env, root) as (process, log_path):
        wait_healthy(process, f"http://127.0.0.1:{port}{PREFIX}health/live", log_path)
        proxy_port = free_port()
        with node_proxy(f"http://127.0.0.1:{port}", proxy_port, free_port(), root / "chp.log"):
            yield port, proxy_port, process, log_path


ATTACKS = {
    # as in the red-team run, shorter
    "big bodies": (big_bodies, {"connections": 20, "mib": 15, "seconds": 6}),
    "long heads": (long_heads, {"connections": 40, "kib": 70, "seconds": 6}),
    "many headers": (many_headers, {"connections": 40, "count": 2000, "seconds": 6}),
    "chunked": (chunked_trickle, {"connections": 3, "seconds": 6}),
    "slow bodies": (slow_bodies, {"connections": 64, "seconds": 6}),
    "idle connections": (idle_flood, {"connections": 2100, "seconds": 8}),
}


@pytest.mark.parametrize("via", ["direct", "proxy"])
@pytest.mark.parametrize("name", list(ATTACKS))
def test_an_attack_leaves_hubdesk_answering_within_its_memory(served, name, via):
    port, proxy_port, process, _ = served
    run, kwargs = ATTACKS[name]
    target = port if via == "direct" else proxy_port
    stop = threading.Event()
    with Watch(process.pid, f"http://127.0.0.1:{port}{PREFIX}health/live") as watch:
        threads = run("127.0.0.1", target, f"{PREFIX}groups/", stop, **kwargs)
        for t in threads:
            t.join(timeout=60)
        stop.set()
    report = watch.report()
    assert not watch.failures, report
    assert watch.slowest < 1.0, report
    assert watch.rss_peak < MEMORY_LIMIT_MIB, report
    # the buffering worker this replaced spent 18 CPU-seconds on the chunked attack alone
    assert watch.cpu < 8, report


def answer_to(port: int, request: bytes, timeout: float = 10) -> bytes:
    """What the server sends back to ``request`` before it closes (or ``timeout``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(request)
        except OSError:
            pass  # refused while sending: its answer is still to be read
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return received


def test_a_head_too_large_is_refused_with_431(served):
    port = served[0]
    long_field = f"GET {PREFIX}health/live HTTP/1.1\r\nHost: x\r\nX-A: {'a' * 9000}\r\n\r\n"
    assert answer_to(port, long_field.encode()).startswith(b"HTTP/1.1 431 ")
    many = f"GET {PREFIX}health/live HTTP/1.1\r\nHost: x\r\n" + "X-B: b\r\n" * 60 + "\r\n"
    assert answer_to(port, many.encode()).startswith(b"HTTP/1.1 431 ")
    # a browser's head, with its cookies, is far from either limit
    r = requests.get(
        f"http://127.0.0.1:{port}{PREFIX}health/live",
        headers={f"X-Header-{i}": "v" * 100 for i in range(30)},
        cookies={"c": "x" * 4000},
        timeout=5,
    )
    assert r.status_code == 200


def test_a_body_past_four_mib_is_refused_unread_and_the_connection_closed(served):
    port = served[0]
    head = (
        f"POST {PREFIX}groups/ HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {4 * 1024 * 1024 + 1}\r\n\r\n"
    )
    start = time.monotonic()
    answer = answer_to(port, head.encode())  # no body at all: it is not waited for
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert time.monotonic() - start < 5


def test_a_body_that_does_not_arrive_in_time_gets_408(served):
    port = served[0]
    head = (
        f"POST {PREFIX}groups/ HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nab"
    )
    start = time.monotonic()
    answer = answer_to(port, head.encode(), timeout=BODY_TIMEOUT + 10)
    took = time.monotonic() - start
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert BODY_TIMEOUT - 0.5 < took < BODY_TIMEOUT + 5


def test_a_small_chunked_body_is_read(served):
    """Chunked bodies are parsed as they come, not refused: the CSRF check reads this one
    (and refuses it for its missing token, which is the point: it was read)."""
    port = served[0]
    body = b"name=x"
    request = (
        f"POST {PREFIX}groups/ HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode() + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    answer = answer_to(port, request)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]


@pytest.mark.parametrize("via", ["direct", "proxy"])
def test_progress_streams_arrive_event_by_event(served, stack, via):
    port, proxy_port, _, _ = served
    u = unique("sse")
    stack.api.create_users([u])
    cookie = stack.signin("admin").cookies.get("hubdesk-session", path=PREFIX)
    stack.api.start_server(u, "watched", {"profile": "slow"})
    target = port if via == "direct" else proxy_port
    url = f"http://127.0.0.1:{target}{PREFIX}users/{u}/servers/watched/progress/events"
    arrivals = []
    with requests.get(url, cookies={"hubdesk-session": cookie}, stream=True, timeout=60) as r:
        assert r.status_code == 200, r.text[:300]
        for line in r.iter_lines(chunk_size=1):
            if line.startswith(b"data:"):
                arrivals.append((time.monotonic(), json.loads(line[5:])))
    assert arrivals[-1][1].get("ready") is True, arrivals
    steps = [t for t, event in arrivals if "step" in event.get("message", "")]
    # the slow profile's steps come about a second apart: passed on as they come, not at
    # the end all at once
    assert len(steps) >= 2 and steps[-1] - steps[0] > 0.5, arrivals
    stack.api.stop_server(u, "watched", remove=True)
