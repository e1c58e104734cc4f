"""The bus edge: announcements of due deliveries over kombu (RabbitMQ or kombu's SQLAlchemy transport),
and an in-memory twin for unit tests. Driver errors become BrokerUnavailable."""

from __future__ import annotations

import json
import logging
import queue as stdqueue
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from kombu.connection import Connection
from kombu.message import Message
from kombu.messaging import Consumer, Producer

from hub.bus.topology import Topology
from hub.errors import BrokerUnavailable

log = logging.getLogger("xianjie.bus")

Handler = Callable[[list[str]], None]


class Bus(Protocol):
    def publish(self, batches: Sequence[Sequence[str]]) -> None:
        """Publish each batch of delivery ids; returns only when the broker has confirmed them all."""

    def consume(self, handler: Handler, *, stop: threading.Event) -> None:
        """Hand announced batches to ``handler`` until ``stop`` is set; ack only after it returns."""

    def ping(self) -> bool:
        """True if the broker answers."""

    def close(self) -> None: ...


def _encode(ids: Sequence[str]) -> dict[str, Any]:
    return {"v": 1, "deliveries": list(ids)}


def decode(body: Any) -> list[str]:
    """The delivery ids of an announcement; ValueError if it is not one."""
    if isinstance(body, (bytes, str)):
        body = json.loads(body)
    if not isinstance(body, dict) or body.get("v") != 1 or not isinstance(body.get("deliveries"), list):
        raise ValueError(f"not a delivery announcement: {str(body)[:200]}")
    ids: list[str] = [i for i in body["deliveries"] if isinstance(i, str) and len(i) == 36]
    if len(ids) != len(body["deliveries"]):
        raise ValueError("announcement carries malformed delivery ids")
    return ids


class KombuBus:
    """Publishes with confirms (RabbITMQ) and consumes with manual acks and a prefetch window."""

    def __init__(self, url: str, topology: Topology) -> None:
        self.url = url
        self.topology = topology
        self.rabbit = url.startswith(("amqp", "pyamqp"))
        self._lock = threading.Lock()
        self._pub_conn: Connection | None = None
        self._producer: Producer | None = None

    def _connection(self) -> Connection:
        opts: dict[str, Any] = {}
        if self.rabbit and self.topology.confirm_publish:
            opts["confirm_publish"] = True
        return Connection(self.url, transport_options=opts, connect_timeout=5, heartbeat=0)

    def declare(self, conn: Connection) -> None:
        ch = conn.default_channel
        for ex in self.topology.exchanges.values():
            ex(ch).declare()
        for q in self.topology.queues.values():
            q(ch).declare()

    def publish(self, batches: Sequence[Sequence[str]]) -> None:
        if not batches:
            return
        with self._lock:
            try:
                if self._pub_conn is None:
                    self._pub_conn = self._connection()
                    self._pub_conn.ensure_connection(max_retries=1)
                    self.declare(self._pub_conn)
                    self._producer = Producer(self._pub_conn.default_channel)
                assert self._producer is not None
                for ids in batches:
                    self._producer.publish(
                        _encode(ids), exchange=self.topology.work_exchange,
                        routing_key=self.topology.deliver_routing_key, serializer="json",
                        delivery_mode=2, retry=False,
                    )
            except Exception as e:
                self._reset()
                raise BrokerUnavailable(f"publish failed: {e!r}") from e

    def _reset(self) -> None:
        conn, self._pub_conn, self._producer = self._pub_conn, None, None
        if conn is not None:
            try:
                conn.release()
            except Exception:
                log.debug("ignoring error while releasing a broken connection", exc_info=True)

    def consume(self, handler: Handler, *, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                with self._connection() as conn:
                    conn.ensure_connection(max_retries=1)
                    self.declare(conn)
                    self._consume_on(conn, handler, stop)
            except Exception as e:
                if stop.is_set():
                    return
                log.warning("bus consumer lost its connection (%r); reconnecting", e)
                stop.wait(1.0)

    def _consume_on(self, conn: Connection, handler: Handler, stop: threading.Event) -> None:
        def on_message(body: Any, message: Message) -> None:
            try:
                ids = decode(body)
            except (ValueError, TypeError) as e:
                log.error("unreadable announcement sent to the dead-letter route: %s", e)
                message.reject(requeue=False)
                return
            try:
                handler(ids)
            except Exception:
                log.exception("handler failed; the announcement is requeued (the sweeper also redrives)")
                message.requeue()
                stop.wait(0.5)
                return
            message.ack()

        consumer = Consumer(conn.default_channel, queues=[self.topology.deliver], callbacks=[on_message],
                            prefetch_count=self.topology.prefetch, accept=["json"])
        with consumer:
            while not stop.is_set():
                try:
                    conn.drain_events(timeout=0.2)
                except TimeoutError:
                    continue
                except OSError as e:
                    if "timed out" in str(e):
                        continue
                    raise

    def ping(self) -> bool:
        try:
            with self._connection() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
                return True
        except Exception:
            return False

    def close(self) -> None:
        with self._lock:
            self._reset()


class MemoryBus:
    """In-memory twin of the bus for unit tests: same contract, no broker."""

    def __init__(self) -> None:
        self._q: stdqueue.Queue[list[str]] = stdqueue.Queue()
        self.published = 0

    def publish(self, batches: Sequence[Sequence[str]]) -> None:
        for ids in batches:
            self._q.put(list(ids))
            self.published += 1

    def consume(self, handler: Handler, *, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                ids = self._q.get(timeout=0.1)
            except stdqueue.Empty:
                continue
            try:
                handler(ids)
            except Exception:
                log.exception("handler failed; requeued")
                self._q.put(ids)
                stop.wait(0.2)

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        pass


class DatabaseQueue:
    """The embedded default: no broker; the outbox table is the queue and workers poll it.

    Publishing is a no-op because the committed outbox rows already are the announcements; the workers'
    poller takes them (see ``Workers``). This keeps invariant 4 with one file and no second store."""

    def publish(self, batches: Sequence[Sequence[str]]) -> None:
        return None

    def consume(self, handler: Handler, *, stop: threading.Event) -> None:
        raise RuntimeError("the database queue is consumed by the workers' outbox poller")

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        pass


def is_database_queue(url: str) -> bool:
    return url.split(":", 1)[0] in ("database", "db")


def make_bus(url: str, topology: Topology) -> Bus:
    """The bus for ``XIANJIE_BROKER_URL``: ``database://`` (embedded default), ``amqp://…`` or ``sqla+…``."""
    if is_database_queue(url):
        return DatabaseQueue()
    return KombuBus(url, topology)
