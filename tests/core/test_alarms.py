"""Alarm planning: the escalation ladder, one notice per step and one when resolved, and drafted pursuit requests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.canonical import load_schema, parse, parse_tree
from hub.core.alarms import (
    NEVER,
    CalendarNotice,
    Ladder,
    Notice,
    NoticeStep,
    draft_pursuit_request,
    next_look,
    plan_calendar_notices,
    plan_notices,
    pursuit_request_xml,
)
from hub.core.cases import CaseStatus
from hub.core.facts import facts_of
from hub.core.obligations import Obligation
from tests.core.case_feed import C, Feed, mid
from tests.core.case_messages import at, message_id

D = dt.date
DAY = dt.timedelta(days=1)
N = NoticeStep


DEFAULT = Ladder()


def daily(obligations_on: Iterable[tuple[D, list[Obligation]]], ladder: Ladder = DEFAULT) -> list[Notice]:
    """Evaluate each day in turn, recording what was sent, as the scheduler would."""
    sent: set[tuple[str, str]] = set()
    out: list[Notice] = []
    for today, obligations in obligations_on:
        for notice in plan_notices(obligations, sent=sent, today=today, ladder=ladder):
            assert notice.key not in sent
            sent.add(notice.key)
            out.append(notice)
    return out


def report_owed() -> Obligation:
    # The person's report after a judgment in effect on 31 Mar: due Fri 10 Apr, "due soon" 3 days before
    f = Feed()
    f(C.decision(mid("decision"), at(D(2026, 4, 2))), D(2026, 4, 2))
    (ob,) = f.now.of_rule("report")
    return ob


def days(first: D, count: int) -> list[D]:
    return [first + i * DAY for i in range(count)]


def test_an_unmet_obligation_climbs_the_ladder_one_notice_per_step() -> None:
    # Given an obligation nobody meets, evaluated every day for 60 days
    ob = report_owed()
    notices = daily((d, [ob]) for d in days(D(2026, 4, 2), 60))
    # Then each step is sent once, on the day it is reached, to a widening circle
    assert [(n.step, n.on) for n in notices] == [
        (N.DUE_SOON, D(2026, 4, 7)), (N.DUE_TODAY, D(2026, 4, 10)), (N.OVERDUE, D(2026, 4, 11)),
        (N.BUREAU_HEAD, D(2026, 4, 13)), (N.JOINT_MEETING, D(2026, 4, 20))]
    assert [[(r.role, r.address) for r in n.recipients] for n in notices][-3:] == [
        [("office", "530581SF")],
        [("office", "530581SF"), ("bureau_head", "530581SF")],
        [("office", "530581SF"), ("bureau_head", "530581SF"), ("joint_meeting", "530581")]]
    assert [n.days_overdue for n in notices] == [0, 0, 1, 3, 10]


def test_a_met_obligation_gets_one_resolved_notice_and_then_silence() -> None:
    # Given the same obligation, met late on 15 Apr after two alarms had gone out
    ob = report_owed()
    met = ob.met(on=D(2026, 4, 15), by=mid("report"))
    timeline = [(d, [ob if d < D(2026, 4, 15) else met]) for d in days(D(2026, 4, 2), 60)]
    notices = daily(timeline)
    # Then one resolved notice goes to everyone who was alarmed, and nothing after it
    assert [n.step for n in notices] == [N.DUE_SOON, N.DUE_TODAY, N.OVERDUE, N.BUREAU_HEAD, N.RESOLVED]
    resolved = notices[-1]
    assert (resolved.on, resolved.outcome, resolved.level) == (D(2026, 4, 15), "met_late", 1)
    assert [r.role for r in resolved.recipients] == ["office", "bureau_head"]


def test_an_obligation_met_before_any_alarm_sends_nothing() -> None:
    ob = report_owed()
    met = ob.met(on=D(2026, 4, 3), by=mid("report"))
    assert daily((d, [ob if d < D(2026, 4, 3) else met]) for d in days(D(2026, 4, 2), 60)) == []


def test_a_waived_obligation_is_resolved_as_waived() -> None:
    ob = report_owed()
    waived = ob.waived(reason="在押", by="ledger", on=D(2026, 4, 11))
    notices = daily((d, [ob if d < D(2026, 4, 11) else waived]) for d in days(D(2026, 4, 2), 30))
    assert [(n.step, n.outcome) for n in notices] == [(N.DUE_SOON, None), (N.DUE_TODAY, None), (N.RESOLVED, "waived")]


def test_an_obligation_first_seen_long_overdue_gets_only_its_current_step() -> None:
    ob = report_owed()
    notices = daily((d, [ob]) for d in days(D(2026, 4, 25), 10))
    assert [(n.step, n.level, n.days_overdue) for n in notices] == [(N.JOINT_MEETING, 2, 15)]


def test_a_missing_calendar_alarms_no_office_and_the_operators_once_a_day_per_year() -> None:
    # Given an obligation whose due date falls in 2027, a year without a working-day calendar
    f = Feed()
    f(C.commission(mid("commission"), at(D(2026, 12, 28))), D(2026, 12, 28))
    (ob,) = f.now.of_rule("assessment_opinion")
    assert ob.calendar_missing == 2027
    # When it is evaluated every day for 20 days
    # Then the office that owes it is sent nothing (it cannot load a calendar)
    assert daily((d, [ob]) for d in days(D(2026, 12, 28), 20)) == []
    # And the operators get one notice a day per missing year, naming it and how many obligations wait
    sent: set[tuple[str, str]] = set()
    per_day = []
    for today in (D(2026, 12, 28), D(2026, 12, 28), D(2026, 12, 29)):
        planned = plan_calendar_notices({2027: 3, 2028: 0}, sent=sent, today=today)
        sent |= {n.key for n in planned}
        per_day.append([(n.year, n.waiting, n.on) for n in planned])
    assert per_day == [[(2027, 3, D(2026, 12, 28))], [], [(2027, 3, D(2026, 12, 29))]]
    assert "2027年工作日历尚未载入，3项义务" in CalendarNotice(2027, 3, D(2026, 12, 29)).text_zh


def test_an_obligation_rescheduled_once_its_year_is_loaded_joins_the_ladder_where_it_stands() -> None:
    # Given the obligation that waited for 2027, given its due date once the year was loaded
    f = Feed()
    f(C.commission(mid("commission"), at(D(2026, 12, 28))), D(2026, 12, 28))
    (ob,) = f.now.of_rule("assessment_opinion")
    fixed = replace(ob, due_date=D(2027, 1, 8), calendar_missing=None)
    # When it is evaluated daily, first waiting, then rescheduled on 4 January
    timeline = [(d, [ob if d < D(2027, 1, 4) else fixed]) for d in days(D(2026, 12, 28), 30)]
    notices = daily(timeline)
    # Then the ladder applies from the step it stands on
    assert [(n.step, n.on) for n in notices] == [
        (N.DUE_SOON, D(2027, 1, 5)), (N.DUE_TODAY, D(2027, 1, 8)), (N.OVERDUE, D(2027, 1, 9)),
        (N.BUREAU_HEAD, D(2027, 1, 11)), (N.JOINT_MEETING, D(2027, 1, 18))]


def test_the_ladder_is_data() -> None:
    ob = report_owed()
    notices = daily(((d, [ob]) for d in days(D(2026, 4, 10), 5)), Ladder(bureau_head_after_days=1,
                                                                         joint_meeting_after_days=2))
    assert [(n.step, n.on) for n in notices] == [(N.DUE_TODAY, D(2026, 4, 10)), (N.BUREAU_HEAD, D(2026, 4, 11)),
                                                  (N.JOINT_MEETING, D(2026, 4, 12))]
    with pytest.raises(ValueError, match="ladder"):
        Ladder(bureau_head_after_days=5, joint_meeting_after_days=5)


def test_sixty_days_of_a_case_send_each_step_once_and_one_resolved_each() -> None:
    # Given a case in which the person never reports, is searched for, and the ledger evaluated daily
    f = Feed()
    states = {}
    plan = {D(2026, 4, 2): C.decision(mid("decision"), at(D(2026, 4, 2))),
            D(2026, 4, 3): C.receipt(mid("receipt"), at(D(2026, 4, 3)), of=mid("decision")),
            D(2026, 4, 13): C.reporting(mid("none"), at(D(2026, 4, 13)), result="NOT_REPORTED"),
            D(2026, 4, 20): C.pursuit_request(mid("assist"), at(D(2026, 4, 20)), kind="ASSIST_SEARCH",
                                              causation=None),
            D(2026, 5, 6): C.reporting(mid("late"), at(D(2026, 5, 6)), result="REPORTED_LATE")}
    for d in days(D(2026, 4, 2), 60):
        if d in plan:
            f(plan[d], d)
        states[d] = list(f.now.obligations)
    notices = daily(states.items())
    # Then no (obligation, step) repeats, every alarmed obligation now met has exactly one resolved notice
    keys = [n.key for n in notices]
    assert len(keys) == len(set(keys))
    alarmed = {n.obligation_id for n in notices if n.step is not N.RESOLVED}
    resolved = [n.obligation_id for n in notices if n.step is N.RESOLVED]
    closed = {o.id for o in f.now.obligations if not o.is_open}
    assert sorted(resolved) == sorted(alarmed & closed)
    rules = {(n.rule_id, n.step) for n in notices}
    assert {("report", N.JOINT_MEETING), ("report", N.RESOLVED), ("search_on_failure", N.DUE_TODAY),
            ("search_on_failure", N.RESOLVED)} <= rules
    # And the police's reply, owed from 20 Apr, was set aside without an alarm when the person turned up
    assert "pursuit_reply" not in {n.rule_id for n in notices}
    assert f.obligation("pursuit_reply") == ["waived"]


# ---- drafted pursuit requests ------------------------------------------------------------------------------

def at_large() -> Feed:
    f = Feed()
    f(C.decision(mid("decision"), at(D(2026, 4, 2))), D(2026, 4, 2))
    f(C.reporting(mid("report"), at(D(2026, 4, 8))), D(2026, 4, 8))
    f(C.revocation(mid("revocation"), at(D(2026, 7, 24)), proposal=None, in_custody=False), D(2026, 7, 24))
    return f


def test_a_revocation_with_the_person_at_large_drafts_a_pursuit_request_that_validates() -> None:
    # Given a probation revoked while the person is not in custody
    f = at_large()
    assert f.now.state is CaseStatus.AT_LARGE
    # When the hub drafts the request for a bureau that confirms drafts itself
    draft = draft_pursuit_request(f.now, today=D(2026, 7, 24))
    assert draft is not None
    assert (draft.kind, draft.mode, draft.sender, draft.to, draft.cc) == (
        "PURSUE_ABSCONDER", "confirm", "530581SF", "530581GA", ("530581JC",))
    assert (draft.basis_document_number, draft.causation_id) == (f"{C.number}更", mid("revocation"))
    assert draft.obligation_id == f.now.of_rule("pursuit_request")[0].id
    # Then its canonical XML passes the hub's schema and checks, and says what the draft says
    new_id = message_id("draft", 1)
    raw = pursuit_request_xml(draft, message_id=new_id, sent_at=dt.datetime(2026, 7, 24, 2, tzinfo=dt.UTC))
    assert load_schema().validate(parse_tree(raw))
    canonical = parse(raw, today=D(2026, 7, 24)).canonical
    assert (canonical.message_type, canonical.sender, canonical.to, canonical.cc) == (
        "PursuitRequest", "530581SF", ("530581GA",), ("530581JC",))
    # And once sent, it meets the obligation it was drafted for
    f(raw, D(2026, 7, 24))
    assert f.obligation("pursuit_request") == ["met"] and f.now.state is CaseStatus.PURSUIT_REQUESTED
    assert draft_pursuit_request(f.now, today=D(2026, 7, 25)) is None


def test_a_bureau_that_chose_automatic_sending_gets_an_auto_draft() -> None:
    draft = draft_pursuit_request(at_large().now, today=D(2026, 7, 24), auto_bureaus={"530581SF"})
    assert draft is not None and draft.mode == "auto"


def test_lost_contact_drafts_a_request_for_assistance_at_once() -> None:
    f = Feed()
    f(C.decision(mid("decision"), at(D(2026, 4, 2))), D(2026, 4, 2))
    f(C.reporting(mid("report"), at(D(2026, 4, 8))), D(2026, 4, 8))
    assert draft_pursuit_request(f.now, today=D(2026, 6, 8)) is None
    f(C.event(mid("lost"), at(D(2026, 6, 8)), kind="LOST_CONTACT"), D(2026, 6, 8))
    draft = draft_pursuit_request(f.now, today=D(2026, 6, 8))
    assert draft is not None
    assert (draft.kind, draft.last_contact_on, draft.basis_document_number) == ("ASSIST_SEARCH", D(2026, 6, 8), None)
    raw = pursuit_request_xml(draft, message_id=message_id("draft", 2), sent_at=at(D(2026, 6, 8), 15))
    assert facts_of(raw, received_at=at(D(2026, 6, 8), 15)).body.kind == "ASSIST_SEARCH"  # type: ignore[union-attr]
    parse(raw, today=D(2026, 6, 8))


def test_a_person_who_never_reports_gets_a_draft_once_the_report_is_overdue() -> None:
    f = Feed()
    f(C.decision(mid("decision"), at(D(2026, 4, 2))), D(2026, 4, 2))
    assert draft_pursuit_request(f.now, today=D(2026, 4, 10)) is None
    draft = draft_pursuit_request(f.now, today=D(2026, 4, 11))
    assert draft is not None and draft.kind == "ASSIST_SEARCH" and "2026-04-10" in draft.details


def test_a_person_in_custody_gets_no_draft() -> None:
    f = Feed()
    f(C.decision(mid("decision"), at(D(2026, 4, 2))), D(2026, 4, 2))
    f(C.custody(mid("custody"), at(D(2026, 4, 5)), started=D(2026, 4, 4)), D(2026, 4, 5))
    assert draft_pursuit_request(f.now, today=D(2026, 4, 20)) is None


def test_no_draft_while_the_ledger_holds_the_person_in_custody_whatever_is_still_open() -> None:
    # Given a person out of contact whose search is owed
    f = Feed()
    f(C.decision(mid("decision"), at(D(2026, 4, 2))), D(2026, 4, 2))
    f(C.reporting(mid("report"), at(D(2026, 4, 8))), D(2026, 4, 8))
    f(C.event(mid("lost"), at(D(2026, 6, 8)), kind="LOST_CONTACT"), D(2026, 6, 8))
    assert draft_pursuit_request(f.now, today=D(2026, 6, 8)) is not None
    # When the ledger holds the person in custody, Then no request is drafted
    held = replace(f.now, progress=replace(f.now.progress, custody_since=D(2026, 6, 7)))
    assert held.of_rule("lost_contact_search")[0].is_open
    assert draft_pursuit_request(held, today=D(2026, 6, 8)) is None


@given(due_offset=st.integers(-40, 40), soon=st.integers(0, 10), met=st.booleans(),
       head=st.integers(1, 8), extra=st.integers(1, 20))
def test_no_notice_can_fall_due_before_the_next_look(due_offset: int, soon: int, met: bool, head: int,
                                                      extra: int) -> None:
    # Given an obligation on any day, and the ladder it climbs
    ladder = Ladder(bureau_head_after_days=head, joint_meeting_after_days=head + extra)
    today = D(2026, 5, 15)
    ob = replace(report_owed(), due_date=today + due_offset * DAY, due_soon_days=soon)
    sent = {n.key for n in plan_notices([ob], sent=set(), today=today, ladder=ladder)}
    look = next_look(ob, today, ladder)
    assert look > today
    # Then on every day before the next look the plan sends nothing new
    for d in days(today + DAY, min((look - today).days - 1, 60)):
        assert plan_notices([ob], sent=sent, today=d, ladder=ladder) == []
    # And on the next look day, unless the ladder is climbed, it does
    if look != NEVER:
        (n,) = plan_notices([ob], sent=sent, today=look, ladder=ladder)
        assert n.key not in sent
    else:
        assert all(plan_notices([ob], sent=sent, today=d, ladder=ladder) == []
                   for d in days(today + DAY, 60))
    # And a met obligation's dates no longer matter: the clock sends it its resolved notice, if any, at once
    if met:
        assert next_look(replace(ob, met_on=today, met_by="m"), today, ladder) == NEVER
