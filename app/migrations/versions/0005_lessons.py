"""Lessons: a group's servers started before a class and stopped after it, and their runs.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NAME = 255


def upgrade() -> None:
    op.create_table(
        "lessons",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("group_name", sa.String(NAME), nullable=False),
        sa.Column("server", sa.String(NAME), nullable=False, server_default=""),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("tz", sa.String(64), nullable=False),
        sa.Column("starts", sa.String(8), nullable=False),
        sa.Column("ends", sa.String(8), nullable=False),
        sa.Column("day", sa.String(10)),
        sa.Column("weekdays", sa.String(16)),
        sa.Column("lead", sa.Integer, nullable=False, server_default="0"),
        sa.Column("by", sa.String(NAME), nullable=False),
        sa.Column("token", sa.Text, nullable=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("updated", sa.Float, nullable=False),
        sa.Column("cancelled", sa.Float),
        sa.Column("cancel_by", sa.String(NAME)),
    )
    op.create_index("ix_lessons_group", "lessons", ["group_name"])
    op.create_index("ix_lessons_cancelled", "lessons", ["cancelled"])
    op.create_index("ix_lessons_by", "lessons", ["by"])
    op.create_table(
        "lesson_runs",
        sa.Column(
            "lesson_id",
            sa.String(16),
            sa.ForeignKey("lessons.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("occurrence", sa.Float, primary_key=True),
        sa.Column("due", sa.Float, nullable=False),
        sa.Column("ran", sa.Float, nullable=False),
        sa.Column("late", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("job_id", sa.String(16)),
        sa.Column("words", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_lesson_runs_occurrence", "lesson_runs", ["occurrence"])


def downgrade() -> None:
    op.drop_table("lesson_runs")
    op.drop_table("lessons")
