"""A usage sweep with 2,000 running servers: one paginated listing plus writes for the
servers that changed, timed beside the hub's own listing call.

The hub is a real JupyterHub (this environment's), started by this script with a spawner
that starts no process: every server points at one tiny shared HTTP server run inside the
hub's process (the hub's readiness check and its proxy routes are real; no 2,000 Pythons).
hubdesk's sampler (``hubdesk.usage.recorder.UsageRecorder``) is called in this process on
a fresh database, as a worker's job runner would call it: unlike the other benchmarks this
one imports hubdesk's insides, because the sweep has no page to ask for over HTTP.

Cases: nothing changed; 10% of the servers' ``last_activity`` moved (``POST
/users/{name}/activity``); 100 servers started and 100 stopped. For each: the sweep's
time (median of ``--repeat``), how many statements it wrote, and the hub's raw listing
(``GET /users?state=active``, all pages one after another, and as the sweep reads them,
a few at a time). ``--quick``: 200 servers.
"""

from __future__ import annotations

import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import requests
from harness import arguments, parse, say, table, write_report
from hubdesk.db import Database
from hubdesk.devhub import free_port
from hubdesk.hub import MAX_PAGE, PAGINATION_ACCEPT, HubClient
from hubdesk.usage.recorder import UsageRecorder
from sqlalchemy import event

HUB_CONFIG = '''
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from jupyterhub.spawner import Spawner

class Ok(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a): pass

shared = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
threading.Thread(target=shared.serve_forever, daemon=True).start()

class SharedSpawner(Spawner):
    """Starts no process: every server is the one shared HTTP server above."""
    async def start(self):
        self._up = True
        return ("127.0.0.1", shared.server_address[1])
    async def poll(self):
        return None if getattr(self, "_up", False) else 0
    async def stop(self, now=False):
        self._up = False

c = get_config()
s = {settings}
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = s["port"]
c.JupyterHub.hub_port = s["hub_port"]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:%d" % s["proxy_api_port"]
c.JupyterHub.db_url = "sqlite:///" + s["root"] + "/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = s["root"] + "/cookie_secret"
c.JupyterHub.pid_file = s["root"] + "/jupyterhub.pid"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = SharedSpawner
c.JupyterHub.concurrent_spawn_limit = 0
c.JupyterHub.last_activity_interval = 3600
c.JupyterHub.cleanup_servers = False  # nothing to stop: every server is the shared one
c.JupyterHub.services = [{{"name": "bench", "api_token": s["token"]}}]
c.JupyterHub.load_roles = [{{
    "name": "bench", "services": ["bench"],
    "scopes": ["admin:users", "admin:servers", "users:activity", "list:users", "read:users",
               "read:servers", "read:groups"],
}}]
'''


def start_hub(root: Path, token: str) -> tuple[subprocess.Popen, str]:
    settings = dict(
        root=str(root),
        token=token,
        port=free_port(),
        hub_port=free_port(),
        proxy_api_port=free_port(),
    )
    config = root / "jupyterhub_config.py"
    config.write_text(HUB_CONFIG.format(settings=json.dumps(settings)), encoding="utf-8")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    log = open(root / "jupyterhub.log", "ab")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterhub", "-f", str(config)],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    api = f"http://127.0.0.1:{settings['hub_port']}/hub/api"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(api + "/", timeout=2).ok:
                return process, api
        except requests.RequestException:
            pass
        if process.poll() is not None:
            raise SystemExit(f"the hub exited: see {root / 'jupyterhub.log'}")
        time.sleep(0.5)
    raise SystemExit("the hub did not answer within 120 s")


