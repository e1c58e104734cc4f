"""Obligations and clocks: each rule of DOMAIN.md §2 and each detector of §3 — opened, met on time, met late,
overdue — with day counting across weekends, public holidays and make-up working days."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest

from hub.core.calendar import Calendar
from hub.core.cases import CaseStatus
from hub.core.obligations import (
    OBLIGATION_NAMESPACE,
    Obligation,
    ObligationStatus,
    obligation_id,
    reschedule,
)
from hub.core.pursuit_draft import draft_pursuit_request
from tests.core.case_feed import RULES, C, Feed, decided, lost, mid, person_case, proposed, revoked, supervised
from tests.core.case_messages import at

D = dt.date
S = ObligationStatus
A = person_case(n=10)  # an assessment commissioned just before National Day 2026
R = person_case(n=11, effective=D(2026, 2, 27))  # a decision received on a Monday
T = person_case("TEMP_OUTSIDE", n=12)  # 暂外 decided by the court, the person handed over by the prison
E = person_case(n=13, period_end=D(2026, 9, 30))  # a short period that ends inside the year
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class RuleCase:
    """How a rule's obligation comes into being, which message meets it, and what the clock says."""

    open: Callable[[Feed], object]
    meet: Callable[[D], bytes]
    trigger: D
    due: D
    obligor: str
    obligee: str


