"""The case ledger under real delivery: messages before their antecedents, duplicates, replays, any order."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.core.alarms import draft_pursuit_request
from hub.core.cases import CaseState, CaseStatus, replay
from hub.core.facts import MessageFacts, facts_of
from tests.core.case_feed import CAL, RULES, C, Feed, decided, mid, revoked, supervised
from tests.core.case_messages import at

D = dt.date


def test_a_receipt_before_its_judgment_waits_and_is_applied_when_the_judgment_comes() -> None:
    # Given the bureau's receipt arriving before the judgment it acknowledges (e.g. the court's link was down)
    f = Feed()
    t = f(C.receipt(mid("receipt"), at(D(2026, 4, 3)), of=mid("decision")), D(2026, 4, 3))
    # Then it is held, the case is known to be decided and the court's service is owed
    assert [m.message_id for m in f.now.pending] == [mid("receipt")]
    assert t.timeline[0].held_for is not None and mid("decision") in t.timeline[0].held_for
    assert f.now.state is CaseStatus.DECIDED and f.now.applied == ()
    assert f.obligation("serve_documents") == ["overdue"]
    # When the judgment arrives
    t = f(C.decision(mid("decision"), at(D(2026, 4, 4)), causation=None), D(2026, 4, 4))
    # Then both are applied in causal order and the receipt counts from the day it really came
    assert [e.message_id for e in t.timeline] == [mid("decision"), mid("receipt")]
    assert f.now.pending == () and f.now.state is CaseStatus.RECEIPTED
    (receipt,) = f.now.of_rule("receipt")
    assert receipt.met_on == D(2026, 4, 3)


def test_a_release_never_overtakes_the_decision_it_ends() -> None:
    f = Feed()
    f(C.release(mid("release"), at(D(2026, 9, 1))), D(2026, 9, 1))
    assert f.now.state is CaseStatus.DECIDED and len(f.now.pending) == 1
    decided(f)
    assert f.now.state is CaseStatus.RELEASED and f.now.pending == ()


def test_an_answer_waits_for_the_message_it_answers() -> None:
    f = Feed()
    revoked(f, in_custody=False)
    f(C.pursuit_result(mid("result"), at(D(2026, 7, 26)), status="IN_CUSTODY", request=mid("pursuit")),
      D(2026, 7, 26))
    assert f.now.state is CaseStatus.AT_LARGE and len(f.now.pending) == 1
    f(C.pursuit_request(mid("pursuit"), at(D(2026, 7, 25)), kind="PURSUE_ABSCONDER", causation=mid("revocation")),
      D(2026, 7, 25))
    assert f.now.state is CaseStatus.REVOKED and f.obligation("pursuit_reply") == ["met"]


def test_while_in_custody_a_lost_contact_or_a_missed_report_raises_no_alarm_until_custody_ends() -> None:
    # Given a supervised person the police reported detained since 4 Jun
    f = Feed()
    supervised(f)
    f(C.custody(mid("custody"), at(D(2026, 6, 5)), started=D(2026, 6, 4)), D(2026, 6, 5))
    # When the bureau, not told, then reports lost contact and a missed report
    f(C.event(mid("lost"), at(D(2026, 6, 8)), kind="LOST_CONTACT"), D(2026, 6, 8))
    f(C.reporting(mid("not-reported"), at(D(2026, 6, 9)), result="NOT_REPORTED"), D(2026, 6, 9))
    # Then the person stays in custody, each absence rule is set aside by the ledger as explained by custody,
    # and no search is drafted
    assert f.now.state is CaseStatus.IN_CUSTODY
    absence = ("lost_contact_search", "lost_contact_warning", "lost_contact_revoke", "search_on_failure")
    assert [f.obligation(rule) for rule in absence] == [["waived"]] * 4
    assert all(o.waiver is not None and o.waiver.by == "ledger" and "custody" in o.waiver.reason
               for rule in absence for o in f.now.of_rule(rule))
    assert [o.rule_id for o in f.now.open_obligations()] == ["release_notice"]
    assert draft_pursuit_request(f.now, today=D(2026, 6, 20)) is None
    # When custody ends and the person then loses contact and misses a report
    f(C.custody(mid("custody-end"), at(D(2026, 7, 1)), started=D(2026, 6, 4), ended=D(2026, 7, 1)), D(2026, 7, 1))
    f(C.event(mid("lost-2"), at(D(2026, 7, 6)), kind="LOST_CONTACT"), D(2026, 7, 6))
    f(C.reporting(mid("not-reported-2"), at(D(2026, 7, 7)), result="NOT_REPORTED"), D(2026, 7, 7))
    # Then the absence rules run again and the search is drafted
    assert f.now.state is CaseStatus.LOST_CONTACT
    assert [f.obligation(rule, D(2026, 7, 6)) for rule in absence] == [
        ["waived", "due_today"], ["waived", "pending"], ["waived", "pending"], ["waived", "pending"]]
    draft = draft_pursuit_request(f.now, today=D(2026, 7, 7))
    assert draft is not None and (draft.kind, draft.last_contact_on) == ("ASSIST_SEARCH", D(2026, 7, 6))


def test_a_duplicate_changes_nothing() -> None:
    f = Feed()
    supervised(f)
    before = f.now
    t = f(C.receipt(mid("receipt"), at(D(2026, 4, 9)), of=mid("decision")), D(2026, 4, 9))
    assert t.duplicate and t.state == before and t.opened == t.met == t.cancelled == t.timeline == ()


# ---- replays, duplicates and orders ------------------------------------------------------------------------

def lifecycle() -> list[MessageFacts]:
    raws = [
        (C.commission(mid("commission"), at(D(2026, 3, 2))), D(2026, 3, 2)),
        (C.opinion(mid("opinion"), at(D(2026, 3, 12)), commission=mid("commission")), D(2026, 3, 12)),
        (C.decision(mid("decision"), at(D(2026, 4, 2))), D(2026, 4, 2)),
        (C.receipt(mid("receipt"), at(D(2026, 4, 3)), of=mid("decision")), D(2026, 4, 3)),
        (C.reporting(mid("report"), at(D(2026, 4, 8))), D(2026, 4, 8)),
        (C.event(mid("leave"), at(D(2026, 5, 29)), kind="LEAVE_APPROVED"), D(2026, 5, 29)),
        (C.event(mid("lost"), at(D(2026, 6, 8)), kind="LOST_CONTACT"), D(2026, 6, 8)),
        (C.pursuit_request(mid("assist"), at(D(2026, 6, 8)), kind="ASSIST_SEARCH", causation=None), D(2026, 6, 8)),
        (C.custody(mid("custody"), at(D(2026, 6, 9)), started=D(2026, 6, 9)), D(2026, 6, 9)),
        (C.proposal(mid("proposal"), at(D(2026, 6, 10))), D(2026, 6, 10)),
        (C.revocation(mid("revocation"), at(D(2026, 6, 20)), proposal=mid("proposal"), in_custody=True),
         D(2026, 6, 20)),
        (C.release(mid("termination"), at(D(2026, 6, 20)), kind="TERMINATED_REVOKED"), D(2026, 6, 20)),
    ]
    return [facts_of(raw, received_at=at(day)) for raw, day in raws]


LIFE = lifecycle()


def run(messages: list[MessageFacts]) -> CaseState:
    state = replay(messages, rules=RULES, calendar=CAL)
    assert state is not None
    return state


@settings(max_examples=80, deadline=None)
@given(prefix=st.integers(min_value=1, max_value=len(LIFE)), data=st.data())
def test_replays_and_interleaved_repeats_give_the_state_of_one_pass(prefix: int, data: st.DataObject) -> None:
    # Given the first messages of a case history, and the same stream with any earlier message repeated anywhere
    once = LIFE[:prefix]
    noisy: list[MessageFacts] = []
    for i, m in enumerate(once):
        noisy.append(m)
        noisy += data.draw(st.lists(st.sampled_from(once[: i + 1]), max_size=3))
    # When each is applied (and the whole stream applied twice over)
    # Then the state is exactly the state of applying each message once
    assert run(noisy) == run(once) == run(once + once)


@settings(max_examples=80, deadline=None)
@given(order=st.permutations(range(len(LIFE))))
def test_in_any_arrival_order_the_case_ends_in_the_same_state(order: list[int]) -> None:
    # Given the whole history arriving in any order (delayed links, outages)
    state = run([LIFE[i] for i in order])
    # Then nothing is left waiting and the case ends where the causal order leads
    assert state.pending == ()
    assert (state.state, state.responsible) == (CaseStatus.TERMINATED, "530581SF")
    assert set(state.applied) == {m.message_id for m in LIFE}
