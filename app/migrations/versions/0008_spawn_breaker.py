"""Spawn failures in a row across every bulk start (the hub counts them hub-wide).

One row: every worker of every replica counts its bulk starts' spawn failures there, so
that several bulk starts at once (lessons of many classes at 9:00 with one broken image)
cannot together bring the hub to its ``consecutive_failure_limit``.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "spawn_breaker",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("message", sa.Text, nullable=False, server_default=""),
        sa.Column("updated", sa.Float, nullable=False, server_default="0"),
    )
    op.bulk_insert(table, [{"id": 1, "failures": 0, "message": "", "updated": 0.0}])


def downgrade() -> None:
    op.drop_table("spawn_breaker")
