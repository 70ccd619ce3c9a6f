"""The usage sampler against the session's real hub: sweeps called directly between real
starts and stops (sweep, act, wait for the hub's state, sweep), each test on a database of
its own so that the stack's own sampler does not interfere."""

from __future__ import annotations

import time

import pytest
from helpers.servers import gone_or_stopped, move_activity, running, server
from helpers.stack import wait_for
from hubdesk.db import Database
from hubdesk.servers.model import parse_time
from hubdesk.usage import coverage
from hubdesk.usage import tables as t
from hubdesk.usage.recorder import UsageRecorder
from sqlalchemy import select

INTERVAL = 60.0


@pytest.fixture
def recorder(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'usage.sqlite'}")
    database.upgrade()
    yield UsageRecorder(database, sample_seconds=INTERVAL, keep_days=30, zone="UTC")
    database.dispose()


def rows(recorder, table, user):
    with recorder.database.read() as conn:
        return [r._asdict() for r in conn.execute(select(table).where(table.c.user == user))]


def hub_started(stack, user, name) -> float:
    return parse_time(server(stack, user, name)["started"]).timestamp()


def test_a_named_server_with_a_profile_becomes_one_session_with_its_activity(
    stack, users, recorder
):
    (ada,) = users(1, prefix="usage-rec")
    recorder.sweep(stack.api)  # the record begins: nothing of ada's yet
    assert rows(recorder, t.usage_sessions, ada) == []
    stack.api.start_server(ada, "lab", {"profile": "small"})
    wait_for(lambda: running(stack, ada, "lab"))
    started = hub_started(stack, ada, "lab")
    first = recorder.sweep(stack.api).sweep.now

    move_activity(stack, ada, "lab")
    wait_for(lambda: (server(stack, ada, "lab")["last_activity"] or "") > "")
    second = recorder.sweep(stack.api).sweep.now
    third = recorder.sweep(stack.api).sweep.now  # last_activity did not move: no activity

    stack.api.stop_server(ada, "lab")
    wait_for(lambda: gone_or_stopped(stack, ada, "lab"))
    fourth = recorder.sweep(stack.api).sweep.now

    (s,) = rows(recorder, t.usage_sessions, ada)
    assert (s["server"], s["profile"], s["started"]) == ("lab", "small", started)
    assert '"profile": "small"' in s["options"]
    assert s["ready"] == first and not s["failed"] and not s["ended_in_gap"]
    assert (s["last_seen"], s["ended"]) == (third, fourth)  # within one interval of the stop
    activity = [(a["start"], a["end"]) for a in rows(recorder, t.usage_activity, ada)]
    # the start moved last_activity too, but that is not use: only the POST's move counts
    assert activity == [(first, second)]
    (day,) = rows(recorder, t.usage_days, ada)
    assert day["server_seconds"] == pytest.approx(fourth - started)
    assert day["active_seconds"] == pytest.approx(second - first)
    assert (day["started"], day["cum_days"]) == (1, 1)
    assert gone_or_stopped(stack, ada, "lab")  # the hub's own state, after


def test_hubdesk_away_leaves_a_gap_not_zeros(stack, users, recorder):
    (bea,) = users(1, prefix="usage-gap")
    stack.api.start_server(bea)
    wait_for(lambda: running(stack, bea, ""))
    started = hub_started(stack, bea, "")
    before = recorder.sweep(stack.api).sweep.now
    move_activity(stack, bea, "")  # while nobody samples: never counted
    stack.api.stop_server(bea)
    wait_for(lambda: gone_or_stopped(stack, bea, ""))
    # no sweep for more than two intervals (hubdesk down): the next one is a new span
    after = recorder.sweep(stack.api, now=time.time() + 3 * INTERVAL).sweep.now

    (s,) = rows(recorder, t.usage_sessions, bea)
    assert s["ended_in_gap"] and s["ended"] == s["last_seen"] == before
    assert rows(recorder, t.usage_activity, bea) == []
    assert coverage.gaps(recorder.database, before, after) == [(before, after)]
    assert len(coverage.spans(recorder.database, 0, after + 1)) == 2
    (day,) = rows(recorder, t.usage_days, bea)
    assert day["server_seconds"] == pytest.approx(before - started)  # the known part only
    assert day["active_seconds"] == 0
