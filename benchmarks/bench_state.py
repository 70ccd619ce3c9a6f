#!/usr/bin/env python
"""Benchmark the pages that read hubdesk's own database, from an empty one to a big history.

Starts a real JupyterHub on loopback (``hubdesk.devhub.LocalHub``) and hubdesk under
gunicorn with the production image's command, registered with the hub as an
external service, and signs in as the hub admin through the hub's login form and
OAuth. For each database kind (an SQLite file, hubdesk's default; PostgreSQL, a
throwaway server from ``tests/pgserver.py``) and each history size (empty; 100
audit records; 1,000,000 audit records and 20,000 finished jobs), it seeds the
database directly (bulk INSERTs, COPY on PostgreSQL), runs ANALYZE, restarts
gunicorn and times:

  the Activity page ``activity``, filtered by group, by user and by person,
  its second page (``?before=<id>`` of the first page's "Older records" link),
  and a group's servers page ``groups/<g>/servers`` (its "recent group actions")
  next to the raw hub call that page makes, ``GET /hub/api/groups/<g>``.

Then what a session check adds to every page: ``SessionStore.find(sid)`` in this
process with 100 and 100,000 session rows, its share of a page, and a page end to
end with 0 and 100,000 other sessions. Every number is a wall-clock time; nothing
is asserted about them: this is a measurement, not a test.

    python benchmarks/bench_state.py                  # the issue's numbers (~10 min)
    python benchmarks/bench_state.py --quick          # a fast check (~2 min)
    python benchmarks/bench_state.py --kinds sqlite --records 200000

See benchmarks/README.md for how to read the output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import re
import secrets
import signal
import statistics
import sys
import time
from itertools import accumulate
from pathlib import Path

import requests
from _common import (
    HERE,
    PREFIX,
    SEED_TIMEOUT,
    WARMUP,
    Series,
    Stack,
    Target,
    bench_root,
    breakdown_pages,
    fmt,
    gunicorn_settings,
    hub_and_hubdesk,
    machine_info,
    machine_line,
    measure,
    say,
    session_cookie,
    sign_in,
    time_calls,
)
from cryptography.fernet import Fernet
from hubdesk import db as appdb
from hubdesk.audit import AuditTrail
from hubdesk.db import Database
from hubdesk.hub import HubClient
from hubdesk.jobs import JobStore, stop_all
from hubdesk.sessions import SessionStore
from sqlalchemy import create_engine, event, select, text

sys.path.insert(0, str(HERE.parent / "tests"))
import pgserver  # noqa: E402  (tests/pgserver.py: a throwaway PostgreSQL server)

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
TARGET_SESSION_US = 1000.0
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


# -- the pages ----------------------------------------------------------------------------


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


class Client:
    """The signed-in requests sessions: through the proxy, direct to gunicorn; the raw API."""

    def __init__(self, stack: Stack):
        self.stack = stack
        t0 = time.perf_counter()
        self.proxied = sign_in(stack.hub, page="activity")
        self.sign_in_s = time.perf_counter() - t0
        self.cookie = session_cookie(self.proxied)
        self.direct = requests.Session()
        self.direct.cookies.set("hubdesk-session", self.cookie, domain="127.0.0.1", path=PREFIX)
        self.raw = requests.Session()
        self.raw.headers["Authorization"] = f"token {stack.token}"

    def proxy_url(self, path: str) -> str:
        return f"{self.stack.hub.public_url}{PREFIX}{path}"

    def direct_url(self, path: str) -> str:
        return f"{self.stack.server.url}{PREFIX}{path}"


def time_pages(client: Client, pages: list, repeat: int, *, raw_call: bool) -> dict:
    """Each page via proxy and direct (and the raw hub call), interleaved round robin."""
    targets, keys = [], []
    for key, _label, path in pages:
        for via, session, url in (
            ("proxy", client.proxied, client.proxy_url(path)),
            ("direct", client.direct, client.direct_url(path)),
        ):
            targets.append(Target(Series(f"{key} {via}", url), session))
            keys.append((key, via))
    if raw_call:
        url = f"{client.stack.hub.api_url}/groups/{GROUP}"
        targets.append(
            Target(
                Series("raw GET /hub/api/groups/<g>", url),
                client.raw,
                {"Accept": "application/json"},
            )
        )
        keys.append(("raw_group", "raw"))
    rows = {}
    for target, (key, via) in zip(targets, keys, strict=True):
        _, _, r = target.hit()
        entry = rows.setdefault(key, {})
        if via != "raw":
            entry["shown"] = shown(key, r.text)
    measure(targets, repeat)
    for target, (key, via) in zip(targets, keys, strict=True):
        rows[key][via] = target.series.summary()
    return rows


def capture_sql(database: Database):
    """The statements the app sends through ``database`` (no app code changed)."""
    seen: list = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        s = statement.strip().upper()
        if s.startswith(("SELECT", "UPDATE", "INSERT", "DELETE")) and s != "SELECT 1":
            seen.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", listener)
    return seen, lambda: event.remove(database.engine, "before_cursor_execute", listener)


def page_calls(database: Database, older: int | None) -> dict:
    """The app's own database call behind each measured page (as its view makes it)."""
    trail, store = AuditTrail(database), JobStore(database)
    return {
        "activity": lambda: trail.page(),
        "group": lambda: trail.page(group=GROUP),
        "group_old": lambda: trail.page(group=OLD_GROUP),
        "user": lambda: trail.page(user=USER),
        "person": lambda: trail.page(person=PERSON),
        "person_old": lambda: trail.page(person=OLD_PERSON),
        "older": lambda: trail.page(before=older or 1),
        "servers": lambda: store.recent(GROUP, ("start", "stop")),
        "servers_old": lambda: store.recent(OLD_GROUP, ("start", "stop")),
    }


