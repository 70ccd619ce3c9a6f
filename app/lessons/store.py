"""Lessons and their runs in hubdesk's database.

A run (a start or a stop of one holding) is a row whose primary key is (lesson, kind,
holding): the worker whose insert lands makes the run, in the same transaction as its
job, so that with any number of workers and replicas each run happens exactly once.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.fernet import InvalidToken, MultiFernet
from sqlalchemy import and_, delete, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from .. import db
from ..db import Database
from . import schedule
from .schedule import When

RUNS_SHOWN = 5  # a lesson's last runs on its group's page
# the hub's default oauth_token_expires_in: a sign-in token lives this long (when it is what
# a person's lessons run on, its end is estimated from when it was sealed)
SIGNIN_SECONDS = 14 * 86400
LIMITS_LOCK = 0x6C657373  # a Postgres advisory lock: lesson saves check their limits in turn


class LessonLimit(Exception):
    """Saving this lesson would pass a limit (``settings.lessons_per_*``); words say which."""


@dataclass(frozen=True)
class Limits:
    per_group: int
    per_person: int


@dataclass
class Lesson:
    id: str
    group: str
    server: str
    spec: dict  # user_options, display_name, profile (in words), hub_major
    when: When
    by: str
    created: float
    updated: float
    cancelled: float | None

    @property
    def profile(self) -> str:
        return self.spec.get("profile") or ""


@dataclass
class LessonToken:
    """A person's hub API token for their lessons' starts (``token`` None: cannot be opened)."""

    person: str
    token: str | None = field(repr=False)
    token_id: str | None
    scopes: list
    expires: float | None  # None: never (as the hub made it)
    updated: float


@dataclass
class TokenHealth:
    """What a person's lessons' starts run on, for the warnings of the lessons pages."""

    person: str
    kind: str  # "lesson" (their lesson token) or "sign-in" (the OAuth token saved with them)
    expires: float | None  # when it stops working (estimated for a sign-in), None: never
    readable: bool  # False: sealed with a key hubdesk no longer has


@dataclass
class Run:
    lesson_id: str
    kind: str
    occurrence: float
    due: float
    ran: float
    late: bool
    job_id: str | None
    words: str
    job_state: str | None = None  # the job's state (running, done, paused), read with the run
    paused: str = ""  # why the job paused, in words (its result's "paused")


def _lesson(row) -> Lesson:
    return Lesson(
        id=row.id,
        group=row.group_name,
        server=row.server,
        spec=json.loads(row.spec),
        when=schedule.from_row(row),
        by=row.by,
        created=row.created,
        updated=row.updated,
        cancelled=row.cancelled,
    )


def _run(row) -> Run:
    paused = ""
    if getattr(row, "job_state", None) == "paused":
        try:
            paused = str(json.loads(row.job_result or "{}").get("paused") or "")
        except (ValueError, AttributeError):
            paused = ""
        paused = paused or "the hub refused several starts in a row"
    return Run(
        row.lesson_id,
        row.kind,
        row.occurrence,
        row.due,
        row.ran,
        row.late,
        row.job_id,
        row.words,
        job_state=getattr(row, "job_state", None),
        paused=paused,
    )


class LessonStore:
    def __init__(self, database: Database, fernet: MultiFernet):
        self.database = database
        self.fernet = fernet

    # -- lessons ------------------------------------------------------------------------

    def create(
        self,
        group: str,
        *,
        server: str,
        spec: dict,
        when: When,
        by: str,
        token: str,
        limits: Limits | None = None,
    ) -> str:
        """A new lesson; LessonLimit (nothing saved) if it would pass ``limits``."""
        lesson_id = secrets.token_hex(8)
        now = time.time()
        with self.database.write() as conn:
            if limits:
                self._check_limits(conn, limits, group=group, person=by)
            conn.execute(
                insert(db.lessons).values(
                    id=lesson_id,
                    group_name=group,
                    server=server,
                    spec=json.dumps(spec, ensure_ascii=False),
                    **schedule.as_row(when),
                    by=by,
                    token=self._seal(token),
                    created=now,
                    updated=now,
                    next_due=schedule.next_due(when, _at(now), set()),
                )
            )
        return lesson_id

    def change(
        self,
        lesson_id: str,
        *,
        server: str,
        spec: dict,
        when: When,
        by: str,
        token: str,
        limits: Limits | None = None,
    ):
        """New times or server; it then runs with the permissions of ``by`` (who changed it).

        Its runs so far stay: a holding already started is not started again.
        """
        now = time.time()
        with self.database.write() as conn:
            if limits:
                self._check_limits(conn, limits, person=by, besides=lesson_id)
            done = self._done(conn, [lesson_id], _since(now)).get(lesson_id, set())
            conn.execute(
                update(db.lessons)
                .where(db.lessons.c.id == lesson_id)
                .values(
                    server=server,
                    spec=json.dumps(spec, ensure_ascii=False),
                    **schedule.as_row(when),
                    by=by,
                    token=self._seal(token),
                    updated=now,
                    next_due=schedule.next_due(when, _at(now), done),
                )
            )

    def _check_limits(self, conn, limits: Limits, *, person: str, group=None, besides=None):
        """Inside the saving transaction: LessonLimit if one more lesson would pass a limit.

        On SQLite the transaction holds the write lock from its start; on Postgres an
        advisory lock makes concurrent saves count one after the other.
        """
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LIMITS_LOCK})
        t = db.lessons
        others = [t.c.id != besides] if besides else []

        def count(*where) -> int:
            return conn.execute(select(func.count()).where(*_standing(), *others, *where)).scalar()

        if group is not None and count(t.c.group_name == group) >= limits.per_group:
            raise LessonLimit(
                f"“{group}” has {limits.per_group} lessons already, the most a group may have "
                "(HUBDESK_LESSONS_PER_GROUP): cancel one first, or ask whoever runs hubdesk "
                "to raise the limit."
            )
        if count(t.c.by == person) >= limits.per_person:
            raise LessonLimit(
                f"{person} has {limits.per_person} lessons already, the most one person may "
                "have (HUBDESK_LESSONS_PER_PERSON; a lesson counts for whoever saved it last): "
                "cancel one first, or ask whoever runs hubdesk to raise the limit."
            )

    def count_of(self, person: str) -> int:
        """How many lessons count against ``person``'s limit (see ``_standing``)."""
        with self.database.read() as conn:
            return conn.execute(
                select(func.count()).where(*_standing(), db.lessons.c.by == person)
            ).scalar()

    def cancel(self, lesson_id: str, by: str) -> None:
        with self.database.write() as conn:
            conn.execute(
                update(db.lessons)
                .where(db.lessons.c.id == lesson_id, db.lessons.c.cancelled.is_(None))
                .values(cancelled=time.time(), cancel_by=by, next_due=None)
            )

    def get(self, lesson_id: str) -> Lesson | None:
        if len(lesson_id) != 16 or not all(c in "0123456789abcdef" for c in lesson_id):
            return None
        with self.database.read() as conn:
            row = conn.execute(select(db.lessons).where(db.lessons.c.id == lesson_id)).first()
        return _lesson(row) if row else None

    def active(self, groups: Iterable[str] | None = None) -> list[Lesson]:
        """Lessons not cancelled (of these groups; None: of every group)."""
        query = select(db.lessons).where(db.lessons.c.cancelled.is_(None))
        if groups is not None:
            query = query.where(db.lessons.c.group_name.in_(list(groups)))
        with self.database.read() as conn:
            return [_lesson(row) for row in conn.execute(query)]

    def due(self, now: float) -> list[Lesson]:
        """The lessons with a run that can be due by ``now`` (``next_due``; indexed): O(due)."""
        t = db.lessons
        query = select(t).where(t.c.next_due <= now).order_by(t.c.next_due)
        with self.database.read() as conn:
            return [_lesson(row) for row in conn.execute(query)]

    def set_next_due(self, lesson: Lesson, now: float) -> float | None:
        """After its runs: when this lesson can next have one due, from its runs so far.

        Only if the lesson was not saved again meanwhile (its new times set their own).
        """
        t = db.lessons
        with self.database.write() as conn:
            done = self._done(conn, [lesson.id], _since(now)).get(lesson.id, set())
            nxt = schedule.next_due(lesson.when, _at(now), done)
            conn.execute(
                update(t)
                .where(t.c.id == lesson.id, t.c.updated == lesson.updated, t.c.cancelled.is_(None))
                .values(next_due=nxt)
            )
        return nxt

    def upcoming(
        self, groups: Iterable[str] | None, *, offset: int = 0, limit: int = 50
    ) -> tuple[list[Lesson], int]:
        """A page of the lessons with runs to come (of these groups; None: every group),
        by their next run, and how many there are in all."""
        t = db.lessons
        where = [t.c.next_due.is_not(None)]
        if groups is not None:
            where.append(t.c.group_name.in_(sorted(groups)))
        with self.database.read() as conn:
            total = conn.execute(select(func.count()).where(*where)).scalar() or 0
            rows = conn.execute(
                select(t).where(*where).order_by(t.c.next_due, t.c.id).offset(offset).limit(limit)
            ).all()
        return [_lesson(row) for row in rows], total

    def of_group(self, group: str, *, limit: int, past: int) -> tuple[list[Lesson], list[Lesson]]:
        """A group's lessons to come (at most ``limit``, by their next run) and its last
        ``past`` ones held once and over (not cancelled; most recently saved first)."""
        t = db.lessons
        mine = [t.c.group_name == group, t.c.cancelled.is_(None)]
        with self.database.read() as conn:
            coming = conn.execute(
                select(t)
                .where(*mine, t.c.next_due.is_not(None))
                .order_by(t.c.next_due, t.c.id)
                .limit(limit)
            ).all()
            over = conn.execute(
                select(t)
                .where(*mine, t.c.next_due.is_(None))
                .order_by(t.c.updated.desc())
                .limit(past)
            ).all()
        return [_lesson(r) for r in coming], [_lesson(r) for r in over]

    def standing(self, group: str, limit: int = 20) -> list[Lesson]:
        """A group's lessons with runs to come (at most ``limit``), for warnings."""
        return self.of_group(group, limit=limit, past=0)[0]

    def refresh_token(self, person: str, token: str) -> None:
        """At each sign-in: the person's lessons ask the hub with their newest token."""
        with self.database.write() as conn:
            conn.execute(
                update(db.lessons)
                .where(db.lessons.c.by == person, db.lessons.c.cancelled.is_(None))
                .values(token=self._seal(token))
            )

    def token_of(self, lesson_id: str) -> str | None:
        with self.database.read() as conn:
            sealed = conn.execute(
                select(db.lessons.c.token).where(db.lessons.c.id == lesson_id)
            ).scalar()
        try:
            return self.fernet.decrypt(sealed.encode()).decode() if sealed else None
        except InvalidToken:
            return None  # sealed with another secret key

    # -- lesson tokens: one hub API token per person, for their lessons' starts -------------

    def save_lesson_token(
        self, person: str, token: str, *, token_id: str | None, scopes, expires: float | None
    ) -> str | None:
        """Keep ``person``'s new lesson token (sealed); the id of the one it replaces, if any
        (to be revoked on the hub), read in the same transaction as the write."""
        now = time.time()
        t = db.lesson_tokens
        values = {
            "token": self._seal(token),
            "token_id": token_id,
            "scopes": json.dumps(sorted(scopes)),
            "expires": expires,
            "updated": now,
        }
        with self.database.write() as conn:
            previous = conn.execute(select(t.c.token_id).where(t.c.person == person)).first()
            if previous is None:
                conn.execute(insert(t).values(person=person, created=now, **values))
                return None
            conn.execute(update(t).where(t.c.person == person).values(**values))
        return previous.token_id if previous.token_id != token_id else None

    def lesson_token(self, person: str) -> LessonToken | None:
        """``person``'s lesson token, if they have one (``token`` None: cannot be opened)."""
        t = db.lesson_tokens
        with self.database.read() as conn:
            row = conn.execute(select(t).where(t.c.person == person)).first()
        if row is None:
            return None
        return LessonToken(
            person=row.person,
            token=self._open(row.token),
            token_id=row.token_id,
            scopes=json.loads(row.scopes or "[]"),
            expires=row.expires,
            updated=row.updated,
        )

    def owns_lessons(self, person: str) -> bool:
        """Whether ``person`` is the owner of a lesson not cancelled."""
        les = db.lessons
        with self.database.read() as conn:
            return (
                conn.execute(
                    select(les.c.id).where(les.c.by == person, les.c.cancelled.is_(None)).limit(1)
                ).first()
                is not None
            )

    def forget_lesson_token(self, person: str, token_id: str | None) -> None:
        """The hub no longer has this token (revoked there): forget it, unless renewed since."""
        t = db.lesson_tokens
        with self.database.write() as conn:
            conn.execute(delete(t).where(t.c.person == person, t.c.token_id == token_id))

    def token_health(self, lessons: Iterable[Lesson]) -> dict[str, TokenHealth]:
        """For the owner of each of these lessons: what their starts run on, and until when."""
        owners = {lesson.by: lesson for lesson in lessons}
        if not owners:
            return {}
        t, les = db.lesson_tokens, db.lessons
        with self.database.read() as conn:
            rows = {
                r.person: r for r in conn.execute(select(t).where(t.c.person.in_(list(owners))))
            }
            sealed = dict(
                conn.execute(
                    select(les.c.id, les.c.token).where(
                        les.c.id.in_([lesson.id for lesson in owners.values()])
                    )
                ).all()
            )
        found = {}
        for person, lesson in owners.items():
            row = rows.get(person)
            if row is not None:
                found[person] = TokenHealth(
                    person, "lesson", row.expires, self._open(row.token) is not None
                )
                continue
            # no lesson token: the sign-in token saved with the lesson, sealed when they last
            # signed in or saved it (a Fernet token carries the time it was sealed)
            try:
                sealed_at = self.fernet.extract_timestamp(sealed.get(lesson.id, "").encode())
            except (InvalidToken, ValueError, TypeError):
                found[person] = TokenHealth(person, "sign-in", None, False)
                continue
            found[person] = TokenHealth(person, "sign-in", sealed_at + SIGNIN_SECONDS, True)
        return found

    def _open(self, sealed: str | None) -> str | None:
        try:
            return self.fernet.decrypt(sealed.encode()).decode() if sealed else None
        except InvalidToken:
            return None  # sealed with a key hubdesk no longer has

    def _seal(self, token: str) -> str:
        return self.fernet.encrypt(token.encode()).decode()

    # -- runs ------------------------------------------------------------------------------

    def done(
        self, since: float, lesson_ids: Iterable[str] | None = None
    ) -> dict[str, set[tuple[str, float]]]:
        """Every run of a holding since ``since`` (of these lessons; None: of all of them):
        {lesson: {(kind, occurrence)}}."""
        with self.database.read() as conn:
            return self._done(conn, lesson_ids, since)

    @staticmethod
    def _done(conn, lesson_ids, since: float) -> dict[str, set[tuple[str, float]]]:
        r = db.lesson_runs
        query = select(r.c.lesson_id, r.c.kind, r.c.occurrence).where(r.c.occurrence >= since)
        rows = []
        if lesson_ids is None:
            rows = conn.execute(query).all()
        else:
            ids = list(lesson_ids)
            for start in range(0, len(ids), 500):  # bounded IN lists
                rows += conn.execute(query.where(r.c.lesson_id.in_(ids[start : start + 500])))
        found: dict[str, set[tuple[str, float]]] = {}
        for lesson_id, kind, occurrence in rows:
            found.setdefault(lesson_id, set()).add((kind, occurrence))
        return found

    def runs(self, lesson_ids: Iterable[str], per_lesson: int = RUNS_SHOWN) -> dict[str, list[Run]]:
        """The latest runs of these lessons, newest first, with their jobs' states: one query."""
        ids = list(lesson_ids)
        found: dict[str, list[Run]] = {lesson_id: [] for lesson_id in ids}
        if not ids:
            return found
        r, j = db.lesson_runs, db.jobs
        place = (
            func.row_number()
            .over(partition_by=r.c.lesson_id, order_by=(r.c.occurrence.desc(), r.c.kind.desc()))
            .label("place")
        )
        latest = select(r, place).where(r.c.lesson_id.in_(ids)).subquery()
        query = (
            select(latest, j.c.state.label("job_state"), j.c.result.label("job_result"))
            .select_from(latest.outerjoin(j, j.c.id == latest.c.job_id))
            .where(latest.c.place <= per_lesson)
            .order_by(latest.c.lesson_id, latest.c.place)
        )
        with self.database.read() as conn:
            for row in conn.execute(query):
                found[row.lesson_id].append(_run(row))
        return found

    def start_job_of(self, lesson_id: str, occurrence: float) -> str | None:
        """The job of that occurrence's start (None: refused, or never made)."""
        r = db.lesson_runs
        with self.database.read() as conn:
            return conn.execute(
                select(r.c.job_id).where(
                    r.c.lesson_id == lesson_id, r.c.kind == "start", r.c.occurrence == occurrence
                )
            ).scalar()

    def record_run(self, conn, lesson: Lesson, due: schedule.Due, *, job_id, words: str) -> bool:
        """Write the run in ``conn``'s transaction; False if another worker made it already."""
        values = {
            "lesson_id": lesson.id,
            "kind": due.kind,
            "occurrence": due.occurrence,
            "due": due.at.timestamp(),
            "ran": time.time(),
            "late": due.late,
            "job_id": job_id,
            "words": words,
        }
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(db.lesson_runs).values(values).on_conflict_do_nothing()
        # the row it returns, not rowcount: an INSERT's rowcount is not kept (-1 on psycopg)
        return conn.execute(statement.returning(db.lesson_runs.c.kind)).first() is not None

    def taken(self, conn, lesson: Lesson, due: schedule.Due) -> bool:
        """Whether this run is made already (read inside the writing transaction)."""
        r = db.lesson_runs
        return (
            conn.execute(
                select(r.c.kind).where(
                    and_(
                        r.c.lesson_id == lesson.id,
                        r.c.kind == due.kind,
                        r.c.occurrence == due.occurrence,
                    )
                )
            ).first()
            is not None
        )


def _standing() -> list:
    """Lessons that count against the limits: not cancelled and with runs still to come
    (a lesson held once and over, ``next_due`` NULL, can do nothing more: it does not)."""
    t = db.lessons
    return [t.c.cancelled.is_(None), t.c.next_due.is_not(None)]


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _since(now: float) -> float:
    """The earliest holding the runner looks at (``schedule.LOOK_BACK`` and a day)."""
    return now - schedule.LOOK_BACK.total_seconds() - 86400
