"""Failed authentications counted per client address, and the block that follows too many (429 with Retry-After).

One limiter per hub database and process (``limiter_for(engine)``), shared by the API's agency authentication
(realm ``api``) and the console's sign-in (realm ``console``), each realm counted apart.

``FailureLimiter`` counts in memory, at once: the failure that reaches the limit blocks the address in this process
before its answer is sent. ``SharedFailureLimiter`` (what the hub runs) adds the hub's database, so that every
process counts the failures of all: each process writes its failures to ``auth_failures`` after its answers
(``sync``, run beside the request), counts an address's failures across the processes there, and starts the
block in ``auth_blocks``, which every process reads at its next sync. The process whose write starts a block
audits it, once, whichever process counted the last failure. So N processes behind one balancer allow the
limit in all, give or take the failures that arrive in the moment of a sync (docs/security-keys.md).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub import audit
from hub.errors import HubError
from hub.store.api_key_schema import auth_blocks, auth_failures
from hub.store.db import aware, utcnow, writer_lock

log = logging.getLogger("xianjie.auth")

MAX_FAILURES = 20
WINDOW_SECONDS = 300.0
BLOCK_SECONDS = 300.0
MAX_CLIENTS = 10_000  # addresses remembered at once (the oldest forgotten first): memory stays bounded
MAX_PENDING = 10_000  # failures waiting for the next sync (the oldest dropped first, and logged)


class TooManyAttempts(HubError):
    """The client address failed to authenticate too often; it may try again in ``retry_after`` seconds."""

    code = "too_many_attempts"

    def __init__(self, retry_after: int, message: str) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class FailureLimiter:
    """Counts failures per (realm, client address) in a sliding window; ``max_failures`` within ``window``
    seconds block the address for ``block`` seconds. ``max_failures`` of 0 switches the limit off."""

    max_failures: int = MAX_FAILURES
    window: float = WINDOW_SECONDS
    block: float = BLOCK_SECONDS
    clock: Callable[[], float] = time.monotonic
    max_clients: int = MAX_CLIENTS
    _failures: OrderedDict[tuple[str, str], deque[float]] = field(default_factory=OrderedDict)
    _blocked: dict[tuple[str, str], float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def blocked_for(self, realm: str, client: str) -> int:
        """Whole seconds until ``client`` may try again in ``realm`` (0: not blocked)."""
        with self._lock:
            until = self._blocked.get((realm, client))
            if until is None:
                return 0
            left = until - self.clock()
            if left <= 0:
                del self._blocked[(realm, client)]
                return 0
            return max(1, math.ceil(left))

    def failed(self, realm: str, client: str, detail: Mapping[str, Any] | None = None) -> int:
        """Count one failure; the block's length in whole seconds if this failure starts one, else 0. (``detail``,
        what the failure was, goes into the audit entry of a block the shared limiter starts.)"""
        if self.max_failures <= 0:
            return 0
        now = self.clock()
        k = (realm, client)
        with self._lock:
            seen = self._failures.pop(k, None) or deque(maxlen=self.max_failures)
            seen.append(now)
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            self._failures[k] = seen  # last used goes last: the first is the one to forget
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)
            if len(seen) < self.max_failures or self._blocked.get(k, now) > now:
                return 0
            self._blocked[k] = now + self.block
            while len(self._blocked) > self.max_clients:
                del self._blocked[min(self._blocked, key=self._blocked.__getitem__)]
            seen.clear()  # after the block, the count starts again
            return max(1, math.ceil(self.block))


@dataclass(frozen=True)
class _Failure:
    realm: str
    client: str
    at: dt.datetime
    detail: Mapping[str, Any]
    block: int  # the block in seconds that this failure started in its own process, else 0


@dataclass
class SharedFailureLimiter(FailureLimiter):
    """A ``FailureLimiter`` whose processes count together through the hub's database (``engine``).

    ``failed`` and ``blocked_for`` read and write memory only; ``sync`` (which the API runs beside the answer, off
    the event loop, and the console's sign-in after its transaction) writes the failures counted since the last
    sync, starts in the database the block of every address whose failures in the window, across the processes,
    reach the limit, audits the blocks it starts, and reads the blocks in force. Syncs of all processes take turns
    (one lock). ``wall`` is the time the database's rows are written in."""

    engine: Engine | None = None  # held weakly: the registry below is keyed by the engine
    wall: Callable[[], dt.datetime] = utcnow
    _pending: list[_Failure] = field(default_factory=list)
    _shared: dict[tuple[str, str], dt.datetime] = field(default_factory=dict)
    _sync_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        engine, self.engine = self.engine, None
        self._engine = weakref.ref(engine) if engine is not None else (lambda: None)

    def blocked_for(self, realm: str, client: str) -> int:
        here = super().blocked_for(realm, client)
        with self._lock:
            until = self._shared.get((realm, client))
        if until is None:
            return here
        left = (until - self.wall()).total_seconds()
        return max(here, max(1, math.ceil(left)) if left > 0 else 0)

    def failed(self, realm: str, client: str, detail: Mapping[str, Any] | None = None) -> int:
        block = super().failed(realm, client)
        if self.max_failures <= 0 or self._engine() is None:
            return block
        with self._lock:
            self._pending.append(_Failure(realm, client, self.wall(), dict(detail or {}), block))
            if len(self._pending) > MAX_PENDING:
                del self._pending[: len(self._pending) - MAX_PENDING]
                log.warning("failed-attempt limiter: more than %d failures wait for the database; the oldest are "
                            "counted in this process only", MAX_PENDING)
        return block

    @property
    def waiting(self) -> bool:
        """Whether failures wait for a sync that is not running (so the caller should start one)."""
        with self._lock:
            return bool(self._pending) and not self._sync_lock.locked()

    def sync(self) -> None:
        """Write the failures counted since the last sync, start and audit the blocks they call for, and read the
        blocks in force. At most one sync runs at a time in a process; one that finds another running leaves its
        failures to it. A database that cannot be reached is logged: this process's own count still holds."""
        while True:
            if not self._sync_lock.acquire(blocking=False):
                return
            batch: list[_Failure] = []
            try:
                with self._lock:
                    batch, self._pending = self._pending, []
                self._write(batch)
            except Exception as e:  # the limiter never fails a request: the log says why, the local count holds
                log.error("failed-attempt limiter: could not share %d failures through the database: %s",
                          len(batch), type(e).__name__)
            finally:
                self._sync_lock.release()
            with self._lock:
                if not self._pending:
                    return

    def _write(self, batch: list[_Failure]) -> None:
        engine = self._engine()
        if engine is None:
            return
        now = self.wall()
        window = dt.timedelta(seconds=self.window)
        with engine.begin() as conn:
            # one sync at a time across the hub's processes (SQLite's transactions already queue): a count never
            # misses failures another sync is writing, and blocks and their audit entries are written in one order
            writer_lock(conn, "auth_limit")
            if batch:
                conn.execute(insert(auth_failures), [{"realm": f.realm, "client": f.client, "at": f.at}
                                                    for f in batch])
            # per address: the failure that started a block in this process, else the last
            last: dict[tuple[str, str], _Failure] = {}
            for f in batch:
                seen = last.get((f.realm, f.client))
                if seen is None or not seen.block:
                    last[(f.realm, f.client)] = f
            for (realm, client), f in last.items():
                block = f.block or self._due(conn, realm, client, now)
                if block:
                    self._start(conn, realm, client, f, block, now)
            conn.execute(delete(auth_failures).where(auth_failures.c.at < now - window))
            conn.execute(delete(auth_blocks).where(auth_blocks.c.until_at < now - window))
            rows = conn.execute(select(auth_blocks.c.key, auth_blocks.c.until_at)
                                .where(auth_blocks.c.until_at > now)
                                .order_by(auth_blocks.c.until_at.desc()).limit(self.max_clients)).all()
        shared: dict[tuple[str, str], dt.datetime] = {}
        for key, until in rows:
            realm, _, client = str(key).partition(" ")
            shared[(realm, client)] = aware(until) or now
        with self._lock:
            for k in shared.keys() - self._shared.keys():
                self._failures.pop(k, None)  # a block started: this process's count starts again after it too
            self._shared = shared

    def _due(self, conn: Connection, realm: str, client: str, now: dt.datetime) -> int:
        """The block to start for ``client`` if its failures across the processes reach the limit (counted within
        the window, since its last block started), else 0."""
        since = now - dt.timedelta(seconds=self.window)
        last = conn.execute(select(auth_blocks.c.started_at, auth_blocks.c.until_at)
                            .where(auth_blocks.c.key == f"{realm} {client}")).first()
        if last is not None:
            if (aware(last.until_at) or now) > now:
                return 0  # blocked already
            since = max(since, aware(last.started_at) or since)
        f = auth_failures.c
        n = conn.execute(select(func.count()).select_from(auth_failures)
                         .where(f.realm == realm, f.client == client, f.at > since)).scalar_one()
        return max(1, math.ceil(self.block)) if n >= self.max_failures else 0

    def _start(self, conn: Connection, realm: str, client: str, last: _Failure, block: int,
               now: dt.datetime) -> None:
        """The block of ``client`` in the database, unless one is in force; audited by the process that writes it."""
        started = last.at if last.block else now
        until = started + dt.timedelta(seconds=block)
        make = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        stmt = make(auth_blocks).values(key=f"{realm} {client}", started_at=started, until_at=until)
        stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={"started_at": started, "until_at": until},
                                          where=auth_blocks.c.until_at <= started)
        if conn.execute(stmt.returning(auth_blocks.c.key)).first() is None:
            return  # another process started it first (and audited it)
        if not last.block:
            log.warning("%s: client=%s blocked for %ds after %d failures within %gs across the hub's processes",
                        "agency authentication" if realm == "api" else "console sign-in", client, block,
                        self.max_failures, self.window)
        audit.record(conn, at=now, actor="hub:auth", action="auth_block", target=f"client:{client}",
                     detail={"realm": realm, "failures": self.max_failures, "window_seconds": self.window,
                             "block_seconds": block, "counted_in": "this process" if last.block else "all processes",
                             **last.detail})


_LIMITERS: weakref.WeakKeyDictionary[Engine, SharedFailureLimiter] = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


def limiter_for(engine: Engine) -> SharedFailureLimiter:
    """The process's limiter for the hub on ``engine`` (made with the defaults unless ``configure`` ran first)."""
    with _REGISTRY_LOCK:
        found = _LIMITERS.get(engine)
        if found is None:
            found = _LIMITERS[engine] = SharedFailureLimiter(engine=engine)
        return found


def configure(engine: Engine, *, max_failures: int, window: float, block: float,
              clock: Callable[[], float] = time.monotonic,
              wall: Callable[[], dt.datetime] = utcnow) -> SharedFailureLimiter:
    """A fresh limiter with these limits for the hub on ``engine`` (the API app does this when it starts)."""
    limiter = SharedFailureLimiter(max_failures=max_failures, window=window, block=block, clock=clock, engine=engine,
                                   wall=wall)
    with _REGISTRY_LOCK:
        _LIMITERS[engine] = limiter
    return limiter