CASES: dict[str, RuleCase] = {
    # 10 working days from Tue 29 Sep 2026: 30 Sep, then 8, 9, 10 (a make-up Saturday), 12-16, 19 Oct
    "assessment_opinion": RuleCase(
        lambda f: f(A.commission(mid("commission", A), at(D(2026, 9, 29))), D(2026, 9, 29)),
        lambda d: A.opinion(mid("opinion", A), at(d), commission=mid("commission", A)),
        D(2026, 9, 29), D(2026, 10, 19), "530581SF", "530502FY"),
    # 速裁: 5 working days: 30 Sep, 8, 9, 10 (Saturday, make-up), 12 Oct
    "assessment_opinion_fast": RuleCase(
        lambda f: f(A.commission(mid("commission", A), at(D(2026, 9, 29)), fast=True), D(2026, 9, 29)),
        lambda d: A.opinion(mid("opinion", A), at(d), commission=mid("commission", A)),
        D(2026, 9, 29), D(2026, 10, 12), "530581SF", "530502FY"),
    # The person reports before the court's papers arrive: notice within 5 days of 31 Mar lands on 5 Apr,
    # 清明 (4-6 Apr), so it moves to Tue 7 Apr; service within 10 days falls on Fri 10 Apr.
    "notify_bureau": RuleCase(
        lambda f: f(C.reporting(mid("report"), at(D(2026, 4, 1))), D(2026, 4, 1)),
        lambda d: C.decision(mid("decision"), at(d)),
        D(2026, 3, 31), D(2026, 4, 7), "530502FY", "530581SF"),
    "serve_documents": RuleCase(
        lambda f: f(C.reporting(mid("report"), at(D(2026, 4, 1))), D(2026, 4, 1)),
        lambda d: C.decision(mid("decision"), at(d)),
        D(2026, 3, 31), D(2026, 4, 10), "530502FY", "530581SF"),
    # Papers received Mon 2 Mar: 5 days end on Saturday 7 Mar, moved to Monday 9 Mar
    "receipt": RuleCase(
        lambda f: decided(f, R, D(2026, 3, 2)),
        lambda d: R.receipt(mid("receipt", R), at(d), of=mid("decision", R)),
        D(2026, 3, 2), D(2026, 3, 9), "530581SF", "530502FY"),
    "cure_documents": RuleCase(
        lambda f: (decided(f), f(C.receipt(mid("receipt"), at(D(2026, 4, 3)), of=mid("decision"),
                                           missing=["CASE_CLOSING_FORM"]), D(2026, 4, 3))),
        lambda d: C.decision(mid("decision-again"), at(d), papers=["CASE_CLOSING_FORM"]),
        D(2026, 4, 3), D(2026, 4, 8), "530502FY", "530581SF"),
    "report": RuleCase(
        decided, lambda d: C.reporting(mid("report"), at(d)),
        D(2026, 3, 31), D(2026, 4, 10), "530581SF", "530502FY"),
    "handover": RuleCase(
        lambda f: f(T.decision(mid("decision", T), at(D(2026, 4, 2)), custody="530502JY"), D(2026, 4, 2)),
        lambda d: T.handover(mid("handover", T), at(d), custodian="530502JY", served=D(2026, 3, 31)),
        D(2026, 3, 31), D(2026, 4, 10), "530502JY", "530581SF"),
    "search_on_failure": RuleCase(
        lambda f: (decided(f), f(C.reporting(mid("not-reported"), at(D(2026, 4, 13)), result="NOT_REPORTED"),
                                 D(2026, 4, 13))),
        lambda d: C.pursuit_request(mid("assist"), at(d), kind="ASSIST_SEARCH", causation=None),
        D(2026, 4, 13), D(2026, 4, 13), "530581SF", "530581GA"),
    # Transfer papers received 11 May: the person must register at 施甸 within 7 days (Mon 18 May)
    "report_after_transfer": RuleCase(
        lambda f: (supervised(f), f(C.county_transfer(mid("transfer"), at(D(2026, 5, 11)), to_division="530521",
                                                      decided=D(2026, 5, 8), served=D(2026, 5, 11)), D(2026, 5, 11))),
        lambda d: C.reporting(mid("report-b"), at(d), sender="530521SF"),
        D(2026, 5, 11), D(2026, 5, 18), "530521SF", "530581SF"),
    "lost_contact_search": RuleCase(
        lost, lambda d: C.pursuit_request(mid("assist"), at(d), kind="ASSIST_SEARCH", causation=None),
        D(2026, 6, 8), D(2026, 6, 8), "530581SF", "530581GA"),
    "lost_contact_warning": RuleCase(
        lost, lambda d: C.event(mid("warning"), at(d), kind="WARNING"),
        D(2026, 6, 8), D(2026, 6, 18), "530581SF", "530581JC"),
    "lost_contact_revoke": RuleCase(
        lost, lambda d: C.proposal(mid("proposal"), at(d)),
        D(2026, 6, 8), D(2026, 7, 8), "530581SF", "530502FY"),
    "revocation_decision": RuleCase(
        proposed, lambda d: C.revocation(mid("revocation"), at(d), proposal=mid("proposal"), in_custody=True),
        D(2026, 7, 13), D(2026, 8, 12), "530502FY", "530581SF"),
    "arrest_decision": RuleCase(
        lambda f: proposed(f, arrest=True),
        lambda d: C.revocation(mid("revocation"), at(d), proposal=mid("proposal"), in_custody=True),
        D(2026, 7, 13), D(2026, 7, 15), "530502FY", "530581SF"),
    # Arrested on Wed 15 Jul while the proposal of 13 Jul waits: 30 days of custody end on Fri 14 Aug
    "arrest_custody_limit": RuleCase(
        lambda f: (proposed(f, arrest=True),
                   f(C.custody(mid("arrest"), at(D(2026, 7, 15)), started=D(2026, 7, 15), measure="ARREST"),
                     D(2026, 7, 15))),
        lambda d: C.revocation(mid("revocation"), at(d), proposal=mid("proposal"), in_custody=True),
        D(2026, 7, 15), D(2026, 8, 14), "530502FY", "530581SF"),
    # 腾冲市's bureau asks 隆阳区's on Mon 15 Jun: 5 days end on Sat 20 Jun, so the reply is due Mon 22 Jun
    "transfer_opinion": RuleCase(
        lambda f: (supervised(f), f(C.transfer_opinion(mid("ask"), at(D(2026, 6, 15)), to_division="530502",
                                              asked=D(2026, 6, 15)), D(2026, 6, 15))),
        lambda d: C.transfer_opinion(mid("answer"), at(d), to_division="530502", asked=D(2026, 6, 15),
                                     reply="AGREE", request=mid("ask")),
        D(2026, 6, 15), D(2026, 6, 22), "530502SF", "530581SF"),
    "pursuit_request": RuleCase(
        lambda f: (supervised(f), f(C.revocation(mid("revocation"), at(D(2026, 7, 24)), proposal=None,
                                                 in_custody=False), D(2026, 7, 24))),
        lambda d: C.pursuit_request(mid("pursuit"), at(d), kind="PURSUE_ABSCONDER", causation=mid("revocation")),
        D(2026, 7, 24), D(2026, 7, 24), "530581SF", "530581GA"),
    # 30 days from Fri 24 Jul end on Sunday 23 Aug: the reply is due Monday 24 Aug
    "pursuit_reply": RuleCase(
        lambda f: (lost(f), f(C.pursuit_request(mid("assist"), at(D(2026, 7, 24)), kind="ASSIST_SEARCH",
                                                causation=None), D(2026, 7, 24))),
        lambda d: C.pursuit_result(mid("result"), at(d), status="LOCATED", request=mid("assist")),
        D(2026, 7, 24), D(2026, 8, 24), "530581GA", "530581SF"),
    "release_notice": RuleCase(
        lambda f: supervised(f, E), lambda d: E.release(mid("release", E), at(d)),
        D(2026, 9, 30), D(2026, 9, 30), "530581SF", "530502FY"),
}


