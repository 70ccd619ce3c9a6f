"""Lessons' own hub tokens: one per person who saves lessons, made with their sign-in.

A lesson's start asks the hub, with this token, what its owner may do *now* (the hub
intersects a token's scopes with its owner's at every use), so a term-long lesson does
not depend on its owner's sign-in, which expires.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

NAME = 255


def upgrade() -> None:
    op.create_table(
        "lesson_tokens",
        sa.Column("person", sa.String(NAME), primary_key=True),
        sa.Column("token", sa.Text, nullable=False),  # sealed (MultiFernet)
        sa.Column("token_id", sa.String(64)),  # the hub's id for it (to revoke it)
        sa.Column("scopes", sa.Text, nullable=False, server_default="[]"),
        sa.Column("expires", sa.Float),  # None: does not expire
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("updated", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("lesson_tokens")
