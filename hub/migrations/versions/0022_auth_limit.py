"""the failed-attempt limiter's state shared by the hub's processes (auth_failures, auth_blocks)

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-27 00:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "auth_failures",
        sa.Column("id", SEQ, autoincrement=True, nullable=False),
        sa.Column("realm", sa.String(10), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_failures")),
    )
    op.create_index("ix_auth_failures_client", "auth_failures", ["realm", "client", "at"])
    op.create_index("ix_auth_failures_at", "auth_failures", ["at"])
    op.create_table(
        "auth_blocks",
        sa.Column("key", sa.String(80), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("until_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_auth_blocks")),
    )
    op.create_index("ix_auth_blocks_until", "auth_blocks", ["until_at"])


def downgrade() -> None:
    op.drop_index("ix_auth_blocks_until", table_name="auth_blocks")
    op.drop_table("auth_blocks")
    op.drop_index("ix_auth_failures_at", table_name="auth_failures")
    op.drop_index("ix_auth_failures_client", table_name="auth_failures")
    op.drop_table("auth_failures")
