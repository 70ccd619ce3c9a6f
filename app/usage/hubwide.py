"""The whole hub's usage, read: running servers at each day's peak (per profile), the busiest
hours of the week, servers started and failed per day.

Everything comes from ``usage_hours`` (per UTC hour and profile, ``"*"``: all of them) and the
sampler's spans (``usage_coverage``): a range of days costs one read of its hours' rows
(O(days x 24 x profiles)) and one of its spans, never a read of sessions. An hour no sweep
covered is *unknown*: its day, or its cell of the week, says so rather than 0. A day with some
hours covered shows what they saw, with how many hours that was.

Days are the usage zone's (``HUBDESK_USAGE_TIMEZONE``: an hour counts on the day it starts
in); the week's hours are the person's own zone (where they plan their lessons).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, case, func, literal, select

from ..db import Database
from . import coverage
from . import tables as db
from .days import Range, date_of, day_of, day_start

ALL = "*"  # usage_hours' row for every profile
HEAT_LEVELS = 5  # heat-1 … heat-5 for some servers running; heat-0 for none
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass
class Day:
    """One day of the range, from its hours."""

    day: int
    hours_known: int = 0  # hours of the day some sweep covered
    peak: int = 0  # every profile at once
    profiles: dict[str, int] = field(default_factory=dict)  # profile -> its own peak
    started: int = 0
    failed: int = 0

    @property
    def known(self) -> bool:
        return self.hours_known > 0


@dataclass
class HubUsage:
    """What the hub-wide page shows for a range."""

    days: list[Day]
    profiles: list[str]  # those with servers in the range, busiest first
    week: list[list[float | None]]  # [weekday][hour]: average running servers (None: unknown)

    @property
    def week_top(self) -> float:
        return max((v for row in self.week for v in row if v is not None), default=0.0)


def covered_hours(database: Database, first: int, last: int) -> set[int]:
    """The UTC hours first..last (both included) that a sweep span overlaps."""
    found: set[int] = set()
    for a, b in coverage.spans(database, first * 3600, (last + 1) * 3600):
        found.update(range(int(a // 3600), min(last, int(b // 3600)) + 1))
    return found


def all_rows(database: Database, first: int, last: int) -> list:
    """The "*" (every profile) rows of the hours first..last: one per hour."""
    c = db.usage_hours.c
    query = select(c.hour, c.peak, c.running_sum, c.samples, c.started, c.failed)
    with database.read() as conn:
        return conn.execute(query.where(c.hour >= first, c.hour <= last, c.profile == ALL)).all()


def profile_peaks(database: Database, first: int, last: int, zone: ZoneInfo) -> list:
    """(profile, day, peak) over the hours first..last, each profile's peak per day of
    ``zone`` computed by the database: O(days x profiles) rows back, not O(hours x profiles).
    An hour's day is the one its start falls in: hour x 60 + the zone's offset in minutes,
    over 1440 (integer division), with the offset taken piecewise between its changes."""
    c = db.usage_hours.c
    pieces: list[tuple[int, int]] = []  # (from hour, offset in minutes) where it changes
    for hour in range(first, last + 1):
        offset = datetime.fromtimestamp(hour * 3600, zone).utcoffset()
        minutes = int(offset.total_seconds() // 60) if offset else 0
        if not pieces or pieces[-1][1] != minutes:
            pieces.append((hour, minutes))
    days = [(c.hour * 60 + literal(m, Integer)).self_group().op("/")(1440) for _, m in pieces]
    bucket = (
        days[0]
        if len(days) == 1
        else case(
            *[(c.hour < pieces[i + 1][0], days[i]) for i in range(len(days) - 1)], else_=days[-1]
        )
    )
    day = bucket.label("day")
    query = (
        select(c.profile, day, func.max(c.peak))
        .where(c.hour >= first, c.hour <= last, c.profile != ALL)
        .group_by(c.profile, day)
    )
    with database.read() as conn:
        return conn.execute(query).all()


def read(database: Database, chosen: Range, zone: ZoneInfo, person: tzinfo) -> HubUsage:
    """The hub's usage over the days ``chosen`` (in ``zone``), its week in ``person``'s zone."""
    first = int(day_start(chosen.first, zone) // 3600)
    last = math.ceil(day_start(chosen.last + 1, zone) / 3600) - 1
    covered = covered_hours(database, first, last)
    days = {d: Day(d) for d in chosen}
    for hour in covered:
        day = days.get(day_of(hour * 3600, zone))
        if day is not None:
            day.hours_known += 1
    averages: dict[int, float] = {}  # hour -> average running servers (the "*" row)
    for hour, peak, running_sum, samples, started, failed in all_rows(database, first, last):
        day = days.get(day_of(hour * 3600, zone))
        if day is None:
            continue
        day.peak = max(day.peak, peak)
        day.started += started
        day.failed += failed
        averages[hour] = running_sum / samples if samples else 0.0
    busiest: dict[str, int] = defaultdict(int)
    for profile, number, peak in profile_peaks(database, first, last, zone):
        day = days.get(number)
        if day is not None:
            day.profiles[profile] = max(day.profiles.get(profile, 0), peak)
            busiest[profile] = max(busiest[profile], peak)
    profiles = sorted(busiest, key=lambda p: (-busiest[p], p))
    return HubUsage(list(days.values()), profiles, week_of(covered, averages, person))


def week_of(covered: set[int], averages: dict[int, float], person: tzinfo) -> list:
    """[weekday][hour of the day] in ``person``'s zone: the mean of the covered hours'
    average running servers there (an hour covered without a row had none running);
    None where no hour was covered."""
    sums = [[0.0] * 24 for _ in WEEKDAYS]
    counts = [[0] * 24 for _ in WEEKDAYS]
    for hour in covered:
        local = datetime.fromtimestamp(hour * 3600, person)
        sums[local.weekday()][local.hour] += averages.get(hour, 0.0)
        counts[local.weekday()][local.hour] += 1
    return [
        [sums[w][h] / counts[w][h] if counts[w][h] else None for h in range(24)]
        for w in range(len(WEEKDAYS))
    ]


def heat_level(value: float | None, top: float) -> str:
    """The heatmap cell's class: ``heat-unknown``, ``heat-0`` (none running), else
    ``heat-1`` … ``heat-5`` by its share of the week's busiest hour."""
    if value is None:
        return "heat-unknown"
    if value <= 0 or top <= 0:
        return "heat-0"
    return f"heat-{min(HEAT_LEVELS, 1 + int((HEAT_LEVELS - 1) * value / top))}"


