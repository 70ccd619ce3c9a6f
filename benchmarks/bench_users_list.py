#!/usr/bin/env python
"""The users list at 10,000 users, sorted and filtered, against the hub calls it needs.

A hub of 10,000 users (seeded in its database, as bench_anchors.py does), a third of them
active at some time in the last 400 days, a third never active, 20 of them hub admins.
For each question the users list answers (sorted by name both ways, by last activity both
ways, inactive since a date, its fifth page, a name search, hub admins), hubdesk's page
(direct at gunicorn, and through the hub's proxy) is timed against the same hub calls made
straight at the hub with the service token, interleaved: the calls are read from the hub's
own request log (harness.HubCalls), not assumed.

The admin filter is the exception the list documents: the hub cannot filter by admin, so
the first view reads the whole list (a count, then every page of 200, 8 at a time) and
keeps it 30 s. Timed twice: the first view (each sample with a fresh sign-in, so nothing is
kept) against the same scan made straight at the hub, and a later page (kept).

    python benchmarks/bench_users_list.py            # 10,000 users, 20 samples (~4 min)
    python benchmarks/bench_users_list.py --quick    # 1,000 users, 5 samples
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time

from bench_anchors import Case, seed_db, server_side, sizes_for, user_names
from harness import (
    PAGINATION_ACCEPT,
    REQUEST_TIMEOUT,
    Calls,
    Series,
    arguments,
    direct_session,
    fmt,
    machine_info,
    parse,
    ratio,
    say,
    sign_in,
    stack,
    table,
    write_report,
)

TARGET = 1.2
ADMINS = 20
SINCE_DAYS = 200  # "inactive since" this many days ago


def seed_activity(db, users: int) -> dict:
    """Last activity and the admin flag, written in the hub's database (the hub stopped):
    user i active ``i % 400`` days ago when i % 3 == 0, never when i % 3 == 1, else a year
    and more ago; every (users // ADMINS)-th an admin."""
    from jupyterhub import orm
    from sqlalchemy import bindparam, create_engine, update

    users_t = orm.User.__table__
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    names = user_names(users)
    engine = create_engine(f"sqlite:///{db}")
    t0 = time.perf_counter()
    try:
        with engine.begin() as conn:
            rows = []
            for i, name in enumerate(names, 1):
                kind = i % 3
                seen = None if kind == 1 else now - dt.timedelta(days=(i % 400) + 400 * (kind == 2))
                rows.append({"n": name, "seen": seen, "admin": i % (users // ADMINS) == 0})
            stmt = (
                update(users_t)
                .where(users_t.c.name == bindparam("n"))
                .values(last_activity=bindparam("seen"), admin=bindparam("admin"))
            )
            conn.execute(stmt, rows)
    finally:
        engine.dispose()
    return {"activity_s": round(time.perf_counter() - t0, 2)}


def cases(since: str) -> list[Case]:
    return [
        Case("name", "by name (A to Z)", "users/?sort=name"),
        Case("-name", "by name (Z to A)", "users/?sort=-name"),
        Case("last_activity", "by last activity, oldest first", "users/?sort=last_activity"),
        Case("-last_activity", "by last activity, newest first", "users/?sort=-last_activity"),
        Case("inactive", f"inactive since {since}", f"users/?inactive_since={since}"),
        Case(
            "inactive-far",
            f"inactive since {since}, page 5",
            f"users/?inactive_since={since}&offset=200",
        ),
        Case("search", "name search `user-12`", "users/?q=user-12&sort=-last_activity"),
        Case(
            "admins-kept",
            "hub admins, a later view (the reading kept)",
            "users/?admin=yes",
            f"/users?sort=name&include_stopped_servers=1&limit={ADMINS}",
            "kept: no hub call (but a new scan every 30 s, in the p95); compared with one page "
            "of as many users",
        ),
    ]


def admin_scan(st, users: int, repeat: int) -> dict:
    """The admin filter's first view: each sample signed in anew (nothing kept), against
    the same scan straight at the hub (a count, then every page of 200, 8 at a time)."""
    paged = {"Accept": PAGINATION_ACCEPT}
    q = "sort=name&include_stopped_servers=1"
    calls = [(f"{st.hub.api_url}/users?{q}&offset=0&limit=1", paged)]
    calls += [
        (f"{st.hub.api_url}/users?{q}&offset={o}&limit=200", paged) for o in range(0, users, 200)
    ]
    raw = Calls(Series("raw scan"), st.api.s, calls, concurrency=8)
    ours, theirs = [], []
    for _ in range(repeat):
        session = sign_in(st, page="users/")
        direct = direct_session(st, session)
        t0 = time.perf_counter()
        r = direct.get(st.direct + "users/?admin=yes", timeout=REQUEST_TIMEOUT)
        ours.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200 or r.text.count("<tr data-user=") != ADMINS + 1:  # + "admin"
            raise RuntimeError(f"admin filter: {r.status_code}, {r.text.count('<tr data-user=')}")
        theirs.append(raw.hit()[0])
    a, b = statistics.median(ours), statistics.median(theirs)
    return {
        "calls": len(calls),
        "hubdesk_ms": round(a, 1),
        "raw_ms": round(b, 1),
        "ratio": ratio(a, b),
        "samples": [round(x, 1) for x in ours],
    }


def markdown(report: dict) -> list[str]:
    rows = []
    for r in report["server_side"]:
        raw = r["raw"]
        what = r["hub_calls_described"] if raw and r["hub_calls"] else r["raw_why"]
        verdict = "met" if r["ratio_direct"] and r["ratio_direct"] <= TARGET else "missed"
        rows.append(
            [
                f"{r['page']} `{r['path']}`",
                fmt(r["hubdesk_direct"]["median_ms"]),
                fmt(r["hubdesk_proxy"]["median_ms"]),
                f"{fmt(raw and raw['median_ms'])} ({what})",
                f"{r['ratio_direct']}×" if r["ratio_direct"] else "—",
                verdict,
            ]
        )
    s = report["admin_scan"]
    rows.append(
        [
            "hub admins, the first view (a scan)",
            fmt(s["hubdesk_ms"]),
            "—",
            f"{fmt(s['raw_ms'])} ({s['calls']} × `GET /users`, 8 at a time)",
            f"{s['ratio']}×",
            "met" if s["ratio"] and s["ratio"] <= TARGET else "missed",
        ]
    )
    n = report["seeding"]
    return [
        f"A hub of {n['hub_users']:,} users ({ADMINS + 1} admins, “admin” among them; a third "
        "active in the last 400 days, a third never, a third more than a year ago); hubdesk "
        "under gunicorn with the image's command, signed in as the hub admin. "
        f"{report['params']['repeat']} samples a series after 3 warm-up rounds, interleaved; "
        "ms, medians. *direct*: at gunicorn's port; *proxy*: through the hub's proxy, as a "
        "person. The raw side: the hub calls the page made (read from the hub's log), made "
        f"straight at the hub's port with the service token. Target: ≤ {TARGET}×.",
        "",
        *table(
            ["page", "hubdesk direct", "hubdesk proxy", "raw hub calls", "ratio", "target"], rows
        ),
        "",
        "The admin filter's first view reads every user (the hub cannot filter by admin): "
        f"{fmt(s['hubdesk_ms'])} ms for {n['hub_users']:,} users (samples "
        f"{', '.join(fmt(x) for x in s['samples'])}); later views and pages within 30 s cost "
        "no hub call. Combined with “inactive since”, only the inactive accounts are read.",
        "",
        f"The run took {report['run_seconds'] / 60:.1f} min.",
    ]


def main(argv=None) -> int:
    ap = arguments(__doc__, repeat=20, quick_repeat=5)
    ap.add_argument("--users", type=int, help="users (10,000; quick 1,000)")
    args = parse(ap, argv)
    args.users = args.users or (1000 if args.quick else 10000)
    started = time.perf_counter()
    with stack(args.dir) as st:
        report = run(args, st)
    report["run_seconds"] = round(time.perf_counter() - started, 1)
    write_report(args, "users_list", report, markdown)
    return 0


def run(args, st) -> dict:
    api = st.api
    machine = machine_info(api.version())
    db = st.hub.root / "jupyterhub.sqlite"
    n = sizes_for(args.users)
    say(f"seeding {args.users:,} users …")

    def between():
        out = seed_db(db, **n)
        out.update(seed_activity(db, args.users))
        return out

    seeding = st.restart(between)
    seeding["hub_users"] = api.count("users")
    proxied = sign_in(st, page="users/")
    direct = direct_session(st, proxied)
    since = (dt.date.today() - dt.timedelta(days=SINCE_DAYS)).isoformat()
    all_cases = cases(since)
    for c in all_cases:
        direct.get(st.direct + c.path, timeout=REQUEST_TIMEOUT)
    report = {
        "machine": machine,
        "seeding": seeding,
        "server_side": server_side(st, proxied, direct, api.s, all_cases, args.repeat),
    }
    say("the admin filter's first view …")
    report["admin_scan"] = admin_scan(st, seeding["hub_users"], max(3, args.repeat // 4))
    return report


if __name__ == "__main__":
    sys.exit(main())
