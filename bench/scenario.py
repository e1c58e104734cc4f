"""One stack end to end: warm up, closed-loop throughput, open-loop latency, the database's confirmation.

Completion is what the recipient sees (first arrival of each (message, agency); a notice is complete when all
three of its recipients have it). The database must then agree: every delivery acknowledged, no failed transfer.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench.hubrun import Hub
from bench.loadgen import Run, closed_loop, open_loop
from bench.messages import FANOUT, Notice
from bench.procs import Proc
from bench.stacks import Stack


@dataclass
class Recipient:
    proc: Proc
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stats(self) -> dict[str, Any]:
        return dict(httpx.get(self.url + "/stats", timeout=30).json())

    def dump(self) -> dict[str, Any]:
        return dict(httpx.get(self.url + "/dump", timeout=60).json())

    def reset(self) -> None:
        httpx.post(self.url + "/reset", timeout=30)

    def wait_complete(self, count: int, *, until: float, stall: float = 60.0) -> bool:
        """Until ``count`` notices are complete; False at ``until`` or if nothing moves for ``stall`` seconds."""
        last, moved = -1, time.time()
        while True:
            s = self.stats()
            if s["complete"] >= count:
                return True
            if s["deliveries"] != last:
                last, moved = s["deliveries"], time.time()
            elif time.time() - moved > stall:
                return False
            if time.time() >= until:
                return False
            time.sleep(0.1)


def pct(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, round(q * (len(v) - 1)))]


def summary_ms(values: Sequence[float]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0)):
        x = pct(values, q)
        out[name] = None if x is None else round(x * 1000, 1)
    return out


def _ts(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return float(value.timestamp())


def db_state(url: str) -> dict[str, Any]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            states = dict(c.execute(sa.text("SELECT state, count(*) FROM deliveries GROUP BY state")).all())
            fts = c.execute(sa.text("SELECT count(*) FROM failed_transfers")).scalar()
            msgs = c.execute(sa.text("SELECT count(*) FROM messages")).scalar()
            attempts = c.execute(sa.text("SELECT coalesce(sum(attempts), 0) FROM deliveries")).scalar()
    finally:
        engine.dispose()
    total = sum(states.values())
    return {"messages": msgs, "deliveries": total, "by_state": states, "attempts": int(attempts),
            "failed_transfers": fts, "all_acknowledged": total > 0 and states.get("acknowledged", 0) == total}


def db_diagnostics(url: str) -> dict[str, Any]:
    """Events by kind (redrives by reason): how much work the hub did twice."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            kinds = dict(c.execute(sa.text("SELECT kind, count(*) FROM events GROUP BY kind")).all())
            redriven = dict(c.execute(sa.text(
                "SELECT detail, count(*) FROM events WHERE kind = 'redriven' GROUP BY detail")).all())
    finally:
        engine.dispose()
    return {"events": kinds, "redriven": redriven}


def db_confirm(url: str, messages: int, *, until: float | None = None, stall: float = 60.0,
               ) -> tuple[dict[str, Any], float | None]:
    """The database's state once every delivery of ``messages`` notices is acknowledged, and when that was seen;
    (state, None) at ``until`` or if the count of acknowledged deliveries stops moving for ``stall`` seconds."""
    last, moved = -1, time.time()
    while True:
        s = db_state(url)
        if s["messages"] >= messages and s["deliveries"] >= messages * FANOUT and s["all_acknowledged"]:
            return s, time.time()
        acked = s["by_state"].get("acknowledged", 0)
        if acked != last:
            last, moved = acked, time.time()
        elif time.time() - moved > stall:
            return s, None
        if until is not None and time.time() >= until:
            return s, None
        time.sleep(0.2)


