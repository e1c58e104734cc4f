"""Identity in the hub, on SQLite and PostgreSQL: messages posted through an in-process hub become agencies' person
records, linked across agencies by ID number or by name, birth date and case; possible matches are queued once;
reviewers' decisions are kept across relinks and restarts and audited; the endpoints and commands answer only
those who may see."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree
from sqlalchemy import Engine, func, insert, select

from hub import identity_store as ids
from hub.cli import main
from hub.store.db import make_engine
from hub.store.identity_schema import identity_decisions, identity_reviews, person_records
from hub.store.schema import audit_log, messages
from tests.conftest import Stack
from tests.harness import N, auth, make_id, notice, wait_until, write_registry
from tests.hubserver import InProcessHub, hub_settings

YANG = make_id("530522", "19880314", 31)  # 杨国富, born 1988-03-14, male; issued under 腾冲县's retired code
CASE = "（2026）云0502刑初123号"


class Hub:
    """An in-process hub (no workers: identity reads what is stored) and an engine on its database."""

    def __init__(self, tmp_path: Path, stack: Stack) -> None:
        self.stack = stack
        self.registry = write_registry(tmp_path / "registry.toml", recipients_url="http://127.0.0.1:9",
                                       drop_root=tmp_path)
        self.engine = make_engine(stack.database_url, pool_size=2)
        self.server = self.start()

    def start(self) -> InProcessHub:
        s = self.stack
        return InProcessHub(hub_settings(database_url=s.database_url, broker_url=s.broker_url,
                                         queue_prefix=s.queue_prefix, registry_path=self.registry),
                            workers=False).start()

    def restart(self) -> None:
        self.server.stop()
        self.server = self.start()

    def post(self, sample: str, sender: str, *, ref: str, name: str = "杨国富", id_number: str | None = YANG,
             case: str = CASE, born: str = "1988-03-14") -> str:
        def edit(root: etree._Element) -> None:
            root.find("x:envelope/x:personRef", N).text = ref
            person = root.find("x:person", N)
            person.find("x:name", N).text = name
            person.find("x:sex", N).text = "MALE"
            person.find("x:birthDate", N).text = born
            if id_number is None:
                person.remove(person.find("x:idNumber", N))
            root.find("x:case/x:caseNumber", N).text = case

        mid, xml = notice(sample, sender=sender, id_number=id_number, edit=edit)
        with self.client() as c:
            r = c.post("/api/v1/messages", content=xml, headers=auth(sender))
        assert r.status_code == 202, r.text
        return mid

    def client(self) -> httpx.Client:
        return self.server.client()

    def catch_up(self) -> ids.RelinkResult:
        while not ids.index_messages(self.engine, limit=2).caught_up:
            pass
        return ids.relink(self.engine)

    def person(self, ref: str) -> list[dict[str, Any]]:
        return ids.person_of(self.engine, ref)


@pytest.fixture
def hub(tmp_path: Path, stack: Stack) -> Iterator[Hub]:
    h = Hub(tmp_path, stack)
    yield h
    h.server.stop()
    h.engine.dispose()


def police_yang(hub: Hub, *, case: str = "（2025）云0581刑初77号") -> None:
    """腾冲市's police name 阳国富 (杨国富 in pinyin), without an ID, born the same day, male, in another case."""
    hub.post("PursuitResult", "530581GA", ref="530581GA:ZT-9", name="阳国富", id_number=None, case=case)


def keys(person: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(r["agency"], r["record_id"]): r["how"] for r in person["records"]}


def open_reviews(engine: Engine) -> list[dict[str, Any]]:
    return ids.reviews(engine, status="open")


