"""Reading the case ledger: obligations by status on a legal day, a person's timeline, and the ledger's persons as
register reconciliation needs them. Statuses are always those of ``hub.core.obligations.Obligation.status``; the
SQL filters only narrow the rows to the ones that can have the status asked for."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, func, or_, select, tuple_

from hub.case_rows import obligation_of
from hub.core.case_state import CaseStatus
from hub.core.facts import canonical_id_number, normalise_case_number
from hub.core.obligations import ObligationStatus
from hub.core.reconcile_values import LedgerPerson, Status
from hub.core.rules import national
from hub.identity_store import person_of
from hub.store.db import aware
from hub.store.ledger_schema import case_events, cases, obligations
from hub.store.schema import deliveries, events, messages

o = obligations.c
ALERTING = (ObligationStatus.DUE_SOON, ObligationStatus.DUE_TODAY, ObligationStatus.OVERDUE,
            ObligationStatus.CALENDAR_MISSING)


def owed_by_or_to(agency: str) -> ColumnElement[bool]:
    """The obligations ``agency`` owes or is owed: whose obligations an agency sees, in every list and figure."""
    return or_(o.obligor == agency, o.obligee == agency)


def state_filter(state: ObligationStatus, today: dt.date) -> ColumnElement[bool]:
    """The rows whose status on ``today`` is ``state``."""
    s = ObligationStatus
    return {
        s.PENDING: and_(o.is_open == 1, o.soon_from > today),
        s.DUE_SOON: and_(o.is_open == 1, o.soon_from <= today, o.due_date > today),
        s.DUE_TODAY: and_(o.is_open == 1, o.due_date == today),
        s.OVERDUE: and_(o.is_open == 1, o.due_date < today),
        s.CALENDAR_MISSING: and_(o.is_open == 1, o.due_date.is_(None)),
        s.MET: and_(o.met_on.is_not(None), or_(o.due_date.is_(None), o.met_on <= o.due_date)),
        s.MET_LATE: and_(o.met_on.is_not(None), o.met_on > o.due_date),
        s.WAIVED: o.waived_on.is_not(None),
    }[state]


def obligation_view(row: Mapping[Any, Any], *, today: dt.date) -> dict[str, Any]:
    """An obligation as the API and CLI show it, with its status on ``today``."""
    status = obligation_of(row).status(today)
    title = _titles().get(row["rule_id"], ("", ""))
    out = {k: row[k] for k in ("id", "case_key", "person_key", "division", "rule_id", "step", "obligor", "obligee",
                               "owes", "trigger_message", "trigger_date", "due_date", "due_soon_days",
                               "calendar_missing_year",
                               "met_on", "met_by", "waived_on", "waived_by", "waived_reason")}
    out |= {"title_zh": title[0], "title_en": title[1], "status": status.value, "status_zh": status.label_zh,
            "opened_at": aware(row["opened_at"])}
    for extra in ("person_name", "case_number"):
        if extra in row:
            out[extra] = row[extra]
    return out


def _titles() -> dict[str, tuple[str, str]]:
    return {r.id: (r.title_zh, r.title_en) for r in national().rows()}


def list_obligations(engine: Engine, *, today: dt.date, state: str | None = None, agency: str | None = None,
                     county: str | None = None, rule: str | None = None, limit: int = 100,
                     after: str | None = None) -> dict[str, Any]:
    """Obligations by due date (those without one first), filtered; ``after`` an id from the previous page.
    ValueError naming the filter for an unknown state."""
    q = select(obligations, cases.c.person_name, cases.c.case_number).outerjoin(
        cases, cases.c.case_key == o.case_key)
    if state:
        if state == "open":
            q = q.where(o.is_open == 1)
        else:
            try:
                q = q.where(state_filter(ObligationStatus(state), today))
            except ValueError:
                known = ", ".join(["open", *(s.value for s in ObligationStatus)])
                raise ValueError(f"state: unknown status {state!r} (one of {known})") from None
    if agency:
        q = q.where(owed_by_or_to(agency))
    if county:
        q = q.where(o.division == county)
    if rule:
        q = q.where(o.rule_id == rule)
    order = func.coalesce(o.due_date, dt.date(1, 1, 1))
    with engine.connect() as conn:
        if after:
            mark = conn.execute(select(order, o.id).where(o.id == after)).first()
            if mark is None:
                raise ValueError(f"after: no obligation {after!r} to continue from")
            q = q.where(tuple_(order, o.id) > tuple_(mark[0], mark[1]))
        rows = conn.execute(q.order_by(order, o.id).limit(limit)).mappings().all()
    items = [obligation_view(r, today=today) for r in rows]
    return {"today": today, "items": items, "next_after": items[-1]["id"] if len(items) == limit else None}


def due_obligations(engine: Engine, *, today: dt.date,
                    agency: str | None = None) -> list[tuple[dict[str, Any], ObligationStatus]]:
    """What the alarm clock looks at: every open obligation that is due soon, due today, overdue or waiting for a
    calendar year on ``today``, with its status (the index on is_open and soon_from finds them); with ``agency``,
    only those it owes or is owed."""
    q = select(obligations).where(o.is_open == 1, or_(o.soon_from <= today, o.soon_from.is_(None)))
    if agency is not None:
        q = q.where(owed_by_or_to(agency))
    out = []
    with engine.connect() as conn:
        for row in conn.execute(q).mappings():
            status = obligation_of(row).status(today)
            if status in ALERTING:
                out.append((dict(row), status))
    return out


def open_status_counts(engine: Engine, *, today: dt.date) -> Counter[ObligationStatus]:
    """How many open obligations stand at each status on ``today`` (every open one evaluated)."""
    counts: Counter[ObligationStatus] = Counter()
    with engine.connect() as conn:
        for row in conn.execute(select(obligations).where(o.is_open == 1)).mappings():
            counts[obligation_of(row).status(today)] += 1
    return counts


def ledger_people(engine: Engine, *, page: int = 5000) -> Iterator[LedgerPerson]:
    """Every decided case as register reconciliation reads the ledger (hub.core.reconcile.LedgerPerson)."""
    after = ""
    while True:
        with engine.connect() as conn:
            rows = conn.execute(select(*(c for c in cases.columns if c.name != "state_json"))
                                .where(cases.c.register_status.is_not(None), cases.c.case_key > after)
                                .order_by(cases.c.case_key).limit(page)).mappings().all()
        if not rows:
            return
        after = rows[-1]["case_key"]
        for r in rows:
            yield LedgerPerson(
                person_key=r["person_key"] or f"case|{r['case_key']}", id_number=r["id_number"],
                name=r["person_name"] or "", case_key=r["case_key"], case_number=r["case_number"],
                deciding_organ=r["deciding_organ"], correction_type=r["correction_type"],
                period_start=r["period_start"], period_end=r["period_end"], execution_division=r["division"],
                status=Status(r["register_status"]), responsible_agency=r["responsible"],
                documents_served=bool(r["documents_served"]), birth_date=r["birth_date"],
                effective_on=r["effective_on"], status_since=r["status_since"])


def _case_view(r: Mapping[Any, Any]) -> dict[str, Any]:
    status = CaseStatus(r["status"])
    return {k: r[k] for k in ("case_key", "case_number", "deciding_organ", "division", "correction_type",
                              "effective_on", "period_start", "period_end", "responsible", "register_status",
                              "status_since")} | {"status": status.value, "status_zh": status.label_zh,
                                                  "updated_at": aware(r["updated_at"])}


def _direct(conn: Connection, ref: str, number: str | None) -> list[Mapping[Any, Any]]:
    """The ledger's cases of ``ref`` itself: by person key, by ID number, else by case number (with the other
    cases of that case's person)."""
    found = conn.execute(select(cases).where(cases.c.person_key == ref)).mappings().all()
    if not found and number:
        found = conn.execute(select(cases).where(cases.c.person_key == number)).mappings().all()
    if not found:
        named = conn.execute(select(cases).where(
            cases.c.case_number_key == normalise_case_number(ref))).mappings().all()
        keys = {r["person_key"] for r in named if r["person_key"]}
        found = [*named, *(r for r in conn.execute(select(cases).where(cases.c.person_key.in_(keys)))
                           .mappings() if r["case_key"] not in {n["case_key"] for n in named})] if keys else named
    return list(found)


