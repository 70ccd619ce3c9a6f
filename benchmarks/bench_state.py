#!/usr/bin/env python
"""The pages that read hubdesk's own database, from an empty one to a big history.

A real JupyterHub and hubdesk under gunicorn (harness.py), signed in as the hub admin.
For each database kind (an SQLite file, hubdesk's default; PostgreSQL, a throwaway
server from the test suite's ``pgserver.py``, when ``initdb`` is installed) and each
history size (empty; 100 audit records; 1,000,000 audit records and 20,000 finished
jobs), the database is seeded directly (bulk INSERTs into hubdesk's tables, COPY on
PostgreSQL), then ANALYZE, then gunicorn restarts, and these pages are timed through the
proxy and direct to gunicorn:

  the Activity page ``activity``, filtered by group, by user and by person, its second
  page (``?before=<id>`` of the first page's "Older records" link), and a group's servers
  page ``groups/<g>/servers`` (its "recent group actions") next to the raw hub call that
  page makes, ``GET /hub/api/groups/<g>``.

Then what the session check costs a page: the Activity page with 0 other sessions in the
table, with 100,000, and with 0 again (A/B/A, so that drift shows). Nothing is asserted.

    python benchmarks/bench_state.py                  # 1,000,000 records (~10 min)
    python benchmarks/bench_state.py --quick          # 100,000 records, SQLite only
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import secrets
import sqlite3
import sys
import time
from itertools import accumulate

import requests
from cryptography.fernet import Fernet
from harness import (
    Calls,
    Series,
    Stack,
    arguments,
    direct_session,
    fmt,
    machine_info,
    measure,
    parse,
    say,
    sign_in,
    stack,
    table,
    test_helper,
    write_report,
)
from sqlalchemy import create_engine, event, text

PEOPLE = [f"staff-{i:03d}" for i in range(200)]
GROUPS = [f"course-{i:04d}" for i in range(2000)]
USERS = [f"u{i:05d}" for i in range(10_000)]
GROUP = GROUPS[0]  # the measured group: the busiest one, with many jobs
MEMBERS = USERS[:20]  # its members, made in the hub too
USER = MEMBERS[3]  # the measured user filter
PERSON = PEOPLE[0]  # the measured person filter: the busiest one
# last term's course and a colleague who left: busy (the second busiest of each), but only
# in the oldest OLD_SHARE of the history; the same course's group actions, in the oldest
# OLD_SHARE of the jobs (which are kept 30 days)
OLD_GROUP = GROUPS[1]
OLD_MEMBERS = USERS[20:30]
OLD_PERSON = PEOPLE[1]
OLD_SHARE = 0.3
HISTORY_DAYS = 300  # audit records span this (kept 365 days by default: none is pruned)
JOB_DAYS = 25  # jobs span this (kept 30 days by default)
CHUNK = 50_000
TABLES = ("audit", "audit_names", "jobs", "job_items", "sessions", "group_changes")
TARGET_RATIO = 1.2
TOKEN = "bench-" + "x" * 40  # the token a session row holds (encrypted)

# audit actions and how often they come (weights)
ACTIONS = [
    ("server.start", 30),
    ("server.stop", 25),
    ("server.remove", 5),
    ("group.members.add", 20),
    ("group.members.remove", 8),
    ("group.create", 3),
    ("group.delete", 1),
    ("group.properties.set", 3),
    ("users.create", 5),
]
HUB_ANSWERS = [("200", 40), ("201", 25), ("204", 30), ("404 no such user", 2), ("no answer", 1)]


def zipf_weights(n: int, s: float) -> list[float]:
    return list(accumulate(1 / (k + 1) ** s for k in range(n)))


def cumulative(pairs) -> tuple[list, list]:
    values = [v for v, _ in pairs]
    return values, list(accumulate(w for _, w in pairs))


# -- seeding (straight into the database) ------------------------------------------------


class Seeder:
    """Bulk inserts into hubdesk's tables: executemany on SQLite, COPY on PostgreSQL."""

    def __init__(self, url: str):
        self.url = url
        self.sqlite = url.startswith("sqlite")
        self.engine = create_engine(url)
        if self.sqlite:

            @event.listens_for(self.engine, "connect")
            def _fast(dbapi_conn, _record):
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA cache_size=-262144")  # 256 MiB while seeding
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()

    def insert(self, table: str, columns: list[str], rows) -> int:
        """Insert ``rows`` (tuples, any iterable) in one transaction; how many."""
        n = 0
        with self.engine.begin() as conn:
            if self.sqlite:
                # the benchmark's own table and column names
                marks = ", ".join("?" * len(columns))
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
                batch = []
                for row in rows:
                    batch.append(row)
                    if len(batch) >= CHUNK:
                        conn.exec_driver_sql(sql, batch)
                        n += len(batch)
                        batch = []
                if batch:
                    conn.exec_driver_sql(sql, batch)
                    n += len(batch)
            else:
                raw = conn.connection.driver_connection
                with (
                    raw.cursor() as cur,
                    cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
                ):
                    for row in rows:
                        copy.write_row(row)
                        n += 1
        return n

    def scalar(self, sql: str, **params):
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def execute(self, sql: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(sql))

    def analyze(self) -> float:
        """ANALYZE, as a deployment's autovacuum (PostgreSQL: VACUUM ANALYZE) would."""
        t0 = time.perf_counter()
        if self.sqlite:
            with self.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        else:
            # VACUUM cannot run in a transaction; after a big COPY autovacuum would vacuum
            # (and so set the visibility map) as well as analyze
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql(f"VACUUM (ANALYZE) {', '.join(TABLES)}")
        return time.perf_counter() - t0

    def fix_sequences(self) -> None:
        """Explicit ids were inserted: move PostgreSQL's sequence past them."""
        if not self.sqlite:
            self.execute(
                "SELECT setval(pg_get_serial_sequence('audit', 'id'), "
                "(SELECT COALESCE(max(id), 0) + 1 FROM audit), false)"
            )

    def dispose(self) -> None:
        self.engine.dispose()


