"""The circuit breaker of bulk starts: so that a broken profile never shuts the hub down.

JupyterHub exits after ``Spawner.consecutive_failure_limit`` spawn failures in a
row (zero-to-jupyterhub sets 5); any success resets its count. A group start of a
server that always fails (a broken image, a hook that raises) would reach that
limit on its own, so a bulk start goes carefully:

- one start alone first; after each success the window of starts in flight doubles,
  up to the runner's concurrency; after a failure it is back to one;
- starts in flight count: a start is sent only while ``failures + in_flight < limit``,
  so that even if every start in flight failed, the failures in a row would not pass
  ``limit`` (hubdesk's ``HUBDESK_BULK_FAILURE_LIMIT``, kept below the hub's);
- at ``limit`` failures in a row nothing more is sent: the breaker *trips*, and the
  job is paused until someone resumes or cancels it.

Only spawn failures count (:func:`verdict`): a start that was sent and whose spawn
failed. Refusals (not allowed, the named-server limit, a name taken, an unknown
user, the hub's concurrent-spawn limit) neither count nor reset the count.

The hub counts failures hub-wide, so one job's count is not enough: several bulk
starts at once (the lessons of many classes at 9:00 with one broken image) would each
stay under the limit and together pass the hub's. So every breaker also asks
:class:`HubWide`: the failures in a row of every bulk start of every worker and
replica (kept in the database; any success resets it; forgotten after
``FORGET_SECONDS`` without a change, by when people's own successful starts have reset
the hub's count), and the starts in flight of every job of this process. A job goes by
whichever count is higher, and pauses when either reaches the limit.

Pure logic and a lock, no Flask and no HTTP: the job (``group_action``) asks it, and
gives it the database's count through :class:`HubWide`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

SUCCESS, FAILURE, NEITHER = "success", "failure", "neither"
WAIT_SECONDS = 0.5  # how often a start waiting for its turn asks whether to give up
FORGET_SECONDS = 900.0  # a hub-wide count unchanged this long is forgotten


class InFlight:
    """Starts in flight in this process, whichever job sent them."""

    def __init__(self):
        self._names: set[tuple[int, str]] = set()
        # held by a breaker across "may one more go?" and taking it, so that two jobs of
        # this process never both take the last place (re-entrant: add() takes it too)
        self.lock = threading.RLock()
        self._lock = self.lock

    def add(self, key: tuple[int, str]) -> None:
        with self._lock:
            self._names.add(key)

    def discard(self, key: tuple[int, str]) -> None:
        with self._lock:
            self._names.discard(key)

    def __len__(self) -> int:
        with self._lock:
            return len(self._names)


PROCESS = InFlight()


class HubWide:
    """The failures in a row of every bulk start, hub-wide: ``read()`` gives (count, the
    last failure's words), ``count(failed, words)`` adds an outcome (both from the
    database: :class:`hubdesk.jobs.JobStore`). Read at every question, never cached: another
    job's (or worker's) failure a moment ago must count now."""

    def __init__(
        self,
        read: Callable[[], tuple[int, str]],
        count: Callable[[bool, str], None],
    ):
        self._read, self._count = read, count

    def failures(self) -> tuple[int, str]:
        return self._read()

    def settle(self, failed: bool, message: str) -> None:
        self._count(failed, message)


NOBODY_ELSE = HubWide(lambda: (0, ""), lambda failed, message: None)


def verdict(outcome: str, *, sent: bool, status: int | None = None) -> str:
    """What one member's final outcome means to the breaker: SUCCESS, FAILURE or NEITHER.

    ``sent``: the start was sent (or may have been); ``status``: the hub's HTTP answer
    when it refused, None when the outcome comes from the spawn itself (its progress
    stream, or what the hub has after the start).
    """
    if outcome == "started":
        return SUCCESS
    if outcome in ("failed", "unknown") and sent and (status is None or status >= 500):
        # the spawn failed, the hub answered 5xx to the start, the hub has the server
        # stopped after a sent start, or hubdesk lost track of a sent start: the hub may
        # have counted it, so it counts here too (429 and other 4xx are refusals)
        return FAILURE
    return NEITHER


def pause_words(limit: int, message: str, *, hub_wide: bool = False) -> str:
    """Why a job paused, in words (the job page shows them, the audit record keeps them)."""
    starts = "1 start" if limit == 1 else f"{limit} starts in a row"
    if hub_wide:
        starts += " sent by hubdesk (this action's and others')"
    message = message.removeprefix("Spawn failed: ").strip()  # the hub's progress says so
    return (
        f"{starts} failed: {message or 'the spawn failed'}; nothing more was sent, "
        "so that the hub does not shut itself down"
    )


class Breaker:
    """The starts of one bulk start job: how many may be in flight, and whether it tripped.

    ``failures`` and ``message``: the failures in a row so far and the last one's words
    (a job taken over, or resumed, goes on from the count it had). ``on_count`` is
    called, under the breaker's lock, with the new count and the last failure's words
    whenever the count changes: the job keeps them in its record, in order.
    """

    def __init__(
        self,
        limit: int,
        widest: int,
        *,
        failures: int = 0,
        message: str = "",
        on_count: Callable[[int, str], None] = lambda failures, message: None,
        hub: HubWide = NOBODY_ELSE,
        process: InFlight | None = None,
    ):
        self.hub = hub
        self.process = process if process is not None else InFlight()
        self.limit = max(1, limit)
        self.widest = max(1, widest)
        self.failures = max(0, failures)
        self.window = 1  # starts carefully: one alone first
        self.in_flight: set[str] = set()
        self.last_message = message
        self.on_count = on_count
        self._lock = threading.Condition()

    def _failures(self) -> tuple[int, str]:
        """The higher of this job's count and the hub-wide one, with its last words."""
        hub_failures, hub_message = self.hub.failures()
        if hub_failures > self.failures:
            return hub_failures, hub_message
        return self.failures, self.last_message

    @property
    def tripped(self) -> bool:
        return self._failures()[0] >= self.limit

    @property
    def reason(self) -> str:
        """Why it tripped, in words ("" while it has not)."""
        failures, message = self._failures()
        if failures < self.limit:
            return ""
        if failures > self.failures:  # other bulk starts' failures, with this job's own
            return pause_words(self.limit, message, hub_wide=True)
        return pause_words(self.limit, message)

    def may_send(self) -> bool:
        """Whether one more start may go out now."""
        failures = self._failures()[0]
        in_flight = max(len(self.in_flight), len(self.process))
        return (
            failures < self.limit
            and failures + in_flight < self.limit
            and len(self.in_flight) < self.window
        )

    def _add(self, name: str) -> None:
        self.in_flight.add(name)
        self.process.add((id(self), name))

    def _discard(self, name: str) -> None:
        self.in_flight.discard(name)
        self.process.discard((id(self), name))

    def take(self, name: str, give_up: Callable[[], str | None] = lambda: None) -> str | None:
        """Wait for a turn to send ``name``'s start; None when it may go (it is in flight now).

        Otherwise the reason it may not: "paused" when the breaker tripped, or what
        ``give_up`` said (asked every WAIT_SECONDS while waiting; it may raise, too).
        """
        with self._lock:
            while True:
                if name in self.in_flight:
                    return None  # sent before (a try the hub may have had): still its turn
                if self.tripped:
                    return "paused"
                with self.process.lock:  # the check and the taking, as one for the process
                    if self.may_send():
                        self._add(name)
                        return None
                why = give_up()
                if why:
                    return why
                self._lock.wait(WAIT_SECONDS)

    def follow(self, name: str) -> None:
        """``name``'s start went out before (an earlier worker): in flight, whatever the window."""
        with self._lock:
            self._add(name)

    def settle(self, name: str, result: str, message: str = "") -> None:
        """``name``'s start ended: SUCCESS resets the count and widens the window,
        FAILURE counts and narrows it to one, NEITHER changes neither."""
        if result in (SUCCESS, FAILURE):
            self.hub.settle(result == FAILURE, message)
        with self._lock:
            self._discard(name)
            if result == SUCCESS:
                self.window = min(self.widest, self.window * 2)
                if self.failures:
                    self.failures = 0
                    self.on_count(0, self.last_message)
            elif result == FAILURE:
                self.window = 1
                self.failures += 1
                self.last_message = message
                self.on_count(self.failures, message)
            self._lock.notify_all()

    def leave(self, name: str) -> None:
        """``name`` is no longer in flight here, with no outcome (a worker stopping)."""
        with self._lock:
            if name in self.in_flight:
                self._discard(name)
                self._lock.notify_all()
