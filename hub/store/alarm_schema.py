"""Tables of the alarm notices sent and drafted pursuit requests."""

from __future__ import annotations

from sqlalchemy import Column, Date, Index, Integer, LargeBinary, String, Table, Text, UniqueConstraint

from hub.store.schema import TS, SeqType, metadata

# One row per addressee of each deadline notice the hub sent: a notice is one canonical DeadlineNotice per
# (obligation, step) — its message id a UUID 5 of the two — addressed to each row's recipient in its role (the
# office that owes and the county bureau's head may be one agency). The rows and the
# message commit in one transaction, so the set of (obligation, step) here is exactly what was sent.
alarm_notices = Table(
    "alarm_notices",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),  # the order sent (for paging with ?after=)
    Column("obligation_id", String(36), nullable=False),
    Column("step", String(30), nullable=False),  # hub.core.alarms.NoticeStep
    Column("recipient", String(12), nullable=False),  # an agency code
    Column("role", String(16), nullable=False),  # office | bureau_head | joint_meeting | procuratorate
    Column("copy", String(2), nullable=False),  # to | cc
    Column("level", Integer, nullable=False),  # 0 office, 1 + county bureau head, 2 + joint-meeting office
    Column("day", Date, nullable=False),  # the legal day (Asia/Shanghai) of the evaluation
    Column("message_id", String(36), nullable=False),
    Column("case_key", String(120), nullable=False),
    Column("person_key", String(220)),
    Column("rule_id", String(40), nullable=False),
    Column("obligor", String(12), nullable=False),
    Column("due_date", Date),
    Column("days_overdue", Integer, nullable=False),
    Column("waiting", Integer),  # the operators' notice of a missing calendar year: how many obligations wait
    Column("outcome", String(10)),  # resolved notices: met | met_late | waived
    Column("created_at", TS, nullable=False),
    UniqueConstraint("obligation_id", "step", "role"),
)
Index("ix_alarm_notices_recipient", alarm_notices.c.recipient, alarm_notices.c.seq)
Index("ix_alarm_notices_message", alarm_notices.c.message_id)
Index("ix_alarm_notices_case", alarm_notices.c.case_key)  # the retention sweep finds a case's notices (0021)

# The clock's bookmark of each obligation it has looked at: the due date it saw, the first legal day on which the
# obligation can need another notice (9999-12-31: never, it has climbed the ladder), and whether a notice about
# it was sent and not yet followed by its ``resolved`` notice. A run reads only the open obligations with no
# bookmark, a bookmark for another due date (rescheduled), or a bookmark whose day has come, and the closed ones
# still alarmed; a steady run therefore reads next to nothing. A bookmark is written only after the notices it
# accounts for are stored: a crash makes the next run look again, never skip.
alarm_watch = Table(
    "alarm_watch",
    metadata,
    Column("obligation_id", String(36), primary_key=True),
    Column("due_date", Date),
    Column("next_on", Date, nullable=False),
    Column("alarmed", Integer, nullable=False),  # 1: alarmed and not yet resolved
)
Index("ix_alarm_watch_alarmed", alarm_watch.c.alarmed)

# The pursuit drafter's bookmark of each case it looked at: the case row's version (updated_at) and the legal day.
# A case whose row has not changed since is not looked at again the same day: a draft it does not get today
# (say the ledger owes a search, but the draft goes to another obligation of the case) it will not get until the
# case changes or the day does.
draft_watch = Table(
    "draft_watch",
    metadata,
    Column("case_key", String(120), primary_key=True),
    Column("updated_at", TS, nullable=False),
    Column("day", Date, nullable=False),
)

# Pursuit requests (提请协查 / 追逃) the hub drafted for a bureau: at most one per (case, obligation it would
# discharge). status: drafted (waits for the bureau) → confirmed (a person confirmed it; sent) | sent (the bureau
# chose auto_pursuit; sent at once) | dismissed (a person declined, with a reason) | withdrawn (the ledger: the
# obligation was met or set aside before anyone confirmed, e.g. a custody notice explained the absence).
pursuit_drafts = Table(
    "pursuit_drafts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_key", String(120), nullable=False),
    Column("person_key", String(220)),
    Column("person_name", String(100)),
    Column("obligation_id", String(36), nullable=False),
    Column("drafted_on", Date, nullable=False),  # legal day
    Column("drafted_at", TS, nullable=False),
    Column("kind", String(20), nullable=False),  # ASSIST_SEARCH | PURSUE_ABSCONDER
    Column("reason", Text, nullable=False),  # why the hub drafted it
    Column("bureau", String(12), nullable=False),  # the sender: the bureau that owes the request
    Column("police", String(12), nullable=False),  # its addressee
    Column("status", String(10), nullable=False),
    Column("status_by", String(100)),  # who confirmed, dismissed or withdrew it (``auto`` when sent at once)
    Column("status_at", TS),
    Column("status_reason", Text),  # why it was dismissed or withdrawn
    Column("message_id", String(36), nullable=False),  # the PursuitRequest's id once sent (fixed when drafted)
    Column("canonical", LargeBinary, nullable=False),  # the draft's canonical XML (as sent, once sent)
    UniqueConstraint("case_key", "obligation_id"),
)
Index("ix_pursuit_drafts_status", pursuit_drafts.c.status, pursuit_drafts.c.bureau)
