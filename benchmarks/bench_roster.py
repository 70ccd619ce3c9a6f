#!/usr/bin/env python
"""Benchmark a group's roster page (``groups/<g>/servers``) against the hub calls it needs.

Starts a real JupyterHub on loopback (``hubdesk.devhub.LocalHub``, the mock single-user
server) and hubdesk under gunicorn as the production image runs it, registered with
the hub as an external service. Seeds, through the hub's API: 10,000 users, the group
``roster-big`` of 5,000 of them and ``roster-50`` of the same first 50 (the first page
of both rosters is the same people); on that first page, 10 running named servers,
10 stopped named servers that were used (started, then stopped) and 5 failed starts
(the dev hub's "broken" profile). Signs in as the hub admin through the hub's login
form and OAuth, then measures, both warm, interleaved:

  a) hubdesk's roster ``groups/roster-big/servers?rlimit=50`` (direct to gunicorn;
     and via the proxy)
  b) the hub calls that page needs, made directly with the admin's token: the group,
     the 50 users (8 at a time, ``include_stopped_servers=1``), the progress probes of
     the stopped servers that were used (8 at a time)
  c) for scale: the first page of ``roster-50`` and page 50 (``roffset=2450``) of
     ``roster-big``, each against its own hub calls

Then, with the app in this process: the hub calls the page really makes (recorded),
and where its time goes (timing wrappers, phase by phase against the same calls made
raw in this process, and a cProfile).

Every number is a wall-clock time seen by a client on the same machine. Nothing is
asserted about the timings: this is a measurement, not a test.

    python benchmarks/bench_roster.py             # the issue's numbers (~5 min)
    python benchmarks/bench_roster.py --quick     # 1,000 users, a group of 500

See benchmarks/README.md for how to read the output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import os
import re
import signal
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import requests
from _common import (
    HERE,
    PREFIX,
    REQUEST_TIMEOUT,
    SEED_TIMEOUT,
    USER_CHUNK,
    WARMUP,
    PartTimer,
    Series,
    Stack,
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
    patched,
    say,
    session_cookie,
    sign_in,
)
from hubdesk.devhub import PROFILES_FILE
from hubdesk.hub import PAGINATION_ACCEPT, HubAPIError, HubClient
from requests.adapters import HTTPAdapter

BIG = "roster-big"
SMALL_GROUP = "roster-50"
PAGE = 50
LAB = "lab"
RUNNING, STOPPED, FAILED = 10, 10, 5  # servers on the roster's first page
WORKERS = 8  # hubdesk's user_models() and start_failures(): 8 calls at a time
SPAWN_TIMEOUT = 120
TARGET = 1.2
START_ATTEMPTS = 3


def user_names(n: int) -> list[str]:
    # zero-padded: the roster's order (by name, ignoring case) is the order of creation
    return [f"ru-{i:05d}" for i in range(1, n + 1)]


def roster_path(group: str, offset: int = 0) -> str:
    return f"groups/{quote(group, safe='')}/servers?rlimit={PAGE}&roffset={offset}&rq="


# -- seeding ---------------------------------------------------------------------------------


def wait_server(api: HubClient, user: str, server: str, want: str, timeout=SPAWN_TIMEOUT) -> str:
    """Poll the user's model until the server is ``want`` (running / stopped)."""
    deadline = time.monotonic() + timeout
    while True:
        model = (api.get_user(user, include_stopped_servers=True).get("servers") or {}).get(server)
        if model is None:
            state = "gone"
        elif model.get("pending"):
            state = f"pending {model['pending']}"
        else:
            state = "running" if model.get("ready") else "stopped"
        if state == want:
            return state
        if time.monotonic() > deadline:
            raise RuntimeError(f"{user}/{server} still {state} after {timeout} s (wanted {want})")
        time.sleep(0.2)


def start(api: HubClient, user: str, profile: str) -> None:
    try:
        api.start_server(user, LAB, {"profile": profile}, hub_major=6)
    except HubAPIError as e:
        # 400 already running (a kept --dir); 500: the "broken" spawn failed before the answer
        if not (e.status == 400 and "already running" in e.message) and e.status != 500:
            raise


def seed_servers(api: HubClient, who: dict) -> dict:
    out = {}

    def running(u):
        start(api, u, "small")
        wait_server(api, u, LAB, "running")

    def stopped(u):
        running(u)
        api.stop_server(u, LAB)
        wait_server(api, u, LAB, "stopped")

    def failed(u):
        start(api, u, "broken")
        wait_server(api, u, LAB, "stopped")
        why = api.start_failure(u, LAB)
        if not why:
            raise RuntimeError(f"{u}/{LAB}: the hub does not say its start failed")
        return why

    for key, fn in (("running", running), ("stopped", stopped), ("failed", failed)):
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=5) as pool:
            results = list(pool.map(fn, who[key]))
        out[f"{key}_s"] = round(time.perf_counter() - t0, 2)
        say(f"  {len(who[key])} {key} {LAB!r} servers: {out[f'{key}_s']:.1f} s")
        if key == "failed":
            out["failure_message"] = results[0]
    return out


