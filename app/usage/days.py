"""Usage's days and ranges: day numbers in the usage zone, and the range a page shows.

A *day* is a whole number: the days since 1970-01-01 in ``HUBDESK_USAGE_TIMEZONE`` (the
zone whose midnights divide usage into days; UTC unless told). The database keeps per-day
numbers under it (``hubdesk.usage.tables.usage_days``); pages name the zone beside their days.

A *range* is what a person chose: the last 7, 30 or 90 days (``?days=``), or two dates
(``?start=&end=``, both included). A range never reaches before the record's retention
(``HUBDESK_USAGE_KEEP_DAYS``) nor after today; bad input is refused in words (``RangeError``),
never a 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

EPOCH = date(1970, 1, 1)
CHOICES = (7, 30, 90)  # the ranges offered as links
DEFAULT_DAYS = 30
MAX_DAYS = 400  # a chosen range of dates is at most this long


class RangeError(ValueError):
    """A range a person asked for that cannot be shown: the message says why, in words."""


def day_of(ts: float, zone: ZoneInfo) -> int:
    """The day (in ``zone``) of the epoch time ``ts``."""
    return (datetime.fromtimestamp(ts, zone).date() - EPOCH).days


def date_of(day: int) -> date:
    return EPOCH + timedelta(days=day)


def day_number(d: date) -> int:
    return (d - EPOCH).days


def day_start(day: int, zone: ZoneInfo) -> float:
    """The epoch time of ``day``'s midnight in ``zone`` (the first instant of the day)."""
    return datetime.combine(date_of(day), time(0), zone).timestamp()


def split_by_day(start: float, end: float, zone: ZoneInfo) -> list[tuple[int, float]]:
    """[(day, seconds in it)] for the span start..end, cut at ``zone``'s midnights."""
    out = []
    while start < end:
        day = day_of(start, zone)
        cut = min(end, day_start(day + 1, zone))
        out.append((day, cut - start))
        start = cut
    return out


@dataclass(frozen=True)
class Range:
    """The days a page shows, both included."""

    first: int
    last: int
    days: int | None = None  # 7, 30 or 90 when chosen as "the last N days"

    @property
    def count(self) -> int:
        return self.last - self.first + 1

    def __iter__(self):
        return iter(range(self.first, self.last + 1))

    def words(self) -> str:
        if self.days:
            return f"the last {self.days} days"
        return f"{date_of(self.first).isoformat()} to {date_of(self.last).isoformat()}"

    @property
    def first_text(self) -> str:
        return date_of(self.first).isoformat()

    @property
    def last_text(self) -> str:
        return date_of(self.last).isoformat()

    def query(self) -> dict:
        """The range as URL arguments (for links that keep it)."""
        if self.days:
            return {"days": self.days}
        return {"start": date_of(self.first).isoformat(), "end": date_of(self.last).isoformat()}


def today(zone: ZoneInfo, now: float | None = None) -> int:
    return day_of(datetime.now(UTC).timestamp() if now is None else now, zone)


def parse_range(
    args: Mapping[str, str], zone: ZoneInfo, *, keep_days: float, now: float | None = None
) -> Range:
    """The range in a page's URL arguments; ``RangeError`` (in words) for one it cannot show."""
    last_day = today(zone, now)
    oldest = last_day - int(keep_days) + 1
    start, end = (args.get("start") or "").strip(), (args.get("end") or "").strip()
    if start or end:
        try:
            first = day_number(date.fromisoformat(start)) if start else None
            last = day_number(date.fromisoformat(end)) if end else last_day
        except ValueError:
            raise RangeError("Give dates as YYYY-MM-DD, for example 2026-09-01.") from None
        if first is None:
            raise RangeError("Give the first day of the range as well as its last.")
        if last < first:
            raise RangeError("The range's last day is before its first: swap them.")
        if last - first + 1 > MAX_DAYS:
            raise RangeError(f"A range is at most {MAX_DAYS} days long.")
        if first > last_day:
            raise RangeError("The range starts after today: usage is only known up to now.")
        return Range(max(first, oldest), min(last, last_day))
    raw = (args.get("days") or "").strip()
    if not raw:
        days = DEFAULT_DAYS
    elif raw.isdigit() and int(raw) in CHOICES:
        days = int(raw)
    else:
        choices = ", ".join(str(c) for c in CHOICES)
        raise RangeError(f"Choose the last {choices} days, or two dates.")
    return Range(max(last_day - days + 1, oldest), last_day, days)


def week_ranges(zone: ZoneInfo, now: float | None = None) -> tuple[Range, Range]:
    """This week so far (from Monday) and the whole week before it, in ``zone``."""
    last_day = today(zone, now)
    monday = last_day - date_of(last_day).weekday()
    return Range(monday, last_day), Range(monday - 7, monday - 1)
