"""What the console's queues show and do: rejected inputs in quarantine and their review (dismissed with a reason,
or resubmitted as a corrected message through the hub's own ingest), each input laid out line by line with every
problem at its line; discrepancy items with the registers behind them; identity review items with both records.
Each query takes the agency an operator is limited to (None: every agency), so that a page and the API built on
the same query never show more than the role allows."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import unicodedata
import uuid
from typing import Any

from lxml import etree
from sqlalchemy import Engine, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Select

from hub import audit as audit_log_entry
from hub import register_items
from hub.canonical import NS, parse_tree
from hub.errors import Forbidden, InvalidMessage, Problem
from hub.identity_store import reviews
from hub.service import Hub
from hub.store.db import aware, utcnow
from hub.store.identity_schema import identity_reviews, person_records
from hub.store.ingest import MessageIdTaken, store_message
from hub.store.operator_schema import quarantine_corrections, quarantine_reviews
from hub.store.register_schema import discrepancies, register_snapshots
from hub.store.schema import quarantine
from hub.transfer_actions import REASON_LIMIT, unified_diff

PAGE = 50
CHANNEL = "console"  # the channel of a message an operator resubmitted
IDENTITY_STATUSES = ("open", "decided", "withdrawn")
DISCREPANCY_STATUSES = ("open", "resolved")


def _pick(params: dict[str, str], name: str, allowed: tuple[str, ...] | None = None) -> str | None:
    v = (params.get(name) or "").strip()
    if not v or v == "any":
        return None
    return v if allowed is None or v in allowed else None


def audit(engine: Engine, *, by: str, action: str, target: str, **detail: Any) -> None:
    """One line in the audit log (an operator's view of a payload; actions write theirs with their change)."""
    with engine.begin() as conn:
        _audit(conn, by=by, action=action, target=target, at=utcnow(), **detail)


def _audit(conn: Any, *, by: str, action: str, target: str, at: dt.datetime, **detail: Any) -> None:
    audit_log_entry.record(conn, at=at, actor=by, action=action, target=target, detail=detail)


# ---- quarantine ---------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class QuarantineFilter:
    """The quarantine list's filters; ``reviewed``: "no" (the default), "yes", or None for both."""

    agency: str | None = None
    code: str | None = None
    channel: str | None = None
    reviewed: str | None = "no"

    @classmethod
    def of(cls, params: dict[str, str]) -> QuarantineFilter:
        reviewed = params.get("reviewed", "no")
        return cls(agency=_pick(params, "agency"), code=_pick(params, "code"), channel=_pick(params, "channel"),
                   reviewed=None if reviewed in ("", "any") else reviewed if reviewed in ("no", "yes") else "no")

    def query(self) -> dict[str, str]:
        return {k: v for k, v in (("agency", self.agency), ("code", self.code), ("channel", self.channel),
                                  ("reviewed", self.reviewed or "any")) if v}


_ENTRY = (quarantine.c.id, quarantine.c.received_at, quarantine.c.agency, quarantine.c.channel,
          quarantine.c.status_code, quarantine.c.code, quarantine.c.message, quarantine.c.content_type,
          quarantine.c.size, quarantine.c.truncated, quarantine.c.payload_id, quarantine.c.record_number,
          quarantine_reviews.c.outcome, quarantine_reviews.c.reason, quarantine_reviews.c.message_id,
          quarantine_reviews.c.by, quarantine_reviews.c.at)


def _quarantine_query(f: QuarantineFilter, *, scope: str | None) -> Select[Any]:
    q = select(*_ENTRY).outerjoin(quarantine_reviews, quarantine_reviews.c.quarantine_id == quarantine.c.id)
    if scope is not None:
        q = q.where(quarantine.c.agency == scope)
    for value, column in ((f.agency, quarantine.c.agency), (f.code, quarantine.c.code),
                          (f.channel, quarantine.c.channel)):
        if value:
            q = q.where(column == value)
    if f.reviewed == "no":
        q = q.where(quarantine_reviews.c.quarantine_id.is_(None))
    elif f.reviewed == "yes":
        q = q.where(quarantine_reviews.c.quarantine_id.is_not(None))
    return q


def _entry(r: Any) -> dict[str, Any]:
    review = None if r["outcome"] is None else {
        "outcome": r["outcome"], "reason": r["reason"], "message_id": r["message_id"], "by": r["by"],
        "at": aware(r["at"])}
    return {"id": r["id"], "received_at": aware(r["received_at"]), "agency": r["agency"], "channel": r["channel"],
            "status_code": r["status_code"], "code": r["code"], "message": r["message"],
            "content_type": r["content_type"], "size": r["size"], "truncated": bool(r["truncated"]),
            "payload_id": r["payload_id"], "record_number": r["record_number"], "review": review}


def quarantine_list(engine: Engine, f: QuarantineFilter, *, scope: str | None, limit: int = PAGE,
                    offset: int = 0) -> dict[str, Any]:
    """Rejected inputs that match, newest first, ``limit`` from ``offset``, and how many match in all."""
    base = _quarantine_query(f, scope=scope)
    with engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(base.subquery())).scalar_one())
        rows = conn.execute(base.order_by(quarantine.c.received_at.desc(), quarantine.c.id.desc())
                            .limit(limit).offset(max(0, offset))).mappings().all()
    return {"total": total, "items": [_entry(r) for r in rows]}