def db_calls(url: str, older: int | None) -> dict:
    """The database call behind each page, in this process with the app's own code: ms."""
    database = Database(url)
    calls = page_calls(database, older)
    out = {}
    try:
        for key, fn in calls.items():
            times = time_calls(fn, 200, warmup=5)
            out[key] = {
                "median_ms": round(statistics.median(times), 3),
                "p95_ms": round(statistics.quantiles(times, n=20, method="inclusive")[18], 3),
            }
    finally:
        database.dispose()
    return out


# A diagnostic only, never sent by hubdesk: a filtered Activity query in another shape,
# the ids first (a subquery the filter's own (column, id) index answers alone), then their
# rows. Same rows, same order.
AUDIT_FILTERED = re.compile(
    r"^(?P<head>SELECT .*?) FROM audit WHERE (?P<where>audit\.(?:person|group_name) = .*?) "
    r"ORDER BY audit\.id DESC (?P<limit>LIMIT \S+(?: OFFSET \S+)?)$",
    re.S,
)


def what_if(statement: str) -> str | None:
    found = AUDIT_FILTERED.match(" ".join(statement.split()))
    if found is None or " JOIN " in statement:
        return None
    head, where, limit = found.group("head", "where", "limit")
    # the app's own compiled statement, rearranged (its bound parameters stay parameters)
    inner = " ".join(("SELECT audit.id FROM audit WHERE", where, "ORDER BY audit.id DESC", limit))
    return " ".join((head, "FROM audit WHERE audit.id IN (", inner, ") ORDER BY audit.id DESC"))


def plan_of(conn, sqlite: bool, statement: str, params) -> str:
    if sqlite:
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, tuple(params)).all()
        return "\n".join(f"{r[0]:>3} {r[1]:>3} {r[3]}" for r in rows)
    rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) " + statement, params)
    return "\n".join(r[0] for r in rows)


def run_ms(conn, statement: str, params, times: int = 20) -> float:
    """The statement alone on a connection already held (no pool, no ORM): median ms."""
    params = tuple(params) if isinstance(params, list) else params
    return round(
        statistics.median(time_calls(lambda: conn.exec_driver_sql(statement, params).all(), times)),
        3,
    )


def explain(url: str, older: int | None) -> dict:
    """The plan of every query behind the measured pages (and the job runner's poll)."""
    database = Database(url)
    calls = page_calls(database, older)
    store = JobStore(database)
    calls["job runner's poll (claim)"] = lambda: store.claim("bench-explain")
    out = {}
    try:
        for key, fn in calls.items():
            seen, stop = capture_sql(database)
            try:
                fn()
            finally:
                stop()
            plans = []
            with database.engine.connect() as conn:
                for statement, params in seen:
                    if not statement.lstrip().upper().startswith("SELECT"):
                        continue
                    entry = {
                        "sql": " ".join(statement.split()),
                        "plan": plan_of(conn, database.sqlite, statement, params),
                        "ms": run_ms(conn, statement, params),
                    }
                    other = what_if(statement)
                    if other is not None:
                        entry["what_if"] = {
                            "sql": " ".join(other.split()),
                            "plan": plan_of(conn, database.sqlite, other, params),
                            "ms": run_ms(conn, other, params),
                        }
                    plans.append(entry)
                conn.rollback()
            out[key] = plans
    finally:
        database.dispose()
    return out


# -- the session check ---------------------------------------------------------------------


