"""Native payloads in: any agency system's own format, through HTTP, a drop folder or a spreadsheet upload.

The agency's adapter splits the payload into records and translates each into canonical XML; each good
record is then validated, routed and stored like a canonical notice, in chunks of one transaction each.
A bad record is rejected alone — quarantined with its record number and the native place of every
problem — while the others go on. The whole payload is kept with a summary of what became of each record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import DBAPIError

from adapters import DecodeContext, NativeError, Record, get_adapter
from adapters.kit.canonical import native_place
from hub import authz
from hub.core.model import Agency
from hub.errors import Forbidden, InvalidMessage, Problem
from hub.service import Hub, IngestResult, SendRefused
from hub.store.db import utcnow
from hub.store.ingest import Incoming, insert_ignoring_duplicates
from hub.store.schema import attachment_messages, attachments, native_payloads

log = logging.getLogger("xianjie.inbound")

CHUNK = 500  # records stored per transaction
LISTED_ACCEPTED = 10_000  # accepted records listed one by one in a report; counts are always exact


@dataclass(frozen=True)
class RecordOutcome:
    number: int
    where: str
    status: str  # accepted | duplicate | rejected
    message_type: str | None = None
    message_id: str | None = None
    code: str | None = None
    problems: tuple[Problem, ...] = ()
    quarantine_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"record": self.number, "where": self.where, "status": self.status}
        for k in ("message_type", "message_id", "code", "quarantine_id"):
            if getattr(self, k) is not None:
                out[k] = getattr(self, k)
        if self.problems:
            out["problems"] = [p.as_dict() for p in self.problems]
        return out


@dataclass
class InboundReport:
    """What became of a native payload and each of its records."""

    payload_id: str
    system: str
    filename: str | None
    error: InvalidMessage | None = None
    quarantine_id: str | None = None
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    outcomes: list[RecordOutcome] = field(default_factory=list)

    @property
    def records(self) -> int:
        return self.accepted + self.duplicates + self.rejected

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "payload_id": self.payload_id, "system": self.system, "filename": self.filename,
            "records": self.records, "accepted": self.accepted, "duplicates": self.duplicates,
            "rejected": self.rejected, "outcomes": [o.as_dict() for o in self.outcomes],
        }
        if self.records > len(self.outcomes):
            out["outcomes_note"] = (f"rejected records are all listed; accepted ones only up to "
                                    f"{LISTED_ACCEPTED}")
        if self.error is not None:
            out["error"] = {"code": self.error.code, "message": self.error.message,
                            "details": [p.as_dict() for p in self.error.problems]}
            out["quarantine_id"] = self.quarantine_id
        return out

    def note(self, outcome: RecordOutcome) -> None:
        if outcome.status == "rejected":
            self.rejected += 1
        elif outcome.status == "duplicate":
            self.duplicates += 1
        else:
            self.accepted += 1
        if outcome.status == "rejected" or self.accepted + self.duplicates <= LISTED_ACCEPTED:
            self.outcomes.append(outcome)


def _problems(rec: Record) -> list[Problem]:
    return [Problem(p.reason, path=p.where, line=p.line) for p in rec.problems]


def _native(e: InvalidMessage, rec: Record) -> list[Problem]:
    """The hub's canonical problems, each placed on the native field that produced it."""
    return [Problem(p.reason, path=native_place(p.path, dict(rec.provenance)) if p.path else rec.where,
                    line=None if p.path else p.line) for p in e.problems]


def receive(hub: Hub, raw: bytes, *, agency: Agency, system: str, channel: str, filename: str | None = None,
            content_type: str | None = None) -> InboundReport:
    """Translate, validate, route and store every record of a native payload; never raises for bad input.

    Raises Forbidden when the agency may not send this system's format (``hub.authz.may_send_system``); what each
    record carries is held to ``hub.authz.SEND`` after decoding (``Hub.prepare``), so that no native format can
    carry a message its sender's organ type may not send."""
    own = authz.may_send_system(code=agency.code, systems=agency.inbound_systems, system=system)
    if not own:
        raise Forbidden(own.reason)
    adapter = get_adapter(system)
    now = utcnow()
    report = InboundReport(str(uuid.uuid4()), system, filename)
    ctx = DecodeContext(sender=agency.code, received_at=now, filename=filename)
    try:
        # a generator adapter may find the payload unreadable only part-way: NativeError then ends it, and
        # the records stored before stay stored (each is whole and valid)
        records: Iterable[Record] = adapter.decode(raw, ctx)
        _store_records(hub, report, iter(records), raw=raw, agency=agency, channel=channel)
    except NativeError as e:
        problems = [Problem(p.reason, path=p.where, line=p.line) for p in e.problems]
        report.error = InvalidMessage(e.code, e.message, problems, 400)
        report.quarantine_id = hub.quarantine(
            raw, agency=agency.code, channel=channel, status=400, code=e.code, message=e.message,
            problems=problems, content_type=content_type, payload_id=report.payload_id)
    except Exception as e:  # an adapter's own defect must not lose the payload
        if isinstance(e, DBAPIError):
            raise  # the database is away: the caller answers 503 and the sender sends again
        log.exception("the %s adapter failed on payload %s from %s", system, report.payload_id, agency.code,
                      extra={"exc_personal": True})
        message = f"the {system} adapter could not translate this payload ({type(e).__name__}); it is kept for the " \
                  "operators"
        report.error = InvalidMessage("adapter_failed", message, [Problem(f"{type(e).__name__}: {e}")], 500)
        report.quarantine_id = hub.quarantine(
            raw, agency=agency.code, channel=channel, status=500, code="adapter_failed", message=message,
            problems=report.error.problems, content_type=content_type, payload_id=report.payload_id)
    summary = report.as_dict()
    with hub.engine.begin() as conn:
        conn.execute(insert(native_payloads).values(
            id=report.payload_id, received_at=now, agency=agency.code, system=system, channel=channel,
            filename=(filename or "")[:255] or None, content_type=(content_type or "")[:100] or None,
            size=len(raw), sha256=hashlib.sha256(raw).hexdigest(), records=report.records,
            accepted=report.accepted + report.duplicates, rejected=report.rejected,
            summary=json.dumps(summary, ensure_ascii=False, default=str), raw=raw))
    return report


