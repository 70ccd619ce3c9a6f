"""The audit trail: one record for every change hubdesk asks of the hub.

Records are made where changes leave hubdesk: the hub client calls
:func:`record_hub_change` after every request that is not a read, made with
the service token, whatever its outcome (a refusal or a hub that did not answer
is recorded too). So no view can forget to audit. A record says when, who (the
signed-in person, or the person who started a group action), what (in words
and as the hub call), the target, the hub's answer and the request id. It goes
to the log as a JSON line (logger ``app.audit``) and, with
``HUBDESK_AUDIT_FILE``, to an append-only file that the Activity page reads.
Records hold names, never tokens.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import time
from collections import deque
from pathlib import Path

from flask import g, has_request_context

from .logs import request_id

log = logging.getLogger("app.audit")

# who acts, for work done outside a request (a group action's threads)
background_actor: contextvars.ContextVar[str] = contextvars.ContextVar("actor", default="")

MAX_NAMES = 50  # a record lists at most this many names (and counts them all)


def _actor() -> str:
    if has_request_context() and g.get("person") is not None:
        return g.person.name
    return background_actor.get() or "-"


def describe(method: str, segments: tuple[str, ...], body) -> tuple[str, dict] | None:
    """What a hub call does, in hubdesk's words: (action, target); None for sign-in calls."""
    body = body if isinstance(body, dict) else {}
    match (method, segments):
        case ("POST", ("oauth2", "token")):
            return None  # signing in changes nothing on the hub (and carries a secret)
        case ("POST", ("groups", group)):
            return "group.create", {"group": group}
        case ("DELETE", ("groups", group)):
            return "group.delete", {"group": group}
        case ("POST", ("groups", group, "users")):
            return "group.members.add", {"group": group, **_names(body.get("users"))}
        case ("DELETE", ("groups", group, "users")):
            return "group.members.remove", {"group": group, **_names(body.get("users"))}
        case ("PUT", ("groups", group, "properties")):
            return "group.properties.set", {"group": group, "keys": sorted(body)[:MAX_NAMES]}
        case ("POST", ("users",)):
            return "users.create", _names(body.get("usernames"))
        case ("POST", ("users", user, "servers", server)):
            return "server.start", {"user": user, "server": server, "user_options": body}
        case ("POST", ("users", user, "server")):
            return "server.start", {"user": user, "server": "", "user_options": body}
        case ("DELETE", ("users", user, "servers", server)):
            action = "server.remove" if body.get("remove") else "server.stop"
            return action, {"user": user, "server": server}
        case ("DELETE", ("users", user, "server")):
            return "server.stop", {"user": user, "server": ""}
    return f"hub.{method.lower()}", {"path": "/" + "/".join(segments)}


def _names(names) -> dict:
    names = list(names or ())
    return {"users": names[:MAX_NAMES], "count": len(names)}


class AuditTrail:
    """Where one app's records go: the log, and ``path`` when given."""

    def __init__(self, path: str = ""):
        self.path = Path(path) if path else None
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def record_hub_change(self, method: str, segments: tuple[str, ...], body, outcome) -> None:
        """Called by the hub client after a change request: ``outcome`` is a status or an error."""
        _record(self.path, method, segments, body, outcome)

    def recent(self, **filters) -> list[dict]:
        return recent(self.path, **filters)


def _record(path: Path | None, method: str, segments: tuple[str, ...], body, outcome) -> None:
    described = describe(method, segments, body)
    if described is None:
        return
    action, target = described
    entry = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "person": _actor(),
        "action": action,
        "target": target,
        "hub": outcome,
        "request_id": request_id(),
    }
    line = json.dumps(entry, ensure_ascii=False, sort_keys=True)
    log.info(line)
    if path is not None:
        try:
            # one write of a whole line, O_APPEND: lines from several processes do not mix
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (line + "\n").encode())
            finally:
                os.close(fd)
        except OSError:
            log.exception("could not write to the audit file %s", path)


def recent(
    path: Path | None, *, limit: int = 200, person: str = "", group: str = "", user: str = ""
) -> list[dict]:
    """The newest records of the audit file (newest first), filtered; [] without a file."""
    if path is None or not path.exists():
        return []
    wanted = []
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = deque(f, maxlen=20_000)  # the tail is enough for a page
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        target = entry.get("target") or {}
        if person and person.casefold() not in str(entry.get("person", "")).casefold():
            continue
        if group and group.casefold() not in str(target.get("group", "")).casefold():
            continue
        if user and not _mentions(target, user):
            continue
        wanted.append(entry)
        if len(wanted) >= limit:
            break
    return wanted


def _mentions(target: dict, user: str) -> bool:
    needle = user.casefold()
    names = [target.get("user", "")] + list(target.get("users") or ())
    return any(needle in str(n).casefold() for n in names)
