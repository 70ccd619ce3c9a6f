"""Pages for lessons: schedule, change and cancel a group's lessons; every upcoming one.

Whoever may start and stop servers for a group may schedule its lessons; a lesson starts
with the permissions of the person who last saved it, asked of the hub again at each start
(``runs.current_scopes``, on their lesson token: ``tokens``), and stops what it started with
hubdesk's own authority (``runs.make_stop``). The runs themselves are made by the job runner.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, StringField, widgets

from ..access import can, reachable_groups, require
from ..errors import require_form
from ..extensions import audit_trail, lesson_store, service_client
from ..names import SERVER_NAME_RULES, NamesError, check_server_name
from ..profiles import default_profile
from ..servers.views import (
    GroupServersForm,
    _chosen_options,
    _display_name,
    _group_members,
    hub_major,
    offered_profiles,
    profile_choices,
)
from ..words import server_words
from . import schedule, tokens
from .schedule import WEEKDAYS, ScheduleError

bp = Blueprint("lessons", __name__)
PAST_SHOWN = 5  # lessons held and over, on their group's page


class LessonForm(FlaskForm):
    server = StringField(
        "Server name", description=f"Empty for the default server; else {SERVER_NAME_RULES}."
    )
    profile = GroupServersForm.profile
    options = GroupServersForm.options
    display_name = GroupServersForm.display_name
    tz = StringField(
        "Time zone", description="As the hub's users know it, e.g. Europe/Rome or UTC."
    )
    day = StringField("Once, on", description="A date: the lesson is held that day only.")
    weekdays = SelectMultipleField(
        "Or every week, on",
        option_widget=widgets.CheckboxInput(),
        widget=widgets.ListWidget(prefix_label=False),
        validate_choice=False,
    )
    starts = StringField("Starts at")
    ends = StringField("Ends at")
    lead = StringField("Start the servers this many minutes before", default="5")


def _new_form(offered) -> LessonForm:
    form = LessonForm()
    form.profile.choices = profile_choices(offered)
    form.weekdays.choices = [(str(n), name) for n, name in enumerate(WEEKDAYS)]
    return form


def _may_schedule(group: str) -> bool:
    return can("start_server", group=group) and can("stop_server", group=group)


def _require_schedule(group: str) -> None:
    if not _may_schedule(group):
        require("start_server", group=group)
        require("stop_server", group=group)


def _lesson_of(group: str, lesson_id: str):
    lesson = lesson_store().get(lesson_id)
    if lesson is None or lesson.group != group:
        abort(404, description="There is no such lesson (it may have been cancelled long ago).")
    return lesson


def _fill(form: LessonForm, lesson) -> None:
    """A lesson's saved values into its form (for changing it)."""
    w = lesson.when
    row = schedule.as_row(w)
    form.server.data = lesson.server
    form.tz.data = w.tz
    form.day.data = row["day"] or ""
    form.weekdays.data = [str(d) for d in w.weekdays]
    form.starts.data, form.ends.data = row["starts"], row["ends"]
    form.lead.data = f"{w.lead / 60:g}"
    form.profile.data = lesson.spec.get("profile_slug") or ""
    form.display_name.data = lesson.spec.get("display_name") or ""


def _read(form: LessonForm, offered) -> tuple[str, dict, schedule.When]:
    """The lesson the form describes; NamesError or ScheduleError say what is wrong."""
    server = (form.server.data or "").strip()
    server = check_server_name(server, hub_major=hub_major()) if server else ""
    when = schedule.parse_when(
        tz=form.tz.data or "",
        starts=form.starts.data or "",
        ends=form.ends.data or "",
        day=form.day.data or "",
        weekdays=form.weekdays.data or (),
        lead_minutes=form.lead.data or "0",
    )
    options = _chosen_options(form, None, offered)
    profile = next((p for p in offered if p.slug == form.profile.data), None)
    choices = profile.chosen_labels(options or {}) if profile else []
    spec = {
        "user_options": options,
        "display_name": _display_name(form) if server else "",
        "hub_major": hub_major(),
        "profile_slug": profile.slug if profile else "",
        "profile": (
            profile.display_name + "".join(f", {o}: {c}" for o, c in choices) if profile else None
        ),
    }
    return server, spec, when


