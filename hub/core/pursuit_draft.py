"""Drafted pursuit requests (提请协查 / 追逃): what the bureau should send the police, ready to confirm or send.

A draft is made when a person failed to report (the reporting clock ran out, or the bureau said so), lost
contact and the search is owed, or is at large under a revocation in force — and no request has gone out
since — and never while the ledger knows the person is in custody (custody explains the absence). It is
the content of a canonical PursuitRequest from the bureau that owes the search, to the police of
that bureau's county, copied to its procuratorate; ``pursuit_request_xml`` writes it as canonical XML. Whether
it waits for the bureau's confirmation or is sent at once is the bureau's own setting (``auto_bureaus``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Set
from dataclasses import dataclass

from lxml import etree

from hub.core.case_state import CaseState, RoleResolver, conventional_roles
from hub.core.fact_bodies import CaseFacts, PersonFacts
from hub.core.fact_reader import NS
from hub.core.facts import SHANGHAI, canonical_id_number
from hub.core.obligations import Obligation, ObligationStatus

_DUE = frozenset({ObligationStatus.DUE_TODAY, ObligationStatus.OVERDUE})
_TYPE_ZH = {"CONTROL": "管制", "PROBATION": "缓刑", "PAROLE": "假释", "TEMP_OUTSIDE": "暂予监外执行"}


@dataclass(frozen=True)
class PursuitDraft:
    """The content of a PursuitRequest the hub proposes; ``mode`` is "confirm" or "auto"."""

    case_key: str
    person_key: str | None
    obligation_id: str  # the obligation the request discharges
    reason: str
    kind: str  # ASSIST_SEARCH | PURSUE_ABSCONDER
    mode: str
    sender: str
    to: str
    cc: tuple[str, ...]
    person: PersonFacts
    case: CaseFacts
    requested_on: dt.date
    basis_document_number: str | None
    causation_id: str | None
    last_contact_on: dt.date | None
    details: str


def _first(case: CaseState, rules: tuple[str, ...], today: dt.date,
           when: frozenset[ObligationStatus] = _DUE) -> Obligation | None:
    for o in case.obligations:
        if o.rule_id in rules and o.is_open and (o.rule_id == "pursuit_request" or o.status(today) in when):
            return o
    return None


def draft_pursuit_request(
    case: CaseState,
    *,
    today: dt.date,
    auto_bureaus: Set[str] = frozenset(),
    directory_roles: RoleResolver = conventional_roles,
) -> PursuitDraft | None:
    """The request the case calls for on ``today``, or None when none is owed or one was already sent."""
    p, person = case.progress, case.person
    if person is None or p.custody_since is not None:
        return None
    name = person.name
    absconder = _first(case, ("pursuit_request",), today) if p.at_large else None
    if absconder is not None:
        doc = p.revocation_document or "撤销/收监决定"
        what = "收监执行决定" if p.revocation == "recommitted" else f"撤销{_TYPE_ZH.get(case.correction_type, '')}裁定"
        return _draft(case, absconder, "PURSUE_ABSCONDER", "revocation in force, person not in custody (在逃)",
                      f"{name}的{what}（{doc}）已生效，本人未被羁押，下落不明。请依法追逃，抓获后送交收监场所羁押。",
                      today, auto_bureaus, directory_roles, basis=p.revocation_document,
                      causation=p.revocation_message)
    if p.pursuit == "requested":
        return None
    lost = _first(case, ("lost_contact_search",), today)
    if lost is not None and p.lost_contact_on is not None:
        return _draft(case, lost, "ASSIST_SEARCH", "lost contact (失联): search owed at once",
                      f"社区矫正对象{name}自{p.lost_contact_on.isoformat()}起失去联系，经查找下落不明，请协助查找。",
                      today, auto_bureaus, directory_roles, last_contact=p.lost_contact_on)
    failed = _first(case, ("search_on_failure",), today) or _first(
        case, ("report", "report_after_transfer"), today, frozenset({ObligationStatus.OVERDUE}))
    if failed is not None:
        due = failed.due_date.isoformat() if failed.due_date else "未定"
        return _draft(case, failed, "ASSIST_SEARCH", f"failed to report ({failed.rule_id} {failed.status(today)})",
                      f"社区矫正对象{name}未按期报到（报到期限{due}），请协助查找。", today, auto_bureaus,
                      directory_roles)
    return None


def _draft(case: CaseState, o: Obligation, kind: str, reason: str, details: str, today: dt.date,
           auto_bureaus: Set[str], roles: RoleResolver, *, basis: str | None = None, causation: str | None = None,
           last_contact: dt.date | None = None) -> PursuitDraft:
    assert case.person is not None
    sender = o.obligor
    return PursuitDraft(
        case_key=case.case_key, person_key=case.person_key, obligation_id=o.id, reason=reason, kind=kind,
        mode="auto" if sender in auto_bureaus else "confirm", sender=sender, to=roles("police", o.division),
        cc=(roles("procuratorate", o.division),), person=case.person, case=case.case, requested_on=today,
        basis_document_number=basis, causation_id=causation, last_contact_on=last_contact, details=details,
    )


def _add(parent: etree._Element, name: str, text: str | None) -> None:
    if text is not None:
        etree.SubElement(parent, f"{{{NS}}}{name}").text = text


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day is not None else None


def pursuit_request_xml(draft: PursuitDraft, *, message_id: str, sent_at: dt.datetime) -> bytes:
    """The draft as a canonical PursuitRequest (UTF-8 XML in the canonical namespace, schema order)."""
    if sent_at.tzinfo is None:
        raise ValueError("sent_at must be timezone-aware")
    root = etree.Element(f"{{{NS}}}PursuitRequest", nsmap={None: NS})  # type: ignore[dict-item]
    env = etree.SubElement(root, f"{{{NS}}}envelope")
    for name, value in (("messageId", message_id), ("messageType", "PursuitRequest"), ("schemaVersion", "1.0"),
                        ("sender", draft.sender), ("to", draft.to)):
        _add(env, name, value)
    for code in draft.cc:
        _add(env, "cc", code)
    _add(env, "sentAt", sent_at.astimezone(SHANGHAI).isoformat(timespec="seconds"))
    _add(env, "senderDocumentId", f"XJ-PURSUIT-{message_id}")
    _add(env, "correlationId", draft.case.case_number)
    _add(env, "causationId", draft.causation_id)
    person = etree.SubElement(root, f"{{{NS}}}person")
    _add(person, "name", draft.person.name)
    number = draft.person.id_number
    valid = number is not None and canonical_id_number(number, today=draft.requested_on) is not None
    _add(person, "idNumber", number if valid else None)
    _add(person, "sex", draft.person.sex)
    _add(person, "birthDate", _iso(draft.person.birth_date))
    c = draft.case
    case = etree.SubElement(root, f"{{{NS}}}case")
    _add(case, "caseNumber", c.case_number)
    _add(case, "decidingOrgan", c.deciding_organ)
    _add(case, "decisionDate", _iso(c.decision_date))
    _add(case, "effectiveDate", _iso(c.effective_date))
    _add(case, "correctionType", c.correction_type)
    if c.period_start is not None and c.period_end is not None:
        period = etree.SubElement(case, f"{{{NS}}}supervisionPeriod")
        _add(period, "start", c.period_start.isoformat())
        _add(period, "end", c.period_end.isoformat())
    _add(case, "executionDivision", c.execution_division)
    body = etree.SubElement(root, f"{{{NS}}}pursuit")
    _add(body, "kind", draft.kind)
    _add(body, "requestedOn", draft.requested_on.isoformat())
    _add(body, "basisDocumentNumber", draft.basis_document_number)
    _add(body, "lastContactOn", _iso(draft.last_contact_on))
    _add(body, "details", draft.details)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
