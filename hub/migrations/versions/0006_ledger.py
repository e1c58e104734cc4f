"""case ledger: cases, obligations, case timeline, projection cursor

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("case_key", sa.String(120), primary_key=True),
        sa.Column("person_key", sa.String(220)),
        sa.Column("person_name", sa.String(100)),
        sa.Column("id_number", sa.String(18)),
        sa.Column("birth_date", sa.Date()),
        sa.Column("deciding_organ", sa.String(12), nullable=False),
        sa.Column("case_number", sa.String(64), nullable=False),
        sa.Column("case_number_key", sa.String(64), nullable=False),
        sa.Column("division", sa.String(6), nullable=False),
        sa.Column("correction_type", sa.String(20), nullable=False),
        sa.Column("effective_on", sa.Date()),
        sa.Column("period_start", sa.Date()),
        sa.Column("period_end", sa.Date()),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("register_status", sa.String(30)),
        sa.Column("status_since", sa.Date()),
        sa.Column("responsible", sa.String(12), nullable=False),
        sa.Column("documents_served", sa.Integer(), nullable=False),
        sa.Column("state_json", sa.Text(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("case_key", name=op.f("pk_cases")),
    )
    op.create_index("ix_cases_person_key", "cases", ["person_key"])
    op.create_index("ix_cases_id_number", "cases", ["id_number"])
    op.create_index("ix_cases_case_number_key", "cases", ["case_number_key"])
    op.create_index("ix_cases_division", "cases", ["division", "status"])

    op.create_table(
        "obligations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_key", sa.String(120), nullable=False),
        sa.Column("person_key", sa.String(220)),
        sa.Column("division", sa.String(6), nullable=False),
        sa.Column("rule_id", sa.String(40), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("obligor", sa.String(12), nullable=False),
        sa.Column("obligee", sa.String(12), nullable=False),
        sa.Column("owes", sa.String(40), nullable=False),
        sa.Column("trigger_message", sa.String(36), nullable=False),
        sa.Column("trigger_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date()),
        sa.Column("due_soon_days", sa.Integer(), nullable=False),
        sa.Column("soon_from", sa.Date()),
        sa.Column("calendar_missing_year", sa.Integer()),
        sa.Column("is_open", sa.Integer(), nullable=False),
        sa.Column("met_on", sa.Date()),
        sa.Column("met_by", sa.String(36)),
        sa.Column("waived_on", sa.Date()),
        sa.Column("waived_by", sa.String(100)),
        sa.Column("waived_reason", sa.Text()),
        sa.Column("opened_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_obligations")),
    )
    op.create_index("ix_obligations_clock", "obligations", ["is_open", "soon_from"])
    op.create_index("ix_obligations_due", "obligations", ["is_open", "due_date"])
    op.create_index("ix_obligations_case", "obligations", ["case_key"])
    op.create_index("ix_obligations_obligor", "obligations", ["obligor", "is_open"])
    op.create_index("ix_obligations_obligee", "obligations", ["obligee", "is_open"])
    op.create_index("ix_obligations_division", "obligations", ["division", "is_open"])
    op.create_index("ix_obligations_rule", "obligations", ["rule_id", "is_open"])

    op.create_table(
        "case_events",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("case_key", sa.String(120)),
        sa.Column("person_key", sa.String(220)),
        sa.Column("at", TS, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("message_id", sa.String(36)),
        sa.Column("detail", sa.Text()),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_case_events")),
    )
    op.create_index("ix_case_events_case", "case_events", ["case_key", "seq"])
    op.create_index("ix_case_events_person", "case_events", ["person_key"])
    op.create_index("ix_case_events_message", "case_events", ["message_id"])

    op.create_table(
        "ledger_cursor",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("gaps", sa.Text(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("rebuild_target", sa.BigInteger()),
        sa.Column("replay", sa.Text()),
        sa.Column("inputs", sa.Text()),
        sa.Column("clock_run_at", TS),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_cursor")),
    )


def downgrade() -> None:
    op.drop_table("ledger_cursor")
    op.drop_index("ix_case_events_message", table_name="case_events")
    op.drop_index("ix_case_events_person", table_name="case_events")
    op.drop_index("ix_case_events_case", table_name="case_events")
    op.drop_table("case_events")
    for name in ("rule", "division", "obligee", "obligor", "case", "due", "clock"):
        op.drop_index(f"ix_obligations_{name}", table_name="obligations")
    op.drop_table("obligations")
    for name in ("division", "case_number_key", "id_number", "person_key"):
        op.drop_index(f"ix_cases_{name}", table_name="cases")
    op.drop_table("cases")
