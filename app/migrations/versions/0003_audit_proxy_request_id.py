"""An audit record keeps hubdesk's own request id, and a trusted proxy's beside it.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit", sa.Column("proxy_request_id", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("audit") as batch:
        batch.drop_column("proxy_request_id")