AUDIT_COLUMNS = [
    "id",
    "time",
    "person",
    "action",
    "group_name",
    "target",
    "hub",
    "request_id",
    "truncated",
]


def audit_rows(first_id: int, n: int, total: int, rng: random.Random, names_out: list):
    """``n`` audit records from id ``first_id``, spread over HISTORY_DAYS for ``total`` ids.

    ~200 people and ~2,000 groups with skewed activity (the first of each busiest),
    users u00000..u09999; the users a record names are appended to ``names_out``
    as (record id, name) for audit_names.
    """
    now = time.time()
    start = now - HISTORY_DAYS * 86400
    step = (HISTORY_DAYS * 86400 - 120) / max(total, 1)
    people = rng.choices(PEOPLE, cum_weights=zipf_weights(len(PEOPLE), 1.0), k=n)
    groups = rng.choices(GROUPS, cum_weights=zipf_weights(len(GROUPS), 0.9), k=n)
    actions = rng.choices(*cumulative(ACTIONS), k=n)
    answers = rng.choices(*cumulative(HUB_ANSWERS), k=n)
    rand, randrange, sample = rng.random, rng.randrange, rng.sample
    dumps = json.dumps
    recent = OLD_SHARE * total  # from this id on, last term's course and colleague are gone
    for k in range(n):
        record_id = first_id + k
        action, group, person = actions[k], groups[k], people[k]
        if record_id > recent:
            if group == OLD_GROUP:
                group = GROUPS[2 + randrange(len(GROUPS) - 2)]
            if person == OLD_PERSON:
                person = PEOPLE[2 + randrange(len(PEOPLE) - 2)]
        if action.startswith("server."):
            user = MEMBERS[randrange(20)] if rand() < 0.1 else USERS[randrange(10_000)]
            target = {"user": user, "server": "" if rand() < 0.7 else "lab"}
            if action == "server.start":
                target["user_options"] = {"profile": "small"}
            names, group = [user], None
        elif action.startswith("group.members."):
            pool = MEMBERS if group == GROUP else OLD_MEMBERS if group == OLD_GROUP else USERS
            names = sorted(sample(pool, 1 + int(rand() ** 3 * 5)))
            target = {"group": group, "users": names, "count": len(names)}
        elif action == "group.properties.set":
            target, names = {"group": group, "keys": ["course", "term"]}, []
        elif action.startswith("group."):
            target, names = {"group": group}, []
        else:  # users.create
            names = sorted(sample(USERS, 1 + int(rand() ** 2 * 9)))
            target, names, group = {"users": names, "count": len(names)}, names, None
        hub = answers[k] if rand() > 0.001 else None  # a few "sent; no answer recorded"
        names_out.extend((record_id, name) for name in names)
        yield (
            record_id,
            start + record_id * step + rand() * step,
            person,
            action,
            group,
            dumps(target, ensure_ascii=False, sort_keys=True),
            hub,
            f"{rng.getrandbits(64):016x}",
            False,
        )


