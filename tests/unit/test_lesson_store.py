"""The lessons store alone (SQLite and PostgreSQL, no hub): limits, next_due, runs, 0007."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet, MultiFernet
from hubdesk import db
from hubdesk.db import Database
from hubdesk.lessons import schedule
from hubdesk.lessons.store import LessonLimit, LessonStore, Limits
from sqlalchemy import insert, update


@pytest.fixture
def store(db_url):
    database = Database(db_url)
    database.upgrade()
    yield LessonStore(database, MultiFernet([Fernet(Fernet.generate_key())]))
    database.dispose()


def weekly(hour=9, weekdays=("0", "3")):
    return schedule.parse_when(
        tz="UTC", starts=f"{hour:02d}:00", ends=f"{hour + 1:02d}:00", weekdays=list(weekdays)
    )


def test_limits_count_standing_lessons_in_the_saving_transaction(store):
    limits = Limits(per_group=2, per_person=3)
    save = dict(server="lab", spec={}, when=weekly(), token="t", limits=limits)
    first = store.create("g1", by="ann", **save)
    store.create("g1", by="bob", **save)
    with pytest.raises(LessonLimit, match="HUBDESK_LESSONS_PER_GROUP"):
        store.create("g1", by="ann", **save)
    store.cancel(first, "ann")  # cancelled: no longer counts
    store.create("g1", by="ann", **save)
    store.create("g2", by="ann", **save)
    store.create("g3", by="ann", **save)
    with pytest.raises(LessonLimit, match="HUBDESK_LESSONS_PER_PERSON"):
        store.create("g4", by="ann", **save)
    # bob taking over one of ann's: counted for bob; ann changing her own: allowed
    mine = store.upcoming(["g2"])[0][0]
    store.change(mine.id, by="ann", **{k: v for k, v in save.items()})
    assert store.count_of("ann") == 3


def test_the_runner_reads_only_lessons_due_and_sets_their_next_due(store):
    now = datetime.now(UTC)
    soon = schedule.parse_when(
        tz="UTC",
        starts=(now + timedelta(minutes=2)).strftime("%H:%M:%S"),
        ends=(now + timedelta(minutes=30)).strftime("%H:%M:%S"),
        day=(now + timedelta(minutes=2)).date().isoformat(),
        lead_minutes="5",
    )
    lesson_id = store.create("g", server="", spec={}, when=soon, by="ann", token="t")
    # a weekly lesson three days away: not due, whatever the day and hour the test runs
    later = str((now.weekday() + 3) % 7)
    store.create("g", server="", spec={}, when=weekly(weekdays=[later]), by="ann", token="t")
    due = store.due(now.timestamp())
    assert [x.id for x in due] == [lesson_id]  # its start, less the lead, has come
    lesson = due[0]
    (start,) = schedule.due_runs(lesson.when, now, set())
    with store.database.write() as conn:
        store.record_run(conn, lesson, start, job_id=None, words="")
    nxt = store.set_next_due(lesson, now.timestamp())
    assert nxt == soon.holding()[1].timestamp()  # its stop, at the end
    assert store.due(now.timestamp()) == []


def test_runs_come_in_one_query_with_their_jobs_pause(store):
    lesson_id = store.create("g", server="", spec={}, when=weekly(), by="ann", token="t")
    with store.database.write() as conn:
        conn.execute(
            insert(db.jobs).values(
                id="j" * 16,
                kind="start",
                group_name="g",
                by="ann",
                spec="{}",
                scopes="[]",
                created=1,
                updated=1,
                state="running",
                takeovers=0,
            )
        )
        for n in range(7):
            conn.execute(
                insert(db.lesson_runs).values(
                    lesson_id=lesson_id,
                    kind="start",
                    occurrence=float(n),
                    due=n,
                    ran=n,
                    late=False,
                    job_id="j" * 16 if n == 6 else None,
                    words=f"run {n}",
                )
            )
        conn.execute(
            update(db.jobs).values(state="paused", result=json.dumps({"paused": "3 failed"}))
        )
    runs = store.runs([lesson_id, "0" * 16])
    assert runs["0" * 16] == []
    assert [r.occurrence for r in runs[lesson_id]] == [6.0, 5.0, 4.0, 3.0, 2.0]
    assert runs[lesson_id][0].paused == "3 failed" and runs[lesson_id][1].paused == ""


def test_migration_0007_fills_next_due_and_goes_back(db_url):
    from alembic import command
    from hubdesk.db import alembic_config

    database = Database(db_url)
    database.upgrade("0006")
    with database.write() as conn:
        for n, cancelled in ((1, None), (2, 5.0)):
            conn.execute(
                db.lessons.insert().values(
                    id=f"{n:016x}",
                    group_name="g",
                    server="",
                    spec="{}",
                    tz="UTC",
                    starts="09:00",
                    ends="10:00",
                    weekdays="0",
                    lead=0,
                    by="ann",
                    token="t",
                    created=1,
                    updated=1,
                    cancelled=cancelled,
                )
            )
    database.upgrade()
    store = LessonStore(database, MultiFernet([Fernet(Fernet.generate_key())]))
    # the one not cancelled is looked at by the runner's next look, which sets its time
    (lesson,) = store.due(datetime.now(UTC).timestamp())
    assert lesson.id == f"{1:016x}"
    assert (
        store.set_next_due(lesson, datetime.now(UTC).timestamp())
        > datetime.now(UTC).timestamp() - 8 * 86400
    )
    config = alembic_config()
    with database.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0006")
    database.dispose()