def stages(url: str, mids: set[str], run: Run, notices: Sequence[Notice], arrivals: dict[str, dict[str, float]],
           ) -> dict[str, dict[str, float | None]]:
    """Where a notice's time goes, per stage, from the client's clock, the hub's rows and the recipient's."""
    recs = {n.message_id: run.records[i] for i, n in enumerate(notices) if i in run.records}
    sent = {m: r[1] for m, r in recs.items()}
    answered = {m: r[2] for m, r in recs.items()}
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            rows = c.execute(sa.text(
                "SELECT d.message_id, d.recipient, m.received_at, d.first_attempt_at, d.acknowledged_at "
                "FROM deliveries d JOIN messages m ON m.id = d.message_id")).all()
    finally:
        engine.dispose()
    gaps: dict[str, list[float]] = {k: [] for k in (
        "post → received (HTTP, auth, parse, route)", "received → 202 at client (ingest commit, response)",
        "received → claimed (outbox relay, broker, consume, claim)", "claimed → arrived (deliverer queue, HTTP send)",
        "arrived → ack recorded (outcome commit)")}
    k = list(gaps)
    seen: set[str] = set()
    for mid, rcp, rec, claimed, acked in rows:
        if mid not in mids or mid not in sent:
            continue
        rec_t, cl_t, ack_t = _ts(rec), _ts(claimed), _ts(acked)
        arr = arrivals.get(mid, {}).get(rcp)
        if mid not in seen and rec_t is not None:
            seen.add(mid)
            gaps[k[0]].append(rec_t - sent[mid])
            gaps[k[1]].append(answered[mid] - rec_t)
        if rec_t is not None and cl_t is not None:
            gaps[k[2]].append(cl_t - rec_t)
        if cl_t is not None and arr is not None:
            gaps[k[3]].append(arr - cl_t)
        if arr is not None and ack_t is not None:
            gaps[k[4]].append(ack_t - arr)
    return {name: summary_ms(v) for name, v in gaps.items()}


def paced_latency(url: str, recipient: Recipient, paced: Sequence[Notice], *, rate: float, database_url: str,
                  drain: float) -> dict[str, Any]:
    """Post ``paced`` open loop at ``rate``; latency from the scheduled POST to the notice's last arrival (notices
    not complete ``drain`` seconds after the last POST count as missing)."""
    recipient.reset()
    prun = open_loop(url, paced, rate=rate)
    pdone = recipient.wait_complete(len(paced), until=time.time() + drain)
    pdump = recipient.dump()
    order = prun.ordered(len(paced))
    lat, lat_sent, missing = [], [], 0
    for n, rec in zip(paced, order, strict=True):
        t = pdump["complete"].get(n.message_id)
        if t is None:
            missing += 1
            continue
        lat.append(t - rec[0])
        lat_sent.append(t - rec[1])
    return {
        "offered_per_s": rate, "notices": len(paced), "all_completed": pdone, "missing": missing,
        "seconds": round(prun.finished - prun.started, 2), "statuses": prun.statuses(),
        "client_retries": prun.retries,
        "post_to_last_delivery_ms": summary_ms(lat), "from_actual_send_ms": summary_ms(lat_sent),
        "post_answered_ms": summary_ms([r[2] - r[1] for r in order]),
        "stages_ms": stages(database_url, {n.message_id for n in paced}, prun, paced, pdump["arrivals"]),
    }


