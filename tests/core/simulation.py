"""A simulated county (腾冲市, 530581) over six months: hundreds of cases from sentencing to release, as the
agencies' canonical messages, with lapses injected on purpose and an outage of one court's link.

``simulate_county(seed)`` is deterministic by seed. Clean cases meet every obligation before it is even due
soon (so no notice of any kind is justified for them); each lapse case breaks one rule and carries the day
by which the law's own counting (CPL Art. 105 on the working-day calendar) says the alarm must have gone up.
During the outage every message of the court is held back and delivered all at once when the link returns,
and the agencies' follow-ups are scheduled from the day they really received it; the outage is itself a lapse
(``agency_outage``) for the cases whose judgment the court sent on its last day while the link was down.
``run_county`` feeds the messages to the ledger day by day, in arrival order, and plans the notices at the end of
each day.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from hub.core.alarms import Ladder, Notice, PursuitDraft, draft_pursuit_request, plan_notices
from hub.core.calendar import Calendar
from hub.core.cases import CaseState, apply
from hub.core.facts import facts_of, normalise_case_number
from hub.core.rules import RuleBook
from tests.core.case_messages import CST, Case, id_number, message_id

COUNTY, NEIGHBOUR = "530581", "530521"
COURTS = ("530502FY", "530581FY", "530500FY")
PRISON = "530502JY"
OUTAGE_AGENCY = "530502FY"
SURNAMES = "杨李段赵张王刘陈杞寸尹闫番"
GIVEN = ("国富", "春华", "玉兰", "明亮", "建国", "丽萍", "德光", "永昌", "金凤", "志强", "晓梅", "红英", "文斌", "海燕")
LAPSES = ("documents_never_sent", "receipt_never_returned", "never_reports", "transfer_never_arrives",
          "lost_contact", "at_large_no_reply", "agency_outage")
# how many days a lapse of each kind may need from the judgment's effect to its deadline
ROOM = {"transfer_never_arrives": 60, "lost_contact": 45, "at_large_no_reply": 100}
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Scheduled:
    """One message as the hub receives it."""

    received_at: dt.datetime
    raw: bytes
    case_key: str
    message_id: str
    sender: str
    delayed: bool


@dataclass(frozen=True)
class Lapse:
    """A rule broken on purpose: an alarm on one of ``rules`` must go up on or before ``deadline``."""

    kind: str
    case_key: str
    rules: tuple[str, ...]
    deadline: dt.date


@dataclass(frozen=True)
class County:
    start: dt.date
    days: int
    messages: tuple[Scheduled, ...]
    lapses: tuple[Lapse, ...]
    clean: frozenset[str]
    outage: tuple[dt.date, dt.date]  # the court's link is down from the first day until the second

    @property
    def end(self) -> dt.date:
        return self.start + self.days * DAY


class _Generator:
    def __init__(self, seed: int, start: dt.date, days: int, calendar: Calendar) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.start, self.end = start, start + days * DAY
        self.calendar = calendar
        self.outage = (start + days * 5 // 13 * DAY, start + (days * 5 // 13 + 11) * DAY)
        self.messages: list[Scheduled] = []
        self.affected: set[str] = set()
        self.last: dict[str, dt.datetime] = {}
        self.count = 0

    def key(self, case: Case) -> str:
        return f"{case.court}|{normalise_case_number(case.number)}"

    def send(self, case: Case, sender: str, day: dt.date, build: Callable[[str, dt.datetime], bytes]) -> dt.date:
        """Schedule one message written on ``day``; the day the hub receives it (later during the outage)."""
        self.count += 1
        mid = message_id("sim", self.seed, self.count)
        hour = 8 + self.rng.randint(0, 9)
        written = dt.datetime.combine(day, dt.time(hour, self.rng.randint(0, 59)), tzinfo=CST)
        # One case's messages of one day go out in the order the story tells them.
        last = self.last.get(self.key(case))
        if last is not None and last.date() == day and written <= last:
            written = last + dt.timedelta(minutes=1)
        self.last[self.key(case)] = written
        delayed = sender == OUTAGE_AGENCY and self.outage[0] <= day < self.outage[1]
        received = written + dt.timedelta(minutes=1)
        if delayed:
            received = dt.datetime.combine(self.outage[1], dt.time(7), tzinfo=CST) + self.count * dt.timedelta(
                seconds=1)
            self.affected.add(self.key(case))
        if received.date() < self.end:
            self.messages.append(Scheduled(received, build(mid, written), self.key(case), mid, sender, delayed))
        return received.date()

    def person_case(self, n: int, correction: str, court: str, effective: dt.date) -> Case:
        rng = self.rng
        male = rng.random() < 0.8
        birth = dt.date(rng.randint(1960, 2002), rng.randint(1, 12), rng.randint(1, 28))
        seq = rng.randint(0, 498) * 2 + (1 if male else 0)
        months = rng.choice((2, 3, 4, 6, 9, 12, 18, 24, 36))
        return Case(f"（2026）云{court[2:6]}刑初{n}号", court, correction, COUNTY,
                    rng.choice(SURNAMES) + rng.choice(GIVEN), id_number(COUNTY, birth, seq), male, birth,
                    effective - 11 * DAY, effective, effective + (months * 30 - 1) * DAY)

    # ---- the intake: assessment, decision, receipt, report or handover ----------------------------------

    def intake(self, c: Case, *, assess: bool, receipt: bool = True, report: bool = True,
               decision: bool = True, decided: dt.date | None = None) -> tuple[str, dt.date]:
        rng, ids = self.rng, {}
        if assess and c.effective - 35 * DAY >= self.start:
            fast = rng.random() < 0.2
            got = self.send(c, c.court, c.effective - rng.randint(20, 35) * DAY,
                            lambda m, t: (ids.setdefault("commission", m), c.commission(m, t, fast=fast))[1])
            self.send(c, c.bureau, got + rng.randint(0, 2 if fast else 5) * DAY,
                      lambda m, t: c.opinion(m, t, commission=ids["commission"]))
        custodial = c.correction == "TEMP_OUTSIDE"
        arrived = c.effective
        if decision:
            got = self.send(c, c.court, decided or c.effective + rng.randint(0, 2) * DAY, lambda m, t: (
                ids.setdefault("decision", m), c.decision(m, t, custody=PRISON if custodial else None))[1])
            if receipt:
                self.send(c, c.bureau, got + rng.randint(0, 2) * DAY,
                          lambda m, t: c.receipt(m, t, of=ids["decision"]))
            arrived = max(arrived, got)
        if custodial and decision:
            handed = self.send(c, PRISON, c.effective + rng.randint(1, 6) * DAY, lambda m, t: (
                ids.setdefault("handover", m), c.handover(m, t, custodian=PRISON, served=c.effective))[1])
            self.send(c, c.bureau, handed + rng.randint(0, 2) * DAY, lambda m, t: c.receipt(m, t, of=ids["handover"]))
            arrived = max(arrived, handed)
        elif report:
            day = c.effective + rng.randint(1, 6) * DAY
            self.send(c, c.bureau, day, lambda m, t: c.reporting(m, t, reported=t.date()))
            arrived = max(arrived, day)
        return ids.get("decision", ""), arrived + 3 * DAY

    # ---- what happens under supervision ------------------------------------------------------------------

    def clean_life(self, c: Case, settled: dt.date) -> None:
        rng = self.rng
        event = settled + rng.randint(5, 60) * DAY
        roll = rng.random()
        room = event + 45 * DAY < min(c.period_end, self.end)
        if not room or roll < 0.45:
            self.release(c, c)
        elif roll < 0.6:
            self.send(c, c.bureau, event, lambda m, t: c.event(m, t, kind="LEAVE_APPROVED"))
            self.release(c, c)
        elif roll < 0.7:
            self.send(c, c.police, event, lambda m, t: c.custody(m, t, started=event - DAY))
            ended = event + rng.randint(3, 15) * DAY
            self.send(c, c.police, ended, lambda m, t: c.custody(m, t, started=event - DAY, ended=ended))
            self.release(c, c)
        elif roll < 0.8:
            self.send(c, c.bureau, event, lambda m, t: c.event(m, t, kind="LOST_CONTACT"))
            self.send(c, c.bureau, event, lambda m, t: c.pursuit_request(m, t, kind="ASSIST_SEARCH", causation=None))
            self.send(c, c.bureau, event + rng.randint(2, 6) * DAY, lambda m, t: c.event(m, t, kind="CONTACT_RESTORED"))
            self.release(c, c)
        elif roll < 0.88:
            self.transfer(c, event, arrives=True)
        elif roll < 0.94:
            self.revoke_in_custody(c, event)
        else:
            self.revoke_at_large(c, event, reply=True)

    def release(self, c: Case, by: Case) -> None:
        if c.period_end < self.end:
            self.send(c, by.bureau, c.period_end, lambda m, t: by.release(m, t, on=c.period_end))

    def transfer(self, c: Case, decided: dt.date, *, arrives: bool) -> dt.date:
        rng, ids = self.rng, {}
        moved = replace(c, division=NEIGHBOUR)
        papers = decided + rng.randint(0, 2) * DAY
        self.send(c, c.bureau, papers, lambda m, t: (ids.setdefault("papers", m), c.county_transfer(
            m, t, to_division=NEIGHBOUR, decided=decided, served=papers))[1])
        self.send(c, moved.bureau, papers + rng.randint(0, 2) * DAY,
                  lambda m, t: c.receipt(m, t, of=ids["papers"], sender=moved.bureau, to=c.bureau))
        if arrives:
            self.send(c, moved.bureau, papers + rng.randint(1, 4) * DAY,
                      lambda m, t: c.reporting(m, t, sender=moved.bureau, reported=t.date()))
            self.release(c, moved)
        return papers

    def revoke_in_custody(self, c: Case, day: dt.date) -> None:
        rng, ids = self.rng, {}
        self.send(c, c.police, day, lambda m, t: c.custody(m, t, started=day - DAY))
        proposed = day + rng.randint(1, 3) * DAY
        self.send(c, c.bureau, proposed, lambda m, t: (ids.setdefault("proposal", m), c.proposal(m, t))[1])
        got = self.send(c, c.court, proposed + rng.randint(5, 20) * DAY,
                        lambda m, t: c.revocation(m, t, proposal=ids["proposal"], in_custody=True))
        self.send(c, c.bureau, got, lambda m, t: c.release(m, t, kind=self.termination(c)))

    def revoke_at_large(self, c: Case, lost: dt.date, *, reply: bool) -> dt.date:
        rng, ids = self.rng, {}
        self.send(c, c.bureau, lost, lambda m, t: c.event(m, t, kind="LOST_CONTACT"))
        self.send(c, c.bureau, lost, lambda m, t: (ids.setdefault("assist", m), c.pursuit_request(
            m, t, kind="ASSIST_SEARCH", causation=None))[1])
        self.send(c, c.bureau, lost + rng.randint(2, 5) * DAY, lambda m, t: c.event(m, t, kind="WARNING"))
        self.send(c, c.police, lost + 12 * DAY, lambda m, t: c.pursuit_result(m, t, status="ONGOING",
                                                                              request=ids["assist"]))
        proposed = lost + 14 * DAY
        self.send(c, c.bureau, proposed, lambda m, t: (ids.setdefault("proposal", m), c.proposal(m, t))[1])
        got = self.send(c, c.court, proposed + rng.randint(5, 10) * DAY, lambda m, t: (
            ids.setdefault("revocation", m), c.revocation(m, t, proposal=ids["proposal"], in_custody=False))[1])
        self.send(c, c.bureau, got, lambda m, t: (ids.setdefault("pursuit", m), c.pursuit_request(
            m, t, kind="PURSUE_ABSCONDER", causation=ids["revocation"]))[1])
        self.send(c, c.bureau, got, lambda m, t: c.release(m, t, kind=self.termination(c)))
        if reply:
            self.send(c, c.police, got + rng.randint(5, 10) * DAY,
                      lambda m, t: c.pursuit_result(m, t, status="IN_CUSTODY", request=ids["pursuit"]))
        return got

    @staticmethod
    def termination(c: Case) -> str:
        return "TERMINATED_RECOMMITTED" if c.correction == "TEMP_OUTSIDE" else "TERMINATED_REVOKED"

    # ---- lapses ----------------------------------------------------------------------------------------------

    def lapse_in_time(self, kind: str, n: int) -> Lapse:
        """A lapse of ``kind`` whose deadline falls inside the run (an outage's, inside the outage)."""
        court = OUTAGE_AGENCY if kind == "agency_outage" else "530581FY"
        for _ in range(50):
            if kind == "agency_outage":
                first = self.outage[0] - 20 * DAY
                days = [first + i * DAY for i in range(20) if self.outage[0] <= self.calendar.add_days(
                    first + i * DAY, 10) < self.outage[1]]
                effective = self.rng.choice(days)
            else:
                room = (self.end - self.start).days - ROOM.get(kind, 25)
                effective = self.start + self.rng.randint(10, max(10, room)) * DAY
            mark = len(self.messages)
            c = self.person_case(n, "PROBATION", court, effective)
            lapse = self.lapse(kind, c)
            if lapse.deadline < self.end - DAY:
                return lapse
            del self.messages[mark:]
            self.last.pop(lapse.case_key, None)
        raise ValueError(f"no room for a lapse of {kind} between {self.start} and {self.end}")

    def lapse(self, kind: str, c: Case) -> Lapse:
        add = self.calendar.add_days
        key = self.key(c)
        if kind == "documents_never_sent":
            self.intake(c, assess=False, decision=False)
            return Lapse(kind, key, ("notify_bureau", "serve_documents"), add(c.effective, 10))
        if kind == "receipt_never_returned":
            decided, _ = self.intake(c, assess=False, receipt=False)
            got = next(s.received_at.date() for s in self.messages if s.message_id == decided)
            return Lapse(kind, key, ("receipt",), add(got, 5))
        if kind == "agency_outage":  # the court sends on the last day, while its link is down
            deadline = add(c.effective, 10)
            self.intake(c, assess=False, decided=deadline)
            return Lapse(kind, key, ("notify_bureau", "serve_documents"), deadline)
        if kind == "never_reports":
            self.intake(c, assess=False, report=False)
            return Lapse(kind, key, ("report",), add(c.effective, 10))
        _, settled = self.intake(c, assess=False)
        day = settled + self.rng.randint(5, 30) * DAY
        if kind == "transfer_never_arrives":
            papers = self.transfer(c, day, arrives=False)
            return Lapse(kind, key, ("report_after_transfer",), add(papers, 7))
        if kind == "lost_contact":
            self.send(c, c.bureau, day, lambda m, t: c.event(m, t, kind="LOST_CONTACT"))
            return Lapse(kind, key, ("lost_contact_search",), day)
        got = self.revoke_at_large(c, day, reply=False)
        return Lapse(kind, key, ("pursuit_reply",), add(got, 30))


def simulate_county(seed: int, *, calendar: Calendar, cases: int = 300, per_lapse: int = 5,
                    start: dt.date = dt.date(2026, 1, 5), days: int = 182) -> County:
    """Six months of one county: ``cases`` clean cases and ``per_lapse`` cases of each lapse."""
    g = _Generator(seed, start, days, calendar)
    kinds = ("PROBATION", "CONTROL", "PAROLE", "TEMP_OUTSIDE")
    clean: set[str] = set()
    for n in range(1, cases + 1):
        correction = g.rng.choices(kinds, weights=(70, 10, 12, 8))[0]
        court = g.rng.choices(COURTS, weights=(5, 4, 1))[0]
        c = g.person_case(n, correction, court, start + g.rng.randint(20, days - 15) * DAY)
        _, settled = g.intake(c, assess=correction in ("PROBATION", "CONTROL") and g.rng.random() < 0.6)
        g.clean_life(c, settled)
        clean.add(g.key(c))
    lapses = [g.lapse_in_time(kind, 1000 + i) for i, kind in enumerate(LAPSES * per_lapse)]
    ordered = tuple(sorted(g.messages, key=lambda s: s.received_at))
    return County(start, days, ordered, tuple(lapses), frozenset(clean - g.affected), g.outage)


@dataclass
class Run:
    """What the ledger made of the county: final states, every notice sent, the first pursuit draft per case."""

    states: dict[str, CaseState] = field(default_factory=dict)
    notices: list[Notice] = field(default_factory=list)
    drafts: dict[str, tuple[dt.date, PursuitDraft]] = field(default_factory=dict)


def run_county(county: County, *, rules: RuleBook, calendar: Calendar, ladder: Ladder | None = None) -> Run:
    """Apply the messages day by day as they arrive; plan notices and drafts at the end of every day."""
    run, sent = Run(), set[tuple[str, str]]()
    by_day: dict[dt.date, list[Scheduled]] = {}
    for s in county.messages:
        by_day.setdefault(s.received_at.astimezone(CST).date(), []).append(s)
    watched = {lapse.case_key for lapse in county.lapses}
    today = county.start
    while today < county.end:
        for s in by_day.get(today, ()):
            m = facts_of(s.raw, received_at=s.received_at)
            run.states[s.case_key] = apply(run.states.get(s.case_key), m, rules=rules, calendar=calendar).state
        obligations = [o for state in run.states.values() for o in state.obligations]
        for notice in plan_notices(obligations, sent=sent, today=today, ladder=ladder or Ladder()):
            sent.add(notice.key)
            run.notices.append(notice)
        for key in watched - run.drafts.keys():
            state = run.states.get(key)
            draft = draft_pursuit_request(state, today=today) if state is not None else None
            if draft is not None:
                run.drafts[key] = (today, draft)
        today += DAY
    return run
