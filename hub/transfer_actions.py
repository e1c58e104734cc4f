"""What an operator does with a failed transfer besides retrying it: reroute it to another agency, edit its canonical
payload and resubmit it once a second operator approves, or resolve it without delivery (a scan of what was served
by hand attached). Each function runs one transaction, checks the operator's agency scope itself (a transfer outside
it is NotFound, as if it did not exist), writes the audit log, and raises Refused naming what was wrong and where.
The console's pages and the operator API call the same functions."""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import re
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from lxml import etree
from sqlalchemy import Connection, Engine, and_, func, insert, or_, select, update

from hub import audit, authz, payload_views
from hub.canonical import NS, element_path, parse, parse_tree
from hub.core.model import Canonical, Directory, OrganType, Route
from hub.core.routing import organs_for, route
from hub.errors import InvalidMessage, PermanentError, Problem
from hub.service import Hub
from hub.store.db import aware, utcnow
from hub.store.ingest import Incoming, MessageIdTaken, store_message
from hub.store.ledger import enqueue, event, release_next
from hub.store.operator_schema import failed_transfer_edits as edits
from hub.store.operator_schema import operator_files
from hub.store.schema import deliveries, failed_transfers, messages

FILE_LIMIT = 10 * 1024 * 1024  # a scan attached to a resolution
EDIT_LIMIT = 10 * 1024 * 1024  # an edited payload: as much as POST /api/v1/messages takes
REASON_LIMIT = 2000
MAGIC = ((b"%PDF-", "application/pdf"), (b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))
SETTLEABLE = ("failed", "pending", "held")  # delivery states an operator's resolution may end
_N = {"x": NS}


class NotFound(PermanentError):
    """No such failed transfer, edit or file for this operator (outside their scope reads the same)."""

    code = "not_found"


class Refused(PermanentError):
    """The action cannot be taken as asked: ``code``, a message, and each problem with where it is."""

    def __init__(self, code: str, message: str, problems: list[Problem] | None = None, status: int = 422) -> None:
        super().__init__(message)
        self.code_, self.message, self.status = code, message, status
        self.problems = problems if problems is not None else [Problem(message)]


# ---- reroute -------------------------------------------------------------------------------------------------


def reroute(hub: Hub, ft_id: str, *, agency: str, reason: str, actor: str, scope: str | None,
            now: dt.datetime | None = None) -> dict[str, Any]:
    """Deliver the failed transfer's message to ``agency`` instead (a registered agency, not the hub, not one that
    already has the message); the transfer is resolved naming it, the failed delivery ends ``resolved``."""
    why = _reason(reason)
    code = (agency or "").strip().upper()
    if not code:
        raise Refused("agency_required", "name the agency to deliver to", [Problem("agency is empty", "agency")], 400)
    target = hub.directory.get(code)
    if target is None:
        raise Refused("unknown_agency", f"{code} is not an agency in the registry", [Problem(
            f"no agency {code} in the registry", "agency")])
    if target.organ_type is OrganType.HUB:
        raise Refused("hub_agency", f"{code} is the hub itself, not an agency to deliver to",
                      [Problem(f"{code} is of organ type HUB", "agency")])
    now = now or utcnow()
    with hub.engine.begin() as conn:
        row = _transfer(conn, ft_id, scope, senders_only=True)
        if code == row["recipient"]:
            raise Refused("same_recipient", f"{code} is the recipient that did not get it; choose another agency",
                          [Problem(f"{code} is the failed transfer's recipient", "agency")])
        allowed, meant = receivers(hub.directory, row["recipient"], row["canonical"])
        if target.organ_type not in allowed:
            kinds = "、".join(sorted(o.value for o in allowed)) or "none"
            raise Refused("may_not_receive", f"{code} is a {target.organ_type.value}; this {row['message_type']} "
                          f"was meant for {meant}, so only a {kinds} may receive it instead",
                          [Problem(f"organ type {target.organ_type.value} is not one of {kinds}", "agency")])
        had = conn.execute(select(deliveries.c.state).where(deliveries.c.message_id == row["message_id"],
                                                            deliveries.c.recipient == code)).scalar()
        if had is not None:
            raise Refused("already_recipient", f"{code} already has this message (its delivery is {had})",
                          [Problem(f"a delivery of message {row['message_id']} to {code} exists", "agency")], 409)
        old = _settle_delivery(conn, row, now)
        delivery_id = str(uuid.uuid4())
        conn.execute(insert(deliveries).values(
            id=delivery_id, message_id=row["message_id"], seq=row["seq"], recipient=code,
            role=old["role"] if old else "to", transport=target.transport.value, person_key=row["person_key"],
            state="pending", attempts=0, failures=0, next_attempt_at=now, queued_at=now, created_at=now,
            updated_at=now))
        enqueue(conn, [delivery_id], at=now, now=now)
        _close(conn, row, f"rerouted to {target.name} ({code}): {why}", actor=actor, now=now)
        event(conn, row["message_id"], "rerouted", now, delivery_id=delivery_id, to=code, instead_of=row["recipient"],
              by=actor, reason=why, failed_transfer=ft_id)
        _audit(conn, now, actor, "reroute_failed_transfer", f"failed_transfer:{ft_id}", agency=code, reason=why,
               delivery_id=delivery_id)
        _release(conn, old, now)
    hub.on_commit()
    return {"id": ft_id, "status": "resolved", "agency": code, "message_id": row["message_id"],
            "delivery_id": delivery_id}


