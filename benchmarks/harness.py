"""The one harness every benchmark stands on: a real hub and hubdesk's production command.

What a benchmark needs and nothing of hubdesk's insides: it starts a JupyterHub
(``hubdesk.devhub.LocalHub``) and hubdesk under gunicorn with the image's command
(``hubdesk.devhub.GUNICORN_COMMAND``), seeds the hub through its own REST API, signs in
through the hub's login form and OAuth as a browser does, times requests, reads from the
hub's own request log which hub calls a page made, and writes reports with the machine's
facts. Benchmarks talk to hubdesk over HTTP only, as a person's browser does: nothing
in hubdesk is imported beyond ``hubdesk.devhub`` (to start the stack) and its version,
and nothing is patched.

Imported by the scripts beside it (``python benchmarks/<script>.py`` puts this folder on
``sys.path``); not a test and not part of the app.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from urllib.parse import quote, urljoin

import hubdesk.devhub as devhub
import requests

PREFIX = f"/services/{devhub.SERVICE_NAME}/"
HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PAGINATION_ACCEPT = "application/jupyterhub-pagination+json"  # the hub's paged lists
WARMUP = 3
GUNICORN_START_TIMEOUT = 60
GUNICORN_STOP_TIMEOUT = 30  # more than gunicorn_conf's graceful_timeout
HUB_START_TIMEOUT = 300  # a hub with 10,000 users in its database takes a while
REQUEST_TIMEOUT = 120
SEED_TIMEOUT = (5.0, 900.0)  # creating 1,000 users in one call takes a while
USER_CHUNK = 1000


def say(*args) -> None:
    print(*args, flush=True)


def fmt(ms) -> str:
    return f"{ms:,.1f}" if isinstance(ms, int | float) else "—"


# -- statistics and timing ------------------------------------------------------------


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

    def summary(self) -> dict:
        t = self.times
        p95 = t[0] if len(t) < 2 else statistics.quantiles(t, n=20, method="inclusive")[18]
        return {
            "label": self.label,
            "url": self.url,
            "n": len(t),
            "min_ms": round(min(t), 2),
            "median_ms": round(self.median, 2),
            "p95_ms": round(p95, 2),
            "max_ms": round(max(t), 2),
            # over 3x the median: on list pages, mostly a worker's group cache refreshing
            "slow_samples": sum(1 for x in t if x > 3 * self.median),
            "bytes": int(statistics.median(self.sizes)) if self.sizes else None,
        }


@dataclass
class Calls:
    """One series: GETs on one session, timed as one. One after another (the sum of their
    times), or ``concurrency`` at a time after the first (the wall clock of them all), as
    hubdesk makes a page's per-user calls."""

    series: Series
    session: requests.Session
    calls: list  # [(url, headers)]
    concurrency: int = 1

    def get(self, call) -> requests.Response:
        url, headers = call
        r = self.session.get(url, headers=headers, timeout=REQUEST_TIMEOUT, allow_redirects=False)
        if r.status_code != 200:
            raise RuntimeError(f"{url}: {r.status_code} {r.text[:300]}")
        return r

    def hit(self) -> tuple[float, int, requests.Response]:
        t0 = time.perf_counter()
        if self.concurrency > 1 and len(self.calls) > 1:
            first = self.get(self.calls[0])
            with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
                rest = list(pool.map(self.get, self.calls[1:]))
            answers = [first, *rest]
        else:
            answers = [self.get(c) for c in self.calls]
        ms = (time.perf_counter() - t0) * 1000
        return ms, sum(len(r.content) for r in answers), answers[-1]


def measure(targets: list[Calls], repeat: int) -> list[dict]:
    """Warm up each target, then time them interleaved (round robin, rotating the order),
    so that drift and cache expiry hit every series alike. Returns their summaries."""
    for t in targets:
        t.series.url = t.series.url or " + ".join(u for u, _ in t.calls[:3])
        for _ in range(WARMUP):
            t.hit()
    for i in range(repeat):
        k = i % len(targets)
        for t in targets[k:] + targets[:k]:
            ms, size, _ = t.hit()
            t.series.add(ms, size)
    return [t.series.summary() for t in targets]


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


# -- processes ---------------------------------------------------------------------------