def test_a_court_and_a_bureau_sending_the_same_id_are_one_person_and_a_pinyin_variant_with_the_case_joins(
        hub: Hub) -> None:
    # Given a court's judgment and the bureau's reporting outcome for 杨国富 with the same ID number, and the
    # police of 隆阳区 naming him 杨国福 (a homophone), without an ID, born the same day, in the same case
    hub.post("SentencingDecision", "530502FY", ref="530502FY:RY-1")
    hub.post("ReportingOutcome", "530581SF", ref="530581SF:JZ-1")
    hub.post("CustodyNotice", "530502GA", ref="530502GA:XY-1", name="杨国福", id_number=None)
    # When the identity index catches up and relinks
    result = hub.catch_up()
    # Then the three records are one person: two by the ID number, the police record by name, birth and case
    (person,) = hub.person(YANG)
    assert keys(person) == {("530502FY", "530502FY:RY-1"): "id", ("530581SF", "530581SF:JZ-1"): "id",
                            ("530502GA", "530502GA:XY-1"): "match"}
    assert (result.records, result.persons, result.queued) == (3, 1, 0)
    # And the same person is found by the ledger's key of a record without an ID and by the person id
    assert hub.person("ref|530502GA:XY-1") == [person] == hub.person(person["person_id"])
    # And a later message of the court's record changes nothing but its values; a relink keeps the person id
    hub.post("RevocationDecision", "530502FY", ref="530502FY:RY-1")
    assert hub.catch_up().links_changed == 0
    assert hub.person(YANG)[0]["person_id"] == person["person_id"]


def test_a_possible_match_is_queued_once_and_a_not_same_decision_keeps_them_apart_across_restarts(hub: Hub) -> None:
    # Given the court's 杨国富 with an ID, and 腾冲市's police naming 阳国富 (the same in pinyin), no ID, born the
    # same day, in another case: possibly the same person, which only a reviewer can say
    hub.post("SentencingDecision", "530502FY", ref="530502FY:RY-1")
    police_yang(hub)
    hub.catch_up()
    (item,) = open_reviews(hub.engine)
    assert {item["a"]["agency"], item["b"]["agency"]} == {"530502FY", "530581GA"}
    assert [r["code"] for r in item["reasons"]][:2] == ["name_pinyin", "birth_same"]
    assert "姓名拼音相同" in item["reasons"][0]["zh"] and "pinyin" in item["reasons"][0]["en"]
    assert len(hub.person(YANG)[0]["records"]) == 1  # never merged silently
    # When more messages come and the index relinks again, Then the pair is still one item, the same one
    police_yang(hub)
    hub.catch_up()
    hub.catch_up()
    assert [i["id"] for i in open_reviews(hub.engine)] == [item["id"]]
    # When an operator decides through the API that they are not the same person
    with hub.client() as c:
        r = c.post(f"/api/v1/identity/reviews/{item['id']}/decide", headers=auth("530500ZX"),
                   json={"same": False, "by": "王科长", "reason": "公安核实：另有其人，出生地不同"})
        assert r.status_code == 200, r.text
    assert r.json()["review"]["status"] == "decided" and r.json()["decision"]["judgement"] == "NOT_SAME"
    # And the police later send the very case number of the court's record (a MATCH but for the decision)
    police_yang(hub, case=CASE)
    hub.restart()
    hub.catch_up()
    # Then they stay two persons, the pair is never queued again, and the decision is in the audit log
    assert len(hub.person(YANG)[0]["records"]) == 1
    assert open_reviews(hub.engine) == []
    with hub.engine.connect() as conn:
        (entry,) = conn.execute(select(audit_log).where(audit_log.c.action == "identity_decision")).mappings()
        assert conn.execute(select(func.count()).select_from(identity_reviews)).scalar() == 1
    detail = json.loads(entry["detail"])
    assert entry["actor"] == "530500ZX:王科长" and detail["judgement"] == "NOT_SAME"
    assert detail["reason"] == "公安核实：另有其人，出生地不同" and detail["review_id"] == item["id"]