def seed_audit(seeder: Seeder, upto: int, total: int, rng: random.Random) -> dict:
    """Add audit records (and their audit_names) until there are ``upto``."""
    have = seeder.scalar("SELECT count(*) FROM audit") or 0
    first = (seeder.scalar("SELECT max(id) FROM audit") or 0) + 1
    n = max(0, upto - have)
    t0 = time.perf_counter()
    names: list = []
    inserted = seeder.insert("audit", AUDIT_COLUMNS, audit_rows(first, n, total, rng, names))
    t_audit = time.perf_counter() - t0
    t1 = time.perf_counter()
    seeder.insert("audit_names", ["record_id", "name"], names)
    t_names = time.perf_counter() - t1
    seeder.fix_sequences()
    return {
        "audit_rows": inserted,
        "audit_names_rows": len(names),
        "audit_s": round(t_audit, 2),
        "audit_names_s": round(t_names, 2),
    }


JOB_COLUMNS = [
    "id",
    "kind",
    "group_name",
    "by",
    "spec",
    "scopes",
    "created",
    "updated",
    "finished",
    "state",
    "lease_owner",
    "lease_until",
    "result",
    "cancel_by",
    "takeovers",
]
ITEM_COLUMNS = ["job_id", "name", "op", "position", "outcome", "words", "sent", "updated"]
SCOPES = json.dumps(["admin:groups", "admin:servers", "admin:users", "list:users"])


def job_rows(n: int, n_group: int, rng: random.Random, items_out: list):
    """``n`` finished jobs over JOB_DAYS, ``n_group`` of them of GROUP (one item a member),
    as many of OLD_GROUP in the oldest OLD_SHARE of them; the others of other groups (1-8
    items). Items are appended to ``items_out``."""
    now = time.time()
    start = now - JOB_DAYS * 86400
    rest = GROUPS[2:]
    others = rng.choices(rest, cum_weights=zipf_weights(len(rest), 0.9), k=n)
    mine = set(rng.sample(range(n), n_group))
    early = [k for k in range(int(n * OLD_SHARE)) if k not in mine]
    old = set(rng.sample(early, min(n_group, len(early))))
    for k in range(n):
        created = start + (k + rng.random()) * (JOB_DAYS * 86400 - 600) / n
        finished = created + rng.uniform(2, 60)
        group = GROUP if k in mine else OLD_GROUP if k in old else others[k]
        kind = rng.choices(("start", "stop", "members"), (45, 45, 10))[0]
        job_id = f"{rng.getrandbits(64):016x}"
        if group == GROUP:
            names = MEMBERS
        elif group == OLD_GROUP:
            names = OLD_MEMBERS
        else:
            names = rng.sample(USERS, rng.randint(1, 8))
        spec = {
            "server": rng.choice(("", "lab")) if kind != "members" else None,
            "user_options": {"profile": "small"} if kind == "start" else None,
            "profile": "small" if kind == "start" else None,
            "request_id": f"{rng.getrandbits(64):016x}",
        }
        result = None
        op = ""
        if kind == "members":
            op = rng.choice(("add", "remove"))
            spec = {"verb": op, "request_id": spec["request_id"]}
            result = json.dumps({"done": len(names), "failed": 0})
        outcome = {"start": "started", "stop": "stopped", "members": "done"}[kind]
        for position, name in enumerate(names):
            item_outcome = outcome if rng.random() > 0.03 else "failed"
            items_out.append((job_id, name, op, position, item_outcome, "ready", True, finished))
        yield (
            job_id,
            kind,
            group,
            rng.choice(PEOPLE[:20]),
            json.dumps(spec),
            SCOPES,
            created,
            finished,
            finished,
            "done",
            None,
            None,
            result,
            None,
            0,
        )


