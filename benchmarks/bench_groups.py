#!/usr/bin/env python
"""Benchmark hubdesk's group pages side by side with the raw hub API calls they need.

Starts a real JupyterHub on loopback (``hubdesk.devhub.LocalHub``) and hubdesk under
gunicorn, exactly as the production image runs it, registered with the hub as an
external service. Seeds users and groups through the hub's API, signs in as the
hub admin through the hub's login form and OAuth, then times:

  a) the group list ``groups/?limit=50``       vs ``GET /hub/api/groups?limit=50``
  b) a group search ``groups/?q=bench-19``      vs the same one raw call
  c) a big group's page ``groups/bench-big``    vs ``GET /hub/api/groups/bench-big``
  d) the cold cost of the list: one refresh of hubdesk's group cache, i.e.
     ``HubClient.iter_groups()`` over every group, and the bytes it reads

hubdesk pages are timed through the hub's proxy (the browser's path) and direct
to gunicorn; raw hub calls go straight to the hub's own port. Every number is a
wall-clock time seen by a ``requests`` client on the same machine. Nothing is
asserted about the timings: this is a measurement, not a test.

    python benchmarks/bench_groups.py                  # the issue's numbers
    python benchmarks/bench_groups.py --quick          # a fast check
    python benchmarks/bench_groups.py --groups 500 --big 1000 --repeat 20 --dir /tmp/bench

See benchmarks/README.md for how to read the output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from _common import (
    HERE,
    PREFIX,
    SEED_TIMEOUT,
    USER_CHUNK,
    WARMUP,
    Gunicorn,
    Series,
    Target,
    bench_root,
    breakdown_markdown,
    breakdown_pages,
    fmt,
    gunicorn_settings,
    hub_and_hubdesk,
    machine_info,
    machine_line,
    measure,
    say,
    session_cookie,
    sign_in,
    time_calls,
)
from hubdesk.devhub import LocalHub
from hubdesk.hub import PAGINATION_ACCEPT, HubAPIError, HubClient

BIG = "bench-big"
SEED_WORKERS = 8

# -- seeding -----------------------------------------------------------------------


def user_names(n: int) -> list[str]:
    width = max(5, len(str(n)))
    return [f"bench-user-{i:0{width}d}" for i in range(1, n + 1)]


def group_names(n: int) -> list[str]:
    width = max(4, len(str(n)))
    return [f"bench-{i:0{width}d}" for i in range(1, n + 1)]


def total(api: HubClient, what: str) -> int:
    return api.count(what) or 0


def seed(api: HubClient, *, n_users: int, n_groups: int, rng: random.Random) -> dict:
    """Users, small groups and one big group, through the hub's API. Idempotent."""
    times = {}
    users = user_names(n_users)

    t0 = time.perf_counter()
    if total(api, "users") >= n_users + 1:  # + the admin
        say(f"  users: {n_users} already there")
    else:
        for i in range(0, len(users), USER_CHUNK):
            chunk = users[i : i + USER_CHUNK]
            c0 = time.perf_counter()
            try:
                api.create_users(chunk)
            except HubAPIError as e:
                if e.status != 409:  # 409: every one of them exists already
                    raise
            say(f"  users {i + 1}-{i + len(chunk)}: {time.perf_counter() - c0:.1f} s")
    times["users_s"] = time.perf_counter() - t0
    say(f"  {n_users} users: {times['users_s']:.1f} s")

    groups = group_names(n_groups)
    members = {g: rng.sample(users, rng.randint(0, min(5, len(users)))) for g in groups}

    def make(name):
        try:
            api.create_group(name, members[name])
        except HubAPIError as e:
            if e.status != 409:
                raise

    t0 = time.perf_counter()
    if total(api, "groups") >= n_groups + 1:
        say(f"  groups: {n_groups} already there")
    else:
        with ThreadPoolExecutor(max_workers=SEED_WORKERS) as pool:
            for _ in pool.map(make, groups):
                pass
    times["groups_s"] = time.perf_counter() - t0
    say(
        f"  {n_groups} groups with 0-5 members each ({SEED_WORKERS} threads): "
        f"{times['groups_s']:.1f} s"
    )

    t0 = time.perf_counter()
    try:
        api.create_group(BIG)
    except HubAPIError as e:
        if e.status != 409:
            raise
    for i in range(0, len(users), USER_CHUNK):
        api.add_group_members(BIG, users[i : i + USER_CHUNK])
    times["big_group_s"] = time.perf_counter() - t0
    say(f"  {BIG} with {n_users} members: {times['big_group_s']:.1f} s")
    times["total_s"] = sum(times.values())
    return {k: round(v, 2) for k, v in times.items()}


