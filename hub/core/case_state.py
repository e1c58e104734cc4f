"""The values of the case ledger: the states a case passes through, what the ledger knows of it, transitions.

A case's state is not stored as a bare label: the ledger keeps the facts it has learnt (``Progress``) and
derives the label from them (``derive_status``), so that messages which overlap in time (a custody notice
while a revocation is proposed, a receipt after the person reported) give one answer whatever their order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from hub.core.fact_bodies import CaseFacts, PersonFacts
from hub.core.facts import MessageFacts
from hub.core.obligations import Obligation

# (role, division) -> agency code; roles are "bureau", "police" and "procuratorate".
RoleResolver = Callable[[str, str], str]
_SUFFIX = {"bureau": "SF", "police": "GA", "procuratorate": "JC"}


def conventional_roles(role: str, division: str) -> str:
    """The registry's convention: the bureau of 530581 is 530581SF, its police 530581GA, procuratorate 530581JC."""
    return division + _SUFFIX[role]


class CaseStatus(StrEnum):
    """The states of a case."""

    COMMISSIONED = "commissioned"
    ASSESSED = "assessed"
    DECIDED = "decided"
    NOTIFIED = "notified"
    DOCUMENTS_SERVED = "documents_served"
    RECEIPTED = "receipted"
    REPORTED = "reported"
    HANDED_OVER = "handed_over"
    UNDER_SUPERVISION = "under_supervision"
    LOST_CONTACT = "lost_contact"
    IN_CUSTODY = "in_custody"
    REVOCATION_PROPOSED = "revocation_proposed"
    REVOKED = "revoked"
    RECOMMITTED = "recommitted"
    AT_LARGE = "at_large"
    PURSUIT_REQUESTED = "pursuit_requested"
    LOCATED = "located"
    TRANSFERRED_OUT = "transferred_out"
    TRANSFERRED_IN = "transferred_in"
    RELEASED = "released"
    TERMINATED = "terminated"

    @property
    def label_zh(self) -> str:
        """The state as operators read it."""
        return STATUS_LABELS_ZH[self]


STATUS_LABELS_ZH = {
    CaseStatus.COMMISSIONED: "已委托调查评估",
    CaseStatus.ASSESSED: "已出具评估意见",
    CaseStatus.DECIDED: "已判决（未收到法律文书）",
    CaseStatus.NOTIFIED: "已通知（文书不全）",
    CaseStatus.DOCUMENTS_SERVED: "法律文书已送达",
    CaseStatus.RECEIPTED: "已回执",
    CaseStatus.REPORTED: "已报到",
    CaseStatus.HANDED_OVER: "已交付接收",
    CaseStatus.UNDER_SUPERVISION: "在矫",
    CaseStatus.LOST_CONTACT: "失联",
    CaseStatus.IN_CUSTODY: "在押",
    CaseStatus.REVOCATION_PROPOSED: "已提请撤销",
    CaseStatus.REVOKED: "已撤销缓刑/假释",
    CaseStatus.RECOMMITTED: "已收监执行",
    CaseStatus.AT_LARGE: "在逃",
    CaseStatus.PURSUIT_REQUESTED: "已提请协查/追逃",
    CaseStatus.LOCATED: "已查找到",
    CaseStatus.TRANSFERRED_OUT: "已移出（待新执行地报到）",
    CaseStatus.TRANSFERRED_IN: "已移入",
    CaseStatus.RELEASED: "已解除矫正",
    CaseStatus.TERMINATED: "已终止矫正",
}


@dataclass(frozen=True)
class Papers:
    """A message that served documents on a bureau and so is owed a receipt (回执)."""

    message_id: str
    sender: str
    kind: str  # "decision" | "handover" | "transfer"


@dataclass(frozen=True)
class Transfer:
    """A change of 执行地 from bureau A's county to bureau B's; over when B confirms arrival."""

    from_division: str
    to_division: str
    papers_message: str
    arrived: bool = False
    receipted: bool = False


@dataclass(frozen=True)
class Progress:
    """What the ledger has learnt about the case; the state label is derived from it."""

    commissioned: bool = False
    commissioning_organ: str | None = None
    assessed: bool = False
    decision_known: bool = False  # a message showed the decision took effect
    decision_message: str | None = None  # the decision (or escorted handover) itself arrived
    served_kinds: frozenset[str] = frozenset()
    documents_complete: bool = False
    papers: tuple[Papers, ...] = ()
    receipted: bool = False
    arrived: str = ""  # "" | "reported" | "handed_over"
    transfer: Transfer | None = None
    lost_contact_on: dt.date | None = None
    custody_since: dt.date | None = None
    custody_measure: str | None = None  # CustodyNotice measure: ARREST, CRIMINAL_DETENTION …
    revocation: str = ""  # "" | "proposed" | "revoked" | "recommitted"
    revocation_document: str | None = None
    revocation_message: str | None = None
    at_large: bool = False
    pursuit: str = ""  # "" | "requested" | "located"
    ended: str = ""  # "" | "released" | "terminated"


