"""The one job runner: group actions and long membership changes, as database rows.

A job is a row of ``jobs`` and each member (or name) an item row with its own
outcome, so every worker of every replica sharing the database shows the same
page. The worker running a job holds a *lease* on it and renews it every
``RENEW_SECONDS``; when that worker (or its whole replica) dies, the lease runs
out after ``LEASE_SECONDS`` and any other worker's poller takes the job over.
The work of each kind (:data:`KINDS`) settles an unfinished item by what the
hub has before it sends anything, and an item is marked *sent* in the database
before its request goes out, so nothing is asked of the hub twice.

A job is done only when every item has an outcome. On SIGTERM a worker takes
no new items, lets those in flight finish and gives its leases back, so
another worker carries on at once. Whoever may run a group action may cancel
it: items not sent yet are reported "cancelled".

A job may also be *paused* (a bulk start whose spawns kept failing: see
``hubdesk.servers.breaker``): its row's state is "paused", ``result["paused"]`` says
why in words, and its items never sent are "paused". No worker takes a paused
job over; it stays so, across restarts, until someone resumes it (its items go
back to "waiting") or cancels it (they become "cancelled" and the job is done).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import and_, case, func, insert, or_, select, update

from . import audit, db, logs, permissions
from .db import Database, StateUnavailable
from .hub import HubClient

log = logging.getLogger(__name__)

LEASE_SECONDS = 30.0  # a job whose worker stopped renewing for this long is taken over
PRUNE_SECONDS = 3600.0  # how often old records are forgotten
_JOB_ID = "0123456789abcdef"

# outcomes an item keeps for good are all but these: "waiting" and "starting" are on the
# way, "paused" waits for someone to resume (or cancel) its paused job
PENDING = frozenset({"waiting", "starting", "paused"})
PAUSED = "paused"


class Stopping(Exception):
    """This worker is shutting down (or lost its lease): leave the rest to the lease."""


@dataclass
class Item:
    name: str
    op: str
    position: int
    outcome: str
    words: str
    sent: bool

    @property
    def finished(self) -> bool:
        return self.outcome not in PENDING


@dataclass
class Job:
    """A job as its page shows it."""

    id: str
    kind: str
    group: str
    by: str
    spec: dict
    scopes: frozenset
    created: float
    updated: float
    finished: float | None
    state: str
    lease_owner: str | None
    lease_until: float | None
    result: dict
    cancel_by: str | None
    takeovers: int
    items: dict[str, Item] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.state == "done"

    @property
    def paused(self) -> bool:
        """Waiting for someone to resume or cancel it: no worker runs it meanwhile."""
        return self.state == PAUSED

    @property
    def orphaned(self) -> bool:
        """Unfinished, and no worker holds it just now (one takes it over shortly)."""
        return not self.done and not self.paused and (self.lease_until or 0) < time.time()

    @property
    def actor(self) -> str:
        """Whom its hub calls are on record for: who resumed it last, else who asked."""
        return self.result.get("resumed_by") or self.by

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for item in self.items.values():
            found[item.outcome] = found.get(item.outcome, 0) + 1
        return found

    def pending(self) -> list[Item]:
        return sorted((i for i in self.items.values() if not i.finished), key=_position)


def _position(item: Item) -> int:
    return item.position


class DamagedRecord(Exception):
    """A job row that cannot be read (edited by hand, or written by a broken version)."""


def _job(row, items=()) -> Job:
    try:
        spec = json.loads(row.spec)
        scopes = json.loads(row.scopes)
        result = json.loads(row.result) if row.result else {}
        if not (isinstance(spec, dict) and isinstance(scopes, list) and isinstance(result, dict)):
            raise ValueError("not the shape of a job")
        job = Job(
            id=row.id,
            kind=row.kind,
            group=row.group_name,
            by=row.by,
            spec=spec,
            scopes=frozenset(str(s) for s in scopes),
            created=float(row.created),
            updated=float(row.updated),
            finished=row.finished,
            state=row.state,
            lease_owner=row.lease_owner,
            lease_until=row.lease_until,
            result=result,
            cancel_by=row.cancel_by,
            takeovers=row.takeovers or 0,
        )
    except (ValueError, TypeError) as e:
        raise DamagedRecord(f"job {row.id}: {e}") from None
    for r in items:
        job.items[r.name] = Item(r.name, r.op, r.position, r.outcome, r.words, bool(r.sent))
    return job


class JobStore:
    """Jobs and their items in the database."""

    def __init__(self, database: Database, *, lease_seconds: float = LEASE_SECONDS):
        self.database = database
        self.lease_seconds = lease_seconds

    @staticmethod
    def _check(job_id: str) -> str:
        if len(job_id) != 16 or any(c not in _JOB_ID for c in job_id):
            raise KeyError(job_id)
        return job_id

    def create(
        self,
        kind: str,
        group: str,
        *,
        by: str,
        spec: dict,
        scopes: Iterable[str],
        items: list[tuple[str, str]],
        owner: str | None = None,
        conn=None,
    ) -> str:
        """A new job, held by ``owner`` when given; ``items`` are (name, op) pairs.

        With ``conn``, inside that transaction (a lesson's run and its job are one write).
        """
        if conn is None:
            with self.database.write() as conn:
                return self.create(
                    kind,
                    group,
                    by=by,
                    spec=spec,
                    scopes=scopes,
                    items=items,
                    owner=owner,
                    conn=conn,
                )
        job_id = secrets.token_hex(8)
        now = time.time()
        conn.execute(
            insert(db.jobs).values(
                id=job_id,
                kind=kind,
                group_name=group,
                by=by,
                spec=json.dumps(spec, ensure_ascii=False),
                scopes=json.dumps(sorted(scopes)),
                created=now,
                updated=now,
                state="running",
                lease_owner=owner,
                lease_until=now + self.lease_seconds if owner else None,
                takeovers=0,
            )
        )
        rows = [
            {
                "job_id": job_id,
                "name": name,
                "op": op,
                "position": n,
                "outcome": "waiting",
                "words": "",
                "sent": False,
                "updated": now,
            }
            for n, (name, op) in enumerate(items)
        ]
        for start in range(0, len(rows), 1000):
            conn.execute(insert(db.job_items), rows[start : start + 1000])
        return job_id

    def get(self, job_id: str) -> Job | None:
        """The job with its items; None if there is none. DamagedRecord if unreadable."""
        try:
            self._check(job_id)
        except KeyError:
            return None
        with self.database.read() as conn:
            row = conn.execute(select(db.jobs).where(db.jobs.c.id == job_id)).first()
            if row is None:
                return None
            items = conn.execute(select(db.job_items).where(db.job_items.c.job_id == job_id)).all()
        return _job(row, items)

    def recent(self, group: str, kinds: Iterable[str], limit: int = 5) -> list[Job]:
        """The latest jobs of these kinds for a group, newest first (items not loaded).

        A damaged row is left out (and logged), never an error for the whole page.
        """
        j = db.jobs
        with self.database.read() as conn:
            # one exact index range per kind (group, kind, created), then merged: an IN over
            # kinds let PostgreSQL scan every job newest first instead
            rows = [
                row
                for kind_ in kinds
                for row in conn.execute(
                    select(j)
                    .where(j.c.group_name == group, j.c.kind == kind_)
                    .order_by(j.c.created.desc())
                    .limit(limit)
                )
            ]
            rows = sorted(rows, key=lambda r: r.created, reverse=True)[:limit]
            counts = {}
            if rows:
                tally = (
                    select(db.job_items.c.job_id, db.job_items.c.outcome, func.count())
                    .where(db.job_items.c.job_id.in_([r.id for r in rows]))
                    .group_by(db.job_items.c.job_id, db.job_items.c.outcome)
                )
                for job_id, outcome, n in conn.execute(tally):
                    counts.setdefault(job_id, {})[outcome] = n
        found = []
        for row in rows:
            try:
                job = _job(row)
            except DamagedRecord as e:
                log.error("a damaged job record is left out: %s", e)
                continue
            job.result = dict(job.result, counts=counts.get(row.id, {}))
            found.append(job)
        return found

    # -- leases -------------------------------------------------------------------

    def claim(self, owner: str) -> str | None:
        """Take over one unfinished job that no live worker holds; its id, or None."""
        now = time.time()
        free = or_(db.jobs.c.lease_until.is_(None), db.jobs.c.lease_until < now)
        # looked for first without the write lock (nearly always nothing): every worker
        # asks every few seconds; (state, lease_until) is indexed, finished jobs are not read
        with self.database.read() as conn:
            found = conn.execute(
                select(db.jobs.c.id).where(db.jobs.c.state == "running", free).limit(1)
            ).first()
        if found is None:
            return None
        with self.database.write() as conn:
            # conditional: of two workers claiming at once, one updates a row
            taken = conn.execute(
                update(db.jobs)
                .where(db.jobs.c.id == found.id, db.jobs.c.state == "running", free)
                .values(
                    lease_owner=owner,
                    lease_until=now + self.lease_seconds,
                    takeovers=db.jobs.c.takeovers + 1,
                )
            ).rowcount
        return found.id if taken else None

    def renew(self, job_id: str, owner: str) -> bool:
        """Keep holding the job; False if another worker has it now."""
        with self.database.write() as conn:
            return bool(
                conn.execute(
                    update(db.jobs)
                    .where(db.jobs.c.id == job_id, db.jobs.c.lease_owner == owner)
                    .values(lease_until=time.time() + self.lease_seconds)
                ).rowcount
            )

    def release(self, job_id: str, owner: str) -> None:
        """Give the job back: another worker takes it at once."""
        with self.database.write() as conn:
            conn.execute(
                update(db.jobs)
                .where(db.jobs.c.id == job_id, db.jobs.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    # -- items ------------------------------------------------------------------------

    def note(self, job_id: str, names: Iterable[str], outcome: str, words: str = "") -> None:
        """The outcome of these items."""
        self.set_outcome(job_id, names, outcome, words)

    def set_outcome(
        self, job_id: str, names: Iterable[str], outcome: str, words: str = "", *, conn=None
    ) -> None:
        """The outcome of these items (with ``conn``, in that transaction: a job and the
        outcomes it is made with, e.g. a lesson's members left out, are one write)."""
        if conn is None:
            with self.database.write() as conn:
                return self.set_outcome(job_id, names, outcome, words, conn=conn)
        now = time.time()
        self._set_items(conn, job_id, names, outcome=outcome, words=words[:2000], updated=now)
        conn.execute(update(db.jobs).where(db.jobs.c.id == job_id).values(updated=now))
        return None

    def mark_sent(self, job_id: str, names: Iterable[str]) -> None:
        """These items' requests are about to go out (written first: a resume then knows)."""
        with self.database.write() as conn:
            self._set_items(conn, job_id, names, sent=True)

    @staticmethod
    def _set_items(conn, job_id: str, names: Iterable[str], **values) -> None:
        names = list(names)
        items = db.job_items
        for start in range(0, len(names), 500):  # bounded IN lists
            part = names[start : start + 500]
            conn.execute(
                update(items)
                .where(items.c.job_id == job_id, items.c.name.in_(part))
                .values(**values)
            )

    def set_result(self, job_id: str, result: dict) -> None:
        with self.database.write() as conn:
            conn.execute(
                update(db.jobs)
                .where(db.jobs.c.id == job_id)
                .values(result=json.dumps(result, ensure_ascii=False), updated=time.time())
            )

    def finish(self, job_id: str) -> bool:
        """Mark the job done if every item has an outcome; whether it is done."""
        with self.database.write() as conn:
            return self._finish(conn, job_id, time.time())

    @staticmethod
    def _finish(conn, job_id: str, now: float) -> bool:
        open_items = conn.execute(
            select(func.count())
            .select_from(db.job_items)
            .where(db.job_items.c.job_id == job_id, db.job_items.c.outcome.in_(PENDING))
        ).scalar()
        if open_items:
            return False
        conn.execute(
            update(db.jobs)
            .where(db.jobs.c.id == job_id)
            .values(state="done", finished=now, updated=now, lease_owner=None, lease_until=None)
        )
        return True

    def set_aside(self, job_id: str) -> None:
        """A job that cannot be read is no longer offered to any worker."""
        with self.database.write() as conn:
            conn.execute(
                update(db.jobs)
                .where(db.jobs.c.id == job_id)
                .values(state="damaged", lease_owner=None, lease_until=None)
            )

    def cancel(self, job_id: str, by: str) -> str:
        """Cancel a job: "cancelling" (running: its worker sends nothing more), "cancelled"
        (it was paused: its items not sent are cancelled now, and it is done), or "" (it
        had finished)."""
        now = time.time()
        with self.database.write() as conn:
            running = conn.execute(
                update(db.jobs)
                .where(db.jobs.c.id == job_id, db.jobs.c.state == "running")
                .values(cancel_by=by, updated=now)
            ).rowcount
            if running:
                return "cancelling"
            # paused: nobody runs it, so the items not sent are settled here and now
            paused = conn.execute(
                update(db.jobs)
                .where(db.jobs.c.id == job_id, db.jobs.c.state == PAUSED)
                .values(cancel_by=by, state="running", updated=now)
            ).rowcount
            if not paused:
                return ""
            items = db.job_items
            conn.execute(
                update(items)
                .where(items.c.job_id == job_id, items.c.outcome == PAUSED)
                .values(
                    outcome="cancelled",
                    words=f"not started: cancelled by {by} while the action was paused"[:2000],
                    updated=now,
                )
            )
            self._finish(conn, job_id, now)  # else a worker takes it, and cancels the rest
        return "cancelled"

    def pause(self, job_id: str, owner: str, result: dict) -> bool:
        """Pause a job this worker holds (not if it was cancelled meanwhile); whether it is.

        ``result`` must say why (``result["paused"]``). No worker takes a paused job over.
        """
        with self.database.write() as conn:
            return bool(
                conn.execute(
                    update(db.jobs)
                    .where(
                        db.jobs.c.id == job_id,
                        db.jobs.c.state == "running",
                        db.jobs.c.lease_owner == owner,
                        db.jobs.c.cancel_by.is_(None),
                    )
                    .values(
                        state=PAUSED,
                        result=json.dumps(result, ensure_ascii=False),
                        lease_owner=None,
                        lease_until=None,
                        updated=time.time(),
                    )
                ).rowcount
            )

    def resume(
        self, job_id: str, by: str, *, scopes: Iterable[str], changes: dict, owner: str
    ) -> bool:
        """Resume a paused job, held by ``owner``; whether it was paused.

        Its "paused" items wait again; from now on it acts with the scopes of ``by`` (who
        resumes it, as they are now) and its hub calls are on record for them. ``changes``
        are merged into its result (the breaker's count to go on from).
        """
        now = time.time()
        with self.database.write() as conn:
            row = conn.execute(
                select(db.jobs.c.result).where(db.jobs.c.id == job_id, db.jobs.c.state == PAUSED)
            ).first()
            if row is None:
                return False
            try:
                result = json.loads(row.result) if row.result else {}
            except ValueError:
                result = {}
            result = result if isinstance(result, dict) else {}
            result.pop("paused", None)
            result.update(changes, resumed_by=by)
            taken = conn.execute(
                update(db.jobs)
                .where(db.jobs.c.id == job_id, db.jobs.c.state == PAUSED)
                .values(
                    state="running",
                    result=json.dumps(result, ensure_ascii=False),
                    scopes=json.dumps(sorted(scopes)),
                    lease_owner=owner,
                    lease_until=now + self.lease_seconds,
                    updated=now,
                )
            ).rowcount
            if not taken:
                return False
            items = db.job_items
            conn.execute(
                update(items)
                .where(items.c.job_id == job_id, items.c.outcome == PAUSED)
                .values(outcome="waiting", words="", updated=now)
            )
        return True

    # -- spawn failures in a row, hub-wide (hubdesk.servers.breaker.HubWide) ------------------

    def spawn_failures(self, forget_after: float) -> tuple[int, str]:
        """(failures in a row, the last one's words) of every bulk start, hub-wide; a count
        whose last change is older than ``forget_after`` seconds is forgotten (0)."""
        b = db.spawn_breaker
        with self.database.read() as conn:
            row = conn.execute(select(b.c.failures, b.c.message, b.c.updated)).first()
        if row is None or time.time() - row.updated > forget_after:
            return 0, ""
        return int(row.failures), row.message

    def count_spawn(self, failed: bool, message: str, forget_after: float) -> None:
        """One bulk start's spawn ended: a failure counts (from 1 again if the count was
        forgotten), a success resets the count."""
        b, now = db.spawn_breaker, time.time()
        if failed:
            fresh = b.c.updated >= now - forget_after
            values = {
                "failures": case((fresh, b.c.failures + 1), else_=1),
                "message": message[:500],
                "updated": now,
            }
        else:
            values = {"failures": 0, "updated": now}
        with self.database.write() as conn:
            if not conn.execute(update(b).where(b.c.id == 1).values(**values)).rowcount:
                first = {"failures": 1 if failed else 0, "message": message[:500] if failed else ""}
                conn.execute(insert(b).values(id=1, updated=now, **first))

    def allow_one_spawn(self, limit: int) -> None:
        """Someone resumed a paused start: one start may go out (hub-wide too)."""
        b = db.spawn_breaker
        with self.database.write() as conn:
            conn.execute(
                update(b)
                .where(b.c.id == 1, b.c.failures >= limit)
                .values(failures=max(0, limit - 1), updated=time.time())
            )

    def cancelled_by(self, job_id: str) -> str | None:
        with self.database.read() as conn:
            return conn.execute(select(db.jobs.c.cancel_by).where(db.jobs.c.id == job_id)).scalar()

    def prune(self, keep_days: float) -> int:
        """Forget finished jobs older than ``keep_days``, and paused ones nobody resumed or
        cancelled in that time (their members' servers are long past caring); how many went."""
        cutoff = time.time() - keep_days * 86400
        return db.delete_in_batches(
            self.database,
            db.jobs.c.id,
            and_(db.jobs.c.state.in_(("done", PAUSED)), db.jobs.c.created < cutoff),
            children=[db.job_items.c.job_id],
            batch=500,
        )


# -- running jobs ---------------------------------------------------------------------


class Context:
    """What the work of one job may use: the hub, the person's permissions, its items."""

    def __init__(self, runner: JobRunner, job: Job):
        self.runner = runner
        self.job = job
        self.hub = runner.hub
        self.store = runner.store
        self.lost = threading.Event()  # the lease went to another worker
        self._cancel_checked = 0.0
        self._cancelled = job.cancel_by

    def may(self, action: str, **target) -> bool:
        """The person's scopes (as they were when they asked) and the service's must allow it."""
        return permissions.allowed_both(
            self.job.scopes, self.runner.service_scopes, action, **target
        )

    def note(self, names, outcome: str, words: str = "") -> None:
        names = [names] if isinstance(names, str) else list(names)
        self.store.note(self.job.id, names, outcome, words)
        for name in names:
            item = self.job.items.get(name)
            if item:
                item.outcome, item.words = outcome, words

    def mark_sent(self, names) -> None:
        names = [names] if isinstance(names, str) else list(names)
        self.store.mark_sent(self.job.id, names)
        for name in names:
            if name in self.job.items:
                self.job.items[name].sent = True

    def set_result(self, result: dict) -> None:
        self.job.result = result
        self.store.set_result(self.job.id, result)

    def pause(self, reason: str) -> bool:
        """Pause the job (``result["paused"]`` = ``reason``); False if it was cancelled
        meanwhile or another worker holds it now."""
        result = dict(self.job.result, paused=reason)
        if not self.store.pause(self.job.id, self.runner.owner, result):
            return False
        self.job.result, self.job.state = result, PAUSED
        return True

    def cancelled(self) -> str | None:
        """Who cancelled the job, if someone did (asked at most once a second)."""
        if self._cancelled is None and time.monotonic() - self._cancel_checked > 1:
            self._cancel_checked = time.monotonic()
            self._cancelled = self.store.cancelled_by(self.job.id)
        return self._cancelled

    def check(self) -> None:
        """Before taking a new item: raise Stopping when this worker should not."""
        if self.runner.stopping.is_set() or self.lost.is_set():
            raise Stopping()


Work = Callable[[Context], None]
KINDS: dict[str, Work] = {}  # kind -> its work; registered by hubdesk.servers and hubdesk.groups


def kind(*names: str):
    """Register the work of these job kinds."""

    def register(work: Work) -> Work:
        for name in names:
            KINDS[name] = work
        return work

    return register


_RUNNERS: list[JobRunner] = []  # of this process, for stop_all()


def stop_all(wait: float | None = None) -> None:
    """Every job runner of this process stops taking items (gunicorn's SIGTERM, exit)."""
    for runner in list(_RUNNERS):
        runner.stop(wait)


class JobRunner:
    """Runs jobs in threads of this process, and takes over jobs whose worker died."""

    def __init__(
        self,
        store: JobStore,
        hub: HubClient,
        *,
        service_scopes: Callable[[], frozenset],
        concurrency: int = 5,
        failure_limit: int = 3,
        audit_trail: audit.AuditTrail | None = None,
        keep_days: float = 30,
        housekeeping: Callable[[], None] | None = None,
        on_group_change: Callable[[str, int | None], None] = lambda name, size: None,
        scheduler: Callable[[JobRunner], None] | None = None,
    ):
        self.on_group_change = on_group_change
        self.scheduler = scheduler  # at every look: makes the jobs that are due (lessons)
        # renewed three times a lease; orphans looked for six times a lease
        self.renew_seconds = store.lease_seconds / 3
        self.poll_seconds = store.lease_seconds / 6
        self.store = store
        self.hub = hub
        self.service_scopes = service_scopes
        self.concurrency = concurrency
        # a bulk start pauses after this many spawn failures in a row (hubdesk.servers.breaker)
        self.failure_limit = failure_limit
        self.audit = audit_trail  # records what a job does to its own record (a pause)
        self.keep_days = keep_days
        self.housekeeping = housekeeping
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._running: dict[str, threading.Event] = {}  # job id -> set when its thread ends
        self._pid = None
        self.owner = ""

    # -- starting and stopping ----------------------------------------------------------

    def ensure_started(self) -> None:
        """Start this process's poller (again after a fork: threads do not survive one)."""
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(4)}"
            self._running = {}
            self.stopping.clear()
            if self not in _RUNNERS:
                _RUNNERS.append(self)
            threading.Thread(target=self._poll, name="hubdesk-jobs", daemon=True).start()

    def stop(self, wait: float | None = None) -> None:
        """Take no new items. With ``wait``: after up to that many seconds, give back the
        leases still held (this process is going), so that another worker carries on at
        once rather than when they run out."""
        self.stopping.set()
        self._wake.set()
        if wait is None:
            return
        deadline = time.monotonic() + wait
        for done in list(self._running.values()):
            done.wait(max(0, deadline - time.monotonic()))
        for job_id in list(self._running):
            try:
                self.store.release(job_id, self.owner)
            except StateUnavailable:
                pass  # the lease runs out by itself

    # -- submitting ---------------------------------------------------------------------

    def submit(self, kind_: str, group: str, *, by: str, spec: dict, scopes, items) -> str:
        """Create a job held by this process and start it now; its id."""
        self.ensure_started()
        spec = dict(spec, request_id=logs.request_id())
        job_id = self.store.create(
            kind_, group, by=by, spec=spec, scopes=scopes, items=items, owner=self.owner
        )
        self._start(job_id)
        return job_id

    def resume(self, job_id: str, by: str, *, scopes, changes: dict) -> bool:
        """Take a paused job back, held by this process (see JobStore.resume); whether it
        was paused. :meth:`run_here` then runs it (once the resume is on record)."""
        self.ensure_started()
        if not self.store.resume(job_id, by, scopes=scopes, changes=changes, owner=self.owner):
            return False
        self.store.allow_one_spawn(self.failure_limit)  # hub-wide too: one start may go
        return True

    def wait(self, job_id: str, seconds: float) -> bool:
        """Wait for a job of this process to end its run here; whether it did."""
        done = self._running.get(job_id)
        return done.wait(seconds) if done is not None else False

    def run_here(self, job_id: str) -> None:
        """Run a job this process created holding its lease (a lesson's run)."""
        self._start(job_id)

    def _start(self, job_id: str) -> None:
        done = threading.Event()
        self._running[job_id] = done
        threading.Thread(
            target=self._run, args=(job_id, done), name=f"hubdesk-job-{job_id}", daemon=True
        ).start()

    # -- inside ----------------------------------------------------------------------------

    def _poll(self) -> None:
        pruned = -PRUNE_SECONDS  # at the first look, then once an hour
        while not self.stopping.is_set():
            try:
                if not self.store.database.ready:  # a worker may boot before its database
                    self.store.database.upgrade()
                while not self.stopping.is_set():
                    job_id = self.store.claim(self.owner)
                    if job_id is None:
                        break
                    log.warning("taking over job %s: its worker stopped holding it", job_id)
                    self._start(job_id)
                if self.scheduler and not self.stopping.is_set():
                    self.scheduler(self)
                if time.monotonic() - pruned > PRUNE_SECONDS:
                    pruned = time.monotonic()
                    self.store.prune(self.keep_days)
                    if self.housekeeping:
                        self.housekeeping()
            except StateUnavailable as e:
                log.warning("job runner: %s; trying again shortly", e)
            except Exception:
                log.exception("job runner: unexpected error; trying again shortly")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def _run(self, job_id: str, done: threading.Event) -> None:
        logs.background_id.set(f"job-{job_id}")
        context = None
        try:
            job = self.store.get(job_id)
            if job is None:
                return
            # the audit trail and the logs name the person and the request that asked
            audit.background_actor.set(job.actor)
            logs.background_id.set(job.spec.get("request_id") or f"job-{job_id}")
            context = Context(self, job)
            heartbeat = threading.Thread(
                target=self._renew, args=(job_id, context, done), daemon=True
            )
            heartbeat.start()
            try:
                KINDS[job.kind](context)
            except Stopping:
                log.info("job %s: left to the next worker", job_id)
            if not self.store.finish(job_id) and not (
                self.stopping.is_set() or context.lost.is_set() or context.job.paused
            ):
                log.error("job %s ended with items left; another worker will take it", job_id)
        except StateUnavailable as e:
            log.warning("job %s stopped: %s; another worker will take it over", job_id, e)
        except DamagedRecord as e:
            log.error("job %s cannot be run, and is set aside: %s", job_id, e)
            self.store.set_aside(job_id)
        except Exception:
            log.exception("job %s hit an unexpected error", job_id)
        finally:
            done.set()
            self._running.pop(job_id, None)
            try:
                self.store.release(job_id, self.owner)
            except StateUnavailable:
                pass  # the lease runs out by itself

    def _renew(self, job_id: str, context: Context, done: threading.Event) -> None:
        while not done.wait(self.renew_seconds):
            try:
                if not self.store.renew(job_id, self.owner):
                    log.warning("job %s: another worker holds it now", job_id)
                    context.lost.set()
                    return
            except StateUnavailable as e:
                log.warning("job %s: could not renew its lease (%s)", job_id, e)


def pool_map(context: Context, step: Callable[[Item], None], items: list[Item]) -> None:
    """Run ``step`` for each item, at most ``concurrency`` at once; stop taking new items
    when the worker stops or the job is cancelled (those left are then "cancelled")."""
    actor, request = audit.background_actor.get(), logs.background_id.get()
    stop = threading.Event()

    def one(item: Item) -> None:
        audit.background_actor.set(actor)
        logs.background_id.set(request)
        if stop.is_set():
            return
        try:
            context.check()
        except Stopping:
            stop.set()
            return
        who = context.cancelled()
        if who is not None and not item.sent:
            context.note(item.name, "cancelled", f"cancelled by {who} before it was sent")
            return
        step(item)

    with ThreadPoolExecutor(max_workers=context.runner.concurrency) as pool:
        list(pool.map(one, items))
    if stop.is_set():
        raise Stopping()
