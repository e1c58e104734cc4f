"""What the joint-meeting report counts, read off each message as the case ledger applies it (pure).

The ledger's projection calls ``facts_of`` for every message it applies to a case (also for a message it held
until its antecedent came, at the moment it applies it) and keeps the result in ``case_facts``: one row per county
a fact belongs to. The report's figures are computed from those rows, from the obligations and from the queues,
never from the messages again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from hub.core.cases import CaseState
from hub.core.fact_bodies import (
    CommissionFacts,
    CustodyFacts,
    DecisionFacts,
    EventFacts,
    OpinionFacts,
    ProposalFacts,
    PursuitRequestFacts,
    PursuitResultFacts,
    ReleaseFacts,
    ReportingFacts,
    RevocationFacts,
    TransferFacts,
)
from hub.core.facts import MessageFacts


class FactKind(StrEnum):
    COMMISSIONED = "commissioned"  # 调查评估委托
    ASSESSED = "assessed"  # 调查评估意见
    DECIDED = "decided"  # 判决、裁定、决定送达
    ARRIVED = "arrived"  # 报到（按时、逾期）或交付接收: the person is in the county's register from ``on``
    NOT_REPORTED = "not_reported"  # 未报到
    TRANSFERRED_OUT = "transferred_out"  # 执行地变更移出 (the person stays the old county's until they arrive)
    TRANSFERRED_IN = "transferred_in"  # 执行地变更移入 (papers received; they count once they report)
    ADMONITION = "admonition"  # 训诫
    WARNING = "warning"  # 警告
    LEAVE_APPROVED = "leave_approved"  # 批准外出请假
    RESIDENCE_CHANGE = "residence_change"  # 居住地变更（执行地内）
    LOST_CONTACT = "lost_contact"  # 失去联系
    CONTACT_RESTORED = "contact_restored"  # 恢复联系
    CUSTODY = "custody"  # 羁押
    REVOCATION_PROPOSED = "revocation_proposed"  # 提请撤销缓刑、假释或收监执行
    REVOKED = "revoked"  # 撤销缓刑、假释
    RECOMMITTED = "recommitted"  # 收监执行
    REVOCATION_REFUSED = "revocation_refused"  # 不予撤销、不予收监
    PURSUIT_REQUESTED = "pursuit_requested"  # 提请公安机关协助查找、追逃
    PURSUIT_RESULT = "pursuit_result"  # 查找、追逃结果
    RELEASED = "released"  # 矫正期满解除
    TERMINATED = "terminated"  # 终止矫正（撤销、收监、死亡）


# The facts that take a person out of a county's register (besides arriving in another county).
EXITS = frozenset({FactKind.RELEASED, FactKind.TERMINATED, FactKind.REVOKED, FactKind.RECOMMITTED})

_EVENTS = {"ADMONITION": FactKind.ADMONITION, "WARNING": FactKind.WARNING,
           "LEAVE_APPROVED": FactKind.LEAVE_APPROVED, "RESIDENCE_CHANGE": FactKind.RESIDENCE_CHANGE,
           "LOST_CONTACT": FactKind.LOST_CONTACT, "CONTACT_RESTORED": FactKind.CONTACT_RESTORED}


@dataclass(frozen=True)
class Fact:
    """One thing the report counts: in which county, what, the document's own kind, on which day, and the other
    organ it concerns (the commissioning or deciding organ, the county a transfer comes from or goes to)."""

    division: str
    kind: FactKind
    on: dt.date
    detail: str | None = None
    organ: str | None = None


def facts_of(m: MessageFacts, case: CaseState) -> list[Fact]:
    """The facts of ``m`` as applied to ``case`` (the case after it): empty for a message the report does not
    count (receipts, custody ends, opinions between bureaus, technical acknowledgements)."""
    b, here, got = m.body, case.execution_division, m.received_on
    if isinstance(b, CommissionFacts):
        return [Fact(here, FactKind.COMMISSIONED, b.commission_date, "FAST_TRACK" if b.fast_track else None,
                     b.commissioning_organ)]
    if isinstance(b, OpinionFacts):
        return [Fact(here, FactKind.ASSESSED, b.assessed_on, b.conclusion, b.commissioning_organ)]
    if isinstance(b, DecisionFacts):
        return [Fact(here, FactKind.DECIDED, b.effective_on, b.decision_kind, case.case.deciding_organ)]
    if isinstance(b, ReportingFacts):  # in the county of the bureau the person reported to
        where = _county_of(m.sender) or here
        if b.result == "NOT_REPORTED":
            return [Fact(where, FactKind.NOT_REPORTED, b.due_date, b.result)]
        return [Fact(where, FactKind.ARRIVED, b.reported_on or got, b.result)]
    if isinstance(b, TransferFacts):
        if b.kind == "ESCORTED_HANDOVER":
            return [Fact(b.to_division or here, FactKind.ARRIVED, b.handover_date or got, "HANDED_OVER",
                         b.escorting_agency)]
        on = b.change_decided_on or got
        out = []
        if b.from_division:
            out.append(Fact(b.from_division, FactKind.TRANSFERRED_OUT, on, b.kind, b.to_division))
        if b.to_division and b.to_division != b.from_division:
            out.append(Fact(b.to_division, FactKind.TRANSFERRED_IN, on, b.kind, b.from_division))
        return out
    if isinstance(b, EventFacts):
        return [Fact(here, _EVENTS[b.kind], b.occurred_on, b.kind)] if b.kind in _EVENTS else []
    if isinstance(b, CustodyFacts):
        return [] if b.ended_on is not None else [Fact(here, FactKind.CUSTODY, b.started_on, b.measure)]
    if isinstance(b, ProposalFacts):
        return [Fact(here, FactKind.REVOCATION_PROPOSED, b.proposed_on, b.kind)]
    if isinstance(b, RevocationFacts):
        if b.outcome != "GRANTED":
            return [Fact(here, FactKind.REVOCATION_REFUSED, b.decided_on, b.kind)]
        kind = FactKind.RECOMMITTED if b.kind == "RECOMMIT_TEMP_OUTSIDE" else FactKind.REVOKED
        return [Fact(here, kind, b.decided_on, b.kind)]
    if isinstance(b, PursuitRequestFacts):
        return [Fact(here, FactKind.PURSUIT_REQUESTED, b.requested_on, b.kind)]
    if isinstance(b, PursuitResultFacts):
        return [Fact(here, FactKind.PURSUIT_RESULT, b.located_on or b.reported_on, b.status)]
    if isinstance(b, ReleaseFacts):
        kind = FactKind.RELEASED if b.kind == "RELEASED" else FactKind.TERMINATED
        return [Fact(here, kind, b.effective_on, b.kind)]
    return []


def _county_of(agency: str) -> str | None:
    """The county of an agency code (530581SF → 530581); None for a city's or a province's agency."""
    head = agency[:6]
    return head if head.isdigit() and len(head) == 6 and not head.endswith("00") else None


def fact_rows(m: MessageFacts, case: CaseState, *, seq: int) -> list[dict[str, object]]:
    """The ``case_facts`` rows of ``m`` applied to ``case``."""
    person = case.person
    key = case.person_key
    return [dict(message_id=m.message_id, division=f.division, seq=seq, case_key=case.case_key, person_key=key,
                 person_name=person.name if person else None,
                 id_number=key if key is not None and not key.startswith("ref|") else None,
                 correction_type=case.correction_type, kind=f.kind.value, detail=f.detail, on=f.on,
                 received_on=m.received_on, sender=m.sender, organ=f.organ)
            for f in facts_of(m, case)]
