"""Usage: hubdesk's own record of who used the hub, when and for how long (app/usage).

The sampler's clock (one row), the spans it sampled, server sessions and their activity,
and per-day and per-hour numbers written as sessions change (see ``hubdesk.usage.tables``).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

NAME = 255
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    clock = op.create_table(
        "usage_clock",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("next_due", sa.Float, nullable=False, server_default="0"),
        sa.Column("owner", sa.String(64)),
        sa.Column("lease_until", sa.Float),
    )
    op.bulk_insert(clock, [{"id": 1, "next_due": 0.0}])
    op.create_table(
        "usage_coverage",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("started", sa.Float, nullable=False),
        sa.Column("last", sa.Float, nullable=False),
        sa.Column("sweeps", sa.Integer, nullable=False, server_default="1"),
    )
    op.create_index("ix_usage_coverage_last", "usage_coverage", ["last"])
    op.create_table(
        "usage_sessions",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("user", sa.String(NAME), nullable=False),
        sa.Column("server", sa.String(NAME), nullable=False, server_default=""),
        sa.Column("profile", sa.String(NAME), nullable=False, server_default=""),
        sa.Column("options", sa.Text, nullable=False, server_default="{}"),
        sa.Column("groups", sa.Text, nullable=False, server_default="[]"),
        sa.Column("started", sa.Float, nullable=False),
        sa.Column("ready", sa.Float),
        sa.Column("last_seen", sa.Float),
        sa.Column("ended", sa.Float),
        sa.Column("ended_in_gap", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("failed", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("last_activity", sa.Float),
        sa.Column("active_until", sa.Float),
        sa.UniqueConstraint("user", "server", "started", name="uq_usage_sessions_server_start"),
    )
    op.create_index("ix_usage_sessions_open", "usage_sessions", ["ended"])
    op.create_index("ix_usage_sessions_user", "usage_sessions", ["user", "started"])
    op.create_index("ix_usage_sessions_started", "usage_sessions", ["started"])
    op.create_table(
        "usage_activity",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column(
            "session_id",
            ID,
            sa.ForeignKey("usage_sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("user", sa.String(NAME), nullable=False),
        sa.Column("start", sa.Float, nullable=False),
        sa.Column("end", sa.Float, nullable=False),
    )
    op.create_index("ix_usage_activity_user", "usage_activity", ["user", "start"])
    op.create_index("ix_usage_activity_session", "usage_activity", ["session_id"])
    op.create_table(
        "usage_days",
        sa.Column("user", sa.String(NAME), primary_key=True),
        sa.Column("day", sa.Integer, primary_key=True),
        sa.Column("server_seconds", sa.Float, nullable=False, server_default="0"),
        sa.Column("active_seconds", sa.Float, nullable=False, server_default="0"),
        sa.Column("started", sa.Integer, nullable=False, server_default="0"),
        sa.Column("failed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_seen", sa.Float),
        sa.Column("cum_days", sa.Integer, nullable=False, server_default="0"),
        sa.Column("cum_server", sa.Float, nullable=False, server_default="0"),
        sa.Column("cum_active", sa.Float, nullable=False, server_default="0"),
    )
    op.create_index("ix_usage_days_day", "usage_days", ["day"])
    op.create_index(
        "ix_usage_days_totals",
        "usage_days",
        ["user", "day", "cum_days", "cum_server", "cum_active", "last_seen"],
    )
    op.create_table(
        "usage_group_days",
        sa.Column("group_name", sa.String(NAME), primary_key=True),
        sa.Column("day", sa.Integer, primary_key=True),
        sa.Column("active_members", sa.Integer, nullable=False, server_default="0"),
        sa.Column("server_seconds", sa.Float, nullable=False, server_default="0"),
        sa.Column("started", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "usage_hours",
        sa.Column("hour", sa.Integer, primary_key=True),
        sa.Column("profile", sa.String(NAME), primary_key=True),
        sa.Column("peak", sa.Integer, nullable=False, server_default="0"),
        sa.Column("running_sum", sa.Integer, nullable=False, server_default="0"),
        sa.Column("samples", sa.Integer, nullable=False, server_default="0"),
        sa.Column("started", sa.Integer, nullable=False, server_default="0"),
        sa.Column("failed", sa.Integer, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    for table in (
        "usage_hours",
        "usage_group_days",
        "usage_days",
        "usage_activity",
        "usage_sessions",
        "usage_coverage",
        "usage_clock",
    ):
        op.drop_table(table)
