#!/usr/bin/env python
"""hubdesk's pages and actions against the raw hub API they need, on a big hub, in one run.

A real JupyterHub on loopback and hubdesk under gunicorn as the production image runs it
(harness.py). The hub is made big by writing its SQLite database directly (the hub
stopped), in steps, so that the same run shows how page costs grow:

  1. seeding: users, ``bench-0001``… groups with 0–5 random members and ``bench-big``,
     inserted into the hub's own tables; the totals are checked through the API
  2. server side: each page (via the proxy and direct to gunicorn) against the very hub
     calls it made, read from the hub's request log and replayed straight at the hub;
     the users, servers, groups, a user's and a group's pages, and a group's roster
  3. Chromium, the click → rows painted (bench_rows.py's measurement): hubdesk's users
     and groups pages against the hub's own admin page
  4. actions: adding ``bench-big``'s size of members through the group page's form
     against one raw call, and a group start through the roster against the API
  5. scaling: the server time of the pages at each size

Every number is a wall-clock time seen by a client on the same machine; nothing is asserted.

    python benchmarks/bench_anchors.py             # 10,000 users, 2,000 groups (~6 min)
    python benchmarks/bench_anchors.py --quick     # 1,000 users, 200 groups
"""

from __future__ import annotations

import datetime as dt
import html
import random
import re
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from harness import (
    PAGINATION_ACCEPT,
    REQUEST_TIMEOUT,
    Calls,
    Series,
    Stack,
    arguments,
    cpu_seconds,
    csrf_token,
    describe,
    direct_session,
    fmt,
    follow_job,
    job_url,
    machine_info,
    measure,
    parse,
    prewarm,
    ratio,
    raw_gets,
    say,
    sign_in,
    stack,
    table,
    write_report,
)
from hubdesk.devhub import PROFILES_FILE

BIG = "bench-big"
CLASS = "bench-class"  # the group started in step 4
USER_SEARCH = "user-12"  # unpadded names: user-12, -120…129, -1200…1299 (111 at 10,000)
SCALE_STEPS = (100, 1000, 10000)
SERVER_TARGET = 1.2  # hubdesk within 1.2x the raw hub calls (server side)
BROWSER_TARGET = 0.5  # hubdesk at most half the hub admin page's time to rows


def user_names(n: int) -> list[str]:
    return [f"bench-user-{i}" for i in range(1, n + 1)]


def group_names(n: int) -> list[str]:
    width = max(4, len(str(n)))
    return [f"bench-{i:0{width}d}" for i in range(1, n + 1)]


