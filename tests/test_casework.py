"""The case ledger in the hub, on SQLite and PostgreSQL: canonical messages posted to the hub become cases,
obligations and a person's timeline exactly once — a duplicate or a replay changes nothing, a crash mid-batch
neither loses nor doubles — a receipt that comes before its judgment waits for it, statuses follow the deadline
clock a test moves on, operators waive with a reason (audited), and a rebuild gives the same tables."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from lxml import etree
from sqlalchemy import Engine, func, inspect, select, update

from hub import alarming, case_codec, case_project, casework, identity_store, rulebook
from hub.api.app import create_app
from hub.canonical import load_schema
from hub.case_codec import decode_state, encode_state
from hub.case_rows import register_status
from hub.cli import main
from hub.core.facts import legal_day
from hub.core.model import Directory
from hub.migrate import upgrade
from hub.registry import load_registry
from hub.service import Hub
from hub.store.db import make_engine
from hub.store.ingest import store_message
from hub.store.ledger_schema import case_events, cases, ledger_cursor, obligations
from hub.store.schema import audit_log, messages
from tests.clock import today
from tests.conftest import Stack
from tests.core.case_feed import C, Feed, lost, revoked, supervised
from tests.core.case_feed import mid as feed_mid
from tests.core.case_messages import CST, Case, at, id_number, message_id, q
from tests.harness import Recipients, auth, wait_until, write_registry
from tests.hubserver import InProcessHub, hub_settings
from tests.services import fresh_postgres


def case(n: int, *, division: str = "530581", effective: dt.date | None = None) -> Case:
    """Person ``n`` sentenced by 隆阳区法院 to probation, living in ``division``, in effect from yesterday."""
    eff = effective or today() - dt.timedelta(days=1)
    birth = dt.date(1980, 1, 1) + dt.timedelta(days=97 * n)
    return Case(f"（2026）云0502刑初{7000 + n}号", "530502FY", "PROBATION", division, f"杨{'国春玉明建丽'[n % 6]}{n}",
                id_number(division, birth, 11 + 2 * n), True, birth, eff - dt.timedelta(days=10), eff,
                eff + dt.timedelta(days=730))


def mid(c: Case, what: str) -> str:
    return message_id("ledger-test", c.number, what)


def now() -> dt.datetime:
    return dt.datetime.now(CST)


@dataclasses.dataclass
class ClockedHub(InProcessHub):
    """The in-process hub with the deadline clock given to ``create_app``."""

    clock: Callable[[], dt.datetime] | None = None

    def start(self) -> ClockedHub:
        upgrade(self.settings.database_url)
        app = create_app(self.settings, workers=self.workers, clock=self.clock)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.settings.port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server is not None and self.server.started, 20, what="hub start")
        return self


class FakeClock:
    """The deadline clock's time, moved on by the test; remembers each time the clock ran."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start
        self.runs: list[tuple[dt.datetime, Any]] = []
        self.observe: Callable[[dt.datetime], Any] = lambda _now: None

    def __call__(self) -> dt.datetime:
        return self.now

    def run_clock(self, *, hub: Any, now: dt.datetime) -> int:
        self.runs.append((now, self.observe(now)))
        return 0


@dataclasses.dataclass
class Ledger:
    hub: ClockedHub
    engine: Engine
    clock: FakeClock
    directory: Directory

    def client(self) -> httpx.Client:
        return self.hub.client()

    def post(self, client: httpx.Client, raw: bytes, sender: str, expect: int = 202) -> None:
        r = client.post("/api/v1/messages", content=raw, headers=auth(sender) | {"content-type": "application/xml"})
        assert r.status_code == expect, r.text

    def projected(self) -> None:
        """Wait until the worker has projected every stored message."""
        def done() -> bool:
            s = casework.status(self.engine)
            return s["last_seq"] >= s["latest_seq"] and s["gaps"] == 0
        wait_until(done, 30, what="the ledger to catch up")


@pytest.fixture
def make_ledger(stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Ledger]]:
    recipients = Recipients().start()
    registry = write_registry(tmp_path / "registry.toml", recipients_url=recipients.url, drop_root=tmp_path / "drop")
    started: list[Ledger] = []

    def make(*, workers: bool = True, **settings: Any) -> Ledger:
        clock = FakeClock(dt.datetime.now(dt.UTC))
        # the alarms are another area's: here the clock's runs are only recorded
        monkeypatch.setattr(alarming, "run_clock", clock.run_clock)
        s = hub_settings(database_url=stack.database_url, broker_url=stack.broker_url,
                         queue_prefix=stack.queue_prefix, registry_path=registry,
                         **({"ledger_poll": 0.2, "clock_interval": 3600.0} | settings))
        hub = ClockedHub(s, workers=workers, clock=clock).start()
        ledger = Ledger(hub, make_engine(stack.database_url, pool_size=2), clock, load_registry(registry))
        started.append(ledger)
        return ledger

    yield make
    for ledger in started:
        ledger.hub.stop()
        ledger.engine.dispose()
    recipients.stop()


