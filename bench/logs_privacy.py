"""What masked logs cost: ``python -m bench.logs_privacy [RECORDS]`` (default 50,000).

Single thread, into memory: microseconds per record for logging's plain text line (no masking), the hub's JSON line
and the hub's text line (both masked: the message and its arguments merged and searched for ID numbers, each extra
masked by its key); then the ID-number search over about 800 KiB of text, dense with ID numbers and without any.
"""

from __future__ import annotations

import io
import logging
import sys
import time

from hub import logs


def per_record(handler: logging.Handler, records: int) -> float:
    """Microseconds per record through ``handler`` (a logger of its own, at INFO, propagating nowhere)."""
    log = logging.getLogger(f"bench.logs_privacy.{id(handler)}")
    log.propagate = False
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    started = time.perf_counter()
    for _ in range(records):
        log.info("delivery %s to %s: %s", "c0a8e3b2-1f0e-4a52-9d61-3c8f9b1e2d4f", "530581SF", "delivered",
                 extra={"attempt": 2, "person_name": "杨国富"})
    return (time.perf_counter() - started) / records * 1e6


def main(records: int) -> None:
    plain = logging.StreamHandler(io.StringIO())
    plain.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    costs = {"plain text (unmasked)": per_record(plain, records),
             "hub JSON (masked)": per_record(logs.HubHandler("json", io.StringIO()), records),
             "hub text (masked)": per_record(logs.HubHandler("text", io.StringIO()), records)}
    for name, us in costs.items():
        print(f"{name:<24} {us:6.1f} µs/record   ({records} records)")
    for label, text in (("dense with ID numbers", "判决 530581198803140337 送达 腾冲 " * 20000),
                        ("without ID numbers", "delivery to 530581SF attempt 2 delivered ok " * 20000)):
        started = time.perf_counter()
        logs.mask_id_numbers(text)
        took = time.perf_counter() - started
        size = len(text.encode("utf-8"))
        print(f"ID-number search, {label:<22} {size // 1024} KiB in {took * 1000:.0f} ms "
              f"({size / took / 2**20:.1f} MiB/s)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50000)