def quarantine_facets(engine: Engine, *, scope: str | None) -> dict[str, list[str]]:
    """The error codes and channels found in the operator's scope (for the filters)."""
    out: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for name, column in (("codes", quarantine.c.code), ("channels", quarantine.c.channel)):
            q = select(column).distinct().order_by(column)
            out[name] = list(conn.execute(q if scope is None else q.where(quarantine.c.agency == scope)).scalars())
    return out


def quarantine_one(engine: Engine, qid: str, *, scope: str | None) -> dict[str, Any] | None:
    """One rejected input with its reasons, its raw bytes and its review; None outside ``scope``."""
    q = _quarantine_query(QuarantineFilter(reviewed=None), scope=scope).where(quarantine.c.id == qid)
    with engine.connect() as conn:
        r = conn.execute(q.add_columns(quarantine.c.raw, quarantine.c.problems)).mappings().first()
    if r is None:
        return None
    return _entry(r) | {"raw": bytes(r["raw"]), "problems": json.loads(r["problems"])}


class AlreadyReviewed(Exception):
    """The input was dismissed or resubmitted before (the message says by whom and when)."""


class CannotResubmit(Exception):
    """The input came without an agency the hub knows: there is no one to resubmit it as."""


def _review(conn: Any, qid: str, *, outcome: str, reason: str, message_id: str | None, by: str,
            now: dt.datetime, detail: dict[str, Any]) -> dict[str, Any]:
    review = {"outcome": outcome, "reason": reason, "message_id": message_id, "by": by[:100], "at": now}
    conn.execute(insert(quarantine_reviews).values(quarantine_id=qid, **review))
    _audit(conn, by=by, action=f"quarantine_{'dismiss' if outcome == 'dismissed' else 'resubmit'}",
           target=f"quarantine:{qid}", at=now, reason=reason, **detail)
    return review


def _reviewed_before(engine: Engine, qid: str) -> AlreadyReviewed:
    with engine.connect() as conn:
        found = _review_on(conn, qid)
    assert found is not None
    return found


def _review_on(conn: Any, qid: str) -> AlreadyReviewed | None:
    """The input's review as a refusal, read in the caller's transaction; None while it has none."""
    r = conn.execute(select(quarantine_reviews).where(quarantine_reviews.c.quarantine_id == qid)).mappings().first()
    return None if r is None else AlreadyReviewed(f"{r['outcome']} by {r['by']} at {aware(r['at'])}: {r['reason']}")


def _hold(conn: Any, qid: str) -> dict[str, Any] | None:
    """The input's row, locked until the transaction ends (on PostgreSQL; SQLite's writers queue anyway): every
    action on an input (dismiss, propose, approve, reject, withdraw) takes it first, so two of them never
    interleave, and each sees what the other did."""
    q = select(quarantine.c.id, quarantine.c.agency).where(quarantine.c.id == qid)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    r = conn.execute(q).mappings().first()
    return None if r is None else dict(r)


