"""the facts the joint-meeting report counts (case_facts), and the ledger's format on its cursor

A ledger written before this revision has no facts: its cursor keeps the format empty, and the first projector
to run rebuilds the ledger (hub.casework), which fills them.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26 10:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_facts",
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("division", sa.String(6), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("case_key", sa.String(120), nullable=False),
        sa.Column("person_key", sa.String(220), nullable=True),
        sa.Column("person_name", sa.String(100), nullable=True),
        sa.Column("id_number", sa.String(18), nullable=True),
        sa.Column("correction_type", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("detail", sa.String(40), nullable=True),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("sender", sa.String(12), nullable=False),
        sa.Column("organ", sa.String(12), nullable=True),
        sa.PrimaryKeyConstraint("message_id", "division", name=op.f("pk_case_facts")),
    )
    op.create_index("ix_case_facts_division", "case_facts", ["division", "on"])
    with op.batch_alter_table("ledger_cursor") as batch:
        batch.add_column(sa.Column("format", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledger_cursor") as batch:
        batch.drop_column("format")
    op.drop_index("ix_case_facts_division", table_name="case_facts")
    op.drop_table("case_facts")