def opened(rule_id: str) -> tuple[Feed, Obligation]:
    f = Feed()
    CASES[rule_id].open(f)
    (ob,) = [o for o in f.now.of_rule(rule_id) if o.is_open]
    return f, ob


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_the_rule_opens_an_obligation_that_goes_overdue(rule_id: str) -> None:
    # Given the step that triggers the rule
    rc = CASES[rule_id]
    _, ob = opened(rule_id)
    # Then one obligation is open, between the right parties, due on the day the law counts to
    assert (ob.trigger_date, ob.due_date, ob.obligor, ob.obligee) == (rc.trigger, rc.due, rc.obligor, rc.obligee)
    assert ob.step == RULES.rule(rule_id, division="530581", on=rc.trigger).step
    # And its clock runs: due soon, due today, overdue the day after
    if ob.due_soon_days:
        assert ob.status(rc.due - dt.timedelta(days=ob.due_soon_days + 1)) is S.PENDING
        assert ob.status(rc.due - dt.timedelta(days=ob.due_soon_days)) is S.DUE_SOON
    assert ob.status(rc.due) is S.DUE_TODAY
    assert ob.status(rc.due + DAY) is S.OVERDUE


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_the_rule_is_met_on_time_by_its_message_on_the_due_day(rule_id: str) -> None:
    f, ob = opened(rule_id)
    assert ob.due_date is not None
    f(CASES[rule_id].meet(ob.due_date), ob.due_date)
    (done,) = [o for o in f.now.obligations if o.id == ob.id]
    assert (done.status(D(2027, 1, 1)), done.met_on) == (S.MET, ob.due_date)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_the_rule_is_met_late_by_its_message_the_day_after(rule_id: str) -> None:
    f, ob = opened(rule_id)
    assert ob.due_date is not None
    late = ob.due_date + DAY
    f(CASES[rule_id].meet(late), late)
    (done,) = [o for o in f.now.obligations if o.id == ob.id]
    assert (done.status(D(2027, 1, 1)), done.met_by) == (S.MET_LATE, f.transitions[-1].timeline[0].message_id)


@pytest.mark.parametrize(("sent", "status"), [(D(2026, 5, 13), S.MET), (D(2026, 5, 14), S.MET_LATE)])
def test_transfer_papers_are_due_5_days_after_the_change_decision(sent: D, status: S) -> None:
    # Given the change of 执行地 decided on Fri 8 May, When bureau A sends the papers on ``sent``
    f = Feed()
    supervised(f)
    f(C.county_transfer(mid("transfer"), at(sent), to_division="530521", decided=D(2026, 5, 8), served=sent), sent)
    # Then the papers met the 5-day rule (due Wed 13 May) on time or late
    (ob,) = f.now.of_rule("transfer_papers")
    assert (ob.due_date, ob.obligor, ob.obligee, ob.status(sent)) == (D(2026, 5, 13), "530581SF", "530521SF", status)


