"""SIGTERM stops a worker cleanly: sends in flight finish and are recorded, queued claims are handed back."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.store.db import make_engine
from hub.store.schema import deliveries
from tests.conftest import Stack
from tests.harness import Recipients, auth, make_id, notice, wait_until
from tests.hubserver import ProcessHub, hub_settings


@pytest.mark.slow
def test_sigterm_finishes_in_flight_sends_and_loses_nothing(
        stack: Stack, registry: Path, recipients: Recipients, tmp_path: Path) -> None:
    # Given a slow bureau and a worker busy sending to it
    recipients.modes["530581SF"] = "slow"
    recipients.slow_seconds = 1.5
    s = hub_settings(database_url=stack.database_url, broker_url=stack.broker_url, registry_path=registry,
                     queue_prefix=stack.queue_prefix, lease_seconds=120.0, http_timeout=10.0)
    hub = ProcessHub(s, tmp_path)
    hub.start_api()
    worker = hub.start_worker()
    engine = make_engine(s.database_url)

    def count(*states: str) -> int:
        with engine.connect() as c:
            return int(c.execute(select(func.count()).select_from(deliveries).where(
                deliveries.c.recipient == "530581SF", deliveries.c.state.in_(states))).scalar_one())

    try:
        import httpx

        with httpx.Client(base_url=hub.url, timeout=30) as c:
            for i in range(12):
                _, xml = notice("SentencingDecision", sender="530502FY", execution_division="530581",
                                id_number=make_id("530581", "19850101", 2 * i + 1))
                assert c.post("/api/v1/messages", content=xml, headers=auth("530502FY")).status_code == 202
        # (two requests have reached the slow bureau: those sends are under way, not merely claimed)
        wait_until(lambda: count("sending") >= 2 and recipients.started.get("530581SF", 0) >= 2, timeout=30,
                   what="sends in flight")
        # When the worker is asked to stop
        t0 = time.time()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.send_signal(signal.SIGUSR1)  # every thread's stack to its log (hub.cli's faulthandler)
            time.sleep(1.0)
            logs = "\n".join(p.read_text(errors="replace")[-6000:] for p in sorted(hub.log_dir.glob("worker-*.log")))
            pytest.fail(f"the worker was still running 60 s after SIGTERM; its threads:\n{logs}")
        hub.workers.remove(worker)
        # Then it exits promptly, nothing is left leased, and the sends in flight were recorded
        assert worker.returncode == 0
        assert time.time() - t0 < 30
        assert count("sending") == 0
        assert count("delivered") >= 2
        # and a new worker delivers the rest without waiting for any lease to expire
        hub.start_worker()
        wait_until(lambda: count("delivered") == 12, timeout=60, what="all delivered")
    finally:
        hub.stop()
        engine.dispose()
