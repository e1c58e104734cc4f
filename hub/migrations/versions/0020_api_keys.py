"""agency API keys kept in the database

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-26 13:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("agency", sa.String(12), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("key_sha256", sa.String(64), nullable=False),
        sa.Column("label", sa.String(200), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("revoked_by", sa.String(100), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.Column("last_used_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    op.create_index("ux_api_keys_key_sha256", "api_keys", ["key_sha256"], unique=True)
    op.create_index("ix_api_keys_agency", "api_keys", ["agency"])


def downgrade() -> None:
    op.drop_index("ix_api_keys_agency", table_name="api_keys")
    op.drop_index("ux_api_keys_key_sha256", table_name="api_keys")
    op.drop_table("api_keys")
