"""The hub's phases one at a time, single-threaded, on a fresh database: what each costs per notice or delivery
with no concurrency, GIL contention or queueing — the floor under the end-to-end figures.

ingest (Hub.ingest: parse + route + one transaction) · relay (take_outbox + drop_outbox; publishing excluded)
· claim (per batch of 100, as the consumer does) · send (hub.transports.senders.send to the bench recipient,
one httpx.Client as the deliverer has) · record_outcomes (acknowledged, batches of 500, as the outcome writer).
SQL statements per item are counted; a cProfile pass names each phase's top functions.
"""

from __future__ import annotations

import cProfile
import pstats
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

from bench.hubrun import registry
from bench.messages import SENDER, Notice
from hub.canonical import load_schema, parse
from hub.core.retry import RetryPolicy
from hub.migrate import upgrade
from hub.registry import load_registry
from hub.service import Hub
from hub.store.db import make_engine, utcnow
from hub.store.work import Claimed, Outcome, claim, drop_outbox, record_outcomes, take_outbox
from hub.transports.senders import send


def _top(prof: cProfile.Profile, n: int = 6) -> list[str]:
    st = pstats.Stats(prof)
    rows = sorted(st.stats.items(), key=lambda kv: -kv[1][2])[:n]  # type: ignore[attr-defined]
    out = []
    for (file, line, func), (_cc, _nc, tt, _ct, _callers) in rows:
        short = file.split("site-packages/")[-1].split("/work/main/")[-1]
        out.append(f"{tt * 1000:8.1f} ms  {short}:{line}:{func}")
    return out


def measure(database_url: str, notices: Sequence[Notice], *, work: Path, recipient_url: str,
            profile_share: float = 0.25) -> dict[str, Any]:
    """Per-item cost of each phase on ``database_url`` (migrated here; must be empty)."""
    upgrade(database_url)
    engine = make_engine(database_url)
    directory = load_registry(registry(work / "phases-agencies.toml", recipient_url))
    hub = Hub(engine=engine, directory=directory, schema=load_schema())
    agency = directory.get(SENDER)
    assert agency is not None
    statements = [0]
    event.listen(engine, "before_cursor_execute", lambda *_a, **_k: statements.__setitem__(0, statements[0] + 1))
    policy = RetryPolicy()
    split = int(len(notices) * (1 - profile_share))
    timed, profiled = notices[:split], notices[split:]
    out: dict[str, Any] = {"notices": len(timed)}

    def phase(name: str, items: Sequence[Any], unit: str, run: Callable[[Sequence[Any]], int],
              prof_items: Sequence[Any]) -> None:
        statements[0] = 0
        t0 = time.perf_counter()
        count = run(items)
        secs = time.perf_counter() - t0
        stmts = statements[0]
        prof = cProfile.Profile()
        prof.enable()
        run(prof_items)
        prof.disable()
        out[name] = {"per_s": round(count / secs, 1), f"ms_per_{unit}": round(secs / max(count, 1) * 1000, 3),
                     f"statements_per_{unit}": round(stmts / max(count, 1), 2), "items": count, "top": _top(prof)}

    def do_parse(ns: Sequence[Notice]) -> int:
        for n in ns:
            parse(n.body, schema=hub.schema)
        return len(ns)

    def do_ingest(ns: Sequence[Notice]) -> int:
        for n in ns:
            hub.ingest(n.body, agency=agency)
        return len(ns)

    phase("parse", timed, "notice", do_parse, profiled)
    phase("ingest", timed, "notice", do_ingest, profiled)

    # the outbox now holds 3 rows per notice: relay them (the timed set first, then the profiled one)
    def do_relay(n_rows: Sequence[int]) -> int:
        done = 0
        while done < len(n_rows):
            with engine.begin() as conn:
                rows = take_outbox(conn, now=utcnow(), limit=min(500, len(n_rows) - done), skip_locked=False)
            with engine.begin() as conn:
                drop_outbox(conn, [r[0] for r in rows])
            if not rows:
                break
            done += len(rows)
        return done

    with engine.connect() as conn:
        from sqlalchemy import select

        from hub.store.schema import deliveries, messages
        q = select(deliveries.c.id).join(messages, messages.c.id == deliveries.c.message_id).order_by(messages.c.seq)
        ids = list(conn.execute(q).scalars())
    n_timed = len(timed) * 3
    phase("relay", list(range(n_timed)), "delivery", do_relay, list(range(len(ids) - n_timed)))
    claimed: list[Claimed] = []

    def do_claim(batch_ids: Sequence[str]) -> int:
        got = 0
        for i in range(0, len(batch_ids), 100):
            with engine.begin() as conn:
                c = claim(conn, batch_ids[i:i + 100], now=utcnow(), lease=60.0)
            claimed.extend(c)
            got += len(c)
        return got

    phase("claim", ids[:n_timed], "delivery", do_claim, ids[n_timed:])
    client = httpx.Client(timeout=10, limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))
    outcomes: dict[str, Outcome] = {}

    def do_send(cs: Sequence[Claimed]) -> int:
        for c in cs:
            a = directory.get(c.recipient)
            assert a is not None
            kind, detail, status = send(c, a, client=client, policy=policy)
            outcomes[c.delivery_id] = Outcome(c.delivery_id, c.attempt, kind, detail, status)
        return len(cs)

    phase("send", claimed[:n_timed], "delivery", do_send, claimed[n_timed:])
    client.close()
    results = [outcomes[c.delivery_id] for c in claimed]

    def do_record(os_: Sequence[Outcome]) -> int:
        for i in range(0, len(os_), 500):
            with engine.begin() as conn:
                record_outcomes(conn, os_[i:i + 500], policy=policy, now=utcnow())
        return len(os_)

    phase("record_outcomes", results[:n_timed], "delivery", do_record, results[n_timed:])
    engine.dispose()
    out["kinds"] = sorted({o.kind for o in results})
    per_notice = out["ingest"]["ms_per_notice"] + 3 * sum(
        out[p]["ms_per_delivery"] for p in ("relay", "claim", "send", "record_outcomes"))
    out["ms_per_notice_all_phases"] = round(per_notice, 2)
    return out


def check_recipient(url: str) -> None:
    httpx.get(url + "/stats", timeout=5).raise_for_status()
