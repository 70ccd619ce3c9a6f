"""Pages for lessons: schedule, change and cancel a group's lessons; every upcoming one.

Whoever may read a group and start and stop servers for it may schedule, change and
cancel its lessons (``may_keep_lessons``: one rule for the three and for the roster's
lessons panel). A lesson starts with the permissions of the person who last saved it, asked
of the hub again at each start (``runs.current_scopes``, on their lesson token: ``tokens``),
and stops what it started with hubdesk's own authority (``runs.make_stop``). The runs
themselves are made by the job runner (``runs``). Pages read one page of lessons, never
every lesson of the hub.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectMultipleField, StringField, widgets

from .. import permissions
from ..access import load_group_members, reachable_groups, require
from ..errors import require_form
from ..extensions import audit_trail, hub_major, lesson_store, service_client, settings
from ..forms import ActionForm
from ..names import SERVER_NAME_RULES, NamesError, check_server_name
from ..paging import int_arg, window
from ..profiles import default_profile
from ..start_options import (
    RAW,
    FieldError,
    StartForm,
    chosen_options,
    chosen_profile,
    display_name,
    offered_profiles,
    profile_choices,
    profile_words,
    refusal,
)
from ..words import server_words
from . import schedule, tokens
from .panel import may_keep_lessons, token_warnings, upcoming
from .schedule import WEEKDAYS, ScheduleError
from .store import LessonLimit, Limits

bp = Blueprint("lessons", __name__)
PAGE_SIZES = (50, 100, 200)  # lessons/ a page at a time, the soonest first


class LessonForm(FlaskForm):
    server = StringField(
        "Server name", description=f"Empty for the default server; else {SERVER_NAME_RULES}."
    )
    profile = StartForm.profile
    options = StartForm.options
    display_name = StartForm.display_name
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
    overnight = BooleanField(
        "Ends the next day",
        description="For a lesson past midnight (e.g. 22:00–01:00); else the end must come "
        "after the start.",
    )
    lead = StringField("Start the servers this many minutes before", default="5")
    privileged = StringField(
        "Also for these hub admins or staff members (names)",
        description=(
            "Members who are hub admins or hold a role beyond “user” are left out of the "
            "lesson's start unless named here (commas or spaces between names)."
        ),
    )


def _new_form(offered) -> LessonForm:
    form = LessonForm()
    form.profile.choices = profile_choices(offered)
    form.weekdays.choices = [(str(n), name) for n, name in enumerate(WEEKDAYS)]
    return form


def _require_keep_lessons(group: str) -> None:
    """403 in words (and no hub call) unless ``may_keep_lessons(group)``."""
    if not may_keep_lessons(group):
        for action in permissions.LESSON_ACTIONS:
            require(action, group=group)  # names the first one missing
        abort(403)


def _limits() -> Limits:
    s = settings()
    return Limits(per_group=s.lessons_per_group, per_person=s.lessons_per_person)


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
    form.overnight.data = w.ends < w.starts
    form.lead.data = f"{w.lead / 60:g}"
    form.profile.data = lesson.spec.get("profile_slug") or ""
    form.display_name.data = lesson.spec.get("display_name") or ""
    form.privileged.data = ", ".join(lesson.spec.get("privileged_names") or ())


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
        overnight=bool(form.overnight.data),
    )
    named = sorted(
        {n for n in (form.privileged.data or "").replace(",", " ").split() if n},
        key=str.casefold,
    )
    if len(named) > 200 or any(len(n) > 255 for n in named):
        raise NamesError("Name at most 200 privileged members, each as the hub spells them.")
    options = chosen_options(form, None, offered)
    profile = chosen_profile(form, offered)
    choices = profile.chosen_labels(options or {}) if profile else []
    spec = {
        "user_options": options,
        # raw JSON needs its owner's raw_user_options again at each start (runs.start_check)
        "raw_user_options": form.profile.data == RAW,
        "privileged_names": named,
        "display_name": display_name(form) if server else "",
        "hub_major": hub_major(),
        "profile_slug": profile.slug if profile else "",
        "profile": profile_words(profile, choices),
    }
    return server, spec, when


def _form_page(group, form, offered, *, lesson=None, error="", status=200, field=""):
    """The lesson's form (again, after a refusal: ``field`` is the one marked with it)."""
    return (
        render_template(
            "lessons/form.html",
            group=group,
            form=form,
            offered=offered,
            lesson=lesson,
            error=error,
            field_errors={field: error} if field else {},
            zones=schedule.zones(),
            display_names=hub_major() >= 6,
        ),
        status,
    )


