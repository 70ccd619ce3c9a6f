"""What the benchmarks share: a real hub and hubdesk under gunicorn, signing in, timing, reports.

Imported by the scripts beside it (``python benchmarks/bench_*.py`` puts this folder
on ``sys.path``); not a test and not part of the app.
"""

from __future__ import annotations

import cProfile
import io
import os
import platform
import pstats
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import hubdesk
import requests
from hubdesk.devhub import (
    EVERY_SERVICE_SCOPE,
    GUNICORN_COMMAND,
    OAUTH_CLIENT_ALLOWED_SCOPES,
    SERVICE_NAME,
    LocalHub,
    external_service_env,
    free_port,
    hub_roles,
)

PREFIX = f"/services/{SERVICE_NAME}/"
HERE = Path(__file__).resolve().parent
WARMUP = 3
USER_CHUNK = 1000
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


class Gunicorn:
    """hubdesk under gunicorn, with the production image's command and settings."""

    COMMAND = GUNICORN_COMMAND

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


@contextmanager
def patched(obj, name, wrapper_factory):
    original = getattr(obj, name)
    setattr(obj, name, wrapper_factory(original))
    try:
        yield
    finally:
        setattr(obj, name, original)


def trim_profile(text: str) -> str:
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


def machine_line(m: dict) -> str:
    """The report's one line about the machine and the versions."""
    return (
        f"Machine: {m['nproc']} CPUs ({m['cpu'] or 'unknown CPU'}), {m['memory']}, "
        f"{m['platform']}; Python {m['python']}, JupyterHub {m['jupyterhub']}, "
        f"hubdesk {m['hubdesk']} ({m['hubdesk_commit']}), gunicorn {m['gunicorn']}. "
        f"Load average at the end (1/5/15 min): "
        f"{' / '.join(f'{x:g}' for x in m['loadavg_1_5_15'])}."
    )


# -- a hub and hubdesk under gunicorn --------------------------------------------------


@dataclass
class Stack:
    """A running hub, hubdesk under gunicorn, hubdesk's environment and its service token."""

    hub: LocalHub
    server: Gunicorn
    env: dict
    token: str


@contextmanager
def hub_and_hubdesk(root: Path, *, keep: bool, env: dict | None = None, **hub_settings) -> Iterator:
    """Start hubdesk under gunicorn and a hub that knows it as an external service.

    ``env``: more hubdesk settings (``HUBDESK_…``); ``hub_settings``: more
    ``LocalHub`` fields. Everything is stopped on the way out, also on an error;
    ``root`` is deleted unless ``keep``.
    """
    token, secret_key = secrets.token_hex(32), secrets.token_hex(32)
    port = free_port()
    # every scope hubdesk can use: the benchmarks create their users with the service token
    roles = hub_roles(service_scopes=EVERY_SERVICE_SCOPE)
    service_roles = [r for r in roles if r["name"] == f"{SERVICE_NAME}-service"]
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
        **hub_settings,
    )
    service = external_service_env(hub, token, secret_key, **(env or {}))
    server = Gunicorn(root, service, port)
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
        yield Stack(hub, server, service, token)
    finally:
        hub.stop()
        server.stop()
        hub_log.close()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def bench_root(directory: Path | None) -> tuple[Path, bool]:
    """The hub's directory (made if need be) and whether to keep it afterwards."""
    keep = directory is not None
    root = (directory or Path(tempfile.mkdtemp(prefix="hubdesk-bench-"))).resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root, keep


# -- where a page's time goes (in this process) ----------------------------------------


class PartTimer:
    """Timing wrappers for ``patched()``: total ms and calls per named part."""

    def __init__(self):
        self.acc: dict = {}

    def __call__(self, key: str):
        def factory(fn):
            def wrapper(*a, **kw):
                t0 = time.perf_counter()
                try:
                    return fn(*a, **kw)
                finally:
                    ms = (time.perf_counter() - t0) * 1000
                    slot = self.acc.setdefault(key, [0.0, 0])
                    slot[0] += ms
                    slot[1] += 1

            return wrapper

        return factory

    def clear(self) -> None:
        self.acc.clear()

    def per_page(self, pages: int) -> dict:
        return {
            name: {"ms_per_page": round(ms / pages, 2), "calls_per_page": round(n / pages, 1)}
            for name, (ms, n) in self.acc.items()
        }


