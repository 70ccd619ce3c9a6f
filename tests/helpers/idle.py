"""A crowd of users with running servers, some idle and some whose person "came back": the
idle tests' hub state (tests/hub/test_idle.py, tests/browser/test_idle_browser.py). The
module-scoped ``crowd`` fixture is here (a plugin: tests/conftest.py loads it); each module
that asks for it gets a crowd of its own.

30 users (more than one page of 25 people): 20 idle since they started, 10 whose person
"came back" (activity POSTed to the hub, 50 minutes ahead: the hub moves last_activity only
forwards, and never more than an hour ahead).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from hubdesk.hub import HubAPIError
from hubdesk.users.removal import remove_account

from helpers.stack import unique, wait_for

CROWD, BACK = 30, 10
SECONDS = 3  # the idle ones are waited for until they are this idle (by the hub's clock)


def servers_of(stack, user) -> dict:
    return stack.api.get_user(user, include_stopped_servers=True).get("servers") or {}


def ready(stack, user, server=""):
    s = servers_of(stack, user).get(server)
    return bool(s and s.get("ready") and not s.get("pending"))


def stopped(stack, user, server=""):
    s = servers_of(stack, user).get(server)
    return s is None or not (s.get("ready") or s.get("pending"))


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def came_back(stack, user, server=""):
    """Someone used the server just now: the hub's activity API, 50 minutes ahead."""
    when = iso(datetime.now(UTC) + timedelta(minutes=50))
    stack.api.request(
        "POST",
        "users",
        user,
        "activity",
        json={"last_activity": when, "servers": {server: {"last_activity": when}}},
    )


def idle_seconds(stack, user, server="") -> float:
    last = servers_of(stack, user)[server]["last_activity"]
    return (datetime.now(UTC) - datetime.fromisoformat(last.replace("Z", "+00:00"))).total_seconds()


def settled(stack, user) -> bool:
    return not any(s.get("pending") for s in servers_of(stack, user).values())


def remove(stack, names):
    """Delete the users, their servers stopped first, several at once: hubdesk's own way
    (users/removal.py). One after another this was most of a crowd's teardown (~1 min)."""

    def one(name):
        try:
            wait_for(lambda: settled(stack, name), seconds=60)  # a start still under way
        except HubAPIError:
            return None  # no such user (never created, or deleted by the test)
        return remove_account(stack.api, name, lambda model: None)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [r for r in pool.map(one, names) if r is not None]
    failed = [r for r in results if r.outcome not in ("done", "unchanged")]
    assert not failed, failed


class Crowd:
    def __init__(self, stack):
        self.stack = stack
        tag = unique("idle").split("-")[1][:5]
        self.names = [f"idle-{tag}-{i:02}" for i in range(CROWD)]
        self.back, self.idle = self.names[:BACK], self.names[BACK:]
        stack.api.create_users(self.names)

    def ready(self) -> Crowd:
        """Every crowd server running (started again if a test stopped it), the "back" ones
        active 50 minutes ahead, the others idle for SECONDS."""
        stack = self.stack
        for u in self.idle:  # one a test "came back" to: a new start makes it idle again
            if ready(stack, u) and idle_seconds(stack, u) < 0:
                stack.api.stop_server(u, "")
        down = [u for u in self.names if not ready(stack, u)]
        for u in down:
            wait_for(lambda u=u: stopped(stack, u))
            stack.api.start_server(u, "", {"profile": "small"})
        wait_for(lambda: all(ready(stack, u) for u in down), seconds=180)
        for u in self.back:
            came_back(stack, u)
        wait_for(lambda: all(idle_seconds(stack, u) >= SECONDS for u in self.idle))
        return self


@pytest.fixture(scope="module")
def crowd(stack):
    made = Crowd(stack)
    try:
        yield made
    finally:
        remove(stack, made.names)
