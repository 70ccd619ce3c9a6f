"""The per-process copy of group names behind the list and search (pure logic).

The client here is a stand-in that counts reads: these tests are about caching,
not about the hub (the real-hub tests are in test_groups.py).
"""

import threading
import time

from hubdesk.groups.directory import GroupDirectory, GroupEntry, search
from hubdesk.permissions import allowed, group_filter


class Groups:
    """Stands in for HubClient.iter_groups(); ``gate`` holds a read until released."""

    def __init__(self, *names):
        self.names = list(names)
        self.reads = 0
        self.gate = threading.Event()
        self.gate.set()

    def iter_groups(self):
        self.reads += 1
        self.gate.wait(5)
        return [{"name": n, "users": ["u"] * len(n)} for n in self.names]


def names(entries):
    return [e.name for e in entries]


def wait_for(condition, seconds=5):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_sorted_by_name_ignoring_case_with_member_counts():
    d = GroupDirectory(30)
    entries = d.entries(Groups("beta", "Alpha", "alpha", "Gamma"))
    assert names(entries) == ["Alpha", "alpha", "beta", "Gamma"]
    assert entries[0] == GroupEntry("Alpha", 5)


def test_read_once_then_served_from_memory():
    hub, d = Groups("a"), GroupDirectory(30)
    d.entries(hub)
    d.entries(hub)
    assert hub.reads == 1


def test_stale_copy_keeps_serving_while_one_refresh_runs():
    hub, d = Groups("a"), GroupDirectory(0)
    d.entries(hub)
    hub.names.append("b")
    hub.gate.clear()  # the refresh will hang until released
    assert names(d.entries(hub)) == ["a"]  # no waiting
    assert names(d.entries(hub)) == ["a"]
    hub.gate.set()
    wait_for(lambda: names(d.entries(hub)) == ["a", "b"])
    assert hub.reads <= 4


def test_changes_made_here_show_at_once_and_survive_a_refresh_in_flight():
    hub, d = Groups("a", "c"), GroupDirectory(0)
    d.entries(hub)
    hub.gate.clear()
    d.entries(hub)  # a refresh starts and reads the hub's old state
    wait_for(lambda: hub.reads == 2)
    d.changed("b", 7)
    d.forget("c")
    assert names(d.entries(hub)) == ["a", "b"]
    d.seconds = 30
    hub.gate.set()  # the refresh ends with what the hub said before the changes
    wait_for(lambda: not d.refreshing)
    assert names(d.entries(hub)) == ["a", "b"]
    assert GroupEntry("b", 7) in d.entries(hub)


def test_invalidate_reads_again():
    hub, d = Groups("a"), GroupDirectory(30)
    d.entries(hub)
    hub.names.append("b")
    d.invalidate()
    assert names(d.entries(hub)) == ["a", "b"]


def test_search_is_a_case_insensitive_substring():
    entries = [GroupEntry(n, 0) for n in ["Class-A", "class-b", "staff", "été"]]
    assert names(search(entries, "CLASS")) == ["Class-A", "class-b"]
    assert names(search(entries, "  ÉT ")) == ["été"]
    assert search(entries, "") == entries


def test_group_filter_admits_exactly_what_allowed_does():
    scopes = {"list:groups!group=a", "list:groups!group=b c", "read:users!group=z"}
    admitted = group_filter(scopes, "list_groups")
    assert admitted == {"a", "b c"}
    for g in ["a", "b c", "b", "z", "c"]:
        assert (g in admitted) == allowed(scopes, "list_groups", group=g)
    assert group_filter({"list:groups"}, "list_groups") is None
    assert group_filter({"read:users"}, "list_groups") == set()
