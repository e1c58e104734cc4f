"""Ledger (台账) reading and import throughput: ``python -m bench.ledger_rows [ROWS]`` (default 200000).

Writes a realistic ledger XLSX with openpyxl's write-only mode and the same workbook in the layout Excel and
WPS save (shared strings, a ``<dimension>``), and the ledger as UTF-8 CSV; every row is valid for the ledger's
column specification (schemas/agencies/ledger/columns.json). Then, each in a fresh child process so that peak
RSS is the reader's own, reads them with openpyxl's read-only ``iter_rows`` alone and with ``read_rows``, and
imports the Excel-layout workbook and the CSV with the ledger adapter's ``decode`` (column check, mapping,
canonical XML and canonical XSD validation of every row; target ≥ 3,000 rows/s, peak RSS < 300 MB and flat),
and finally imports the Excel-layout workbook through the hub as an upload is imported (``hub.inbound.receive``:
decode, the hub's own checks and routing, storage in a fresh SQLite database). Prints rows/s overall, the time
to open (to the first row) and rows/s after it, and peak RSS (``ru_maxrss``) before reading, after the first
tenth of the rows and at the end (growth with the row count); for an import also how many rows translated or
were stored.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape

HEADERS = [
    "序号",
    "事项",
    "姓名",
    "性别",
    "身份证号码",
    "出生日期",
    "案号",
    "决定机关",
    "矫正类别",
    "执行地",
    "日期",
    "报到期限",
    "情况说明",
    "文书编号",
    "备注",
]
# 事项 as clerks write them (synonyms included), weighted by how often an office records each
_EVENTS = ["入矫报到"] * 4 + ["报到", "逾期报到", "警告", "训诫", "失联", "恢复联系", "解除矫正", "期满解除", "死亡"]
_REPORTING = {"入矫报到", "报到", "逾期报到"}
_WITH_DETAILS = {"警告", "训诫", "失联", "恢复联系"}
_WITH_NOTE = _REPORTING | {"解除矫正", "期满解除"}
_DETAILS = {
    "警告": "未经批准擅自离开所居住的县，依据《社区矫正法》第二十八条予以警告。",
    "训诫": "不按规定参加教育学习活动，予以训诫。",
    "失联": "连续三日电话无法接通，走访居住地未见本人。",
    "恢复联系": "本人主动到司法所报告，已恢复联系。",
}
# 保山市's counties: the place of execution, typed as a code or a name
_COUNTIES = [("530502", "隆阳区"), ("530521", "施甸县"), ("530523", "龙陵县"), ("530524", "昌宁县"),
             ("530581", "腾冲市")]
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红文斌玉兰海燕鹏飞晓东春梅"
# where the ID numbers were issued: 保山's counties, its retired codes (腾冲县 530522, 保山地区 533001), elsewhere
_ID_AREAS = ["530502", "530522", "533001", "530581", "530524", "510107", "330106"]
_CATEGORIES = ["缓刑", "假释", "管制", "暂予监外执行", "暂外"]
_ABBREVIATIONS = {"530502": "隆", "530521": "施", "530523": "龙", "530524": "昌", "530581": "腾"}
_REMARKS = ["", "", "", "", "电话已核实", "由其母陪同报到", "居住地址已核实", "补录"]
_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_ID_CHECK = "10X98765432"


def _id_number(rng: random.Random, area: str, birth: dt.date, female: bool) -> str:
    seq = rng.randrange(0, 100) * 10 + rng.randrange(0, 5) * 2 + (0 if female else 1)
    body = f"{area}{birth:%Y%m%d}{seq:03d}"
    return body + _ID_CHECK[sum(int(c) * w for c, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]


def _hand_date(rng: random.Random, d: dt.date) -> object:
    """The date as a clerk might have entered it: a real date cell most often, else typed text or a serial."""
    form = rng.randrange(10)
    if form < 5:
        return dt.datetime(d.year, d.month, d.day)
    if form == 5:
        return d.isoformat()
    if form == 6:
        return f"{d.year}/{d.month}/{d.day}"
    if form == 7:
        return f"{d.year}年{d.month}月{d.day}日"
    if form == 8:
        return f"{d:%Y%m%d}"
    return (d - dt.date(1899, 12, 30)).days  # a serial number in a cell formatted as General


def ledger_rows(rows: int, seed: int = 20170630) -> Iterator[list[object]]:
    """``rows`` realistic ledger rows (values in HEADERS order), deterministic for a seed."""
    rng = random.Random(seed)
    for n in range(1, rows + 1):
        area = rng.choice(_ID_AREAS)
        female = rng.random() < 0.18
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 52))
        event_day = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 10))
        year = event_day.year
        given = "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))
        event = rng.choice(_EVENTS)
        county, county_name = rng.choice(_COUNTIES)
        due = event_day + dt.timedelta(days=rng.randrange(-10, 10))
        yield [
            n,
            event,
            rng.choice(_SURNAMES) + given,
            "女" if female else "男",
            _id_number(rng, area, birth, female),
            _hand_date(rng, birth),
            f"({year})云{county[2:]}刑初{rng.randrange(1, 3000)}号",
            f"{county}FY",
            rng.choice(_CATEGORIES),
            rng.choice((county, county_name)),
            _hand_date(rng, event_day),
            _hand_date(rng, due) if event in _REPORTING else None,
            _DETAILS.get(event),
            f"{_ABBREVIATIONS[county]}司矫〔{year}〕{n}号",  # unique per row, as an office numbers its entries
            (rng.choice(_REMARKS) or None) if event in _WITH_NOTE else None,
        ]


def make_xlsx(path: str | os.PathLike[str], rows: int) -> None:
    """Write a ledger workbook of ``rows`` data rows (sheet 台账, header in row 1) with openpyxl write-only."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("台账")
    sheet.append(HEADERS)
    for values in ledger_rows(rows):
        sheet.append(values)
    workbook.save(path)