def test_a_same_decision_links_a_later_one_supersedes_it_and_every_decision_stays_on_record(hub: Hub) -> None:
    # Given a possible match between the court's record and the police's record of 阳国富
    hub.post("SentencingDecision", "530502FY", ref="530502FY:RY-1")
    police_yang(hub)
    hub.catch_up()
    (item,) = open_reviews(hub.engine)
    a, b = item["a"]["id"], item["b"]["id"]
    # When a reviewer decides they are the same person
    ids.decide(hub.engine, a, b, same=True, by="530500ZX:李", reason="指纹比对一致")
    # Then they are one person, the police record linked by the decision
    (person,) = hub.person(YANG)
    assert keys(person)[("530581GA", "530581GA:ZT-9")] == "decision"
    # When another reviewer later decides otherwise (in the other order of the pair)
    out = ids.decide(hub.engine, b, a, same=False, by="530500ZX:王", reason="复核：指纹比对记录张冠李戴")
    # Then the later decision stands, the first is kept, and each one is in the audit log
    assert out["supersedes"] == "SAME" and len(hub.person(YANG)[0]["records"]) == 1
    with hub.engine.connect() as conn:
        kept = conn.execute(select(identity_decisions.c.judgement).order_by(identity_decisions.c.id)).scalars()
        assert list(kept) == ["SAME", "NOT_SAME"]
        audited = conn.execute(select(audit_log.c.actor).where(audit_log.c.action == "identity_decision")
                               .order_by(audit_log.c.id)).scalars()
        assert list(audited) == ["530500ZX:李", "530500ZX:王"]
    # And a decision without a reason, or on one record twice, is refused and stores nothing
    with pytest.raises(ValueError, match="reason"):
        ids.decide(hub.engine, a, b, same=True, by="李", reason=" ")
    with pytest.raises(ValueError, match="two different"):
        ids.decide(hub.engine, a, a, same=True, by="李", reason="x")
    with hub.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(identity_decisions)).scalar() == 2


def test_a_same_decision_that_contradicts_a_not_same_one_is_not_applied_nor_queued_again(hub: Hub) -> None:
    # Given the court's and the bureau's 杨国富 (one person by ID) and the police's 阳国富, possibly either
    hub.post("SentencingDecision", "530502FY", ref="530502FY:RY-1")
    hub.post("ReportingOutcome", "530581SF", ref="530581SF:JZ-1")
    police_yang(hub)
    hub.catch_up()
    pairs = {frozenset((i["a"]["agency"], i["b"]["agency"])): i for i in open_reviews(hub.engine)}
    court, bureau = pairs[frozenset(("530502FY", "530581GA"))], pairs[frozenset(("530581SF", "530581GA"))]
    # When one reviewer says the police record is not the court's person, and another that it is the bureau's
    ids.decide(hub.engine, court["a"]["id"], court["b"]["id"], same=False, by="王", reason="另有其人")
    ids.decide(hub.engine, bureau["a"]["id"], bureau["b"]["id"], same=True, by="李", reason="照片相似")
    hub.catch_up()
    # Then "not the same" holds (the court's and the bureau's records are one person by ID), and neither
    # decided pair is queued again
    assert len(hub.person(YANG)) == 1 and len(hub.person(YANG)[0]["records"]) == 2
    assert open_reviews(hub.engine) == []


