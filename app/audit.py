"""The audit trail: one record for every change hubdesk asks of the hub.

Records are made where changes leave hubdesk: the hub client asks
:meth:`AuditTrail.before_change` before it sends any request that is not a
read, with the service token, and :meth:`AuditTrail.after_change` with the
hub's answer (a refusal, or a hub that did not answer, too). So no view can
forget to audit, and a change whose worker died on the way still has its
record ("sent, no answer recorded"). If the intent cannot be written (the
database is down or full), :class:`~hubdesk.db.StateUnavailable` is raised and
nothing is sent. A record says when, who (the signed-in person, or the person
who started a group action), what (in words and as the hub call), the target,
the hub's answer and the request id. It is a row of the ``audit`` table and a
JSON line in the log (logger ``hubdesk.audit``). Records hold names, never tokens.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
from dataclasses import dataclass

from flask import g, has_request_context
from sqlalchemy import insert, select, update

from . import db
from .db import Database, StateUnavailable
from .logs import proxy_request_id, request_id

log = logging.getLogger("hubdesk.audit")

# who acts, for work done outside a request (a group action's threads)
background_actor: contextvars.ContextVar[str] = contextvars.ContextVar("actor", default="")
# the job whose work this is, named in the records of its hub calls ("": none said)
background_job: contextvars.ContextVar[str] = contextvars.ContextVar("job", default="")

MAX_NAMES = 50  # a record lists at most this many names (and counts them all)
MAX_TARGET = 16_384  # characters of a record's target (JSON): a bigger one is cut, and says so
PAGE = 50  # records per Activity page


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
            return "users.create", {**_names(body.get("usernames")), **_admin(body)}
        case ("POST", ("users", user)):
            return "users.create", {**_names([user]), **_admin(body)}
        case ("PATCH", ("users", user)) if "name" in body:
            return "user.rename", {"user": user, "new_name": str(body["name"]), **_admin(body)}
        case ("PATCH", ("users", user)) if "admin" in body:
            action = "user.admin.grant" if body["admin"] else "user.admin.revoke"
            return action, {"user": user}
        case ("DELETE", ("users", user)):
            return "user.delete", {"user": user}
        case ("POST", ("users", user, "tokens")):
            # the scopes asked for, never the token (the answer holds it, and is not kept)
            return "token.create", {
                "user": user,
                "scopes": list(body.get("scopes") or ())[:MAX_NAMES],
                "note": str(body.get("note") or ""),
            }
        case ("DELETE", ("users", user, "tokens", token_id)):
            return "token.revoke", {"user": user, "token_id": token_id}
        case ("POST", ("users", user, "servers", server)):
            return "server.start", {"user": user, "server": server, **_start(body)}
        case ("POST", ("users", user, "server")):
            return "server.start", {"user": user, "server": "", **_start(body)}
        case ("DELETE", ("users", user, "servers", server)):
            action = "server.remove" if body.get("remove") else "server.stop"
            return action, {"user": user, "server": server}
        case ("DELETE", ("users", user, "server")):
            return "server.stop", {"user": user, "server": ""}
    return f"hub.{method.lower()}", {"path": "/" + "/".join(segments)}


def _start(body: dict) -> dict:
    """A start's options (and display name): JupyterHub 6's wrapped body or 5.x's flat one."""
    if "user_options" in body or "display_name" in body:
        found = {"user_options": body.get("user_options") or {}}
        if body.get("display_name"):
            found["display_name"] = body["display_name"]
        return found
    return {"user_options": body}


def _admin(body: dict) -> dict:
    """``{"admin": True}`` when the call makes hub admins (said in the record), else nothing."""
    return {"admin": True} if body.get("admin") else {}


def _names(names) -> dict:
    names = list(names or ())
    return {"users": names[:MAX_NAMES], "count": len(names)}


def _capped(target: dict) -> tuple[str, bool]:
    """The target as JSON, at most MAX_TARGET characters: big values are cut, and it says so."""
    text = json.dumps(target, ensure_ascii=False, sort_keys=True)
    if len(text) <= MAX_TARGET:
        return text, False
    cut = {}
    for key, value in target.items():
        shown = json.dumps(value, ensure_ascii=False)
        if len(shown) > 1024:
            value = {"truncated": True, "size": len(shown), "start": shown[:512]}
        cut[key] = value
    text = json.dumps(cut, ensure_ascii=False, sort_keys=True)
    if len(text) > MAX_TARGET:  # still too big: many keys
        text = json.dumps({"truncated": True, "size": len(text)})
    return text, True


@dataclass
class Record:
    """One audit record, as the Activity page shows it."""

    id: int
    time: str  # ISO 8601, UTC
    person: str
    action: str
    target: dict
    hub: str | None  # None: sent, and no answer was recorded
    request_id: str
    truncated: bool
    proxy_request_id: str | None = None