def _form_page(group, form, offered, *, lesson=None, error="", status=200):
    return (
        render_template(
            "lessons/form.html",
            group=group,
            form=form,
            offered=offered,
            lesson=lesson,
            error=error,
            zones=schedule.zones(),
            display_names=hub_major() >= 6,
        ),
        status,
    )


def _target(lesson_id: str, group: str, server: str, when: schedule.When) -> dict:
    return {"group": group, "lesson": lesson_id, "server": server, "when": when.words()}


@bp.route("/groups/<group>/lessons/new", methods=["GET", "POST"])
def schedule_lesson(group):
    _group_members(group)  # 404 for a group that is not there (or not visible)
    _require_schedule(group)
    offered = offered_profiles([group])
    form = _new_form(offered)
    if request.method == "GET":
        default = default_profile(offered)
        form.profile.data = default.slug if default else ""
        form.tz.data = request.args.get("tz", "")[:64]
        return _form_page(group, form, offered)
    require_form(form)
    try:
        server, spec, when = _read(form, offered)
    except (NamesError, ScheduleError) as e:
        return _form_page(group, form, offered, error=str(e), status=400)
    lesson_id = lesson_store().create(
        group, server=server, spec=spec, when=when, by=g.person.name, token=g.person.token
    )
    audit_trail().note("lesson.schedule", _target(lesson_id, group, server, when), outcome="saved")
    _renew_token()
    flash(
        f"Scheduled: {server_words(server, start=True)} for “{group}”, {when.words()}.", "success"
    )
    return redirect(url_for("servers.group_servers", group=group))


@bp.route("/groups/<group>/lessons/<lesson>", methods=["GET", "POST"])
def change_lesson(group, lesson):
    _require_schedule(group)
    lesson = _lesson_of(group, lesson)
    if lesson.cancelled:
        abort(404, description="This lesson was cancelled.")
    offered = offered_profiles([group])
    form = _new_form(offered)
    if request.method == "GET":
        _fill(form, lesson)
        return _form_page(group, form, offered, lesson=lesson)
    require_form(form)
    try:
        server, spec, when = _read(form, offered)
    except (NamesError, ScheduleError) as e:
        return _form_page(group, form, offered, lesson=lesson, error=str(e), status=400)
    lesson_store().change(
        lesson.id, server=server, spec=spec, when=when, by=g.person.name, token=g.person.token
    )
    audit_trail().note("lesson.change", _target(lesson.id, group, server, when), outcome="saved")
    _renew_token()
    flash(f"Changed: {server_words(server, start=True)} for “{group}”, {when.words()}.", "success")
    return redirect(url_for("servers.group_servers", group=group))


@bp.route("/groups/<group>/lessons/<lesson>/cancel", methods=["POST"])
def cancel_lesson(group, lesson):
    _require_schedule(group)
    lesson = _lesson_of(group, lesson)
    require_form(FlaskForm())
    if lesson.cancelled:
        flash("This lesson was cancelled already.", "info")
    else:
        lesson_store().cancel(lesson.id, g.person.name)
        target = _target(lesson.id, group, lesson.server, lesson.when)
        audit_trail().note("lesson.cancel", target, outcome="cancelled")
        flash(
            f"Cancelled the lesson {lesson.when.words()}: nothing more starts for it. "
            "Servers it started are left as they are.",
            "info",
        )
    return redirect(url_for("servers.group_servers", group=group))


def _renew_token() -> None:
    """Saving a lesson: the saver's lesson token, made (or renewed) now (``tokens``).

    When the hub refuses, the lesson runs on their sign-in, and the page says until when."""
    made, why = tokens.renew(
        service_client(), lesson_store(), g.person.name, g.person.token, g.person.scopes
    )
    if not made:
        flash(
            f"Your lessons run on your sign-in to hubdesk ({why}): sign in again at least "
            "every week, and their servers keep starting.",
            "warning",
        )


