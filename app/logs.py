"""Logging: one line per event, with the request's id; plain text or JSON lines.

Every request gets an id (``X-Request-Id`` from the proxy when it looks like
one, else a new one). It is in every log line written while serving that
request, in the response's ``X-Request-Id`` header and on error pages, so a
help-desk person can quote it and an operator can find the lines.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import time

from flask import g, has_request_context, request

# set by background work (group jobs) that runs outside any request
background_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

log = logging.getLogger(__name__)

_INCOMING_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def request_id() -> str:
    """hubdesk's own id of the request being served (or of the one a job came from)."""
    if has_request_context() and "request_id" in g:
        return g.request_id
    return background_id.get()


def proxy_request_id() -> str | None:
    """The id a trusted proxy in front gave the request (``HUBDESK_PROXY_HOPS`` > 0), if any."""
    if has_request_context():
        return g.get("proxy_request_id")
    return None


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.request_id = request_id()
        return True


_secrets: set[str] = set()


def _install_record_factory() -> None:
    """Every record, whichever logger and handler: the request id, and never a token.

    (A logger's filters do not see records of its child loggers, so this is done
    where records are made.)
    """
    if getattr(logging.getLogRecordFactory(), "hubdesk", False):
        return
    make = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        record = make(*args, **kwargs)
        record.request_id = request_id()
        if _secrets:
            message = record.getMessage()
            if any(s in message for s in _secrets):
                for s in _secrets:
                    message = message.replace(s, "[redacted]")
                record.msg, record.args = message, ()
        return record

    factory.hubdesk = True
    logging.setLogRecordFactory(factory)


class JSONFormatter(logging.Formatter):
    def format(self, record):
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def setup(settings) -> None:
    """Configure the ``app`` loggers once per process (idempotent)."""
    logger = logging.getLogger("app")
    # several apps in one process (tests): the most verbose level asked for wins
    wanted = logging.getLevelName(settings.log_level)
    if logger.level == logging.NOTSET or wanted < logger.level:
        logger.setLevel(wanted)
    _secrets.add(settings.api_token)
    _install_record_factory()
    if logging.getLogger().handlers or logger.handlers:
        return  # someone (gunicorn, pytest) already set up handlers
    handler = logging.StreamHandler()
    if settings.log_format == "json":
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("[%(levelname).1s %(asctime)s %(name)s %(request_id)s] %(message)s")
        )
    logger.addHandler(handler)


def init_app(app) -> None:
    trust_proxy = app.config["HUBDESK"].proxy_hops > 0

    @app.before_request
    def assign_request_id():
        # always hubdesk's own: a client could choose what it sends, and it would land in
        # the audit trail; a trusted proxy's id is kept beside it, to match its log lines
        g.request_id = secrets.token_hex(8)
        incoming = request.headers.get("X-Request-Id", "")
        if trust_proxy and _INCOMING_ID.fullmatch(incoming):
            g.proxy_request_id = incoming
            logging.getLogger(__name__).debug(
                "request %s is %s at the proxy", g.request_id, incoming
            )

    @app.after_request
    def expose_request_id(response):
        if "request_id" in g:
            response.headers["X-Request-Id"] = g.request_id
        return response

    app.jinja_env.globals["request_id"] = request_id
