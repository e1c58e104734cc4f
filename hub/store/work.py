"""The delivery work cycle on the database: relay the outbox, claim, record outcomes, sweep.

A claim is a lease: the delivery is ``sending`` until ``lease_until``. Outcomes are recorded only
against the claim that made them (same ``attempts``), so a late or repeated worker never changes
state twice. Whatever is not recorded as done — a lost broker message, a killed worker — is found by
``sweep`` and announced again.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, and_, delete, exists, select, update

from hub.core.retry import RetryPolicy, gives_up, next_delay
from hub.store.db import aware
from hub.store.ledger import (
    FINAL_FOR_ORDER,
    earliest_open,
    enqueue,
    event,
    open_failed_transfer,
    release_next,
    resolve_failed_transfers,
)
from hub.store.schema import deliveries, messages, outbox


@dataclass(frozen=True)
class Claimed:
    delivery_id: str
    seq: int
    message_id: str
    message_type: str
    recipient: str
    transport: str
    person_key: str
    attempt: int
    payload: bytes


@dataclass(frozen=True)
class Outcome:
    delivery_id: str
    attempt: int
    kind: str  # delivered | acknowledged | available | transient | permanent | deferred
    detail: str | None = None
    status: int | None = None


def take_outbox(conn: Connection, *, now: dt.datetime, limit: int, skip_locked: bool) -> list[tuple[int, str]]:
    """Outbox rows that are due, oldest first (locked against other relays where the database can)."""
    q = select(outbox.c.id, outbox.c.delivery_id).where(outbox.c.available_at <= now).order_by(outbox.c.id).limit(limit)
    if skip_locked:
        q = q.with_for_update(skip_locked=True)
    return [(int(r.id), str(r.delivery_id)) for r in conn.execute(q)]


def drop_outbox(conn: Connection, ids: Sequence[int]) -> None:
    if ids:
        conn.execute(delete(outbox).where(outbox.c.id.in_(ids)))


def claim(conn: Connection, ids: Sequence[str], *, now: dt.datetime, lease: float) -> list[Claimed]:
    """Lease the pending, due deliveries among ``ids``; hold any whose person has an earlier one still open."""
    if not ids:
        return []
    rows = conn.execute(
        update(deliveries)
        .where(deliveries.c.id.in_(list(set(ids))), deliveries.c.state == "pending",
               deliveries.c.next_attempt_at <= now + dt.timedelta(seconds=1))
        .values(state="sending", lease_until=now + dt.timedelta(seconds=lease),
                attempts=deliveries.c.attempts + 1, updated_at=now)
        .returning(deliveries.c.id, deliveries.c.message_id, deliveries.c.seq, deliveries.c.recipient,
                   deliveries.c.transport, deliveries.c.person_key, deliveries.c.attempts,
                   deliveries.c.first_attempt_at)
    ).all()
    if not rows:
        return []
    firsts = [r.id for r in rows if r.first_attempt_at is None]
    if firsts:
        conn.execute(update(deliveries).where(deliveries.c.id.in_(firsts)).values(first_attempt_at=now))
    low = earliest_open(conn, {(r.recipient, r.person_key) for r in rows})
    keep = []
    for r in sorted(rows, key=lambda r: r.seq):
        first = low.get((r.recipient, r.person_key), r.seq)
        if first < r.seq:
            _hold(conn, r.id, r.message_id, r.recipient, r.person_key, first, now=now)
        else:
            keep.append(r)
    if not keep:
        return []
    info = {m.id: (m.message_type, m.canonical) for m in conn.execute(
        select(messages.c.id, messages.c.message_type, messages.c.canonical)
        .where(messages.c.id.in_({r.message_id for r in keep})))}
    return [Claimed(r.id, int(r.seq), r.message_id, info[r.message_id][0], r.recipient, r.transport, r.person_key,
                    int(r.attempts), bytes(info[r.message_id][1])) for r in keep]


def _hold(conn: Connection, delivery_id: str, message_id: str, recipient: str, person_key: str, first_seq: int,
          *, now: dt.datetime) -> None:
    blocker = conn.execute(select(deliveries.c.message_id, deliveries.c.state).where(
        deliveries.c.recipient == recipient, deliveries.c.person_key == person_key,
        deliveries.c.seq == first_seq)).first()
    why = (f"waiting for earlier message {blocker.message_id} to this recipient ({blocker.state})"
           if blocker else "waiting for an earlier message to this recipient")
    conn.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(
        state="held", hold_reason=why, lease_until=None, attempts=deliveries.c.attempts - 1, updated_at=now))
    event(conn, message_id, "held", now, delivery_id=delivery_id, reason=why)


def record_outcomes(conn: Connection, outcomes: Sequence[Outcome], *, policy: RetryPolicy, now: dt.datetime,
                    rng: random.Random | None = None) -> int:
    """Apply send outcomes to their claims; returns how many changed state (stale ones change nothing)."""
    changed = 0
    for o in outcomes:
        mine = and_(deliveries.c.id == o.delivery_id, deliveries.c.state == "sending",
                    deliveries.c.attempts == o.attempt)
        row = conn.execute(select(deliveries).where(
            deliveries.c.id == o.delivery_id, deliveries.c.state == "sending",
            deliveries.c.attempts == o.attempt)).mappings().first()
        if row is None:
            if o.kind in ("delivered", "acknowledged", "available"):
                # e.g. the receipt arrived before this outcome was written: keep the attempt on the record
                msg = conn.execute(select(deliveries.c.message_id).where(deliveries.c.id == o.delivery_id)).scalar()
                if msg:
                    event(conn, msg, "attempt", now, delivery_id=o.delivery_id, attempt=o.attempt,
                          outcome=o.kind, status=o.status, note="recorded after a later state change")
            continue
        changed += 1
        mid = row["message_id"]
        if o.kind != "deferred":
            event(conn, mid, "attempt", now, delivery_id=o.delivery_id, attempt=o.attempt, outcome=o.kind,
                  status=o.status, error=o.detail if o.kind in ("transient", "permanent") else None)
        if o.kind in ("delivered", "acknowledged", "available"):
            values: dict[str, object] = dict(state=o.kind, delivered_at=None if o.kind == "available" else now,
                                             lease_until=None, last_error=None, updated_at=now)
            if o.kind == "acknowledged":
                values["acknowledged_at"] = now
            if not conn.execute(update(deliveries).where(mine).values(**values)).rowcount:
                continue
            event(conn, mid, "delivered" if o.kind != "available" else "available", now, delivery_id=o.delivery_id)
            if o.kind == "acknowledged":
                event(conn, mid, "acknowledged", now, delivery_id=o.delivery_id, by=row["recipient"],
                      receipt="in the delivery response")
            resolve_failed_transfers(conn, delivery_id=o.delivery_id, resolution="delivered after retry", now=now)
            release_next(conn, recipient=row["recipient"], person_key=row["person_key"], now=now)
        elif o.kind == "deferred":
            due = now + dt.timedelta(seconds=5)
            if not conn.execute(update(deliveries).where(mine).values(
                    state="pending", attempts=deliveries.c.attempts - 1, next_attempt_at=due, queued_at=due,
                    lease_until=None, updated_at=now)).rowcount:
                continue
            enqueue(conn, [o.delivery_id], at=due, now=now)
        elif o.kind == "transient":
            failures = int(row["failures"]) + 1
            due = now + dt.timedelta(seconds=next_delay(policy, failures, rng=rng))
            first = aware(row["first_attempt_at"]) or now
            if gives_up(policy, first_attempt=first, next_attempt=due):
                _fail(conn, row, mine, cause="retries_exhausted",
                      detail=f"no success after {o.attempt} attempts over {policy.max_age}; last error: {o.detail}",
                      now=now)
            else:
                if not conn.execute(update(deliveries).where(mine).values(
                        state="pending", failures=failures, next_attempt_at=due, queued_at=due, lease_until=None,
                        last_error=o.detail, updated_at=now)).rowcount:
                    continue
                enqueue(conn, [o.delivery_id], at=due, now=now)
                event(conn, mid, "rescheduled", now, delivery_id=o.delivery_id, next_attempt_at=due.isoformat())
        else:
            _fail(conn, row, mine, cause="rejected", detail=o.detail or "rejected by the recipient", now=now)
    return changed


def _fail(conn: Connection, row: object, condition: ColumnElement[bool], *, cause: str, detail: str,
          now: dt.datetime) -> None:
    r = dict(row)  # type: ignore[call-overload]
    if not conn.execute(update(deliveries).where(condition).values(
            state="failed", lease_until=None, last_error=detail, updated_at=now)).rowcount:
        return
    open_failed_transfer(conn, message_id=r["message_id"], delivery_id=r["id"], recipient=r["recipient"],
                         cause=cause, detail=detail, now=now)


def sweep(conn: Connection, *, now: dt.datetime, redrive_after: float, policy: RetryPolicy,
          limit: int = 1000) -> dict[str, int]:
    """Redrive work not recorded as done; release stranded holds; fail uncollected inbox items."""
    stale = now - dt.timedelta(seconds=redrive_after)
    counts = {"lease_expired": 0, "lost": 0, "released": 0, "not_collected": 0}
    # 1. a worker died holding a lease
    expired = conn.execute(select(deliveries.c.id, deliveries.c.message_id).where(
        deliveries.c.state == "sending", deliveries.c.lease_until < now)
        .order_by(deliveries.c.id).limit(limit).with_for_update(skip_locked=True)).all()
    for d in expired:
        if conn.execute(update(deliveries).where(
                deliveries.c.id == d.id, deliveries.c.state == "sending", deliveries.c.lease_until < now).values(
                state="pending", lease_until=None, next_attempt_at=now, queued_at=now, updated_at=now)).rowcount:
            event(conn, d.message_id, "redriven", now, delivery_id=d.id, reason="lease expired")
            enqueue(conn, [d.id], at=now, now=now)
            counts["lease_expired"] += 1
    # 2. due for a while, nothing announcing it: the broker lost the announcement
    lost = conn.execute(select(deliveries.c.id, deliveries.c.message_id).where(
        deliveries.c.state == "pending", deliveries.c.next_attempt_at <= stale, deliveries.c.queued_at <= stale,
        ~exists().where(outbox.c.delivery_id == deliveries.c.id))
        .order_by(deliveries.c.id).limit(limit).with_for_update(skip_locked=True)).all()
    for d in lost:
        if conn.execute(update(deliveries).where(
                deliveries.c.id == d.id, deliveries.c.state == "pending", deliveries.c.queued_at <= stale).values(
                queued_at=now)).rowcount:
            enqueue(conn, [d.id], at=now, now=now)
            event(conn, d.message_id, "redriven", now, delivery_id=d.id, reason="announcement lost")
            counts["lost"] += 1
    # 3. held behind something that is through (a release raced with the hold)
    held = conn.execute(select(deliveries.c.recipient, deliveries.c.person_key, deliveries.c.seq).where(
        deliveries.c.state == "held", deliveries.c.updated_at <= stale).limit(limit)).all()
    low = earliest_open(conn, {(h.recipient, h.person_key) for h in held})
    for h in held:
        if low.get((h.recipient, h.person_key)) == h.seq:
            release_next(conn, recipient=h.recipient, person_key=h.person_key, now=now)
            counts["released"] += 1
    # 4. an inbox item nobody collected within the maximum age
    too_old = now - policy.max_age
    uncollected = conn.execute(select(deliveries).where(
        deliveries.c.state == "available", deliveries.c.first_attempt_at < too_old).limit(limit)).mappings().all()
    for u in uncollected:
        _fail(conn, u, and_(deliveries.c.id == u["id"], deliveries.c.state == "available"), cause="not_collected",
              detail=f"not collected from the inbox within {policy.max_age}", now=now)
    counts["not_collected"] = len(uncollected)
    return counts


FINAL = FINAL_FOR_ORDER