# -- the tables (the charts' numbers, and the CSVs: the same rows) --------------------------

UNKNOWN = "unknown"


def profile_words(profile: str) -> str:
    return profile or "no profile"


def day_words(day: int) -> str:
    return date_of(day).isoformat()


def short_day(day: int) -> str:
    d = date_of(day)
    return f"{d.day} {d:%b}"


def number(value: float | None) -> str:
    if value is None:
        return UNKNOWN
    return f"{value:.1f}".removesuffix(".0") if value % 1 else str(int(value))


def peaks_table(usage: HubUsage) -> tuple[list[str], list[list]]:
    header = [
        "day",
        "peak, every profile",
        *(f"peak, {profile_words(p)}" for p in usage.profiles),
        "hours recorded",
    ]
    rows = []
    for d in usage.days:
        if d.known:
            values = [d.peak, *(d.profiles.get(p, 0) for p in usage.profiles)]
        else:
            values = [UNKNOWN] * (1 + len(usage.profiles))
        rows.append([day_words(d.day), *values, d.hours_known])
    return header, rows


def starts_table(usage: HubUsage) -> tuple[list[str], list[list]]:
    header = ["day", "servers started", "of which failed", "hours recorded"]
    rows = []
    for d in usage.days:
        values = [d.started, d.failed] if d.known else [UNKNOWN, UNKNOWN]
        rows.append([day_words(d.day), *values, d.hours_known])
    return header, rows


def week_table(usage: HubUsage) -> tuple[list[str], list[list]]:
    """An hour of the day a row, a weekday a column (eight columns: a phone's width)."""
    header = ["hour", *WEEKDAYS]
    return header, [
        [f"{h:02d}:00", *(number(usage.week[w][h]) for w in range(len(WEEKDAYS)))]
        for h in range(24)
    ]


def chart_series(usage: HubUsage, shown: int) -> list[tuple[str, list[int | None]]]:
    """The peaks chart's lines: every profile's, then the ``shown - 1`` busiest profiles'."""
    series = [("every profile", [d.peak if d.known else None for d in usage.days])]
    for p in usage.profiles[: shown - 1]:
        series.append(
            (profile_words(p), [d.profiles.get(p, 0) if d.known else None for d in usage.days])
        )
    return series
