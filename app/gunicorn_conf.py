"""gunicorn settings for hubdesk (the Docker image, the demo and production).

gunicorn's **gevent** worker carries concurrency: every connection is a greenlet, and a
greenlet waiting on a socket (for the hub, for a slow client, for a spawn's progress)
costs a few kilobytes, not a thread. A client that trickles its request therefore holds
no thread and starves no page. The limits are explicit (see docs/serving.md for the
attacks they were measured against, and the other servers measured with them):

- a request's head (request line and headers) must arrive whole within ``keepalive``
  seconds of the connection being ready for it, or the connection is closed; it may
  hold at most ``limit_request_fields`` headers of at most ``limit_request_field_size``
  bytes each (gunicorn answers 431 past that, before hubdesk sees the request);
- a body is read by hubdesk only as it parses it, at most ``MAX_CONTENT_LENGTH`` (4 MiB,
  413 past it, before a byte of it is read), form fields in memory at most 512 KiB (a
  file part past 500 KiB goes to a temporary file); chunked bodies are parsed as they
  arrive (gunicorn's reader), and a body must be in whole within HUBDESK_BODY_TIMEOUT
  seconds of its head (408 past that: ``pre_request`` below);
- at most ``worker_connections`` connections per worker, new ones wait in the
  listen backlog past that.

Hub calls have their own timeouts (HUBDESK_CONNECT_TIMEOUT, HUBDESK_READ_TIMEOUT); a
worker's own greenlet tells gunicorn it is alive every second, so a long progress
stream never trips the worker timeout.
"""

import os
import shutil
import tempfile
import time
from urllib.parse import urlparse

import gevent
from gunicorn.http.body import ChunkedReader
from gunicorn.workers.ggevent import GeventWorker
from hubdesk.config import BODY_LIMIT
from werkzeug.exceptions import RequestTimeout


def _bind():
    if os.environ.get("HUBDESK_BIND"):
        return os.environ["HUBDESK_BIND"]
    # a managed JupyterHub service is told where to listen
    url = os.environ.get("JUPYTERHUB_SERVICE_URL")
    if url:
        parsed = urlparse(url)
        host = f"[{parsed.hostname}]" if ":" in parsed.hostname else parsed.hostname  # IPv6
        return f"{host}:{parsed.port or 80}"
    return "0.0.0.0:8000"


def _number(name, default):
    """A number setting; a bad one is named by on_starting (Settings), not a traceback here."""
    try:
        return type(default)(os.environ.get(name) or default)
    except ValueError:
        return default


