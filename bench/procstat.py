"""Process and machine figures from /proc (psutil is not installed): memory, CPU seconds, who uses the CPU."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak resident set) of ``pid`` in KiB; empty if the process is gone."""
    out: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds ``pid`` has used (all its threads); 0.0 if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, summed over cores."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    total = sum(fields[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


@dataclass
class CpuWatch:
    """CPU seconds used between ``start()`` and ``stop()``, by component (named groups of processes).

    ``groups`` maps a component to a predicate on (pid, comm, cmdline); processes are matched at each
    reading, so backends that start during the run count from their first reading (their earlier CPU is
    small: they start at connection time)."""

    groups: dict[str, object]
    before: dict[int, float] | None = None
    machine_before: tuple[float, float] | None = None

    def _read(self) -> dict[int, float]:
        return {p: cpu_seconds(p) for p in all_pids()}

    def start(self) -> None:
        self.before = self._read()
        self.machine_before = machine_cpu()

    def stop(self) -> dict[str, float]:
        assert self.before is not None and self.machine_before is not None
        after = self._read()
        busy1, total1 = machine_cpu()
        out: dict[str, float] = {name: 0.0 for name in self.groups}
        other = 0.0
        for pid, t in after.items():
            used = t - self.before.get(pid, 0.0)
            if used <= 0:
                continue
            c, cl = comm(pid), cmdline(pid)
            for name, pred in self.groups.items():
                if pred(pid, c, cl):  # type: ignore[operator]
                    out[name] += used
                    break
            else:
                other += used
        out["other processes"] = other
        out["machine busy"] = busy1 - self.machine_before[0]
        out["machine capacity"] = total1 - self.machine_before[1]
        return {k: round(v, 2) for k, v in out.items()}
