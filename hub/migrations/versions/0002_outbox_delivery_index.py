"""index outbox rows by delivery, for the sweeper's "is this delivery announced?" check

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 19:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_delivery", "outbox", ["delivery_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_outbox_delivery", table_name="outbox")