def base_env(**changes) -> dict:
    """This process's environment without any hubdesk or hub setting of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTERHUB_", "HUBDESK_"))}
    env.update(changes)
    return env


class Gunicorn:
    """hubdesk under gunicorn, with the production image's command and settings."""

    COMMAND = devhub.GUNICORN_COMMAND

    def __init__(self, root: Path, env: dict, port: int, command: list[str] | None = None):
        self.root = root
        self.port = port
        self.command = command or list(self.COMMAND)
        self.env = base_env(**env, HUBDESK_BIND=f"127.0.0.1:{port}")
        self.log_path = root / "gunicorn.log"
        self.process: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            self.command,
            cwd=self.root,  # not the checkout: the installed package is what gets imported
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: gunicorn and its workers
        )

    def wait_listening(self, timeout: float = GUNICORN_START_TIMEOUT) -> None:
        """Until gunicorn answers /health/live (which needs no hub)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"gunicorn exited with code {self.process.returncode}:\n"
                    + self.log_path.read_text(errors="replace")[-3000:]
                )
            try:
                requests.get(f"{self.url}{PREFIX}health/live", timeout=5)
                return
            except requests.Timeout:
                return  # it accepted the connection: it listens
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

    def worker_pids(self) -> list[int]:
        return children(self.process.pid) if self.process else []


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().split()[3]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks


# -- the hub, raw -------------------------------------------------------------------------


class RawHub:
    """The hub's REST API straight at its port, with one token: seeding and the raw side."""

    def __init__(self, api_url: str, token: str):
        self.api_url = api_url
        self.s = requests.Session()
        self.s.headers["Authorization"] = f"token {token}"

    def call(self, method: str, path: str, *, ok=(200, 201, 202, 204), **kw) -> requests.Response:
        r = self.s.request(method, self.api_url + path, timeout=SEED_TIMEOUT, **kw)
        if r.status_code not in ok:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:300]}")
        return r

    def get(self, path: str, **kw):
        return self.call("GET", path, **kw).json()

    def version(self) -> str:
        return self.get("/")["version"]

    def count(self, what: str) -> int:
        page = self.get(f"/{what}?limit=1", headers={"Accept": PAGINATION_ACCEPT})
        return page["_pagination"]["total"]

    def create_users(self, names: list[str]) -> None:
        for i in range(0, len(names), USER_CHUNK):
            self.call("POST", "/users", json={"usernames": names[i : i + USER_CHUNK]}, ok=(201,))

    def ensure_users(self, names: list[str]) -> float:
        """Create those of ``names`` the hub does not know yet; the seconds it took."""
        t0 = time.perf_counter()
        have = self.existing(names)
        missing = [n for n in names if n not in have]
        if missing:
            self.create_users(missing)
        return round(time.perf_counter() - t0, 2)

    def existing(self, names: list[str]) -> set[str]:
        wanted, out, offset = set(names), set(), 0
        while True:
            page = self.get(
                f"/users?offset={offset}&limit=200", headers={"Accept": PAGINATION_ACCEPT}
            )
            out |= {u["name"] for u in page["items"]} & wanted
            offset += len(page["items"])
            if not page["items"] or offset >= page["_pagination"]["total"]:
                return out

    def ensure_group(self, name: str, members: list[str] = ()) -> None:
        """The group with (at least) these members, made if need be."""
        self.call("POST", f"/groups/{quote(name, safe='')}", json={"users": []}, ok=(201, 409))
        for i in range(0, len(members), USER_CHUNK):
            self.call(
                "POST",
                f"/groups/{quote(name, safe='')}/users",
                json={"users": list(members[i : i + USER_CHUNK])},
            )

    def create_groups(self, names: list[str]) -> None:
        for i in range(0, len(names), USER_CHUNK):
            self.call("POST", "/groups", json={"groups": names[i : i + USER_CHUNK]}, ok=(201, 409))

    def members(self, group: str) -> int:
        return len(self.get(f"/groups/{quote(group, safe='')}").get("users") or ())

    def server(self, user: str, server: str = "") -> dict | None:
        model = self.get(f"/users/{quote(user, safe='')}?include_stopped_servers=1")
        return (model.get("servers") or {}).get(server)

    def start(self, user: str, server: str = "", options: dict | None = None) -> dict:
        """Start a server and follow its progress until ready or failed (as hubdesk does)."""
        path = f"/users/{quote(user, safe='')}/servers/{quote(server, safe='')}"
        t0 = time.perf_counter()
        r = self.s.post(self.api_url + path, json=options or {}, timeout=SEED_TIMEOUT)
        if r.status_code == 400 and "already running" in r.text:
            return {"ok": True, "seconds": 0.0}
        if r.status_code not in (201, 202):
            return {"ok": False, "seconds": time.perf_counter() - t0, "message": r.text[:200]}
        ready = r.status_code == 201
        if not ready:
            with self.s.get(self.api_url + path + "/progress", stream=True, timeout=300) as p:
                for line in p.iter_lines():
                    if line.startswith(b"data:"):
                        event = json.loads(line[5:])
                        if event.get("ready") or event.get("failed"):
                            ready = bool(event.get("ready"))
                            break
            model = self.server(user, server) or {}
            ready = ready or bool(model.get("ready"))
        return {"ok": ready, "seconds": time.perf_counter() - t0}

    def start_many(self, pairs, options: dict, concurrency: int) -> list[dict]:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            return list(pool.map(lambda p: self.start(p[0], p[1], options), list(pairs)))

    def stop_many(self, pairs, timeout: float = 180) -> float:
        """Stop (and remove, if named) servers, until each is gone or stopped; the seconds."""
        t0 = time.perf_counter()

        def one(pair):
            user, server = pair
            path = f"/users/{quote(user, safe='')}/servers/{quote(server, safe='')}"
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                self.s.delete(
                    self.api_url + path, json={"remove": bool(server)}, timeout=SEED_TIMEOUT
                )
                model = self.server(user, server)
                if model is None or not (model.get("ready") or model.get("pending")):
                    return
                time.sleep(0.2)
            raise RuntimeError(f"{user}/{server} did not stop within {timeout:.0f} s")

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(one, list(pairs)))
        return round(time.perf_counter() - t0, 2)


