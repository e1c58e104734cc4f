"""What each message does to a case: the facts it adds and the obligations it opens (+), meets (=) and sets
aside (-), by rule id of hub/rules/national.toml:

- AssessmentCommission: + assessment_opinion (or assessment_opinion_fast for 速裁).
- AssessmentOpinion: = assessment_opinion(_fast).
- SentencingDecision: = notify_bureau, serve_documents (when the papers are complete), cure_documents (a
  second service); + receipt; + report, or handover when a custodian hands the person over; + release_notice
  due at the end of the period; - assessment_opinion(_fast).
- DocumentReceipt: = receipt of those papers; + cure_documents when INCOMPLETE, = it when COMPLETE.
- ReportingOutcome: = report, handover, search_on_failure; from bureau B, = report_after_transfer; - the
  police's pursuit_reply (the person turned up); NOT_REPORTED: + search_on_failure (set aside at once while
  the person is in custody).
- TransferPapers, escorted handover: = handover (and notify_bureau, serve_documents when the papers are
  themselves the 暂外 decision); + receipt.
- TransferPapers, county transfer: = transfer_papers; + receipt, report_after_transfer.
- TransferOpinion: REQUEST + transfer_opinion (owed by the asked county's bureau); REPLY = it.
- CustodyNotice: - the absence rules (report, handover, searches, lost contact, pursuit_request);
  = pursuit_reply (from the police); ARREST while a revocation proposal waits: + arrest_custody_limit (the
  court decides within 30 days of custody); custody ended: - arrest_custody_limit, and before arrival
  + report again.
- SupervisionEvent: LOST_CONTACT + lost_contact_search, lost_contact_warning, lost_contact_revoke (set aside at
  once while the person is in custody); WARNING = lost_contact_warning; CONTACT_RESTORED - the lost-contact
  rules and pursuit_reply.
- RevocationProposal: + revocation_decision, arrest_decision (requestArrest; + arrest_custody_limit when the
  arrest was reported first); = lost_contact_revoke.
- RevocationDecision: = revocation_decision, arrest_decision, arrest_custody_limit; GRANTED: - absence rules
  and the period-end release_notice, + release_notice (termination), + pursuit_request when the person is not
  in custody (who is then at large, whatever an earlier search found).
- PursuitRequest: = pursuit_request, lost_contact_search, search_on_failure; + pursuit_reply.
- PursuitResult: = pursuit_reply; ONGOING + pursuit_reply again; IN_CUSTODY - absence rules and
  pursuit_request (the police took the person before the bureau asked).
- ReleaseNotice: = release_notice; - every other open obligation but the pursuit of a person at large.

Any message about a case whose decision the hub has not received, but whose <case> shows the decision took
effect, opens notify_bureau and serve_documents for the deciding organ (漏管: documents never sent).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub.core.case_rules_absence import (
    ABSENCE,
    IN_CUSTODY,
    LOST,
    held_on_arrest,
    open_absence,
    pursuit_request,
    pursuit_result,
    release,
    revocation,
    revocation_proposal,
)
from hub.core.case_state import Papers, Progress, Transfer, missing_documents
from hub.core.case_work import Work, court_decides
from hub.core.fact_bodies import (
    CommissionFacts,
    CustodyFacts,
    DecisionFacts,
    EventFacts,
    OpinionFacts,
    ProposalFacts,
    PursuitRequestFacts,
    PursuitResultFacts,
    ReceiptFacts,
    ReleaseFacts,
    ReportingFacts,
    RevocationFacts,
    TransferFacts,
    TransferOpinionFacts,
)

ASSESSMENT = ("assessment_opinion", "assessment_opinion_fast")


def reveal_decision(w: Work) -> None:
    """A message other than the decision shows that it took effect: the deciding organ owes notice and papers."""
    if w.p.decision_message is not None or w.m.message_type in ("AssessmentCommission", "AssessmentOpinion",
                                                                 "SentencingDecision"):
        return
    w.progress(decision_known=True)
    effective = w.case.effective_date
    if effective is not None and not (isinstance(w.m.body, TransferFacts) and not court_decides(w.m)):
        w.open("notify_bureau", trigger=effective)
        w.open("serve_documents", trigger=effective)


def handle(w: Work) -> str:
    """Apply the message's own effects to ``w``; a one-line summary for the timeline."""
    apply = _HANDLERS.get(type(w.m.body))
    return apply(w, w.m.body) if apply is not None else f"{w.m.message_type}: no effect on the case"


def _assessment_opinion(w: Work, o: OpinionFacts) -> str:
    w.progress(assessed=True)
    w.meet(*ASSESSMENT)
    return f"调查评估意见 assessment opinion {o.conclusion} to {o.commissioning_organ}"


def _transfer(w: Work, t: TransferFacts) -> str:
    return _handover(w, t) if t.kind == "ESCORTED_HANDOVER" else _county_transfer(w, t)


