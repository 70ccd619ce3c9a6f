#!/usr/bin/env python
"""Usage pages on a year of sessions for 10,000 people, on SQLite and on PostgreSQL.

The usage record (hubdesk's tables, ``hubdesk.usage.tables``) is seeded straight into
hubdesk's database by :func:`seed_usage` (bulk inserts: executemany on SQLite, COPY on
PostgreSQL): a year of sessions for every user (about 300 each, 3 million in all), the
per-day rows with their running totals, the group days of ``bench-big`` and the hours,
consistent with the sessions, one coverage span over the whole year, and ~1% of the people
with a server open now. Not seeded: ``usage_activity`` (the merged activity spans; no page
measured here reads them: a day's active seconds are in ``usage_days``).

The hub is seeded in its own database as bench_anchors.py does: 10,000 users, 2,000 small
groups and ``bench-big`` with 5,000 members, whose members are the record's people.

Then each page of ``--pages`` (default: the group page for bench-big over 90 days; the lead
adds the person and hub-wide pages; a page answering 404 is skipped) is timed straight at
gunicorn's port (no proxy: the server's time plus a loopback round trip), signed in as the
hub's admin:

- **first view**: each sample a range hubdesk has not kept yet (90 days ending a day
  earlier each time: same size, never cached), so the hub call and every query run;
- **again**: the same URL again (the group's table is kept 30 s: sorting and paging it);

beside the hub's own ``GET /groups/bench-big`` (the call the group page makes first).

    python benchmarks/bench_usage.py             # 10,000 users, 20 samples, both databases
    python benchmarks/bench_usage.py --quick     # 1,000 users, 5 samples
    python benchmarks/bench_usage.py --db sqlite # one database only

Unlike the other benchmarks this one imports hubdesk's table definitions (to seed its own
tables in bulk); the pages are still measured over HTTP only.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

from bench_anchors import seed_db, sizes_for, user_names
from harness import (
    REQUEST_TIMEOUT,
    Calls,
    Series,
    arguments,
    direct_session,
    fmt,
    machine_info,
    measure,
    parse,
    say,
    sign_in,
    stack,
    table,
    test_helper,
    write_report,
)

TARGET_MS = 150
GROUP = "bench-big"
PAGES = [f"usage/groups/{GROUP}?days=90"]
CHUNK = 250  # users generated and written at a time (about 75,000 sessions)
SESSION_COLUMNS = (
    "user", "server", "profile", "options", "started", "ready", "last_seen", "ended",
    "ended_in_gap", "failed", "last_activity", "active_until",
)  # fmt: skip
DAY_COLUMNS = (
    "user", "day", "server_seconds", "active_seconds", "started", "failed", "last_seen",
    "cum_days", "cum_server", "cum_active",
)  # fmt: skip
PROFILES = ("", "small", "gpu")
NOTES = [
    "How to read it: a first view is the hub's `GET /groups/<name>` (the members: the row",
    "beside it) plus hubdesk's own work: one statement for every member's running totals",
    "(two bounds each), the open sessions, the group's days, the weeks of the page's 50 rows,",
    "two pygal charts and the template. hubdesk's own share is about the first view's median",
    "minus the hub call's. A view within 30 s of the same group and range (sorting, paging,",
    "the CSV) reuses the table and its charts: only the page is sorted and drawn again.",
]


# -- seeding the record ---------------------------------------------------------------------


def person_year(rnd: random.Random, user: str, first_day: int, midnights: list, now: float):
    """One person's sessions and days: (sessions, days) rows, oldest first. About 82% of
    days have a session of 30 min to 4 h between 8:00 and 20:00, active for a part of it;
    ~1% of people have one open now."""
    sessions, days = [], []
    cum = [0, 0.0, 0.0]
    for i in range(len(midnights) - 1):
        if rnd.random() > 0.82:
            continue
        day = first_day + i
        start = midnights[i] + rnd.uniform(8, 20) * 3600
        length = rnd.uniform(0.5, 4) * 3600
        end = min(start + length, midnights[i + 1] - 1)
        failed = rnd.random() < 0.01
        active = 0.0 if failed else round((end - start) * rnd.uniform(0.2, 0.9), 1)
        profile = PROFILES[rnd.randrange(3)]
        server = end - start
        sessions.append(
            (user, "", profile, "{}", start, None if failed else start + 30, end, end,
             False, failed, start + active if active else None, None)
        )  # fmt: skip
        cum[0] += 1 if active > 0 else 0
        cum[1] += server
        cum[2] += active
        days.append(
            (user, day, server, active, 1, int(failed), end, cum[0], cum[1], cum[2])
        )  # fmt: skip
    if rnd.random() < 0.01:  # open now
        start = now - rnd.uniform(60, 3600)
        sessions.append(
            (user, "", "", "{}", start, start + 30, None, None, False, False, now - 60, None)
        )  # fmt: skip
    return sessions, days


def seed_usage(
    url: str, users: list[str], members: set[str], *, days: int = 365, zone: str = "UTC", seed=1
) -> dict:
    """A year of usage for ``users`` written into the hubdesk database at ``url`` (migrated
    first; its usage tables emptied): sessions, per-day rows and running totals, the group
    days of ``GROUP`` (its ``members``), the hours and one coverage span. Returns counts and
    the seconds it took."""
    from hubdesk.db import Database
    from hubdesk.usage.days import day_of, day_start

    t0 = time.perf_counter()
    tz = ZoneInfo(zone)
    now = time.time()
    today = day_of(now, tz)
    first_day = today - days
    database = Database(url)
    database.upgrade()
    rnd = random.Random(seed)
    midnights = [day_start(day, tz) for day in range(first_day, today + 1)]
    group_days = defaultdict(lambda: [0, 0.0, 0])  # day -> [active members, seconds, started]
    hours = defaultdict(lambda: [0, 0, 0, 0])  # (hour, profile) -> [running, started, failed, _]
    counts = {"sessions": 0, "days": 0}
    raw = database.engine.raw_connection()
    try:
        cur = raw.cursor()
        if database.sqlite:  # hubdesk's engine leaves pysqlite in autocommit: one transaction
            cur.execute("BEGIN")
        for table in ("usage_sessions", "usage_days", "usage_group_days", "usage_hours",
                      "usage_coverage", "usage_activity"):  # fmt: skip
            cur.execute(f"DELETE FROM {table}")  # noqa: S608 (our own table names)
        for i in range(0, len(users), CHUNK):
            batch_s, batch_d = [], []
            for user in users[i : i + CHUNK]:
                s, d = person_year(rnd, user, first_day, midnights, now)
                batch_s += s
                batch_d += d
                if user in members:
                    for row in d:
                        g = group_days[row[1]]
                        g[0] += 1 if row[3] > 0 else 0
                        g[1] += row[2]
                        g[2] += 1
                for row in s:
                    start, end = row[4], row[7] if row[7] is not None else now
                    for profile in ("*", row[2]):
                        h = hours[int(start // 3600), profile]
                        h[1] += 1
                        h[2] += int(row[9])
                        for hour in range(int(start // 3600), int(end // 3600) + 1):
                            hours[hour, profile][0] += 1
            write(database, cur, "usage_sessions", SESSION_COLUMNS, batch_s)
            write(database, cur, "usage_days", DAY_COLUMNS, batch_d)
            counts["sessions"] += len(batch_s)
            counts["days"] += len(batch_d)
        write(
            database, cur, "usage_group_days",
            ("group_name", "day", "active_members", "server_seconds", "started"),
            [(GROUP, day, g[0], g[1], g[2]) for day, g in group_days.items()],
        )  # fmt: skip
        sweeps = 3600 // 300
        write(
            database, cur, "usage_hours",
            ("hour", "profile", "peak", "running_sum", "samples", "started", "failed"),
            [(hour, p, n, n * sweeps, sweeps, st, f) for (hour, p), (n, st, f, _) in hours.items()],
        )  # fmt: skip
        write(
            database, cur, "usage_coverage", ("started", "last", "sweeps"),
            [(now - days * 86400, now - 60, days * 288)],
        )  # fmt: skip
        raw.commit()
        cur.execute("ANALYZE")  # the planner's statistics, as after a year of real writes
        raw.commit()
    finally:
        raw.close()
        database.dispose()
    counts["seconds"] = round(time.perf_counter() - t0, 1)
    return counts


def write(database, cur, table: str, columns, rows) -> None:
    """Rows in bulk: COPY on PostgreSQL, executemany on SQLite."""
    if not rows:
        return
    names = ", ".join(f'"{c}"' for c in columns)
    if database.sqlite:
        marks = ", ".join("?" for _ in columns)
        insert = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 (constants)
        cur.executemany(insert, rows)
        return
    with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


# -- timing ------------------------------------------------------------------------------------


def first_views(st, session, page: str, repeat: int) -> dict:
    """Each sample a 90-day range not kept yet (ending ``k`` days ago): the uncached page."""
    series = Series("first view", st.direct + page)
    base = page.split("?")[0]
    today = dt.date.today()
    for k in range(1, repeat + 4):  # three to warm up the workers' code paths
        end = today - dt.timedelta(days=k)
        start = end - dt.timedelta(days=89)
        url = f"{st.direct}{base}?start={start}&end={end}"
        t0 = time.perf_counter()
        r = session.get(url, timeout=REQUEST_TIMEOUT)
        ms = (time.perf_counter() - t0) * 1000
        if r.status_code != 200:
            raise RuntimeError(f"{url}: {r.status_code} {r.text[:300]}")
        if k > 3:
            series.add(ms, len(r.content))
    return series.summary()


def run_database(st, label: str, pages: list[str], repeat: int) -> dict:
    proxied = sign_in(st)
    direct = direct_session(st, proxied)
    out = {"database": label, "pages": []}
    for page in pages:
        probe = direct.get(st.direct + page, timeout=REQUEST_TIMEOUT)
        if probe.status_code == 404:
            say(f"{page}: 404, skipped")
            continue
        if probe.status_code != 200:
            raise RuntimeError(f"{page}: {probe.status_code} {probe.text[:300]}")
        say(f"{label}: {page} …")
        row = {"page": page}
        if page.startswith("usage/groups/"):
            row["first_view"] = first_views(st, direct, page, repeat)
        again, hub = measure(
            [
                Calls(Series("again (kept 30 s)"), direct, [(st.direct + page, {})]),
                Calls(Series(f"hub GET /groups/{GROUP}"), st.api.s,
                      [(f"{st.hub.api_url}/groups/{GROUP}", {})]),
            ],
            repeat,
        )  # fmt: skip
        row["again"], row["hub_group"] = again, hub
        out["pages"].append(row)
    return out


def restart_gunicorn(st, url: str) -> None:
    st.server.stop()
    st.server.env["HUBDESK_DB_URL"] = url
    st.server.start()
    st.server.wait_listening()


def markdown(report: dict) -> list[str]:
    s = report["seeding"]
    sessions = (s.get("sqlite") or s.get("postgresql") or {}).get("sessions", 0)
    lines = [
        f"Seeded: {s['hub_users']:,} hub users, `{GROUP}` with {s['members']:,} members; "
        f"the record: {sessions:,} sessions over 365 days.",
        "",
    ]
    for db in ("sqlite", "postgresql"):
        if db in s:
            lines.append(f"- {db}: seeded in {s[db]['seconds']} s ({s[db]['days']:,} day rows)")
    lines += [
        "",
        f"Target: ≤ {TARGET_MS} ms of server time. Times in ms, straight at gunicorn.",
        "",
    ]
    rows = []
    for run in report["runs"]:
        for p in run["pages"]:
            for key in ("first_view", "again", "hub_group"):
                if key in p:
                    x = p[key]
                    times = [fmt(x[k]) for k in ("median_ms", "p95_ms", "max_ms")]
                    rows.append([run["database"], p["page"], x["label"], x["n"], *times])
    lines += table(["database", "page", "series", "n", "median", "p95", "max"], rows)
    lines += ["", *NOTES, "", f"The run took {report['run_seconds'] / 60:.1f} min."]
    return lines


def main(argv=None) -> int:
    ap = arguments(__doc__, repeat=20, quick_repeat=5)
    ap.add_argument("--users", type=int, help="users (10,000; quick 1,000)")
    ap.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--pages", nargs="*", default=PAGES, help="page paths to time")
    args = parse(ap, argv)
    args.users = args.users or (1000 if args.quick else 10000)
    started = time.perf_counter()
    work = Path(args.dir or tempfile.mkdtemp(prefix="hubdesk-bench-usage-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    sqlite_url = f"sqlite:///{work / 'usage.sqlite'}"
    try:
        with stack(args.dir, env={"HUBDESK_DB_URL": sqlite_url}) as st:
            report = run(args, st, sqlite_url, work)
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)
    report["run_seconds"] = round(time.perf_counter() - started, 1)
    write_report(args, "usage", report, markdown)
    return 0


def run(args, st, sqlite_url: str, work: Path) -> dict:
    machine = machine_info(st.api.version())
    n = sizes_for(args.users)
    say(f"seeding the hub: {args.users:,} users …")
    seeding = st.restart(lambda: seed_db(st.hub.root / "jupyterhub.sqlite", **n))
    seeding["hub_users"] = st.api.count("users")
    names = user_names(args.users)
    members = members_of(st)
    seeding["members"] = len(members)
    runs = []
    if args.db in ("sqlite", "both"):
        say("seeding the record on SQLite …")
        seeding["sqlite"] = seed_usage(sqlite_url, names, members)
        restart_gunicorn(st, sqlite_url)
        runs.append(run_database(st, "sqlite", args.pages, args.repeat))
    if args.db in ("postgresql", "both"):
        pg = test_helper("pgserver").PostgresServer(work / "pg")
        pg.start()
        try:
            url = pg.create_database(f"usage_{int(time.time())}")
            say("seeding the record on PostgreSQL …")
            seeding["postgresql"] = seed_usage(url, names, members)
            restart_gunicorn(st, url)
            runs.append(run_database(st, "postgresql", args.pages, args.repeat))
        finally:
            st.server.stop()
            pg.close()
    return {"machine": machine, "seeding": seeding, "runs": runs}


def members_of(st) -> set[str]:
    return set(st.api.get(f"/groups/{GROUP}")["users"])


if __name__ == "__main__":
    sys.exit(main())
