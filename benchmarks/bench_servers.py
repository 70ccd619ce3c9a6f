#!/usr/bin/env python
"""Benchmark hubdesk's server pages and actions against a real hub with real spawns.

Starts a real JupyterHub on loopback (``hubdesk.devhub.LocalHub``, the mock single-user
server) and hubdesk under gunicorn as the production image runs it, registered with
the hub as an external service. Seeds users, a 50-member group and 20 running
servers through the hub's API, signs in as the hub admin through the hub's login
form and OAuth, then measures:

  a) the users list ``users/?limit=50``     vs ``GET /hub/api/users?limit=50``
  b) a user search ``users/?q=user-12``     vs ``GET /hub/api/users?name_filter=user-12&limit=50``
  c) running servers ``servers/?limit=50``  vs ``GET /hub/api/users?state=active&limit=50&…``
  d) a group start for the 50 members of ``bench-class`` through hubdesk's form, until
     its job page says done; and the same 50 starts through the API (one after
     another, and 5 at a time)
  e) N progress streams open at once through hubdesk (each holds a gunicorn thread)
     while ``users/?limit=50`` is timed: the largest N for which its median stays
     within 2x the idle median

Every number is a wall-clock time seen by a client on the same machine. Nothing is
asserted about the timings: this is a measurement, not a test.

    python benchmarks/bench_servers.py             # the issue's numbers
    python benchmarks/bench_servers.py --quick     # a fast check

See benchmarks/README.md for how to read the output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import signal
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import hubdesk.devhub as devhub
import requests
from _common import (
    HERE,
    PREFIX,
    SEED_TIMEOUT,
    USER_CHUNK,
    WARMUP,
    Series,
    Stack,
    Target,
    bench_root,
    breakdown_markdown,
    breakdown_pages,
    csrf_token,
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
from hubdesk.hub import PAGINATION_ACCEPT, HubAPIError, HubClient, HubUnreachable

CLASS = "bench-class"
CLASS_SIZE = 50
RUNNING = 20  # default servers kept running, so that servers/ has content
LAB = "lab"
SEARCH = "user-12"
SMALL = {"profile": "small"}
SLOW = {"profile": "slow"}  # the dev hub's spawner takes 3 s and reports progress
POLL = 0.5  # s between two looks at the job page (a browser: every 2 s)
SPAWN_SECONDS = 300
STREAM_SAMPLES = 20
SAMPLE_TIMEOUT = 4.0  # s: a list request slower than this counts as timed out
MAX_TIMEOUTS = 3  # a round stops after this many timed-out requests of one page
STEP_SETTLE = 0.5
MIN_WINDOW_SLOW = 12.0  # s: a slow round's timed window spans a few spawns
STREAM_RUNS = ("held-direct", "held-proxy", "slow-proxy")

# The dev hub's configuration plus one benchmark hook, written into the hub's directory
# (nothing in the repository changes): a server started with user_options
# {"bench_hold": token} stays pending, its progress stream open, until the benchmark
# creates bench-release/<token>; then its spawn fails without starting a process.
HOOK = """\
# Written by benchmarks/bench_servers.py: the dev hub's configuration, plus a hook.
import asyncio as _asyncio
import os as _os
import re as _re

_ORIGINAL = {original!r}
with open(_ORIGINAL, encoding="utf-8") as _f:
    exec(compile(_f.read(), _ORIGINAL, "exec"))  # noqa: S102 (our own file)

_RELEASE = _os.path.join(s["root"], "bench-release")


class BenchSpawner(DemoSpawner):  # noqa: F821 (defined by the original configuration)
    def _hold(self):
        token = (self.user_options or {{}}).get("bench_hold")
        if isinstance(token, str) and _re.fullmatch(r"[a-z0-9-]{{1,60}}", token):
            return token
        return None

    async def start(self):
        token = self._hold()
        if token is None:
            return await super().start()
        while not _os.path.exists(_os.path.join(_RELEASE, token)):
            await _asyncio.sleep(0.2)
        raise RuntimeError("released by the benchmark")

    async def progress(self):
        if self._hold() is None:
            async for event in super().progress():
                yield event
            return
        yield {{"progress": 10, "message": "held open by the benchmark"}}


