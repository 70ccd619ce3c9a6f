"""hubdesk's own state on a real database: SQLite and PostgreSQL, no mocks.

The job store and its leases, the audit table, sessions, the group change log
and the schema's migrations, each run against both databases hubdesk supports
(``db_url``: an SQLite file, or a database on the suite's own PostgreSQL server).
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from cryptography.fernet import Fernet
from hubdesk import db
from hubdesk.audit import MAX_TARGET, AuditTrail
from hubdesk.db import Database, StateUnavailable, current_revision, head_revision
from hubdesk.groups.directory import GroupDirectory
from hubdesk.hub import HubClient
from hubdesk.jobs import DamagedRecord, JobStore
from hubdesk.sessions import SessionStore
from sqlalchemy import func, select, text, update


@pytest.fixture
def database(db_url):
    database = Database(db_url)
    database.upgrade()
    yield database
    database.dispose()


# -- the schema -------------------------------------------------------------------------


def test_a_new_database_gets_the_current_schema_and_upgrading_again_does_nothing(db_url):
    database = Database(db_url)
    database.upgrade()
    database.upgrade()  # a second process starting: nothing to do
    with database.read() as conn:
        assert current_revision(conn) == head_revision()
        tables = set(db.metadata.tables)
        if database.sqlite:
            rows = conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))
        else:
            rows = conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            )
        assert tables <= {r[0] for r in rows}
    database.dispose()


def test_an_upgrade_from_the_first_schema_keeps_the_data(db_url):
    database = Database(db_url)
    database.upgrade("0001")
    with database.write() as conn:
        conn.execute(
            text(
                "INSERT INTO jobs (id, kind, group_name, by, spec, scopes, created, updated,"
                " state) VALUES ('00000000000000aa', 'start', 'class-a', 'admin', '{}', '[]',"
                " 1, 1, 'done')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO job_items (job_id, name, op, position, outcome, words, sent,"
                " updated) VALUES ('00000000000000aa', 'student', '', 0, 'started', 'ready',"
                " true, 1)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO audit (time, person, action, group_name, target, hub, request_id)"
                " VALUES (1, 'admin', 'group.create', 'class-a', '{\"group\": \"class-a\"}',"
                " '201', 'r1')"
            )
        )
    database.upgrade()
    store = JobStore(database)
    job = store.get("00000000000000aa")
    assert job.done and job.items["student"].outcome == "started" and job.takeovers == 0
    records, _ = AuditTrail(database).page()
    assert [(r.action, r.hub, r.truncated) for r in records] == [("group.create", "201", False)]
    database.dispose()


def test_two_processes_upgrading_at_once_do_it_once(db_url):
    errors = []

    def upgrade():
        database = Database(db_url)
        try:
            database.upgrade()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            database.dispose()

    threads = [threading.Thread(target=upgrade) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_a_database_that_is_not_there_is_state_unavailable_in_words(tmp_path):
    database = Database("postgresql+psycopg://u:secret@127.0.0.1:1/none")
    with pytest.raises(StateUnavailable) as e:
        database.ping()
    assert e.value.reason == "it does not answer" and "secret" not in str(e.value)


# -- jobs and their leases ---------------------------------------------------------------


def make_job(store, owner=None, names=("a", "b", "c"), kind="start"):
    return store.create(
        kind,
        "class-a",
        by="teacher",
        spec={"server": "lab"},
        scopes=["servers!group=class-a"],
        items=[(n, "") for n in names],
        owner=owner,
    )


def test_a_job_and_its_items(database):
    store = JobStore(database)
    job_id = make_job(store, owner="me")
    job = store.get(job_id)
    assert job.kind == "start" and job.group == "class-a" and job.by == "teacher"
    assert job.scopes == {"servers!group=class-a"} and not job.done and not job.orphaned
    assert [i.name for i in job.pending()] == ["a", "b", "c"]
    store.mark_sent(job_id, ["a"])
    store.set_outcome(job_id, ["a"], "started", "ready")
    assert not store.finish(job_id)  # b and c have no outcome yet: not done
    store.set_outcome(job_id, ["b", "c"], "cancelled", "cancelled by admin")
    assert store.finish(job_id)
    job = store.get(job_id)
    assert job.done and job.counts() == {"started": 1, "cancelled": 2}
    assert job.items["a"].sent and not job.items["b"].sent
    assert store.get("../../etc/passwd") is None and store.get("0" * 16) is None


def test_a_lease_is_taken_over_only_once_it_has_run_out(database):
    store = JobStore(database, lease_seconds=3)
    job_id = make_job(store, owner="worker-1")
    assert store.claim("worker-2") is None  # held
    assert store.renew(job_id, "worker-1")
    with database.write() as conn:  # worker-1 died 10 s ago
        conn.execute(update(db.jobs).values(lease_until=time.time() - 10))
    assert store.get(job_id).orphaned
    assert store.claim("worker-2") == job_id
    assert store.claim("worker-3") is None
    assert not store.renew(job_id, "worker-1")  # it lost it, and is told so
    assert store.get(job_id).takeovers == 1
    store.release(job_id, "worker-2")
    assert store.claim("worker-3") == job_id  # given back: taken at once


def test_of_many_workers_claiming_at_once_exactly_one_gets_the_job(database):
    store = JobStore(database)
    job_id = make_job(store)  # held by nobody
    got, barrier = [], threading.Barrier(6)

    def claim(n):
        barrier.wait()
        found = JobStore(database).claim(f"worker-{n}")
        if found:
            got.append(found)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == [job_id]


def test_a_damaged_job_row_is_left_out_of_lists_and_named_on_its_own(database):
    store = JobStore(database)
    good, bad = make_job(store), make_job(store)
    with database.write() as conn:
        conn.execute(update(db.jobs).where(db.jobs.c.id == bad).values(spec="{not json"))
    assert [j.id for j in store.recent("class-a", ("start",))] == [good]
    with pytest.raises(DamagedRecord):
        store.get(bad)


def test_recent_jobs_are_the_newest_of_a_group_with_their_counts(database):
    store = JobStore(database)
    ids = [make_job(store) for _ in range(7)]
    store.set_outcome(ids[-1], ["a"], "started")
    recent = store.recent("class-a", ("start", "stop"), limit=5)
    assert {j.id for j in recent} <= set(ids) and len(recent) == 5
    assert recent[0].created >= recent[-1].created
    newest = next(j for j in recent if j.id == ids[-1])
    assert newest.result["counts"] == {"started": 1, "waiting": 2}
    assert store.recent("class-b", ("start",)) == []


def test_cancelling_marks_the_job_and_old_jobs_are_pruned(database):
    store = JobStore(database)
    job_id = make_job(store)
    store.cancel(job_id, "admin")
    assert store.get(job_id).cancel_by == "admin" and store.cancelled_by(job_id) == "admin"
    store.set_outcome(job_id, ["a", "b", "c"], "cancelled")
    store.finish(job_id)
    with database.write() as conn:
        conn.execute(update(db.jobs).values(created=time.time() - 40 * 86400))
    assert store.prune(keep_days=30) == 1
    with database.read() as conn:
        assert conn.execute(select(func.count()).select_from(db.job_items)).scalar() == 0
    # a paused job nobody resumed or cancelled goes too once it is that old; a running one not
    paused, running = make_job(store), make_job(store)
    with database.write() as conn:
        conn.execute(update(db.jobs).where(db.jobs.c.id == paused).values(state="paused"))
        conn.execute(update(db.jobs).values(created=time.time() - 40 * 86400))
    assert store.prune(keep_days=30) == 1
    assert store.get(paused) is None and store.get(running) is not None


# -- the audit trail ---------------------------------------------------------------------


def test_the_intent_is_written_before_and_the_answer_after(database):
    trail = AuditTrail(database)
    handle = trail.before_change(
        "POST", ("groups", "class-a", "users"), {"users": ["student", "mrossi"]}
    )
    (record,), _ = trail.page()
    assert record.action == "group.members.add" and record.hub is None  # sent, no answer yet
    trail.after_change(handle, 200)
    (record,), _ = trail.page()
    assert record.hub == "200" and record.target["users"] == ["student", "mrossi"]
    assert [r.id for r in trail.page(user="mrossi")[0]] == [record.id]
    assert trail.page(user="nobody")[0] == []
    assert trail.before_change("POST", ("oauth2", "token"), None) is None  # sign-in: no record


def test_activity_pages_go_back_through_the_whole_history_with_filters(database):
    trail = AuditTrail(database)
    for n in range(130):
        group = "class-a" if n % 2 else "class-b"
        trail.after_change(trail.before_change("DELETE", ("groups", f"{group}-{n}"), None), 204)
        handle = trail.before_change("POST", ("groups", group, "users"), {"users": [f"u{n}"]})
        trail.after_change(handle, 200)
    seen, before = [], None
    while True:
        records, before = trail.page(group="class-a", before=before, limit=20)
        seen += records
        if before is None:
            break
    assert len(seen) == 65 and all(r.target["group"] == "class-a" for r in seen)
    assert [r.id for r in seen] == sorted((r.id for r in seen), reverse=True)
    assert [r.target["users"] for r in trail.page(user="u3")[0]] == [["u3"]]
    assert [r.target["users"] for r in trail.page(user="u3", group="class-a")[0]] == [["u3"]]
    assert trail.page(user="u3", group="class-b")[0] == []
    assert len(trail.page(person="-")[0]) == 50  # no request: "-" acted
    deleted, older = trail.page(action="group.delete", limit=10)
    assert {r.action for r in deleted} == {"group.delete"} and len(deleted) == 10 and older
    assert [r.target["users"] for r in trail.page(user="u3", action="group.members.add")[0]] == [
        ["u3"]
    ]
    assert trail.page(user="u3", action="group.delete")[0] == []


def test_a_huge_record_is_stored_shortened_and_says_so(database):
    trail = AuditTrail(database)
    options = {"profile": "small", "blob": "x" * 300_000}
    handle = trail.before_change("POST", ("users", "student", "servers", "lab"), options)
    trail.after_change(handle, 202)
    (record,), _ = trail.page()
    assert record.truncated and record.hub == "202"
    assert record.target["user"] == "student" and record.target["user_options"]["truncated"]
    with database.read() as conn:
        stored = conn.execute(select(func.max(func.length(db.audit.c.target)))).scalar()
    assert stored <= MAX_TARGET


def test_records_past_the_retention_are_forgotten(database):
    trail = AuditTrail(database, keep_days=30)
    for _ in range(3):
        trail.after_change(trail.before_change("DELETE", ("groups", "old"), None), 204)
    with database.write() as conn:
        conn.execute(update(db.audit).values(time=time.time() - 31 * 86400))
    trail.after_change(trail.before_change("DELETE", ("groups", "new"), None), 204)
    assert trail.prune() == 3
    assert [r.target["group"] for r in trail.page()[0]] == ["new"]


def test_no_change_is_sent_when_its_intent_cannot_be_written(tmp_path):
    """The hub client asks the audit trail first: a database that is away stops the change."""
    database = Database(f"sqlite:///{tmp_path / 'hubdesk.sqlite'}")
    database.upgrade()
    database.dispose()
    (tmp_path / "hubdesk.sqlite").unlink()  # gone under it: a new, empty file has no table
    # a port nothing listens on: were the request sent, this would be HubUnreachable
    hub = HubClient("http://127.0.0.1:9/hub/api", "t", audit=AuditTrail(database))
    with pytest.raises(StateUnavailable):
        hub.create_group("never")


# -- sessions ----------------------------------------------------------------------------


def test_a_session_lives_from_sign_in_and_ends_on_sign_out(database):
    sessions = SessionStore(database, Fernet(Fernet.generate_key()), hours=1)
    sid = sessions.begin("teacher", "the-token")
    found = sessions.find(sid)
    assert found.person == "teacher" and found.token == "the-token"
    assert sessions.find(sid + "x") is None and sessions.find("") is None
    with database.read() as conn:
        stored = conn.execute(select(db.sessions.c.id, db.sessions.c.token)).one()
    assert sid not in stored.id and "the-token" not in stored.token  # nothing to steal there
    other = SessionStore(database, sessions.fernet, hours=1)  # another worker or replica
    sessions.end(sid)
    assert other.find(sid) is None
    # hours count from sign-in, however busy the person is
    sid = sessions.begin("teacher", "t2")
    with database.write() as conn:
        conn.execute(update(db.sessions).values(expires=time.time() - 1))
    assert sessions.find(sid) is None
    sessions.prune()


# -- the group list's change log ---------------------------------------------------------


class Groups:
    """A stand-in for the hub's group listing (what GroupDirectory reads)."""

    def __init__(self, groups):
        self.groups = groups

    def iter_groups(self):
        return [{"name": n, "users": ["x"] * m} for n, m in self.groups.items()]


