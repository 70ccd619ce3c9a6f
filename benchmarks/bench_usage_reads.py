"""Usage pages' own work, in-process: what each page reads from hubdesk's database and
draws, on a year of usage for 10,000 users (about 3 million sessions), on SQLite and on
PostgreSQL: a 5,000-member group's usage over 90 days (its members' running totals, its
days, the page's weeks and its two charts), a person's (numbers, a page of sessions, the
timeline) and the whole hub's (peaks, the week, starts, two charts).

The page's hub call is not here (the group page's one ``GET /groups/{name}``, and the
sign-in's): ``bench_usage.py`` times the group page over HTTP beside that call. This script
times what hubdesk adds, so that the record's cost can be read apart from the hub's.

    python benchmarks/bench_usage_reads.py sqlite:////tmp/usage.sqlite [postgresql+psycopg://…]

A database without usage is seeded first (``bench_usage.seed_usage``: ~5 min on SQLite).
Medians of 7 runs after one warm-up; the group's charts and table are read fresh each run
(no cache).
"""

from __future__ import annotations

import statistics
import sys
import time
from zoneinfo import ZoneInfo

from bench_anchors import user_names
from bench_usage import GROUP, seed_usage
from hubdesk.db import Database
from hubdesk.usage import group as group_reads
from hubdesk.usage import hubwide, person
from hubdesk.usage import tables as t
from hubdesk.usage.days import parse_range, week_ranges
from hubdesk.usage.group_views import active_chart, server_chart
from hubdesk.usage.hub_views import drawn as hub_charts
from hubdesk.usage.person_views import timeline_svg
from sqlalchemy import func, select

UTC = ZoneInfo("UTC")
RUNS = 7


def timed(work) -> float:
    work()
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def pages(database: Database, members: list[str], someone: str) -> dict[str, float]:
    rng = parse_range({"days": "90"}, UTC, keep_days=400)
    weeks = week_ranges(UTC)
    now = time.time()

    def group_page():
        rows = group_reads.member_usage(database, members, rng, UTC)
        days = group_reads.day_usage(
            database, GROUP, members, rng, UTC, now=now, sample_seconds=300
        )
        group_reads.with_weeks(database, rows[:50], weeks)
        active_chart(days), server_chart(days)

    def person_page():
        person.numbers(database, someone, rng, UTC)
        person.sessions_page(database, someone, rng, UTC)
        line = person.timeline(database, someone, rng, UTC, (), now=now)
        timeline_svg(someone, line)

    def hub_page():
        usage = hubwide.read(database, rng, UTC, UTC)
        hub_charts(usage)

    return {
        "group (5,000 members, 90 days)": timed(group_page),
        "person (90 days)": timed(person_page),
        "hub-wide (90 days)": timed(hub_page),
    }


def main(urls: list[str]) -> int:
    names = user_names(10_000)
    members = names[:5000]
    print("| database | page | hubdesk's own work, median ms |\n|---|---|---:|")
    for url in urls:
        database = Database(url)
        database.upgrade()
        with database.read() as conn:
            sessions = conn.execute(select(func.count()).select_from(t.usage_sessions)).scalar()
        if not sessions:
            print(f"seeding {url.split(':')[0]} …", file=sys.stderr)
            seed_usage(url, names, set(members))
        for page, ms in pages(database, members, names[0]).items():
            print(f"| {url.split(':')[0].split('+')[0]} | {page} | {ms:.0f} |")
        database.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
