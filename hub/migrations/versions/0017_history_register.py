"""historical registers imported for the joint-meeting report (history_imports, history_rows)

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-26 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "history_imports",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("agency", sa.String(12), nullable=False),
        sa.Column("filename", sa.String(255), nullable=True),
        sa.Column("format", sa.String(8), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=True),
        sa.Column("imported_at", TS, nullable=False),
        sa.Column("imported_by", sa.String(100), nullable=False),
        sa.Column("rows_accepted", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_history_imports"),
    )
    op.create_index("ix_history_imports_agency", "history_imports", ["agency", "sha256"])
    op.create_table(
        "history_rows",
        sa.Column("id", SEQ, autoincrement=True, nullable=False),
        sa.Column("import_id", sa.String(36), nullable=False),
        sa.Column("agency", sa.String(12), nullable=False),
        sa.Column("division", sa.String(6), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("person_key", sa.String(220), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("id_number", sa.String(18), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("case_number", sa.String(64), nullable=True),
        sa.Column("deciding_organ", sa.String(12), nullable=True),
        sa.Column("correction_type", sa.String(20), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("end_kind", sa.String(10), nullable=True),
        sa.ForeignKeyConstraint(["import_id"], ["history_imports.id"],
                                name="fk_history_rows_import_id_history_imports"),
        sa.PrimaryKeyConstraint("id", name="pk_history_rows"),
    )
    op.create_index("ix_history_rows_division", "history_rows", ["division", "received_on"])
    op.create_index("ix_history_rows_person", "history_rows", ["person_key", "received_on"])
    op.create_index("ix_history_rows_import", "history_rows", ["import_id"])


def downgrade() -> None:
    op.drop_index("ix_history_rows_import", table_name="history_rows")
    op.drop_index("ix_history_rows_person", table_name="history_rows")
    op.drop_index("ix_history_rows_division", table_name="history_rows")
    op.drop_table("history_rows")
    op.drop_index("ix_history_imports_agency", table_name="history_imports")
    op.drop_table("history_imports")
