"""indexes for the joint-meeting report: a case's facts, failed transfers by the day they were raised

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-26 10:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_case_facts_case", "case_facts", ["case_key", "on"])
    op.create_index("ix_failed_transfers_created", "failed_transfers", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_failed_transfers_created", table_name="failed_transfers")
    op.drop_index("ix_case_facts_case", table_name="case_facts")
