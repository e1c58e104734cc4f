"""The hub's service functions: ingest, status, inbox, failed transfers, quarantine.

Each runs its own transaction and returns plain data; the API and CLI only translate.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from sqlalchemy import Connection, Engine, insert, select, update

from adapters import get_adapter
from hub import audit, authz
from hub.canonical import parse
from hub.core.model import Agency, Canonical, Directory
from hub.core.routing import HUB_MESSAGE_TYPES, route
from hub.errors import Forbidden, InvalidMessage, Problem
from hub.store.db import aware, utcnow
from hub.store.ingest import Incoming, MessageIdTaken, delivery_rows, routed_event, store_batch, store_message
from hub.store.ledger import acknowledge, enqueue, event, withdraw_pending_edits
from hub.store.schema import deliveries, events, failed_transfers, messages, quarantine
from hub.workers.groupcommit import GroupCommit

QUARANTINE_KEEP = 1024 * 1024  # bytes of an oversize body kept for operators


class SendRefused(Forbidden):
    """A message its sender may not send: ``code`` is ``sender_mismatch`` (the envelope names another agency) or
    ``sender_not_authorised`` (the sender's organ type may not originate the message type, ``hub.authz.SEND``);
    ``field`` is the envelope field at fault."""

    def __init__(self, code: str, message: str, *, field: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


@dataclass(frozen=True)
class IngestResult:
    message_id: str
    created: bool


@dataclass
class Hub:
    """What the edges need to serve a request: the engine, the registry, the compiled schema."""

    engine: Engine
    directory: Directory
    schema: etree.XMLSchema
    on_commit: Any = field(default=lambda: None)
    committer: GroupCommit | None = None

    # ---- ingest -------------------------------------------------------------------------------------

    def prepare(self, raw: bytes, *, agency: Agency, channel: str = "api",
                canonical_xml: bytes | None = None) -> Incoming:
        """Validate, authorise and route one canonical message (nothing stored yet).

        Raises InvalidMessage, or SendRefused when the envelope's sender is not ``agency`` or its organ type may not
        send the message (``hub.authz.may_send``, on the canonical form whichever channel it came by)."""
        body = canonical_xml if canonical_xml is not None else raw
        msg = parse(body, schema=self.schema).canonical
        if msg.sender != agency.code:
            raise SendRefused("sender_mismatch", f"envelope sender {msg.sender} is not the authenticated agency "
                              f"{agency.code}", field="sender")
        allowed = authz.may_send(agency.organ_type, msg.message_type, msg.facts)
        if not allowed:
            raise SendRefused("sender_not_authorised", f"{agency.code}: {allowed.reason}", field="messageType")
        return Incoming(msg, raw, body, channel, tuple(route(msg, self.directory)))

    def ingest(self, raw: bytes, *, agency: Agency, channel: str = "api",
               canonical_xml: bytes | None = None) -> IngestResult:
        """Validate, authorise, route and store one canonical message; idempotent per sender document id.

        Raises InvalidMessage or Forbidden (the caller quarantines the raw bytes)."""
        item = self.prepare(raw, agency=agency, channel=channel, canonical_xml=canonical_xml)
        msg = item.msg
        try:
            if self.committer is not None:
                acc = self.committer.submit(item)
            else:
                with self.engine.begin() as conn:
                    acc = store_message(conn, item, directory=self.directory, now=utcnow())
        except MessageIdTaken as e:
            raise _id_taken(msg) from e
        if acc.created:
            self.on_commit()
        return IngestResult(acc.message_id, acc.created)

    def store_many(self, items: list[Incoming]) -> list[IngestResult | InvalidMessage]:
        """Store prepared messages in one transaction (each alone if the batch fails); one result per item."""
        try:
            with self.engine.begin() as conn:
                results = store_batch(conn, items, directory=self.directory, now=utcnow())
        except Exception:
            if len(items) == 1:
                raise
            return [r for it in items for r in self.store_many([it])]
        out: list[IngestResult | InvalidMessage] = [
            _id_taken(it.msg) if isinstance(r, MessageIdTaken) else IngestResult(r.message_id, r.created)
            for it, r in zip(items, results, strict=True)]
        if any(isinstance(r, IngestResult) and r.created for r in out):
            self.on_commit()
        return out

    def quarantine(self, raw: bytes, *, agency: str | None, channel: str, status: int, code: str,
                   message: str, problems: list[Problem], content_type: str | None, size: int | None = None,
                   truncated: bool = False, payload_id: str | None = None, record_number: int | None = None,
                   conn: Any = None) -> str:
        """Keep a rejected input for operators; returns the quarantine id."""
        qid = str(uuid.uuid4())
        row = dict(
            id=qid, received_at=utcnow(), agency=agency, channel=channel, status_code=status, code=code,
            message=message, problems=json.dumps([p.as_dict() for p in problems], ensure_ascii=False),
            content_type=(content_type or "")[:100], size=size if size is not None else len(raw),
            truncated=1 if truncated or len(raw) > QUARANTINE_KEEP else 0, raw=raw[:QUARANTINE_KEEP],
            payload_id=payload_id, record_number=record_number)
        if conn is not None:
            conn.execute(insert(quarantine).values(**row))
        else:
            with self.engine.begin() as c:
                c.execute(insert(quarantine).values(**row))
        return qid

    def get_quarantine(self, qid: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(quarantine).where(quarantine.c.id == qid)).mappings().first()
        if row is None:
            return None
        out = dict(row)
        out["problems"] = json.loads(out["problems"])
        out["received_at"] = aware(out["received_at"])
        out["truncated"] = bool(out["truncated"])
        return out

    # ---- status ---------------------------------------------------------------------------------------

    def message_status(self, message_id: str) -> dict[str, Any] | None:
        """The message, each recipient's state and the full timeline."""
        with self.engine.connect() as conn:
            m = conn.execute(select(messages).where(messages.c.id == message_id)).mappings().first()
            if m is None:
                return None
            ds = conn.execute(select(deliveries).where(deliveries.c.message_id == message_id)
                              .order_by(deliveries.c.role.desc(), deliveries.c.recipient)).mappings().all()
            fts = conn.execute(select(failed_transfers).where(failed_transfers.c.message_id == message_id)
                               .order_by(failed_transfers.c.created_at)).mappings().all()
            evs = conn.execute(select(events).where(events.c.message_id == message_id)
                               .order_by(events.c.id)).mappings().all()
        return {
            "message_id": m["id"], "seq": m["seq"], "message_type": m["message_type"], "sender": m["sender"],
            "sender_document_id": m["sender_document_id"], "correlation_id": m["correlation_id"],
            "causation_id": m["causation_id"], "person_key": m["person_key"], "case_number": m["case_number"],
            "execution_division": m["execution_division"], "channel": m["channel"],
            "sent_at": aware(m["sent_at"]), "received_at": aware(m["received_at"]),
            "recipients": [_delivery_view(d) for d in ds],
            "failed_transfers": [_ft_view(f) for f in fts],
            "timeline": [{"at": aware(e["at"]), "kind": e["kind"], "delivery_id": e["delivery_id"],
                          **({"detail": json.loads(e["detail"])} if e["detail"] else {})} for e in evs],
        }

    def message_parties(self, message_id: str) -> tuple[str, dict[str, str]] | None:
        """The message's sender and each recipient's role (to, cc); None if there is no such message."""
        with self.engine.connect() as conn:
            sender = conn.execute(select(messages.c.sender).where(messages.c.id == message_id)).scalar()
            if sender is None:
                return None
            rows = conn.execute(select(deliveries.c.recipient, deliveries.c.role)
                                .where(deliveries.c.message_id == message_id)).all()
        return str(sender), {r.recipient: r.role for r in rows}

    def may_read_message(self, who: authz.Principal, message_id: str, resource: str = "message") -> bool:
        """Whether ``who`` may read the message (``hub.authz.ACCESS[resource]``: its sender, the agencies it was
        routed to or copied to, the hub's operators); False for no such message."""
        found = self.message_parties(message_id)
        if found is None:
            return False
        sender, recipients = found
        return authz.decide(who, resource, authz.message_relations(
            who.code, sender=sender, recipients=recipients)).allowed

    # ---- pull inbox ------------------------------------------------------------------------------------

    def inbox(self, agency: Agency, *, limit: int = 100, after: int = 0) -> list[dict[str, Any]]:
        """The agency's undelivered and unacknowledged inbox items in hub order; fetching marks them delivered."""
        now = utcnow()
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(deliveries.c.id, deliveries.c.message_id, deliveries.c.state, deliveries.c.seq,
                       messages.c.message_type, messages.c.canonical)
                .join(messages, messages.c.id == deliveries.c.message_id)
                .where(deliveries.c.recipient == agency.code, deliveries.c.state.in_(("available", "delivered")),
                       deliveries.c.seq > after)
                .order_by(deliveries.c.seq).limit(limit)).all()
            fresh = [r for r in rows if r.state == "available"]
            if fresh:
                # only the rows this fetch changed are recorded as delivered: two fetches of one inbox at once
                # both read an item as available, but one UPDATE changes it (state changes are applied once)
                changed = set(conn.execute(update(deliveries).where(
                    deliveries.c.id.in_([r.id for r in fresh]), deliveries.c.state == "available",
                ).values(state="delivered", delivered_at=now, updated_at=now).returning(deliveries.c.id)).scalars())
                for r in fresh:
                    if r.id in changed:
                        event(conn, r.message_id, "delivered", now, delivery_id=r.id, via="inbox")
        return [_inbox_item(agency, r) for r in rows]

    def inbox_ack(self, agency: Agency, delivery_id: str) -> bool | None:
        """Acknowledge one inbox item; None if there is no such delivery or it was not made to this agency
        (``hub.authz.ACCESS["delivery"]``)."""
        with self.engine.begin() as conn:
            row = conn.execute(select(deliveries.c.message_id, deliveries.c.recipient, deliveries.c.role).where(
                deliveries.c.id == delivery_id)).first()
            if row is None or not authz.decide(authz.Principal(agency.code, agency.organ_type), "delivery",
                                               authz.message_relations(agency.code, sender=None,
                                                                       recipients={row.recipient: row.role})):
                return None
            changed = acknowledge(conn, original_id=row.message_id, by_agency=agency.code, ack_message_id=None,
                                  now=utcnow())
        if changed:
            self.on_commit()
        return changed

    # ---- failed transfers ------------------------------------------------------------------------------

    def failed_transfers(self, *, status: str | None = "open", cause: str | None = None,
                         recipient: str | None = None, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        q = select(failed_transfers, messages.c.message_type, messages.c.sender).join(
            messages, messages.c.id == failed_transfers.c.message_id)
        if status:
            q = q.where(failed_transfers.c.status == status)
        if cause:
            q = q.where(failed_transfers.c.cause == cause)
        if recipient:
            q = q.where(failed_transfers.c.recipient == recipient)
        q = q.order_by(failed_transfers.c.created_at, failed_transfers.c.id).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [_ft_view(r) | {"message_type": r["message_type"], "sender": r["sender"]}
                    for r in conn.execute(q).mappings()]

    def retry_failed_transfer(self, ft_id: str, *, actor: str, reason: str | None = None,
                              conn: Connection | None = None) -> dict[str, Any] | None:
        """Send again: the delivery restarts its retry clock; a no-recipient message is routed anew. With ``conn``
        the retry is made in a savepoint of the caller's transaction: it commits with it, or not at all, and the
        caller wakes the workers once it has committed."""
        if conn is not None:
            with conn.begin_nested():
                return self._retry(conn, ft_id, actor=actor, reason=reason)
        with self.engine.begin() as own:
            result = self._retry(own, ft_id, actor=actor, reason=reason)
        if result is not None:
            self.on_commit()
        return result

    def _retry(self, conn: Connection, ft_id: str, *, actor: str, reason: str | None) -> dict[str, Any] | None:
        now = utcnow()
        # the failed transfer's row is locked before the audit log's head, in the order every other action on a
        # failed transfer takes them (hub.transfer_actions), so that two of them never wait on each other
        ft = conn.execute(select(failed_transfers).where(failed_transfers.c.id == ft_id).with_for_update()
                          ).mappings().first()
        if ft is None:
            return None
        if ft["status"] == "resolved":
            return {"id": ft_id, "status": "resolved", "note": "already resolved; nothing to retry"}
        audit.record(conn, at=now, actor=actor, action="retry_failed_transfer", target=f"failed_transfer:{ft_id}",
                     detail=reason)
        if ft["delivery_id"] is None:
            return self._reroute(conn, ft, actor=actor, now=now)
        if not conn.execute(update(deliveries).where(
                deliveries.c.id == ft["delivery_id"], deliveries.c.state == "failed").values(
                state="pending", failures=0, first_attempt_at=None, next_attempt_at=now, queued_at=now,
                lease_until=None, updated_at=now)).rowcount:
            return {"id": ft_id, "status": ft["status"],
                    "note": "the delivery is not failed (already being retried or delivered)"}
        enqueue(conn, [ft["delivery_id"]], at=now, now=now)
        conn.execute(update(failed_transfers).where(failed_transfers.c.id == ft_id).values(status="retrying"))
        event(conn, ft["message_id"], "retried", now, delivery_id=ft["delivery_id"], by=actor, failed_transfer=ft_id)
        return {"id": ft_id, "status": "retrying", "delivery_id": ft["delivery_id"]}

    def _reroute(self, conn: Any, ft: Any, *, actor: str, now: dt.datetime) -> dict[str, Any]:
        m = conn.execute(select(messages).where(messages.c.id == ft["message_id"])).mappings().first()
        msg: Canonical = parse(bytes(m["canonical"]), schema=self.schema).canonical
        routes = route(msg, self.directory)
        missing = [r for r in routes if r.agency is None]
        event(conn, msg.message_id, "retried", now, by=actor, failed_transfer=ft["id"])
        have = frozenset(conn.execute(select(deliveries.c.recipient)
                                      .where(deliveries.c.message_id == msg.message_id)).scalars())
        rows = delivery_rows(msg, int(m["seq"]), routes, self.directory, now, skip=have)
        if rows:
            conn.execute(insert(deliveries), rows)
            enqueue(conn, [r["id"] for r in rows], at=now, now=now)
        conn.execute(insert(events), routed_event(msg, routes, now))
        if missing:
            conn.execute(update(failed_transfers).where(failed_transfers.c.id == ft["id"]).values(
                detail="; ".join(r.missing or r.why for r in missing)))
            return {"id": ft["id"], "status": "open", "note": "still no recipient: " + ft["detail"]}
        conn.execute(update(failed_transfers).where(failed_transfers.c.id == ft["id"]).values(
            status="resolved", resolved_at=now, resolution="routed again after a registry change", resolved_by=actor))
        withdraw_pending_edits(conn, failed_transfers.c.id == ft["id"], now=now)
        return {"id": ft["id"], "status": "resolved"}


def _inbox_item(agency: Agency, r: Any) -> dict[str, Any]:
    """An inbox item in the agency's own format: text formats as ``payload``, binary ones (XLSX) base64."""
    item: dict[str, Any] = {"delivery_id": r.id, "message_id": r.message_id, "message_type": r.message_type,
                            "seq": r.seq}
    # the hub's own notices have no form in any agency's native format: they are handed over as canonical XML
    system = "canonical" if r.message_type in HUB_MESSAGE_TYPES else agency.adapter
    try:
        enc = get_adapter(system).encode(bytes(r.canonical), message_type=r.message_type)
    except ValueError as e:
        # the agency's format has no form for this message: hand over the canonical XML and say why
        return item | {"content_type": "application/xml; charset=utf-8", "format": "canonical",
                       "format_note": str(e), "payload": bytes(r.canonical).decode("utf-8")}
    item |= {"content_type": enc.content_type, "format": system}
    if "charset=utf-8" in enc.content_type.lower().replace(" ", "") or enc.content_type.startswith("text/csv"):
        item["payload"] = enc.body.decode("utf-8-sig")
    else:
        item["payload_base64"] = base64.b64encode(enc.body).decode()
    return item


def _id_taken(msg: Canonical) -> InvalidMessage:
    return InvalidMessage("duplicate_message_id", "message id already used by another document", [
        Problem(f"messageId {msg.message_id} belongs to an earlier message with another senderDocumentId",
                path=f"/x:{msg.message_type}/x:envelope/x:messageId")], 409)


def _delivery_view(d: Any) -> dict[str, Any]:
    return {
        "delivery_id": d["id"], "recipient": d["recipient"], "role": d["role"], "transport": d["transport"],
        "state": d["state"], "attempts": d["attempts"], "last_error": d["last_error"],
        "hold_reason": d["hold_reason"], "next_attempt_at": aware(d["next_attempt_at"])
        if d["state"] == "pending" else None,
        "delivered_at": aware(d["delivered_at"]), "acknowledged_at": aware(d["acknowledged_at"]),
        "receipt_message_id": d["ack_message_id"],
    }


def _ft_view(f: Any) -> dict[str, Any]:
    return {
        "id": f["id"], "message_id": f["message_id"], "delivery_id": f["delivery_id"], "recipient": f["recipient"],
        "cause": f["cause"], "detail": f["detail"], "status": f["status"], "created_at": aware(f["created_at"]),
        "resolved_at": aware(f["resolved_at"]), "resolution": f["resolution"], "resolved_by": f["resolved_by"],
    }

