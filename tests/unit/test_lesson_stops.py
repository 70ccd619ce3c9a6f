"""A lesson's stop, and the sealing of its tokens, on hubdesk's own database (no hub).

The stop is made from the start's per-member results alone, with hubdesk's authority
limited to the servers that start started: no token of the lesson's owner is read, so a
key that can no longer open it (rotated without HUBDESK_SECRET_KEY_PREVIOUS) changes
nothing. Against the real hub: tests/test_lesson_authority.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace

import pytest
from cryptography.fernet import Fernet, MultiFernet
from hubdesk import db, permissions
from hubdesk.audit import AuditTrail
from hubdesk.db import Database
from hubdesk.jobs import JobStore, StartSpec, StopSpec
from hubdesk.lessons import runs
from hubdesk.lessons.schedule import Due, When
from hubdesk.lessons.store import LessonStore
from hubdesk.lessons.tokens import start_scopes
from sqlalchemy import select, update

KEY_A, KEY_B = "a" * 40, "b" * 40


def sealing(*secrets: str) -> MultiFernet:
    """As create_app makes it: the current key first, the previous one after it."""
    keys = [hashlib.sha256(b"hubdesk person token\0" + s.encode()).digest() for s in secrets]
    return MultiFernet([Fernet(base64.urlsafe_b64encode(k)) for k in keys])


@pytest.fixture
def database(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'hubdesk.sqlite'}")
    database.upgrade()
    return database


WHEN = When(tz="UTC", starts=time(9), ends=time(10), weekdays=(0, 2))


def a_lesson(store: LessonStore, server="labs") -> str:
    return store.create(
        "class-a", server=server, spec={}, when=WHEN, by="teacher", token="signin-secret-1"
    )


def test_a_lesson_token_sealed_under_one_key_opens_after_a_rotation(database):
    before = LessonStore(database, sealing(KEY_A))
    lesson = a_lesson(before)
    before.save_lesson_token(
        "teacher", "lesson-secret-1", token_id="a7", scopes=["servers!group=class-a"], expires=None
    )
    # rotated: B current, A previous; what A sealed still opens
    rotated = LessonStore(database, sealing(KEY_B, KEY_A))
    assert rotated.lesson_token("teacher").token == "lesson-secret-1"
    assert rotated.token_of(lesson) == "signin-secret-1"
    health = rotated.token_health(rotated.active())["teacher"]
    assert health.kind == "lesson" and health.readable and health.expires is None
    # and a renewal seals with B: it opens once A is dropped
    rotated.save_lesson_token("teacher", "lesson-secret-2", token_id="a8", scopes=[], expires=None)
    assert LessonStore(database, sealing(KEY_B)).lesson_token("teacher").token == "lesson-secret-2"
    # without the previous key, what only A sealed cannot be opened: said, not guessed
    only_b = LessonStore(database, sealing(KEY_B))
    assert only_b.token_of(lesson) is None
    with database.write() as conn:
        conn.execute(update(db.lesson_tokens).values(token=before._seal("lesson-secret-3")))
    assert only_b.lesson_token("teacher").token is None
    assert only_b.token_health(only_b.active())["teacher"].readable is False


def test_renewing_a_lesson_token_names_the_one_to_revoke(database):
    store = LessonStore(database, sealing(KEY_A))
    assert store.save_lesson_token("t", "s1", token_id="a1", scopes=[], expires=None) is None
    assert store.save_lesson_token("t", "s2", token_id="a2", scopes=[], expires=None) == "a1"
    store.forget_lesson_token("t", "a1")  # an older one: the newer is kept
    assert store.lesson_token("t").token_id == "a2"
    store.forget_lesson_token("t", "a2")
    assert store.lesson_token("t") is None


def test_a_sign_in_token_warns_from_when_it_was_sealed(database):
    store = LessonStore(database, sealing(KEY_A))
    a_lesson(store)
    health = store.token_health(store.active())["teacher"]
    assert health.kind == "sign-in" and health.readable
    assert abs(health.expires - (datetime.now(UTC) + timedelta(days=14)).timestamp()) < 60


def test_a_lesson_token_holds_only_what_a_start_needs():
    held = {
        "servers!group=class-a",
        "start:servers!group=class-a",
        "read:servers!group=class-a",
        "delete:servers!group=class-a",
        "admin:servers",
        "tokens!user=teacher",
        "read:tokens!user=teacher",
        "groups!group=class-a",
        "admin:users",
        "access:services!service=hubdesk",
    }
    assert start_scopes(held) == [
        "admin:servers",
        "servers!group=class-a",
        "start:servers!group=class-a",
    ]
    # and it is enough for what a start checks
    kept = start_scopes(held)
    assert permissions.allowed(kept, "start_server", group="class-a")
    assert permissions.allowed(kept, "raw_user_options")


def started(database, store: LessonStore, lesson: str, occurrence: float, outcomes: dict):
    """A start run of that occurrence whose members ended with these outcomes (sent or not)."""
    jobs = JobStore(database, specs={"start": StartSpec, "stop": StopSpec})
    job_id = jobs.create(
        "start",
        "class-a",
        by="teacher",
        spec={"server": "labs", "lesson": lesson},
        scopes=["servers!group=class-a"],
        items=[(name, "") for name in outcomes],
    )
    for name, (outcome, sent) in outcomes.items():
        if sent:
            jobs.mark_sent(job_id, [name])
        jobs.set_outcome(job_id, [name], outcome)
    due = Due("start", occurrence, datetime.fromtimestamp(occurrence, UTC), False)
    with database.write() as conn:
        assert store.record_run(conn, store.get(lesson), due, job_id=job_id, words="")
    return jobs, job_id


def test_a_stop_stops_exactly_what_its_start_started_with_hubdesks_authority(database):
    # the key changed since the lesson was saved, with no previous key: nothing to open
    saved = LessonStore(database, sealing(KEY_A))
    lesson = a_lesson(saved)
    saved.save_lesson_token("teacher", "lesson-secret", token_id="a1", scopes=[], expires=None)
    store = LessonStore(database, sealing(KEY_B))
    occurrence = datetime(2026, 12, 7, 9, tzinfo=UTC).timestamp()
    jobs, start_job = started(
        database,
        store,
        lesson,
        occurrence,
        {
            "amy": ("started", True),
            "bob": ("starting", True),
            "cat": ("unknown", True),
            "dan": ("waiting", True),  # sent, not settled yet: may be coming up
            "root": ("running", False),  # an admin's own server, running before the lesson
            "eve": ("failed", True),
            "fay": ("forbidden", False),
            "gus": ("cancelled", False),
            "hal": ("waiting", False),
        },
    )
    made = []
    runner = SimpleNamespace(store=jobs, owner="test", run_here=made.append)
    trail = AuditTrail(database)
    # the lesson was changed to another server since: the stop is of the one started
    store.change(lesson, server="exam", spec={}, when=WHEN, by="teacher", token="signin-2")
    due = Due("stop", occurrence, datetime.fromtimestamp(occurrence + 3600, UTC), False)
    job_id = runs.make_run(runner, store, trail, store.get(lesson), due)
    assert made == [job_id]
    # the start, still going at the lesson's end, sends nothing more
    assert jobs.cancelled_by(start_job) == "the lesson's end"
    job = jobs.get(job_id)
    assert job.kind == "stop" and job.spec.server == "labs"
    assert sorted(job.items) == ["amy", "bob", "cat", "dan"]
    assert job.scopes == {f"delete:servers!server={u}/labs" for u in ["amy", "bob", "cat", "dan"]}
    # those scopes allow exactly those servers
    assert permissions.allowed(job.scopes, "stop_server", user="amy", server="labs")
    assert not permissions.allowed(job.scopes, "stop_server", user="amy", server="other")
    assert not permissions.allowed(job.scopes, "stop_server", user="root", server="labs")
    assert not permissions.allowed(job.scopes, "stop_server", group="class-a")
    record = trail.page()[0][0]
    assert record.action == "lesson.stop" and record.person == "teacher"
    assert "hubdesk's own" in record.target["authority"]
    assert record.target["users"] == ["amy", "bob", "cat", "dan"]
    assert "stopping the 4 servers this lesson started" in record.hub
    # made once: a second worker finds the run
    assert runs.make_run(runner, store, trail, store.get(lesson), due) is None


def test_a_stop_after_a_start_that_started_nothing_stops_nothing(database):
    store = LessonStore(database, sealing(KEY_A))
    lesson = a_lesson(store)
    occurrence = datetime(2026, 12, 7, 9, tzinfo=UTC).timestamp()
    jobs, _ = started(database, store, lesson, occurrence, {"root": ("running", False)})
    made = []
    runner = SimpleNamespace(store=jobs, owner="test", run_here=made.append)
    due = Due("stop", occurrence, datetime.fromtimestamp(occurrence + 3600, UTC), True)
    assert runs.make_run(runner, store, AuditTrail(database), store.get(lesson), due) is None
    assert made == []
    with database.read() as conn:
        row = conn.execute(
            select(db.lesson_runs).where(
                db.lesson_runs.c.lesson_id == lesson, db.lesson_runs.c.kind == "stop"
            )
        ).one()
    assert row.job_id is None and row.words.startswith("nothing to stop")
    with database.read() as conn:
        audit = conn.execute(select(db.audit).where(db.audit.c.action == "lesson.stop")).one()
    assert json.loads(audit.target)["count"] == 0 and audit.hub.startswith("nothing to stop")


def test_the_owner_is_warned_in_words_a_week_before_and_after(database):
    from hubdesk.lessons.panel import token_warnings

    store = LessonStore(database, sealing(KEY_A))
    a_lesson(store)
    now = datetime.now(UTC)
    # on their sign-in, sealed just now: it ends in about 14 days, nothing to say yet
    assert token_warnings(store, store.active(), now) == []
    # ten days on: four days left
    (w,) = token_warnings(store, store.active(), now + timedelta(days=10))
    assert w["person"] == "teacher" and "their sign-in to hubdesk, which expires on" in w["words"]
    assert (
        "teacher must sign in to hubdesk before then" in w["words"] and ", in 4 days" in w["words"]
    )
    # three weeks on: over
    (w,) = token_warnings(store, store.active(), now + timedelta(days=21))
    assert "no longer start their servers" in w["words"]
    assert "teacher must sign in to hubdesk again" in w["words"]
    # a lesson token without expiry: nothing to say, ever
    store.save_lesson_token("teacher", "s", token_id="a1", scopes=[], expires=None)
    assert token_warnings(store, store.active(), now + timedelta(days=365)) == []
