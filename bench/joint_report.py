"""The joint-meeting report of one county: ``python -m bench.joint_report [PERSONS] [MESSAGES] [--db PATH]``
(defaults 10000 and 50 messages a person: 500000). Target: the report of a county with 10,000 persons and 500,000
messages generated in under 10 s.

The county is 腾冲市 (530581) of the demo registry (``hub/registry/baoshan.toml``, its agencies' real names in the
report). PERSONS persons whose community corrections took effect from 2021 to mid-2026, each with the messages the
agencies send about them, received over five and a half years in acceptance order (``tests.core.case_messages.Case``
builds each from the canonical samples):

- the intake: for some an assessment commissioned by the court and its opinion; the court's decision (most within
  the 5 days, some late, a few of the last months never sent); the bureau's receipt; the person reporting (on time,
  late, or not reported, searched for and found); for those serving outside prison the prison's escorted handover;
- under supervision: leave approved, changes of residence, admonitions, warnings (as many as MESSAGES leaves room
  for, spread over each person's time on the books); lost contact (a search asked of the police, who answer, and
  contact restored; or a warning; or at large: a revocation proposed, granted, and a pursuit); custody and
  revocation; changes of county both ways (the opinion asked, the papers, their receipt, reporting there); deaths;
- the release at the end of the supervision period, when it has come.

Every message is read by the hub itself before it is stored (``Hub.prepare``: the canonical parse with its schema
and semantic checks, the sender's authority, routing) and stored as ``hub.store.ingest`` writes the ``messages``
row; the case ledger is then built by the hub's projection (``hub.casework.rebuild``, which drops the ledger's
secondary indexes, runs ``catch_up`` and builds them again), which writes ``case_facts``, ``obligations`` and
``cases`` as it does for every message it applies. Then, through the hub's own functions: failed transfers on
about one message in 170 (``open_failed_transfer``, most resolved with ``resolve_failed_transfers``), a few hundred
discrepancy items (rows as the reconciliation writes them), and the bureau's historical register as of
2020-12-31 (``hub.report.history.import_history``, 0.3 rows a person).

Measured in a child process (so that peak RSS is its own), each step several times (median and worst): the report
for 2026-01-01 – 2026-06-30 as of 2026-07-10, its two parts (``hub.report.data.load``,
``hub.report.figures.joint_meeting``) and the whole ``hub.report.build.joint_meeting``, then ``render`` to json,
html, xlsx and pdf. The baseline, in the same process: the SELECTs ``load`` sends, captured from the engine and
sent again with the sqlite3 module, every row fetched and nothing built. Each figure is printed as a multiple of
that baseline. Peak RSS (VmHWM, reset before each step through ``/proc/self/clear_refs``) of each step.

``--db PATH`` keeps the generated database (and ``PATH.json`` saying what it holds) and a later run with the same
PERSONS and MESSAGES measures it again without generating anything: the hub's migrations are applied to it first,
and the ledger is projected again when it was written in another format (``--reproject``: projected again in any
case, for a change to the projection that keeps the format). ``--repeat N`` times each step N times (default 5);
``--profile`` adds one cProfile run of building the report and of each renderer, with their top functions.
"""

from __future__ import annotations

import contextlib
import cProfile
import csv
import datetime as dt
import functools
import gc
import io
import json
import pstats
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.ledger_scale import peak_mib
from tests.core.case_messages import CST, Case, id_number, message_id

COUNTY = "530581"
BUREAU = COUNTY + "SF"
NEIGHBOURS = ("530502", "530521", "530523", "530524")
PRISON, DETENTION = "530502JY", "530502KS"
FIRST, LAST_EFFECTIVE = dt.date(2021, 1, 4), dt.date(2026, 6, 20)
LAST = dt.date(2026, 7, 9)  # the last day a message is received
PERIOD_FROM, PERIOD_TO, TODAY = dt.date(2026, 1, 1), dt.date(2026, 6, 30), dt.date(2026, 7, 10)
NOW = dt.datetime(2026, 7, 10, 9, tzinfo=CST)
HISTORY_AS_OF = dt.date(2020, 12, 31)
PER_PERSON = 50
FORMATS = ("json", "html", "xlsx", "pdf")
TARGET_S = 10.0
DAY = dt.timedelta(days=1)
SURNAMES = "杨李段赵张王刘陈杞寸尹闫番周孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏"
GIVEN = ("国富", "春华", "玉兰", "明亮", "建国", "丽萍", "德光", "永昌", "金凤", "志强", "晓梅", "红英", "文斌", "海燕",
         "伟", "芳", "娜", "秀英", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "超", "桂英")
# (kind, weight) of the supervision events that fill each person's time on the books
POOL_EVENTS = (("LEAVE_APPROVED", 55), ("RESIDENCE_CHANGE", 15), ("ADMONITION", 20), ("WARNING", 10))
# failed transfers: one message in FAILED_EVERY, by cause (weight); how the resolved ones were resolved (weight)
FAILED_EVERY = 170
CAUSES = (("retries_exhausted", 55), ("rejected", 20), ("not_collected", 15), ("no_recipient", 10))
RESOLUTIONS = (("delivered after retry", 45), ("acknowledged by the recipient", 15),
               ("routed again after a registry change", 10), ("superseded by message {m} (edit {e} by 张敏, approved "
                                                             "by 李强)", 15),
               ("resolved without delivery: 已派员送达纸质文书", 15))
