"""A small HTTP proxy on loopback that misbehaves on demand, in front of the hub's API.

    proxy = FaultProxy(hub_port).start()
    proxy.always(delay(5))                                      # every request is slow
    proxy.when("POST", r"/hub/api/groups/[^/]+", drop_after_forwarding())
    proxy.when("POST", r"/hub/api/groups/g/users", PASS, drop_after_forwarding(), answer(503))
    proxy.refuse()  ...  proxy.accept()                         # nothing listens for a while
    proxy.count("POST", r"/hub/api/groups/.*")                  # requests seen
    proxy.stop()

One request per connection (every answer says ``Connection: close``), so a
fault hits exactly the request it was meant for. Answers are read whole before
they are passed on: not for event streams. A thread per connection; ``stop()``
ends them all (a delay is cut short and nothing more is forwarded).
"""

from __future__ import annotations

import http.client
import re
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
}


@dataclass(frozen=True)
class Fault:
    """What the proxy does with one request.

    delay:   seconds to wait first
    forward: whether the hub gets the request (and acts on it)
    status:  the proxy answers this status itself (after forwarding, if forward)
    cut:     close the connection after this many bytes of the answer (0: no answer at all;
             negative: all but the last -cut bytes, i.e. the body cut short)
    """

    delay: float = 0.0
    forward: bool = True
    status: int | None = None
    cut: int | None = None


PASS = Fault()
DROP = Fault(forward=False, cut=0)  # read the request, close without an answer; the hub never knew


def delay(seconds: float) -> Fault:
    """Wait, then pass the request on."""
    return Fault(delay=seconds)


def answer(status: int, *, forward: bool = False) -> Fault:
    """Answer ``status`` (502, 503...) in the hub's place; ``forward``: after the hub acted."""
    return Fault(forward=forward, status=status)


def drop_after_forwarding(keep: int = 0) -> Fault:
    """The hub acts, then the connection closes after ``keep`` bytes of its answer.

    ``keep=0``: no answer at all; ``keep=-5``: the whole answer but its last 5 bytes.
    """
    return Fault(forward=True, cut=keep)


@dataclass
class _Rule:
    method: str | None
    path: re.Pattern
    faults: tuple[Fault, ...]
    used: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and bool(self.path.fullmatch(path))

    def next_fault(self) -> Fault:
        fault = self.faults[min(self.used, len(self.faults) - 1)]
        self.used += 1
        return fault


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins every connection's thread
    block_on_close = True

    def __init__(self, port: int, proxy: FaultProxy):
        self.proxy = proxy
        super().__init__(("127.0.0.1", port), _Handler)

    def process_request_thread(self, request, client_address):
        threading.current_thread().name = "faultproxy-connection"  # findable by tests
        super().process_request_thread(request, client_address)

    def handle_error(self, request, client_address):
        pass  # a client that hung up on a slow answer is expected here


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # a client that connects and says nothing does not hold stop() up for long

    def log_message(self, format, *args):
        pass

    def _proxy(self):
        self.close_connection = True
        proxy: FaultProxy = self.server.proxy
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fault = proxy._fault_for(self.command, self.path.split("?", 1)[0])
        if fault.delay and proxy._stopping.wait(fault.delay):
            return  # stopping: close, forward nothing
        answer_bytes = b""
        if fault.forward:
            answer_bytes = proxy._forward(self.command, self.path, self.headers, body)
        if fault.status is not None:
            note = f"the fault proxy answered {fault.status}".encode()  # like a gateway: no JSON
            answer_bytes = _answer(fault.status, {"Content-Type": "text/plain"}, note)
        if fault.cut is not None:
            answer_bytes = answer_bytes[: fault.cut]
        try:
            self.wfile.write(answer_bytes)
            self.wfile.flush()
        except OSError:
            pass  # the client gave up already

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _proxy


