"""Load: N signed-in staff browsing and acting at once, for a fixed time.

A real hub and hubdesk under gunicorn with its documented settings (see
app/gunicorn_conf.py); each virtual staff member is a thread with a session
signed in through the hub's login form and OAuth, looping over the pages a
help desk uses (home, groups, a search, a group, users, a user search, running
servers, a user's page) and, one time in ten, a change (add a member to its own
group, then remove them again). It reports errors (must be 0), p50/p95 per
page, throughput, and the memory of each gunicorn worker. Loopback only; the
loops are bounded in time and stop by themselves.

    python benchmarks/load.py [--staff 20] [--seconds 60] [--users 500] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench_root, hub_and_hubdesk, say, sign_in  # noqa: E402
from hubdesk.hub import HubClient  # noqa: E402

PREFIX = "/services/hubdesk/"
RESULTS = Path(__file__).resolve().parent / "results"


def csrf(text: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', text).group(1)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


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


class Staff(threading.Thread):
    """One person at the help desk, for ``seconds``."""

    def __init__(self, index, session, base, pages, group, member, deadline, results, lock):
        super().__init__(name=f"staff-{index}", daemon=True)
        self.s, self.base, self.pages = session, base, pages
        self.group, self.member = group, member
        self.deadline, self.results, self.lock = deadline, results, lock
        self.random = random.Random(index)

    def record(self, label, started, response=None, error=None):
        ms = (time.perf_counter() - started) * 1000
        ok = error is None and response is not None and response.status_code < 400
        with self.lock:
            entry = self.results.setdefault(label, {"ms": [], "errors": []})
            entry["ms"].append(ms)
            if not ok:
                entry["errors"].append(error or f"{response.status_code} {response.url}")

    def get(self, label, path):
        started = time.perf_counter()
        try:
            r = self.s.get(self.base + path, timeout=30)
        except requests.RequestException as e:
            return self.record(label, started, error=repr(e))
        self.record(label, started, r)
        return r

    def act(self):
        page = self.get("group page", f"groups/{self.group}")
        if page is None or page.status_code != 200:
            return
        for action in ("add", "remove"):
            data = {"csrf_token": csrf(page.text), "names": self.member}
            if action == "remove":
                data = {
                    "csrf_token": csrf(page.text),
                    "confirm": "yes",
                    "names": json.dumps([self.member]),
                }
            started = time.perf_counter()
            try:
                r = self.s.post(f"{self.base}groups/{self.group}/{action}", data=data, timeout=60)
            except requests.RequestException as e:
                self.record(f"{action} a member (POST)", started, error=repr(e))
                continue
            self.record(f"{action} a member (POST)", started, r)

    def run(self):
        while time.monotonic() < self.deadline:
            if self.random.random() < 0.1:
                self.act()
            else:
                label, path = self.random.choice(self.pages)
                self.get(label, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--staff", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--dir", type=Path)
    args = parser.parse_args(argv)
    root, keep = bench_root(args.dir)
    with hub_and_hubdesk(root, keep=keep) as stack:
        api = HubClient(stack.hub.api_url, stack.token)
        names = [f"load-{i:05d}" for i in range(args.users)]
        for start in range(0, len(names), 1000):
            api.create_users(names[start : start + 1000])
        for g in range(args.staff):
            api.create_group(f"load-team-{g:02d}", users=names[g * 10 : g * 10 + 10])
        say(f"seeded {args.users} users and {args.staff} groups")
        base = stack.hub.public_url + PREFIX
        pages = [
            ("home", ""),
            ("groups", "groups/"),
            ("group search", "groups/?q=team-1"),
            ("users", "users/"),
            ("user search", "users/?q=load-001"),
            ("running servers", "servers/"),
            ("user page", "users/load-00042"),
        ]
        sessions = [sign_in(stack.hub, "admin", page="") for _ in range(args.staff)]
        results, lock = {}, threading.Lock()
        deadline = time.monotonic() + args.seconds
        crew = [
            Staff(i, s, base, pages, f"load-team-{i:02d}", names[-1 - i], deadline, results, lock)
            for i, s in enumerate(sessions)
        ]
        say(f"{args.staff} staff for {args.seconds:.0f} s against {base} ...")
        started = time.monotonic()
        for member in crew:
            member.start()
        peak = {}
        while any(m.is_alive() for m in crew):
            for pid in children(stack.server.process.pid):
                peak[pid] = max(peak.get(pid, 0), rss_kib(pid))
            time.sleep(1)  # sampling memory once a second while the load runs
        elapsed = time.monotonic() - started

    rows, total, errors = [], 0, []
    for label, entry in sorted(results.items()):
        ms = sorted(entry["ms"])
        total += len(ms)
        errors += entry["errors"]
        rows.append(
            {
                "page": label,
                "requests": len(ms),
                "p50_ms": round(statistics.median(ms), 1),
                "p95_ms": round(ms[max(0, int(len(ms) * 0.95) - 1)], 1),
                "errors": len(entry["errors"]),
            }
        )
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "staff": args.staff,
        "seconds": round(elapsed, 1),
        "requests": total,
        "throughput_per_s": round(total / elapsed, 1),
        "errors": len(errors),
        "error_samples": errors[:20],
        "pages": rows,
        "worker_peak_rss_mib": [round(v / 1024, 1) for v in peak.values()],
    }
    memory = ", ".join(f"{m} MiB" for m in report["worker_peak_rss_mib"])
    lines = [
        f"# Load: {args.staff} staff for {elapsed:.0f} s ({report['date']})",
        "",
        f"{total} requests, {report['throughput_per_s']} a second, **{len(errors)} errors**; "
        f"gunicorn workers' peak memory: {memory} (the master is not counted).",
        "",
        "| page | requests | p50 ms | p95 ms | errors |",
        "|---|---:|---:|---:|---:|",
        *[
            f"| {r['page']} | {r['requests']} | {r['p50_ms']} | {r['p95_ms']} | {r['errors']} |"
            for r in rows
        ],
    ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "load.json").write_text(json.dumps(report, indent=2))
    (RESULTS / "load.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