def receivers(directory: Directory, recipient: str | None, canonical: bytes | str) -> tuple[frozenset[OrganType], str]:
    """The organ types that may receive a failed transfer's message instead, and what it was meant for: the organ
    type of the recipient that did not get it (a bureau's notice goes to another bureau, never to the police
    instead); for a message no agency was found for, the organ types of the targets its routing could not fill."""
    had = directory.get(recipient) if recipient else None
    if had is not None:
        return frozenset({had.organ_type}), f"{had.name} ({had.code}, {had.organ_type.value})"
    raw = canonical.encode() if isinstance(canonical, str) else bytes(canonical)
    message = parse(raw).canonical  # stored only once it had passed this very parse
    missing = [r.why for r in route(message, directory) if r.agency is None]
    if not missing:
        return frozenset(), "recipients its routing now finds, every one (retry it instead)"
    return (frozenset().union(*(organs_for(why) for why in missing)),
            "the targets its routing finds no agency for: " + "、".join(missing))


# ---- edit, approve, reject -------------------------------------------------------------------------------------


def submit_edit(hub: Hub, ft_id: str, *, payload: str | bytes, reason: str, actor: str, scope: str | None,
                now: dt.datetime | None = None) -> dict[str, Any]:
    """Keep an edited canonical payload for the failed transfer as ``pending``, once it passes the checks
    POST /api/v1/messages applies (schema and semantics), keeps the original's sender and message type, changes
    something and has somewhere to go; the original message stays as it was."""
    why = _reason(reason)
    body = payload.replace("\r\n", "\n").encode("utf-8") if isinstance(payload, str) else payload
    if not body.strip():
        raise Refused("payload_required", "the edited payload is empty", [Problem("payload is empty", "payload")],
                      400)
    if len(body) > EDIT_LIMIT:
        raise Refused("too_large", f"the edited payload is {len(body)} bytes; at most {EDIT_LIMIT}",
                      [Problem(f"payload exceeds {EDIT_LIMIT} bytes", "payload")], 413)
    now = now or utcnow()
    with hub.engine.begin() as conn:
        row = _transfer(conn, ft_id, scope, senders_only=True)
        waiting = conn.execute(select(edits.c.id).where(edits.c.failed_transfer_id == ft_id,
                                                        edits.c.status == "pending")).scalar()
        if waiting is not None:
            raise Refused("edit_pending", f"edit {waiting} of this failed transfer is waiting for approval; "
                          "it must be approved or rejected first", status=409)
        msg = _checked(hub, row, body)
        if body.strip() == bytes(row["canonical"]).strip():
            raise Refused("no_change", "the edited payload is the original unchanged; retry it instead",
                          [Problem("payload equals the original canonical XML", "payload")])
        targets = _targets(hub, conn, row, msg, body)
        edit_id = str(uuid.uuid4())
        conn.execute(insert(edits).values(
            id=edit_id, failed_transfer_id=ft_id, message_id=row["message_id"], payload=body, reason=why,
            submitted_by=actor, submitted_at=now, status="pending"))
        event(conn, row["message_id"], "edit_submitted", now, edit=edit_id, by=actor, failed_transfer=ft_id)
        _audit(conn, now, actor, "submit_failed_transfer_edit", f"failed_transfer_edit:{edit_id}",
               failed_transfer=ft_id, reason=why)
    return {"id": edit_id, "failed_transfer_id": ft_id, "status": "pending",
            "recipients": [r.agency for r in targets if r.agency]}