def _ledger_key(record: Mapping[str, Any]) -> str | None:
    """The ledger's person key of an identity record: its ID number, else ``ref|<the agency's reference>``."""
    rid = record["record_id"]
    return record["id_number"] or (None if rid.startswith(("id:", "case:", "msg:")) else f"ref|{rid}")


def linked_records(engine: Engine, keys: set[str]) -> list[dict[str, Any]]:
    """Every identity record of the persons behind ``keys`` (hub.identity_store.person_of: linked by ID number,
    by name, birth date and case, or by a reviewer's SAME; a NOT_SAME keeps records apart), each with its ledger
    person key."""
    out: dict[str, dict[str, Any]] = {}
    for key in sorted(keys):
        for person in person_of(engine, key):
            for r in person["records"]:
                out[r["id"]] = r | {"person_key": _ledger_key(r)}
    return sorted(out.values(), key=lambda r: (r["agency"], r["record_id"]))


def case_timeline(engine: Engine, ref: str, *, today: dt.date) -> dict[str, Any] | None:
    """Everything about one person, in order: each message about them (received, routed, delivered,
    acknowledged...), what the ledger did with it, each obligation; None when the hub knows no such person.

    ``ref`` is a person key (an ID number, or ``ref|<sender's reference>``), an ID number in any accepted form, or a
    case number (which finds that case's person and all their cases). The person is the one identity linking made
    of their agencies' records: the cases, messages and obligations of every linked record are in, each entry
    marked with the ``person_key`` it came from and ``linked`` (true when it came from a linked record, not from
    ``ref`` itself); ``records`` lists the linked records."""
    ref = ref.strip()
    number = canonical_id_number(ref.upper(), today=today) if ref else None
    with engine.connect() as conn:
        direct = _direct(conn, ref, number)
    own = {r["person_key"] for r in direct if r["person_key"]} | {k for k in (ref, number) if k}
    records = linked_records(engine, own) if ref else []
    keys = own | {r["person_key"] for r in records if r["person_key"]}
    with engine.connect() as conn:
        more = conn.execute(select(cases).where(cases.c.person_key.in_(keys - own))).mappings().all()
        seen = {d["case_key"] for d in direct}
        found: list[Mapping[Any, Any]] = [*direct, *(r for r in more if r["case_key"] not in seen)]
        ids = {r["id_number"] for r in [*found, *records] if r["id_number"]} | ({number} if number else set())
        case_keys = [r["case_key"] for r in found]
        ledger = conn.execute(select(case_events).where(case_events.c.case_key.in_(case_keys))
                              .order_by(case_events.c.seq)).mappings().all() if case_keys else []
        mids = {e["message_id"] for e in ledger if e["message_id"]}
        by_record = [and_(messages.c.sender == r["agency"], or_(
            messages.c.id == r["first_message_id"],
            messages.c.person_key == f"{r['agency']}:{r['record_id']}")) for r in records]
        msgs = conn.execute(select(messages.c.seq, messages.c.id, messages.c.message_type, messages.c.sender,
                                   messages.c.received_at, messages.c.id_number, messages.c.person_key)
                            .where(or_(messages.c.id.in_(mids), messages.c.id_number.in_(ids), *by_record))
                            .order_by(messages.c.seq)).mappings().all()
        if not found and not msgs:
            return None
        mids |= {m["id"] for m in msgs}
        evs = conn.execute(select(events.c.id, events.c.message_id, events.c.at, events.c.kind, events.c.detail,
                                  deliveries.c.recipient)
                           .outerjoin(deliveries, deliveries.c.id == events.c.delivery_id)
                           .where(events.c.message_id.in_(mids)).order_by(events.c.id)).mappings().all()
        recipients = set(conn.execute(select(deliveries.c.recipient).where(
            deliveries.c.message_id.in_(mids))).scalars())
        obs = conn.execute(select(obligations).where(o.case_key.in_(case_keys)).order_by(
            o.opened_at, o.step, o.id)).mappings().all() if case_keys else []
    case_of = {r["case_key"]: r["person_key"] for r in found}
    key_of = {m["id"]: _message_key(m, records, today) for m in msgs}
    key_of |= {e["message_id"]: case_of.get(e["case_key"]) for e in ledger
               if e["message_id"] and key_of.get(e["message_id"]) is None}

    def mark(key: str | None) -> dict[str, Any]:
        return {"person_key": key, "linked": key is not None and key not in own}

    lines: list[tuple[dt.datetime, int, dict[str, Any]]] = []
    for m in msgs:
        lines.append((aware(m["received_at"]), 0, {  # type: ignore[arg-type]
            "at": aware(m["received_at"]), "source": "message", "kind": "received", "message_id": m["id"],
            "message_type": m["message_type"], "sender": m["sender"], "seq": m["seq"]} | mark(key_of[m["id"]])))
    for e in ledger:
        lines.append((aware(e["at"]), 1, {  # type: ignore[arg-type]
            "at": aware(e["at"]), "source": "ledger", "kind": e["kind"], "message_id": e["message_id"],
            "case_key": e["case_key"], **({"detail": json.loads(e["detail"])} if e["detail"] else {})}
            | mark(case_of.get(e["case_key"]))))
    for e in evs:
        if e["kind"] in ("received", "validated"):
            continue  # the message line says it
        lines.append((aware(e["at"]), 2, {  # type: ignore[arg-type]
            "at": aware(e["at"]), "source": "delivery", "kind": e["kind"], "message_id": e["message_id"],
            "recipient": e["recipient"], **({"detail": json.loads(e["detail"])} if e["detail"] else {})}
            | mark(key_of.get(e["message_id"]))))
    lines.sort(key=lambda x: (x[0], x[1]))
    first = direct[0] if direct else found[0] if found else None
    return {
        "ref": ref,
        "person": {"person_key": first["person_key"] if first else None,
                   "name": first["person_name"] if first else None,
                   "id_number": first["id_number"] if first else (number or None)},
        "cases": [_case_view(r) | mark(r["person_key"]) for r in found],
        "obligations": [obligation_view(r, today=today) | mark(r["person_key"]) for r in obs],
        "timeline": [line for _, _, line in lines],
        "parties": sorted({m["sender"] for m in msgs} | recipients),
        "records": [{k: r[k] for k in ("id", "agency", "record_id", "name", "id_number", "person_key", "how")}
                    for r in records],
    }


def _message_key(m: Mapping[Any, Any], records: list[dict[str, Any]], today: dt.date) -> str | None:
    """The person key a message came by: its valid ID number, else that of the sender's identity record."""
    number = canonical_id_number(m["id_number"], today=today) if m["id_number"] else None
    if number:
        return number
    for r in records:
        if r["agency"] == m["sender"] and (m["person_key"] == f"{r['agency']}:{r['record_id']}"
                                          or m["id"] == r["first_message_id"]):
            return str(r["person_key"])
    return None
