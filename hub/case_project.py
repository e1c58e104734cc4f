"""One projection batch: stored messages read with ``facts_of``, applied to their cases with the pure core in
memory, and what changed written back (case rows, obligations, timeline lines) in the caller's transaction.

A message the ledger cannot read, or that the core refuses, never stops the messages behind it: it becomes a
timeline line (``unreadable``, ``not_applied``) with the reason, once, and the projection goes on.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from hub.case_codec import decode_state
from hub.case_rows import (
    case_row,
    directory_roles,
    event_row,
    obligation_detail,
    obligation_row,
    status_since,
)
from hub.core.calendar import Calendar
from hub.core.cases import CaseState, Transition, apply
from hub.core.fact_reader import READ_TYPES
from hub.core.facts import MessageFacts, facts_of
from hub.core.model import Directory
from hub.core.obligations import Obligation
from hub.core.rules import RuleBook
from hub.report.facts import fact_rows
from hub.store.db import upsert, writer_lock
from hub.store.ledger_schema import case_events, case_facts, cases, ledger_cursor, obligations

log = logging.getLogger("xianjie.ledger")
# The ledger's format: a ledger whose cursor names an older one (or none) is rebuilt by the next projector, so that
# the rows the newer code writes (``case_facts`` from format 2) exist for every message already stored.
LEDGER_FORMAT = 2
_CHUNK = 500  # keys per IN (...) query
# The message families the core reads; the hub's own notices (e.g. deadline notices) are not case history.
READABLE = READ_TYPES


def lock(conn: Connection, *, wait: bool) -> bool:
    """Take the ledger's writer lock for the transaction; False when ``wait`` is off and another holds it."""
    return writer_lock(conn, "ledger", wait=wait)


def cursor(conn: Connection) -> dict[str, Any]:
    """The projection cursor, locked for the transaction on PostgreSQL (created at 0 the first time)."""
    q = select(ledger_cursor).where(ledger_cursor.c.id == 1)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    row = conn.execute(q).mappings().first()
    if row is None:
        conn.execute(insert(ledger_cursor).values(id=1, last_seq=0, gaps="{}", updated_at=dt.datetime.now(dt.UTC),
                                                  format=LEDGER_FORMAT))
        row = conn.execute(q).mappings().one()
    return dict(row)


