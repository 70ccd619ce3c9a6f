"""A person's usage, read: their numbers for a range, their sessions (a page, a timeline, a CSV).

Every read here comes after the view has checked that the signed-in person may read that
user (``read_user``, with the user's groups): nothing in this module checks it again.

- **Numbers** for a range of days: days active, server and active time from ``usage_days``'
  running totals (two index lookups: the latest row on or before the range's last day minus
  the latest row before its first), plus the person's open sessions (``ended`` NULL: they
  are counted at read time, up to the latest sweep, O(running)); servers started, failed
  starts and last seen from the range's own rows (O(days)).
- **Sessions** overlapping the range, newest first, a page at a time on the ``(user,
  started)`` index (keyset: a page costs the same wherever it is), each with its active time
  (one query for the page's sessions).
- **Timeline**: the same sessions as spans, one row per server and profile, and the spans
  when hubdesk was not recording (``coverage.gaps``) as a row of their own: unknown.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select

from ..db import Database
from ..profiles import Profile, profile_for
from ..words import server_words
from . import coverage
from . import tables as db
from .days import Range, date_of, day_start

PAGE = 25  # sessions per page of the table
BATCH = 500  # sessions read at a time for the CSV
UNKNOWN_ROW = "hubdesk not recording: unknown"
MAX_LABELS = 8  # days named under the timeline


@dataclass(frozen=True)
class Session:
    """One server session of the person, as the table, the timeline and the CSV show it."""

    id: int
    server: str
    profile: str  # user_options' profile slug ("" when none)
    options: dict
    started: float
    ready: float | None
    ended: float | None  # None: running (or pending) at the latest sweep
    ended_in_gap: bool
    failed: bool
    active_seconds: float = 0.0

    @property
    def state(self) -> str:
        """Its state in the shared vocabulary's server words (``hubdesk.states.SERVER``)."""
        if self.ended is None:
            return "running" if self.ready is not None else "starting"
        return "failed" if self.failed else "stopped"

    def seconds(self, latest: float | None) -> float:
        """How long it ran as far as hubdesk knows: to its end, or (open) to the latest sweep;
        for one that ended while hubdesk was not recording, to the last sweep that saw it."""
        end = self.ended if self.ended is not None else (latest or self.started)
        return max(0.0, end - self.started)


@dataclass(frozen=True)
class Numbers:
    """A person's numbers for a range (seconds; ``last_seen`` epoch seconds or None)."""

    days_active: int
    server_seconds: float
    active_seconds: float
    started: int
    failed: int
    last_seen: float | None
    running: int  # sessions still open at the latest sweep


def range_span(rng: Range, zone: ZoneInfo) -> tuple[float, float]:
    """The range as epoch seconds: its first midnight to the midnight after its last day."""
    return day_start(rng.first, zone), day_start(rng.last + 1, zone)


def clip(start: float, end: float, lo: float, hi: float) -> float:
    """Seconds of start..end within lo..hi."""
    return max(0.0, min(end, hi) - max(start, lo))


def _cum(conn, user: str, day: int):
    """The person's running totals up to and including ``day`` (zeros before their first)."""
    d = db.usage_days.c
    row = conn.execute(
        select(d.cum_days, d.cum_server, d.cum_active)
        .where(d.user == user, d.day <= day)
        .order_by(d.day.desc())
        .limit(1)
    ).first()
    return tuple(row) if row else (0, 0.0, 0.0)


def numbers(database: Database, user: str, rng: Range, zone: ZoneInfo) -> Numbers:
    """The person's numbers for ``rng`` (see the module's docstring for what each costs)."""
    d, s = db.usage_days.c, db.usage_sessions.c
    lo, hi = range_span(rng, zone)
    latest = coverage.latest_sweep(database)
    with database.read() as conn:
        at_end, before = _cum(conn, user, rng.last), _cum(conn, user, rng.first - 1)
        started, failed, seen = conn.execute(
            select(func.sum(d.started), func.sum(d.failed), func.max(d.last_seen)).where(
                d.user == user, d.day >= rng.first, d.day <= rng.last
            )
        ).one()
        open_rows = conn.execute(
            select(s.started).where(s.ended.is_(None), s.user == user, s.started < hi)
        ).all()
    open_seconds = sum(clip(r.started, latest or r.started, lo, hi) for r in open_rows)
    if open_rows and latest is not None and lo <= latest < hi:
        seen = max(seen or 0.0, latest)
    return Numbers(
        days_active=at_end[0] - before[0],
        server_seconds=at_end[1] - before[1] + open_seconds,
        active_seconds=at_end[2] - before[2],
        started=int(started or 0),
        failed=int(failed or 0),
        last_seen=seen,
        running=len(open_rows),
    )


def has_record(database: Database, user: str) -> bool:
    """Whether hubdesk's record holds any session of ``user`` (a deleted account's too)."""
    s = db.usage_sessions.c
    with database.read() as conn:
        return conn.execute(select(s.id).where(s.user == user).limit(1)).first() is not None


def _overlapping(user: str, lo: float, hi: float):
    """The person's sessions that overlap lo..hi (on the ``(user, started)`` index)."""
    s = db.usage_sessions.c
    return and_(s.user == user, s.started < hi, or_(s.ended.is_(None), s.ended >= lo))