def approve_edit(hub: Hub, edit_id: str, *, actor: str, note: str | None, scope: str | None,
                 now: dt.datetime | None = None) -> dict[str, Any]:
    """Send a pending edit, approved by an operator other than its submitter, as a new message (fresh message id,
    sender document id ``<original>#edit-<n>``, the original's sender) to the failed transfer's recipient only; the
    failed transfer is resolved as superseded by it."""
    note = (note or "").strip()[:REASON_LIMIT] or None
    now = now or utcnow()
    with hub.engine.begin() as conn:
        e = _edit(conn, edit_id, scope)
        if not actor.startswith("console:"):
            raise Refused("approver_not_operator", "an edit is approved by a named operator signed in to the console, "
                          "not with an API key", [Problem(f"{actor} is not an operator", "actor")], 403)
        if e["submitted_by"] == actor:
            raise Refused("own_edit", "an edit is approved by a second operator, never by the one who submitted it",
                          [Problem(f"{actor} submitted edit {edit_id}", "submitted_by")], 403)
        row = _transfer(conn, e["failed_transfer_id"], scope, senders_only=True)
        _decide(conn, e, "approved", actor=actor, note=note, now=now)
        number = int(conn.execute(select(func.count()).select_from(edits).where(
            edits.c.message_id == e["message_id"], or_(edits.c.submitted_at < e["submitted_at"], and_(
                edits.c.submitted_at == e["submitted_at"], edits.c.id <= edit_id)))).scalar_one())
        new_id = str(uuid.uuid4())
        body = _restamp(bytes(e["payload"]), new_id, _derived(row["sender_document_id"], number))
        msg = _checked(hub, row, body)
        targets = _targets(hub, conn, row, msg, body)
        old = _settle_delivery(conn, row, now)
        try:
            accepted = store_message(conn, Incoming(msg, body, body, "console-edit", tuple(targets)),
                                     directory=hub.directory, now=now)
        except MessageIdTaken as ex:
            raise Refused("edit_conflict", "the new message's id is taken; approve again", status=409) from ex
        if not accepted.created:
            raise Refused("edit_conflict", f"sender document id {msg.sender_document_id} is already used by "
                          f"message {accepted.message_id}", [Problem(
                              "already used", f"/x:{msg.message_type}/x:envelope/x:senderDocumentId")], 409)
        conn.execute(update(edits).where(edits.c.id == edit_id).values(new_message_id=new_id))
        resolution = f"superseded by message {new_id} (edit {edit_id} by {e['submitted_by']}, approved by {actor})"
        _close(conn, row, resolution, actor=actor, now=now)
        if row["recipient"] is None:  # the new message is routed whole: the original's other unfilled roles too
            for other in conn.execute(select(failed_transfers.c.id).where(
                    failed_transfers.c.message_id == row["message_id"], failed_transfers.c.delivery_id.is_(None),
                    failed_transfers.c.status != "resolved")).scalars():
                _close(conn, {"id": other}, resolution, actor=actor, now=now)
        event(conn, row["message_id"], "superseded", now, by=actor, edit=edit_id, new_message=new_id,
              failed_transfer=row["id"])
        event(conn, new_id, "supersedes", now, by=actor, edit=edit_id, original=row["message_id"],
              submitted_by=e["submitted_by"])
        _audit(conn, now, actor, "approve_failed_transfer_edit", f"failed_transfer_edit:{edit_id}",
               failed_transfer=row["id"], new_message_id=new_id, note=note)
        _release(conn, old, now)
    hub.on_commit()
    return {"id": edit_id, "status": "approved", "failed_transfer_id": row["id"], "new_message_id": new_id,
            "sender_document_id": msg.sender_document_id, "recipients": [r.agency for r in targets if r.agency]}


