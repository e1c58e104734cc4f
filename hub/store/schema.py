"""Tables: the database is the source of truth (messages, deliveries, events, failed transfers, outbox)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
SeqType = BigInteger().with_variant(Integer(), "sqlite")
TS = DateTime(timezone=True)

messages = Table(
    "messages",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),  # the hub's acceptance order
    Column("id", String(36), nullable=False, unique=True),
    Column("message_type", String(40), nullable=False),
    Column("sender", String(12), nullable=False),
    Column("sender_document_id", String(200), nullable=False),
    Column("correlation_id", String(200)),
    Column("causation_id", String(36)),
    Column("person_key", String(220), nullable=False),
    Column("person_name", String(100)),
    Column("id_number", String(18)),
    Column("case_number", String(64)),
    Column("execution_division", String(6)),
    Column("channel", String(20), nullable=False),
    Column("sent_at", TS, nullable=False),
    Column("received_at", TS, nullable=False),
    Column("content_sha256", String(64), nullable=False),
    Column("raw", LargeBinary, nullable=False),  # exactly the bytes the sender posted
    Column("canonical", LargeBinary, nullable=False),  # the canonical XML the hub routes
    UniqueConstraint("sender", "sender_document_id"),
)
Index("ix_messages_person_key", messages.c.person_key)
Index("ix_messages_id_number", messages.c.id_number)
Index("ix_messages_received_at", messages.c.received_at)  # the console's figures per day

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("message_id", String(36), ForeignKey("messages.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),  # copy of messages.seq: per-person order
    Column("recipient", String(12), nullable=False),
    Column("role", String(2), nullable=False),
    Column("transport", String(10), nullable=False),
    Column("person_key", String(220), nullable=False),
    # pending | held | sending | available | delivered | acknowledged | failed | resolved
    Column("state", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("failures", Integer, nullable=False, default=0),
    Column("next_attempt_at", TS, nullable=False),
    Column("lease_until", TS),
    Column("queued_at", TS),
    Column("first_attempt_at", TS),
    Column("last_error", Text),
    Column("hold_reason", Text),
    Column("delivered_at", TS),
    Column("acknowledged_at", TS),
    Column("ack_message_id", String(36)),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    UniqueConstraint("message_id", "recipient"),
)
Index("ix_deliveries_state_due", deliveries.c.state, deliveries.c.next_attempt_at)
Index("ix_deliveries_order", deliveries.c.recipient, deliveries.c.person_key, deliveries.c.seq)
Index("ix_deliveries_created_at", deliveries.c.created_at)  # the console's figures per day

events = Table(
    "events",
    metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("message_id", String(36), nullable=False),
    Column("delivery_id", String(36)),
    Column("at", TS, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("detail", Text),
)
Index("ix_events_message", events.c.message_id)

failed_transfers = Table(
    "failed_transfers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("message_id", String(36), ForeignKey("messages.id"), nullable=False),
    Column("delivery_id", String(36)),
    Column("recipient", String(12)),
    Column("cause", String(30), nullable=False),  # no_recipient | rejected | retries_exhausted | not_collected
    Column("detail", Text, nullable=False),
    Column("status", String(10), nullable=False),  # open | retrying | resolved
    Column("created_at", TS, nullable=False),
    Column("resolved_at", TS),
    Column("resolution", Text),
    Column("resolved_by", String(100)),
)
Index("ix_failed_transfers_status", failed_transfers.c.status, failed_transfers.c.created_at)
Index("ix_failed_transfers_delivery", failed_transfers.c.delivery_id)
Index("ix_failed_transfers_message", failed_transfers.c.message_id)  # a person's failed transfers
Index("ix_failed_transfers_created", failed_transfers.c.created_at)  # the report's failed transfers of a period

outbox = Table(
    "outbox",
    metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("delivery_id", String(36), nullable=False),
    Column("available_at", TS, nullable=False),
    Column("created_at", TS, nullable=False),
)
Index("ix_outbox_available", outbox.c.available_at)
Index("ix_outbox_delivery", outbox.c.delivery_id)  # the sweeper asks "is this delivery announced?"

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("received_at", TS, nullable=False),
    Column("agency", String(12)),
    Column("channel", String(20), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("code", String(40), nullable=False),
    Column("message", Text, nullable=False),
    Column("problems", Text, nullable=False),  # JSON list of {reason, path?, line?}
    Column("content_type", String(100)),
    Column("size", BigInteger, nullable=False),
    Column("truncated", Integer, nullable=False, default=0),
    Column("raw", LargeBinary, nullable=False),
    # a rejected record of a native batch: the payload it came from and its record (or row) number
    Column("payload_id", String(36)),
    Column("record_number", Integer),
)
Index("ix_quarantine_received", quarantine.c.received_at)
Index("ix_quarantine_payload", quarantine.c.payload_id)

# every native payload as received (HTTP, drop folder, spreadsheet upload), with what became of its records
native_payloads = Table(
    "native_payloads",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("received_at", TS, nullable=False),
    Column("agency", String(12), nullable=False),
    Column("system", String(40), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("filename", String(255)),
    Column("content_type", String(100)),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("records", Integer, nullable=False),
    Column("accepted", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    Column("summary", Text, nullable=False),  # JSON: payload error or per-record outcomes (rejected in full)
    Column("raw", LargeBinary, nullable=False),
)
Index("ix_native_payloads_received", native_payloads.c.received_at)

# files attached inline (base64) to native notices; canonical messages name them by SHA-256
attachments = Table(
    "attachments",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("message_id", String(36), nullable=False),  # the first message that carried it
    Column("size", BigInteger, nullable=False),
    Column("received_at", TS, nullable=False),
    Column("content", LargeBinary, nullable=False),
)

# every message that carried a file (the same judgment travels again with transfer papers): whoever may read
# any of them may fetch it
attachment_messages = Table(
    "attachment_messages",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("message_id", String(36), primary_key=True),
)
Index("ix_attachment_messages_message", attachment_messages.c.message_id)

# The audit log is a hash chain (hub.audit, docs/security-audit.md): entry n carries the hash of entry n - 1, and
# triggers (migration 0019) refuse UPDATE and DELETE. Entries are written by hub.audit.record only.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("at", TS, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(40), nullable=False),
    Column("target", String(80), nullable=False),
    Column("detail", Text),
    Column("seq", BigInteger, nullable=False),  # 1, 2, 3 … without a gap: the chain's order
    Column("prev_hash", String(64), nullable=False),  # the hash of entry seq - 1 (64 zeros for the first)
    Column("hash", String(64), nullable=False),  # SHA-256 of this entry's canonical form (hub.core.audit_chain)
)
Index("ix_audit_log_target", audit_log.c.target)  # the operator actions of a person's timeline
Index("ix_audit_log_seq", audit_log.c.seq, unique=True)

# The chain's head, one row (id 1): the last seq and its hash. record() advances it first, which takes its lock, so
# audited transactions append one after another; ``chain`` is the chain's id, which anchors carry.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("chain", String(32), nullable=False),
    CheckConstraint("id = 1", name="ck_audit_head_one_row"),
)


# Deadline rules as administrators changed them, in the order they did: the rules in force are the shipped
# national rows with each of these applied in turn (an append-only history; nothing is edited in place).
rule_changes = Table(
    "rule_changes",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("rule_id", String(40), nullable=False),
    Column("scope", String(6), nullable=False),
    Column("effective_from", Date, nullable=False),
    Column("row", Text, nullable=False),  # the rule row as TOML (hub.core.rules.dump_rules of one row)
    Column("supersede", Integer, nullable=False),  # 1: an open-ended earlier row of the same id and scope ends
    Column("changed_at", TS, nullable=False),
    Column("changed_by", String(100), nullable=False),
    Column("reason", Text, nullable=False),
)

# Working-day calendars loaded by operators (a year the shipped chinesecalendar does not cover, or a correction)
calendar_years = Table(
    "calendar_years",
    metadata,
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("source", Text, nullable=False),  # the operator's file, as loaded
    Column("loaded_at", TS, nullable=False),
    Column("loaded_by", String(100), nullable=False),
)

# the case ledger, alarms, identity, registers and historical registers declare their tables on this metadata in
# their own modules
from hub.store import (  # noqa: E402, F401
    alarm_schema,
    api_key_schema,
    history_schema,
    identity_schema,
    ledger_schema,
    operator_schema,
    register_schema,
    retention_schema,
)
