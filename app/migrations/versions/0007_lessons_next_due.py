"""Lessons: when each can next have a run due, so the runner reads only those (O(due)).

Every lesson not cancelled starts at 0 ("look at it now"): the runner's next look finds
what is due, as before, and sets the real time (or NULL: held and over).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("lessons") as batch:
        batch.add_column(sa.Column("next_due", sa.Float))
    op.execute("UPDATE lessons SET next_due = 0 WHERE cancelled IS NULL")
    op.create_index("ix_lessons_next_due", "lessons", ["next_due"])


def downgrade() -> None:
    op.drop_index("ix_lessons_next_due", "lessons")
    with op.batch_alter_table("lessons") as batch:
        batch.drop_column("next_due")
