"""Historical registers: a bureau's 社区矫正对象名册 from before the hub went live, imported so that the joint-meeting
report's cumulative figures (累计接收, 累计解除) and its in-register trend reach back before the hub's own records.

A historical register is a ``bureau_register`` (the same columns, CSV UTF-8/GB18030, XLSX or XML) read by
``hub.registers.read_snapshot``, so a row is checked and rejected exactly as in a register upload (each problem at
its cell, ``名册!G8``; a row whose 执行地 lies outside the bureau's jurisdiction at its 执行地 cell). A history row
must also say when the person's supervision ended, if it did: a row whose status ends it (解除 → released; 终止,
撤销, 收监 → terminated, 《社区矫正法》第四十五条) needs its 状态日期, not before its 矫正起始日期 and not after the
register's day; its 矫正起始日期 may not be after that day either; it must name a county (a prefecture's register
names each row's 执行地); and a person without a valid ID number needs a date of birth.

``import_history`` keeps every file as received with its report, also when it is refused; the same bytes imported
again for the same bureau add nothing. Every import's rows are kept: ``rows_for`` takes, for each person and first
day of supervision, the row of the import whose register is of the latest day (of two of the same day, the later
import; within one file, the later row).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select

from adapters.ledger.columns import key
from adapters.ledger.native import read_rows, sheet_ref
from hub.core.facts import legal_day
from hub.core.model import Directory, OrganType
from hub.core.reconcile import RegisterKind, RegisterRow, RejectedRow, RowProblem, Snapshot, Status
from hub.core.reconcile_records import _birth_key
from hub.errors import Problem
from hub.register_items import _audit, _plain
from hub.registers import RegisterFormatError, load_spec, read_snapshot
from hub.registers import _cell as _cell_ref
from hub.registers import _layout as _header_layout
from hub.store.db import aware, writer_lock
from hub.store.history_schema import history_imports, history_rows

__all__ = ["END_KINDS", "HistoryRow", "get_import", "import_history", "list_imports", "person_key", "rows_for"]

log = logging.getLogger("xianjie.report.history")
KIND = RegisterKind.BUREAU_REGISTER
IMPORTED, REFUSED = "imported", "refused"
# the register statuses that end community corrections, and how: 解除 (期满、赦免) releases; 终止, and a revocation
# or recommittal (撤销、收监), terminate it. 在册、羁押、在逃 leave the person on the books.
END_KINDS = {Status.RELEASED: "released", Status.TERMINATED: "terminated", Status.REVOKED: "terminated"}
STATUS_ZH = {Status.RELEASED: "解除", Status.TERMINATED: "终止", Status.REVOKED: "撤销/收监"}
_ERROR_STATUS = {"wrong_agency": 403, "no_valid_rows": 422, "reader_failed": 500}
_CHUNK = 1000


@dataclass(frozen=True)
class HistoryRow:
    """One person and case of a historical register, as the report counts it: in ``division`` (a county) from
    ``received_on`` (矫正起始日期) to ``ended_on`` (the day of 解除 or 终止, ``end_kind`` released or terminated),
    or still on the books as of the register's day ``as_of`` (supervision due to end ``period_end``)."""

    person_key: str
    name: str
    id_number: str | None
    division: str
    correction_type: str  # CONTROL | PROBATION | PAROLE | TEMP_OUTSIDE
    received_on: dt.date
    ended_on: dt.date | None
    end_kind: str | None  # released | terminated
    agency: str
    import_id: str
    row_number: int
    period_end: dt.date | None = None
    as_of: dt.date | None = None


def person_key(agency: str, row: RegisterRow) -> str | None:
    """The key the report counts a person by: the valid ID number (as the case ledger keys persons), else
    ``ref|<agency>|<name as compared>|<birth date YYYYMMDD>``; None with neither a valid ID number nor a birth
    date."""
    if row.id_number:
        return row.id_number
    by_birth = _birth_key(row.name, row.birth_date)
    return None if by_birth is None else f"ref|{agency}|{by_birth}"


# ---- importing -----------------------------------------------------------------------------------------


