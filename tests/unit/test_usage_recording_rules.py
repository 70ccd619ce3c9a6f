"""The usage sampler's rules (``hubdesk.usage.sampler``, ``.writes``, ``.recorder``): the
compare step as pure logic on given listings and open sessions, and the writes on a real
SQLite database, sweep by sweep (no hub: the listing is given as the hub would give it)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hubdesk.db import Database
from hubdesk.hub import HubClient
from hubdesk.usage import coverage
from hubdesk.usage import tables as t
from hubdesk.usage.days import day_of
from hubdesk.usage.recorder import UsageRecorder
from hubdesk.usage.sampler import Open, Seen, Sweep, compare, seen_in
from hubdesk.usage.writes import add_day
from sqlalchemy import event, select

STEP = 300.0


def seen(user="ada", *, started=900.0, ready=True, activity=None, server="", profile=""):
    return Seen(user, server, started, ready, activity, profile, "{}", ("class-a",))


def opened(user="ada", *, id=1, started=900.0, ready=1000.0, activity=None, until=None):
    return Open(id, user, "", started, ready, activity, until, "")


# -- compare: pure ------------------------------------------------------------------------


def test_compare_new_ready_activity_ended_failed_and_gap():
    sweep = Sweep(now=1300.0, previous=1000.0, t0=1000.0, span=1)
    changes = compare(
        [
            seen("new", started=1100.0, activity=1200.0),  # new: its start set last_activity
            seen("idle", started=900.0, activity=950.0),  # open, last_activity unmoved
            seen("busy", started=900.0, activity=1250.0),  # moved: active [t0, now]
            seen("late", started=900.0, ready=True),  # ready for the first time
        ],
        [
            opened("idle", id=1, activity=950.0),
            opened("busy", id=2, activity=950.0, until=1000.0),
            opened("late", id=3, ready=None),
            opened("gone", id=4),
            opened("never", id=5, ready=None),
        ],
        sweep,
    )
    assert [(s.user, span) for s, span in changes.new] == [("new", None)]  # a start: not use
    updates = {u.session.user: u for u in changes.updates}
    assert set(updates) == {"busy", "late"}  # "idle" did not change: nothing to write
    assert updates["busy"].active == (1000.0, 1300.0) and updates["busy"].extend
    assert updates["busy"].values == {"last_activity": 1250.0, "active_until": 1300.0}
    assert updates["late"].values == {"ready": 1300.0}
    ended = {e.session.user: e for e in changes.ended}
    assert (ended["gone"].ended, ended["gone"].last_seen, ended["gone"].in_gap) == (
        1300.0,
        1000.0,
        False,
    )
    assert not ended["gone"].failed and ended["never"].failed
    assert changes.running == {"": 4}

    # after a gap (no sweep within two intervals): no activity, and what went did so unseen
    gap = compare(
        [seen("busy", activity=5000.0)],
        [opened("busy", id=2, activity=950.0), opened("gone", id=4)],
        Sweep(now=6000.0, previous=1000.0, t0=None),
    )
    assert gap.updates[0].active is None and gap.updates[0].values == {"last_activity": 5000.0}
    (g,) = gap.ended
    assert (g.ended, g.last_seen, g.in_gap) == (1000.0, 1000.0, True)


def test_seen_in_reads_the_hub_model_and_caps_options():
    user = {
        "name": "ada",
        "groups": ["b", "a"],
        "servers": {
            "": {
                "ready": True,
                "pending": None,
                "started": "1970-01-01T00:15:00.000000Z",
                "last_activity": "1970-01-01T00:20:00Z",
                "user_options": {"profile": "gpu", "x": "y" * 3000},
            },
            "gone": {"ready": False, "pending": None, "started": None},
        },
    }
    (s,) = seen_in(user, now=5000.0)
    assert (s.started, s.last_activity, s.profile, s.groups) == (900.0, 1200.0, "gpu", ("a", "b"))
    assert len(s.options) < 2048 and '"profile": "gpu"' in s.options


# -- writes, sweep by sweep, on SQLite -------------------------------------------------------


@pytest.fixture
def recorder(db_url):
    """On SQLite and on PostgreSQL (``db_url``)."""
    database = Database(db_url)
    database.upgrade()
    yield UsageRecorder(database, sample_seconds=STEP, keep_days=30, zone="UTC")
    database.dispose()


def rows(database, table, *where):
    with database.read() as conn:
        return [r._asdict() for r in conn.execute(select(table).where(*where))]


def sessions(database):
    return {r["user"]: r for r in rows(database, t.usage_sessions)}


def day_row(database, user, day):
    (row,) = rows(database, t.usage_days, t.usage_days.c.user == user, t.usage_days.c.day == day)
    return row


def writes_of(database):
    """The INSERT/UPDATE/DELETE statements run on the database from now on, by table."""
    found: list[str] = []

    @event.listens_for(database.engine, "before_cursor_execute")
    def count(conn, cursor, statement, *args):
        words = statement.split()
        if words[0] in ("INSERT", "UPDATE", "DELETE"):
            found.append(words[2] if words[0] != "UPDATE" else words[1])

    return found


def test_a_session_from_first_sight_to_its_end(recorder):
    db = recorder.database
    recorder.record([seen(ready=False)], {"ada": ("class-a",)}, now=1000.0)
    assert sessions(db)["ada"]["ready"] is None
    recorder.record([seen(activity=1250.0)], {"ada": ("class-a",)}, now=1300.0)
    s = sessions(db)["ada"]  # ready now: its last_activity moved as it came up, not by use
    assert (s["ready"], s["last_activity"], s["active_until"]) == (1300.0, 1250.0, None)

    found = writes_of(db)  # nothing changed: only the coverage and the hour's rows
    recorder.record([seen(activity=1250.0)], {"ada": ("class-a",)}, now=1600.0)
    assert sorted(found) == ["usage_coverage", "usage_hours", "usage_hours"]
    found.clear()

    recorder.record([seen(activity=1800.0)], {"ada": ("class-a",)}, now=1900.0)
    recorder.record([], {}, now=2200.0)  # gone: its group days from the groups kept with it
    s = sessions(db)["ada"]
    assert (s["ended"], s["last_seen"], s["ended_in_gap"], s["failed"]) == (
        2200.0,
        1900.0,
        False,
        False,
    )
    activity = rows(db, t.usage_activity)
    assert sorted((a["start"], a["end"]) for a in activity) == [(1600.0, 1900.0)]
    day = day_row(db, "ada", 0)
    assert day["server_seconds"] == 2200.0 - 900.0 and day["active_seconds"] == 300.0
    assert (day["started"], day["failed"], day["cum_days"], day["cum_active"]) == (1, 0, 1, 300)
    assert day["last_seen"] == 2200.0
    (group,) = rows(db, t.usage_group_days)
    assert (group["active_members"], group["server_seconds"], group["started"]) == (1, 1300, 1)
    (hour_all,) = rows(db, t.usage_hours, t.usage_hours.c.profile == "*")
    # sweeps at 1000 (pending), 1300, 1600, 1900 (running), 2200 (gone): hour 0
    assert (hour_all["samples"], hour_all["running_sum"], hour_all["peak"]) == (5, 3, 1)
    assert hour_all["started"] == 1 and hour_all["failed"] == 0
    assert [(a, b) for a, b in coverage.spans(db, 0, 10_000)] == [(1000.0, 2200.0)]


def test_a_failed_start_and_a_profile(recorder):
    db = recorder.database
    recorder.record([seen(ready=False, profile="gpu")], {}, now=1000.0)
    recorder.record([], {}, now=1300.0)
    s = sessions(db)["ada"]
    assert s["failed"] and s["ready"] is None and s["profile"] == "gpu"
    assert day_row(db, "ada", 0)["failed"] == 1
    hours = {r["profile"]: r for r in rows(db, t.usage_hours)}
    assert hours["gpu"]["failed"] == hours["*"]["failed"] == 1
    assert hours["gpu"]["peak"] == 0  # never ready: never counted as running


def test_a_gap_leaves_unknown_not_zero_nor_running(recorder):
    db = recorder.database
    recorder.record([seen("ada", activity=950.0), seen("bob")], {}, now=1000.0)
    # no sweep for more than two intervals; ada stopped meanwhile, bob ran all along
    recorder.record([seen("bob", activity=2500.0)], {}, now=3000.0)
    s = sessions(db)
    assert (s["ada"]["ended"], s["ada"]["last_seen"], s["ada"]["ended_in_gap"]) == (
        1000.0,
        1000.0,
        True,
    )
    assert s["bob"]["ended"] is None  # the same hub start before and after: it ran throughout
    assert rows(db, t.usage_activity) == []  # nothing is known inside the gap
    assert day_row(db, "ada", 0)["server_seconds"] == 100.0  # 900..1000: the known part
    assert coverage.gaps(db, 1000.0, 3000.0) == [(1000.0, 3000.0)]
    assert len(coverage.spans(db, 0, 5000)) == 2
    recorder.record([seen("bob", activity=3100.0)], {}, now=3300.0)  # activity again
    assert [(a["start"], a["end"]) for a in rows(db, t.usage_activity)] == [(3000.0, 3300.0)]


def test_a_session_across_midnight_is_split_by_the_usage_zone(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'state.sqlite'}")
    database.upgrade()
    paris = ZoneInfo("Europe/Paris")
    recorder = UsageRecorder(database, sample_seconds=STEP, keep_days=30, zone="Europe/Paris")
    start = datetime(2026, 3, 14, 23, 30, tzinfo=paris).timestamp()  # 22:30 UTC
    # sweeps every 5 minutes from 23:32:30; last_activity moves once, seen at 00:02:30
    for k in range(1, 12):
        activity = start + 100 if k < 7 else start + 1900
        recorder.record([seen(started=start, activity=activity)], {}, now=start + k * STEP - 150)
    recorder.record([], {}, now=start + 12 * STEP - 150)  # gone at 00:27:30, the next day
    first = day_of(start, paris)
    assert first != day_of(start, ZoneInfo("UTC")) + 1  # in UTC it is all one day
    a, b = day_row(database, "ada", first), day_row(database, "ada", first + 1)
    assert (a["server_seconds"], b["server_seconds"]) == (1800.0, 1650.0)
    assert (a["active_seconds"], b["active_seconds"]) == (150.0, 150.0)  # 23:57:30 to 00:02:30
    assert (a["cum_days"], b["cum_days"]) == (1, 2)
    assert (a["cum_server"], b["cum_server"]) == (1800.0, 3450.0)
    assert (a["started"], b["started"]) == (1, 0)
    database.dispose()


def cum(database, user, first, last):
    """A range's numbers as the pages read them: two lookups of running totals."""
    d = t.usage_days.c

    def at(where):
        with database.read() as conn:
            row = conn.execute(
                select(d.cum_days, d.cum_server, d.cum_active)
                .where(d.user == user, where)
                .order_by(d.day.desc())
                .limit(1)
            ).first()
        return tuple(row) if row else (0, 0.0, 0.0)

    hi, lo = at(d.day <= last), at(d.day < first)
    return tuple(h - x for h, x in zip(hi, lo, strict=True))


