"""Fixtures: each hub test runs on both stacks — SQLite with the database as the queue (the embedded
default) and PostgreSQL + RabbitMQ (production); the real services are mandatory in CI. kombu's
SQLAlchemy transport is covered by the bus contract and by tests/test_e2e_kombu_sqla.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness import Recipients, write_registry
from tests.services import delete_topology, fresh_postgres, require_rabbit


@dataclass(frozen=True)
class Stack:
    name: str
    database_url: str
    broker_url: str
    queue_prefix: str


@contextmanager
def stack_of(kind: str, tmp: Path) -> Iterator[Stack]:
    """A stack of ``kind`` (``sqlite``, ``sqlite-kombu-sqla`` or ``postgres-rabbitmq``) with its files under ``tmp``;
    a PostgreSQL database and RabbitMQ queues of its own, dropped afterwards."""
    if kind == "sqlite-kombu-sqla":
        yield Stack("sqlite-kombu-sqla", f"sqlite:///{tmp}/hub.db", f"sqla+sqlite:///{tmp}/broker.db", "")
        return
    if kind == "sqlite":
        yield Stack("sqlite", f"sqlite:///{tmp}/hub.db", "database://", "")
        return
    rabbit = require_rabbit()
    prefix = f"t{uuid.uuid4().hex[:8]}."
    try:
        with fresh_postgres() as url:
            yield Stack("postgres-rabbitmq", url, rabbit, prefix)
    finally:
        delete_topology(rabbit, prefix)


@pytest.fixture(params=["sqlite", "postgres-rabbitmq"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    with stack_of(request.param, tmp_path) as s:
        yield s


@pytest.fixture
def recipients() -> Iterator[Recipients]:
    r = Recipients().start()
    yield r
    r.stop()


@pytest.fixture
def registry(tmp_path: Path, recipients: Recipients) -> Path:
    return write_registry(tmp_path / "agencies.toml", recipients_url=recipients.url, drop_root=tmp_path / "drop",
                          transports={"530521GA": "folder"})
