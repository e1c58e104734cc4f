"""The worker runtime: relay (outbox → bus), consumer (bus → claim → deliverer), outcome writer, sweeper, the
case ledger (projection and deadline clock, hub.workers.casework), and the bulk tasks' runner (hub.bulk_tasks).

Threads in one process; ``stop()`` drains in-flight sends and writes their outcomes before returning,
so SIGTERM loses no work (and SIGKILL loses none either: leases expire and the sweeper redrives).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine

from hub import audit, bulk_tasks
from hub.bus.kombu_bus import Bus, DatabaseQueue
from hub.canonical import load_schema
from hub.core.model import Directory
from hub.errors import BrokerUnavailable
from hub.service import Hub
from hub.settings import Settings
from hub.store.db import utcnow
from hub.store.work import claim, drop_outbox, sweep, take_outbox
from hub.workers.casework import Casework
from hub.workers.deliverer import Deliverer, OutcomeWriter

log = logging.getLogger("xianjie.workers")


class _Wake(threading.Event):
    """The workers' wake-up call (set after a commit that stored work); it wakes the ledger too."""

    def __init__(self, also: threading.Event) -> None:
        super().__init__()
        self.also = also

    def set(self) -> None:
        super().set()
        self.also.set()


class Workers:
    def __init__(self, *, settings: Settings, engine: Engine, bus: Bus, directory: Directory,
                 relay: bool = True, deliver: bool = True, sweeper: bool = True, folders: bool = True,
                 casework: bool = True, tasks: bool = True, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.settings, self.engine, self.bus, self.directory = settings, engine, bus, directory
        self.clock = clock or utcnow  # the deadline clock's time (a test moves it on)
        self.ledger_wake = threading.Event()
        self.wake = _Wake(self.ledger_wake)  # set after a commit that added outbox rows or messages
        self.stop_event = threading.Event()
        self.stop_consuming = threading.Event()
        self.writer = OutcomeWriter(engine, settings.retry, on_commit=self.wake.set)
        self.deliverer = Deliverer(
            directory=directory, policy=settings.retry, writer=self.writer, threads=settings.delivery_threads,
            per_recipient=settings.per_recipient_concurrency, http_timeout=settings.http_timeout,
            lease_seconds=settings.lease_seconds,
        )
        self.skip_locked = not settings.is_sqlite
        self.threads: list[threading.Thread] = []
        self._plan: list[tuple[str, Callable[[], None]]] = []
        self.database_queue = isinstance(bus, DatabaseQueue)
        if relay and not self.database_queue:
            self._plan.append(("relay", self._relay_loop))
        if deliver:
            consume = self._poll_loop if self.database_queue else (
                lambda: self.bus.consume(self._handle, stop=self.stop_consuming))
            self._plan.append(("consumer", consume))
            self._plan.append(("writer", lambda: self.writer.run(self.stop_event)))
        if sweeper:
            self.audit_anchor = audit.DailyAnchor(audit.anchor_directory(settings))  # the chain head, once a day
            self._plan.append(("sweeper", self._sweep_loop))
            from hub.workers.retention import daily_sweep

            daily = daily_sweep(settings, engine, self.clock)  # None unless the retention policy asks for it
            if daily is not None:
                retain = daily.run
                self._plan.append(("retention", lambda: retain(self.stop_event)))
        if folders and settings.inbound_root is not None:
            from hub.workers.dropfolder import DropFolders

            self.drop_folders = DropFolders(settings, engine, directory, on_commit=self.wake.set)
            self._plan.append(("drop-folders", lambda: self.drop_folders.run(self.stop_event)))

        if casework:
            self.casework = Casework(settings=settings, engine=engine, directory=directory, clock=self.clock,
                                     wake=self.ledger_wake, make_hub=self._hub)
            self._plan.append(("casework", lambda: self.casework.run(self.stop_event)))
        if tasks:
            self._plan.append(("bulk-tasks", self._tasks_loop))

    def _hub(self) -> Hub:
        """The hub the alarm clock sends its notices through (its commits wake the deliverers)."""
        return Hub(engine=self.engine, directory=self.directory, schema=load_schema(), on_commit=self.wake.set)

    def _tasks_loop(self) -> None:
        """Bulk tasks (hub.bulk_tasks), item by item; when there is none, look again a second later."""
        hub = self._hub()
        while not self.stop_consuming.is_set():
            if bulk_tasks.run_some(hub, limit=10) == 0:
                self.stop_event.wait(1.0)

    def start(self) -> None:
        for name, target in self._plan:
            t = threading.Thread(target=self._guard(name, target), name=f"xianjie-{name}", daemon=True)
            t.start()
            self.threads.append(t)

    def _guard(self, name: str, target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            while not self.stop_event.is_set():
                try:
                    target()
                    return
                except Exception:
                    log.exception("%s loop crashed; restarting it", name, extra={"exc_personal": True})
                    self.stop_event.wait(1.0)
        return run

    def _full(self) -> bool:
        return self.deliverer.backlog() > self.settings.delivery_threads * 32

    def _handle(self, ids: list[str]) -> None:
        # Back-pressure: don't claim more than the deliverer can start before the leases run out.
        while self._full() and not self.stop_consuming.is_set():
            self.stop_consuming.wait(0.02)
        with self.engine.begin() as conn:
            claimed = claim(conn, ids, now=utcnow(), lease=self.settings.lease_seconds)
        self.deliverer.submit(claimed)

    def _poll_loop(self) -> None:
        """Database queue: take due outbox rows and claim their deliveries; sleep only when there are none."""
        while not self.stop_consuming.is_set():
            if self._full():  # leave the rows in the outbox until there is room: nothing is announced twice
                self.stop_consuming.wait(0.02)
                continue
            with self.engine.begin() as conn:
                rows = take_outbox(conn, now=utcnow(), limit=self.settings.relay_batch, skip_locked=self.skip_locked)
                drop_outbox(conn, [r[0] for r in rows])
            if rows:
                self._handle(list(dict.fromkeys(r[1] for r in rows)))
            else:
                self.wake.wait(0.05)
                self.wake.clear()

    def _relay_loop(self) -> None:
        batch = self.settings.bus_batch
        while not self.stop_event.is_set():
            try:
                n = self.relay_once(limit=self.settings.relay_batch, batch=batch)
            except BrokerUnavailable as e:
                log.warning("relay: broker unavailable (%s); the outbox keeps the work", e)
                self.stop_event.wait(1.0)
                continue
            if n < self.settings.relay_batch:
                self.wake.wait(0.05)
                self.wake.clear()

    def relay_once(self, *, limit: int, batch: int) -> int:
        """Publish due outbox rows and delete them; returns how many were published."""
        # PostgreSQL: rows stay locked while they are published, so relays side by side never publish the same
        # row. SQLite: one writer at a time, so don't hold its lock over the broker round trip (a row published
        # twice is claimed once anyway).
        with self.engine.begin() as conn:
            rows = take_outbox(conn, now=utcnow(), limit=limit, skip_locked=self.skip_locked)
            if self.skip_locked:
                self._publish(rows, batch)
                drop_outbox(conn, [r[0] for r in rows])
                return len(rows)
        if rows:
            self._publish(rows, batch)
            with self.engine.begin() as conn:
                drop_outbox(conn, [r[0] for r in rows])
        return len(rows)

    def _publish(self, rows: list[tuple[int, str]], batch: int) -> None:
        ids = list(dict.fromkeys(r[1] for r in rows))
        self.bus.publish([ids[i:i + batch] for i in range(0, len(ids), batch)])

    def _sweep_loop(self) -> None:
        first = True
        while not self.stop_event.is_set():
            try:
                with self.engine.begin() as conn:
                    counts = sweep(conn, now=utcnow(), policy=self.settings.retry,
                                   redrive_after=0.0 if first else self.settings.redrive_after)
                first = False
                if any(counts.values()):
                    log.info("sweep: %s", counts)
                    self.wake.set()
            except Exception:
                log.exception("sweep failed; will try again")
            self.audit_anchor.tick(self.engine, now=self.clock())
            self.stop_event.wait(self.settings.sweep_interval)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking work, finish what is in flight, record it, then stop."""
        self.stop_consuming.set()
        self.deliverer.drain()
        self.stop_event.set()
        self.wake.set()
        for t in self.threads:
            t.join(timeout)
        self.deliverer.close()
        if getattr(self, "drop_folders", None) is not None:
            self.drop_folders.close()
        self.bus.close()
