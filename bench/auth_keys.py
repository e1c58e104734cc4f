"""``python -m bench.auth_keys [N]``: what agency authentication costs per request (hub.api.auth), on SQLite and on
PostgreSQL, with the keys cached for 5 s (the default) and looked up on every request (``api_key_cache_seconds``
0): microseconds per call of the API's ``authenticate`` for an issued key, the registry's bootstrap key and an
unknown key, single thread, in process (no HTTP), with 201 issued keys in the table and the failure log lines
switched off. Prints a table (docs/security-keys.md)."""

from __future__ import annotations

import datetime as dt
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from starlette.requests import Request

from bench.stacks import postgres_rabbit_stack, sqlite_stack
from hub import api_keys
from hub.api.auth import AgencyAuth
from hub.auth_limit import FailureLimiter
from hub.errors import Unauthorised
from hub.migrate import upgrade
from hub.registry import load_registry
from hub.resources import default_registry_path
from hub.settings import Settings
from hub.store.db import make_engine


def _request(key: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/api/v1/inbox", "headers": [
        (b"authorization", f"Bearer {key}".encode())], "client": ("10.0.0.7", 50000), "query_string": b""})


def _per_call(fn: Callable[[], object], n: int) -> float:
    """Median of five runs of ``n`` calls, in microseconds per call."""
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - t) / n * 1e6)
    return statistics.median(runs)


def measure(database_url: str, n: int) -> dict[str, float]:
    upgrade(database_url)
    engine = make_engine(database_url, pool_size=4)
    directory = load_registry(default_registry_path())
    issued = api_keys.issue(engine, directory=directory, agency="530581SF", by="bench",
                            expires_in=dt.timedelta(days=30))
    for i in range(200):  # a province's worth of issued keys in the table
        api_keys.issue(engine, directory=directory, agency="530581SF", by="bench", label=f"filler {i}")
    out: dict[str, float] = {}
    for cache in (5.0, 0.0):
        guard = AgencyAuth(keys=api_keys.KeyStore(engine, cache_seconds=cache),
                           limiter=FailureLimiter(max_failures=0), settings=Settings())

        def call(key: str, guard: AgencyAuth = guard) -> Callable[[], object]:
            req = _request(key)

            def once() -> object:
                try:
                    return guard.authenticate(req, directory)
                except Unauthorised:
                    return None
            return once

        mode = "cached 5 s" if cache else "lookup per request"
        reps = n if cache else max(200, n // 10)
        call(issued.key)()  # the first call loads the snapshot and writes the key's last use
        out[f"{mode}: issued key"] = _per_call(call(issued.key), reps)
        out[f"{mode}: registry key"] = _per_call(call("demo-530581SF"), reps)
        out[f"{mode}: unknown key"] = _per_call(call("xjk_00000000_" + "x" * 43), reps)
    ticks = iter(range(0, 10**12, 10))  # a clock 10 s on at every reading: every check reloads the snapshot
    reloading = api_keys.KeyStore(engine, cache_seconds=5.0, monotonic=lambda: float(next(ticks)))
    out["snapshot reload (201 rows)"] = _per_call(
        lambda: reloading.check(issued.key, directory=directory, now=dt.datetime.now(dt.UTC)), max(200, n // 10))
    engine.dispose()
    return out


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    logging.getLogger("xianjie.auth").setLevel(logging.ERROR)  # an unknown key's log line is not what is measured
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp, sqlite_stack(Path(tmp)) as s:
        results["SQLite (WAL)"] = measure(s.database_url, n)
    with postgres_rabbit_stack(0) as s:
        results["PostgreSQL (loopback)"] = measure(s.database_url, n)
    rows = list(next(iter(results.values())))
    print(f"agency authentication, µs per request (median of 5 runs; {n} calls cached, {max(200, n // 10)} "
          "per-request lookups)")
    print(f"{'':<36}" + "".join(f"{name:>24}" for name in results))
    for row in rows:
        print(f"{row:<36}" + "".join(f"{results[name][row]:>24.1f}" for name in results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