@dataclass(frozen=True)
class CaseState:
    """One case of one person: what is known, its state, who answers for the person now, what is owed."""

    case_key: str
    person_key: str | None
    person: PersonFacts | None
    case: CaseFacts
    state: CaseStatus
    responsible: str
    progress: Progress
    applied: tuple[str, ...]
    obligations: tuple[Obligation, ...]
    pending: tuple[MessageFacts, ...]

    @property
    def execution_division(self) -> str:
        """执行地 now (the new county from the moment a transfer is sent)."""
        return self.case.execution_division

    @property
    def correction_type(self) -> str:
        """矫正类别: CONTROL, PROBATION, PAROLE or TEMP_OUTSIDE."""
        return self.case.correction_type

    @property
    def period(self) -> tuple[dt.date | None, dt.date | None]:
        """The supervision period (start, end) as far as known."""
        return (self.case.period_start, self.case.period_end)

    def open_obligations(self) -> tuple[Obligation, ...]:
        """The obligations neither met nor waived."""
        return tuple(o for o in self.obligations if o.is_open)

    def of_rule(self, rule_id: str) -> tuple[Obligation, ...]:
        """Every obligation of one rule, open or closed, in the order they were opened."""
        return tuple(o for o in self.obligations if o.rule_id == rule_id)


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a person's timeline: a message applied (or held back until its antecedent arrives)."""

    message_id: str
    message_type: str
    sender: str
    received_at: dt.datetime
    state: CaseStatus
    responsible: str
    summary: str
    held_for: str | None = None  # set when the message waits for an antecedent


@dataclass(frozen=True)
class Transition:
    """The result of applying one message: the new state, obligations changed, timeline lines."""

    state: CaseState
    opened: tuple[Obligation, ...] = ()
    met: tuple[Obligation, ...] = ()
    cancelled: tuple[Obligation, ...] = ()
    timeline: tuple[TimelineEntry, ...] = ()
    duplicate: bool = False


def derive_status(p: Progress) -> CaseStatus:
    """The state label of a case from what the ledger knows, most pressing fact first."""
    if p.ended == "released":
        return CaseStatus.RELEASED
    if p.revocation in ("revoked", "recommitted"):
        if p.at_large:
            if p.pursuit == "located":
                return CaseStatus.LOCATED
            return CaseStatus.PURSUIT_REQUESTED if p.pursuit == "requested" else CaseStatus.AT_LARGE
        if p.ended:
            return CaseStatus.TERMINATED
        return CaseStatus.REVOKED if p.revocation == "revoked" else CaseStatus.RECOMMITTED
    if p.ended:
        return CaseStatus.TERMINATED
    if p.custody_since is not None:
        return CaseStatus.IN_CUSTODY
    if p.revocation == "proposed":
        return CaseStatus.REVOCATION_PROPOSED
    if p.lost_contact_on is not None:
        if p.pursuit == "located":
            return CaseStatus.LOCATED
        return CaseStatus.PURSUIT_REQUESTED if p.pursuit == "requested" else CaseStatus.LOST_CONTACT
    t = p.transfer
    if t is not None and not (t.arrived and t.receipted):
        return CaseStatus.TRANSFERRED_IN if t.arrived else CaseStatus.TRANSFERRED_OUT
    return _intake_status(p)


def _intake_status(p: Progress) -> CaseStatus:
    if p.arrived:
        if p.receipted:
            return CaseStatus.UNDER_SUPERVISION
        return CaseStatus.REPORTED if p.arrived == "reported" else CaseStatus.HANDED_OVER
    if p.receipted:
        return CaseStatus.RECEIPTED
    if p.decision_message is not None:
        return CaseStatus.DOCUMENTS_SERVED if p.documents_complete else CaseStatus.NOTIFIED
    if p.decision_known:
        return CaseStatus.DECIDED
    if p.assessed:
        return CaseStatus.ASSESSED
    # A case the hub first hears of through anything but a commission is known to be decided.
    return CaseStatus.COMMISSIONED if p.commissioned else CaseStatus.DECIDED


# Law 20 and SPC 2021 Art. 519: what the deciding organ serves on the bureau, by correction type.
DECISION_DOCUMENTS = frozenset({"JUDGMENT", "RULING", "DECISION", "TEMP_OUTSIDE_DECISION"})
REQUIRED_DOCUMENTS: dict[str, frozenset[str]] = {
    "CONTROL": frozenset({"EXECUTION_NOTICE", "CASE_CLOSING_FORM"}),
    "PROBATION": frozenset({"EXECUTION_NOTICE", "CASE_CLOSING_FORM"}),
    "PAROLE": frozenset({"EXECUTION_NOTICE", "CASE_CLOSING_FORM", "PAROLE_CERTIFICATE"}),
    "TEMP_OUTSIDE": frozenset({"TEMP_OUTSIDE_DECISION"}),
}


def missing_documents(served: frozenset[str], correction_type: str) -> frozenset[str]:
    """The documents Law 20 requires for ``correction_type`` that ``served`` lacks."""
    lacking = REQUIRED_DOCUMENTS.get(correction_type, frozenset()) - served
    if not served & DECISION_DOCUMENTS:
        lacking |= {"JUDGMENT"}
    return lacking


def responsible_agency(p: Progress, case: CaseFacts, roles: RoleResolver) -> str:
    """Who answers for the person now: the deciding organ (or bureau A on a transfer) until arrival is confirmed."""
    t = p.transfer
    if t is not None and not t.arrived:
        return roles("bureau", t.from_division)
    if p.arrived or (t is not None and t.arrived):
        return roles("bureau", case.execution_division)
    return case.deciding_organ
