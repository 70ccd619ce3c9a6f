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
    python benchmarks/load.py --quick      # 4 staff for 10 s; results/load-quick.*
"""

from __future__ import annotations

import json
import math
import random
import statistics
import sys
import threading
import time

import requests
from harness import arguments, csrf_token, parse, rss_kib, say, sign_in, stack, table, write_report


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
            data = {"csrf_token": csrf_token(page.text), "names": self.member}
            if action == "remove":
                data = {
                    "csrf_token": csrf_token(page.text),
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
    ap = arguments(__doc__, repeat=1, quick_repeat=1)
    ap.add_argument("--staff", type=int, help="people at once (20; quick 4)")
    ap.add_argument("--seconds", type=float, help="how long (60; quick 10)")
    ap.add_argument("--users", type=int, default=500)
    args = parse(ap, argv)
    args.staff = args.staff or (4 if args.quick else 20)
    args.seconds = args.seconds or (10 if args.quick else 60)
    with stack(args.dir) as st:
        api = st.api
        names = [f"load-{i:05d}" for i in range(args.users)]
        api.ensure_users(names)
        for g in range(args.staff):
            api.ensure_group(f"load-team-{g:02d}", names[g * 10 : g * 10 + 10])
        say(f"seeded {args.users} users and {args.staff} groups")
        pages = [
            ("home", ""),
            ("groups", "groups/"),
            ("group search", "groups/?q=team-1"),
            ("users", "users/"),
            ("user search", "users/?q=load-001"),
            ("running servers", "servers/"),
            ("user page", "users/load-00042"),
        ]
        sessions = [sign_in(st) for _ in range(args.staff)]
        results, lock = {}, threading.Lock()
        deadline = time.monotonic() + args.seconds
        crew = [
            Staff(
                i, s, st.base, pages, f"load-team-{i:02d}", names[-1 - i], deadline, results, lock
            )
            for i, s in enumerate(sessions)
        ]
        say(f"{args.staff} staff for {args.seconds:.0f} s against {st.base} ...")
        started = time.monotonic()
        for member in crew:
            member.start()
        peak = {}
        while any(m.is_alive() for m in crew):
            for pid in st.server.worker_pids():
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
                "p95_ms": round(ms[math.ceil(len(ms) * 0.95) - 1], 1),  # nearest rank
                "errors": len(entry["errors"]),
            }
        )
    report = {
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
        f"{args.staff} staff for {elapsed:.0f} s: {total} requests, "
        f"{report['throughput_per_s']} a second, **{len(errors)} errors**; "
        f"gunicorn workers' peak memory: {memory} (the master is not counted).",
        "",
        *table(
            ["page", "requests", "p50 ms", "p95 ms", "errors"],
            [[r["page"], r["requests"], r["p50_ms"], r["p95_ms"], r["errors"]] for r in rows],
        ),
    ]
    write_report(args, "load", report, lambda _report: lines)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
