"""What the console's obligations, pursuit-draft and person pages show, and the operators' actions on them: a note
on an obligation, a waiver, a pursuit draft confirmed or dismissed. Every query and action takes the agency the
operator is limited to (``scope``; None: every agency), so the pages and the operator API, which call these same
functions, can never show or change more than the role and the agency allow.

An agency's operators see the obligations their agency owes or is owed, the pursuit drafts their bureau is to
decide, and a person their agency sent or received a message about (the rule of ``GET
/api/v1/persons/{ref}/timeline``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from lxml import etree
from sqlalchemy import Connection, Engine, case, exists, func, insert, or_, select
from sqlalchemy.sql import ColumnElement, Select

from hub import audit, casework, pursuits, rulebook
from hub.case_views import obligation_view, owed_by_or_to, state_filter
from hub.core.model import Agency, Directory, OrganType
from hub.core.obligations import ObligationStatus
from hub.core.rules import national
from hub.errors import Forbidden
from hub.service import Hub
from hub.store.alarm_schema import pursuit_drafts
from hub.store.db import aware, utcnow
from hub.store.ledger_schema import cases, obligations
from hub.store.operator_schema import obligation_notes
from hub.store.schema import audit_log, deliveries, failed_transfers, messages

PAGE = 50
TIMELINE_PAGE = 100
NOTE_MAX = 2000
NOTE = "obligation_note"  # the audit log's action for a note
URGENT = "urgent"  # due soon, due today and overdue: the list's default
STATES = (URGENT, "open", *(s.value for s in ObligationStatus), "any")
DRAFT_STATUSES = ("drafted", "confirmed", "sent", "dismissed", "withdrawn")
KINDS = ("ASSIST_SEARCH", "PURSUE_ABSCONDER")
_URGENT = (ObligationStatus.DUE_SOON, ObligationStatus.DUE_TODAY, ObligationStatus.OVERDUE)
_CHUNK = 500
o, n, d = obligations.c, obligation_notes.c, pursuit_drafts.c


# ---- obligations ------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ObligationFilter:
    """The obligation list's filters, as the form gives them."""

    state: str = URGENT
    agency: str | None = None  # obligor or obligee
    county: str | None = None  # the county whose rule row applies
    rule: str | None = None

    @classmethod
    def of(cls, params: Mapping[str, str]) -> ObligationFilter:
        def pick(name: str) -> str | None:
            v = (params.get(name) or "").strip()
            return v if v and v != "any" else None

        state = (params.get("state") or URGENT).strip()
        return cls(state=state if state in STATES else URGENT, agency=pick("agency"), county=pick("county"),
                   rule=pick("rule"))

    def query(self) -> dict[str, str]:
        return {k: v for k, v in (("state", self.state), ("agency", self.agency), ("county", self.county),
                                  ("rule", self.rule)) if v}


def _in_scope(scope: str | None) -> ColumnElement[bool] | None:
    return None if scope is None else owed_by_or_to(scope)


def _obligation_query(f: ObligationFilter, *, scope: str | None, today: dt.date) -> Select[Any]:
    q = select(obligations, cases.c.person_name, cases.c.case_number, cases.c.id_number).outerjoin(
        cases, cases.c.case_key == o.case_key)
    mine = _in_scope(scope)
    if mine is not None:
        q = q.where(mine)
    if f.state == URGENT:
        q = q.where(or_(*(state_filter(s, today) for s in _URGENT)))
    elif f.state == "open":
        q = q.where(o.is_open == 1)
    elif f.state != "any":
        q = q.where(state_filter(ObligationStatus(f.state), today))
    if f.agency:
        q = q.where(owed_by_or_to(f.agency))
    if f.county:
        q = q.where(o.division == f.county)
    if f.rule:
        q = q.where(o.rule_id == f.rule)
    return q


def _person_ref(person_key: str | None, case_number: str | None) -> str | None:
    """What a row's link to the person's page names them by: the case number, which finds the case's person and
    all their cases (``hub.case_views.case_timeline``), so that the address (kept in browser histories and proxies)
    carries no ID number; the person key when the row has no case number."""
    return case_number or person_key