c.JupyterHub.spawner_class = BenchSpawner  # noqa: F821
c.Spawner.start_timeout = 600  # noqa: F821 (a held spawn lasts as long as a round)
"""


def user_names(n: int) -> list[str]:
    # unpadded, so that a search for "user-12" finds user-12, user-120…129, user-1200…1299
    return [f"bench-user-{i}" for i in range(1, n + 1)]


def roles(names: list[str], max_streams: int) -> dict:
    """Which users do what (disjoint)."""
    return {
        "running": names[:RUNNING],
        "class": names[100 : 100 + CLASS_SIZE],
        "streams": names[200 : 200 + max_streams],
    }


# -- servers through the API ----------------------------------------------------------


def api_start(api: HubClient, user: str, server: str, options: dict) -> dict:
    """Start a server and follow its progress until ready or failed (as GroupJob does)."""
    t0 = time.perf_counter()
    try:
        status = api.start_server(user, server, options)
    except HubAPIError as e:
        if e.status == 400 and "already running" in e.message:
            return {"ok": True, "seconds": 0.0, "message": "already running"}
        return {"ok": False, "seconds": time.perf_counter() - t0, "message": e.message}
    last: dict = {"ready": status == 201}
    if status != 201:
        try:
            for event in api.progress(user, server, seconds=SPAWN_SECONDS):
                last = event or last
        except HubAPIError as e:  # 400: not pending any more; look at it
            if e.status != 400:
                raise
            model = (api.get_user(user).get("servers") or {}).get(server) or {}
            last = {"ready": bool(model.get("ready")), "message": "ready before the stream"}
    return {
        "ok": bool(last.get("ready")),
        "seconds": time.perf_counter() - t0,
        "message": last.get("message", ""),
    }


def server_state(api: HubClient, user: str, server: str) -> str:
    model = (api.get_user(user, include_stopped_servers=True).get("servers") or {}).get(server)
    if model is None:
        return "gone"
    if model.get("pending"):
        return f"pending {model['pending']}"
    return "running" if model.get("ready") else "stopped"


def stop_servers(api: HubClient, pairs, *, remove: bool = True, timeout: float = 180) -> float:
    """Stop (and remove named) servers, then wait until each is gone or stopped."""
    t0 = time.perf_counter()

    def one(pair):
        user, server = pair
        deadline = time.monotonic() + timeout
        while True:
            try:
                api.stop_server(user, server, remove=remove and bool(server))
            except HubAPIError as e:
                if e.status == 404:
                    return
                if e.status != 400:  # 400: pending spawn or stop; try again
                    raise
            state = server_state(api, user, server)
            if state in ("gone", "stopped") and not (remove and server and state != "gone"):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{user}/{server} still {state} after {timeout:.0f} s")
            time.sleep(0.2)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, list(pairs)))
    return time.perf_counter() - t0


# -- seeding -----------------------------------------------------------------------------


def seed(api: HubClient, who: dict, names: list[str]) -> dict:
    out: dict = {}
    t0 = time.perf_counter()
    chunks = []
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
            chunks.append(round(time.perf_counter() - c0, 2))
            say(f"  users {i + 1:,}-{i + len(chunk):,}: {chunks[-1]:.1f} s")
    out["users_s"] = time.perf_counter() - t0
    out["user_chunks_s"] = chunks
    say(f"  {len(names):,} users: {out['users_s']:.1f} s")

    t0 = time.perf_counter()
    try:
        api.create_group(CLASS, who["class"])
    except HubAPIError as e:
        if e.status != 409:
            raise
        api.add_group_members(CLASS, who["class"])
    out["group_s"] = time.perf_counter() - t0
    say(f"  {CLASS} with {CLASS_SIZE} members: {out['group_s']:.2f} s")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=5) as pool:
        started = list(pool.map(lambda u: api_start(api, u, "", SMALL), who["running"]))
    bad = [u for u, r in zip(who["running"], started, strict=True) if not r["ok"]]
    if bad:
        raise RuntimeError(f"default servers did not start for {bad}: {started}")
    out["running_servers_s"] = time.perf_counter() - t0
    say(
        f"  {RUNNING} default servers (profile small), 5 at a time: "
        f"{out['running_servers_s']:.1f} s"
    )
    return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in out.items()}


# -- d) a group start ----------------------------------------------------------------------


def outcomes_of(page: str) -> dict:
    return dict(re.findall(r'<tr data-user="([^"]+)" data-outcome="([^"]+)">', page))


def count(values) -> dict:
    out: dict = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))


def group_start_hubdesk(stack: Stack, session: requests.Session, members: list[str]) -> dict:
    """Review, confirm, then poll the job page until it says done (as a person would)."""
    url = f"{stack.hub.public_url}{PREFIX}groups/{CLASS}/servers"
    page = session.get(url, timeout=30)
    page.raise_for_status()
    data = {
        "csrf_token": csrf_token(page.text),
        "action": "start",
        "server": LAB,
        "profile": SMALL["profile"],
    }
    t0 = time.perf_counter()
    r = session.post(url, data=data, timeout=30)
    review_ms = (time.perf_counter() - t0) * 1000
    if 'name="confirm" value="yes"' not in r.text:
        raise RuntimeError(f"no confirmation page: {r.status_code} {r.text[:300]}")
    t0 = time.perf_counter()
    r = session.post(url, data=dict(data, confirm="yes"), timeout=30, allow_redirects=False)
    confirm_ms = (time.perf_counter() - t0) * 1000
    if r.status_code != 302 or "/servers/jobs/" not in r.headers.get("Location", ""):
        raise RuntimeError(f"the confirmation did not lead to a job: {r.status_code}")
    job = urljoin(url, r.headers["Location"])
    polls = 0
    while True:
        page = session.get(job, timeout=30).text
        polls += 1
        if 'data-testid="job-state">done' in page:
            break
        if 'data-testid="job-state">interrupted' in page or time.perf_counter() - t0 > 600:
            raise RuntimeError("the group job was interrupted or took over 10 minutes")
        time.sleep(POLL)
    total = time.perf_counter() - t0
    found = outcomes_of(page)
    return {
        "how": "hubdesk group action",
        "total_s": round(total, 2),
        "review_ms": round(review_ms, 1),
        "confirm_post_ms": round(confirm_ms, 1),
        "job_page_polls": polls,
        "outcomes": count(found.values()),
        "members": len(found),
    }


def group_start_api(api: HubClient, members: list[str], concurrency: int) -> dict:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(lambda u: api_start(api, u, LAB, SMALL), members))
    total = time.perf_counter() - t0
    each = [r["seconds"] for r in results]
    return {
        "how": "API, one after another" if concurrency == 1 else f"API, {concurrency} at a time",
        "total_s": round(total, 2),
        "per_server_median_s": round(statistics.median(each), 2),
        "per_server_max_s": round(max(each), 2),
        "outcomes": count("started" if r["ok"] else "failed" for r in results),
        "members": len(results),
    }


def running_count(api: HubClient, members: list[str], server: str) -> int:
    with ThreadPoolExecutor(max_workers=8) as pool:
        states = list(pool.map(lambda u: server_state(api, u, server), members))
    return sum(1 for s in states if s == "running")


# -- e) progress streams ---------------------------------------------------------------------


def cpu_snapshot(stack: Stack) -> dict:
    """CPU seconds so far of the hub, its proxy, gunicorn (all workers), and the whole machine."""
    tick = os.sysconf("SC_CLK_TCK")

    def stat(pid):
        try:
            text = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        fields = text.rsplit(")", 1)[1].split()
        # after the name: state ppid … utime(12) stime(13) cutime(14) cstime(15)
        return int(fields[1]), [int(x) / tick for x in fields[11:15]]

    hub_pid = stack.hub.process.pid if stack.hub.process else None
    gun_pid = stack.server.process.pid if stack.server.process else None
    out = {"hub": 0.0, "servers": 0.0, "proxy": 0.0, "gunicorn": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        got = stat(pid)
        if got is None:
            continue
        ppid, (utime, stime, cutime, cstime) = got
        if pid == hub_pid:
            out["hub"] += utime + stime
            out["servers"] += cutime + cstime  # single-user servers that ended (reaped)
        elif ppid == hub_pid:
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            # the hub's other children are single-user servers: live + reaped = their CPU
            out["proxy" if b"configurable-http-proxy" in cmd else "servers"] += utime + stime
        elif pid == gun_pid or ppid == gun_pid:
            out["gunicorn"] += utime + stime
    line = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(x) / tick for x in line]
    out["machine_busy"] = sum(values) - values[3] - values[4]  # minus idle and iowait
    out["time"] = time.monotonic()
    return out


def cpu_share(before: dict, after: dict) -> dict:
    wall = after["time"] - before["time"]
    return {
        k: round(100 * (after[k] - before[k]) / wall) for k in before if k != "time" and wall > 0
    }


@dataclass
class StreamPool:
    """N clients, each watching a spawn through hubdesk's progress stream."""

    api: HubClient
    cookie: str
    base: str  # where the streams go: the proxy's public URL or gunicorn's own
    mode: str  # "held": one spawn held pending all round; "slow": 3 s spawns, one after another
    users: list
    tag: str
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: int = 0  # stream requests under way
    flowing: int = 0  # of which an event has come back (hubdesk gave them a thread)
    servers: list = field(default_factory=list)
    streams: int = 0
    statuses: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)
    threads: list = field(default_factory=list)
    hold_dir: Path | None = None

    def start(self) -> None:
        for k, user in enumerate(self.users):
            t = threading.Thread(target=self._keep, args=(k, user), daemon=True)
            t.start()
            self.threads.append(t)

    def counts(self) -> tuple[int, int]:
        with self.lock:
            return self.sent, self.flowing

    def _bump(self, sent=0, flowing=0) -> None:
        with self.lock:
            self.sent += sent
            self.flowing += flowing

    def _keep(self, k: int, user: str) -> None:
        session = requests.Session()
        session.cookies.set("hubdesk-session", self.cookie, domain="127.0.0.1", path=PREFIX)
        i = 0
        while not self.stop.is_set():
            name = f"{self.tag}-{k}-{i}"
            options = dict(SLOW, bench_hold=name) if self.mode == "held" else SLOW
            try:
                self.api.start_server(user, name, options)
            except (HubAPIError, HubUnreachable) as e:
                self.errors.append(f"start {user}/{name}: {e}")
                time.sleep(0.5)
                continue
            with self.lock:
                self.servers.append((user, name))
            url = f"{self.base}{PREFIX}users/{user}/servers/{name}/progress/events"
            self._bump(sent=1)
            got_event = False
            try:
                with session.get(url, stream=True, timeout=(5, 900)) as r:
                    with self.lock:
                        self.statuses[r.status_code] = self.statuses.get(r.status_code, 0) + 1
                    for line in r.iter_lines(chunk_size=1):
                        if line.startswith(b"data:") and not got_event:
                            got_event = True
                            self._bump(flowing=1)
            except requests.RequestException as e:
                self.errors.append(f"stream {user}/{name}: {e.__class__.__name__}")
            except Exception as e:  # noqa: BLE001 (a keeper must not die silently)
                self.errors.append(f"stream {user}/{name}: {e!r}")
            finally:
                self._bump(sent=-1, flowing=-1 if got_event else 0)
                with self.lock:
                    self.streams += 1
            if self.mode == "held":
                return  # a held stream lasts the whole round
            try:
                self.api.stop_server(user, name, remove=True)
            except (HubAPIError, HubUnreachable):
                pass  # the clean-up after the round gets it
            i += 1

    def release(self) -> None:
        self.stop.set()
        if self.mode == "held" and self.hold_dir is not None:
            self.hold_dir.mkdir(exist_ok=True)
            with self.lock:
                names = [name for _, name in self.servers]
            for name in names:
                (self.hold_dir / name).touch()

    def join(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.1, deadline - time.monotonic()))


