"""The circuit breaker of bulk starts: a broken profile pauses the action, the hub lives on.

JupyterHub exits after ``Spawner.consecutive_failure_limit`` spawn failures in a row
(zero-to-jupyterhub: 5). Here the breaker's logic and a whole start job against a
pretend hub that keeps the hub's count (no hub, fast); against a real hub of its own
with ``consecutive_failure_limit = 5``: tests/hub/test_breaker_hub.py.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from helpers.stack import (
    wait_for,
)
from hubdesk import db
from hubdesk.audit import AuditTrail
from hubdesk.db import Database
from hubdesk.jobs import JobRunner, JobStore, StartSpec
from hubdesk.roster.actions import run_group_action
from hubdesk.servers.breaker import (
    FAILURE,
    NEITHER,
    SUCCESS,
    Breaker,
    HubWide,
    InFlight,
    verdict,
)
from sqlalchemy import select

HUB_LIMIT = 5  # the hub's consecutive_failure_limit, as zero-to-jupyterhub sets it
LIMIT = 3  # hubdesk's HUBDESK_BULK_FAILURE_LIMIT (its default)


# -- the breaker's logic ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "sent", "status", "expected"),
    [
        ("started", True, None, SUCCESS),  # ready: resets the count
        ("failed", True, None, FAILURE),  # the spawn failed (progress, or stopped after a start)
        ("failed", True, 500, FAILURE),  # the hub answered 5xx to the start
        ("unknown", True, None, FAILURE),  # a sent start hubdesk lost track of
        ("failed", True, 400, NEITHER),  # a name taken, an invalid name, a pending stop
        ("failed", True, 404, NEITHER),  # no such user
        ("failed", True, 429, NEITHER),  # the hub's concurrent_spawn_limit
        ("limit", True, 400, NEITHER),  # the named-server limit
        ("running", True, 400, NEITHER),  # already running
        ("running", False, None, NEITHER),
        ("forbidden", False, None, NEITHER),  # checked before sending
        ("failed", False, None, NEITHER),  # never sent (the hub did not answer)
        ("cancelled", False, None, NEITHER),
    ],
)
def test_what_counts_as_a_spawn_failure(outcome, sent, status, expected):
    assert verdict(outcome, sent=sent, status=status) == expected


def test_one_start_first_then_the_window_doubles_after_each_success():
    b = Breaker(LIMIT, 8)
    assert b.take("a") is None
    assert b.take("b", give_up=lambda: "gave up") == "gave up"  # one alone first
    b.settle("a", SUCCESS)
    assert b.window == 2
    assert b.take("b") is None and b.take("c") is None
    assert b.take("d", give_up=lambda: "gave up") == "gave up"
    b.settle("b", SUCCESS)
    b.settle("c", SUCCESS)
    assert b.window == 8
    # widest is the runner's concurrency
    for _ in range(5):
        b.settle("x", SUCCESS)
    assert b.window == 8


def test_starts_in_flight_count_towards_the_limit():
    b = Breaker(LIMIT, 8)
    b.window = 8  # wide open after successes
    assert [b.take(n) for n in "abc"] == [None, None, None]
    # three in flight could all fail: a fourth would make four failures in a row
    assert b.take("d", give_up=lambda: "wait") == "wait"
    b.settle("a", FAILURE, "boom")
    assert b.failures == 1 and b.window == 1
    # 1 failure + 2 in flight = 3: nothing more until one ends
    assert b.take("d", give_up=lambda: "wait") == "wait"
    b.settle("b", SUCCESS)  # resets the count: 0 + 1 in flight, window 2
    assert b.failures == 0 and b.window == 2
    assert b.take("d") is None
    assert b.take("e", give_up=lambda: "wait") == "wait"  # the window: 2 in flight


def test_refusals_neither_count_nor_reset():
    b = Breaker(LIMIT, 5, failures=2)
    assert b.take("a") is None
    b.settle("a", NEITHER)
    assert b.failures == 2 and b.window == 1 and not b.in_flight


def test_it_trips_at_the_limit_and_says_why():
    counts = []
    b = Breaker(LIMIT, 5, on_count=lambda n, m: counts.append((n, m)))
    for name in "abc":
        assert b.take(name) is None
        b.settle(name, FAILURE, "the “broken” demo profile never starts")
    assert b.tripped and b.take("d") == "paused"
    assert counts == [(1, "the “broken” demo profile never starts")] + [
        (n, "the “broken” demo profile never starts") for n in (2, 3)
    ]
    assert b.reason == (
        "3 starts in a row failed: the “broken” demo profile never starts; nothing more "
        "was sent, so that the hub does not shut itself down"
    )


def test_a_resumed_breaker_sends_exactly_one_probe():
    b = Breaker(LIMIT, 5, failures=LIMIT - 1, message="boom")
    assert b.take("a") is None
    assert b.take("b", give_up=lambda: "wait") == "wait"
    b.settle("a", FAILURE, "boom again")
    assert b.tripped and "boom again" in b.reason


def test_a_start_sent_before_is_followed_whatever_the_window():
    b = Breaker(LIMIT, 5)
    b.follow("a")
    b.follow("b")
    assert b.in_flight == {"a", "b"}
    assert b.take("a") is None  # already in flight: its try goes on
    b.leave("a")
    b.leave("b")
    assert not b.in_flight and b.failures == 0


def test_a_waiting_start_goes_when_a_slot_frees():
    b = Breaker(LIMIT, 5)
    assert b.take("a") is None
    got = []
    waiter = threading.Thread(target=lambda: got.append(b.take("b")))
    waiter.start()
    time.sleep(0.2)
    assert got == []
    b.settle("a", SUCCESS)
    waiter.join(5)
    assert got == [None] and b.in_flight == {"b"}


# -- a whole start job, against a pretend hub that counts as JupyterHub does -------------------


class PretendHub:
    """Enough of HubClient for start jobs: spawns take a moment, and fail as ``fails`` says.

    It keeps JupyterHub's count of spawn failures in a row, and the most starts it had
    in flight at once; ``exited`` is what JupyterHub would have done.
    """

    def __init__(self, fails, *, spawn_seconds=0.05, hub_limit=HUB_LIMIT):
        self.fails = fails  # user -> whether their spawn fails
        self.spawn_seconds = spawn_seconds
        self.hub_limit = hub_limit
        self.lock = threading.Lock()
        self.in_row = 0
        self.most_in_row = 0
        self.exited = False
        self.sent: list[str] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.servers: dict[str, dict] = {}

    def get_user(self, user, include_stopped_servers=False):
        with self.lock:
            servers = {k: v for k, v in self.servers.items() if k.startswith(user + "/")}
        return {
            "name": user,
            "groups": [],
            "servers": {k.partition("/")[2]: v for k, v in servers.items()},
        }

    def start_server(self, user, server, options=None, *, display_name="", hub_major=None):
        with self.lock:
            assert not self.exited, "a start sent to a hub that shut itself down"
            self.sent.append(user)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.servers[f"{user}/{server}"] = {"name": server, "pending": "spawn", "ready": False}
        return 202

    def progress(self, user, server, **kwargs):
        time.sleep(self.spawn_seconds)
        failed = self.fails(user)
        with self.lock:
            self.in_flight -= 1
            if failed:
                self.in_row += 1
                self.most_in_row = max(self.most_in_row, self.in_row)
                self.exited = self.exited or self.in_row >= self.hub_limit
                self.servers[f"{user}/{server}"] = {
                    "name": server,
                    "pending": None,
                    "ready": False,
                    "started": None,
                }
            else:
                self.in_row = 0
                self.servers[f"{user}/{server}"] = {"name": server, "pending": None, "ready": True}
        yield {"failed": True, "message": "no image"} if failed else {"ready": True}

    def start_failure(self, user, server="", **kwargs):
        return "no image"


@pytest.fixture
def pretend(tmp_path):
    """A job runner on SQLite with a pretend hub: run(fails, names) -> (job, hub)."""
    database = Database(f"sqlite:///{tmp_path / 'state.sqlite'}")
    database.upgrade()
    runners = []

    def run(fails, names, *, concurrency=5, result=None, wait=True, hub=None):
        hub = hub or PretendHub(fails)
        runner = JobRunner(
            JobStore(database),
            hub,
            service_scopes=lambda: frozenset({"servers"}),
            concurrency=concurrency,
            failure_limit=LIMIT,
            audit_trail=AuditTrail(database),
        )
        runner.register("start", run_group_action, StartSpec)
        runners.append(runner)
        job_id = runner.store.create(
            "start",
            "class-a",
            by="teacher",
            spec={"server": "lab"},
            scopes=["servers"],
            items=[(n, "") for n in names],
            owner="test",
        )
        if result is not None:
            runner.store.set_result(job_id, result)
        runner.owner = "test"
        runner.run_here(job_id)
        if not wait:
            return job_id, hub, runner
        assert runner.wait(job_id, 30)
        return runner.store.get(job_id), hub, runner

    yield run
    for runner in runners:
        runner.stop()
    database.dispose()


def test_an_always_failing_start_sends_three_then_pauses(pretend):
    names = [f"u{n}" for n in range(8)]
    job, hub, _ = pretend(lambda user: True, names)
    assert not hub.exited and hub.in_row == LIMIT
    assert len(hub.sent) == LIMIT and hub.most_in_flight == 1
    assert job.state == "paused" and job.paused and not job.done
    assert job.result["paused"].startswith("3 starts in a row failed: no image;")
    assert job.result["breaker"]["failures"] == LIMIT
    got = job.counts()
    assert got == {"failed": LIMIT, "paused": len(names) - LIMIT}, got
    assert all(
        i.words == "not started: the action is paused" and not i.sent
        for i in job.items.values()
        if i.outcome == "paused"
    )


def test_widening_never_lets_the_hub_reach_its_limit(pretend):
    # every third spawn succeeds: whatever order they end in, the hub's count stays low
    names = [f"u{n:02}" for n in range(30)]
    job, hub, runner = pretend(lambda user: int(user[1:]) % 3 != 0, names)
    assert not hub.exited and hub.most_in_row <= LIMIT
    assert hub.most_in_flight <= LIMIT
    runner.store.count_spawn(False, "", 900)  # a start that succeeded elsewhere: count reset
    # all good: the window opens to the runner's concurrency, bounded by the limit
    job, hub, _ = pretend(lambda user: False, [f"ok{n}" for n in range(20)])
    assert job.done and job.counts() == {"started": 20}
    assert 1 < hub.most_in_flight <= LIMIT


def test_failures_after_successes_narrow_the_window_before_the_hub_minds(pretend):
    # good members first, then a broken tail: the window was wide when the failures began
    names = [f"u{n:02}" for n in range(20)]
    job, hub, _ = pretend(lambda user: int(user[1:]) >= 8, names)
    assert job.paused and not hub.exited and hub.most_in_row <= LIMIT
    # (starts waiting for a turn go in no fixed order: some good ones may be left paused)
    assert job.counts()["started"] >= 1 and job.counts()["failed"] >= LIMIT


def test_a_job_taken_over_or_resumed_goes_on_from_its_count(pretend):
    # its record says two failures in a row (a worker that died, or a resume at limit - 1)
    names = [f"u{n}" for n in range(6)]
    kept = {"breaker": {"failures": LIMIT - 1, "message": "no image"}}
    job, hub, _ = pretend(lambda user: True, names, result=kept)
    assert len(hub.sent) == 1 and job.paused
    assert job.counts() == {"failed": 1, "paused": 5}


def test_a_paused_job_is_never_taken_over_and_resume_or_cancel_settle_it(pretend):
    job, hub, runner = pretend(lambda user: True, [f"u{n}" for n in range(5)])
    store = runner.store
    assert job.paused and store.claim("another-worker") is None  # no worker runs it
    # resume: one probe, which fails: paused again
    from hubdesk.roster.actions import resume_changes

    assert runner.resume(
        job.id, "admin", scopes=["servers"], changes=resume_changes(job.result, LIMIT)
    )
    assert store.claim("another-worker") is None  # held by the runner that resumed it
    runner.run_here(job.id)
    assert runner.wait(job.id, 30)
    job = store.get(job.id)
    assert job.paused and job.counts() == {"failed": LIMIT + 1, "paused": 1}
    assert job.result["resumed_by"] == "admin" and job.actor == "admin"
    assert len(hub.sent) == LIMIT + 1
    # cancel: the items never sent are cancelled, the job is done
    assert store.cancel(job.id, "admin") == "cancelled"
    job = store.get(job.id)
    assert job.done and job.counts() == {"failed": LIMIT + 1, "cancelled": 1}
    assert store.cancel(job.id, "admin") == ""  # done: nothing more
    assert not runner.resume(job.id, "admin", scopes=["servers"], changes={})


def test_bulk_starts_at_once_count_their_failures_together(pretend):
    """Lessons of four classes at 9:00 with one broken image: each job alone stays under
    the limit, and together they would pass the hub's; the hub-wide count pauses them all."""
    hub = PretendHub(lambda user: True)
    started = [
        pretend(None, [f"c{k}u{n}" for n in range(6)], hub=hub, wait=False) for k in range(4)
    ]
    for job_id, _, runner in started:  # (one may have ended before it is asked)
        wait_for(lambda: runner.store.get(job_id).state != "running", 30)  # noqa: B023
    jobs = [runner.store.get(job_id) for job_id, _, runner in started]
    assert all(job.paused for job in jobs)
    assert not hub.exited and hub.most_in_row <= LIMIT, hub.most_in_row
    assert any("hubdesk (this action's and others')" in job.result["paused"] for job in jobs)


