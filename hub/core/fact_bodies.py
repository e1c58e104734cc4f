"""The person, case and type-specific facts of canonical messages, as frozen values.

One value per message family, holding only what the case ledger decides on; field values keep the
canonical code lists' spellings (``REPORTED``, ``COUNTY_TRANSFER``, ...). Document lists are reduced to their
kinds, which is what completeness checks compare.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class PersonFacts:
    """The person as the message names them."""

    name: str
    id_number: str | None
    sex: str
    birth_date: dt.date | None
    residence_division: str | None


@dataclass(frozen=True)
class CaseFacts:
    """The case as the message describes it; for a transfer, ``execution_division`` is the new 执行地."""

    case_number: str
    deciding_organ: str
    correction_type: str  # CONTROL | PROBATION | PAROLE | TEMP_OUTSIDE
    decision_date: dt.date | None
    effective_date: dt.date | None
    period_start: dt.date | None
    period_end: dt.date | None
    execution_division: str


@dataclass(frozen=True)
class CommissionFacts:
    """调查评估委托: who commissions, when, and whether the case is fast-track (速裁)."""

    commissioning_organ: str
    commission_date: dt.date
    fast_track: bool


@dataclass(frozen=True)
class OpinionFacts:
    """调查评估意见: the bureau's conclusion for the commissioning organ."""

    commissioning_organ: str
    conclusion: str  # SUITABLE | UNSUITABLE
    assessed_on: dt.date


@dataclass(frozen=True)
class DecisionFacts:
    """判决/裁定/决定 served on the bureau: its dates, report-by day and the documents served."""

    decision_kind: str  # JUDGMENT | RULING | DECISION
    document_number: str
    decided_on: dt.date
    effective_on: dt.date
    report_by: dt.date | None
    documents: tuple[str, ...]  # kinds served
    original_custody: str | None


@dataclass(frozen=True)
class ReceiptFacts:
    """回执: which message's papers were received, when, and what is missing."""

    receipt_of: str
    received_on: dt.date
    complete: bool
    missing: tuple[str, ...]  # kinds missing or defective


@dataclass(frozen=True)
class ReportingFacts:
    """报到情况: whether and when the person reported."""

    result: str  # REPORTED | REPORTED_LATE | NOT_REPORTED
    due_date: dt.date
    reported_on: dt.date | None


@dataclass(frozen=True)
class TransferFacts:
    """移交: an escorted 暂外 handover or a change of 执行地 between counties."""

    kind: str  # ESCORTED_HANDOVER | COUNTY_TRANSFER
    from_division: str | None
    to_division: str | None
    handover_date: dt.date | None
    change_decided_on: dt.date | None
    decision_served_on: dt.date | None
    report_by: dt.date | None
    escorting_agency: str | None
    manifest: tuple[str, ...]


@dataclass(frozen=True)
class TransferOpinionFacts:
    """执行地变更征求意见: bureau A asks bureau B (REQUEST), B replies (REPLY)."""

    kind: str  # REQUEST | REPLY
    from_division: str
    to_division: str
    requested_on: dt.date
    conclusion: str | None  # AGREE | DISAGREE on a REPLY
    replied_on: dt.date | None


@dataclass(frozen=True)
class CustodyFacts:
    """羁押通知: a custody started, or ended when ``ended_on`` is set."""

    measure: str
    custody_agency: str | None
    started_on: dt.date
    ended_on: dt.date | None


@dataclass(frozen=True)
class EventFacts:
    """监管事件: admonition, warning, leave, residence change, lost or restored contact."""

    kind: str  # ADMONITION | WARNING | LEAVE_APPROVED | RESIDENCE_CHANGE | LOST_CONTACT | CONTACT_RESTORED
    occurred_on: dt.date
    leave_from: dt.date | None
    leave_to: dt.date | None
    destination_division: str | None


@dataclass(frozen=True)
class ProposalFacts:
    """撤销/收监建议: the bureau's proposal and whether it asks for arrest."""

    kind: str  # REVOKE_PROBATION | REVOKE_PAROLE | RECOMMIT_TEMP_OUTSIDE
    proposed_on: dt.date
    request_arrest: bool
    document_number: str | None


@dataclass(frozen=True)
class RevocationFacts:
    """撤销/收监决定: the outcome, and whether the person is in custody."""

    kind: str
    outcome: str  # GRANTED | REFUSED
    decided_on: dt.date
    document_number: str
    person_in_custody: bool
    return_custody: str | None
    arrest_ordered: bool | None


@dataclass(frozen=True)
class PursuitRequestFacts:
    """提请协查/追逃: the bureau's request to the police."""

    kind: str  # ASSIST_SEARCH | PURSUE_ABSCONDER
    requested_on: dt.date
    basis_document_number: str | None
    last_contact_on: dt.date | None


@dataclass(frozen=True)
class PursuitResultFacts:
    """协查/追逃结果: the police's answer."""

    status: str  # LOCATED | IN_CUSTODY | ONGOING | CLOSED
    reported_on: dt.date
    located_on: dt.date | None
    custody_agency: str | None


@dataclass(frozen=True)
class ReleaseFacts:
    """解除/终止: how and when community corrections ended."""

    kind: str  # RELEASED | TERMINATED_REVOKED | TERMINATED_RECOMMITTED | TERMINATED_DEATH
    effective_on: dt.date
    original_custody: str | None


@dataclass(frozen=True)
class AckFacts:
    """技术回执: which message was acknowledged and how."""

    ack_of: str
    status: str


Body = (
    CommissionFacts | OpinionFacts | DecisionFacts | ReceiptFacts | ReportingFacts | TransferFacts | CustodyFacts
    | TransferOpinionFacts | EventFacts | ProposalFacts | RevocationFacts | PursuitRequestFacts | PursuitResultFacts
    | ReleaseFacts | AckFacts
)