@pytest.mark.parametrize(("effective", "due", "why"), [
    (D(2026, 9, 24), D(2026, 10, 8), "the 10th day, 4 Oct, is in the National Day holiday"),
    (D(2026, 9, 30), D(2026, 10, 10), "the 10th day is a make-up working Saturday: it stands"),
    (D(2026, 6, 11), D(2026, 6, 22), "the 10th day is 21 Jun, in the Dragon Boat holiday; 22 Jun is Monday"),
    (D(2026, 4, 1), D(2026, 4, 13), "the 10th day is Saturday 11 Apr: Monday"),
])
def test_the_report_deadline_follows_the_working_day_calendar(effective: D, due: D, why: str) -> None:
    # Given a probation decision in effect on ``effective``
    case = person_case(n=20, effective=effective)
    f = Feed()
    decided(f, case, effective + DAY)
    # Then the person must report by ``due`` (CPL Art. 105)
    (report,) = f.now.of_rule("report")
    assert report.due_date == due, why


def test_a_deadline_in_a_year_without_a_calendar_is_flagged_never_guessed() -> None:
    # Given an assessment commissioned on 28 Dec 2026 and a calendar that stops at 2026
    case = person_case(n=21)
    f = Feed()
    f(case.commission(mid("commission", case), at(D(2026, 12, 28))), D(2026, 12, 28))
    (ob,) = f.now.of_rule("assessment_opinion")
    # Then the obligation carries the missing year and no due date
    assert (ob.due_date, ob.calendar_missing, ob.status(D(2026, 12, 29))) == (None, 2027, S.CALENDAR_MISSING)
    # When an operator loads 2027 (元旦 on Friday 1 January), Then the due date is computed
    with_2027 = Calendar.seeded().with_year(2027, holidays=[D(2027, 1, 1)], workdays=[])
    fixed = reschedule(ob, rules=RULES, calendar=with_2027)
    assert (fixed.due_date, fixed.calendar_missing) == (D(2027, 1, 12), None)
    # And an obligation met while its due date was unknown reads as met
    assert ob.met(on=D(2026, 12, 30), by="x").status(D(2027, 2, 1)) is S.MET


def test_a_county_rule_row_beats_the_national_row() -> None:
    # Given 腾冲 (530581) allowing 3 days for a receipt, and the national 5 days elsewhere
    national_row = RULES.rule("receipt", division="530581", on=D(2026, 3, 2))
    book = RULES.with_override(replace(national_row, scope="530581", amount=3, effective_from=D(2026, 1, 1)))
    here, elsewhere = Feed(rules=book), Feed(rules=book)
    decided(here, R, D(2026, 3, 2))
    decided(elsewhere, person_case(n=22, division="530521", effective=D(2026, 2, 27)), D(2026, 3, 2))
    # Then each county's deadline follows its own row
    assert here.now.of_rule("receipt")[0].due_date == D(2026, 3, 5)
    assert elsewhere.now.of_rule("receipt")[0].due_date == D(2026, 3, 9)


def test_no_obligation_is_opened_before_the_rules_took_effect() -> None:
    # Given a decision that took effect before the Community Corrections Law (2020-07-01)
    old = person_case(n=23, effective=D(2019, 12, 2))
    f = Feed()
    t = f(old.decision(mid("decision", old), at(D(2019, 12, 3))), D(2019, 12, 3))
    # Then no reporting clock is invented, and the timeline says why
    assert f.now.of_rule("report") == ()
    assert "no rule report in effect" in t.timeline[0].summary


def test_documents_never_sent_are_caught_when_the_person_turns_up() -> None:
    # Given a court that never serves its judgment, and the person reporting to the bureau on 1 Apr
    f = Feed()
    f(C.reporting(mid("report"), at(D(2026, 4, 1))), D(2026, 4, 1))
    # Then the case is known decided, the court owes notice and papers, and they go overdue
    assert f.now.state is CaseStatus.DECIDED and f.now.responsible == "530502FY"
    assert f.obligation("notify_bureau", D(2026, 4, 8)) == ["overdue"]
    assert f.obligation("serve_documents", D(2026, 4, 11)) == ["overdue"]