CATEGORIES = ("decided_not_in_register", "in_register_without_basis", "type_or_period_mismatch", "status_mismatch",
              "custody_vs_supervision")

Build = Callable[[str, dt.datetime], bytes]


# ---- the county's messages ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Planned:
    received: dt.datetime
    n: int
    sender: str
    mid: str
    written: dt.datetime
    build: Build


@dataclass
class Person:
    case: Case
    segments: list[tuple[Case, dt.date, dt.date]] = field(default_factory=list)  # (case as there, on, off)


class County:
    """Every message about the county's persons, planned (not built): when it is written and received, who sends
    it and how to build it."""

    def __init__(self, persons: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.planned: list[Planned] = []
        self.persons: list[Person] = []
        self.ids: set[str] = set()
        self.last: dict[str, dt.datetime] = {}
        for n in range(persons):
            self.person(n)

    def send(self, c: Case, sender: str, day: dt.date, build: Build, *, ordered: bool = True
             ) -> tuple[str, dt.date] | None:
        """Plan one message written on ``day``; its id and the day it is received (None: after the last day).
        ``ordered``: written after the case's message received last if that was on the same day."""
        rng = self.rng
        written = dt.datetime.combine(day, dt.time(8 + rng.randint(0, 9), rng.randint(0, 59)), tzinfo=CST)
        last = self.last.get(c.number) if ordered else None
        if last is not None and last.date() == day and written <= last:
            written = last + dt.timedelta(minutes=1)
        received = written + dt.timedelta(minutes=rng.randint(1, 20), seconds=rng.randint(0, 59))
        if ordered:
            self.last[c.number] = received
        if received.date() > LAST:
            return None
        mid = message_id("joint-report", self.seed, len(self.planned))
        self.planned.append(Planned(received, len(self.planned), sender, mid, written, build))
        return mid, received.date()

    def new_case(self, n: int) -> Case:
        rng = self.rng
        correction = rng.choices(("PROBATION", "CONTROL", "PAROLE", "TEMP_OUTSIDE"), (72, 5, 15, 8))[0]
        court = "530500FY" if correction == "PAROLE" else rng.choices(("530581FY", "530502FY", "530500FY"),
                                                                      (80, 8, 12))[0]
        division = rng.choice(NEIGHBOURS) if rng.random() < 0.04 else COUNTY  # 4 %: arrive later from another
        effective = FIRST + rng.randrange((LAST_EFFECTIVE - FIRST).days) * DAY
        months = {"CONTROL": (3, 24), "PROBATION": (6, 60), "PAROLE": (3, 36), "TEMP_OUTSIDE": (3, 24)}[correction]
        length = rng.randint(*months) if rng.random() < 0.3 else rng.randint(months[0], (months[0] + months[1]) // 2)
        male = rng.random() < 0.85
        while True:
            birth = dt.date(rng.randint(1955, 2004), rng.randint(1, 12), rng.randint(1, 28))
            person_id = id_number(rng.choice((COUNTY, COUNTY, division, "530502")), birth,
                                  rng.randint(0, 498) * 2 + (1 if male else 0))
            if person_id not in self.ids:
                self.ids.add(person_id)
                break
        word = "刑更" if correction == "PAROLE" else "刑初"
        return Case(f"（{effective.year}）云{court[2:6]}{word}{n + 1}号", court, correction, division,
                    rng.choice(SURNAMES) + rng.choice(GIVEN), person_id, male, birth,
                    effective - rng.randint(8, 15) * DAY, effective, effective + (length * 30 - 1) * DAY)

    def person(self, n: int) -> None:
        rng = self.rng
        c = self.new_case(n)
        p = Person(c)
        self.persons.append(p)
        arrived = self.intake(c)
        if arrived is None:
            return
        here, on = c, arrived
        end = min(c.period_end, LAST)
        if c.division != COUNTY:  # comes to the county some months into supervision
            moved = self.transfer(c, replace(c, division=COUNTY), on + rng.randint(30, 200) * DAY)
            if moved is None:
                p.segments.append((c, on, end))
                return
            p.segments.append((c, on, moved))
            here, on = replace(c, division=COUNTY), moved
        roll = rng.random()
        span = (end - on).days
        if span < 20:
            p.segments.append((here, on, end))
            self.release(here)
            return
        day = on + rng.randint(10, span - 5) * DAY
        if roll < 0.04 and here.division == COUNTY:  # moves to another county
            other = replace(here, division=rng.choice(NEIGHBOURS))
            moved = self.transfer(here, other, day)
            if moved is None:
                p.segments.append((here, on, end))
                return
            p.segments += [(here, on, moved), (other, moved, end)]
            self.release(other)
        elif roll < 0.10:  # lost contact, found within days
            p.segments.append((here, on, end))
            self.lost_contact(here, day, days=rng.randint(2, 8))
            self.release(here)
        elif roll < 0.13:  # lost contact for weeks: warned
            p.segments.append((here, on, end))
            self.lost_contact(here, day, days=rng.randint(12, 25))
            self.release(here)
        elif roll < 0.145:  # at large: revoked, pursued
            stop = self.at_large(here, day)
            p.segments.append((here, on, stop))
        elif roll < 0.165:  # in custody for a new offence: revoked
            stop = self.revoke_in_custody(here, day)
            p.segments.append((here, on, stop))
        elif roll < 0.168:
            p.segments.append((here, on, day))
            self.send(here, here.bureau, day, lambda m, t: here.release(m, t, kind="TERMINATED_DEATH",
                                                                        on=t.date() - DAY))
        else:
            p.segments.append((here, on, end))
            self.release(here)

    def intake(self, c: Case) -> dt.date | None:
        """Assessment, decision, receipt, report or handover; the day the person is on the books (None: never)."""
        rng = self.rng
        recent = c.effective > LAST - 120 * DAY
        if rng.random() < 0.3:
            fast = rng.random() < 0.15
            got = self.send(c, c.court, c.decided - rng.randint(10, 25) * DAY,
                            lambda m, t: c.commission(m, t, fast=fast))
            if got is not None:
                late = rng.random() < 0.08
                wait = rng.randint(12, 20) if late else rng.randint(1, 4 if fast else 9)
                self.send(c, c.bureau, got[1] + wait * DAY, _with(c.opinion, commission=got[0]))
        roll = rng.random()
        if recent and roll < 0.01:
            return None  # the court has not sent its decision (an open obligation)
        delay = rng.randint(0, 3) if roll < 0.88 else (rng.randint(6, 9) if roll < 0.96 else rng.randint(11, 20))
        custodial = c.correction == "TEMP_OUTSIDE"
        got = self.send(c, c.court, c.effective + delay * DAY, lambda m, t: c.decision(
            m, t, custody=PRISON if custodial else None))
        if got is None:
            return None
        decision, day = got
        roll = rng.random()
        if not (recent and roll < 0.02):
            wait = rng.randint(0, 3) if roll < 0.92 else rng.randint(6, 12)
            self.send(c, c.bureau, day + wait * DAY, lambda m, t: c.receipt(m, t, of=decision))
        if custodial:
            custodian = rng.choice((PRISON, PRISON, DETENTION))
            handed = self.send(c, custodian, c.effective + rng.randint(1, 8) * DAY, lambda m, t: c.handover(
                m, t, custodian=custodian, served=c.effective))
            if handed is None:
                return None
            self.send(c, c.bureau, handed[1] + rng.randint(0, 2) * DAY,
                      _with(c.receipt, of=handed[0]))
            return handed[1]
        roll = rng.random()
        if recent and roll < 0.02:
            return None  # not reported yet, nothing said
        if roll < 0.90:
            got = self.send(c, c.bureau, c.effective + rng.randint(1, 9) * DAY,
                            lambda m, t: c.reporting(m, t, reported=t.date()))
        elif roll < 0.98:
            got = self.send(c, c.bureau, c.effective + rng.randint(11, 20) * DAY,
                            lambda m, t: c.reporting(m, t, result="REPORTED_LATE", reported=t.date()))
        else:  # not reported: searched for, found, reports late
            due = c.effective + 10 * DAY
            self.send(c, c.bureau, due + DAY, lambda m, t: c.reporting(m, t, result="NOT_REPORTED"))
            asked = self.send(c, c.bureau, due + DAY, lambda m, t: c.pursuit_request(m, t, kind="ASSIST_SEARCH",
                                                                                     causation=None))
            found = due + rng.randint(3, 10) * DAY
            if asked is not None:
                self.send(c, c.police, found, _with(c.pursuit_result, status="LOCATED", request=asked[0]))
            got = self.send(c, c.bureau, found + DAY, lambda m, t: c.reporting(m, t, result="REPORTED_LATE",
                                                                              reported=t.date()))
        return None if got is None else got[1]

    def transfer(self, c: Case, to: Case, day: dt.date) -> dt.date | None:
        """A change of county from ``c`` to ``to`` decided on ``day``; the day the person reports there."""
        rng = self.rng
        if rng.random() < 0.5:
            asked = self.send(c, c.bureau, max(c.effective + DAY, day - rng.randint(8, 15) * DAY),
                              lambda m, t: c.transfer_opinion(m, t, to_division=to.division, asked=t.date()))
            if asked is not None:
                self.send(c, to.bureau, asked[1] + rng.randint(1, 6) * DAY, _with(
                    c.transfer_opinion, to_division=to.division, asked=asked[1], reply="AGREE", request=asked[0]))
        served = day + rng.randint(0, 3) * DAY
        papers = self.send(c, c.bureau, served, lambda m, t: c.county_transfer(
            m, t, to_division=to.division, decided=day, served=served))
        if papers is None:
            return None
        self.send(c, to.bureau, papers[1] + rng.randint(0, 2) * DAY,
                  _with(c.receipt, of=papers[0], sender=to.bureau, to=c.bureau))
        got = self.send(c, to.bureau, papers[1] + rng.randint(1, 6) * DAY,
                        lambda m, t: c.reporting(m, t, sender=to.bureau, reported=t.date()))
        return None if got is None else got[1]

    def lost_contact(self, c: Case, day: dt.date, *, days: int) -> None:
        rng = self.rng
        self.send(c, c.bureau, day, lambda m, t: c.event(m, t, kind="LOST_CONTACT"))
        asked = self.send(c, c.bureau, day, lambda m, t: c.pursuit_request(m, t, kind="ASSIST_SEARCH",
                                                                           causation=None))
        if days > 10:
            self.send(c, c.bureau, day + 10 * DAY, lambda m, t: c.event(m, t, kind="WARNING"))
        if asked is not None and rng.random() > 0.03:  # 3 %: the police never answer
            self.send(c, c.police, day + min(days, rng.randint(1, 10)) * DAY,
                      _with(c.pursuit_result, status="LOCATED", request=asked[0]))
        self.send(c, c.bureau, day + days * DAY, lambda m, t: c.event(m, t, kind="CONTACT_RESTORED"))

    def at_large(self, c: Case, lost: dt.date) -> dt.date:
        rng = self.rng
        self.send(c, c.bureau, lost, lambda m, t: c.event(m, t, kind="LOST_CONTACT"))
        asked = self.send(c, c.bureau, lost, lambda m, t: c.pursuit_request(m, t, kind="ASSIST_SEARCH",
                                                                            causation=None))
        self.send(c, c.bureau, lost + rng.randint(10, 12) * DAY, lambda m, t: c.event(m, t, kind="WARNING"))
        if asked is not None:
            self.send(c, c.police, lost + 12 * DAY, _with(c.pursuit_result, status="ONGOING", request=asked[0]))
        proposed = lost + rng.randint(31, 36) * DAY
        proposal = self.send(c, c.bureau, proposed, lambda m, t: c.proposal(m, t))
        decided = proposed + rng.randint(5, 25) * DAY
        revocation = self.send(c, c.court, decided, _with(c.revocation, proposal=proposal[0] if proposal else None,
                                                          in_custody=False))
        if revocation is None:
            return min(decided, LAST)
        pursuit = self.send(c, c.bureau, revocation[1], _with(c.pursuit_request, kind="PURSUE_ABSCONDER",
                                                              causation=revocation[0]))
        self.send(c, c.bureau, revocation[1], lambda m, t: c.release(m, t, kind=_termination(c)))
        if pursuit is not None and rng.random() < 0.85:
            self.send(c, c.police, revocation[1] + rng.randint(5, 40) * DAY,
                      _with(c.pursuit_result, status="IN_CUSTODY", request=pursuit[0]))
        return revocation[1]

    def revoke_in_custody(self, c: Case, day: dt.date) -> dt.date:
        rng = self.rng
        self.send(c, c.police, day, lambda m, t: c.custody(m, t, started=day - DAY))
        proposed = day + rng.randint(1, 5) * DAY
        proposal = self.send(c, c.bureau, proposed, lambda m, t: c.proposal(m, t))
        wait = rng.randint(5, 25) if rng.random() < 0.9 else rng.randint(32, 45)
        granted = rng.random() < 0.9
        got = self.send(c, c.court, proposed + wait * DAY, _with(
            c.revocation, proposal=proposal[0] if proposal else None, in_custody=True, granted=granted))
        if got is None:
            return min(proposed + wait * DAY, LAST)
        if not granted:
            self.send(c, c.police, got[1] + rng.randint(1, 5) * DAY, lambda m, t: c.custody(
                m, t, started=day - DAY, ended=t.date()))
            self.release(c)
            return min(c.period_end, LAST)
        self.send(c, c.bureau, got[1] + rng.randint(0, 2) * DAY, lambda m, t: c.release(m, t, kind=_termination(c)))
        return got[1]

    def release(self, c: Case) -> None:
        if c.period_end <= LAST:
            late = self.rng.random() < 0.05
            self.send(c, c.bureau, c.period_end + (self.rng.randint(1, 4) if late else 0) * DAY,
                      lambda m, t: c.release(m, t, on=c.period_end))

    def fill(self, total: int) -> int:
        """Supervision events until there are ``total`` messages, spread over the persons' time on the books."""
        spare = total - len(self.planned)
        windows = [(case, on + DAY, off - DAY) for p in self.persons for case, on, off in p.segments
                   if (off - on).days > 2]
        if spare <= 0 or not windows:
            return 0
        rng = self.rng
        kinds = [k for k, w in POOL_EVENTS for _ in range(w)]
        for case, on, off in rng.choices(windows, weights=[(b - a).days for _, a, b in windows], k=spare):
            day = on + rng.randint(0, (off - on).days) * DAY
            kind = rng.choice(kinds)
            self.send(case, case.bureau, day, _with(case.event, kind=kind, sender=case.bureau), ordered=False)
        return spare


def _with(method: Callable[..., bytes], **kwargs: Any) -> Build:
    """A message of ``method`` (a ``Case`` method) with these arguments."""
    return lambda m, t: method(m, t, **kwargs)


def _termination(c: Case) -> str:
    return "TERMINATED_RECOMMITTED" if c.correction == "TEMP_OUTSIDE" else "TERMINATED_REVOKED"


def sqlite_hub(path: Path) -> tuple[Any, Any, Any]:
    """A migrated SQLite database at ``path`` with the demo registry: (engine, directory, hub)."""
    from hub.canonical import load_schema
    from hub.migrate import upgrade
    from hub.registry import load_registry
    from hub.resources import default_registry_path
    from hub.service import Hub
    from hub.store.db import make_engine

    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url, pool_size=1)
    directory = load_registry(default_registry_path())
    return engine, directory, Hub(engine=engine, directory=directory, schema=load_schema())


def generate(path: Path, persons: int, messages: int, *, seed: int = 5) -> dict[str, Any]:
    """Store the county's messages as the hub stores them (each read by ``Hub.prepare`` first), then its failed
    transfers, discrepancy items and historical register. What was written, and how long it took."""
    from sqlalchemy import insert

    from hub.store.ingest import _message_row
    from hub.store.schema import messages as messages_table

    t0 = time.perf_counter()
    engine, directory, hub = sqlite_hub(path)
    county = County(persons, seed)
    skeleton = len(county.planned)
    county.fill(messages)
    planned = sorted(county.planned, key=lambda p: (p.received, p.n))
    county.planned = []
    t_plan = time.perf_counter() - t0
    rng = random.Random(seed + 1)
    failing: list[tuple[str, dt.datetime, list[str]]] = []  # (message, received, recipients)
    types: dict[str, int] = {}
    with engine.begin() as conn:
        for i in range(0, len(planned), 2000):
            rows = []
            for p in planned[i:i + 2000]:
                item = hub.prepare(p.build(p.mid, p.written), agency=directory.agencies[p.sender])
                rows.append(_message_row(item, p.received.astimezone(dt.UTC)))
                types[item.msg.message_type] = types.get(item.msg.message_type, 0) + 1
                if rng.randrange(FAILED_EVERY) == 0:
                    failing.append((p.mid, p.received, [r.agency for r in item.routes if r.agency]))
            conn.execute(insert(messages_table), rows)
    del planned
    t_store = time.perf_counter() - t0 - t_plan
    failed = _failed_transfers(engine, failing, rng)
    items = _discrepancies(engine, county, rng)
    history = _history(engine, directory, persons, rng)
    engine.dispose()
    return {"persons": persons, "messages": sum(types.values()), "story_messages": skeleton,
            "types": dict(sorted(types.items())), "failed_transfers": failed,
            "discrepancies": items, "history_rows": history, "plan_s": round(t_plan, 1),
            "read_and_store_s": round(t_store, 1), "seconds": round(time.perf_counter() - t0, 1),
            "peak_rss_mib": round(peak_mib())}


def _failed_transfers(engine: Any, failing: list[tuple[str, dt.datetime, list[str]]],
                      rng: random.Random) -> dict[str, int]:
    """A failed transfer on each message of ``failing`` (to one of its recipients), most resolved later."""
    from hub.store.ledger import open_failed_transfer, resolve_failed_transfers

    causes = [c for c, w in CAUSES for _ in range(w)]
    ways = [r for r, w in RESOLUTIONS for _ in range(w)]
    out = {"raised": 0, "resolved": 0}
    with engine.begin() as conn:
        for mid, received, recipients in failing:
            cause = rng.choice(causes)
            if cause != "no_recipient" and not recipients:
                continue
            recipient = None if cause == "no_recipient" else rng.choice(recipients)
            delivery = None if recipient is None else str(uuid.UUID(int=rng.getrandbits(128), version=4))
            after = dt.timedelta(minutes=rng.randint(1, 5)) if cause in ("rejected", "no_recipient") else \
                dt.timedelta(hours=rng.randint(2, 30))
            raised = received + after
            detail = {"retries_exhausted": "HTTP 503 after 12 attempts", "rejected": "HTTP 400: 文书编号重复",
                      "not_collected": "not collected from the inbox within 72 hours",
                      "no_recipient": "no police in the registry for 530581"}[cause]
            open_failed_transfer(conn, message_id=mid, delivery_id=delivery, recipient=recipient, cause=cause,
                                 detail=detail, now=raised.astimezone(dt.UTC))
            out["raised"] += 1
            settled = raised + dt.timedelta(hours=rng.choice((1, 3, 6, 20, 30, 50, 100, 200)) * rng.random() + 0.5)
            if delivery is None or rng.random() > 0.8 or settled.date() > LAST:
                continue
            way = rng.choice(ways).format(m=uuid.UUID(int=rng.getrandbits(128), version=4),
                                          e=uuid.UUID(int=rng.getrandbits(128), version=4))
            resolve_failed_transfers(conn, delivery_id=delivery, resolution=way, now=settled.astimezone(dt.UTC),
                                     by="hub" if "retry" in way or "acknowledged" in way else "张敏")
            out["resolved"] += 1
    return out


def _discrepancies(engine: Any, county: County, rng: random.Random) -> dict[str, int]:
    """Discrepancy items about the county's persons, as the reconciliation records them: about one for 30
    persons, found from mid-2024 on, about half resolved."""
    from sqlalchemy import insert

    from hub.core.reconcile_values import Category, discrepancy_id
    from hub.store.register_schema import discrepancies

    rows: dict[str, dict[str, Any]] = {}
    start = dt.date(2024, 7, 1)
    for p in rng.sample(county.persons, max(1, len(county.persons) // 30)):
        category = rng.choice(CATEGORIES)
        c = p.case
        division = c.division if rng.random() < 0.95 else rng.choice(NEIGHBOURS)
        acting = division + ("GA" if category == "custody_vs_supervision" and rng.random() < 0.5 else "SF")
        confirming = division + "FY" if category in ("decided_not_in_register", "type_or_period_mismatch") else None
        first = dt.datetime.combine(start + rng.randrange((LAST - start).days) * DAY, dt.time(2, 30), dt.UTC)
        resolved = first + dt.timedelta(days=rng.randint(2, 120)) if rng.random() < 0.5 else None
        if resolved is not None and resolved.date() > LAST:
            resolved = None
        item = str(discrepancy_id(Category(category), c.id_number, [acting] + ([confirming] if confirming else [])))
        rows[item] = dict(
            id=item, category=category, person_key=c.id_number, id_number=c.id_number, name=c.name,
            division=division, acting_agency=acting, confirming_agency=confirming, match="id_number",
            sides=json.dumps([{"agency": acting, "status": "在册"}], ensure_ascii=False), snapshot_ids="[]",
            description_zh="名册与平台案件台账不一致", description_en="the register and the case ledger disagree",
            status="resolved" if resolved else "open", first_seen=first, last_seen=resolved or first,
            resolved_at=resolved, resolved_by="reconciliation" if resolved else None,
            resolution="no longer found" if resolved else None, reopened=0)
    with engine.begin() as conn:
        conn.execute(insert(discrepancies), list(rows.values()))
    return {"items": len(rows), "resolved": sum(1 for r in rows.values() if r["status"] == "resolved")}


def _history(engine: Any, directory: Any, persons: int, rng: random.Random) -> dict[str, Any]:
    """The bureau's register as of 2020-12-31 (0.3 rows a person), imported as an operator imports it."""
    from hub.report.history import import_history

    types = (("缓刑", 72), ("管制", 5), ("假释", 15), ("暂予监外执行", 8))
    kinds = [t for t, w in types for _ in range(w)]
    rows = [["序号", "姓名", "性别", "身份证号码", "矫正类别", "矫正起始日期", "矫正终止日期", "执行地", "状态",
             "状态日期"]]
    seen: set[str] = set()
    n = 0
    while n < max(2, persons * 3 // 10):
        male = rng.random() < 0.85
        birth = dt.date(rng.randint(1950, 2000), rng.randint(1, 12), rng.randint(1, 28))
        person = id_number(COUNTY, birth, 500 + rng.randint(0, 248) * 2 + (1 if male else 0))
        if person in seen:
            continue
        seen.add(person)
        n += 1
        start = dt.date(2016, 1, 1) + rng.randrange((HISTORY_AS_OF - dt.date(2016, 1, 1)).days) * DAY
        end = start + rng.randint(6, 48) * 30 * DAY
        if end <= HISTORY_AS_OF:
            status, since = ("解除", end) if rng.random() < 0.9 else ("终止", start + (end - start) // 2)
        else:
            status, since = "在册", None
        rows.append([str(n), rng.choice(SURNAMES) + rng.choice(GIVEN), "男" if male else "女", person,
                     rng.choice(kinds), start.isoformat(), end.isoformat(), COUNTY, status,
                     since.isoformat() if since else ""])
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    report = import_history(engine, directory, out.getvalue().encode("utf-8"), agency=BUREAU,
                            filename="腾冲市社区矫正对象名册2020.csv", as_of=HISTORY_AS_OF, by="bench",
                            now=dt.datetime(2026, 7, 1, 2, tzinfo=dt.UTC))
    return {"rows": n, "accepted": report.get("rows_accepted"), "rejected": report.get("rows_rejected"),
            "error": report.get("error")}


# ---- the projection ------------------------------------------------------------------------------------------


def phase_project(url: str) -> dict[str, Any]:
    """The case ledger built from the stored messages by the hub's projection."""
    from hub import casework, rulebook
    from hub.registry import load_registry
    from hub.resources import default_registry_path
    from hub.store.db import make_engine

    engine = make_engine(url, pool_size=1)
    t = time.perf_counter()
    n = casework.rebuild(engine, rules=rulebook.rules_in_force(engine), calendar=rulebook.calendar_in_force(engine),
                         directory=load_registry(default_registry_path()))
    took = time.perf_counter() - t
    status = casework.status(engine)
    with engine.connect() as conn:
        facts = conn.exec_driver_sql("SELECT count(*) FROM case_facts").scalar_one()
        obligations = conn.exec_driver_sql("SELECT count(*) FROM obligations").scalar_one()
        problems: dict[str, int] = {r[0]: r[1] for r in conn.exec_driver_sql(
            "SELECT kind, count(*) FROM case_events WHERE kind IN ('unreadable', 'not_applied') GROUP BY kind")}
    engine.dispose()
    return {"messages": n, "seconds": round(took, 1), "messages_per_s": round(n / took), "cases": status["cases"],
            "case_facts": facts, "obligations": obligations, "open_obligations": status["open_obligations"],
            "problems": problems, "peak_rss_mib": round(peak_mib())}


# ---- measuring -----------------------------------------------------------------------------------------------


def _reset_peak() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[dict[str, Any], Any]:
    """``fn`` run ``repeat`` times: seconds of each, median, worst, peak RSS over the runs; and its last result."""
    runs = []
    out = None
    gc.collect()
    _reset_peak()
    for _ in range(repeat):
        out = None  # the last run's result is not kept alive during the next
        t = time.perf_counter()
        out = fn()
        runs.append(time.perf_counter() - t)
    return {"runs_s": [round(x, 3) for x in runs], "median_s": round(statistics.median(runs), 3),
            "worst_s": round(max(runs), 3), "peak_rss_mib": round(peak_mib())}, out


def _captured_selects(engine: Any, load: Callable[[], Any]) -> list[tuple[str, Any]]:
    """The statements ``load`` sends to the database, with their parameters as the driver gets them."""
    from sqlalchemy import event

    seen: list[tuple[str, Any]] = []

    def note(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", note)
    try:
        load()
    finally:
        event.remove(engine, "before_cursor_execute", note)
    return seen


def _raw(path: str, selects: list[tuple[str, Any]]) -> list[int]:
    """The same SELECTs through the sqlite3 module, every row fetched as tuples; rows per statement."""
    con = sqlite3.connect(path)
    try:
        return [len(con.execute(sql, params).fetchall()) for sql, params in selects]
    finally:
        con.close()


def phase_measure(url: str, repeat: int, profile: bool) -> dict[str, Any]:
    from hub.registry import load_registry
    from hub.report import build, figures
    from hub.report import data as report_data
    from hub.resources import default_registry_path
    from hub.store.db import make_engine

    path = url.removeprefix("sqlite:///")
    engine = make_engine(url, pool_size=1)
    directory = load_registry(default_registry_path())
    _name, counties = build.area(directory, COUNTY)
    period = build.period_of(PERIOD_FROM, PERIOD_TO)

    def load() -> Any:
        return report_data.load(engine, [COUNTY], since=period.before().start, upto=period.end)

    def compute(rows: Any) -> Any:
        return figures.joint_meeting(rows, division=COUNTY, area_name=_name, counties_covered=counties,
                                     period=period, today=TODAY, generated_at=NOW,
                                     agency_name=build.agency_namer(directory))

    def whole() -> Any:
        return build.joint_meeting(engine, directory, division=COUNTY, period_from=PERIOD_FROM, period_to=PERIOD_TO,
                                   today=TODAY, now=NOW)

    out: dict[str, Any] = {"repeat": repeat, "start_rss_mib": round(peak_mib())}
    t = time.perf_counter()
    whole()  # the first report in a fresh process: imports, the database's pages read from the file
    out["first_s"] = round(time.perf_counter() - t, 3)
    selects = _captured_selects(engine, load)
    out["baseline"], counts = _timed(lambda: _raw(path, selects), repeat)
    out["baseline"]["statements"] = len(selects)
    out["baseline"]["rows"] = counts
    out["load"], rows = _timed(load, repeat)
    out["rows"] = {k: len(getattr(rows, k)) for k in ("facts", "obligations", "failed", "discrepancies", "history")}
    out["figures"], _ = _timed(functools.partial(compute, rows), repeat)
    del rows  # as in the hub, the rows are garbage once the report is built
    out["build"], report = _timed(whole, repeat)
    members = [f for s in report.sections for tb in s.tables for row in tb.rows for f in row if hasattr(f, "members")]
    out["report"] = {"figures": len(members), "members": sum(len(f.members) for f in members),
                     "sections": [s.id for s in report.sections]}
    out["render"] = {}
    for fmt in FORMATS:
        out["render"][fmt], blob = _timed(functools.partial(build.render, report, fmt), repeat)
        out["render"][fmt]["bytes"] = len(blob)
    if profile:
        out["profile"] = {"build": _profile(whole)}
        for fmt in FORMATS:
            out["profile"][fmt] = _profile(functools.partial(build.render, report, fmt))
    engine.dispose()
    out["peak_rss_mib"] = round(peak_mib())
    return out


def _profile(fn: Callable[[], Any], top: int = 15) -> list[dict[str, Any]]:
    """One run of ``fn`` under cProfile: the functions with the most time of their own."""
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    stats = pstats.Stats(prof)
    rows = []
    for (file, line, name), (_cc, calls, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append({"function": f"{_short(file)}:{line}({name})", "calls": calls, "self_s": round(tt, 3),
                     "cumulative_s": round(ct, 3)})
    rows.sort(key=lambda r: -r["self_s"])
    return rows[:top]


def _short(file: str) -> str:
    for mark in ("/site-packages/", "/work/main/", "/lib/python3"):
        if mark in file:
            return file.split(mark, 1)[1]
    return file


# ---- the run -------------------------------------------------------------------------------------------------


def _git() -> str:
    """The commit measured, and the files of hub/ changed from it."""
    def run(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=Path(__file__).parent).stdout
    changed = [line[3:] for line in run("status", "--porcelain", "--", "../hub").splitlines()]
    return run("rev-parse", "--short", "HEAD").strip() + (f" + changes to {', '.join(changed)}" if changed else "")


def _brought_up_to_date(url: str) -> bool:
    """Apply the hub's migrations to a kept database; True when its ledger was written in another format than
    this code writes (it must be projected again)."""
    from hub.case_project import LEDGER_FORMAT
    from hub.migrate import upgrade
    from hub.store.db import make_engine

    upgrade(url)
    engine = make_engine(url, pool_size=1)
    with engine.connect() as conn:
        written = conn.exec_driver_sql("SELECT format FROM ledger_cursor WHERE id = 1").scalar()
    engine.dispose()
    return bool(written != LEDGER_FORMAT)


def child(*args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "bench.joint_report", *args], stdout=subprocess.PIPE, text=True,
                         check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def table(m: dict[str, Any]) -> str:
    base = m["baseline"]["median_s"]
    lines = [f"{'step':<44}{'median s':>10}{'worst s':>10}{'÷ raw':>9}{'peak MiB':>10}  output"]

    def line(name: str, r: dict[str, Any], extra: str = "") -> None:
        ratio = r["median_s"] / base if base else float("nan")
        lines.append(f"{name:<44}{r['median_s']:>10.2f}{r['worst_s']:>10.2f}{ratio:>9.1f}{r['peak_rss_mib']:>10}"
                     f"  {extra}")

    rows = m["rows"]
    line("raw SELECTs, sqlite3 module (baseline)", m["baseline"],
         f"{m['baseline']['statements']} statements, {sum(m['baseline']['rows']):,} rows")
    line("hub.report.data.load", m["load"], f"{rows['facts']:,} facts, {rows['obligations']:,} obligations, "
                                             f"{rows['failed']:,} failed, {rows['discrepancies']:,} items, "
                                             f"{rows['history']:,} history")
    line("hub.report.figures.joint_meeting", m["figures"],
         f"{m['report']['figures']:,} figures, {m['report']['members']:,} members")
    line("build.joint_meeting (load + figures)", m["build"])
    for fmt, r in m["render"].items():
        line(f"render {fmt}", r, f"{r['bytes'] / 1048576:.1f} MiB")
    for fmt, r in m["render"].items():
        total = {"median_s": m["build"]["median_s"] + r["median_s"], "worst_s": m["build"]["worst_s"] + r["worst_s"],
                 "peak_rss_mib": max(m["build"]["peak_rss_mib"], r["peak_rss_mib"])}
        verdict = "meets" if total["median_s"] < TARGET_S else "misses"
        line(f"report as {fmt} (build + render)", total, f"{verdict} the {TARGET_S:.0f} s target")
    lines.append(f"first report in a fresh process {m['first_s']:.2f} s; peak RSS of the whole process "
                 f"{m['peak_rss_mib']} MiB (at start {m['start_rss_mib']} MiB); {m['repeat']} runs each")
    return "\n".join(lines)


def profile_table(m: dict[str, Any]) -> str:
    lines = []
    for what, rows in m.get("profile", {}).items():
        lines.append(f"cProfile, one run of {what}: the functions with the most time of their own")
        lines.append(f"  {'self s':>8}{'cum s':>8}{'calls':>10}  function")
        for r in rows:
            lines.append(f"  {r['self_s']:>8.2f}{r['cumulative_s']:>8.2f}{r['calls']:>10}  {r['function']}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--phase":
        if argv[1] == "project":
            print(json.dumps(phase_project(argv[2])))
        else:
            print(json.dumps(phase_measure(argv[2], int(argv[3]), argv[4] == "1")))
        return 0
    kept = None
    if "--db" in argv:
        i = argv.index("--db")
        kept, argv = Path(argv[i + 1]).resolve(), argv[:i] + argv[i + 2:]
    repeat = 5
    if "--repeat" in argv:
        i = argv.index("--repeat")
        repeat, argv = int(argv[i + 1]), argv[:i] + argv[i + 2:]
    profile, reproject = "--profile" in argv, "--reproject" in argv
    argv = [a for a in argv if a not in ("--profile", "--reproject")]
    persons = int(argv[0]) if argv else 10_000
    messages = int(argv[1]) if len(argv) > 1 else persons * PER_PERSON
    results: dict[str, Any] = {"persons": persons, "messages": messages, "county": COUNTY, "git": _git(),
                               "registry": "hub/registry/baoshan.toml",
                               "period": [PERIOD_FROM.isoformat(), PERIOD_TO.isoformat()], "today": TODAY.isoformat()}
    with tempfile.TemporaryDirectory(prefix="xianjie-report-") as tmp:
        path = kept or Path(tmp) / "county.db"
        meta_path = path.with_name(path.name + ".json")
        meta = json.loads(meta_path.read_text()) if kept and meta_path.exists() else None
        if meta is not None and (meta["persons"], meta["requested_messages"]) != (persons, messages):
            raise SystemExit(f"{path} holds {meta['persons']:,} persons and {meta['requested_messages']:,} "
                             f"messages, not {persons:,} and {messages:,}: remove it or name another file")
        if meta is None and path.exists():
            raise SystemExit(f"{path} exists without {meta_path.name}: remove it or name another file")
        url = f"sqlite:///{path}"
        if meta is None:
            made = generate(path, persons, messages)
            print(f"generated {made['messages']:,} messages about {persons:,} persons of {COUNTY} "
                  f"({made['story_messages']:,} of their stories, the rest supervision events), each read by "
                  f"Hub.prepare, in {made['seconds']} s (not counted); {made['failed_transfers']['raised']:,} failed "
                  f"transfers ({made['failed_transfers']['resolved']:,} resolved), "
                  f"{made['discrepancies']['items']:,} discrepancy items, a historical register of "
                  f"{made['history_rows']['accepted']:,} rows; types {made['types']}", flush=True)
            projected = child("--phase", "project", url)
            meta = {"persons": persons, "requested_messages": messages, "generated": made, "projected": projected}
            if kept:
                meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n")
        else:
            print(f"reusing {path}: {meta['generated']['messages']:,} messages, generated before", flush=True)
            if _brought_up_to_date(url) or reproject:  # the ledger as this code writes it
                meta["projected"] = child("--phase", "project", url)
                meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n")
        results |= meta
        p = meta["projected"]
        print(f"ledger (hub.casework.rebuild): {p['messages']:,} messages in {p['seconds']} s = "
              f"{p['messages_per_s']:,} messages/s → {p['cases']:,} cases, {p['case_facts']:,} case facts, "
              f"{p['obligations']:,} obligations ({p['open_obligations']:,} open), problems {p['problems']}; "
              f"peak RSS {p['peak_rss_mib']} MiB", flush=True)
        m = child("--phase", "measure", url, str(repeat), "1" if profile else "0")
        results["measure"] = m
        print(f"\nthe joint-meeting report of {COUNTY} for {PERIOD_FROM} – {PERIOD_TO} as of {TODAY}:")
        print(table(m))
        if profile:
            print(profile_table(m))
    if _git() != results["git"]:
        results["git_after"] = _git()
        print(f"the hub's code changed during the run: {results['git']} at the start, {results['git_after']} at "
              "the end", file=sys.stderr)
    print(json.dumps(results, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
