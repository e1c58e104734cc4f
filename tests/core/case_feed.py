"""Applying test messages to the ledger as the hub would, and the short case histories the tests share."""

from __future__ import annotations

import datetime as dt

from hub.core.calendar import Calendar
from hub.core.cases import CaseState, RoleResolver, Transition, apply
from hub.core.facts import facts_of
from hub.core.rules import RuleBook, national
from tests.core.case_messages import SAMPLES, Case, at, id_number, message_id

RULES = national()
CAL = Calendar.seeded()


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def person_case(correction: str = "PROBATION", *, court: str = "530502FY", division: str = "530581", n: int = 1,
                effective: dt.date = dt.date(2026, 3, 31), period_end: dt.date = dt.date(2028, 3, 30)) -> Case:
    """杨国富's case number ``n``: decided 2026-03-20, in effect from ``effective``."""
    birth = dt.date(1988, 3, 14)
    number = id_number(division, birth, 31 + 2 * n)
    return Case(f"（2026）云0502刑初{n}号", court, correction, division, "杨国富", number, True, birth,
                effective - dt.timedelta(days=11), effective, period_end)


C = person_case()


def mid(name: str, case: Case = C) -> str:
    return message_id(case.number, name)


class Feed:
    """Applies messages to one case in order, keeping every transition."""

    def __init__(self, roles: RoleResolver | None = None, rules: RuleBook = RULES, calendar: Calendar = CAL) -> None:
        self.state: CaseState | None = None
        self.transitions: list[Transition] = []
        self.roles = roles
        self.rules = rules
        self.calendar = calendar

    def __call__(self, raw: bytes, day: dt.date) -> Transition:
        m = facts_of(raw, received_at=at(day))
        if self.roles is not None:
            t = apply(self.state, m, rules=self.rules, calendar=self.calendar, directory_roles=self.roles)
        else:
            t = apply(self.state, m, rules=self.rules, calendar=self.calendar)
        self.state = t.state
        self.transitions.append(t)
        return t

    @property
    def now(self) -> CaseState:
        assert self.state is not None
        return self.state

    def obligation(self, rule_id: str, today: dt.date = dt.date(2026, 12, 31)) -> list[str]:
        """The status of each obligation of ``rule_id`` on ``today``, in the order opened."""
        return [o.status(today).value for o in self.now.of_rule(rule_id)]


# ---- short histories of case C (decision in effect Tuesday 2026-03-31, 执行地 腾冲 530581) ---------------

def decided(f: Feed, case: Case = C, day: dt.date = dt.date(2026, 4, 2)) -> None:
    """The judgment served with complete papers, received on ``day``."""
    f(case.decision(mid("decision", case), at(day)), day)


def supervised(f: Feed, case: Case = C) -> None:
    """Served on 2 Apr, acknowledged on 3 Apr, the person reported on 8 Apr."""
    decided(f, case)
    f(case.receipt(mid("receipt", case), at(dt.date(2026, 4, 3)), of=mid("decision", case)), dt.date(2026, 4, 3))
    f(case.reporting(mid("report", case), at(dt.date(2026, 4, 8))), dt.date(2026, 4, 8))


def lost(f: Feed) -> None:
    """Supervised, then out of contact from 8 Jun."""
    supervised(f)
    f(C.event(mid("lost"), at(dt.date(2026, 6, 8)), kind="LOST_CONTACT"), dt.date(2026, 6, 8))


def proposed(f: Feed, *, arrest: bool = False, after_lost: bool = False) -> None:
    """A revocation proposed on 13 Jul."""
    (lost if after_lost else supervised)(f)
    f(C.proposal(mid("proposal"), at(dt.date(2026, 7, 13)), arrest=arrest), dt.date(2026, 7, 13))


def revoked(f: Feed, *, in_custody: bool) -> None:
    """Lost contact, proposal, and the probation revoked on 24 Jul."""
    proposed(f, after_lost=True)
    f(C.revocation(mid("revocation"), at(dt.date(2026, 7, 24)), proposal=mid("proposal"), in_custody=in_custody),
      dt.date(2026, 7, 24))
