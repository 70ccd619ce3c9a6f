"""Deleting one hub account, the one way every page and job does it (:func:`remove_account`).

The hub's ``DELETE /users/{name}`` stops a running *default* server itself, but while a
*named* server is active it fails with a 500, after the authenticator has already forgotten
the person (JupyterHub 5.x and 6.x: ``User._delete_spawner`` refuses an active spawner), and
it answers 400 while a server is still stopping. So the account's servers are stopped first,
each one, and the deletion is sent once none is active any more.

The check (``check(model)``: None to go on, or an (outcome, why) pair) judges the account as
the hub has it at that moment: a job asked hours ago must not delete someone who became an
admin meanwhile. ``before_send`` is called just before the deletion goes out (a job marks
its item *sent*); with ``sent`` (an earlier try may have deleted it), an account that is gone
now is settled as deleted, and no second deletion is sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..hub import HubAPIError, HubClient, HubUnreachable
from ..servers.model import state_of

STOP_WAIT = 60.0  # seconds to wait for an account's servers to stop before giving up on it
POLL = 0.5

# an item's outcome (app/states.py's keys) and the page's word for the good one
DELETED = "done"
DELETED_WORDS = "deleted"

Check = Callable[[dict], "tuple[str, str] | None"]


@dataclass(frozen=True)
class Removal:
    """What became of one account: an outcome key of ``states.OUTCOME`` and why, in words."""

    name: str
    outcome: str
    why: str = ""


def active_servers(model: dict) -> list[str]:
    """The names of the account's servers that are running, starting or stopping."""
    servers = model.get("servers") or {}
    return [name for name, server in servers.items() if state_of(server) != "stopped"]


def remove_account(
    client: HubClient,
    name: str,
    check: Check,
    *,
    sent: bool = False,
    before_send: Callable[[], None] = lambda: None,
    wait: float = STOP_WAIT,
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], None] = time.sleep,
) -> Removal:
    """Stop the account's servers, then delete it, if ``check`` still lets it through."""
    try:
        model = _model(client, name)
        if model is None:
            if sent:
                return Removal(name, DELETED, "checked with the hub after an interruption")
            return Removal(name, "unchanged", "already gone")
        verdict = check(model)
        if verdict is not None:
            return Removal(name, *verdict)
        deadline = clock() + wait
        for server in active_servers(model):
            if state_of((model.get("servers") or {}).get(server)) != "stopping":
                client.stop_server(name, server)
        while active_servers(model):
            if clock() > deadline:
                still = ", ".join(s or "the default server" for s in active_servers(model))
                return Removal(name, "failed", f"its servers did not stop in {wait:g} s: {still}")
            pause(POLL)
            model = _model(client, name)
            if model is None:  # someone else deleted it meanwhile
                return Removal(name, "unchanged", "already gone")
        before_send()
        client.delete_user(name)
    except HubAPIError as e:
        if e.status == 404 and sent:
            return Removal(name, DELETED, "checked with the hub after an interruption")
        if e.status == 404:
            return Removal(name, "unchanged", "already gone")
        if e.status == 403:
            return Removal(name, "forbidden", f"the hub refused: {e.message}")
        return Removal(name, "failed", f"the hub answered {e.status}: {e.message}")
    except HubUnreachable as e:
        maybe = "; it may have been deleted" if e.maybe_applied else ""
        return Removal(name, "failed", f"the hub did not answer ({e.reason}){maybe}")
    return Removal(name, DELETED)


def _model(client: HubClient, name: str) -> dict | None:
    try:
        return client.get_user(name)
    except HubAPIError as e:
        if e.status == 404:
            return None
        raise