def reject_edit(hub: Hub, edit_id: str, *, actor: str, note: str, scope: str | None,
                now: dt.datetime | None = None) -> dict[str, Any]:
    """Turn a pending edit down, with a note saying why; nothing is sent."""
    text = (note or "").strip()
    if not text:
        raise Refused("note_required", "say why the edit is rejected", [Problem("note is empty", "note")], 400)
    now = now or utcnow()
    with hub.engine.begin() as conn:
        e = _edit(conn, edit_id, scope)
        _decide(conn, e, "rejected", actor=actor, note=text[:REASON_LIMIT], now=now)
        event(conn, e["message_id"], "edit_rejected", now, edit=edit_id, by=actor, note=text[:REASON_LIMIT])
        _audit(conn, now, actor, "reject_failed_transfer_edit", f"failed_transfer_edit:{edit_id}",
               failed_transfer=e["failed_transfer_id"], note=text[:REASON_LIMIT])
    return {"id": edit_id, "status": "rejected", "failed_transfer_id": e["failed_transfer_id"]}


def withdraw_edit(hub: Hub, edit_id: str, *, actor: str, note: str | None, scope: str | None,
                  now: dt.datetime | None = None) -> dict[str, Any]:
    """Take back one's own pending edit (a second operator has not decided yet); nothing is sent, and the
    failed transfer is open for another edit. Only the operator (or key) who submitted it may."""
    note = (note or "").strip()[:REASON_LIMIT] or None
    now = now or utcnow()
    with hub.engine.begin() as conn:
        e = _edit(conn, edit_id, scope)
        if e["submitted_by"] != actor:
            raise Refused("not_submitter", "only the operator who submitted an edit may withdraw it; a second "
                          "operator rejects it instead", [Problem(f"submitted by {e['submitted_by']}",
                                                                  "submitted_by")], 403)
        _decide(conn, e, "withdrawn", actor=actor, note=note, now=now)
        event(conn, e["message_id"], "edit_withdrawn", now, edit=edit_id, by=actor, note=note)
        _audit(conn, now, actor, "withdraw_failed_transfer_edit", f"failed_transfer_edit:{edit_id}",
               failed_transfer=e["failed_transfer_id"], note=note)
    return {"id": edit_id, "status": "withdrawn", "failed_transfer_id": e["failed_transfer_id"]}


def list_edits(engine: Engine, ft_id: str, *, scope: str | None) -> list[dict[str, Any]]:
    """The failed transfer's edits, newest first, each with its payload and a unified diff against the original."""
    with engine.connect() as conn:
        row = _transfer(conn, ft_id, scope, open_only=False)
        rows = conn.execute(select(edits).where(edits.c.failed_transfer_id == ft_id)
                            .order_by(edits.c.submitted_at.desc(), edits.c.id)).mappings().all()
    original = _text(bytes(row["canonical"]))
    out = []
    for r in rows:
        payload = _text(bytes(r["payload"]))
        out.append({k: r[k] for k in ("id", "failed_transfer_id", "message_id", "reason", "submitted_by", "status",
                                      "decided_by", "decision_note", "new_message_id")}
                   | {"submitted_at": aware(r["submitted_at"]), "decided_at": aware(r["decided_at"]),
                      "payload": payload, "diff": "".join(unified_diff(original, payload))})
    return out


