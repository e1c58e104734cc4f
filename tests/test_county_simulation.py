"""The simulated county through the hub, on SQLite and PostgreSQL: three months of a shorter county (forty clean
cases and two of each lapse) posted as the agencies on the days they happen, with the hub's clock moved on day by
day; every lapse is alarmed due today (or overdue) to the agency that owes the step by its deadline, the court's
outage while it lasts, and no clean case gets any notice."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from hub import alarming, casework, rulebook, service
from hub.api.app import create_app
from hub.canonical import load_schema
from hub.core.calendar import Calendar
from hub.core.rules import national
from hub.registry import load_registry
from hub.service import Hub
from hub.store.db import make_engine
from hub.store.ledger_schema import obligations
from hub.workers import groupcommit
from tests import hubserver
from tests.conftest import Stack
from tests.core.case_messages import CST
from tests.core.simulation import LAPSES, OUTAGE_AGENCY, County, run_county, simulate_county
from tests.harness import Recipients, auth, write_registry
from tests.hubserver import InProcessHub, hub_settings

START, DAYS, DAY = dt.date(2026, 3, 2), 90, dt.timedelta(days=1)
URGENT = {"due_today", "overdue", "escalated_bureau_head", "escalated_joint_meeting"}


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class County3:
    server: InProcessHub
    engine: Engine
    hub: Hub
    arrival: Clock  # when the hub receives a message
    deadline: Clock  # the deadline clock's time

    def post(self, client: httpx.Client, raw: bytes, sender: str) -> None:
        r = client.post("/api/v1/messages", content=raw, headers=auth(sender))
        assert r.status_code == 202, r.text

    def end_of(self, day: dt.date) -> None:
        """The ledger caught up on the day's messages, then the clock at 23:00 of ``day``."""
        rules, calendar = rulebook.rules_in_force(self.engine), rulebook.calendar_in_force(self.engine)
        casework.catch_up(self.engine, rules=rules, calendar=calendar, directory=self.hub.directory, wait=True)
        self.deadline.now = dt.datetime.combine(day, dt.time(23), tzinfo=CST)
        alarming.run_clock(hub=self.hub, now=self.deadline.now)

    def alarms(self, agency: str) -> list[dict[str, Any]]:
        """Every notice the agency sees in GET /api/v1/alarms."""
        out: list[dict[str, Any]] = []
        with self.server.client() as c:
            after = 0
            while True:
                page = c.get("/api/v1/alarms", headers=auth(agency), params={"after": after, "limit": 500}).json()
                out += page["notices"]
                if not page["notices"]:
                    return out
                after = page["next_after"]


@pytest.fixture
def hub3(tmp_path: Path, stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[County3]:
    recipients = Recipients().start()
    registry = write_registry(tmp_path / "registry.toml", recipients_url=recipients.url, drop_root=tmp_path / "drop")
    first = dt.datetime.combine(START - DAY, dt.time(23), tzinfo=CST)
    arrival, deadline = Clock(first), Clock(first)
    monkeypatch.setattr(hubserver, "create_app", functools.partial(create_app, clock=deadline))
    for module in (service, groupcommit):  # the hub stamps each message received at the county's time
        monkeypatch.setattr(module, "utcnow", lambda: arrival.now.astimezone(dt.UTC))
    server = InProcessHub(hub_settings(database_url=stack.database_url, broker_url=stack.broker_url,
                                       queue_prefix=stack.queue_prefix, registry_path=registry,
                                       clock_interval=0.5, ledger_poll=0.2)).start()
    engine = make_engine(stack.database_url, pool_size=4)
    yield County3(server, engine, Hub(engine=engine, directory=load_registry(registry), schema=load_schema()),
                  arrival, deadline)
    server.stop()
    engine.dispose()
    recipients.stop()


def live(county: County, h: County3) -> None:
    """Post each message as its agency at the time the hub receives it; the clock runs at the end of every day."""
    by_day: dict[dt.date, list[Any]] = {}
    for s in county.messages:
        by_day.setdefault(s.received_at.astimezone(CST).date(), []).append(s)
    with h.server.client() as client:
        day = county.start
        while day < county.end:
            for s in by_day.get(day, ()):
                h.arrival.now = s.received_at
                h.post(client, s.raw, s.sender)
            h.end_of(day)
            day += DAY


def test_a_county_through_the_hub_alarms_every_lapse_by_its_deadline_and_no_clean_case(hub3: County3) -> None:
    # Given three months of a county: clean cases, two of each lapse, and the court's link down for eleven days
    calendar = Calendar.seeded()
    county = simulate_county(20260302, calendar=calendar, cases=40, per_lapse=2, start=START, days=DAYS)
    assert {lapse.kind for lapse in county.lapses} == set(LAPSES) and len(county.clean) >= 25
    core = run_county(county, rules=national(), calendar=calendar)  # who owes each lapsed step
    # When the agencies post their messages as they happen and the hub's clock runs every day
    live(county, hub3)
    everything = hub3.alarms("530500ZX")
    # Then each lapse was alarmed due today (or overdue) by its deadline to the agency that owes the step
    for lapse in county.lapses:
        owed = {o.obligor for o in core.states[lapse.case_key].obligations if o.rule_id in lapse.rules}
        assert len(owed) == 1, lapse
        (obligor,) = owed
        seen = [n for n in hub3.alarms(obligor) if n["case_key"] == lapse.case_key and n["rule_id"] in lapse.rules
                and n["step"] in URGENT and any(r["agency"] == obligor and r["copy"] == "to"
                                                for r in n["recipients"])]
        assert seen, f"{lapse.kind} in {lapse.case_key} was never alarmed to {obligor}"
        first = min(dt.date.fromisoformat(n["day"]) for n in seen)
        assert first <= lapse.deadline, (lapse.kind, lapse.case_key, first, lapse.deadline)
        if lapse.kind == "lost_contact":  # immediately: the same day
            assert first == lapse.deadline
    # And the court was alarmed during its outage, and its held judgments closed those obligations as met late
    start, back = county.outage
    for lapse in (x for x in county.lapses if x.kind == "agency_outage"):
        days = {(n["day"], n["obligor"]) for n in everything if n["case_key"] == lapse.case_key
                and n["step"] == "due_today"}
        assert (str(lapse.deadline), OUTAGE_AGENCY) in days and start <= lapse.deadline < back
        with hub3.engine.connect() as c:
            met = c.execute(select(obligations.c.met_on, obligations.c.due_date).where(
                obligations.c.case_key == lapse.case_key, obligations.c.rule_id.in_(lapse.rules))).all()
        assert met and all(m == back and m > due for m, due in met), met
        assert {n["outcome"] for n in everything if n["case_key"] == lapse.case_key
                and n["step"] == "resolved"} == {"met_late"}
    # And no clean case got any notice at all, though the hub alarmed the lapses by the dozen
    assert [n for n in everything if n["case_key"] in county.clean] == []
    assert len(everything) >= 3 * len(county.lapses)