def profile_text(fn: Callable, times: int, top: int = 12) -> str:
    """A cProfile of ``times`` calls of ``fn``: the top functions by own time, trimmed."""
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(times):
        fn()
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    return trim_profile(buf.getvalue())


def csrf_token(text: str) -> str:
    """The CSRF token of a hubdesk page's first form."""
    found = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', text)
    if not found:
        raise RuntimeError("no CSRF token on the page")
    return found.group(1)


def breakdown_pages(
    env: dict, cookie: str, paths: dict, repeat: int, parts: list, profile_keys=()
) -> dict:
    """Time the parts of each page with the app in this process (no app code changed).

    The same settings as the gunicorn workers and a Flask test client with the
    person's session cookie. ``parts``: ``(object, attribute, label)`` to wrap with
    a timer while the pages of ``paths`` (key -> path) are requested ``repeat``
    times each; then a cProfile (without the wrappers) of the pages of ``profile_keys``.
    """
    from contextlib import ExitStack

    from hubdesk import create_app

    flask_app = create_app(dict(env, HUBDESK_LOG_LEVEL="WARNING"))
    client = flask_app.test_client()
    client.set_cookie("hubdesk-session", cookie, domain="localhost", path=PREFIX)
    timer = PartTimer()

    def get(path):
        r = client.get(PREFIX + path)
        if r.status_code != 200:
            raise RuntimeError(f"in-process {path}: {r.status_code}")
        return r

    out = {}
    with ExitStack() as stack:
        for obj, name, label in parts:
            stack.enter_context(patched(obj, name, timer(label)))
        for key, path in paths.items():
            for _ in range(WARMUP):
                get(path)
            timer.clear()
            totals = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                get(path)
                totals.append((time.perf_counter() - t0) * 1000)
            out[key] = {
                "path": path,
                "total_ms_median": round(statistics.median(totals), 2),
                "total_ms_mean": round(statistics.fmean(totals), 2),
                "parts": timer.per_page(repeat),
            }

    profiles = {}
    for key in profile_keys:
        path = paths[key]
        get(path)
        profiles[key] = profile_text(lambda p=path: get(p), max(5, repeat // 2))
    return {"pages": out, "profiles": profiles}


def breakdown_markdown(bd: dict, note: str = "", *, mark: str = ")") -> list[str]:
    """The "where a page spends its time" section of a report, from breakdown_pages()."""
    lines = [
        "## Where a hubdesk page spends its time",
        "",
        "The app in the benchmark's own process (Flask test client, same settings, warm "
        "caches, no proxy, no gunicorn), with timing wrappers around its parts; ms per "
        "page (calls per page)." + (f" {note}" if note else ""),
        "",
        "| page | total median | parts |",
        "|---|---:|---|",
    ]
    for key, page in bd["pages"].items():
        parts = "; ".join(
            f"{name} {v['ms_per_page']:.1f} ({v['calls_per_page']:g})"
            for name, v in sorted(page["parts"].items(), key=lambda kv: -kv[1]["ms_per_page"])
        )
        lines.append(f"| {key}{mark} `{page['path']}` | {fmt(page['total_ms_median'])} | {parts} |")
    for key, text in bd["profiles"].items():
        lines += [
            "",
            f"<details><summary>cProfile of {key}{mark} <code>{bd['pages'][key]['path']}</code>, "
            "top functions by own time</summary>",
            "",
            "```",
            text,
            "```",
            "",
            "</details>",
        ]
    return [*lines, ""]


def gunicorn_settings(env: dict) -> dict:
    """The workers and connections per worker gunicorn runs with (hubdesk.gunicorn_conf), and the
    progress streams a worker passes on at once (hubdesk's settings)."""
    code = (
        "import hubdesk.gunicorn_conf as c; from hubdesk.config import Settings; "
        "print(c.workers, c.worker_connections, Settings.from_env().max_streams)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=base_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    return {"workers": int(out[0]), "connections": int(out[1]), "streams": int(out[2])}
