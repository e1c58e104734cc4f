"""A slice of the corpus on PostgreSQL + RabbitMQ (the production stack): the first case of each kind through each
entry point, and the cases whose input reaches the database in a form PostgreSQL treats differently from SQLite
(NUL characters, which a PostgreSQL text column refuses; odd file names; formula cells stored as text). The same
checks as on SQLite: a clean refusal or the input kept, the next good message through, memory bounded."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.hostile.conftest import Canary, HostileHub, hostile_hub
from tests.hostile.corpus import Case, all_cases
from tests.hostile.test_corpus import run_case
from tests.services import delete_topology, fresh_postgres, require_rabbit

# besides the first of each kind: NUL characters (refused by a PostgreSQL text column), odd file names, formula
# cells stored as text
SPECIFIC = ("messages-nul-bytes", "messages-char-ref-nul", "court-char-ref-nul", "police-json-nul-escape",
            "ledger-csv-nul", "register-csv-nul", "filename-inbound-bureau-3", "filename-register-3",
            "filename-inbound-bureau-7", "filename-register-9", "ledger-xlsx-formula-0",
            "register-xlsx-formula-status-0", "police-json-control-in-key", "messages-quadratic-blowup",
            "history-filename-nul", "history-by-nul")
# left to the SQLite run: what costs time the same on any database (inflating workbooks, counting rows) and the
# thousand rejected records of one payload (a thousand quarantine entries: 15-20 s here)
SLOW = ("bomb", "lying", "-300m", "-1g", "-3m", "records-1000-", "rows-250k", "rows-over-limit", "1500-bad-rows")


def pg_slice() -> list[Case]:
    first: dict[tuple[str, str], Case] = {}
    chosen: dict[str, Case] = {}
    for case in all_cases():
        entry = "registers" if case.entry.startswith("registers/") else case.entry
        if any(s in case.id for s in SLOW):
            continue
        if (case.kind, entry) not in first:
            first[(case.kind, entry)] = case
            chosen[case.id] = case
        if case.id in SPECIFIC:
            chosen[case.id] = case
    return list(chosen.values())


CASES = pg_slice()


@pytest.fixture(scope="module")
def hostile_pg(tmp_path_factory: pytest.TempPathFactory, canary: Canary) -> Iterator[HostileHub]:
    rabbit = require_rabbit()
    prefix = f"t{uuid.uuid4().hex[:8]}."
    try:
        with fresh_postgres() as url, hostile_hub(tmp_path_factory.mktemp("hostile-pg"), canary, database_url=url,
                                                 broker_url=rabbit, queue_prefix=prefix) as h:
            yield h
    finally:
        delete_topology(rabbit, prefix)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_hostile_input_on_postgres(hostile_pg: HostileHub, case: Case) -> None:
    run_case(hostile_pg, case)
