"""Message and delivery state changes. Each function runs inside the caller's transaction, so a state
change, its events and the outbox rows that announce it commit together (invariant 4)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, insert, select, update

from hub.store.operator_schema import failed_transfer_edits as edits
from hub.store.schema import deliveries, events, failed_transfers, outbox

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
    withdraw_pending_edits(conn, failed_transfers.c.delivery_id == delivery_id, now=now)


def withdraw_pending_edits(conn: Connection, which: Any, *, now: dt.datetime) -> None:
    """Operators' edits still waiting for approval on failed transfers (``which``) that are now resolved become
    withdrawn: the transfer was settled another way, and there is nothing left for the edit to replace."""
    settled = select(failed_transfers.c.id).where(which, failed_transfers.c.status == "resolved")
    conn.execute(update(edits).where(edits.c.status == "pending", edits.c.failed_transfer_id.in_(settled)).values(
        status="withdrawn", decided_by="hub", decided_at=now,
        decision_note="the failed transfer was resolved another way"))


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
    if not conn.execute(update(deliveries).where(
            deliveries.c.id == row["id"], deliveries.c.state.not_in(("acknowledged", "resolved"))).values(
            state="acknowledged", acknowledged_at=now, ack_message_id=ack_message_id, lease_until=None,
            delivered_at=func.coalesce(deliveries.c.delivered_at, now), hold_reason=None, updated_at=now)).rowcount:
        return False  # a concurrent receipt got there first
    event(conn, original_id, "acknowledged", now, delivery_id=row["id"], by=by_agency, receipt=ack_message_id)
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
        enqueue(conn, [nxt.id], at=now, now=now)
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