def seed(api: HubClient, names: list[str], big: int, who: dict) -> dict:
    out: dict = {"user_chunks_s": []}
    t0 = time.perf_counter()
    if (api.count("users") or 0) >= len(names) + 1:  # + the admin
        say(f"  users: {len(names):,} already there")
    else:
        for i in range(0, len(names), USER_CHUNK):
            chunk = names[i : i + USER_CHUNK]
            c0 = time.perf_counter()
            try:
                api.create_users(chunk)
            except HubAPIError as e:
                if e.status != 409:
                    raise
            out["user_chunks_s"].append(round(time.perf_counter() - c0, 2))
            say(f"  users {i + 1:,}-{i + len(chunk):,}: {out['user_chunks_s'][-1]:.1f} s")
    out["users_s"] = round(time.perf_counter() - t0, 2)

    t0 = time.perf_counter()
    members = names[:big]
    for group, chunked in ((BIG, members), (SMALL_GROUP, names[:PAGE])):
        try:
            api.create_group(group)
        except HubAPIError as e:
            if e.status != 409:
                raise
        for i in range(0, len(chunked), USER_CHUNK):
            api.add_group_members(group, chunked[i : i + USER_CHUNK])
        got = len(api.get_group(group).get("users") or ())
        if got != len(chunked):
            raise RuntimeError(f"{group} has {got} members, not {len(chunked)}")
    out["groups_s"] = round(time.perf_counter() - t0, 2)
    say(f"  {BIG} ({big:,} members) and {SMALL_GROUP} ({PAGE}): {out['groups_s']:.1f} s")
    out.update(seed_servers(api, who))
    return out


def admin_token(hub, proxied: requests.Session) -> str:
    """An API token of the admin's, made as the hub's own token page makes one.

    (The service token may not make tokens for others.) The session holds the hub's
    login cookie from signing in; the hub wants its _xsrf cookie echoed in a header.
    """
    proxied.get(f"{hub.public_url}/hub/token", timeout=REQUEST_TIMEOUT).raise_for_status()
    xsrf = next(c.value for c in proxied.cookies if c.name == "_xsrf")
    r = proxied.post(
        f"{hub.public_url}/hub/api/users/admin/tokens",
        json={"note": "bench_roster", "expires_in": 7200},
        headers={"X-XSRFToken": xsrf},
        timeout=REQUEST_TIMEOUT,
    )
    if r.status_code != 201:
        raise RuntimeError(f"could not make the admin a token: {r.status_code} {r.text[:300]}")
    return r.json()["token"]


# -- b) the hub calls a roster page needs, made raw ---------------------------------------------


def probes_of(models: list[dict]) -> list[tuple[str, str]]:
    """The servers whose last start the page asks about: stopped and used (as mark_failures)."""
    out = []
    for u in models:
        for name, s in (u.get("servers") or {}).items():
            if not s.get("ready") and not s.get("pending") and s.get("last_activity"):
                out.append((u["name"], name))
    return out


@dataclass
class RawRoster:
    """One roster page's hub calls, timed as one: the group, then the page's users, then probes.

    8 at a time on a persistent thread pool and connection pool (the best a client can do);
    each answer read in full. Which users and which probes come from one look beforehand.
    """

    series: Series
    api_url: str
    token: str
    group: str
    names: list[str]
    probes: list[tuple[str, str]] = field(default_factory=list)
    phases: dict = field(default_factory=lambda: {"group": [], "users": [], "probes": []})

    def __post_init__(self):
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=2 * WORKERS)
        self.session.mount("http://", adapter)
        self.session.headers["Authorization"] = f"token {self.token}"
        self.session.trust_env = False
        self.pool = ThreadPoolExecutor(max_workers=WORKERS)
        self.series.url = (
            f"GET /groups/{self.group} + {len(self.names)} × GET /users/{{name}}"
            f"?include_stopped_servers=1 + {len(self.probes)} × GET …/progress"
        )

    def close(self):
        self.pool.shutdown()
        self.session.close()

    def _get(self, url, accept="application/json", ok=(200,)):
        r = self.session.get(url, headers={"Accept": accept}, timeout=REQUEST_TIMEOUT)
        if r.status_code not in ok:
            raise RuntimeError(f"{url}: {r.status_code} {r.text[:300]}")
        return len(r.content)

    def user(self, name):
        return self._get(f"{self.api_url}/users/{quote(name, safe='')}?include_stopped_servers=1")

    def probe(self, pair):
        user, server = pair
        path = f"/users/{quote(user, safe='')}/servers/{quote(server, safe='')}/progress"
        # at once: 404 for a server stopped normally (the hub dropped its spawner from
        # memory), 400 for one it still holds that is not starting; for a failed start one
        # "failed" event, then the end of the stream (hubdesk reads all three the same way)
        return self._get(self.api_url + path, "text/event-stream", ok=(200, 400, 404))

    def hit(self):
        t0 = time.perf_counter()
        size = self._get(f"{self.api_url}/groups/{quote(self.group, safe='')}")
        t1 = time.perf_counter()
        size += sum(self.pool.map(self.user, self.names))
        t2 = time.perf_counter()
        if self.probes:
            size += sum(self.pool.map(self.probe, self.probes))
        t3 = time.perf_counter()
        for key, a, b in (("group", t0, t1), ("users", t1, t2), ("probes", t2, t3)):
            self.phases[key].append((b - a) * 1000)
        return (t3 - t0) * 1000, size, None


