"""Hub-wide servers: every running one (a page at a time, or those idle for a while), and
stopping the ticked ones or every one idle that long.

A stop is reviewed on a confirmation page; the confirmed request makes a job of it
(:mod:`.stops`), followed on its page, where whoever may steer it may cancel the rest. Each
server is checked again at its turn, with the scopes of the person who asked (the user's
groups resolve ``!group=`` filters), then stopped with the service token.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import HiddenField

from .. import jsontext
from ..access import can, person_client, require
from ..confirming import ask_to_cancel
from ..errors import require_form
from ..extensions import job_store, jobs, settings
from ..forms import ActionForm
from ..jobs import HubStopSpec, Job
from ..jsontext import JSONTextError
from ..paging import int_arg, window
from ..start_options import catalogue
from ..words import server_words
from .idle import (
    STOP_AT_ONCE,
    Idle,
    IdleError,
    active_users,
    idle_servers,
    parse_idle,
    running_page,
)
from .stops import KIND, OUTCOMES, idle_of, outcomes_of

bp = Blueprint("servers", __name__)

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


# a review's address longer than this is not redirected to (gunicorn's request line: 8190)
LONGEST_URL = 6000


def _ticked(values: list[str]) -> list[tuple[str, str]]:
    """Ticked rows' ``user/server`` values as (user, server) pairs, at most 500."""
    chosen = [tuple(v.partition("/")[::2]) for v in values]
    return [(u, s) for u, s in chosen if u][:500]


@bp.route("/servers/stop", methods=["GET", "POST"])
def stop_many():
    """GET ``?server=user/name&…``: which servers will stop, asked (a confirmation page); its
    POST makes a job of them, followed on its page (303). The running list posts its ticks
    here: they are answered with a redirect to the question (at an address a reload can ask
    again), or, too many for an address, with the question itself."""
    require("stop_server")  # for someone, somewhere; each server is checked below
    form = ActionForm()
    if request.method == "POST":
        require_form(form)
        if form.confirm.data:
            chosen = _posted_servers(form.servers.data)[:500]
            return _submit_stop(chosen) if chosen else _none_chosen()
        ticked = [f"{u}/{s}" for u, s in _ticked(request.form.getlist("server"))]
        review = url_for(".stop_many", server=ticked)
        if ticked and len(review) <= LONGEST_URL:
            return redirect(review, 303)
    chosen = _ticked(request.values.getlist("server"))
    if not chosen:
        return _none_chosen()
    return render_template(
        "servers/stop_confirm.html",
        chosen=chosen,
        form=ActionForm(formdata=None, confirm="yes", servers=json.dumps(chosen)),
    )


def _none_chosen():
    flash("No servers were chosen, so nothing was changed.", "info")
    return redirect(url_for(".running"), 303)


def _submit_stop(chosen: list[tuple[str, str]], idle: Idle | None = None):
    """A hub-wide stop of these servers as a job (one item each); to its page (303)."""
    chosen = list(dict.fromkeys(chosen))
    spec = HubStopSpec(
        servers=tuple(chosen),
        idle_amount=idle.amount if idle else None,
        idle_unit=idle.unit if idle else "hours",
    )
    job_id = jobs().submit(
        KIND,
        "",  # hub-wide: no group
        by=g.person.name,
        spec=spec,
        scopes=g.person.scopes,
        items=[(str(n), "") for n in range(len(chosen))],
    )
    return redirect(url_for(".stop_job", job=job_id), 303)


@bp.route("/servers/stop-idle", methods=["GET", "POST"])
def stop_idle():
    """ "Stop all that match": GET ``?idle=&unit=`` reviews the servers idle that long (a
    confirmation page); its POST stops those named that are still idle (a job, 303).

    The review names them (at most STOP_AT_ONCE, longest idle first, only those the person
    may stop); the confirmation makes a job of exactly those named, each checked again at its
    turn (:mod:`.stops`). A POST without the confirmation is sent to the review (303).
    """
    require("stop_server")  # for someone, somewhere; each server is checked below
    form = IdleStopForm()
    if request.method == "POST":
        require_form(form)
    idle, error = _idle_filter(request.values)
    if idle is None:
        abort(400, description=f"{error or 'No idle time was given.'} Nothing was changed.")
    if request.method == "POST" and form.confirm.data:
        return _submit_stop(_posted_servers(form.servers.data)[:STOP_AT_ONCE], idle)
    if request.method == "POST":
        return redirect(url_for(".stop_idle", idle=idle.amount_text, unit=idle.unit), 303)
    return _idle_review(idle)


def _idle_review(idle: Idle):
    """The question of "Stop all that match": the servers idle that long the person may stop."""
    back = url_for(".running", idle=idle.amount_text, unit=idle.unit)
    found = idle_servers(
        active_users(person_client()), idle, now=datetime.now(UTC), profiles=catalogue()
    )
    mine = found.stoppable(_may_stop)
    if not mine:
        flash(
            f"No server you may stop has been idle for at least {idle.words}; nothing was changed.",
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


# -- a hub-wide stop, followed ------------------------------------------------------------


def _stop_job(job: str) -> Job:
    record = job_store().get(job)
    if record is None or record.kind != KIND:
        abort(404, description="There is no such stop (it may have been cleaned up).")
    return record


def _may_steer(record: Job) -> bool:
    """Follow or cancel a hub-wide stop: who asked for it, or who may stop every one of its
    servers (by the user and server alone: a ``!group=`` scope needs the user's groups,
    which the page does not read)."""
    servers = record.spec.servers
    return record.by == g.person.name or (
        bool(servers) and all(_may_stop(user, server, ()) for user, server in servers)
    )


def _require_steer(record: Job) -> None:
    if not _may_steer(record):
        abort(
            403,
            description="Only who asked for this stop, or who may stop each of its servers, "
            "may follow or cancel it.",
        )


@bp.route("/servers/jobs/<job>")
def stop_job(job):
    """A hub-wide stop: how far it got, then each server's outcome (and why)."""
    record = _stop_job(job)
    _require_steer(record)
    idle = idle_of(record.spec)
    back = url_for(".running", idle=idle.amount_text, unit=idle.unit) if idle else None
    return render_template(
        "servers/stop_job.html",
        job=record,
        idle=idle,
        result=outcomes_of(record),
        counts=record.counts(),
        outcomes=OUTCOMES,
        back=back or url_for(".running"),
        may_cancel=not record.done and record.cancel_by is None,
        form=ActionForm(),
    )


@bp.route("/servers/jobs/<job>/cancel", methods=["GET", "POST"])
def cancel_stop_job(job):
    """GET asks (a confirmation page); POST cancels: servers not asked for yet are not
    stopped ("cancelled"), those under way finish."""
    record = _stop_job(job)
    _require_steer(record)
    if request.method == "GET":
        page = url_for(".stop_job", job=job)
        return ask_to_cancel(
            record,
            "Cancel this stop?",
            "Servers not asked for yet will not be stopped; those under way finish.",
            [("Running servers", url_for(".running")), ("Stop servers", page)],
        )
    require_form(ActionForm())
    if job_store().cancel(job, g.person.name):
        flash(
            "Cancelled: servers not asked for yet will not be stopped; those under way finish.",
            "info",
        )
    else:
        flash("This stop had already finished; nothing was cancelled.", "info")
    return redirect(url_for(".stop_job", job=job))