# -- the stack: a hub and hubdesk under gunicorn ------------------------------------------


@dataclass
class Stack:
    """A running hub, hubdesk under gunicorn, hubdesk's environment and its service token."""

    hub: devhub.LocalHub
    server: Gunicorn
    env: dict
    token: str
    hub_log: Path

    @property
    def api(self) -> RawHub:
        return RawHub(self.hub.api_url, self.token)

    @property
    def base(self) -> str:
        """hubdesk through the hub's proxy, as a browser reaches it."""
        return self.hub.public_url + PREFIX

    @property
    def direct(self) -> str:
        """hubdesk straight at gunicorn's port, no proxy."""
        return self.server.url + PREFIX

    def restart(self, between=None) -> dict:
        """Stop both, run ``between`` (e.g. writing the hub's database), start both again.

        gunicorn restarts too, so that its workers' caches start from the new hub."""
        self.hub.stop()
        self.server.stop()
        out = between() if between else {}
        self.server.start()
        self.server.wait_listening()
        t0 = time.perf_counter()
        with open(self.hub_log, "ab") as log:
            self.hub.start(log=log, timeout=HUB_START_TIMEOUT)
        out["hub_start_s"] = round(time.perf_counter() - t0, 2)
        return out

    def hub_calls(self) -> HubCalls:
        return HubCalls(self.hub_log)


@contextmanager
def stack(directory: Path | None = None, *, env: dict | None = None, **hub_settings) -> Iterator:
    """Start hubdesk under gunicorn and a hub that knows it as an external service.

    ``env``: more hubdesk settings (``HUBDESK_…``); ``hub_settings``: more ``LocalHub``
    fields. The hub's service role has every scope hubdesk can use (the benchmarks seed
    with the service token). Everything is stopped on the way out, also on an error; the
    directory is deleted unless it was given.
    """
    keep = directory is not None
    root = (directory or Path(tempfile.mkdtemp(prefix="hubdesk-bench-"))).resolve()
    root.mkdir(parents=True, exist_ok=True)
    token, secret_key = secrets.token_hex(32), secrets.token_hex(32)
    port = devhub.free_port()
    roles = devhub.hub_roles(service_scopes=devhub.EVERY_SERVICE_SCOPE)
    hub = devhub.LocalHub(
        root=root,
        users={"admin": {"admin": True}},
        roles=[r for r in roles if r["name"] == f"{devhub.SERVICE_NAME}-service"],
        services=[
            {
                "name": devhub.SERVICE_NAME,
                "url": f"http://127.0.0.1:{port}",
                "api_token": token,
                "oauth_no_confirm": True,
                "oauth_client_allowed_scopes": devhub.OAUTH_CLIENT_ALLOWED_SCOPES,
            }
        ],
        **hub_settings,
    )
    service = devhub.external_service_env(hub, token, secret_key, **(env or {}))
    server = Gunicorn(root, service, port)
    hub_log = root / "jupyterhub.log"
    say(f"hub directory: {root}")
    try:
        # gunicorn first: the hub waits for its external services at start-up
        server.start()
        server.wait_listening()
        t0 = time.perf_counter()
        with open(hub_log, "ab") as log:
            hub.start(log=log, timeout=HUB_START_TIMEOUT)
        say(f"hub up in {time.perf_counter() - t0:.1f} s: {hub.public_url}; gunicorn {server.url}")
        yield Stack(hub, server, service, token, hub_log)
    finally:
        hub.stop()
        server.stop()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


