"""The retention sweep: for each record class, units (a case, a message, a file …) whose period has passed are
judged — kept, with the reason, or doomed — and the doomed ones' rows deleted, table by table in an order that
keeps every foreign key, one batch per transaction, each batch audited with its counts.

``plan`` runs the very same judging and counts the rows instead of deleting them, so the two agree. A class that
depends on another's records being gone (identity records and native payloads on messages) must see, in a plan,
the messages an earlier class would have deleted as gone: the plan writes their ids into a temporary table of its
connection (``retention_gone``) and the judges ask ``Ctx.alive``. Memory is bounded by the batch: candidates are
read in key order after the last one seen (keyset), never all at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    MetaData,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    true,
)

from hub import audit
from hub.core.facts import SHANGHAI, legal_day
from hub.retention import Policy, RecordClass
from hub.retention_holds import Holds
from hub.store.db import READ_ONLY, utcnow
from hub.store.schema import metadata

log = logging.getLogger("xianjie.retention")
CHUNK = 500  # values per IN (...)
GONE = Table("retention_gone", MetaData(), Column("message_id", String(36), primary_key=True),
             prefixes=["TEMPORARY"])
# Children before parents: each table's rows go before the rows they refer to.
DELETE_ORDER = (
    "outbox", "events", "operator_files", "failed_transfer_edits", "failed_transfers", "deliveries",
    "attachment_messages", "attachments", "case_events", "case_facts", "alarm_watch", "alarm_notices",
    "obligation_notes", "pursuit_drafts", "draft_watch", "obligations", "cases", "messages", "identity_reviews",
    "identity_decisions", "person_links", "person_records", "discrepancies", "register_snapshots", "history_rows",
    "history_imports", "quarantine_reviews", "quarantine_corrections", "quarantine", "native_payloads",
    "bulk_task_items", "bulk_tasks", "operator_sessions", "auth_failures", "auth_blocks",
)


@dataclass
class Doom:
    """Rows of one table to delete: those whose ``column`` is one of ``values`` (``exact``: the values are the
    keys of rows that exist, so the count is their number)."""

    column: str
    values: set[Any] = field(default_factory=set)
    exact: bool = True


Dooms = dict[str, Doom]


@dataclass
class Ctx:
    """One batch's view: its connection, the day, the class's cutoff, the active holds, plan or apply."""

    conn: Connection
    now: dt.datetime
    today: dt.date
    cutoff: dt.date  # a unit whose clock started before this day is due
    holds: Holds
    planning: bool
    memo: dict[str, Any]  # what a judge computes once per run (plan) or per batch (apply)

    @property
    def cutoff_at(self) -> dt.datetime:
        """The cutoff as an instant: the start of the cutoff day in Asia/Shanghai, in UTC."""
        return dt.datetime.combine(self.cutoff, dt.time(), SHANGHAI).astimezone(dt.UTC)

    def alive(self, message_id: Any) -> ColumnElement[bool]:
        """True for a message not deleted by an earlier class of this run (only a plan has such messages)."""
        return message_id.not_in(select(GONE.c.message_id)) if self.planning else true()


def judged(rows: Sequence[Any], why: Callable[[Any], str | None]) -> tuple[list[Any], Counter[str]]:
    """The rows ``why`` finds no reason to keep, and how many it keeps for each reason (a judge's answer)."""
    ok, kept = [], Counter[str]()
    for r in rows:
        reason = why(r)
        if reason is None:
            ok.append(r)
        else:
            kept[reason] += 1
    return ok, kept


class Sweeper:
    """How one record class is swept: candidates past their period in key order, the judge, the doomed rows."""

    name: ClassVar[str]

    def lock(self, conn: Connection) -> None:
        """Take the writer locks the class needs for an apply batch (the ledger's, the identity index's)."""

    def blocked(self, c: Ctx) -> str | None:
        """A reason the whole class must wait this run (e.g. the ledger is being rebuilt), else None."""
        return None

    def candidates(self, c: Ctx, after: Any, limit: int) -> Sequence[Any]:
        raise NotImplementedError

    def key(self, row: Any) -> Any:
        raise NotImplementedError

    def judge(self, c: Ctx, rows: Sequence[Any]) -> tuple[list[Any], Counter[str]]:
        """The rows that may go, and how many are kept for each reason."""
        return list(rows), Counter()

    def doom(self, c: Ctx, rows: Sequence[Any]) -> Dooms:
        raise NotImplementedError


@dataclass
class ClassReport:
    """What a class's sweep found: units due and deleted (or, in a plan, to delete), rows per table, kept units by
    reason."""

    name: str
    keep: str
    cutoff: str | None
    examined: int = 0
    deleted: int = 0
    rows: Counter[str] = field(default_factory=Counter)
    kept: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    slowest: float = 0.0  # seconds of the longest batch transaction (how long apply held its locks at most)
    note: str | None = None

    def plain(self) -> dict[str, Any]:
        return {"class": self.name, "keep": self.keep, "cutoff": self.cutoff, "examined": self.examined,
                "deleted": self.deleted, "rows": dict(sorted(self.rows.items())),
                "kept": dict(sorted(self.kept.items())), "batches": self.batches,
                "slowest_batch_s": round(self.slowest, 3), "note": self.note}


@dataclass
class RunReport:
    """A whole plan or apply."""

    applied: bool
    today: dt.date
    source: str
    classes: list[ClassReport]
    unclassified: list[str]
    seconds: float = 0.0

    def plain(self) -> dict[str, Any]:
        return {"applied": self.applied, "today": self.today.isoformat(), "policy": self.source,
                "classes": [c.plain() for c in self.classes], "unclassified_tables": self.unclassified,
                "seconds": round(self.seconds, 2),
                "rows": dict(sorted(sum((c.rows for c in self.classes), Counter()).items()))}


def chunks(values: Iterable[Any], size: int = CHUNK) -> list[list[Any]]:
    items = list(values)
    return [items[i:i + size] for i in range(0, len(items), size)]


def _table(name: str) -> Table:
    return metadata.tables[name]


def count(conn: Connection, dooms: Dooms) -> Counter[str]:
    """How many rows ``dooms`` names, table by table."""
    out: Counter[str] = Counter()
    for name, d in dooms.items():
        if d.exact:
            out[name] += len(d.values)
            continue
        col = _table(name).c[d.column]
        for part in chunks(d.values):
            out[name] += int(conn.execute(select(func.count()).where(col.in_(part))).scalar() or 0)
    return +out


def remove(conn: Connection, dooms: Dooms) -> Counter[str]:
    """Delete the rows ``dooms`` names, children first; how many went from each table."""
    unknown = set(dooms) - set(DELETE_ORDER)
    if unknown:
        raise ValueError(f"no place in the delete order for {', '.join(sorted(unknown))}")
    out: Counter[str] = Counter()
    for name in DELETE_ORDER:
        d = dooms.get(name)
        if d is None:
            continue
        t = _table(name)
        for part in chunks(d.values):
            out[name] += conn.execute(delete(t).where(t.c[d.column].in_(part))).rowcount
    return +out


def _sweepers() -> dict[str, Sweeper]:
    from hub.retention_files import FILE_SWEEPERS
    from hub.retention_people import PERSON_SWEEPERS

    return {s.name: s for s in (*PERSON_SWEEPERS, *FILE_SWEEPERS)}


def run(engine: Engine, policy: Policy, *, now: dt.datetime | None, apply: bool, by: str = "retention",
        only: Sequence[str] = (), batch: int | None = None) -> RunReport:
    """Plan or apply ``policy`` (only the classes named in ``only``, if any)."""
    started = time.perf_counter()
    now = now or utcnow()
    today = legal_day(now)
    sweepers = _sweepers()
    unknown = [n for n in only if n not in sweepers and n not in {c.name for c in policy.classes}]
    if unknown:
        raise ValueError(f"no record class {', '.join(unknown)} (one of {', '.join(c.name for c in policy.classes)})")
    report = RunReport(apply, today, policy.source, [], sorted(set(metadata.tables) - policy.tables()))
    size = batch or policy.batch
    plan_conn = None
    if not apply:
        plan_conn = engine.connect().execution_options(**{READ_ONLY: True})
        with plan_conn.begin():
            GONE.create(plan_conn, checkfirst=True)
            plan_conn.execute(delete(GONE))
    try:
        for rc in policy.classes:
            if only and rc.name not in only:
                continue
            if rc.keep.forever or rc.name not in sweepers:
                report.classes.append(ClassReport(rc.name, str(rc.keep), None, note="kept for ever"))
                continue
            report.classes.append(_sweep(engine, plan_conn, sweepers[rc.name], rc, now=now, today=today, by=by,
                                         size=size))
        if apply:
            with engine.begin() as conn:
                audit.record(conn, at=now, actor=by, action="retention_apply", target="retention",
                             detail={"today": today.isoformat(), "policy": policy.source,
                                     "classes": {c.name: {"deleted": c.deleted, "rows": dict(c.rows),
                                                          "kept": dict(c.kept)}
                                                 for c in report.classes if c.note != "kept for ever"}})
    finally:
        if plan_conn is not None:
            with plan_conn.begin():
                GONE.drop(plan_conn, checkfirst=True)
            plan_conn.close()
    report.seconds = time.perf_counter() - started
    return report


def _sweep(engine: Engine, plan_conn: Connection | None, sweeper: Sweeper, rc: RecordClass, *, now: dt.datetime,
           today: dt.date, by: str, size: int) -> ClassReport:
    cutoff = rc.keep.cutoff(today)
    out = ClassReport(rc.name, str(rc.keep), cutoff.isoformat())
    after: Any = None
    memo: dict[str, Any] = {}
    while True:
        started = time.perf_counter()
        if plan_conn is not None:
            with plan_conn.begin():
                rows = _batch(plan_conn, sweeper, rc, out, after, now=now, today=today, cutoff=cutoff, size=size,
                              memo=memo, by=None)
        else:
            with engine.begin() as conn:
                sweeper.lock(conn)
                rows = _batch(conn, sweeper, rc, out, after, now=now, today=today, cutoff=cutoff, size=size,
                              memo={}, by=by)
        out.slowest = max(out.slowest, time.perf_counter() - started)
        if not rows:
            return out
        after = sweeper.key(rows[-1])


def _batch(conn: Connection, sweeper: Sweeper, rc: RecordClass, out: ClassReport, after: Any, *,
           now: dt.datetime, today: dt.date, cutoff: dt.date, size: int, memo: dict[str, Any],
           by: str | None) -> Sequence[Any]:
    """One batch: candidates after ``after``, judged, the doomed counted (plan) or deleted and audited (apply)."""
    c = Ctx(conn, now, today, cutoff, Holds.load(conn), by is None, memo)
    why = sweeper.blocked(c)
    if why is not None:
        out.note = why
        return []
    rows = sweeper.candidates(c, after, size)
    if not rows:
        return rows
    out.examined += len(rows)
    ok, kept = sweeper.judge(c, rows)
    out.kept.update(kept)
    if not ok:
        return rows
    dooms = sweeper.doom(c, ok)
    out.batches += 1
    out.deleted += len(ok)
    if by is None:
        rowcounts = count(conn, dooms)
        gone = dooms.get("messages")
        for part in chunks(gone.values if gone else ()):
            conn.execute(insert(GONE), [{"message_id": m} for m in part])
    else:
        rowcounts = remove(conn, dooms)
        audit.record(conn, at=now, actor=by, action="retention_delete", target=f"retention:{rc.name}",
                     detail={"class": rc.name, "keep": str(rc.keep), "cutoff": cutoff.isoformat(),
                             "units": len(ok), "rows": dict(sorted(rowcounts.items())), "kept": dict(kept)})
    out.rows.update(rowcounts)
    return rows