def test_a_person_who_does_not_report_stays_owed_and_a_late_report_is_met_late() -> None:
    f = Feed()
    decided(f)
    f(C.reporting(mid("not-reported"), at(D(2026, 4, 13)), result="NOT_REPORTED"), D(2026, 4, 13))
    assert f.obligation("report", D(2026, 4, 13)) == ["overdue"]
    f(C.reporting(mid("late"), at(D(2026, 4, 15)), result="REPORTED_LATE", reported=D(2026, 4, 15)), D(2026, 4, 15))
    assert f.obligation("report") == ["met_late"] and f.obligation("search_on_failure") == ["met_late"]


def test_custody_explains_an_absence_and_silences_the_lost_contact_clocks() -> None:
    # Given a person out of contact since 8 Jun
    f = Feed()
    lost(f)
    # When the police report him detained since 7 Jun
    t = f(C.custody(mid("custody"), at(D(2026, 6, 9)), started=D(2026, 6, 7)), D(2026, 6, 9))
    # Then the lost-contact obligations are set aside by the ledger with the reason, and none is open
    assert {o.rule_id for o in t.cancelled} == {"lost_contact_search", "lost_contact_warning", "lost_contact_revoke"}
    assert all(o.waiver is not None and o.waiver.by == "ledger" and "custody" in o.waiver.reason
               for o in t.cancelled)
    assert f.now.state is CaseStatus.IN_CUSTODY
    assert [o.rule_id for o in f.now.open_obligations()] == ["release_notice"]


def test_police_who_take_an_absconder_before_the_bureau_asks_end_the_request_owed() -> None:
    # Given a revocation in force with the person at large: the bureau owes a pursuit request at once
    f = Feed()
    revoked(f, in_custody=False)
    assert [o.rule_id for o in f.now.open_obligations() if o.rule_id == "pursuit_request"] == ["pursuit_request"]
    # When the police report the person in custody before any request reached them
    f(C.pursuit_result(mid("caught"), at(D(2026, 7, 25)), status="IN_CUSTODY", request=None), D(2026, 7, 25))
    # Then no request is owed any more, and none is drafted
    (ob,) = f.now.of_rule("pursuit_request")
    assert ob.waiver is not None and "custody" in ob.waiver.reason
    assert draft_pursuit_request(f.now, today=D(2026, 7, 26)) is None


def test_custody_before_reporting_suspends_the_report_until_release_from_custody() -> None:
    f = Feed()
    decided(f)
    f(C.custody(mid("custody"), at(D(2026, 4, 5)), started=D(2026, 4, 3)), D(2026, 4, 5))
    assert f.obligation("report") == ["waived"]
    f(C.custody(mid("custody-end"), at(D(2026, 5, 20)), started=D(2026, 4, 3), ended=D(2026, 5, 20)), D(2026, 5, 20))
    # Then the person owes a report again, counted from the day custody ended
    (_, again) = f.now.of_rule("report")
    assert (again.trigger_date, again.due_date) == (D(2026, 5, 20), D(2026, 6, 1))


def test_a_revocation_at_large_needs_a_pursuit_request_and_the_police_reply() -> None:
    f = Feed()
    supervised(f)
    f(C.revocation(mid("revocation"), at(D(2026, 7, 24)), proposal=None, in_custody=False), D(2026, 7, 24))
    assert f.now.state is CaseStatus.AT_LARGE
    assert f.obligation("pursuit_request", D(2026, 7, 25)) == ["overdue"]
    f(C.pursuit_request(mid("pursuit"), at(D(2026, 7, 27)), kind="PURSUE_ABSCONDER", causation=mid("revocation")),
      D(2026, 7, 27))
    (reply,) = f.now.of_rule("pursuit_reply")
    assert (reply.obligor, reply.due_date, reply.status(D(2026, 8, 27))) == ("530581GA", D(2026, 8, 26), S.OVERDUE)
    # When the police answer that the search goes on, Then the next answer is owed 30 days later
    f(C.pursuit_result(mid("ongoing"), at(D(2026, 8, 20)), status="ONGOING", request=mid("pursuit")), D(2026, 8, 20))
    assert f.obligation("pursuit_reply", D(2026, 8, 21)) == ["met", "pending"]
    # And the release of the case (termination) keeps the pursuit open while the person is at large
    f(C.release(mid("termination"), at(D(2026, 8, 21)), kind="TERMINATED_REVOKED"), D(2026, 8, 21))
    assert [o.rule_id for o in f.now.open_obligations()] == ["pursuit_reply"]


