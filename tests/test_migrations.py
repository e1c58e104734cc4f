"""The Alembic migrations build exactly the schema the code declares, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from hub.migrate import upgrade
from hub.store.schema import metadata
from tests.services import fresh_postgres


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migrations_match_the_declared_schema_and_run_twice(backend: str, tmp_path: Path) -> None:
    def check(url: str) -> None:
        upgrade(url)
        upgrade(url)  # a second run changes nothing
        engine = sa.create_engine(url)
        with engine.connect() as c:
            assert compare_metadata(MigrationContext.configure(c), metadata) == []
        engine.dispose()

    if backend == "sqlite":
        check(f"sqlite:///{tmp_path}/m.db")
    else:
        with fresh_postgres() as url:
            check(url)