def import_history(engine: Engine, directory: Directory, data: bytes, *, agency: str, filename: str | None,
                   as_of: dt.date | None, by: str, now: dt.datetime) -> dict[str, Any]:
    """Import a bureau's historical register: keep the file as received with its report and store its accepted
    rows; each bad row is rejected alone, its problems at their cells. A file that cannot be read as a register
    (or not from a bureau, or as of a day after today, or without one good row) is kept with status ``refused``
    and the reason and where in ``error``. The same bytes imported before for the same bureau store nothing: the
    earlier import's report is returned, with ``repeated`` true. Never raises for bad input."""
    agency = agency.strip().upper()
    digest = hashlib.sha256(data).hexdigest()
    with engine.connect() as conn:
        earlier = _earlier(conn, agency, digest)
    if earlier is not None:
        return _repeat(engine, earlier, by, now)
    error: dict[str, Any] | None = None
    snap: Snapshot | None = None
    accepted: list[dict[str, Any]] = []
    rejected: list[RejectedRow] = []
    today = legal_day(now)
    try:
        known = directory.get(agency)
        if known is None or known.organ_type is not OrganType.BUREAU:
            raise RegisterFormatError("wrong_agency", f"{agency[:12]} is not a bureau (…SF) in the agency registry; "
                                                      "a historical register is a bureau's 社区矫正对象名册")
        if as_of is not None and as_of > today:
            raise ValueError(f"as_of: {as_of} is after today ({today}); a register is as of a day that has been")
        try:
            snap = read_snapshot(KIND, data, filename=filename, agency=agency, as_of=as_of)
        except ValueError as e:
            if isinstance(e, RegisterFormatError):
                raise
            raise ValueError(f"as_of: {e} (as_of, --as-of)") from e
        if snap.as_of > today:
            raise ValueError(f"asOf: the file is as of {snap.as_of}, after today ({today})")
        accepted, rejected = _check(snap, data)
    except RegisterFormatError as e:
        error = _error(e.code, e.message, [Problem(p.reason, path=p.where, line=p.line) for p in e.problems])
    except ValueError as e:
        error = _error("invalid", str(e), [Problem(str(e), path=str(e).split(":")[0])])
    except Exception as e:  # the reader's own defect must not lose the file
        log.exception("reading a historical register of %s failed", agency, extra={"exc_personal": True})
        error = _error("reader_failed", f"the register could not be read ({type(e).__name__}); it is kept for the "
                                        "operators", [Problem(f"{type(e).__name__}: {e}")])
    if error is None and not accepted and rejected:
        error = _error("no_valid_rows", f"none of the {len(rejected)} rows of the register could be read; the file "
                                        "is kept, nothing is counted",
                       [Problem(p.reason, path=p.where) for r in rejected for p in r.problems])
    import_id = str(uuid.uuid4())
    status = IMPORTED if error is None else REFUSED
    if error is not None:
        accepted = []
    row = dict(id=import_id, agency=agency[:12], filename=(filename or "")[:255] or None,
               format=snap.format if snap else None, sha256=digest, size=len(data),
               as_of=snap.as_of if snap else as_of, imported_at=now, imported_by=by[:100], status=status,
               rows_accepted=len(accepted), rows_rejected=len(rejected))
    ended = {kind: sum(1 for r in accepted if r["end_kind"] == kind) for kind in ("released", "terminated")}
    report: dict[str, Any] = _plain({k: v for k, v in row.items() if k != "id"} | {
        "import_id": import_id, "ended": ended, "rejected_rows": [
            {"row": r.number, "problems": [{"where": p.where, "reason": p.reason} for p in r.problems]}
            for r in rejected]})
    if error is not None:
        report["error"] = error
    with engine.begin() as conn:
        writer_lock(conn, "history")
        # the same file may have been imported meanwhile by another process
        earlier = _earlier(conn, agency, digest) if status == IMPORTED else None
        if earlier is None:
            conn.execute(insert(history_imports).values(**row, raw=data,
                                                        report=json.dumps(report, ensure_ascii=False)))
            for i in range(0, len(accepted), _CHUNK):
                conn.execute(insert(history_rows), [r | {"import_id": import_id} for r in accepted[i:i + _CHUNK]])
            _audit(conn, now, by, "history_import", f"history_import:{import_id}", {
                k: report[k] for k in ("agency", "filename", "as_of", "status", "rows_accepted", "rows_rejected",
                                       "sha256")} | {"error": error["code"] if error else None})
    if earlier is not None:
        return _repeat(engine, earlier, by, now)
    return report | {"repeated": False}


