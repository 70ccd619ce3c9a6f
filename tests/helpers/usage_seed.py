"""A usage record written straight into hubdesk's database, as the sampler would have left it
(the tables' meaning: ``hubdesk.usage.tables``): for the pages' tests, which need known
numbers without waiting hours for a real sampler. The sampler's own tests
(``tests/hub/test_usage_recording.py``) check that real sweeps write the same shapes.

``seed(database, zone, sessions, coverage=[(start, end)], sample_seconds=300)``: each
session a :class:`Seeded` (``end`` None: still open). Per-day numbers, their running
totals, group days and hours are computed from the sessions given (call once per database:
the totals are recomputed for the users seeded).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from hubdesk.usage import tables as t
from hubdesk.usage.days import day_of, split_by_day
from sqlalchemy import delete, insert, select


@dataclass
class Seeded:
    user: str
    start: float
    end: float | None = None  # None: still running at the latest sweep
    server: str = ""
    profile: str = ""
    active: list = field(default_factory=list)  # [(start, end)] within the session
    groups: tuple = ()
    failed: bool = False
    ended_in_gap: bool = False


def seed(database, zone: str, sessions, *, coverage=(), sample_seconds: float = 300) -> None:
    tz = ZoneInfo(zone)
    days = defaultdict(lambda: dict(server=0.0, active=0.0, started=0, failed=0, seen=None))
    group_days = defaultdict(lambda: dict(members=set(), server=0.0, started=0))
    hours = defaultdict(lambda: dict(peak=0, sum=0, samples=0, started=0, failed=0))
    with database.write() as conn:
        for a, b in coverage:
            conn.execute(
                insert(t.usage_coverage).values(
                    started=a, last=b, sweeps=max(1, int((b - a) // sample_seconds) + 1)
                )
            )
        for s in sessions:
            sid = conn.execute(
                insert(t.usage_sessions).values(
                    user=s.user,
                    server=s.server,
                    profile=s.profile,
                    options=json.dumps({"profile": s.profile} if s.profile else {}),
                    started=s.start,
                    ready=None if s.failed else s.start + 1,
                    last_seen=s.end,
                    ended=s.end,
                    ended_in_gap=s.ended_in_gap,
                    failed=s.failed,
                    last_activity=max((e for _, e in s.active), default=None),
                )
            ).inserted_primary_key[0]
            first = day_of(s.start, tz)
            days[s.user, first]["started"] += 1
            for g in s.groups:
                group_days[g, first]["started"] += 1
            for profile in ("*", s.profile):
                hours[int(s.start // 3600), profile]["started"] += 1
                if s.failed:
                    hours[int(s.start // 3600), profile]["failed"] += 1
            if s.end is not None:
                if s.failed:
                    days[s.user, day_of(s.end, tz)]["failed"] += 1
                at = s.start
                for day, secs in split_by_day(s.start, s.end, tz):
                    at += secs  # the end of the session's part on that day
                    row = days[s.user, day]
                    row["server"] += secs
                    row["seen"] = max(row["seen"] or 0, min(s.end, at))
                    for g in s.groups:
                        group_days[g, day]["server"] += secs
                hour = int(s.start // 3600)
                while hour * 3600 < s.end:
                    for profile in ("*", s.profile):
                        h = hours[hour, profile]
                        h["peak"] += 1  # every seeded session overlapping the hour at once
                        h["sum"] += 3600 // sample_seconds
                        h["samples"] = int(3600 // sample_seconds)
                    hour += 1
            for a, b in s.active:
                conn.execute(
                    insert(t.usage_activity).values(session_id=sid, user=s.user, start=a, end=b)
                )
                for day, secs in split_by_day(a, b, tz):
                    days[s.user, day]["active"] += secs
                    for g in s.groups:
                        group_days[g, day]["members"].add(s.user)
        users = {u for u, _ in days}
        for user in users:
            conn.execute(delete(t.usage_days).where(t.usage_days.c.user == user))
        cum = defaultdict(lambda: [0, 0.0, 0.0])
        for (user, day), row in sorted(days.items()):
            c = cum[user]
            c[0] += 1 if row["active"] > 0 else 0
            c[1] += row["server"]
            c[2] += row["active"]
            conn.execute(
                insert(t.usage_days).values(
                    user=user,
                    day=day,
                    server_seconds=row["server"],
                    active_seconds=row["active"],
                    started=row["started"],
                    failed=row["failed"],
                    last_seen=row["seen"],
                    cum_days=c[0],
                    cum_server=c[1],
                    cum_active=c[2],
                )
            )
        for (group, day), row in group_days.items():
            conn.execute(
                insert(t.usage_group_days).values(
                    group_name=group,
                    day=day,
                    active_members=len(row["members"]),
                    server_seconds=row["server"],
                    started=row["started"],
                )
            )
        for (hour, profile), h in hours.items():
            exists = conn.execute(
                select(t.usage_hours.c.hour).where(
                    t.usage_hours.c.hour == hour, t.usage_hours.c.profile == profile
                )
            ).first()
            if exists is None:
                conn.execute(
                    insert(t.usage_hours).values(
                        hour=hour,
                        profile=profile,
                        peak=h["peak"],
                        running_sum=h["sum"],
                        samples=h["samples"],
                        started=h["started"],
                        failed=h["failed"],
                    )
                )
