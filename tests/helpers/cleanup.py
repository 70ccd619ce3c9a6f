"""Set-up and clean-up through the hub's API with the service token: people and groups
made by a test go, their servers stopped first (the browser tests' housekeeping)."""

import time

from hubdesk.hub import HubAPIError


def _delete_group_quietly(stack, name: str):
    try:
        stack.api.delete_group(name)
    except HubAPIError:
        pass  # already gone (the test deleted it) or never created


def _delete_users_quietly(stack, names):
    for name in names:
        try:
            stack.api.request("DELETE", "users", name)
        except HubAPIError:
            pass


def _hub_wait(condition, seconds=30):
    """Poll the hub's API (not the page) until ``condition()`` holds, with a deadline.

    Only for the hub's own state, in set-up and clean-up: the pages are waited on
    with ``expect``.
    """
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting for the hub"
        time.sleep(0.2)


def _servers_of(stack, user: str) -> dict:
    return stack.api.get_user(user, include_stopped_servers=True).get("servers") or {}


def _ready(stack, user: str, server: str) -> bool:
    s = _servers_of(stack, user).get(server)
    return bool(s and s.get("ready") and not s.get("pending"))


def _nothing_pending(stack, user: str) -> bool:
    return not any(s.get("pending") for s in _servers_of(stack, user).values())


def _remove_servers_and_users(stack, names):
    """Stop (and remove, when named) every server of ``names``, then delete them."""
    for name in names:
        try:
            _hub_wait(lambda n=name: _nothing_pending(stack, n))  # a spawn still under way
            for server, model in _servers_of(stack, name).items():
                if not server and not (model.get("ready") or model.get("pending")):
                    continue  # the default server, stopped (the hub always lists it)
                try:
                    stack.api.stop_server(name, server, remove=bool(server))
                except HubAPIError:
                    pass
            _hub_wait(lambda n=name: _nothing_pending(stack, n))
        except HubAPIError:
            continue  # no such user (never created, or already deleted)
    _delete_users_quietly(stack, names)
