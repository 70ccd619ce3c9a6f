"""The sweep's **write** step (see :mod:`.sampler`): a sweep's :class:`~.sampler.Changes` into
the record, in the caller's one transaction, with only the rows that changed.

Per-day numbers keep running totals (``usage_days.cum_*``): a change on day ``d`` adds to
that day's row (made from the latest earlier row's totals if it has none) and to the
``cum_*`` of the person's later rows, so that a range is always two index lookups. Upserts
are update-then-insert: portable, and safe because the sampler's lease lets one sweep run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import case, insert, select, update

from . import tables as t
from .days import day_of, day_start, split_by_day
from .sampler import Changes, Ended, Sweep

ALL = "*"  # usage_hours' profile for every profile at once


def _upsert_add(conn, table, key: dict, adds: dict, maxes: dict | None = None) -> None:
    """Add ``adds`` (and raise to ``maxes``) in the row ``key``; make it if there is none."""
    c = table.c
    where = [c[k] == v for k, v in key.items()]
    values = {k: c[k] + v for k, v in adds.items()}
    for k, v in (maxes or {}).items():
        values[k] = _greatest(c[k], v)
    if conn.execute(update(table).where(*where).values(**values)).rowcount:
        return
    conn.execute(insert(table).values(**key, **adds, **(maxes or {})))


def _greatest(column, value):
    return case((column < value, value), else_=column)


def add_day(
    conn,
    user: str,
    day: int,
    *,
    server: float = 0.0,
    active: float = 0.0,
    started: int = 0,
    failed: int = 0,
    seen: float | None = None,
) -> bool:
    """Add to a person's day and to the running totals from it on; whether the day got its
    first activity now (then it counts once more in ``cum_days``)."""
    d = t.usage_days.c
    row = conn.execute(select(d.active_seconds).where(d.user == user, d.day == day)).first()
    first_active = active > 0 and (row is None or row.active_seconds <= 0)
    newly = 1 if first_active else 0
    if row is None:
        base = conn.execute(
            select(d.cum_days, d.cum_server, d.cum_active)
            .where(d.user == user, d.day < day)
            .order_by(d.day.desc())
            .limit(1)
        ).first()
        days0, server0, active0 = base if base is not None else (0, 0.0, 0.0)
        conn.execute(
            insert(t.usage_days).values(
                user=user,
                day=day,
                server_seconds=server,
                active_seconds=active,
                started=started,
                failed=failed,
                last_seen=seen,
                cum_days=days0 + newly,
                cum_server=server0 + server,
                cum_active=active0 + active,
            )
        )
    else:
        values = {
            "server_seconds": d.server_seconds + server,
            "active_seconds": d.active_seconds + active,
            "started": d.started + started,
            "failed": d.failed + failed,
            "cum_days": d.cum_days + newly,
            "cum_server": d.cum_server + server,
            "cum_active": d.cum_active + active,
        }
        if seen is not None:
            values["last_seen"] = _greatest(d.last_seen, seen)
        conn.execute(update(t.usage_days).where(d.user == user, d.day == day).values(**values))
    if newly or server or active:  # the later rows' running totals
        conn.execute(
            update(t.usage_days)
            .where(d.user == user, d.day > day)
            .values(
                cum_days=d.cum_days + newly,
                cum_server=d.cum_server + server,
                cum_active=d.cum_active + active,
            )
        )
    return first_active


def add_group_day(conn, group: str, day: int, **adds) -> None:
    _upsert_add(conn, t.usage_group_days, {"group_name": group, "day": day}, adds)


def add_hour(conn, hour: int, profile: str, **adds) -> None:
    _upsert_add(conn, t.usage_hours, {"hour": hour, "profile": profile}, adds)


def _activity(conn, session_id: int, user: str, span, extend: bool, groups, zone) -> None:
    a = t.usage_activity.c
    if extend:
        latest = conn.execute(
            select(a.id).where(a.session_id == session_id).order_by(a.end.desc()).limit(1)
        ).scalar()
        if latest is not None:
            conn.execute(update(t.usage_activity).where(a.id == latest).values(end=span[1]))
        else:
            extend = False
    if not extend:
        conn.execute(
            insert(t.usage_activity).values(
                session_id=session_id, user=user, start=span[0], end=span[1]
            )
        )
    for day, seconds in split_by_day(span[0], span[1], zone):
        seen = min(span[1], day_start(day + 1, zone))
        if add_day(conn, user, day, active=seconds, seen=seen):
            for group in groups:
                add_group_day(conn, group, day, active_members=1)


def _started(conn, sweep: Sweep, seen, span, groups, zone) -> None:
    ready = sweep.now if seen.ready else None
    session_id = conn.execute(
        insert(t.usage_sessions).values(
            user=seen.user,
            server=seen.server,
            profile=seen.profile,
            options=seen.options,
            groups=json.dumps(list(groups)),
            started=seen.started,
            ready=ready,
            last_activity=seen.last_activity,
            active_until=span[1] if span else None,
        )
    ).inserted_primary_key[0]
    day = day_of(seen.started, zone)
    add_day(conn, seen.user, day, started=1, seen=seen.started)
    for group in groups:
        add_group_day(conn, group, day, started=1)
    for profile in {ALL, seen.profile}:
        add_hour(conn, int(seen.started // 3600), profile, started=1)
    if span:
        _activity(conn, session_id, seen.user, span, False, groups, zone)


def _ended(conn, gone: Ended, groups, zone) -> None:
    s = gone.session
    conn.execute(
        update(t.usage_sessions)
        .where(t.usage_sessions.c.id == s.id)
        .values(
            ended=gone.ended,
            last_seen=gone.last_seen,
            ended_in_gap=gone.in_gap,
            failed=gone.failed,
        )
    )
    pieces = split_by_day(s.started, max(s.started, gone.ended), zone)
    if gone.failed:  # counted on the day (and hour) the session started
        add_day(conn, s.user, day_of(s.started, zone), failed=1)
        for profile in {ALL, s.profile}:
            add_hour(conn, int(s.started // 3600), profile, failed=1)
    for day, seconds in pieces:
        seen = min(gone.ended, day_start(day + 1, zone))
        add_day(conn, s.user, day, server=seconds, seen=seen)
        for group in groups:
            add_group_day(conn, group, day, server_seconds=seconds)


def _hour(conn, sweep: Sweep, running) -> None:
    """The hour's running servers: peak, sum and sample count, for all and per profile."""
    hour = int(sweep.now // 3600)
    counts = dict(running)
    counts[ALL] = sum(running.values())
    for profile, n in counts.items():
        if profile != ALL and n <= 0:
            continue
        _upsert_add(
            conn,
            t.usage_hours,
            {"hour": hour, "profile": profile},
            {"running_sum": n, "samples": 1},
            {"peak": n},
        )


def _coverage(conn, sweep: Sweep) -> None:
    c = t.usage_coverage.c
    if sweep.t0 is not None:
        conn.execute(
            update(t.usage_coverage)
            .where(c.id == sweep.span)
            .values(last=sweep.now, sweeps=c.sweeps + 1)
        )
    else:
        conn.execute(insert(t.usage_coverage).values(started=sweep.now, last=sweep.now, sweeps=1))


def write(conn, changes: Changes, groups: Mapping[str, tuple[str, ...]], zone: ZoneInfo) -> None:
    """Every change of one sweep (``groups``: each person's groups, as the hub said)."""
    sweep = changes.sweep
    for seen, span in changes.new:
        _started(conn, sweep, seen, span, groups.get(seen.user, ()), zone)
    for change in changes.updates:
        s = change.session
        conn.execute(
            update(t.usage_sessions).where(t.usage_sessions.c.id == s.id).values(**change.values)
        )
        if change.active:
            _activity(
                conn, s.id, s.user, change.active, change.extend, groups.get(s.user, ()), zone
            )
    for gone in changes.ended:
        _ended(conn, gone, gone.session.groups, zone)
    _coverage(conn, sweep)
    _hour(conn, sweep, changes.running)
