"""``python -m bench``: baselines, then the hub end to end on both stacks; prints a table, writes JSON.

Suites (BENCH_SUITES, default adapters,ledger,cases,reconcile,identity,joint_report,hubs): each adapter's inbound
and outbound messages/s against raw lxml parse + validate (bench.adapters); a BENCH_LEDGER_ROWS-row (200000) XLSX
ledger read and imported in streaming mode, rows/s and peak RSS (bench.ledger_rows); the case ledger's rebuild and
clock at national scale (bench.ledger_scale), register reconciliation of 700,000 rows (bench.reconcile), identity
linking (bench.identity); a county's joint-meeting report over BENCH_REPORT_PERSONS (10000) persons and 50 messages
each (bench.joint_report); the hub end to end on both stacks.

Environment: BENCH_N (notices per stack, default 20000), BENCH_CONCURRENCY (48), BENCH_RATE (250/s),
BENCH_LATENCY_SECONDS (20), BENCH_DEADLINE (150 s for the closed loop; 0: none), BENCH_DRAIN (60 s for a
paced run's notices to complete after its last POST), BENCH_PG_WORKERS (2), BENCH_STACKS
(sqlite,postgres_rabbitmq; also sqlite_kombu), BENCH_CLIENT (raw | httpx), BENCH_PROFILE (1: run the hub
processes under bench.sampler), BENCH_OUT (JSON path), BENCH_KEEP (1: keep the work folder with the
processes' logs), BENCH_PHASES (0: skip the single-threaded phase costs), BENCH_BASELINES (0: skip them;
experiments only). XIANJIE_* variables reach the hub.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from bench import baselines, phases
from bench.messages import FANOUT, build
from bench.procs import Proc
from bench.report import phases_table, ratios, table
from bench.scenario import Recipient, run_stack
from bench.stacks import RABBIT_URL, Stack, postgres_rabbit_stack, sqlite_stack
from tests.harness import free_port

HERE = Path(__file__).resolve().parent
DEFAULT_SUITES = "adapters,ledger,cases,reconcile,identity,joint_report,hubs"
# national-scale suites of the case ledger, run as ``python -m <module> <size>``: (suite, module, size variable,
# default size, what it measures)
SCALE_SUITES = (
    ("cases", "bench.ledger_scale", "BENCH_CASE_MESSAGES", 200000,
     "case ledger rebuild (messages/s) and the clock over 700,000 open obligations"),
    ("reconcile", "bench.reconcile", "BENCH_REGISTER_ROWS", 700000,
     "a register reconciled against the ledger and two other registers"),
    ("registers", "bench.register_scale", "BENCH_REGISTER_HUB_ROWS", 700000,
     "the hub's register upload and reconciliation over a ledger in its database"),
    ("identity", "bench.identity", "BENCH_IDENTITY_RECORDS", 100000, "agency records linked into persons"),
    ("joint_report", "bench.joint_report", "BENCH_REPORT_PERSONS", 10000,
     "a county's joint-meeting report over 50 messages a person, built and rendered (target < 10 s)"),
)


def _env(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def main() -> int:
    warnings.filterwarnings("ignore", message=".*noload.*")  # kombu's SQLAlchemy transport on SQLAlchemy 2.1
    n = int(_env("BENCH_N", 20000))
    concurrency = int(_env("BENCH_CONCURRENCY", 48))
    rate = _env("BENCH_RATE", 250)
    n_paced = int(min(rate * _env("BENCH_LATENCY_SECONDS", 20), max(rate * 2, n / 2)))
    n_warm = min(500, max(100, n // 20))
    pg_workers = int(_env("BENCH_PG_WORKERS", 2))
    deadline = _env("BENCH_DEADLINE", 150)  # seconds for the closed loop: delivered by then, or not counted
    drain = _env("BENCH_DRAIN", 60)  # seconds after the last paced POST for its notices to complete
    wanted = (os.environ.get("BENCH_STACKS") or "sqlite,postgres_rabbitmq").split(",")
    profile = os.environ.get("BENCH_PROFILE") == "1"
    out_path = Path(os.environ.get("BENCH_OUT") or HERE / "results" / "latest.json")
    work = Path(tempfile.mkdtemp(prefix="xianjie-bench-"))
    t_start = time.time()

    n_low = int(rate / 2 * 10)  # at most: 10 s at half the offered rate
    notices = build(n_warm + n + n_paced + n_low)
    warm, load = notices[:n_warm], notices[n_warm:n_warm + n]
    paced, low = notices[n_warm + n:n_warm + n + n_paced], notices[n_warm + n + n_paced:]
    meta = {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "n": n, "warmup": n_warm,
        "paced": n_paced, "rate": rate, "concurrency": concurrency, "fanout": FANOUT,
        "client": os.environ.get("BENCH_CLIENT") or "raw", "cpus": os.cpu_count(),
        "loadavg_before": " ".join(f"{x:.2f}" for x in os.getloadavg()), "python": platform.python_version(),
        "git": _git_rev(), "dirty": _git_dirty(), "pg_workers": pg_workers, "profile": profile,
        "deadline_s": deadline, "drain_s": drain,
        "hub_env": {k: v for k, v in os.environ.items() if k.startswith("XIANJIE_")},
    }
    results: dict[str, Any] = {"meta": meta, "baselines": {}, "hubs": {}}
    suites = set((os.environ.get("BENCH_SUITES") or DEFAULT_SUITES).split(","))
    if "adapters" in suites:
        from bench import adapters as adapter_bench

        log("adapters: inbound and outbound messages/s against raw lxml parse + validate")
        results["adapters"] = adapter_bench.run()
        print(adapter_bench.table(results["adapters"]), flush=True)
    if "ledger" in suites:
        rows = int(_env("BENCH_LEDGER_ROWS", 200000))
        log(f"ledger: a {rows}-row XLSX 台账 read and imported in streaming mode (child processes)")
        proc = subprocess.run([sys.executable, "-m", "bench.ledger_rows", str(rows)], capture_output=True,
                              text=True, cwd=HERE.parent)
        results["ledger"] = {"rows": rows, "output": proc.stdout, "returncode": proc.returncode}
        print(proc.stdout, flush=True)
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
    for suite, module, variable, default, what in SCALE_SUITES:
        if suite not in suites:
            continue
        size = int(_env(variable, default))
        log(f"{suite}: {what} ({size:,}; child processes)")
        proc = subprocess.run([sys.executable, "-m", module, str(size)], capture_output=True, text=True,
                              cwd=HERE.parent)
        output = proc.stdout
        results[suite] = {"size": size, "output": output, "returncode": proc.returncode}
        head, _, last = output.strip().rpartition("\n")
        if last.startswith("{"):  # a suite that ends its output with its figures as one JSON object
            try:
                results[suite]["figures"] = json.loads(last)
                output = results[suite]["output"] = head + "\n"
            except ValueError:
                pass
        print(output, flush=True)
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
    if "hubs" not in suites:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(results, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        print(f"\nresults: {out_path}")
        shutil.rmtree(work, ignore_errors=True)
        return 0

    log(f"baselines (work folder {work})")
    b = results["baselines"]
    if os.environ.get("BENCH_BASELINES", "1") == "1":  # 0: for experiments only (no ratios)
        sample = load[:min(n, 3000)]
        b["lxml"] = baselines.lxml_rates(sample)
        b["kombu_rabbitmq"] = baselines.kombu_rates(RABBIT_URL, sample, queue_args={"x-queue-type": "quorum"})
        sqla_dir = work / "kombu-sqla"
        sqla_dir.mkdir()
        b["kombu_sqlalchemy_sqlite"] = baselines.kombu_rates(f"sqla+sqlite:///{sqla_dir}/broker.db",
                                                             load[:min(n, 2000)])
        b["fastapi"] = baselines.fastapi_rates(load[:min(n, 5000)], concurrency=concurrency, log_dir=work)
        b["loadgen_ceiling"] = baselines.loadgen_ceiling(load[:min(n, 5000)], concurrency=concurrency,
                                                         log_dir=work)
        log(f"baselines: {json.dumps(b)}")

    port = free_port()
    rproc = Proc("recipient", ["-m", "bench.recipient", "--port", str(port), "--fanout", str(FANOUT)], log_dir=work)
    rproc.wait_line("ready")
    recipient = Recipient(rproc, port)
    if os.environ.get("BENCH_PHASES", "1") == "1":
        m = min(n, 1500)
        log(f"phases, single-threaded: {m} notices on each database")
        results["phases"] = {}
        with sqlite_stack(work) as st:
            results["phases"]["sqlite"] = phases.measure(st.database_url, load[:m], work=work,
                                                         recipient_url=recipient.url)
        with postgres_rabbit_stack(0) as st:
            results["phases"]["postgres"] = phases.measure(st.database_url, load[:m], work=work,
                                                           recipient_url=recipient.url)
        recipient.reset()
    profile_dir = work / "profiles" if profile else None
    if profile_dir:
        profile_dir.mkdir()
    failed = False
    try:
        for name in wanted:
            log(f"hub on {name}: {n_warm} warm-up, {n} closed loop, {n_paced} at {rate:.0f}/s")
            def make_stack(name: str = name) -> AbstractContextManager[Stack]:
                if name.startswith("sqlite"):
                    return sqlite_stack(work, kombu=name == "sqlite_kombu")
                return postgres_rabbit_stack(pg_workers)

            try:
                results["hubs"][name] = run_stack(make_stack, work=work, recipient=recipient, warm=warm, load=load,
                                                  paced=paced, low=low, concurrency=concurrency, rate=rate,
                                                  deadline=deadline, drain=drain, profile_dir=profile_dir)
            except Exception as e:
                failed = True
                traceback.print_exc()
                results["hubs"][name] = {"error": repr(e)}
            log(f"{name}: {json.dumps({k: v for k, v in results['hubs'][name].items() if k != 'database'})}")
    finally:
        rproc.stop()
    if profile_dir:
        from bench.sampler import summarise

        results["profiles"] = {p.stem: summarise(p) for p in sorted(profile_dir.glob("*.json"))}
    results["ratios"] = ratios(results) if b else {}
    meta["seconds"] = round(time.time() - t_start, 1)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    try:
        print(table(results))
        if "phases" in results:
            print(phases_table(results["phases"]))
    except Exception:  # a failed stack leaves holes; the JSON has everything there is
        traceback.print_exc()
    if profile_dir:
        from bench.sampler import render

        print(render(results["profiles"]))
    print(f"\nresults: {out_path}  ({meta['seconds']:.0f} s)")
    if os.environ.get("BENCH_KEEP") == "1" or failed:
        print(f"work folder kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


def _git_dirty() -> list[str]:
    """Files of hub/ changed from the commit (the figures are for the tree as it was)."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--", "hub", "adapters", "schemas", "queue"],
                             capture_output=True, text=True, cwd=HERE.parent, timeout=5).stdout
    except OSError:
        return []
    return [line[3:] for line in out.splitlines()]


def _git_rev() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=HERE.parent, timeout=5).stdout.strip()
    except OSError:
        return ""


if __name__ == "__main__":
    sys.exit(main())
