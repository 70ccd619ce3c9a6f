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

from cryptography.fernet import InvalidToken, MultiFernet
from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .. import db
from ..db import Database
from . import schedule
from .schedule import When

RUNS_SHOWN = 5  # a lesson's last runs on its group's page
# the hub's default oauth_token_expires_in: a sign-in token lives this long (when it is what
# a person's lessons run on, its end is estimated from when it was sealed)
SIGNIN_SECONDS = 14 * 86400


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
    return Run(
        row.lesson_id, row.kind, row.occurrence, row.due, row.ran, row.late, row.job_id, row.words
    )


class LessonStore:
    def __init__(self, database: Database, fernet: MultiFernet):
        self.database = database
        self.fernet = fernet

    # -- lessons ------------------------------------------------------------------------

    def create(
        self, group: str, *, server: str, spec: dict, when: When, by: str, token: str
    ) -> str:
        lesson_id = secrets.token_hex(8)
        now = time.time()
        with self.database.write() as conn:
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
                )
            )
        return lesson_id

    def change(self, lesson_id: str, *, server: str, spec: dict, when: When, by: str, token: str):
        """New times or server; it then runs with the permissions of ``by`` (who changed it)."""
        with self.database.write() as conn:
            conn.execute(
                update(db.lessons)
                .where(db.lessons.c.id == lesson_id)
                .values(
                    server=server,
                    spec=json.dumps(spec, ensure_ascii=False),
                    **schedule.as_row(when),
                    by=by,
                    token=self._seal(token),
                    updated=time.time(),
                )
            )

    def cancel(self, lesson_id: str, by: str) -> None:
        with self.database.write() as conn:
            conn.execute(
                update(db.lessons)
                .where(db.lessons.c.id == lesson_id, db.lessons.c.cancelled.is_(None))
                .values(cancelled=time.time(), cancel_by=by)
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

    def done(self, since: float) -> dict[str, set[tuple[str, float]]]:
        """Every run of a holding since ``since``: {lesson: {(kind, occurrence)}}."""
        r = db.lesson_runs
        with self.database.read() as conn:
            rows = conn.execute(
                select(r.c.lesson_id, r.c.kind, r.c.occurrence).where(r.c.occurrence >= since)
            ).all()
        found: dict[str, set[tuple[str, float]]] = {}
        for lesson_id, kind, occurrence in rows:
            found.setdefault(lesson_id, set()).add((kind, occurrence))
        return found

    def runs(self, lesson_ids: Iterable[str], per_lesson: int = RUNS_SHOWN) -> dict[str, list[Run]]:
        """The latest runs of these lessons, newest first."""
        found: dict[str, list[Run]] = {}
        r = db.lesson_runs
        with self.database.read() as conn:
            for lesson_id in lesson_ids:
                rows = conn.execute(
                    select(r)
                    .where(r.c.lesson_id == lesson_id)
                    .order_by(r.c.occurrence.desc(), r.c.kind.desc())
                    .limit(per_lesson)
                ).all()
                found[lesson_id] = [_run(row) for row in rows]
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
