"""Tables of the identity links, decisions and the review queue.

A *person record* is one agency's record of a person, as its messages describe them; *person links* group
records into persons (rebuilt by ``hub.identity_store.relink``); *identity decisions* are reviewers' verdicts on
pairs of records, never deleted (a later one on the same pair supersedes, the history stays); *identity reviews*
are the possible matches waiting for a reviewer, one row per pair.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from hub.store.schema import TS, SeqType, metadata

# One per (source agency, the agency's own person reference — or, without one, the ID number or the case and
# name of the message's person); values from the latest message, case numbers from all of them.
person_records = Table(
    "person_records",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("agency", String(12), nullable=False),
    Column("record_id", String(220), nullable=False),
    Column("id_number", String(18)),  # 18-character form of a valid number (15-digit ones widened), else null
    Column("name", String(100), nullable=False),
    Column("sex", String(8), nullable=False),  # MALE | FEMALE | UNKNOWN
    Column("birth_date", Date),
    Column("case_numbers", Text, nullable=False),  # JSON list, as the agency wrote them
    Column("first_message_id", String(36), nullable=False),
    Column("first_seq", BigInteger, nullable=False),  # messages.seq of the first and latest message applied
    Column("last_seq", BigInteger, nullable=False),
    Column("updated_at", TS, nullable=False),
    UniqueConstraint("agency", "record_id"),
)
Index("ix_person_records_id_number", person_records.c.id_number)

# The linkage's grouping: each record's person, and how the record came to be in it
person_links = Table(
    "person_links",
    metadata,
    Column("record", String(36), ForeignKey("person_records.id"), primary_key=True),
    Column("person_id", String(36), nullable=False),
    Column("how", String(10), nullable=False),  # alone | id | match | decision
    Column("linked_at", TS, nullable=False),
)
Index("ix_person_links_person_id", person_links.c.person_id)

identity_decisions = Table(
    "identity_decisions",
    metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("record_a", String(36), ForeignKey("person_records.id"), nullable=False),
    Column("record_b", String(36), ForeignKey("person_records.id"), nullable=False),
    Column("judgement", String(10), nullable=False),  # SAME | NOT_SAME
    Column("decided_by", String(100), nullable=False),
    Column("decided_at", TS, nullable=False),
    Column("reason", Text, nullable=False),
    Column("review_id", String(36)),  # the review item it closed, if it came through one
)
Index("ix_identity_decisions_record_a_record_b", identity_decisions.c.record_a, identity_decisions.c.record_b)

# record_a / record_b in the order of (agency, record id), so that a pair has one row whatever the order
identity_reviews = Table(
    "identity_reviews",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("record_a", String(36), ForeignKey("person_records.id"), nullable=False),
    Column("record_b", String(36), ForeignKey("person_records.id"), nullable=False),
    Column("score", Integer, nullable=False),
    Column("reasons", Text, nullable=False),  # JSON list of {code, zh, en}
    Column("status", String(10), nullable=False),  # open | decided | withdrawn (no longer a possible match)
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("decided_by", String(100)),
    Column("decided_at", TS),
    Column("decision_id", BigInteger),
    UniqueConstraint("record_a", "record_b"),
)
Index("ix_identity_reviews_status", identity_reviews.c.status, identity_reviews.c.score)

# How far the indexer has read the messages (messages.seq)
identity_cursor = Table(
    "identity_cursor",
    metadata,
    Column("name", String(20), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("updated_at", TS, nullable=False),
)