# -- signing in ----------------------------------------------------------------------------


def sign_in(st: Stack, username: str = "admin", page: str = "") -> requests.Session:
    """Open a hubdesk page through the proxy and sign in on the hub's login form, like a
    person; the OAuth dance brings the session back to ``page``."""
    s = requests.Session()
    start = st.base + page
    r = s.get(start, timeout=REQUEST_TIMEOUT)
    if "/hub/login" not in r.url:
        raise RuntimeError(f"expected the hub's login form, got {r.status_code} {r.url}")
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', r.text).group(1)
    r = s.post(
        r.url,
        data={"username": username, "password": st.hub.password, "_xsrf": xsrf},
        timeout=REQUEST_TIMEOUT,
    )
    if r.status_code != 200 or r.url != start:
        raise RuntimeError(f"sign-in ended at {r.status_code} {r.url}")
    return s


def direct_session(st: Stack, proxied: requests.Session) -> requests.Session:
    """The same person's session, straight to gunicorn's port (no proxy)."""
    cookie = next(c.value for c in proxied.cookies if c.name == "hubdesk-session")
    s = requests.Session()
    s.cookies.set("hubdesk-session", cookie, domain="127.0.0.1", path=PREFIX)
    return s


def prewarm(st: Stack, session: requests.Session, paths: list[str], connections: int = 8):
    """Fill every gunicorn worker's caches: each path on several new connections (which
    worker accepts a connection is a race; a few fresh ones reach all of them)."""
    cookie = next(c.value for c in session.cookies if c.name == "hubdesk-session")
    for _ in range(connections):
        with requests.Session() as s:
            s.cookies.set("hubdesk-session", cookie, domain="127.0.0.1", path=PREFIX)
            for p in paths:
                s.get(st.direct + p, timeout=REQUEST_TIMEOUT)


def csrf_token(text: str) -> str:
    """The CSRF token of a hubdesk page's first form."""
    found = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', text)
    if not found:
        raise RuntimeError("no CSRF token on the page")
    return found.group(1)


def follow_job(session: requests.Session, url: str, timeout: float = 900) -> tuple[str, int]:
    """Poll a hubdesk job page (every 0.5 s) until it says done; its last text, the polls."""
    t0, polls = time.monotonic(), 0
    while True:
        page = session.get(url, timeout=REQUEST_TIMEOUT).text
        polls += 1
        if 'job-state">done' in page:
            return page, polls
        if 'job-state">interrupted' in page or time.monotonic() - t0 > timeout:
            raise RuntimeError(f"the job at {url} was interrupted or took too long")
        time.sleep(0.5)


def job_url(page_url: str, r: requests.Response) -> str:
    return urljoin(page_url, r.headers.get("Location", r.url))


# -- which hub calls a page made: the hub's own request log --------------------------------

# JupyterHub logs every request it answers, e.g. (one line)
#   [I 2026-12-07 05:00:00.123 JupyterHub log:192] 200 GET /hub/api/users?limit=50
#   (hubdesk@127.0.0.1) 12.34ms
LOG_LINE = re.compile(
    r"\] (?P<status>\d{3}) (?P<method>[A-Z]+) /hub/api(?P<path>\S*) \((?P<who>[^)]*)\) "
    r"(?P<ms>[\d.]+)ms"
)


