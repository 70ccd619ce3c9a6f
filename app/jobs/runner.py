"""The one job runner: group actions, long membership changes and hub-wide stops.

Jobs are database rows (:mod:`.store`), so every worker of every replica sharing
the database shows the same page. The worker running a job holds a *lease* on it
and renews it three times a lease; when that worker (or its whole replica) dies,
the lease runs out after ``LEASE_SECONDS`` and any other worker's poller takes the
job over. Each kind of job is registered with the runner by the app factory
(:meth:`JobRunner.register`: its work and its spec's class). The work settles an
unfinished item by what the hub has before it sends anything, and an item is
marked *sent* in the database before its request goes out, so nothing is asked of
the hub twice.

A job is done only when every item has an outcome. On SIGTERM a worker takes
no new items, lets those in flight finish and gives its leases back, so
another worker carries on at once. Whoever may steer a job may cancel
it: items not sent yet are reported "cancelled".

A job may also be *paused* (a bulk start whose spawns kept failing: see
``hubdesk.servers.breaker``): its row's state is "paused", ``result["paused"]`` says
why in words, and its items never sent are "paused". No worker takes a paused
job over; it stays so, across restarts, until someone resumes it (its items go
back to "waiting") or cancels it (they become "cancelled" and the job is done).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from .. import audit, logs, permissions
from ..db import StateUnavailable
from ..hub import HubClient
from .model import PAUSED, DamagedRecord, Item, Job
from .specs import Spec
from .store import JobStore

log = logging.getLogger(__name__)

PRUNE_SECONDS = 3600.0  # how often old records are forgotten


class Stopping(Exception):
    """This worker is shutting down (or lost its lease): leave the rest to the lease."""


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

    def set_outcome(self, names, outcome: str, words: str = "") -> None:
        """The outcome of these items (one name or several), in the database and here."""
        names = [names] if isinstance(names, str) else list(names)
        self.store.set_outcome(self.job.id, names, outcome, words)
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


Work = Callable[[Context], None]  # what a job of one kind does

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
        self._work: dict[str, Work] = {}  # kind -> its work (register())

    def register(self, kind: str, work: Work, spec: type[Spec]) -> None:
        """Jobs of ``kind`` are done by ``work``; their spec is a ``spec`` (read back so)."""
        self._work[kind] = work
        self.store.register(kind, spec)

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

    def submit(self, kind: str, group: str, *, by: str, spec: Spec, scopes, items) -> str:
        """Create a job held by this process and start it now; its id."""
        if kind not in self._work:
            raise KeyError(f"no job type {kind!r} was registered with the runner")
        self.ensure_started()
        spec = replace(spec, request_id=logs.request_id())
        job_id = self.store.create(
            kind, group, by=by, spec=spec, scopes=scopes, items=items, owner=self.owner
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
            logs.background_id.set(job.spec.request_id or f"job-{job_id}")
            context = Context(self, job)
            heartbeat = threading.Thread(
                target=self._renew, args=(job_id, context, done), daemon=True
            )
            heartbeat.start()
            work = self._work.get(job.kind)
            if work is None:
                log.error("job %s is of a kind this worker cannot run: %s", job_id, job.kind)
                return
            try:
                work(context)
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
            context.set_outcome(item.name, "cancelled", f"cancelled by {who} before it was sent")
            return
        step(item)

    with ThreadPoolExecutor(max_workers=context.runner.concurrency) as pool:
        list(pool.map(one, items))
    if stop.is_set():
        raise Stopping()