def error_status(report: dict[str, Any]) -> int | None:
    """The HTTP status of an import's report: None when imported, else 403 (not a bureau), 422 (not one row
    could be read), 500 (the reader failed) or 400 (the file as a whole)."""
    error = report.get("error")
    return None if error is None else _ERROR_STATUS.get(error["code"], 400)


def _error(code: str, message: str, problems: list[Problem]) -> dict[str, Any]:
    return {"code": code, "message": message, "details": [p.as_dict() for p in problems]}


def _earlier(conn: Connection, agency: str, digest: str) -> Any:
    c = history_imports.c
    return conn.execute(select(c.id, c.report).where(c.agency == agency[:12], c.sha256 == digest,
                                                     c.status == IMPORTED).order_by(c.imported_at, c.id)
                        .limit(1)).first()


def _repeat(engine: Engine, earlier: Any, by: str, now: dt.datetime) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(earlier.report)
    with engine.begin() as conn:
        _audit(conn, now, by, "history_import", f"history_import:{earlier.id}", {
            "agency": report["agency"], "filename": report["filename"], "repeated": True,
            "sha256": report["sha256"]})
    return report | {"repeated": True}


# ---- checking the rows ---------------------------------------------------------------------------------


def _check(snap: Snapshot, data: bytes) -> tuple[list[dict[str, Any]], list[RejectedRow]]:
    """The snapshot's accepted rows that also fit a history (as history_rows values), and every rejected row
    (the reader's and these), in the file's order."""
    where = _Locator(snap, data)
    accepted: list[dict[str, Any]] = []
    rejected: dict[int, RejectedRow] = {r.number: r for r in snap.rejected}
    for row in snap.rows:
        problems, values = _history_row(snap, row, where)
        if problems:
            rejected[row.number] = RejectedRow(row.number, tuple(problems))
        else:
            accepted.append(values)
    return accepted, [rejected[n] for n in sorted(rejected)]


def _history_row(snap: Snapshot, row: RegisterRow, where: Callable[[int, str], str]
                 ) -> tuple[list[RowProblem], dict[str, Any]]:
    problems: list[RowProblem] = []
    n = row.number

    def problem(header: str, reason: str) -> None:
        problems.append(RowProblem(where(n, header), f"{header}: {reason}"))

    start, since, status = row.period_start, row.since, row.status
    end_kind = END_KINDS.get(status) if status is not None else None
    if start is not None and start > snap.as_of:
        problem("矫正起始日期", f"{start} 晚于名册日期 {snap.as_of} / is after the register's day")
    if end_kind is not None and status is not None:
        if since is None:
            problem("状态日期", f"状态为{STATUS_ZH[status]}，须填写{STATUS_ZH[status]}之日 / the status "
                            f"{status.value} needs the day it began")
        elif start is not None and since < start:
            problem("状态日期", f"{since} 早于矫正起始日期 {start} / is before 矫正起始日期")
        elif since > snap.as_of:
            problem("状态日期", f"{since} 晚于名册日期 {snap.as_of} / is after the register's day")
    division = row.division or snap.division
    if division.endswith("00"):
        problem("执行地", f"{division} 不是县级行政区划，请填写各行的执行地（县） / is not a county: name each row's "
                       "county")
    key_ = person_key(snap.agency, row)
    if key_ is None:
        problem("身份证号码", f"{row.id_typed or ''} 校验不通过且未填出生日期，无法识别此人 / fails its check and "
                         "no date of birth is given: the person cannot be told apart")
    if problems or key_ is None or start is None or row.correction_type is None:
        return problems, {}
    return problems, {
        "agency": snap.agency, "division": division, "row_number": n, "person_key": key_, "name": row.name[:100],
        "id_number": row.id_number, "birth_date": row.birth_date, "case_number": row.case_number,
        "deciding_organ": row.deciding_organ, "correction_type": row.correction_type, "received_on": start,
        "period_end": row.period_end, "ended_on": since if end_kind else None, "end_kind": end_kind}


