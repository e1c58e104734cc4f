"""Sends claimed deliveries concurrently, one lane per recipient, so a slow or dead recipient never
delays the others; outcomes are written back in batches (group commit)."""

from __future__ import annotations

import logging
import queue as stdqueue
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from hub.core.model import Directory
from hub.core.retry import RetryPolicy
from hub.store.db import utcnow
from hub.store.work import Claimed, Outcome, record_outcomes
from hub.transports.senders import send

log = logging.getLogger("xianjie.deliver")


class OutcomeWriter:
    """Collects outcomes and commits them in batches; keeps them until the database takes them."""

    def __init__(self, engine: Engine, policy: RetryPolicy, *, on_commit: Callable[[], None],
                 max_batch: int = 500) -> None:
        self.engine, self.policy, self.on_commit, self.max_batch = engine, policy, on_commit, max_batch
        self.q: stdqueue.Queue[Outcome] = stdqueue.Queue()
        self.rng = random.Random()

    def put(self, o: Outcome) -> None:
        self.q.put(o)

    def run(self, stop: threading.Event) -> None:
        pending: list[Outcome] = []
        while not (stop.is_set() and self.q.empty() and not pending):
            if not pending:
                try:
                    pending.append(self.q.get(timeout=0.1))
                except stdqueue.Empty:
                    continue
            while len(pending) < self.max_batch:
                try:
                    pending.append(self.q.get_nowait())
                except stdqueue.Empty:
                    break
            try:
                self._write(pending)
                pending = []
                self.on_commit()
            except Exception:
                log.exception("could not record %d outcomes; recording them one by one", len(pending))
                pending = self._one_by_one(pending)
                if pending and stop.wait(1.0) and self.q.empty():
                    # shutting down with the database away: the leases will expire and be redriven
                    log.error("giving up %d outcomes at shutdown; their deliveries will be redriven", len(pending))
                    return

    def _write(self, outcomes: list[Outcome]) -> None:
        with self.engine.begin() as conn:
            record_outcomes(conn, outcomes, policy=self.policy, now=utcnow(), rng=self.rng)

    def _one_by_one(self, outcomes: list[Outcome]) -> list[Outcome]:
        """Record each alone; keep those that fail for the database's sake, drop one that is itself refused
        (its lease expires and the sweeper redrives the delivery: nothing is lost, one outcome is)."""
        keep = []
        for o in outcomes:
            try:
                self._write([o])
            except DBAPIError as e:
                if e.connection_invalidated or isinstance(e, OperationalError):
                    keep.append(o)
                else:
                    log.error("outcome for delivery %s refused by the database (%s); it will be redriven",
                              o.delivery_id, type(e.orig).__name__)
        return keep


class Deliverer:
    """Per-recipient lanes of at most ``per_recipient`` concurrent sends; a full lane defers new work."""

    def __init__(self, *, directory: Directory, policy: RetryPolicy, writer: OutcomeWriter, threads: int,
                 per_recipient: int, http_timeout: float, lease_seconds: float = 60.0) -> None:
        self.directory, self.policy, self.writer = directory, policy, writer
        self.per_recipient, self.lease_seconds = per_recipient, lease_seconds
        self.send_seconds: dict[str, float] = {}  # moving average of each recipient's send time
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="deliver")
        self.client = httpx.Client(timeout=httpx.Timeout(http_timeout, connect=min(http_timeout, 5.0)),
                                   limits=httpx.Limits(max_connections=threads * 2,
                                                       max_keepalive_connections=threads * 2))
        self.lock = threading.Lock()
        self.lanes: dict[str, deque[Claimed]] = {}
        self.active: dict[str, int] = {}
        self.in_flight = 0
        self.closing = False

    def submit(self, claimed: Sequence[Claimed]) -> None:
        """Queue claims on their recipients' lanes; a lane that is full gives the claim back for later."""
        for c in claimed:
            with self.lock:
                lane = self.lanes.setdefault(c.recipient, deque())
                if len(lane) >= self.lane_limit(c.recipient):
                    full = True
                else:
                    full = False
                    lane.append(c)
                    self.in_flight += 1
            if full:
                self.writer.put(Outcome(c.delivery_id, c.attempt, "deferred", f"recipient {c.recipient} busy"))
            else:
                self._pump(c.recipient)

    def lane_limit(self, recipient: str) -> int:
        """How many claims may wait for a recipient: as many as it can take within half a lease, so a slow
        recipient's claims are handed back (and its lane stays short) while fast ones are never starved."""
        per_send = self.send_seconds.get(recipient, 1.0)
        return int(min(2000, max(8, self.per_recipient * self.lease_seconds / 2 / max(per_send, 0.001))))

    def concurrency(self, recipient: str) -> int:
        """Sends in flight allowed for a recipient: one while it is slow (2 s or more a send), so a few slow
        or hanging recipients cannot occupy every sender thread."""
        return 1 if self.send_seconds.get(recipient, 0.0) >= 2.0 else self.per_recipient

    def backlog(self) -> int:
        with self.lock:
            return self.in_flight

    def _pump(self, recipient: str) -> None:
        while True:
            with self.lock:
                lane = self.lanes.get(recipient)
                if not lane or self.active.get(recipient, 0) >= self.concurrency(recipient):
                    return
                c = lane.popleft()
                if self.closing:
                    self.in_flight -= 1
                else:
                    self.active[recipient] = self.active.get(recipient, 0) + 1
            if self.closing:  # shutting down: give the claim back at once rather than wait for its lease
                self.writer.put(Outcome(c.delivery_id, c.attempt, "deferred", "hub shutting down"))
                continue
            self.pool.submit(self._run, c)

    def _run(self, c: Claimed) -> None:
        started = time.monotonic()
        try:
            agency = self.directory.get(c.recipient)
            if started > c.send_by:  # the lease may already be redriven elsewhere: hand the claim back unsent
                outcome = Outcome(c.delivery_id, c.attempt, "deferred", "lease ran out before the send started")
            elif agency is None:
                outcome = Outcome(c.delivery_id, c.attempt, "permanent", f"{c.recipient} left the registry")
            else:
                kind, detail, status = send(c, agency, client=self.client, policy=self.policy)
                outcome = Outcome(c.delivery_id, c.attempt, kind, detail, status)
        except Exception as e:
            log.exception("send of %s failed unexpectedly", c.delivery_id, extra={"exc_personal": True})
            outcome = Outcome(c.delivery_id, c.attempt, "transient", f"internal error: {e!r}")
        self.writer.put(outcome)
        took = time.monotonic() - started
        with self.lock:
            prev = self.send_seconds.get(c.recipient, took)
            self.send_seconds[c.recipient] = 0.8 * prev + 0.2 * took
            self.active[c.recipient] -= 1
            self.in_flight -= 1
        self._pump(c.recipient)

    def drain(self) -> None:
        """Finish the sends in progress; hand queued claims back."""
        with self.lock:
            self.closing = True
            recipients = list(self.lanes)
        for r in recipients:
            self._pump(r)
        self.pool.shutdown(wait=True)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.client.close()
