"""Typed job specs (records of earlier versions read back), and a hub-wide stop as a job,
run on SQLite against a pretend hub (no JupyterHub needed)."""

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from hubdesk.db import Database
from hubdesk.hub import HubAPIError
from hubdesk.jobs import (
    DamagedRecord,
    HubStopSpec,
    JobRunner,
    JobStore,
    MembersSpec,
    RawSpec,
    StartSpec,
    StopSpec,
)
from hubdesk.servers.idle import HIDDEN
from hubdesk.servers.stops import KIND, outcomes_of, run_hub_stop

SPECS = {"members": MembersSpec, "start": StartSpec, "stop": StopSpec, KIND: HubStopSpec}

# rows as the version before typed specs wrote them (plain dicts)
OLD_ROWS = {
    "members": {"verb": "sync", "chunk": 250, "create_missing": False, "request_id": "r1"},
    "start": {
        "server": "labs",
        "servers": None,
        "ticked": True,
        "user_options": {"profile": "small"},
        "display_name": "Labs",
        "hub_major": 5,
        "profile": "Small",
        "request_id": "r2",
    },
    "stop": {
        "server": None,
        "servers": {"ana": ["", "labs"]},
        "ticked": True,
        "user_options": None,
        "display_name": "",
        "hub_major": 5,
        "profile": None,
    },
    "lesson-stop": {
        "lesson": "0123456789abcdef",
        "occurrence": 1767000000.0,
        "late": True,
        "server": "exam",
        "authority": "hubdesk's own, for the servers this lesson started",
    },
}


@pytest.fixture
def database(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'state.sqlite'}")
    database.upgrade()
    yield database
    database.dispose()


def test_records_of_the_previous_version_read_as_typed_specs(database):
    store = JobStore(database, specs=SPECS)
    made = {
        name: store.create(
            "stop" if name == "lesson-stop" else name,
            "g",
            by="t",
            spec=spec,
            scopes=[],
            items=[("ana", "")],
        )
        for name, spec in OLD_ROWS.items()
    }
    members = store.get(made["members"]).spec
    assert members == MembersSpec(verb="sync", chunk=250, request_id="r1")
    start = store.get(made["start"]).spec
    assert isinstance(start, StartSpec) and start.server == "labs" and start.ticked
    assert start.user_options == {"profile": "small"} and start.hub_major == 5
    assert start.display_name == "Labs" and start.profile == "Small" and start.request_id == "r2"
    stop = store.get(made["stop"]).spec
    assert isinstance(stop, StopSpec) and stop.server is None
    assert stop.servers == {"ana": ["", "labs"]} and stop.ticked and stop.authority == ""
    lesson = store.get(made["lesson-stop"]).spec
    assert lesson.lesson == "0123456789abcdef" and lesson.occurrence == 1767000000.0
    assert lesson.late and lesson.server == "exam" and lesson.authority.startswith("hubdesk's")
    # and back: the same keys as before (an older worker reads what this one writes)
    for spec in (members, start, stop, lesson):
        assert type(spec).from_json(json.loads(json.dumps(spec.to_json()))) == spec


def test_a_kind_without_a_class_and_a_damaged_spec(database):
    store = JobStore(database, specs=SPECS)
    odd = store.create("other", "g", by="t", spec={"x": 1}, scopes=[], items=[])
    assert store.get(odd).spec == RawSpec(data={"x": 1})
    bad = store.create("start", "g", by="t", spec={"server": 5}, scopes=[], items=[])
    with pytest.raises(DamagedRecord):
        store.get(bad)


class PretendHub:
    """Users with servers; stops recorded. ``active``: users last active just now."""

    def __init__(self, servers, *, groups=(), active=()):
        self.servers = dict(servers)  # "user/server" -> model
        self.groups = list(groups)
        self.active = set(active)
        self.stopped = []
        self.lock = threading.Lock()

    def get_user(self, user, **kwargs):
        with self.lock:
            mine = {k: v for k, v in self.servers.items() if k.startswith(user + "/")}
        if not mine:
            raise HubAPIError(404, "no such user")
        idle = datetime.now(UTC) - (timedelta(0) if user in self.active else timedelta(hours=3))
        return {
            "name": user,
            "groups": self.groups,
            "servers": {
                k.partition("/")[2]: dict(v, last_activity=idle.isoformat())
                for k, v in mine.items()
                if v is not None
            },
        }

    def stop_server(self, user, server=""):
        with self.lock:
            self.stopped.append((user, server))
            self.servers[f"{user}/{server}"] = None
        return 204


