"""The delivery work cycle on the database: relay the outbox, claim, record outcomes, sweep.

A claim is a lease: the delivery is ``sending`` until ``lease_until``. Outcomes are recorded only
against the claim that made them (same ``attempts``), so a late or repeated worker never changes
state twice. Whatever is not recorded as done — a lost broker message, a killed worker — is found by
``sweep`` and announced again.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, and_, delete, exists, insert, select, tuple_, update

from hub.core.retry import RetryPolicy, gives_up, next_delay
from hub.store.db import aware
from hub.store.ledger import (
    FINAL_FOR_ORDER,
    earliest_open,
    enqueue,
    event,
    open_failed_transfer,
    release_held,
    release_next,
    withdraw_pending_edits,
)
from hub.store.schema import deliveries, events, failed_transfers, messages, outbox


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
    send_by: float = float("inf")  # time.monotonic() after which the lease may be gone: don't start the send


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
    firsts = [r.id for r in keep if r.first_attempt_at is None]
    if firsts:
        conn.execute(update(deliveries).where(deliveries.c.id.in_(firsts)).values(first_attempt_at=now))
    info = {m.id: (m.message_type, m.canonical) for m in conn.execute(
        select(messages.c.id, messages.c.message_type, messages.c.canonical)
        .where(messages.c.id.in_({r.message_id for r in keep})))}
    send_by = time.monotonic() + lease * 0.9
    return [Claimed(r.id, int(r.seq), r.message_id, info[r.message_id][0], r.recipient, r.transport, r.person_key,
                    int(r.attempts), bytes(info[r.message_id][1]), send_by) for r in keep]


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


SUCCESS = ("delivered", "acknowledged", "available")


def record_outcomes(conn: Connection, outcomes: Sequence[Outcome], *, policy: RetryPolicy, now: dt.datetime,
                    rng: random.Random | None = None) -> int:
    """Apply send outcomes to their claims; returns how many changed state (stale ones change nothing)."""
    changed = _record_successes(conn, [o for o in outcomes if o.kind in SUCCESS], now=now)
    for o in outcomes:
        if o.kind in SUCCESS:
            continue
        mine = and_(deliveries.c.id == o.delivery_id, deliveries.c.state == "sending",
                    deliveries.c.attempts == o.attempt)
        row = conn.execute(select(deliveries).where(mine)).mappings().first()
        if row is None:
            continue
        changed += 1
        mid = row["message_id"]
        if o.kind == "deferred":
            due = now + dt.timedelta(seconds=5)
            if conn.execute(update(deliveries).where(mine).values(
                    state="pending", attempts=deliveries.c.attempts - 1, next_attempt_at=due, queued_at=due,
                    lease_until=None, updated_at=now)).rowcount:
                enqueue(conn, [o.delivery_id], at=due, now=now)
            continue
        event(conn, mid, "attempt", now, delivery_id=o.delivery_id, attempt=o.attempt, outcome=o.kind,
              status=o.status, error=o.detail)
        if o.kind == "transient":
            failures = int(row["failures"]) + 1
            due = now + dt.timedelta(seconds=next_delay(policy, failures, rng=rng))
            first = aware(row["first_attempt_at"]) or now
            if gives_up(policy, first_attempt=first, next_attempt=due):
                _fail(conn, row, mine, cause="retries_exhausted",
                      detail=f"no success after {o.attempt} attempts over {policy.max_age}; last error: {o.detail}",
                      now=now)
            elif conn.execute(update(deliveries).where(mine).values(
                    state="pending", failures=failures, next_attempt_at=due, queued_at=due, lease_until=None,
                    last_error=o.detail, updated_at=now)).rowcount:
                enqueue(conn, [o.delivery_id], at=due, now=now)
                event(conn, mid, "rescheduled", now, delivery_id=o.delivery_id, next_attempt_at=due.isoformat())
        else:
            _fail(conn, row, mine, cause="rejected", detail=o.detail or "rejected by the recipient", now=now)
    return changed


def _ev(message_id: str, delivery_id: str, kind: str, at: dt.datetime, **detail: object) -> dict[str, object]:
    return dict(message_id=message_id, delivery_id=delivery_id, at=at, kind=kind,
                detail=json.dumps(detail, ensure_ascii=False, default=str) if detail else None)


def _record_successes(conn: Connection, ok: Sequence[Outcome], *, now: dt.datetime) -> int:
    """Successful sends in a handful of statements, however many there are (the hot path)."""
    if not ok:
        return 0
    evs: list[dict[str, object]] = []
    done: list[Row[Any]] = []
    for kind in SUCCESS:
        group = {o.delivery_id: o for o in ok if o.kind == kind}
        if not group:
            continue
        values: dict[str, object] = dict(state=kind, delivered_at=None if kind == "available" else now,
                                         lease_until=None, last_error=None, updated_at=now)
        if kind == "acknowledged":
            values["acknowledged_at"] = now
        rows = conn.execute(
            update(deliveries)
            .where(tuple_(deliveries.c.id, deliveries.c.attempts).in_([(o.delivery_id, o.attempt)
                                                                       for o in group.values()]),
                   deliveries.c.state == "sending")
            .values(**values)
            .returning(deliveries.c.id, deliveries.c.message_id, deliveries.c.recipient,
                       deliveries.c.person_key, deliveries.c.attempts)).all()
        for r in rows:
            o = group.pop(r.id)
            evs.append(_ev(r.message_id, r.id, "attempt", now, attempt=o.attempt, outcome=kind, status=o.status))
            evs.append(_ev(r.message_id, r.id, "available" if kind == "available" else "delivered", now))
            if kind == "acknowledged":
                evs.append(_ev(r.message_id, r.id, "acknowledged", now, by=r.recipient,
                               receipt="in the delivery response"))
        done.extend(rows)
        if group:  # e.g. a receipt arrived before this outcome: keep the attempt on the record, change nothing
            for d in conn.execute(select(deliveries.c.id, deliveries.c.message_id)
                                  .where(deliveries.c.id.in_(list(group)))):
                o = group[d.id]
                evs.append(_ev(d.message_id, d.id, "attempt", now, attempt=o.attempt, outcome=kind, status=o.status,
                               note="recorded after a later state change"))
    if evs:
        conn.execute(insert(events), evs)
    retried = [r.id for r in done if r.attempts > 1]
    if retried:
        conn.execute(update(failed_transfers).where(
            failed_transfers.c.delivery_id.in_(retried), failed_transfers.c.status != "resolved",
        ).values(status="resolved", resolved_at=now, resolution="delivered after retry", resolved_by="hub"))
        withdraw_pending_edits(conn, failed_transfers.c.delivery_id.in_(retried), now=now)
    release_held(conn, {(r.recipient, r.person_key) for r in done}, now=now)
    return len(done)


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
    earlier = deliveries.alias("earlier")
    stranded = conn.execute(select(deliveries.c.recipient, deliveries.c.person_key).where(
        deliveries.c.state == "held", deliveries.c.updated_at <= stale,
        ~exists().where(earlier.c.recipient == deliveries.c.recipient, earlier.c.person_key == deliveries.c.person_key,
                        earlier.c.seq < deliveries.c.seq, earlier.c.state.not_in(FINAL_FOR_ORDER)),
    ).order_by(deliveries.c.seq).limit(limit)).all()
    for h in {(h.recipient, h.person_key) for h in stranded}:
        release_next(conn, recipient=h[0], person_key=h[1], now=now)
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