bind = _bind()
wsgi_app = "hubdesk.wsgi:application"
workers = int(os.environ.get("HUBDESK_WORKERS", "2"))
worker_class = "gevent"
# connections (pages, progress streams, clients still sending) one worker holds at once
worker_connections = _number("HUBDESK_WORKER_CONNECTIONS", 2048)
# a request head must be whole within `keepalive` seconds (the gevent worker's deadline
# for reading one), with at most this many headers of at most this many bytes (431)
limit_request_line = 8190
limit_request_fields = 50
limit_request_field_size = 8190
# a request body must be in whole this many seconds after its head (408 past that)
BODY_SECONDS = _number("HUBDESK_BODY_TIMEOUT", 30.0)
# a worker silent for this long is restarted; hub calls time out well before
timeout = int(os.environ.get("HUBDESK_WORKER_TIMEOUT", "60"))
graceful_timeout = 20
keepalive = 5
# X-Forwarded-Proto and friends are believed only from these addresses
forwarded_allow_ips = os.environ.get("HUBDESK_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("HUBDESK_LOG_LEVEL", "info").lower()
# method, path (no query string: the OAuth callback's carries its code and state, a
# search what a person looked for) and timing
access_log_format = (
    '%(h)s "%(m)s %({SCRIPT_NAME}e)s%(U)s %(H)s" %(s)s %(b)s %(M)sms req=%({x-request-id}o)s'
)
if os.environ.get("HUBDESK_LOG_FORMAT", "").strip().lower() == "json":
    # gunicorn's own lines and the access log as JSON too, the access's parts as fields
    logger_class = "hubdesk.logs.GunicornJSONLogger"
# gunicorn's control socket (for gunicornc) only where HUBDESK_CONTROL_SOCKET asks for one:
# its default, under $HOME, is shared by every gunicorn of the same user, and cannot be made
# on a read-only root filesystem (an ERROR at every start)
if os.environ.get("HUBDESK_CONTROL_SOCKET", "").strip():
    control_socket = os.environ["HUBDESK_CONTROL_SOCKET"].strip()
else:
    control_socket_disable = True


# every worker counts in its own files; a scrape adds them up (see app/metrics.py)
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.path.join(
        tempfile.gettempdir(), f"hubdesk-metrics-{os.getpid()}"
    )
METRICS_PORT = int(os.environ.get("HUBDESK_METRICS_PORT", "0") or 0)


def metrics_host(bind: str, chosen: str = "") -> str:
    """Where HUBDESK_METRICS_PORT listens: HUBDESK_METRICS_BIND, else the host hubdesk
    itself listens on (a unix socket or an inherited descriptor: 127.0.0.1)."""
    if chosen.strip():
        return chosen.strip().removeprefix("[").removesuffix("]")
    if bind.startswith(("unix:", "fd://")):
        return "127.0.0.1"
    from gunicorn.util import parse_address

    # ":8000" is every address, for gunicorn as for this
    return parse_address(bind)[0] or "0.0.0.0"  # noqa: S104


def when_ready(server):
    """HUBDESK_METRICS_PORT: serve /metrics on a port of its own (no token: keep it private)."""
    if METRICS_PORT:
        from prometheus_client import CollectorRegistry, multiprocess, start_http_server

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        host = metrics_host(bind, os.environ.get("HUBDESK_METRICS_BIND", ""))
        start_http_server(METRICS_PORT, addr=host, registry=registry)


class BodyWithDeadline:
    """A request's body (gunicorn's), whose reads end at a deadline: 408 past it.

    The gevent worker gives a request's head a deadline (``keepalive``) but none to its
    body: a client could trickle a body for as long as it likes, holding one of the
    worker's ``worker_connections``. Every read here runs under a gevent timeout for
    what is left of ``BODY_SECONDS``.
    """

    def __init__(self, req, seconds: float):
        self._req, self._body = req, req.body
        self._seconds = seconds
        self._until = time.monotonic() + seconds

    def _timed(self, method, *args):
        left = self._until - time.monotonic()
        try:
            if left <= 0:
                raise gevent.Timeout()
            with gevent.Timeout(left):
                return method(*args)
        except gevent.Timeout:
            self._req.force_close()  # what is left of the body is not read: no keep-alive
            raise RequestTimeout(
                f"The request's body did not arrive within {self._seconds:g} s."
            ) from None

    def read(self, size=None):
        return self._timed(self._body.read, size)

    def readline(self, size=None):
        return self._timed(self._body.readline, size)

    def readlines(self, size=None):
        return self._timed(self._body.readlines, size)

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line


def pre_request(worker, req):
    """Before hubdesk sees a request: its body gets a deadline; and a body hubdesk will
    not read whole (chunked, or past its 4 MiB) ends the connection after the answer
    (413) instead of being read to its end for the next request on it."""
    body = getattr(req, "body", None)
    if body is None:
        return  # another worker class than gunicorn's sync, gthread or gevent (benchmarks)
    reader = getattr(body, "reader", None)
    if isinstance(reader, ChunkedReader) or getattr(reader, "length", 0) > BODY_LIMIT:
        req.force_close()
    if isinstance(worker, GeventWorker):  # the deadline is a gevent timeout
        req.body = BodyWithDeadline(req, BODY_SECONDS)


def post_worker_init(worker):
    """On SIGTERM (a graceful stop or restart), a worker's job runner first stops taking
    items, so what is left goes to another worker (see app/jobs/runner.py)."""
    import signal

    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum, frame):
        from hubdesk.jobs import stop_all

        stop_all()  # no waiting here: gunicorn's own handler runs next
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, on_term)

    # the job runner looks from the start, not at the first page someone opens: a lesson
    # due (or a job left by a dead worker) is run by a hubdesk that nobody visits
    from hubdesk.extensions import shared
    from hubdesk.wsgi import application

    shared(application).jobs.ensure_started()


def worker_exit(server, worker):
    """A worker on its way out gives back the leases it still holds."""
    from hubdesk.jobs import stop_all

    stop_all(wait=5)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_starting(server):
    """Check the settings once, before any worker forks: one clear line if wrong."""
    from hubdesk.config import ConfigError, Settings
    from hubdesk.logs import stop_on_config_error

    try:
        Settings.from_env()
    except ConfigError as e:
        stop_on_config_error(e)
    # counts of workers that ran before this start mean nothing now
    metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(metrics_dir, ignore_errors=True)
    os.makedirs(metrics_dir, mode=0o700, exist_ok=True)
