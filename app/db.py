"""hubdesk's own database: what hubdesk remembers, shared by every worker and replica.

Group actions and long membership changes (with each member's outcome), the
audit trail, sign-in sessions and a log of group changes live here, through
SQLAlchemy Core. ``HUBDESK_DB_URL`` picks the database: by default an SQLite
file in ``HUBDESK_STATE_DIR`` (one host), PostgreSQL for several replicas. The
schema is made and upgraded by alembic (``app/migrations``): each process runs
``upgrade head`` at start under a lock, or an operator runs ``hubdesk-db
upgrade`` ahead of a rollout.

Every database error becomes :class:`StateUnavailable`, which pages answer with
a 503 in words ("hubdesk cannot reach its database"); the pool checks
connections before use, so hubdesk recovers by itself when the database is back.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import zlib
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    exc,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine, make_url

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
NAME = 255  # hub names (users, groups) are at most this long
# integer primary keys: 64-bit on PostgreSQL, SQLite's rowid there
ID = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("kind", String(16), nullable=False),  # start, stop, members
    Column("group_name", String(NAME), nullable=False),
    Column("by", String(NAME), nullable=False),
    Column("spec", Text, nullable=False),  # JSON: what to do (server, options, verb, ...)
    Column("scopes", Text, nullable=False),  # JSON: the person's scopes when they asked
    Column("created", Float, nullable=False),
    Column("updated", Float, nullable=False),
    Column("finished", Float),
    Column("state", String(16), nullable=False),  # running, done
    Column("lease_owner", String(64)),
    Column("lease_until", Float),
    Column("result", Text),  # JSON: a membership change's summary
    Column("cancel_by", String(NAME)),
    Column("takeovers", Integer, nullable=False, server_default="0"),
    Index("ix_jobs_group_kind_created", "group_name", "kind", "created"),
    Index("ix_jobs_state_lease", "state", "lease_until"),
    Index("ix_jobs_state_created", "state", "created"),
)

job_items = Table(
    "job_items",
    metadata,
    Column("job_id", String(16), ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(NAME), primary_key=True),
    Column("op", String(8), nullable=False, server_default=""),  # add/remove in a membership job
    Column("position", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("words", Text, nullable=False, server_default=""),
    Column("sent", Boolean, nullable=False, server_default="0"),  # may have reached the hub
    Column("updated", Float, nullable=False),
)

audit = Table(
    "audit",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("time", Float, nullable=False),
    Column("person", String(NAME), nullable=False),
    Column("action", String(64), nullable=False),
    Column("group_name", String(NAME)),
    Column("target", Text, nullable=False),  # JSON, at most audit.MAX_TARGET characters
    Column("hub", Text),  # the hub's answer; NULL while (or if never) answered
    Column("request_id", String(64), nullable=False),  # hubdesk's own, always
    Column("truncated", Boolean, nullable=False, server_default="0"),
    Column("proxy_request_id", String(64)),  # a trusted proxy's (HUBDESK_PROXY_HOPS), if any
    Index("ix_audit_person", "person", "id"),
    Index("ix_audit_group", "group_name", "id"),
    Index("ix_audit_time", "time"),
    Index("ix_audit_action", "action", "id"),
)

# every user an audit record names, for the "user" filter
audit_names = Table(
    "audit_names",
    metadata,
    Column("record_id", ID, ForeignKey("audit.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(NAME), primary_key=True),
    Index("ix_audit_names_name", "name", "record_id"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # sha256 of the id in the cookie
    Column("person", String(NAME), nullable=False),
    Column("token", Text, nullable=False),  # the person's hub token, encrypted
    Column("created", Float, nullable=False),
    Column("expires", Float, nullable=False),
    Column("ended", Float),
    Index("ix_sessions_expires", "expires"),
    Index("ix_sessions_person", "person"),
)

# groups changed through hubdesk: every worker applies them to its copy of the list
group_changes = Table(
    "group_changes",
    metadata,
    Column("seq", ID, primary_key=True, autoincrement=True),
    Column("name", String(NAME), nullable=False),
    Column("members", Integer),  # NULL: deleted, or -1: not known (read the hub)
    Column("time", Float, nullable=False),
    Index("ix_group_changes_time", "time"),
)


# lessons: a group's servers started before a class and stopped after it (app/lessons)
lessons = Table(
    "lessons",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("group_name", String(NAME), nullable=False),
    Column("server", String(NAME), nullable=False, server_default=""),  # "": the default one
    Column("spec", Text, nullable=False),  # JSON: user_options, display_name, profile in words
    Column("tz", String(64), nullable=False),
    Column("starts", String(8), nullable=False),  # local wall-clock time, "HH:MM[:SS]"
    Column("ends", String(8), nullable=False),
    Column("day", String(10)),  # "YYYY-MM-DD": held once
    Column("weekdays", String(16)),  # "0,2" (0 = Monday): held weekly
    Column("lead", Integer, nullable=False, server_default="0"),  # seconds before the start
    Column("by", String(NAME), nullable=False),  # whose permissions it runs with
    Column("token", Text, nullable=False),  # their hub token, encrypted: asked when it runs
    Column("created", Float, nullable=False),
    Column("updated", Float, nullable=False),
    Column("cancelled", Float),
    Column("cancel_by", String(NAME)),
    # when a run can next be due (epoch seconds); NULL: never again (cancelled, or held and
    # over): the runner reads only lessons with next_due <= now (migration 0007)
    Column("next_due", Float),
    Index("ix_lessons_group", "group_name"),
    Index("ix_lessons_cancelled", "cancelled"),
    Index("ix_lessons_by", "by"),
    Index("ix_lessons_next_due", "next_due"),
)

# each start and stop of a lesson's holding, made exactly once (the primary key)
lesson_runs = Table(
    "lesson_runs",
    metadata,
    Column("lesson_id", String(16), ForeignKey("lessons.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(8), primary_key=True),  # start, stop
    Column("occurrence", Float, primary_key=True),  # the holding's start (epoch seconds)
    Column("due", Float, nullable=False),
    Column("ran", Float, nullable=False),
    Column("late", Boolean, nullable=False, server_default="0"),
    Column("job_id", String(16)),  # NULL: refused (``words`` says why)
    Column("words", Text, nullable=False, server_default=""),
    Index("ix_lesson_runs_occurrence", "occurrence"),
)

# a lesson owner's own hub token (sealed), made with their sign-in: their lessons' starts ask
# the hub with it what the owner may do at that moment (migration 0006)
lesson_tokens = Table(
    "lesson_tokens",
    metadata,
    Column("person", String(NAME), primary_key=True),
    Column("token", Text, nullable=False),
    Column("token_id", String(64)),
    Column("scopes", Text, nullable=False, server_default="[]"),
    Column("expires", Float),
    Column("created", Float, nullable=False),
    Column("updated", Float, nullable=False),
)

# spawn failures in a row of every bulk start, hub-wide (one row, id 1: migration 0008)
spawn_breaker = Table(
    "spawn_breaker",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("message", Text, nullable=False, server_default=""),
    Column("updated", Float, nullable=False, server_default="0"),
)


class StateUnavailable(Exception):
    """hubdesk's database cannot be read or written (down, full, read-only, damaged)."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(f"hubdesk's database is unavailable: {reason}")