def test_running_totals_after_an_out_of_order_day_and_retention(recorder):
    db = recorder.database
    with db.write() as conn:
        add_day(conn, "ada", 10, server=100.0, active=10.0)
        add_day(conn, "ada", 14, server=400.0, active=40.0)
        add_day(conn, "ada", 12, server=200.0)  # written after a later day: it shifts day 14
        add_day(conn, "ada", 12, active=20.0)  # the day's first activity: one more active day
        add_day(conn, "ada", 12, active=5.0)  # not a new active day
        add_day(conn, "ada", 2, server=1.0)  # long ago, before the horizon
        add_day(conn, "ada", 5, server=2.0)  # the latest row before it: stays, as a base
    assert cum(db, "ada", 12, 14) == (2, 600.0, 65.0)
    assert cum(db, "ada", 0, 14) == (3, 703.0, 75.0)
    assert day_row(db, "ada", 14)["cum_server"] == 703.0
    now = 16 * 86400.0
    recorder.keep_days = 8  # the horizon: day 8
    seven = 7 * 86400.0
    recorder.record([seen(started=seven - 100)], {}, now=seven)  # days 6 and 7, long ago
    recorder.record([], {}, now=seven + 200)
    assert recorder.prune(now=now) >= 5  # the session, days 2, 5 and 6, the coverage...
    assert sorted(r["day"] for r in rows(db, t.usage_days)) == [7, 10, 12, 14]
    assert cum(db, "ada", 10, 14) == (3, 700.0, 75.0)
    assert cum(db, "ada", 0, 14)[1] == 703.0 + 300.0  # the base row keeps the totals right
    assert rows(db, t.usage_sessions) == [] and rows(db, t.usage_coverage) == []
    assert rows(db, t.usage_hours) == []


def test_one_sweep_per_interval_and_a_failed_one_leaves_a_gap(recorder, caplog):
    assert recorder.claim("a", 1000.0) and not recorder.claim("b", 1000.0)  # the lease
    recorder.release("a", 1000.0)
    assert not recorder.claim("b", 1001.0)  # not due until one interval after the last
    assert recorder.claim("b", 1000.0 + STEP)
    assert not recorder.claim("a", 1000.0 + STEP + recorder.lease_seconds - 1)
    assert recorder.claim("a", 1000.0 + STEP + recorder.lease_seconds + 1)  # b died holding it
    recorder.release("a", 5000.0)
    # the hub away: one warning line, no exception into the runner's loop, nothing recorded
    hub = HubClient("http://127.0.0.1:9/hub/api", "token", timeout=(0.5, 0.5))
    assert not recorder.sample_if_due(hub, owner="a", now=5000.0 + STEP)
    assert [r.levelname for r in caplog.records if r.name == "hubdesk.usage.recorder"] == [
        "WARNING"
    ]
    assert rows(recorder.database, t.usage_coverage) == []
    assert not recorder.claim("b", 5000.0 + STEP + 1)  # the next try waits an interval