class _Locator:
    """A row's cell of a column, as the register reader names it (``名册!G8``, ``CSV!G8``,
    ``/register/row[7]/statusDate``); the header is read again only when a problem must be placed."""

    def __init__(self, snap: Snapshot, data: bytes) -> None:
        self.spec = load_spec(snap.kind)
        self.snap = snap
        self.data = data
        self.ref: str | None = None
        self.letters: dict[str, str] = {}

    def __call__(self, number: int, header: str) -> str:
        col = self.spec.by_key[key(header)]
        if self.snap.format == "xml":
            return f"/register/row[{number}]/{col.element}"
        if self.ref is None:
            first = next(read_rows(self.data, filename=self.snap.filename, header=True))
            layout = _header_layout(self.spec, first)
            self.letters = {layout[h].header: letter for h, letter in first.columns.items()}
            self.ref = sheet_ref(first.sheet)
        return _cell_ref(self.ref, self.letters, number, col)


# ---- reading -------------------------------------------------------------------------------------------


def rows_for(conn: Connection, divisions: Iterable[str]) -> list[HistoryRow]:
    """The imported rows of the counties ``divisions``, one per county, person and first day of supervision (the
    row of the import whose register is of the latest day; of two of the same day the later import; within one
    file the later row), ordered by county, first day and person. One query."""
    wanted = sorted(set(divisions))
    if not wanted:
        return []
    r, i = history_rows.c, history_imports.c
    rank = func.row_number().over(partition_by=(r.division, r.person_key, r.received_on),
                                  order_by=(i.as_of.desc(), i.imported_at.desc(), r.import_id.desc(),
                                            r.row_number.desc()))
    ranked = (select(r.person_key, r.name, r.id_number, r.division, r.correction_type, r.received_on, r.ended_on,
                     r.end_kind, r.agency, r.import_id, r.row_number, r.period_end, i.as_of, rank.label("rank"))
              .join_from(history_rows, history_imports, r.import_id == i.id)
              .where(i.status == IMPORTED, r.division.in_(wanted)).subquery())
    q = ranked.c
    rows = conn.execute(select(q.person_key, q.name, q.id_number, q.division, q.correction_type, q.received_on,
                               q.ended_on, q.end_kind, q.agency, q.import_id, q.row_number, q.period_end, q.as_of)
                        .where(q.rank == 1, q.division.in_(wanted))
                        .order_by(q.division, q.received_on, q.person_key)).all()
    return [HistoryRow(*row) for row in rows]


def list_imports(engine: Engine, *, agency: str | None) -> list[dict[str, Any]]:
    """The imports (of ``agency``, or all), latest first: what each was and how it went, without the rows'
    problems and the bytes."""
    c = history_imports.c
    q = select(c.id, c.agency, c.filename, c.format, c.sha256, c.size, c.as_of, c.imported_at, c.imported_by,
               c.status, c.rows_accepted, c.rows_rejected).order_by(c.imported_at.desc(), c.id)
    if agency is not None:
        q = q.where(c.agency == agency)
    with engine.connect() as conn:
        found = conn.execute(q).mappings().all()
    out = []
    for row in found:
        item = dict(row)
        item["import_id"] = item.pop("id")
        item["imported_at"] = aware(item["imported_at"])
        out.append(_plain(item))
    return out


def get_import(engine: Engine, import_id: str) -> dict[str, Any] | None:
    """An import's stored report (each rejected row's problems at its cells, or the file's error), without the
    bytes; None when there is no such import."""
    with engine.connect() as conn:
        found = conn.execute(select(history_imports.c.report).where(history_imports.c.id == import_id)).first()
    return None if found is None else dict(json.loads(found.report))
