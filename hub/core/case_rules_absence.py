"""What the messages about an absence and its end do to a case (see ``hub.core.case_rules`` for the list):
the revocation proposal and decision, the pursuit request and its results, and the release.

Custody explains an absence (DOMAIN §3): while the ledger knows the person is held, an absence rule (a search
on failure to report, the lost-contact clocks) is opened already set aside, so no alarm and no draft follow.
A revocation in force while the person is not in custody makes the person at large (在逃) whatever an earlier
search found: only the police's report on the pursuit that follows can say the person was found.
"""

from __future__ import annotations

import datetime as dt

from hub.core.case_work import Work
from hub.core.fact_bodies import (
    ProposalFacts,
    PursuitRequestFacts,
    PursuitResultFacts,
    ReleaseFacts,
    RevocationFacts,
)

# Obligations an explained absence (custody) or a revocation in force makes moot.
ABSENCE = ("report", "handover", "search_on_failure", "report_after_transfer", "lost_contact_search",
           "lost_contact_warning", "lost_contact_revoke")
LOST = ("lost_contact_search", "lost_contact_warning", "lost_contact_revoke")
IN_CUSTODY = "在押 in custody: the absence is explained"


def open_absence(w: Work, rule_id: str, *, trigger: dt.date) -> None:
    """Open an absence rule; while the person is in custody it is set aside at once, the absence explained."""
    ob = w.open(rule_id, trigger=trigger)
    if ob is not None and w.p.custody_since is not None:
        w.waive(rule_id, reason=IN_CUSTODY, where=lambda o: o.id == ob.id)


def revocation_proposal(w: Work, p: ProposalFacts) -> str:
    w.progress(revocation="proposed")
    court = w.m.to[0] if w.m.to else w.case.deciding_organ
    w.open("revocation_decision", trigger=w.learnt(p.proposed_on), obligor=court)
    if p.request_arrest:
        w.open("arrest_decision", trigger=w.learnt(p.proposed_on), obligor=court)
        if w.p.custody_since is not None and w.p.custody_measure == "ARREST":  # the arrest was reported first
            w.open("arrest_custody_limit", trigger=w.p.custody_since, obligor=court)
    w.meet("lost_contact_revoke")
    return f"提请{'撤销' if p.kind.startswith('REVOKE') else '收监'} {p.kind} proposed"


def held_on_arrest(w: Work, started_on: dt.date) -> None:
    """Arrested while a revocation proposal waits (Law 47): the court must decide before 30 days of custody."""
    court = next((o.obligor for o in w.obs.values() if o.is_open and o.rule_id == "revocation_decision"), None)
    if court is not None:
        w.open("arrest_custody_limit", trigger=started_on, obligor=court)


def revocation(w: Work, d: RevocationFacts) -> str:
    w.meet("revocation_decision", "arrest_decision", "arrest_custody_limit")
    if d.outcome != "GRANTED":
        w.progress(revocation="")
        return f"{d.kind} refused"
    kind = "recommitted" if d.kind == "RECOMMIT_TEMP_OUTSIDE" else "revoked"
    at_large = not d.person_in_custody and w.p.custody_since is None
    w.progress(revocation=kind, revocation_document=d.document_number, revocation_message=w.m.message_id,
               at_large=at_large)
    if at_large:
        # An earlier search (协查 after lost contact) found nobody the court's decision could be executed on.
        w.progress(pursuit="")
    w.waive(*ABSENCE, "release_notice", reason="撤销/收监 revocation in force")
    w.open("release_notice", trigger=w.learnt(d.decided_on))
    if at_large:
        w.open("pursuit_request", trigger=w.learnt(d.decided_on))
    return f"{d.kind} granted ({d.document_number})" + (", person at large 在逃" if at_large else "")


def pursuit_request(w: Work, p: PursuitRequestFacts) -> str:
    w.progress(pursuit="requested")
    w.meet("pursuit_request", "lost_contact_search", "search_on_failure")
    police = w.m.to[0] if w.m.to else w.agency("police")
    w.open("pursuit_reply", trigger=w.day, obligor=police, obligee=w.m.sender, once=False)
    return f"{'追逃' if p.kind == 'PURSUE_ABSCONDER' else '协查'} {p.kind} requested from {police}"


def pursuit_result(w: Work, r: PursuitResultFacts) -> str:
    w.meet("pursuit_reply")
    if r.status == "ONGOING":
        w.open("pursuit_reply", trigger=w.day, obligor=w.m.sender, obligee=w.m.to[0] if w.m.to else None)
    elif r.status == "LOCATED":
        w.progress(pursuit="located")
    elif r.status == "IN_CUSTODY":
        w.waive(*ABSENCE, "pursuit_request", reason=IN_CUSTODY)
        w.progress(pursuit="located", at_large=False, custody_since=r.located_on or r.reported_on)
    else:
        w.progress(pursuit="", at_large=False)
    return f"协查/追逃结果 pursuit result {r.status}"


def release(w: Work, r: ReleaseFacts) -> str:
    w.meet("release_notice")
    w.progress(ended="released" if r.kind == "RELEASED" else "terminated")
    keep = ("pursuit_request", "pursuit_reply") if w.p.at_large else ()
    rules = {o.rule_id for o in w.obs.values() if o.is_open and o.rule_id not in keep}
    w.waive(*rules, reason="解除/终止 supervision ended")
    return f"{r.kind.lower()} on {r.effective_on.isoformat()}"
