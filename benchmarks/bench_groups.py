#!/usr/bin/env python
"""Benchmark hubdesk's group pages side by side with the raw hub API calls they need.

Starts a real JupyterHub on loopback (``app.devhub.LocalHub``) and hubdesk under
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
import cProfile
import datetime as dt
import io
import json
import os
import platform
import pstats
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import requests

import app as hubdesk
from app.devhub import (
    OAUTH_CLIENT_ALLOWED_SCOPES,
    SERVICE_NAME,
    LocalHub,
    free_port,
    hub_roles,
)
from app.hub import PAGINATION_ACCEPT, HubAPIError, HubClient

PREFIX = f"/services/{SERVICE_NAME}/"
HERE = Path(__file__).resolve().parent
WARMUP = 3
BIG = "bench-big"
USER_CHUNK = 1000
SEED_WORKERS = 8
GUNICORN_START_TIMEOUT = 60
GUNICORN_STOP_TIMEOUT = 30  # more than gunicorn_conf.graceful_timeout
REQUEST_TIMEOUT = 120
SEED_TIMEOUT = (5.0, 900.0)  # creating 1,000 users in one call takes a while


def say(*args) -> None:
    print(*args, flush=True)


# -- statistics -------------------------------------------------------------------


@dataclass
class Series:
    """The timings (ms) and answer sizes (bytes) of one kind of request."""

    label: str
    url: str = ""
    times: list = field(default_factory=list)
    sizes: list = field(default_factory=list)

    def add(self, ms: float, size: int) -> None:
        self.times.append(ms)
        self.sizes.append(size)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def p95(self) -> float:
        if len(self.times) < 2:
            return self.times[0]
        return statistics.quantiles(self.times, n=20, method="inclusive")[18]

    def summary(self) -> dict:
        t = self.times
        return {
            "label": self.label,
            "url": self.url,
            "n": len(t),
            "min_ms": round(min(t), 2),
            "median_ms": round(self.median, 2),
            "p95_ms": round(self.p95, 2),
            "max_ms": round(max(t), 2),
            "mean_ms": round(statistics.fmean(t), 2),
            # requests over 3x the median: on hubdesk's list pages, mostly the
            # moments its per-worker group cache expired and was refreshed
            "slow_samples": sum(1 for x in t if x > 3 * self.median),
            "bytes": int(statistics.median(self.sizes)) if self.sizes else None,
        }


# -- processes ---------------------------------------------------------------------


def base_env(**changes) -> dict:
    """This process's environment without any hubdesk or hub setting of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTERHUB_", "HUBDESK_"))}
    env.update(changes)
    return env


def service_env(hub: LocalHub, token: str, secret_key: str) -> dict:
    """What an external JupyterHub service sets for itself (see tests/conftest.py)."""
    return {
        "JUPYTERHUB_API_URL": hub.api_url,
        "JUPYTERHUB_API_TOKEN": token,
        "JUPYTERHUB_SERVICE_NAME": SERVICE_NAME,
        "JUPYTERHUB_SERVICE_PREFIX": PREFIX,
        "JUPYTERHUB_CLIENT_ID": f"service-{SERVICE_NAME}",
        "JUPYTERHUB_OAUTH_CALLBACK_URL": f"{PREFIX}oauth_callback",
        "HUBDESK_SECRET_KEY": secret_key,
    }


