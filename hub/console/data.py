"""What the console's pages show, read from the store: failed transfers with filters and search, one failed
transfer whole, the dashboard's figures, the audit log. Each query takes the agency an operator is limited to
(None: every agency), so that a page and the API built on the same query can never show more than the role
allows."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select
from sqlalchemy.sql import ColumnElement, Select

from hub.case_views import due_obligations
from hub.core.facts import legal_day
from hub.store.db import aware
from hub.store.schema import audit_log, deliveries, events, failed_transfers, messages

PAGE = 50
AGES = {"lt1d": (None, dt.timedelta(days=1)), "1to3d": (dt.timedelta(days=1), dt.timedelta(days=3)),
        "3to7d": (dt.timedelta(days=3), dt.timedelta(days=7)), "gt7d": (dt.timedelta(days=7), None)}
CAUSES = ("no_recipient", "rejected", "retries_exhausted", "not_collected")
STATUSES = ("open", "retrying", "resolved")


@dataclasses.dataclass(frozen=True)
class FailedFilter:
    """The failed-transfer list's filters, as the form and the API query string give them."""

    status: str | None = "open"
    agency: str | None = None  # sender or recipient
    message_type: str | None = None
    cause: str | None = None
    age: str | None = None  # a key of AGES
    q: str | None = None  # a person's name, ID number or a case number
    recipient: str | None = None

    @classmethod
    def of(cls, params: dict[str, str]) -> FailedFilter:
        def pick(name: str, allowed: tuple[str, ...] | None = None) -> str | None:
            v = (params.get(name) or "").strip()
            if not v or v == "any":
                return None
            return v if allowed is None or v in allowed else None

        status = params.get("status", "open")
        return cls(status=None if status in ("", "any") else status if status in STATUSES else "open",
                   agency=pick("agency"), message_type=pick("message_type"), cause=pick("cause", CAUSES),
                   age=pick("age", tuple(AGES)), q=pick("q"), recipient=pick("recipient"))

    def query(self) -> dict[str, str]:
        return {k: v for k, v in (("status", self.status or "any"), ("agency", self.agency),
                                  ("message_type", self.message_type), ("cause", self.cause), ("age", self.age),
                                  ("q", self.q), ("recipient", self.recipient)) if v}


def _failed_query(f: FailedFilter, *, scope: str | None, now: dt.datetime) -> Select[Any]:
    q = select(failed_transfers, messages.c.message_type, messages.c.sender, messages.c.person_name,
               messages.c.id_number, messages.c.case_number, messages.c.person_key).join(
        messages, messages.c.id == failed_transfers.c.message_id)
    if scope is not None:
        q = q.where(or_(messages.c.sender == scope, failed_transfers.c.recipient == scope))
    if f.status:
        q = q.where(failed_transfers.c.status == f.status)
    if f.agency:
        q = q.where(or_(messages.c.sender == f.agency, failed_transfers.c.recipient == f.agency))
    if f.recipient:
        q = q.where(failed_transfers.c.recipient == f.recipient)
    if f.message_type:
        q = q.where(messages.c.message_type == f.message_type)
    if f.cause:
        q = q.where(failed_transfers.c.cause == f.cause)
    if f.age:
        older, younger = AGES[f.age]
        if older is not None:
            q = q.where(failed_transfers.c.created_at <= now - older)
        if younger is not None:
            q = q.where(failed_transfers.c.created_at > now - younger)
    if f.q:
        text = f.q.strip()
        like = f"%{text.replace('%', '').replace('_', '')}%"
        q = q.where(or_(messages.c.id_number == text.upper(), messages.c.person_name.like(like),
                        messages.c.case_number.like(like), messages.c.person_key == text))
    return q


def failed_list(engine: Engine, f: FailedFilter, *, scope: str | None, now: dt.datetime, limit: int = PAGE,
                offset: int = 0) -> dict[str, Any]:
    """Failed transfers that match (oldest first), ``limit`` from ``offset``, and how many match in all."""
    base = _failed_query(f, scope=scope, now=now)
    with engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(base.subquery())).scalar_one())
        rows = conn.execute(base.order_by(failed_transfers.c.created_at, failed_transfers.c.id)
                            .limit(limit).offset(max(0, offset))).mappings().all()
    return {"total": total, "items": [_row(r, now) for r in rows]}


