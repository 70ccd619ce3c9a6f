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
import os
import re
import secrets
import sys
import time
from typing import NoReturn

from flask import g, has_request_context, request
from gunicorn import glogging

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
                record.msg, record.args = _redacted(message), ()
        return record

    factory.hubdesk = True
    logging.setLogRecordFactory(factory)


def _redacted(text: str) -> str:
    for s in _secrets:
        text = text.replace(s, "[redacted]")
    return text


class JSONFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, request_id, message, and the record's
    ``fields`` (``extra={"fields": {...}}``: an audit record's, an access's) beside them;
    a ``message`` among them replaces the record's own, which the text format shows."""

    def format(self, record):
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return _redacted(json.dumps(line, ensure_ascii=False, default=str))


def _json_everywhere() -> None:
    """HUBDESK_LOG_FORMAT=json: every logger's records (a library's too) and Python's
    warnings reach stderr as JSON lines, never as bare text."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(JSONFormatter())
        root.addHandler(handler)
    logging.captureWarnings(True)


def stop_on_config_error(error) -> NoReturn:
    """A wrong setting: one line on stderr (a JSON object under HUBDESK_LOG_FORMAT=json)."""
    message = f"hubdesk: configuration error: {error}"
    if os.environ.get("HUBDESK_LOG_FORMAT", "").strip().lower() == "json":
        record = logging.makeLogRecord(
            {
                "name": "hubdesk",
                "levelno": logging.CRITICAL,
                "levelname": "CRITICAL",
                "msg": message,
            }
        )
        message = JSONFormatter().format(record)
    sys.stderr.write(message + "\n")
    sys.exit(4)


class GunicornJSONLogger(glogging.Logger):
    """gunicorn's own lines (start-up, workers, the access log) as JSON lines
    (HUBDESK_LOG_FORMAT=json: ``logger_class`` in gunicorn_conf). An access is its parts
    as fields; its path never has the query string (an OAuth code, a search)."""

    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(JSONFormatter())
        _json_everywhere()  # the workers inherit it

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        headers = resp.headers.items() if hasattr(resp.headers, "items") else resp.headers
        method = environ.get("REQUEST_METHOD", "-")
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        fields = {
            "message": f"{method} {path} {status}",
            "remote_addr": environ.get("REMOTE_ADDR", "-"),
            "method": method,
            "path": path,
            "protocol": environ.get("SERVER_PROTOCOL", "-"),
            "status": int(status) if str(status).isdigit() else status,
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "request_id": next((v for k, v in headers if k.lower() == "x-request-id"), "-"),
        }
        self.access_log.info("%s", fields["message"], extra={"fields": fields})


def setup(settings) -> None:
    """Configure the ``app`` loggers once per process (idempotent)."""
    logger = logging.getLogger("hubdesk")
    # several apps in one process (tests): the most verbose level asked for wins
    wanted = logging.getLevelName(settings.log_level)
    if logger.level == logging.NOTSET or wanted < logger.level:
        logger.setLevel(wanted)
    _secrets.add(settings.api_token)
    _install_record_factory()
    if logging.getLogger().handlers or logger.handlers:
        return  # someone (gunicorn, pytest) already set up handlers
    if settings.log_format == "json":
        _json_everywhere()
        return
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("[%(levelname).1s %(asctime)s %(name)s %(request_id)s] %(message)s")
    )
    logger.addHandler(handler)


def init_app(app, settings) -> None:
    trust_proxy = settings.proxy_hops > 0

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