def worker_connections(stack: Stack) -> list[int]:
    """Established connections each gunicorn worker holds on its port (most first)."""
    port = f"{stack.server.port:04X}"
    established = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port}") and fields[3] == "01":
            established.add(fields[9])
    counts = []
    master = stack.server.process.pid if stack.server.process else None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) != master:
                continue
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue
        n = 0
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in established:
                n += 1
        counts.append(n)
    return sorted(counts, reverse=True)


def access_log_ms(log: Path, offset: int, path: str) -> list[float]:
    """gunicorn's own times (ms, from a thread taking the request up) for path, since offset."""
    with open(log, "rb") as f:
        f.seek(offset)
        text = f.read().decode(errors="replace")
    pattern = re.compile(rf'"GET {re.escape(path)} HTTP/1\.1" 200 \d+ (\d+)ms')
    return [float(m) for m in pattern.findall(text)]


def p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def finite(x: float) -> float | None:
    """None for a time that includes a timed-out request."""
    return round(x, 2) if x != float("inf") else None


def timed_get(session, url, headers=None) -> float | None:
    """ms to read the whole page; None if it took over SAMPLE_TIMEOUT."""
    t0 = time.perf_counter()
    try:
        r = session.get(url, headers=headers, timeout=SAMPLE_TIMEOUT, allow_redirects=False)
        r.content  # noqa: B018 (read the whole body)
    except requests.Timeout:
        return None
    except requests.ConnectionError as e:  # a read timeout can surface as this
        if "timed out" in str(e).lower():
            return None
        raise
    if r.status_code != 200:
        raise RuntimeError(f"{url}: {r.status_code}")
    return (time.perf_counter() - t0) * 1000


