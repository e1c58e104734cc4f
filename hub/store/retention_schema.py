"""Table of legal holds (hub.retention_holds): records the retention sweep must keep whatever their period."""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table, Text

from hub.store.schema import TS, metadata

# One row per hold. ``kind`` says what ``subject`` names: ``person`` (an ID number, or a person key as the ledger
# writes it, ``ref|…``), ``case`` (a case number, normalised; or deciding organ|case number) or ``message`` (the id
# of a message, a quarantined input or a stored file). A hold is active until released; released holds are kept.
legal_holds = Table(
    "legal_holds",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(10), nullable=False),  # person | case | message
    Column("subject", String(220), nullable=False),
    Column("reason", Text, nullable=False),
    Column("placed_by", String(100), nullable=False),
    Column("placed_at", TS, nullable=False),
    Column("released_by", String(100)),
    Column("released_at", TS),
    Column("release_reason", Text),
)
Index("ix_legal_holds_subject", legal_holds.c.kind, legal_holds.c.subject)
