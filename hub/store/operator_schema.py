"""Tables of the operator console: operators' accounts and sessions (hub.operators), and what operators do."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, String, Table, Text

from hub.store.schema import TS, metadata

# One row per operator. ``agency`` is the registry code of the agency the operator works for; which messages the
# operator sees follows from it and from ``role`` (hub.operators.ROLES). Accounts are disabled, never deleted: the
# audit log names them.
operators = Table(
    "operators",
    metadata,
    Column("username", String(40), primary_key=True),
    Column("display_name", String(100), nullable=False),
    Column("role", String(20), nullable=False),
    Column("agency", String(12), nullable=False),
    Column("password_hash", String(200), nullable=False),  # scrypt$n$r$p$salt$hash (hub.operators)
    Column("disabled", Integer, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("password_changed_at", TS, nullable=False),
    Column("failed_signins", Integer, nullable=False),  # consecutive failures since the last success
    Column("locked_until", TS),  # after too many failures in a row
)

# One row per signed-in session: the cookie carries the token, the table only its SHA-256. A session ends when it
# has been idle too long, at its absolute end, or when the operator signs out.
operator_sessions = Table(
    "operator_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(40), nullable=False),
    Column("csrf", String(64), nullable=False),  # the token every form and API call of the session must carry
    Column("created_at", TS, nullable=False),
    Column("last_seen", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("lang", String(5), nullable=False),  # zh | en
)
Index("ix_operator_sessions_username", operator_sessions.c.username)

# ---- what operators do in the console (hub.console.*): kept beside the records they act on ---------------------

# An operator's edited payload for a failed transfer, waiting for a second operator's approval before it is sent
# (as a new message that supersedes the original; the original stays as it was).
failed_transfer_edits = Table(
    "failed_transfer_edits",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("failed_transfer_id", String(36), nullable=False),
    Column("message_id", String(36), nullable=False),  # the original message
    Column("payload", LargeBinary, nullable=False),  # the edited canonical XML
    Column("reason", Text, nullable=False),
    Column("submitted_by", String(100), nullable=False),
    Column("submitted_at", TS, nullable=False),
    Column("status", String(10), nullable=False),  # pending | approved | rejected | withdrawn
    Column("decided_by", String(100)),
    Column("decided_at", TS),
    Column("decision_note", Text),
    Column("new_message_id", String(36)),  # the message sent on approval
)
Index("ix_failed_transfer_edits_ft", failed_transfer_edits.c.failed_transfer_id)
Index("ix_failed_transfer_edits_status", failed_transfer_edits.c.status)

# A bulk action over every failed transfer a filter matched when it was made: its items are done one by one, and
# it can be paused, resumed and cancelled between items.
bulk_tasks = Table(
    "bulk_tasks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(20), nullable=False),  # retry
    Column("filter", Text, nullable=False),  # JSON: the filter as the operator set it
    Column("reason", Text),
    Column("created_by", String(100), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("status", String(10), nullable=False),  # running | paused | cancelled | done
    Column("total", Integer, nullable=False),
    Column("done", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("finished_at", TS),
)
Index("ix_bulk_tasks_status", bulk_tasks.c.status)
bulk_task_items = Table(
    "bulk_task_items",
    metadata,
    Column("task_id", String(36), primary_key=True),
    Column("failed_transfer_id", String(36), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("state", String(10), nullable=False),  # pending | done | skipped | error
    Column("detail", Text),
    Column("updated_at", TS),
)
Index("ix_bulk_task_items_order", bulk_task_items.c.task_id, bulk_task_items.c.state, bulk_task_items.c.position)

# A file an operator attached to an action (the scan of a notice served by hand, …), kept whole.
operator_files = Table(
    "operator_files",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("target", String(80), nullable=False),  # e.g. failed_transfer:<id>
    Column("filename", String(255), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("uploaded_by", String(100), nullable=False),
    Column("uploaded_at", TS, nullable=False),
)
Index("ix_operator_files_target", operator_files.c.target)

# What an operator recorded about an obligation (a call made, papers served by hand …): not part of the ledger's
# projection, so a rebuild keeps it; shown on the obligation and the person's timeline.
obligation_notes = Table(
    "obligation_notes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("obligation_id", String(36), nullable=False),
    Column("case_key", String(120), nullable=False),
    Column("person_key", String(220)),
    Column("note", Text, nullable=False),
    Column("by", String(100), nullable=False),
    Column("at", TS, nullable=False),
)
Index("ix_obligation_notes_obligation", obligation_notes.c.obligation_id)
Index("ix_obligation_notes_person", obligation_notes.c.person_key)
Index("ix_obligation_notes_case", obligation_notes.c.case_key)  # the retention sweep finds a case's notes (0021)

# A corrected payload for a quarantined input, proposed by one operator and sent as the original agency's message
# only once a second operator approves it; at most one waits at a time for an input.
quarantine_corrections = Table(
    "quarantine_corrections",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("quarantine_id", String(36), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("reason", Text, nullable=False),
    Column("submitted_by", String(100), nullable=False),
    Column("submitted_at", TS, nullable=False),
    Column("status", String(10), nullable=False),  # pending | approved | rejected | withdrawn
    Column("decided_by", String(100)),
    Column("decided_at", TS),
    Column("decision_note", Text),
    Column("message_id", String(36)),  # the message stored on approval
)
Index("ix_quarantine_corrections_quarantine", quarantine_corrections.c.quarantine_id)
Index("ux_quarantine_corrections_pending", quarantine_corrections.c.quarantine_id, unique=True,
      sqlite_where=quarantine_corrections.c.status == "pending",
      postgresql_where=quarantine_corrections.c.status == "pending")

# An operator's review of a quarantined input: dismissed (with the reason), or resubmitted as a corrected message.
quarantine_reviews = Table(
    "quarantine_reviews",
    metadata,
    Column("quarantine_id", String(36), primary_key=True),
    Column("outcome", String(12), nullable=False),  # dismissed | resubmitted
    Column("reason", Text, nullable=False),
    Column("message_id", String(36)),  # the corrected message, when resubmitted
    Column("by", String(100), nullable=False),
    Column("at", TS, nullable=False),
)
