"""Drafted pursuit requests (提请协查 / 追逃): drafted by the clock, confirmed or dismissed by the bureau.

When the ledger shows a person who failed to report, lost contact or is at large under a revocation in force,
and no request has gone out, ``refresh_drafts`` drafts the PursuitRequest the bureau owes the police
(``hub.core.pursuit_draft``): one per case and obligation it would discharge. The bureau (or an operator)
confirms it and the hub ingests it as sent by that bureau (channel ``draft``), or dismisses it with a reason; a
bureau whose registry entry says ``auto_pursuit = true`` has it sent at once. A draft still waiting when its
obligation is met or set aside — a custody notice explains the absence, the person reported after all — is
withdrawn. The status change and the message commit in one transaction; every decision is audited.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from lxml import etree
from sqlalchemy import Connection, and_, exists, select, update

from hub import audit, authz
from hub.canonical import parse
from hub.case_codec import decode_state
from hub.case_rows import directory_roles
from hub.core.facts import SHANGHAI, legal_day
from hub.core.model import Agency
from hub.core.pursuit_draft import PursuitDraft, draft_pursuit_request, pursuit_request_xml
from hub.errors import Forbidden, InvalidMessage
from hub.service import Hub
from hub.store.alarm_schema import draft_watch, pursuit_drafts
from hub.store.db import aware, upsert, utcnow
from hub.store.ingest import insert_ignoring_duplicates, store_message
from hub.store.ledger_schema import cases, obligations

log = logging.getLogger("xianjie.alarms")
NS = "urn:xianjie:canonical:v1"
# Fixed: a draft's id, and the id of the request it becomes, never change.
DRAFT_NAMESPACE = uuid.UUID("9c3e7a15-4b2d-5f80-a6c9-1d8e3b7f2a40")
# Obligations a pursuit request discharges: any open one of the first, the others once due or overdue.
ABSCONDER, SEARCHES, REPORTS = "pursuit_request", ("lost_contact_search", "search_on_failure"), (
    "report", "report_after_transfer")
_D, _O, _DW = pursuit_drafts.c, obligations.c, draft_watch.c


class DraftClosed(ValueError):
    """The draft is no longer waiting for a decision."""


def draft_id(case_key: str, obligation_id: str) -> str:
    """The id of the draft for ``obligation_id`` of ``case_key`` (one per pair, ever)."""
    return str(uuid.uuid5(DRAFT_NAMESPACE, f"{case_key}\n{obligation_id}"))


def refresh_drafts(hub: Hub, *, today: dt.date, now: dt.datetime) -> int:
    """Withdraw waiting drafts whose obligation closed; draft (or send, for auto_pursuit bureaus) the requests now
    owed; how many drafts were made."""
    _withdraw_closed(hub)
    with hub.engine.connect() as conn:
        keys = sorted(_owing(conn, today))
        states, known, versions = [], set(), {}
        for i in range(0, len(keys), 500):
            part = keys[i:i + 500]
            seen = {r.case_key: aware(r.updated_at) for r in conn.execute(
                select(_DW.case_key, _DW.updated_at).where(_DW.case_key.in_(part), _DW.day == today))}
            for r in conn.execute(select(cases.c.case_key, cases.c.state_json, cases.c.updated_at).where(
                    cases.c.case_key.in_(part))):
                if seen.get(r.case_key) != aware(r.updated_at):  # changed, or not looked at today
                    states.append(decode_state(r.state_json))
                    versions[r.case_key] = aware(r.updated_at)
            known |= set(conn.execute(select(_D.id).where(_D.case_key.in_(part))).scalars())
    auto = frozenset(a.code for a in hub.directory.agencies.values() if a.auto_pursuit)
    roles = directory_roles(hub.directory)
    made, looked = 0, []
    for state in states:
        draft = draft_pursuit_request(state, today=today, auto_bureaus=auto, directory_roles=roles)
        if draft is not None and draft_id(draft.case_key, draft.obligation_id) not in known:
            if not _create(hub, draft, now=now):
                continue  # not stored (invalid, or stored by another process): look again next run
            made += 1
        looked.append(dict(case_key=state.case_key, updated_at=versions[state.case_key], day=today))
    with hub.engine.begin() as conn:
        for i in range(0, len(looked), 500):
            upsert(conn, draft_watch, looked[i:i + 500])
    return made


def _owing(conn: Connection, today: dt.date) -> set[str]:
    """The cases with an open obligation a request would discharge, and no draft for it yet (one query per kind of
    obligation, each on the index by rule)."""
    drafted = exists().where(_D.case_key == _O.case_key, _D.obligation_id == _O.id)
    keys: set[str] = set()
    for due in (_O.rule_id == ABSCONDER, and_(_O.rule_id.in_(SEARCHES), _O.due_date <= today),
                and_(_O.rule_id.in_(REPORTS), _O.due_date < today)):
        keys |= set(conn.execute(select(_O.case_key).distinct().where(due, _O.is_open == 1, ~drafted)).scalars())
    return keys


def _create(hub: Hub, draft: PursuitDraft, *, now: dt.datetime) -> bool:
    did = draft_id(draft.case_key, draft.obligation_id)
    message_id = str(uuid.uuid5(DRAFT_NAMESPACE, did))
    xml = pursuit_request_xml(draft, message_id=message_id, sent_at=now)
    try:
        parse(xml, schema=hub.schema)
    except InvalidMessage as e:
        # where, not what: a problem's reason may quote the draft's values (the person's name, address)
        log.error("pursuit draft for case %s does not validate (%s)", draft.case_key, e.code,
                  extra={"problems": [{"path": p.path, "line": p.line} for p in e.problems]})
        return False
    bureau = hub.directory.get(draft.sender)
    auto = draft.mode == "auto" and bureau is not None
    at = utcnow()
    row = dict(id=did, case_key=draft.case_key, person_key=draft.person_key, person_name=draft.person.name,
               obligation_id=draft.obligation_id, drafted_on=draft.requested_on, drafted_at=at, kind=draft.kind,
               reason=draft.reason, bureau=draft.sender, police=draft.to, status="sent" if auto else "drafted",
               status_by="auto" if auto else None, status_at=at if auto else None, status_reason=None,
               message_id=message_id, canonical=xml)
    with hub.engine.begin() as conn:
        # a clock running at the same moment in another process drafts the same id: one of them stores it
        if not conn.execute(insert_ignoring_duplicates(conn, pursuit_drafts).values(**row)).rowcount:
            return False
        if auto:
            assert bureau is not None
            store_message(conn, hub.prepare(xml, agency=bureau, channel="draft"), directory=hub.directory, now=at)
            _audit(conn, at, "auto", "pursuit_send", did, kind=draft.kind, message_id=message_id,
                   bureau=draft.sender)
    if auto:
        hub.on_commit()
    log.info("pursuit request %s for case %s (%s): %s", did, draft.case_key, draft.kind, row["status"])
    return True


def _withdraw_closed(hub: Hub) -> None:
    with hub.engine.begin() as conn:
        rows = conn.execute(select(_D.id, _O.met_by, _O.waived_reason, _O.waived_by)
                            .select_from(pursuit_drafts.join(obligations, _O.id == _D.obligation_id))
                            .where(_D.status == "drafted", _O.is_open == 0)).all()
        at = utcnow()
        for r in rows:
            why = (f"免除 waived by {r.waived_by}: {r.waived_reason}" if r.waived_reason
                   else f"已履行 met by message {r.met_by}")
            done = conn.execute(update(pursuit_drafts).where(_D.id == r.id, _D.status == "drafted").values(
                status="withdrawn", status_by="ledger", status_at=at, status_reason=why)).rowcount
            if done:
                _audit(conn, at, "ledger", "pursuit_withdraw", r.id, reason=why)


def _audit(conn: Connection, at: dt.datetime, actor: str, action: str, target: str, **detail: object) -> None:
    audit.record(conn, at=at, actor=actor, action=action, target=f"pursuit_draft:{target}", detail=detail)


# ---- a bureau's decision ----------------------------------------------------------------------------------------

def _decidable(conn: Connection, did: str, agency: Agency) -> dict[str, Any]:
    row = conn.execute(select(pursuit_drafts).where(_D.id == did)).mappings().first()
    if row is None:
        raise LookupError(f"no pursuit draft {did}")
    decision = authz.decide(authz.Principal(agency.code, agency.organ_type), "pursuit_decision",
                            authz.owned(agency.code, row["bureau"]))
    if not decision:
        raise Forbidden(f"pursuit draft {did} is {row['bureau']}'s to decide, not {agency.code}'s ({decision.reason})")
    if row["status"] != "drafted":
        raise DraftClosed(f"pursuit draft {did} is already {row['status']}"
                          + (f" ({row['status_reason']})" if row["status_reason"] else ""))
    return dict(row)


def _named(by: str) -> str:
    if not by.strip():
        raise ValueError("by: the person deciding must be named")
    return by.strip()


def confirm(hub: Hub, did: str, *, agency: Agency, by: str, now: dt.datetime) -> dict[str, Any]:
    """The bureau (or an operator) confirms a draft: the hub ingests the request as sent by the bureau.

    LookupError (no such draft), Forbidden (another agency's), DraftClosed (decided or withdrawn, or its obligation
    closed meanwhile), ValueError (nobody named; the bureau is not in the registry)."""
    name = _named(by)
    bureau_code = None
    with hub.engine.begin() as conn:
        row = _decidable(conn, did, agency)
        bureau_code = row["bureau"]
        bureau = hub.directory.get(bureau_code)
        if bureau is None:
            raise ValueError(f"bureau {bureau_code} is not in the agency registry: the request cannot be sent as it")
        still = conn.execute(select(_O.is_open).where(_O.id == row["obligation_id"])).scalar()
        if not still:
            raise DraftClosed(f"pursuit draft {did} is no longer needed: its obligation {row['obligation_id']} "
                              "is met or waived (it will be withdrawn)")
        xml = _sent_now(bytes(row["canonical"]), now)
        at = utcnow()
        if not conn.execute(update(pursuit_drafts).where(_D.id == did, _D.status == "drafted").values(
                status="confirmed", status_by=f"{agency.code}:{name}", status_at=at, canonical=xml)).rowcount:
            raise DraftClosed(f"pursuit draft {did} was decided or withdrawn meanwhile")
        store_message(conn, hub.prepare(xml, agency=bureau, channel="draft"), directory=hub.directory, now=at)
        _audit(conn, at, f"{agency.code}:{name}", "pursuit_confirm", did, message_id=row["message_id"],
               bureau=bureau_code, kind=row["kind"])
    hub.on_commit()
    return get_draft(hub, did) or {}


def dismiss(hub: Hub, did: str, *, agency: Agency, by: str, reason: str) -> dict[str, Any]:
    """The bureau (or an operator) declines a draft, saying why; nothing is sent. Errors as ``confirm``."""
    name = _named(by)
    if not reason.strip():
        raise ValueError("reason: a reason is required to dismiss a pursuit draft")
    with hub.engine.begin() as conn:
        _decidable(conn, did, agency)
        at = utcnow()
        if not conn.execute(update(pursuit_drafts).where(_D.id == did, _D.status == "drafted").values(
                status="dismissed", status_by=f"{agency.code}:{name}", status_at=at,
                status_reason=reason.strip())).rowcount:
            raise DraftClosed(f"pursuit draft {did} was decided or withdrawn meanwhile")
        _audit(conn, at, f"{agency.code}:{name}", "pursuit_dismiss", did, reason=reason.strip())
    return get_draft(hub, did) or {}


def _sent_now(xml: bytes, now: dt.datetime) -> bytes:
    """The draft as sent: ``sentAt`` and ``requestedOn`` are the moment and legal day of the confirmation."""
    root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    sent = root.find(f"{{{NS}}}envelope/{{{NS}}}sentAt")
    requested = root.find(f"{{{NS}}}pursuit/{{{NS}}}requestedOn")
    assert sent is not None and requested is not None
    sent.text = now.astimezone(SHANGHAI).isoformat(timespec="seconds")
    requested.text = legal_day(now).isoformat()
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


# ---- reading -------------------------------------------------------------------------------------------------

def _view(r: Any, *, xml: bool = False) -> dict[str, Any]:
    out = {k: r[k] for k in ("id", "case_key", "person_key", "person_name", "obligation_id", "kind", "reason",
                             "bureau", "police", "status", "status_by", "status_reason", "message_id")}
    out |= {"drafted_on": r["drafted_on"].isoformat(), "drafted_at": aware(r["drafted_at"]),
            "status_at": aware(r["status_at"])}
    if xml:
        out["canonical"] = bytes(r["canonical"]).decode("utf-8")
    return out


def get_draft(hub: Hub, did: str) -> dict[str, Any] | None:
    """One draft with its canonical XML."""
    with hub.engine.connect() as conn:
        row = conn.execute(select(pursuit_drafts).where(_D.id == did)).mappings().first()
    return _view(row, xml=True) if row is not None else None


def list_drafts(hub: Hub, *, status: str | None = None, bureau: str | None = None,
                limit: int = 100) -> list[dict[str, Any]]:
    """Drafts, oldest first, optionally of one status and one bureau."""
    q = select(pursuit_drafts)
    if status:
        q = q.where(_D.status == status)
    if bureau:
        q = q.where(_D.bureau == bureau)
    with hub.engine.connect() as conn:
        return [_view(r) for r in conn.execute(q.order_by(_D.drafted_at, _D.id).limit(limit)).mappings()]