def seed_jobs(seeder: Seeder, n: int, n_group: int, rng: random.Random) -> dict:
    t0 = time.perf_counter()
    items: list = []
    inserted = seeder.insert("jobs", JOB_COLUMNS, job_rows(n, n_group, rng, items))
    seeder.insert("job_items", ITEM_COLUMNS, items)
    return {
        "jobs_rows": inserted,
        "job_items_rows": len(items),
        "jobs_s": round(time.perf_counter() - t0, 2),
    }


def seed_sessions(seeder: Seeder, upto: int, rng: random.Random) -> dict:
    """Other people's session rows until the table has ``upto`` (a fifth of them ended)."""
    have = seeder.scalar("SELECT count(*) FROM sessions") or 0
    n = max(0, upto - have)
    now = time.time()
    sealed = Fernet(Fernet.generate_key()).encrypt(TOKEN.encode()).decode()

    def rows():
        for _ in range(n):
            created = now - rng.uniform(0, 7.5 * 3600)
            ended = created + rng.uniform(60, 3600) if rng.random() < 0.2 else None
            who = rng.choice(PEOPLE) if rng.random() < 0.2 else USERS[rng.randrange(10_000)]
            sid = hashlib.sha256(rng.randbytes(32)).hexdigest()
            yield (sid, who, sealed, created, created + 8 * 3600, ended)

    t0 = time.perf_counter()
    columns = ["id", "person", "token", "created", "expires", "ended"]
    inserted = seeder.insert("sessions", columns, rows())
    return {"sessions_rows": inserted, "sessions_s": round(time.perf_counter() - t0, 2)}


def counts(seeder: Seeder) -> dict:
    tables = ("audit", "audit_names", "jobs", "job_items", "sessions")
    return {t: seeder.scalar(f"SELECT count(*) FROM {t}") for t in tables}  # noqa: S608


def page_list(older: str) -> list[tuple[str, str, str]]:
    """(key, label, path under the prefix) of the pages measured."""
    return [
        ("activity", "Activity (newest)", "activity"),
        ("group", f"Activity `?group={GROUP}`", f"activity?group={GROUP}"),
        (
            "group_old",
            f"Activity `?group={OLD_GROUP}` (last term's)",
            f"activity?group={OLD_GROUP}",
        ),
        ("user", f"Activity `?user={USER}`", f"activity?user={USER}"),
        ("person", f"Activity `?person={PERSON}`", f"activity?person={PERSON}"),
        ("person_old", f"Activity `?person={OLD_PERSON}` (left)", f"activity?person={OLD_PERSON}"),
        ("older", "Activity, second page `?before=<id>`", f"activity?before={older}"),
        ("servers", f"servers page `groups/{GROUP}/servers`", f"groups/{GROUP}/servers"),
        (
            "servers_old",
            f"servers page `groups/{OLD_GROUP}/servers` (last term's)",
            f"groups/{OLD_GROUP}/servers",
        ),
    ]


OLDER = re.compile(r'href="[^"]*[?&;]before=(\d+)[^"]*" data-testid="older"')


def shown(key: str, body: str) -> int:
    """How many records (Activity) or recent group actions (servers page) a page shows."""
    if key.startswith("servers"):
        return body.count("/servers/jobs/")
    return body.count('<td class="small"><code>')


def time_pages(st: Stack, sessions: tuple, pages: list, repeat: int, *, raw: bool) -> dict:
    """Each page via proxy and direct (and the raw hub call), interleaved round robin."""
    proxied, direct = sessions
    targets, keys = [], []
    for key, _label, path in pages:
        targets.append(Calls(Series(f"{key} proxy"), proxied, [(st.base + path, {})]))
        targets.append(Calls(Series(f"{key} direct"), direct, [(st.direct + path, {})]))
        keys += [(key, "proxy"), (key, "direct")]
    if raw:
        url = f"{st.hub.api_url}/groups/{GROUP}"
        targets.append(Calls(Series("raw GET /hub/api/groups/<g>"), st.api.s, [(url, {})]))
        keys.append(("raw_group", "raw"))
    rows: dict = {}
    for target, (key, via) in zip(targets, keys, strict=True):
        _, _, r = target.hit()
        if via != "raw":
            rows.setdefault(key, {})["shown"] = shown(key, r.text)
    for summary, (key, via) in zip(measure(targets, repeat), keys, strict=True):
        rows.setdefault(key, {})[via] = summary
    return rows


