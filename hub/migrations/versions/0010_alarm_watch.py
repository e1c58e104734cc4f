"""the deadline clock's bookmarks: of each obligation (alarm_watch) and of each case the pursuit drafter looked
at (draft_watch)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 04:20:00
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alarm_watch",
        sa.Column("obligation_id", sa.String(36), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("next_on", sa.Date(), nullable=False),
        sa.Column("alarmed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("obligation_id", name=op.f("pk_alarm_watch")),
    )
    with op.batch_alter_table("alarm_watch", schema=None) as batch_op:
        batch_op.create_index("ix_alarm_watch_alarmed", ["alarmed"], unique=False)
    op.create_table(
        "draft_watch",
        sa.Column("case_key", sa.String(120), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("case_key", name=op.f("pk_draft_watch")),
    )
    # Obligations alarmed before the bookmark existed and not yet resolved: bookmarked as alarmed, with no due
    # date, so that the next run looks at each of them again (and sends the resolved notice of the closed ones).
    op.get_bind().execute(sa.text(
        "INSERT INTO alarm_watch (obligation_id, next_on, alarmed) "
        "SELECT a.obligation_id, :long_ago, 1 FROM alarm_notices a "
        "WHERE a.step NOT IN ('resolved', 'calendar_missing') AND NOT EXISTS ("
        "SELECT 1 FROM alarm_notices r WHERE r.obligation_id = a.obligation_id AND r.step = 'resolved') "
        "GROUP BY a.obligation_id"
    ).bindparams(sa.bindparam("long_ago", dt.date(1, 1, 1), type_=sa.Date)))


def downgrade() -> None:
    op.drop_table("draft_watch")
    with op.batch_alter_table("alarm_watch", schema=None) as batch_op:
        batch_op.drop_index("ix_alarm_watch_alarmed")
    op.drop_table("alarm_watch")
