"""A group's servers: the roster, starting and stopping servers for the group or the ticked
members (each a job), and following, cancelling and resuming those actions.

Reading the roster needs the group; each action needs starting or stopping servers, and the
job runner checks every member again with the scopes of the person who asked.
"""

from __future__ import annotations

import math
import time

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField

from ..access import can, load_group_members, person_client, require
from ..confirming import ask_to_cancel
from ..errors import require_form
from ..extensions import audit_trail, hub_major, job_store, jobs, lesson_store, settings
from ..forms import ActionForm
from ..jobs import StartSpec, StopSpec
from ..lessons.panel import group_lessons
from ..names import SERVER_NAME_RULES, NamesError
from ..paging import int_arg, window
from ..profiles import default_profile
from ..start_options import (
    StartForm,
    catalogue,
    chosen_options,
    chosen_profile,
    display_name,
    offered_profiles,
    profile_choices,
    profile_words,
    refusal,
    submitted_option_fields,
)
from . import page as roster
from .actions import OUTCOMES, job_target, resume_changes
from .asking import read_request, target_words
from .stopping import EVERY, NAMED, preview, read_which, usual_name
from .stopping import SIZES as STOP_SIZES

bp = Blueprint("roster", __name__)


class GroupServersForm(FlaskForm):
    action = HiddenField()
    server = StringField("Server name", description=SERVER_NAME_RULES)
    profile = StartForm.profile
    options = StartForm.options
    display_name = StartForm.display_name
    confirm = HiddenField()


def _group_page(group, members, form, offered, *, error: str = "", status: int = 200, stop=None):
    """The roster page (also after a refusal: the form keeps what was typed; ``stop``: the
    stop form's (which, name) as sent, its panel open)."""
    query = request.args.get("rq", "")[:255]
    limit = int_arg("rlimit", 50, allowed=roster.SIZES)
    offset = int_arg("roffset", 0)
    page = roster.read(
        person_client(),
        members,
        query=query,
        offset=offset,
        limit=limit,
        profiles=catalogue(),
        host=settings().hub_host,
    )
    lessons = group_lessons(group)
    recent = job_store().recent(group, ("start", "stop"))
    html = render_template(
        "roster/group.html",
        group=group,
        roster=page,
        roster_query=query,
        page=window(offset, limit, page.found),
        page_sizes=roster.SIZES,
        form=form,
        error=error,
        offered=offered,
        display_names=hub_major() >= 6,
        may_start=can("start_server"),
        may_stop=can("stop_server"),
        jobs=recent,
        outcomes=OUTCOMES,
        lessons=lessons,
        stop=stop or (NAMED, usual_name(lessons["rows"], recent, page.rows)),
        # after a refused start, its folded form is open: the message may be on a field of it
        start_open=bool(error or getattr(form, "refused", None))
        and (form.action.data or "").startswith("start"),
    )
    return html, status


@bp.route("/<group>/servers", methods=["GET", "POST"])
def group_servers(group):
    members = load_group_members(group)
    if not (can("start_server") or can("stop_server")):
        require("start_server")  # says why
    form = GroupServersForm()
    offered = offered_profiles([group])
    form.profile.choices = profile_choices(offered)
    if request.method == "GET":
        default = default_profile(offered)
        if default and not form.profile.data:
            form.profile.data = default.slug
        return _group_page(group, members, form, offered)
    require_form(form)
    try:
        asked = read_request(form, members)
        options = chosen_options(form, None, offered) if asked.kind == "start" else None
    except NamesError as e:
        stop, said = None, ""
        if form.action.data == "stop":  # the stop form's field keeps it; the start's stays empty
            stop = (request.form.get("which") or NAMED, form.server.data or "")
            form.server.data = ""
            said = str(e)  # at the top: the start form's fields are not the stop's
        said = said or refusal(form, e)
        return _group_page(group, members, form, offered, error=said, status=400, stop=stop)
    if form.action.data == "stop" and not form.confirm.data:  # reviewed server by server
        which = EVERY if asked.server is None else NAMED
        return redirect(url_for(".confirm_stop", group=group, which=which, server=asked.server))
    profile = chosen_profile(form, offered) if asked.kind == "start" else None
    name_shown = display_name(form) if asked.kind == "start" and asked.server else ""
    choices = profile.chosen_labels(options or {}) if profile else []
    if not form.confirm.data:
        return render_template(
            "roster/group_confirm.html",
            group=group,
            asked=asked,
            targets=target_words(asked),
            profile=profile,
            choices=choices,
            option_fields=submitted_option_fields(profile),
            display_name=name_shown,
            options=options,
            form=form,
        )
    ticked = bool(asked.servers) or form.action.data == "start-selected"
    if asked.kind == "start":
        spec = StartSpec(
            server=asked.server,
            ticked=ticked,
            user_options=options,
            display_name=name_shown,
            hub_major=hub_major(),
            profile=profile_words(profile, choices),
        )
    else:
        spec = StopSpec(
            server=asked.server, servers=asked.servers, ticked=ticked, listed_at=_listed_at()
        )
    job_id = jobs().submit(
        asked.kind,
        group,
        by=g.person.name,
        spec=spec,
        scopes=g.person.scopes,
        items=[(m, "") for m in asked.members],
    )
    return redirect(url_for(".group_job", group=group, job=job_id))