def percentile(values: list, q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def time_us(fn, calls: int) -> dict:
    for _ in range(min(200, calls)):
        fn()
    out = []
    clock = time.perf_counter_ns
    for _ in range(calls):
        t0 = clock()
        fn()
        out.append((clock() - t0) / 1000)
    return {
        "calls": calls,
        "median_us": round(statistics.median(out), 1),
        "p99_us": round(percentile(out, 99), 1),
        "mean_us": round(statistics.fmean(out), 1),
        "max_us": round(max(out), 1),
    }


def session_check(url: str, calls: int) -> dict:
    """SessionStore.find(sid) in this process, and its parts, with the table as it is now."""
    database = Database(url)
    fernet = Fernet(Fernet.generate_key())
    store = SessionStore(database, fernet, 8)
    sid = store.begin("admin", TOKEN)
    key = hashlib.sha256(sid.encode()).hexdigest()
    s = appdb.sessions
    try:
        if store.find(sid) is None:
            raise RuntimeError("find() does not find the session it just began")
        with database.read() as conn:
            rows = conn.execute(text("SELECT count(*) FROM sessions")).scalar()
        sealed = fernet.encrypt(TOKEN.encode())

        def build():
            return select(s.c.person, s.c.token, s.c.expires).where(
                s.c.id == key, s.c.ended.is_(None), s.c.expires > time.time()
            )

        built = build()

        def through_sqlalchemy():
            with database.read() as conn:
                conn.execute(built).first()

        def checkout():
            with database.read():
                pass

        # the database's own work: the same SELECT through the driver, on a held connection
        sql = "SELECT person, token, expires FROM sessions WHERE id = ? AND ended IS NULL"
        sql += " AND expires > ?"
        if not database.sqlite:
            sql = sql.replace("?", "%s")
        raw = database.engine.raw_connection()
        cursor = raw.cursor()

        def driver_only():
            if database.sqlite:
                cursor.execute("BEGIN")
            cursor.execute(sql, (key, time.time())).fetchall()
            if database.sqlite:
                cursor.execute("ROLLBACK")
            else:
                raw.rollback()

        try:
            return {
                "rows": rows,
                "find": time_us(lambda: store.find(sid), calls),
                "driver": time_us(driver_only, calls),
                "sqlalchemy": time_us(through_sqlalchemy, calls),
                "checkout": time_us(checkout, calls),
                "build": time_us(build, calls),
                "decrypt": time_us(lambda: fernet.decrypt(sealed), calls),
            }
        finally:
            cursor.close()
            raw.close()
    finally:
        with database.write() as conn:
            conn.execute(s.delete().where(s.c.id == key))
        database.dispose()


def level_breakdown(env: dict, cookie: str, pages: list, repeat: int, profile: bool) -> dict:
    """Where each page's time goes, the app in this process (timing wrappers, no app change)."""
    from hubdesk import main as main_views
    from hubdesk.servers import views as server_views

    parts = [
        (SessionStore, "find", "session check"),
        (AuditTrail, "page", "AuditTrail.page()"),
        (JobStore, "recent", "JobStore.recent()"),
        (HubClient, "request", "hub API calls"),
        (main_views, "render_template", "render_template()"),
        (server_views, "render_template", "render_template()"),
    ]
    paths = {key: path for key, _label, path in pages}
    try:
        return breakdown_pages(
            env, cookie, paths, repeat, parts, profile_keys=("activity",) if profile else ()
        )
    finally:
        stop_all()  # the in-process app's job runner


def in_page_share(env: dict, cookie: str, repeat: int) -> dict:
    """What SessionStore.find takes inside a page (the app in this process, timing wrappers)."""
    parts = [
        (SessionStore, "find", "session check (SessionStore.find)"),
        (AuditTrail, "page", "audit query (AuditTrail.page)"),
    ]
    try:
        return breakdown_pages(env, cookie, {"activity": "activity"}, repeat, parts)
    finally:
        stop_all()  # the in-process app's job runner


# -- one database kind ----------------------------------------------------------------------


def restart(stack: Stack) -> float:
    t0 = time.perf_counter()
    stack.server.stop()
    stack.server.start()
    stack.server.wait_listening()
    # until hubdesk answers that it can read its database
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = requests.get(f"{stack.server.url}{PREFIX}health", timeout=10)
        if r.headers.get("content-type", "").startswith("application/json"):
            if r.json().get("database") == "up":
                break
        time.sleep(0.2)
    return time.perf_counter() - t0


def run_kind(args, stack: Stack, kind: str, url: str, rng: random.Random) -> dict:
    say(f"\n== {kind} ==")
    if kind == "sqlite":
        stack.server.env.pop("HUBDESK_DB_URL", None)  # the default: a file in the state dir
    else:
        stack.server.env["HUBDESK_DB_URL"] = url
    took = restart(stack)
    say(f"hubdesk restarted on {kind} in {took:.1f} s")
    env = dict(stack.env, HUBDESK_DB_URL=url)
    client = Client(stack)
    say(f"signed in as admin through the hub's login form and OAuth ({client.sign_in_s:.1f} s)")
    seeder = Seeder(url)
    out: dict = {"kind": kind, "levels": {}, "sessions": {}}
    try:
        levels = [
            ("empty", 0, 0, 0),
            ("small", args.small, args.small_jobs, max(1, args.small_jobs // 2)),
            ("big", args.records, args.jobs, args.group_jobs),
        ]
        for name, records, jobs, group_jobs in levels:
            seeding = {}
            if records or jobs:
                stack.server.stop()
                seeding = seed_audit(seeder, records, args.records, rng)
                have_jobs = seeder.scalar("SELECT count(*) FROM jobs") or 0
                if jobs > have_jobs:
                    have_group = seeder.scalar(
                        "SELECT count(*) FROM jobs WHERE group_name = :g", g=GROUP
                    )
                    seeding |= seed_jobs(
                        seeder, jobs - have_jobs, max(0, group_jobs - have_group), rng
                    )
                seeding["analyze_s"] = round(seeder.analyze(), 2)
                say(f"seeded ({name}): {seeding}")
                seeding["restart_s"] = round(restart(stack), 2)
            rows = counts(seeder)
            say(f"{kind}/{name}: {rows}")
            first = client.direct.get(client.direct_url("activity"), timeout=60)
            found = OLDER.search(first.text)
            older = int(found.group(1)) if found else None
            pages = page_list(str(older or 1))
            say(f"  timing {len(pages)} pages x 2 + the raw call, {args.repeat} times ...")
            timed = time_pages(client, pages, args.repeat, raw_call=True)
            level = {
                "rows": rows,
                "seeding": seeding,
                "older_before": older,
                "pages": timed,
                "db_calls": db_calls(url, older),
                "breakdown": level_breakdown(
                    env, client.cookie, pages, max(20, args.repeat // 2), name == "big"
                ),
            }
            for key, label, _path in pages:
                t = timed[key]
                say(
                    f"   {label}: direct {t['direct']['median_ms']:.1f} ms, "
                    f"proxy {t['proxy']['median_ms']:.1f} ms, {t['shown']} shown; "
                    f"db call {level['db_calls'][key]['median_ms']:.2f} ms"
                )
            if name == "empty":
                out["sessions"] = sessions_part(args, stack, client, env, seeder, url, rng)
            if name == "big" and not args.no_explain:
                level["explain"] = explain(url, older)
            out["levels"][name] = level
    finally:
        seeder.dispose()
    return out


def sessions_part(args, stack, client, env, seeder, url, rng) -> dict:
    """find() in-process at 100 and at N rows; a page end to end at 0 and N other sessions."""
    say(f"session check: find() x {args.calls:,} in this process; the page with 0 / N others")
    page = [("activity", "Activity (empty history)", "activity")]
    out = {"page": "activity", "end_to_end": {}, "find": {}}
    out["end_to_end"]["0"] = time_pages(client, page, args.repeat, raw_call=False)["activity"]
    out["end_to_end"]["0"]["rows"] = seeder.scalar("SELECT count(*) FROM sessions")
    for n in (args.small_sessions, args.sessions):
        seeding = seed_sessions(seeder, n - 1, rng)  # and the one find() makes = n
        seeder.analyze()
        result = session_check(url, args.calls)
        result["seeding"] = seeding
        out["find"][str(n)] = result
        say(
            f"   {result['rows']:,} rows: find() median {result['find']['median_us']:.0f} µs, "
            f"p99 {result['find']['p99_us']:.0f} µs (driver alone "
            f"{result['driver']['median_us']:.0f}, through SQLAlchemy "
            f"{result['sqlalchemy']['median_us']:.0f}, building it "
            f"{result['build']['median_us']:.0f}, decrypt {result['decrypt']['median_us']:.0f})"
        )
    rows = seeder.scalar("SELECT count(*) FROM sessions")
    e2e = time_pages(client, page, args.repeat, raw_call=False)["activity"]
    e2e["rows"] = rows
    out["end_to_end"][str(args.sessions)] = e2e
    share = in_page_share(env, client.cookie, max(50, args.repeat))
    out["in_page"] = share["pages"]["activity"]
    say(
        f"   page end to end (direct): {out['end_to_end']['0']['direct']['median_ms']:.2f} ms "
        f"with no other session, {e2e['direct']['median_ms']:.2f} ms with {rows - 1:,}; "
        f"in-page find() {out['in_page']['parts']}"
    )
    # back to one session row (the admin's), so that the history levels compare like with like
    seeder.execute("DELETE FROM sessions WHERE person <> 'admin'")
    seeder.analyze()
    # and the page once more without them: A/B/A, so that drift shows as a difference of the As
    again = time_pages(client, page, args.repeat, raw_call=False)["activity"]
    again["rows"] = seeder.scalar("SELECT count(*) FROM sessions")
    out["end_to_end"]["0 again"] = again
    return out


# -- reporting -------------------------------------------------------------------------------


def verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def breakdown_table(kind: dict, names: dict) -> list[str]:
    """Where each page's time goes, per level: the in-process breakdown."""
    lines = [
        f"Where the time goes ({kind['kind']}): the app in this process (Flask test client, "
        "no gunicorn, no proxy), timing wrappers; ms per page (mean), total = median.",
        "",
        "| page | level | total | database call | render_template() | session check | "
        "hub API calls |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for key, label, _ in page_list("<id>"):
        for lvl, level in kind["levels"].items():
            page = level.get("breakdown", {}).get("pages", {}).get(key)
            if not page:
                continue
            parts = page["parts"]

            def ms(name, parts=parts):
                return parts.get(name, {}).get("ms_per_page", 0.0)

            call = ms("AuditTrail.page()") + ms("JobStore.recent()")
            lines.append(
                f"| {label} | {names[lvl]} | {page['total_ms_median']:.2f} | {call:.2f} | "
                f"{ms('render_template()'):.2f} | {ms('session check'):.2f} | "
                f"{ms('hub API calls'):.2f} |"
            )
    return [*lines, ""]


def ratio(row: dict, base: dict, via: str = "direct") -> float:
    return row[via]["median_ms"] / base[via]["median_ms"]


def markdown(report: dict) -> str:
    p, m = report["params"], report["machine"]
    names = {
        "empty": "empty",
        "small": f"{p['small']:,} records",
        "big": f"{p['records']:,} records + {p['jobs']:,} jobs",
    }
    lines = [
        f"# hubdesk's own database: pages with an empty and a big history ({report['date']})",
        "",
        f"Per database kind: empty; {p['small']:,} audit records and {p['small_jobs']} finished "
        f"jobs; {p['records']:,} audit records and {p['jobs']:,} finished jobs "
        f"({p['group_jobs']:,} of `{GROUP}`, one item a member, 20 members; as many of "
        f"`{OLD_GROUP}`, 10 members, all in the oldest {OLD_SHARE:.0%} of them; the others "
        "1–8 items). ~200 people and ~2,000 groups, busy to very different degrees (the "
        f"first of each busiest); `{OLD_GROUP}` (*last term's* course) and `{OLD_PERSON}` "
        f"(a colleague who *left*) are the second busiest, but only in the oldest "
        f"{OLD_SHARE:.0%} of the history. Seeded straight into the database, then ANALYZE "
        "(PostgreSQL: VACUUM ANALYZE) and a gunicorn restart. "
        f"{p['repeat']} timed requests per series after {WARMUP} "
        "warm-up requests, all series of a level interleaved round robin. hubdesk under "
        f"gunicorn ({p['gunicorn_workers']} gevent workers), signed "
        "in as the hub admin. Times in ms, wall clock at the client; **×** = median / the "
        "empty database's median, same kind, **direct to gunicorn** (the target: "
        f"≤ {TARGET_RATIO}×).",
        "",
        machine_line(m),
        "",
        "## Summary",
        "",
    ]
    for kind in report["kinds"]:
        levels = kind["levels"]
        if set(levels) != {"empty", "small", "big"}:
            continue
        empty = levels["empty"]["pages"]
        small = levels["small"]["pages"]
        lines += [
            f"### {kind['kind']}",
            "",
            "| page (direct to gunicorn) | "
            + " | ".join(f"{names[k]}: median (p95) · shown" for k in levels)
            + f" | × empty: {names['small']} / {names['big']} | ≤ {TARGET_RATIO}× empty? "
            f"| history alone: {names['big']} / {names['small']} | ≤ {TARGET_RATIO}×? |",
            "|---|" + "---:|" * len(levels) + "---:|:---:|---:|:---:|",
        ]
        for key, label, _ in page_list("<id>"):
            cells = []
            for level in levels.values():
                row = level["pages"][key]
                cells.append(
                    f"{fmt(row['direct']['median_ms'])} ({fmt(row['direct']['p95_ms'])})"
                    f" · {row['shown']}"
                )
            big = levels["big"]["pages"][key]
            to_empty = [ratio(levels[k]["pages"][key], empty[key]) for k in ("small", "big")]
            if big["shown"] == small[key]["shown"]:
                alone = ratio(big, small[key])
                alone_cells = f"{alone:.2f}× | {verdict(alone <= TARGET_RATIO)}"
            else:
                alone_cells = "— | —"  # not the same rows on the page
            lines.append(
                f"| {label} | "
                + " | ".join(cells)
                + " | "
                + " / ".join(f"{r:.2f}×" for r in to_empty)
                + f" | {verdict(max(to_empty) <= TARGET_RATIO)} | {alone_cells} |"
            )
        cells = [
            f"{fmt(level['pages']['raw_group']['raw']['median_ms'])} "
            f"({fmt(level['pages']['raw_group']['raw']['p95_ms'])})"
            for level in levels.values()
        ]
        lines += [
            f"| *raw hub call of the servers page, `GET /hub/api/groups/{GROUP}`* | "
            + " | ".join(cells)
            + " | | | | |",
            "",
            "*shown*: the records (Activity, at most 50 a page) or recent group actions "
            "(servers page, at most 5) the page showed. *History alone* compares the "
            "biggest history with the small one where both pages show as many rows (— "
            "where they do not).",
            "",
        ]
        lines += breakdown_table(kind, names)
    lines += session_markdown(report)
    lines += detail_markdown(report, names)
    lines += explain_markdown(report)
    lines += [
        "## Seeding",
        "",
        "| database | level | rows after (audit / audit_names / jobs / job_items) | "
        "inserts | ANALYZE | restart |",
        "|---|---|---|---|---:|---:|",
    ]
    for kind in report["kinds"]:
        for lvl, level in kind["levels"].items():
            s, r = level["seeding"], level["rows"]
            parts = ", ".join(
                f"{k.removesuffix('_s')} {v:.1f} s"
                for k, v in s.items()
                if k.endswith("_s") and k not in ("analyze_s", "restart_s")
            )
            lines.append(
                f"| {kind['kind']} | {names[lvl]} | {r['audit']:,} / {r['audit_names']:,} / "
                f"{r['jobs']:,} / {r['job_items']:,} | {parts or '—'} | "
                f"{s.get('analyze_s', 0):.1f} s | {s.get('restart_s', 0):.1f} s |"
            )
    lines += ["", f"The whole run took {report['run_s'] / 60:.1f} min.", ""]
    return "\n".join(lines)


def shown_rest(us: float) -> str:
    # the parts are timed apart: on a noisy round trip their medians can add up to more
    return f"{us:,.0f} µs" if us >= 0 else "≈ 0 (parts' noise)"


def session_markdown(report: dict) -> list[str]:
    p = report["params"]
    lines = [
        "## What a session check adds to every page",
        "",
        "Every signed-in page first looks its session up: `SessionStore.find(sid)`, one "
        "primary-key SELECT through a pooled connection (checked with a ping on checkout, "
        "rolled back when it goes back) and the decryption of the person's hub token. "
        "**Measured as** the wall-clock time of `find()` in this process with the app's own "
        f"code and engine settings, {p['calls']:,} calls in a row on a warm pool (target: "
        f"median < {TARGET_SESSION_US / 1000:g} ms on SQLite). Its parts, timed alone the "
        "same way (medians): *the driver alone*, the same SELECT through the DBAPI driver on "
        "a connection already held, with its BEGIN and ROLLBACK (the database's own work); "
        "*through SQLAlchemy*, `Database.read()` and the SELECT built once: a pooled "
        "connection, its pre-ping, BEGIN, the SELECT, the rollback when it goes back; *of "
        "which the checkout*, `Database.read()` with no statement; *building the SELECT*, "
        "the `select(…).where(…)` that `find()` makes on each call; *decrypt*, Fernet; "
        "*the rest*: find() less the three before it (mostly the cache key SQLAlchemy "
        "computes for a statement built afresh, a sha256 and the result row). "
        "Then its share of a page (the app in this process, a timing wrapper "
        "around `find()`, the Activity page of the empty history; mean per page), and the "
        f"same page end to end with no other session, with {p['sessions']:,} rows, and with "
        "none again after they are deleted (A/B/A: the two As show the drift).",
        "",
        "| database | session rows | find() median | p99 | the driver alone | through "
        "SQLAlchemy | of which the checkout | building the SELECT | decrypt | the rest "
        "| < 1 ms? |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for kind in report["kinds"]:
        for _n, r in kind["sessions"].get("find", {}).items():
            f = r["find"]
            met = f["median_us"] < TARGET_SESSION_US
            target = ("met" if met else "**missed**") if kind["kind"] == "sqlite" else "—"
            parts = " | ".join(
                f"{r[k]['median_us']:,.0f} µs"
                for k in ("driver", "sqlalchemy", "checkout", "build", "decrypt")
            )
            rest = f["median_us"] - sum(
                r[k]["median_us"] for k in ("sqlalchemy", "build", "decrypt")
            )
            lines.append(
                f"| {kind['kind']} | {r['rows']:,} | {f['median_us']:,.0f} µs | "
                f"{f['p99_us']:,.0f} µs | {parts} | {shown_rest(rest)} | {target} |"
            )
    lines += [
        "",
        "| database | in a page: find() per page | the page in-process (median) | share | "
        "page end to end, direct: no other session | with N rows | none again | via proxy: "
        "none | with N | none again |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in report["kinds"]:
        s = kind["sessions"]
        if not s:
            continue
        ip = s["in_page"]
        part = next(v for k, v in ip["parts"].items() if k.startswith("session"))
        e0, en = s["end_to_end"]["0"], s["end_to_end"][str(p["sessions"])]
        ea = s["end_to_end"].get("0 again", e0)
        lines.append(
            f"| {kind['kind']} | {part['ms_per_page']:.2f} ms | {ip['total_ms_median']:.2f} ms "
            f"| {part['ms_per_page'] / ip['total_ms_median']:.0%} | "
            f"{fmt(e0['direct']['median_ms'])} ms | {fmt(en['direct']['median_ms'])} ms "
            f"({en['rows']:,}) | {fmt(ea['direct']['median_ms'])} ms | "
            f"{fmt(e0['proxy']['median_ms'])} ms | {fmt(en['proxy']['median_ms'])} ms | "
            f"{fmt(ea['proxy']['median_ms'])} ms |"
        )
    return [*lines, ""]


def detail_markdown(report: dict, names: dict) -> list[str]:
    lines = [
        "## Every series",
        "",
        "Via proxy: the path a browser takes (`public_url/services/hubdesk/…`); direct: "
        "gunicorn's own port. **db call**: the page's database call alone "
        "(`AuditTrail.page(…)`, `JobStore.recent(…)`), in this process with the app's code, "
        "200 calls, median ms.",
        "",
        "| database | level | page | via proxy median | p95 | × | direct median | p95 | max | "
        "× | db call | bytes |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in report["kinds"]:
        levels = kind["levels"]
        if not levels:
            continue
        empty = levels["empty"]["pages"]
        for lvl, level in levels.items():
            for key, label, _ in page_list("<id>"):
                row = level["pages"][key]
                pr, di = row["proxy"], row["direct"]
                lines.append(
                    f"| {kind['kind']} | {names[lvl]} | {label} | {fmt(pr['median_ms'])} | "
                    f"{fmt(pr['p95_ms'])} | {ratio(row, empty[key], 'proxy'):.2f} | "
                    f"{fmt(di['median_ms'])} | {fmt(di['p95_ms'])} | {fmt(di['max_ms'])} | "
                    f"{ratio(row, empty[key]):.2f} | "
                    f"{level['db_calls'][key]['median_ms']:.2f} | {di['bytes']:,} |"
                )
            raw = level["pages"]["raw_group"]["raw"]
            lines.append(
                f"| {kind['kind']} | {names[lvl]} | raw `GET /hub/api/groups/{GROUP}` | "
                f"{fmt(raw['median_ms'])} | {fmt(raw['p95_ms'])} | | | | {fmt(raw['max_ms'])} "
                f"| | | {raw['bytes']:,} |"
            )
    return [*lines, ""]


def explain_markdown(report: dict) -> list[str]:
    lines = []
    for kind in report["kinds"]:
        big = kind["levels"].get("big", {})
        if not big.get("explain"):
            continue
        how = "EXPLAIN QUERY PLAN" if kind["kind"] == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS)"
        slow = [
            (key, plan)
            for key, plans in big["explain"].items()
            for plan in plans
            if plan.get("what_if")
        ]
        if slow:
            lines += [
                f"### {kind['kind']}: each filtered Activity query as hubdesk sends it, and "
                "in another shape",
                "",
                "The statement alone on a held connection (no pool, no SQLAlchemy "
                "expression), median of 20, ms, at the biggest history. *what if* is a "
                "diagnostic, not something hubdesk sends: the same rows in the same order, "
                "the ids first from a subquery that the filter's own `(column, id)` index "
                "answers alone (`WHERE audit.id IN (SELECT audit.id FROM audit WHERE <filter> "
                "ORDER BY audit.id DESC LIMIT n) ORDER BY audit.id DESC`).",
                "",
                "| query | as sent | what if |",
                "|---|---:|---:|",
            ]
            for key, plan in slow:
                lines.append(f"| {key} | {plan['ms']:.2f} | {plan['what_if']['ms']:.2f} |")
            lines.append("")
        lines += [
            f"<details><summary>{kind['kind']}: {how} of each query at the biggest history"
            "</summary>",
            "",
        ]
        for key, plans in big["explain"].items():
            for plan in plans:
                lines += [
                    f"**{key}** ({plan['ms']:.2f} ms): `{plan['sql']}`",
                    "",
                    "```",
                    plan["plan"],
                    "```",
                    "",
                ]
                if plan.get("what_if"):
                    w = plan["what_if"]
                    lines += [
                        f"*what if* ({w['ms']:.2f} ms): `{w['sql']}`",
                        "",
                        "```",
                        w["plan"],
                        "```",
                        "",
                    ]
        lines += ["</details>", ""]
    return lines


# -- main -------------------------------------------------------------------------------------


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=None, help="audit records (1,000,000)")
    ap.add_argument("--jobs", type=int, default=None, help="finished jobs (20,000)")
    ap.add_argument("--group-jobs", type=int, default=None, help=f"of them, {GROUP}'s (a tenth)")
    ap.add_argument("--small", type=int, default=100, help="audit records of the small level")
    ap.add_argument("--small-jobs", type=int, default=10, help="finished jobs of the small level")
    ap.add_argument("--sessions", type=int, default=None, help="session rows (100,000)")
    ap.add_argument("--small-sessions", type=int, default=100, help="the fewer session rows")
    ap.add_argument("--calls", type=int, default=None, help="find() calls (10,000)")
    ap.add_argument("--repeat", type=int, default=None, help="timed requests per series (60)")
    ap.add_argument(
        "--kinds", default="sqlite,postgresql", help="database kinds: sqlite,postgresql"
    )
    ap.add_argument("--dir", type=Path, default=None, help="the run's directory (kept)")
    ap.add_argument("--out", type=Path, default=HERE / "results", help="where results go")
    ap.add_argument("--no-explain", action="store_true", help="skip the query plans")
    ap.add_argument("--seed", type=int, default=1, help="random seed of the seeded rows")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="100,000 records, 2,000 jobs, 20,000 sessions, 2,000 calls, 15 repeats; "
        "writes state-quick.*",
    )
    args = ap.parse_args(argv)
    quick = {"records": 100_000, "jobs": 2_000, "sessions": 20_000, "calls": 2_000, "repeat": 15}
    full = {"records": 1_000_000, "jobs": 20_000, "sessions": 100_000, "calls": 10_000}
    full["repeat"] = 60
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.group_jobs is None:
        args.group_jobs = args.jobs // 10
    args.kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if not set(args.kinds) <= {"sqlite", "postgresql"}:
        ap.error("--kinds: sqlite and/or postgresql")
    if min(args.records, args.repeat, args.calls) < 1 or args.small >= args.records:
        ap.error("--records, --repeat and --calls must be at least 1, --small below --records")
    if args.group_jobs > args.jobs or args.sessions <= args.small_sessions:
        ap.error("--group-jobs at most --jobs; --sessions above --small-sessions")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.perf_counter()
    root, keep = bench_root(args.dir)
    pg = None
    skipped = {}
    if "postgresql" in args.kinds:
        reason = pgserver.available()
        if reason:
            say(f"PostgreSQL skipped: {reason}")
            skipped["postgresql"] = reason
            args.kinds.remove("postgresql")
        else:
            pg = pgserver.PostgresServer(root / "postgres")
    try:
        if pg is not None:
            t0 = time.perf_counter()
            pg.start()
            say(f"PostgreSQL up in {time.perf_counter() - t0:.1f} s on port {pg.port}")
        state = root / "state"
        env = {"HUBDESK_STATE_DIR": str(state)}
        with hub_and_hubdesk(root, keep=keep, env=env) as stack:
            return run(args, stack, pg, state, skipped, started)
    finally:
        if pg is not None:
            pg.close()


def run(args, stack: Stack, pg, state: Path, skipped: dict, started: float) -> int:
    api = HubClient(stack.hub.api_url, stack.token, timeout=SEED_TIMEOUT)
    hub_version = api.version()
    api.create_users(MEMBERS + OLD_MEMBERS)
    api.create_group(GROUP, MEMBERS)
    api.create_group(OLD_GROUP, OLD_MEMBERS)
    say(
        f"hub: {len(MEMBERS) + len(OLD_MEMBERS)} users, the groups {GROUP} "
        f"({len(MEMBERS)} members) and {OLD_GROUP} ({len(OLD_MEMBERS)})"
    )
    rng = random.Random(args.seed)
    kinds = []
    for kind in args.kinds:
        if kind == "sqlite":
            url = appdb.default_url(str(state))
        else:
            url = pg.create_database(f"bench_{secrets.token_hex(4)}")
        kinds.append(run_kind(args, stack, kind, url, rng))
    gunicorn = gunicorn_settings(stack.server.env)
    report = {
        "benchmark": "state",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(hub_version),
        "params": {
            "records": args.records,
            "small": args.small,
            "small_jobs": args.small_jobs,
            "jobs": args.jobs,
            "group_jobs": args.group_jobs,
            "sessions": args.sessions,
            "small_sessions": args.small_sessions,
            "calls": args.calls,
            "repeat": args.repeat,
            "warmup": WARMUP,
            "quick": args.quick,
            "group": GROUP,
            "user": USER,
            "person": PERSON,
            "gunicorn_workers": gunicorn["workers"],
            "gunicorn_connections": gunicorn["connections"],
            "gunicorn_streams": gunicorn["streams"],
            "postgresql": pg_version(pg) if pg else None,
            "sqlite": sqlite_version(),
            "skipped": skipped,
        },
        "targets": {"ratio_to_empty": TARGET_RATIO, "session_check_us": TARGET_SESSION_US},
        "kinds": kinds,
    }
    report["run_s"] = round(time.perf_counter() - started, 1)
    text_ = markdown(report)
    say("")
    say(text_)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "state-quick" if args.quick else "state"
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (args.out / f"{stem}.md").write_text(text_, encoding="utf-8")
    say(f"wrote {args.out / (stem + '.json')} and {args.out / (stem + '.md')}")
    return 0


def pg_version(pg) -> str:
    with pg.admin_connection() as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def sqlite_version() -> str:
    import sqlite3

    return sqlite3.sqlite_version


if __name__ == "__main__":
    sys.exit(main())
