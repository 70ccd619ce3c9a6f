"""The whole hub's usage (``/usage/``), for whoever may list every user (``hub_usage``:
unfiltered ``list:users``; a teacher's or a help desk's filtered scope is refused, in words,
before any of the record is read). The reads are :mod:`.hubwide`'s."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import abort, render_template, request

from ..access import require
from ..downloads import csv_response, filename
from ..extensions import database, settings
from ..words import person_zone
from . import charts, coverage, hubwide
from .days import RangeError, parse_range
from .views import bp

DOTS_UP_TO = 31  # days: past a month, dots cost more to draw (pygal: ~0.4 ms each) than they say
PROFILES_DRAWN = 6  # lines on the peaks chart: every profile's and the 5 busiest (the table: all)
TABLES = {  # the downloads: ?table= -> its rows (the page's tables, the same rows)
    "peaks": hubwide.peaks_table,
    "hours": hubwide.week_table,
    "starts": hubwide.starts_table,
}


@bp.route("/")
def hub():
    """Running servers at each day's peak, the busiest hours of the week, starts and failures."""
    require("hub_usage")
    zone = ZoneInfo(settings().usage_timezone)
    try:
        chosen = parse_range(request.args, zone, keep_days=settings().usage_keep_days)
    except RangeError as e:
        return _page(problem=str(e)), 400
    usage = hubwide.read(database(), chosen, zone, person_zone().info)
    return _page(chosen=chosen, usage=usage, drawn=drawn(usage))


@bp.route("/hub.csv")
def hub_csv():
    """One of the page's tables as CSV (``?table=peaks|hours|starts``), for the same range."""
    require("hub_usage")
    table = request.args.get("table", "")
    if table not in TABLES:
        abort(400, description="Choose a table to download: peaks, hours or starts.")
    zone = ZoneInfo(settings().usage_timezone)
    try:
        chosen = parse_range(request.args, zone, keep_days=settings().usage_keep_days)
    except RangeError as e:
        abort(400, description=str(e))
    usage = hubwide.read(database(), chosen, zone, person_zone().info)
    header, rows = TABLES[table](usage)
    if table == "hours":  # the person's zone's hours
        header = [f"hour ({hubwide_zone()})", *header[1:]]
    name = filename("usage", "hub", table, *map(str, chosen.query().values()))
    return csv_response(name, header, rows)


# -- the page's parts ---------------------------------------------------------------------


def hubwide_zone() -> str:
    return person_zone().name


def _page(**shown):
    return render_template(
        "usage/hub.html",
        since=coverage.recording_since(database()),
        sample_seconds=settings().usage_sample_seconds,
        usage_zone=settings().usage_timezone,
        week_zone=hubwide_zone(),
        tables={name: make(shown["usage"]) for name, make in TABLES.items()}
        if "usage" in shown
        else {},
        heat_level=hubwide.heat_level,
        **shown,
    )


def drawn(usage: hubwide.HubUsage) -> dict:
    """The two charts' SVG (the week is its own table)."""
    labels = [hubwide.short_day(d.day) for d in usage.days]
    unknown = [not d.known for d in usage.days]
    return {
        "peaks": charts.lines(
            "Running servers at each day's peak",
            labels,
            hubwide.chart_series(usage, PROFILES_DRAWN),
            unknown=unknown,
            whole=True,
            dots=len(labels) <= DOTS_UP_TO,  # a day between two unknown ones: a dot
        ),
        "starts": charts.bars(
            "Servers started and failed per day",
            labels,
            [
                ("started", [d.started if d.known else None for d in usage.days]),
                ("failed", [d.failed if d.known else None for d in usage.days]),
            ],
            unknown=unknown,
            whole=True,
        ),
    }