def upcoming(lessons, now: datetime | None = None):
    """(lesson, next start, next end) for each lesson still to come or under way, soonest first."""
    now = now or datetime.now(UTC)
    found = []
    for lesson in lessons:
        nxt = lesson.when.next_after(now)
        if nxt:
            found.append((lesson, *nxt))
    return sorted(found, key=lambda x: x[1])


@bp.route("/lessons/")
def index():
    require("read_group")
    groups = reachable_groups("read_group")
    store = lesson_store()
    active = store.active(groups)
    rows = upcoming(active)
    return render_template(
        "lessons/index.html",
        rows=rows,
        now=datetime.now(UTC),
        token_warnings=token_warnings(store, [lesson for lesson, _, _ in rows]),
    )


WARN_BEFORE = timedelta(days=7)  # a lesson's owner is warned this long before its token ends


def token_warnings(store, lessons, now: datetime | None = None) -> list[dict]:
    """For each owner of these lessons whose starts would soon stop working: whose, when, and
    what to do, in words (``{"person", "words"}``). Stops need no token: only starts."""
    now = now or datetime.now(UTC)
    found = []
    for person, health in sorted(store.token_health(lessons).items()):
        on = "their lesson token" if health.kind == "lesson" else "their sign-in to hubdesk"
        if not health.readable:
            words = (
                f"{person}'s lessons cannot start their servers: {on} cannot be read any more "
                f"(hubdesk's secret key was changed). {person} must sign in to hubdesk again."
            )
        elif health.expires is None:
            continue
        else:
            ends = datetime.fromtimestamp(health.expires, UTC)
            if ends - now > WARN_BEFORE:
                continue
            day = ends.strftime("%Y-%m-%d %H:%M UTC")
            about = "" if health.kind == "lesson" else " (about: 14 days after they signed in)"
            if ends <= now:
                words = (
                    f"{person}'s lessons no longer start their servers: {on} expired on "
                    f"{day}{about}. {person} must sign in to hubdesk again."
                )
            else:
                words = (
                    f"{person}'s lessons run on {on}, which expires on {day}{about}: "
                    f"{person} must sign in to hubdesk before then, or their servers will "
                    "not start."
                )
        found.append({"person": person, "words": words})
    return found


def group_lessons(group: str) -> dict:
    """What a group's servers page shows of its lessons: upcoming ones and their last runs."""
    store = lesson_store()
    active = store.active([group])
    rows = upcoming(active)
    coming = {lesson.id for lesson, _, _ in rows}
    runs = store.runs([lesson.id for lesson in active])
    # held and over (a lesson held once): still shown with its runs, after the upcoming ones
    past = [
        (lesson, None, None) for lesson in active if lesson.id not in coming and runs[lesson.id]
    ]
    past.sort(key=lambda row: -runs[row[0].id][0].ran)
    return {
        "rows": rows + past[:PAST_SHOWN],
        "runs": runs,
        "may": _may_schedule(group),
        "live_until": live_until(rows),
        "token_warnings": token_warnings(store, [lesson for lesson, _, _ in rows]),
    }


LIVE_BEFORE = timedelta(minutes=15)  # a roster follows itself this long before a lesson's run
LIVE_AFTER = timedelta(minutes=5)  # and this long after its start or its end


def live_until(rows, now: datetime | None = None) -> float:
    """Until when (epoch seconds) the roster should follow itself: a run is near or under way."""
    now = now or datetime.now(UTC)
    until = 0.0
    for lesson, start, end in rows:
        begins = start - timedelta(seconds=lesson.when.lead)
        if begins - LIVE_BEFORE <= now <= end + LIVE_AFTER:
            # through the start's run, and again from just before the end's
            last = start + LIVE_AFTER if now < start + LIVE_AFTER else end + LIVE_AFTER
            until = max(until, last.timestamp())
    return until