class Batch:
    """The cases one batch touches, loaded once, changed in memory, written once by ``flush``."""

    def __init__(self, conn: Connection, *, rules: RuleBook, calendar: Calendar, directory: Directory,
                 now: dt.datetime) -> None:
        self.conn, self.rules, self.calendar, self.now = conn, rules, calendar, now
        self.roles = directory_roles(directory)
        self.states: dict[str, tuple[CaseState | None, dt.date | None]] = {}
        self.last_seq: dict[str, int] = {}  # changed cases and the last seq applied to each
        self.touched: dict[str, set[str]] = {}  # obligation ids changed, by case
        self.opened_at: dict[str, dt.datetime] = {}
        self.events: list[dict[str, Any]] = []
        self.facts: dict[str, list[dict[str, Any]]] = {}  # the report's facts of each message, the last word kept

    def run(self, rows: Sequence[tuple[int, str, str, bytes, dt.datetime]]) -> None:
        """Apply (seq, message id, message type, canonical XML, received at) in the order given, then write the
        changes."""
        read: list[tuple[int, str, MessageFacts | None, dt.datetime, str | None]] = []
        for seq, message_id, message_type, canonical, received_at in rows:
            if message_type not in READABLE:
                continue
            try:
                read.append((seq, message_id, facts_of(canonical, received_at=received_at), received_at, None))
            except Exception as e:  # the XML passed the XSD at ingest; the ledger needs fields it may lack
                read.append((seq, message_id, None, received_at, f"{type(e).__name__}: {e}"))
        self._load({m.case_key for _, _, m, _, _ in read if m is not None and m.case is not None and m.case_key})
        for seq, message_id, m, received_at, problem in read:
            if m is None:
                self._problem(None, None, "unreadable", message_id, received_at, problem or "")
            elif m.case is not None and m.case_key is not None:
                self._apply(seq, m)
        self.flush()

    def _load(self, keys: set[str]) -> None:
        wanted = sorted(k for k in keys if k not in self.states)
        for i in range(0, len(wanted), _CHUNK):
            part = wanted[i:i + _CHUNK]
            for r in self.conn.execute(select(cases.c.case_key, cases.c.state_json, cases.c.status_since)
                                       .where(cases.c.case_key.in_(part))):
                self.states[r.case_key] = (decode_state(r.state_json), r.status_since)
            for k in part:
                self.states.setdefault(k, (None, None))

    def _apply(self, seq: int, m: MessageFacts) -> None:
        key = m.case_key
        assert key is not None
        state, since = self.states[key]
        try:
            t = apply(state, m, rules=self.rules, calendar=self.calendar, directory_roles=self.roles)
        except Exception as e:  # the core is pure: what it refuses is this message's own content
            # the reason may quote the message's values: it is kept with the ledger's problems, not logged
            log.warning("ledger: message %s not applied to case %s (%s; the reason is in the ledger's problems)",
                        m.message_id, key, type(e).__name__)
            person = m.person_key or (state.person_key if state else None)
            self._problem(key, person, "not_applied", m.message_id, m.received_at, f"{type(e).__name__}: {e}")
            return
        if t.duplicate:
            return
        waiting = {p.message_id: p for p in (state.pending if state is not None else ())}
        # this message, and any it released that waited for it; a message held for its antecedent is a fact all the
        # same (a release of a person whose decision came before the hub did), counted again once applied
        for line in t.timeline:
            applied = m if line.message_id == m.message_id else waiting.get(line.message_id)
            if applied is not None:
                self.facts[applied.message_id] = fact_rows(applied, t.state, seq=seq)
        self.states[key] = (t.state, status_since(state, since, t.state, m.received_on))
        self.last_seq[key] = seq
        ids = self.touched.setdefault(key, set())
        for o in (*t.opened, *t.met, *t.cancelled):
            ids.add(o.id)
        for o in t.opened:
            self.opened_at.setdefault(o.id, m.received_at)
        self._timeline(t, m)

    def _timeline(self, t: Transition, m: MessageFacts) -> None:
        s = t.state
        for e in t.timeline:
            self.events.append(event_row(
                case_key=s.case_key, person_key=s.person_key, at=m.received_at,
                kind="held" if e.held_for else "applied", message_id=e.message_id,
                message_type=e.message_type, sender=e.sender, received_at=e.received_at, state=e.state.value,
                state_zh=e.state.label_zh, responsible=e.responsible, summary=e.summary, held_for=e.held_for))
        for kind, items in (("obligation_opened", t.opened), ("obligation_met", t.met),
                            ("obligation_waived", t.cancelled)):
            for o in items:
                self.events.append(self._obligation_event(kind, o, m))

    def _obligation_event(self, kind: str, o: Obligation, m: MessageFacts) -> dict[str, Any]:
        return event_row(case_key=o.case_key, person_key=o.person_key, at=m.received_at, kind=kind,
                         message_id=m.message_id, **obligation_detail(o))

    def _problem(self, case_key: str | None, person_key: str | None, kind: str, message_id: str,
                 at: dt.datetime, reason: str) -> None:
        # A replay of the same message says nothing new.
        if self.conn.execute(select(case_events.c.seq).where(case_events.c.message_id == message_id,
                                                             case_events.c.kind == kind)).first() is not None:
            return
        if any(e["message_id"] == message_id and e["kind"] == kind for e in self.events):
            return
        self.events.append(event_row(case_key=case_key, person_key=person_key, at=at, kind=kind,
                                     message_id=message_id, reason=reason))

    def flush(self) -> None:
        """Write the changed cases, their changed obligations and the timeline lines."""
        case_rows: list[dict[str, Any]] = []
        ob_rows: list[dict[str, Any]] = []
        for key, seq in self.last_seq.items():
            state, since = self.states[key]
            assert state is not None
            case_rows.append(case_row(state, since=since, seq=seq, now=self.now))
            ids = self.touched.get(key, set())
            ob_rows.extend(obligation_row(o, opened_at=self.opened_at.get(o.id, self.now))
                           for o in state.obligations if o.id in ids)
        upsert(self.conn, cases, case_rows)
        upsert(self.conn, obligations, ob_rows, keep=("opened_at",))
        if self.events:
            self.conn.execute(insert(case_events), self.events)
        if self.facts:
            for part in _chunks(list(self.facts)):
                self.conn.execute(delete(case_facts).where(case_facts.c.message_id.in_(part)))
            rows = [r for group in self.facts.values() for r in group]
            if rows:
                self.conn.execute(insert(case_facts), rows)
        self.last_seq, self.touched, self.events, self.facts = {}, {}, [], {}


def _chunks(keys: list[str]) -> list[list[str]]:
    return [keys[i:i + _CHUNK] for i in range(0, len(keys), _CHUNK)]
