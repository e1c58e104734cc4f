"""Tables of the register snapshots and discrepancy items.

``register_snapshots``: every register file an agency uploaded, as received (the raw bytes, kept for operators
like native payloads, also when refused) with its per-row report. Only ``accepted`` snapshots are reconciled:
the latest of each kind per agency. ``discrepancies``: each item reconciliation found, by the core's stable id,
tracked from first seen to resolved (automatically when no longer found, or by an operator's note).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, DateTime, Index, Integer, LargeBinary, String, Table, Text

from hub.store.schema import metadata

TS = DateTime(timezone=True)

register_snapshots = Table(
    "register_snapshots",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(20), nullable=False),  # hub.core.reconcile.RegisterKind
    Column("agency", String(12), nullable=False),  # the uploader, who keeps the register
    Column("filename", String(255)),
    Column("format", String(8)),  # csv | xlsx | xml; null when the file was refused before it was read
    Column("as_of", Date),  # the register's day (a list of a period: its last day); null when not known
    Column("period_start", Date),  # a list of a period: its first day
    Column("received_at", TS, nullable=False),
    Column("uploaded_by", String(100), nullable=False),
    # accepted (reconciled) | rejected (no row could be read) | refused (the file as a whole)
    Column("status", String(10), nullable=False),
    Column("rows", Integer, nullable=False),  # rows accepted
    Column("rejected", Integer, nullable=False),  # rows rejected
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("report", Text, nullable=False),  # JSON: the file's error, or each rejected row's problems at its cell
    Column("raw", LargeBinary, nullable=False),
)
Index("ix_register_snapshots_latest", register_snapshots.c.kind, register_snapshots.c.agency,
      register_snapshots.c.as_of)
Index("ix_register_snapshots_received", register_snapshots.c.received_at)

discrepancies = Table(
    "discrepancies",
    metadata,
    Column("id", String(36), primary_key=True),  # hub.core.reconcile.discrepancy_id: the same in every run
    Column("category", String(30), nullable=False),
    Column("person_key", String(220), nullable=False),
    Column("id_number", String(18)),
    Column("name", String(100), nullable=False),
    Column("division", String(6), nullable=False),  # the county the item is about
    Column("acting_agency", String(12), nullable=False),
    Column("confirming_agency", String(12)),
    Column("match", String(20), nullable=False),  # hub.core.reconcile.MatchBy
    Column("sides", Text, nullable=False),  # JSON: the accounts, the reference first
    Column("snapshot_ids", Text, nullable=False),  # JSON: the register snapshots the accounts came from
    Column("description_zh", Text, nullable=False),
    Column("description_en", Text, nullable=False),
    Column("status", String(10), nullable=False),  # open | resolved
    Column("first_seen", TS, nullable=False),
    Column("last_seen", TS, nullable=False),
    Column("resolved_at", TS),
    Column("resolved_by", String(100)),  # "reconciliation" when no longer found, else the operator or agency
    Column("resolution", Text),
    Column("reopened", Integer, nullable=False),  # times found again after being resolved
)
Index("ix_discrepancies_status", discrepancies.c.status, discrepancies.c.category)
Index("ix_discrepancies_acting", discrepancies.c.acting_agency, discrepancies.c.status)
Index("ix_discrepancies_confirming", discrepancies.c.confirming_agency, discrepancies.c.status)
Index("ix_discrepancies_division", discrepancies.c.division, discrepancies.c.status)
