"""corrected payloads for quarantined inputs, each waiting for a second operator's approval

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "quarantine_corrections",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("quarantine_id", sa.String(36), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("submitted_by", sa.String(100), nullable=False),
        sa.Column("submitted_at", TS, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine_corrections")),
    )
    op.create_index("ix_quarantine_corrections_quarantine", "quarantine_corrections", ["quarantine_id"])
    pending = sa.text("status = 'pending'")
    op.create_index("ux_quarantine_corrections_pending", "quarantine_corrections", ["quarantine_id"], unique=True,
                    sqlite_where=pending, postgresql_where=pending)


def downgrade() -> None:
    op.drop_index("ux_quarantine_corrections_pending", table_name="quarantine_corrections")
    op.drop_index("ix_quarantine_corrections_quarantine", table_name="quarantine_corrections")
    op.drop_table("quarantine_corrections")