def summarize(samples: list) -> dict:
    inf = float("inf")
    values = [x if x is not None else inf for x in samples]
    ok = [x for x in samples if x is not None]
    return {
        "n": len(samples),
        "timeouts": len(samples) - len(ok),
        "median_ms": finite(statistics.median(values)) if values else None,
        "p95_ms": finite(p95(values)) if values else None,
        "max_ok_ms": round(max(ok), 2) if ok else None,
    }


STREAM_SERIES = ("proxy", "direct", "raw")


def stream_round(stack, api, cookie, route, mode, users, n, samples, tag) -> dict:
    """Open n streams, time users/?limit=50 (via proxy, direct) and the raw call, clean up."""
    urls = {
        "proxy": f"{stack.hub.public_url}{PREFIX}users/?limit=50",
        "direct": f"{stack.server.url}{PREFIX}users/?limit=50",
        "raw": f"{stack.hub.api_url}/users?limit=50",
    }
    # a new connection to gunicorn for each request, as the proxy makes them: a kept-alive
    # one would stay with the worker that took it and never see the other one's queue
    headers = {"proxy": None, "direct": {"Connection": "close"}, "raw": None}
    sessions = {}
    for key in STREAM_SERIES:
        s = requests.Session()
        if key == "raw":
            s.headers.update({"Authorization": f"token {stack.token}", "Accept": PAGINATION_ACCEPT})
        else:
            s.cookies.set("hubdesk-session", cookie, domain="127.0.0.1", path=PREFIX)
        sessions[key] = s
        for _ in range(WARMUP):  # before the streams: connections and caches warm
            timed_get(s, urls[key], headers[key])

    base = stack.hub.public_url if route == "proxy" else stack.server.url
    pool = StreamPool(api, cookie, base, mode, users[:n], tag)
    pool.hold_dir = stack.hub.root / "bench-release"
    t_open = time.perf_counter()
    pool.start()
    # until every stream is sent, and (direct) all are flowing or 3 s more have passed;
    # through the proxy nothing flows before the end (it buffers), so 1 s more
    deadline, all_sent = time.monotonic() + 60, None
    while time.monotonic() < deadline:
        sent_now, flowing_now = pool.counts()
        if sent_now >= n and all_sent is None:
            all_sent = time.monotonic()
        if all_sent is not None and (
            (route == "direct" and flowing_now >= n)
            or time.monotonic() - all_sent > (3 if route == "direct" else 1)
        ):
            break
        time.sleep(0.05)
    opened_s = time.perf_counter() - t_open
    time.sleep(STEP_SETTLE)

    per_worker = worker_connections(stack)
    log_offset = stack.server.log_path.stat().st_size
    before = cpu_snapshot(stack)
    times = {key: [] for key in STREAM_SERIES}
    sent, flowing = [], []
    # a slow run's window spans a few spawns (3 s each), not just a burst of fast requests
    pace = MIN_WINDOW_SLOW / samples if mode == "slow" else 0
    t_window = time.monotonic()
    for i in range(samples):
        wait = t_window + i * pace - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        s, f = pool.counts()
        sent.append(s)
        flowing.append(f)
        k = i % len(STREAM_SERIES)
        for key in STREAM_SERIES[k:] + STREAM_SERIES[:k]:
            times[key].append(timed_get(sessions[key], urls[key], headers[key]))
        if any(times[key].count(None) >= MAX_TIMEOUTS for key in ("proxy", "direct")):
            break
    after = cpu_snapshot(stack)
    sent_end = pool.counts()[0]
    own = access_log_ms(stack.server.log_path, log_offset, f"{PREFIX}users/?limit=50")

    pool.release()
    pool.join()
    t0 = time.perf_counter()
    with pool.lock:
        pairs = list(pool.servers)
    stop_servers(api, pairs)
    cleanup_s = time.perf_counter() - t0

    return {
        "n": n,
        "route": route,
        "mode": mode,
        **{key: summarize(times[key]) for key in STREAM_SERIES},
        "gunicorn_own_median_ms": statistics.median(own) if own else None,
        "open_min": min(sent),
        "open_max": max(sent),
        "open_at_end": sent_end,
        "worker_connections": per_worker,
        "flowing_min": min(flowing),
        "flowing_max": max(flowing),
        "streams_in_round": pool.streams,
        "stream_statuses": {str(k): v for k, v in sorted(pool.statuses.items())},
        "servers_started": len(pairs),
        "open_s": round(opened_s, 2),
        "window_s": round(after["time"] - before["time"], 2),
        "cleanup_s": round(cleanup_s, 2),
        "cpu_percent": cpu_share(before, after),
        "errors": pool.errors[:10],
    }


def stream_steps(capacity: int, quick: bool) -> list[int]:
    step = 8 if quick else 4
    steps = list(range(0, capacity + 1, step))
    if steps[-1] != capacity:
        steps.append(capacity)
    return [*steps, capacity + 4]


def within(r: dict, idle: dict, key: str) -> bool:
    m = r[key]["median_ms"]
    return m is not None and idle[key]["median_ms"] is not None and m <= 2 * idle[key]["median_ms"]