def _row(r: Mapping[Any, Any], today: dt.date) -> dict[str, Any]:
    v = obligation_view(r, today=today)
    v["id_number"] = r.get("id_number")
    due, late = v["due_date"], None
    if due is not None and v["status"] == ObligationStatus.OVERDUE:
        late = (today - due).days
    elif due is not None and v["status"] == ObligationStatus.MET_LATE and v["met_on"] is not None:
        late = (v["met_on"] - due).days
    v["days_overdue"] = late
    v["person_ref"] = _person_ref(v["person_key"], v.get("case_number"))
    return v


def obligation_list(engine: Engine, f: ObligationFilter, *, scope: str | None, today: dt.date, limit: int = PAGE,
                    offset: int = 0) -> dict[str, Any]:
    """The obligations that match, the most urgent first (by due date: the most overdue first; those waiting for
    a calendar year last), ``limit`` from ``offset``, and how many match in all."""
    base = _obligation_query(f, scope=scope, today=today)
    order = (case((o.due_date.is_(None), 1), else_=0), o.due_date, o.id)
    with engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(base.subquery())).scalar_one())
        rows = conn.execute(base.order_by(*order).limit(limit).offset(max(0, offset))).mappings().all()
    return {"total": total, "today": today, "items": [_row(r, today) for r in rows]}


def _obligation(conn: Connection, obligation_id: str, scope: str | None) -> Mapping[Any, Any] | None:
    q = select(obligations, cases.c.person_name, cases.c.case_number, cases.c.id_number).outerjoin(
        cases, cases.c.case_key == o.case_key).where(o.id == obligation_id)
    mine = _in_scope(scope)
    return conn.execute(q.where(mine) if mine is not None else q).mappings().first()


def obligation_one(engine: Engine, obligation_id: str, *, scope: str | None, today: dt.date) -> dict[str, Any] | None:
    """One obligation whole, with its rule's legal basis, its notes and the pursuit drafts that would discharge it;
    None when it does not exist or is outside ``scope``."""
    with engine.connect() as conn:
        r = _obligation(conn, obligation_id, scope)
        if r is None:
            return None
        drafts = conn.execute(select(d.id, d.kind, d.status, d.drafted_on).where(d.obligation_id == obligation_id)
                              .order_by(d.drafted_at)).mappings().all()
    out = _row(r, today)
    out["basis"] = _basis(engine, r)
    out["notes"] = notes_of(engine, obligation_id)
    out["drafts"] = [dict(x) for x in drafts]
    return out


def _basis(engine: Engine, r: Mapping[Any, Any]) -> str:
    """The legal basis of the rule row that applied to the obligation (the national row when none is in force)."""
    try:
        return rulebook.rules_in_force(engine).rule(r["rule_id"], division=r["division"], on=r["trigger_date"]).basis
    except (KeyError, ValueError):
        return next((x.basis for x in national().rows() if x.id == r["rule_id"]), "")


def notes_of(engine: Engine, obligation_id: str) -> list[dict[str, Any]]:
    """An obligation's notes, in the order recorded."""
    with engine.connect() as conn:
        rows = conn.execute(select(obligation_notes).where(n.obligation_id == obligation_id)
                            .order_by(n.at, n.id)).mappings().all()
    return [_note(x) for x in rows]


def _note(r: Mapping[Any, Any]) -> dict[str, Any]:
    return {"id": r["id"], "obligation_id": r["obligation_id"], "note": r["note"], "by": r["by"], "at": aware(r["at"])}


def notes_in_scope(engine: Engine, obligation_id: str, *, scope: str | None) -> list[dict[str, Any]] | None:
    """The notes of an obligation in ``scope``; None when there is no such obligation for the operator."""
    with engine.connect() as conn:
        if _obligation(conn, obligation_id, scope) is None:
            return None
    return notes_of(engine, obligation_id)


def add_note(engine: Engine, obligation_id: str, *, note: str, by: str, scope: str | None) -> dict[str, Any]:
    """Record what happened about an obligation (a call made, papers served by hand …), audited
    (``obligation_note``) in the same transaction. ValueError naming ``note`` when it is empty or too long;
    LookupError when there is no such obligation for the operator. Open or closed, an obligation takes notes."""
    text = note.strip()
    if not text:
        raise ValueError("note: write what happened; the note is empty")
    if len(text) > NOTE_MAX:
        raise ValueError(f"note: at most {NOTE_MAX} characters, not {len(text)}")
    now = utcnow()
    with engine.begin() as conn:
        r = _obligation(conn, obligation_id, scope)
        if r is None:
            raise LookupError(f"no obligation {obligation_id}")
        row = {"id": str(uuid.uuid4()), "obligation_id": obligation_id, "case_key": r["case_key"],
               "person_key": r["person_key"], "note": text, "by": by[:100], "at": now}
        conn.execute(insert(obligation_notes).values(**row))
        audit.record(conn, at=now, actor=by, action=NOTE, target=f"obligation:{obligation_id}",
                     detail={"note_id": row["id"], "note": text, "rule_id": r["rule_id"], "case_key": r["case_key"]})
    return _note(row)