def run_stack(make_stack: Callable[[], AbstractContextManager[Stack]], *, work: Path, recipient: Recipient,
              warm: Sequence[Notice], load: Sequence[Notice], paced: Sequence[Notice], low: Sequence[Notice],
              concurrency: int, rate: float, deadline: float, drain: float, profile_dir: Path | None,
              ) -> dict[str, Any]:
    """Closed-loop throughput on one fresh stack, then the paced latency runs on another fresh stack (so a
    backlog left at the deadline does not weigh on them); each confirmed from its database."""
    out: dict[str, Any] = {}
    with make_stack() as stack:
        out.update(title=stack.title, workers=stack.workers)
        hub = Hub(stack, work, recipient.url, profile_dir=profile_dir)
        try:
            hub.start()
            out["memory_start_kib"] = hub.memory_start
            _warm_up(hub, recipient, warm, concurrency)
            out["throughput"] = _throughput(hub, recipient, load, concurrency=concurrency, deadline=deadline,
                                            warm=len(warm))
        finally:
            out["memory_end_kib"] = hub.stop()
        out["database"] = {"throughput_run": {**db_state(stack.database_url), **db_diagnostics(stack.database_url)}}
    with make_stack() as stack:
        hub = Hub(stack, work, recipient.url, profile_dir=None)
        try:
            hub.start()
            out["latency_run_memory_start_kib"] = hub.memory_start
            _warm_up(hub, recipient, warm, concurrency)
            out["latency"] = paced_latency(hub.url, recipient, paced, rate=rate, database_url=stack.database_url,
                                           drain=drain)
            total = len(warm) + len(paced)
            # the same at half the rate the hub sustained (its own latency, with little queueing), 10 s
            t = out["throughput"]
            sustained = min(t["notices_per_s"], t["notices_per_s_db"] or 1e9)
            low_rate = max(5.0, round(min(rate, sustained) / 2))
            lows = list(low[:int(low_rate * 10)])
            db_confirm(stack.database_url, total, until=time.time() + drain)
            out["latency_half_sustained"] = paced_latency(hub.url, recipient, lows, rate=low_rate,
                                                          database_url=stack.database_url, drain=drain)
            total += len(lows)
            final, _ = db_confirm(stack.database_url, total, until=time.time() + drain)
        finally:
            out["latency_run_memory_end_kib"] = hub.stop()
        out["database"]["latency_run"] = {**final, **db_diagnostics(stack.database_url)}
    tr, lr = out["database"]["throughput_run"], out["database"]["latency_run"]
    out["database"]["ok"] = bool(lr["all_acknowledged"] and lr["messages"] == total and lr["failed_transfers"] == 0
                                 and tr["failed_transfers"] == 0 and (tr["all_acknowledged"]
                                                                      or not out["throughput"]["all_completed"]))
    return out


def _warm_up(hub: Hub, recipient: Recipient, warm: Sequence[Notice], concurrency: int) -> None:
    """Connections, pools, caches, the broker's queues."""
    recipient.reset()
    closed_loop(hub.url, warm, concurrency=concurrency)
    if not recipient.wait_complete(len(warm), until=time.time() + 120):
        raise RuntimeError(f"warm-up never completed: {recipient.stats()}\n{hub.logs_tail()}")


def _throughput(hub: Hub, recipient: Recipient, load: Sequence[Notice], *, concurrency: int, deadline: float,
                warm: int) -> dict[str, Any]:
    """Closed loop, max speed: notices fully delivered per second, until all are or ``deadline`` s have passed."""
    url = hub.stack.database_url
    recipient.reset()
    watch = hub.cpu_watch(recipient.proc.pid, os.getpid())
    watch.start()
    t0 = time.time()
    until = t0 + deadline if deadline > 0 else float("inf")
    run = closed_loop(hub.url, load, concurrency=concurrency, until=until)
    posted = len(run.records)
    done = recipient.wait_complete(posted, until=until) and posted == len(load)
    dump = recipient.dump()
    mids = {n.message_id for i, n in enumerate(load) if i in run.records}
    complete = [t for m, t in dump["complete"].items() if m in mids and t <= until]
    end = max(complete) if done and complete else min(time.time(), until)
    state, confirmed = db_confirm(url, warm + posted, until=None if done else time.time())
    cpu = watch.stop()  # after the hub's record has caught up: that work is part of each notice's cost
    secs = end - run.started
    arrived = sum(1 for m in mids for t in dump["arrivals"].get(m, {}).values() if t <= until)
    return {
        "notices": len(load), "posted": posted, "completed": len(complete), "all_completed": done,
        "deadline_s": deadline, "seconds": round(secs, 2),
        "notices_per_s": round(len(complete) / secs, 1),
        # the same, until the hub's own record shows every delivery acknowledged
        "notices_per_s_db": None if confirmed is None else round(posted / (confirmed - run.started), 1),
        "deliveries_per_s": round(arrived / secs, 1),
        "posts_per_s": round(posted / max(run.finished - run.started, 1e-9), 1), "statuses": run.statuses(),
        "client_retries": run.retries, "client_errors": run.errors[:5],
        "db_confirmed_after_last_arrival_s": None if confirmed is None else round(confirmed - end, 2),
        "cpu_seconds": cpu,
        "cpu_ms_per_notice": {k: round(v / max(len(complete), 1) * 1000, 2) for k, v in cpu.items()},
        "stages_ms": stages(url, mids, run, load, dump["arrivals"]),
        "database_at_end": state,
    }
