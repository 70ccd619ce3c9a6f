"""A group's recent actions of one kind straight from an index.

PostgreSQL planned "the newest start/stop jobs of group G" as a backward scan of all jobs
by creation time, filtered: O(history) for a group whose jobs are all old. An index on
(group, kind, created) answers each kind exactly; the index on creation time alone goes
(it tempted the planner even then), and pruning finished jobs has (state, created).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_group_kind_created", "jobs", ["group_name", "kind", "created"])
    op.create_index("ix_jobs_state_created", "jobs", ["state", "created"])
    op.drop_index("ix_jobs_group_created", table_name="jobs")
    op.drop_index("ix_jobs_created", table_name="jobs")


def downgrade() -> None:
    op.create_index("ix_jobs_created", "jobs", ["created"])
    op.create_index("ix_jobs_group_created", "jobs", ["group_name", "created"])
    op.drop_index("ix_jobs_state_created", table_name="jobs")
    op.drop_index("ix_jobs_group_kind_created", table_name="jobs")
