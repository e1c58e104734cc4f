"""The case ledger in the database: stored messages projected through the pure core (``hub.core.cases.apply``)
into ``cases``, ``obligations`` and ``case_events``.

Each batch of messages, the rows it changes and the cursor that records how far the projection has got commit in
one transaction, so a crash never applies a message twice nor skips one, and the core ignores a message already
applied, so a replay changes nothing. One projector at a time: a PostgreSQL advisory lock (a second worker finds it
taken and leaves the batch to the first); SQLite serialises writers anyway. Messages are taken in ``seq`` order;
on PostgreSQL a lower seq can commit after a higher one, so a seq not yet visible is kept as a gap and applied when
it appears (a gap still empty after ``GAP_GRACE`` was burnt by a rollback or a duplicate, and is dropped).

The batch itself is ``hub.case_project``; operators' waivers and rescheduling ``hub.case_actions``; queries
(timeline, obligations, the register's view of the ledger) ``hub.case_views``; row shapes ``hub.case_rows``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from sqlalchemy import Connection, Engine, Index, delete, func, select, update

from hub import case_actions, case_views
from hub.case_actions import OperatorWaiver
from hub.case_project import LEDGER_FORMAT, Batch, cursor, lock
from hub.core.calendar import Calendar
from hub.core.model import Directory
from hub.core.rules import RuleBook
from hub.store.db import aware, utcnow
from hub.store.ledger_schema import case_events, case_facts, cases, ledger_cursor, obligations
from hub.store.schema import calendar_years, messages, rule_changes

log = logging.getLogger("xianjie.ledger")
GAP_GRACE = dt.timedelta(minutes=5)

__all__ = ["GAP_GRACE", "LedgerRebuilding", "ObligationClosed", "case_timeline", "catch_up", "cursor",
           "due_obligations", "inputs_fingerprint", "ledger_people", "list_obligations", "lock", "project", "ready",
           "rebuild", "reschedule_open", "status", "waive"]

ledger_people = case_views.ledger_people
case_timeline = case_views.case_timeline
list_obligations = case_views.list_obligations
due_obligations = case_views.due_obligations
waive = case_actions.waive
reschedule_open = case_actions.reschedule_open
ObligationClosed = case_actions.ObligationClosed
LedgerRebuilding = case_actions.LedgerRebuilding


def project(engine: Engine, *, rules: RuleBook, calendar: Calendar, directory: Directory, limit: int = 1000,
            wait: bool = False, upto: int | None = None) -> int:
    """Apply the next ``limit`` stored messages after the cursor (and any late ones below it; none after ``upto``)
    in one transaction; how many messages were read and waivers made again (0 when caught up, or when another
    process holds the projection)."""
    now = utcnow()
    with engine.begin() as conn:
        if not lock(conn, wait=wait):
            return 0
        cur = cursor(conn)
        if cur.get("format") != LEDGER_FORMAT:  # written by older code: project everything again, from the start
            log.warning("ledger: format %s, this hub writes %s: rebuilding from the stored messages",
                        cur.get("format"), LEDGER_FORMAT)
            start_rebuild(conn)
            cur = cursor(conn)
        last, gaps = int(cur["last_seq"]), {int(k): v for k, v in json.loads(cur["gaps"]).items()}
        # A rebuild makes each operator's waiver again right after the message the ledger had reached then.
        replay = [OperatorWaiver.of(w) for w in json.loads(cur["replay"] or "[]")]
        point = min((w.after_seq for w in replay), default=None)
        if point is not None and (upto is None or point < upto):
            upto = point
        cols = (messages.c.seq, messages.c.id, messages.c.message_type, messages.c.canonical, messages.c.received_at)
        q = select(*cols).where(messages.c.seq > last)
        if upto is not None:
            q = q.where(messages.c.seq <= upto)
        rows = list(conn.execute(q.order_by(messages.c.seq).limit(limit)))
        top = max((int(r.seq) for r in rows), default=last)
        if point is not None and upto == point and len(rows) < limit:
            top = max(top, point)  # every message up to the waiver's point is read (that one may have been burnt)
        if gaps:
            rows += conn.execute(select(*cols).where(messages.c.seq.in_(list(gaps)))).all()
            rows.sort(key=lambda r: int(r.seq))
        seen = {int(r.seq) for r in rows}
        for s in range(last + 1, top):
            if s not in seen:
                gaps[s] = now.isoformat()
        kept = {s: t for s, t in gaps.items() if s not in seen and now - dt.datetime.fromisoformat(t) < GAP_GRACE}
        due = [w for w in replay if w.after_seq <= top]
        if not rows and kept == gaps and not due:
            return 0
        dropped = [s for s in gaps if s not in seen and s not in kept]
        if dropped:
            log.debug("ledger: message numbers %s never committed (a rollback or a duplicate): passed over", dropped)
        Batch(conn, rules=rules, calendar=calendar, directory=directory, now=now).run(
            [(int(r.seq), r.id, r.message_type, bytes(r.canonical), aware(r.received_at) or now) for r in rows])
        case_actions.replay_waivers(conn, due)
        values: dict[str, Any] = dict(last_seq=top, gaps=json.dumps({str(s): t for s, t in sorted(kept.items())}),
                                      updated_at=now)
        if replay:
            values["replay"] = json.dumps([w.plain() for w in replay if w not in due], ensure_ascii=False)
        if cur["rebuild_target"] is not None and top >= cur["rebuild_target"] and len(due) == len(replay):
            values["rebuild_target"] = None
            restore_indexes(conn)
        conn.execute(update(ledger_cursor).where(ledger_cursor.c.id == 1).values(**values))
    return len(rows) + len(due)


def catch_up(engine: Engine, *, rules: RuleBook, calendar: Calendar, directory: Directory, limit: int = 1000,
             wait: bool = False, max_batches: int | None = None, upto: int | None = None) -> int:
    """``project`` batch after batch until caught up (or ``max_batches``); how many messages were read."""
    total = batches = 0
    while max_batches is None or batches < max_batches:
        n = project(engine, rules=rules, calendar=calendar, directory=directory, limit=limit, wait=wait, upto=upto)
        if n == 0:
            break
        total += n
        batches += 1
    return total


def rebuild(engine: Engine, *, rules: RuleBook, calendar: Calendar, directory: Directory, limit: int = 5000) -> int:
    """Empty the ledger tables and project every stored message from the start, making each operator's waiver
    again where it was made (right after the same message); how many messages were read.

    Until the rebuild reaches the last message stored when it began (and every waiver is made again), ``ready`` is
    False, waivers are refused and the alarm clock does not run: a half-built ledger would show obligations as open
    that later messages meet. Any projector carries an interrupted rebuild on from where it stopped. The ledger's
    secondary indexes (``_deferred_indexes``) are dropped while it runs and built again by the batch that finishes
    it, so timeline and obligation queries made meanwhile read whole tables."""
    with engine.begin() as conn:
        lock(conn, wait=True)
        cursor(conn)
        start_rebuild(conn)
    return catch_up(engine, rules=rules, calendar=calendar, directory=directory, limit=limit, wait=True)


def start_rebuild(conn: Connection) -> None:
    """Empty the ledger and set its cursor to project every stored message again (the caller holds the lock)."""
    target = conn.execute(select(func.max(messages.c.seq))).scalar()
    replay = [w.plain() for w in case_actions.waivers(conn) if w.after_seq > 0]
    for index in _deferred_indexes():
        if target or replay:  # the batch that finishes the rebuild builds them again
            index.drop(conn, checkfirst=True)
        else:
            index.create(conn, checkfirst=True)
    for table in (case_facts, case_events, obligations, cases):
        conn.execute(delete(table))
    conn.execute(update(ledger_cursor).where(ledger_cursor.c.id == 1).values(
        last_seq=0, gaps="{}", updated_at=utcnow(), rebuild_target=target or (0 if replay else None),
        replay=json.dumps(replay, ensure_ascii=False) if replay else None, format=LEDGER_FORMAT))


def _deferred_indexes() -> list[Index]:
    """The ledger's secondary indexes a rebuild drops and builds again once it has finished: kept up to date row by
    row, each message of a rebuild would update a dozen of them at random places, and past a few million messages
    the rebuild would spend its time waiting on those pages. The projection itself looks cases and obligations up
    by their keys and problem lines by message (``ix_case_events_message``), which stay."""
    return sorted((i for t in (cases, obligations, case_events, case_facts) for i in t.indexes
                   if i.name != "ix_case_events_message"), key=lambda i: str(i.name))


def restore_indexes(conn: Connection) -> None:
    """Build the indexes a rebuild dropped (those already there are left as they are)."""
    for index in _deferred_indexes():
        index.create(conn, checkfirst=True)


def ready(engine: Engine) -> bool:
    """False while a rebuild has not yet reached the messages stored when it began."""
    with engine.connect() as conn:
        return conn.execute(select(ledger_cursor.c.rebuild_target)).scalar() is None


def inputs_fingerprint(conn: Connection) -> str:
    """What identifies the rules and calendar in force: the changes stored so far."""
    n, top = conn.execute(select(func.count(), func.max(rule_changes.c.seq))).one()
    years = ",".join(f"{r.year}@{aware(r.loaded_at).isoformat()}"  # type: ignore[union-attr]
                     for r in conn.execute(select(calendar_years.c.year, calendar_years.c.loaded_at)
                                           .order_by(calendar_years.c.year)))
    return f"rules {n}/{top or 0}; calendar {years}"


def status(engine: Engine) -> dict[str, Any]:
    """How far the projection has got: last seq applied, latest stored, gaps, rebuild, counts."""
    with engine.connect() as conn:
        cur = conn.execute(select(ledger_cursor)).mappings().first()
        latest = conn.execute(select(func.max(messages.c.seq))).scalar() or 0
        n_cases = conn.execute(select(func.count()).select_from(cases)).scalar()
        n_open = conn.execute(select(func.count()).select_from(obligations).where(obligations.c.is_open == 1)).scalar()
        unread = conn.execute(select(func.count()).select_from(case_events).where(
            case_events.c.kind.in_(("unreadable", "not_applied")))).scalar()
    return {"last_seq": int(cur["last_seq"]) if cur else 0, "latest_seq": int(latest),
            "gaps": len(json.loads(cur["gaps"])) if cur else 0,
            "rebuilding": bool(cur and cur["rebuild_target"] is not None), "cases": n_cases,
            "open_obligations": n_open, "not_applied": unread,
            "inputs": cur["inputs"] if cur else None}
