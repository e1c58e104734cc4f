"""A small world for the retention tests, built through the hub's own paths: canonical notices read by
``Hub.prepare`` and stored as ingest stores them on the days given, delivered by the deliverer's claim and outcome
functions, the case ledger projected and the identity index run, a console session, a refused input.

The retention run is on 2031-06-15 (``NOW``): a case record is due when its case closed before 2026-06-15.

- P1: probation 2025-03, released 2026-01-10 — past its period: deleted, with the procuratorate's TechnicalAck of
  its judgment (a message of no case) and P1's identity records.
- P2: probation 2026-03, released 2026-08-03 — within its period: kept (not due).
- P3: an old case, released 2025-05-06, and a new one decided 2026-04-01, still open — the old one is kept while the
  person's new case is open; the procuratorate's TechnicalAck of the new judgment is kept with it.
- P4: released 2026-02-02, under a legal hold the test places — kept, then deleted once the hold is released.
- P5: released 2026-02-02, but the police refused its judgment (a failed transfer, open) — kept.
- a resolved discrepancy of P1 (deleted) and an open one of P2 (kept); a console session expired long before the
  run, a quarantined input and the outbox rows of delivered deliveries (deleted: past their days).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, insert, select

from hub import casework, identity_store, operators, rulebook
from hub.canonical import load_schema
from hub.core.model import Directory
from hub.core.retry import RetryPolicy
from hub.migrate import upgrade
from hub.registry import load_registry
from hub.service import Hub
from hub.store.db import make_engine
from hub.store.ingest import store_message
from hub.store.register_schema import discrepancies
from hub.store.schema import deliveries
from hub.store.work import Outcome, claim, record_outcomes
from tests.core.case_messages import CST, Case, at, id_number, message_id
from tests.harness import technical_ack, write_registry

COURT, BUREAU, POLICE, PROCURATORATE = "530502FY", "530581SF", "530581GA", "530581JC"
NOW = dt.datetime(2031, 6, 15, 12, tzinfo=CST).astimezone(dt.UTC)


def person(n: int, effective: dt.date, *, number: int | None = None) -> Case:
    birth = dt.date(1980, 1, 1) + dt.timedelta(days=211 * n)
    name = f"保{'甲乙丙丁戊'[n % 5]}{n}"
    return Case(f"（2025）云0502刑初{600 + (number or n)}号", COURT, "PROBATION", "530581", name,
                id_number("530581", birth, 41 + 2 * n), True, birth, effective - dt.timedelta(days=10), effective,
                effective + dt.timedelta(days=365))


P1 = person(1, dt.date(2025, 3, 1))
P2 = person(2, dt.date(2026, 3, 1))
P3_OLD = person(3, dt.date(2024, 5, 1))
P3_NEW = person(3, dt.date(2026, 3, 25), number=63)
P4 = person(4, dt.date(2025, 4, 1))
P5 = person(5, dt.date(2025, 4, 1))


DELIVERED = dt.date(2026, 9, 1)  # the day the world's deliveries are recorded


def mid(c: Case, what: str) -> str:
    return message_id("retention-world", c.number, what)


def d(y: int, m: int, day: int) -> dt.date:
    return dt.date(y, m, day)


def story() -> list[tuple[dt.date, str, bytes]]:
    """(day received, sender, canonical XML), in the order received."""
    out: list[tuple[dt.date, str, bytes]] = []

    def life(c: Case, start: dt.date, released: dt.date | None) -> None:
        out.append((start, COURT, c.decision(mid(c, "decision"), at(start))))
        out.append((start + dt.timedelta(days=2), BUREAU,
                    c.receipt(mid(c, "receipt"), at(start + dt.timedelta(days=2)), of=mid(c, "decision"))))
        out.append((start + dt.timedelta(days=4), BUREAU,
                    c.reporting(mid(c, "report"), at(start + dt.timedelta(days=4)),
                                reported=start + dt.timedelta(days=4))))
        if released is not None:
            out.append((released, BUREAU, c.release(mid(c, "release"), at(released), on=released)))

    life(P1, d(2025, 3, 3), d(2026, 1, 10))
    life(P2, d(2026, 3, 3), d(2026, 8, 3))
    life(P3_OLD, d(2024, 5, 3), d(2025, 5, 6))
    life(P3_NEW, d(2026, 4, 1), None)
    life(P4, d(2025, 4, 3), d(2026, 2, 2))
    life(P5, d(2025, 4, 3), d(2026, 2, 2))
    out.append((d(2025, 3, 4), PROCURATORATE, technical_ack(PROCURATORATE, mid(P1, "decision"))))
    out.append((d(2026, 4, 2), PROCURATORATE, technical_ack(PROCURATORATE, mid(P3_NEW, "decision"))))
    return sorted(out, key=lambda x: x[0])


@dataclass
class World:
    engine: Engine
    hub: Hub
    directory: Directory
    registry: Path


def project(w: World) -> int:
    """Bring the case ledger up to date; how many messages it read."""
    return casework.catch_up(w.engine, rules=rulebook.rules_in_force(w.engine),
                             calendar=rulebook.calendar_in_force(w.engine), directory=w.directory, wait=True)


def store(w: World, day: dt.date, sender: str, xml: bytes) -> str:
    item = w.hub.prepare(xml, agency=w.directory.agencies[sender])
    with w.engine.begin() as conn:
        return store_message(conn, item, directory=w.directory, now=at(day, 11).astimezone(dt.UTC)).message_id


def deliver(w: World, *, refuse: frozenset[tuple[str, str]] = frozenset(), on: dt.date = DELIVERED) -> None:
    """Every pending delivery sent as the deliverer does, and recorded delivered (or, for a (message, recipient) in
    ``refuse``, refused by the recipient); until none is left pending (later ones of a person wait for earlier)."""
    now = at(on).astimezone(dt.UTC)
    while True:
        with w.engine.begin() as conn:
            ids = list(conn.execute(select(deliveries.c.id).where(deliveries.c.state == "pending")).scalars())
            claimed = claim(conn, ids, now=now, lease=60)
            if not claimed:
                return
            record_outcomes(conn, [Outcome(c.delivery_id, c.attempt, "permanent" if (c.message_id, c.recipient)
                                           in refuse else "delivered", detail="HTTP 400" if (c.message_id, c.recipient)
                                           in refuse else None) for c in claimed], policy=RetryPolicy(), now=now)


def build(database_url: str, tmp: Path) -> World:
    """The world of the module docstring in the (empty) database at ``database_url``."""
    upgrade(database_url)
    registry = write_registry(tmp / "agencies.toml", recipients_url="http://127.0.0.1:9", drop_root=tmp / "drop")
    engine = make_engine(database_url, pool_size=2)
    directory = load_registry(registry)
    w = World(engine, Hub(engine=engine, directory=directory, schema=load_schema()), directory, registry)
    for day, sender, xml in story():
        store(w, day, sender, xml)
        # the identity index runs beside ingest: a record is updated on the day its message came
        identity_store.index_messages(w.engine, now=at(day, 12).astimezone(dt.UTC))
    deliver(w, refuse=frozenset({(mid(P5, "decision"), POLICE)}))
    project(w)
    identity_store.relink(w.engine, now=at(d(2026, 9, 2)).astimezone(dt.UTC))
    with engine.begin() as conn:
        conn.execute(insert(discrepancies), [
            _discrepancy("d-p1", P1, resolved=at(d(2026, 2, 1)).astimezone(dt.UTC)),
            _discrepancy("d-p2", P2, resolved=None)])
    operators.create(engine, username="op1", password="a-long-password-1", role="operator", agency=BUREAU,
                     display_name="操作员", actor="test", now=at(d(2026, 1, 5)).astimezone(dt.UTC))
    operators.sign_in(engine, "op1", "a-long-password-1", now=at(d(2026, 1, 5)).astimezone(dt.UTC))
    w.hub.quarantine(b"<not-xml", agency=BUREAU, channel="api", status=400, code="not_xml",
                     message="not well-formed", problems=[], content_type="application/xml")
    return w


def _discrepancy(item_id: str, c: Case, *, resolved: dt.datetime | None) -> dict[str, object]:
    first = at(d(2026, 1, 15)).astimezone(dt.UTC)
    return dict(id=item_id, category="decided_not_in_register", person_key=c.id_number, id_number=c.id_number,
                name=c.name, division="530581", acting_agency=BUREAU, confirming_agency=None, match="id_number",
                sides="[]", snapshot_ids="[]", description_zh="", description_en="",
                status="resolved" if resolved else "open", first_seen=first, last_seen=resolved or first,
                resolved_at=resolved, resolved_by="test" if resolved else None, resolution=None, reopened=0)