def _options(text: str) -> dict:
    try:
        found = json.loads(text or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _sessions(conn, where, *, limit: int) -> list[Session]:
    """Sessions matching ``where``, newest first, with their active time (one more query)."""
    s, a = db.usage_sessions.c, db.usage_activity.c
    rows = conn.execute(
        select(db.usage_sessions).where(where).order_by(s.started.desc(), s.id.desc()).limit(limit)
    ).all()
    active: dict[int, float] = {}
    if rows:
        ids = [r.id for r in rows]
        for sid, seconds in conn.execute(
            select(a.session_id, func.sum(a.end - a.start))
            .where(a.session_id.in_(ids))
            .group_by(a.session_id)
        ):
            active[sid] = float(seconds or 0)
    return [
        Session(
            id=r.id,
            server=r.server,
            profile=r.profile,
            options=_options(r.options),
            started=r.started,
            ready=r.ready,
            ended=r.ended,
            ended_in_gap=bool(r.ended_in_gap),
            failed=bool(r.failed),
            active_seconds=active.get(r.id, 0.0),
        )
        for r in rows
    ]


def _after(conn, user: str, before: int | None):
    """The keyset condition for the sessions older than session ``before`` (None: from the
    newest; a session that is not this person's: from the newest too)."""
    if before is None:
        return None
    s = db.usage_sessions.c
    started = conn.execute(select(s.started).where(s.id == before, s.user == user)).scalar()
    if started is None:
        return None
    return or_(s.started < started, and_(s.started == started, s.id < before))


def sessions_page(
    database: Database,
    user: str,
    rng: Range,
    zone: ZoneInfo,
    *,
    before: int | None = None,
    limit: int = PAGE,
) -> tuple[list[Session], int | None]:
    """A page of the person's sessions in ``rng``, newest first, older than session
    ``before``; and the ``before`` of the next (older) page, None on the last one."""
    lo, hi = range_span(rng, zone)
    with database.read() as conn:
        where = _overlapping(user, lo, hi)
        after = _after(conn, user, before)
        found = _sessions(conn, where if after is None else and_(where, after), limit=limit + 1)
    page = found[:limit]
    return page, (page[-1].id if len(found) > limit else None)


def every_session(database: Database, user: str, rng: Range, zone: ZoneInfo) -> Iterator[Session]:
    """Every session of the person in ``rng``, newest first, read ``BATCH`` at a time (the CSV
    holds one batch in memory, whatever the person's history). The first batch is read now:
    a database that fails is the page's error, not a download cut short."""
    page, before = sessions_page(database, user, rng, zone, limit=BATCH)

    def rest(page, before):
        yield from page
        while before is not None:
            page, before = sessions_page(database, user, rng, zone, before=before, limit=BATCH)
            yield from page

    return rest(page, before)


# -- words ---------------------------------------------------------------------------------


def profile_words(session: Session, profiles: Sequence[Profile]) -> str:
    """The session's profile as the catalogue names it ("Small (1 CPU)"), else its slug; ""
    when it was started without one."""
    found = profile_for(list(profiles), session.options)
    if found is not None:
        return found.display_name
    return session.profile


def row_label(session: Session, profiles: Sequence[Profile]) -> str:
    """The timeline's row of a session: its server and its profile."""
    profile = profile_words(session, profiles)
    said = server_words(session.server, start=True)
    return f"{said} · {profile}" if profile else said


# -- the timeline ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Timeline:
    """The timeline's rows [(label, [(start, end)] in epoch seconds)], its day ticks, and the
    gaps (when hubdesk was not recording) within the range."""

    rows: list[tuple[str, list[tuple[float, float]]]]
    ticks: list[tuple[float, str]]
    gaps: list[tuple[float, float]]
    start: float
    end: float


def timeline(
    database: Database,
    user: str,
    rng: Range,
    zone: ZoneInfo,
    profiles: Sequence[Profile],
    *,
    now: float,
) -> Timeline:
    """The person's sessions in ``rng`` as spans per server and profile (clipped to the range
    and to now), and the range's gaps in the record as a last row (unknown)."""
    lo, hi = range_span(rng, zone)
    hi_known = min(hi, now)
    latest = coverage.latest_sweep(database)
    rows: dict[str, list[tuple[float, float]]] = {}
    for session in every_session(database, user, rng, zone):
        end = session.ended if session.ended is not None else (latest or session.started)
        a, b = max(session.started, lo), min(end, hi_known)
        if b > a:
            rows.setdefault(row_label(session, profiles), []).insert(0, (a, b))
    ordered = sorted(rows.items(), key=lambda kv: kv[0].casefold())
    gaps = coverage.gaps(database, lo, hi_known) if hi_known > lo else []
    if gaps:
        ordered.append((UNKNOWN_ROW, gaps))
    return Timeline(ordered, day_ticks(rng, zone), gaps, lo, hi)


def day_ticks(rng: Range, zone: ZoneInfo) -> list[tuple[float, str]]:
    """Midnights to name under the timeline (at most ``MAX_LABELS``), as (hours from the
    range's start, "Dec 7")."""
    lo = day_start(rng.first, zone)
    step = max(1, -(-rng.count // MAX_LABELS))
    return [
        ((day_start(day, zone) - lo) / 3600, f"{date_of(day):%b} {date_of(day).day}")
        for day in range(rng.first, rng.last + 1, step)
    ]


def in_hours(spans: Sequence[tuple[float, float]], start: float) -> list[tuple[float, float]]:
    """Spans as hours from ``start`` (the timeline's unit)."""
    return [((a - start) / 3600, (b - start) / 3600) for a, b in spans]