class HubCalls:
    """The hub API calls logged since a mark, read from the hub's log (no hop, no patch)."""

    def __init__(self, log: Path):
        self.log = log
        self.offset = 0

    def mark(self) -> None:
        self.offset = self.log.stat().st_size

    def since(self, settle: float = 0.3) -> list[dict]:
        time.sleep(settle)  # the hub writes its line after answering
        with open(self.log, "rb") as f:
            f.seek(self.offset)
            text = f.read().decode(errors="replace")
        out = []
        for m in LOG_LINE.finditer(text):
            who = m["who"].split("@")[0]
            out.append(
                {
                    "method": m["method"],
                    "path": m["path"] or "/",
                    "status": int(m["status"]),
                    "who": "service"
                    if who in (devhub.SERVICE_NAME, f"service-{devhub.SERVICE_NAME}")
                    else who,
                    "hub_ms": float(m["ms"]),
                }
            )
        return out

    def of(self, session, url: str, person: str = "admin", tries: int = 3) -> list[dict]:
        """The hub calls one GET of ``url`` made, caches warm: the fewest of ``tries``
        records, each after one GET (a cache that expired fills again) and half a second
        without any hub call, so that a refresh hubdesk makes now and then in the
        background (its group list every 30 s) does not land in the record. Only the calls
        of hubdesk's service token and of the signed-in ``person``'s token are kept (not,
        say, the activity reports of running servers)."""
        records = []
        for _ in range(tries):
            session.get(url, timeout=REQUEST_TIMEOUT)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                self.mark()
                if not self.since(settle=0.5):
                    break
            self.mark()
            r = session.get(url, timeout=REQUEST_TIMEOUT)
            if r.status_code != 200:
                raise RuntimeError(f"{url}: {r.status_code}")
            records.append([c for c in self.since() if c["who"] in ("service", person)])
        return min(records, key=len)


# hubdesk's own caches ask these now and then (who is signed in, its own scopes, the hub's
# version), not for a page: a record may hold them, the raw side leaves them out
OWN_CACHES = ("/", "/user")


def raw_gets(calls: list[dict], api_url: str) -> list[tuple]:
    """The GETs of a record, to make straight at the hub: the same paths; a hub list
    (``/users``, ``/groups``) with the pagination Accept header, as hubdesk asks for it.

    The hub's log hides the values of some parameters (``state=[secret]``: it takes any
    ``state`` for OAuth's): the benchmark puts back what the page sent before calling this."""
    out = []
    for c in calls:
        if c["method"] != "GET" or c["path"] in OWN_CACHES:
            continue
        path = c["path"]
        if "[secret]" in path:
            raise RuntimeError(f"the hub's log hides a value of {path}: put it back first")
        paged = path.split("?")[0] in ("/users", "/groups")
        out.append((api_url + path, {"Accept": PAGINATION_ACCEPT} if paged else {}))
    return out


def describe(calls: list[dict]) -> str:
    """``GET /users?…`` + …, with repeated routes counted."""
    if not calls:
        return "none"
    kinds: dict = {}
    for c in calls:
        key = f"{c['method']} {route(c['path']) if len(calls) > 3 else c['path']}"
        kinds[key] = kinds.get(key, 0) + 1
    return " + ".join(f"`{k}`" if n == 1 else f"{n} × `{k}`" for k, n in kinds.items())


def route(path: str) -> str:
    """A hub path without its names: /users/ann/servers/x?y -> /users/{}/servers/{}."""
    parts = path.split("?")[0].strip("/").split("/")
    return "/" + "/".join(p if i % 2 == 0 else "{}" for i, p in enumerate(parts))


# -- the machine and the report --------------------------------------------------------------