def test_a_change_made_through_one_worker_shows_in_every_other_at_once(database):
    hub = Groups({"class-a": 1})
    one, two = GroupDirectory(3600, database), GroupDirectory(3600, database)
    assert [e.name for e in two.entries(hub)] == ["class-a"]
    assert [e.name for e in one.entries(hub)] == ["class-a"]
    one.changed("class-new", 3)
    one.forget("class-a")
    assert [(e.name, e.members) for e in two.entries(hub)] == [("class-new", 3)]
    three = GroupDirectory(3600, database)  # starts later: reads the hub, skips the old log
    hub.groups = {"class-new": 3}
    assert [(e.name, e.members) for e in three.entries(hub)] == [("class-new", 3)]
    with database.write() as conn:
        conn.execute(update(db.group_changes).values(time=time.time() - 2 * 86400))
    one.prune()
    with database.read() as conn:
        assert conn.execute(select(func.count()).select_from(db.group_changes)).scalar() == 0


def test_job_rows_hold_json_that_round_trips(database):
    store = JobStore(database)
    job_id = store.create(
        "members",
        "Klasse Ä",
        by="lehrerin",
        spec={"verb": "add", "names": ["ö"]},
        scopes=[],
        items=[("ö", "add"), ("日本", "add")],
    )
    with database.read() as conn:
        spec = conn.execute(select(db.jobs.c.spec).where(db.jobs.c.id == job_id)).scalar()
    assert json.loads(spec)["names"] == ["ö"]
    assert set(store.get(job_id).items) == {"ö", "日本"}


def test_five_thousand_items_are_written_in_one_go(database):
    store = JobStore(database)
    job_id = store.create(
        "members",
        "big",
        by="admin",
        spec={},
        scopes=[],
        items=[(f"u{n}", "add") for n in range(5000)],
    )
    store.mark_sent(job_id, [f"u{n}" for n in range(2500)])
    job = store.get(job_id)
    assert len(job.items) == 5000 and sum(i.sent for i in job.items.values()) == 2500