def test_two_workers_at_once_stay_under_the_hubs_limit():
    """Two processes' breakers (their own starts in flight, one database count): at most
    one start more than the limit, never the hub's limit (5 to hubdesk's 3)."""
    counted = {"failures": 0}
    lock = threading.Lock()

    def read():
        with lock:
            return counted["failures"], "no image"

    def count(failed, words):
        with lock:
            counted["failures"] = counted["failures"] + 1 if failed else 0

    hub = PretendHub(lambda user: True)
    breakers = [Breaker(LIMIT, 5, hub=HubWide(read, count), process=InFlight()) for _ in range(2)]

    def work(b, names):
        for name in names:
            if b.take(name) is not None:
                return
            hub.start_server(name, "lab")
            for _ in hub.progress(name, "lab"):
                pass
            b.settle(name, FAILURE, "no image")

    threads = [
        threading.Thread(target=work, args=(b, [f"w{k}u{n}" for n in range(6)]))
        for k, b in enumerate(breakers)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(b.tripped for b in breakers)
    assert hub.most_in_row <= LIMIT + 1 < HUB_LIMIT and not hub.exited


def test_a_start_after_a_paused_one_sends_nothing_until_resumed(pretend):
    """The hub still counts the paused job's failures: a new bulk start soon after pauses
    at once (saying why), and a resume sends one start."""
    first, hub, _ = pretend(lambda user: True, [f"a{n}" for n in range(5)])
    assert first.paused and len(hub.sent) == LIMIT
    second, _, runner = pretend(None, [f"b{n}" for n in range(5)], hub=hub)
    assert second.paused and len(hub.sent) == LIMIT  # nothing more reached the hub
    assert second.counts() == {"paused": 5}
    assert "and others'" in second.result["paused"]
    from hubdesk.roster.actions import resume_changes

    assert runner.resume(
        second.id, "admin", scopes=["servers"], changes=resume_changes(second.result, LIMIT)
    )
    runner.run_here(second.id)
    assert runner.wait(second.id, 30)
    assert len(hub.sent) == LIMIT + 1 and not hub.exited  # one probe


def test_pause_resume_and_cancel_in_the_database(db_url):
    """The contract other parts rely on: jobs.state "paused", result["paused"] in words."""
    database = Database(db_url)
    database.upgrade()
    store = JobStore(database)
    try:
        job_id = store.create(
            "start", "g", by="t", spec={}, scopes=[], items=[("a", ""), ("b", "")], owner="w1"
        )
        store.set_outcome(job_id, ["a"], "failed", "boom")
        store.set_outcome(job_id, ["b"], "paused", "not started: the action is paused")
        assert not store.pause(job_id, "someone-else", {"paused": "why"})  # not its holder
        assert store.pause(job_id, "w1", {"paused": "3 starts in a row failed: boom"})
        assert not store.finish(job_id)  # a paused item keeps it unfinished
        with database.read() as conn:
            row = conn.execute(select(db.jobs).where(db.jobs.c.id == job_id)).one()
        assert row.state == "paused" and row.lease_owner is None
        assert json.loads(row.result)["paused"] == "3 starts in a row failed: boom"
        job = store.get(job_id)
        assert job.state == "paused" and not job.orphaned
        time.sleep(0.01)
        assert store.claim("w2") is None
        assert store.resume(job_id, "admin", scopes=["servers"], changes={}, owner="w2")
        job = store.get(job_id)
        assert job.state == "running" and "paused" not in job.result
        assert job.items["b"].outcome == "waiting" and job.scopes == frozenset({"servers"})
        assert not store.resume(job_id, "admin", scopes=[], changes={}, owner="w2")
        store.set_outcome(job_id, ["b"], "paused", "not started: the action is paused")
        assert store.pause(job_id, "w2", {"paused": "again"})
        assert store.cancel(job_id, "teacher") == "cancelled"
        job = store.get(job_id)
        assert job.done and job.cancel_by == "teacher"
        assert job.items["b"].outcome == "cancelled" and job.items["a"].outcome == "failed"
    finally:
        database.dispose()
