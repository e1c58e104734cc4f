"""deadline rule changes and operator-loaded calendar years

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 02:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "rule_changes",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("rule_id", sa.String(40), nullable=False),
        sa.Column("scope", sa.String(6), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("row", sa.Text(), nullable=False),
        sa.Column("supersede", sa.Integer(), nullable=False),
        sa.Column("changed_at", TS, nullable=False),
        sa.Column("changed_by", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
    )
    op.create_table(
        "calendar_years",
        sa.Column("year", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("loaded_at", TS, nullable=False),
        sa.Column("loaded_by", sa.String(100), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("calendar_years")
    op.drop_table("rule_changes")