def unified_diff(original: str, edited: str) -> list[str]:
    """The edit as a unified diff (lines end with a newline)."""
    return [line if line.endswith("\n") else line + "\n" for line in difflib.unified_diff(
        original.splitlines(keepends=True), edited.splitlines(keepends=True), "original", "edited")]


# ---- resolve without delivery -----------------------------------------------------------------------------------


def resolve_by_hand(hub: Hub, ft_id: str, *, reason: str, actor: str, scope: str | None,
                    file: tuple[str, bytes] | None = None, now: dt.datetime | None = None) -> dict[str, Any]:
    """Resolve the failed transfer without delivering it (served by hand, …); ``file`` (name, bytes) is a scan of
    what was done — a PDF, JPEG or PNG by its first bytes, at most FILE_LIMIT — kept whole with its SHA-256."""
    why = _reason(reason)
    upload = _upload(*file) if file is not None else None
    now = now or utcnow()
    with hub.engine.begin() as conn:
        row = _transfer(conn, ft_id, scope)
        old = _settle_delivery(conn, row, now)
        file_id = None
        resolution = f"resolved without delivery: {why}"
        if upload is not None:
            file_id = str(uuid.uuid4())
            conn.execute(insert(operator_files).values(id=file_id, target=f"failed_transfer:{ft_id}",
                                                       uploaded_by=actor, uploaded_at=now, **upload))
            resolution += f" (attached {upload['filename']}, sha256 {upload['sha256']})"
        _close(conn, row, resolution, actor=actor, now=now)
        event(conn, row["message_id"], "resolved_by_hand", now, delivery_id=row["delivery_id"], by=actor, reason=why,
              failed_transfer=ft_id, file=file_id)
        _audit(conn, now, actor, "resolve_failed_transfer", f"failed_transfer:{ft_id}", reason=why, file_id=file_id,
               sha256=upload["sha256"] if upload else None)
        _release(conn, old, now)
    hub.on_commit()
    return {"id": ft_id, "status": "resolved", "file_id": file_id,
            "sha256": upload["sha256"] if upload else None}


def files_of(engine: Engine, ft_id: str) -> list[dict[str, Any]]:
    """The files attached to a failed transfer's resolution (without their content)."""
    with engine.connect() as conn:
        rows = conn.execute(select(*(c for c in operator_files.c if c.name != "content"))
                            .where(operator_files.c.target == f"failed_transfer:{ft_id}")
                            .order_by(operator_files.c.uploaded_at)).mappings().all()
    return [dict(r) | {"uploaded_at": aware(r["uploaded_at"])} for r in rows]


def get_file(engine: Engine, file_id: str, *, actor: str, scope: str | None, reason: payload_views.Reason,
             channel: str) -> dict[str, Any]:
    """An attached file whole, for an operator who may see its failed transfer and said why; the view is audited
    (the viewer, the reason, the file by name, size and SHA-256) in the transaction that reads it."""
    now = utcnow()
    with engine.begin() as conn:
        f = conn.execute(select(operator_files).where(operator_files.c.id == file_id)).mappings().first()
        if f is None or not str(f["target"]).startswith("failed_transfer:"):
            raise NotFound(f"no file {file_id}")
        ft_id = str(f["target"]).split(":", 1)[1]
        _transfer(conn, ft_id, scope, open_only=False)
        content = bytes(f["content"])
        payload_views.record_in(conn, at=now, actor=actor, target=f"operator_file:{file_id}", reason=reason,
                                shown=[payload_views.part("file", content, filename=f["filename"])],
                                channel=channel, failed_transfer=ft_id)
    return dict(f) | {"content": content}