def look(api: HubClient, group: str, offset: int) -> tuple[list[str], list[tuple[str, str]]]:
    """The page's members (by name, ignoring case, as the roster orders them) and its probes."""
    members = sorted(api.get_group(group).get("users") or ())
    members.sort(key=str.casefold)
    shown = members[offset : offset + PAGE]
    models = api.user_models(shown, params={"include_stopped_servers": "1"})
    return shown, probes_of([models[n] for n in shown if n in models])


# -- the machine's load --------------------------------------------------------------------------


def cpu_snapshot(stack: Stack) -> dict:
    """CPU seconds so far: the hub (with its proxy and servers), gunicorn, this process, all."""
    tick = os.sysconf("SC_CLK_TCK")
    hub_pid = stack.hub.process.pid if stack.hub.process else -1
    gun_pid = stack.server.process.pid if stack.server.process else -1
    out = {"hub": 0.0, "gunicorn": 0.0, "this script": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(fields[1])
        cpu = (int(fields[11]) + int(fields[12])) / tick
        if pid == hub_pid or ppid == hub_pid:
            out["hub"] += cpu
        elif pid == gun_pid or ppid == gun_pid:
            out["gunicorn"] += cpu
        elif pid == os.getpid():
            out["this script"] += cpu
    values = [int(x) / tick for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    out["machine"] = sum(values) - values[3] - values[4]  # minus idle and iowait
    out["time"] = time.monotonic()
    return out


def cpu_share(before: dict, after: dict) -> dict:
    """Per cent of one CPU over the interval; "others": the machine minus the three of ours."""
    wall = after["time"] - before["time"]
    out = {k: round(100 * (after[k] - before[k]) / wall) for k in before if k != "time"}
    out["others"] = out["machine"] - out["hub"] - out["gunicorn"] - out["this script"]
    return out


# -- in this process: the calls the page makes, and where its time goes -----------------------


def in_process_app(env: dict, cookie: str):
    from hubdesk import create_app

    flask_app = create_app(dict(env, HUBDESK_LOG_LEVEL="WARNING"))
    client = flask_app.test_client()
    client.set_cookie("hubdesk-session", cookie, domain="localhost", path=PREFIX)

    def get(path):
        r = client.get(PREFIX + path)
        if r.status_code != 200:
            raise RuntimeError(f"in-process {path}: {r.status_code}")
        return r

    return get


def record_calls(env: dict, cookie: str, api_url: str, paths: dict) -> dict:
    """The hub calls each page makes, warm: every request the app's HTTP sessions send."""
    get = in_process_app(env, cookie)
    seen: list = []
    original = requests.Session.send

    def send(self, request, **kw):
        if request.url.startswith(api_url):
            rel = request.url[len(api_url) :]
            seen.append(f"{request.method} {rel}")
        return original(self, request, **kw)

    out = {}
    with patched(requests.Session, "send", lambda _o: send):
        for key, path in paths.items():
            for _ in range(2):
                get(path)
            seen.clear()
            get(path)
            out[key] = list(seen)
    return out


def kinds_of(calls: list[str]) -> dict:
    """Recorded calls by kind: the group, the users, the probes, anything else."""
    out: dict = {}
    for c in calls:
        if re.fullmatch(r"GET /groups/[^/?]+", c):
            k = "GET /groups/{group}"
        elif re.fullmatch(r"GET /users/[^/?]+\?include_stopped_servers=1", c):
            k = "GET /users/{name}?include_stopped_servers=1"
        elif re.fullmatch(r"GET /users/[^/?]+/servers/[^/?]*/progress", c):
            k = "GET /users/{name}/servers/{server}/progress"
        else:
            k = c
        out[k] = out.get(k, 0) + 1
    return out


def phases(env: dict, cookie: str, paths: dict, raws: dict, repeat: int) -> dict:
    """Each page's steps timed in this process, beside the same hub calls made raw here.

    hubdesk: the page (Flask test client) with wrappers around get_group(), user_models(),
    start_failures() and render_template(): their wall time. raw: RawRoster's phases,
    alternated with the page, so both see the same load.
    """
    from hubdesk import auth
    from hubdesk.servers import roster
    from hubdesk.servers import views as server_views

    get = in_process_app(env, cookie)
    timer = PartTimer()
    wrapped = [
        (HubClient, "get_group", "group"),
        (HubClient, "user_models", "users"),
        (HubClient, "count", "count()"),
        (HubClient, "start_failures", "probes"),
        (roster, "matching", "matching() (filter, sort)"),
        (roster, "servers_of", "servers_of()"),
        (server_views, "render_template", "render_template()"),
        (auth, "_identify", "identity (_identify)"),
    ]
    out = {}
    with ExitStack() as stack:
        for obj, name, label in wrapped:
            stack.enter_context(patched(obj, name, timer(label)))
        for key, path in paths.items():
            raw = raws[key]
            for _ in range(WARMUP):
                get(path)
                raw.hit()
            timer.clear()
            for k in raw.phases:
                raw.phases[k].clear()
            totals, raw_totals = [], []
            for _ in range(repeat):
                t0 = time.perf_counter()
                get(path)
                totals.append((time.perf_counter() - t0) * 1000)
                raw_totals.append(raw.hit()[0])
            hub_parts = timer.per_page(repeat)
            out[key] = {
                "path": path,
                "hubdesk_total_ms_median": round(statistics.median(totals), 2),
                "raw_total_ms_median": round(statistics.median(raw_totals), 2),
                "hubdesk_parts": hub_parts,
                "raw_phases_ms_mean": {
                    k: round(statistics.fmean(v), 2) for k, v in raw.phases.items() if v
                },
            }
    return out


def per_call(env: dict, cookie: str, path: str, api_url: str, token: str, who: dict, n: int):
    """One call at a time, three ways, alternated: what a single hub call costs each.

    hubdesk's client (``HubClient`` on ``make_session()``, as the app builds it) with the
    person's OAuth token, as the page sends it; the raw calls of b) with the same OAuth
    token; the raw calls with the admin's API token (b's). The first difference is the
    client's own cost per call, the second the token's at the hub.
    """
    from hubdesk.hub import make_session

    get = in_process_app(env, cookie)
    seen: dict = {}

    def capture(original):
        def for_token(self, token_):
            seen.setdefault("token", token_)
            return original(self, token_)

        return for_token

    with patched(HubClient, "for_token", capture):
        get(path)  # the person's OAuth token, in this process's memory only
    oauth = seen["token"]
    client = HubClient(api_url, oauth, session=make_session(url=api_url))
    raws = {}
    for key, tok in (("raw_oauth", oauth), ("raw_api", token)):
        s = requests.Session()
        s.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=2 * WORKERS))
        s.headers["Authorization"] = f"token {tok}"
        s.trust_env = False
        raws[key] = s
    user, stopped, failed = who["running"][0], who["stopped"][0], who["failed"][0]

    def url(u, probe=False):
        base = f"{api_url}/users/{quote(u, safe='')}"
        return f"{base}/servers/{LAB}/progress" if probe else f"{base}?include_stopped_servers=1"

    cases = {
        "GET /users/{name}?include_stopped_servers=1": (
            lambda: client.get_json("users", user, params={"include_stopped_servers": "1"}),
            url(user),
            "application/json",
        ),
        "progress probe, a server stopped normally (404)": (
            lambda: client.start_failure(stopped, LAB),
            url(stopped, True),
            "text/event-stream",
        ),
        "progress probe, a failed start (one event)": (
            lambda: client.start_failure(failed, LAB),
            url(failed, True),
            "text/event-stream",
        ),
        "GET /users?offset=0&limit=1 (count)": (
            lambda: client.count("users"),
            f"{api_url}/users?offset=0&limit=1",
            PAGINATION_ACCEPT,
        ),
    }
    out = {}
    for label, (ours, target, accept) in cases.items():
        times: dict = {"hubdesk": [], "raw_oauth": [], "raw_api": []}

        def raw(key, target=target, accept=accept):
            r = raws[key].get(target, headers={"Accept": accept}, timeout=REQUEST_TIMEOUT)
            r.content  # noqa: B018 (read it all)

        runs = [("hubdesk", ours), *((k, lambda k=k: raw(k)) for k in raws)]
        for i in range(WARMUP + n):
            k = i % len(runs)
            for key, fn in runs[k:] + runs[:k]:
                t0 = time.perf_counter()
                fn()
                if i >= WARMUP:
                    times[key].append((time.perf_counter() - t0) * 1000)
        out[label] = {k: round(statistics.median(v), 3) for k, v in times.items()}
    for s in raws.values():
        s.close()
    client.session.close()
    return out


