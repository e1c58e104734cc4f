"""``python -m chaos [--seed N] [--notices N] [--quick] …``: one chaos run; exits 1 when anything was lost, applied
twice, left failed, or a fault fell short. ``SEED`` and ``NOTICES`` in the environment work too
(``make chaos SEED=n``)."""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
from dataclasses import replace
from pathlib import Path

from chaos.run import Config, run

# A short run of the same machinery (pytest smoke, a quick look): every fault, on a compressed clock.
QUICK = dict(notices=300, kills=3, min_kills=3, apis=2, workers=2, startup=5.0, posters=2, post_seconds=30.0,
             sim_hour=0.6, lease_seconds=5.0, redrive_after=3.0, settle_timeout=60.0, operator_every=1.0,
             give_up_after=60.0, disk_mb=16, rabbit_window=(0.55, 0.65), pg_window=(0.75, 0.85))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    p.add_argument("--seed", type=int, default=None, help="replays a run's fault plan and stream (default: random)")
    p.add_argument("--notices", type=int, default=None, help="notices in all (default 10000; --quick 300)")
    p.add_argument("--quick", action="store_true", help="a short run: 300 notices, 3 kills, a compressed clock")
    p.add_argument("--kills", type=int, help="SIGKILLs of API and worker processes (default 24)")
    p.add_argument("--post-seconds", type=float, help="how long the main stream of notices is paced to last")
    p.add_argument("--sim-hour", type=float, help="real seconds per simulated hour (default 6)")
    p.add_argument("--inbox-clients", type=int, help="clients collecting each procuratorate's inbox (default 1)")
    p.add_argument("--apis", type=int)
    p.add_argument("--workers", type=int)
    p.add_argument("--out", type=Path, help="where the JSON summary goes (default var/chaos/last.json)")
    p.add_argument("--keep", action="store_true", help="keep every process's log next to the summary")
    a = p.parse_args(argv)
    cfg = replace(Config(), **QUICK) if a.quick else Config()  # type: ignore[arg-type]
    seed = a.seed if a.seed is not None else int(os.environ.get("SEED") or random.randrange(1, 1 << 31))
    changes: dict[str, object] = {"seed": seed}
    notices = a.notices or (int(os.environ["NOTICES"]) if os.environ.get("NOTICES") else None)
    if notices:
        changes["notices"] = notices
    for name in ("kills", "post_seconds", "sim_hour", "apis", "workers", "out", "inbox_clients"):
        if getattr(a, name) is not None:
            changes[name] = getattr(a, name)
    if a.kills is not None:
        changes["min_kills"] = min(cfg.min_kills, a.kills)
    if a.keep:
        changes["keep"] = True
    # SIGTERM (a CI timeout, Ctrl-C's cousin) ends the run through its teardown: the private services go too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return run(replace(cfg, **changes))  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
