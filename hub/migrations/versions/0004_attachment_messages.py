"""every message that carried an attachment, not only the first

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attachment_messages",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("message_id", sa.String(36), primary_key=True),
    )
    op.create_index("ix_attachment_messages_message", "attachment_messages", ["message_id"], unique=False)
    op.execute("INSERT INTO attachment_messages (sha256, message_id) SELECT sha256, message_id FROM attachments")


def downgrade() -> None:
    op.drop_index("ix_attachment_messages_message", table_name="attachment_messages")
    op.drop_table("attachment_messages")
