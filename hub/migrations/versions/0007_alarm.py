"""alarm notices sent and drafted pursuit requests

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alarm_notices",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("obligation_id", sa.String(36), nullable=False),
        sa.Column("step", sa.String(30), nullable=False),
        sa.Column("recipient", sa.String(12), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("copy", sa.String(2), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("case_key", sa.String(120), nullable=False),
        sa.Column("person_key", sa.String(220), nullable=True),
        sa.Column("rule_id", sa.String(40), nullable=False),
        sa.Column("obligor", sa.String(12), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("days_overdue", sa.Integer(), nullable=False),
        sa.Column("waiting", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(10), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_alarm_notices")),
        sa.UniqueConstraint("obligation_id", "step", "role", name=op.f("uq_alarm_notices_obligation_id_step_role")),
    )
    with op.batch_alter_table("alarm_notices", schema=None) as batch_op:
        batch_op.create_index("ix_alarm_notices_recipient", ["recipient", "seq"], unique=False)
        batch_op.create_index("ix_alarm_notices_message", ["message_id"], unique=False)

    op.create_table(
        "pursuit_drafts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("case_key", sa.String(120), nullable=False),
        sa.Column("person_key", sa.String(220), nullable=True),
        sa.Column("person_name", sa.String(100), nullable=True),
        sa.Column("obligation_id", sa.String(36), nullable=False),
        sa.Column("drafted_on", sa.Date(), nullable=False),
        sa.Column("drafted_at", TS, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("bureau", sa.String(12), nullable=False),
        sa.Column("police", sa.String(12), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("status_by", sa.String(100), nullable=True),
        sa.Column("status_at", TS, nullable=True),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("canonical", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pursuit_drafts")),
        sa.UniqueConstraint("case_key", "obligation_id", name=op.f("uq_pursuit_drafts_case_key_obligation_id")),
    )
    with op.batch_alter_table("pursuit_drafts", schema=None) as batch_op:
        batch_op.create_index("ix_pursuit_drafts_status", ["status", "bureau"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pursuit_drafts", schema=None) as batch_op:
        batch_op.drop_index("ix_pursuit_drafts_status")
    op.drop_table("pursuit_drafts")
    with op.batch_alter_table("alarm_notices", schema=None) as batch_op:
        batch_op.drop_index("ix_alarm_notices_message")
        batch_op.drop_index("ix_alarm_notices_recipient")
    op.drop_table("alarm_notices")
