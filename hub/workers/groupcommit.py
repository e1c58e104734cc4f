"""Group commit for ingest: concurrent requests share one transaction, so the database commits (and fsyncs)
once per batch instead of once per notice. Each caller still gets its answer only after its commit."""

from __future__ import annotations

import logging
import queue as stdqueue
import threading
from collections.abc import Callable
from concurrent.futures import Future

from sqlalchemy import Engine

from hub.core.model import Directory
from hub.store.db import utcnow
from hub.store.ingest import Incoming, MessageIdTaken, store_batch
from hub.store.ledger import Accepted

log = logging.getLogger("xianjie.ingest")


class GroupCommit:
    """One committer thread; ``submit`` blocks until the item's transaction has committed (or failed)."""

    def __init__(self, engine: Engine, directory: Directory, *, on_commit: Callable[[], None],
                 max_batch: int = 200) -> None:
        self.engine, self.directory, self.on_commit, self.max_batch = engine, directory, on_commit, max_batch
        self.q: stdqueue.Queue[tuple[Incoming, Future[Accepted]]] = stdqueue.Queue()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="xianjie-ingest", daemon=True)
        self.thread.start()

    def submit(self, item: Incoming) -> Accepted:
        """Store ``item``; raises MessageIdTaken, or the database's error if the commit failed."""
        if self.stopping.is_set():
            raise RuntimeError("the hub is shutting down")
        fut: Future[Accepted] = Future()
        self.q.put((item, fut))
        return fut.result()

    def _run(self) -> None:
        while not (self.stopping.is_set() and self.q.empty()):
            try:
                batch = [self.q.get(timeout=0.1)]
            except stdqueue.Empty:
                continue
            while len(batch) < self.max_batch:
                try:
                    batch.append(self.q.get_nowait())
                except stdqueue.Empty:
                    break
            self._store(batch)

    def _store(self, batch: list[tuple[Incoming, Future[Accepted]]]) -> None:
        try:
            with self.engine.begin() as conn:
                results = store_batch(conn, [b[0] for b in batch], directory=self.directory, now=utcnow())
        except Exception:
            if len(batch) == 1:
                log.exception("could not store message %s", batch[0][0].msg.message_id)
                batch[0][1].set_exception(_current())
                return
            # one item spoilt the batch (or the database is away): store each alone so only it fails
            for one in batch:
                self._store([one])
            return
        for (_, fut), res in zip(batch, results, strict=True):
            if isinstance(res, MessageIdTaken):
                fut.set_exception(res)
            else:
                fut.set_result(res)
        self.on_commit()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(30)


def _current() -> BaseException:
    import sys

    e = sys.exc_info()[1]
    assert e is not None
    return e
