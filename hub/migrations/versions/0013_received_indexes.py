"""indexes for the console's dashboard: messages by when they were received, deliveries by when they were made

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 07:55:00
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_messages_received_at", "messages", ["received_at"])
    op.create_index("ix_deliveries_created_at", "deliveries", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_created_at", table_name="deliveries")
    op.drop_index("ix_messages_received_at", table_name="messages")
