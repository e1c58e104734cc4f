"""Contract suite for the store: the same behaviour on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from hub.canonical import parse
from hub.core.retry import RetryPolicy
from hub.core.routing import route
from hub.migrate import upgrade
from hub.registry import load_registry
from hub.resources import default_registry_path
from hub.store.db import make_engine, utcnow
from hub.store.ingest import Incoming, store_batch, store_message
from hub.store.ledger import acknowledge
from hub.store.schema import deliveries, events, failed_transfers, messages, outbox
from hub.store.work import Outcome, claim, record_outcomes, sweep
from tests.harness import make_id, notice
from tests.services import fresh_postgres

DIRECTORY = load_registry(default_registry_path())
POLICY = RetryPolicy(tiers=(10.0, 20.0), jitter=0.0, max_age=dt.timedelta(minutes=5))


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/store.db"
        upgrade(url)
        e = make_engine(url)
        yield e
        e.dispose()
        return
    with fresh_postgres() as url:
        upgrade(url)
        e = make_engine(url)
        yield e
        e.dispose()


def put(engine: Engine, sample: str = "SentencingDecision", *, person: str | None = None, doc: str | None = None,
        now: dt.datetime | None = None) -> str:
    _mid, raw = notice(sample, sender="530502FY" if sample == "SentencingDecision" else None,
                      id_number=person, execution_division="530581", doc_id=doc)
    msg = parse(raw).canonical
    with engine.begin() as conn:
        acc = store_message(conn, Incoming(msg, raw, raw, "test", tuple(route(msg, DIRECTORY))), directory=DIRECTORY,
                            now=now or utcnow())
    return acc.message_id


def delivery_ids(engine: Engine, message_id: str, recipient: str | None = None) -> list[str]:
    q = select(deliveries.c.id).where(deliveries.c.message_id == message_id)
    if recipient:
        q = q.where(deliveries.c.recipient == recipient)
    with engine.connect() as c:
        return list(c.execute(q).scalars())


def state(engine: Engine, delivery_id: str) -> str:
    with engine.connect() as c:
        return str(c.execute(select(deliveries.c.state).where(deliveries.c.id == delivery_id)).scalar_one())


def test_store_is_idempotent_per_sender_document(engine: Engine) -> None:
    first = put(engine, doc="（2026）云0502刑初1号")
    with engine.begin() as conn:
        _mid, raw = notice("SentencingDecision", sender="530502FY", doc_id="（2026）云0502刑初1号")
        msg = parse(raw).canonical
        again = store_message(conn, Incoming(msg, raw, raw, "test", tuple(route(msg, DIRECTORY))),
                              directory=DIRECTORY, now=utcnow())
    assert again.message_id == first and not again.created
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(messages)).scalar() == 1
        assert c.execute(select(func.count()).select_from(deliveries)).scalar() == 3
        assert c.execute(select(func.count()).select_from(outbox)).scalar() == 3


def test_a_delivery_is_claimed_once_and_stale_outcomes_change_nothing(engine: Engine) -> None:
    mid = put(engine)
    d = delivery_ids(engine, mid, "530581SF")[0]
    now = utcnow()
    with engine.begin() as conn:
        first = claim(conn, [d], now=now, lease=30)
    with engine.begin() as conn:
        second = claim(conn, [d], now=now, lease=30)
    assert [c.delivery_id for c in first] == [d] and second == []
    with engine.begin() as conn:
        assert record_outcomes(conn, [Outcome(d, first[0].attempt, "delivered")], policy=POLICY, now=now) == 1
    with engine.begin() as conn:  # the same outcome again, and one from an older claim
        assert record_outcomes(conn, [Outcome(d, first[0].attempt, "delivered"),
                                      Outcome(d, first[0].attempt - 1, "transient", "late")],
                               policy=POLICY, now=now) == 0
    assert state(engine, d) == "delivered"
    with engine.connect() as c:
        n = c.execute(select(func.count()).select_from(events).where(
            events.c.delivery_id == d, events.c.kind == "delivered")).scalar()
    assert n == 1


def test_transient_failure_reschedules_through_the_outbox_then_gives_up(engine: Engine) -> None:
    mid = put(engine)
    d = delivery_ids(engine, mid, "530581SF")[0]
    t0 = utcnow()
    with engine.begin() as conn:
        c1 = claim(conn, [d], now=t0, lease=30)[0]
        record_outcomes(conn, [Outcome(d, c1.attempt, "transient", "HTTP 503")], policy=POLICY, now=t0,
                        rng=random.Random(1))
    with engine.connect() as c:
        row = c.execute(select(deliveries).where(deliveries.c.id == d)).mappings().one()
        due = c.execute(select(outbox.c.available_at).where(outbox.c.delivery_id == d)
                        .order_by(outbox.c.id.desc())).scalar()
    assert row["state"] == "pending" and row["failures"] == 1 and row["last_error"] == "HTTP 503"
    assert due is not None
    # not claimable before it is due
    with engine.begin() as conn:
        assert claim(conn, [d], now=t0, lease=30) == []
    # once the next attempt would fall past the maximum age, it becomes a failed transfer
    late = t0 + dt.timedelta(minutes=5)
    with engine.begin() as conn:
        c2 = claim(conn, [d], now=late, lease=30)[0]
        record_outcomes(conn, [Outcome(d, c2.attempt, "transient", "HTTP 503")], policy=POLICY, now=late)
    assert state(engine, d) == "failed"
    with engine.connect() as c:
        ft = c.execute(select(failed_transfers).where(failed_transfers.c.delivery_id == d)).mappings().one()
    assert ft["cause"] == "retries_exhausted" and ft["status"] == "open" and "HTTP 503" in ft["detail"]


def test_later_message_for_the_same_person_is_held_then_released(engine: Engine) -> None:
    person = make_id("530581", "19800101", 13)
    a = put(engine, person=person)
    b = put(engine, "CustodyNotice", person=person)
    da, db = delivery_ids(engine, a, "530581SF")[0], delivery_ids(engine, b, "530581SF")[0]
    now = utcnow()
    with engine.begin() as conn:
        got = claim(conn, [db, da], now=now, lease=30)
    assert [c.delivery_id for c in got] == [da]
    assert state(engine, db) == "held"
    with engine.begin() as conn:
        record_outcomes(conn, [Outcome(da, got[0].attempt, "delivered")], policy=POLICY, now=now)
    assert state(engine, db) == "pending"
    with engine.begin() as conn:
        assert [c.delivery_id for c in claim(conn, [db], now=now, lease=30)] == [db]


def test_sweep_redrives_expired_leases_and_lost_announcements(engine: Engine) -> None:
    mid = put(engine)
    d1, _d2, _ = delivery_ids(engine, mid)
    t0 = utcnow()
    with engine.begin() as conn:
        claim(conn, [d1], now=t0, lease=1)  # this worker will "die"
        conn.execute(outbox.delete())  # and the announcements of the others are lost
    later = t0 + dt.timedelta(seconds=10)
    with engine.begin() as conn:
        counts = sweep(conn, now=later, redrive_after=5, policy=POLICY)
    assert counts["lease_expired"] == 1 and counts["lost"] == 2
    with engine.connect() as c:
        announced = set(c.execute(select(outbox.c.delivery_id)).scalars())
    assert announced == set(delivery_ids(engine, mid))
    assert state(engine, d1) == "pending"


def test_acknowledgement_before_the_outcome_is_not_undone(engine: Engine) -> None:
    mid = put(engine)
    d = delivery_ids(engine, mid, "530581SF")[0]
    now = utcnow()
    with engine.begin() as conn:
        c1 = claim(conn, [d], now=now, lease=30)[0]
        assert acknowledge(conn, original_id=mid, by_agency="530581SF", ack_message_id=None, now=now)
        assert record_outcomes(conn, [Outcome(d, c1.attempt, "delivered")], policy=POLICY, now=now) == 0
    assert state(engine, d) == "acknowledged"


def test_concurrent_claims_never_lease_a_delivery_twice(engine: Engine) -> None:
    ids: list[str] = []
    for i in range(40):
        ids += delivery_ids(engine, put(engine, person=make_id("530581", "19700101", 2 * i + 1)))
    won: list[str] = []
    lock = threading.Lock()

    def grab() -> None:
        for _ in range(5):
            with engine.begin() as conn:
                got = claim(conn, ids, now=utcnow(), lease=60)
            with lock:
                won.extend(c.delivery_id for c in got)

    threads = [threading.Thread(target=grab) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won) == sorted(ids)


def test_a_batch_stores_each_message_once_in_order_and_answers_each(engine: Engine) -> None:
    # Given a batch with two notices about one person, a resubmission inside the batch, and a reused message id
    person = make_id("530581", "19790101", 15)
    items = []
    for sample, doc in (("SentencingDecision", "D-1"), ("CustodyNotice", "D-2"), ("SentencingDecision", "D-1")):
        _, raw = notice(sample, sender="530502FY" if sample == "SentencingDecision" else None, id_number=person,
                        execution_division="530581", doc_id=doc)
        msg = parse(raw).canonical
        items.append(Incoming(msg, raw, raw, "test", tuple(route(msg, DIRECTORY))))
    _, raw = notice("SentencingDecision", sender="530502FY", doc_id="D-3", message_id=items[0].msg.message_id)
    msg = parse(raw).canonical
    items.append(Incoming(msg, raw, raw, "test", tuple(route(msg, DIRECTORY))))
    # When it is stored in one transaction
    with engine.begin() as conn:
        res = store_batch(conn, items, directory=DIRECTORY, now=utcnow())
    # Then each gets its own answer
    first, second, again, taken = res
    assert first.created and second.created
    assert not again.created and again.message_id == items[0].msg.message_id
    assert isinstance(taken, Exception)
    # And the person's two notices are in acceptance order, each with its deliveries
    with engine.connect() as c:
        seqs = dict(c.execute(select(messages.c.id, messages.c.seq)).all())
        n = c.execute(select(func.count()).select_from(deliveries)).scalar()
    assert seqs[items[0].msg.message_id] < seqs[items[1].msg.message_id]
    assert len(seqs) == 2 and n == 5