class AuditTrail:
    """The audit table of one database."""

    def __init__(self, database: Database, *, keep_days: float = 365):
        self.database = database
        self.keep_days = keep_days

    def before_change(self, method: str, segments: tuple[str, ...], body):
        """Write the intent; its id is given back to :meth:`after_change`.

        Raises StateUnavailable when it cannot be written: the change must not be sent.
        """
        described = describe(method, segments, body)
        if described is None:
            return None
        return self._write(*described)

    def _write(self, action: str, target: dict):
        if background_job.get() and "job" not in target:
            target = {**target, "job": background_job.get()}
        text, truncated = _capped(target)
        users = target.get("users") or ([target["user"]] if target.get("user") else [])
        entry = {
            "time": time.time(),
            "person": _actor()[: db.NAME],
            "action": action,
            "group_name": (target.get("group") or None) and str(target["group"])[: db.NAME],
            "target": text,
            "request_id": request_id()[:64],
            "proxy_request_id": proxy_request_id(),
            "truncated": truncated,
        }
        with self.database.write() as conn:
            record_id = conn.execute(insert(db.audit).values(entry)).inserted_primary_key[0]
            names = sorted({str(u)[: db.NAME] for u in users})
            if names:
                conn.execute(
                    insert(db.audit_names), [{"record_id": record_id, "name": n} for n in names]
                )
        return record_id, action, target

    def record(self, action: str, target: dict, *, person: str | None = None, outcome="") -> int:
        """A change hubdesk makes to its own records (a lesson scheduled, run, cancelled):
        its record, then its outcome, as for a change asked of the hub.

        Raises StateUnavailable when the record cannot be written.
        """
        token = background_actor.set(person) if person is not None else None
        try:
            handle = self._write(action, target)
            self.after_change(handle, outcome)
        finally:
            if token is not None:
                background_actor.reset(token)
        return handle[0]

    def after_change(self, handle, outcome) -> None:
        """Add the hub's answer to the record (and say the change in the log)."""
        if handle is None:
            return
        record_id, action, target = handle
        said = {
            "person": _actor(),
            "action": action,
            "target": target,
            "hub": outcome,
            "request_id": request_id(),
            "record": record_id,
        }
        line = json.dumps(
            {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **said},
            ensure_ascii=False,
            sort_keys=True,
            default=str,
        )
        # the text format's line is that JSON; a JSON line has the record's parts as fields
        fields = {
            **said,
            "message": f"{action} by {said['person']}: {outcome}",
            "hub": str(outcome),
            "proxy_request_id": proxy_request_id(),
        }
        log.info(line, extra={"fields": fields})
        try:
            with self.database.write() as conn:
                conn.execute(
                    update(db.audit).where(db.audit.c.id == record_id).values(hub=str(outcome))
                )
        except StateUnavailable as e:
            # the change was made: its intent is on record, its answer is in the log line above
            log.error("could not add the hub's answer to audit record %s: %s", record_id, e)

    def page(
        self,
        *,
        person: str = "",
        group: str = "",
        user: str = "",
        action: str = "",
        before: int | None = None,
        limit: int = PAGE,
    ) -> tuple[list[Record], int | None]:
        """The newest records older than ``before`` (an id), filtered by whole names (and by
        an action's code, ``group.members.add``).

        Each filter has an index holding (name, id), and the page's ids are read from it
        alone, then their rows: O(page), whatever the history. (Asked for the rows at once,
        PostgreSQL planned a filter of someone whose records are all old as a walk back
        through every newer record.) Returns the records and the ``before`` of the next
        (older) page, or None on the last one.
        """
        a, n = db.audit, db.audit_names
        if user:
            ids = select(n.c.record_id.label("id")).where(n.c.name == user)
            key = n.c.record_id
            if person or group or action:
                ids = ids.join(a, a.c.id == n.c.record_id)
        else:
            ids, key = select(a.c.id), a.c.id
        if person:
            ids = ids.where(a.c.person == person)
        if action:
            ids = ids.where(a.c.action == action)
        if group:
            ids = ids.where(a.c.group_name == group)
        if before is not None:
            ids = ids.where(key < before)
        ids = ids.order_by(key.desc()).limit(limit + 1)
        query = select(a).where(a.c.id.in_(ids.scalar_subquery())).order_by(a.c.id.desc())
        with self.database.read() as conn:
            rows = conn.execute(query).all()
        records = [_record(r) for r in rows[:limit]]
        return records, (records[-1].id if len(rows) > limit else None)

    def prune(self) -> int:
        """Forget records older than the retention setting; how many went."""
        cutoff = time.time() - self.keep_days * 86400
        return db.delete_in_batches(
            self.database,
            db.audit.c.id,
            db.audit.c.time < cutoff,
            children=[db.audit_names.c.record_id],
            batch=5000,
        )


def _record(row) -> Record:
    try:
        target = json.loads(row.target)
    except ValueError:
        target = {"damaged": True}
    return Record(
        id=row.id,
        time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(row.time)),
        person=row.person,
        action=row.action,
        target=target if isinstance(target, dict) else {"damaged": True},
        hub=row.hub,
        request_id=row.request_id,
        truncated=bool(row.truncated),
        proxy_request_id=row.proxy_request_id,
    )
