"""The ledger reader's figures in docs/security-hostile.md, each in this process (run one per process: peak RSS is
the process's own):

    python -m tests.hostile.measure rows 200000       # a ledger sheet of N two-cell rows: time, peak RSS
    python -m tests.hostile.measure strings 1000000   # a declared shared-string table of N strings
    python -m tests.hostile.measure bench 200000      # bench.ledger_rows's ledger, both layouts, read_rows alone
    python -m tests.hostile.measure compare 50000     # read_rows against openpyxl's read-only reader
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
from pathlib import Path

from adapters.ledger.native import LEDGER_LIMITS, read_rows


def _mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(field)


def _read(name: str, data: bytes) -> None:
    base = _mib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    start = time.perf_counter()
    n = sum(1 for _ in read_rows(data, filename=name, limits=LEDGER_LIMITS))
    took = time.perf_counter() - start
    print(f"{name}: {n} rows ({len(data)} bytes) in {took:.1f} s, {n / took:.0f} rows/s; RSS before {base:.0f} MiB, "
          f"peak {_mib('VmHWM'):.0f} MiB (+{_mib('VmHWM') - base:.0f})")


def _bench_files(rows: int) -> tuple[Path, Path]:
    from bench.ledger_rows import excel_layout, make_xlsx

    folder = Path(tempfile.mkdtemp(prefix="ledger-measure-"))
    make_xlsx(folder / "openpyxl.xlsx", rows)
    excel_layout(folder / "openpyxl.xlsx", folder / "excel.xlsx")
    return folder / "excel.xlsx", folder / "openpyxl.xlsx"


def main(what: str, n: int) -> None:
    from tests.hostile.corpus import bomb_xlsx, ledger_rows_xml, ledger_sheet

    if what == "rows":
        cells = b'<c t="inlineStr"><is><t>x</t></is></c><c t="inlineStr"><is><t>' + "张三".encode() + b"</t></is></c>"
        _read("rows.xlsx", ledger_sheet(ledger_rows_xml(n, cells)))
    elif what == "strings":
        _read("strings.xlsx", bomb_xlsx(n * 32, part="xl/sharedStrings.xml", declared_part=True))
    elif what == "bench":
        for path in _bench_files(n):
            _read(path.name, path.read_bytes())
    elif what == "compare":
        from openpyxl import load_workbook

        for path in _bench_files(n):
            data = path.read_bytes()
            for _ in range(2):
                start = time.perf_counter()
                count = sum(1 for _ in read_rows(data, filename=path.name, limits=LEDGER_LIMITS))
                ours = count / (time.perf_counter() - start)
                start = time.perf_counter()
                wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
                theirs = sum(1 for _ in wb.worksheets[0].values) / (time.perf_counter() - start)
                wb.close()
                print(f"{path.name}: read_rows {ours:.0f} rows/s; openpyxl read-only {theirs:.0f} rows/s "
                      f"(load average {os.getloadavg()[0]:.1f})")
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "", int(sys.argv[2]) if len(sys.argv) > 2 else 200_000)