def breakdown(env: dict, cookie: str, paths: dict, repeat: int) -> dict:
    """breakdown_pages() (as the other benchmarks): summed part times and a cProfile."""
    from hubdesk import auth
    from hubdesk.jobs import JobStore
    from hubdesk.servers import roster
    from hubdesk.servers import views as server_views

    parts = [
        (HubClient, "request", "hub API calls (request(), summed over threads)"),
        (HubClient, "start_failure", "progress probes (start_failure(), summed over threads)"),
        (auth, "_identify", "identity (_identify)"),
        (roster, "matching", "matching()"),
        (roster, "servers_of", "servers_of()"),
        (roster, "mark_failures", "mark_failures()"),
        (roster, "read", "roster.read()"),
        (JobStore, "recent", "JobStore.recent()"),
        (server_views, "render_template", "render_template()"),
    ]
    return breakdown_pages(env, cookie, paths, repeat, parts, profile_keys=("first",))


# -- reporting -----------------------------------------------------------------------------------


def paired(a: Series, b: Series) -> dict:
    """a/b round by round (both were timed in the same round): the load's drift cancels."""
    ratios = [x / y for x, y in zip(a.times, b.times, strict=True)]
    if len(ratios) < 2:
        return {
            "median": round(ratios[0], 2),
            "p25": round(ratios[0], 2),
            "p75": round(ratios[0], 2),
        }
    q = statistics.quantiles(ratios, n=4, method="inclusive")
    return {
        "median": round(statistics.median(ratios), 2),
        "p25": round(q[0], 2),
        "p75": round(q[2], 2),
    }


