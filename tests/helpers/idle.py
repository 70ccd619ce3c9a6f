"""A crowd of users with running servers, some idle and some whose person "came back": the
idle tests' hub state (tests/hub/test_idle.py, tests/browser/test_idle_browser.py). The
module-scoped ``crowd`` fixture is here (a plugin: tests/conftest.py loads it); each module
that asks for it gets a crowd of its own.

30 users (more than one page of 25 people): 20 idle since they started, 10 whose person
"came back" (activity POSTed to the hub, 50 minutes ahead: the hub moves last_activity only
forwards, and never more than an hour ahead).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hubdesk.hub import HubAPIError

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
    """Stop every server of ``names`` (removing named ones), then delete the users."""
    names = [n for n in names if stack.api.existing_users([n])]
    for name in names:
        wait_for(lambda n=name: settled(stack, n), seconds=60)
        for server, model in servers_of(stack, name).items():
            if server or model.get("ready") or model.get("pending"):
                try:
                    stack.api.stop_server(name, server, remove=bool(server))
                except HubAPIError:
                    pass
    for name in names:
        wait_for(lambda n=name: settled(stack, n), seconds=60)
        stack.api.request("DELETE", "users", name)


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
