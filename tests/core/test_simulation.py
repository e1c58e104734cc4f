"""Six months of a simulated county, evaluated every day: each injected lapse is alarmed by its deadline, no
clean case ever raises an alarm, and an outage's late messages close their obligations as met late."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from hub.canonical import parse
from hub.core.alarms import NoticeStep
from hub.core.calendar import Calendar
from hub.core.cases import CaseStatus
from hub.core.obligations import ObligationStatus
from hub.core.rules import national
from tests.core.simulation import LAPSES, OUTAGE_AGENCY, County, Run, run_county, simulate_county

CAL = Calendar.seeded()
RULES = national()
SEED = 20260105
# an alarm proper: the obligation is due today or past due (a due-soon reminder does not count)
URGENT = frozenset({NoticeStep.DUE_TODAY, NoticeStep.OVERDUE, NoticeStep.BUREAU_HEAD, NoticeStep.JOINT_MEETING})


@pytest.fixture(scope="module")
def county() -> County:
    return simulate_county(SEED, calendar=CAL)


@pytest.fixture(scope="module")
def run(county: County) -> Run:
    return run_county(county, rules=RULES, calendar=CAL)


def test_the_county_is_deterministic_by_seed(county: County) -> None:
    again = simulate_county(SEED, calendar=CAL)
    assert [(m.received_at, m.raw) for m in again.messages] == [(m.received_at, m.raw) for m in county.messages]
    assert (again.lapses, again.clean) == (county.lapses, county.clean)
    other = simulate_county(SEED + 1, calendar=CAL)
    assert [m.raw for m in other.messages] != [m.raw for m in county.messages]


def test_the_county_is_hundreds_of_cases_in_valid_canonical_messages(county: County) -> None:
    # Given the generated county, Then it has hundreds of cases and every lapse kind several times
    assert len({m.case_key for m in county.messages}) >= 300 and len(county.clean) >= 250
    assert Counter(lapse.kind for lapse in county.lapses) == dict.fromkeys(LAPSES, 5)
    # And every message passes the hub's schema and checks, and every business message type occurs
    types = Counter(parse(m.raw, today=county.end).canonical.message_type for m in county.messages)
    assert set(types) == {"AssessmentCommission", "AssessmentOpinion", "SentencingDecision", "DocumentReceipt",
                          "ReportingOutcome", "TransferPapers", "CustodyNotice", "SupervisionEvent",
                          "RevocationProposal", "RevocationDecision", "PursuitRequest", "PursuitResult",
                          "ReleaseNotice"}


def test_every_lapse_is_alarmed_due_today_on_or_before_its_deadline(county: County, run: Run) -> None:
    for lapse in county.lapses:
        # Then the lapse got a due-today (or overdue) alarm by its deadline, not merely a due-soon reminder
        days = [n.on for n in run.notices
                if n.case_key == lapse.case_key and n.rule_id in lapse.rules and n.step in URGENT]
        assert days, f"{lapse.kind} in {lapse.case_key} was never alarmed"
        assert min(days) <= lapse.deadline, (lapse.kind, lapse.case_key, min(days), lapse.deadline)


def test_a_lost_contact_is_alarmed_the_same_day(county: County, run: Run) -> None:
    for lapse in (x for x in county.lapses if x.kind == "lost_contact"):
        first = next(n for n in run.notices if n.case_key == lapse.case_key and n.rule_id == "lost_contact_search")
        assert (first.on, first.step) == (lapse.deadline, NoticeStep.DUE_TODAY)


def test_no_alarm_ever_fires_on_a_clean_case(county: County, run: Run) -> None:
    noisy = [(n.case_key, n.rule_id, n.step.value, n.on) for n in run.notices if n.case_key in county.clean]
    assert noisy == [] and not {n.step for n in run.notices} - set(NoticeStep) and len(county.clean) > 200
    # And the clean cases were really worked: obligations met by the hundred, each case's state known
    met = Counter(o.status(county.end) for key in county.clean for o in run.states[key].obligations)
    assert met[ObligationStatus.MET] > 1000 and met[ObligationStatus.MET_LATE] == 0
    assert {run.states[key].state for key in county.clean} >= {CaseStatus.UNDER_SUPERVISION, CaseStatus.RELEASED,
                                                               CaseStatus.TERMINATED}


def test_the_lapsed_cases_end_where_the_lapse_left_them(county: County, run: Run) -> None:
    expected = {"documents_never_sent": CaseStatus.DECIDED, "receipt_never_returned": CaseStatus.REPORTED,
                "never_reports": CaseStatus.RECEIPTED, "transfer_never_arrives": CaseStatus.TRANSFERRED_OUT,
                "lost_contact": CaseStatus.LOST_CONTACT, "at_large_no_reply": CaseStatus.PURSUIT_REQUESTED,
                "agency_outage": CaseStatus.UNDER_SUPERVISION}
    for lapse in county.lapses:
        state = run.states[lapse.case_key]
        assert state.state is expected[lapse.kind], lapse
        if lapse.kind == "transfer_never_arrives":
            assert state.responsible == "530581SF"  # bureau A answers until the person registers at 530521


def test_a_pursuit_request_is_drafted_for_those_who_never_report_or_lose_contact(county: County, run: Run) -> None:
    for lapse in county.lapses:
        drafted = run.drafts.get(lapse.case_key)
        if lapse.kind == "lost_contact":
            assert drafted is not None and drafted[0] == lapse.deadline and drafted[1].kind == "ASSIST_SEARCH"
        elif lapse.kind == "never_reports":
            assert drafted is not None and drafted[0] == lapse.deadline + dt.timedelta(days=1)
        elif lapse.kind in ("at_large_no_reply", "documents_never_sent", "receipt_never_returned", "agency_outage"):
            assert drafted is None, lapse


def test_an_outages_late_messages_arrive_at_once_and_close_their_obligations_as_met_late(county: County,
                                                                                         run: Run) -> None:
    # Given the court's messages held back during its outage
    delayed = {m.message_id: m for m in county.messages if m.delayed}
    assert {m.sender for m in delayed.values()} == {OUTAGE_AGENCY}
    assert {m.received_at.date() for m in delayed.values()} == {county.outage[1]} and len(delayed) >= 10
    # Then every obligation they met is met, late exactly when they came after its due date
    closed = [o for state in run.states.values() for o in state.obligations if o.met_by in delayed]
    assert closed
    for o in closed:
        assert o.met_on == county.outage[1] and o.due_date is not None
        late = o.status(county.end) is ObligationStatus.MET_LATE
        assert late == (o.met_on > o.due_date), o
    assert any(o.status(county.end) is ObligationStatus.MET_LATE for o in closed)
    # And nothing they carried is left waiting
    held = {m.message_id for state in run.states.values() for m in state.pending}
    assert not held & delayed.keys()
    lapsed = {lapse.case_key for lapse in county.lapses if lapse.kind == "documents_never_sent"}
    assert {key for key, state in run.states.items() if state.pending} == lapsed


def test_an_outage_is_alarmed_to_the_court_while_it_lasts_and_its_late_judgments_close_as_met_late(
        county: County, run: Run) -> None:
    start, back = county.outage
    for lapse in (x for x in county.lapses if x.kind == "agency_outage"):
        # Given a judgment the court sent on its last day while its link was down
        assert start <= lapse.deadline < back
        # Then the court was alarmed due today on each due date, the last one while the outage lasted
        alarms = [n for n in run.notices if n.case_key == lapse.case_key and n.rule_id in lapse.rules]
        owed = [o for o in run.states[lapse.case_key].obligations if o.rule_id in lapse.rules]
        assert {(n.obligation_id, n.on, n.obligor) for n in alarms if n.step is NoticeStep.DUE_TODAY} == {
            (o.id, o.due_date, OUTAGE_AGENCY) for o in owed}
        assert max(o.due_date for o in owed if o.due_date) == lapse.deadline
        # And when the link came back the judgment closed its obligations as met late, and the alarms resolved so
        assert owed and {(o.status(county.end), o.met_on) for o in owed} == {(ObligationStatus.MET_LATE, back)}
        assert [(n.on, n.outcome) for n in alarms if n.step is NoticeStep.RESOLVED] == [(back, "met_late")] * len(owed)
    # And every obligation the held messages met late had been alarmed due today on its due date
    delayed = {m.message_id for m in county.messages if m.delayed}
    late = [o for state in run.states.values() for o in state.obligations
            if o.met_by in delayed and o.status(county.end) is ObligationStatus.MET_LATE]
    assert len(late) >= 5
    for o in late:
        assert any(n.obligation_id == o.id and (n.on, n.step) == (o.due_date, NoticeStep.DUE_TODAY)
                   for n in run.notices), o
