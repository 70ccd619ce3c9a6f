"""Hub-wide servers: every running one (a page at a time, or those idle for a while), and
stopping the ticked ones or every one idle that long.

Each stop is checked with ``require()`` for that user and server (the user's groups resolve
``!group=`` filters), then sent with the service token.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import HiddenField

from .. import jsontext
from ..access import can, person_client, require
from ..errors import require_form
from ..extensions import service_client, settings
from ..forms import ActionForm
from ..jsontext import JSONTextError
from ..paging import int_arg, window
from ..start_options import catalogue
from ..words import plural, server_words
from .idle import (
    HIDDEN,
    STOP_AT_ONCE,
    IdleError,
    active_users,
    idle_servers,
    parse_idle,
    running_page,
    still_idle,
    stop_each,
)

bp = Blueprint("servers", __name__)
log = logging.getLogger(__name__)

PAGE_SIZES = (25, 50, 100, 200)


class IdleStopForm(FlaskForm):
    """ "Stop all that match": the filter, and (once reviewed) the servers named."""

    idle = HiddenField()
    unit = HiddenField()
    confirm = HiddenField()
    servers = HiddenField()


def _idle_filter(args) -> tuple:
    """(the idle filter or None, the words of what was wrong with it or "")."""
    try:
        return parse_idle(args.get("idle"), args.get("unit")), ""
    except IdleError as e:
        return None, str(e)


def _may_stop(user: str, server: str, groups) -> bool:
    return can("stop_server", user=user, server=server, user_groups=groups or ())


@bp.route("/servers/")
def running():
    """One page of users with a running server; with an idle filter, every matching server.

    Without a filter it costs one hub page (O(page)), plus a look at the page's stopped
    servers for a failed start. With one, every active user is read (``idle.active_users``).
    """
    require("list_users")
    limit = int_arg("limit", 50, allowed=PAGE_SIZES)
    offset = int_arg("offset", 0)
    newest_first = request.args.get("sort") == "recent"
    idle, error = _idle_filter(request.args)
    hub, now, found, stoppable = person_client(), datetime.now(UTC), None, []
    seen = {"profiles": catalogue(), "host": settings().hub_host, "newest_first": newest_first}
    if idle is None:
        rows, page = running_page(hub, offset=offset, limit=limit, **seen)
        paging = window(offset, limit, page.total or 0, page.next_offset)
    else:
        found = idle_servers(active_users(hub), idle, now=now, **seen)
        rows = found.servers[offset : offset + limit]
        paging = window(offset, limit, len(found.servers))
        stoppable = found.stoppable(_may_stop)
    html = render_template(
        "servers/running.html",
        rows=rows,
        page=paging,
        page_sizes=PAGE_SIZES,
        idle=idle,
        idle_error=error,
        typed=(request.args.get("idle") or "")[:40],
        unit=(idle.unit if idle else request.args.get("unit")) or "hours",
        found=found,
        stoppable=len(stoppable),
        at_once=STOP_AT_ONCE,
        newest_first=newest_first,
        now=now,
        form=ActionForm(),
    )
    return html, 400 if error else 200


def _posted_servers(data: str | None) -> list[tuple[str, str]]:
    """A confirmation page's hidden list of [user, server] pairs; 400 when it was damaged."""
    try:
        chosen = jsontext.loads(data or "[]")
    except JSONTextError:
        chosen = None
    if not isinstance(chosen, list) or not all(
        isinstance(pair, list) and len(pair) == 2 for pair in chosen
    ):
        abort(400, description="The list of servers was damaged on the way. Nothing was changed.")
    return [(u, s) for u, s in chosen if isinstance(u, str) and isinstance(s, str) and u]


@bp.route("/servers/stop", methods=["POST"])
def stop_many():
    require("stop_server")  # for someone, somewhere; each server is checked below
    form = ActionForm()
    require_form(form)
    if form.confirm.data:
        chosen = _posted_servers(form.servers.data)
    else:
        chosen = [tuple(s.partition("/")[::2]) for s in request.form.getlist("server")]
        chosen = [(u, s) for u, s in chosen if u]
    chosen = chosen[:500]
    if not chosen:
        flash("No servers were chosen, so nothing was changed.", "info")
        return redirect(url_for(".running"))
    if not form.confirm.data:
        return render_template(
            "servers/stop_confirm.html",
            chosen=chosen,
            form=ActionForm(formdata=None, confirm="yes", servers=json.dumps(chosen)),
        )

    # a user that does not exist and one the person may not act on are answered alike,
    # as the hub does (it hides the users you may not see): no way to probe for names
    def check(user, server, model):
        if model is None or not _may_stop(user, server, model.get("groups")):
            return "failed", HIDDEN
        return None

    result = stop_each(service_client(), chosen, check)

    def label(o):
        return f"{o.user}/{o.server}" if o.server else f"{o.user} (default)"

    done = result.of("stopped") + result.of("stopping")
    failed = [f"{label(o)}: {o.why}" for o in result.of("failed")]
    message = f"Stopped (or stopping) {plural(len(done), 'server')}."
    if failed:
        message += f" Not stopped: {'; '.join(failed[:25])}" + (" …" if len(failed) > 25 else "")
    flash(message, "warning" if failed else "success")
    return redirect(url_for(".running"))


@bp.route("/servers/stop-idle", methods=["POST"])
def stop_idle():
    """ "Stop all that match": review the servers idle that long, then stop those still idle.

    The review names them (at most STOP_AT_ONCE, longest idle first, only those the person
    may stop); the confirmation stops exactly those named, each checked again at that moment.
    """
    require("stop_server")  # for someone, somewhere; each server is checked below
    form = IdleStopForm()
    require_form(form)
    idle, error = _idle_filter(request.form)
    if idle is None:
        abort(400, description=f"{error or 'No idle time was given.'} Nothing was changed.")
    back = url_for(".running", idle=idle.amount_text, unit=idle.unit)
    if not form.confirm.data:
        found = idle_servers(
            active_users(person_client()), idle, now=datetime.now(UTC), profiles=catalogue()
        )
        mine = found.stoppable(_may_stop)
        if not mine:
            flash(
                f"No server you may stop has been idle for at least {idle.words}; "
                "nothing was changed.",
                "info",
            )
            return redirect(back)
        chosen = mine[:STOP_AT_ONCE]
        return render_template(
            "servers/stop_idle_confirm.html",
            idle=idle,
            chosen=chosen,
            labels=[server_words(s.name, s.user) for s in chosen],
            more=len(mine) - len(chosen),
            not_yours=len(found.servers) - len(mine),
            at_once=STOP_AT_ONCE,
            back=back,
            form=IdleStopForm(
                formdata=None,
                idle=idle.amount_text,
                unit=idle.unit,
                confirm="yes",
                servers=json.dumps([[s.user, s.name] for s in chosen]),
            ),
        )
    chosen = _posted_servers(form.servers.data)[:STOP_AT_ONCE]
    result = stop_each(
        service_client(), chosen, still_idle(idle, _may_stop, now=lambda: datetime.now(UTC))
    )
    log.info(
        "stop idle (%s): %s",
        idle.words,
        ", ".join(f"{len(result.of(r))} {r}" for r in ("stopped", "stopping", "skipped", "failed")),
    )
    return render_template("servers/stop_idle_done.html", idle=idle, result=result, back=back)
