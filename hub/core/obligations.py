"""Obligations: who owes whom what by when, on which rule, and where each one stands on a given legal day.

An obligation is opened by the message that triggers a rule of DOMAIN.md §2 and closed by the message that
discharges it (met), or set aside (waived) by an operator or by the ledger itself when a later fact makes it
moot (a custody notice explains an absence; a release ends supervision). Its id is a UUID 5 of the case key,
the rule id and the triggering message id, so rebuilding the ledger from the same messages gives the same ids.
A due date that needs a year the working-day calendar does not know is never guessed: the obligation carries
``calendar_missing`` (the year) until an operator loads that year and ``reschedule`` recomputes it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace
from enum import StrEnum

from hub.core.calendar import Calendar, CalendarMissing
from hub.core.rules import RuleBook

# Fixed namespace of obligation ids: changing it would change every id the hub has ever issued.
OBLIGATION_NAMESPACE = uuid.UUID("6f1c2a4e-8d3b-5e7f-9a0b-1c2d3e4f5a6b")
LEDGER = "ledger"  # who waives when the ledger itself sets an obligation aside


class ObligationStatus(StrEnum):
    """Where an obligation stands on a legal day."""

    PENDING = "pending"
    DUE_SOON = "due_soon"
    DUE_TODAY = "due_today"
    OVERDUE = "overdue"
    MET = "met"
    MET_LATE = "met_late"
    WAIVED = "waived"
    CALENDAR_MISSING = "calendar_missing"

    @property
    def label_zh(self) -> str:
        """The status as operators read it."""
        return _LABELS_ZH[self]


_LABELS_ZH = {
    ObligationStatus.PENDING: "未到期",
    ObligationStatus.DUE_SOON: "即将到期",
    ObligationStatus.DUE_TODAY: "今日到期",
    ObligationStatus.OVERDUE: "已逾期",
    ObligationStatus.MET: "已按期履行",
    ObligationStatus.MET_LATE: "逾期履行",
    ObligationStatus.WAIVED: "已免除",
    ObligationStatus.CALENDAR_MISSING: "缺少工作日历",
}
OPEN_STATUSES = frozenset({ObligationStatus.PENDING, ObligationStatus.DUE_SOON, ObligationStatus.DUE_TODAY,
                           ObligationStatus.OVERDUE, ObligationStatus.CALENDAR_MISSING})


@dataclass(frozen=True)
class Waiver:
    """Why an obligation was set aside, by whom (an operator, or ``ledger``) and on which legal day."""

    reason: str
    by: str
    on: dt.date


@dataclass(frozen=True)
class Obligation:
    """One owed step: ``obligor`` owes ``owes`` to ``obligee`` by ``due_date`` under rule ``rule_id``."""

    id: str
    case_key: str
    person_key: str | None
    rule_id: str
    step: int
    obligor: str
    obligee: str
    owes: str
    division: str  # the county whose rule row applies
    trigger_message: str
    trigger_date: dt.date
    due_date: dt.date | None
    due_soon_days: int
    calendar_missing: int | None = None
    met_on: dt.date | None = None
    met_by: str | None = None
    waiver: Waiver | None = None

    @property
    def is_open(self) -> bool:
        """Neither met nor waived."""
        return self.met_on is None and self.waiver is None

    def status(self, today: dt.date) -> ObligationStatus:
        """Where the obligation stands on the legal day ``today``."""
        if self.waiver is not None:
            return ObligationStatus.WAIVED
        if self.met_on is not None:
            late = self.due_date is not None and self.met_on > self.due_date
            return ObligationStatus.MET_LATE if late else ObligationStatus.MET
        if self.due_date is None:
            return ObligationStatus.CALENDAR_MISSING
        if today > self.due_date:
            return ObligationStatus.OVERDUE
        if today == self.due_date:
            return ObligationStatus.DUE_TODAY
        if (self.due_date - today).days <= self.due_soon_days:
            return ObligationStatus.DUE_SOON
        return ObligationStatus.PENDING

    def met(self, *, on: dt.date, by: str) -> Obligation:
        """This obligation discharged by message ``by`` on the legal day ``on``."""
        return replace(self, met_on=on, met_by=by)

    def waived(self, *, reason: str, by: str, on: dt.date) -> Obligation:
        """This obligation set aside; the reason and who decided are kept."""
        if not reason.strip() or not by.strip():
            raise ValueError("a waiver needs a reason and who waived")
        return replace(self, waiver=Waiver(reason, by, on))


def obligation_id(case_key: str, rule_id: str, trigger_message: str) -> str:
    """The stable id of the obligation ``rule_id`` opened in ``case_key`` by ``trigger_message``."""
    return str(uuid.uuid5(OBLIGATION_NAMESPACE, f"{case_key}\n{rule_id}\n{trigger_message}"))


def open_obligation(
    *,
    rules: RuleBook,
    calendar: Calendar,
    rule_id: str,
    division: str,
    case_key: str,
    person_key: str | None,
    obligor: str,
    obligee: str,
    trigger: dt.date,
    trigger_message: str,
) -> Obligation | None:
    """A new open obligation under the rule in effect on ``trigger`` for ``division``; None if no rule is."""
    try:
        rule = rules.rule(rule_id, division=division, on=trigger)
    except KeyError:
        return None
    due: dt.date | None
    missing: int | None = None
    try:
        due = rules.due(rule, trigger=trigger, calendar=calendar)
    except CalendarMissing as exc:
        due, missing = None, exc.year
    return Obligation(
        id=obligation_id(case_key, rule_id, trigger_message),
        case_key=case_key, person_key=person_key, rule_id=rule_id, step=rule.step,
        obligor=obligor, obligee=obligee, owes=rule.owes, division=division,
        trigger_message=trigger_message, trigger_date=trigger, due_date=due, due_soon_days=rule.due_soon_days,
        calendar_missing=missing,
    )


def reschedule(obligation: Obligation, *, rules: RuleBook, calendar: Calendar) -> Obligation:
    """The obligation with its due date recomputed (after a calendar year or a rule row was loaded)."""
    rule = rules.rule(obligation.rule_id, division=obligation.division, on=obligation.trigger_date)
    try:
        due = rules.due(rule, trigger=obligation.trigger_date, calendar=calendar)
    except CalendarMissing as exc:
        return replace(obligation, due_date=None, calendar_missing=exc.year)
    return replace(obligation, due_date=due, calendar_missing=None, due_soon_days=rule.due_soon_days)