def dismiss(engine: Engine, qid: str, *, by: str, reason: str) -> dict[str, Any]:
    """Close a rejected input with the reason (audited); ValueError without a reason, AlreadyReviewed."""
    if not reason.strip():
        raise ValueError("reason: say why the input is dismissed")
    now = utcnow()
    with engine.begin() as conn:
        if _hold(conn, qid) is None:
            raise KeyError(qid)
        if (before := _review_on(conn, qid)) is not None:
            raise before
        waiting = list(conn.execute(select(quarantine_corrections.c.id).where(
            quarantine_corrections.c.quarantine_id == qid, quarantine_corrections.c.status == "pending")).scalars())
        for cid in waiting:  # nothing left for a correction to correct
            _decide(conn, cid, "withdrawn", by=by, note="the input was dismissed", now=now)
            _audit(conn, by=by, action="quarantine_correction_withdraw", target=f"quarantine_correction:{cid}",
                   at=now, quarantine=qid, note="the input was dismissed")
        return _review(conn, qid, outcome="dismissed", reason=reason.strip(), message_id=None, by=by, now=now,
                       detail={"corrections_withdrawn": waiting} if waiting else {})


class NoSuchCorrection(Exception):
    """No such correction for this operator (outside their scope reads the same)."""


class CorrectionRefused(Exception):
    """A correction cannot be proposed or decided as asked: ``code``, the message, the HTTP status."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _sender(hub: Hub, entry: dict[str, Any]) -> Any:
    agency = hub.directory.agencies.get(entry["agency"] or "")
    if agency is None:
        raise CannotResubmit("the input came without an agency the hub knows; there is no one to resubmit it as")
    return agency


def _prepared(hub: Hub, agency: Any, payload: bytes, max_bytes: int) -> Any:
    """The payload checked as POST /api/v1/messages checks it (schema, semantics, the sender's right to send it):
    the message ready to store, or InvalidMessage naming each problem at its place."""
    if len(payload) > max_bytes:
        why = f"the payload of {len(payload)} bytes exceeds the limit of {max_bytes} bytes"
        raise InvalidMessage("too_large", why, [Problem(why)], 413)
    try:
        return hub.prepare(payload, agency=agency, channel=CHANNEL)
    except Forbidden as e:
        path = f"/x:{etree.QName(parse_tree(payload).getroot()).localname}/x:envelope/x:sender"
        raise InvalidMessage("not_permitted", str(e), [Problem(str(e), path=path)], 422) from e


def propose(hub: Hub, entry: dict[str, Any], payload: bytes, *, by: str, reason: str, max_bytes: int,
            now: dt.datetime | None = None) -> dict[str, Any]:
    """Keep a corrected payload for the input as ``pending``, once it passes the checks POST /api/v1/messages
    applies; nothing is sent until a second operator approves it. InvalidMessage naming each problem at its place
    (nothing kept); CannotResubmit; AlreadyReviewed; CorrectionRefused (no reason, or one already waiting)."""
    if entry["review"] is not None:
        raise _reviewed_before(hub.engine, entry["id"])
    why = reason.strip()
    if not why:
        raise CorrectionRefused("reason_required", "say why the input is corrected", 400)
    _prepared(hub, _sender(hub, entry), payload, max_bytes)
    now = now or utcnow()
    cid = str(uuid.uuid4())
    try:
        with hub.engine.begin() as conn:
            _hold(conn, entry["id"])
            if (before := _review_on(conn, entry["id"])) is not None:
                raise before
            conn.execute(insert(quarantine_corrections).values(
                id=cid, quarantine_id=entry["id"], payload=payload, reason=why[:REASON_LIMIT], submitted_by=by[:100],
                submitted_at=now, status="pending"))
            _audit(conn, by=by, action="quarantine_correction_submit", target=f"quarantine_correction:{cid}", at=now,
                   quarantine=entry["id"], reason=why[:REASON_LIMIT])
    except IntegrityError:
        raise CorrectionRefused("correction_pending", "a correction of this input is waiting for approval; it must "
                                "be approved, rejected or withdrawn first", 409) from None
    return {"id": cid, "quarantine_id": entry["id"], "status": "pending"}


def _correction(conn: Any, cid: str, scope: str | None, *,
                qid: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pending correction and its input, the input held for the transaction (``_hold``); NoSuchCorrection
    (unknown, outside ``scope``, or not of the input ``qid``) or CorrectionRefused (decided already)."""
    mine = select(quarantine_corrections).where(quarantine_corrections.c.id == cid)
    c = conn.execute(mine).mappings().first()
    if c is None or (qid is not None and c["quarantine_id"] != qid):
        raise NoSuchCorrection(cid)
    q = _hold(conn, c["quarantine_id"])
    if q is None or (scope is not None and q["agency"] != scope):
        raise NoSuchCorrection(cid)
    c = conn.execute(mine).mappings().one()  # as it is now that the input is held
    if c["status"] != "pending":
        raise CorrectionRefused("already_decided", f"correction {cid} is already {c['status']}"
                                + (f" by {c['decided_by']}" if c["decided_by"] else ""), 409)
    return dict(c), dict(q)


def _decide(conn: Any, cid: str, status: str, *, by: str, note: str | None, now: dt.datetime,
            message_id: str | None = None) -> None:
    if not conn.execute(update(quarantine_corrections).where(
            quarantine_corrections.c.id == cid, quarantine_corrections.c.status == "pending").values(
            status=status, decided_by=by[:100], decided_at=now, decision_note=note,
            message_id=message_id)).rowcount:
        raise CorrectionRefused("already_decided", f"correction {cid} was decided a moment ago", 409)


def approve(hub: Hub, cid: str, *, by: str, note: str | None, scope: str | None, max_bytes: int,
            qid: str | None = None, now: dt.datetime | None = None) -> dict[str, Any]:
    """Send a pending correction, approved by a named operator other than its proposer, as the original agency's
    message, and close the input as resubmitted, in one transaction: either both happen or neither. The payload is
    checked again (the rules may have changed since). KeyError; CorrectionRefused; InvalidMessage; AlreadyReviewed."""
    note = (note or "").strip()[:REASON_LIMIT] or None
    if not by.startswith("console:"):
        raise CorrectionRefused("approver_not_operator", "a correction is approved by a named operator signed in to "
                                "the console, not with an API key", 403)
    now = now or utcnow()
    try:
        with hub.engine.begin() as conn:
            c, q = _correction(conn, cid, scope, qid=qid)
            if (before := _review_on(conn, q["id"])) is not None:
                raise before
            if c["submitted_by"] == by:
                raise CorrectionRefused("own_correction", "a correction is approved by a second operator, never by "
                                        "the one who proposed it", 403)
            agency = _sender(hub, q)
            item = _prepared(hub, agency, bytes(c["payload"]), max_bytes)
            # the review first: an input dismissed or resubmitted meanwhile stops the approval here
            review = _review(conn, q["id"], outcome="resubmitted", reason=c["reason"], message_id=None, by=by,
                             now=now, detail={"correction": cid, "proposed_by": c["submitted_by"],
                                              "agency": agency.code})
            try:
                acc = store_message(conn, item, directory=hub.directory, now=now)
            except MessageIdTaken as e:
                raise InvalidMessage("duplicate_message_id", "message id already used by another document", [Problem(
                    f"messageId {item.msg.message_id} belongs to an earlier message with another senderDocumentId",
                    path=f"/x:{item.msg.message_type}/x:envelope/x:messageId")], 409) from e
            conn.execute(update(quarantine_reviews).where(quarantine_reviews.c.quarantine_id == q["id"]).values(
                message_id=acc.message_id))
            _decide(conn, cid, "approved", by=by, note=note, now=now, message_id=acc.message_id)
            _audit(conn, by=by, action="quarantine_correction_approve", target=f"quarantine_correction:{cid}", at=now,
                   quarantine=q["id"], message_id=acc.message_id, created=acc.created, note=note)
    except IntegrityError:
        raise _reviewed_before(hub.engine, q["id"]) from None
    if acc.created:
        hub.on_commit()
    return {"id": cid, "status": "approved", "quarantine_id": q["id"], "message_id": acc.message_id,
            "created": acc.created, "review": review | {"message_id": acc.message_id}}


def reject(engine: Engine, cid: str, *, by: str, note: str, scope: str | None, qid: str | None = None,
           now: dt.datetime | None = None) -> dict[str, Any]:
    """Turn a pending correction down, saying why; nothing is sent and the input stays to be reviewed."""
    text = (note or "").strip()[:REASON_LIMIT]
    if not text:
        raise CorrectionRefused("note_required", "say why the correction is rejected", 400)
    now = now or utcnow()
    with engine.begin() as conn:
        _, q = _correction(conn, cid, scope, qid=qid)
        _decide(conn, cid, "rejected", by=by, note=text, now=now)
        _audit(conn, by=by, action="quarantine_correction_reject", target=f"quarantine_correction:{cid}", at=now,
               quarantine=q["id"], note=text)
    return {"id": cid, "status": "rejected", "quarantine_id": q["id"]}


def withdraw(engine: Engine, cid: str, *, by: str, scope: str | None, qid: str | None = None,
             now: dt.datetime | None = None) -> dict[str, Any]:
    """Take back one's own pending correction; only its proposer may."""
    now = now or utcnow()
    with engine.begin() as conn:
        c, q = _correction(conn, cid, scope, qid=qid)
        if c["submitted_by"] != by:
            raise CorrectionRefused("not_submitter", "only the operator who proposed a correction may withdraw it; "
                                    "a second operator rejects it instead", 403)
        _decide(conn, cid, "withdrawn", by=by, note=None, now=now)
        _audit(conn, by=by, action="quarantine_correction_withdraw", target=f"quarantine_correction:{cid}", at=now,
               quarantine=q["id"])
    return {"id": cid, "status": "withdrawn", "quarantine_id": q["id"]}


def corrections_of(engine: Engine, qid: str, raw: bytes) -> list[dict[str, Any]]:
    """The input's corrections, newest first, each with its payload as text and a diff against the raw input."""
    with engine.connect() as conn:
        rows = conn.execute(select(quarantine_corrections).where(quarantine_corrections.c.quarantine_id == qid)
                            .order_by(quarantine_corrections.c.submitted_at.desc())).mappings().all()
    original = decode(raw)[0] or ""
    out = []
    for r in rows:
        text = bytes(r["payload"]).decode("utf-8", "replace")
        diff = [_shown(line) for line in unified_diff(original, text)]
        if len(diff) > MAX_LINES:
            diff = [*diff[:MAX_LINES], f"… ({len(diff) - MAX_LINES} more lines of the difference not shown)\n"]
        out.append({k: r[k] for k in ("id", "quarantine_id", "reason", "submitted_by", "status", "decided_by",
                                      "decision_note", "message_id")}
                   | {"submitted_at": aware(r["submitted_at"]),
                      "decided_at": aware(r["decided_at"]) if r["decided_at"] else None,
                      "payload": text, "diff": "".join(diff)})
    return out


def _shown(line: str) -> str:
    """A line of a difference as an operator may safely read it: control and bidirectional characters made
    visible (as in the line view), and cut at MAX_LINE_CHARS."""
    body, end = (line[:-1], "\n") if line.endswith("\n") else (line, "")
    body = body.translate(_VISIBLE)
    if len(body) > MAX_LINE_CHARS:
        body = body[:MAX_LINE_CHARS] + f" … ({len(body) - MAX_LINE_CHARS} more characters)"
    return body + end


# ---- an input line by line ----------------------------------------------------------------------------------

MAX_LINES = 2000  # beyond this, the first lines and those around each problem
HEAD_LINES, CONTEXT = 200, 3
MAX_LINE_CHARS = 4000
HEX_BYTES = 4096
_BIDI = (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)
# control characters shown as their pictures (␀, ␛ …) and bidirectional controls named, so that nothing in an input
# can hide or reorder what the operator reads
_VISIBLE: dict[int, str] = {c: chr(0x2400 + c) for c in range(32) if c != 9} | {0x7F: "\u2421"} | {
    c: "\ufffd" for c in range(0x80, 0xA0)} | {c: f"⟨U+{c:04X}⟩" for c in _BIDI}


@dataclasses.dataclass(frozen=True)
class Line:
    number: int  # 0: a gap of ``skipped`` lines not shown
    text: str
    problems: tuple[dict[str, Any], ...] = ()
    cut: int = 0  # characters of a long line not shown
    skipped: int = 0


@dataclasses.dataclass(frozen=True)
class RawView:
    """An input as an operator reads it: text lines with the problems at theirs, or a hex preview of bytes that
    are not text; ``editable`` is the text when it decoded without loss."""

    size: int
    binary: bool
    encoding: str | None
    lines: list[Line]
    line_count: int
    unplaced: list[dict[str, Any]]
    hex_rows: list[str]
    editable: str | None


def decode(raw: bytes) -> tuple[str | None, str | None]:
    """(text, encoding): UTF-8, UTF-16 with its BOM, GB18030, else UTF-8 with replacement characters (encoding
    None); (None, None) for bytes that are not text."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = {"UTF-16": "utf-16"}
    else:
        candidates = {"UTF-8" if not raw.startswith(b"\xef\xbb\xbf") else "UTF-8 (BOM)": "utf-8-sig",
                      "GB18030": "gb18030"}
    for label, encoding in candidates.items():
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return (text, label) if _textual(text) else (None, None)
    text = raw.decode("utf-8", errors="replace")
    return (text, None) if _textual(text) else (None, None)


def _textual(text: str) -> bool:
    head = text[:8192]
    odd = sum(1 for ch in head if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r") + head.count("\ufffd")
    return "\x00" not in head and odd * 10 <= max(len(head), 40)  # a few odd characters in a short text are text


def _hex(raw: bytes) -> list[str]:
    rows = []
    for at in range(0, min(len(raw), HEX_BYTES), 16):
        chunk = raw[at:at + 16]
        rows.append(f"{at:08x}  {chunk.hex(' '):<47}  |{''.join(chr(b) if 32 <= b < 127 else '.' for b in chunk)}|")
    return rows


def _line_of_path(raw: bytes, path: str, cache: dict[str, Any]) -> int | None:
    """The line of the element an XPath of a problem names, read with the hub's hardened parser."""
    if "tree" not in cache:
        cache["tree"] = None
        if b"<!DOCTYPE" not in raw and b"<!ENTITY" not in raw:
            with contextlib.suppress(etree.XMLSyntaxError, ValueError):
                cache["tree"] = parse_tree(raw)
    if cache["tree"] is None:
        return None
    try:
        found = cache["tree"].xpath(path, namespaces={"x": NS})
    except etree.XPathError:
        return None
    node = found[0] if isinstance(found, list) and found else None
    return node.sourceline if isinstance(node, etree._Element) and isinstance(node.sourceline, int) else None


def raw_view(raw: bytes, problems: list[dict[str, Any]]) -> RawView:
    """``raw`` with each problem at its line (or at the line of the element its XPath names)."""
    text, encoding = decode(raw)
    if text is None:
        return RawView(len(raw), True, None, [], 0, list(problems), _hex(raw), None)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")  # counted as the XML parser counts them
    at: dict[int, list[dict[str, Any]]] = {}
    unplaced: list[dict[str, Any]] = []
    cache: dict[str, Any] = {}
    for p in problems:
        line = p.get("line")
        located = False
        if not (isinstance(line, int) and 1 <= line <= len(lines)):
            path = p.get("path")
            line = _line_of_path(raw, path, cache) if isinstance(path, str) and path.startswith("/") else None
            located = line is not None
        if isinstance(line, int) and 1 <= line <= len(lines):
            at.setdefault(line, []).append(p | {"located": located})
        else:
            unplaced.append(p)
    shown = set(range(1, len(lines) + 1))
    if len(lines) > MAX_LINES:
        shown = set(range(1, HEAD_LINES + 1)) | {n for p in at for n in range(p - CONTEXT, p + CONTEXT + 1)
                                                 if 1 <= n <= len(lines)}
    out: list[Line] = []
    previous = 0
    for n in sorted(shown):
        if n > previous + 1:
            out.append(Line(0, "", skipped=n - previous - 1))
        body = lines[n - 1]
        out.append(Line(n, body[:MAX_LINE_CHARS].translate(_VISIBLE), tuple(at.get(n, ())),
                        max(0, len(body) - MAX_LINE_CHARS)))
        previous = n
    if previous < len(lines):
        out.append(Line(0, "", skipped=len(lines) - previous))
    return RawView(len(raw), False, encoding, out, len(lines), unplaced, [] if encoding else _hex(raw),
                   text if encoding is not None else None)


# ---- discrepancies ------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class DiscrepancyFilter:
    """The discrepancy list's filters; ``agency``: the agency that must act."""

    status: str | None = "open"
    category: str | None = None
    agency: str | None = None
    county: str | None = None

    @classmethod
    def of(cls, params: dict[str, str]) -> DiscrepancyFilter:
        status = params.get("status", "open")
        return cls(status=None if status in ("", "any") else status if status in DISCREPANCY_STATUSES else "open",
                   category=_pick(params, "category"), agency=_pick(params, "agency"), county=_pick(params, "county"))

    def query(self) -> dict[str, str]:
        return {k: v for k, v in (("status", self.status or "any"), ("category", self.category),
                                  ("agency", self.agency), ("county", self.county)) if v}


def _discrepancy_query(f: DiscrepancyFilter, *, scope: str | None) -> Select[Any]:
    c = discrepancies.c
    q = select(discrepancies)
    if scope is not None:
        q = q.where(c.acting_agency == scope)
    for value, column in ((f.status, c.status), (f.category, c.category), (f.agency, c.acting_agency),
                          (f.county, c.division)):
        if value:
            q = q.where(column == value)
    return q


def discrepancy_list(engine: Engine, f: DiscrepancyFilter, *, scope: str | None, limit: int = PAGE,
                     offset: int = 0) -> dict[str, Any]:
    """Items that match, the longest known first; an agency's operators: those their agency must act on."""
    base = _discrepancy_query(f, scope=scope)
    with engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(base.subquery())).scalar_one())
        rows = conn.execute(base.order_by(discrepancies.c.first_seen, discrepancies.c.id).limit(limit)
                            .offset(max(0, offset))).mappings().all()
    return {"total": total, "items": [register_items.as_dict(r) for r in rows]}


