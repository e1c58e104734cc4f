"""The audit chain's cost: ``python -m bench.audit_chain [ENTRIES] [VERIFY_ENTRIES]`` (defaults 10000 and 100000;
not in ``make bench``; docs/security-audit.md keeps the figures). ``BENCH_AUDIT_PARTS`` (writes,verify,migrate,heap)
and ``BENCH_AUDIT_DATABASES`` (sqlite,pg) pick what runs; ``BENCH_REPEATS`` (3) how many runs each write case takes.

1. Writing ENTRIES audit entries, one transaction each as the hub's actions write them, without the chain (the
   plain INSERT of ``record`` before migration 0019, on a database at revision 0018) and with it (``record`` at
   head): one connection on SQLite and on PostgreSQL; 4 concurrent writers on PostgreSQL; and 4 concurrent
   writers whose transactions go on for 1 ms after the entry (the head's lock is held to the commit, so audited
   transactions queue behind each other where they did not before).
2. ``xianjie audit verify`` over VERIFY_ENTRIES entries (and a tenth of them, to show the memory does not grow),
   as a child process: wall time and peak RSS.
3. ``xianjie migrate`` from 0018 chaining VERIFY_ENTRIES existing entries: wall time and peak RSS.
4. The Python heap's peak of the migration and of verify over VERIFY_ENTRIES entries (tracemalloc), which leaves
   out SQLite's own page cache and sorter (bounded by ``cache_size``, 64 MiB a connection: hub.store.db).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa

from hub import audit
from hub.core.audit_chain import GENESIS, entry_hash
from hub.migrate import upgrade
from hub.store.db import make_engine
from hub.store.schema import audit_head, audit_log
from tests.services import fresh_postgres

PG_ADMIN_URL = os.environ.get("XIANJIE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
T0 = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.UTC)
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
PARTS = os.environ.get("BENCH_AUDIT_PARTS", "writes,verify,migrate,heap").split(",")
DATABASES = os.environ.get("BENCH_AUDIT_DATABASES", "sqlite,pg").split(",")  # of verify and migrate
LEGACY = sa.table("audit_log", sa.column("at", sa.DateTime(timezone=True)), sa.column("actor"), sa.column("action"),
                  sa.column("target"), sa.column("detail"))


@contextlib.contextmanager
def database(kind: str, tmp: Path, revision: str) -> Iterator[str]:
    if kind == "sqlite":
        url = f"sqlite:///{tmp}/{uuid.uuid4().hex[:8]}.db"
        upgrade(url, revision)
        yield url
        return
    with fresh_postgres() as url:  # the tests' own: a new database, dropped afterwards
        upgrade(url, revision)
        yield url


def _values(i: int) -> dict[str, object]:
    return {"at": T0 + dt.timedelta(milliseconds=i), "actor": f"console:op{i % 7}", "action": "view_payload",
            "target": f"failed_transfer:{uuid.UUID(int=i)}", "detail": f'{{"reason": "核对身份", "n": {i}}}'}


def plain(conn: sa.Connection, i: int) -> None:
    conn.execute(sa.insert(LEGACY).values(**_values(i)))


def chained(conn: sa.Connection, i: int) -> None:
    audit.record(conn, **_values(i))  # type: ignore[arg-type]


def timed_writes(url: str, write: Callable[[sa.Connection, int], None], *, n: int, writers: int,
                 hold: float = 0.0) -> float:
    """Entries per second for ``n`` entries written by ``writers`` threads, one transaction each (which then goes
    on for ``hold`` seconds)."""
    engine = make_engine(url, pool_size=writers + 1)
    per = n // writers

    def run(w: int) -> None:
        for i in range(w * per, (w + 1) * per):
            with engine.begin() as conn:
                write(conn, i)
                if hold:
                    time.sleep(hold)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(writers)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.perf_counter() - started
    engine.dispose()
    return per * writers / took


def fill(url: str, n: int, *, chain: bool) -> None:
    """``n`` entries written fast (a thousand to a statement): chained as record() chains them, or legacy rows."""
    engine = make_engine(url, pool_size=1)
    prev = GENESIS
    with engine.begin() as conn:
        for start in range(0, n, 1000):
            batch = []
            for i in range(start, min(n, start + 1000)):
                v = _values(i)
                if chain:
                    h = entry_hash(seq=i + 1, prev_hash=prev, **v)  # type: ignore[arg-type]
                    v |= {"seq": i + 1, "prev_hash": prev, "hash": h}
                    prev = h
                batch.append(v)
            conn.execute(sa.insert(audit_log if chain else LEGACY), batch)
        if chain:
            conn.execute(sa.update(audit_head).values(seq=n, hash=prev))
    engine.dispose()


# VmHWM (the peak resident set of this process image) rather than getrusage's ru_maxrss, which a child started by
# fork and exec inherits from the parent it was forked from
_CHILD = ("import sys\nfrom hub.cli import main\ncode = main(sys.argv[1:])\n"
          "hwm = next(x for x in open('/proc/self/status') if x.startswith('VmHWM:'))\n"
          "print('peak-rss-kib', hwm.split()[1], file=sys.stderr)\nsys.exit(code)\n")


def child(*args: str) -> tuple[float, float, str]:
    """Run the ``xianjie`` command ``args`` in a process of its own: wall seconds, its peak RSS in MiB, and its
    last line of output."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True, text=True, check=False)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"`xianjie {' '.join(args)}` exited {done.returncode}: {done.stdout}{done.stderr}")
    peak = next(int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("peak-rss-kib"))
    return took, peak / 1024, (done.stdout.strip().splitlines() or [""])[-1]