# -- signing in --------------------------------------------------------------------


def cold_refresh(api_url: str, token: str, repeat: int) -> dict:
    """What one refresh of hubdesk's group cache costs: iter_groups() over every group."""
    from hubdesk.groups.directory import GroupDirectory

    client = HubClient(api_url, token)
    counted = {"bytes": 0, "requests": 0}

    def count(r, *args, **kwargs):
        counted["bytes"] += len(r.content)
        counted["requests"] += 1

    client.session.hooks["response"].append(count)

    groups = list(client.iter_groups())  # a warm-up, and the numbers of one refresh
    counted.update(bytes=0, requests=0)
    groups = list(client.iter_groups())
    payload, calls = counted["bytes"], counted["requests"]
    biggest = max(groups, key=lambda g: len(g.get("users") or ()))

    series = Series("HubClient.iter_groups() (all groups)", f"{api_url}/groups (paged)")
    series.times = time_calls(lambda: list(client.iter_groups()), repeat, warmup=0)
    series.sizes = [payload] * len(series.times)

    # the whole refresh as GroupDirectory does it (iter_groups + count + sort)
    directory = GroupDirectory(0)
    refresh = Series("GroupDirectory.entries() refresh", "")
    refresh.times = time_calls(lambda: directory.entries(client), max(3, repeat // 3), warmup=0)
    refresh.sizes = [payload] * len(refresh.times)

    # the same refresh without the group bigger than all others
    no_big = sum(len(json.dumps(g)) for g in groups if g is not biggest)
    return {
        "iter_groups": series,
        "directory_refresh": refresh,
        "groups": len(groups),
        "requests": calls,
        "bytes": payload,
        "bytes_without_biggest_group": no_big,
        "biggest_group": {"name": biggest["name"], "members": len(biggest.get("users") or ())},
    }


# -- where a hubdesk page spends its time (in this process) -------------------------


def breakdown(env: dict, cookie: str, paths: dict, repeat: int) -> dict:
    """Time the parts of each page with the app in this process (no app code changed).

    The same settings as the gunicorn workers, a Flask test client with the admin's
    session cookie, and timing wrappers around the hub client, the group cache,
    reachable_groups(), the search and the template. Also a cProfile of the group list.
    """
    from hubdesk.groups import directory as directory_mod
    from hubdesk.groups import views

    parts = [
        (HubClient, "request", "hub API calls"),
        (directory_mod.GroupDirectory, "entries", "group cache (entries)"),
        (views, "reachable_groups", "reachable_groups()"),
        (views, "search", "search()"),
        (views, "render_template", "render_template()"),
    ]
    # a profile of the group list and the big group, warm cache, without the wrappers
    return breakdown_pages(env, cookie, paths, repeat, parts, profile_keys=("a", "c"))


# -- reporting ---------------------------------------------------------------------


def markdown(report: dict) -> str:
    p, m = report["params"], report["machine"]
    lines = [
        f"# hubdesk group pages vs raw hub API calls ({report['date']})",
        "",
        f"{p['groups']:,} groups `bench-…` with 0–5 members each, plus `{BIG}` with "
        f"{p['big']:,} members ({p['users']:,} users); {p['repeat']} timed requests per "
        f"row after {WARMUP} warm-up requests. hubdesk under gunicorn "
        f"({p['gunicorn_workers']} gevent workers, group cache "
        f"{p['group_cache_seconds']:g} s), signed in as the hub admin. Times in ms, "
        "wall clock at the client. Ratio = hubdesk median / raw median.",
        "",
        machine_line(m),
        "",
        "| page | hubdesk median | p95 | raw hub call | raw median | ratio |",
        "|---|---:|---:|---|---:|---:|",
    ]
    for row in report["results"]:
        raw = row["raw"]
        for via, key in (("via proxy", "hubdesk_proxy"), ("direct to gunicorn", "hubdesk_direct")):
            h = row[key]
            lines.append(
                f"| {row['id']}) {row['page']} — {via} | {fmt(h['median_ms'])} | "
                f"{fmt(h['p95_ms'])} | {row['raw_call']} | {fmt(raw['median_ms'])} | "
                f"{h['median_ms'] / raw['median_ms']:.1f}× |"
            )
    cold = report["cold"]
    it = cold["iter_groups"]
    raw = report["results"][0]["raw"]
    lines.append(
        f"| d) cold list: cache refresh `iter_groups()` ({cold['groups']:,} groups, "
        f"{cold['requests']} calls, {cold['bytes'] / 1024:,.0f} KiB) | {fmt(it['median_ms'])} | "
        f"{fmt(it['p95_ms'])} | {report['results'][0]['raw_call']} | {fmt(raw['median_ms'])} | "
        f"{it['median_ms'] / raw['median_ms']:.1f}× |"
    )
    lines += [
        "",
        "A cold `groups/` page costs about the refresh plus a warm page: "
        f"≈ {fmt(it['median_ms'] + report['results'][0]['hubdesk_proxy']['median_ms'])} ms "
        "through the proxy. Each gunicorn worker keeps its own cache, so each pays it "
        f"once per {p['group_cache_seconds']:g} s (and after each change it makes).",
        "",
        "## Every series",
        "",
        "| series | n | min | median | p95 | max | slow (>3× median) | bytes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    every = []
    for row in report["results"]:
        for key in ("hubdesk_proxy", "hubdesk_direct", "raw"):
            every.append((f"{row['id']}) {row[key]['label']}", row[key]))
    every.append(("d) " + it["label"], it))
    every.append(("d) " + cold["directory_refresh"]["label"], cold["directory_refresh"]))
    for name, s in every:
        lines.append(
            f"| {name} | {s['n']} | {fmt(s['min_ms'])} | {fmt(s['median_ms'])} | "
            f"{fmt(s['p95_ms'])} | {fmt(s['max_ms'])} | {s['slow_samples']} | "
            f"{s['bytes']:,} |"
        )
    big = cold["biggest_group"]
    lines += [
        "",
        f"One refresh reads {cold['bytes']:,} bytes in {cold['requests']} calls; "
        f"without `{big['name']}` ({big['members']:,} member names) the groups' JSON is "
        f"{cold['bytes_without_biggest_group']:,} bytes.",
        "",
        "Seeding through the hub's API: "
        + ", ".join(f"{k.removesuffix('_s')} {v:.1f} s" for k, v in report["seeding"].items()),
        "",
    ]
    if report.get("breakdown"):
        lines += breakdown_markdown(report["breakdown"])
    return "\n".join(lines)


# -- main --------------------------------------------------------------------------


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--groups", type=int, default=None, help="small groups (default 2000)")
    ap.add_argument(
        "--big", type=int, default=None, help="members of bench-big = users created (default 5000)"
    )
    ap.add_argument("--repeat", type=int, default=None, help="timed requests per row (default 30)")
    ap.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="the hub's directory (kept afterwards; a seeded one is reused); default: a temp dir",
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="200 groups, 500 members, 10 repeats; writes groups-quick.*",
    )
    ap.add_argument("--out", type=Path, default=HERE / "results", help="where results go")
    ap.add_argument(
        "--no-breakdown",
        action="store_true",
        help="skip the in-process timing of each page's parts",
    )
    ap.add_argument("--seed", type=int, default=1, help="random seed for the small groups")
    args = ap.parse_args(argv)
    quick = {"groups": 200, "big": 500, "repeat": 10}
    full = {"groups": 2000, "big": 5000, "repeat": 30}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.groups < 1 or args.big < 1 or args.repeat < 1:
        ap.error("--groups, --big and --repeat must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    # a SIGTERM to this script still stops the hub and gunicorn
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    root, keep = bench_root(args.dir)
    with hub_and_hubdesk(root, keep=keep) as stack:
        return run(args, stack.hub, stack.server, stack.env, stack.token)


def run(args, hub: LocalHub, server: Gunicorn, env: dict, token: str) -> int:
    seed_api = HubClient(hub.api_url, token, timeout=SEED_TIMEOUT)
    hub_version = seed_api.version()
    say(f"seeding {args.big:,} users, {args.groups:,} groups and {BIG} through the hub's API:")
    seeding = seed(seed_api, n_users=args.big, n_groups=args.groups, rng=random.Random(args.seed))
    say(f"  seeding took {seeding['total_s']:.1f} s in all")

    t0 = time.perf_counter()
    proxied = sign_in(hub)
    took = time.perf_counter() - t0
    say(f"signed in as admin through the hub's login form and OAuth ({took:.1f} s)")
    cookie = session_cookie(proxied)
    direct = requests.Session()
    direct.cookies.set("hubdesk-session", cookie, domain="127.0.0.1", path=PREFIX)
    raw = requests.Session()
    raw.headers["Authorization"] = f"token {token}"

    paged = {"Accept": PAGINATION_ACCEPT}
    plain = {"Accept": "application/json"}
    cases = [
        (
            "a",
            "group list `groups/?limit=50`",
            "groups/?limit=50",
            "`GET /hub/api/groups?limit=50`",
            "/groups?limit=50",
            paged,
        ),
        (
            "b",
            "group search `groups/?q=bench-19`",
            "groups/?q=bench-19",
            "`GET /hub/api/groups?limit=50`",
            "/groups?limit=50",
            paged,
        ),
        (
            "c",
            f"group page `groups/{BIG}` ({args.big:,} members, 50 shown)",
            f"groups/{BIG}",
            f"`GET /hub/api/groups/{BIG}`",
            f"/groups/{BIG}",
            plain,
        ),
    ]
    expect = {
        "a": f"of {args.groups + 1}",
        "b": "groups matching",
        "c": f'data-testid="member-count">{args.big}<',
    }

    results = []
    for key, page, path, raw_label, raw_path, headers in cases:
        targets = [
            Target(Series("hubdesk via proxy", f"{hub.public_url}{PREFIX}{path}"), proxied),
            Target(Series("hubdesk direct to gunicorn", f"{server.url}{PREFIX}{path}"), direct),
            Target(Series(f"raw {raw_label.strip('`')}", f"{hub.api_url}{raw_path}"), raw, headers),
        ]
        _, _, r = targets[0].hit()
        if expect[key] not in r.text:
            say(f"  warning: {path} does not show {expect[key]!r}: is it the page we think?")
        say(f"{key}) {page}: {args.repeat} x 3 requests ...")
        measure(targets, args.repeat)
        names = ("hubdesk_proxy", "hubdesk_direct", "raw")
        s = {name: t.series.summary() for name, t in zip(names, targets, strict=True)}
        results.append({"id": key, "page": page, "path": path, "raw_call": raw_label, **s})
        proxy, direct_, raw_ = (s[n]["median_ms"] for n in names)
        say(f"   medians: proxy {proxy:.1f} ms, direct {direct_:.1f} ms, raw {raw_:.1f} ms")

    say(f"d) cold refresh: iter_groups() over all groups, {args.repeat} times ...")
    cold = cold_refresh(hub.api_url, token, args.repeat)
    cold_out = {k: (v.summary() if isinstance(v, Series) else v) for k, v in cold.items()}
    say(
        f"   {cold_out['iter_groups']['median_ms']:.1f} ms median, {cold['requests']} calls, "
        f"{cold['bytes']:,} bytes"
    )

    report_breakdown = None
    if not args.no_breakdown:
        say("breakdown: timing each page's parts in this process ...")
        report_breakdown = breakdown(
            env, cookie, {key: path for key, _, path, *_ in cases}, args.repeat
        )

    gunicorn = gunicorn_settings(server.env)
    report = {
        "benchmark": "groups",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(hub_version),
        "params": {
            "groups": args.groups,
            "big": args.big,
            "users": args.big,
            "repeat": args.repeat,
            "warmup": WARMUP,
            "quick": args.quick,
            # what gunicorn runs with (hubdesk.gunicorn_conf's defaults unless set)
            "gunicorn_workers": gunicorn["workers"],
            "gunicorn_connections": gunicorn["connections"],
            "gunicorn_streams": gunicorn["streams"],
            "group_cache_seconds": float(server.env.get("HUBDESK_GROUP_CACHE_SECONDS", "30")),
        },
        "seeding": seeding,
        "results": results,
        "cold": cold_out,
        "breakdown": report_breakdown,
    }
    text = markdown(report)
    say("")
    say(text)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "groups-quick" if args.quick else "groups"
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (args.out / f"{stem}.md").write_text(text, encoding="utf-8")
    say(f"wrote {args.out / (stem + '.json')} and {args.out / (stem + '.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