def met(ratio: float) -> str:
    return "met" if ratio <= TARGET else "**missed**"


def rng(s: dict) -> str:
    return f"{fmt(s['median_ms'])} ({fmt(s['min_ms'])}–{fmt(s['max_ms'])})"


def md_main(report: dict) -> list[str]:
    p = report["params"]
    rows = {r["key"]: r for r in report["results"]}
    first = rows["first"]
    pr = first["ratio_paired"]
    lines = [
        "## a) the roster's first page against b) the hub calls it needs",
        "",
        f"`{first['path']}`: {p['big']:,} members, 50 shown ({first['summary']}). Median "
        "(min–max) ms, p95; ratio = median / median of b); *paired* = the median (and "
        "quartiles) of a)/b) round by round, both timed in the same round, which cancels "
        "the drift of the machine's load.",
        "",
        "| | what | median (min–max) | p95 | ratio to b) | target ≤ 1.2× |",
        "|---|---|---:|---:|---:|---|",
        f"| a) | hubdesk, direct to gunicorn | {rng(first['hubdesk_direct'])} | "
        f"{fmt(first['hubdesk_direct']['p95_ms'])} | {first['ratio_direct']:.2f}× | "
        f"{met(first['ratio_direct'])} |",
        f"| | a)/b) paired, round by round | | | {pr['median']:.2f}× "
        f"({pr['p25']:.2f}–{pr['p75']:.2f}) | {met(pr['median'])} |",
        f"| a′) | hubdesk via the hub's proxy | {rng(first['hubdesk_proxy'])} | "
        f"{fmt(first['hubdesk_proxy']['p95_ms'])} | {first['ratio_proxy']:.2f}× | |",
        f"| b) | {first['raw']['url']}, admin's token, hub port | {rng(first['raw'])} | "
        f"{fmt(first['raw']['p95_ms'])} | 1.00× | |",
    ]
    if first.get("count"):
        c = first["count"]
        lines.append(
            f"| b′) | the one call hubdesk makes beyond b): `GET /users?offset=0&limit=1` "
            f"(the user total, asked by `user_models()`) | {rng(c)} | {fmt(c['p95_ms'])} | | |"
        )
    lines.append("")
    return lines


def md_scale(report: dict) -> list[str]:
    rows = {r["key"]: r for r in report["results"]}
    lines = [
        "## c) scale: O(page) whatever the group's size",
        "",
        "| page | members of the group | on the page | hub calls (b) | hubdesk direct, median "
        "(min–max) | b) median (min–max) | ratio | paired |",
        "|---|---:|---|---|---:|---:|---:|---:|",
    ]
    for key in ("small", "first", "mid"):
        r = rows[key]
        lines.append(
            f"| `{r['path']}` | {r['members']:,} | {r['summary']} | {r['raw_calls']} | "
            f"{rng(r['hubdesk_direct'])} | {rng(r['raw'])} | {r['ratio_direct']:.2f}× | "
            f"{r['ratio_paired']['median']:.2f}× |"
        )
    s, f, m = (rows[k]["hubdesk_direct"]["median_ms"] for k in ("small", "first", "mid"))
    rs, rf, rm = (rows[k]["raw"]["median_ms"] for k in ("small", "first", "mid"))
    big = rows["first"]["members"]
    lines += [
        "",
        f"{big:,}-member roster over the 50-member one (same 50 people, same servers): "
        f"hubdesk {f / s:.2f}× ({f - s:+.1f} ms), its hub calls {rf / rs:.2f}× "
        f"({rf - rs:+.1f} ms). Page {rows['mid']['offset'] // PAGE + 1} "
        f"(`roffset={rows['mid']['offset']}`) over the first page: hubdesk {m / f:.2f}×, "
        f"the hub calls {rm / rf:.2f}× (no server on that page: no probe).",
        "",
    ]
    return lines


def md_calls(report: dict) -> list[str]:
    lines = [
        "## The hub calls each page makes (recorded with the app in this process, warm)",
        "",
        "| page | calls by kind |",
        "|---|---|",
    ]
    for key, r in report["recorded"].items():
        kinds = "; ".join(f"{k} × {n}" for k, n in r["kinds"].items()) or "none"
        lines.append(f"| {key}) `{r['path']}` | {kinds} |")
    lines += [
        "",
        "Not every page: `GET /user` when the 30 s identity cache of the person's token "
        "expires (it shows in the max, not the median).",
        "",
    ]
    return lines


