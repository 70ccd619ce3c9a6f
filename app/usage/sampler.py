"""One sweep of the usage sampler, in three named steps: **read**, **compare**, **write**.

- :func:`read_hub`: one paginated listing of the hub's active servers (``GET
  /users?state=active``, its largest pages, a few at a time): O(running servers), never
  O(users). :func:`read_record`: the open sessions (``ended is null``: O(running)) and the
  latest coverage span.
- :func:`compare`: pure logic, the listing against the open sessions: what began, became
  ready, was active, ended (or ended across a gap). Nothing that did not change is written.
- :func:`write` (``hubdesk.usage.writes``): the changes, one coverage write and the hour's
  upserts, in one transaction.

The meaning of every column is in :mod:`hubdesk.usage.tables` (and the lead's contract).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select

from ..db import NAME
from ..hub import HubClient
from ..servers.idle import active_users
from ..servers.model import parse_time
from . import tables as t

OPTIONS_MAX = 2048  # bytes of user_options JSON kept per session


@dataclass(frozen=True)
class Seen:
    """A server in the hub's listing, as the record needs it."""

    user: str
    server: str
    started: float  # the hub's own ``started``
    ready: bool
    last_activity: float | None
    profile: str = ""
    options: str = "{}"
    groups: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str, float]:
        return (self.user, self.server, self.started)


@dataclass(frozen=True)
class Open:
    """A session the record still holds open (``ended is null``)."""

    id: int
    user: str
    server: str
    started: float
    ready: float | None
    last_activity: float | None
    active_until: float | None
    profile: str = ""
    groups: tuple[str, ...] = ()  # the person's groups when it started

    @property
    def key(self) -> tuple[str, str, float]:
        return (self.user, self.server, self.started)


@dataclass(frozen=True)
class Sweep:
    """When this sweep is and what came before it: ``previous`` the sweep before (the
    latest coverage ``last``; None: never sampled), ``t0`` the same when it is within two
    intervals (the same coverage span), else None (a gap: nothing is known in between)."""

    now: float
    previous: float | None
    t0: float | None
    span: int | None = None  # the coverage row this sweep extends (with t0)


@dataclass
class Update:
    """An open session's changes: columns to set, and the activity span it gained."""

    session: Open
    values: dict = field(default_factory=dict)
    active: tuple[float, float] | None = None
    extend: bool = False  # the span continues the session's latest activity row


@dataclass(frozen=True)
class Ended:
    session: Open
    ended: float
    last_seen: float
    in_gap: bool

    @property
    def failed(self) -> bool:
        return self.session.ready is None


@dataclass
class Changes:
    """What one sweep writes, besides its coverage and hour rows."""

    sweep: Sweep
    new: list[tuple[Seen, tuple[float, float] | None]] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    ended: list[Ended] = field(default_factory=list)
    running: Counter = field(default_factory=Counter)  # ready servers per profile

    @property
    def nothing(self) -> bool:
        return not (self.new or self.updates or self.ended)


# -- read ---------------------------------------------------------------------------------


def _epoch(value: str | None) -> float | None:
    moment = parse_time(value)
    return moment.timestamp() if moment else None


def _options(user_options) -> tuple[str, str]:
    """(profile, options JSON capped at OPTIONS_MAX) of a server's ``user_options``."""
    options = user_options if isinstance(user_options, dict) else {}
    profile = options.get("profile")
    profile = str(profile)[:NAME] if profile not in (None, "") else ""
    text = json.dumps(options, sort_keys=True, default=str)
    if len(text.encode()) > OPTIONS_MAX:
        text = json.dumps({"profile": profile, "…": "options longer than 2 KB, not kept"})
    return profile, text


def seen_in(user: dict, now: float) -> list[Seen]:
    """The servers of one hub user model (``state=active``: running or pending ones)."""
    out = []
    groups = tuple(sorted(user.get("groups") or ()))
    for name, server in (user.get("servers") or {}).items():
        if not (server.get("ready") or server.get("pending")):
            continue
        profile, options = _options(server.get("user_options"))
        out.append(
            Seen(
                user=user["name"],
                server=name or "",
                started=_epoch(server.get("started")) or now,
                ready=bool(server.get("ready")),
                last_activity=_epoch(server.get("last_activity")),
                profile=profile,
                options=options,
                groups=groups,
            )
        )
    return out


def read_hub(hub: HubClient, now: float) -> tuple[list[Seen], dict[str, tuple[str, ...]]]:
    """Every active server (one paginated listing) and the groups of their people."""
    users = active_users(hub)
    seen = [s for u in users for s in seen_in(u, now)]
    return seen, {u["name"]: tuple(sorted(u.get("groups") or ())) for u in users}


def read_record(conn, now: float, sample_seconds: float) -> tuple[list[Open], Sweep]:
    """The open sessions and this sweep's place after the latest coverage span."""
    s = t.usage_sessions.c
    rows = conn.execute(
        select(
            s.id,
            s.user,
            s.server,
            s.started,
            s.ready,
            s.last_activity,
            s.active_until,
            s.profile,
            s.groups,
        ).where(s.ended.is_(None))
    ).all()
    opened = [Open(*r[:-1], groups=tuple(json.loads(r[-1] or "[]"))) for r in rows]
    c = t.usage_coverage.c
    latest = conn.execute(select(c.id, c.last).order_by(c.last.desc()).limit(1)).first()
    span, previous = latest if latest is not None else (None, None)
    if previous is not None and now - previous <= 2 * sample_seconds:
        return opened, Sweep(now, previous, previous, span)
    return opened, Sweep(now, previous, None)


# -- compare ------------------------------------------------------------------------------


def _active_span(sweep: Sweep, started: float, moved: bool) -> tuple[float, float] | None:
    """Active in [t0, now] (not before the session began) when last_activity moved; never
    across a gap (no t0: what happened since the last sweep is unknown)."""
    if not moved or sweep.t0 is None:
        return None
    start = max(sweep.t0, started)
    return (start, sweep.now) if start < sweep.now else None


def compare(seen: list[Seen], open_sessions: list[Open], sweep: Sweep) -> Changes:
    """The listing against the open sessions: only what changed."""
    changes = Changes(sweep)
    by_key = {o.key: o for o in open_sessions}
    for server in seen:
        if server.ready:
            changes.running[server.profile] += 1
        session = by_key.pop(server.key, None)
        if session is None:
            # first sight: its last_activity is where it is, not a move (a start sets it)
            changes.new.append((server, None))
            continue
        update = Update(session)
        if server.ready and session.ready is None:
            update.values["ready"] = sweep.now
        moved = server.last_activity is not None and server.last_activity != (session.last_activity)
        if moved:
            update.values["last_activity"] = server.last_activity
        # activity is a move past the server's start-up: the hub sets last_activity when a
        # server comes up (and the server reports its start), which is nobody working;
        # only a server already seen ready, whose last_activity moved past that, counts
        used = (
            moved
            and server.ready
            and session.ready is not None
            and server.last_activity > session.ready
        )
        span = _active_span(sweep, session.started, used)
        if span is not None:
            update.active = span
            update.extend = session.active_until is not None and session.active_until >= span[0]
            update.values["active_until"] = span[1]
        if update.values:
            changes.updates.append(update)
    for session in by_key.values():  # gone from the listing
        last_seen = sweep.previous if sweep.previous is not None else session.started
        if sweep.t0 is not None:
            changes.ended.append(Ended(session, sweep.now, last_seen, False))
        else:  # it went while hubdesk was not sampling: only the known part counts
            changes.ended.append(Ended(session, last_seen, last_seen, True))
    return changes
