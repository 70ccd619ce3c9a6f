"""Idle servers across the whole hub: find those idle for at least a while, and stop them.

Without a filter the running-servers page reads one page of users (O(page)). Idleness is per
server and the hub can neither filter nor sort servers by it, so with "idle for at least N
minutes or hours" every active user is read instead (:func:`active_users`: all pages of
``GET /users?state=active``, the hub's largest page size, a few pages at a time) and the
matching servers are paged here, longest idle first (:func:`idle_servers`).

Stopping them (:func:`stop_one`, each at its turn in a hub-wide stop job: :mod:`.stops`)
reads each user again at the moment of stopping: a server whose person came back, or that
stopped meanwhile, is skipped and said so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..hub import MAX_PAGE, HubAPIError, HubClient, HubUnreachable, Page
from ..words import duration_words, server_words
from .model import (
    Server,
    explain,
    mark_failures,
    parse_time,
    server_in,
    servers_of,
    state_of,
)

UNITS = {"minutes": 60, "hours": 3600}
MIN_SECONDS = 1
MAX_SECONDS = 366 * 24 * 3600  # a year, leap or not
STOP_AT_ONCE = 200  # servers stopped by one "stop all that match"; the page says so
PAGE_WORKERS = 4  # pages of users read at once


class IdleError(ValueError):
    """An idle filter that cannot be used; the message says why, for the person."""


def _number(value: float) -> str:
    """0.25 → "0.25", 2.0 → "2", 90 → "90" (no exponent within the accepted range)."""
    return f"{value:.6g}"


@dataclass(frozen=True)
class Idle:
    """ "Idle for at least ``amount`` ``unit``"."""

    amount: float
    unit: str  # a key of UNITS

    @property
    def seconds(self) -> float:
        return self.amount * UNITS[self.unit]

    @property
    def amount_text(self) -> str:
        return _number(self.amount)

    @property
    def words(self) -> str:
        """ "2 hours", "1 hour", "15 minutes" (0.25 hours), "1 hour 30 minutes"."""
        return duration_words(self.seconds)

    def idle_for(self, last_activity: datetime | None, now: datetime) -> bool:
        """Was something last active at ``last_activity`` idle this long at ``now``?"""
        return last_activity is not None and (now - last_activity).total_seconds() >= self.seconds


def parse_idle(amount: str | None, unit: str | None) -> Idle | None:
    """The filter a person typed (``amount`` as text, ``unit`` minutes or hours; hours when
    not given, as the page's older links say); None when no amount was typed.

    Raises IdleError, with words for the page, for anything else than a positive amount from
    a second to a year.
    """
    text = (amount or "").strip()
    if not text:
        return None
    unit = (unit or "hours").strip()
    if unit not in UNITS:
        raise IdleError("Choose minutes or hours for how long the servers have been idle.")
    try:
        # a decimal comma (0,25) as many people type it
        value = float(text.replace(",", ".") if "." not in text else text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise IdleError(
            f"“{text[:30]}” is not a number. Type how long, such as 15 (minutes) or 0.25 (hours)."
        )
    if value <= 0:
        raise IdleError("Type an amount above zero, such as 15 minutes or 0.25 hours.")
    seconds = value * UNITS[unit]
    if seconds < MIN_SECONDS:
        raise IdleError(f"{_number(value)} {unit} is under a second: type a longer time.")
    if seconds > MAX_SECONDS:
        raise IdleError(
            f"Type at most a year ({MAX_SECONDS // 3600:,} hours or {MAX_SECONDS // 60:,} minutes)."
        )
    return Idle(value, unit)


# -- finding them -------------------------------------------------------------------------


def running_page(
    client: HubClient,
    *,
    offset: int,
    limit: int,
    newest_first: bool = False,
    profiles=(),
    host: str = "",
) -> tuple[list[Server], Page]:
    """One page of the users with an active server, as rows: their active servers, and those
    whose last start failed (with the hub's reason), failures first, then by last activity.

    One hub page, plus a progress call for each stopped server that was ever used
    (``mark_failures``): O(page), whatever the size of the hub. ``host``: the hub's public
    host, where the servers open (``Server.open_url``).
    """
    page = client.list_users(
        offset=offset,
        limit=limit,
        state="active",
        sort="-last_activity" if newest_first else "last_activity",
        include_stopped_servers="1",  # to find those whose last start failed
    )
    found = [s for u in page.items for s in servers_of(u, profiles, host=host)]
    servers = mark_failures(found, client)
    rows = [s for s in servers if s.active or s.state == "failed"]
    far = datetime.min.replace(tzinfo=UTC)  # never active: as idle as can be
    rows.sort(key=lambda s: s.last_activity or far, reverse=newest_first)
    rows.sort(key=lambda s: s.state != "failed")  # failures first, where they are seen
    return rows, page


def active_users(
    client: HubClient, *, page_size: int = MAX_PAGE, workers: int = PAGE_WORKERS
) -> list[dict]:
    """Every user with an active server that ``client``'s token may list, each once.

    The first page says how many there are; the others are then read a few at a time (in
    pages of the size the hub actually gave: its ``api_page_max_limit`` may be lower). A
    user whose servers start or stop while the pages are read may move from one page to
    another: they are kept once, or (rarely) missed until the next look.
    """

    def read(offset: int, limit: int):
        return client.list_users(offset=offset, limit=limit, state="active", sort="id")

    first = read(0, page_size)
    pages = [first]
    if first.total is not None and first.next_offset is not None:
        step = max(1, first.limit or page_size)
        offsets = range(first.next_offset, first.total, step)
        if offsets:
            with ThreadPoolExecutor(max_workers=min(workers, len(offsets))) as pool:
                pages += pool.map(lambda o: read(o, step), offsets)
    found: dict[str, dict] = {}
    for page in pages:
        for user in page.items:
            found.setdefault(user["name"], user)
    return list(found.values())


@dataclass
class IdleServers:
    """What one look at the whole hub found."""

    idle: Idle
    servers: list[Server]  # running and idle that long; longest idle first unless asked
    running: int  # running servers seen, idle or not
    groups: dict[str, list] = field(default_factory=dict)  # each user's groups (permissions)

    def stoppable(self, may_stop: Callable[[str, str, list], bool]) -> list[Server]:
        """Those of the servers ``may_stop(user, server, user_groups)`` lets one stop."""
        return [s for s in self.servers if may_stop(s.user, s.name, self.groups.get(s.user))]


def idle_servers(
    users: Iterable[dict],
    idle: Idle,
    *,
    now: datetime,
    profiles=(),
    newest_first: bool = False,
    host: str = "",
) -> IdleServers:
    """The running servers of ``users`` idle for at least ``idle`` at ``now``, sorted.

    Only servers that are running count: one starting or stopping is being looked after,
    whatever its last activity says. ``host``: as for ``running_page``.
    """
    users = list(users)
    running = [s for u in users for s in servers_of(u, profiles, host=host) if s.state == "running"]
    matching = [s for s in running if idle.idle_for(s.last_activity, now)]
    matching.sort(key=lambda s: (s.last_activity, s.user, s.name), reverse=newest_first)
    groups = {u["name"]: list(u.get("groups") or ()) for u in users}
    return IdleServers(idle, matching, len(running), groups)


# -- stopping them --------------------------------------------------------------------------

RESULTS = ("stopped", "stopping", "skipped", "failed")


@dataclass(frozen=True)
class Outcome:
    """What happened to one server."""

    user: str
    server: str
    result: str  # one of RESULTS
    why: str = ""

    @property
    def label(self) -> str:
        """ "“labs” of ana", "the default server of ana"."""
        return server_words(self.server, self.user)

    @property
    def words(self) -> str:
        """ "“labs” of ana: no longer running": the server, and why, on a line of its own."""
        said = server_words(self.server, self.user, start=True)
        return f"{said}: {self.why}" if self.why else said


@dataclass
class StopResult:
    """The outcome of each server asked for, in the order asked."""

    outcomes: list[Outcome]

    def of(self, result: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.result == result]


# check(user, server, model) -> None to stop it, else (result, why); model is None for a
# user the hub does not have (or hides)
Check = Callable[[str, str, dict | None], tuple[str, str] | None]
HIDDEN = "not a server you may stop"


def stop_one(
    client: HubClient,
    user: str,
    server: str,
    check: Check,
    *,
    sent: bool = False,
    before_send: Callable[[], None] = lambda: None,
) -> Outcome:
    """Stop one server if ``check`` still lets it through; what happened to it.

    The user is read again first, so that ``check`` judges the server as it is now.
    ``before_send`` is called just before the stop goes out (a job marks its item *sent*).
    With ``sent`` (an earlier try, or a worker that died, may have sent it), a server the
    hub has stopped (or stopping) now is settled so, not asked for again.
    """
    try:
        try:
            model = client.get_user(user)
        except HubAPIError as e:
            if e.status != 404:
                raise
            model = None
        if sent and model is not None:
            state = state_of(server_in(model, server))
            if state in ("stopped", "stopping"):
                return Outcome(user, server, state, "checked with the hub after an interruption")
        verdict = check(user, server, model)
        if verdict is not None:
            return Outcome(user, server, *verdict)
        before_send()
        status = client.stop_server(user, server)
    except HubAPIError as e:
        why = HIDDEN if e.status in (403, 404) else explain(e, user, server)[1]
        return Outcome(user, server, "failed", why)
    except HubUnreachable as e:
        maybe = "; it may have been stopped" if e.maybe_applied else ""
        return Outcome(user, server, "failed", f"the hub did not answer ({e.reason}){maybe}")
    return Outcome(user, server, "stopping" if status == 202 else "stopped")


def still_idle(idle: Idle, may_stop: Callable[[str, str, list], bool], now: Callable[[], datetime]):
    """The check for "stop all that match": the person may stop it, it is still running,
    and it is still idle that long (``now()`` at the moment of the check)."""

    def check(user: str, server: str, model: dict | None):
        # the permission first: a user one may not act on and one that does not exist are
        # answered alike, and neither says whether the server runs
        if model is None or not may_stop(user, server, model.get("groups") or ()):
            return "failed", HIDDEN
        current = server_in(model, server)
        state = state_of(current)
        if state != "running":
            return "skipped", "no longer running" if state == "stopped" else f"now {state}"
        last, at = parse_time(current.get("last_activity")), now()
        if not idle.idle_for(last, at):
            return "skipped", f"active again since the list was made (last active {_ago(last, at)})"
        return None

    return check


def _ago(t: datetime | None, now: datetime) -> str:
    """ "3 minutes before the check": an outcome's stored words name no time of day, whose
    zone would be nobody's in particular."""
    return f"{duration_words((now - t).total_seconds())} before the check" if t else "just now"
