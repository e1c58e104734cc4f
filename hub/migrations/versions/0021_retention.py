"""retention of records and legal holds (legal_holds; the sweep's indexes on alarm_notices and obligation_notes)

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-26 13:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("subject", sa.String(220), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("placed_by", sa.String(100), nullable=False),
        sa.Column("placed_at", TS, nullable=False),
        sa.Column("released_by", sa.String(100), nullable=True),
        sa.Column("released_at", TS, nullable=True),
        sa.Column("release_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    op.create_index("ix_legal_holds_subject", "legal_holds", ["kind", "subject"])
    op.create_index("ix_alarm_notices_case", "alarm_notices", ["case_key"])
    op.create_index("ix_obligation_notes_case", "obligation_notes", ["case_key"])


def downgrade() -> None:
    op.drop_index("ix_obligation_notes_case", table_name="obligation_notes")
    op.drop_index("ix_alarm_notices_case", table_name="alarm_notices")
    op.drop_index("ix_legal_holds_subject", table_name="legal_holds")
    op.drop_table("legal_holds")
