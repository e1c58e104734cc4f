"""The case ledger's state machine: every state, what each message opens, and who answers for the person."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from hub.case_rows import register_status
from hub.core.alarms import draft_pursuit_request
from hub.core.cases import CaseStatus, apply
from hub.core.facts import facts_of
from hub.core.reconcile_values import Status
from tests.core.case_feed import (
    CAL,
    RULES,
    C,
    Feed,
    decided,
    lost,
    mid,
    person_case,
    revoked,
    sample,
    supervised,
)
from tests.core.case_messages import Case, at

D = dt.date


# ---- histories that end in each state -------------------------------------------------------------------

def at_large_requested(f: Feed) -> None:
    revoked(f, in_custody=False)
    f(C.pursuit_request(mid("pursuit"), at(D(2026, 7, 24)), kind="PURSUE_ABSCONDER", causation=mid("revocation")),
      D(2026, 7, 24))


def county_transfer(f: Feed) -> None:
    supervised(f)
    f(C.county_transfer(mid("transfer"), at(D(2026, 5, 11)), to_division="530521", decided=D(2026, 5, 8),
                        served=D(2026, 5, 11)), D(2026, 5, 11))


def temp_outside_custodial(f: Feed) -> Case:
    t = person_case("TEMP_OUTSIDE", n=2)
    f(t.decision(mid("decision", t), at(D(2026, 4, 2)), custody="530502JY"), D(2026, 4, 2))
    f(t.handover(mid("handover", t), at(D(2026, 4, 7)), custodian="530502JY", served=D(2026, 4, 1)), D(2026, 4, 7))
    return t


SCENARIOS: dict[CaseStatus, Callable[[Feed], object]] = {
    CaseStatus.COMMISSIONED: lambda f: f(C.commission(mid("commission"), at(D(2026, 3, 2))), D(2026, 3, 2)),
    CaseStatus.ASSESSED: lambda f: (
        f(C.commission(mid("commission"), at(D(2026, 3, 2))), D(2026, 3, 2)),
        f(C.opinion(mid("opinion"), at(D(2026, 3, 12)), commission=mid("commission")), D(2026, 3, 12))),
    CaseStatus.DECIDED: lambda f: f(C.reporting(mid("report"), at(D(2026, 4, 8))), D(2026, 4, 8)),
    CaseStatus.NOTIFIED: lambda f: f(C.decision(mid("decision"), at(D(2026, 4, 2)), papers=["JUDGMENT"]),
                                     D(2026, 4, 2)),
    CaseStatus.DOCUMENTS_SERVED: decided,
    CaseStatus.RECEIPTED: lambda f: (decided(f), f(C.receipt(mid("receipt"), at(D(2026, 4, 3)),
                                                             of=mid("decision")), D(2026, 4, 3))),
    CaseStatus.REPORTED: lambda f: (decided(f), f(C.reporting(mid("report"), at(D(2026, 4, 8))), D(2026, 4, 8))),
    CaseStatus.HANDED_OVER: lambda f: (
        t := temp_outside_custodial(f),
        f(t.receipt(mid("receipt-handover", t), at(D(2026, 4, 7)), of=mid("handover", t)), D(2026, 4, 7))),
    CaseStatus.UNDER_SUPERVISION: supervised,
    CaseStatus.LOST_CONTACT: lost,
    CaseStatus.IN_CUSTODY: lambda f: (supervised(f), f(C.custody(mid("custody"), at(D(2026, 5, 19)),
                                                               started=D(2026, 5, 18)), D(2026, 5, 19))),
    CaseStatus.REVOCATION_PROPOSED: lambda f: (lost(f), f(C.proposal(mid("proposal"), at(D(2026, 7, 13))),
                                                            D(2026, 7, 13))),
    CaseStatus.REVOKED: lambda f: revoked(f, in_custody=True),
    CaseStatus.RECOMMITTED: lambda f: (
        t := person_case("TEMP_OUTSIDE", n=3), supervised(f, t),
        f(t.revocation(mid("recommit", t), at(D(2026, 6, 1)), proposal=None, in_custody=True), D(2026, 6, 1))),
    CaseStatus.AT_LARGE: lambda f: revoked(f, in_custody=False),
    CaseStatus.PURSUIT_REQUESTED: at_large_requested,
    CaseStatus.LOCATED: lambda f: (at_large_requested(f), f(C.pursuit_result(
        mid("located"), at(D(2026, 8, 3)), status="LOCATED", request=mid("pursuit")), D(2026, 8, 3))),
    CaseStatus.TRANSFERRED_OUT: county_transfer,
    CaseStatus.TRANSFERRED_IN: lambda f: (county_transfer(f), f(C.reporting(
        mid("report-new"), at(D(2026, 5, 14)), sender="530521SF"), D(2026, 5, 14))),
    CaseStatus.RELEASED: lambda f: (supervised(f), f(C.release(mid("release"), at(D(2026, 9, 1))), D(2026, 9, 1))),
    CaseStatus.TERMINATED: lambda f: (revoked(f, in_custody=True), f(C.release(
        mid("termination"), at(D(2026, 7, 24)), kind="TERMINATED_REVOKED"), D(2026, 7, 24))),
}


def test_every_state_has_a_scenario() -> None:
    assert set(SCENARIOS) == set(CaseStatus)


@pytest.mark.parametrize("status", list(SCENARIOS))
def test_each_scenario_ends_in_its_state(status: CaseStatus) -> None:
    # Given a history that leads to the state, When it is applied, Then the case is in that state
    f = Feed()
    SCENARIOS[status](f)
    assert f.now.state is status
    # And only the decided-but-unserved case still holds a message back (the bureau's report, for the judgment)
    assert bool(f.now.pending) is (status is CaseStatus.DECIDED)
    assert status.label_zh


def test_a_commission_opens_the_opinion_clock_and_the_opinion_meets_it() -> None:
    f = Feed()
    f(C.commission(mid("commission"), at(D(2026, 3, 2))), D(2026, 3, 2))
    assert f.now.responsible == "530502FY"
    assert f.obligation("assessment_opinion") == ["overdue"]
    f(C.opinion(mid("opinion"), at(D(2026, 3, 12)), commission=mid("commission")), D(2026, 3, 12))
    assert f.obligation("assessment_opinion") == ["met"]


def test_the_decision_serves_notice_and_papers_and_opens_receipt_and_reporting() -> None:
    # Given a judgment served with complete papers
    f = Feed()
    decided(f)
    # Then notice and service are met at once, the receipt and the person's report are owed
    assert f.obligation("notify_bureau") == ["met"] and f.obligation("serve_documents") == ["met"]
    (receipt,) = f.now.of_rule("receipt")
    (report,) = f.now.of_rule("report")
    assert (receipt.obligor, receipt.obligee) == ("530581SF", "530502FY")
    assert (report.obligor, report.trigger_date) == ("530581SF", D(2026, 3, 31))
    # And the court still answers for the person
    assert f.now.responsible == "530502FY"


def test_papers_served_without_the_execution_notice_stay_owed_until_served_again() -> None:
    # Given a judgment served without its execution notice and case-closing form
    f = Feed()
    f(C.decision(mid("decision"), at(D(2026, 4, 2)), papers=["JUDGMENT"]), D(2026, 4, 2))
    assert f.now.state is CaseStatus.NOTIFIED
    assert f.obligation("notify_bureau") == ["met"] and f.obligation("serve_documents") == ["overdue"]
    # When the court serves them again with the rest
    f(C.decision(mid("decision-2"), at(D(2026, 4, 6)), papers=["EXECUTION_NOTICE", "CASE_CLOSING_FORM"]),
      D(2026, 4, 6))
    # Then service is met, and the second service is owed its own receipt
    assert f.now.state is CaseStatus.DOCUMENTS_SERVED
    assert f.obligation("serve_documents") == ["met"]
    assert len(f.now.of_rule("receipt")) == 2


def test_responsibility_moves_to_the_bureau_only_when_the_person_reports() -> None:
    f = Feed()
    decided(f)
    f(C.receipt(mid("receipt"), at(D(2026, 4, 3)), of=mid("decision")), D(2026, 4, 3))
    assert (f.now.state, f.now.responsible) == (CaseStatus.RECEIPTED, "530502FY")
    f(C.reporting(mid("report"), at(D(2026, 4, 8))), D(2026, 4, 8))
    assert (f.now.state, f.now.responsible) == (CaseStatus.UNDER_SUPERVISION, "530581SF")


def test_on_a_transfer_bureau_a_answers_until_bureau_b_confirms_arrival() -> None:
    # Given a supervised person whose 执行地 changes from 530581 to 530521
    f = Feed()
    county_transfer(f)
    assert (f.now.state, f.now.responsible) == (CaseStatus.TRANSFERRED_OUT, "530581SF")
    assert f.now.execution_division == "530521"
    # When bureau B acknowledges the papers, Then bureau A still answers for the person
    f(C.receipt(mid("receipt-b"), at(D(2026, 5, 12)), of=mid("transfer"), sender="530521SF", to="530581SF"),
      D(2026, 5, 12))
    assert (f.now.state, f.now.responsible) == (CaseStatus.TRANSFERRED_OUT, "530581SF")
    # And a report from bureau A itself is no arrival at the new county
    f(C.reporting(mid("report-a"), at(D(2026, 5, 13)), sender="530581SF"), D(2026, 5, 13))
    assert f.now.responsible == "530581SF"
    # When bureau B confirms the person registered, Then B answers for the person
    f(C.reporting(mid("report-b"), at(D(2026, 5, 14)), sender="530521SF"), D(2026, 5, 14))
    assert (f.now.state, f.now.responsible) == (CaseStatus.UNDER_SUPERVISION, "530521SF")
    assert f.obligation("report_after_transfer") == ["met"]
    # And the release at the end of the period is now owed by bureau B
    owed = [o for o in f.now.of_rule("release_notice") if o.is_open]
    assert [o.obligor for o in owed] == ["530521SF"]


def test_an_escorted_handover_is_owed_by_the_custodian_and_confirmed_by_the_bureaus_receipt() -> None:
    f = Feed()
    t = person_case("TEMP_OUTSIDE", n=2)
    f(t.decision(mid("decision", t), at(D(2026, 4, 2)), custody="530502JY"), D(2026, 4, 2))
    (handover,) = f.now.of_rule("handover")
    assert handover.obligor == "530502JY" and f.now.of_rule("report") == ()
    f(t.handover(mid("handover", t), at(D(2026, 4, 7)), custodian="530502JY", served=D(2026, 4, 1)), D(2026, 4, 7))
    assert f.obligation("handover") == ["met"] and f.now.responsible == "530502FY"
    f(t.receipt(mid("receipt-handover", t), at(D(2026, 4, 7)), of=mid("handover", t)), D(2026, 4, 7))
    assert (f.now.state, f.now.responsible) == (CaseStatus.HANDED_OVER, "530581SF")
    f(t.receipt(mid("receipt", t), at(D(2026, 4, 8)), of=mid("decision", t)), D(2026, 4, 8))
    assert f.now.state is CaseStatus.UNDER_SUPERVISION


def test_a_prison_approved_temp_outside_starts_with_the_handover_papers() -> None:
    # Given the prison's escorted handover (the 暂外 approval is the decision) and the bureau's receipt listing
    # missing papers, from the samples
    f = Feed()
    f(sample("TransferPapers.xml"), D(2025, 6, 15))
    assert f.now.progress.decision_message is not None
    # Then the handover is met (within 10 days of the decision being served on 06-08), while notice of the
    # approval, in effect since 06-05, came after the 5 days the law allows
    assert f.obligation("handover") == ["met"] and f.obligation("notify_bureau") == ["met_late"]
    f(sample("DocumentReceipt-incomplete.xml"), D(2025, 6, 16))
    # Then the person is under supervision and the prison owes the missing papers
    assert (f.now.state, f.now.responsible) == (CaseStatus.UNDER_SUPERVISION, "530523SF")
    (cure,) = f.now.of_rule("cure_documents")
    assert (cure.obligor, cure.obligee, cure.due_date) == ("530502JY", "530523SF", D(2025, 6, 23))
    # And the release notice closes it
    f(sample("ReleaseNotice.xml"), D(2026, 3, 16))
    assert f.now.state is CaseStatus.RELEASED
    assert f.now.open_obligations() == ()


def test_a_message_of_another_case_or_without_a_case_is_refused() -> None:
    f = Feed()
    decided(f)
    other = person_case(n=9)
    with pytest.raises(ValueError, match="belongs to case"):
        f(other.decision(mid("decision", other), at(D(2026, 4, 2))), D(2026, 4, 2))
    with pytest.raises(ValueError, match="not a ledger message"):
        apply(None, facts_of(sample("TechnicalAck.xml"), received_at=at(D(2026, 4, 2))), rules=RULES,
              calendar=CAL)


def test_the_role_resolver_names_the_agencies() -> None:
    # Given a registry whose bureaus carry a serial number
    f = Feed(roles=lambda role, division: division + {"bureau": "SF01", "police": "GA", "procuratorate": "JC"}[role])
    supervised(f)
    (report,) = f.now.of_rule("report")
    assert report.obligor == "530581SF01" and f.now.responsible == "530581SF01"


def test_a_revocation_at_large_after_a_search_found_the_person_is_at_large_until_the_police_find_them() -> None:
    # Given a person who lost contact, was searched for (协查) and reported found by the police
    f = Feed()
    lost(f)
    f(C.pursuit_request(mid("assist"), at(D(2026, 6, 8)), kind="ASSIST_SEARCH", causation=None), D(2026, 6, 8))
    f(C.pursuit_result(mid("found"), at(D(2026, 6, 20)), status="LOCATED", request=mid("assist")), D(2026, 6, 20))
    assert f.now.state is CaseStatus.LOCATED
    # When the court then revokes the probation with the person not in custody
    f(C.revocation(mid("revocation"), at(D(2026, 7, 24)), proposal=None, in_custody=False), D(2026, 7, 24))
    # Then the person is at large (在逃), reconciliation sees an absconder and the pursuit is drafted
    assert (f.now.state, f.now.progress.pursuit) == (CaseStatus.AT_LARGE, "")
    assert register_status(f.now) is Status.AT_LARGE
    draft = draft_pursuit_request(f.now, today=D(2026, 7, 24))
    assert draft is not None and draft.kind == "PURSUE_ABSCONDER"
    # When the pursuit is requested and the police report the person found, Then the case shows it
    f(C.pursuit_request(mid("pursuit"), at(D(2026, 7, 25)), kind="PURSUE_ABSCONDER", causation=mid("revocation")),
      D(2026, 7, 25))
    assert f.now.state is CaseStatus.PURSUIT_REQUESTED
    f(C.pursuit_result(mid("found-2"), at(D(2026, 8, 3)), status="LOCATED", request=mid("pursuit")), D(2026, 8, 3))
    assert f.now.state is CaseStatus.LOCATED and register_status(f.now) is Status.REVOKED