def waive(engine: Engine, obligation_id: str, *, reason: str, by: str, scope: str | None,
          today: dt.date) -> dict[str, Any]:
    """``hub.casework.waive`` for an obligation in ``scope`` (LookupError outside it); its errors as it raises
    them: ValueError without a reason, ObligationClosed, LedgerRebuilding."""
    if scope is not None:
        with engine.connect() as conn:
            if _obligation(conn, obligation_id, scope) is None:
                raise LookupError(f"no obligation {obligation_id}")
    return casework.waive(engine, obligation_id, reason=reason, by=by, today=today)


def rule_titles() -> dict[str, tuple[str, str]]:
    """Each rule id with its Chinese and English titles, in the order of the steps."""
    out: dict[str, tuple[str, str]] = {}
    for r in national().rows():
        out.setdefault(r.id, (r.title_zh, r.title_en))
    return out


def counties(directory: Directory) -> list[tuple[str, str]]:
    """The counties of the registry, each with the name of its bureau when it has one."""
    names = {a.division: "" for a in directory.agencies.values()}
    for a in directory.agencies.values():
        if a.organ_type is OrganType.BUREAU:
            names[a.division] = a.name
    return sorted(names.items())


# ---- pursuit drafts ---------------------------------------------------------------------------------------------

def _draft_query(*, status: str | None, scope: str | None) -> Select[Any]:
    q = select(pursuit_drafts, cases.c.case_number, cases.c.id_number).outerjoin(
        cases, cases.c.case_key == d.case_key)
    if scope is not None:
        q = q.where(d.bureau == scope)
    if status:
        q = q.where(d.status == status)
    return q


def _draft(r: Mapping[Any, Any], *, xml: bool = False) -> dict[str, Any]:
    out = {k: r[k] for k in ("id", "case_key", "person_key", "person_name", "obligation_id", "kind", "reason",
                             "bureau", "police", "status", "status_by", "status_reason", "message_id", "drafted_on",
                             "case_number", "id_number")}
    out |= {"drafted_at": aware(r["drafted_at"]), "status_at": aware(r["status_at"]),
            "person_ref": _person_ref(r["person_key"], r["case_number"])}
    root = etree.fromstring(bytes(r["canonical"]), etree.XMLParser(resolve_entities=False, no_network=True))
    out["details"] = root.findtext(f"{{{pursuits.NS}}}pursuit/{{{pursuits.NS}}}details") or ""
    if xml:  # the request as the hub made it (sent, once confirmed), laid out one element a line to be read
        out["canonical"] = etree.tostring(root, pretty_print=True, encoding="unicode")
    return out


def draft_list(engine: Engine, *, status: str | None, scope: str | None, limit: int = PAGE,
               offset: int = 0) -> dict[str, Any]:
    """Pursuit drafts of ``status`` (None: any), oldest first, that ``scope``'s bureau is to decide."""
    base = _draft_query(status=status, scope=scope)
    with engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(base.subquery())).scalar_one())
        rows = conn.execute(base.order_by(d.drafted_at, d.id).limit(limit).offset(max(0, offset))).mappings().all()
    return {"total": total, "items": [_draft(r) for r in rows]}


def draft_one(engine: Engine, draft_id: str, *, scope: str | None, today: dt.date) -> dict[str, Any] | None:
    """One draft with its canonical PursuitRequest and the obligation it would discharge; None when it does not
    exist or is another bureau's."""
    with engine.connect() as conn:
        r = conn.execute(_draft_query(status=None, scope=scope).where(d.id == draft_id)).mappings().first()
        ob = conn.execute(select(obligations).where(o.id == r["obligation_id"])).mappings().first() if r else None
    if r is None:
        return None
    out = _draft(r, xml=True)
    out["obligation"] = obligation_view(ob, today=today) if ob is not None else None
    return out


