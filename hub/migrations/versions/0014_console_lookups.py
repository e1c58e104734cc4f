"""indexes for the console's person timeline: the audit log by target, failed transfers by message

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26 08:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_log_target", "audit_log", ["target"])
    op.create_index("ix_failed_transfers_message", "failed_transfers", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_failed_transfers_message", table_name="failed_transfers")
    op.drop_index("ix_audit_log_target", table_name="audit_log")
