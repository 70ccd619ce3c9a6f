"""Hostile HTTP clients, sent as an attacker would send them, and what they cost a server.

Shared by tests/test_attacks.py (each attack against the production command, straight to
its port and through Node's configurable-http-proxy) and benchmarks/attacks.py (the same
attacks against each candidate worker class, printed side by side; docs/serving.md).

Every attack runs its connections from a few threads until ``stop`` is set or its own
time is up, and never longer; a ``Watch`` samples the server's memory and CPU (its
process and all of its children) and times ``/health/live`` while it runs.
"""

from __future__ import annotations

import os
import selectors
import shutil
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# -- what a process tree costs ------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(parents.get(p, []))
    return found


def rss_mib(pid: int) -> float:
    total = 0
    for p in process_tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """User and system CPU of the tree's live processes (and of children they reaped)."""
    total = 0
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime, stime, cutime, cstime: fields 14-17 of stat, 12-15 after the name
        total += sum(int(x) for x in fields[11:15])
    return total / CLOCK_TICKS


@dataclass
class Watch:
    """Samples a server's memory and times /health/live (1 s timeout) every 0.1 s."""

    pid: int
    health_url: str
    rss_start: float = 0.0
    rss_peak: float = 0.0
    cpu_start: float = 0.0
    slowest: float = 0.0
    failures: list = field(default_factory=list)
    probes: int = 0

    def __post_init__(self):
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._memory, daemon=True),
            threading.Thread(target=self._health, daemon=True),
        ]

    def _memory(self):
        while not self._stop.is_set():
            self.rss_peak = max(self.rss_peak, rss_mib(self.pid))
            self._stop.wait(0.1)

    def _health(self):
        while not self._stop.is_set():
            start = time.monotonic()
            try:
                r = requests.get(self.health_url, timeout=1.0)
                if r.status_code != 200:
                    self.failures.append(f"{r.status_code}")
            except requests.RequestException as e:
                self.failures.append(type(e).__name__)
            self.slowest = max(self.slowest, time.monotonic() - start)
            self.probes += 1
            self._stop.wait(0.1)

    def __enter__(self):
        self.rss_start = self.rss_peak = rss_mib(self.pid)
        self.cpu_start = cpu_seconds(self.pid)
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)
        self.cpu = cpu_seconds(self.pid) - self.cpu_start

    def report(self) -> dict:
        return {
            "rss_start_mib": round(self.rss_start),
            "rss_peak_mib": round(self.rss_peak),
            "cpu_s": round(self.cpu, 1),
            "health_slowest_s": round(self.slowest, 2),
            "health_failed": len(self.failures),
            "health_probes": self.probes,
        }


# -- the attacks -----------------------------------------------------------------------


def _connect(host: str, port: int) -> socket.socket | None:
    try:
        return socket.create_connection((host, port), timeout=5)
    except OSError:
        return None