_INLINE = re.compile(
    r'<c r="([A-Z]+[0-9]+)"( s="[0-9]+")? t="inlineStr"><is><t(?: xml:space="preserve")?>(.*?)</t></is></c>'
)
_SHEET = "xl/worksheets/sheet1.xml"
_SST_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
_SST_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"


def excel_layout(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Rewrite an openpyxl-written workbook the way Excel and WPS save one: strings in a shared-string table
    (openpyxl writes them inline, which its reader parses far more slowly), a ``<dimension>`` at the top of the
    sheet (without one, openpyxl's reader parses the whole sheet once just to size it) and UTF-8 text."""
    strings: dict[str, int] = {}

    def shared(m: re.Match[str]) -> str:
        index = strings.setdefault(html.unescape(m[3]), len(strings))
        return f'<c r="{m[1]}"{m[2] or ""} t="s"><v>{index}</v></c>'

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            text = zin.read(item).decode("utf-8")
            if item.filename == _SHEET:
                text = _INLINE.sub(shared, text)
                last = text.rsplit('<c r="', 1)[1].split('"', 1)[0]
                text = text.replace("</sheetPr>", f'</sheetPr><dimension ref="A1:{last}"/>', 1)
            elif item.filename == "[Content_Types].xml":
                override = f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_SST_TYPE}"/>'
                text = text.replace("</Types>", override + "</Types>")
            elif item.filename == "xl/_rels/workbook.xml.rels":
                text = text.replace(
                    "</Relationships>",
                    f'<Relationship Type="{_SST_REL}" Target="sharedStrings.xml" Id="rIdSST"/></Relationships>',
                )
            zout.writestr(item.filename, text)
        table = "".join(f'<si><t xml:space="preserve">{escape(t)}</t></si>' for t in strings)
        zout.writestr(
            "xl/sharedStrings.xml",
            '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            f'count="{len(strings)}" uniqueCount="{len(strings)}">{table}</sst>',
        )


def make_csv(path: str | os.PathLike[str], rows: int) -> None:
    """The same ledger as UTF-8 CSV, dates as Excel would export them (date cells as 2017/6/30)."""
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADERS)
        for values in ledger_rows(rows):
            writer.writerow(
                f"{v.year}/{v.month}/{v.day}" if isinstance(v, dt.datetime) else "" if v is None else v for v in values
            )


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _measure(mode: str, path: str, rows: int) -> dict[str, float]:
    """Run in a child: read the file ``mode``'s way, return the counts, time and memory figures."""
    data = Path(path).read_bytes()
    base = _peak_mib()
    checkpoint = max(1, rows // 10)
    early = first = 0.0
    count = good = 0
    start = time.perf_counter()
    if mode == "openpyxl":
        from openpyxl import load_workbook

        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        first = time.perf_counter() - start
        for _values in workbook.worksheets[0].iter_rows(values_only=True):
            count += 1
            if count == checkpoint:
                early = _peak_mib()
        workbook.close()
    elif mode == "decode":
        from adapters import DecodeContext, get_adapter

        adapter = get_adapter("ledger")
        ctx = DecodeContext(sender="530521SF", received_at=dt.datetime.now(dt.UTC), filename=path)
        for record in adapter.decode(data, ctx):
            count += 1
            good += record.ok
            if count == 1:
                first = time.perf_counter() - start
            if count == checkpoint:
                early = _peak_mib()
    elif mode == "hub":
        count, good, first, early = _hub_import(data, path, rows, start)
    else:
        from adapters.ledger.native import read_rows

        for _row in read_rows(data, filename=path):
            count += 1
            if count == 1:
                first = time.perf_counter() - start
            if count == checkpoint:
                early = _peak_mib()
    seconds = time.perf_counter() - start
    return {
        "good": good,
        "rows": count,
        "seconds": seconds,
        "rows_per_s": count / seconds,
        "open_s": first,
        "iter_rows_per_s": count / (seconds - first),
        "file_mib": len(data) / 2**20,
        "base_mib": base,
        "early_peak_mib": early,
        "peak_mib": _peak_mib(),
    }


def _hub_import(data: bytes, path: str, rows: int, start: float) -> tuple[int, int, float, float]:
    """The whole import as an upload gets it (``hub.inbound.receive``: decode, the hub's own parse and checks,
    routing, storage in chunks of 500, the payload kept) into a fresh embedded SQLite database. Peak RSS after
    the first tenth is sampled at a tenth of the time (the rate is steady); ``open_s`` is 0 (not observed)."""
    import threading

    from hub.canonical import load_schema
    from hub.inbound import receive
    from hub.migrate import upgrade
    from hub.registry import load_registry
    from hub.service import Hub
    from hub.store.db import make_engine
    from tests.harness import write_registry

    folder = Path(tempfile.mkdtemp(prefix="ledger-hub-"))
    url = f"sqlite:///{folder / 'xianjie.db'}"
    upgrade(url)
    registry = write_registry(folder / "registry.toml", recipients_url="http://127.0.0.1:9", drop_root=folder,
                              accepts={"530521SF": ["ledger"]})
    directory = load_registry(registry)
    hub = Hub(engine=make_engine(url), directory=directory, schema=load_schema())
    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            samples.append((time.perf_counter(), _peak_mib()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    report = receive(hub, data, agency=directory.agencies["530521SF"], system="ledger", channel="bench",
                     filename=os.path.basename(path))
    done.set()
    sampler.join()
    elapsed = time.perf_counter() - t0
    early = next((m for t, m in samples if t - t0 >= elapsed / 10), _peak_mib())
    assert report.error is None and report.rejected == 0, report.as_dict()
    return report.records, report.accepted, 0.0, early


_FILES = ("openpyxl.xlsx", "excel.xlsx", "ledger.csv")


def _make(folder: str, rows: int) -> None:
    xlsx, excel, text = (os.path.join(folder, name) for name in _FILES)
    make_xlsx(xlsx, rows)
    excel_layout(xlsx, excel)
    make_csv(text, rows)


def main(rows: int) -> None:
    """Generate the ledger, measure each reader in a child process, print the figures."""
    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as tmp:
        xlsx, excel, text = (os.path.join(tmp, name) for name in _FILES)
        start = time.perf_counter()
        # The files are made in a child too: a child's ru_maxrss starts at its parent's RSS, so the parent stays small.
        subprocess.run([sys.executable, "-m", "bench.ledger_rows", "--make", tmp, str(rows)], check=True)
        size = os.path.getsize(xlsx) / 2**20
        print(f"wrote {rows} rows to XLSX ({size:.1f} MiB), Excel layout, CSV: {time.perf_counter() - start:.1f} s")
        cases = [
            ("openpyxl iter_rows, openpyxl-written", "openpyxl", xlsx),
            ("read_rows, openpyxl-written", "rows", xlsx),
            ("openpyxl iter_rows, Excel layout", "openpyxl", excel),
            ("read_rows, Excel layout", "rows", excel),
            ("read_rows, CSV UTF-8", "rows", text),
            ("ADAPTER.decode, Excel layout", "decode", excel),
            ("ADAPTER.decode, CSV UTF-8", "decode", text),
            ("hub import (SQLite), Excel layout", "hub", excel),
        ]
        print(
            f"{'reader, file':38} {'rows':>7} {'total s':>8} {'rows/s':>7} {'open s':>7} {'iter r/s':>8} "
            f"{'file MiB':>8} {'base MiB':>8} {'peak@10%':>8} {'peak MiB':>8}"
        )
        for label, mode, path in cases:
            out = subprocess.run(
                [sys.executable, "-m", "bench.ledger_rows", "--measure", mode, path, str(rows)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            r = json.loads(out)
            print(
                f"{label:38} {r['rows']:>7.0f} {r['seconds']:>8.2f} {r['rows_per_s']:>7.0f} {r['open_s']:>7.2f} "
                f"{r['iter_rows_per_s']:>8.0f} {r['file_mib']:>8.1f} {r['base_mib']:>8.1f} "
                f"{r['early_peak_mib']:>8.1f} {r['peak_mib']:>8.1f}"
                + (f"  ({r['good']:.0f} translated)" if mode == "decode" else "")
                + (f"  ({r['good']:.0f} stored)" if mode == "hub" else "")
            )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure"]:
        print(json.dumps(_measure(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
    elif sys.argv[1:2] == ["--make"]:
        _make(sys.argv[2], int(sys.argv[3]))
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