def tables(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """The ledger's rows, without what only says when the projection ran (row numbers, updated_at)."""
    with engine.connect() as conn:
        return {
            "cases": [dict(r) | {"updated_at": None} for r in
                      conn.execute(select(cases).order_by(cases.c.case_key)).mappings()],
            "obligations": [dict(r) for r in conn.execute(select(obligations).order_by(obligations.c.id)).mappings()],
            "case_events": [dict(r) | {"seq": None} for r in
                            conn.execute(select(case_events).order_by(case_events.c.seq)).mappings()],
        }


def obligation(engine: Engine, c: Case, rule: str) -> dict[str, Any]:
    found = casework.list_obligations(engine, today=today(), rule=rule, limit=1000)["items"]
    (one,) = [o for o in found if o["case_number"] == c.number]
    return one


def test_messages_posted_to_the_hub_become_a_case_its_obligations_and_the_persons_timeline(
        make_ledger: Callable[..., Ledger]) -> None:
    ledger = make_ledger()
    c = case(1)
    with ledger.client() as client:
        # Given a judgment served with complete papers, the bureau's receipt and the person reporting
        ledger.post(client, c.decision(mid(c, "decision"), now()), c.court)
        ledger.post(client, c.receipt(mid(c, "receipt"), now(), of=mid(c, "decision")), c.bureau)
        ledger.post(client, c.reporting(mid(c, "report"), now()), c.bureau)
        # When the ledger has projected them
        ledger.projected()
        # Then the person is under supervision and the bureau of the place of execution answers for them
        with ledger.engine.connect() as conn:
            row = conn.execute(select(cases)).mappings().one()
        assert (row["status"], row["responsible"], row["division"]) == ("under_supervision", "530581SF", "530581")
        assert (row["id_number"], row["register_status"], row["documents_served"]) == (
            c.id_number, "under_supervision", 1)
        # And every obligation the messages opened was met by them, on time
        assert {r: obligation(ledger.engine, c, r)["status"] for r in ("notify_bureau", "serve_documents", "receipt",
                                                                       "report")} == dict.fromkeys(
            ("notify_bureau", "serve_documents", "receipt", "report"), "met")
        assert obligation(ledger.engine, c, "release_notice")["due_date"] == c.period_end
        # And the person's timeline shows each message, what the ledger made of it and its deliveries, in order
        r = client.get(f"/api/v1/persons/{c.id_number}/timeline", headers=auth("530500ZX"))
        assert r.status_code == 200, r.text
        body = r.json()
    lines = body["timeline"]
    received = [x["message_type"] for x in lines if x["source"] == "message"]
    assert received == ["SentencingDecision", "DocumentReceipt", "ReportingOutcome"]
    applied = [x["detail"]["state"] for x in lines if x["source"] == "ledger" and x["kind"] == "applied"]
    assert applied == ["documents_served", "receipted", "under_supervision"]
    assert any(x["source"] == "delivery" and x["kind"] == "routed" for x in lines)
    assert [x["at"] for x in lines] == sorted(x["at"] for x in lines)
    assert {o["rule_id"]: o["status"] for o in body["obligations"]}["receipt"] == "met"
    assert body["person"]["name"] == c.name and body["cases"][0]["status_zh"] == "在矫"
    # And register reconciliation reads the same person from the ledger
    (person,) = list(casework.ledger_people(ledger.engine))
    assert (person.id_number, person.status.value, person.execution_division) == (
        c.id_number, "under_supervision", "530581")


def test_a_duplicate_or_a_replay_changes_nothing(make_ledger: Callable[..., Ledger]) -> None:
    ledger = make_ledger()
    c = case(2)
    decision = c.decision(mid(c, "decision"), now())
    with ledger.client() as client:
        ledger.post(client, decision, c.court)
        ledger.post(client, c.receipt(mid(c, "receipt"), now(), of=mid(c, "decision")), c.bureau)
        ledger.projected()
        before = tables(ledger.engine)
        with ledger.engine.connect() as conn:
            stamped = conn.execute(select(cases.c.updated_at)).scalar()
        # When the court sends the same judgment again (same document id): the hub answers with the first id
        ledger.post(client, decision, c.court, expect=200)
    ledger.projected()
    assert tables(ledger.engine) == before
    # And when every message is projected once more (the cursor set back to the start: a replay)
    with ledger.engine.begin() as conn:
        conn.execute(update(ledger_cursor).values(last_seq=0))
    ledger.projected()
    # Then nothing changes, not even the time the case row was written
    assert tables(ledger.engine) == before
    with ledger.engine.connect() as conn:
        assert conn.execute(select(cases.c.updated_at)).scalar() == stamped


def test_a_receipt_that_arrives_before_its_judgment_waits_for_it(make_ledger: Callable[..., Ledger]) -> None:
    ledger = make_ledger()
    c = case(3)
    with ledger.client() as client:
        # Given the bureau's receipt for a judgment the hub has not yet received
        ledger.post(client, c.receipt(mid(c, "receipt"), now(), of=mid(c, "decision")), c.bureau)
        ledger.projected()
        with ledger.engine.connect() as conn:
            assert conn.execute(select(cases.c.status)).scalar() == "decided"
            held = conn.execute(select(case_events.c.detail).where(case_events.c.kind == "held")).scalar()
        assert mid(c, "decision") in json.loads(held)["held_for"]
        # (the receipt shows the decision took effect: the court owes notice and papers)
        assert obligation(ledger.engine, c, "serve_documents")["status"] in ("pending", "due_soon")
        # When the judgment arrives
        ledger.post(client, c.decision(mid(c, "decision"), now()), c.court)
        ledger.projected()
    # Then the receipt is applied after it: papers served and acknowledged, nothing owed for them any more
    with ledger.engine.connect() as conn:
        assert conn.execute(select(cases.c.status)).scalar() == "receipted"
        kinds = [(r.kind, r.message_id) for r in conn.execute(
            select(case_events.c.kind, case_events.c.message_id).where(case_events.c.kind.in_(("held", "applied")))
            .order_by(case_events.c.seq))]
    assert kinds == [("held", mid(c, "receipt")), ("applied", mid(c, "decision")), ("applied", mid(c, "receipt"))]
    assert obligation(ledger.engine, c, "receipt")["status"] == "met"
    assert obligation(ledger.engine, c, "serve_documents")["status"] == "met"


def project_all(ledger: Ledger, **kw: Any) -> int:
    return casework.catch_up(ledger.engine, rules=rulebook.rules_in_force(ledger.engine),
                             calendar=rulebook.calendar_in_force(ledger.engine), directory=ledger.directory,
                             wait=True, **kw)


def test_a_crash_in_the_middle_of_a_batch_neither_loses_nor_doubles_a_message(
        make_ledger: Callable[..., Ledger], monkeypatch: pytest.MonkeyPatch) -> None:
    # Given six messages about two persons, stored by a hub whose workers are not running
    ledger = make_ledger(workers=False)
    a, b = case(4), case(5, division="530521")
    with ledger.client() as client:
        for c in (a, b):
            ledger.post(client, c.decision(mid(c, "decision"), now()), c.court)
            ledger.post(client, c.receipt(mid(c, "receipt"), now(), of=mid(c, "decision")), c.bureau)
            ledger.post(client, c.reporting(mid(c, "report"), now()), c.bureau)
    # When the projection of the second batch of two dies after writing the cases, before the obligations
    real = case_project.upsert
    calls = {"n": 0}

    def dying(conn: Any, table: Any, rows: Any, **kw: Any) -> None:
        real(conn, table, rows, **kw)
        calls["n"] += 1
        if calls["n"] == 4:  # batch 1: cases, obligations; batch 2: cases, then the crash
            raise RuntimeError("worker killed")

    monkeypatch.setattr(case_project, "upsert", dying)
    assert project_all(ledger, limit=2, max_batches=1) == 2
    with pytest.raises(RuntimeError, match="worker killed"):
        project_all(ledger, limit=2)
    # Then the first batch is kept whole and nothing of the second is
    with ledger.engine.connect() as conn:
        assert conn.execute(select(ledger_cursor.c.last_seq)).scalar() == 2
        applied = conn.execute(select(case_events.c.message_id).where(case_events.c.kind == "applied")).scalars()
        assert sorted(applied) == sorted([mid(a, "decision"), mid(a, "receipt")])
    # And projecting again after the restart applies every message exactly once
    monkeypatch.setattr(case_project, "upsert", real)
    assert project_all(ledger, limit=2) == 4
    incremental = tables(ledger.engine)
    applied = [e["message_id"] for e in incremental["case_events"] if e["kind"] == "applied"]
    assert sorted(applied) == sorted(mid(c, w) for c in (a, b) for w in ("decision", "receipt", "report"))
    # And the tables are those of one clean pass over the messages
    casework.rebuild(ledger.engine, rules=rulebook.rules_in_force(ledger.engine),
                     calendar=rulebook.calendar_in_force(ledger.engine), directory=ledger.directory)
    assert tables(ledger.engine) == incremental


def test_an_agency_sees_a_persons_timeline_only_if_it_sent_or_received_a_message_about_them(
        make_ledger: Callable[..., Ledger]) -> None:
    ledger = make_ledger()
    c = case(6)
    with ledger.client() as client:
        ledger.post(client, c.decision(mid(c, "decision"), now()), c.court)
        ledger.projected()
        # the court that sent it, the bureau and the copied procuratorate and police of the place of execution
        for agency in ("530502FY", "530581SF", "530581JC", "530581GA", "530500ZX"):
            r = client.get(f"/api/v1/persons/{c.id_number}/timeline", headers=auth(agency))
            assert r.status_code == 200, (agency, r.text)
        # another county's bureau, and a court that had nothing to do with the person, do not
        for agency in ("530521SF", "530581FY"):
            r = client.get(f"/api/v1/persons/{c.id_number}/timeline", headers=auth(agency))
            assert r.status_code == 404, agency
        # a case number finds the same person; an unknown reference is not found, even for operators
        r = client.get(f"/api/v1/persons/{c.number}/timeline", headers=auth("530581SF"))
        assert r.status_code == 200 and r.json()["person"]["id_number"] == c.id_number
        assert client.get("/api/v1/persons/530581199001011234/timeline", headers=auth("530500ZX")).status_code == 404
        assert client.get(f"/api/v1/persons/{c.id_number}/timeline", headers=auth("530581SF"),
                          params={"today": "soon"}).status_code == 400


def police_without_id(c: Case, mid_: str, *, number: str, division: str, ref: str) -> bytes:
    """A custody notice from the police of ``division`` about ``c``'s person in another case, without an ID number,
    under the police's own person reference."""
    other = dataclasses.replace(c, number=number, division=division)
    root = etree.fromstring(other.custody(mid_, now(), started=today() - dt.timedelta(days=3)))
    person = root.find(q("person"))
    person.remove(person.find(q("idNumber")))
    root.find(f"{q('envelope')}/{q('personRef')}").text = ref
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def test_a_persons_timeline_takes_in_the_records_identity_links_to_them_until_a_reviewer_says_not_same(
        make_ledger: Callable[..., Ledger], capsys: pytest.CaptureFixture[str]) -> None:
    ledger = make_ledger()
    c = case(10)
    police, ref = "530521GA", "530521GA:ZT-10"
    with ledger.client() as client:
        # Given a court's judgment with the ID number, and 施甸's police reporting the same name and birth date in
        # custody in another case without one (施甸's bureau got only that notice)
        ledger.post(client, c.decision(mid(c, "decision"), now()), c.court)
        ledger.post(client, police_without_id(c, mid(c, "custody"), number="（2025）云0521刑初88号",
                                              division="530521", ref=ref), police)
        ledger.projected()

        def timeline(agency: str = "530500ZX") -> httpx.Response:
            return client.get(f"/api/v1/persons/{c.id_number}/timeline", headers=auth(agency))

        assert mid(c, "custody") not in {x["message_id"] for x in timeline().json()["timeline"]}
        assert timeline("530521SF").status_code == 404
        # When identity indexes the messages and a reviewer decides the two records are the same person
        while not identity_store.index_messages(ledger.engine).caught_up:
            pass
        identity_store.relink(ledger.engine)
        court = next(r["id"] for p in identity_store.person_of(ledger.engine, c.id_number) for r in p["records"]
                     if r["agency"] == c.court)
        (alone,) = identity_store.person_of(ledger.engine, f"ref|{ref}")
        custody = next(r["id"] for r in alone["records"] if r["agency"] == police)
        identity_store.decide(ledger.engine, court, custody, same=True, by="530500ZX:李审核", reason="同一人")
        # Then the timeline asked by the ID number has the police notice and its case, marked as linked
        body = timeline().json()
        line = next(x for x in body["timeline"] if x["message_id"] == mid(c, "custody") and x["source"] == "message")
        assert (line["person_key"], line["linked"]) == (f"ref|{ref}", True)
        assert {(x["case_number"], x["linked"]) for x in body["cases"]} >= {
            (c.number, False), ("（2025）云0521刑初88号", True)}
        assert {(r["agency"], r["person_key"], r["how"]) for r in body["records"]} == {
            (c.court, c.id_number, "decision"), (police, f"ref|{ref}", "decision")}
        # And 施甸's bureau, which received a message about the linked record, now sees it
        assert timeline("530521SF").status_code == 200
        # And the command line shows the linked record and marks what came from it
        capsys.readouterr()
        assert main(["--database-url", ledger.hub.settings.database_url, "timeline", c.id_number]) == 0
        out = capsys.readouterr().out
        assert f"身份记录 record {police} {ref}" in out and f"(关联 linked: ref|{ref})" in out
        # When the reviewer then decides they are not the same person
        identity_store.decide(ledger.engine, court, custody, same=False, by="530500ZX:李审核", reason="身份证号不符")
        # Then the police record leaves the timeline, and 施甸's bureau no longer sees it
        body = timeline().json()
        assert mid(c, "custody") not in {x["message_id"] for x in body["timeline"]}
        assert {x["case_number"] for x in body["cases"]} == {c.number}
        assert all(not x["linked"] for x in [*body["timeline"], *body["cases"], *body["obligations"]])
        assert timeline("530521SF").status_code == 404


def test_obligations_are_filtered_by_status_agency_county_and_rule(make_ledger: Callable[..., Ledger],
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    ledger = make_ledger()
    fresh = case(7)  # in effect since yesterday, in 腾冲
    late = case(8, division="530521", effective=today() - dt.timedelta(days=40))  # 施甸: papers 40 days late
    with ledger.client() as client:
        ledger.post(client, fresh.decision(mid(fresh, "decision"), now()), fresh.court)
        ledger.post(client, late.decision(mid(late, "decision"), now()), late.court)
        ledger.projected()
        op = auth("530500ZX")

        def ids(**params: Any) -> list[tuple[str, str, str]]:
            r = client.get("/api/v1/obligations", params=params, headers=op)
            assert r.status_code == 200, r.text
            return [(o["case_number"], o["rule_id"], o["status"]) for o in r.json()["items"]]

        # overdue: only the late case's report (10 days from the decision taking effect)
        assert ids(state="overdue") == [(late.number, "report", "overdue")]
        assert ids(state="met_late") == [(late.number, "notify_bureau", "met_late"),
                                         (late.number, "serve_documents", "met_late")]
        assert {x[0] for x in ids(county="530521")} == {late.number}
        assert {x[1] for x in ids(rule="receipt")} == {"receipt"} and len(ids(rule="receipt")) == 2
        assert {x[0] for x in ids(agency="530581SF")} == {fresh.number}
        # pages: limit and after give each obligation once
        everything = ids(limit=1000)
        seen: list[tuple[str, str, str]] = []
        after: str | None = None
        while True:
            page = client.get("/api/v1/obligations", params={"limit": 3} | ({"after": after} if after else {}),
                              headers=op).json()
            seen += [(o["case_number"], o["rule_id"], o["status"]) for o in page["items"]]
            after = page["next_after"]
            if after is None:
                break
        assert sorted(seen) == sorted(everything) and len(seen) == len(everything) == 10
        # a bureau sees what it owes or is owed, and nothing of another county's
        mine = client.get("/api/v1/obligations", headers=auth("530521SF")).json()["items"]
        assert mine and all("530521SF" in (o["obligor"], o["obligee"]) for o in mine)
        assert client.get("/api/v1/obligations", params={"agency": "530581SF"},
                          headers=auth("530521SF")).status_code == 403
        r = client.get("/api/v1/obligations", params={"state": "late"}, headers=op)
        assert r.status_code == 422 and "state" in r.json()["error"]["message"]
    # And the command line gives the same answer
    db = ["--database-url", ledger.hub.settings.database_url]
    assert main([*db, "obligations", "--state", "overdue", "--today", today().isoformat(), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(o["rule_id"], o["person_name"]) for o in out["items"]] == [("report", late.name)]
    assert main([*db, "obligations", "--county", "530521", "--rule", "report"]) == 0
    assert "已逾期" in capsys.readouterr().out


def test_operators_waive_an_obligation_with_a_reason_and_it_is_audited(make_ledger: Callable[..., Ledger],
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    ledger = make_ledger()
    c = case(9, effective=today() - dt.timedelta(days=40))
    with ledger.client() as client:
        ledger.post(client, c.decision(mid(c, "decision"), now()), c.court)
        ledger.projected()
        report = obligation(ledger.engine, c, "report")
        url = f"/api/v1/obligations/{report['id']}/waive"
        # a bureau may not; an operator must give a reason
        assert client.post(url, json={"reason": "x", "by": "李"}, headers=auth("530581SF")).status_code == 403
        r = client.post(url, json={"reason": " ", "by": "李"}, headers=auth("530500ZX"))
        assert r.status_code == 422 and "reason" in r.json()["error"]["message"]
        assert obligation(ledger.engine, c, "report")["status"] == "overdue"
        # When an operator waives it with a reason
        r = client.post(url, json={"reason": "本人住院，法院已书面说明", "by": "李明"}, headers=auth("530500ZX"))
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["waived_by"]) == ("waived", "530500ZX:李明")
        # Then it is waived, a second waiver is refused, an unknown id is not found
        assert client.post(url, json={"reason": "again", "by": "李明"}, headers=auth("530500ZX")).status_code == 409
        assert client.post("/api/v1/obligations/nope/waive", json={"reason": "r", "by": "b"},
                           headers=auth("530500ZX")).status_code == 404
        timeline = client.get(f"/api/v1/persons/{c.id_number}/timeline", headers=auth("530581SF")).json()
    assert obligation(ledger.engine, c, "report")["status"] == "waived"
    waived = [x for x in timeline["timeline"] if x["kind"] == "obligation_waived"]
    assert waived[-1]["detail"]["reason"] == "本人住院，法院已书面说明"
    with ledger.engine.connect() as conn:
        entry = conn.execute(select(audit_log).where(audit_log.c.action == "obligation_waive")).mappings().one()
    assert (entry["actor"], entry["target"]) == ("530500ZX:李明", f"obligation:{report['id']}")
    assert json.loads(entry["detail"])["status_before"] == "overdue"
    # And the command line waives another one the same way, and refuses without a reason
    db = ["--database-url", ledger.hub.settings.database_url]
    release = obligation(ledger.engine, c, "release_notice")
    assert main([*db, "obligations", "waive", release["id"], "--reason", "", "--by", "王"]) == 2
    assert "reason" in capsys.readouterr().err
    assert main([*db, "obligations", "waive", release["id"], "--reason", "测试", "--by", "王"]) == 0
    assert obligation(ledger.engine, c, "release_notice")["status"] == "waived"


def test_the_injectable_clock_moves_an_obligation_from_pending_to_overdue(make_ledger: Callable[..., Ledger]) -> None:
    ledger = make_ledger(ledger_poll=0.05, clock_interval=0.01)
    c = case(10)
    with ledger.client() as client:
        ledger.post(client, c.decision(mid(c, "decision"), now()), c.court)
        ledger.projected()
        receipt = obligation(ledger.engine, c, "receipt")
        due = receipt["due_date"]
        ledger.clock.observe = lambda t: obligation_status(ledger.engine, receipt["id"], legal_day(t))
        start = dt.datetime.combine(today(), dt.time(9), tzinfo=CST)
        seen: dict[dt.date, str] = {}
        # When the clock moves on one day at a time, then half a year
        for step in [*range((due - today()).days + 3), 182]:
            moment = start + dt.timedelta(days=step)
            ledger.clock.now = moment
            wait_until(lambda m=moment: any(t == m for t, _ in ledger.clock.runs), 10, what=f"the clock at {moment}")
            seen[legal_day(moment)] = next(s for t, s in ledger.clock.runs if t == moment)
            # the API's statuses are those of the clock's day
            r = client.get("/api/v1/obligations", params={"rule": "receipt"}, headers=auth("530500ZX")).json()
            assert r["today"] == legal_day(moment).isoformat() and r["items"][0]["status"] == seen[legal_day(moment)]
    # Then the bureau's receipt went from pending to due soon, due today and overdue, each on its day
    expected = {day: "overdue" if day > due else "due_today" if day == due else
                "due_soon" if (due - day).days <= receipt["due_soon_days"] else "pending" for day in seen}
    assert seen == expected
    assert list(dict.fromkeys(seen.values())) == ["pending", "due_soon", "due_today", "overdue"]


def obligation_status(engine: Engine, obligation_id: str, today: dt.date) -> str:
    with engine.connect() as conn:
        row = conn.execute(select(obligations).where(obligations.c.id == obligation_id)).mappings().one()
    return str(casework.case_views.obligation_view(row, today=today)["status"])


def test_a_rebuild_gives_the_same_tables_as_the_projection_as_it_went(make_ledger: Callable[..., Ledger],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = make_ledger()
    a, b, d = case(11), case(12, division="530523"), case(13, effective=today() - dt.timedelta(days=30))
    with ledger.client() as client:
        # a whole history; a receipt before its judgment; a person who lost contact, was held, then released
        ledger.post(client, a.decision(mid(a, "decision"), now()), a.court)
        ledger.post(client, b.receipt(mid(b, "receipt"), now(), of=mid(b, "decision")), b.bureau)
        ledger.post(client, a.receipt(mid(a, "receipt"), now(), of=mid(a, "decision")), a.bureau)
        ledger.post(client, b.decision(mid(b, "decision"), now(), papers=["JUDGMENT"]), b.court)
        ledger.post(client, a.reporting(mid(a, "report"), now()), a.bureau)
        ledger.post(client, d.decision(mid(d, "decision"), now()), d.court)
        ledger.post(client, d.event(mid(d, "lost"), now(), kind="LOST_CONTACT"), d.bureau)
        ledger.post(client, d.custody(mid(d, "custody"), now(), started=today()), d.police)
        ledger.projected()
        # and an operator's waiver in between
        report = obligation(ledger.engine, b, "report")
        assert client.post(f"/api/v1/obligations/{report['id']}/waive", json={"reason": "已收监", "by": "李"},
                           headers=auth("530500ZX")).status_code == 200
        ledger.post(client, b.receipt(mid(b, "receipt2"), now(), of=mid(b, "decision"), missing=["EXECUTION_NOTICE"]),
                    b.bureau)
        # (had the waiver come after this report, the report would be met, not waived)
        ledger.post(client, b.reporting(mid(b, "report"), now()), b.bureau)
        ledger.projected()
    incremental = tables(ledger.engine)
    assert {r["status"] for r in incremental["cases"]} == {"under_supervision", "in_custody"}
    assert obligation(ledger.engine, b, "report")["status"] == "waived"
    # When the ledger is rebuilt from the stored messages (the command operators run)
    db = ["--database-url", ledger.hub.settings.database_url, "--registry", str(ledger.hub.settings.registry_path)]
    assert main([*db, "ledger", "rebuild"]) == 0
    # Then every row is the same, the waiver included, made again where it was made
    assert tables(ledger.engine) == incremental
    assert casework.ready(ledger.engine)
    assert ledger_indexes(ledger.engine) == declared_indexes()  # the ones dropped while it ran are back
    # And a rebuild that dies after its first two messages is carried on by the hub's worker to the same tables
    real = casework.catch_up
    monkeypatch.setattr(casework, "catch_up", lambda engine, **kw: real(engine, **(kw | {"limit": 2,
                                                                                         "max_batches": 1})))
    casework.rebuild(ledger.engine, rules=rulebook.rules_in_force(ledger.engine),
                     calendar=rulebook.calendar_in_force(ledger.engine), directory=ledger.directory)
    monkeypatch.setattr(casework, "catch_up", real)
    wait_until(lambda: casework.ready(ledger.engine), 20, what="the worker to finish the rebuild")
    ledger.projected()
    assert tables(ledger.engine) == incremental
    assert ledger_indexes(ledger.engine) == declared_indexes()


def test_a_rebuild_builds_the_ledger_s_indexes_again_once_it_has_reached_the_last_message(
        make_ledger: Callable[..., Ledger], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ledger = make_ledger(workers=False)
    a = case(15)
    with ledger.client() as client:
        ledger.post(client, a.decision(mid(a, "decision"), now()), a.court)
        ledger.post(client, a.receipt(mid(a, "receipt"), now(), of=mid(a, "decision")), a.bureau)
    inputs = dict(rules=rulebook.rules_in_force(ledger.engine), calendar=rulebook.calendar_in_force(ledger.engine),
                  directory=ledger.directory)
    # Given a rebuild stopped before its first batch
    real = casework.catch_up
    monkeypatch.setattr(casework, "catch_up", lambda engine, **kw: 0)
    casework.rebuild(ledger.engine, **inputs)  # type: ignore[arg-type]
    monkeypatch.setattr(casework, "catch_up", real)
    # Then the secondary indexes are down while it runs, except the one the projection reads by
    assert ledger_indexes(ledger.engine) == {"ix_case_events_message"}
    assert not casework.ready(ledger.engine)
    # and a batch that does not reach the last message leaves them down
    assert casework.project(ledger.engine, limit=1, **inputs) == 1  # type: ignore[arg-type]
    assert ledger_indexes(ledger.engine) == {"ix_case_events_message"}
    # When the projection reaches the last message stored when the rebuild began
    assert casework.catch_up(ledger.engine, **inputs) == 1  # type: ignore[arg-type]
    # Then every index is back and the ledger is ready
    assert ledger_indexes(ledger.engine) == declared_indexes()
    assert casework.ready(ledger.engine)
    # And a rebuild of a hub with no message stored leaves them up
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    upgrade(url)
    empty = make_engine(url, pool_size=1)
    try:
        assert casework.rebuild(empty, **inputs) == 0  # type: ignore[arg-type]
        assert ledger_indexes(empty) == declared_indexes() and casework.ready(empty)
    finally:
        empty.dispose()


def declared_indexes() -> set[str]:
    return {str(i.name) for t in (cases, obligations, case_events) for i in t.indexes}


def ledger_indexes(engine: Engine) -> set[str]:
    """The secondary indexes the database has on the ledger's tables."""
    inspector = inspect(engine)
    return {str(i["name"]) for t in ("cases", "obligations", "case_events") for i in inspector.get_indexes(t)}


def test_a_calendar_year_loaded_gives_due_dates_to_obligations_that_waited_for_it(
        make_ledger: Callable[..., Ledger]) -> None:
    ledger = make_ledger()
    # Given a judgment that takes effect on 28 December 2026: reporting is due in January 2027, a year whose
    # working-day calendar the hub does not have yet
    c = case(14, effective=dt.date(2026, 12, 28))
    with ledger.client() as client:
        ledger.post(client, c.decision(mid(c, "decision"), now()), c.court)
        ledger.projected()
    report = obligation(ledger.engine, c, "report")
    assert (report["status"], report["due_date"], report["calendar_missing_year"]) == ("calendar_missing", None, 2027)
    # When an operator loads 2027
    rulebook.load_calendar_year(ledger.engine, "year = 2027\n[[day]]\nkind = 'holiday'\nname = '元旦'\n"
                                "from = 2027-01-01\nto = 2027-01-03\n", actor="530500ZX:李")
    # Then the ledger's worker reschedules it: ten days from 28 December is 7 January 2027
    wait_until(lambda: obligation(ledger.engine, c, "report")["due_date"] == dt.date(2027, 1, 7), 20,
               what="the obligation rescheduled")
    assert obligation(ledger.engine, c, "report")["calendar_missing_year"] is None
    with ledger.engine.connect() as conn:
        state = conn.execute(select(cases.c.state_json)).scalar()
        kinds = set(conn.execute(select(case_events.c.kind)).scalars())
        audited = conn.execute(select(func.count()).select_from(audit_log).where(
            audit_log.c.action == "obligations_reschedule")).scalar()
    stored = {o.rule_id: o for o in decode_state(state).obligations}
    assert stored["report"].due_date == dt.date(2027, 1, 7)  # the case's own state agrees with the row
    assert "obligation_rescheduled" in kinds and audited == 1


def test_on_postgresql_a_message_that_commits_after_a_later_one_is_not_skipped_and_projectors_take_turns(
        tmp_path: Path) -> None:
    with fresh_postgres() as url:
        upgrade(url)
        engine = make_engine(url, pool_size=8)
        registry = write_registry(tmp_path / "r.toml", recipients_url="http://127.0.0.1:9", drop_root=tmp_path)
        directory = load_registry(registry)
        hub = Hub(engine=engine, directory=directory, schema=load_schema())
        inputs = dict(rules=rulebook.rules_in_force(engine), calendar=rulebook.calendar_in_force(engine),
                      directory=directory)
        slow, quick = case(20), case(21)
        try:
            # Given a judgment whose transaction has taken its message number but not yet committed
            slow_raw = slow.decision(mid(slow, "decision"), now())
            item = hub.prepare(slow_raw, agency=directory.agencies[slow.court])
            conn = engine.connect()
            tx = conn.begin()
            store_message(conn, item, directory=directory, now=dt.datetime.now(dt.UTC))
            # and a later one about another person, committed first
            hub.ingest(quick.decision(mid(quick, "decision"), now()), agency=directory.agencies[quick.court])
            # When the ledger projects, it applies the later one and keeps the earlier number as a gap
            assert casework.project(engine, **inputs) == 1
            assert casework.status(engine)["gaps"] == 1
            # and when the first commits, it is applied in its turn: nothing is skipped
            tx.commit()
            conn.close()
            assert casework.project(engine, **inputs) == 1
            s = casework.status(engine)
            assert (s["gaps"], s["cases"]) == (0, 2)
            # Given forty more messages, and four projectors running side by side
            for n in range(22, 42):
                c = case(n)
                hub.ingest(c.decision(mid(c, "decision"), now()), agency=directory.agencies[c.court])
                hub.ingest(c.receipt(mid(c, "receipt"), now(), of=mid(c, "decision")),
                           agency=directory.agencies[c.bureau])
            runners = [threading.Thread(target=casework.catch_up, args=(engine,), kwargs=inputs | {"limit": 3})
                       for _ in range(4)]
            for t in runners:
                t.start()
            for t in runners:
                t.join()
            casework.catch_up(engine, **inputs)
            # Then each message was applied once
            with engine.connect() as c2:
                applied = list(c2.execute(select(case_events.c.message_id).where(case_events.c.kind == "applied"))
                               .scalars())
                stored = c2.execute(select(func.count()).select_from(messages)).scalar()
            assert len(applied) == len(set(applied)) == stored == 42
        finally:
            engine.dispose()


def test_a_case_state_is_stored_and_read_back_whole() -> None:
    # Given cases in many states, one of them with a receipt held back until its judgment comes
    histories: list[Callable[[Feed], None]] = [
        supervised, lost, lambda f: revoked(f, in_custody=False), lambda f: revoked(f, in_custody=True),
        lambda f: f(C.receipt(feed_mid("receipt"), at(dt.date(2026, 4, 3)), of=feed_mid("decision")),
                    dt.date(2026, 4, 3)),
    ]
    for history in histories:
        f = Feed()
        history(f)
        # When the state is written as JSON and read back, it is the same state
        assert decode_state(encode_state(f.now)) == f.now
        # and the encoder planned from the annotations writes what the one led by each value's class writes
        assert json.loads(encode_state(f.now)) == case_codec._plain(f.now)
    assert f.now.pending, "the last history holds a message back"


def test_the_ledger_tells_register_reconciliation_where_each_person_stands() -> None:
    def standing(history: Callable[[Feed], None]) -> str | None:
        f = Feed()
        history(f)
        status = register_status(f.now)
        return status.value if status is not None else None

    assert standing(supervised) == "under_supervision"
    assert standing(lost) == "under_supervision"  # lost contact: still on the books
    assert standing(lambda f: revoked(f, in_custody=False)) == "at_large"
    assert standing(lambda f: revoked(f, in_custody=True)) == "revoked"
    assert standing(lambda f: (supervised(f), f(C.custody(feed_mid("custody"), at(dt.date(2026, 5, 4)),
                                                         started=dt.date(2026, 5, 3)), dt.date(2026, 5, 4)))) \
        == "in_custody"
    assert standing(lambda f: (supervised(f), f(C.release(feed_mid("release"), at(dt.date(2028, 3, 31))),
                                                  dt.date(2028, 3, 31)))) == "released"
    assert standing(lambda f: f(C.commission(feed_mid("commission"), at(dt.date(2026, 3, 1))),
                                dt.date(2026, 3, 1))) is None  # no decision yet: in no register
