"""Historical registers for the joint-meeting report: a bureau's 社区矫正对象名册 from before the hub went live,
imported from CSV and XLSX, good rows stored and counted, each bad row rejected alone at its cell (a bad ID number,
an ending status without its day, a county outside the bureau's); the same file twice stores nothing new; the
latest register wins for a person and first day; files that cannot be read are refused and kept; the API and the
CLI. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine, Table, func, select

from hub.cli import main
from hub.core.model import Directory
from hub.migrate import upgrade
from hub.registry import load_registry
from hub.report.history import HistoryRow, get_import, import_history, list_imports, rows_for
from hub.resources import default_registry_path
from hub.store.db import make_engine
from hub.store.history_schema import history_imports, history_rows
from hub.store.schema import audit_log
from tests.conftest import Stack
from tests.harness import auth, make_id, write_registry
from tests.hubserver import InProcessHub, hub_settings

BUREAU, COUNTY, OTHER_BUREAU = "530502SF", "530502", "530581SF"
AS_OF = dt.date(2016, 12, 31)
NOW = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.UTC)
D = dt.date.fromisoformat
HEADER = ["序号", "姓名", "身份证号码", "出生日期", "决定机关", "矫正类别", "矫正起始日期", "矫正终止日期", "执行地",
          "状态", "状态日期"]
ZHANG, LI, ZHAO, QIAN, ZHOU = (make_id(COUNTY, b, n) for n, b in (
    (1, "19800101"), (2, "19751231"), (3, "19880808"), (4, "19660606"), (5, "19920315")))
SUN_TYPED = make_id(COUNTY, "19880808", 6)[:-1] + ("0" if make_id(COUNTY, "19880808", 6)[-1] != "0" else "1")

# a row per person as the clerk typed it; the file's row number is its place + 2 (the header is row 1)
ROWS: list[list[str]] = [
    ["1", "张三", ZHANG, "", "530502FY", "缓刑", "2014-03-01", "2016-02-29", "530502", "期满解除", "2016-02-29"],
    ["2", "李四", LI, "", "530502FY", "管制", "2015-06-01", "2017-05-31", "隆阳区", "在册", ""],
    ["3", "阿依古丽·买买提", "", "1990-02-03", "530502FY", "暂予监外执行", "2016-01-10", "", "530502", "收监",
     "2016-08-01"],
    ["4", "王五", "5305021980010112", "", "530502FY", "缓刑", "2015-01-01", "", "530502", "在册", ""],
    ["5", "赵六", ZHAO, "", "530502FY", "假释", "2015-01-01", "2016-06-30", "530502", "解除", ""],
    ["6", "钱七", QIAN, "", "530581FY", "缓刑", "2015-01-01", "", "530581", "在册", ""],
    ["7", "孙八", SUN_TYPED, "", "530502FY", "缓刑", "2016-04-01", "", "530502", "在矫", ""],
    ["8", "周九", ZHOU, "", "530502FY", "缓刑", "2016-03-01", "2018-02-28", "530502", "死亡", "2016-05-05"],
]
REJECTED_CELLS = {5: ["C5"], 6: ["K6"], 7: ["I7"]}  # the bad ID number, 解除 without its day, another county

# what the report reads back: person key, name, received, ended, how
EXPECTED = [
    (ZHANG, "张三", D("2014-03-01"), D("2016-02-29"), "released"),
    (LI, "李四", D("2015-06-01"), None, None),
    ("ref|530502SF|阿依古丽买买提|19900203", "阿依古丽·买买提", D("2016-01-10"), D("2016-08-01"), "terminated"),
    (ZHOU, "周九", D("2016-03-01"), D("2016-05-05"), "terminated"),
    ("ref|530502SF|孙八|19880808", "孙八", D("2016-04-01"), None, None),
]


def as_csv(rows: list[list[str]], header: list[str] = HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def as_xlsx(rows: list[list[str]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "名册"
    ws.append(HEADER)
    for r in rows:  # dates as Excel date cells, the ID numbers as text
        ws.append([int(v) if h == "序号" else dt.datetime.fromisoformat(v) if h.endswith("日期") and v else v or None
                   for h, v in zip(HEADER, r, strict=True)])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@pytest.fixture
def engine(stack: Stack) -> Iterator[Engine]:
    upgrade(stack.database_url)
    e = make_engine(stack.database_url, pool_size=2)
    yield e
    e.dispose()


@pytest.fixture(scope="module")
def directory() -> Directory:
    return load_registry(default_registry_path())


def count(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def problems_by_row(report: dict[str, Any]) -> dict[int, list[str]]:
    return {r["row"]: [p["where"] for p in r["problems"]] for r in report["rejected_rows"]}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_good_rows_are_stored_and_each_bad_row_is_rejected_at_its_cell(engine: Engine, directory: Directory,
                                                                       fmt: str) -> None:
    # Given a bureau's register as of the end of 2016, three of its eight rows typed badly
    data, ref = (as_csv(ROWS), "CSV") if fmt == "csv" else (as_xlsx(ROWS), "名册")
    # When it is imported
    report = import_history(engine, directory, data, agency=BUREAU, filename=f"2016.{fmt}", as_of=AS_OF,
                            by=f"{BUREAU}:李明", now=NOW)
    # Then the good rows are accepted and each bad row is named at its cell
    assert report["status"] == "imported" and report["format"] == fmt and not report["repeated"]
    assert (report["rows_accepted"], report["rows_rejected"]) == (5, 3)
    assert report["ended"] == {"released": 1, "terminated": 2}
    assert problems_by_row(report) == {row: [f"{ref}!{c}" for c in cells] for row, cells in REJECTED_CELLS.items()}
    reasons = {r["row"]: r["problems"][0]["reason"] for r in report["rejected_rows"]}
    assert reasons[5].startswith("身份证号码") and "须填写解除之日" in reasons[6]
    assert "530581 不在 530502SF 的辖区内" in reasons[7]
    # And the report reads back exactly the accepted rows, with their first and last days and how they ended
    with engine.connect() as conn:
        found = rows_for(conn, [COUNTY])
        assert rows_for(conn, ["530581"]) == [] and rows_for(conn, []) == []
    assert [(r.person_key, r.name, r.received_on, r.ended_on, r.end_kind) for r in found] == EXPECTED
    assert all(isinstance(r, HistoryRow) and r.agency == BUREAU and r.import_id == report["import_id"]
               and r.division == COUNTY and r.as_of == AS_OF for r in found)
    by_name = {r.name: r for r in found}
    assert by_name["李四"].correction_type == "CONTROL" and by_name["李四"].period_end == D("2017-05-31")
    assert by_name["阿依古丽·买买提"].correction_type == "TEMP_OUTSIDE" and by_name["张三"].row_number == 2
    assert by_name["孙八"].id_number is None and by_name["张三"].id_number == ZHANG
    # And the file is kept as received, the report without it, the import audited
    with engine.connect() as conn:
        raw = conn.execute(select(history_imports.c.raw)).scalar_one()
        audit = conn.execute(select(audit_log).where(audit_log.c.action == "history_import")).mappings().all()
    assert bytes(raw) == data
    stored = get_import(engine, report["import_id"])
    assert stored is not None and "raw" not in stored and stored["rows_rejected"] == 3
    assert stored["imported_by"] == f"{BUREAU}:李明" and stored["sha256"] == report["sha256"]
    assert [(a["actor"], a["target"]) for a in audit] == [(f"{BUREAU}:李明", f"history_import:{report['import_id']}")]
    assert json.loads(audit[0]["detail"])["rows_accepted"] == 5


def test_the_same_file_imported_again_stores_nothing_new(engine: Engine, directory: Directory) -> None:
    data = as_csv(ROWS)
    first = import_history(engine, directory, data, agency=BUREAU, filename="2016.csv", as_of=AS_OF, by=BUREAU,
                           now=NOW)
    again = import_history(engine, directory, data, agency=BUREAU, filename="copy.csv", as_of=AS_OF, by=BUREAU,
                           now=NOW + dt.timedelta(hours=1))
    assert again["repeated"] and again["import_id"] == first["import_id"]
    assert {k: v for k, v in again.items() if k != "repeated"} == {k: v for k, v in first.items() if k != "repeated"}
    assert (count(engine, history_imports), count(engine, history_rows)) == (1, 5)
    with engine.connect() as conn:
        assert len(rows_for(conn, [COUNTY])) == 5
    assert len(list_imports(engine, agency=BUREAU)) == 1


def test_the_register_of_the_latest_day_wins_for_a_person_and_first_day(engine: Engine, directory: Directory
                                                                        ) -> None:
    # Given the register of 2016 (李四 on the books) and that of 2017 (李四 released, 吴十 received)
    good = [r for i, r in enumerate(ROWS, start=2) if i not in REJECTED_CELLS]
    later = [r if r[1] != "李四" else [*r[:9], "解除", "2017-05-31"] for r in good]
    wu = make_id(COUNTY, "19700707", 7)
    later.append(["9", "吴十", wu, "", "530502FY", "缓刑", "2017-03-01", "", "530502", "在册", ""])
    for n, (rows, day) in enumerate(((good, AS_OF), (later, D("2017-12-31")), ([good[1]], D("2015-12-31")))):
        report = import_history(engine, directory, as_csv(rows), agency=BUREAU, filename=f"{day.year}.csv",
                                as_of=day, by=BUREAU, now=NOW + dt.timedelta(minutes=n))
        assert report["rows_rejected"] == 0
    # And another county's register
    other = ["1", "郑十一", make_id("530581", "19810101", 8), "", "530581FY", "缓刑", "2015-05-01", "", "530581",
             "在册", ""]
    assert import_history(engine, directory, as_csv([other]), agency=OTHER_BUREAU, filename="tc.csv", as_of=AS_OF,
                          by=OTHER_BUREAU, now=NOW)["rows_accepted"] == 1
    # Then every import's rows are kept, and the report reads each person and first day once, from the register
    # of the latest day (whether imported before or after the others)
    assert count(engine, history_rows) == 5 + 6 + 1 + 1
    with engine.connect() as conn:
        found = {r.person_key: r for r in rows_for(conn, [COUNTY])}
        both = rows_for(conn, [COUNTY, "530581"])
    assert len(found) == 6 and found[LI].ended_on == D("2017-05-31") and found[LI].end_kind == "released"
    assert found[LI].as_of == D("2017-12-31") and found[wu].received_on == D("2017-03-01")
    assert found[ZHANG].as_of == D("2017-12-31")
    assert [r.division for r in both] == sorted(r.division for r in both) and len(both) == 7
    assert [i["as_of"] for i in list_imports(engine, agency=BUREAU)] == ["2015-12-31", "2017-12-31", "2016-12-31"]
    assert len(list_imports(engine, agency=None)) == 4


def test_rows_that_cannot_be_counted_are_rejected_at_their_cells(engine: Engine, directory: Directory) -> None:
    rows = [
        ["1", "甲", make_id(COUNTY, "19800101", 11), "", "", "缓刑", "2016-03-01", "", "", "撤销", "2016-02-01"],
        ["2", "乙", make_id(COUNTY, "19800101", 12), "", "", "缓刑", "2016-03-01", "", "", "解除", "2017-02-01"],
        ["3", "丙", make_id(COUNTY, "19800101", 13), "", "", "缓刑", "2017-03-01", "", "", "在册", ""],
        ["4", "丁", make_id(COUNTY, "19800101", 14), "", "", "缓刑", "2016-03-01", "", "", "羁押", "2016-05-01"],
    ]
    report = import_history(engine, directory, as_csv(rows), agency=BUREAU, filename=None, as_of=AS_OF, by=BUREAU,
                            now=NOW)
    # an end before the first day, an end or a first day after the register's day; 羁押 keeps a person on the books
    assert problems_by_row(report) == {2: ["CSV!K2"], 3: ["CSV!K3"], 4: ["CSV!G4"]}
    with engine.connect() as conn:
        (held,) = rows_for(conn, [COUNTY])
    assert held.name == "丁" and held.ended_on is None and held.end_kind is None
    # a prefecture's register names each row's county; without the column, the row is named
    city = import_history(engine, directory, as_csv([r[:8] + r[9:] for r in rows[3:]],
                                                    [h for h in HEADER if h != "执行地"]),
                          agency="530500SF", filename=None, as_of=AS_OF, by="530500SF", now=NOW)
    assert city["status"] == "refused" and problems_by_row(city) == {2: ["CSV!2:2"]}
    # in its XML form, a problem is named by element
    xml = ("<?xml version='1.0' encoding='UTF-8'?><register xmlns='urn:xianjie:registers:v1' kind='bureau_register' "
           f"agency='{BUREAU}' asOf='2016-12-31'><row><name>戊</name><idNumber>{make_id(COUNTY, '19800101', 15)}"
           "</idNumber><correctionType>缓刑</correctionType><periodStart>2016-03-01</periodStart><status>终止</status>"
           "</row></register>").encode()
    report = import_history(engine, directory, xml, agency=BUREAU, filename="h.xml", as_of=None, by=BUREAU, now=NOW)
    assert report["format"] == "xml" and problems_by_row(report) == {1: ["/register/row[1]/statusDate"]}


def test_a_file_that_cannot_be_read_is_refused_and_kept(engine: Engine, directory: Directory) -> None:
    def refused(data: bytes, **kw: Any) -> dict[str, Any]:
        args: dict[str, Any] = {"agency": BUREAU, "filename": "x.csv", "as_of": AS_OF, "by": BUREAU, "now": NOW}
        report = import_history(engine, directory, data, **(args | kw))
        assert report["status"] == "refused" and report["rows_accepted"] == 0
        error: dict[str, Any] = report["error"]
        return error

    bad_header = "姓名,罪名\n张三,盗窃\n".encode()
    e = refused(bad_header)
    assert e["code"] == "bad_header" and "CSV!B1" in {d.get("path") for d in e["details"]}
    assert refused(as_csv(ROWS), as_of=None)["details"] == [
        {"reason": "as_of: a CSV or XLSX register needs the day it is as of (as_of, --as-of)", "path": "as_of"}]
    assert refused(as_csv(ROWS), as_of=dt.date(2026, 11, 27))["code"] == "invalid"  # after today in Beijing
    assert refused(as_csv(ROWS), agency="530502FY")["code"] == "wrong_agency"
    assert refused(as_csv(ROWS), agency="530599SF")["code"] == "wrong_agency"
    assert refused(b"PK\x03\x04not a workbook", filename="x.xlsx")["code"] != "reader_failed"
    e = refused(as_csv([ROWS[3], ROWS[4]]))
    assert e["code"] == "no_valid_rows" and {d["path"] for d in e["details"]} == {"CSV!C2", "CSV!K3"}
    # each kept as received, nothing counted; the same refused file again is kept again (it may be fixed by a day)
    refused(bad_header)
    assert count(engine, history_rows) == 0 and count(engine, history_imports) == 8
    with engine.connect() as conn:
        kept = conn.execute(select(history_imports.c.raw).where(history_imports.c.agency == BUREAU)
                            .order_by(history_imports.c.imported_at)).scalars().all()
    assert bad_header in {bytes(r) for r in kept}


@pytest.fixture
def server(tmp_path: Path, stack: Stack) -> Iterator[InProcessHub]:
    registry = write_registry(tmp_path / "registry.toml", recipients_url="http://127.0.0.1:9", drop_root=tmp_path)
    h = InProcessHub(hub_settings(database_url=stack.database_url, broker_url=stack.broker_url,
                                  queue_prefix=stack.queue_prefix, registry_path=registry,
                                  max_native_bytes=64 * 1024), workers=False).start()
    try:
        yield h
    finally:
        h.stop()


def test_the_api_imports_lists_and_refuses(server: InProcessHub) -> None:
    url = "/api/v1/reports/history"
    params = {"filename": "2016.csv", "as_of": AS_OF.isoformat()}
    with server.client() as client:
        # a bureau imports its own register: 201 with the report; the same file again: 200, the same import
        xlsx, workbook = params | {"filename": "2016.xlsx"}, as_xlsx(ROWS)  # a workbook's bytes name when made
        r = client.post(url, content=workbook, params=xlsx, headers=auth(BUREAU))
        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["rows_accepted"], body["rows_rejected"]) == (5, 3) and body["imported_by"] == BUREAU
        assert problems_by_row(body)[7] == ["名册!I7"]
        again = client.post(url, content=workbook, params=xlsx, headers=auth(BUREAU))
        assert again.status_code == 200 and again.json()["import_id"] == body["import_id"]
        # a file that is no register: 400 naming the cell; a court's key: 403; no key: 401
        r = client.post(url, content="姓名,罪名\n张三,盗窃\n".encode(), params=params, headers=auth(BUREAU))
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_header", r.text
        assert "CSV!B1" in {d.get("path") for d in r.json()["error"]["details"]}
        assert client.get(r.json()["status_url"], headers=auth(BUREAU)).json()["status"] == "refused"
        r = client.post(url, content=as_csv(ROWS), params=params, headers=auth("530502FY"))
        assert r.status_code == 403 and r.json()["error"]["code"] == "wrong_agency"
        # refused by the authorisation matrix before it is read as a register: kept in quarantine as it came
        kept = client.get(f"/api/v1/quarantine/{r.json()['quarantine_id']}/raw", headers=auth("530502FY"))
        assert kept.content == as_csv(ROWS)
        assert client.post(url, content=as_csv(ROWS), params=params).status_code == 401
        r = client.post(url, content=as_csv(ROWS), params={"as_of": "31/12/2016"}, headers=auth(BUREAU))
        assert r.status_code == 400 and r.json()["error"]["details"][0]["path"] == "as_of"
        r = client.post(url, content=b"x" * (64 * 1024 + 1), params=params, headers=auth(BUREAU))
        assert r.status_code == 413 and r.json()["quarantine_id"]
        # a bureau imports no other bureau's register; the hub's operators import one naming the bureau
        r = client.post(url, content=as_csv(ROWS), params=params | {"agency": OTHER_BUREAU}, headers=auth(BUREAU))
        assert r.status_code == 403
        assert client.post(url, content=as_csv(ROWS), params=params, headers=auth("530500ZX")).status_code == 400
        r = client.post(url, content=as_csv(ROWS), params=params | {"agency": BUREAU, "by": "李明"},
                        headers=auth("530500ZX"))
        assert r.status_code == 201 and r.json()["agency"] == BUREAU and r.json()["imported_by"] == "530500ZX:李明"
        # a bureau lists and reads its own imports; the operators all
        mine = client.get(url, headers=auth(BUREAU)).json()
        assert mine["count"] == 3 and {i["agency"] for i in mine["imports"]} == {BUREAU}
        assert client.get(url, headers=auth(OTHER_BUREAU)).json()["count"] == 0
        assert client.get(url, headers=auth("530500ZX")).json()["count"] == 3
        assert client.get(url, params={"agency": "530502FY"}, headers=auth("530500ZX")).json()["count"] == 0
        one = f"{url}/{body['import_id']}"
        assert client.get(one, headers=auth(BUREAU)).json()["rows_rejected"] == 3
        assert client.get(one, headers=auth(OTHER_BUREAU)).status_code == 404
        assert client.get(one, headers=auth("530500ZX")).status_code == 200
        assert client.get(f"{url}/nope", headers=auth(BUREAU)).status_code == 404


def test_the_cli_imports_a_register(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XIANJIE_REGISTRY", raising=False)
    db = ["--database-url", f"sqlite:///{tmp_path}/hub.db"]
    (tmp_path / "2016.xlsx").write_bytes(as_xlsx(ROWS))
    command = [*db, "report", "import-history", str(tmp_path / "2016.xlsx"), "--agency", BUREAU]
    assert main([*command, "--as-of", "2016-12-31", "--by", "李明"]) == 0
    out = capsys.readouterr().out
    assert "5 rows accepted" in out and "3 rejected" in out and "row 6 名册!K6: 状态日期" in out
    assert main([*command, "--as-of", "2016-12-31"]) == 0
    assert "already imported" in capsys.readouterr().out
    engine = make_engine(f"sqlite:///{tmp_path}/hub.db")
    try:
        assert count(engine, history_rows) == 5
        assert list_imports(engine, agency=BUREAU)[0]["imported_by"] == f"{BUREAU}:李明"
    finally:
        engine.dispose()
    # a file that is no register: refused, kept, exit code 1
    (tmp_path / "bad.csv").write_bytes("姓名,罪名\n张三,盗窃\n".encode())
    assert main([*db, "report", "import-history", str(tmp_path / "bad.csv"), "--agency", BUREAU, "--as-of",
                 "2016-12-31"]) == 1
    assert "bad_header" in capsys.readouterr().err
