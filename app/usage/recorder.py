"""The usage record's writes: each sweep's changes, and pruning (``HUBDESK_USAGE_KEEP_DAYS``).

Every worker of every replica calls :meth:`UsageRecorder.sample_if_due` at each look of its
job runner (every few seconds). One conditional UPDATE of ``usage_clock`` (the sweep is due
and its lease is free) lets exactly one of them sweep per interval; the others do nothing.
A sweep that fails (the hub or the database away) logs one warning line and leaves a gap in
the record (unknown, never zero): it never raises into the runner's loop.
"""

from __future__ import annotations

import logging
import time
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, select, tuple_, update

from ..db import Database, StateUnavailable, delete_in_batches
from ..hub import HubClient, HubError
from . import tables as t
from .days import day_of
from .sampler import Changes, Seen, compare, read_hub, read_record
from .writes import write

log = logging.getLogger(__name__)

LEASE_MIN_SECONDS = 60.0  # a sweep's lease: a worker that died holding it frees it after this
PRUNE_BATCH = 1000


class UsageRecorder:
    """Writes hubdesk's usage record; one per app, shared by its requests and job runner."""

    def __init__(self, database: Database, *, sample_seconds: float, keep_days: float, zone: str):
        self.database = database
        self.sample_seconds = sample_seconds
        self.keep_days = keep_days
        self.zone = ZoneInfo(zone)
        self.lease_seconds = max(LEASE_MIN_SECONDS, 2 * sample_seconds)
        self.on = sample_seconds > 0  # HUBDESK_USAGE_SAMPLE_SECONDS=0: no recording

    # -- the clock ---------------------------------------------------------------------

    def claim(self, owner: str, now: float) -> bool:
        """Take the sweep if it is due and nobody holds it: one conditional UPDATE."""
        c = t.usage_clock.c
        with self.database.write() as conn:
            taken = conn.execute(
                update(t.usage_clock)
                .where(
                    c.id == 1,
                    c.next_due <= now,
                    (c.lease_until.is_(None)) | (c.lease_until < now),
                )
                .values(owner=owner, lease_until=now + self.lease_seconds)
            ).rowcount
        return bool(taken)

    def release(self, owner: str, started: float) -> None:
        """The next sweep is due one interval after this one began; the lease is free."""
        c = t.usage_clock.c
        with self.database.write() as conn:
            conn.execute(
                update(t.usage_clock)
                .where(c.id == 1, c.owner == owner)
                .values(next_due=started + self.sample_seconds, owner=None, lease_until=None)
            )

    def sample_if_due(self, hub: HubClient, *, owner: str, now: float | None = None) -> bool:
        """At each look of the job runner (every worker): sweep if one is due and no other
        worker holds the sampler's lease; whether this worker swept. Never when recording
        is off (``HUBDESK_USAGE_SAMPLE_SECONDS=0``)."""
        if not self.on:
            return False
        now = time.time() if now is None else now
        try:
            if not self.claim(owner, now):
                return False
        except StateUnavailable as e:
            log.warning("usage: no sweep: %s", e)
            return False
        try:
            self.sweep(hub, now=now)
            return True
        except (HubError, StateUnavailable) as e:
            log.warning("usage: the sweep at %.0f failed, a gap in the record: %s", now, e)
        except Exception:  # a bug must not stop the runner's loop nor keep the lease
            log.exception("usage: the sweep at %.0f failed unexpectedly", now)
        finally:
            try:
                self.release(owner, now)
            except StateUnavailable as e:
                log.warning("usage: the sampler's lease stays until it expires: %s", e)
        return False

    # -- the sweep: read, compare, write ---------------------------------------------------

    def sweep(self, hub: HubClient, *, now: float | None = None) -> Changes:
        """One sweep now (the lease held, or in a test): the hub's one listing, then
        :meth:`record`; the changes."""
        now = time.time() if now is None else now
        seen, groups = read_hub(hub, now)
        return self.record(seen, groups, now=now)

    def record(
        self,
        seen: list[Seen],
        groups: dict[str, tuple[str, ...]],
        *,
        now: float,
    ) -> Changes:
        """The listing against the open sessions; only the changes written, with the
        sweep's coverage and hour rows, in one transaction. A session that ended counts for
        the groups its person had when it started (kept with it): someone whose last server
        went is no longer in the listing, and asking the hub for them would cost a call each."""
        with self.database.read() as conn:
            open_sessions, sweep = read_record(conn, now, self.sample_seconds)
        changes = compare(seen, open_sessions, sweep)
        with self.database.write() as conn:
            write(conn, changes, groups, self.zone)
        return changes

    # -- retention -------------------------------------------------------------------------

    def prune(self, *, now: float | None = None) -> int:
        """Forget what is older than ``keep_days``; how many rows went. Per person the latest
        day row before the horizon stays: its running totals are the base of later rows."""
        now = time.time() if now is None else now
        horizon = now - self.keep_days * 86400
        first_day = day_of(horizon, self.zone)
        s, c = t.usage_sessions.c, t.usage_coverage.c
        gone = delete_in_batches(
            self.database,
            s.id,
            s.ended < horizon,
            children=(t.usage_activity.c.session_id,),
            batch=PRUNE_BATCH,
        )
        gone += self._prune_days(first_day)
        gone += delete_in_batches(
            self.database, t.usage_group_days.c.day, t.usage_group_days.c.day < first_day
        )
        gone += delete_in_batches(
            self.database, t.usage_hours.c.hour, t.usage_hours.c.hour < int(horizon // 3600)
        )
        gone += delete_in_batches(self.database, c.id, c.last < horizon)
        return gone

    def _prune_days(self, first_day: int) -> int:
        d = t.usage_days.c
        later = t.usage_days.alias("later")
        # a row before the horizon with a later one also before it: not the base, it goes
        superseded = (
            select(later.c.day)
            .where(later.c.user == d.user, later.c.day > d.day, later.c.day < first_day)
            .exists()
        )
        gone = 0
        while True:
            with self.database.write() as conn:
                found = conn.execute(
                    select(d.user, d.day)
                    .where(and_(d.day < first_day, superseded))
                    .limit(PRUNE_BATCH)
                ).all()
                if not found:
                    return gone
                conn.execute(
                    delete(t.usage_days).where(tuple_(d.user, d.day).in_([tuple(r) for r in found]))
                )
                gone += len(found)
