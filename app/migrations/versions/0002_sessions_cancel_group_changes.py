"""Sessions that can be ended, cancelling group actions, group changes every worker applies,
audit records that say they were cut short.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("person", sa.String(255), nullable=False),
        sa.Column("token", sa.Text, nullable=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("expires", sa.Float, nullable=False),
        sa.Column("ended", sa.Float),
    )
    op.create_index("ix_sessions_expires", "sessions", ["expires"])
    op.create_index("ix_sessions_person", "sessions", ["person"])
    op.create_table(
        "group_changes",
        sa.Column("seq", ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("members", sa.Integer),
        sa.Column("time", sa.Float, nullable=False),
    )
    op.create_index("ix_group_changes_time", "group_changes", ["time"])
    # plain ADD COLUMN (SQLite has it): no table is rebuilt, so no row is touched
    op.add_column("jobs", sa.Column("cancel_by", sa.String(255)))
    op.add_column("jobs", sa.Column("takeovers", sa.Integer, nullable=False, server_default="0"))
    op.add_column("audit", sa.Column("truncated", sa.Boolean, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("audit") as batch:
        batch.drop_column("truncated")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("takeovers")
        batch.drop_column("cancel_by")
    op.drop_table("group_changes")
    op.drop_table("sessions")
