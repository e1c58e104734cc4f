"""A short run of the chaos suite's machinery (``python -m chaos --quick``, docs/security-chaos.md): 300 notices on a
private PostgreSQL and RabbitMQ, 3 SIGKILLs of API and worker processes, a broker kill, a database crash stop, a
recipient down for a simulated 48 hours and a full drop-folder disk, on a compressed clock. The full suite is
``make chaos`` (its own CI step); this one proves in ``make test`` that the machinery still works end to end."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from chaos.services import RABBIT_SCRIPTS, ServiceError, postgres_bin
from tests.services import IN_CI

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def require_binaries() -> None:
    """The installed PostgreSQL and RabbitMQ the run starts private instances of: mandatory in CI."""
    try:
        postgres_bin()
        if not (RABBIT_SCRIPTS / "rabbitmq-server").exists():
            raise ServiceError(f"no RabbitMQ scripts in {RABBIT_SCRIPTS}")
    except ServiceError as e:
        if IN_CI:
            pytest.fail(f"the chaos suite needs the installed services' binaries, and CI requires them: {e}")
        pytest.skip(str(e))


def test_a_quick_chaos_run_loses_nothing_and_applies_nothing_twice(tmp_path: Path) -> None:
    require_binaries()
    seed = random.randrange(1, 1 << 31)
    out = tmp_path / "chaos.json"
    # Given a quick chaos run (a random seed; the run prints how to replay it)
    p = subprocess.run([sys.executable, "-m", "chaos", "--quick", "--seed", str(seed), "--out", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=280)
    report = p.stdout[-6000:] + p.stderr[-3000:]
    assert out.exists(), f"no summary written (seed {seed}):\n{report}"
    s = json.loads(out.read_text(encoding="utf-8"))
    # Then it passes: every notice accepted, nothing lost, nothing applied twice, every fault injected
    assert p.returncode == 0, f"seed {seed}: {s.get('problems')}\n{report}"
    assert s["notices"]["accepted"] == s["notices"]["planned"] == 300
    assert s["lost"] == 0 and s["applied_twice"] == 0
    assert s["deliveries"]["delivered"] == s["deliveries"]["expected"] > 300
    assert s["deliveries"]["arrived_per_recipients"] == s["deliveries"]["expected"]
    assert s["faults"]["sigkills"] >= 3
    assert {"rabbitmq", "postgresql", "recipient"} <= set(s["faults"]["restarts_by_what"])
    # and the outage ran the retry schedule out, the operator retried, and the hub delivered
    assert s["failed_transfers"]["retried_and_delivered"].get("530523GA", 0) >= 1
    assert s["failed_transfers"]["open_at_end"] == 0
    assert s["faults"]["disk_full"]["failed_attempts_disk_full"] > 0 or s["faults"]["disk_full"]["fallback"]