def _answer(status: int, headers: dict, body: bytes) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() not in HOP_BY_HOP]
    lines += [f"Content-Length: {len(body)}", "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class FaultProxy:
    """Pass-through by default; see the module's docstring."""

    def __init__(self, upstream_port: int, *, upstream_host: str = "127.0.0.1", port: int = 0):
        self.upstream = (upstream_host, upstream_port)
        self.port = port
        self._lock = threading.Lock()
        self._default = PASS
        self._rules: list[_Rule] = []
        self.seen: list[tuple[str, str]] = []  # (method, path) of every request, as it came
        self.forwarded: list[tuple[str, str]] = []  # the ones the hub answered
        self._answered = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- running ----------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._stopping.clear()
        self._server = _Server(self.port, self)
        self.port = self._server.server_address[1]  # keep it: accept() binds it again
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="faultproxy"
        )
        self._thread.start()
        return self

    def _close(self) -> None:
        if self._server is not None:
            self._server.shutdown()  # the accept loop ends
            self._server.server_close()  # the port closes; each connection's thread is joined
            self._thread.join()
            self._server = self._thread = None

    def stop(self) -> None:
        """Stop for good: delays are cut short, nothing more reaches the hub, threads end."""
        self._stopping.set()
        self._close()

    def refuse(self) -> None:
        """Nothing listens on the port (connection refused) until ``accept()``.

        Requests already in the proxy are finished first.
        """
        self._close()

    def accept(self) -> None:
        """Listen again, on the same port."""
        if self._server is None:
            self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- behaviour --------------------------------------------------------------

    def always(self, fault: Fault) -> None:
        """What happens to every request that no ``when()`` rule matches."""
        with self._lock:
            self._default = fault

    def when(self, method: str | None, path: str, *faults: Fault) -> None:
        """Requests of ``method`` (None: any) whose path (no query) fully matches ``path``.

        The n-th such request gets ``faults[n]``; the last one keeps applying after that.
        The newest rule that matches wins.
        """
        if not faults:
            raise ValueError("when() needs at least one fault")
        with self._lock:
            self._rules.insert(0, _Rule(method, re.compile(path), faults))

    def reset(self) -> None:
        """Pass-through again, with no rules and nothing counted."""
        with self._lock:
            self._default, self._rules = PASS, []
            self.seen.clear()
            self.forwarded.clear()

    def count(self, method: str | None = None, path: str = ".*", *, forwarded=False) -> int:
        """How many requests match: seen by the proxy, or (``forwarded``) answered by the hub."""
        with self._lock:
            return self._count(method, path, forwarded)

    def wait_forwarded(self, method: str | None, path: str, n: int = 1, timeout: float = 10):
        """Wait until the hub has answered ``n`` matching requests; AssertionError if it did not."""
        with self._answered:
            if not self._answered.wait_for(lambda: self._count(method, path, True) >= n, timeout):
                raise AssertionError(f"the hub answered no {n} {method} {path} in {timeout} s")

    def _count(self, method, path, forwarded) -> int:
        pattern = re.compile(path)
        log = self.forwarded if forwarded else self.seen
        return sum(1 for m, p in log if (method is None or m == method) and pattern.fullmatch(p))

    # -- inside -----------------------------------------------------------------

    def _fault_for(self, method: str, path: str) -> Fault:
        with self._lock:
            self.seen.append((method, path))
            for rule in self._rules:
                if rule.matches(method, path):
                    return rule.next_fault()
            return self._default

    def _forward(self, method: str, target: str, headers, body: bytes) -> bytes:
        """Send the request to the hub; its whole answer, as bytes to pass on."""
        conn = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            out = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP | {"host"}}
            out["Host"] = "{}:{}".format(*self.upstream)
            conn.request(method, target, body=body or None, headers=out)
            response = conn.getresponse()
            data = b"" if method == "HEAD" else response.read()
            with self._answered:
                self.forwarded.append((method, target.split("?", 1)[0]))
                self._answered.notify_all()
            return _answer(response.status, dict(response.getheaders()), data)
        except (OSError, http.client.HTTPException):
            note = b"the fault proxy could not reach the hub"
            return _answer(502, {"Content-Type": "text/plain"}, note)
        finally:
            conn.close()
