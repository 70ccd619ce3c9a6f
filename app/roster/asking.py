"""What a roster's forms ask for, checked in named steps: the action, whom it is for and which
server (``read_request``), and whom a confirmation page names (``target_words``)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, request

from ..access import require
from ..extensions import hub_major
from ..names import NamesError
from ..start_options import server_name
from ..words import server_words
from . import page as roster
from .stopping import read_which

GROUP_ACTIONS = ("start", "start-selected", "stop", "stop-selected")


@dataclass
class GroupRequest:
    """What a group servers form asks for, checked: the action and whom it is for."""

    kind: str  # "start" or "stop"
    members: list[str]  # whom: the group's members, or the ticked ones
    server: str | None  # the start's server; the stop's one server (None: every server)
    servers: dict[str, list[str]] | None  # a stop of ticked servers: {member: [server, ...]}
    selected: list[str]  # the ticked rows as sent ("user/server"), for the confirmation page


def read_request(form, members: list[str]) -> GroupRequest:
    """Step 1: the action, whom it is for and which server; NamesError says what is wrong."""
    row = request.form.get("row")
    action = "stop-selected" if row else form.action.data
    if action not in GROUP_ACTIONS:
        abort(400, description="Choose whether to start or to stop servers.")
    kind = action.partition("-")[0]
    require("start_server" if kind == "start" else "stop_server")
    ticked = action.endswith("-selected")
    selected = ([row] if row else request.form.getlist("selected")) if ticked else []
    chosen: dict[str, list[str]] = {}
    if ticked:
        chosen, strays = roster.parse_selection(selected, set(members))
        if strays:
            raise NamesError(
                f"Not members of this group (any more?): {', '.join(strays[:10])}. "
                "Nothing was done; the roster below is as the hub has it now."
            )
        if not chosen:
            raise NamesError("Tick at least one member in the roster first. Nothing was done.")
    targets = list(chosen) if chosen else sorted(members, key=str.casefold)
    if not targets:
        raise NamesError("This group has no members, so nothing was done.")
    if kind == "start":
        return GroupRequest("start", targets, server_name(form), None, selected)
    if action == "stop-selected":
        return GroupRequest("stop", targets, None, chosen, selected)
    # the stop's own choice: one server name (the default), or every server, said so
    _, only = read_which(request.form.get("which", ""), form.server.data, hub_major=hub_major())
    return GroupRequest("stop", targets, only, None, selected)


def target_words(asked: GroupRequest) -> list[str]:
    """Whom a confirmation page names: members, or each ticked server in words."""
    if not asked.servers:
        return asked.members
    return [server_words(s, user) for user, names in asked.servers.items() for s in names]
