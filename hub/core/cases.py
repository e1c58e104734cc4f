"""The case ledger: one state machine per case, fed by every message the hub accepts.

``apply`` is pure: the state before and one message in, the state after and what changed out. A message
whose antecedent has not arrived (a receipt before the judgment it acknowledges, a release before the
decision) is kept in the state's ``pending`` and applied as soon as the antecedent comes; a message already
applied or already pending (same message id) changes nothing, so replays and redeliveries are harmless.
The per-message effects are in ``case_rules``; the values in ``case_state``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from hub.core.calendar import Calendar
from hub.core.case_rules import handle, reveal_decision
from hub.core.case_state import (
    STATUS_LABELS_ZH,
    CaseState,
    CaseStatus,
    Papers,
    Progress,
    RoleResolver,
    TimelineEntry,
    Transfer,
    Transition,
    conventional_roles,
    derive_status,
    responsible_agency,
)
from hub.core.case_work import Work, court_decides
from hub.core.fact_bodies import PersonFacts, ReceiptFacts, TransferFacts
from hub.core.facts import MessageFacts
from hub.core.obligations import Obligation
from hub.core.rules import RuleBook

__all__ = [
    "STATUS_LABELS_ZH",
    "CaseState",
    "CaseStatus",
    "Papers",
    "Progress",
    "RoleResolver",
    "TimelineEntry",
    "Transfer",
    "Transition",
    "apply",
    "conventional_roles",
    "new_case",
    "replay",
    "waiting_for",
]

# Messages that presuppose the decision; they wait for it when it has not arrived.
AFTER_DECISION = frozenset({"DocumentReceipt", "ReportingOutcome", "CustodyNotice", "SupervisionEvent",
                            "TransferOpinion", "RevocationProposal", "RevocationDecision", "PursuitRequest",
                            "PursuitResult", "ReleaseNotice"})
# Answers: when they name the message they answer (causationId), they wait for it.
ANSWERS = frozenset({"AssessmentOpinion", "ReportingOutcome", "RevocationDecision", "PursuitRequest",
                     "PursuitResult", "TransferOpinion"})


def waiting_for(state: CaseState | None, m: MessageFacts) -> str | None:
    """What ``m`` still waits for before it can be applied to ``state``; None when it can be applied now."""
    applied = state.applied if state is not None else ()
    decided = state is not None and state.progress.decision_message is not None
    body = m.body
    if isinstance(body, ReceiptFacts) and body.receipt_of not in applied:
        return f"the papers it acknowledges ({body.receipt_of})"
    needs_decision = m.message_type in AFTER_DECISION or (
        isinstance(body, TransferFacts) and (body.kind == "COUNTY_TRANSFER" or court_decides(m)))
    if needs_decision and not decided:
        return "the decision it follows (判决/裁定/决定)"
    if m.message_type in ANSWERS and m.causation_id and m.causation_id not in applied:
        return f"the message it answers ({m.causation_id})"
    return None


def new_case(m: MessageFacts, *, directory_roles: RoleResolver = conventional_roles) -> CaseState:
    """An empty case for the case key, person and case facts of ``m`` (nothing applied yet)."""
    if m.case is None or m.case_key is None:
        raise ValueError(f"{m.message_type} {m.message_id} carries no case: it is not a ledger message")
    progress = Progress()
    return CaseState(
        case_key=m.case_key, person_key=m.person_key, person=m.person, case=m.case,
        state=derive_status(progress), responsible=responsible_agency(progress, m.case, directory_roles),
        progress=progress, applied=(), obligations=(), pending=(),
    )


@dataclass
class _Changes:
    opened: list[str] = field(default_factory=list)
    met: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)


def apply(
    state: CaseState | None,
    m: MessageFacts,
    *,
    rules: RuleBook,
    calendar: Calendar,
    directory_roles: RoleResolver = conventional_roles,
) -> Transition:
    """The case after ``m`` (and after any pending message ``m`` releases); a duplicate changes nothing."""
    if state is None:
        state = new_case(m, directory_roles=directory_roles)
    elif m.case_key != state.case_key:
        raise ValueError(f"message {m.message_id} belongs to case {m.case_key}, not {state.case_key}")
    if m.message_id in state.applied or any(p.message_id == m.message_id for p in state.pending):
        return Transition(state, duplicate=True)
    changes = _Changes()
    held_for = waiting_for(state, m)
    state = _step(state, m, changes, held_for=held_for, rules=rules, calendar=calendar, roles=directory_roles)
    if held_for is None:
        state = _release_pending(state, changes, rules=rules, calendar=calendar, roles=directory_roles)
    final = {o.id: o for o in state.obligations}
    return Transition(
        state=state,
        opened=tuple(final[i] for i in dict.fromkeys(changes.opened)),
        met=tuple(final[i] for i in dict.fromkeys(changes.met)),
        cancelled=tuple(final[i] for i in dict.fromkeys(changes.cancelled)),
        timeline=tuple(changes.timeline),
    )


def replay(
    messages: list[MessageFacts],
    *,
    rules: RuleBook,
    calendar: Calendar,
    directory_roles: RoleResolver = conventional_roles,
) -> CaseState | None:
    """The state after applying ``messages`` of one case in order (a rebuild); None for no messages."""
    state: CaseState | None = None
    for m in messages:
        state = apply(state, m, rules=rules, calendar=calendar, directory_roles=directory_roles).state
    return state


def _release_pending(state: CaseState, changes: _Changes, *, rules: RuleBook, calendar: Calendar,
                     roles: RoleResolver) -> CaseState:
    progressed = True
    while progressed:
        progressed = False
        for waiting in state.pending:
            if waiting_for(state, waiting) is None:
                rest = tuple(p for p in state.pending if p.message_id != waiting.message_id)
                state = _step(replace(state, pending=rest), waiting, changes, held_for=None, rules=rules,
                              calendar=calendar, roles=roles)
                progressed = True
                break
    return state


def _step(state: CaseState, m: MessageFacts, changes: _Changes, *, held_for: str | None, rules: RuleBook,
          calendar: Calendar, roles: RoleResolver) -> CaseState:
    w = Work(state, m, rules=rules, calendar=calendar, roles=roles)
    if held_for is not None:
        # Held back: its 执行地 counts only once it is applied, but the decision its <case> block shows to be
        # in effect counts now (reveal_decision).
        w.case = replace(w.case, execution_division=w.before.execution_division)
    reveal_decision(w)
    if held_for is None:
        summary = handle(w)
        applied = (*state.applied, m.message_id)
        pending = state.pending
    else:
        summary = f"waits for {held_for}"
        applied = state.applied
        pending = (*state.pending, m)
    if w.notes:
        summary += "; " + "; ".join(w.notes)
    person, person_key = _person(state, m)
    status = derive_status(w.p)
    responsible = responsible_agency(w.p, w.case, roles)
    changes.opened += w.opened
    changes.met += w.met
    changes.cancelled += w.cancelled
    changes.timeline.append(TimelineEntry(
        message_id=m.message_id, message_type=m.message_type, sender=m.sender, received_at=m.received_at,
        state=status, responsible=responsible, summary=summary, held_for=held_for,
    ))
    obligations: tuple[Obligation, ...] = tuple(w.obs.values())
    return CaseState(
        case_key=state.case_key, person_key=person_key, person=person, case=w.case, state=status,
        responsible=responsible, progress=w.p, applied=applied, obligations=obligations, pending=pending,
    )


def _person(state: CaseState, m: MessageFacts) -> tuple[PersonFacts | None, str | None]:
    # A later message that brings a valid ID number upgrades a key built from a sender's own reference.
    key = m.person_key
    if key is not None and not key.startswith("ref|") and (state.person_key or "ref|").startswith("ref|"):
        return m.person, key
    return state.person or m.person, state.person_key or key
