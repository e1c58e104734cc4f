"""Real services for tests: PostgreSQL and RabbitMQ are optional on a laptop, mandatory in CI."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_ADMIN_URL = os.environ.get("XIANJIE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
RABBIT_URL = os.environ.get("XIANJIE_TEST_RABBIT", "amqp://guest:guest@127.0.0.1:5672//")


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require(name: str, host: str, port: int) -> None:
    """Skip on a laptop without the service; fail in CI (a missing service must never pass as a skip)."""
    if _port_open(host, port):
        return
    if IN_CI:
        pytest.fail(f"{name} at {host}:{port} is not reachable, and CI requires it")
    pytest.skip(f"{name} at {host}:{port} not reachable (mandatory in CI)")


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A new, empty database for one test module; dropped afterwards."""
    require("PostgreSQL", "127.0.0.1", 5432)
    import sqlalchemy as sa

    name = f"xianjie_t_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def require_rabbit() -> str:
    require("RabbitMQ", "127.0.0.1", 5672)
    return RABBIT_URL


def delete_topology(broker_url: str, prefix: str) -> None:
    """Remove one test's prefixed queues and exchanges from the shared RabbitMQ.

    Leftover quorum queues are not harmless: RabbitMQ reserves file handles for each, and past its
    open-files budget a restarted broker cannot boot."""
    if not prefix or not broker_url.startswith("amqp"):
        return
    from kombu.connection import Connection

    with Connection(broker_url, connect_timeout=5) as conn:
        ch = conn.channel()
        for name in ("xianjie.deliver", "xianjie.dead"):
            ch.queue_delete(prefix + name)
        for name in ("xianjie.work", "xianjie.dead"):
            ch.exchange_delete(prefix + name)
        ch.close()