def md_phases(report: dict) -> list[str]:
    lines = [
        "## Step by step: hubdesk's page against the same hub calls, in this process",
        "",
        "The app in the benchmark's process (Flask test client, warm), each page request "
        "alternated with b)'s calls, so both see the same load. Wall ms per page (mean); "
        "hubdesk's step = the wall time of that function.",
        "",
        "| page | total hubdesk / raw (median) | group: hubdesk / raw | users: hubdesk / raw | "
        "of which count() | probes: hubdesk / raw | matching() | servers_of() | "
        "render_template() | identity |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def part(d, k):
        v = d.get(k)
        return f"{v['ms_per_page']:.1f}" if v else "—"

    for key, ph in report["phases"].items():
        h, r = ph["hubdesk_parts"], ph["raw_phases_ms_mean"]
        lines.append(
            f"| {key}) | {fmt(ph['hubdesk_total_ms_median'])} / {fmt(ph['raw_total_ms_median'])} "
            f"| {part(h, 'group')} / {fmt(r.get('group', 0))} "
            f"| {part(h, 'users')} / {fmt(r.get('users', 0))} | {part(h, 'count()')} "
            f"| {part(h, 'probes')} / {fmt(r.get('probes', 0))} "
            f"| {part(h, 'matching() (filter, sort)')} | {part(h, 'servers_of()')} "
            f"| {part(h, 'render_template()')} | {part(h, 'identity (_identify)')} |"
        )
    return [*lines, ""]


def md_per_call(report: dict) -> list[str]:
    lines = [
        "## One call at a time (in this process, alternated, median ms)",
        "",
        "hubdesk's client as the app builds it, with the person's OAuth token (what the page "
        "sends), against b)'s raw calls with the same token and with the admin's API token.",
        "",
        "| call | hubdesk's client, OAuth token | raw, OAuth token | raw, API token | "
        "client's own cost | the OAuth token's cost at the hub |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, v in report["per_call"].items():
        lines.append(
            f"| {label} | {v['hubdesk']:.2f} | {v['raw_oauth']:.2f} | {v['raw_api']:.2f} | "
            f"{v['hubdesk'] - v['raw_oauth']:+.2f} | {v['raw_oauth'] - v['raw_api']:+.2f} |"
        )
    return [*lines, ""]


def md_every(report: dict) -> list[str]:
    lines = [
        "## Every series",
        "",
        "| series | n | min | median | p95 | max | mean | bytes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["results"]:
        for k in ("hubdesk_direct", "hubdesk_proxy", "raw", "count"):
            s = r.get(k)
            if s:
                lines.append(
                    f"| {r['key']}) {s['label']} | {s['n']} | {fmt(s['min_ms'])} | "
                    f"{fmt(s['median_ms'])} | {fmt(s['p95_ms'])} | {fmt(s['max_ms'])} | "
                    f"{fmt(s['mean_ms'])} | {s['bytes']:,} |"
                )
    return [*lines, ""]


def markdown(report: dict) -> str:
    p, m, load = report["params"], report["machine"], report["load"]
    sd = report["seeding"]
    cpu = load["cpu_percent_during_timing"]
    lines = [
        f"# hubdesk's group roster vs the hub calls it needs ({report['date']})",
        "",
        f"{p['users']:,} users; `{BIG}` with {p['big']:,} members and `{SMALL_GROUP}` with "
        f"the same first {PAGE}; on that first page {RUNNING} running `{LAB}` servers (mock "
        f"single-user server), {STOPPED} stopped ones that were used, {FAILED} failed starts "
        f"(profile broken). {p['repeat']} timed requests per series after {WARMUP} warm-up "
        "requests, all series interleaved round robin. hubdesk under gunicorn "
        f"({p['gunicorn_workers']} gevent workers), signed in as "
        "the hub admin through the hub's login form and OAuth; hubdesk asks the hub with the "
        "admin's OAuth token, b) with an API token of the admin's. Times in ms, wall clock "
        "at the client.",
        "",
        machine_line(m),
        "",
        f"Load average (1/5/15 min) before the timed rounds: "
        f"{' / '.join(f'{x:g}' for x in load['loadavg_before'])}; after: "
        f"{' / '.join(f'{x:g}' for x in load['loadavg_after'])}. CPU during the timed rounds "
        f"(% of one CPU; {m['nproc']} CPUs = {100 * m['nproc']}%): the machine "
        f"{cpu['machine']}%, of which the hub {cpu['hub']}%, gunicorn {cpu['gunicorn']}%, this "
        f"script {cpu['this script']}%, **others {cpu['others']}%**.",
        "",
    ]
    lines += md_main(report)
    lines += md_scale(report)
    if report.get("recorded"):
        lines += md_calls(report)
    if report.get("phases"):
        lines += md_phases(report)
    if report.get("per_call"):
        lines += md_per_call(report)
    lines += md_every(report)
    chunks = ", ".join(f"{x:.1f}" for x in sd["user_chunks_s"]) or "already there"
    lines += [
        f"Seeding through the hub's API: {p['users']:,} users {sd['users_s']:.1f} s "
        f"({USER_CHUNK:,} a call: {chunks} s); the two groups {sd['groups_s']:.1f} s; "
        f"servers 5 at a time: running {sd['running_s']:.1f} s, started and stopped "
        f"{sd['stopped_s']:.1f} s, failed {sd['failed_s']:.1f} s (the hub's reason: "
        f"“{sd['failure_message']}”). The whole run took {report['run_seconds'] / 60:.1f} min.",
        "",
    ]
    if report.get("breakdown"):
        lines += breakdown_markdown(
            report["breakdown"],
            "The hub-call rows are summed over user_models()' and start_failures()' 8 "
            "threads, so they exceed their wall time; `roster.read()` holds the users, "
            "servers_of() and mark_failures().",
        )
    return "\n".join(lines)


# -- main ----------------------------------------------------------------------------------------


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=None, help="users created (default 10000)")
    ap.add_argument("--big", type=int, default=None, help=f"members of {BIG} (default users/2)")
    ap.add_argument("--repeat", type=int, default=None, help="timed requests per series (30)")
    ap.add_argument("--dir", type=Path, default=None, help="the hub's directory (kept afterwards)")
    ap.add_argument("--quick", action="store_true", help="1,000 users, 10 repeats; roster-quick.*")
    ap.add_argument("--out", type=Path, default=HERE / "results", help="where results go")
    ap.add_argument("--no-breakdown", action="store_true", help="skip the in-process parts")
    args = ap.parse_args(argv)
    quick = {"users": 1000, "repeat": 10}
    full = {"users": 10000, "repeat": 30}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.big is None:
        args.big = args.users // 2
    if args.big < 4 * PAGE or args.big > args.users or args.repeat < 1:
        ap.error(f"--big must be between {4 * PAGE} and --users; --repeat at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.perf_counter()
    for attempt in range(1, START_ATTEMPTS + 1):
        root, keep = bench_root(args.dir)
        env = {
            "HUBDESK_PROFILES": str(PROFILES_FILE),
            "HUBDESK_STATE_DIR": str(root / "hubdesk-state"),
        }
        up = False
        try:
            with hub_and_hubdesk(root, keep=keep, env=env) as stack:
                up = True
                return run(args, stack, started)
        except requests.ReadTimeout:
            # _common waits 5 s for gunicorn's first /health answer: on a machine loaded by
            # others its workers may take longer to boot; everything was stopped, start again
            if up or attempt == START_ATTEMPTS:
                raise
            say(f"gunicorn was slow to answer at start-up (attempt {attempt}): starting again")
    return 1


def prewarm(stack: Stack, cookie: str, paths: list[str], connections: int = 8) -> None:
    """Each path on several new connections, direct and via the proxy: every worker warm."""
    for base in (stack.server.url, stack.hub.public_url):
        for _ in range(connections):
            with requests.Session() as s:
                s.cookies.set("hubdesk-session", cookie, domain="127.0.0.1", path=PREFIX)
                for p in paths:
                    s.get(f"{base}{PREFIX}{p}", timeout=REQUEST_TIMEOUT).raise_for_status()


def summary_of(text: str) -> str:
    found = re.search(r'data-testid="roster-summary">(.*?)</p>', text, re.S)
    words = re.sub(r"\s+", " ", html.unescape(found.group(1))).strip() if found else "?"
    return words.removeprefix("On this page: ").rstrip(".")


def run(args, stack: Stack, started: float) -> int:
    hub, server = stack.hub, stack.server
    api = HubClient(hub.api_url, stack.token, timeout=SEED_TIMEOUT)
    machine = machine_info(api.version())
    gunicorn = gunicorn_settings(server.env)
    names = user_names(args.users)
    who = {
        "running": names[:RUNNING],
        "stopped": names[RUNNING : RUNNING + STOPPED],
        "failed": names[RUNNING + STOPPED : RUNNING + STOPPED + FAILED],
    }
    say(f"seeding {args.users:,} users, {BIG} ({args.big:,}), {SMALL_GROUP} and servers:")
    seeding = seed(api, names, args.big, who)

    proxied = sign_in(hub)
    cookie = session_cookie(proxied)
    token = admin_token(hub, proxied)
    say("signed in as admin through the hub's login form and OAuth; made an admin API token")
    direct = requests.Session()
    direct.cookies.set("hubdesk-session", cookie, domain="127.0.0.1", path=PREFIX)
    admin = HubClient(hub.api_url, token, timeout=SEED_TIMEOUT)
    counting = requests.Session()
    counting.headers["Authorization"] = f"token {token}"

    mid = (args.big // 2 // PAGE - 1) * PAGE  # 2450 of 5,000: page 50
    cases = [
        ("first", BIG, 0, args.big),
        ("small", SMALL_GROUP, 0, PAGE),
        ("mid", BIG, mid, args.big),
    ]
    paths = {key: roster_path(g, o) for key, g, o, _ in cases}
    prewarm(stack, cookie, list(paths.values()))

    targets, meta = [], {}
    for key, group, offset, members in cases:
        shown, probes = look(admin, group, offset)
        url = paths[key]
        r = direct.get(f"{server.url}{PREFIX}{url}", timeout=REQUEST_TIMEOUT)
        r.raise_for_status()
        summary = summary_of(r.text)
        say(f"  {key}) {url}: {summary}; {len(probes)} servers to probe")
        raw = RawRoster(
            Series("b) raw hub calls, hub port"), hub.api_url, token, group, shown, probes
        )
        row_targets = {
            "hubdesk_direct": Target(
                Series("hubdesk direct to gunicorn", f"{server.url}{PREFIX}{url}"), direct
            ),
            "raw": raw,
        }
        if key == "first":
            row_targets["hubdesk_proxy"] = Target(
                Series("hubdesk via proxy", f"{hub.public_url}{PREFIX}{url}"), proxied
            )
            # the call hubdesk makes beyond b): user_models() asks for the hub's user total
            row_targets["count"] = Target(
                Series(
                    "b′) hubdesk's extra call, GET /users?offset=0&limit=1 (paginated)",
                    f"{hub.api_url}/users?offset=0&limit=1",
                ),
                counting,
                {"Accept": PAGINATION_ACCEPT},
            )
        meta[key] = {
            "group": group,
            "offset": offset,
            "members": members,
            "summary": summary,
            "probes": len(probes),
            "targets": row_targets,
            "raw_calls": f"1 + {len(shown)} + {len(probes)}",
        }
        targets += row_targets.values()

    say(f"timing: {args.repeat} rounds of {len(targets)} series, interleaved …")
    load_before = [round(x, 2) for x in os.getloadavg()]
    cpu0 = cpu_snapshot(stack)
    measure(targets, args.repeat)
    cpu = cpu_share(cpu0, cpu_snapshot(stack))
    load_after = [round(x, 2) for x in os.getloadavg()]

    results = []
    for key, mt in meta.items():
        row = {"key": key, "path": paths[key], **{k: v for k, v in mt.items() if k != "targets"}}
        for k, t in mt["targets"].items():
            row[k] = t.series.summary()
            row[k]["times_ms"] = [round(x, 2) for x in t.series.times]
        raw_median = row["raw"]["median_ms"]
        row["ratio_direct"] = round(row["hubdesk_direct"]["median_ms"] / raw_median, 2)
        row["ratio_paired"] = paired(
            mt["targets"]["hubdesk_direct"].series, mt["targets"]["raw"].series
        )
        if "hubdesk_proxy" in row:
            row["ratio_proxy"] = round(row["hubdesk_proxy"]["median_ms"] / raw_median, 2)
        results.append(row)
        say(
            f"  {key}) hubdesk {row['hubdesk_direct']['median_ms']:.1f} ms, raw "
            f"{raw_median:.1f} ms: {row['ratio_direct']:.2f}×"
        )

    recorded = report_phases = report_breakdown = report_per_call = None
    if not args.no_breakdown:
        try:
            say("recording the hub calls each page makes (in this process) …")
            calls = record_calls(stack.env, cookie, hub.api_url, paths)
            recorded = {
                k: {"path": paths[k], "kinds": kinds_of(v), "calls": v} for k, v in calls.items()
            }
            for k, r in recorded.items():
                say(f"  {k}): {r['kinds']}")
            say("step by step, in this process …")
            raws = {k: mt["targets"]["raw"] for k, mt in meta.items()}
            report_phases = phases(stack.env, cookie, paths, raws, args.repeat)
            say("breakdown and profile, in this process …")
            report_breakdown = breakdown(stack.env, cookie, paths, args.repeat)
            say("one call at a time, three ways, in this process …")
            report_per_call = per_call(
                stack.env, cookie, paths["small"], hub.api_url, token, who, 3 * args.repeat
            )
        except Exception as e:  # noqa: BLE001 (never lose the measurements for it)
            say(f"warning: the in-process part failed ({e!r}); the report goes without it")
    for mt in meta.values():
        mt["targets"]["raw"].close()
    machine["loadavg_1_5_15"] = [round(x, 2) for x in os.getloadavg()]

    report = {
        "benchmark": "roster",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "load": {
            "loadavg_before": load_before,
            "loadavg_after": load_after,
            "cpu_percent_during_timing": cpu,
        },
        "params": {
            "users": args.users,
            "big": args.big,
            "small": PAGE,
            "page": PAGE,
            "running": RUNNING,
            "stopped": STOPPED,
            "failed": FAILED,
            "repeat": args.repeat,
            "warmup": WARMUP,
            "quick": args.quick,
            "gunicorn_workers": gunicorn["workers"],
            "gunicorn_connections": gunicorn["connections"],
            "gunicorn_streams": gunicorn["streams"],
            "raw_concurrency": WORKERS,
        },
        "seeding": seeding,
        "results": results,
        "recorded": recorded,
        "phases": report_phases,
        "breakdown": report_breakdown,
        "per_call": report_per_call,
        "run_seconds": round(time.perf_counter() - started, 1),
    }
    text = markdown(report)
    say("")
    say(text)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "roster-quick" if args.quick else "roster"
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (args.out / f"{stem}.md").write_text(text, encoding="utf-8")
    say(f"wrote {args.out / (stem + '.json')} and {args.out / (stem + '.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
