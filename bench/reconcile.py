"""Register reconciliation at national scale: ``python -m bench.reconcile [ROWS]`` (default 700000).

Writes a ROWS-row bureau register (CSV, UTF-8) of a province's persons under community corrections across 128
counties, the matching case ledger, the court's decisions of the last year (CSV) and the police custody list
(CSV), with a few thousand planted discrepancies of every category. Then, in a fresh child process so that peak
RSS is the reconciliation's own, builds the ledger's ``LedgerPerson``s (not timed against the target: the hub
reads them from its database), reads each register with ``hub.registers.read_snapshot`` and runs
``hub.core.reconcile.reconcile``. Prints seconds for each read and for the reconciliation, peak RSS
(``ru_maxrss``), and the items found per category against those planted. Target: reads + reconciliation
< 60 s, peak RSS < 2 GB.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from hub.core.idnumber import check_digit

AS_OF = dt.date(2026, 6, 30)
PERIOD_START = dt.date(2025, 7, 1)
PROVINCE = "530000"
BUREAU, COURT, POLICE = PROVINCE + "SF", PROVINCE + "FY", PROVINCE + "GA"
COUNTIES = [f"53{p:02d}{c:02d}" for p in range(1, 17) for c in range(2, 10)]
TYPES = [("缓刑", "PROBATION")] * 7 + [("假释", "PAROLE")] * 2 + [("管制", "CONTROL"), ("暂予监外执行", "TEMP_OUTSIDE")]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉兰文斌海燕波辉鹏飞宇浩然"
BUREAU_HEADERS = ["序号", "对象编号", "姓名", "性别", "身份证号码", "出生日期", "案号", "决定机关", "矫正类别",
                  "矫正起始日期", "矫正终止日期", "执行地", "状态"]
COURT_HEADERS = ["案号", "姓名", "身份证号码", "出生日期", "决定类型", "生效日期", "矫正类别", "矫正起始日期",
                 "矫正终止日期", "执行地"]
CUSTODY_HEADERS = ["姓名", "身份证号码", "出生日期", "羁押措施", "羁押机关", "羁押起始日期"]
LEDGER_FIELDS = ["person_key", "id_number", "name", "case_number", "deciding_organ", "correction_type",
                 "period_start", "period_end", "execution_division", "status", "documents_served", "birth_date",
                 "status_since"]
# planted discrepancies: (what, how many, category found)
PLANTS = [("missing from the register, served", 1000, "decided_not_in_register"),
          ("missing from the register, never served", 200, "decided_not_in_register"),
          ("in the register, no decision", 500, "in_register_without_basis"),
          ("register's type differs", 500, "type_or_period_mismatch"),
          ("released per register", 500, "status_mismatch"),
          ("revoked per court, unknown to the ledger", 300, "status_mismatch"),
          ("in custody, supervised per register", 500, "custody_vs_supervision")]


def id_number(county: str, i: int) -> tuple[str, dt.date]:
    birth = dt.date(1950, 1, 1) + dt.timedelta(days=i % 20000)
    body = f"{county}{birth:%Y%m%d}{i // 20000 % 1000:03d}"
    return body + check_digit(body), birth


def generate(rows: int, folder: Path) -> dict[str, int]:
    """The registers and the ledger as files in ``folder``; returns how many of each plant were made."""
    rng = random.Random(4)
    out = {name: io.StringIO() for name in ("bureau", "court", "custody", "ledger")}
    writers = {name: csv.writer(s, lineterminator="\n", delimiter="\t" if name == "ledger" else ",")
               for name, s in out.items()}
    writers["bureau"].writerow(BUREAU_HEADERS)
    writers["court"].writerow(COURT_HEADERS)
    writers["custody"].writerow(CUSTODY_HEADERS)
    writers["ledger"].writerow(LEDGER_FIELDS)
    planted = Counter[str]()
    kinds = [name for name, count, _ in PLANTS if name != PLANTS[2][0] for _ in range(count)]
    rng.shuffle(kinds)
    chosen = dict(zip(rng.sample(range(rows), len(kinds)), kinds, strict=True))
    for i in range(rows):
        county = COUNTIES[i % len(COUNTIES)]
        idn, birth = id_number(county, i)
        loose = i % 100 == 37  # one in a hundred without an ID number (foreigners, unregistered persons)
        name = f"阿卜杜·{i}" if loose else rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(("", *GIVEN))
        word, ctype = rng.choice(TYPES)
        start = dt.date(2023, 7, 1) + dt.timedelta(days=rng.randrange(1065))
        end = AS_OF + dt.timedelta(days=rng.randrange(30, 1000))
        case = f"（{start.year}）云{county[2:]}刑初{i}号"
        roll = rng.random()
        status, said = ("in_custody", "羁押") if roll < 0.03 else ("released", "解除") if roll < 0.05 else (
            "under_supervision", "在册")
        if status == "released":
            end = start + dt.timedelta(days=rng.randrange(30, max(31, (AS_OF - start).days - 30)))
        plant = chosen.get(i) if status == "under_supervision" else None
        served = plant != "missing from the register, never served"
        shown_id = "" if loose else idn
        writers["ledger"].writerow([f"P{i:07d}", shown_id, name, case, county + "FY", ctype, start, end, county,
                                    status, int(served), birth, ""])
        register_type, register_said = word, said
        if plant == "register's type differs":
            register_type = "管制" if word != "管制" else "缓刑"
        elif plant == "released per register":
            register_said = "解除"
        if plant is None or not plant.startswith("missing"):
            writers["bureau"].writerow([i + 1, f"SF{i:07d}", name, "男", shown_id, birth if loose else "", case,
                                        county + "FY", register_type, f"{start:%Y/%m/%d}", f"{end:%Y年%m月%d日}",
                                        county, register_said])
        if start >= PERIOD_START:
            writers["court"].writerow([case, name, shown_id, birth if loose else "", "宣告" + word if word == "缓刑"
                                       else {"假释": "裁定假释", "管制": "判处管制"}.get(word, "决定暂予监外执行"),
                                       start, word, start, end, county])
        if plant == "revoked per court, unknown to the ledger":
            writers["court"].writerow([f"（2026）云{county[2:]}刑更{i}号", name, shown_id, birth if loose else "",
                                       "撤销缓刑", AS_OF - dt.timedelta(days=20), word, "", "", county])
        if status == "in_custody" or plant == "in custody, supervised per register":
            writers["custody"].writerow([name, shown_id, birth if loose else "", "刑事拘留", county + "KS",
                                         AS_OF - dt.timedelta(days=rng.randrange(1, 60))])
        if plant is not None:
            planted[plant] += 1
    for j in range(PLANTS[2][1]):  # persons in the register whom no decision places there
        county = COUNTIES[j % len(COUNTIES)]
        idn, _ = id_number(county, rows + j)
        writers["bureau"].writerow([rows + j + 1, f"SFX{j:06d}", "无名" + str(j), "女", idn, "", "", county + "FY",
                                    "缓刑", "2025-01-01", "2027-01-01", county, "在册"])
        planted[PLANTS[2][0]] += 1
    for j in range(10_000):  # persons in custody who are not under community corrections
        idn, _ = id_number(COUNTIES[j % len(COUNTIES)], rows + 100_000 + j)
        writers["custody"].writerow(["路人" + str(j), idn, "", "逮捕", "530102KS", AS_OF - dt.timedelta(days=5)])
    for name, s in out.items():
        (folder / f"{name}.tsv" if name == "ledger" else folder / f"{name}.csv").write_text(s.getvalue(),
                                                                                         encoding="utf-8")
    return dict(planted)


def measure(folder: Path) -> None:
    """Run in a child: build the ledger, read the three registers, reconcile; print times and peak RSS."""
    from hub.core.reconcile import LedgerPerson, RegisterKind, Status, reconcile
    from hub.registers import read_snapshot

    def rss() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    t = time.perf_counter()
    day = dt.date.fromisoformat
    ledger = []
    with (folder / "ledger.tsv").open(encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t")
        next(reader)
        for key, idn, name, case, organ, ctype, start, end, county, status, served, birth, since in reader:
            ledger.append(LedgerPerson(key, idn or None, name, "case-" + key, case, organ, ctype, day(start), day(end),
                                       county, Status(status), county + "SF", served == "1", birth_date=day(birth),
                                       effective_on=day(start), status_since=day(since) if since else None))
    print(f"ledger: {len(ledger):,} persons built in {time.perf_counter() - t:.1f} s (not counted); "
          f"RSS {rss():.0f} MiB")
    snapshots = []
    total = 0.0
    for kind, agency, name, start in [(RegisterKind.BUREAU_REGISTER, BUREAU, "bureau", None),
                                      (RegisterKind.COURT_DECISIONS, COURT, "court", PERIOD_START),
                                      (RegisterKind.POLICE_CUSTODY, POLICE, "custody", None)]:
        data = (folder / f"{name}.csv").read_bytes()
        t = time.perf_counter()
        snap = read_snapshot(kind, data, filename=f"{name}.csv", agency=agency, as_of=AS_OF, period_start=start)
        took = time.perf_counter() - t
        total += took
        del data
        snapshots.append(snap)
        print(f"read_snapshot {kind}: {len(snap.rows):,} rows ({len(snap.rejected)} rejected) in {took:.1f} s "
              f"({len(snap.rows) / took:,.0f} rows/s); RSS {rss():.0f} MiB")
    t = time.perf_counter()
    items = reconcile(ledger=ledger, snapshots=snapshots, as_of=AS_OF)
    took = time.perf_counter() - t
    total += took
    print(f"reconcile: {len(items):,} items in {took:.1f} s")
    print(f"reads + reconcile: {total:.1f} s (target < 60 s); peak RSS {rss():.0f} MiB (target < 2048 MiB)")
    found = Counter(i.category.value for i in items)
    expected = json.loads((folder / "expected.json").read_text())
    for category in sorted(found.keys() | expected.keys()):
        print(f"  {category}: found {found.get(category, 0):,}, planted {expected.get(category, 0):,}")
    print("every planted discrepancy found, nothing else: " + ("yes" if found == expected else "NO"))


def main() -> int:
    if sys.argv[1:2] == ["--measure"]:
        measure(Path(sys.argv[2]))
        return 0
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 700_000
    with tempfile.TemporaryDirectory(prefix="xianjie-reconcile-") as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        planted = generate(rows, folder)
        sizes = ", ".join(f"{p.name} {p.stat().st_size / 2**20:.0f} MiB" for p in sorted(folder.iterdir())
                          if p.suffix != ".json")
        print(f"generated in {time.perf_counter() - t:.0f} s: {sizes}")
        expected = Counter[str]()
        for what, _, category in PLANTS:
            print(f"  planted {what}: {planted.get(what, 0):,}")
            expected[category] += planted.get(what, 0)
        (folder / "expected.json").write_text(json.dumps(expected))
        sys.stdout.flush()
        return subprocess.call([sys.executable, "-m", "bench.reconcile", "--measure", str(folder)])


if __name__ == "__main__":
    sys.exit(main())
