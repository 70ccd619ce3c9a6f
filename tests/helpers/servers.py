"""Servers of the session's hub as tests see them, and the ``users`` fixture: fresh users
whose servers are stopped and removed with them (a plugin: tests/conftest.py loads it)."""

import re
from datetime import UTC, datetime

import pytest
from hubdesk.hub import HubAPIError

from helpers.stack import csrf_token, unique, wait_for


def server(stack, user, name):
    return (stack.api.get_user(user, include_stopped_servers=True).get("servers") or {}).get(name)


def running(stack, user, name):
    s = server(stack, user, name)
    return bool(s and s.get("ready") and not s.get("pending"))


def gone_or_stopped(stack, user, name):
    s = server(stack, user, name)
    return s is None or (not s.get("ready") and not s.get("pending"))


def move_activity(stack, user, name) -> None:
    """The hub's own activity endpoint, as a server's activity report would call it."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    stack.api.request(
        "POST",
        "users",
        user,
        "activity",
        json={"last_activity": now, "servers": {name: {"last_activity": now}}},
    )


def post(session, stack, path, data, page=""):
    token = csrf_token(session.get(stack.url(page)).text)
    return session.post(stack.url(path), data={"csrf_token": token, **data})


@pytest.fixture
def users(stack):
    """Fresh users (their servers are stopped and removed with them)."""
    made = []

    def make(n=1, prefix="s"):
        names = [unique(prefix) for _ in range(n)]
        stack.api.create_users(names)
        made.extend(names)
        return names

    yield make
    for name in made:
        for s in stack.api.get_user(name, include_stopped_servers=True).get("servers") or {}:
            try:
                stack.api.stop_server(name, s, remove=bool(s))
            except HubAPIError:
                pass
        wait_for(
            lambda n=name: (
                not any(
                    v.get("pending") for v in (stack.api.get_user(n).get("servers") or {}).values()
                )
            )
        )
        stack.api.request("DELETE", "users", name)


def outcomes(page):
    return dict(re.findall(r'<tr data-user="([^"]+)" data-outcome="([^"]+)">', page))