def failed_ids(engine: Engine, f: FailedFilter, *, scope: str | None, now: dt.datetime) -> list[str]:
    """Every failed transfer that matches (for a bulk task)."""
    q = _failed_query(f, scope=scope, now=now).with_only_columns(failed_transfers.c.id)
    with engine.connect() as conn:
        return list(conn.execute(q.order_by(failed_transfers.c.created_at, failed_transfers.c.id)).scalars())


def _row(r: Any, now: dt.datetime) -> dict[str, Any]:
    created = aware(r["created_at"])
    assert created is not None
    return {"id": r["id"], "message_id": r["message_id"], "delivery_id": r["delivery_id"],
            "recipient": r["recipient"], "cause": r["cause"], "detail": r["detail"], "status": r["status"],
            "created_at": created, "age_hours": round((now - created).total_seconds() / 3600, 1),
            "resolved_at": aware(r["resolved_at"]), "resolution": r["resolution"], "resolved_by": r["resolved_by"],
            "message_type": r["message_type"], "sender": r["sender"], "person_name": r["person_name"],
            "id_number": r["id_number"], "case_number": r["case_number"], "person_key": r["person_key"]}


def failed_one(engine: Engine, ft_id: str, *, scope: str | None, now: dt.datetime) -> dict[str, Any] | None:
    """One failed transfer with its message's payloads and every attempt of its delivery; None when it does not
    exist or is outside ``scope``."""
    q = _failed_query(FailedFilter(status=None), scope=scope, now=now).where(failed_transfers.c.id == ft_id)
    with engine.connect() as conn:
        r = conn.execute(q).mappings().first()
        if r is None:
            return None
        m = conn.execute(select(messages.c.raw, messages.c.canonical, messages.c.channel, messages.c.received_at)
                         .where(messages.c.id == r["message_id"])).mappings().one()
        evs = conn.execute(select(events).where(events.c.message_id == r["message_id"]).order_by(events.c.id)
                           ).mappings().all()
        ds = conn.execute(select(deliveries.c.id, deliveries.c.recipient, deliveries.c.state, deliveries.c.attempts,
                                 deliveries.c.last_error).where(deliveries.c.message_id == r["message_id"])
                          .order_by(deliveries.c.recipient)).mappings().all()
    out = _row(r, now)
    out["raw"] = _text(bytes(m["raw"]))
    out["canonical"] = _text(bytes(m["canonical"]))
    out["channel"] = m["channel"]
    out["received_at"] = aware(m["received_at"])
    out["attempts"] = [{"at": aware(e["at"]), "kind": e["kind"], "delivery_id": e["delivery_id"],
                        "detail": json.loads(e["detail"]) if e["detail"] else {}} for e in evs
                       if r["delivery_id"] is None or e["delivery_id"] in (None, r["delivery_id"])]
    out["deliveries"] = [dict(d) for d in ds]
    return out


def _text(b: bytes) -> str:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b.decode("utf-8", errors="replace")


def _legal_day(column: Any, dialect: str) -> Any:
    """The legal day (Asia/Shanghai) of a stored UTC timestamp, in SQL."""
    if dialect == "postgresql":
        return func.date(func.timezone("Asia/Shanghai", column))
    return func.date(column, "+8 hours")


def _per_day(conn: Any, column: Any, since: dt.datetime, *where: Any) -> dict[dt.date, int]:
    day = _legal_day(column, conn.dialect.name).label("day")
    q = select(day, func.count()).where(column >= since, *where).group_by(day)
    out: dict[dt.date, int] = {}
    for d, n in conn.execute(q):
        out[d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d))] = int(n)
    return out


