"""A group's usage (``/usage/groups/<group>``): per member, and per day, with its CSV.

Each route first asks ``group_usage`` for the group (``read:users`` for it: a teacher's
``read:users!group=class-a``): a refusal is a 403 in words before any read of the record
and before any hub call. Then the group's members from the hub (none: 404), the range (a
bad one: the page again with the reason, 400), and the reading (``hubdesk.usage.group``).
"""

from __future__ import annotations

import time
from zoneinfo import ZoneInfo

from flask import abort, render_template, request

from .. import downloads as export
from ..access import require
from ..extensions import database, service_client, settings
from ..paging import int_arg, window
from . import charts
from . import group as reading
from .coverage import recording_since
from .days import CHOICES, Range, RangeError, parse_range, week_ranges
from .views import bp


@bp.route("/groups/<group>")
def group(group):
    """Who in the group used the hub over a range, for how long; the group's days as charts."""
    require("group_usage", group=group)
    zone = usage_zone()
    rng, error = chosen_range(zone)
    if error:
        return render_template(
            "usage/group.html", **page_basics(group, None, zone), range_error=error
        ), 400
    usage = read_usage(group, rng, zone)
    q = reading.question(
        request.args,
        offset=int_arg("offset", 0),
        limit=int_arg("limit", 50, allowed=reading.PAGE_SIZES),
    )
    rows, found = reading.table(database(), group, rng, usage, week_ranges(zone), q)
    never = [m.name for m in reading.arranged(usage.members, reading.Question(who="never"))]
    return render_template(
        "usage/group.html",
        **page_basics(group, rng, zone),
        q=q,
        rows=rows,
        page=window(q.offset, q.limit, found),
        member_count=len(usage.members),
        never=never,
        days=usage.days,
        **drawn(group, rng, usage),
        active_rows=[(d.date, shown(d.active_members, d), recorded_words(d)) for d in usage.days],
        server_rows=[
            (d.date, shown(reading.hours(d.server_seconds), d), recorded_words(d))
            for d in usage.days
        ],
    )


@bp.route("/groups/<group>/members.csv")
def group_members_csv(group):
    """Every member's row, in the page's range and sort (and filter)."""
    zone, rng, usage = download_reading(group)
    weeks = week_ranges(zone)
    q = reading.question(request.args, offset=0, limit=0)
    header = [
        "member",
        "days active",
        "server hours",
        "active hours",
        f"last seen ({export.zone_name()})",
        "active hours this week",
        "active hours the previous week",
        "servers running now",
    ]
    rows = (
        [
            m.name,
            m.days_active,
            round(m.server_seconds / 3600, 2),
            round(m.active_seconds / 3600, 2),
            export.iso(m.last_seen),
            round(m.this_week / 3600, 2),
            round(m.previous_week / 3600, 2),
            m.running,
        ]
        for m in reading.arranged(reading.weekly(database(), group, rng, usage, weeks), q)
    )
    name = export.filename("usage", group, "members", *range_words(rng))
    return export.csv_response(name, header, rows)


@bp.route("/groups/<group>/days.csv")
def group_days_csv(group):
    """The group's days: active members and server hours ("unknown" outside the record)."""
    zone, rng, usage = download_reading(group)
    header = [f"day ({zone.key})", "active members", "server hours", "recorded"]
    rows = (
        [
            d.date,
            "unknown" if d.active_members is None else d.active_members,
            "unknown" if d.server_seconds is None else round(d.server_seconds / 3600, 2),
            d.recorded,
        ]
        for d in usage.days
    )
    name = export.filename("usage", group, "days", *range_words(rng))
    return export.csv_response(name, header, rows)


# -- the steps ---------------------------------------------------------------------------------


def download_reading(group: str) -> tuple[ZoneInfo, Range, reading.GroupUsage]:
    """A CSV's first steps: who may (403), the range (400 in words), the reading (404)."""
    require("group_usage", group=group)
    zone = usage_zone()
    rng, error = chosen_range(zone)
    if error:
        abort(400, description=error)
    return zone, rng, read_usage(group, rng, zone)


def usage_zone() -> ZoneInfo:
    return ZoneInfo(settings().usage_timezone)


def chosen_range(zone: ZoneInfo) -> tuple[Range | None, str]:
    """The range in the URL, or the reason it cannot be shown."""
    try:
        return parse_range(request.args, zone, keep_days=settings().usage_keep_days), ""
    except RangeError as e:
        return None, str(e)


def read_usage(group: str, rng: Range, zone: ZoneInfo) -> reading.GroupUsage:
    """The group's usage over ``rng`` (the members from the hub: 404 if there is no group)."""
    try:
        return reading.read(
            database(),
            service_client(),
            group,
            rng,
            zone,
            now=time.time(),
            sample_seconds=settings().usage_sample_seconds,
        )
    except reading.NoSuchGroup:
        abort(404, description=f"There is no group called “{group}”.")


def range_words(rng: Range) -> list[str]:
    return [f"{k}-{v}" for k, v in rng.query().items()]


def page_basics(group: str, rng: Range | None, zone: ZoneInfo) -> dict:
    """What the page shows with or without a reading: the record's note, the range's choice."""
    return {
        "group": group,
        "rng": rng,
        "choices": CHOICES,
        "since": recording_since(database()),
        "sample_seconds": settings().usage_sample_seconds,
        "zone_name": zone.key,
        "sorts": reading.SORTS,
        "who_words": reading.WHO,
        "hours": reading.hours,
        "signed_hours": reading.signed_hours,
        "page_sizes": reading.PAGE_SIZES,
    }


def shown(value, day: reading.DayUsage):
    """A day's number as its table shows it ("unknown" outside the record)."""
    return "unknown" if day.active_members is None else value


def recorded_words(day: reading.DayUsage) -> str:
    return {"yes": "yes", "partly": "partly", "no": "no (unknown)"}[day.recorded]


def drawn(group: str, rng: Range, usage: reading.GroupUsage) -> dict:
    """The two charts (pygal: ~20 ms each for 90 days), kept as long as the table is."""
    key = (group, rng.first, rng.last, "charts")
    hit = reading.tables.get(key)
    if hit is None:
        hit = {"active_chart": active_chart(usage.days), "server_chart": server_chart(usage.days)}
        reading.tables.set(key, hit)
    return hit


def active_chart(days):
    return charts.bars(
        "Active members per day",
        [d.date[5:] for d in days],
        [("Active members", [d.active_members for d in days])],
        y_title="members",
    )


def server_chart(days):
    return charts.bars(
        "Server hours per day",
        [d.date[5:] for d in days],
        [
            (
                "Server hours",
                [
                    None if d.server_seconds is None else round(d.server_seconds / 3600, 1)
                    for d in days
                ],
            )
        ],
        y_title="hours",
    )
