"""When a lesson's servers start and stop (pure logic: times, time zones, words).

A lesson is held once (a date) or weekly (chosen weekdays), from a start time to an end
time, in a time zone. Each holding is an *occurrence*, named by its start as seconds
since the epoch. hubdesk starts the servers ``lead`` seconds before the start and stops
them at the end; an end earlier than the start means the lesson runs past midnight, which
the form must say explicitly ("ends the next day": ``parse_when``'s ``overnight``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
LOOK_BACK = timedelta(days=8)  # a lesson missed while hubdesk was down is found this far back
LATE_SECONDS = 60  # a run later than this after its time is reported as late (by default)
_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?")


class ScheduleError(ValueError):
    """A lesson's times or days cannot be used; the message says why, in words (``field``:
    the form's field it is about, marked there, when it is about one)."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class When:
    """When a lesson is held: in ``tz``, on ``day`` (once) or on ``weekdays`` (0 = Monday)."""

    tz: str
    starts: time
    ends: time
    day: date | None = None
    weekdays: tuple[int, ...] = field(default=())
    lead: int = 0  # seconds: the servers start this long before the lesson

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def occurrences(self, since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
        """(start, end) in UTC of each holding whose start falls in [since - 1 day, until]."""
        zone = self.zone
        first = (since - timedelta(days=1)).astimezone(zone).date()
        last = until.astimezone(zone).date()
        days = (
            [self.day]
            if self.day
            else [first + timedelta(n) for n in range((last - first).days + 1)]
        )
        found = []
        for d in days:
            if d is None or not (first <= d <= last):
                continue
            if not self.day and d.weekday() not in self.weekdays:
                continue
            start = _local(d, self.starts, zone)
            end_day = d + timedelta(days=1) if self.ends <= self.starts else d
            end = _local(end_day, self.ends, zone)
            if end <= start:
                # the start was in a clock-change gap and moved forward past the end (a
                # 02:30–03:00 lesson on the spring-forward night): it keeps its length
                length = datetime.combine(end_day, self.ends) - datetime.combine(d, self.starts)
                end = start + length
            found.append((start, end))
        return found

    def next_after(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The next holding whose end is after ``now`` (under way or to come), if any."""
        if self.day:  # held once: however far ahead
            holding = self.holding()
            return holding if holding[1] > now else None
        upcoming = [
            o for o in self.occurrences(now - LOOK_BACK, now + timedelta(days=8)) if o[1] > now
        ]
        return min(upcoming) if upcoming else None

    def holding(self) -> tuple[datetime, datetime]:
        """(start, end) in UTC of a lesson held once."""
        assert self.day is not None
        noon = datetime.combine(self.day, time(12), tzinfo=self.zone)
        (found,) = self.occurrences(noon, noon)
        return found

    def words(self) -> str:
        """E.g. "Mondays and Wednesdays, 09:00–10:30 (Europe/Rome)"."""
        hours = f"{_hm(self.starts)}–{_hm(self.ends)}"
        if self.day:
            return f"on {self.day.isoformat()}, {hours} ({self.tz})"
        names = [WEEKDAYS[d] + "s" for d in sorted(self.weekdays)]
        days = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        return f"{days}, {hours} ({self.tz})"


def _local(d: date, t: time, zone: ZoneInfo) -> datetime:
    """A local wall-clock time as UTC.

    A time the clocks skip (spring forward) is read with the offset before the jump
    (zoneinfo's ``fold=0``), so it moves forward by the jump, as calendars do (02:30 in
    Europe/Rome on the last Sunday of March becomes 03:30); a lesson starting then keeps
    its length (``When.occurrences``). A time the clocks show twice (autumn) is the first
    of the two (``fold=0`` again).
    """
    return datetime.combine(d, t, tzinfo=zone).astimezone(UTC)


def _hm(t: time) -> str:
    return t.strftime("%H:%M:%S" if t.second else "%H:%M")


def parse_time(text: str, what: str) -> time:
    match = _TIME.fullmatch((text or "").strip())
    if not match:
        raise ScheduleError(f"The {what} must be a time like 09:00 (24-hour clock).")
    h, m, s = (int(x) if x else 0 for x in match.groups())
    return time(h, m, s)


# names zoneinfo finds that are not places: "localtime" is whatever the server's own clock
# is set to (it changes with the machine), "Factory" is tzdata's "zone not set" placeholder
NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})


def parse_zone(name: str) -> str:
    """An IANA time zone name (or UTC), as written; anything else is refused in words."""
    name = (name or "").strip()
    if name == "UTC":
        return name
    if name not in _zones():
        raise ScheduleError(f"“{name}” is not a time zone hubdesk knows (e.g. Europe/Rome, UTC).")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"“{name}” is not a time zone hubdesk knows.") from None
    return name


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(
            z
            for z in available_timezones()
            if z not in NOT_ZONES and not z.startswith(("posix/", "right/"))
        )
    return _ZONES


def zones() -> list[str]:
    """Every time zone name, for the form's list."""
    return sorted(_zones() | {"UTC"})


MAX_LEAD_MINUTES = 120
WEEKDAY_VALUES = {str(n): n for n in range(7)}  # the form's values, exactly: "0" .. "6"


def parse_lead(text: str) -> int:
    """Minutes (a finite number from 0 to 120, decimals allowed) as whole seconds."""
    try:
        minutes = float((text or "0").strip() or 0)
    except ValueError:
        minutes = math.nan
    if not math.isfinite(minutes):  # "inf", "1e309", "nan" are floats, but not minutes
        raise ScheduleError(f"Start the servers a number of minutes before (0–{MAX_LEAD_MINUTES}).")
    if not 0 <= minutes <= MAX_LEAD_MINUTES:
        raise ScheduleError(
            f"Start the servers between 0 and {MAX_LEAD_MINUTES} minutes before the lesson."
        )
    return round(minutes * 60)


def parse_weekdays(values) -> tuple[int, ...]:
    """The ticked weekdays; a value that is not one of the form's (0 to 6) is refused."""
    days = set()
    for value in values or ():
        text = str(value).strip()
        if text not in WEEKDAY_VALUES:  # not str.isdigit(): "²" is a digit int() refuses
            raise ScheduleError("The weekdays must be chosen from Monday to Sunday.")
        days.add(WEEKDAY_VALUES[text])
    return tuple(sorted(days))


def parse_when(
    *,
    tz: str,
    starts: str,
    ends: str,
    day: str = "",
    weekdays=(),
    lead_minutes: str = "0",
    overnight: bool = False,
    now: datetime | None = None,
) -> When:
    """A lesson's timing from a form's text; ScheduleError says what is wrong.

    An end before the start is a lesson past midnight only when ``overnight`` says so
    ("ends the next day"); else it is refused (a typo would run for nearly a day), and
    ``overnight`` with an end after the start is refused too (a lesson is shorter than a day).

    A lesson held once whose end is already past (at ``now``) is refused: it would never
    run, never show among the lessons to come, and could not be cancelled from the roster.
    One under way now is taken (its servers start at once, late).
    """
    zone = parse_zone(tz)
    start, end = parse_time(starts, "start time"), parse_time(ends, "end time")
    if start == end:
        raise ScheduleError("The lesson must end at another time than it starts.", "ends")
    if end < start and not overnight:
        raise ScheduleError(
            f"The lesson ends ({_hm(end)}) before it starts ({_hm(start)}): correct the end, "
            "or tick “ends the next day” for a lesson past midnight.",
            "ends",
        )
    if end > start and overnight:
        raise ScheduleError(
            f"“Ends the next day” is ticked, but {_hm(end)} is after {_hm(start)} on the same "
            "day: untick it (a lesson lasts less than a day).",
            "ends",
        )
    lead = parse_lead(lead_minutes)
    days = parse_weekdays(weekdays)
    if day:
        try:
            once = date.fromisoformat(day.strip())
        except ValueError:
            raise ScheduleError("The date must be like 2026-12-07.") from None
        when = When(tz=zone, starts=start, ends=end, day=once, lead=lead)
        if when.next_after(now or datetime.now(UTC)) is None:
            raise ScheduleError(
                f"This lesson would be over already: it ends {_over(when)} ({zone}). "
                "Choose a later date or time."
            )
        return when
    if not days:
        raise ScheduleError("Choose a date, or the weekdays of a weekly lesson.")
    return When(tz=zone, starts=start, ends=end, weekdays=tuple(days), lead=lead)


def _over(when: When) -> str:
    end_day = when.day + timedelta(days=1) if when.ends <= when.starts else when.day
    return f"{end_day.isoformat()} at {_hm(when.ends)}"


def as_row(when: When) -> dict:
    return {
        "tz": when.tz,
        "starts": _hm(when.starts) if when.starts.second else when.starts.strftime("%H:%M"),
        "ends": _hm(when.ends) if when.ends.second else when.ends.strftime("%H:%M"),
        "day": when.day.isoformat() if when.day else None,
        "weekdays": ",".join(map(str, when.weekdays)) or None,
        "lead": when.lead,
    }


def from_row(row) -> When:
    return When(
        tz=row.tz,
        starts=parse_time(row.starts, "start time"),
        ends=parse_time(row.ends, "end time"),
        day=date.fromisoformat(row.day) if row.day else None,
        weekdays=tuple(int(d) for d in (row.weekdays or "").split(",") if d),
        lead=row.lead,
    )


@dataclass(frozen=True)
class Due:
    """A run to make now: a start or a stop of one occurrence, and how late it is."""

    kind: str  # "start" or "stop"
    occurrence: float  # the lesson's start, seconds since the epoch (names the holding)
    at: datetime  # when it was due (UTC)
    late: bool


def due_runs(
    when: When, now: datetime, done: set[tuple[str, float]], *, late_after: float = LATE_SECONDS
) -> list[Due]:
    """What is due now, given the runs already made (``done``: (kind, occurrence)).

    A start is due from ``lead`` before the lesson until its end (after the end there is
    nothing left to start for). A stop is due from the end, for every holding that had a
    start, however late: a stop is never skipped.
    """
    found = []
    for start, end in when.occurrences(now - LOOK_BACK, now + timedelta(seconds=when.lead)):
        key = start.timestamp()
        start_at = start - timedelta(seconds=when.lead)
        if start_at <= now < end and ("start", key) not in done:
            late = (now - start_at).total_seconds() > late_after
            found.append(Due("start", key, start_at, late))
        if end <= now and ("start", key) in done and ("stop", key) not in done:
            late = (now - end).total_seconds() > late_after
            found.append(Due("stop", key, end, late))
    return found


def next_due(when: When, now: datetime, done: set[tuple[str, float]]) -> float | None:
    """Epoch seconds from which ``due_runs`` can next find something, or None: never again.

    The earliest of: a pending stop (a holding started and not stopped, within
    ``LOOK_BACK``: its end, which may be past: due now) and the next start not made whose
    holding has not ended (its start less the lead, which may be past: due now). Kept per
    lesson (``lessons.next_due``), so that the runner looks only at lessons with something
    due, and a run missed while hubdesk was down is still at or before ``now`` on return.
    """
    since = now - LOOK_BACK
    holdings = (
        [when.holding()]
        if when.day
        else when.occurrences(since, now + timedelta(days=8, seconds=when.lead))
    )
    found = []
    for start, end in holdings:
        if start < since - timedelta(days=1):
            continue  # past what due_runs looks at
        key = start.timestamp()
        if ("start", key) in done:
            if ("stop", key) not in done:
                found.append(end)
        elif end > now:
            found.append(start - timedelta(seconds=when.lead))
    return min(found).timestamp() if found else None
