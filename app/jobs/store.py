"""Jobs and their items in the database: made, read, leased, settled, paused, pruned.

A job is a row of ``jobs`` and each member (or name, or server) an item row with its own
outcome, so every worker of every replica sharing the database shows the same page. Its
``spec`` column holds the JSON of its kind's dataclass (:mod:`.specs`): the store reads it
back with the class registered for the kind (:meth:`JobStore.register`), else as a
:class:`~.specs.RawSpec`.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Iterable, Mapping

from sqlalchemy import and_, case, func, insert, or_, select, update

from .. import db
from ..db import Database
from .model import PAUSED, PENDING, DamagedRecord, Item, Job
from .specs import RawSpec, Spec

log = logging.getLogger(__name__)

LEASE_SECONDS = 30.0  # a job whose worker stopped renewing for this long is taken over
_JOB_ID = "0123456789abcdef"


def _job(row, specs: Mapping[str, type[Spec]], items=()) -> Job:
    try:
        data = json.loads(row.spec)
        scopes = json.loads(row.scopes)
        result = json.loads(row.result) if row.result else {}
        if not (isinstance(data, dict) and isinstance(scopes, list) and isinstance(result, dict)):
            raise ValueError("not the shape of a job")
        spec = specs.get(row.kind, RawSpec).from_json(data)
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

    def __init__(
        self,
        database: Database,
        *,
        lease_seconds: float = LEASE_SECONDS,
        specs: Mapping[str, type[Spec]] | None = None,
    ):
        self.database = database
        self.lease_seconds = lease_seconds
        self.specs: dict[str, type[Spec]] = dict(specs or {})  # kind -> its spec's class

    def register(self, kind: str, spec: type[Spec]) -> None:
        """Read the spec of jobs of ``kind`` as ``spec`` (:meth:`JobRunner.register` does)."""
        self.specs[kind] = spec

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
        spec: Spec | Mapping,
        scopes: Iterable[str],
        items: list[tuple[str, str]],
        owner: str | None = None,
        conn=None,
    ) -> str:
        """A new job, held by ``owner`` when given; ``items`` are (name, op) pairs.

        ``spec``: its kind's dataclass, or a mapping written as it is (as an older version
        wrote it). With ``conn``, inside that transaction (a lesson's run and its job are one
        write).
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
                spec=json.dumps(
                    spec.to_json() if isinstance(spec, Spec) else dict(spec), ensure_ascii=False
                ),
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
        return _job(row, self.specs, items)

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
            return self._with_counts(conn, rows)

    def _with_counts(self, conn, rows) -> list[Job]:
        """Jobs of these rows (items not loaded), each with ``result["counts"]``: its items by
        outcome, in one query. A damaged row is left out (and logged)."""
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
                job = _job(row, self.specs)
            except DamagedRecord as e:
                log.error("a damaged job record is left out: %s", e)
                continue
            job.result = dict(job.result, counts=counts.get(row.id, {}))
            found.append(job)
        return found

    def unfinished(self, groups: Iterable[str] | None = None, limit: int = 10) -> list[Job]:
        """The newest jobs still under way or paused (of these groups; None: any), each with
        ``result["counts"]`` (its items by outcome), as :meth:`recent` gives them: O(limit)."""
        j = db.jobs
        query = select(j).where(j.c.state.in_(("running", PAUSED)))
        if groups is not None:
            query = query.where(j.c.group_name.in_(sorted(groups)))
        query = query.order_by(j.c.created.desc()).limit(limit)
        with self.database.read() as conn:
            return self._with_counts(conn, conn.execute(query).all())

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
