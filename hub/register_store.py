"""Register snapshots as uploaded, and the discrepancy items reconciliation finds, tracked to resolution.

``upload`` keeps every file as received (refused ones too, for the operators) with its per-row report, and
reconciles at once. ``reconcile_now`` compares the latest accepted snapshot of each kind per agency with the case
ledger and with each other (``hub.core.reconcile``): items found for the first time are opened, open ones found
again are touched, and open ones no longer found are resolved automatically — but only when this run compared the
registers they came from (an item is only ever judged by a run over the same agencies' registers). An item an
operator resolved by hand stays resolved until a register received after that still shows it.

Reading items and snapshots and resolving items by hand are in ``hub.register_items``; their names are importable
from here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from hub.core import reconcile as rc
from hub.core.facts import legal_day
from hub.core.reconcile import LEDGER, Category, Discrepancy, LedgerPerson, MatchBy, RegisterKind, Side, Snapshot
from hub.errors import Problem
from hub.register_items import AlreadyResolved, _audit, _plain, as_dict, get_item, get_snapshot, list_items, resolve
from hub.registers import RegisterFormatError, read_snapshot
from hub.store.db import aware, utcnow, writer_lock
from hub.store.register_schema import discrepancies, register_snapshots

__all__ = ["AUTOMATIC", "AlreadyResolved", "People", "RunResult", "UploadError", "UploadResult", "as_dict",
           "beijing_today", "get_item", "get_snapshot", "list_items", "reconcile_now", "resolve", "upload"]

log = logging.getLogger("xianjie.registers")
AUTOMATIC = "reconciliation"  # resolved_by of an item no longer found
People = Callable[[Engine], Iterable[LedgerPerson]]


def beijing_today() -> dt.date:
    """Today's legal day (Asia/Shanghai)."""
    return legal_day(utcnow())


@dataclass(frozen=True)
class UploadError:
    code: str
    message: str
    problems: tuple[Problem, ...]
    status: int  # 400 the file, 403 the wrong agency, 422 no row readable, 500 the reader failed


@dataclass
class RunResult:
    """What one reconciliation did: the snapshots compared and the items opened, reopened and resolved."""

    as_of: dt.date
    snapshots: list[str] = field(default_factory=list)
    opened: list[dict[str, Any]] = field(default_factory=list)
    reopened: list[dict[str, Any]] = field(default_factory=list)
    resolved: list[dict[str, Any]] = field(default_factory=list)
    still_open: int = 0
    unreadable: list[dict[str, str]] = field(default_factory=list)
    skipped: str | None = None  # why nothing was compared

    def as_dict(self, listed: int = 1000) -> dict[str, Any]:
        """Counts exact; the items of each kind listed up to ``listed`` (the first run of a province opens
        thousands: list them with ``list_items``)."""
        out = dict(_plain(dataclasses.asdict(self)))
        for k in ("opened", "reopened", "resolved"):
            out[f"{k}_count"], out[k] = len(out[k]), out[k][:listed]
        return out


@dataclass
class UploadResult:
    snapshot: dict[str, Any]  # the stored report
    error: UploadError | None = None
    run: RunResult | None = None