RUNNING = {"ready": True, "pending": None}


def run_stop(database, hub, spec, *, scopes=("delete:servers",), sent=(), concurrency=5):
    runner = JobRunner(
        JobStore(database),
        hub,
        service_scopes=lambda: frozenset({"delete:servers"}),
        concurrency=concurrency,
    )
    runner.register(KIND, run_hub_stop, HubStopSpec)
    job_id = runner.store.create(
        KIND,
        "",
        by="admin",
        spec=spec,
        scopes=scopes,
        items=[(str(n), "") for n in range(len(spec.servers))],
        owner="test",
    )
    runner.store.mark_sent(job_id, [str(n) for n in sent])
    runner.owner = "test"
    runner.run_here(job_id)
    assert runner.wait(job_id, 30)
    runner.stop()
    return runner.store.get(job_id)


def test_a_hub_wide_stop_judges_each_server_at_its_turn(database):
    hub = PretendHub(
        {"ana/": RUNNING, "bob/labs": RUNNING, "cat/": None, "cat/x": RUNNING},
        groups=["class-a"],
    )
    spec = HubStopSpec(servers=(("ana", ""), ("bob", "labs"), ("cat", ""), ("ghost", "")))
    # bob's stop was sent by a worker that died: the hub has it running still, so again
    job = run_stop(database, hub, spec, sent=[1])
    assert job.done
    said = {(o.user, o.server): (o.result, o.why) for o in outcomes_of(job).outcomes}
    assert said[("ana", "")] == ("stopped", "")
    assert said[("bob", "labs")] == ("stopped", "")
    assert said[("ghost", "")] == ("failed", HIDDEN)  # alike: no such user, or not yours
    assert said[("cat", "")] == ("stopped", "")  # not running: stopping it again is harmless
    assert sorted(hub.stopped) == [("ana", ""), ("bob", "labs"), ("cat", "")]


def test_a_stop_sent_before_a_takeover_is_not_sent_again(database):
    hub = PretendHub({"ana/": None, "ana/keep": RUNNING})
    spec = HubStopSpec(servers=(("ana", ""),))
    job = run_stop(database, hub, spec, sent=[0])
    assert outcomes_of(job).outcomes[0].result == "stopped"
    assert "checked with the hub after an interruption" in outcomes_of(job).outcomes[0].why
    assert hub.stopped == []


def test_an_idle_stop_leaves_alone_what_is_active_again_or_not_yours(database):
    hub = PretendHub({"ana/": RUNNING, "bob/": RUNNING}, active={"bob"})
    spec = HubStopSpec(servers=(("ana", ""), ("bob", "")), idle_amount=1, idle_unit="hours")
    job = run_stop(database, hub, spec)
    said = {o.user: (o.result, o.why) for o in outcomes_of(job).outcomes}
    assert said["ana"] == ("stopped", "")
    assert said["bob"][0] == "skipped" and "active again" in said["bob"][1]
    # the person's scopes as they asked: only ana's server
    hub = PretendHub({"ana/": RUNNING, "bob/": RUNNING})
    job = run_stop(database, hub, spec, scopes=("delete:servers!user=ana",))
    said = {o.user: (o.result, o.why) for o in outcomes_of(job).outcomes}
    assert said == {"ana": ("stopped", ""), "bob": ("failed", HIDDEN)}


def test_stopping_is_a_few_at_a_time(database):
    """A hub-wide stop overlaps its hub calls (a pool of 4: four reads meet at a barrier,
    which one at a time never would), and gives the outcomes in the order asked.
    (In test_idle.py, of stop_each, before hub-wide stops were jobs.)"""
    chosen = [(f"u{n}", "") for n in range(8)]
    hub = PretendHub({f"{u}/": RUNNING for u, _ in chosen}, active={u for u, _ in chosen})
    meet = threading.Barrier(4, timeout=20)
    read = hub.get_user

    def get_user(user, **kwargs):
        meet.wait()
        return read(user, **kwargs)

    hub.get_user = get_user
    spec = HubStopSpec(servers=tuple(chosen), idle_amount=1, idle_unit="hours")
    job = run_stop(database, hub, spec, concurrency=4)
    result = outcomes_of(job)
    assert [(o.user, o.server) for o in result.outcomes] == chosen
    assert {o.result for o in result.outcomes} == {"skipped"}  # active again: only counting
    assert hub.stopped == []
