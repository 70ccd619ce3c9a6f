"""Sign-in sessions as database rows, so that signing out ends them everywhere.

The browser's cookie (signed by Flask) holds only a random session id; the
row holds who signed in, their hub token (encrypted with a key derived from
``HUBDESK_SECRET_KEY``), when they signed in and when that stops counting
(``HUBDESK_SESSION_HOURS`` after sign-in, however busy they are). Signing out
ends the row: a copy of the cookie then leads to sign-in on every worker and
replica. The row is found by the sha256 of the id, so the table holds nothing a
cookie could be made from.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field

from cryptography.fernet import InvalidToken, MultiFernet
from sqlalchemy import delete, insert, or_, select, update

from . import db
from .db import Database


@dataclass(frozen=True)
class Signin:
    person: str
    token: str = field(repr=False)
    expires: float


def _key(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


class SessionStore:
    def __init__(self, database: Database, fernet: MultiFernet, hours: float):
        self.database = database
        self.fernet = fernet
        self.seconds = hours * 3600

    def begin(self, person: str, token: str) -> str:
        """A new session; the id for the cookie."""
        sid = secrets.token_urlsafe(32)
        now = time.time()
        with self.database.write() as conn:
            conn.execute(
                insert(db.sessions).values(
                    id=_key(sid),
                    person=person,
                    token=self.fernet.encrypt(token.encode()).decode(),
                    created=now,
                    expires=now + self.seconds,
                )
            )
        return sid

    def find(self, sid: str) -> Signin | None:
        """The live session with this id; None when there is none, it ended or expired."""
        if not isinstance(sid, str) or not sid:
            return None
        s = db.sessions
        with self.database.read() as conn:
            row = conn.execute(
                select(s.c.person, s.c.token, s.c.expires).where(
                    s.c.id == _key(sid), s.c.ended.is_(None), s.c.expires > time.time()
                )
            ).first()
        if row is None:
            return None
        try:
            token = self.fernet.decrypt(row.token.encode()).decode()
        except (InvalidToken, ValueError):
            return None  # sealed with another secret key
        return Signin(row.person, token, row.expires)

    def end(self, sid: str) -> None:
        with self.database.write() as conn:
            conn.execute(
                update(db.sessions)
                .where(db.sessions.c.id == _key(sid), db.sessions.c.ended.is_(None))
                .values(ended=time.time())
            )

    def prune(self) -> None:
        """Forget sessions that ended or expired more than a day ago."""
        cutoff = time.time() - 86400
        with self.database.write() as conn:
            conn.execute(
                delete(db.sessions).where(
                    or_(db.sessions.c.expires < cutoff, db.sessions.c.ended < cutoff)
                )
            )