def restart(st: Stack) -> float:
    """gunicorn again, until hubdesk answers that it can read its database."""
    t0 = time.perf_counter()
    st.server.stop()
    st.server.start()
    st.server.wait_listening()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = requests.get(f"{st.direct}health", timeout=10)
        if r.headers.get("content-type", "").startswith("application/json"):
            if r.json().get("database") == "up":
                break
        time.sleep(0.2)
    return round(time.perf_counter() - t0, 2)


def run_kind(args, st: Stack, kind: str, url: str, rng: random.Random) -> dict:
    say(f"\n== {kind} ==")
    st.server.env["HUBDESK_DB_URL"] = url
    say(f"hubdesk restarted on {kind} in {restart(st):.1f} s")
    proxied = sign_in(st, page="activity")
    sessions = (proxied, direct_session(st, proxied))
    seeder = Seeder(url)
    out: dict = {"kind": kind, "levels": {}}
    levels = [
        ("empty", 0, 0, 0),
        ("small", args.small, args.small_jobs, max(1, args.small_jobs // 2)),
        ("big", args.records, args.jobs, args.jobs // 10),
    ]
    try:
        for name, records, jobs, group_jobs in levels:
            seeding = {}
            if records or jobs:
                st.server.stop()
                seeding = seed_audit(seeder, records, args.records, rng)
                have = seeder.scalar("SELECT count(*) FROM jobs") or 0
                if jobs > have:
                    mine = seeder.scalar("SELECT count(*) FROM jobs WHERE group_name = :g", g=GROUP)
                    seeding |= seed_jobs(seeder, jobs - have, max(0, group_jobs - mine), rng)
                seeding["analyze_s"] = round(seeder.analyze(), 2)
                seeding["restart_s"] = restart(st)
                say(f"seeded ({name}): {seeding}")
            first = sessions[1].get(st.direct + "activity", timeout=60)
            found = OLDER.search(first.text)
            older = int(found.group(1)) if found else None
            pages = page_list(str(older or 1))
            say(f"  {kind}/{name}: {len(pages)} pages x 2 + the raw call, {args.repeat} times …")
            timed = time_pages(st, sessions, pages, args.repeat, raw=True)
            out["levels"][name] = {"rows": counts(seeder), "seeding": seeding, "pages": timed}
            if name == "empty":
                out["sessions"] = sessions_part(args, st, sessions, seeder, rng)
    finally:
        seeder.dispose()
    return out


def sessions_part(args, st: Stack, sessions: tuple, seeder, rng) -> dict:
    """The Activity page with no other session row, with ``--sessions``, then none again."""
    page = [("activity", "Activity (empty history)", "activity")]
    out = {}
    out["0"] = time_pages(st, sessions, page, args.repeat, raw=False)["activity"]
    seeding = seed_sessions(seeder, args.sessions, rng)
    seeder.analyze()
    out[str(args.sessions)] = time_pages(st, sessions, page, args.repeat, raw=False)["activity"]
    out[str(args.sessions)]["seeding"] = seeding
    # back to the admin's own rows, so that the history levels compare like with like
    seeder.execute("DELETE FROM sessions WHERE person <> 'admin'")
    seeder.analyze()
    out["0 again"] = time_pages(st, sessions, page, args.repeat, raw=False)["activity"]
    say(
        "  session rows 0 / N / 0: "
        + " / ".join(f"{fmt(v['direct']['median_ms'])}" for v in out.values())
        + " ms direct"
    )
    return out


# -- the report ---------------------------------------------------------------------------


def ratio_to(row: dict, base: dict) -> float:
    return row["direct"]["median_ms"] / base["direct"]["median_ms"]


def markdown(report: dict) -> list[str]:
    args = argparse.Namespace(**report["params"])
    names = {
        "empty": "empty",
        "small": f"{args.small:,} records",
        "big": f"{args.records:,} records + {args.jobs:,} jobs",
    }
    lines = [
        f"Per database kind: empty; {args.small:,} audit records and {args.small_jobs} finished "
        f"jobs; {args.records:,} audit records and {args.jobs:,} finished jobs (a tenth of "
        f"them `{GROUP}`'s). ~200 people and ~2,000 groups, busy to very different degrees; "
        f"`{OLD_GROUP}` and `{OLD_PERSON}` only in the oldest {OLD_SHARE:.0%} of the history. "
        "Seeded straight into the database, then ANALYZE and a gunicorn restart. Medians of "
        f"{args.repeat} requests (ms), direct to gunicorn; **×** = median / the empty "
        f"database's (target ≤ {TARGET_RATIO}×). *shown*: records or recent group actions "
        "the page showed.",
        "",
    ]
    for kind in report["kinds"]:
        levels = kind["levels"]
        empty = levels["empty"]["pages"]
        rows = []
        for key, label, _ in page_list("<id>"):
            cells = [
                f"{fmt(v['pages'][key]['direct']['median_ms'])} · {v['pages'][key]['shown']}"
                for v in levels.values()
            ]
            worst = max(ratio_to(v["pages"][key], empty[key]) for v in levels.values())
            rows.append([label, *cells, f"{worst:.2f}×"])
        rows.append(
            [
                f"*raw `GET /hub/api/groups/{GROUP}`*",
                *[fmt(v["pages"]["raw_group"]["raw"]["median_ms"]) for v in levels.values()],
                "",
            ]
        )
        lines += [f"## {kind['kind']}", ""]
        lines += table(
            ["page", *[f"{names[k]}: ms · shown" for k in levels], "worst × empty"], rows
        )
        s = kind.get("sessions")
        if s:
            lines += [
                "",
                "The session check on every page: the Activity page (empty history) with other "
                "people's session rows in the table, direct / through the proxy, ms:",
                "",
                *table(
                    ["session rows", "direct", "via proxy"],
                    [
                        [k, fmt(v["direct"]["median_ms"]), fmt(v["proxy"]["median_ms"])]
                        for k, v in s.items()
                    ],
                ),
            ]
        lines.append("")
    for kind, why in report["skipped"].items():
        lines.append(f"{kind}: skipped ({why}).")
    return lines


def main(argv=None) -> int:
    ap = arguments(__doc__, repeat=60, quick_repeat=15)
    ap.add_argument("--records", type=int, help="audit records (1,000,000; quick 100,000)")
    ap.add_argument("--jobs", type=int, help="finished jobs (20,000; quick 2,000)")
    ap.add_argument("--small", type=int, default=100, help="audit records of the small level")
    ap.add_argument("--small-jobs", type=int, default=10, help="finished jobs of the small level")
    ap.add_argument("--sessions", type=int, help="other session rows (100,000; quick 20,000)")
    ap.add_argument("--kinds", help="sqlite,postgresql (both; quick: sqlite)")
    ap.add_argument("--seed", type=int, default=1, help="random seed of the seeded rows")
    args = parse(ap, argv)
    q = args.quick
    args.records = args.records or (100_000 if q else 1_000_000)
    args.jobs = args.jobs or (2_000 if q else 20_000)
    args.sessions = args.sessions or (20_000 if q else 100_000)
    args.kinds = (args.kinds or ("sqlite" if q else "sqlite,postgresql")).split(",")
    if args.small >= args.records:
        ap.error("--small below --records")
    started = time.perf_counter()
    skipped, pg, module = {}, None, None
    if "postgresql" in args.kinds:
        module = test_helper("pgserver")  # the test suite's throwaway PostgreSQL
        reason = module.available()
        if reason:
            skipped["postgresql"] = reason
            args.kinds.remove("postgresql")
    with stack(args.dir, env={}) as st:
        if "postgresql" in args.kinds:
            pg = module.PostgresServer(st.hub.root / "postgres")
            pg.start()
        try:
            api = st.api
            api.ensure_users(MEMBERS + OLD_MEMBERS)
            api.ensure_group(GROUP, MEMBERS)
            api.ensure_group(OLD_GROUP, OLD_MEMBERS)
            machine = machine_info(api.version())
            machine["sqlite"] = sqlite3.sqlite_version
            rng = random.Random(args.seed)
            kinds = []
            for kind in args.kinds:
                if kind == "sqlite":
                    url = f"sqlite:///{st.hub.root / 'hubdesk-bench.sqlite'}"
                else:
                    url = pg.create_database(f"bench_{secrets.token_hex(4)}")
                kinds.append(run_kind(args, st, kind, url, rng))
        finally:
            if pg is not None:
                pg.close()
    report = {"machine": machine, "skipped": skipped, "kinds": kinds}
    report["run_seconds"] = round(time.perf_counter() - started, 1)
    write_report(args, "state", report, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
