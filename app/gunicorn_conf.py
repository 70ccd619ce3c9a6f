"""gunicorn settings for hubdesk (the Docker image, the demo and production).

Threads (the ``gthread`` worker), not processes, carry concurrency: a page
spends most of its time waiting for the hub, and a thread waiting on a socket
costs little. A spawn-progress page holds one thread for as long as the spawn
takes (seconds to minutes) while it passes the hub's event stream on; at most
half of a worker's threads do that (HUBDESK_MAX_STREAMS), so with 2 workers x
16 threads 16 spawns are followed live at once and pages always find a thread.
A gthread worker tells gunicorn it is alive from its own loop, so a long stream
never trips the worker timeout; hub calls have their own timeouts
(HUBDESK_CONNECT_TIMEOUT, HUBDESK_READ_TIMEOUT).
"""

import os
import shutil
import tempfile
from urllib.parse import urlparse


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


bind = _bind()
wsgi_app = "app.wsgi:application"
workers = int(os.environ.get("HUBDESK_WORKERS", "2"))
# gthread, with each request read whole by the worker's main loop before a thread takes it:
# a client trickling its request holds no thread (see app/workers.py)
worker_class = "app.workers.BufferingThreadWorker"
threads = int(os.environ.get("HUBDESK_THREADS", "16"))
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
    logger_class = "app.logs.GunicornJSONLogger"
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


def post_worker_init(worker):
    """On SIGTERM (a graceful stop or restart), a worker's job runner first stops taking
    items, so what is left goes to another worker (see app/jobs.py)."""
    import signal

    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum, frame):
        from app.jobs import stop_all

        stop_all()  # no waiting here: gunicorn's own handler runs next
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, on_term)

    # the job runner looks from the start, not at the first page someone opens: a lesson
    # due (or a job left by a dead worker) is run by a hubdesk that nobody visits
    from app.extensions import shared
    from app.wsgi import application

    shared(application).jobs.ensure_started()


def worker_exit(server, worker):
    """A worker on its way out gives back the leases it still holds."""
    from app.jobs import stop_all

    stop_all(wait=5)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_starting(server):
    """Check the settings once, before any worker forks: one clear line if wrong."""
    from app.config import ConfigError, Settings
    from app.logs import stop_on_config_error

    try:
        Settings.from_env()
    except ConfigError as e:
        stop_on_config_error(e)
    # counts of workers that ran before this start mean nothing now
    metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(metrics_dir, ignore_errors=True)
    os.makedirs(metrics_dir, mode=0o700, exist_ok=True)