# ---- shared steps ------------------------------------------------------------------------------------------------


def download_headers(f: Mapping[Any, Any]) -> dict[str, str]:
    """An attached file's response headers: a download (never shown inline), named, with its SHA-256."""
    return {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(f['filename'])}",
            "X-Content-Type-Options": "nosniff", "X-Content-SHA256": f["sha256"]}


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise Refused("reason_required", "a reason is required", [Problem("reason is empty", "reason")], 400)
    if len(text) > REASON_LIMIT:
        raise Refused("reason_too_long", f"the reason is {len(text)} characters; at most {REASON_LIMIT}",
                      [Problem(f"reason exceeds {REASON_LIMIT} characters", "reason")], 400)
    return text


def _transfer(conn: Connection, ft_id: str, scope: str | None, *, open_only: bool = True,
              senders_only: bool = False) -> Mapping[Any, Any]:
    """The failed transfer with its message's facts, if ``scope`` may see it; with ``open_only``, refused once it
    is resolved. With ``senders_only`` (rerouting or rewriting a message), an agency's operators must work for the
    message's sender: the agency that failed to receive it may not rewrite another organ's document or send it
    elsewhere."""
    q = select(failed_transfers, messages.c.sender, messages.c.seq, messages.c.person_key, messages.c.message_type,
               messages.c.sender_document_id, messages.c.canonical).join(
        messages, messages.c.id == failed_transfers.c.message_id).where(failed_transfers.c.id == ft_id)
    if scope is not None:
        q = q.where(or_(messages.c.sender == scope, failed_transfers.c.recipient == scope))
    row = conn.execute(q.with_for_update(of=failed_transfers) if open_only else q).mappings().first()
    if row is None:
        raise NotFound(f"no failed transfer {ft_id}")
    if senders_only and scope is not None and row["sender"] != scope:
        raise Refused("not_the_sender", f"only the sender ({row['sender']}) or the hub's operators may reroute or "
                      f"edit this message", [], 403)
    if open_only and row["status"] == "resolved":
        raise Refused("already_resolved", f"failed transfer {ft_id} is already resolved: {row['resolution']}",
                      [Problem(f"resolved by {row['resolved_by']}", "status")], 409)
    return row


def _edit(conn: Connection, edit_id: str, scope: str | None) -> Mapping[Any, Any]:
    e = conn.execute(select(edits).where(edits.c.id == edit_id)).mappings().first()
    if e is None:
        raise NotFound(f"no edit {edit_id}")
    _transfer(conn, e["failed_transfer_id"], scope, open_only=False)  # NotFound outside the operator's scope
    if e["status"] != "pending":
        raise Refused("already_decided", f"edit {edit_id} is already {e['status']}"
                      + (f" by {e['decided_by']}" if e["decided_by"] else ""), [Problem(e["status"], "status")], 409)
    return e


def _decide(conn: Connection, e: Mapping[Any, Any], status: str, *, actor: str, note: str | None,
            now: dt.datetime) -> None:
    if not conn.execute(update(edits).where(edits.c.id == e["id"], edits.c.status == "pending").values(
            status=status, decided_by=actor, decided_at=now, decision_note=note)).rowcount:
        raise Refused("already_decided", f"edit {e['id']} was decided a moment ago", status=409)