def _store_records(hub: Hub, report: InboundReport, records: Iterator[Record], *, raw: bytes, agency: Agency,
                   channel: str) -> None:
    chunk: list[tuple[Record, Incoming]] = []
    try:
        for rec in records:
            if not rec.ok or rec.canonical is None:
                _reject(hub, report, rec, "native_invalid", "the record does not match its native format",
                        _problems(rec), agency=agency, channel=channel, raw=raw)
                continue
            try:
                item = hub.prepare(rec.raw if rec.raw is not None else rec.canonical, agency=agency,
                                   channel=channel, canonical_xml=rec.canonical)
            except InvalidMessage as e:
                _reject(hub, report, rec, e.code, e.message, _native(e, rec), agency=agency, channel=channel,
                        raw=raw)
                continue
            except Forbidden as e:  # another agency's record, or a message its organ type may not send
                code = e.code if isinstance(e, SendRefused) else "sender_mismatch"
                _reject(hub, report, rec, code, str(e), [Problem(str(e), path=rec.where)],
                        agency=agency, channel=channel, raw=raw)
                continue
            chunk.append((rec, item))
            if len(chunk) >= CHUNK:
                pending, chunk = chunk, []
                _flush(hub, report, pending, agency=agency, channel=channel, raw=raw)
    except Exception as e:
        # the payload broke part-way (or its adapter failed): the whole, valid records read before the break are
        # stored like every earlier chunk, so that what the report calls accepted is exactly what was stored
        if not isinstance(e, DBAPIError):
            _flush(hub, report, chunk, agency=agency, channel=channel, raw=raw)
        raise
    _flush(hub, report, chunk, agency=agency, channel=channel, raw=raw)


def _flush(hub: Hub, report: InboundReport, chunk: list[tuple[Record, Incoming]], *, agency: Agency,
           channel: str, raw: bytes) -> None:
    if not chunk:
        return
    results = hub.store_many([item for _, item in chunk])
    kept: list[tuple[Record, str]] = []
    for (rec, item), res in zip(chunk, results, strict=True):
        if isinstance(res, InvalidMessage):
            _reject(hub, report, rec, res.code, res.message, _native(res, rec), agency=agency, channel=channel,
                    raw=raw)
            continue
        assert isinstance(res, IngestResult)
        report.note(RecordOutcome(rec.number, rec.where, "accepted" if res.created else "duplicate",
                                  item.msg.message_type, res.message_id))
        if rec.attachments:
            # a duplicate's files too: if a crash came between the message and its files, the resend repairs it
            kept.append((rec, res.message_id))
    if kept:
        _keep_attachments(hub, kept)


def _keep_attachments(hub: Hub, kept: list[tuple[Record, str]]) -> None:
    """Store each file once by its SHA-256 and link it to every message that carried it (idempotent)."""
    now = utcnow()
    with hub.engine.begin() as conn:
        for rec, message_id in kept:
            digests = list(rec.attachments)
            have = set(conn.execute(select(attachments.c.sha256).where(attachments.c.sha256.in_(digests))).scalars())
            rows = [dict(sha256=d, message_id=message_id, size=len(rec.attachments[d]), received_at=now,
                         content=rec.attachments[d]) for d in digests if d not in have]
            if rows:
                conn.execute(insert_ignoring_duplicates(conn, attachments), rows)
            conn.execute(insert_ignoring_duplicates(conn, attachment_messages),
                         [dict(sha256=d, message_id=message_id) for d in digests])


def _reject(hub: Hub, report: InboundReport, rec: Record, code: str, message: str, problems: list[Problem], *,
            agency: Agency, channel: str, raw: bytes) -> None:
    problems = problems or [Problem(message, path=rec.where)]
    kept = rec.raw if rec.raw is not None else raw
    qid = hub.quarantine(kept, agency=agency.code, channel=channel, status=422, code=code,
                         message=f"record {rec.number} ({rec.where}): {message}", problems=problems,
                         content_type=None, payload_id=report.payload_id, record_number=rec.number)
    report.note(RecordOutcome(rec.number, rec.where, "rejected", rec.message_type, None, code, tuple(problems), qid))


def get_attachment(hub: Hub, sha256: str) -> tuple[list[str], bytes] | None:
    """(the ids of every message that carried it, content) of a stored attachment."""
    with hub.engine.connect() as conn:
        content = conn.execute(select(attachments.c.content).where(attachments.c.sha256 == sha256)).scalar()
        if content is None:
            return None
        ids = list(conn.execute(select(attachment_messages.c.message_id)
                                .where(attachment_messages.c.sha256 == sha256)).scalars())
    return ids, bytes(content)


def payload_summary(hub: Hub, payload_id: str) -> dict[str, Any] | None:
    """The stored report of a native payload (without its bytes)."""
    with hub.engine.connect() as conn:
        row = conn.execute(select(native_payloads).where(native_payloads.c.id == payload_id)).mappings().first()
    if row is None:
        return None
    out = {k: v for k, v in row.items() if k not in ("raw", "summary")}
    out["summary"] = json.loads(row["summary"])
    if isinstance(out.get("received_at"), dt.datetime):
        from hub.store.db import aware

        out["received_at"] = aware(out["received_at"])
    return out
