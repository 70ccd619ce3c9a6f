"""Error pages: what went wrong in words, and a way back. Never a stack trace."""

from __future__ import annotations

import logging

from flask import abort, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .db import StateUnavailable
from .hub import HubAPIError, HubUnreachable
from .jobs import DamagedRecord

log = logging.getLogger(__name__)

TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    413: "Too large",
    500: "Something went wrong",
    502: "The hub refused",
    503: "The hub is unreachable",
}


MESSAGES = {
    404: "There is no such page in hubdesk. Check the address, or start again from the home page.",
    405: "That page cannot be used this way.",
    413: "That upload is too large.",
}


def require_form(form) -> None:
    """400 unless ``form`` was submitted and validates (its CSRF token included)."""
    if not form.validate_on_submit():
        abort(400, description="This form has expired. Nothing was changed.")


def error_page(status: int, message: str, *, title: str = ""):
    return (
        render_template(
            "error.html", status=status, title=title or TITLES.get(status, "Error"), message=message
        ),
        status,
    )


def init_app(app):
    @app.errorhandler(CSRFError)
    def csrf_error(e):
        return error_page(
            400,
            "This form has expired or did not come from hubdesk, so nothing was changed. "
            "Go back, reload the page and try again.",
        )

    @app.errorhandler(HubUnreachable)
    def hub_unreachable(e):
        log.warning("hub unreachable on %s %s: %s", request.method, request.path, e.reason)
        message = f"hubdesk cannot reach JupyterHub right now ({e.reason}). Try again in a moment."
        if e.maybe_applied:
            message += " Your change may or may not have been made: check before repeating it."
        return error_page(503, message)

    @app.errorhandler(StateUnavailable)
    def state_unavailable(e):
        log.error("database unavailable on %s %s: %s", request.method, request.path, e.reason)
        return error_page(
            503,
            f"hubdesk cannot reach its database right now ({e.reason}). It sends no change to "
            "the hub that it cannot write down first, so nothing more was changed. Try again "
            "in a moment; if it lasts, tell the hub's operators.",
            title="hubdesk's database is unavailable",
        )

    @app.errorhandler(DamagedRecord)
    def damaged_record(e):
        log.error("damaged record on %s %s: %s", request.method, request.path, e)
        return error_page(
            404,
            "This record in hubdesk's database is damaged, so it cannot be shown. "
            "Its details are in hubdesk's log; the rest of hubdesk is not affected.",
        )

    @app.errorhandler(HubAPIError)
    def hub_error(e):
        # views turn the errors they expect into messages; this is for the rest
        log.warning("hub answered %s to %s %s: %s", e.status, e.method, e.path, e.message)
        if e.status in (403, 404):
            return error_page(e.status, f"The hub says: {e.message}")
        return error_page(502, f"The hub answered {e.status}: {e.message}")

    @app.errorhandler(HTTPException)
    def http_error(e):
        code = e.code or 500
        # werkzeug's stock wording unless a view said something of its own
        if e.description == type(e).description:
            return error_page(code, MESSAGES.get(code, e.description))
        return error_page(code, e.description)

    @app.errorhandler(Exception)
    def unexpected(e):
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_page(500, "hubdesk hit an unexpected error. It has been logged.")
