"""Message and delivery state changes. Each function runs inside the caller's transaction, so a state
change, its events and the outbox rows that announce it commit together (invariant 4)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub.core.model import Canonical, Directory, Route
from hub.store.db import aware
from hub.store.schema import deliveries, events, failed_transfers, messages, outbox

# States in which a delivery no longer holds back that person's later messages to the same recipient.
FINAL_FOR_ORDER = ("available", "delivered", "acknowledged", "resolved")
ACK_TYPES = {"DocumentReceipt": "receiptOf", "TechnicalAck": "ackOf"}


@dataclass(frozen=True)
class Accepted:
    message_id: str
    created: bool


def event(conn: Connection, message_id: str, kind: str, at: dt.datetime, *, delivery_id: str | None = None,
          **detail: object) -> None:
    """Append one timeline event."""
    conn.execute(insert(events).values(
        message_id=message_id, delivery_id=delivery_id, at=at, kind=kind,
        detail=json.dumps(detail, ensure_ascii=False, default=str) if detail else None,
    ))


def find_existing(conn: Connection, sender: str, sender_document_id: str) -> str | None:
    """The message id already accepted for (sender, sender's document id), if any."""
    return conn.execute(
        select(messages.c.id).where(messages.c.sender == sender,
                                    messages.c.sender_document_id == sender_document_id)
    ).scalar()


def _insert_ignoring_duplicates(conn: Connection) -> Any:
    dialect = conn.dialect.name
    if dialect == "postgresql":
        return pg_insert(messages).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite_insert(messages).on_conflict_do_nothing()
    raise RuntimeError(f"unsupported database {dialect}")


class MessageIdTaken(Exception):
    """The envelope's message id already belongs to another (sender, document) pair."""


def store_message(conn: Connection, *, msg: Canonical, raw: bytes, canonical_xml: bytes, channel: str,
                  routes: Sequence[Route], directory: Directory, now: dt.datetime) -> Accepted:
    """Store a validated message with one delivery (and outbox row) per recipient; idempotent per sender doc id.

    Messages about one person are stored one at a time, so their acceptance order (``seq``) is also the order
    in which they become visible: no later message of a person can be claimed before an earlier one exists."""
    if conn.dialect.name == "postgresql":  # SQLite already serialises writers
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": msg.person_key})
    seq = conn.execute(_insert_ignoring_duplicates(conn).values(
        id=msg.message_id, message_type=msg.message_type, sender=msg.sender,
        sender_document_id=msg.sender_document_id, correlation_id=msg.correlation_id,
        causation_id=msg.causation_id, person_key=msg.person_key, person_name=msg.person_name,
        id_number=msg.id_number, case_number=msg.case_number,
        execution_division=msg.facts.get("executionDivision"), channel=channel,
        sent_at=msg.sent_at.astimezone(dt.UTC), received_at=now,
        content_sha256=hashlib.sha256(raw).hexdigest(), raw=raw, canonical=canonical_xml,
    ).returning(messages.c.seq)).scalar()
    if seq is None:  # a unique key was already there: the same document again, or a reused message id
        existing = find_existing(conn, msg.sender, msg.sender_document_id)
        if existing is None:
            raise MessageIdTaken(msg.message_id)
        return Accepted(existing, False)
    conn.execute(insert(events), [
        dict(message_id=msg.message_id, delivery_id=None, at=now, kind="received",
             detail=json.dumps({"channel": channel, "size": len(raw)})),
        dict(message_id=msg.message_id, delivery_id=None, at=now, kind="validated",
             detail=json.dumps({"schema": "canonical/v1"})),
    ])
    _create_deliveries(conn, msg=msg, seq=seq, routes=routes, directory=directory, now=now)
    if msg.message_type in ACK_TYPES:
        original = msg.facts.get(ACK_TYPES[msg.message_type]) or msg.causation_id
        rejected = msg.message_type == "TechnicalAck" and msg.facts.get("status") == "REJECTED"
        if original:
            acknowledge(conn, original_id=original, by_agency=msg.sender, ack_message_id=msg.message_id,
                        now=now, rejected=rejected)
    return Accepted(msg.message_id, True)


def _create_deliveries(conn: Connection, *, msg: Canonical, seq: int, routes: Sequence[Route],
                       directory: Directory, now: dt.datetime, first: bool = True) -> None:
    have = set() if first else set(conn.execute(
        select(deliveries.c.recipient).where(deliveries.c.message_id == msg.message_id)).scalars())
    rows = []
    for r in routes:
        if r.agency is None or r.agency in have:
            continue
        agency = directory.get(r.agency)
        assert agency is not None
        rows.append(dict(
            id=str(uuid.uuid4()), message_id=msg.message_id, seq=seq, recipient=r.agency, role=r.role,
            transport=agency.transport.value, person_key=msg.person_key, state="pending", attempts=0,
            failures=0, next_attempt_at=now, queued_at=now, created_at=now, updated_at=now,
        ))
    if rows:
        conn.execute(insert(deliveries), rows)
        conn.execute(insert(outbox), [dict(delivery_id=r["id"], available_at=now, created_at=now) for r in rows])
    event(conn, msg.message_id, "routed", now,
          recipients=[{"agency": r.agency, "role": r.role, "why": r.why} for r in routes if r.agency])
    for r in routes:
        if r.agency is None:
            open_failed_transfer(conn, message_id=msg.message_id, delivery_id=None, recipient=None,
                                 cause="no_recipient", detail=r.missing or r.why, now=now)


def open_failed_transfer(conn: Connection, *, message_id: str, delivery_id: str | None, recipient: str | None,
                         cause: str, detail: str, now: dt.datetime) -> str:
    """Put a failure in the operators' queue (reopening the delivery's earlier one if it was being retried)."""
    if delivery_id is not None:
        prior = conn.execute(select(failed_transfers.c.id).where(
            failed_transfers.c.delivery_id == delivery_id, failed_transfers.c.status != "resolved")).scalar()
        if prior is not None:
            conn.execute(update(failed_transfers).where(failed_transfers.c.id == prior).values(
                status="open", cause=cause, detail=detail))
            event(conn, message_id, "failed", now, delivery_id=delivery_id, cause=cause, detail=detail,
                  failed_transfer=prior)
            return str(prior)
    ft_id = str(uuid.uuid4())
    conn.execute(insert(failed_transfers).values(
        id=ft_id, message_id=message_id, delivery_id=delivery_id, recipient=recipient, cause=cause,
        detail=detail, status="open", created_at=now))
    event(conn, message_id, "failed", now, delivery_id=delivery_id, cause=cause, detail=detail,
          failed_transfer=ft_id)
    return ft_id


def resolve_failed_transfers(conn: Connection, *, delivery_id: str, resolution: str, now: dt.datetime,
                             by: str = "hub") -> None:
    conn.execute(update(failed_transfers).where(
        failed_transfers.c.delivery_id == delivery_id, failed_transfers.c.status != "resolved",
    ).values(status="resolved", resolved_at=now, resolution=resolution, resolved_by=by))


def acknowledge(conn: Connection, *, original_id: str, by_agency: str, ack_message_id: str | None,
                now: dt.datetime, rejected: bool = False, reason: str | None = None) -> bool:
    """Mark the recipient's delivery of ``original_id`` acknowledged (or rejected); True if it changed."""
    row = conn.execute(select(deliveries).where(
        deliveries.c.message_id == original_id, deliveries.c.recipient == by_agency)).mappings().first()
    if row is None:
        if ack_message_id:
            event(conn, ack_message_id, "ack_unmatched", now, original=original_id)
        return False
    if row["state"] in ("acknowledged", "resolved"):
        return False
    if rejected:
        conn.execute(update(deliveries).where(deliveries.c.id == row["id"]).values(
            state="failed", lease_until=None, last_error=reason or "rejected by the recipient", updated_at=now))
        open_failed_transfer(conn, message_id=original_id, delivery_id=row["id"], recipient=by_agency,
                             cause="rejected", detail=f"recipient rejected it: {reason or 'no reason given'}",
                             now=now)
        return True
    conn.execute(update(deliveries).where(deliveries.c.id == row["id"]).values(
        state="acknowledged", acknowledged_at=now, ack_message_id=ack_message_id, lease_until=None,
        delivered_at=func.coalesce(deliveries.c.delivered_at, now), hold_reason=None, updated_at=now))
    event(conn, original_id, "acknowledged", now, delivery_id=row["id"], by=by_agency, receipt=ack_message_id)
    if row["state"] == "failed":
        resolve_failed_transfers(conn, delivery_id=row["id"], resolution="acknowledged by the recipient", now=now)
    if row["state"] not in FINAL_FOR_ORDER:
        release_next(conn, recipient=row["recipient"], person_key=row["person_key"], now=now)
    return True


def release_next(conn: Connection, *, recipient: str, person_key: str, now: dt.datetime) -> None:
    """Let the earliest held message for (recipient, person) go, now that the one before it is through."""
    nxt = conn.execute(select(deliveries.c.id, deliveries.c.message_id).where(
        deliveries.c.recipient == recipient, deliveries.c.person_key == person_key, deliveries.c.state == "held",
    ).order_by(deliveries.c.seq).limit(1)).first()
    if nxt is None:
        return
    changed = conn.execute(update(deliveries).where(deliveries.c.id == nxt.id, deliveries.c.state == "held").values(
        state="pending", hold_reason=None, next_attempt_at=now, queued_at=now, updated_at=now)).rowcount
    if changed:
        conn.execute(insert(outbox).values(delivery_id=nxt.id, available_at=now, created_at=now))
        event(conn, nxt.message_id, "released", now, delivery_id=nxt.id)


def release_held(conn: Connection, pairs: set[tuple[str, str]], *, now: dt.datetime) -> None:
    """``release_next`` for many (recipient, person) pairs at once: one query when nothing is held (the usual case)."""
    if not pairs:
        return
    held = conn.execute(select(deliveries.c.recipient, deliveries.c.person_key).where(
        deliveries.c.state == "held", deliveries.c.recipient.in_({p[0] for p in pairs}),
        deliveries.c.person_key.in_({p[1] for p in pairs}))).all()
    for recipient, person_key in {(h.recipient, h.person_key) for h in held} & pairs:
        release_next(conn, recipient=recipient, person_key=person_key, now=now)


def enqueue(conn: Connection, delivery_ids: Iterable[str], *, at: dt.datetime, now: dt.datetime) -> None:
    rows = [dict(delivery_id=d, available_at=at, created_at=now) for d in delivery_ids]
    if rows:
        conn.execute(insert(outbox), rows)


def earliest_open(conn: Connection, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """For each (recipient, person_key): the lowest seq of a delivery still holding back later ones."""
    if not pairs:
        return {}
    out: dict[tuple[str, str], int] = {}
    recipients = {p[0] for p in pairs}
    persons = {p[1] for p in pairs}
    q = select(deliveries.c.recipient, deliveries.c.person_key, func.min(deliveries.c.seq)).where(
        and_(deliveries.c.recipient.in_(recipients), deliveries.c.person_key.in_(persons),
             deliveries.c.state.not_in(FINAL_FOR_ORDER)),
    ).group_by(deliveries.c.recipient, deliveries.c.person_key)
    for rec, pk, low in conn.execute(q):
        if (rec, pk) in pairs:
            out[(rec, pk)] = int(low)
    return out


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    return aware(value)
