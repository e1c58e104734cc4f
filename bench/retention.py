"""The retention sweep over a county's database: ``python -m bench.retention [MESSAGES] [--db PATH] [--today DAY]
[--batch N]`` (default 100,000 messages, 50 a person, as ``bench.joint_report`` plans them; today 2032-01-01).

The database is built through the hub's own paths: each message read by ``Hub.prepare`` and stored by
``hub.store.ingest.store_batch`` on the day it was received (with its deliveries and their announcements), every
delivery then recorded delivered as the deliverer does (a few of the last days' left pending), a failed transfer on
one message in 170 (``open_failed_transfer``, four in five resolved), the outbox emptied as the relay empties it,
the case ledger built (``hub.casework.rebuild``) and the identity index run. On the day given every case released
or terminated before five years earlier is due.

Measured in a child process each (so that peak RSS, VmHWM, is the step's own): ``plan``, ``apply`` (batches of the
policy's 200 units), and ``plan`` again (nothing left to delete). ``--db PATH`` keeps the generated database, and a
later run with the same size on a copy of it measures again without generating.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.ledger_scale import peak_mib

TODAY = dt.date(2032, 1, 1)
FAILED_EVERY = 170


def generate(path: Path, messages: int, *, seed: int = 5) -> dict[str, Any]:
    """The county's messages stored as the hub stores them, delivered, projected and indexed."""
    from sqlalchemy import delete, select, update

    from bench.joint_report import PER_PERSON, County, sqlite_hub
    from hub import casework, identity_store, rulebook
    from hub.store.ingest import store_batch
    from hub.store.ledger import open_failed_transfer, resolve_failed_transfers
    from hub.store.schema import deliveries, outbox

    t0 = time.perf_counter()
    engine, directory, hub = sqlite_hub(path)
    county = County(max(1, messages // PER_PERSON), seed)
    county.fill(messages)
    planned = sorted(county.planned, key=lambda p: (p.received, p.n))
    rng = random.Random(seed)
    failing: list[tuple[str, dt.datetime]] = []
    for i in range(0, len(planned), 1000):
        with engine.begin() as conn:
            for p in planned[i:i + 1000]:
                item = hub.prepare(p.build(p.mid, p.written), agency=directory.agencies[p.sender])
                store_batch(conn, [item], directory=directory, now=p.received.astimezone(dt.UTC))
                if rng.randrange(FAILED_EVERY) == 0:
                    failing.append((p.mid, p.received.astimezone(dt.UTC)))
    stored_s = time.perf_counter() - t0
    last = planned[-1].received.astimezone(dt.UTC)
    with engine.begin() as conn:
        # delivered as the deliverer records them; the last two days' still pending
        conn.execute(update(deliveries).where(deliveries.c.state == "pending",
                                              deliveries.c.created_at < last - dt.timedelta(days=2)).values(
            state="delivered", attempts=1, first_attempt_at=deliveries.c.created_at,
            delivered_at=deliveries.c.created_at, updated_at=deliveries.c.created_at))
        conn.execute(delete(outbox).where(~outbox.c.delivery_id.in_(
            select(deliveries.c.id).where(deliveries.c.state == "pending"))))
        raised = resolved = 0
        for mid, received in failing:
            d = conn.execute(select(deliveries.c.id, deliveries.c.recipient).where(
                deliveries.c.message_id == mid).limit(1)).first()
            if d is None:
                continue
            conn.execute(update(deliveries).where(deliveries.c.id == d.id).values(state="failed"))
            open_failed_transfer(conn, message_id=mid, delivery_id=d.id, recipient=d.recipient,
                                 cause="retries_exhausted", detail="HTTP 503", now=received + dt.timedelta(hours=3))
            raised += 1
            if rng.random() < 0.8:
                conn.execute(update(deliveries).where(deliveries.c.id == d.id).values(state="resolved"))
                resolve_failed_transfers(conn, delivery_id=d.id, resolution="delivered after retry",
                                         now=received + dt.timedelta(hours=9))
                resolved += 1
    t1 = time.perf_counter()
    projected = casework.rebuild(engine, rules=rulebook.rules_in_force(engine),
                                 calendar=rulebook.calendar_in_force(engine), directory=directory)
    project_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    while not identity_store.index_messages(engine, limit=5000, now=last).caught_up:
        pass
    identity_store.relink(engine, now=last)
    index_s = time.perf_counter() - t2
    status = casework.status(engine)
    engine.dispose()
    return {"messages": len(planned), "persons": len(county.persons), "cases": status["cases"],
            "failed_transfers": raised, "resolved": resolved, "store_s": round(stored_s, 1),
            "project_s": round(project_s, 1), "projected": projected, "index_s": round(index_s, 1),
            "seconds": round(time.perf_counter() - t0, 1), "size_mib": round(path.stat().st_size / 2**20)}


def phase(url: str, what: str, today: str, batch: int | None = None) -> dict[str, Any]:
    """One step in this process: ``plan`` or ``apply`` of the shipped policy on ``today`` (noon, Beijing), in
    batches of ``batch`` units (the policy's when None)."""
    from sqlalchemy import func, select

    from hub import retention
    from hub.core.facts import SHANGHAI
    from hub.store.db import make_engine
    from hub.store.schema import messages

    engine = make_engine(url, pool_size=1)
    now = dt.datetime.combine(dt.date.fromisoformat(today), dt.time(12), SHANGHAI).astimezone(dt.UTC)
    policy = retention.policy_in_force(None)
    t = time.perf_counter()
    report = (retention.apply(engine, policy, by="bench", now=now, batch=batch) if what == "apply"
              else retention.plan(engine, policy, now=now))
    took = time.perf_counter() - t
    with engine.connect() as conn:
        left = conn.execute(select(func.count()).select_from(messages)).scalar()
    engine.dispose()
    return {"step": what, "batch": batch or policy.batch, "seconds": round(took, 1),
            "peak_rss_mib": round(peak_mib()), "messages_left": left,
            "classes": {c.name: {"examined": c.examined, "deleted": c.deleted, "kept": dict(c.kept),
                                 "batches": c.batches, "slowest_batch_s": round(c.slowest, 2)}
                        for c in report.classes if c.note != "kept for ever"},
            "rows": report.plain()["rows"]}


def child(*args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "bench.retention", "--phase", *args], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--phase":
        batch = int(argv[4]) if len(argv) > 4 else None
        print(json.dumps(phase(argv[1], argv[2], argv[3], batch), ensure_ascii=False))
        return 0
    kept = None
    if "--db" in argv:
        i = argv.index("--db")
        kept, argv = Path(argv[i + 1]).resolve(), argv[:i] + argv[i + 2:]
    today, batch = TODAY.isoformat(), []
    if "--batch" in argv:
        i = argv.index("--batch")
        batch, argv = [argv[i + 1]], argv[:i] + argv[i + 2:]
    if "--today" in argv:
        i = argv.index("--today")
        today, argv = argv[i + 1], argv[:i] + argv[i + 2:]
    messages = int(argv[0]) if argv else 100_000
    with tempfile.TemporaryDirectory(prefix="xianjie-retention-") as tmp:
        source = kept or Path(tmp) / "county.db"
        meta_path = source.with_name(source.name + ".json")
        if kept and meta_path.exists():
            made = json.loads(meta_path.read_text())
            if made["requested"] != messages:
                raise SystemExit(f"{source} holds {made['requested']:,} messages, not {messages:,}")
            print(f"reusing {source}", flush=True)
        else:
            made = generate(source, messages) | {"requested": messages}
            if kept:
                meta_path.write_text(json.dumps(made, indent=1) + "\n")
        print(f"generated: {json.dumps(made)}", flush=True)
        work = Path(tmp) / "sweep.db"  # the sweep runs on a copy: the kept database stays as generated
        shutil.copy(source, work)
        url = f"sqlite:///{work}"
        from hub.migrate import upgrade

        upgrade(url)  # a kept database generated by older code gets this code's schema
        results = {"generated": made, "today": today,
                   "steps": [child(url, "plan", today), child(url, "apply", today, *batch),
                             child(url, "plan", today)]}
    for s in results["steps"]:
        deleted = sum(c["deleted"] for c in s["classes"].values())
        rows = sum(s["rows"].values())
        slowest = max((c["slowest_batch_s"] for c in s["classes"].values()), default=0)
        print(f"{s['step']:<6} {s['seconds']:>8} s  peak RSS {s['peak_rss_mib']:>5} MiB  units {deleted:>7}  "
              f"rows {rows:>8}  messages left {s['messages_left']:,}  slowest batch {slowest} s "
              f"(batches of {s['batch']})")
    print(json.dumps(results, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
