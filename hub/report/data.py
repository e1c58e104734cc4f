"""What a joint-meeting report is computed from, read from the database in a few queries for the counties it
covers: the facts the case ledger kept (``case_facts``), the obligations, the failed transfers, the discrepancy
items, the persons' names, and the rows imported from historical registers. The figures themselves are pure
functions of this (``hub.report.figures``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, and_, or_, select

from hub.core.facts import legal_day
from hub.report.facts import EXITS, FactKind
from hub.report.history import HistoryRow, rows_for
from hub.store.db import READ_ONLY, aware
from hub.store.ledger_schema import case_facts, cases, obligations
from hub.store.register_schema import discrepancies
from hub.store.schema import failed_transfers, messages

STAY_KINDS = tuple(k.value for k in (FactKind.ARRIVED, *sorted(EXITS)))


@dataclass(frozen=True)
class FactRow:
    message_id: str
    division: str
    seq: int
    case_key: str
    person_key: str
    name: str
    id_number: str | None
    correction_type: str
    kind: FactKind
    detail: str | None
    on: dt.date
    received_on: dt.date
    sender: str
    organ: str | None


@dataclass(frozen=True)
class ObligationRow:
    id: str
    case_key: str
    person_key: str
    division: str
    rule_id: str
    obligor: str
    obligee: str
    trigger_date: dt.date
    trigger_message: str
    due_date: dt.date | None
    met_on: dt.date | None
    met_by: str | None
    waived_on: dt.date | None
    is_open: bool
    name: str = ""
    id_number: str | None = None


@dataclass(frozen=True)
class FailedRow:
    id: str
    message_id: str
    message_type: str
    sender: str
    recipient: str | None
    cause: str
    status: str
    created_at: dt.datetime
    resolved_at: dt.datetime | None
    resolution: str | None
    person_key: str
    name: str
    id_number: str | None
    division: str | None  # the message's 执行地

    @property
    def created_on(self) -> dt.date:
        return legal_day(self.created_at)


@dataclass(frozen=True)
class DiscrepancyRow:
    id: str
    category: str
    person_key: str
    name: str
    id_number: str | None
    division: str
    acting_agency: str
    status: str
    first_seen: dt.datetime
    resolved_at: dt.datetime | None


@dataclass(frozen=True)
class ReportData:
    """Everything the figures of one report read, for the counties ``divisions``."""

    divisions: tuple[str, ...]
    facts: tuple[FactRow, ...]
    obligations: tuple[ObligationRow, ...]
    failed: tuple[FailedRow, ...]
    discrepancies: tuple[DiscrepancyRow, ...]
    history: tuple[HistoryRow, ...]


def load(engine: Engine, divisions: Iterable[str], *, since: dt.date, upto: dt.date) -> ReportData:
    """The rows behind a report of ``divisions``: every fact up to ``upto`` (cumulative figures need them all), the
    obligations due from ``since`` and every one still open, the failed transfers raised from ``since`` to ``upto``
    and every discrepancy item of those counties."""
    wanted = tuple(sorted(set(divisions)))
    start = dt.datetime.combine(since - dt.timedelta(days=1), dt.time(), dt.UTC)  # a legal day starts at 16:00 UTC
    end = dt.datetime.combine(upto + dt.timedelta(days=1), dt.time(), dt.UTC)
    f, o, c = case_facts.c, obligations.c, cases.c
    with engine.connect() as conn:
        conn.execution_options(**{READ_ONLY: True})  # a snapshot that holds up no writer
        facts = tuple(
            FactRow(r.message_id, r.division, int(r.seq), r.case_key, r.person_key or r.case_key,
                    r.person_name or "", r.id_number, r.correction_type, FactKind(r.kind), r.detail, r.on,
                    r.received_on, r.sender, r.organ)
            # the facts of each case with one here: a case that moved away shows where it arrived. Before the
            # period only the arrivals and the ends matter (who was in which register when): most facts are the
            # warnings, leave and moves of years before, which no figure counts
            for r in conn.execute(select(case_facts).where(f.case_key.in_(
                select(f.case_key).where(f.division.in_(wanted)).scalar_subquery()), f.on <= upto,
                or_(f.on >= since, f.kind.in_(STAY_KINDS))).order_by(f.on, f.seq)))
        obs = tuple(  # with the person's name from the case, wherever the case is now
            ObligationRow(r.id, r.case_key, r.person_key or r.case_key, r.division, r.rule_id, r.obligor, r.obligee,
                          r.trigger_date, r.trigger_message, r.due_date, r.met_on, r.met_by, r.waived_on,
                          bool(r.is_open), r.person_name or "", r.id_number)
            for r in conn.execute(select(
                o.id, o.case_key, o.person_key, o.division, o.rule_id, o.obligor, o.obligee, o.trigger_date,
                o.trigger_message, o.due_date, o.met_on, o.met_by, o.waived_on, o.is_open, c.person_name,
                c.id_number).outerjoin(cases, c.case_key == o.case_key).where(
                o.division.in_(wanted), or_(o.is_open == 1, o.due_date >= since))))
        failed = []
        m = messages.c
        for r in conn.execute(select(
                failed_transfers.c.id, failed_transfers.c.message_id, failed_transfers.c.recipient,
                failed_transfers.c.cause, failed_transfers.c.status, failed_transfers.c.created_at,
                failed_transfers.c.resolved_at, failed_transfers.c.resolution, m.message_type, m.sender,
                m.person_key, m.person_name, m.id_number, m.execution_division).join(
                messages, m.id == failed_transfers.c.message_id).where(
                and_(failed_transfers.c.created_at >= start, failed_transfers.c.created_at < end))):
            row = FailedRow(r.id, r.message_id, r.message_type, r.sender, r.recipient, r.cause, r.status,
                            _utc(r.created_at), aware(r.resolved_at), r.resolution,
                            r.person_key, r.person_name or "", r.id_number, r.execution_division)
            if since <= row.created_on <= upto and _concerns(row, wanted):
                failed.append(row)
        d = discrepancies.c
        items = tuple(
            DiscrepancyRow(r.id, r.category, r.person_key, r.name, r.id_number, r.division, r.acting_agency,
                           r.status, _utc(r.first_seen), aware(r.resolved_at))
            for r in conn.execute(select(
                d.id, d.category, d.person_key, d.name, d.id_number, d.division, d.acting_agency, d.status,
                d.first_seen, d.resolved_at).where(d.division.in_(wanted))))
        history = tuple(rows_for(conn, wanted))
    return ReportData(wanted, facts, obs, tuple(failed), items, history)


def _utc(value: dt.datetime) -> dt.datetime:
    out = aware(value)
    assert out is not None
    return out


def _concerns(row: FailedRow, divisions: tuple[str, ...]) -> bool:
    """A failed transfer belongs to the county of its message's 执行地 and to its recipient's (not to the sender's:
    a county's meeting does not read about another county's residents because its court sent the notice)."""
    return any(code is not None and code[:6] in divisions for code in (row.division, row.recipient))