def reason_of(error: Exception) -> str:
    """A database error in words, without the URL or the statement (they may hold secrets)."""
    orig = getattr(error, "orig", None) or error
    message = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    lowered = message.lower()
    if "full" in lowered or "no space" in lowered or "could not extend" in lowered:
        return "the disk is full"
    if "readonly" in lowered or "read-only" in lowered or "read only" in lowered:
        return "its file cannot be written"
    if "connection" in lowered or "connect" in lowered or "terminat" in lowered:
        return "it does not answer"
    if "malformed" in lowered or "not a database" in lowered:
        return "its file is damaged"
    if "locked" in lowered:
        return "it is busy"
    return message[:200]


_ERRORS = (exc.OperationalError, exc.DatabaseError, exc.InterfaceError, exc.TimeoutError)


class Database:
    """An engine, with reads and writes that say ``StateUnavailable`` when it fails."""

    def __init__(self, url: str):
        self.url = make_url(url)
        self.sqlite = self.url.get_backend_name() == "sqlite"
        self.engine = _engine(self.url)
        self.ready = False  # the schema is known to be current
        # why the last write failed, while no write has succeeded since (health says it)
        self.write_problem: str | None = None
        # writes on SQLite take the write lock at BEGIN: two writers then queue on the
        # busy timeout instead of failing when a reader tries to become a writer
        self._writer = self.engine.execution_options(hubdesk_write=True)

    def __repr__(self):
        return f"<Database {self.url.render_as_string(hide_password=True)}>"

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self._translated(), self.engine.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction: committed at the end of the block, rolled back on an error."""
        try:
            with self._translated(), self._writer.begin() as conn:
                yield conn
        except StateUnavailable as e:
            self.write_problem = e.reason
            raise
        self.write_problem = None

    @contextlib.contextmanager
    def _translated(self):
        try:
            yield
        except exc.IntegrityError:
            raise  # a constraint said no: the caller's business, not an outage
        except _ERRORS as e:
            raise StateUnavailable(reason_of(e)) from None
        except OSError as e:  # e.g. the SQLite file's folder cannot be made
            raise StateUnavailable(e.strerror or str(e)) from None

    def ping(self) -> None:
        with self.read() as conn:
            conn.execute(text("SELECT 1"))

    # -- the schema ------------------------------------------------------------------

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` (alembic), one process at a time."""
        from alembic import command

        if self.sqlite and self.url.database and self.url.database != ":memory:":
            with self._translated():
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        config = alembic_config()
        with self._translated(), self._migration_lock(), self.engine.begin() as conn:
            if revision != "head" or current_revision(conn) != head_revision():
                config.attributes["connection"] = conn
                command.upgrade(config, revision)
        self.ready = revision == "head"

    @contextlib.contextmanager
    def _migration_lock(self):
        if self.sqlite:
            path = self.url.database
            if not path or path == ":memory:":
                yield
                return
            with open(f"{path}.migrate-lock", "a") as f:
                fcntl.flock(f, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(f, fcntl.LOCK_UN)
            return
        if self.url.get_backend_name() == "postgresql":
            key = zlib.crc32(b"hubdesk-migrations")
            with self.engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
                conn.commit()
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
            return
        yield

    def dispose(self) -> None:
        self.engine.dispose()


def _engine(url) -> Engine:
    if url.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 15},
            pool_pre_ping=True,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_setup(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # SQLAlchemy's BEGIN below, not the driver's
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=15000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            immediate = conn.get_execution_options().get("hubdesk_write")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        # per worker process: 2 replicas x 2 workers x 15 (and a pod surging in a rollout)
        # stay under PostgreSQL's default max_connections of 100
        pool_size=5,
        max_overflow=10,
        pool_timeout=10,
        pool_recycle=1800,
        connect_args={"connect_timeout": 5} if url.get_backend_name() == "postgresql" else {},
    )


def delete_in_batches(database: Database, key, where, *, children=(), batch: int = 1000) -> int:
    """Delete the rows ``where`` selects (``key``: their table's primary key column), with the
    rows of ``children`` (foreign-key columns) that refer to them, a batch per transaction so
    that none holds the tables for long; how many went."""
    gone = 0
    while True:
        with database.write() as conn:
            found = [r[0] for r in conn.execute(select(key).where(where).limit(batch))]
            if not found:
                return gone
            for column in children:
                conn.execute(delete(column.table).where(column.in_(found)))
            conn.execute(delete(key.table).where(key.in_(found)))
            gone += len(found)


def default_url(state_dir: str) -> str:
    return f"sqlite:///{os.path.join(os.path.abspath(state_dir), 'hubdesk.sqlite')}"


# -- alembic --------------------------------------------------------------------------


def alembic_config():
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()