def test_the_endpoints_answer_only_those_who_may_see_and_decide(hub: Hub) -> None:
    hub.post("SentencingDecision", "530502FY", ref="530502FY:RY-1")
    police_yang(hub)
    hub.post("ReportingOutcome", "530581SF", ref="530581SF:JZ-1")
    hub.catch_up()
    # Given the police's 阳国富 possibly the same as the court's and as the bureau's 杨国富 (one person by ID)
    queue = open_reviews(hub.engine)
    assert len(queue) == 2
    item = next(i for i in queue if "530581SF" in (i["a"]["agency"], i["b"]["agency"]))
    with hub.client() as c:
        def reviews(agency: str) -> httpx.Response:
            return c.get("/api/v1/identity/reviews", params={"status": "open"}, headers=auth(agency))

        # the operators see the queue; a bureau sees the items that involve its records; others may not look
        assert {i["id"] for i in reviews("530500ZX").json()["reviews"]} == {i["id"] for i in queue}
        assert [i["id"] for i in reviews("530581SF").json()["reviews"]] == [item["id"]]
        assert reviews("530524SF").json()["reviews"] == []
        assert reviews("530581GA").status_code == 403 and reviews("530502FY").status_code == 403
        assert c.get("/api/v1/identity/reviews", params={"status": "x"}, headers=auth("530500ZX")).status_code == 400
        # only operators decide; a bad body is refused naming the field; an unknown item is 404
        url = f"/api/v1/identity/reviews/{item['id']}/decide"
        good = {"same": False, "by": "王科长", "reason": "另有其人"}
        assert c.post(url, json=good, headers=auth("530581SF")).status_code == 403
        r = c.post(url, json={**good, "same": "no"}, headers=auth("530500ZX"))
        assert r.status_code == 422 and r.json()["error"]["details"][0]["path"] == "same"
        r = c.post(url, json={**good, "reason": ""}, headers=auth("530500ZX"))
        assert r.status_code == 422 and r.json()["error"]["details"][0]["path"] == "reason"
        assert c.post(url.replace(item["id"], "nope"), json=good, headers=auth("530500ZX")).status_code == 404
        # a person's records: an agency holding one of them sees them all; one holding none does not
        for agency, status in (("530502FY", 200), ("530581SF", 200), ("530500ZX", 200), ("530524SF", 404),
                               ("530581JC", 404), ("530581GA", 404)):
            r = c.get(f"/api/v1/persons/{YANG}/records", headers=auth(agency))
            assert r.status_code == status, (agency, r.text)
        seen = c.get(f"/api/v1/persons/{YANG}/records", headers=auth("530581SF")).json()["persons"]
        assert {r["agency"] for r in seen[0]["records"]} == {"530502FY", "530581SF"}
        # the police see their own record of 阳国富, kept apart from the court's
        seen = c.get("/api/v1/persons/ref|530581GA:ZT-9/records", headers=auth("530581GA")).json()["persons"]
        assert [r["name"] for r in seen[0]["records"]] == ["阳国富"]
    # nothing was decided by the refused requests
    assert open_reviews(hub.engine) == queue


def test_the_index_waits_at_a_gap_that_may_still_commit_and_skips_a_message_it_cannot_read(hub: Hub) -> None:
    hub.post("SentencingDecision", "530502FY", ref="530502FY:RY-1")
    assert ids.index_messages(hub.engine).cursor == 1
    with hub.engine.begin() as conn:
        row = dict(conn.execute(select(messages)).mappings().one())
    now = dt.datetime.now(dt.UTC)

    def stored(seq: int, *, canonical: bytes = row["canonical"], age: float = 0) -> None:
        with hub.engine.begin() as conn:
            conn.execute(insert(messages).values(row | {
                "seq": seq, "id": f"00000000-0000-0000-0000-{seq:012d}", "sender_document_id": f"gap-{seq}",
                "canonical": canonical, "received_at": now - dt.timedelta(seconds=age)}))

    # Given seq 3 stored while seq 2 is (perhaps) still committing elsewhere
    stored(3)
    # Then the index stops before the gap
    assert (ids.index_messages(hub.engine).cursor, ids.index_messages(hub.engine).read) == (1, 0)
    # Given a later seq 5 stored two minutes after its gap at 4 opened (4 was rolled back), and 2 committed late
    stored(2, canonical=b"<not-canonical/>")
    stored(5, age=0)
    done = ids.index_messages(hub.engine, now=now + ids.SETTLE + dt.timedelta(seconds=1))
    # Then it reads 2 (unreadable: skipped, named), 3 and 5, and the readable ones update the court's record
    assert (done.read, done.cursor, done.skipped) == (3, 5, ("00000000-0000-0000-0000-000000000002",))
    assert ids.relink(hub.engine).records == 1


