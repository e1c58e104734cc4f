"""The newcomer's demo, end to end: `xianjie demo --duration 45` in a scratch folder accepts a stream of notices,
delivers and acknowledges them, and turns the deliveries to the dead 昌宁县司法局 into failed transfers."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# The demo's ports (8000 hub, 8100 simulated agencies) are fixed, so one demo at a time on this machine: a lock
# file serialises this test against any other run of it (parallel workers, a second checkout).
PORTS_LOCK = Path(tempfile.gettempdir()) / "xianjie-demo-ports-8000-8100.lock"


@pytest.fixture
def demo_ports() -> Iterator[None]:
    with PORTS_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.mark.slow
def test_demo_shows_the_whole_path_within_a_minute(tmp_path: Path, demo_ports: None) -> None:
    # Given a scratch folder (the demo keeps its database and the police drop folder under ./var) and no overrides
    env = {k: v for k, v in os.environ.items() if not k.startswith("XIANJIE_")}
    env["PYTHONIOENCODING"] = "utf-8"
    # When the demo runs for 45 seconds
    proc = subprocess.run([sys.executable, "-m", "hub", "demo", "--duration", "45"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, encoding="utf-8", timeout=180)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]

    # Then it told the newcomer where to look, in both languages, with commands ready to paste
    for hint in ("接口文档 API docs", "http://127.0.0.1:8000/docs", "Authorization: Bearer demo-530500ZX",
                 "http://127.0.0.1:8000/api/v1/messages/", "/api/v1/failed-transfers", "/api/v1/inbox",
                 "/healthz", "/readyz"):
        assert hint in out, hint
    # And it narrated the path: a judgment sent, received by the bureau, a 回执 back, a retry, a failed transfer
    assert "→ 衔接 SentencingDecision" in out
    assert "司法局 530581SF ← SentencingDecision" in out
    assert "→ 衔接 DocumentReceipt 回执" in out
    assert "↻ 未送达 not delivered" in out and "⚠ 传输失败 FAILED TRANSFER" in out
    assert out.count("汇总 summary") >= 3 and "已停止 stopped" in out
    assert "✗" not in out and "Traceback" not in out, out[-4000:]

    # And the hub's own record agrees
    db = sqlite3.connect(tmp_path / "var" / "xianjie.db")
    types = dict(db.execute("SELECT message_type, count(*) FROM messages GROUP BY message_type").fetchall())
    assert types.get("SentencingDecision", 0) >= 10, types
    assert types.get("DocumentReceipt", 0) >= 5 and types.get("TechnicalAck", 0) >= 5, types
    assert types.get("ReportingOutcome", 0) >= 1, types
    assert db.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0, "a demo notice was rejected"
    # and the agencies spoke their own formats: court XML over HTTP and through a drop folder, bureau XML, and
    # 施甸县司法局's spreadsheet 台账 uploaded as a workbook
    native = {(system, channel): (n, accepted) for system, channel, n, accepted in db.execute(
        "SELECT system, channel, count(*), sum(accepted) FROM native_payloads WHERE rejected = 0 "
        "GROUP BY system, channel").fetchall()}
    for key in (("court", "native-api"), ("court", "drop-folder"), ("bureau", "native-api"), ("ledger", "native-api")):
        assert native.get(key, (0, 0))[1] >= 1, (key, native)
    assert "台账上传 spreadsheet upload" in out and "投递文件夹 drop folder" in out
    acked = dict(db.execute("SELECT transport, count(*) FROM deliveries WHERE state = 'acknowledged' "
                            "GROUP BY transport").fetchall())
    assert acked.get("http", 0) >= 20 and acked.get("inbox", 0) >= 10, acked
    # a judgment's bureau delivery is acknowledged by the bureau's 回执 (a DocumentReceipt), not a technical ack
    by_receipt = db.execute(
        "SELECT count(*) FROM deliveries d JOIN messages m ON m.id = d.message_id "
        "JOIN messages r ON r.id = d.ack_message_id WHERE m.message_type = 'SentencingDecision' "
        "AND d.recipient LIKE '%SF' AND r.message_type = 'DocumentReceipt' AND r.causation_id = m.id").fetchone()[0]
    assert by_receipt >= 5
    failed = db.execute("SELECT recipient, cause FROM failed_transfers").fetchall()
    assert ("530524SF", "retries_exhausted") in failed, failed
    assert {r for r, _ in failed} == {"530524SF"}, f"only the dead bureau should fail: {failed}"
    folder = db.execute("SELECT state, count(*) FROM deliveries WHERE transport = 'folder' GROUP BY state").fetchall()
    if folder:  # 施甸县公安局 reads its drop folder and acknowledges what it finds
        assert dict(folder).get("acknowledged", 0) >= 1, folder
        assert any((tmp_path / "var" / "drop" / "530521GA" / "done").iterdir())
