"""Lessons at scale: the runner's look and the lessons pages with 10,000 lessons in the database.

Issue 18's red team made 10,000 lessons: the roster took 2.7 s and 11.7 MB, and every
worker's runner read every lesson every few seconds. This prints, side by side:

- **the runner's look** (what is due now): *before*, main's code reproduced here (every
  active lesson read, every holding of each computed); *after*, ``run_due``'s own step
  (``LessonStore.due``: the lessons whose ``next_due`` has come, indexed), timed in this
  process on the seeded SQLite database;
- **the roster's lessons panel and ``lessons/``** (hubdesk's side of the page): *before*,
  main's reads reproduced (every lesson of the group or hub, then one runs query per
  lesson); *after*, ``group_lessons``' and ``index``'s reads (one page; runs in one query);
- with ``--pages``: the two real pages, answered by hubdesk under gunicorn (straight to its
  port) with a real hub, signed in as the hub admin: server time and bytes (after only:
  main's pages cannot be served from this checkout).

Lessons are seeded straight into hubdesk's SQLite database (``--lessons``, by default
10,000, all of one group ``bench-class``, the red team's worst case, plus a few hundred
held before with runs), weekly at random times, with ``next_due`` set as a save sets it.

    python benchmarks/bench_lessons.py [--lessons 10000] [--repeat 20] [--pages]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import (
    PREFIX,
    Series,
    Target,
    bench_root,
    fmt,
    hub_and_hubdesk,
    measure,
    say,
    sign_in,
    time_calls,
)
from cryptography.fernet import Fernet, MultiFernet
from hubdesk import db
from hubdesk.db import Database
from hubdesk.lessons import schedule
from hubdesk.lessons.store import RUNS_SHOWN, LessonStore, _run
from hubdesk.lessons.views import PAGE_SIZES, PAST_SHOWN, SHOWN_ON_ROSTER, upcoming
from sqlalchemy import insert, select

GROUP = "bench-class"


def seed(database: Database, lessons: int, *, rng: random.Random) -> dict:
    """``lessons`` weekly lessons of GROUP, and 2 runs each for a tenth of them."""
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    rows, runs = [], []
    for n in range(lessons):
        starts = f"{rng.randrange(7, 20):02d}:{rng.choice((0, 15, 30, 45)):02d}"
        ends = f"{int(starts[:2]) + 1:02d}:{starts[3:]}"
        when = schedule.parse_when(
            tz=rng.choice(("UTC", "Europe/Rome", "America/New_York")),
            starts=starts,
            ends=ends,
            weekdays=[str(rng.randrange(7))],
            lead_minutes="5",
        )
        lesson_id = f"{n:016x}"
        done = set()
        if n % 10 == 0:  # held last week: a start and a stop
            last = when.occurrences(now - timedelta(days=8), now - timedelta(days=1))[-1][0]
            for kind in ("start", "stop"):
                done.add((kind, last.timestamp()))
                runs.append(
                    {
                        "lesson_id": lesson_id,
                        "kind": kind,
                        "occurrence": last.timestamp(),
                        "due": last.timestamp(),
                        "ran": last.timestamp(),
                        "late": False,
                        "job_id": None,
                        "words": "",
                    }
                )
        rows.append(
            {
                "id": lesson_id,
                "group_name": GROUP,
                "server": "lab",
                "spec": json.dumps({"user_options": {"profile": "small"}, "profile": "Small"}),
                **schedule.as_row(when),
                "by": "admin",
                "token": "x",
                "created": now.timestamp(),
                "updated": now.timestamp(),
                "next_due": schedule.next_due(when, now, done),
            }
        )
    with database.write() as conn:
        for start in range(0, len(rows), 1000):
            conn.execute(insert(db.lessons), rows[start : start + 1000])
        if runs:
            conn.execute(insert(db.lesson_runs), runs)
    return {"lessons": lessons, "runs": len(runs), "seconds": round(time.perf_counter() - t0, 1)}


# -- main's code before issue 18, reproduced (what each look and page read) ----------------


def look_before(store: LessonStore) -> int:
    now = datetime.now(UTC)
    active = store.active()
    done = store.done((now - schedule.LOOK_BACK - timedelta(days=1)).timestamp())
    return sum(
        len(schedule.due_runs(lesson.when, now, done.get(lesson.id, set()))) for lesson in active
    )


def runs_before(store: LessonStore, ids) -> dict:
    r = db.lesson_runs
    found = {}
    with store.database.read() as conn:
        for lesson_id in ids:
            rows = conn.execute(
                select(r)
                .where(r.c.lesson_id == lesson_id)
                .order_by(r.c.occurrence.desc(), r.c.kind.desc())
                .limit(RUNS_SHOWN)
            ).all()
            found[lesson_id] = [_run(row) for row in rows]
    return found


def roster_before(store: LessonStore) -> int:
    active = store.active([GROUP])
    rows = upcoming(active)
    runs = runs_before(store, [lesson.id for lesson in active])
    return len(rows) + len(runs)


def index_before(store: LessonStore) -> int:
    return len(upcoming(store.active(None)))


# -- after: the code of this checkout ----------------------------------------------------


def look_after(store: LessonStore) -> int:
    now = datetime.now(UTC)
    due = store.due(now.timestamp())
    done = store.done(
        (now - schedule.LOOK_BACK - timedelta(days=1)).timestamp(), [x.id for x in due]
    )
    return sum(len(schedule.due_runs(x.when, now, done.get(x.id, set()))) for x in due)


def roster_after(store: LessonStore) -> int:
    coming, over = store.of_group(GROUP, limit=SHOWN_ON_ROSTER, past=PAST_SHOWN)
    rows = upcoming(coming)
    runs = store.runs([lesson.id for lesson in coming + over])
    return len(rows) + len(runs)


def index_after(store: LessonStore) -> int:
    shown, _ = store.upcoming(None, offset=0, limit=PAGE_SIZES[0])
    rows = upcoming(shown)
    return len(rows) + len(store.runs([lesson.id for lesson, _, _ in rows], per_lesson=2))


def side_by_side(store: LessonStore, repeat: int) -> list[dict]:
    pairs = [
        ("runner's look (what is due now)", look_before, look_after),
        (f"roster's lessons panel ({GROUP})", roster_before, roster_after),
        ("lessons/ (every group, admin)", index_before, index_after),
    ]
    out = []
    for label, before, after in pairs:
        b = time_calls(lambda f=before: f(store), max(3, repeat // 4))
        a = time_calls(lambda f=after: f(store), repeat)
        out.append(
            {"what": label, "before_ms": sorted(b)[len(b) // 2], "after_ms": sorted(a)[len(a) // 2]}
        )
    return out


def pages(root: Path, db_url: str, lessons: int, repeat: int, rng) -> list[dict]:
    """The two real pages, served by hubdesk under gunicorn (after only)."""
    out = []
    with hub_and_hubdesk(root, keep=False, env={"HUBDESK_DB_URL": db_url}) as stack:
        from hubdesk.hub import HubClient

        api = HubClient(stack.hub.api_url, stack.token)
        api.create_group(GROUP)
        s = sign_in(stack.hub)
        direct = stack.server.url + PREFIX
        targets = [
            Target(
                Series("roster: groups/bench-class/servers", direct + f"groups/{GROUP}/servers"), s
            ),
            Target(Series("lessons/ (first page)", direct + "lessons/"), s),
        ]
        measure(targets, repeat)
        for t in targets:
            sm = t.series.summary()
            out.append(
                {
                    "page": sm["label"],
                    "median_ms": sm["median_ms"],
                    "p95_ms": sm["p95_ms"],
                    "bytes": sm["bytes"],
                }
            )
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lessons", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--pages", action="store_true", help="also time the real pages")
    parser.add_argument("--dir", type=Path, help="keep the files here")
    args = parser.parse_args(argv)
    rng = random.Random(18)
    root, keep = bench_root(args.dir)
    path = root / "hubdesk.db"
    db_url = f"sqlite:///{path}"
    database = Database(db_url)
    database.upgrade()
    say(f"seeding {args.lessons:,} lessons into {path} …")
    seeded = seed(database, args.lessons, rng=rng)
    say(f"seeded: {seeded}")
    store = LessonStore(database, MultiFernet([Fernet(Fernet.generate_key())]))
    rows = side_by_side(store, args.repeat)
    say("")
    say(f"| with {args.lessons:,} lessons (median, this process) | before | after |")
    say("|---|---:|---:|")
    for row in rows:
        say(f"| {row['what']} | {fmt(row['before_ms'])} | {fmt(row['after_ms'])} |")
    shown = []
    if args.pages:
        database.dispose()
        (root / "stack").mkdir(exist_ok=True)
        shown = pages(root / "stack", db_url, args.lessons, args.repeat, rng)
        say("")
        say("| page, straight to gunicorn (after) | median | p95 | bytes |")
        say("|---|---:|---:|---:|")
        for p in shown:
            say(f"| {p['page']} | {fmt(p['median_ms'])} | {fmt(p['p95_ms'])} | {p['bytes']:,} |")
    if not keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
