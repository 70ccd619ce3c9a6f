"""The usage record's tables (migration 0010), on hubdesk's one schema (``hubdesk.db``).

The hub keeps no history: a sampler (one across every worker and replica) reads the hub's
running and pending servers every HUBDESK_USAGE_SAMPLE_SECONDS and writes only what changed.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ..db import ID, NAME, metadata

# one row (id 1): the sampler's clock and lease. A worker sweeps when ``next_due`` has come
# and no other worker holds the lease (``lease_until`` in the future)
usage_clock = Table(
    "usage_clock",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("next_due", Float, nullable=False, server_default="0"),
    Column("owner", String(64)),
    Column("lease_until", Float),
)

# the spans during which hubdesk was sampling: a sweep within two intervals of the last one
# extends the latest span (one write per sweep); a later one starts a new span. Outside every
# span, usage is unknown (never zero, never running)
usage_coverage = Table(
    "usage_coverage",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("started", Float, nullable=False),  # the span's first sweep
    Column("last", Float, nullable=False),  # its latest sweep
    Column("sweeps", Integer, nullable=False, server_default="1"),
    Index("ix_usage_coverage_last", "last"),
)

# one row per server session: from the hub's ``started`` to the sweep that found it gone
usage_sessions = Table(
    "usage_sessions",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("user", String(NAME), nullable=False),
    Column("server", String(NAME), nullable=False, server_default=""),  # "": the default one
    Column("profile", String(NAME), nullable=False, server_default=""),  # user_options' profile
    Column("options", Text, nullable=False, server_default="{}"),
    # the person's groups when it started (JSON list): its group days when it ends, without
    # asking the hub about someone no longer in its listing of active servers
    Column("groups", Text, nullable=False, server_default="[]"),  # user_options, JSON (capped)
    Column("started", Float, nullable=False),  # the hub's own ``started``
    Column("ready", Float),  # the first sweep that saw it ready (NULL: never: pending only)
    Column("last_seen", Float),  # the last sweep that saw it (NULL while open: the latest)
    Column("ended", Float),  # NULL: still running (or pending) at the latest sweep
    # it ended while hubdesk was not sampling: between last_seen and ended, not known when
    Column("ended_in_gap", Boolean, nullable=False, server_default="0"),
    Column("failed", Boolean, nullable=False, server_default="0"),  # gone without being ready
    Column("last_activity", Float),  # the hub's last_activity at the latest change
    Column("active_until", Float),  # the end of its current run of activity, if any
    UniqueConstraint("user", "server", "started", name="uq_usage_sessions_server_start"),
    Index("ix_usage_sessions_open", "ended"),
    Index("ix_usage_sessions_user", "user", "started"),
    Index("ix_usage_sessions_started", "started"),
)

# the spans during which a session's ``last_activity`` moved (sweep intervals, merged)
usage_activity = Table(
    "usage_activity",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("session_id", ID, ForeignKey("usage_sessions.id", ondelete="CASCADE"), nullable=False),
    Column("user", String(NAME), nullable=False),
    Column("start", Float, nullable=False),
    Column("end", Float, nullable=False),
    Index("ix_usage_activity_user", "user", "start"),
    Index("ix_usage_activity_session", "session_id"),
)

# per person per day (``day``: days since 1970-01-01 in HUBDESK_USAGE_TIMEZONE): the day's
# own numbers and running totals up to and including it (``cum_*``), so that any range's
# numbers for a person are two index lookups: cum(at its last day) - cum(before its first)
usage_days = Table(
    "usage_days",
    metadata,
    Column("user", String(NAME), primary_key=True),
    Column("day", Integer, primary_key=True),
    Column("server_seconds", Float, nullable=False, server_default="0"),  # closed sessions
    Column("active_seconds", Float, nullable=False, server_default="0"),
    Column("started", Integer, nullable=False, server_default="0"),  # sessions started
    Column("failed", Integer, nullable=False, server_default="0"),  # of which failed
    Column("last_seen", Float),  # the latest time seen with a server that day
    Column("cum_days", Integer, nullable=False, server_default="0"),  # days with activity
    Column("cum_server", Float, nullable=False, server_default="0"),
    Column("cum_active", Float, nullable=False, server_default="0"),
    Index("ix_usage_days_day", "day"),
    # a person's running totals at a bound in one index seek, no table read (app/usage/group.py)
    Index(
        "ix_usage_days_totals", "user", "day", "cum_days", "cum_server", "cum_active", "last_seen"
    ),
)

# per group per day, for a group's charts (its members at the time of the usage, from the
# user models the sampler reads): O(days) to draw, whatever the group's size
usage_group_days = Table(
    "usage_group_days",
    metadata,
    Column("group_name", String(NAME), primary_key=True),
    Column("day", Integer, primary_key=True),
    Column("active_members", Integer, nullable=False, server_default="0"),
    Column("server_seconds", Float, nullable=False, server_default="0"),
    Column("started", Integer, nullable=False, server_default="0"),
)

# hub-wide per UTC hour (``hour``: hours since the epoch) and profile ("*": all profiles):
# the peak and the sum of running servers over the hour's sweeps, starts and failures
usage_hours = Table(
    "usage_hours",
    metadata,
    Column("hour", Integer, primary_key=True),
    Column("profile", String(NAME), primary_key=True),
    Column("peak", Integer, nullable=False, server_default="0"),
    Column("running_sum", Integer, nullable=False, server_default="0"),
    Column("samples", Integer, nullable=False, server_default="0"),
    Column("started", Integer, nullable=False, server_default="0"),
    Column("failed", Integer, nullable=False, server_default="0"),
)