def _run(n: int, target, *args) -> list[threading.Thread]:
    threads = [threading.Thread(target=target, args=args, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    return threads


def _hold(sock: socket.socket, stop: threading.Event, until: float) -> None:
    """Keep a connection open, reading (and dropping) whatever comes, until told or timed."""
    sock.settimeout(0.2)
    while not stop.is_set() and time.monotonic() < until:
        try:
            if sock.recv(65536) == b"":
                return  # the server closed it
        except TimeoutError:
            continue
        except OSError:
            return


def _unfinished(host, port, stop, head: bytes, connections, seconds, body=tuple):
    """Connections that send ``head`` (and the blocks ``body()`` gives, each connection
    its own) and then nothing, held until the server closes them, or told, or timed."""

    def one():
        until = time.monotonic() + seconds
        sock = _connect(host, port)
        if sock is None:
            return
        with sock:
            try:
                sock.sendall(head)
                for block in body():
                    if stop.is_set() or time.monotonic() > until:
                        return
                    sock.sendall(block)
            except OSError:
                return
            _hold(sock, stop, until)

    return _run(connections, one)


def big_bodies(host, port, path, stop, *, connections=20, mib=15, seconds=15.0):
    """POSTs that send ``mib`` MiB of body fast, promise one byte more, and never finish."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {mib * 1024 * 1024 + 1}\r\n\r\n"
    ).encode()
    blocks = [b"a=" + b"b" * 65534] * (mib * 16)
    return _unfinished(host, port, stop, head, connections, seconds, lambda: blocks)


def long_heads(host, port, path, stop, *, connections=40, kib=70, seconds=15.0):
    """Request heads of ``kib`` KiB (one long header) whose final blank line never comes."""
    head = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nX-Filler: " + "a" * (kib * 1024) + "\r\n"
    return _unfinished(host, port, stop, head.encode(), connections, seconds)


def many_headers(host, port, path, stop, *, connections=40, count=2000, seconds=15.0):
    """Heads of ``count`` short headers (each within any per-field limit), never finished."""
    head = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n" + "".join(
        f"X-H{i}: {'v' * 20}\r\n" for i in range(count)
    )
    return _unfinished(host, port, stop, head.encode(), connections, seconds)


def _trickle(host, port, stop, head: bytes, piece: bytes, every: float, connections, seconds):
    """Connections that send ``head``, then ``piece`` every ``every`` seconds, until timed."""

    def pieces():
        while True:
            yield piece
            stop.wait(every)

    return _unfinished(host, port, stop, head, connections, seconds, pieces)


def chunked_trickle(host, port, path, stop, *, connections=3, seconds=10.0):
    """POSTs with chunked bodies of 1-byte chunks, as fast as the socket takes them."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    return _trickle(host, port, stop, head, b"1\r\na\r\n", 0.0005, connections, seconds)


def slow_bodies(host, port, path, stop, *, connections=64, seconds=8.0, body=1000):
    """POSTs whose bodies come one byte every half second."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {body}\r\n\r\n"
    ).encode()
    return _trickle(host, port, stop, head, b"a", 0.5, connections, seconds)


def idle_flood(host, port, path, stop, *, connections=2100, seconds=20.0):
    """``connections`` connections that send nothing, each opened again once closed."""

    def run():
        until = time.monotonic() + seconds
        sel = selectors.DefaultSelector()
        open_ = 0

        def opened():
            nonlocal open_
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect_ex((host, port))
                sel.register(s, selectors.EVENT_READ)
                open_ += 1
            except OSError:
                s.close()

        while not stop.is_set() and time.monotonic() < until:
            while open_ < connections:
                opened()
            for key, _ in sel.select(timeout=0.1):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:  # closed by the server: an attacker opens another
                    sel.unregister(s)
                    s.close()
                    open_ -= 1
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        sel.close()

    return _run(1, run)


ATTACKS = {
    "big bodies (20 x 15 MiB, never finished)": big_bodies,
    "long heads (40 x 70 KiB, never finished)": long_heads,
    "many headers (40 x 2,000, never finished)": many_headers,
    "chunked 1-byte chunks (3 x 10 s)": chunked_trickle,
    "slow bodies (64, 1 byte / 0.5 s)": slow_bodies,
    "idle connections (2,100, reopened)": idle_flood,
}


def attack(name, host, port, path, stop, **kwargs) -> list[threading.Thread]:
    return ATTACKS[name](host, port, path, stop, **kwargs)


# -- Node's configurable-http-proxy in front ----------------------------------------------


NODE_PREFIX = Path.home() / ".cache" / "hubdesk" / "node"  # where .ci/run installs it
NODE_PROXY_PACKAGE = "configurable-http-proxy@5"


def node_proxy_command(install: bool = False) -> list[str] | None:
    """Node's configurable-http-proxy (zero-to-jupyterhub's proxy): ``HUBDESK_NODE_PROXY``,
    else one on PATH, else the one under ``NODE_PREFIX``, installed there from npm first
    if ``install`` (and npm is here). Not the PyPI port of the same name: it buffers."""
    chosen = os.environ.get("HUBDESK_NODE_PROXY")
    candidates = [chosen] if chosen else []
    candidates += [shutil.which("configurable-http-proxy")]
    candidates += [str(NODE_PREFIX / "node_modules" / ".bin" / "configurable-http-proxy")]
    for found in candidates:
        if found and Path(found).exists():
            with open(found, "rb") as f:
                if b"node" in f.readline():
                    return [found]
    if install and shutil.which("npm"):
        subprocess.run(
            ["npm", "install", "--silent", "--prefix", str(NODE_PREFIX), NODE_PROXY_PACKAGE],
            check=True,
            capture_output=True,
            timeout=300,
        )
        return node_proxy_command()
    return None


@contextmanager
def node_proxy(target: str, port: int, api_port: int, log_path: Path):
    """Node's configurable-http-proxy on loopback ``port``, sending everything to ``target``."""
    command = node_proxy_command(install=True)
    if command is None:
        raise RuntimeError("Node's configurable-http-proxy is needed, and npm is not here")
    env = {**os.environ, "CONFIGPROXY_AUTH_TOKEN": "attack-tests"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                *command,
                "--ip=127.0.0.1",
                f"--port={port}",
                "--api-ip=127.0.0.1",
                f"--api-port={api_port}",
                f"--default-target={target}",
                "--log-level=warn",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"configurable-http-proxy did not start: {log_path}")
                time.sleep(0.1)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