def _target(lesson_id: str, group: str, server: str, when: schedule.When) -> dict:
    return {"group": group, "lesson": lesson_id, "server": server, "when": when.words()}


@bp.route("/groups/<group>/lessons/new", methods=["GET", "POST"])
def schedule_lesson(group):
    _require_keep_lessons(group)
    load_group_members(group)  # 404 for a group that is not there
    offered = offered_profiles([group])
    form = _new_form(offered)
    if request.method == "GET":
        default = default_profile(offered)
        form.profile.data = default.slug if default else ""
        form.tz.data = request.args.get("tz", "")[:64]
        return _form_page(group, form, offered)
    require_form(form)
    return save_lesson(group, form, offered)


@bp.route("/groups/<group>/lessons/<lesson>", methods=["GET", "POST"])
def change_lesson(group, lesson):
    _require_keep_lessons(group)
    lesson = _lesson_of(group, lesson)
    if lesson.cancelled:
        abort(404, description="This lesson was cancelled.")
    offered = offered_profiles([group])
    form = _new_form(offered)
    if request.method == "GET":
        _fill(form, lesson)
        return _form_page(group, form, offered, lesson=lesson)
    require_form(form)
    return save_lesson(group, form, offered, lesson=lesson)


def save_lesson(group: str, form: LessonForm, offered, *, lesson=None):
    """Step: the lesson the form describes, created (or ``lesson`` changed) within the limits,
    on record, the person's lesson token renewed; the roster, or the form again saying why."""
    store, person = lesson_store(), g.person
    try:
        server, spec, when = _read(form, offered)
        fields = dict(server=server, spec=spec, when=when, by=person.name, token=person.token)
        if lesson is None:
            lesson_id = store.create(group, **fields, limits=_limits())
        else:
            lesson_id = lesson.id
            store.change(lesson_id, **fields, limits=_limits())
    except FieldError as e:  # a start field's value (server name, profile, options): marked on it
        return _form_page(group, form, offered, lesson=lesson, error=refusal(form, e), status=400)
    except (NamesError, ScheduleError, LessonLimit) as e:
        field = getattr(e, "field", "")
        return _form_page(
            group, form, offered, lesson=lesson, error=str(e), status=400, field=field
        )
    new = lesson is None
    action, done = ("lesson.schedule", "Scheduled") if new else ("lesson.change", "Changed")
    audit_trail().record(action, _target(lesson_id, group, server, when), outcome="saved")
    _renew_token()
    flash(f"{done}: {server_words(server, start=True)} for “{group}”, {when.words()}.", "success")
    return redirect(url_for("roster.group_servers", group=group))


@bp.route("/groups/<group>/lessons/<lesson>/cancel", methods=["GET", "POST"])
def cancel_lesson(group, lesson):
    """GET asks (a confirmation page, no JavaScript needed); POST cancels, then the roster."""
    _require_keep_lessons(group)
    lesson = _lesson_of(group, lesson)
    form = ActionForm()
    if request.method == "GET":
        return render_template("lessons/cancel.html", group=group, lesson=lesson, form=form)
    require_form(form)
    if lesson.cancelled:
        flash("This lesson was cancelled already.", "info")
    else:
        lesson_store().cancel(lesson.id, g.person.name)
        target = _target(lesson.id, group, lesson.server, lesson.when)
        audit_trail().record("lesson.cancel", target, outcome="cancelled")
        flash(
            f"Cancelled the lesson {lesson.when.words()}: nothing more starts for it. "
            "Servers it started are left as they are.",
            "info",
        )
    return redirect(url_for("roster.group_servers", group=group))


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


@bp.route("/lessons/")
def index():
    require("read_group")
    offset = int_arg("offset", 0)
    limit = int_arg("limit", PAGE_SIZES[0], allowed=PAGE_SIZES)
    shown, total = lesson_store().upcoming(
        reachable_groups("read_group"), offset=offset, limit=limit
    )
    rows = upcoming(shown)
    return render_template(
        "lessons/index.html",
        rows=rows,
        runs=lesson_store().runs([lesson.id for lesson, _, _ in rows], per_lesson=2),
        now=datetime.now(UTC),
        page=window(offset, limit, total),
        page_sizes=PAGE_SIZES,
        token_warnings=token_warnings(lesson_store(), [lesson for lesson, _, _ in rows]),
    )
