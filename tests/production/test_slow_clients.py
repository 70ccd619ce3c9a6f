"""Slow clients hold no thread: 64 connections trickling their requests a byte at a time
leave hubdesk answering, under the production gunicorn command.

Each slow client sends a POST's head (no sign-in needed: the CSRF check would read the
body first) and then its body one byte every half second. With threads taking requests
as soon as their first bytes arrive (gunicorn's gthread worker), 64 such clients hold
every thread of a worker within a second and nothing else is answered; under the gevent
worker each is a greenlet waiting on its socket. The loops are bounded and stop by
themselves. (tests/test_attacks.py has the other hostile clients.)
"""

from __future__ import annotations

import socket
import threading
import time

import requests
from helpers.gunicorn import base_env, gunicorn, wait_healthy
from helpers.stack import PREFIX
from hubdesk.devhub import free_port

SLOW_CLIENTS = 64
SECONDS = 8.0  # how long they trickle
BODY = 1000  # bytes each promises


def trickle(host: str, port: int, stop: threading.Event, opened: list) -> None:
    try:
        sock = socket.create_connection((host, port), timeout=5)
    except OSError:
        return
    opened.append(1)
    with sock:
        head = (
            f"POST {PREFIX}groups/ HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {BODY}\r\n\r\n"
        )
        try:
            sock.sendall(head.encode())
            deadline = time.monotonic() + SECONDS
            while not stop.is_set() and time.monotonic() < deadline:
                sock.sendall(b"a")
                stop.wait(0.5)
        except OSError:
            pass


def test_sixty_four_slow_clients_leave_pages_answering(stack, tmp_path):
    bind_port = free_port()
    env = base_env(
        **{
            **stack.env,
            "HUBDESK_BIND": f"127.0.0.1:{bind_port}",
            "HUBDESK_WORKERS": "1",
        }
    )
    base = f"http://127.0.0.1:{bind_port}{PREFIX}"
    cookie = stack.signin("admin").cookies.get("hubdesk-session", path=PREFIX)
    with gunicorn(env, tmp_path) as (process, log_path):
        wait_healthy(process, f"{base}health", log_path)
        stop, opened = threading.Event(), []
        clients = [
            threading.Thread(target=trickle, args=("127.0.0.1", bind_port, stop, opened))
            for _ in range(SLOW_CLIENTS)
        ]
        for c in clients:
            c.start()
        try:
            time.sleep(1)  # let them all connect and start trickling: then measure
            assert len(opened) == SLOW_CLIENTS
            slowest = 0.0
            deadline = time.monotonic() + SECONDS - 2
            while time.monotonic() < deadline:
                for url, cookies in (
                    (f"{base}health/live", None),
                    (base, {"hubdesk-session": cookie}),
                ):
                    start = time.monotonic()
                    r = requests.get(url, cookies=cookies, timeout=5, allow_redirects=False)
                    took = time.monotonic() - start
                    assert r.status_code == 200, (url, r.status_code)
                    slowest = max(slowest, took)
            assert slowest < 1.0, f"a page took {slowest:.2f} s while slow clients trickled"
        finally:
            stop.set()
            for c in clients:
                c.join(timeout=10)