def acting_agency(directory: Directory, *, operator_agency: str, scope: str | None) -> Agency:
    """The agency a console operator decides a pursuit draft as: their own (a bureau decides its own drafts);
    for an operator who sees every agency, the hub's (organ type HUB), which may decide any. Forbidden when the
    registry has no such agency."""
    if scope is not None:
        mine = directory.get(scope)
        if mine is None:
            raise Forbidden(f"agency {scope} is not in the agency registry")
        return mine
    own = directory.get(operator_agency)
    if own is not None and own.organ_type is OrganType.HUB:
        return own
    hubs = sorted(code for code, a in directory.agencies.items() if a.organ_type is OrganType.HUB)
    if not hubs:
        raise Forbidden("the agency registry has no HUB agency for the operators to act as")
    return directory.agencies[hubs[0]]


def confirm_draft(hub: Hub, draft_id: str, *, by: str, agency: Agency, scope: str | None,
                  now: dt.datetime) -> dict[str, Any]:
    """``hub.pursuits.confirm`` for a draft in ``scope`` (LookupError outside it): the hub sends the request as
    the bureau's. Errors as ``confirm`` raises them."""
    _decidable(hub.engine, draft_id, scope)
    return pursuits.confirm(hub, draft_id, agency=agency, by=by, now=now)


def dismiss_draft(hub: Hub, draft_id: str, *, by: str, reason: str, agency: Agency,
                  scope: str | None) -> dict[str, Any]:
    """``hub.pursuits.dismiss`` for a draft in ``scope`` (LookupError outside it); nothing is sent."""
    _decidable(hub.engine, draft_id, scope)
    return pursuits.dismiss(hub, draft_id, agency=agency, by=by, reason=reason)


def _decidable(engine: Engine, draft_id: str, scope: str | None) -> None:
    with engine.connect() as conn:
        if conn.execute(_draft_query(status=None, scope=scope).where(d.id == draft_id)).first() is None:
            raise LookupError(f"no pursuit draft {draft_id}")


# ---- a person ---------------------------------------------------------------------------------------------------

def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    items = sorted(set(values))
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]


def timeline_in_scope(engine: Engine, ref: str, *, scope: str | None, today: dt.date) -> dict[str, Any] | None:
    """The person's timeline (``hub.casework.case_timeline``), whole, when ``scope``'s agency sent or received a
    message about them (any person for None: every agency); None when it did not, or when the hub knows no such
    person. The one rule of who sees a person's timeline: the person's page and ``transfer_timeline`` go by it, as
    ``GET /api/v1/persons/{ref}/timeline`` does."""
    found = casework.case_timeline(engine, ref, today=today)
    if found is None or (scope is not None and scope not in found["parties"]):
        return None
    return found


def transfer_timeline(engine: Engine, ft: Mapping[str, Any], *, scope: str | None,
                      today: dt.date) -> list[dict[str, Any]]:
    """The timeline of a failed transfer's person (by its message's ID number, else person key) as
    ``timeline_in_scope`` gives it, each line with its message type and marked ``current`` when it is about the
    transfer's own message; empty when there is no such person for ``scope``."""
    ref = ft["id_number"] or ft["person_key"]
    found = timeline_in_scope(engine, ref, scope=scope, today=today) if ref else None
    if found is None:
        return []
    lines: list[dict[str, Any]] = found["timeline"]
    types = {x["message_id"]: x["message_type"] for x in lines if x.get("message_type")}
    return [x | {"message_type": x.get("message_type") or types.get(x.get("message_id") or "", ""),
                 "current": x.get("message_id") == ft["message_id"]} for x in lines]