def upload(engine: Engine, kind: RegisterKind | str, data: bytes, *, agency: str, filename: str | None = None,
           as_of: dt.date | None = None, period_start: dt.date | None = None, actor: str | None = None,
           today: dt.date | None = None, people: People | None = None) -> UploadResult:
    """Store the file as received with its report (each rejected row's problems at its cell), then reconcile if
    it was accepted. Never raises for bad input: a file that is refused whole, comes from an agency that does not
    keep ``kind``, or has no readable row is stored with its reasons and returned with an ``error``. ValueError
    only for a ``kind`` that does not exist."""
    kind = RegisterKind(kind)
    today = today or beijing_today()
    snap: Snapshot | None = None
    error: UploadError | None = None
    try:
        if as_of is not None and as_of > today:
            raise ValueError(f"as_of: {as_of} is after today ({today}); a register is as of a day that has been")
        snap = read_snapshot(kind, data, filename=filename, agency=agency, as_of=as_of, period_start=period_start)
        if snap.as_of > today:
            raise ValueError(f"asOf: the file is as of {snap.as_of}, after today ({today})")
    except RegisterFormatError as e:
        error = UploadError(e.code, e.message, tuple(Problem(p.reason, path=p.where, line=p.line)
                                                     for p in e.problems), 403 if e.code == "wrong_agency" else 400)
    except ValueError as e:
        error = UploadError("invalid", str(e), (Problem(str(e)),), 400)
    except Exception as e:  # the reader's own defect must not lose the file
        log.exception("reading a %s from %s failed", kind, agency, extra={"exc_personal": True})
        error = UploadError("reader_failed", f"the {kind} could not be read ({type(e).__name__}); it is kept for "
                            "the operators", (Problem(f"{type(e).__name__}: {e}"),), 500)
    if error is None and snap is not None and not snap.rows and snap.rejected:
        error = UploadError("no_valid_rows", f"none of the {len(snap.rejected)} rows of the {kind} could be read; "
                            "the register is kept but not compared", tuple(
                                Problem(p.reason, path=p.where) for r in snap.rejected for p in r.problems), 422)
    sid, now, actor = str(uuid.uuid4()), utcnow(), actor or agency
    status = "accepted" if error is None else "rejected" if error.code == "no_valid_rows" else "refused"
    row = dict(id=sid, kind=kind.value, agency=agency[:12], filename=(filename or "")[:255] or None,
               format=snap.format if snap else None, as_of=snap.as_of if snap else as_of,
               period_start=snap.period_start if snap else period_start, received_at=now, uploaded_by=actor[:100],
               status=status, rows=len(snap.rows) if snap else 0, rejected=len(snap.rejected) if snap else 0)
    report = _plain({k: v for k, v in row.items() if k not in ("id", "uploaded_by")} | {
        "snapshot_id": sid, "rejected_rows": [{"row": r.number, "problems": [
            {"where": p.where, "reason": p.reason} for p in r.problems]} for r in (snap.rejected if snap else ())]})
    if error is not None:
        report["error"] = {"code": error.code, "message": error.message,
                           "details": [p.as_dict() for p in error.problems]}
    with engine.begin() as conn:
        conn.execute(insert(register_snapshots).values(
            **row, size=len(data), sha256=snap.digest if snap else hashlib.sha256(data).hexdigest(), raw=data,
            report=json.dumps(report, ensure_ascii=False)))
        _audit(conn, now, actor, "register_upload", f"register_snapshot:{sid}", {
            k: report[k] for k in ("kind", "agency", "status", "rows", "rejected")} | {
            "error": error.code if error else None})
    result = UploadResult(report, error)
    if snap is not None and status == "accepted":
        result.run = _run(engine, today, actor, people, {sid: snap})
    return result


def reconcile_now(engine: Engine, *, as_of: dt.date | None = None, actor: str = AUTOMATIC,
                  people: People | None = None) -> RunResult:
    """Compare the latest accepted snapshot (as of ``as_of`` or before; default today in Beijing) of each kind per
    agency with the ledger and with each other, and track the items; audited as one entry."""
    return _run(engine, as_of or beijing_today(), actor, people, {})


def _run(engine: Engine, as_of: dt.date, actor: str, people: People | None, fresh: dict[str, Snapshot]
         ) -> RunResult:
    if people is None:
        from hub.casework import ledger_people, ready

        if not ready(engine):  # a half-rebuilt ledger would open items for every person not yet projected
            return RunResult(as_of, skipped="the case ledger is being rebuilt: run `xianjie reconcile run` after")
        people = ledger_people
    for _ in range(5):  # another upload landed while this run compared: compare again with it
        with engine.connect() as conn:
            chosen = _latest(conn, as_of)
        snaps: list[Snapshot] = []
        result = RunResult(as_of)
        for row in chosen:
            try:
                snaps.append(fresh.get(row.id) or _reread(engine, row))
                result.snapshots.append(row.id)
            except ValueError as e:  # read before, no longer (the column specifications changed): set aside
                result.unreadable.append({"snapshot_id": row.id, "reason": str(e)})
        found = rc.reconcile(ledger=people(engine), snapshots=snaps, as_of=as_of)
        compared = {(s.kind.value, s.agency): sid for s, sid in zip(snaps, result.snapshots, strict=True)}
        received = {r.id: aware(r.received_at) for r in chosen}
        with engine.begin() as conn:
            writer_lock(conn, "registers")
            if [r.id for r in _latest(conn, as_of)] != [r.id for r in chosen]:
                continue
            _track(conn, found, compared, received, result)
            _audit(conn, utcnow(), actor, "reconcile", f"reconcile:{as_of}", {
                "snapshots": result.snapshots, "unreadable": result.unreadable, "still_open": result.still_open,
                **{k: [i["id"] for i in getattr(result, k)] for k in ("opened", "reopened", "resolved")}})
        return result
    raise RuntimeError("registers kept arriving while reconciling; run again")