def stop_hub(process: subprocess.Popen) -> None:
    """SIGTERM to the hub's process group (it and its proxy); SIGKILL if it lingers."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def active_total(hub: HubClient) -> int:
    return hub.page("users", limit=1, params={"state": "active"}).total or 0


def start_servers(hub: HubClient, names: list[str], major: int) -> None:
    with ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda n: hub.start_server(n, "", {"profile": "small"}, hub_major=major), names
            )
        )


def stop_servers(hub: HubClient, names: list[str]) -> None:
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda n: hub.stop_server(n), names))


def wait_active(hub: HubClient, n: int) -> None:
    deadline = time.monotonic() + 600
    while active_total(hub) != n:
        if time.monotonic() > deadline:
            raise SystemExit(f"the hub has {active_total(hub)} active servers, not {n}")
        time.sleep(0.5)


def raw_listing(api: str, token: str) -> tuple[float, int]:
    """All pages of ``GET /users?state=active``, one after another: (ms, pages)."""
    s = requests.Session()
    s.headers.update({"Authorization": f"token {token}", "Accept": PAGINATION_ACCEPT})
    t0, offset, pages = time.perf_counter(), 0, 0
    while True:
        body = s.get(
            f"{api}/users", params={"state": "active", "offset": offset, "limit": MAX_PAGE}
        ).json()
        pages += 1
        nxt = (body.get("_pagination") or {}).get("next")
        if not nxt:
            return (time.perf_counter() - t0) * 1000, pages
        offset = nxt["offset"]


def counted(database: Database) -> list[str]:
    writes: list[str] = []

    @event.listens_for(database.engine, "before_cursor_execute")
    def count(conn, cursor, statement, *args):
        if statement.split()[0] in ("INSERT", "UPDATE", "DELETE"):
            writes.append(statement.split()[0])

    return writes


def main(argv=None) -> None:
    ap = arguments(__doc__, repeat=5, quick_repeat=3)
    ap.add_argument("--servers", type=int, help="running servers (2,000; quick 200)")
    ap.add_argument(
        "--db-url",
        help="hubdesk's database for the record (an empty one: e.g. PostgreSQL); default: "
        "an SQLite file in the run's folder",
    )
    args = parse(ap, argv)
    n = args.servers or (200 if args.quick else 2000)
    changed = max(1, n // 20)  # started, and as many stopped (100 of 2,000)
    root = (args.dir or Path(tempfile.mkdtemp(prefix="hubdesk-sweep-"))).resolve()
    root.mkdir(parents=True, exist_ok=True)
    token = os.urandom(16).hex()
    process, api = start_hub(root, token)
    try:
        hub = HubClient(api, token, timeout=(5, 300))
        major = int(hub.version().split(".")[0])
        names = [f"sweep-{i:05d}" for i in range(n + changed * (args.repeat + 1))]
        for i in range(0, len(names), 1000):
            hub.request("POST", "users", json={"usernames": names[i : i + 1000]})
        t0 = time.perf_counter()
        start_servers(hub, names[:n], major)
        wait_active(hub, n)
        say(f"{n} servers running in {time.perf_counter() - t0:.0f} s")

        database = Database(args.db_url or f"sqlite:///{root / 'usage.sqlite'}")
        database.upgrade()
        recorder = UsageRecorder(database, sample_seconds=3600, keep_days=400, zone="UTC")
        writes = counted(database)
        rows = []

        def case(label: str, prepare) -> None:
            times, wrote, raws, pages = [], [], [], 0
            for k in range(args.repeat):
                prepare(k)
                raw_ms, pages = raw_listing(api, token)
                raws.append(raw_ms)
                writes.clear()
                t = time.perf_counter()
                recorder.sweep(hub)
                times.append((time.perf_counter() - t) * 1000)
                wrote.append(len(writes))
            rows.append(
                [
                    label,
                    pages,
                    f"{statistics.median(raws):.0f}",
                    f"{statistics.median(times):.0f}",
                    f"{statistics.median(times) / statistics.median(raws):.2f}×",
                    int(statistics.median(wrote)),
                ]
            )
            say(rows[-1])

        running = list(names[:n])
        spare = iter(names[n:])
        writes.clear()
        t = time.perf_counter()
        recorder.sweep(hub)
        first_ms, first_writes = (time.perf_counter() - t) * 1000, len(writes)
        case("nothing changed", lambda k: None)

        def activity(k):
            chosen = running[k % 10 :: 10]  # a tenth, a different one each time
            with ThreadPoolExecutor(16) as pool:
                stamp = now_iso()
                list(
                    pool.map(
                        lambda u: hub.request(
                            "POST",
                            "users",
                            u,
                            "activity",
                            json={
                                "last_activity": stamp,
                                "servers": {"": {"last_activity": stamp}},
                            },
                        ),
                        chosen,
                    )
                )

        case(f"10% ({n // 10}) with activity moved", activity)

        def churn(k):
            gone, new = running[:changed], [next(spare) for _ in range(changed)]
            del running[:changed]
            stop_servers(hub, gone)
            start_servers(hub, new, major)
            running.extend(new)
            wait_active(hub, n)

        case(f"{changed} started + {changed} stopped", churn)
    finally:
        stop_hub(process)

    pages = math.ceil(n / MAX_PAGE)
    kind = "PostgreSQL" if (args.db_url or "").startswith("postgresql") else "SQLite"

    def render(report):
        return [
            f"A sweep of hubdesk's usage sampler with **{n:,} running servers** "
            f"(one user each, profile `small`) on a real JupyterHub whose spawner starts no "
            f"process (every server is one shared HTTP server in the hub's process), "
            f"hubdesk's record on {kind}. The listing is {pages} pages of {MAX_PAGE}.",
            "",
            f"The first sweep (all {n:,} sessions new): {first_ms:.0f} ms, "
            f"{first_writes:,} statements written.",
            "",
            *table(
                [
                    "case",
                    "pages",
                    "hub's listing, pages in turn (ms)",
                    "sweep (ms)",
                    "sweep / listing",
                    "statements written",
                ],
                report["rows"],
            ),
            "",
            "The sweep reads the same pages a few at a time (hubdesk's `active_users`), so "
            "it can take less than the listing read page after page. Statements written: "
            "INSERT/UPDATE (coverage, the hour's rows, then only the changed sessions with "
            "their days and activity).",
        ]

    write_report(
        args,
        "usage_sweep" if kind == "SQLite" else "usage_sweep-postgresql",
        {"servers": n, "pages": pages, "first": [first_ms, first_writes], "rows": rows},
        render,
    )


if __name__ == "__main__":
    main()