def person(engine: Engine, ref: str, *, scope: str | None, today: dt.date) -> dict[str, Any] | None:
    """Everything about one person in order: the ledger's timeline (each message about them, its deliveries and
    what the ledger made of it), the notes operators recorded on their obligations and the operators' actions the
    audit log keeps about their messages, failed transfers, obligations and pursuit drafts; with their cases,
    obligations, pursuit drafts and the failed transfers of their messages. None when the hub knows no such
    person, or when ``scope``'s agency neither sent nor received a message about them.

    The ledger's timeline is whole (``timeline_in_scope``); what operators wrote and did is held to the same limits
    as its own pages: the notes of the obligations the agency owes or is owed, the failed transfers of the messages
    it sent or was to receive, the drafts of its own bureau, and the audit entries about those and about the
    messages it sent or received."""
    found = timeline_in_scope(engine, ref, scope=scope, today=today)
    if found is None:
        return None
    ob_ids = [x["id"] for x in found["obligations"] if scope is None or scope in (x["obligor"], x["obligee"])]
    case_keys = [c["case_key"] for c in found["cases"]]
    mids = {x["message_id"] for x in found["timeline"] if x.get("message_id")}
    notes: list[dict[str, Any]] = []
    drafts: list[dict[str, Any]] = []
    fts: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    with engine.connect() as conn:
        for part in _chunks(ob_ids):
            notes += [_note(r) for r in conn.execute(select(obligation_notes).where(n.obligation_id.in_(part)))
                      .mappings()]
        for part in _chunks(case_keys):
            drafts += [_draft(r) for r in conn.execute(_draft_query(status=None, scope=scope).where(
                d.case_key.in_(part))).mappings()]
        if scope is not None:  # the messages the agency sent or was to receive
            mids = {m for part in _chunks(mids) for m in conn.execute(select(messages.c.id).where(
                messages.c.id.in_(part), or_(messages.c.sender == scope, exists().where(
                    deliveries.c.message_id == messages.c.id, deliveries.c.recipient == scope)))).scalars()}
        for part in _chunks(mids):  # as the failed-transfer list has them: sent by the agency, or to it
            q = select(failed_transfers.c.id, failed_transfers.c.message_id, failed_transfers.c.recipient,
                       failed_transfers.c.cause, failed_transfers.c.status, failed_transfers.c.created_at).join(
                messages, messages.c.id == failed_transfers.c.message_id).where(failed_transfers.c.message_id.in_(part))
            if scope is not None:
                q = q.where(or_(messages.c.sender == scope, failed_transfers.c.recipient == scope))
            fts += [dict(r) for r in conn.execute(q).mappings()]
        # the audit log names what an action was about by its target; these are the targets of this person's
        # obligations, pursuit drafts, failed transfers (as the retry records them, bare or prefixed) and messages
        targets = {f"obligation:{i}" for i in ob_ids} | {f"pursuit_draft:{x['id']}" for x in drafts}
        targets |= {x["id"] for x in fts} | {f"failed_transfer:{x['id']}" for x in fts}
        targets |= {f"message:{m}" for m in mids}
        for part in _chunks(targets):
            audits += [dict(r) for r in conn.execute(select(audit_log).where(
                audit_log.c.target.in_(part), audit_log.c.action != NOTE)).mappings()]
    titles = rule_titles()
    ob_rule = {x["id"]: x["rule_id"] for x in found["obligations"]}
    ft_of: dict[str, list[dict[str, Any]]] = {}
    for ft in sorted(fts, key=lambda x: (x["created_at"], x["id"])):
        ft["created_at"] = aware(ft["created_at"])
        ft_of.setdefault(ft["message_id"], []).append(ft)
    extra: list[dict[str, Any]] = []
    for x in notes:
        extra.append({"at": x["at"], "source": "note", "kind": "note", "note": x["note"], "by": x["by"],
                      "obligation_id": x["obligation_id"], "rule_id": ob_rule.get(x["obligation_id"])})
    for a in sorted(audits, key=lambda a: int(a["id"])):
        extra.append({"at": aware(a["at"]), "source": "operator", "kind": a["action"], "by": a["actor"],
                      "target": a["target"], "detail": _audit_detail(a["detail"])})
    lines = sorted([*found["timeline"], *extra], key=lambda x: x["at"])  # stable: the ledger's order kept
    for x in lines:
        if x["source"] == "message":
            x["failed"] = ft_of.get(x["message_id"], [])
        elif x["source"] == "ledger" and isinstance(x.get("detail"), dict):
            x["rule_id"] = x["detail"].get("rule_id")
            x["obligation_id"] = x["detail"].get("obligation_id")
    return found | {"lines": lines, "notes": notes, "drafts": sorted(drafts, key=lambda x: x["drafted_at"]),
                    "failed": [ft for group in ft_of.values() for ft in group], "titles": titles}


def _audit_detail(text: str | None) -> dict[str, Any] | str:
    if not text:
        return ""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, dict) else text
