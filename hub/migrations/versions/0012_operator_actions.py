"""what operators do in the console: edits of failed transfers waiting for approval, bulk tasks, attached files,
notes on obligations, reviews of quarantined inputs

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 07:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "failed_transfer_edits",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("failed_transfer_id", sa.String(36), nullable=False),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("submitted_by", sa.String(100), nullable=False),
        sa.Column("submitted_at", TS, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("new_message_id", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_failed_transfer_edits")),
    )
    op.create_index("ix_failed_transfer_edits_ft", "failed_transfer_edits", ["failed_transfer_id"])
    op.create_index("ix_failed_transfer_edits_status", "failed_transfer_edits", ["status"])
    op.create_table(
        "bulk_tasks",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("filter", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_tasks")),
    )
    op.create_index("ix_bulk_tasks_status", "bulk_tasks", ["status"])
    op.create_table(
        "bulk_task_items",
        sa.Column("task_id", sa.String(36), nullable=False),
        sa.Column("failed_transfer_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("updated_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("task_id", "failed_transfer_id", name=op.f("pk_bulk_task_items")),
    )
    op.create_index("ix_bulk_task_items_order", "bulk_task_items", ["task_id", "state", "position"])
    op.create_table(
        "operator_files",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("target", sa.String(80), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.String(100), nullable=False),
        sa.Column("uploaded_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_files")),
    )
    op.create_index("ix_operator_files_target", "operator_files", ["target"])
    op.create_table(
        "obligation_notes",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("obligation_id", sa.String(36), nullable=False),
        sa.Column("case_key", sa.String(120), nullable=False),
        sa.Column("person_key", sa.String(220), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("by", sa.String(100), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_obligation_notes")),
    )
    op.create_index("ix_obligation_notes_obligation", "obligation_notes", ["obligation_id"])
    op.create_index("ix_obligation_notes_person", "obligation_notes", ["person_key"])
    op.create_table(
        "quarantine_reviews",
        sa.Column("quarantine_id", sa.String(36), nullable=False),
        sa.Column("outcome", sa.String(12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(36), nullable=True),
        sa.Column("by", sa.String(100), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("quarantine_id", name=op.f("pk_quarantine_reviews")),
    )


def downgrade() -> None:
    op.drop_table("quarantine_reviews")
    op.drop_index("ix_obligation_notes_person", table_name="obligation_notes")
    op.drop_index("ix_obligation_notes_obligation", table_name="obligation_notes")
    op.drop_table("obligation_notes")
    op.drop_index("ix_operator_files_target", table_name="operator_files")
    op.drop_table("operator_files")
    op.drop_index("ix_bulk_task_items_order", table_name="bulk_task_items")
    op.drop_table("bulk_task_items")
    op.drop_index("ix_bulk_tasks_status", table_name="bulk_tasks")
    op.drop_table("bulk_tasks")
    op.drop_index("ix_failed_transfer_edits_status", table_name="failed_transfer_edits")
    op.drop_index("ix_failed_transfer_edits_ft", table_name="failed_transfer_edits")
    op.drop_table("failed_transfer_edits")
