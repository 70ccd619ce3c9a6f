"""A person's usage (``/usage/users/<user>``): their sessions on a timeline, with its CSV.

Who may see it: whoever may read that user (``read_user``, with the user's groups, as the
hub answers the person), checked before any of the record is read. The user is asked of the
hub with the person's own token: the hub shows them only the users their scopes reach. A
user the hub does not show them is refused alike whether or not it exists (403), so that the
page tells nobody who exists. Someone who may read that user by name or every user (no group
filter to resolve) may also see the record of a user deleted since: hubdesk's record outlives
the account until its retention (``HUBDESK_USAGE_KEEP_DAYS``); a name with neither an account
nor a record is a 404.
"""

from __future__ import annotations

import json
import time

from flask import abort, render_template, request

from ..access import can, person_client, require
from ..downloads import csv_response, filename, iso, zone_name
from ..extensions import database, settings, shared
from ..hub import HubAPIError
from ..paging import int_arg
from ..words import duration_words, local_text
from . import coverage
from . import person as usage
from .charts import timeline as timeline_chart
from .days import CHOICES, RangeError, parse_range
from .views import bp


@bp.route("/users/<user>")
def person(user):
    """A person's usage over a range: their numbers, a timeline, their sessions (a page)."""
    model = may_read(user)
    rng = chosen_range()
    zone = shared().usage.zone
    profiles = settings().profiles
    now = time.time()
    page, older = usage.sessions_page(
        database(), user, rng, zone, before=int_arg("before", 0) or None
    )
    line = usage.timeline(database(), user, rng, zone, profiles, now=now)
    return render_template(
        "usage/person.html",
        user=user,
        gone=model is None,
        rng=rng,
        choices=CHOICES,
        numbers=usage.numbers(database(), user, rng, zone),
        sessions=page,
        older=older,
        first_page=request.args.get("before") is None,
        latest=coverage.latest_sweep(database()),
        profiles=profiles,
        profile_words=usage.profile_words,
        timeline=line,
        unknown_row=usage.UNKNOWN_ROW,
        timeline_svg=timeline_svg(user, line) if line.rows else None,
        spans=spans_table(line),
        since=coverage.recording_since(database()),
        sample_seconds=settings().usage_sample_seconds,
        usage_zone=settings().usage_timezone,
    )


@bp.route("/users/<user>/sessions.csv")
def person_csv(user):
    """Every session of the person in the range, newest first, as the table lists them."""
    may_read(user)
    rng = chosen_range()
    zone = shared().usage.zone
    profiles = settings().profiles
    latest = coverage.latest_sweep(database())
    where = zone_name()
    header = [
        "server",
        "profile",
        f"started ({where})",
        f"ended ({where})",
        "state",
        "seconds",
        "active seconds",
        "ended while hubdesk was not recording",
        "options",
    ]
    rows = (
        [
            s.server,
            usage.profile_words(s, profiles),
            iso(s.started),
            iso(s.ended),
            s.state,
            round(s.seconds(latest)),
            round(s.active_seconds),
            s.ended_in_gap,
            json.dumps(s.options, ensure_ascii=False, sort_keys=True),
        ]
        for s in usage.every_session(database(), user, rng, zone)
    )
    name = filename("usage", user, "sessions", *map(str, rng.query().values()))
    return csv_response(name, header, rows)


# -- its steps -----------------------------------------------------------------------------


def may_read(user: str) -> dict | None:
    """The user as the hub shows them to the person, once the person may read them (403 or
    404 before any of the record is read); None for an account gone from the hub whose record
    the person may see by name (see the module's docstring)."""
    require("read_user")  # to anyone at all: else nothing is asked of the hub
    try:
        model = person_client().get_user(user)
    except HubAPIError as e:
        if e.status not in (403, 404):
            raise
        if not can("read_user", user=user):
            abort(
                403,
                description=f"Your hub scopes do not let you see the usage of “{user}” "
                "(or there is no such user).",
            )
        if not usage.has_record(database(), user):
            abort(404, description=f"There is no user called “{user}”, and no usage of theirs.")
        return None
    require("read_user", user=user, user_groups=model.get("groups") or ())
    return model


def chosen_range():
    """The range in the page's address; 400 in words for one that cannot be shown."""
    try:
        return parse_range(request.args, shared().usage.zone, keep_days=settings().usage_keep_days)
    except RangeError as e:
        abort(400, description=str(e))


def timeline_svg(user: str, line: usage.Timeline):
    """The timeline drawn: hours from the range's start on the x axis, days named."""
    rows = [(label, usage.in_hours(spans, line.start)) for label, spans in line.rows]
    return timeline_chart(f"Servers of {user}", rows, x_labels=line.ticks)


def spans_table(line: usage.Timeline) -> list[tuple[str, str, str, str]]:
    """The timeline's numbers: each span's row, from, to (the person's zone) and length."""
    return [
        (label, local_text(a), local_text(b), duration_words(b - a))
        for label, spans in line.rows
        for a, b in spans
    ]