def _settle_delivery(conn: Connection, row: Mapping[Any, Any], now: dt.datetime) -> Mapping[Any, Any] | None:
    """End the failed delivery as ``resolved`` (refused while an attempt is in flight or once it got through)."""
    if row["delivery_id"] is None:
        return None
    d = conn.execute(select(deliveries.c.id, deliveries.c.state, deliveries.c.recipient, deliveries.c.role,
                            deliveries.c.person_key).where(deliveries.c.id == row["delivery_id"])).mappings().one()
    if not conn.execute(update(deliveries).where(deliveries.c.id == d["id"], deliveries.c.state.in_(SETTLEABLE))
                        .values(state="resolved", lease_until=None, updated_at=now)).rowcount:
        busy = d["state"] == "sending"
        raise Refused("delivery_in_flight" if busy else "already_delivered",
                      f"the delivery to {d['recipient']} is {d['state']}: "
                      + ("an attempt is in progress; try again in a moment" if busy else "it got through"),
                      [Problem(f"delivery {d['id']} is {d['state']}", "delivery")], 409)
    event(conn, row["message_id"], "delivery_resolved", now, delivery_id=d["id"], failed_transfer=row["id"])
    return d


def _release(conn: Connection, old: Mapping[Any, Any] | None, now: dt.datetime) -> None:
    """The person's later messages to the old recipient no longer wait for the delivery just resolved."""
    if old is not None:
        release_next(conn, recipient=old["recipient"], person_key=old["person_key"], now=now)


def _close(conn: Connection, row: Mapping[Any, Any], resolution: str, *, actor: str, now: dt.datetime) -> None:
    """Resolve the failed transfer; edits of it still pending are withdrawn (nothing left for them to do)."""
    if not conn.execute(update(failed_transfers).where(
            failed_transfers.c.id == row["id"], failed_transfers.c.status != "resolved").values(
            status="resolved", resolved_at=now, resolution=resolution, resolved_by=actor)).rowcount:
        raise Refused("already_resolved", f"failed transfer {row['id']} was resolved a moment ago", status=409)
    conn.execute(update(edits).where(edits.c.failed_transfer_id == row["id"], edits.c.status == "pending").values(
        status="withdrawn", decided_by=actor, decided_at=now, decision_note=f"failed transfer {resolution}"))


def _checked(hub: Hub, row: Mapping[Any, Any], body: bytes) -> Canonical:
    """The edited payload read as POST /api/v1/messages reads it, with the original's sender and message type."""
    try:
        parsed = parse(body, schema=hub.schema)
    except InvalidMessage as e:
        raise Refused(e.code, e.message, e.problems, e.status) from e
    msg = parsed.canonical
    if msg.message_type != row["message_type"]:
        raise Refused("type_changed", f"the edit is a {msg.message_type}; the original is a {row['message_type']}",
                      [Problem(f"root element {msg.message_type} is not {row['message_type']}",
                               element_path(parsed.root), _line(parsed.root))])
    if msg.sender != row["sender"]:
        node = parsed.root.find("x:envelope/x:sender", _N)
        assert node is not None  # the schema requires it
        raise Refused("sender_changed", f"the sender stays {row['sender']}; the edit names {msg.sender}",
                      [Problem(f"sender {msg.sender} is not the original sender {row['sender']}",
                               element_path(node), _line(node))])
    sender = hub.directory.agencies.get(msg.sender)
    allowed = authz.may_send(sender.organ_type, msg.message_type, msg.facts) if sender is not None else None
    if not allowed:
        why = allowed.reason if allowed is not None else f"{msg.sender} is not in the agency registry"
        raise Refused("sender_not_authorised", f"the edited {msg.message_type} is not one {msg.sender} may send: {why}",
                      [Problem(why, element_path(parsed.root), _line(parsed.root))], 403)
    return msg


