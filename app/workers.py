"""gunicorn's gthread worker, with requests read whole before a thread takes them.

A stock gthread worker hands a connection to a thread as soon as its first
bytes arrive; the thread then reads the rest of the request with blocking
reads. A client that sends its headers and then its body one byte every two
seconds (no sign-in needed: the CSRF check reads the body first) holds that
thread for as long as it likes, and ~40 of them leave every page, health checks
included, unanswered. Node's configurable-http-proxy in front passes bytes on
as they come, so it does not help.

Here the worker's main loop (one selector, no thread) reads each request's head
and body as they arrive, without blocking, and hands the connection to a thread
only once the whole request is in: a slow client costs a socket and its bytes,
never a thread. A request still incomplete ``IDLE_SECONDS`` after its last byte,
or ``TOTAL_SECONDS`` after its first, is dropped. A request larger than
``BODY_LIMIT`` (or buffered bytes past ``BUFFER_LIMIT`` for the whole worker) is
handed over as it is and read by its thread as usual: Flask refuses bodies over
16 MB without reading them.

This depends on gthread's inner methods (``accept``, ``enqueue_req``,
``finish_request``, ``murder_pending``): hubdesk pins gunicorn's major version,
and tests/test_slow_clients.py checks the behaviour under the production command.
"""

from __future__ import annotations

import errno
import selectors
import time
from functools import partial

from gunicorn import http
from gunicorn.workers.gthread import _DEFER, TConn, ThreadWorker

IDLE_SECONDS = 20.0  # an incomplete request with no new byte for this long is dropped
TOTAL_SECONDS = 120.0  # and any request not complete after this long
HEAD_LIMIT = 64 * 1024  # past this, the head goes to gunicorn's parser, which refuses it
BODY_LIMIT = 16 * 1024 * 1024 + 64 * 1024  # hubdesk's MAX_CONTENT_LENGTH, and some
BUFFER_LIMIT = 256 * 1024 * 1024  # bytes one worker holds for incomplete requests
READ_SIZE = 65536


def first_request_length(data: bytes | bytearray) -> int | None:
    """How many bytes of ``data`` make its first HTTP/1.x request, when all are there.

    None while it is incomplete. A head or a body too large to hold, or one that cannot
    be read, counts as complete (all of ``data``): gunicorn's parser says what is wrong.
    """
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return len(data) if len(data) > HEAD_LIMIT else None
    body = end + 4
    length, chunked = 0, False
    for line in bytes(data[:end]).split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                return len(data)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        return _chunked_end(data, body)
    if length < 0 or length > BODY_LIMIT:
        return len(data)
    return body + length if len(data) >= body + length else None


def _chunked_end(data, pos: int) -> int | None:
    """Where a chunked body (its last chunk and trailers) ends, if all of it is there."""
    while True:
        if len(data) > BODY_LIMIT:
            return len(data)
        line_end = data.find(b"\r\n", pos)
        if line_end < 0:
            return None
        size = bytes(data[pos:line_end]).split(b";")[0].strip()
        try:
            size = int(size, 16)
        except ValueError:
            return len(data)
        if size == 0:
            trailers = data.find(b"\r\n\r\n", line_end)
            if trailers >= 0:
                return trailers + 4
            return line_end + 4 if data[line_end : line_end + 4] == b"\r\n\r\n" else None
        pos = line_end + 2 + size + 2
        if pos > len(data):
            return None


class BufferingThreadWorker(ThreadWorker):
    """gthread whose main loop reads each request whole before a thread serves it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.buffering: dict[int, TConn] = {}  # id(conn) -> conn, incomplete requests
        self.buffered_bytes = 0

    # -- where connections come from ------------------------------------------------

    def accept(self, listener):
        if self.cfg.is_ssl:
            return super().accept(listener)
        try:
            client_sock, client_addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client_sock, client_addr, listener.getsockname())
        self._start_buffering(conn, b"")

    def on_client_socket_readable(self, conn, client):
        """A kept-alive connection's next request begins: buffer it too."""
        if self.cfg.is_ssl:
            return super().on_client_socket_readable(conn, client)
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._start_buffering(conn, b"")

    def finish_request(self, conn, fs):
        carry = getattr(conn, "hubdesk_carry", b"")
        if carry and self.alive and not fs.cancelled() and fs.exception() is None:
            result = fs.result()
            if result and result is not _DEFER:
                # the client sent its next request with the last one: buffer it as any
                conn.hubdesk_carry = b""
                conn.sock.setblocking(False)
                return self._start_buffering(conn, carry)
        return super().finish_request(conn, fs)

    def murder_pending(self):
        super().murder_pending()
        now = time.monotonic()
        for conn in [c for c in self.buffering.values() if c.hubdesk_deadline <= now]:
            self._drop(conn)

    # -- buffering ------------------------------------------------------------------------

    def _start_buffering(self, conn, initial: bytes) -> None:
        now = time.monotonic()
        conn.hubdesk_data = bytearray(initial)
        conn.hubdesk_started = now
        conn.hubdesk_deadline = now + IDLE_SECONDS
        if initial and first_request_length(conn.hubdesk_data) is not None:
            return self._hand_over(conn)
        conn.sock.setblocking(False)
        self.buffering[id(conn)] = conn
        self.buffered_bytes += len(initial)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))

    def _on_readable(self, conn, _sock) -> None:
        try:
            data = conn.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away before its request was complete
            return self._drop(conn)
        conn.hubdesk_data += data
        self.buffered_bytes += len(data)
        now = time.monotonic()
        conn.hubdesk_deadline = min(now + IDLE_SECONDS, conn.hubdesk_started + TOTAL_SECONDS)
        if (
            first_request_length(conn.hubdesk_data) is not None
            or self.buffered_bytes > BUFFER_LIMIT
        ):
            self._stop_buffering(conn)
            self._hand_over(conn)

    def _stop_buffering(self, conn) -> None:
        self.buffering.pop(id(conn), None)
        self.buffered_bytes -= len(conn.hubdesk_data)
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass

    def _hand_over(self, conn) -> None:
        """The request is in: a thread serves it from the bytes read here."""
        data = bytes(conn.hubdesk_data)
        conn.hubdesk_data = bytearray()
        length = first_request_length(data) or len(data)
        conn.hubdesk_carry = data[length:]
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
        conn.parser.unreader.unread(data[:length])
        conn.data_ready = True  # handle() need not wait for the first byte
        self.enqueue_req(conn)

    def _drop(self, conn) -> None:
        self._stop_buffering(conn)
        self.nr_conns -= 1
        conn.close()
