"""The first schema: group actions and membership changes with their items, the audit trail.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("group_name", sa.String(255), nullable=False),
        sa.Column("by", sa.String(255), nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("updated", sa.Float, nullable=False),
        sa.Column("finished", sa.Float),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until", sa.Float),
        sa.Column("result", sa.Text),
    )
    op.create_index("ix_jobs_group_created", "jobs", ["group_name", "created"])
    op.create_index("ix_jobs_state_lease", "jobs", ["state", "lease_until"])
    op.create_index("ix_jobs_created", "jobs", ["created"])
    op.create_table(
        "job_items",
        sa.Column(
            "job_id",
            sa.String(16),
            sa.ForeignKey("jobs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("op", sa.String(8), nullable=False, server_default=""),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("words", sa.Text, nullable=False, server_default=""),
        sa.Column("sent", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("updated", sa.Float, nullable=False),
    )
    op.create_table(
        "audit",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("time", sa.Float, nullable=False),
        sa.Column("person", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("group_name", sa.String(255)),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("hub", sa.Text),
        sa.Column("request_id", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_person", "audit", ["person", "id"])
    op.create_index("ix_audit_group", "audit", ["group_name", "id"])
    op.create_index("ix_audit_time", "audit", ["time"])
    op.create_table(
        "audit_names",
        sa.Column("record_id", ID, sa.ForeignKey("audit.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
    )
    op.create_index("ix_audit_names_name", "audit_names", ["name", "record_id"])


def downgrade() -> None:
    op.drop_table("audit_names")
    op.drop_table("audit")
    op.drop_table("job_items")
    op.drop_table("jobs")
