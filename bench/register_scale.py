"""Register reconciliation through the hub at national scale: ``python -m bench.register_scale [ROWS]`` (default
700000).

Generates the files of ``bench.reconcile`` (a ROWS-row bureau register of a province's persons across 128
counties, the court's decisions of the last year, the police custody list, with a few thousand planted
discrepancies) and a fresh SQLite hub database whose ``cases`` table holds the same ROWS persons. The rows are
inserted directly, with the columns ``hub.case_rows.case_row`` writes (the stored case state is a stub: register
reconciliation does not read it), not projected from messages, which would take far longer than the measurement
itself. Then, in a fresh child process so that its peak RSS is its own, the hub's path as an upload takes it:
``hub.register_store.upload`` of the court's decisions, the police custody list and the bureau register in that
order — each file kept, read, and reconciled at once with the other registers kept (read again from the
database) and the ledger (read from ``cases`` with ``hub.casework.ledger_people``), the items recorded — then
``hub.register_store.reconcile_now`` once more. Prints seconds for each, peak RSS (VmHWM), and the open items
per category against those planted. Target: the bureau register's upload and reconciliation < 60 s, peak RSS
< 2 GB. Generating the files and the ledger is not timed.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.ledger_scale import peak_mib
from bench.reconcile import AS_OF, BUREAU, COURT, PERIOD_START, PLANTS, POLICE, generate


def write_ledger(folder: Path, url: str) -> int:
    """The persons of ``ledger.tsv`` as ``cases`` rows of a fresh hub database; how many."""
    from sqlalchemy import insert

    from hub.core.facts import normalise_case_number
    from hub.migrate import upgrade
    from hub.store.db import make_engine
    from hub.store.ledger_schema import cases

    upgrade(url)
    engine = make_engine(url, pool_size=1)
    day, now, n = dt.date.fromisoformat, dt.datetime(2026, 6, 30, tzinfo=dt.UTC), 0
    with engine.begin() as conn, (folder / "ledger.tsv").open(encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t")
        next(reader)
        batch: list[dict[str, Any]] = []
        for key, idn, name, case, organ, ctype, start, end, county, status, served, birth, since in reader:
            batch.append(dict(
                case_key=f"{organ}|{case}", person_key=idn or f"ref|{key}", person_name=name, id_number=idn or None,
                birth_date=day(birth), deciding_organ=organ, case_number=case,
                case_number_key=normalise_case_number(case), division=county, correction_type=ctype,
                effective_on=day(start), period_start=day(start), period_end=day(end), status=status,
                register_status=status, status_since=day(since) if since else None, responsible=county + "SF",
                documents_served=int(served), state_json="{}", updated_at=now, last_seq=0))
            n += 1
            if len(batch) == 10000:
                conn.execute(insert(cases), batch)
                batch = []
        if batch:
            conn.execute(insert(cases), batch)
    engine.dispose()
    return n


def measure(folder: Path, url: str) -> None:
    """Run in a child: upload the three registers, reconcile again; print times, peak RSS and the items."""
    from sqlalchemy import func, select

    from hub.core.reconcile import RegisterKind
    from hub.register_store import reconcile_now, upload
    from hub.store.db import make_engine
    from hub.store.register_schema import discrepancies

    engine = make_engine(url, pool_size=1)
    bureau_s = 0.0
    for kind, agency, name, start in [(RegisterKind.COURT_DECISIONS, COURT, "court", PERIOD_START),
                                      (RegisterKind.POLICE_CUSTODY, POLICE, "custody", None),
                                      (RegisterKind.BUREAU_REGISTER, BUREAU, "bureau", None)]:
        data = (folder / f"{name}.csv").read_bytes()
        t = time.perf_counter()
        result = upload(engine, kind, data, agency=agency, filename=f"{name}.csv", as_of=AS_OF, period_start=start,
                        today=AS_OF, actor="bench")
        took = time.perf_counter() - t
        del data
        if result.error is not None or result.run is None:
            raise SystemExit(f"{name}: {result.error or 'not reconciled'}")
        run, snap = result.run, result.snapshot
        if kind is RegisterKind.BUREAU_REGISTER:
            bureau_s = took
        print(f"upload {kind}: {snap['rows']:,} rows ({snap['rejected']} rejected), reconciled with "
              f"{len(run.snapshots)} register(s) and the ledger in {took:.1f} s: {len(run.opened):,} opened, "
              f"{len(run.resolved):,} resolved, {run.still_open:,} still open; peak RSS {peak_mib():.0f} MiB",
              flush=True)
    t = time.perf_counter()
    run = reconcile_now(engine, as_of=AS_OF, actor="bench")
    again = time.perf_counter() - t
    print(f"reconcile_now: {len(run.snapshots)} registers and the ledger in {again:.1f} s: {len(run.opened)} opened, "
          f"{len(run.resolved)} resolved, {run.still_open:,} still open")
    with engine.connect() as conn:
        found = Counter({r.category: r.n for r in conn.execute(
            select(discrepancies.c.category, func.count().label("n")).where(discrepancies.c.status == "open")
            .group_by(discrepancies.c.category))})
    engine.dispose()
    rss = peak_mib()
    verdict = "meets" if bureau_s < 60 and rss < 2048 else "misses"
    print(f"bureau register upload + reconciliation: {bureau_s:.1f} s (target < 60 s); peak RSS {rss:.0f} MiB "
          f"(target < 2048 MiB): {verdict} the target")
    expected = json.loads((folder / "expected.json").read_text())
    for category in sorted(found.keys() | expected.keys()):
        print(f"  {category}: open {found.get(category, 0):,}, planted {expected.get(category, 0):,}")
    print("every planted discrepancy open, nothing else: " + ("yes" if found == Counter(expected) else "NO"))


def main(argv: list[str]) -> int:
    if argv[:1] == ["--measure"]:
        measure(Path(argv[1]), argv[2])
        return 0
    rows = int(argv[0]) if argv else 700_000
    with tempfile.TemporaryDirectory(prefix="xianjie-registers-") as tmp:
        folder, url = Path(tmp), f"sqlite:///{tmp}/hub.db"
        t = time.perf_counter()
        planted = generate(rows, folder)
        expected = Counter[str]()
        for what, _, category in PLANTS:
            expected[category] += planted.get(what, 0)
        (folder / "expected.json").write_text(json.dumps(expected))
        n = write_ledger(folder, url)
        print(f"generated the registers and {n:,} ledger cases in {time.perf_counter() - t:.0f} s (not counted)",
              flush=True)
        return subprocess.call([sys.executable, "-m", "bench.register_scale", "--measure", str(folder), url])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
