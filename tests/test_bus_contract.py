"""Contract suite for the bus: kombu's SQLAlchemy transport, RabbitMQ, and the in-memory twin behave alike."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.bus.kombu_bus import Bus, KombuBus, MemoryBus, decode
from hub.bus.topology import build_topology
from tests.services import delete_topology, require_rabbit


def ids(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


@pytest.fixture(params=["memory", "sqla-sqlite", "rabbitmq"])
def bus(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bus]:
    url, prefix = "", f"c{uuid.uuid4().hex[:8]}."
    if request.param == "memory":
        b: Bus = MemoryBus()
    else:
        url = f"sqla+sqlite:///{tmp_path}/broker.db" if request.param == "sqla-sqlite" else require_rabbit()
        b = KombuBus(url, build_topology(broker_url=url, prefix=prefix))
    yield b
    b.close()
    delete_topology(url, prefix)


def consume_until(bus: Bus, want: int, handler_extra: object = None, timeout: float = 15) -> list[list[str]]:
    got: list[list[str]] = []
    stop = threading.Event()

    def handler(batch: list[str]) -> None:
        if callable(handler_extra):
            handler_extra(batch)
        got.append(batch)
        if sum(len(b) for b in got) >= want:
            stop.set()

    t = threading.Thread(target=bus.consume, args=(handler,), kwargs={"stop": stop}, daemon=True)
    t.start()
    stop.wait(timeout)
    stop.set()
    t.join(10)
    return got


def test_published_batches_are_consumed_whole(bus: Bus) -> None:
    batches = [ids(3), ids(1), ids(50)]
    bus.publish(batches)
    got = consume_until(bus, 54)
    assert sorted(map(tuple, got)) == sorted(map(tuple, batches))


def test_a_failing_handler_gets_the_batch_again(bus: Bus) -> None:
    batch = ids(2)
    bus.publish([batch])
    calls: list[int] = []

    def flaky(_b: list[str]) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database away")

    got = consume_until(bus, 2, handler_extra=flaky)
    assert got == [batch] and len(calls) == 2


def test_ping_answers(bus: Bus) -> None:
    assert bus.ping()


def test_unreachable_rabbitmq_does_not_answer_and_publish_raises_transient() -> None:
    from hub.errors import BrokerUnavailable

    url = "amqp://guest:guest@127.0.0.1:1//"
    b = KombuBus(url, build_topology(broker_url=url))
    assert not b.ping()
    with pytest.raises(BrokerUnavailable):
        b.publish([ids(1)])


def test_decode_refuses_what_is_not_an_announcement() -> None:
    for bad in ({"v": 2}, {"v": 1, "deliveries": ["x"]}, "[]", b"{}"):
        with pytest.raises(ValueError):
            decode(bad)
    good = ids(2)
    assert decode({"v": 1, "deliveries": good}) == good


def test_rabbitmq_redelivers_what_a_dead_consumer_did_not_ack() -> None:
    url = require_rabbit()
    from kombu.connection import Connection

    prefix = f"c{uuid.uuid4().hex[:8]}."
    topo = build_topology(broker_url=url, prefix=prefix)
    bus = KombuBus(url, topo)
    batch = ids(4)
    bus.publish([batch])
    # a consumer takes the message and vanishes without acking
    conn = Connection(url)
    q = topo.deliver(conn.default_channel)
    msg = q.get(no_ack=False)
    assert msg is not None and decode(msg.payload) == batch
    conn.release()
    time.sleep(0.5)
    got = consume_until(bus, 4)
    bus.close()
    delete_topology(url, prefix)
    assert got == [batch]