def version_of(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine_info(hub_version: str = "") -> dict:
    def first(path: str, key: str) -> str:
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return ""

    mem = first("/proc/meminfo", "MemTotal")
    commit = subprocess.run(
        ["git", "-C", str(HERE.parent), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    ).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        # other work on the machine skews every number: the load when the report is written
        "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "cpu": first("/proc/cpuinfo", "model name"),
        "memory": f"{int(mem.split()[0]) / 1024 / 1024:.1f} GiB" if mem else "",
        "platform": platform.platform(),
        "python": platform.python_version(),
        "jupyterhub": hub_version or version_of("jupyterhub"),
        "hubdesk": version_of("hubdesk"),
        "hubdesk_commit": commit,
        "gunicorn": version_of("gunicorn"),
        "gevent": version_of("gevent"),
        "flask": version_of("flask"),
        "sqlalchemy": version_of("sqlalchemy"),
    }


def machine_line(m: dict) -> str:
    return (
        f"Machine: {m['nproc']} CPUs ({m['cpu'] or 'unknown CPU'}), {m['memory']}, "
        f"{m['platform']}; Python {m['python']}, JupyterHub {m['jupyterhub']}, "
        f"hubdesk {m['hubdesk']} ({m['hubdesk_commit']}), gunicorn {m['gunicorn']}. "
        f"Load average at the end (1/5/15 min): "
        f"{' / '.join(f'{x:g}' for x in m['loadavg_1_5_15'])}."
    )


def arguments(doc: str, *, repeat: int, quick_repeat: int) -> argparse.ArgumentParser:
    """The options every benchmark takes; the script adds its own and calls parse()."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a small run; writes <name>-quick.*")
    ap.add_argument("--repeat", type=int, help=f"samples a series ({repeat}; quick {quick_repeat})")
    ap.add_argument("--dir", type=Path, help="the hub's directory (kept, and reused next time)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="where the results go")
    ap.set_defaults(_repeats=(repeat, quick_repeat))
    return ap


def parse(ap: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    args = ap.parse_args(argv)
    if args.repeat is None:
        args.repeat = args._repeats[1] if args.quick else args._repeats[0]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up on a kill, too
    return args


def write_report(args, name: str, report: dict, render) -> None:
    """``results/<name>.json`` and ``.md`` (``<name>-quick.*`` for a quick run), with the
    date, the parameters and the machine; ``render(report)`` gives the Markdown's lines
    (printed too). The JSON is written first: a fault in the Markdown loses no numbers."""
    report = {
        "benchmark": name,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "params": {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in vars(args).items()
            if not k.startswith("_")
        },
        **report,
    }
    report.setdefault("machine", machine_info())
    report["machine"]["loadavg_1_5_15"] = [round(x, 2) for x in os.getloadavg()]
    stem = f"{name}-quick" if getattr(args, "quick", False) else name
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    head = [f"# {name}: {report['date']}", "", machine_line(report["machine"]), ""]
    text = "\n".join([*head, *render(report), ""])
    (args.out / f"{stem}.md").write_text(text, encoding="utf-8")
    say("", text, f"wrote {args.out / stem}.json and .md")


def table(head: list[str], rows: list[list]) -> list[str]:
    """A Markdown table; columns of numbers right-aligned, the others left."""

    def numeric(i: int) -> bool:
        cells = [str(r[i]).replace(",", "").rstrip("×") for r in rows if str(r[i]) not in ("", "—")]
        return bool(cells) and all(c.replace(".", "", 1).isdigit() for c in cells)

    aligns = ["---:" if numeric(i) else "---" for i in range(len(head))]
    return [
        "| " + " | ".join(head) + " |",
        "|" + "|".join(aligns) + "|",
        *("| " + " | ".join(str(c) for c in row) + " |" for row in rows),
    ]


# -- Chromium -----------------------------------------------------------------------------------


def test_helper(name: str):
    """A module of the test suite's helpers (``tests/**/<name>.py``, wherever the test
    tiers put it): the hostile clients, the throwaway PostgreSQL, the Chromium finder."""
    import importlib

    found = sorted((HERE.parent / "tests").rglob(f"{name}.py"))
    if not found:
        raise RuntimeError(f"no {name}.py in tests/")
    if str(found[0].parent) not in sys.path:
        sys.path.insert(0, str(found[0].parent))
    return importlib.import_module(name)


def chromium() -> tuple[str, list[str]]:
    """The Chromium the browser tests use, and their command-line switches."""
    browser = test_helper("browser")
    found = browser.find_chromium()
    if not found:
        raise RuntimeError("no Chromium found (HUBDESK_CHROMIUM or /usr/bin/chromium)")
    return found, browser.CHROMIUM_ARGS


def chromium_version() -> str:
    out = subprocess.run(
        [chromium()[0], "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout
    return next((w for w in out.split() if w[:1].isdigit()), "?")