class Gunicorn:
    """hubdesk under gunicorn, with the production image's command and settings."""

    COMMAND = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "python:app.gunicorn_conf",
        "app.wsgi:application",
    ]

    def __init__(self, root: Path, env: dict, port: int):
        self.root = root
        self.port = port
        self.env = base_env(**env, HUBDESK_BIND=f"127.0.0.1:{port}")
        self.log_path = root / "gunicorn.log"
        self.process: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            self.COMMAND,
            cwd=self.root,  # not the checkout: the installed package is what gets imported
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: gunicorn and its workers
        )

    def wait_listening(self, timeout: float = GUNICORN_START_TIMEOUT) -> None:
        """Until /health answers at all (503 is fine: the hub is not up yet)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"gunicorn exited with code {self.process.returncode}:\n"
                    + self.log_path.read_text(errors="replace")[-3000:]
                )
            try:
                requests.get(f"{self.url}{PREFIX}health", timeout=5)
                return
            except requests.ConnectionError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not listen within {timeout:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        """SIGTERM (gunicorn's graceful stop), then SIGKILL to its process group."""
        proc, self.process = self.process, None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=GUNICORN_STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # any worker left behind
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


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


def sign_in(hub: LocalHub, username: str = "admin", page: str = "groups/") -> requests.Session:
    """Open a hubdesk page through the proxy and sign in on the hub's login form, like a person.

    The sign-in ends back on ``page`` (the group list, not the home page: the
    benchmark should not depend on pages it does not measure).
    """
    s = requests.Session()
    start = hub.public_url + PREFIX + page
    r = s.get(start, timeout=REQUEST_TIMEOUT)
    if "/hub/login" not in r.url:
        raise RuntimeError(f"expected the hub's login form, got {r.status_code} {r.url}")
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', r.text).group(1)
    r = s.post(
        r.url,
        data={"username": username, "password": hub.password, "_xsrf": xsrf},
        timeout=REQUEST_TIMEOUT,
    )
    if r.status_code != 200 or r.url != start:
        raise RuntimeError(f"sign-in ended at {r.status_code} {r.url}")
    return s


def session_cookie(s: requests.Session) -> str:
    return next(c.value for c in s.cookies if c.name == "hubdesk-session")


# -- timing ------------------------------------------------------------------------


@dataclass
class Target:
    """One kind of request: a session and a URL."""

    series: Series
    session: requests.Session
    headers: dict = field(default_factory=dict)

    def hit(self) -> tuple[float, int, requests.Response]:
        t0 = time.perf_counter()
        r = self.session.get(
            self.series.url, headers=self.headers, timeout=REQUEST_TIMEOUT, allow_redirects=False
        )
        size = len(r.content)
        ms = (time.perf_counter() - t0) * 1000
        if r.status_code != 200:
            raise RuntimeError(f"{self.series.url}: {r.status_code} {r.text[:300]}")
        return ms, size, r


def measure(targets: list[Target], repeat: int) -> None:
    """Warm up each target, then time them interleaved (round robin, rotating the order)."""
    for t in targets:
        for _ in range(WARMUP):
            t.hit()
    for i in range(repeat):
        k = i % len(targets)
        for t in targets[k:] + targets[:k]:
            ms, size, _ = t.hit()
            t.series.add(ms, size)


def time_calls(fn: Callable, repeat: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def cold_refresh(api_url: str, token: str, repeat: int) -> dict:
    """What one refresh of hubdesk's group cache costs: iter_groups() over every group."""
    from app.groups.directory import GroupDirectory

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


@contextmanager
def patched(obj, name, wrapper_factory):
    original = getattr(obj, name)
    setattr(obj, name, wrapper_factory(original))
    try:
        yield
    finally:
        setattr(obj, name, original)


def breakdown(env: dict, cookie: str, paths: dict, repeat: int) -> dict:
    """Time the parts of each page with the app in this process (no app code changed).

    The same settings as the gunicorn workers, a Flask test client with the admin's
    session cookie, and timing wrappers around the hub client, the group cache,
    reachable_groups(), the search and the template. Also a cProfile of the group list.
    """
    from app import create_app
    from app.groups import directory as directory_mod
    from app.groups import views

    flask_app = create_app(dict(env, HUBDESK_LOG_LEVEL="WARNING"))
    client = flask_app.test_client()
    client.set_cookie("hubdesk-session", cookie, domain="localhost", path=PREFIX)

    acc: dict = {}

    def timer(key):
        def factory(fn):
            def wrapper(*a, **kw):
                t0 = time.perf_counter()
                try:
                    return fn(*a, **kw)
                finally:
                    ms = (time.perf_counter() - t0) * 1000
                    slot = acc.setdefault(key, [0.0, 0])
                    slot[0] += ms
                    slot[1] += 1

            return wrapper

        return factory

    def get(path):
        r = client.get(PREFIX + path)
        if r.status_code != 200:
            raise RuntimeError(f"in-process {path}: {r.status_code}")
        return r

    out = {}
    with (
        patched(HubClient, "request", timer("hub API calls")),
        patched(directory_mod.GroupDirectory, "entries", timer("group cache (entries)")),
        patched(views, "reachable_groups", timer("reachable_groups()")),
        patched(views, "search", timer("search()")),
        patched(views, "render_template", timer("render_template()")),
    ):
        for key, path in paths.items():
            for _ in range(WARMUP):
                get(path)
            acc.clear()
            totals = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                get(path)
                totals.append((time.perf_counter() - t0) * 1000)
            parts = {
                name: {"ms_per_page": round(ms / repeat, 2), "calls_per_page": round(n / repeat, 1)}
                for name, (ms, n) in acc.items()
            }
            out[key] = {
                "path": path,
                "total_ms_median": round(statistics.median(totals), 2),
                "total_ms_mean": round(statistics.fmean(totals), 2),
                "parts": parts,
            }

    # a profile of the group list, warm cache, without the wrappers
    profiles = {}
    for key in ("a", "c"):
        path = paths[key]
        get(path)
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(max(5, repeat // 2)):
            get(path)
        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(12)
        profiles[key] = _trim_profile(buf.getvalue())
    return {"pages": out, "profiles": profiles}


def _trim_profile(text: str) -> str:
    lines = text.strip().splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    keep = [re.sub(r"/[^ ]*/site-packages/", "", line) for line in lines[start:]]
    keep = [line.replace(str(HERE.parent) + "/", "") for line in keep]
    head = next((line for line in lines if "function calls" in line), "")
    return "\n".join([head.strip(), *keep])


# -- reporting ---------------------------------------------------------------------


def machine_info(hub_version: str) -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass

    def version(dist):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    commit = ""
    try:
        commit = subprocess.run(
            ["git", "-C", str(HERE.parent), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        # other work on the machine skews every number: the load when the report is written
        "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu": cpu,
        "memory": mem,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "jupyterhub": hub_version,
        "hubdesk": hubdesk.__version__,
        "hubdesk_commit": commit,
        "gunicorn": version("gunicorn"),
        "flask": version("flask"),
        "sqlalchemy": version("sqlalchemy"),
        "configurable_http_proxy": version("configurable-http-proxy"),
    }


def fmt(ms: float) -> str:
    return f"{ms:,.1f}"


def markdown(report: dict) -> str:
    p, m = report["params"], report["machine"]
    lines = [
        f"# hubdesk group pages vs raw hub API calls ({report['date']})",
        "",
        f"{p['groups']:,} groups `bench-…` with 0–5 members each, plus `{BIG}` with "
        f"{p['big']:,} members ({p['users']:,} users); {p['repeat']} timed requests per "
        f"row after {WARMUP} warm-up requests. hubdesk under gunicorn "
        f"({p['gunicorn_workers']} workers × {p['gunicorn_threads']} threads, group cache "
        f"{p['group_cache_seconds']:g} s), signed in as the hub admin. Times in ms, "
        "wall clock at the client. Ratio = hubdesk median / raw median.",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu'] or 'unknown CPU'}), {m['memory']}, "
        f"{m['platform']}; Python {m['python']}, JupyterHub {m['jupyterhub']}, "
        f"hubdesk {m['hubdesk']} ({m['hubdesk_commit']}), gunicorn {m['gunicorn']}. "
        f"Load average at the end (1/5/15 min): "
        f"{' / '.join(f'{x:g}' for x in m['loadavg_1_5_15'])}.",
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
        lines += [
            "## Where a hubdesk page spends its time",
            "",
            "The app in the benchmark's own process (Flask test client, same settings, warm "
            "caches, no proxy, no gunicorn), with timing wrappers around its parts; ms per "
            "page (calls per page).",
            "",
            "| page | total median | parts |",
            "|---|---:|---|",
        ]
        for key, page in report["breakdown"]["pages"].items():
            parts = "; ".join(
                f"{name} {v['ms_per_page']:.1f} ({v['calls_per_page']:g})"
                for name, v in sorted(page["parts"].items(), key=lambda kv: -kv[1]["ms_per_page"])
            )
            lines.append(f"| {key}) `{page['path']}` | {fmt(page['total_ms_median'])} | {parts} |")
        for key, text in report["breakdown"]["profiles"].items():
            lines += [
                "",
                f"<details><summary>cProfile of {key}) "
                f"<code>{report['breakdown']['pages'][key]['path']}</code>, "
                "top functions by own time</summary>",
                "",
                "```",
                text,
                "```",
                "",
                "</details>",
            ]
        lines.append("")
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

    keep = args.dir is not None
    root = (args.dir or Path(tempfile.mkdtemp(prefix="hubdesk-bench-"))).resolve()
    root.mkdir(parents=True, exist_ok=True)
    token, secret_key = secrets.token_hex(32), secrets.token_hex(32)
    port = free_port()
    service_roles = [r for r in hub_roles() if r["name"] == f"{SERVICE_NAME}-service"]
    hub = LocalHub(
        root=root,
        users={"admin": {"admin": True}},
        roles=service_roles,
        services=[
            {
                "name": SERVICE_NAME,
                "url": f"http://127.0.0.1:{port}",
                "api_token": token,
                "oauth_no_confirm": True,
                "oauth_client_allowed_scopes": OAUTH_CLIENT_ALLOWED_SCOPES,
            }
        ],
    )
    env = service_env(hub, token, secret_key)
    server = Gunicorn(root, env, port)
    say(f"hub directory: {root}")
    hub_log = open(root / "jupyterhub.log", "ab")  # noqa: SIM115 (closed below)
    try:
        # gunicorn first: the hub waits for its external services at start-up
        server.start()
        server.wait_listening()
        t0 = time.perf_counter()
        hub.start(log=hub_log)
        say(
            f"hub up in {time.perf_counter() - t0:.1f} s: {hub.public_url} (proxy), "
            f"{hub.api_url} (API); hubdesk under gunicorn at {server.url}"
        )
        return run(args, hub, server, env, token)
    finally:
        hub.stop()
        server.stop()
        hub_log.close()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


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
            "gunicorn_workers": int(server.env.get("HUBDESK_WORKERS", "2")),
            "gunicorn_threads": int(server.env.get("HUBDESK_THREADS", "8")),
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
