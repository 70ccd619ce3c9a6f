"""Prometheus metrics: hubdesk's requests, its hub calls, and bulk-action outcomes.

Served at ``<prefix>metrics`` to a scraper that sends ``Authorization: Bearer
<HUBDESK_METRICS_TOKEN>`` (404 while no token is set), or on a port of its own
(``HUBDESK_METRICS_PORT``, started by gunicorn's master; see gunicorn_conf).
Under gunicorn every worker counts in files in ``PROMETHEUS_MULTIPROC_DIR`` and
a scrape adds them up. Labels are endpoint names and hub routes with the names
taken out (``/users/{}/servers/{}``), never user or group names, and nothing a
client chooses: a method it makes up counts as ``other``, or every new name would
be a new series, without a sign-in.
"""

from __future__ import annotations

import hmac
import os
import time

from flask import Blueprint, Response, abort, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from .extensions import settings

REQUESTS = Counter(
    "hubdesk_requests_total", "Requests hubdesk answered", ["endpoint", "method", "status"]
)
REQUEST_SECONDS = Histogram("hubdesk_request_seconds", "Time hubdesk took to answer", ["endpoint"])
HUB_CALLS = Counter(
    "hubdesk_hub_requests_total", "Requests hubdesk made to the hub", ["method", "route", "status"]
)
HUB_SECONDS = Histogram(
    "hubdesk_hub_request_seconds", "Time the hub took to answer hubdesk", ["method", "route"]
)
BULK_ITEMS = Counter(
    "hubdesk_bulk_items_total", "Outcomes of bulk actions, item by item", ["action", "outcome"]
)
JOBS_PAUSED = Counter(
    "hubdesk_jobs_paused_total",
    "Bulk starts paused after spawn failures in a row (so that the hub does not shut down)",
)

bp = Blueprint("metrics", __name__)

# HTTP's own methods (RFC 9110, and PATCH): any other name a client sends is "other"
METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}
)


def method_label(method: str) -> str:
    return method if method in METHODS else "other"


def hub_route(segments: tuple[str, ...]) -> str:
    """A hub path without its names: ('users', 'ann', 'servers', 'x') -> /users/{}/servers/{}."""
    if segments[:1] == ("oauth2",):
        return "/" + "/".join(segments)
    return "/" + "/".join(s if i % 2 == 0 else "{}" for i, s in enumerate(segments))


def observe_hub_call(method: str, segments: tuple[str, ...], status, seconds: float) -> None:
    route = hub_route(segments)
    HUB_CALLS.labels(method, route, str(status)).inc()
    HUB_SECONDS.labels(method, route).observe(seconds)


def count_bulk(action: str, outcome: str) -> None:
    BULK_ITEMS.labels(action, outcome).inc()


def count_paused() -> None:
    JOBS_PAUSED.inc()


def init_app(app) -> None:
    @app.before_request
    def start_timer():
        g.started = time.perf_counter()

    @app.after_request
    def count(response):
        endpoint = request.endpoint or "none"
        REQUESTS.labels(endpoint, method_label(request.method), str(response.status_code)).inc()
        if "started" in g:
            REQUEST_SECONDS.labels(endpoint).observe(time.perf_counter() - g.started)
        return response

    app.register_blueprint(bp)


def registry():
    """This process's registry, or every gunicorn worker's added up."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined)
        return combined
    from prometheus_client import REGISTRY

    return REGISTRY


@bp.route("/metrics")
def scrape():
    token = settings().metrics_token
    if not token:
        abort(404)
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        abort(403, description="A metrics token is needed.")
    return Response(generate_latest(registry()), mimetype=CONTENT_TYPE_LATEST)
