"""The record classes that are an agency's files, refused inputs and the hub's working rows: native payloads,
register snapshots, historical registers, the quarantine, refused files, the outbox, console sessions, bulk tasks.

An agency's file is not any one person's record, but none goes while it is still needed for a person: a native
payload stays while a message it became is kept, a historical register while one of its persons has a case open, a
register snapshot while it is the latest of its kind or an open discrepancy names it. A refused input (quarantined,
or a file of which nothing was accepted) and an older register snapshot stay while any ID number written in them
is a person's with a case open (``id_numbers_in``: their bytes as sent, read for the numbers).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import exists, select

from hub.core.idnumber import upgrade_legacy
from hub.retention_people import CLOSED, _in, _open_keys
from hub.retention_sweep import Ctx, Doom, Dooms, Sweeper, judged
from hub.store.api_key_schema import auth_blocks, auth_failures
from hub.store.db import aware
from hub.store.history_schema import history_imports, history_rows
from hub.store.ledger_schema import cases
from hub.store.operator_schema import bulk_tasks, operator_sessions, quarantine_corrections
from hub.store.register_schema import discrepancies, register_snapshots
from hub.store.schema import deliveries, messages, native_payloads, outbox, quarantine

WAITING = ("pending", "sending", "held")  # deliveries an outbox row may still announce


class _ById(Sweeper):
    """Candidates of one table with an ``id`` key, due by one timestamp column, filtered by ``where``."""

    table: Any
    clock_column: str
    pk = "id"

    def where(self, c: Ctx) -> list[Any]:
        return []

    def candidates(self, c: Ctx, after: Any, limit: int) -> Sequence[Any]:
        t = self.table
        pk = t.c[self.pk]
        q = select(*self.columns()).where(t.c[self.clock_column] < c.cutoff_at, *self.where(c))
        if after is not None:
            q = q.where(pk > after)
        return c.conn.execute(q.order_by(pk).limit(limit)).all()

    def columns(self) -> list[Any]:
        return [self.table.c[self.pk]]

    def key(self, row: Any) -> Any:
        return getattr(row, self.pk)

    def doom(self, c: Ctx, rows: Sequence[Any]) -> Dooms:
        return {self.table.name: Doom(self.pk, {getattr(r, self.pk) for r in rows})}


_ID18 = re.compile(rb"(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9Xx])")
_ID15 = re.compile(rb"(?<![0-9])[1-9][0-9]{14}(?![0-9Xx])")  # a legacy number, read in its 18-character form
SCAN_BYTES = 16 * 1024 * 1024  # of a ZIP's (an XLSX's) members, at most this much is inflated to be read


def id_numbers_in(raw: bytes) -> set[str]:
    """Every ID number (in its 18-character form) written in a file as it was sent: in its bytes as they are (UTF-8,
    GBK, GB18030 and every other encoding that writes digits as ASCII), in UTF-16 (read without its NUL bytes), and
    in the members of a ZIP (an XLSX's sheets and shared strings) inflated up to ``SCAN_BYTES`` in all. A number only
    in a part past that bound, or in a file that cannot be opened, is not found."""
    if raw[:4] == b"PK\x03\x04":
        texts: Iterable[bytes] = _inflated(raw)
    elif raw[:2] in (b"\xff\xfe", b"\xfe\xff") or raw[1:4096:2].count(0) > 1024 or raw[0:4096:2].count(0) > 1024:
        texts = (raw.replace(b"\x00", b""),)  # UTF-16: its digits are ASCII with a NUL beside each
    else:
        texts = (raw,)
    found: set[str] = set()
    for t in texts:
        found.update(m.group().decode().upper() for m in _ID18.finditer(t))
        found.update(upgrade_legacy(m.group().decode()) for m in _ID15.finditer(t))
    return found


def _inflated(raw: bytes) -> Iterator[bytes]:
    yield raw  # what a damaged archive's bytes show as they are
    budget = SCAN_BYTES
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            for info in z.infolist():
                if budget <= 0:
                    return
                with z.open(info) as f:
                    data = f.read(budget)
                budget -= len(data)
                yield data
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError, NotImplementedError, ValueError):
        return


def _naming_open_cases(c: Ctx, table: Any, ids: Sequence[Any]) -> set[Any]:
    """Those of ``ids`` (rows of ``table``) whose raw bytes name a person with a case open or under a legal hold:
    each file read, judged and let go before the next (a register may name a million people), with what is known
    of each number kept for the run."""
    known: dict[str, bool] = c.memo.setdefault("id_number_kept", {})  # number -> a case open or a hold on it
    kept = set()
    for i in ids:
        raw = c.conn.execute(select(table.c.raw).where(table.c.id == i)).scalar()
        numbers = id_numbers_in(raw if isinstance(raw, bytes) else bytes(raw or b""))
        del raw
        new = numbers - known.keys()
        if new:
            open_keys = _open_keys(c, new)
            known.update((n, n in open_keys or c.holds.person({n})) for n in new)
            if len(known) > 2_000_000:  # a bound on what the run remembers: forget and ask again
                known.clear()
        if any(known.get(n, False) for n in numbers):
            kept.add(i)
    return kept


def _judged_again(ok: list[Any], kept: Counter[str], open_named: set[Any], key: Any) -> tuple[list[Any], Counter[str]]:
    """Of the rows a judge let go, those whose file names a person with a case open stay after all."""
    still = [r for r in ok if key(r) not in open_named]
    if len(still) < len(ok):
        kept["person_case_open"] += len(ok) - len(still)
    return still, kept


class NativePayloads(_ById):
    """A native payload that became messages: kept while any of them is."""

    name = "native_payloads"
    table = native_payloads
    clock_column = "received_at"

    def where(self, c: Ctx) -> list[Any]:
        return [native_payloads.c.accepted > 0]

    def judge(self, c: Ctx, rows: Sequence[Any]) -> tuple[list[Any], Counter[str]]:
        listed: dict[str, set[str] | None] = {}
        for r in rows:  # one summary at a time: a big batch's lists every accepted record
            text = c.conn.execute(select(native_payloads.c.summary).where(native_payloads.c.id == r.id)).scalar()
            summary = json.loads(text or "{}")
            listed[r.id] = None if "outcomes_note" in summary else {
                o["message_id"] for o in summary.get("outcomes", []) if o.get("message_id")}
        ids = set().union(*(v for v in listed.values() if v))
        kept_ids = {m.id for m in _in(c.conn, select(messages.c.id).where(c.alive(messages.c.id)), messages.c.id, ids)}
        return judged(rows, lambda r: "legal_hold" if c.holds.ids([r.id]) or c.holds.ids(listed[r.id] or ())
                       else "message_list_incomplete" if listed[r.id] is None
                       else "messages_kept" if listed[r.id] & kept_ids else None)  # type: ignore[operator]


class RegisterSnapshots(_ById):
    """An accepted register snapshot a newer one of its kind and agency has replaced."""

    name = "register_snapshots"
    table = register_snapshots
    clock_column = "received_at"

    def where(self, c: Ctx) -> list[Any]:
        return [register_snapshots.c.status == "accepted"]

    def columns(self) -> list[Any]:
        s = register_snapshots.c
        return [s.id, s.kind, s.agency, s.as_of, s.received_at]

    def judge(self, c: Ctx, rows: Sequence[Any]) -> tuple[list[Any], Counter[str]]:
        s = register_snapshots.c
        superseded: dict[str, Any] = {}
        for kind, agency in {(r.kind, r.agency) for r in rows}:
            # the order reconciliation reads them in (hub.register_store._latest): as of, then received
            peers = c.conn.execute(select(s.id, s.as_of, s.received_at).where(
                s.status == "accepted", s.kind == kind, s.agency == agency)).all()
            order = {p.id: (p.as_of, aware(p.received_at), p.id) for p in peers}
            for r in rows:
                if (r.kind, r.agency) == (kind, agency):
                    newer = [aware(p.received_at) for p in peers if order[p.id] > order[r.id]]
                    superseded[r.id] = max(min(newer), aware(r.received_at)) if newer else None  # type: ignore
        named = set()
        d = discrepancies.c
        for r in rows:
            if c.conn.execute(select(d.id).where(d.status == "open", d.snapshot_ids.contains(r.id)).limit(1)).first():
                named.add(r.id)

        def why(r: Any) -> str | None:
            return ("latest_of_its_kind" if superseded[r.id] is None
                    else "not_due" if superseded[r.id] >= c.cutoff_at
                    else "legal_hold" if c.holds.ids([r.id])
                    else "named_by_open_discrepancy" if r.id in named else None)

        ok, kept = judged(rows, why)
        return _judged_again(ok, kept, _naming_open_cases(c, register_snapshots, [r.id for r in ok]), lambda r: r.id)


class HistoryRegisters(_ById):
    """An imported historical register with its rows."""

    name = "history_registers"
    table = history_imports
    clock_column = "imported_at"

    def where(self, c: Ctx) -> list[Any]:
        return [history_imports.c.status == "imported"]

    def judge(self, c: Ctx, rows: Sequence[Any]) -> tuple[list[Any], Counter[str]]:
        h = history_rows.c
        ids = {r.id for r in rows}
        open_case = exists().where(cases.c.status.not_in(CLOSED), (cases.c.person_key == h.person_key)
                                   | (cases.c.id_number == h.id_number))
        with_open = {r.import_id for r in _in(c.conn, select(h.import_id).where(open_case).distinct(), h.import_id,
                                              ids)}
        held = set()
        if c.holds.persons:
            held = {r.import_id for r in _in(c.conn, select(h.import_id, h.person_key, h.id_number), h.import_id, ids)
                    if c.holds.person([r.person_key, r.id_number])}
        return judged(rows, lambda r: "legal_hold" if r.id in held or c.holds.ids([r.id])
                       else "person_case_open" if r.id in with_open else None)

    def doom(self, c: Ctx, rows: Sequence[Any]) -> Dooms:
        ids = {r.id for r in rows}
        return {"history_rows": Doom("import_id", ids, exact=False), "history_imports": Doom("id", ids)}


class Quarantine(_ById):
    """A refused input with its review and proposed corrections."""

    name = "quarantine"
    table = quarantine
    clock_column = "received_at"

    def judge(self, c: Ctx, rows: Sequence[Any]) -> tuple[list[Any], Counter[str]]:
        qc = quarantine_corrections.c
        pending = {r.quarantine_id for r in _in(c.conn, select(qc.quarantine_id).where(qc.status == "pending"),
                                                qc.quarantine_id, {r.id for r in rows})}
        ok, kept = judged(rows, lambda r: "legal_hold" if c.holds.ids([r.id])
                           else "correction_pending" if r.id in pending else None)
        return _judged_again(ok, kept, _naming_open_cases(c, quarantine, [r.id for r in ok]), lambda r: r.id)

    def doom(self, c: Ctx, rows: Sequence[Any]) -> Dooms:
        ids = {r.id for r in rows}
        return {"quarantine_reviews": Doom("quarantine_id", ids, exact=False),
                "quarantine_corrections": Doom("quarantine_id", ids, exact=False),
                "quarantine": Doom("id", ids)}


class RefusedFiles(Sweeper):
    """Files of which nothing was accepted: native payloads, register snapshots, historical registers."""

    name = "refused_files"
    SOURCES = ((native_payloads, "received_at"), (register_snapshots, "received_at"), (history_imports, "imported_at"))

    def _refused(self, i: int) -> Any:
        return (native_payloads.c.accepted == 0, register_snapshots.c.status != "accepted",
                history_imports.c.status == "refused")[i]

    def candidates(self, c: Ctx, after: Any, limit: int) -> Sequence[Any]:
        start, last = after if after is not None else (0, None)
        for i in range(start, len(self.SOURCES)):
            t, clock = self.SOURCES[i]
            q = select(t.c.id).where(t.c[clock] < c.cutoff_at, self._refused(i))
            if i == start and last is not None:
                q = q.where(t.c.id > last)
            rows = [(i, r.id) for r in c.conn.execute(q.order_by(t.c.id).limit(limit))]
            if rows:
                return rows
        return []

    def key(self, row: Any) -> Any:
        return row

    def judge(self, c: Ctx, rows: Sequence[Any]) -> tuple[list[Any], Counter[str]]:
        ok, kept = judged(rows, lambda r: "legal_hold" if c.holds.ids([r[1]]) else None)
        open_named = set()
        for i, (table, _clock) in enumerate(self.SOURCES):
            open_named |= {(i, rid) for rid in _naming_open_cases(c, table, [r[1] for r in ok if r[0] == i])}
        return _judged_again(ok, kept, open_named, tuple)

    def doom(self, c: Ctx, rows: Sequence[Any]) -> Dooms:
        out: Dooms = {}
        for i, rid in rows:
            out.setdefault(self.SOURCES[i][0].name, Doom("id")).values.add(rid)
        return out


class Outbox(_ById):
    """Outbox rows whose delivery no longer waits."""

    name = "outbox"
    table = outbox
    clock_column = "created_at"

    def where(self, c: Ctx) -> list[Any]:
        d = deliveries.c
        out = [~exists().where(d.id == outbox.c.delivery_id, d.state.in_(WAITING))]
        if c.planning:  # rows of deliveries the case sweep takes with their messages are counted there
            out.append(~exists().where(d.id == outbox.c.delivery_id, ~c.alive(d.message_id)))
        return out


class OperatorSessions(_ById):
    """Console sessions after they expired."""

    name = "operator_sessions"
    table = operator_sessions
    clock_column = "expires_at"
    pk = "token_hash"


class BulkTasks(_ById):
    """Bulk tasks done or cancelled, with their items."""

    name = "bulk_tasks"
    table = bulk_tasks
    clock_column = "finished_at"

    def where(self, c: Ctx) -> list[Any]:
        return [bulk_tasks.c.status.in_(("done", "cancelled"))]

    def doom(self, c: Ctx, rows: Sequence[Any]) -> Dooms:
        ids = {r.id for r in rows}
        return {"bulk_task_items": Doom("task_id", ids, exact=False), "bulk_tasks": Doom("id", ids)}


class AuthFailures(_ById):
    """The failed-attempt limiter's failures."""

    name = "auth_failures"
    table = auth_failures
    clock_column = "at"


class AuthBlocks(_ById):
    """The failed-attempt limiter's blocks, after they ended."""

    name = "auth_blocks"
    table = auth_blocks
    clock_column = "until_at"
    pk = "key"


FILE_SWEEPERS: tuple[Sweeper, ...] = (NativePayloads(), RegisterSnapshots(), HistoryRegisters(), Quarantine(),
                                      RefusedFiles(), Outbox(), OperatorSessions(), BulkTasks(), AuthFailures(),
                                      AuthBlocks())
