"""The working copy the ledger edits while it applies one message: case facts, progress, obligations.

Triggers. A rule counts from the legal date it names (the decision took effect, contact was lost); when the
obligor can only know that date from the message itself — it is the message's recipient — counting starts no
earlier than the day the hub received the message (``learnt``), so a party is never overdue for a message
that had not reached it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace

from hub.core.calendar import Calendar
from hub.core.case_state import CaseState, Progress, RoleResolver
from hub.core.fact_bodies import CaseFacts
from hub.core.facts import MessageFacts
from hub.core.obligations import LEDGER, Obligation, obligation_id, open_obligation
from hub.core.rules import RuleBook

# Messages whose <case> block may move the 执行地; any other message keeps the one the ledger knows.
PLACE_SETTERS = frozenset({"AssessmentCommission", "AssessmentOpinion", "SentencingDecision", "TransferPapers"})


def court_decides(m: MessageFacts) -> bool:
    """Whether a court is the deciding organ (by the registry's agency code convention, ``…FY``)."""
    # A 暂外 approved by a prison administration or the police has no court decision to wait for: the
    # escorted handover's papers are the decision.
    return m.case is not None and m.case.deciding_organ[6:8] == "FY"


def merge_case(known: CaseFacts, m: MessageFacts) -> CaseFacts:
    """The case facts after ``m``: its dates and type where it states them; its 执行地 only if it may move it."""
    new = m.case
    if new is None:
        return known
    return CaseFacts(
        case_number=known.case_number,
        deciding_organ=known.deciding_organ,
        correction_type=new.correction_type,
        decision_date=new.decision_date or known.decision_date,
        effective_date=new.effective_date or known.effective_date,
        period_start=new.period_start or known.period_start,
        period_end=new.period_end or known.period_end,
        execution_division=new.execution_division if m.message_type in PLACE_SETTERS else known.execution_division,
    )


class Work:
    """Applies one message to a copy of the case; ``opened``/``met``/``cancelled`` list the obligation ids."""

    def __init__(self, state: CaseState, m: MessageFacts, *, rules: RuleBook, calendar: Calendar,
                 roles: RoleResolver) -> None:
        self.state = state
        self.m = m
        self.rules = rules
        self.calendar = calendar
        self.roles = roles
        self.before = state.case
        self.case = merge_case(state.case, m)
        self.p: Progress = state.progress
        self.obs: dict[str, Obligation] = {o.id: o for o in state.obligations}
        self.opened: list[str] = []
        self.met: list[str] = []
        self.cancelled: list[str] = []
        self.notes: list[str] = []

    @property
    def day(self) -> dt.date:
        """The legal day the hub received the message being applied."""
        return self.m.received_on

    def learnt(self, day: dt.date | None) -> dt.date:
        """``day``, but not before the hub received the message that tells the obligor of it."""
        return max(day, self.day) if day is not None else self.day

    def agency(self, role: str) -> str:
        """The agency code playing ``role`` (a rule's obligor/obligee vocabulary) in this case now."""
        c, t = self.case, self.p.transfer
        if role in ("deciding_organ", "court", "custodian"):
            return c.deciding_organ
        if role == "commissioning_organ":
            return self.p.commissioning_organ or c.deciding_organ
        if role == "receiving_bureau":
            return self.roles("bureau", t.to_division if t else c.execution_division)
        if role == "sending_bureau":
            return self.roles("bureau", t.from_division if t else c.execution_division)
        if role in ("bureau", "police", "procuratorate"):
            return self.roles(role, c.execution_division)
        raise ValueError(f"unknown role {role!r}")

    def open_of(self, rule_id: str) -> list[Obligation]:
        """The open obligations of ``rule_id``."""
        return [o for o in self.obs.values() if o.rule_id == rule_id and o.is_open]

    def open(self, rule_id: str, *, trigger: dt.date, obligor: str | None = None, obligee: str | None = None,
             division: str | None = None, once: bool = True) -> Obligation | None:
        """Open ``rule_id`` triggered by this message (idempotent); with ``once``, not while one is open."""
        if once and self.open_of(rule_id):
            return None
        oid = obligation_id(self.state.case_key, rule_id, self.m.message_id)
        if oid in self.obs:
            return self.obs[oid]
        where = division or self.case.execution_division
        try:
            rule = self.rules.rule(rule_id, division=where, on=trigger)
        except KeyError:
            self.notes.append(f"no rule {rule_id} in effect on {trigger.isoformat()} for {where}")
            return None
        ob = open_obligation(
            rules=self.rules, calendar=self.calendar, rule_id=rule_id, division=where,
            case_key=self.state.case_key, person_key=self.state.person_key,
            obligor=obligor or self.agency(rule.obligor), obligee=obligee or self.agency(rule.obligee),
            trigger=trigger, trigger_message=self.m.message_id,
        )
        if ob is not None:
            self.obs[ob.id] = ob
            self.opened.append(ob.id)
        return ob

    def meet(self, *rule_ids: str, where: Callable[[Obligation], bool] | None = None) -> int:
        """Mark the open obligations of these rules met by this message; how many were."""
        count = 0
        for oid, o in list(self.obs.items()):
            if o.rule_id in rule_ids and o.is_open and (where is None or where(o)):
                self.obs[oid] = o.met(on=self.day, by=self.m.message_id)
                self.met.append(oid)
                count += 1
        return count

    def open_met(self, rule_id: str, *, trigger: dt.date, obligor: str | None = None,
                 division: str | None = None) -> None:
        """The message itself discharges ``rule_id``: meet the open one, or open one and meet it at once."""
        if not self.meet(rule_id):
            self.open(rule_id, trigger=trigger, obligor=obligor, division=division)
            self.meet(rule_id)

    def waive(self, *rule_ids: str, reason: str, where: Callable[[Obligation], bool] | None = None) -> None:
        """Set aside the open obligations of these rules: a later fact made them moot."""
        for oid, o in list(self.obs.items()):
            if o.rule_id in rule_ids and o.is_open and (where is None or where(o)):
                self.obs[oid] = o.waived(reason=reason, by=LEDGER, on=self.day)
                self.cancelled.append(oid)

    def open_release(self) -> None:
        """The release notice owed when the supervision period ends, kept in step with the period's end."""
        end = self.case.period_end
        if end is None or self.p.ended or self.p.revocation in ("revoked", "recommitted"):
            return
        current = self.open_of("release_notice")
        if any(o.trigger_date == end and o.obligor == self.agency("bureau") for o in current):
            return
        self.waive("release_notice", reason="矫正期限或执行地变更 period or place of execution changed")
        self.open("release_notice", trigger=end)

    def progress(self, **changes: object) -> None:
        """Record what the message taught the ledger about the case."""
        self.p = replace(self.p, **changes)  # type: ignore[arg-type]
