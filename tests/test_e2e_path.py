"""End to end, on both stacks: post → routed → delivered to real loopback recipients → receipt → acknowledged."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.store.schema import deliveries, events
from tests.conftest import Stack
from tests.harness import Recipients, auth, make_id, notice, states, status, technical_ack, wait_until
from tests.hubserver import InProcessHub, hub_settings


@pytest.fixture
def hub(stack: Stack, registry: Path, tmp_path: Path) -> Iterator[InProcessHub]:
    s = hub_settings(database_url=stack.database_url, broker_url=stack.broker_url, registry_path=registry,
                     queue_prefix=stack.queue_prefix)
    s = replace(s, retry=replace(s.retry, tiers=(0.5, 1.0, 2.0), inline_wait=0.05))
    h = InProcessHub(s).start()
    yield h
    h.stop()


def test_judgment_reaches_bureau_police_and_procuratorate_then_is_acknowledged(
        hub: InProcessHub, recipients: Recipients) -> None:
    # Given a court in 隆阳区 sentencing a person who lives in 腾冲市
    mid, xml = notice("SentencingDecision", sender="530502FY", id_number=make_id("530522", "19880314", 31),
                      execution_division="530581")
    with hub.client() as c:
        # When the court posts it
        r = c.post("/api/v1/messages", content=xml, headers=auth("530502FY"))
        assert r.status_code == 202, r.text
        assert r.json()["message_id"] == mid
        assert r.json()["status_url"].endswith(f"/api/v1/messages/{mid}")
        # Then 腾冲's bureau and police get it pushed, and its procuratorate finds it in its inbox
        wait_until(lambda: states(c, mid) == {"530581SF": "delivered", "530581GA": "delivered",
                                              "530581JC": "available"}, what="deliveries")
        assert {x.agency for x in recipients.got() if x.message_id == mid} == {"530581SF", "530581GA"}
        inbox = c.get("/api/v1/inbox", headers=auth("530581JC")).json()["items"]
        assert [i["message_id"] for i in inbox] == [mid]
        assert "<SentencingDecision" in inbox[0]["payload"]
        assert c.post(f"/api/v1/inbox/{inbox[0]['delivery_id']}/ack", headers=auth("530581JC")).status_code == 200
        # And when the bureau and police send technical acknowledgements, every delivery is acknowledged
        for code in ("530581SF", "530581GA"):
            a = c.post("/api/v1/messages", content=technical_ack(code, mid), headers=auth(code))
            assert a.status_code == 202, a.text
        assert set(states(c, mid).values()) == {"acknowledged"}
        kinds = [e["kind"] for e in status(c, mid)["timeline"]]
        for k in ("received", "validated", "routed", "attempt", "delivered", "acknowledged"):
            assert k in kinds


def test_resubmission_returns_the_first_message_id(hub: InProcessHub) -> None:
    mid, xml = notice("SentencingDecision", sender="530502FY", doc_id="（2026）云0502刑初77号-送达")
    _, again = notice("SentencingDecision", sender="530502FY", doc_id="（2026）云0502刑初77号-送达")
    with hub.client() as c:
        assert c.post("/api/v1/messages", content=xml, headers=auth("530502FY")).status_code == 202
        r = c.post("/api/v1/messages", content=again, headers=auth("530502FY"))
        assert r.status_code == 200
        assert r.json()["message_id"] == mid


def test_recipient_answering_with_an_ack_is_acknowledged_at_once(hub: InProcessHub, recipients: Recipients) -> None:
    recipients.modes["530581SF"] = "ack"
    mid, xml = notice("SentencingDecision", sender="530502FY", execution_division="530581")
    with hub.client() as c:
        assert c.post("/api/v1/messages", content=xml, headers=auth("530502FY")).status_code == 202
        wait_until(lambda: states(c, mid).get("530581SF") == "acknowledged", what="ack in response")


def test_drop_folder_recipient_gets_an_atomic_file(hub: InProcessHub, tmp_path: Path) -> None:
    # 施甸县公安局 receives by drop folder
    mid, xml = notice("SentencingDecision", sender="530502FY", execution_division="530521")
    with hub.client() as c:
        assert c.post("/api/v1/messages", content=xml, headers=auth("530502FY")).status_code == 202
        wait_until(lambda: states(c, mid).get("530521GA") == "delivered", what="folder delivery")
    files = list((tmp_path / "drop" / "530521GA").iterdir())
    assert len(files) == 1 and files[0].name.endswith(f"-SentencingDecision-{mid}.xml")
    assert files[0].read_bytes() == xml


def test_recipient_down_for_a_while_then_up_gets_everything(hub: InProcessHub, recipients: Recipients) -> None:
    recipients.modes["530581SF"] = "down"
    ids = []
    with hub.client() as c:
        for i in range(5):
            mid, xml = notice("SentencingDecision", sender="530502FY", execution_division="530581",
                              id_number=make_id("530502", "19900101", 11 + 2 * i))
            assert c.post("/api/v1/messages", content=xml, headers=auth("530502FY")).status_code == 202
            ids.append(mid)
        wait_until(lambda: all(status(c, m)["recipients"][0]["attempts"] >= 1 for m in ids), what="first attempts")
        # the others are not delayed by the dead bureau
        wait_until(lambda: all(states(c, m)["530581GA"] == "delivered" for m in ids), what="police deliveries")
        recipients.modes["530581SF"] = "ok"
        wait_until(lambda: all(states(c, m)["530581SF"] == "delivered" for m in ids), timeout=60,
                   what="bureau deliveries after recovery")
    assert {x.message_id for x in recipients.got("530581SF")} == set(ids)


def test_permanent_rejection_becomes_failed_transfer_and_api_retry_delivers(
        hub: InProcessHub, recipients: Recipients) -> None:
    recipients.modes["530581SF"] = "reject"
    mid, xml = notice("SentencingDecision", sender="530502FY", execution_division="530581")
    with hub.client() as c:
        assert c.post("/api/v1/messages", content=xml, headers=auth("530502FY")).status_code == 202
        wait_until(lambda: states(c, mid).get("530581SF") == "failed", what="failed transfer")
        fts = c.get("/api/v1/failed-transfers", headers=auth("530500ZX")).json()["items"]
        ft = next(f for f in fts if f["message_id"] == mid)
        assert ft["cause"] == "rejected" and "HTTP 400" in ft["detail"]
        # an agency may not act on failed transfers
        assert c.post(f"/api/v1/failed-transfers/{ft['id']}/retry", headers=auth("530581SF")).status_code == 403
        recipients.modes["530581SF"] = "ok"
        r = c.post(f"/api/v1/failed-transfers/{ft['id']}/retry", headers=auth("530500ZX"))
        assert r.status_code == 202, r.text
        wait_until(lambda: states(c, mid).get("530581SF") == "delivered", what="delivered after retry")
        resolved = c.get("/api/v1/failed-transfers?status=resolved", headers=auth("530500ZX")).json()["items"]
        assert any(f["id"] == ft["id"] and f["resolution"] == "delivered after retry" for f in resolved)


def test_unroutable_message_becomes_no_recipient_failed_transfer(hub: InProcessHub) -> None:
    # 530522 (腾冲县) was retired in 2015: no bureau is registered there
    mid, xml = notice("SentencingDecision", sender="530502FY", execution_division="530522")
    with hub.client() as c:
        assert c.post("/api/v1/messages", content=xml, headers=auth("530502FY")).status_code == 202
        fts = c.get("/api/v1/failed-transfers?cause=no_recipient", headers=auth("530500ZX")).json()["items"]
        mine = [f for f in fts if f["message_id"] == mid]
        assert len(mine) == 3  # bureau, procuratorate and police of 530522
        assert any("BUREAU" in f["detail"] and "530522" in f["detail"] for f in mine)


def test_per_person_order_holds_later_messages_behind_a_stuck_one(hub: InProcessHub, recipients: Recipients) -> None:
    person = make_id("530581", "19750505", 17)
    other = make_id("530581", "19760606", 19)
    recipients.modes["530581SF"] = "reject"
    with hub.client() as c:
        first, xml1 = notice("SentencingDecision", sender="530502FY", execution_division="530581", id_number=person)
        assert c.post("/api/v1/messages", content=xml1, headers=auth("530502FY")).status_code == 202
        wait_until(lambda: states(c, first).get("530581SF") == "failed", what="first fails")
        recipients.modes["530581SF"] = "ok"
        second, xml2 = notice("CustodyNotice", sender="530581GA", execution_division="530581", id_number=person)
        third, xml3 = notice("SentencingDecision", sender="530502FY", execution_division="530581", id_number=other)
        for sender, x in (("530581GA", xml2), ("530502FY", xml3)):
            assert c.post("/api/v1/messages", content=x, headers=auth(sender)).status_code == 202
        # the same person's later message waits, visibly; another person's goes through
        wait_until(lambda: states(c, third).get("530581SF") == "delivered", what="other person delivered")
        wait_until(lambda: states(c, second).get("530581SF") == "held", what="held")
        held = next(d for d in status(c, second)["recipients"] if d["recipient"] == "530581SF")
        assert first in held["hold_reason"]
        ft = next(f for f in c.get("/api/v1/failed-transfers", headers=auth("530500ZX")).json()["items"]
                  if f["message_id"] == first)
        assert c.post(f"/api/v1/failed-transfers/{ft['id']}/retry", headers=auth("530500ZX")).status_code == 202
        wait_until(lambda: states(c, second).get("530581SF") == "delivered", what="released after the first")
    got = [x.message_id for x in recipients.got("530581SF") if x.message_id in (first, second)]
    assert got == [first, second]


def test_a_slow_recipient_does_not_delay_the_others(hub: InProcessHub, recipients: Recipients) -> None:
    # Given 腾冲's bureau takes 3 s to answer each push
    recipients.modes["530581SF"] = "slow"
    recipients.slow_seconds = 3.0
    ids = []
    with hub.client() as c:
        for i in range(20):
            mid, xml = notice("SentencingDecision", sender="530502FY", execution_division="530581",
                              id_number=make_id("530581", "19910101", 2 * i + 1))
            assert c.post("/api/v1/messages", content=xml, headers=auth("530502FY")).status_code == 202
            ids.append(mid)
        # Then its police get all twenty long before the bureau could have taken them (20 × 3 s / 4 lanes)
        import time

        t0 = time.time()
        wait_until(lambda: all(states(c, m)["530581GA"] == "delivered" for m in ids), timeout=10,
                   what="police deliveries beside a slow bureau")
        assert time.time() - t0 < 10
        assert sum(1 for m in ids if states(c, m)["530581SF"] == "delivered") < 20


def test_an_error_body_with_nul_bytes_is_recorded_readably_and_blocks_nothing(
        hub: InProcessHub, recipients: Recipients) -> None:
    # Given a bureau whose gateway answers 400 with NUL and invalid bytes (PostgreSQL refuses NUL in text)
    recipients.modes["530581SF"] = "reject-nul"
    first, xml = notice("SentencingDecision", sender="530502FY", execution_division="530581")
    with hub.client() as c:
        assert c.post("/api/v1/messages", content=xml, headers=auth("530502FY")).status_code == 202
        # Then the failure is on the record with printable text
        wait_until(lambda: states(c, first).get("530581SF") == "failed", what="failed transfer")
        ft = next(f for f in c.get("/api/v1/failed-transfers", headers=auth("530500ZX")).json()["items"]
                  if f["message_id"] == first)
        assert "HTTP 400" in ft["detail"] and "\x00" not in ft["detail"]
        # And later notices to the same hub are still delivered
        second, xml2 = notice("SentencingDecision", sender="530502FY", execution_division="530523")
        assert c.post("/api/v1/messages", content=xml2, headers=auth("530502FY")).status_code == 202
        wait_until(lambda: states(c, second).get("530523SF") == "delivered", what="next notice delivered")



def test_two_fetches_of_one_inbox_at_once_record_each_item_delivered_once(hub: InProcessHub) -> None:
    # Given 30 judgments for 腾冲市, each waiting in its procuratorate's pull inbox
    mids = []
    with hub.client() as c:
        for i in range(30):
            person = make_id("530522", "19880314", 101 + 2 * i)  # odd sequence digits: the sample's MALE
            mid, xml = notice("SentencingDecision", sender="530502FY", id_number=person, execution_division="530581")
            r = c.post("/api/v1/messages", content=xml, headers=auth("530502FY"))
            assert r.status_code == 202, r.text
            mids.append(mid)
        wait_until(lambda: all(states(c, m).get("530581JC") == "available" for m in mids), what="inbox items")
    # When six clients of that procuratorate fetch its inbox at the same moment
    start = threading.Barrier(6)
    fetched: list[int] = []

    def fetch() -> None:
        with hub.client() as c:
            start.wait()
            r = c.get("/api/v1/inbox", params={"limit": 500}, headers=auth("530581JC"))
            fetched.append(len({i["message_id"] for i in r.json()["items"]} & set(mids)))

    threads = [threading.Thread(target=fetch) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then every client saw every item, and each item's delivery to the inbox is on the record exactly once
    assert fetched == [30] * 6
    engine = sa.create_engine(hub.settings.database_url)
    try:
        with engine.connect() as conn:
            ids = conn.execute(sa.select(deliveries.c.id).where(
                deliveries.c.recipient == "530581JC", deliveries.c.message_id.in_(mids))).scalars().all()
            counts = conn.execute(sa.select(events.c.delivery_id, sa.func.count()).where(
                events.c.kind == "delivered", events.c.delivery_id.in_(ids)).group_by(events.c.delivery_id)).all()
    finally:
        engine.dispose()
    assert len(ids) == 30 and sorted(n for _, n in counts) == [1] * 30
