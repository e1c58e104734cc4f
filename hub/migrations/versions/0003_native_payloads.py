"""native payloads, attachments, and the batch origin of quarantined records

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 22:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("quarantine") as batch:
        batch.add_column(sa.Column("payload_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("record_number", sa.Integer(), nullable=True))
    op.create_index("ix_quarantine_payload", "quarantine", ["payload_id"], unique=False)
    op.create_table(
        "native_payloads",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("agency", sa.String(12), nullable=False),
        sa.Column("system", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("filename", sa.String(255), nullable=True),
        sa.Column("content_type", sa.String(100), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_native_payloads"),
    )
    op.create_index("ix_native_payloads_received", "native_payloads", ["received_at"], unique=False)
    op.create_table(
        "attachments",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name="pk_attachments"),
    )


def downgrade() -> None:
    op.drop_table("attachments")
    op.drop_index("ix_native_payloads_received", table_name="native_payloads")
    op.drop_table("native_payloads")
    op.drop_index("ix_quarantine_payload", table_name="quarantine")
    with op.batch_alter_table("quarantine") as batch:
        batch.drop_column("record_number")
        batch.drop_column("payload_id")