def sizes_for(users: int) -> dict:
    """A hub of ``users`` users: a fifth as many small groups, half of them in bench-big."""
    return {"users": users, "groups": max(1, users // 5), "big": max(1, users // 2)}


# -- 1. seeding the hub's database (the hub's tables; nothing of hubdesk's) -------------


def seed_db(db: Path, *, users: int, groups: int, big: int, seed: int = 1) -> dict:
    """Insert what is missing of users, small groups and bench-big, in one transaction.

    The rows the hub's API makes for a new user (``users``, the default ``user`` role in
    ``user_role_map``, the default server's row in ``spawners``), so that the hub starts
    without writing a row per user. bench-big is made again after new small groups, so
    that it stays last in the hub's id order. The hub must be stopped.
    """
    from jupyterhub import orm
    from sqlalchemy import create_engine, select

    users_t, groups_t = orm.User.__table__, orm.Group.__table__
    spawners_t, roles_t = orm.Spawner.__table__, orm.Role.__table__
    user_roles_t, members_t = orm._role_associations["user"].__table__, orm.user_group_map
    names = user_names(users)
    t0 = time.perf_counter()
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.begin() as conn:
            have = set(conn.execute(select(users_t.c.name)).scalars())
            new = [n for n in names if n not in have]
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)  # the hub stores naive UTC
            if new:
                conn.execute(
                    users_t.insert(),
                    [
                        {"name": n, "admin": False, "created": now, "cookie_id": uuid.uuid4().hex}
                        for n in new
                    ],
                )
            ids = dict(conn.execute(select(users_t.c.name, users_t.c.id)).all())
            role = conn.execute(select(roles_t.c.id).where(roles_t.c.name == "user")).scalar_one()
            if new:
                conn.execute(
                    user_roles_t.insert(),
                    [{"user_id": ids[n], "role_id": role, "managed_by_auth": False} for n in new],
                )
                conn.execute(
                    spawners_t.insert(),
                    [{"user_id": ids[n], "name": "", "display_name": ""} for n in new],
                )
            gids = dict(conn.execute(select(groups_t.c.name, groups_t.c.id)).all())
            new_groups = [g for g in group_names(groups) if g not in gids]
            if BIG in gids and new_groups:
                conn.execute(members_t.delete().where(members_t.c.group_id == gids[BIG]))
                conn.execute(groups_t.delete().where(groups_t.c.id == gids.pop(BIG)))
            if BIG not in gids:
                new_groups.append(BIG)
            if new_groups:
                conn.execute(groups_t.insert(), [{"name": g, "properties": {}} for g in new_groups])
            gids = dict(conn.execute(select(groups_t.c.name, groups_t.c.id)).all())
            pairs = []
            for g in new_groups:
                if g != BIG:
                    rng = random.Random(f"{seed}:{g}")  # the same members whatever the steps
                    for n in rng.sample(names, rng.randint(0, min(5, len(names)))):
                        pairs.append({"user_id": ids[n], "group_id": gids[g]})
            in_big = set(
                conn.execute(
                    select(members_t.c.user_id).where(members_t.c.group_id == gids[BIG])
                ).scalars()
            )
            pairs += [
                {"user_id": ids[n], "group_id": gids[BIG]}
                for n in names[:big]
                if ids[n] not in in_big
            ]
            if pairs:
                conn.execute(members_t.insert(), pairs)
    finally:
        engine.dispose()
    return {
        "users_inserted": len(new),
        "groups_inserted": len(new_groups),
        "memberships_inserted": len(pairs),
        "seconds": round(time.perf_counter() - t0, 2),
    }


# -- 2. server side: each page against the hub calls it made --------------------------------


@dataclass
class Case:
    key: str
    page: str
    path: str
    fallback: str = ""  # a raw call when the page makes none on warm caches
    why: str = ""
    hidden: dict | None = None  # values the hub's log hides (harness.raw_gets)
    concurrency: int = 1  # the raw side's calls at a time after the first (hubdesk's: 8)


def cases(n: dict) -> list[Case]:
    gq = "bench-19" if n["groups"] >= 2000 else "bench-01"
    no_call = "no hub call on a warm cache: compared with the one call the page would need"
    return [
        Case("users", "users list", "users/?limit=50"),
        Case("users-search", f"user search `{USER_SEARCH}`", f"users/?q={USER_SEARCH}"),
        Case("servers", "running servers", "servers/?limit=50", hidden={"state": "active"}),
        Case("groups", "group list", "groups/?limit=50", "/groups?limit=50", no_call),
        Case(
            "groups-search", f"group search `{gq}`", f"groups/?q={gq}", "/groups?limit=50", no_call
        ),
        Case("user", "a user's page", "users/bench-user-1"),
        Case("group-big", f"a {n['big']:,}-member group's page", f"groups/{BIG}"),
        Case(
            "roster",
            f"roster of {BIG}, first page",
            f"groups/{BIG}/servers?rlimit=50",
            concurrency=8,
        ),
        Case(
            "roster-far",
            f"roster of {BIG}, its last page",
            f"groups/{BIG}/servers?rlimit=50&roffset={max(0, n['big'] - 50)}",
            concurrency=8,
        ),
        Case("roster-small", "roster of a small group", "groups/bench-0001/servers", concurrency=8),
    ]


def server_side(st: Stack, proxied, direct, raw, all_cases: list[Case], repeat: int) -> list:
    hub_calls = st.hub_calls()
    raw_proxy = raw.__class__()
    raw_proxy.headers.update(raw.headers)
    rows = []
    for case in all_cases:
        calls = hub_calls.of(direct, st.direct + case.path)
        for c in calls:  # what the hub's log hid, as the page sent it
            for key, value in (case.hidden or {}).items():
                c["path"] = c["path"].replace(f"{key}=[secret]", f"{key}={value}")
        gets = raw_gets(calls, st.hub.api_url)
        why = "the same calls the page made"
        if not gets and case.fallback:
            paged = {"Accept": PAGINATION_ACCEPT}
            gets, why = [(st.hub.api_url + case.fallback, paged)], case.why
        say(f"{case.key}) {case.path}: hub calls {describe(calls)}")
        targets = [
            Calls(Series("hubdesk via proxy"), proxied, [(st.base + case.path, {})]),
            Calls(Series("hubdesk direct"), direct, [(st.direct + case.path, {})]),
        ]
        if gets:
            via_proxy = [
                (u.replace(st.hub.api_url, st.hub.public_url + "/hub/api"), h) for u, h in gets
            ]
            targets += [
                Calls(Series("raw, hub port"), raw, gets, case.concurrency),
                Calls(Series("raw via proxy"), raw_proxy, via_proxy, case.concurrency),
            ]
        s = measure(targets, repeat)
        row = {
            "key": case.key,
            "page": case.page,
            "path": case.path,
            "hub_calls": calls,
            "hub_calls_described": describe(calls),
            "raw_why": why,
            "hubdesk_proxy": s[0],
            "hubdesk_direct": s[1],
            "raw": s[2] if gets else None,
            "raw_proxy": s[3] if gets else None,
        }
        row["ratio_direct"] = ratio(s[1]["median_ms"], gets and s[2]["median_ms"])
        row["ratio_proxy"] = ratio(s[0]["median_ms"], gets and s[3]["median_ms"])
        say(
            f"   hubdesk {fmt(s[0]['median_ms'])} (proxy) / {fmt(s[1]['median_ms'])} (direct) ms;"
            f" raw {fmt(gets and s[3]['median_ms'])} / {fmt(gets and s[2]['median_ms'])} ms"
        )
        rows.append(row)
    return rows


def scaling_row(st: Stack, direct, raw, n: dict, repeat: int) -> dict:
    pages = {c.key: c.path for c in cases(n) if c.key not in ("roster-far", "roster-small")}
    targets = [
        Calls(Series(key, st.direct + p), direct, [(st.direct + p, {})]) for key, p in pages.items()
    ]
    for label, p, h in (
        ("raw GET /users?limit=50", "/users?limit=50", {"Accept": PAGINATION_ACCEPT}),
        (f"raw GET /groups/{BIG}", f"/groups/{BIG}", {}),
    ):
        targets.append(Calls(Series(label), raw, [(st.hub.api_url + p, h)]))
    return {"size": n, "series": {s["label"]: s for s in measure(targets, repeat)}}


# -- 4. actions ----------------------------------------------------------------------------


def bulk_add(st: Stack, session, names: list[str]) -> list[dict]:
    """Paste the names into a group page's "Add members" form, as a person (through the
    proxy; the preview confirmed if shown; a change that outlasts hubdesk's wait is followed
    on its job page); then the same names in one raw ``POST /groups/{g}/users``."""
    api = st.api
    out = []
    group = "bench-bulk-hubdesk"
    api.ensure_group(group)
    page_url = f"{st.base}groups/{group}"
    page = session.get(page_url, timeout=REQUEST_TIMEOUT)
    t0 = time.perf_counter()
    r = session.post(
        f"{page_url}/add",
        data={"csrf_token": csrf_token(page.text), "names": "\n".join(names)},
        files={"csv": ("", b"", "application/octet-stream")},
        timeout=(5, 900),
    )
    if r.status_code == 200 and 'data-testid="unknown"' in r.text:
        found = re.search(r'<input[^>]*name="names"[^>]*value="([^"]*)"', r.text)
        data = {"csrf_token": csrf_token(r.text), "confirm": "yes"}
        data["names"] = html.unescape(found.group(1)) if found else "[]"
        r = session.post(f"{page_url}/add", data=data, timeout=(5, 900))
    answered = time.perf_counter() - t0
    if "/jobs/" in r.url:
        follow_job(session, r.url)
    while api.members(group) < len(names) and time.perf_counter() - t0 < 900:
        time.sleep(0.5)
    out.append(
        {
            "how": "hubdesk form via the proxy",
            "status": r.status_code,
            "answer_s": round(answered, 2),
            "followed_on_a_job_page": "/jobs/" in r.url,
            "all_in_the_hub_s": round(time.perf_counter() - t0, 2),
            "members_after": api.members(group),
        }
    )
    group = "bench-bulk-raw"
    api.ensure_group(group)
    t0 = time.perf_counter()
    api.call("POST", f"/groups/{group}/users", json={"users": names})
    took = round(time.perf_counter() - t0, 2)
    out.append(
        {
            "how": "raw API, one call",
            "answer_s": took,
            "all_in_the_hub_s": took,
            "members_after": api.members(group),
        }
    )
    for x in ("bench-bulk-hubdesk", "bench-bulk-raw"):
        api.call("DELETE", f"/groups/{x}", ok=(204, 404))
    return out


def group_start(st: Stack, session, members: list[str], concurrency: int = 5) -> list[dict]:
    """Start the named server ``lab`` (profile small) for a group through the roster's
    form (review, confirm, then the job page until done), then through the API
    (``concurrency`` at a time, each followed until ready); the servers are stopped after."""
    api = st.api
    api.ensure_group(CLASS, members)
    pids = [st.server.process.pid, *st.server.worker_pids()]
    out = []
    url = f"{st.base}groups/{CLASS}/servers"
    page = session.get(url, timeout=REQUEST_TIMEOUT)
    form = {"csrf_token": csrf_token(page.text), "action": "start", "server": "lab"}
    form["profile"] = "small"
    cpu0, t0 = cpu_seconds(pids), time.perf_counter()
    r = session.post(url, data=form, timeout=REQUEST_TIMEOUT)
    if 'name="confirm" value="yes"' not in r.text:
        raise RuntimeError(f"no confirmation page: {r.status_code} {r.text[:300]}")
    r = session.post(url, data=dict(form, confirm="yes"), timeout=60, allow_redirects=False)
    if r.status_code != 302:
        raise RuntimeError(f"the confirmation did not lead to a job: {r.status_code}")
    text, polls = follow_job(session, job_url(url, r))
    took = time.perf_counter() - t0
    outcomes = re.findall(r'data-outcome="([^"]+)"', text)
    out.append(
        {
            "how": "hubdesk group start (confirm → job done)",
            "total_s": round(took, 2),
            "job_page_polls": polls,
            "outcomes": {o: outcomes.count(o) for o in sorted(set(outcomes))},
            "hubdesk_cpu_percent": round(100 * (cpu_seconds(pids) - cpu0) / took, 1),
            "cleanup_s": api.stop_many([(m, "lab") for m in members]),
        }
    )
    t0 = time.perf_counter()
    started = api.start_many([(m, "lab") for m in members], {"profile": "small"}, concurrency)
    took = time.perf_counter() - t0
    out.append(
        {
            "how": f"API, {concurrency} at a time, each followed until ready",
            "total_s": round(took, 2),
            "outcomes": {"started": sum(s["ok"] for s in started)},
            "cleanup_s": api.stop_many([(m, "lab") for m in members]),
        }
    )
    return out


# -- 3. Chromium ------------------------------------------------------------------------------


def browser(st: Stack, repeat: int) -> dict:
    import bench_rows

    raw = bench_rows.measure(st.hub.public_url, st.hub.password, repeat=repeat, starts=("within",))
    return bench_rows.summarise(raw)


# -- the report --------------------------------------------------------------------------------


def met(r: float | None, target: float) -> str:
    return "—" if r is None else ("met" if r <= target else "missed")


def summary(report: dict) -> list[list]:
    rows = []
    for r in report["server_side"]:
        raw = r["raw"]
        what = r["hub_calls_described"] if raw and r["hub_calls"] else r["raw_why"]
        rows.append(
            [
                f"{r['page']} `{r['path']}`",
                fmt(r["hubdesk_direct"]["median_ms"]),
                f"{fmt(raw and raw['median_ms'])} ({what})",
                f"{r['ratio_direct']}×" if r["ratio_direct"] else "—",
                f"≤ {SERVER_TARGET}×",
                met(r["ratio_direct"], SERVER_TARGET),
            ]
        )
    pages = report.get("browser") or {}
    for what in ("users", "groups"):
        h = pages.get(f"hubdesk {what} | within | console")
        a = pages.get(f"hub admin {what} | within | console")
        if h and a:
            q = ratio(h["wall"]["median_ms"], a["wall"]["median_ms"])
            rows.append(
                [
                    f"{what} page in Chromium, a click → rows painted (wall clock)",
                    fmt(h["wall"]["median_ms"]),
                    f"{fmt(a['wall']['median_ms'])} (the hub's admin page `{a['url']}`)",
                    f"{q}×",
                    f"≤ {BROWSER_TARGET}×",
                    met(q, BROWSER_TARGET),
                ]
            )
    actions = (
        (
            "bulk_add",
            "all_in_the_hub_s",
            f"add {report['size']['big']:,} members (the form, through the proxy), s",
            "one `POST /groups/{g}/users`",
        ),
        (
            "group_start",
            "total_s",
            f"start `lab` for a {report.get('members_started')}-member group, s",
            "the API, 5 at a time, each followed until ready",
        ),
    )
    for key, seconds, what, raw_what in actions:
        pair = report.get(key) or []
        if len(pair) == 2:
            ours, theirs = pair[0][seconds], pair[1][seconds]
            rows.append(
                [
                    what,
                    f"{ours:.2f}",
                    f"{theirs:.2f} ({raw_what})",
                    f"{ratio(ours, theirs)}×",
                    "",
                    "",
                ]
            )
    return rows


def markdown(report: dict) -> list[str]:
    n = report["size"]
    lines = [
        f"A hub of {n['users']:,} users, {n['groups']:,} small groups and `{BIG}` with "
        f"{n['big']:,} members, seeded into the hub's database; hubdesk under gunicorn (the "
        "image's command), signed in as the hub admin through the hub's login form. Medians "
        f"of {report['params']['repeat']} requests a series (ms unless said), wall clock at "
        "the client; hubdesk direct to gunicorn against the same hub calls straight at the "
        "hub's port. Which hub calls a page made is read from the hub's own request log.",
        "",
        "## Summary",
        "",
        *table(
            ["page or action", "hubdesk", "raw hub API / hub page", "ratio", "target", ""],
            summary(report),
        ),
        "",
        "## Seeding",
        "",
        *table(
            ["users / groups / big", "inserted users / groups / memberships", "s", "hub start s"],
            [
                [
                    f"{s['size']['users']:,} / {s['size']['groups']:,} / {s['size']['big']:,}",
                    f"{s['users_inserted']:,} / {s['groups_inserted']:,} / "
                    f"{s['memberships_inserted']:,}",
                    s["seconds"],
                    s["hub_start_s"],
                ]
                for s in report["seeding"]
            ],
        ),
        "",
        "## Server side, through the proxy and direct",
        "",
        *table(
            [
                "page",
                "hub calls it made",
                "hubdesk proxy",
                "hubdesk direct",
                "raw proxy",
                "raw hub port",
                "ratio proxy",
                "ratio direct",
            ],
            [
                [
                    f"`{r['path']}`",
                    r["hub_calls_described"],
                    fmt(r["hubdesk_proxy"]["median_ms"]),
                    fmt(r["hubdesk_direct"]["median_ms"]),
                    fmt(r["raw_proxy"] and r["raw_proxy"]["median_ms"]),
                    fmt(r["raw"] and r["raw"]["median_ms"]),
                    r["ratio_proxy"] or "—",
                    r["ratio_direct"] or "—",
                ]
                for r in report["server_side"]
            ],
        ),
        "",
        "Not on the raw side: hubdesk's calls made now and then (its identity and scope "
        "caches, the background refresh of its group list).",
        "",
        "## Scaling: server time direct to gunicorn, by hub size",
        "",
    ]
    scaling = report["scaling"]
    if scaling:
        labels = list(scaling[0]["series"])
        lines += table(
            ["series", *[f"{s['size']['users']:,} users" for s in scaling]],
            [[label, *[fmt(s["series"][label]["median_ms"]) for s in scaling]] for label in labels],
        )
    return lines


def main(argv=None) -> int:
    ap = arguments(__doc__, repeat=30, quick_repeat=5)
    ap.add_argument("--users", type=int, help="users (10,000; quick 1,000)")
    ap.add_argument("--browser-repeat", type=int, help="navigations a page (15; quick 3)")
    ap.add_argument("--class-size", type=int, help="members started together (50; quick 10)")
    ap.add_argument("--no-browser", action="store_true", help="skip Chromium")
    ap.add_argument("--no-actions", action="store_true", help="skip the bulk add and group start")
    args = parse(ap, argv)
    args.users = args.users or (1000 if args.quick else 10000)
    args.browser_repeat = args.browser_repeat or (3 if args.quick else 15)
    args.class_size = args.class_size or (10 if args.quick else 50)
    env = {"HUBDESK_PROFILES": str(PROFILES_FILE)}
    started = time.perf_counter()
    with stack(args.dir, env=env) as st:
        report = run(args, st)
    report["run_seconds"] = round(time.perf_counter() - started, 1)
    write_report(args, "anchors", report, markdown)
    return 0


def run(args, st: Stack) -> dict:
    api = st.api
    machine = machine_info(api.version())
    db = st.hub.root / "jupyterhub.sqlite"
    steps = [s for s in SCALE_STEPS if s < args.users] + [args.users]
    seeding, scaling = [], []
    proxied = direct = None
    for size in steps:
        n = sizes_for(size)
        say(f"seeding {n['users']:,} users, {n['groups']:,} groups, {BIG} with {n['big']:,} …")
        out = st.restart(lambda n=n: seed_db(db, **n))
        seeding.append({"size": n, **out, "hub_users": api.count("users")})
        proxied = sign_in(st, page="users/")
        direct = direct_session(st, proxied)
        prewarm(st, proxied, ["groups/?limit=50", "users/?limit=50"])
        say(f"scaling at {size:,} users: {args.repeat} requests a series …")
        scaling.append(scaling_row(st, direct, api.s, n, args.repeat))
    n = sizes_for(args.users)
    say("starting 20 default servers, for the servers page and the roster …")
    api.start_many([(u, "") for u in user_names(20)], {"profile": "small"}, 5)
    all_cases = cases(n)
    prewarm(st, proxied, [c.path for c in all_cases])
    report = {
        "machine": machine,
        "size": n,
        "seeding": seeding,
        "server_side": server_side(st, proxied, direct, api.s, all_cases, args.repeat),
        "scaling": scaling,
    }
    if not args.no_browser:
        say(f"Chromium: {args.browser_repeat} navigations a page …")
        report["browser"] = browser(st, args.browser_repeat)
    if not args.no_actions:
        say(f"bulk add of {n['big']:,} members …")
        report["bulk_add"] = bulk_add(st, proxied, user_names(n["big"]))
        members = user_names(n["users"])[100 : 100 + args.class_size]
        say(f"group start for {len(members)} members …")
        report["members_started"] = len(members)
        report["group_start"] = group_start(st, proxied, members)
    api.stop_many([(u, "") for u in user_names(20)])
    return report


if __name__ == "__main__":
    sys.exit(main())