@bp.route("/<group>/servers/stop")
def confirm_stop(group):
    """A stop for the whole group, reviewed: the servers that will stop, a page of members at
    a time, with what is known of other classes that use them (``stopping``)."""
    members = load_group_members(group)
    require("stop_server")
    typed = (request.args.get("which", ""), request.args.get("server", "")[:255])
    try:
        which, server = read_which(*typed, hub_major=hub_major())
    except NamesError as e:
        form, offered = GroupServersForm(), offered_profiles([group])
        form.profile.choices = profile_choices(offered)
        return _group_page(group, members, form, offered, error=str(e), status=400, stop=typed)
    limit = int_arg("limit", STOP_SIZES[0], allowed=STOP_SIZES)
    offset = int_arg("offset", 0)
    lessons = group_lessons(group)
    listing = preview(
        person_client(),
        members,
        group=group,
        which=which,
        server=server,
        usual=server or usual_name(lessons["rows"], job_store().recent(group, ("start",)), []),
        offset=offset,
        limit=limit,
        profiles=catalogue(),
        lessons_of=lambda groups: lesson_store().upcoming(groups, limit=200)[0],
    )
    return render_template(
        "roster/stop_confirm.html",
        group=group,
        listing=listing,
        page=window(offset, limit, listing.total),
        page_sizes=STOP_SIZES,
        listed_at=f"{time.time():.3f}",
        form=ActionForm(),
    )


def _listed_at() -> float | None:
    """When the confirmation page of a group stop was shown (its servers were listed)."""
    try:
        value = float(request.form.get("listed_at") or "")
    except ValueError:
        return None
    return value if math.isfinite(value) and 0 < value <= time.time() + 60 else None


def _group_job(group: str, job: str):
    record = job_store().get(job)
    if record is None or record.group != group or record.kind not in ("start", "stop"):
        abort(404, description="There is no such group action (it may have been cleaned up).")
    return record


def _may_steer(record) -> bool:
    """Cancel or resume a group action (and see those buttons): what running it needs for
    *this* group (a ``!group=`` or unfiltered scope), or having started it.

    Without the group, ``can("start_server")`` holds for everyone (each person may start
    their own servers), so anyone who could read the group could cancel someone's action.
    """
    action = "start_server" if record.kind == "start" else "stop_server"
    return can(action, group=record.group) or record.by == g.person.name


def _require_steer(record) -> None:
    if not _may_steer(record):
        abort(
            403,
            description=(
                f"Only someone who may {record.kind} servers for “{record.group}”, "
                "or who started this action, may cancel or resume it."
            ),
        )


@bp.route("/<group>/servers/jobs/<job>")
def group_job(group, job):
    require("read_group", group=group)
    record = _group_job(group, job)
    may_steer = _may_steer(record)
    return render_template(
        "roster/group_job.html",
        job=record,
        counts=record.counts(),
        outcomes=OUTCOMES,
        may_cancel=not record.done and record.cancel_by is None and may_steer,
        may_resume=record.paused and may_steer,
        form=ActionForm(),
    )


@bp.route("/<group>/servers/jobs/<job>/cancel", methods=["GET", "POST"])
def cancel_group_job(group, job):
    """Whoever may run a group action may cancel it: items not sent yet are "cancelled".
    GET asks (a confirmation page), POST cancels."""
    require("read_group", group=group)
    record = _group_job(group, job)
    _require_steer(record)
    if request.method == "GET":
        page = url_for(".group_job", group=group, job=job)
        return ask_to_cancel(
            record,
            "Cancel this group action?",
            "Members not asked for yet will not be; those under way finish.",
            [(group, url_for(".group_servers", group=group)), ("Group action", page)],
        )
    require_form(ActionForm())
    done = job_store().cancel(job, g.person.name)
    if done == "cancelled":  # it was paused: done now
        audit_trail().record(
            f"group.{record.kind}.cancel", job_target(record), outcome="cancelled while paused"
        )
        flash("Cancelled: the members not started while it was paused will not be.", "info")
    elif done:
        flash("Cancelled: members not asked for yet will not be; those under way finish.", "info")
    else:
        flash("This group action had already finished; nothing was cancelled.", "info")
    return redirect(url_for(".group_job", group=group, job=job))


@bp.route("/<group>/servers/jobs/<job>/resume", methods=["POST"])
def resume_group_job(group, job):
    """Whoever may run a paused group start may resume it: carefully, one start first.

    From then on it acts with the scopes of the person who resumed it, as they are now.
    """
    require("read_group", group=group)
    record = _group_job(group, job)
    _require_steer(record)
    require_form(ActionForm())
    changes = resume_changes(record.result, jobs().failure_limit)
    if not record.paused or not jobs().resume(
        job, g.person.name, scopes=g.person.scopes, changes=changes
    ):
        flash("This group action is not paused (any more); nothing was changed.", "info")
        return redirect(url_for(".group_job", group=group, job=job))
    audit_trail().record(
        f"group.{record.kind}.resume", job_target(record), outcome="resumed: one start first"
    )
    jobs().run_here(job)  # after its record: the pause it may come to is on record after it
    flash(
        "Resumed: one start goes first. If it fails too, the action pauses again; "
        "while starts succeed, more go at once.",
        "info",
    )
    return redirect(url_for(".group_job", group=group, job=job))