def _commission(w: Work, c: CommissionFacts) -> str:
    w.progress(commissioned=True, commissioning_organ=c.commissioning_organ)
    if w.p.decision_known or w.p.decision_message is not None:
        return "调查评估委托 assessment commissioned after the decision: nothing owed"
    rule = "assessment_opinion_fast" if c.fast_track else "assessment_opinion"
    w.open(rule, trigger=w.learnt(c.commission_date), obligee=c.commissioning_organ)
    fast = " (速裁 fast track)" if c.fast_track else ""
    return f"调查评估委托 assessment commissioned by {c.commissioning_organ}{fast}"


def _serve(w: Work, kinds: tuple[str, ...], kind: str) -> bool:
    """Record papers served; whether every document Law 20 requires has now been served."""
    served = w.p.served_kinds | frozenset(kinds)
    complete = not missing_documents(served, w.case.correction_type)
    w.progress(served_kinds=served, documents_complete=complete,
               papers=(*w.p.papers, Papers(w.m.message_id, w.m.sender, kind)))
    return complete


def _decision(w: Work, d: DecisionFacts) -> str:
    first = w.p.decision_message is None
    complete = _serve(w, d.documents, "decision")
    w.open("receipt", trigger=w.day, obligee=w.m.sender, once=False)
    if not first:
        if complete:
            w.meet("serve_documents")
        w.meet("cure_documents")
        return "补充送达 papers served again" + ("" if complete else " (still incomplete)")
    w.progress(decision_known=True, decision_message=w.m.message_id)
    w.open_met("notify_bureau", trigger=d.effective_on)
    if complete:
        w.open_met("serve_documents", trigger=d.effective_on)
    else:
        w.open("serve_documents", trigger=d.effective_on)
    if not w.p.arrived:
        if w.case.correction_type == "TEMP_OUTSIDE" and d.original_custody:
            w.open("handover", trigger=d.effective_on, obligor=d.original_custody)
        else:
            w.open("report", trigger=d.effective_on)
    w.waive(*ASSESSMENT, reason="决定已作出 the decision was made")
    w.open_release()
    lacking = missing_documents(w.p.served_kinds, w.case.correction_type)
    return f"{d.decision_kind} 生效 {d.effective_on.isoformat()}, papers served" + (
        "" if complete else f" without {', '.join(sorted(lacking))}")


def _receipt(w: Work, r: ReceiptFacts) -> str:
    w.meet("receipt", where=lambda o: o.trigger_message == r.receipt_of)
    paper = next((p for p in w.p.papers if p.message_id == r.receipt_of), None)
    t = w.p.transfer
    if paper is not None and paper.kind == "transfer" and t is not None and t.papers_message == paper.message_id:
        w.progress(transfer=Transfer(t.from_division, t.to_division, t.papers_message, t.arrived, True))
    elif paper is not None:
        # The bureau's receipt for an escorted handover is its confirmation that the person arrived.
        if paper.kind == "handover" and not w.p.arrived:
            w.progress(arrived="handed_over")
        if paper.kind == "decision" or paper.message_id == w.p.decision_message:
            w.progress(receipted=True)
    if r.complete:
        w.meet("cure_documents")
        return "回执 receipt: papers complete"
    w.open("cure_documents", trigger=w.day, obligor=paper.sender if paper else None, obligee=w.m.sender,
           once=False)
    return f"回执 receipt: missing {', '.join(r.missing)}"


def _reporting(w: Work, o: ReportingFacts) -> str:
    t = w.p.transfer
    at_new = t is not None and not t.arrived and w.m.sender == w.roles("bureau", t.to_division)
    if o.result == "NOT_REPORTED":
        open_absence(w, "search_on_failure", trigger=w.day)
        held = " (在押 in custody)" if w.p.custody_since is not None else ""
        return f"未报到 did not report by {o.due_date.isoformat()}{held}"
    if at_new and t is not None:
        w.progress(transfer=Transfer(t.from_division, t.to_division, t.papers_message, True, t.receipted))
        w.meet("report_after_transfer", "search_on_failure")
        w.waive("pursuit_reply", reason="报到 the person reported")
        w.open_release()
        return f"报到 reported at the new county {t.to_division}"
    if not w.p.arrived:
        w.progress(arrived="reported")
    w.meet("report", "handover", "search_on_failure")
    if not w.p.at_large:
        w.waive("pursuit_reply", reason="报到 the person reported")
    return f"报到 {o.result.lower()} on {o.reported_on.isoformat() if o.reported_on else '?'}"