def _targets(hub: Hub, conn: Connection, row: Mapping[Any, Any], msg: Canonical, body: bytes) -> list[Route]:
    """Where an edit goes: the recipient that did not get the original; for a transfer with no recipient, wherever
    the edited notice routes except agencies that have the original (a role still unfilled stays a failed transfer,
    now of the new message)."""
    if row["recipient"] is not None:
        role = conn.execute(select(deliveries.c.role).where(deliveries.c.id == row["delivery_id"])).scalar()
        return [Route(role or "to", row["recipient"], "edited notice for the recipient the original failed")]
    have = set(conn.execute(select(deliveries.c.recipient).where(
        deliveries.c.message_id == row["message_id"])).scalars())
    routes = [r for r in route(msg, hub.directory) if r.agency is None or r.agency not in have]
    if not any(r.agency is not None for r in routes):
        root = parse_tree(body).getroot()
        problems = []
        for r in routes:
            # the fact the unfilled role is read from, e.g. BUREAU@executionDivision or commissioningOrgan
            node = next(root.iter(f"{{{NS}}}{r.why.split('@')[-1]}"), None)
            problems.append(Problem(r.missing or r.why, element_path(node) if node is not None else None,
                                    _line(node) if node is not None else None))
        raise Refused("no_recipient", "the edited notice finds no recipient that has not had the original",
                      problems or [Problem("every recipient it routes to has the original")])
    return routes


def _restamp(payload: bytes, message_id: str, document_id: str) -> bytes:
    """The edited payload as a new message: its own message id and sender document id, the rest as edited."""
    doc = parse_tree(payload)
    for name, value in (("messageId", message_id), ("senderDocumentId", document_id)):
        node = doc.getroot().find(f"x:envelope/x:{name}", _N)
        assert node is not None  # validated on submission
        node.text = value
    return bytes(etree.tostring(doc, xml_declaration=True, encoding="UTF-8"))


def _derived(original: str, number: int) -> str:
    """``<original>#edit-<n>``, within the 200 characters a sender document id may have."""
    suffix = f"#edit-{number}"
    return original[: 200 - len(suffix)] + suffix


def _upload(filename: str, content: bytes) -> dict[str, Any]:
    if not content:
        raise Refused("empty_file", "the attached file is empty", [Problem("0 bytes", "file")], 400)
    if len(content) > FILE_LIMIT:
        raise Refused("file_too_large", f"the attached file is {len(content)} bytes; at most {FILE_LIMIT}",
                      [Problem(f"file exceeds {FILE_LIMIT} bytes", "file")], 413)
    kind = next((ctype for magic, ctype in MAGIC if content.startswith(magic)), None)
    if kind is None:
        raise Refused("file_type", "attach a PDF, JPEG or PNG scan", [Problem(
            f"the file begins with bytes {content[:8].hex(' ')}, the signature of none of PDF, JPEG or PNG",
            "file")], 422)
    name = re.sub(r"[\x00-\x1f\x7f]", "", re.split(r"[\\/]", filename or "")[-1]).strip()[:255]
    return {"filename": name or "scan", "content_type": kind, "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(), "content": content}


def _audit(conn: Connection, at: dt.datetime, actor: str, action: str, target: str, **detail: Any) -> None:
    audit.record(conn, at=at, actor=actor, action=action, target=target, detail=detail)


def _line(node: etree._Element) -> int | None:
    return node.sourceline if isinstance(node.sourceline, int) else None


def _text(b: bytes) -> str:
    return b.decode("utf-8", errors="replace")


def payload_parts(ft: Mapping[str, Any], edits: list[dict[str, Any]], *, raw: bool = True) -> list[dict[str, Any]]:
    """What a view of a failed transfer's payloads shows, for the audit entry: its canonical message, its raw one
    (``raw``: unless the page leaves it out as the same), and each edit's payload."""
    parts = [payload_views.part("canonical", ft["canonical"])]
    if raw:
        parts.append(payload_views.part("raw", ft["raw"]))
    return parts + [payload_views.part("edit", e["payload"], edit_id=e["id"]) for e in edits]


def record_payload_view(engine: Engine, ft_id: str, *, actor: str, reason: payload_views.Reason,
                        shown: list[dict[str, Any]], channel: str) -> None:
    """Put an operator's view of the failed transfer's payloads on the record: who, why and what was shown."""
    payload_views.record(engine, actor=actor, target=f"failed_transfer:{ft_id}", reason=reason, shown=shown,
                         channel=channel)