def streams_test(stack, api, cookie, who, steps, samples, runs) -> dict:
    out = {}
    for run_name in runs:
        mode, route = run_name.split("-")
        rounds, skipped = [], []
        for n in steps:
            if len(rounds) >= 3 and all(r[route]["median_ms"] is None for r in rounds[-2:]):
                skipped.append(n)  # two rounds in a row timed out: more streams won't help
                continue
            say(f"e) {run_name}: N = {n} …")
            tag = f"{mode[0]}{route[0]}{n}"
            r = stream_round(stack, api, cookie, route, mode, who["streams"], n, samples, tag)
            rounds.append(r)

            def show(s):
                m = s["median_ms"]
                return (f"{m:.1f} ms" if m is not None else "timed out") + (
                    f" ({s['timeouts']} of {s['n']} timed out)" if s["timeouts"] else ""
                )

            say(
                f"   users/?limit=50 via proxy {show(r['proxy'])}, direct {show(r['direct'])}, "
                f"raw {show(r['raw'])}; open {r['open_min']}-{r['open_max']}, flowing "
                f"{r['flowing_min']}-{r['flowing_max']}, connections per worker "
                f"{r['worker_connections']}; statuses {r['stream_statuses']}; "
                f"CPU {r['cpu_percent']}"
            )
            if r["errors"]:
                say(f"   errors: {r['errors'][:3]}")
        idle = rounds[0]
        for r in rounds:
            r["within_2x"] = {key: within(r, idle, key) for key in ("proxy", "direct")}
            # stricter: the median within 2x and not one request timed out
            r["within_2x_no_timeouts"] = {
                key: r["within_2x"][key] and not r[key]["timeouts"] for key in ("proxy", "direct")
            }
        largest, largest_strict = {}, {}
        for key in ("proxy", "direct"):
            largest[key] = largest_strict[key] = 0
            for r in rounds:
                if not r["within_2x"][key]:
                    break
                largest[key] = r["n"]
            for r in rounds:
                if not r["within_2x_no_timeouts"][key]:
                    break
                largest_strict[key] = r["n"]
        queue = next(
            (
                r["n"]
                for r in rounds
                if r["proxy"]["timeouts"]
                or r["direct"]["timeouts"]
                or (route == "direct" and r["flowing_min"] < r["n"])
            ),
            None,
        )
        out[run_name] = {
            "mode": mode,
            "route": route,
            "idle_median_ms": {key: idle[key]["median_ms"] for key in STREAM_SERIES},
            "largest_n_within_2x": largest,
            "largest_n_within_2x_no_timeouts": largest_strict,
            "first_n_with_queueing": queue,
            "skipped": skipped,
            "rounds": rounds,
        }
    return out


# -- report --------------------------------------------------------------------------------


def ms_or_timeout(x) -> str:
    return fmt(x) if x is not None else f"> {SAMPLE_TIMEOUT * 1000:,.0f}"