def _handover(w: Work, t: TransferFacts) -> str:
    if w.p.decision_message is None:
        # 暂外 approved by a prison administration or the police: these papers are the decision.
        complete = _serve(w, t.manifest, "handover")
        w.progress(decision_known=True, decision_message=w.m.message_id)
        effective = w.case.effective_date or t.decision_served_on or w.day
        w.open_met("notify_bureau", trigger=effective)
        (w.open_met if complete else w.open)("serve_documents", trigger=effective)
        w.waive(*ASSESSMENT, reason="决定已作出 the decision was made")
        w.open_release()
    else:
        _serve(w, t.manifest, "handover")
    if not w.meet("handover", "report"):
        served = t.decision_served_on or w.case.effective_date or w.day
        w.open_met("handover", trigger=served, obligor=t.escorting_agency or w.m.sender)
    w.open("receipt", trigger=w.day, obligee=w.m.sender, once=False)
    return f"押送交付 escorted handover by {t.escorting_agency or w.m.sender}"


def _county_transfer(w: Work, t: TransferFacts) -> str:
    source = t.from_division or w.before.execution_division
    target = t.to_division or w.case.execution_division
    w.progress(transfer=Transfer(source, target, w.m.message_id),
               papers=(*w.p.papers, Papers(w.m.message_id, w.m.sender, "transfer")))
    if t.change_decided_on is not None:
        w.open_met("transfer_papers", trigger=t.change_decided_on, division=source)
    w.open("receipt", trigger=w.day, obligor=w.roles("bureau", target), obligee=w.m.sender, division=target,
           once=False)
    w.open("report_after_transfer", trigger=t.decision_served_on or t.handover_date or w.day, division=target)
    return f"执行地变更 transfer from {source} to {target}"


def _transfer_opinion(w: Work, o: TransferOpinionFacts) -> str:
    if o.kind == "REQUEST":
        # B's 5 days run from the day the request reached B: the day the hub received it
        w.open("transfer_opinion", trigger=w.day, obligor=w.roles("bureau", o.to_division), obligee=w.m.sender,
               division=o.to_division, once=False)
        return f"执行地变更征求意见 {o.from_division} asks {o.to_division} for an opinion"
    w.meet("transfer_opinion", where=lambda ob: ob.obligor == w.m.sender)
    answer = {"AGREE": "同意接收 agrees", "DISAGREE": "不同意接收 disagrees"}.get(o.conclusion or "", o.conclusion)
    return f"执行地变更意见 {o.to_division} {answer}"


def _custody(w: Work, c: CustodyFacts) -> str:
    w.waive(*ABSENCE, "pursuit_request", reason=IN_CUSTODY)
    w.meet("pursuit_reply", where=lambda o: o.obligor == w.m.sender)
    if c.ended_on is None:
        w.progress(custody_since=c.started_on, custody_measure=c.measure, at_large=False)
        if c.measure == "ARREST" and w.p.revocation == "proposed":
            held_on_arrest(w, c.started_on)
        return f"羁押 {c.measure} from {c.started_on.isoformat()}"
    w.progress(custody_since=None, custody_measure=None, lost_contact_on=None, pursuit="")
    w.waive("arrest_custody_limit", reason="解除羁押 custody ended: the 30-day custody limit no longer runs")
    t = w.p.transfer
    if t is not None and not t.arrived:
        w.open("report_after_transfer", trigger=c.ended_on, division=t.to_division)
    elif not w.p.arrived and not w.p.revocation:
        w.open("report", trigger=c.ended_on)
    return f"解除羁押 custody ended {c.ended_on.isoformat()}"


def _event(w: Work, e: EventFacts) -> str:
    if e.kind == "LOST_CONTACT":
        w.progress(lost_contact_on=e.occurred_on, pursuit="")
        for rule in LOST:
            open_absence(w, rule, trigger=e.occurred_on)
        held = " (在押 in custody: no search owed)" if w.p.custody_since is not None else ""
        return f"失联 lost contact on {e.occurred_on.isoformat()}{held}"
    if e.kind == "CONTACT_RESTORED":
        w.progress(lost_contact_on=None, pursuit="")
        w.waive(*LOST, reason="恢复联系 contact restored")
        if not w.p.at_large:
            w.waive("pursuit_reply", reason="恢复联系 contact restored")
        return f"恢复联系 contact restored on {e.occurred_on.isoformat()}"
    if e.kind == "WARNING":
        w.meet("lost_contact_warning")
    return f"{e.kind.lower()} on {e.occurred_on.isoformat()}"


# What each body does to a case, by its class.
_HANDLERS: dict[type, Callable[[Work, Any], str]] = {
    CommissionFacts: _commission, OpinionFacts: _assessment_opinion, DecisionFacts: _decision,
    ReceiptFacts: _receipt, ReportingFacts: _reporting, TransferFacts: _transfer,
    TransferOpinionFacts: _transfer_opinion, CustodyFacts: _custody, EventFacts: _event,
    ProposalFacts: revocation_proposal, RevocationFacts: revocation, PursuitRequestFacts: pursuit_request,
    PursuitResultFacts: pursuit_result, ReleaseFacts: release,
}

__all__ = ["Progress", "handle", "reveal_decision"]