def test_the_hubs_own_deadline_notices_are_skipped_without_a_warning(hub: Hub,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    # Given a court's judgment and, after it, one of the hub's own deadline notices (the sample, about another
    # person) in the message store
    hub.post("SentencingDecision", "530502FY", ref="530502FY:RY-1")
    sample = Path(__file__).parent.parent / "schemas/canonical/v1/samples/DeadlineNotice.xml"
    with hub.engine.begin() as conn:
        row = dict(conn.execute(select(messages)).mappings().one())
        conn.execute(insert(messages).values(row | {
            "seq": 2, "id": "00000000-0000-0000-0000-000000000002", "sender_document_id": "XJ-ALARM-sample",
            "message_type": "DeadlineNotice", "sender": "530500ZX", "canonical": sample.read_bytes()}))
    # When identity indexes the store
    with caplog.at_level(logging.INFO, logger="xianjie.identity"):
        done = ids.index_messages(hub.engine)
    # Then it passes over the notice: read, nothing skipped as unreadable, no warning, only the court's record
    assert (done.read, done.cursor, done.skipped, done.records) == (2, 2, (), 1)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    with hub.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(person_records)).scalar() == 1


def test_the_commands_index_list_decide_and_show(hub: Hub, capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--database-url", hub.stack.database_url]
    hub.post("SentencingDecision", "530502FY", ref="530502FY:RY-1")
    police_yang(hub)
    assert main([*db, "identity", "index"]) == 0
    assert "2 person records" in capsys.readouterr().out
    assert main([*db, "identity", "reviews", "--json"]) == 0
    (item,) = json.loads(capsys.readouterr().out)
    assert main([*db, "identity", "reviews"]) == 0
    assert "姓名拼音相同" in capsys.readouterr().out
    assert main([*db, "identity", "decide", item["id"], "--same", "--by", "李", "--reason", ""]) == 2
    assert "reason" in capsys.readouterr().err
    assert main([*db, "identity", "decide", item["id"], "--same", "--by", "李", "--reason", "户籍核实"]) == 0
    assert "同一人" in capsys.readouterr().out
    assert main([*db, "identity", "person", YANG]) == 0
    out = capsys.readouterr().out
    assert "阳国富" in out and "人工判定" in out
    assert main([*db, "identity", "person", "110101199001011234"]) == 1


def test_the_workers_link_what_arrives_without_anyone_asking(tmp_path: Path, stack: Stack,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import hub.workers.casework as worker

    monkeypatch.setattr(worker, "IDENTITY_INTERVAL", 0.2)
    # Given a hub running its workers (the ledger's loop links identities once it has caught up)
    h = Hub.__new__(Hub)
    h.stack, h.registry = stack, write_registry(tmp_path / "registry.toml", recipients_url="http://127.0.0.1:9",
                                                drop_root=tmp_path)
    h.engine = make_engine(stack.database_url, pool_size=2)
    h.server = InProcessHub(hub_settings(database_url=stack.database_url, broker_url=stack.broker_url,
                                         queue_prefix=stack.queue_prefix, registry_path=h.registry,
                                         ledger_poll=0.1)).start()
    try:
        # When a court and a bureau send the same person
        h.post("SentencingDecision", "530502FY", ref="530502FY:RY-1")
        h.post("ReportingOutcome", "530581SF", ref="530581SF:JZ-1")
        # Then, without an index run by hand, the two records become one person
        wait_until(lambda: bool(h.person(YANG)) and len(h.person(YANG)[0]["records"]) == 2,
                   what="the workers' identity linking")
        (person,) = h.person(YANG)
        assert set(keys(person)) == {("530502FY", "530502FY:RY-1"), ("530581SF", "530581SF:JZ-1")}
    finally:
        h.server.stop()
        h.engine.dispose()
