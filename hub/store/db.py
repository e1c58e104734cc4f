"""Engines: SQLite in WAL with immediate write transactions, or PostgreSQL; UTC timestamps both ways."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url

# Pages each SQLite connection keeps (KiB; SQLite's default is 2 MiB): the ledger's projection touches cases,
# obligations and timeline rows all over their B-trees, and a batch that finds its pages here is not waiting on
# the operating system for each one.
SQLITE_CACHE_KIB = 64 * 1024


READ_ONLY = "xianjie_read_only"  # execution option: this connection's transactions only read


def make_engine(url: str, *, pool_size: int = 20) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and BEGIN IMMEDIATE so writers queue, not fail."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": 60, "check_same_thread": False},
            pool_size=pool_size,
            max_overflow=pool_size,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # a connection that only reads (execution option READ_ONLY) takes no write lock, so that a long read
            # (a report) does not hold up ingest and the ledger: WAL gives it a snapshot
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def writer_lock(conn: Connection, name: str, *, wait: bool = True) -> bool:
    """Serialise one kind of writer (``name``: "ledger", "identity", "rules", "registers") across processes for
    the rest of the transaction. PostgreSQL: an advisory lock keyed by the name's hash; False when ``wait`` is
    off and another transaction holds it. SQLite: every transaction of ``make_engine`` begins IMMEDIATE, so
    writers already queue and this returns True."""
    if conn.dialect.name != "postgresql":
        return True
    key = func.hashtextextended(f"xianjie.{name}", 0)
    if wait:
        conn.execute(select(func.pg_advisory_xact_lock(key)))
        return True
    return bool(conn.execute(select(func.pg_try_advisory_xact_lock(key))).scalar())


def upsert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], *, keep: tuple[str, ...] = ()) -> None:
    """Insert ``rows`` or, for a key already there, overwrite every column except the key and ``keep``."""
    if not rows:
        return
    make = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = make(table)
    key = [c.name for c in table.primary_key.columns]
    stmt = stmt.on_conflict_do_update(index_elements=key, set_={
        c.name: stmt.excluded[c.name] for c in table.columns if c.name not in key and c.name not in keep})
    conn.execute(stmt, list(rows))


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; the hub stores UTC, so make them aware again."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)