def md_lists(report: dict) -> list[str]:
    lines = [
        "## List pages",
        "",
        "| page | hubdesk median | p95 | raw hub call | raw median | ratio | "
        "hubdesk's own hub call, raw median |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    for row in report["results"]:
        raw = row["raw"]
        for via, key in (("via proxy", "hubdesk_proxy"), ("direct to gunicorn", "hubdesk_direct")):
            h = row[key]
            lines.append(
                f"| {row['id']}) {row['page']} — {via} | {fmt(h['median_ms'])} | "
                f"{fmt(h['p95_ms'])} | {row['raw_call']} | {fmt(raw['median_ms'])} | "
                f"{h['median_ms'] / raw['median_ms']:.1f}× | {fmt(row['own']['median_ms'])} |"
            )
    return [
        *lines,
        "",
        "The last column is the call hubdesk itself makes for the page "
        "(" + "; ".join(f"{r['id']}) `{r['own_call']}`" for r in report["results"]) + "), "
        "timed raw with the service token.",
        "",
    ]


def md_group(report: dict) -> list[str]:
    lines = [
        f"## Starting servers for the {CLASS_SIZE} members of `{CLASS}`",
        "",
        f"Server `{LAB}`, profile small, none of them running before; each start is followed "
        "until the server is ready. hubdesk: from the confirming POST until the job page "
        f"(looked at every {POLL:g} s) says done. Stopped and removed between the runs.",
        "",
        "| how | total s | per server | outcomes | CPU % hub / servers / hubdesk / machine |",
        "|---|---:|---|---|---|",
    ]
    for g in report["group_start"]:
        outcomes = ", ".join(f"{k} {v}" for k, v in g["outcomes"].items())
        if "per_server_median_s" in g:
            per = f"median {g['per_server_median_s']:.2f} s, max {g['per_server_max_s']:.2f} s"
        else:
            per = f"review page {g['review_ms']:.0f} ms, confirm POST {g['confirm_post_ms']:.0f} ms"
        c = g["cpu_percent"]
        cpu = (
            f"{c.get('hub', 0)} / {c.get('servers', 0)} / {c.get('gunicorn', 0)} / "
            f"{c.get('machine_busy', 0)}"
        )
        lines.append(f"| {g['how']} | {g['total_s']:.1f} | {per} | {outcomes} | {cpu} |")
    return [*lines, ""]


def md_streams(report: dict) -> list[str]:
    p = report["params"]
    cap = p["gunicorn_workers"] * p["gunicorn_streams"]
    lines = [
        "## Progress streams open at once vs the users list",
        "",
        "N clients each watch a spawn through hubdesk's progress stream, "
        "`users/{user}/servers/{server}/progress/events`, while `users/?limit=50` (via the "
        "proxy, and direct to gunicorn on a new connection each time, as the proxy opens "
        "them) and the raw `GET /hub/api/users?limit=50` are timed in "
        f"turn ({p['stream_samples']} rounds; a request over {SAMPLE_TIMEOUT:g} s counts as "
        f"timed out, and a round stops after {MAX_TIMEOUTS} of one page). Each open stream "
        f"holds one of its worker's stream slots for as long as it lasts: {cap} in all, "
        f"{p['gunicorn_streams']} per worker.",
        "",
        "- **held**: each stream's spawn stays pending for the whole round (a hook the "
        "benchmark adds to the dev hub's configuration, in the hub's directory), so N streams "
        "stay open and the hub has little to do; **slow**: each client starts a server with "
        "the 3 s `slow` profile, watches it come up, stops it and starts the next one, so about "
        "N streams are open and the hub and the mock servers work hard.",
        "- **direct**: the streams go straight to gunicorn; **proxy**: through the hub's proxy, "
        "as a browser's would.",
        "- *open*: stream requests under way during the timed window (min–max); *flowing*: "
        "those an event came back on, i.e. that got a thread (a stream sent but not flowing "
        "waits in a worker's queue). The dev hub's proxy passes a response on only when it is "
        "complete, so through it nothing flows before the end (—).",
        "- *connections per worker*: the connections each gunicorn worker held when the "
        "timed window began (most first); in the direct runs, nearly all of them streams.",
        "- *gunicorn's own*: the median time in gunicorn's access log for the list page, "
        "counted from when a thread takes the request up; the gap to the client's time is "
        "queueing (and the proxy). t/o: timed out.",
        "- CPU: % of one CPU during the timed window; *servers*: the mock single-user servers "
        "(each takes about 0.8 s of CPU to start); *machine*: all CPUs, anything running.",
        "",
    ]

    def page(sr):
        out = ms_or_timeout(sr["median_ms"])
        if sr["timeouts"]:
            out += f" ({sr['timeouts']}/{sr['n']} t/o)"
        return out

    for name, st in report["streams"].items():
        big = st["largest_n_within_2x"]
        strict = st["largest_n_within_2x_no_timeouts"]
        idle = st["idle_median_ms"]
        queue = st["first_n_with_queueing"]
        lines += [
            f"### {name}",
            "",
            f"The list page's median stays within 2× idle up to N = **{big['proxy']}** via the "
            f"proxy (idle {ms_or_timeout(idle['proxy'])} ms) and **{big['direct']}** direct "
            f"(idle {ms_or_timeout(idle['direct'])} ms); with no request over "
            f"{SAMPLE_TIMEOUT:g} s as well, up to N = **{strict['proxy']}** via the proxy and "
            f"**{strict['direct']}** direct."
            + (
                f" First timeouts or queued streams at N = {queue}."
                if queue is not None
                else " No timeouts and no queued streams."
            ),
            "",
            "| N | open | flowing | connections per worker | users/ via proxy: median | p95 | "
            "direct: median | p95 | raw median | gunicorn's own | "
            "CPU % hub / proxy / servers / hubdesk / machine |",
            "|---:|---|---|---|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in st["rounds"]:
            c = r["cpu_percent"]
            own = r["gunicorn_own_median_ms"]
            flowing = f"{r['flowing_min']}–{r['flowing_max']}" if r["route"] == "direct" else "—"
            lines.append(
                f"| {r['n']} | {r['open_min']}–{r['open_max']} | {flowing} | "
                f"{' / '.join(map(str, r['worker_connections']))} | {page(r['proxy'])} | "
                f"{ms_or_timeout(r['proxy']['p95_ms'])} | "
                f"{page(r['direct'])} | {ms_or_timeout(r['direct']['p95_ms'])} | "
                f"{page(r['raw'])} | {fmt(own) if own is not None else '—'} | "
                f"{c.get('hub', 0)} / {c.get('proxy', 0)} / {c.get('servers', 0)} / "
                f"{c.get('gunicorn', 0)} / {c.get('machine_busy', 0)} |"
            )
        failed = [
            f"N = {r['n']}: " + ", ".join(f"{v} × {k}" for k, v in r["stream_statuses"].items())
            for r in st["rounds"]
            if any(k != "200" for k in r["stream_statuses"])
        ]
        if failed:
            lines += [
                "",
                "Streams not answered 200 (the proxy's 503: its 20 s timeout): "
                + "; ".join(failed)
                + ".",
            ]
        if st["skipped"]:
            lines += [
                "",
                f"Not run: N = {', '.join(map(str, st['skipped']))} (two rounds in a row had "
                "timed out already).",
            ]
        lines.append("")
    return lines


def md_every(report: dict) -> list[str]:
    lines = [
        "## Every list series",
        "",
        "| series | n | min | median | p95 | max | slow (>3× median) | bytes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report["results"]:
        for key in ("hubdesk_proxy", "hubdesk_direct", "raw", "own"):
            s = row[key]
            lines.append(
                f"| {row['id']}) {s['label']} | {s['n']} | {fmt(s['min_ms'])} | "
                f"{fmt(s['median_ms'])} | {fmt(s['p95_ms'])} | {fmt(s['max_ms'])} | "
                f"{s['slow_samples']} | {s['bytes']:,} |"
            )
    return [*lines, ""]


def md_breakdown(report: dict) -> list[str]:
    return breakdown_markdown(
        report["breakdown"],
        "`HubClient.page()` includes its hub API call and the JSON decoding; `servers_of()` "
        "turns the hub's server models into rows.",
    )


def markdown(report: dict) -> str:
    p, m = report["params"], report["machine"]
    lines = [
        f"# hubdesk server pages and actions vs raw hub API calls ({report['date']})",
        "",
        f"{p['users']:,} users, {p['running']} of them with a running default server "
        f"(profile small), `{CLASS}` with {CLASS_SIZE} members; {p['repeat']} timed requests "
        f"per series after {WARMUP} warm-up requests, interleaved. hubdesk under gunicorn "
        f"({p['gunicorn_workers']} gevent workers × {p['gunicorn_connections']} connections; "
        f"group actions {p['bulk_concurrency']} hub calls at a time), signed in as the hub "
        "admin. Times in ms, wall clock at the client. Ratio = hubdesk median / raw median.",
        "",
        machine_line(m),
        "",
    ]
    if report["results"]:
        lines += md_lists(report)
    if report["group_start"]:
        lines += md_group(report)
    if report["streams"]:
        lines += md_streams(report)
    if report["results"]:
        lines += md_every(report)
    sd = report["seeding"]
    chunks = ", ".join(f"{x:.1f}" for x in sd["user_chunks_s"]) or "already there"
    lines += [
        f"Seeding through the hub's API: {p['users']:,} users {sd['users_s']:.1f} s "
        f"({USER_CHUNK:,} a call: {chunks} s), `{CLASS}` {sd['group_s']:.2f} s, "
        f"{p['running']} default servers 5 at a time {sd['running_servers_s']:.1f} s. "
        f"The whole run took {report['run_seconds'] / 60:.1f} min.",
        "",
    ]
    if report.get("breakdown"):
        lines += md_breakdown(report)
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------------


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=None, help="users created (default 10000)")
    ap.add_argument("--repeat", type=int, default=None, help="timed requests per series (30)")
    ap.add_argument(
        "--streams",
        default=None,
        help="N for the streams test, comma-separated (default 0,4,8,… up to the thread "
        "capacity, then capacity+4; --quick: steps of 8)",
    )
    ap.add_argument(
        "--stream-runs",
        default=",".join(STREAM_RUNS),
        help="which streams runs, of held-direct, held-proxy, slow-proxy, slow-direct "
        f"(default {','.join(STREAM_RUNS)})",
    )
    ap.add_argument(
        "--stream-samples", type=int, default=None, help=f"list requests per N ({STREAM_SAMPLES})"
    )
    ap.add_argument(
        "--workers", type=int, default=None, help="HUBDESK_WORKERS (default: gunicorn_conf's)"
    )
    ap.add_argument(
        "--connections",
        type=int,
        default=None,
        help="HUBDESK_WORKER_CONNECTIONS (default: gunicorn_conf's)",
    )
    ap.add_argument("--dir", type=Path, default=None, help="the hub's directory (kept afterwards)")
    ap.add_argument("--quick", action="store_true", help="1,000 users, 10 repeats; servers-quick.*")
    ap.add_argument("--out", type=Path, default=HERE / "results", help="where results go")
    ap.add_argument("--no-breakdown", action="store_true", help="skip the in-process breakdown")
    ap.add_argument(
        "--parts",
        default="lists,group,streams",
        help="what to measure, of lists, group, streams (default: all three)",
    )
    args = ap.parse_args(argv)
    quick = {"users": 1000, "repeat": 10, "stream_samples": 10}
    full = {"users": 10000, "repeat": 30, "stream_samples": STREAM_SAMPLES}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.stream_runs = [m.strip() for m in args.stream_runs.split(",") if m.strip()]
    if not set(args.stream_runs) <= {"held-direct", "held-proxy", "slow-proxy", "slow-direct"}:
        ap.error("--stream-runs: held-direct, held-proxy, slow-proxy and/or slow-direct")
    args.parts = {x.strip() for x in args.parts.split(",") if x.strip()}
    if not args.parts <= {"lists", "group", "streams"}:
        ap.error("--parts: lists, group and/or streams")
    if args.streams is not None:
        args.streams = sorted({int(x) for x in args.streams.split(",")} | {0})
    if args.repeat < 1 or args.stream_samples < 1:
        ap.error("--repeat and --stream-samples must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.perf_counter()
    root, keep = bench_root(args.dir)
    env = {
        "HUBDESK_PROFILES": str(PROFILES_FILE),
        "HUBDESK_STATE_DIR": str(root / "hubdesk-state"),
    }
    if args.workers:
        env["HUBDESK_WORKERS"] = str(args.workers)
    if args.connections:
        env["HUBDESK_WORKER_CONNECTIONS"] = str(args.connections)
    config = root / "bench_jupyterhub_config.py"
    config.write_text(HOOK.format(original=str(devhub.CONFIG_FILE)), encoding="utf-8")
    # LocalHub.start() reads hubdesk.devhub.CONFIG_FILE: point it at the wrapper for this run
    with (
        patched(devhub, "CONFIG_FILE", lambda _original: config),
        hub_and_hubdesk(root, keep=keep, env=env) as stack,
    ):
        return run(args, stack, started)


def run(args, stack: Stack, started: float) -> int:
    hub, server, token = stack.hub, stack.server, stack.token
    gunicorn = gunicorn_settings(server.env)
    capacity = gunicorn["workers"] * gunicorn["streams"]
    steps = args.streams or stream_steps(capacity, args.quick)
    if args.users < 200 + max(steps):
        raise SystemExit(f"--users must be at least {200 + max(steps)} for these stream steps")
    names = user_names(args.users)
    who = roles(names, max(steps))

    api = HubClient(hub.api_url, token, timeout=SEED_TIMEOUT)
    hub_version = api.version()
    # the code gunicorn loaded is the code at the start: note its commit now, and load
    # the same modules here for the breakdown (the checkout may change while this runs)
    machine = machine_info(hub_version)
    breakdown_ok = not args.no_breakdown and "lists" in args.parts
    if breakdown_ok:
        try:
            from hubdesk import create_app

            create_app(dict(stack.env, HUBDESK_LOG_LEVEL="WARNING"))
        except Exception as e:  # noqa: BLE001 (the measurements do not need it)
            say(f"warning: the app does not load in this process ({e!r}); no breakdown")
            breakdown_ok = False
    say(f"gunicorn: {gunicorn['workers']} workers × {gunicorn['connections']} connections")
    say(f"seeding {args.users:,} users, {CLASS} and {RUNNING} running servers through the API:")
    seeding = seed(api, who, names)

    t0 = time.perf_counter()
    proxied = sign_in(hub, page="users/")
    took = time.perf_counter() - t0
    say(f"signed in as admin through the hub's login form and OAuth ({took:.1f} s)")
    cookie = session_cookie(proxied)
    direct = requests.Session()
    direct.cookies.set("hubdesk-session", cookie, domain="127.0.0.1", path=PREFIX)
    raw = requests.Session()
    raw.headers["Authorization"] = f"token {token}"
    paged = {"Accept": PAGINATION_ACCEPT}

    matches = sum(1 for n in names if SEARCH in n)
    cases = [
        (
            "a",
            "users list `users/?limit=50`",
            "users/?limit=50",
            "/users?limit=50",
            "/users?sort=name&include_stopped_servers=1&offset=0&limit=50",
            f"of {args.users + 1}<",
        ),
        (
            "b",
            f"user search `users/?q={SEARCH}` ({matches} matches)",
            f"users/?q={SEARCH}",
            f"/users?name_filter={SEARCH}&limit=50",
            f"/users?sort=name&include_stopped_servers=1&name_filter={SEARCH}&offset=0&limit=50",
            f"of {matches}<",
        ),
        (
            "c",
            f"running servers `servers/?limit=50` ({RUNNING} running)",
            "servers/?limit=50",
            "/users?state=active&limit=50&sort=last_activity",
            "/users?offset=0&limit=50&state=active&sort=last_activity",
            f"of {RUNNING}<",
        ),
    ]
    results = []
    for key, page, path, raw_path, own_path, expect in cases if "lists" in args.parts else ():
        targets = [
            Target(Series("hubdesk via proxy", f"{hub.public_url}{PREFIX}{path}"), proxied),
            Target(Series("hubdesk direct to gunicorn", f"{server.url}{PREFIX}{path}"), direct),
            Target(Series(f"raw GET /hub/api{raw_path}", f"{hub.api_url}{raw_path}"), raw, paged),
            Target(
                Series(f"hubdesk's call GET /hub/api{own_path}", f"{hub.api_url}{own_path}"),
                raw,
                paged,
            ),
        ]
        _, _, r = targets[0].hit()
        if not re.search(re.escape(expect.rstrip("<")) + r"\s*<", r.text):
            say(f"  warning: {path} does not show {expect.rstrip('<')!r}: is it the page we think?")
        say(f"{key}) {page}: {args.repeat} x 4 requests …")
        measure(targets, args.repeat)
        keys = ("hubdesk_proxy", "hubdesk_direct", "raw", "own")
        s = {k: t.series.summary() for k, t in zip(keys, targets, strict=True)}
        results.append(
            {
                "id": key,
                "page": page,
                "path": path,
                "raw_call": f"`GET /hub/api{raw_path}`",
                "own_call": f"GET /hub/api{own_path}",
                **s,
            }
        )
        say("   medians: " + ", ".join(f"{k} {s[k]['median_ms']:.1f} ms" for k in keys))

    # d) group start: hubdesk's form, then the API one after another, then 5 at a time
    members = who["class"]
    concurrency = int(stack.env.get("HUBDESK_BULK_CONCURRENCY", "5"))
    group_start = []
    for how in ("hubdesk", 1, concurrency) if "group" in args.parts else ():
        say(f"d) starting {LAB!r} for the {CLASS_SIZE} members of {CLASS}: {how} …")
        before = cpu_snapshot(stack)
        if how == "hubdesk":
            res = group_start_hubdesk(stack, proxied, members)
        else:
            res = group_start_api(api, members, how)
        res["cpu_percent"] = cpu_share(before, cpu_snapshot(stack))
        res["running_after"] = running_count(api, members, LAB)
        res["cleanup_s"] = round(stop_servers(api, [(m, LAB) for m in members]), 2)
        group_start.append(res)
        say(
            f"   {res['total_s']:.1f} s, outcomes {res['outcomes']}, {res['running_after']} "
            f"running; stopped and removed in {res['cleanup_s']:.1f} s; CPU {res['cpu_percent']}"
        )

    # e) streams
    streams = {}
    if "streams" in args.parts:
        streams = streams_test(
            stack, api, cookie, who, steps, args.stream_samples, args.stream_runs
        )

    report_breakdown = None
    if breakdown_ok:
        say("breakdown: timing each page's parts in this process …")
        try:
            report_breakdown = breakdown(
                stack.env, cookie, {k: path for k, _, path, *_ in cases}, args.repeat
            )
        except Exception as e:  # noqa: BLE001 (never lose the measurements for it)
            say(f"warning: the breakdown failed ({e!r}); the report goes without it")
    machine["loadavg_1_5_15"] = [round(x, 2) for x in os.getloadavg()]

    report = {
        "benchmark": "servers",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "params": {
            "users": args.users,
            "running": RUNNING,
            "group": CLASS,
            "group_size": CLASS_SIZE,
            "repeat": args.repeat,
            "warmup": WARMUP,
            "quick": args.quick,
            "gunicorn_workers": gunicorn["workers"],
            "gunicorn_connections": gunicorn["connections"],
            "gunicorn_streams": gunicorn["streams"],
            "bulk_concurrency": concurrency,
            "stream_steps": steps,
            "stream_runs": args.stream_runs,
            "parts": sorted(args.parts),
            "stream_samples": args.stream_samples,
            "sample_timeout_s": SAMPLE_TIMEOUT,
        },
        "seeding": seeding,
        "results": results,
        "group_start": group_start,
        "streams": streams,
        "breakdown": report_breakdown,
        "run_seconds": round(time.perf_counter() - started, 1),
    }
    text = markdown(report)
    say("")
    say(text)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "servers-quick" if args.quick else "servers"
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (args.out / f"{stem}.md").write_text(text, encoding="utf-8")
    say(f"wrote {args.out / (stem + '.json')} and {args.out / (stem + '.md')}")
    return 0


def breakdown(env: dict, cookie: str, paths: dict, repeat: int) -> dict:
    """Where the list pages spend their time, with the app in this process."""
    from hubdesk import auth, users
    from hubdesk.servers import views

    parts = [
        (HubClient, "request", "hub API calls"),
        (HubClient, "page", "HubClient.page()"),
        (auth, "_identify", "identity (_identify)"),
        (users, "servers_of", "servers_of()"),
        (views, "servers_of", "servers_of()"),
        (users, "render_template", "render_template()"),
        (views, "render_template", "render_template()"),
    ]
    return breakdown_pages(env, cookie, paths, repeat, parts, profile_keys=("a", "c"))


if __name__ == "__main__":
    sys.exit(main())