def _latest(conn: Connection, as_of: dt.date) -> list[Any]:
    """The latest accepted snapshot of each kind per agency as of ``as_of`` (a later upload for the same day
    replaces an earlier one), without its bytes, in a stable order."""
    c = register_snapshots.c
    rows = conn.execute(select(c.id, c.kind, c.agency, c.as_of, c.period_start, c.filename, c.received_at)
                        .where(c.status == "accepted", c.as_of <= as_of)
                        .order_by(c.as_of, c.received_at, c.id)).all()
    latest = {(r.kind, r.agency): r for r in rows}
    return [latest[k] for k in sorted(latest)]


def _reread(engine: Engine, row: Any) -> Snapshot:
    with engine.connect() as conn:
        raw = conn.execute(select(register_snapshots.c.raw).where(register_snapshots.c.id == row.id)).scalar_one()
    return read_snapshot(row.kind, bytes(raw), filename=row.filename, agency=row.agency, as_of=row.as_of,
                         period_start=row.period_start)


def _track(conn: Connection, found: list[Discrepancy], compared: dict[tuple[str, str], str],
           received: dict[str, dt.datetime | None], result: RunResult) -> None:
    now = utcnow()
    rows = {r.id: r for r in conn.execute(select(discrepancies).where(discrepancies.c.status == "open"))}
    still, gone, new = rc.resolve_items((_item(r) for r in rows.values()), found)
    closed = {"status": "resolved", "resolved_at": now, "resolved_by": AUTOMATIC,
              "resolution": f"不再发现 / no longer found when the registers as of {result.as_of} were compared"}
    for d in gone:
        if {(s.source, s.agency) for s in d.sides if s.source != LEDGER} <= compared.keys():
            conn.execute(update(discrepancies).where(discrepancies.c.id == str(d.id),
                                                     discrepancies.c.status == "open").values(**closed))
            result.resolved.append(as_dict(dict(rows[str(d.id)]._mapping) | closed))
    for d in still:
        conn.execute(update(discrepancies).where(discrepancies.c.id == str(d.id),
                                                 discrepancies.c.status == "open").values(
            last_seen=now, **_values(d, compared)))
    ids = [str(d.id) for d in new]
    known = {r.id: r for i in range(0, len(ids), 500) for r in conn.execute(
        select(discrepancies).where(discrepancies.c.id.in_(ids[i:i + 500])))}
    for d in new:
        values = _values(d, compared)
        prior = known.get(str(d.id))
        if prior is None:
            conn.execute(insert(discrepancies).values(
                id=str(d.id), status="open", first_seen=now, last_seen=now, reopened=0, **values))
            result.opened.append(as_dict(values | {"id": str(d.id), "status": "open", "first_seen": now}))
        elif prior.resolved_by == AUTOMATIC or any((received.get(s) or now) > (aware(prior.resolved_at) or now)
                                                   for s in json.loads(values["snapshot_ids"])):
            conn.execute(update(discrepancies).where(discrepancies.c.id == str(d.id)).values(
                status="open", last_seen=now, resolved_at=None, resolved_by=None, resolution=None,
                reopened=prior.reopened + 1, **values))
            result.reopened.append(as_dict(values | {"id": str(d.id), "status": "open",
                                                     "first_seen": prior.first_seen}))
        # else: resolved by hand, and no register received since shows it again
    result.still_open = len(still) + len(gone) - len(result.resolved) + len(result.opened) + len(result.reopened)


def _values(d: Discrepancy, compared: dict[tuple[str, str], str]) -> dict[str, Any]:
    sides = [{"source": s.source, "agency": s.agency, "value": s.value, "row": s.row, "snapshot": s.snapshot,
              "snapshot_id": compared.get((s.source, s.agency or "")),
              "as_of": s.as_of.isoformat() if s.as_of else None} for s in d.sides]
    return {"category": d.category.value, "person_key": d.person_key, "id_number": d.id_number,
            "name": d.name[:100], "division": d.division, "acting_agency": d.acting_agency,
            "confirming_agency": d.confirming_agency, "match": d.match.value,
            "sides": json.dumps(sides, ensure_ascii=False),
            "snapshot_ids": json.dumps(sorted({s["snapshot_id"] for s in sides if s["snapshot_id"]})),
            "description_zh": d.description_zh, "description_en": d.description_en}


def _item(row: Any) -> Discrepancy:
    sides = tuple(Side(s["source"], s["agency"], s["value"], s["row"], s["snapshot"],
                       dt.date.fromisoformat(s["as_of"]) if s["as_of"] else None) for s in json.loads(row.sides))
    return Discrepancy(uuid.UUID(row.id), Category(row.category), row.person_key, row.name, row.id_number,
                       row.division, row.acting_agency, row.confirming_agency, sides, MatchBy(row.match),
                       row.description_zh, row.description_en)