def test_a_release_sets_every_other_obligation_aside() -> None:
    f = Feed()
    decided(f)
    t = f(C.release(mid("death"), at(D(2026, 4, 6)), kind="TERMINATED_DEATH"), D(2026, 4, 6))
    assert f.now.open_obligations() == ()
    assert {o.rule_id for o in t.cancelled} == {"receipt", "report"}
    assert f.now.state is CaseStatus.TERMINATED


def test_an_operator_waiver_keeps_reason_and_who() -> None:
    _, ob = opened("report")
    waived = ob.waived(reason="人员已死亡，待补录", by="operator:530581SF:王敏", on=D(2026, 4, 9))
    assert waived.status(D(2026, 5, 1)) is S.WAIVED and waived.waiver is not None
    assert (waived.waiver.by, waived.waiver.on) == ("operator:530581SF:王敏", D(2026, 4, 9))
    with pytest.raises(ValueError, match="reason"):
        ob.waived(reason=" ", by="operator", on=D(2026, 4, 9))


def test_obligation_ids_are_stable_across_rebuilds() -> None:
    # Given the same messages applied twice from nothing
    first, second = Feed(), Feed()
    supervised(first)
    supervised(second)
    # Then every obligation has the same id, a UUID 5 of case key, rule id and triggering message
    assert [o.id for o in first.now.obligations] == [o.id for o in second.now.obligations]
    (report,) = first.now.of_rule("report")
    expected = uuid.uuid5(OBLIGATION_NAMESPACE, f"{report.case_key}\nreport\n{mid('decision')}")
    assert report.id == str(expected) == obligation_id(report.case_key, "report", mid("decision"))
    assert obligation_id(report.case_key, "report", mid("other")) != report.id


def test_custody_on_arrest_limits_the_courts_time_only_while_the_person_is_held_on_arrest() -> None:
    # Given a proposal to revoke with an arrest requested, and the person held on another measure
    f = Feed()
    proposed(f, arrest=True)
    f(C.custody(mid("detained"), at(D(2026, 7, 14)), started=D(2026, 7, 14)), D(2026, 7, 14))
    # Then no custody limit runs: only an arrest made for the proposal has one
    assert f.now.of_rule("arrest_custody_limit") == ()
    # When the custody ends and the person is later arrested, then released before the court decides
    f(C.custody(mid("freed"), at(D(2026, 7, 15)), started=D(2026, 7, 14), ended=D(2026, 7, 15)), D(2026, 7, 15))
    f(C.custody(mid("arrest"), at(D(2026, 7, 16)), started=D(2026, 7, 16), measure="ARREST"), D(2026, 7, 16))
    (ob,) = f.now.of_rule("arrest_custody_limit")
    assert (ob.trigger_date, ob.due_date, ob.obligor) == (D(2026, 7, 16), D(2026, 8, 17), "530502FY")
    f(C.custody(mid("bail"), at(D(2026, 7, 20)), started=D(2026, 7, 16), ended=D(2026, 7, 20)), D(2026, 7, 20))
    # Then the limit is set aside, and the court's 30 days from the proposal still run
    (done,) = f.now.of_rule("arrest_custody_limit")
    assert done.status(D(2026, 9, 1)) is S.WAIVED and done.waiver is not None
    (decision,) = [o for o in f.now.of_rule("revocation_decision") if o.is_open]
    assert decision.due_date == D(2026, 8, 12)


def test_an_arrest_reported_before_the_proposal_still_starts_the_custody_limit() -> None:
    # Given the police report the arrest before the bureau's proposal reaches the hub
    f = Feed()
    supervised(f)
    f(C.custody(mid("arrest"), at(D(2026, 7, 10)), started=D(2026, 7, 10), measure="ARREST"), D(2026, 7, 10))
    assert f.now.of_rule("arrest_custody_limit") == ()
    f(C.proposal(mid("proposal"), at(D(2026, 7, 13)), arrest=True), D(2026, 7, 13))
    # Then the 30 days count from the arrest, not from the proposal
    (ob,) = f.now.of_rule("arrest_custody_limit")
    assert (ob.trigger_date, ob.due_date) == (D(2026, 7, 10), D(2026, 8, 10))
