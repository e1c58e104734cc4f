"""identity links, decisions and the review queue

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _record_fk(column: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["person_records.id"], name=f"fk_{table}_{column}_person_records")


def upgrade() -> None:
    op.create_table(
        "person_records",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("agency", sa.String(12), nullable=False),
        sa.Column("record_id", sa.String(220), nullable=False),
        sa.Column("id_number", sa.String(18)),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("sex", sa.String(8), nullable=False),
        sa.Column("birth_date", sa.Date()),
        sa.Column("case_numbers", sa.Text(), nullable=False),
        sa.Column("first_message_id", sa.String(36), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("agency", "record_id", name="uq_person_records_agency_record_id"),
    )
    op.create_index("ix_person_records_id_number", "person_records", ["id_number"])
    op.create_table(
        "person_links",
        sa.Column("record", sa.String(36), primary_key=True),
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("how", sa.String(10), nullable=False),
        sa.Column("linked_at", TS, nullable=False),
        _record_fk("record", "person_links"),
    )
    op.create_index("ix_person_links_person_id", "person_links", ["person_id"])
    op.create_table(
        "identity_decisions",
        sa.Column("id", SEQ, primary_key=True, autoincrement=True),
        sa.Column("record_a", sa.String(36), nullable=False),
        sa.Column("record_b", sa.String(36), nullable=False),
        sa.Column("judgement", sa.String(10), nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=False),
        sa.Column("decided_at", TS, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("review_id", sa.String(36)),
        _record_fk("record_a", "identity_decisions"),
        _record_fk("record_b", "identity_decisions"),
    )
    op.create_index("ix_identity_decisions_record_a_record_b", "identity_decisions", ["record_a", "record_b"])
    op.create_table(
        "identity_reviews",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("record_a", sa.String(36), nullable=False),
        sa.Column("record_b", sa.String(36), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("decided_by", sa.String(100)),
        sa.Column("decided_at", TS),
        sa.Column("decision_id", sa.BigInteger()),
        _record_fk("record_a", "identity_reviews"),
        _record_fk("record_b", "identity_reviews"),
        sa.UniqueConstraint("record_a", "record_b", name="uq_identity_reviews_record_a_record_b"),
    )
    op.create_index("ix_identity_reviews_status", "identity_reviews", ["status", "score"])
    op.create_table(
        "identity_cursor",
        sa.Column("name", sa.String(20), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("identity_cursor")
    op.drop_index("ix_identity_reviews_status", table_name="identity_reviews")
    op.drop_table("identity_reviews")
    op.drop_index("ix_identity_decisions_record_a_record_b", table_name="identity_decisions")
    op.drop_table("identity_decisions")
    op.drop_index("ix_person_links_person_id", table_name="person_links")
    op.drop_table("person_links")
    op.drop_index("ix_person_records_id_number", table_name="person_records")
    op.drop_table("person_records")
