"""The wheel carries what the hub reads at run time: XSDs and samples, the broker topology, the demo
registry and the migrations — so `pip install .` works outside the repository."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_ships_schemas_topology_registry_and_migrations(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True)
    names = set(zipfile.ZipFile(next(tmp_path.glob("xianjie-*.whl"))).namelist())
    for expected in ("hub/_data/queue/topology.toml", "hub/_data/schemas/canonical/v1/xianjie.xsd",
                     "hub/_data/schemas/canonical/v1/common.xsd",
                     "hub/_data/schemas/canonical/v1/samples/SentencingDecision.xml",
                     "hub/registry/baoshan.toml", "hub/rules/national.toml",
                     "hub/migrations/versions/0001_initial_schema.py",
                     "hub/migrations/env.py", "adapters/__init__.py"):
        assert expected in names, expected
    assert not any(n.startswith("queue/") and n.endswith(".py") for n in names)
