"""register snapshots and discrepancy items

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "register_snapshots",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("agency", sa.String(12), nullable=False),
        sa.Column("filename", sa.String(255), nullable=True),
        sa.Column("format", sa.String(8), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("uploaded_by", sa.String(100), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_register_snapshots"),
    )
    op.create_index("ix_register_snapshots_latest", "register_snapshots", ["kind", "agency", "as_of"])
    op.create_index("ix_register_snapshots_received", "register_snapshots", ["received_at"])
    op.create_table(
        "discrepancies",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("category", sa.String(30), nullable=False),
        sa.Column("person_key", sa.String(220), nullable=False),
        sa.Column("id_number", sa.String(18), nullable=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("division", sa.String(6), nullable=False),
        sa.Column("acting_agency", sa.String(12), nullable=False),
        sa.Column("confirming_agency", sa.String(12), nullable=True),
        sa.Column("match", sa.String(20), nullable=False),
        sa.Column("sides", sa.Text(), nullable=False),
        sa.Column("snapshot_ids", sa.Text(), nullable=False),
        sa.Column("description_zh", sa.Text(), nullable=False),
        sa.Column("description_en", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("resolved_by", sa.String(100), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("reopened", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_discrepancies"),
    )
    op.create_index("ix_discrepancies_status", "discrepancies", ["status", "category"])
    op.create_index("ix_discrepancies_acting", "discrepancies", ["acting_agency", "status"])
    op.create_index("ix_discrepancies_confirming", "discrepancies", ["confirming_agency", "status"])
    op.create_index("ix_discrepancies_division", "discrepancies", ["division", "status"])


def downgrade() -> None:
    op.drop_index("ix_discrepancies_division", table_name="discrepancies")
    op.drop_index("ix_discrepancies_confirming", table_name="discrepancies")
    op.drop_index("ix_discrepancies_acting", table_name="discrepancies")
    op.drop_index("ix_discrepancies_status", table_name="discrepancies")
    op.drop_table("discrepancies")
    op.drop_index("ix_register_snapshots_received", table_name="register_snapshots")
    op.drop_index("ix_register_snapshots_latest", table_name="register_snapshots")
    op.drop_table("register_snapshots")
