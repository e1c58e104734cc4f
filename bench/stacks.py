"""The two stacks under test, each on fresh state: a new SQLite file, or a new PostgreSQL database (created and
dropped like tests/services.py fresh_postgres) and a unique RabbitMQ queue prefix."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get("XIANJIE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
RABBIT_URL = os.environ.get("XIANJIE_TEST_RABBIT", "amqp://guest:guest@127.0.0.1:5672//")


@dataclass(frozen=True)
class Stack:
    name: str
    title: str
    database_url: str
    broker_url: str
    queue_prefix: str
    workers: int  # separate `xianjie worker` processes; 0 = `xianjie serve` runs the workers in-process
    db_name: str = ""  # the PostgreSQL database, to find its backends

    @property
    def rabbit(self) -> bool:
        return self.broker_url.startswith(("amqp", "pyamqp"))


@contextlib.contextmanager
def sqlite_stack(tmp: Path, *, kombu: bool = False) -> Iterator[Stack]:
    """The embedded default: a SQLite file and the default broker URL (``database://``, the outbox polled, since
    36c266d); with ``kombu`` kombu's SQLAlchemy transport on a second SQLite file (the earlier default)."""
    from hub.settings import Settings

    d = tmp / f"sqlite-{uuid.uuid4().hex[:6]}"
    d.mkdir(parents=True)
    broker = f"sqla+sqlite:///{d}/broker.db" if kombu else Settings().broker_url
    what = "kombu SQLAlchemy transport" if broker.startswith("sqla") else f"broker {broker}"
    yield Stack("sqlite_kombu" if kombu else "sqlite", f"embedded: SQLite + {what}, `xianjie serve` (1 process)",
                f"sqlite:///{d}/hub.db", broker, f"bench{uuid.uuid4().hex[:8]}.", 0)


@contextlib.contextmanager
def postgres_rabbit_stack(workers: int) -> Iterator[Stack]:
    name = f"xianjie_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    try:
        yield Stack("postgres_rabbitmq",
                    f"PostgreSQL + RabbitMQ, `xianjie serve --no-workers` + {workers} `xianjie worker`",
                    url, RABBIT_URL, prefix, workers, name)
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        delete_queues(prefix)


def delete_queues(prefix: str) -> None:
    """Remove the hub topology declared under ``prefix`` from RabbitMQ (queues are durable quorum queues)."""
    from kombu import Connection

    from hub.bus.topology import build_topology

    topo = build_topology(broker_url=RABBIT_URL, prefix=prefix)
    with contextlib.suppress(Exception), Connection(RABBIT_URL) as conn:
        ch = conn.channel()
        for q in topo.queues.values():
            with contextlib.suppress(Exception):
                ch.queue_delete(q.name)
        for ex in topo.exchanges.values():
            with contextlib.suppress(Exception):
                ch.exchange_delete(ex.name)
