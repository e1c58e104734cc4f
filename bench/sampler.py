"""A CPU-weighted sampling profiler for a hub process (py-spy is not installed; cProfile sees one thread).

``python -m bench.sampler --out PATH -- serve ...`` runs ``hub.cli.main`` with a thread that, every 15 ms,
reads each thread's CPU time (/proc/self/task/<tid>/schedstat, nanoseconds) and charges the CPU a thread used
since the last look to the stack it is in now. Idle threads (blocked in I/O or a lock) use no CPU and so cost
nothing. At exit it writes the collapsed stacks (``thread;frame;…`` → ns) as JSON. The sampler's own cost is
a few per cent of one core.

``summarise(path)`` turns them into CPU by thread, by hub stage and by library, and the top functions.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import json
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

_ROOT = str(Path(__file__).resolve().parent.parent) + "/"


class Sampler:
    def __init__(self, interval: float = 0.015) -> None:
        self.interval = interval
        self.stacks: dict[str, int] = {}
        self.last: dict[int, int] = {}
        self.labels: dict[CodeType, str] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, name="bench-sampler", daemon=True)

    def label(self, code: CodeType) -> str:
        s = self.labels.get(code)
        if s is None:
            f = code.co_filename
            if "site-packages/" in f:
                f = f.split("site-packages/", 1)[1]
            elif f.startswith(_ROOT):
                f = f[len(_ROOT):]
            else:
                f = re.sub(r"^.*/python3\.\d+/", "", f)  # the standard library: threading.py, json/…
            s = self.labels[code] = f"{f}:{code.co_qualname}"
        return s

    def run(self) -> None:
        me = threading.get_ident()
        while not self.stop.wait(self.interval):
            names = {t.ident: (t.native_id, re.sub(r"[_-]?\d+$", "", t.name)) for t in threading.enumerate()}
            # A collection inside sys._current_frames() can run a finalizer that wants the lock it holds:
            # deadlock (seen here). Nothing is collected while it runs.
            gc.disable()
            try:
                frames = sys._current_frames()
            finally:
                gc.enable()
            for ident, frame in frames.items():
                if ident == me or ident not in names:
                    continue
                tid, name = names[ident]
                try:
                    with open(f"/proc/self/task/{tid}/schedstat", "rb") as fh:
                        ns = int(fh.read().split()[0])
                except OSError:
                    continue
                used = ns - self.last.get(tid, ns)
                self.last[tid] = ns
                if used <= 0:
                    continue
                parts = []
                f: FrameType | None = frame
                while f is not None:
                    parts.append(self.label(f.f_code))
                    f = f.f_back
                key = name + ";" + ";".join(reversed(parts))
                self.stacks[key] = self.stacks.get(key, 0) + used
            frames = frame = f = None  # hold no frame (and its locals) until the next look

    def save(self, path: Path) -> None:
        self.stop.set()
        path.write_text(json.dumps({"pid": os.getpid(), "interval": self.interval, "stacks": self.stacks}))


# Stages of the hub, found by the outermost matching frame (first match from the thread's root down).
STAGES = [
    ("hub/service.py:Hub.ingest", "ingest (service.ingest)"),
    ("hub/service.py:Hub.quarantine", "quarantine"),
    ("hub/api/", "API handler outside ingest"),
    ("hub/workers/runtime.py:Workers.relay_once", "relay (outbox → bus)"),
    ("hub/workers/groupcommit.py", "ingest group commit"),
    ("hub/workers/runtime.py:Workers._handle", "consume + claim"),
    ("hub/workers/runtime.py:Workers._poll_loop", "outbox poll (database queue)"),
    ("hub/bus/kombu_bus.py:KombuBus.consume", "bus consumer loop (kombu)"),
    ("hub/workers/deliverer.py:Deliverer._run", "send (encode + HTTP)"),
    ("hub/workers/deliverer.py:OutcomeWriter.run", "outcome writer (record_outcomes)"),
    ("hub/workers/runtime.py:Workers._sweep_loop", "sweeper"),
    ("hub/workers/runtime.py:Workers._relay_loop", "relay loop (idle polling)"),
    ("uvicorn/", "uvicorn + h11 + starlette (HTTP server)"),
]
# Sub-stages of ingest, by the first match below Hub.ingest.
INGEST = [
    ("hub/canonical.py:parse", "parse + XSD + semantic checks"),
    ("hub/core/routing.py:route", "route"),
    ("hub/store/ledger.py:store_message", "store_message (INSERTs)"),
    ("hub/workers/groupcommit.py", "waiting on the group commit"),
    ("sqlalchemy/engine/base.py:Engine.begin", "BEGIN / COMMIT"),
    ("sqlalchemy/engine/util.py", "BEGIN / COMMIT"),
]
LAYERS = [
    ("sqlalchemy/engine/default.py:DefaultExecutionContext", "SQLAlchemy execution"),
    ("sqlalchemy/engine/default.py:DefaultDialect.do_execute", "DB driver execute (C: sqlite3 / psycopg)"),
    ("sqlalchemy/engine/default.py:DefaultDialect.do_commit", "DB driver commit"),
    ("psycopg/", "psycopg (python)"),
    ("sqlalchemy/sql/", "SQLAlchemy SQL compile"),
    ("sqlalchemy/", "SQLAlchemy other"),
    ("hub/canonical.py", "lxml parse/validate (C) + hub/canonical.py"),
    ("lxml", "lxml"),
    ("httpx/", "httpx"), ("httpcore/", "httpcore"), ("h11/", "h11"), ("uvicorn/", "uvicorn"),
    ("starlette/", "starlette"), ("fastapi/", "fastapi"), ("anyio/", "anyio (threadpool hop)"),
    ("kombu/", "kombu"), ("amqp/", "py-amqp"), ("hub/", "hub code"), ("json/", "json"),
    ("logging/", "logging"), ("asyncio/", "asyncio"), ("threading.py", "threading / locks"),
    ("queue.py", "queue"), ("concurrent/", "thread pool"), ("socket.py", "socket"), ("selectors.py", "selectors"),
]


# A stack no stage matches (a thread between two pieces of work: a lock, a queue, the pool) counts for the stage
# its thread serves; the CPU it is charged is mostly that of the burst just before.
THREAD_STAGES = {
    "AnyIO worker thread": "ingest (service.ingest)", "deliver": "send (encode + HTTP)",
    "xianjie-ingest": "ingest group commit",
    "xianjie-writer": "outcome writer (record_outcomes)", "xianjie-consumer": "bus consumer loop (kombu)",
    "xianjie-relay": "relay loop (idle polling)", "xianjie-sweeper": "sweeper",
    "MainThread": "uvicorn + h11 + starlette (HTTP server)",
}


def _first(frames: list[str], table: list[tuple[str, str]], default: str) -> str:
    for f in frames:
        for marker, name in table:
            if f.startswith(marker):
                return name
    return default


def _leaf_layer(frames: list[str]) -> str:
    leaf = frames[-1] if frames else ""
    for marker, name in LAYERS:
        if leaf.startswith(marker):
            return name
    return leaf.split(":", 1)[0] or "?"


def summarise(path: Path, top: int = 12) -> dict[str, Any]:
    """CPU seconds by thread, stage, ingest sub-stage and library, and the top functions (self and inclusive)."""
    data = json.loads(path.read_text())
    by_thread: dict[str, int] = {}
    by_stage: dict[str, int] = {}
    ingest: dict[str, int] = {}
    layers: dict[str, int] = {}
    selfs: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = 0
    for key, ns in data["stacks"].items():
        thread, *frames = key.split(";")
        total += ns
        by_thread[thread] = by_thread.get(thread, 0) + ns
        stage = _first(frames, STAGES, THREAD_STAGES.get(thread, "other"))
        by_stage[stage] = by_stage.get(stage, 0) + ns
        at = next((i for i, f in enumerate(frames) if f.startswith("hub/service.py:Hub.ingest")), None)
        if at is not None:
            below = frames[at + 1:]
            sub = _first(below, INGEST, "other")
            ingest[sub] = ingest.get(sub, 0) + ns
        layer = _leaf_layer(frames)
        layers[layer] = layers.get(layer, 0) + ns
        if frames:
            selfs[frames[-1]] = selfs.get(frames[-1], 0) + ns
        for f in set(frames):
            incl[f] = incl.get(f, 0) + ns

    def top_of(d: dict[str, int], k: int = top) -> dict[str, float]:
        return {name: round(v / 1e9, 2) for name, v in sorted(d.items(), key=lambda x: -x[1])[:k]}

    return {"cpu_seconds": round(total / 1e9, 2), "threads": top_of(by_thread, 20), "stages": top_of(by_stage, 20),
            "ingest": top_of(ingest), "layers": top_of(layers, 16), "self": top_of(selfs, 20),
            "inclusive": top_of({k: v for k, v in incl.items() if not k.startswith(("threading.py", "<"))}, 25)}


def render(profiles: dict[str, dict[str, Any]]) -> str:
    lines = []
    for name, p in profiles.items():
        total = p["cpu_seconds"] or 1e-9
        lines.append(f"\nprofile {name}: {p['cpu_seconds']:.1f} CPU s sampled")
        for section in ("stages", "ingest", "layers", "threads", "self"):
            lines.append(f"  {section}:")
            for k, v in list(p[section].items())[:12]:
                lines.append(f"    {v / total * 100:5.1f}%  {v:7.2f}s  {k}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--interval", type=float, default=0.015)
    p.add_argument("args", nargs=argparse.REMAINDER)
    a = p.parse_args()
    args = a.args[1:] if a.args[:1] == ["--"] else a.args
    sampler = Sampler(a.interval)
    atexit.register(sampler.save, Path(a.out))
    sampler.thread.start()
    # uvicorn restores the handler it found and re-raises SIGTERM after its graceful shutdown: exit through
    # atexit then, so the samples are written (the worker command installs its own handler and returns).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    from hub.cli import main as hub_main

    t0 = time.time()
    rc = hub_main(args)
    print(f"sampler: {time.time() - t0:.1f}s sampled", file=sys.stderr)
    sys.exit(rc)


if __name__ == "__main__":
    main()
