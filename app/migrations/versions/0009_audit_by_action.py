"""The Activity page filters by action (``group.members.add``): an index of (action, id), so
that a page of one action's records costs O(page), however rare the action.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_action", "audit", ["action", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_action", "audit")