def dashboard(engine: Engine, *, scope: str | None, now: dt.datetime, days: int = 14) -> dict[str, Any]:
    """Messages the hub received and deliveries it made, per legal day and per agency over the last ``days``
    days; the delivery queue; failed transfers by cause and age; open obligations due soon, due today and overdue
    per responsible agency (for an agency: those it owes or is owed, as its obligation list has them)."""
    today = legal_day(now)
    first = today - dt.timedelta(days=days - 1)
    since = dt.datetime.combine(first, dt.time(0), tzinfo=dt.timezone(dt.timedelta(hours=8))).astimezone(dt.UTC)
    sent_q = select(messages.c.sender, func.count()).where(messages.c.received_at >= since).group_by(messages.c.sender)
    recv_q = select(deliveries.c.recipient, func.count()).where(deliveries.c.created_at >= since).group_by(
        deliveries.c.recipient)
    queue_q = select(deliveries.c.state, func.count()).where(
        deliveries.c.state.in_(("pending", "held", "sending", "available", "delivered"))).group_by(deliveries.c.state)
    ft_q = select(failed_transfers.c.cause, failed_transfers.c.created_at).where(
        failed_transfers.c.status != "resolved")
    if scope is not None:
        sent_q = sent_q.where(messages.c.sender == scope)
        recv_q = recv_q.where(deliveries.c.recipient == scope)
        queue_q = queue_q.where(deliveries.c.recipient == scope)
        ft_q = ft_q.join(messages, messages.c.id == failed_transfers.c.message_id).where(
            or_(messages.c.sender == scope, failed_transfers.c.recipient == scope))
    with engine.connect() as conn:
        sent: dict[str, int] = {a: int(n) for a, n in conn.execute(sent_q)}
        received: dict[str, int] = {a: int(n) for a, n in conn.execute(recv_q)}
        queue: dict[str, int] = {s: int(n) for s, n in conn.execute(queue_q)}
        fts = conn.execute(ft_q).all()
        daily_in = _per_day(conn, messages.c.received_at, since,
                            *([messages.c.sender == scope] if scope is not None else []))
        daily_out = _per_day(conn, deliveries.c.created_at, since,
                             *([deliveries.c.recipient == scope] if scope is not None else []))
    by_cause: dict[str, dict[str, int]] = {c: dict.fromkeys(AGES, 0) for c in CAUSES}
    for cause, created in fts:
        age = now - (aware(created) or now)
        bucket = next(k for k, (lo, hi) in AGES.items() if (lo is None or age >= lo) and (hi is None or age < hi))
        by_cause.setdefault(cause, dict.fromkeys(AGES, 0))[bucket] += 1
    agencies = sorted(set(sent) | set(received))
    obligations: dict[str, dict[str, int]] = {}
    for row, status in due_obligations(engine, today=today, agency=scope):  # owed by or owed to ``scope``
        per = obligations.setdefault(row["obligor"], {"due_soon": 0, "due_today": 0, "overdue": 0})
        if status.value in per:
            per[status.value] += 1
    series = [{"day": first + dt.timedelta(days=i), "in": daily_in.get(first + dt.timedelta(days=i), 0),
               "out": daily_out.get(first + dt.timedelta(days=i), 0)} for i in range(days)]
    flows = [{"agency": a, "sent": sent.get(a, 0), "received": received.get(a, 0)} for a in agencies]
    return {"days": days, "series": series, "flows": flows,
            "queue": queue, "failed": by_cause, "failed_total": len(fts),
            "obligations": dict(sorted(obligations.items())),
            "today": today}


def audit_page(engine: Engine, *, actor: str | None = None, action: str | None = None, target: str | None = None,
               page: int = 1, per_page: int = PAGE) -> dict[str, Any]:
    """The audit log, newest first, filtered by who, what and which object (substring)."""
    conds: list[ColumnElement[bool]] = []
    if actor:
        conds.append(audit_log.c.actor.like(f"%{actor}%"))
    if action:
        conds.append(audit_log.c.action == action)
    if target:
        conds.append(audit_log.c.target.like(f"%{target}%"))
    where = and_(*conds) if conds else None
    q = select(audit_log)
    count = select(func.count()).select_from(audit_log)
    if where is not None:
        q, count = q.where(where), count.where(where)
    with engine.connect() as conn:
        total = int(conn.execute(count).scalar_one())
        rows = conn.execute(q.order_by(audit_log.c.id.desc()).limit(per_page)
                            .offset(max(0, page - 1) * per_page)).mappings().all()
    return {"total": total, "page": page, "pages": max(1, -(-total // per_page)),
            "items": [{"id": r["id"], "at": aware(r["at"]), "actor": r["actor"], "action": r["action"],
                       "target": r["target"], "detail": r["detail"]} for r in rows]}
