"""Storing accepted messages, many per transaction: the message, its events, one delivery and one outbox row
per recipient, failed transfers for roles nobody fills, and the effect of a receipt — all in the caller's
transaction, in a handful of statements however many messages there are."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, insert, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub.core.model import Canonical, Directory, Route
from hub.store.ledger import ACK_TYPES, Accepted, acknowledge, enqueue, open_failed_transfer
from hub.store.schema import deliveries, events, messages


class MessageIdTaken(Exception):
    """The envelope's message id already belongs to another (sender, document) pair."""


@dataclass(frozen=True)
class Incoming:
    """A validated, routed message waiting to be stored."""

    msg: Canonical
    raw: bytes
    canonical_xml: bytes
    channel: str
    routes: tuple[Route, ...]


def insert_ignoring_duplicates(conn: Connection, table: Table = messages) -> Any:
    """An INSERT into ``table`` that skips rows whose key is already there (a concurrent writer's included)."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        return pg_insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite_insert(table).on_conflict_do_nothing()
    raise RuntimeError(f"unsupported database {dialect}")


def _message_row(it: Incoming, now: dt.datetime) -> dict[str, Any]:
    m = it.msg
    return dict(
        id=m.message_id, message_type=m.message_type, sender=m.sender, sender_document_id=m.sender_document_id,
        correlation_id=m.correlation_id, causation_id=m.causation_id, person_key=m.person_key,
        person_name=m.person_name, id_number=m.id_number, case_number=m.case_number,
        execution_division=m.facts.get("executionDivision"), channel=it.channel,
        sent_at=m.sent_at.astimezone(dt.UTC), received_at=now, content_sha256=hashlib.sha256(it.raw).hexdigest(),
        raw=it.raw, canonical=it.canonical_xml,
    )


def delivery_rows(msg: Canonical, seq: int, routes: Sequence[Route], directory: Directory, now: dt.datetime,
                  *, skip: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """One pending delivery per routed recipient (except those in ``skip``)."""
    rows = []
    for r in routes:
        if r.agency is None or r.agency in skip:
            continue
        agency = directory.get(r.agency)
        assert agency is not None
        rows.append(dict(
            id=str(uuid.uuid4()), message_id=msg.message_id, seq=seq, recipient=r.agency, role=r.role,
            transport=agency.transport.value, person_key=msg.person_key, state="pending", attempts=0,
            failures=0, next_attempt_at=now, queued_at=now, created_at=now, updated_at=now,
        ))
    return rows


def routed_event(msg: Canonical, routes: Sequence[Route], now: dt.datetime) -> dict[str, Any]:
    recipients = [{"agency": r.agency, "role": r.role, "why": r.why} for r in routes if r.agency]
    return dict(message_id=msg.message_id, delivery_id=None, at=now, kind="routed",
                detail=json.dumps({"recipients": recipients}, ensure_ascii=False))


def store_batch(conn: Connection, items: Sequence[Incoming], *, directory: Directory,
                now: dt.datetime) -> list[Accepted | MessageIdTaken]:
    """Store each message unless its (sender, sender document id) is already known; one result per item.

    Messages about one person are stored one transaction at a time (an advisory lock on PostgreSQL; SQLite
    serialises writers anyway), so their acceptance order (``seq``) is also the order in which they become
    visible: a later message of a person is never claimed before an earlier one exists."""
    if not items:
        return []
    if conn.dialect.name == "postgresql":
        keys = sorted({it.msg.person_key for it in items})
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) "
                          "FROM unnest(CAST(:keys AS text[])) WITH ORDINALITY AS t(k, i) ORDER BY i"),
                     {"keys": keys})
    firsts: dict[tuple[str, str], int] = {}
    for i, it in enumerate(items):
        firsts.setdefault(_key(it), i)
    fresh = [items[i] for i in sorted(firsts.values())]
    inserted = {(r.sender, r.sender_document_id): int(r.seq) for r in conn.execute(
        insert_ignoring_duplicates(conn).returning(messages.c.sender, messages.c.sender_document_id,
                                                    messages.c.seq),
        [_message_row(it, now) for it in fresh])}
    stored = [it for it in fresh if _key(it) in inserted]
    known: dict[tuple[str, str], str] = {}
    missing_keys = [k for k in firsts if k not in inserted]
    if missing_keys:
        known = {(r.sender, r.sender_document_id): r.id for r in conn.execute(
            select(messages.c.id, messages.c.sender, messages.c.sender_document_id)
            .where(tuple_(messages.c.sender, messages.c.sender_document_id).in_(missing_keys)))}
    evs: list[dict[str, Any]] = []
    drows: list[dict[str, Any]] = []
    for it in stored:
        m, seq = it.msg, inserted[_key(it)]
        evs.append(dict(message_id=m.message_id, delivery_id=None, at=now, kind="received",
                        detail=json.dumps({"channel": it.channel, "size": len(it.raw)})))
        evs.append(dict(message_id=m.message_id, delivery_id=None, at=now, kind="validated",
                        detail=json.dumps({"schema": "canonical/v1"})))
        evs.append(routed_event(m, it.routes, now))
        drows.extend(delivery_rows(m, seq, it.routes, directory, now))
    if evs:
        conn.execute(insert(events), evs)
    if drows:
        conn.execute(insert(deliveries), drows)
        enqueue(conn, [d["id"] for d in drows], at=now, now=now)
    for it in stored:
        for r in it.routes:
            if r.agency is None:
                open_failed_transfer(conn, message_id=it.msg.message_id, delivery_id=None, recipient=None,
                                     cause="no_recipient", detail=r.missing or r.why, now=now)
        if it.msg.message_type in ACK_TYPES:
            _apply_receipt(conn, it.msg, now)
    results: list[Accepted | MessageIdTaken] = []
    for i, it in enumerate(items):
        key = _key(it)
        if key in inserted:
            results.append(Accepted(items[firsts[key]].msg.message_id, firsts[key] == i))
        elif key in known:
            results.append(Accepted(known[key], False))
        else:
            results.append(MessageIdTaken(it.msg.message_id))
    return results


def _key(it: Incoming) -> tuple[str, str]:
    return (it.msg.sender, it.msg.sender_document_id)


def _apply_receipt(conn: Connection, msg: Canonical, now: dt.datetime) -> None:
    original = msg.facts.get(ACK_TYPES[msg.message_type]) or msg.causation_id
    if original:
        rejected = msg.message_type == "TechnicalAck" and msg.facts.get("status") == "REJECTED"
        acknowledge(conn, original_id=original, by_agency=msg.sender, ack_message_id=msg.message_id, now=now,
                    rejected=rejected)


def store_message(conn: Connection, item: Incoming, *, directory: Directory, now: dt.datetime) -> Accepted:
    """Store one message (see ``store_batch``); raises MessageIdTaken."""
    res = store_batch(conn, [item], directory=directory, now=now)[0]
    if isinstance(res, MessageIdTaken):
        raise res
    return res