def discrepancy_one(engine: Engine, item_id: str, *, scope: str | None) -> dict[str, Any] | None:
    """One item with the register snapshots its accounts came from; None outside ``scope``."""
    item = register_items.get_item(engine, item_id)
    if item is None or (scope is not None and item["acting_agency"] != scope):
        return None
    s = register_snapshots.c
    with engine.connect() as conn:
        snaps = conn.execute(select(s.id, s.kind, s.agency, s.filename, s.as_of, s.received_at, s.uploaded_by, s.rows)
                             .where(s.id.in_(item["snapshot_ids"] or ["-"]))).mappings().all()
    item["snapshots"] = {r["id"]: dict(r) | {"received_at": aware(r["received_at"])} for r in snaps}
    return item


# ---- identity review ----------------------------------------------------------------------------------------

def _own(scope: str) -> Any:
    own = select(person_records.c.id).where(person_records.c.agency == scope)
    return or_(identity_reviews.c.record_a.in_(own), identity_reviews.c.record_b.in_(own))


def identity_list(engine: Engine, *, status: str | None, scope: str | None, limit: int = PAGE,
                  offset: int = 0) -> dict[str, Any]:
    """Review items, highest score first, each with both records; an agency's operators: those involving its
    records."""
    count = select(func.count()).select_from(identity_reviews)
    if status:
        count = count.where(identity_reviews.c.status == status)
    if scope is not None:
        count = count.where(_own(scope))
    with engine.connect() as conn:
        total = int(conn.execute(count).scalar_one())
    return {"total": total, "items": reviews(engine, status=status, agency=scope, limit=limit, offset=offset)}


def identity_one(engine: Engine, review_id: str, *, scope: str | None) -> dict[str, Any] | None:
    found = reviews(engine, status=None, agency=scope, review_id=review_id)
    if not found:
        return None
    item = found[0]
    item["differ"] = sorted(k for k in ("name", "id_number", "sex", "birth_date", "case_numbers")
                            if item["a"][k] != item["b"][k])
    return item