def intact(url: str) -> audit.Verdict:
    engine = make_engine(url, pool_size=1)
    try:
        return audit.verify(engine)
    finally:
        engine.dispose()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    big = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if "writes" in PARTS:
            writes(n, tmp)
        if "verify" in PARTS:
            verifies(big, tmp)
        if "migrate" in PARTS:
            migrates(big, tmp)
        if "heap" in PARTS:
            heaps(big, tmp)
        print(f"load average {os.getloadavg()[0]:.1f}")


def writes(n: int, tmp: Path) -> None:
    """Entries/s without and with the chain, in turns."""
    print(f"load average {os.getloadavg()[0]:.1f}; writing {n} entries, one transaction each: entries/s, the "
          f"median of {REPEATS} runs taken in turns (slowest-fastest)")
    print(f"{'database':<11} {'writers':<24} {'without chain':>20} {'with chain':>20} {'ratio':>6}")
    cases = [("sqlite", 1, 0.0), ("postgresql", 1, 0.0), ("postgresql", 4, 0.0), ("postgresql", 4, 0.001)]
    for kind, writers, hold in cases:
        rates: dict[str, list[float]] = {"0018": [], "head": []}
        for _ in range(REPEATS):
            for revision, write in (("0018", plain), ("head", chained)):
                with database("sqlite" if kind == "sqlite" else "pg", tmp, revision) as url:
                    rates[revision].append(timed_writes(url, write, n=n, writers=writers, hold=hold))
                    if revision == "head":
                        assert intact(url).ok
        old, new = (statistics.median(rates[r]) for r in ("0018", "head"))
        label = f"{writers}" + (f", {hold * 1000:.0f} ms more per tx" if hold else "")
        cells = [f"{statistics.median(v):.0f} ({min(v):.0f}-{max(v):.0f})" for v in rates.values()]
        print(f"{kind:<11} {label:<24} {cells[0]:>20} {cells[1]:>20} {new / old:>6.2f}", flush=True)


def verifies(big: int, tmp: Path) -> None:
    """``xianjie audit verify`` over a tenth of ``big`` entries and over ``big``."""
    print("\n`xianjie audit verify` (child process): entries, wall seconds, peak RSS (VmHWM) MiB")
    for kind in DATABASES:
        for size in (big // 10, big):
            with database(kind, tmp, "head") as url:
                fill(url, size, chain=True)
                took, rss, last = child("--database-url", url, "audit", "verify")
                print(f"{kind:<7} {size:>8} {took:>8.2f} s {rss:>7.1f} MiB   {last[:60]}", flush=True)


def migrates(big: int, tmp: Path) -> None:
    """``xianjie migrate`` from 0018 over ``big`` entries."""
    print("\n`xianjie migrate` from 0018, chaining existing entries: entries, wall seconds, peak RSS (VmHWM) MiB")
    for kind in DATABASES:
        with database(kind, tmp, "0018") as url:
            fill(url, big, chain=False)
            took, rss, _ = child("--database-url", url, "migrate")
            ok = intact(url)
            print(f"{kind:<7} {big:>8} {took:>8.2f} s {rss:>7.1f} MiB   verify: {ok.ok}, {ok.entries} entries")


def heaps(big: int, tmp: Path) -> None:
    """The Python heap's peak (tracemalloc: what the hub's code holds, not the database driver's own caches) of the
    migration and of verify, in this process."""
    print("\nPython heap peak (tracemalloc), in process: entries, migrate from 0018 MiB, verify MiB")
    for kind in DATABASES:
        with database(kind, tmp, "0018") as url:
            fill(url, big, chain=False)
            tracemalloc.start()
            upgrade(url)
            migrate_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.reset_peak()
            verdict = intact(url)
            verify_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            assert verdict.ok and verdict.entries == big
            print(f"{kind:<7} {big:>8} {migrate_peak / 2**20:>8.1f} {verify_peak / 2**20:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
