"""Register snapshots: every kind read alike from CSV (UTF-8, GB18030), XLSX and XML; dates and
codes as clerks type them; a bad row rejected alone at its cell; a file whose header or frame does not fit refused."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
from collections.abc import Callable

import pytest
from lxml import etree
from openpyxl import Workbook

from adapters.ledger.columns import key
from hub.core.idnumber import check_digit
from hub.core.reconcile import RegisterKind, RegisterRow, Status
from hub.registers import NS, RegisterFormatError, load_schema, load_spec, read_snapshot
from hub.resources import data_dir

AS_OF = dt.date(2026, 6, 30)
AGENCY = {"bureau_register": "530502SF", "court_decisions": "530502FY", "police_custody": "530502GA",
          "police_wanted": "530502GA", "prison_releases": "530502JY"}


def idn(n: int, birth: str) -> str:
    body = f"530502{birth}{n:03d}"
    return body + check_digit(body)


ID1, ID2, ID3, ID4 = idn(1, "19800101"), idn(2, "19751231"), idn(3, "19880808"), idn(4, "19660606")
D = dt.date.fromisoformat
CASE1 = "（2025）云0502刑初1号"

# kind → (rows as the XML form writes them: header → value, the rows expected)
SAMPLES: dict[str, tuple[list[dict[str, str]], list[RegisterRow]]] = {
    "bureau_register": (
        [{"序号": "1", "对象编号": "SF001", "姓名": "张三", "性别": "男", "身份证号码": ID1, "案号": CASE1,
          "决定机关": "530502FY", "矫正类别": "缓刑", "矫正起始日期": "2025-03-01", "矫正终止日期": "2027-02-28",
          "执行地": "530502", "状态": "在册"},
         {"序号": "2", "对象编号": "SF002", "姓名": "阿依古丽·买买提", "性别": "女", "出生日期": "1990-02-03",
          "决定机关": "530502FY", "矫正类别": "暂予监外执行", "矫正起始日期": "2024-06-01", "状态": "羁押",
          "状态日期": "2026-06-01"}],
        [RegisterRow(0, "张三", ID1, sex="男", birth_date=None, person_ref="SF001", case_number=CASE1,
                     deciding_organ="530502FY", correction_type="PROBATION", period_start=D("2025-03-01"),
                     period_end=D("2027-02-28"), division="530502", status=Status.UNDER_SUPERVISION),
         RegisterRow(0, "阿依古丽·买买提", None, sex="女", birth_date=D("1990-02-03"), person_ref="SF002",
                     deciding_organ="530502FY", correction_type="TEMP_OUTSIDE", period_start=D("2024-06-01"),
                     division="530502", status=Status.IN_CUSTODY, since=D("2026-06-01"))]),
    "court_decisions": (
        [{"案号": CASE1, "姓名": "张三", "性别": "男", "身份证号码": ID1, "决定类型": "宣告缓刑",
          "决定日期": "2025-02-20", "生效日期": "2025-03-01", "矫正类别": "缓刑", "矫正起始日期": "2025-03-01",
          "矫正终止日期": "2027-02-28", "执行地": "530502"},
         {"案号": "（2026）云0502刑更9号", "姓名": "李四", "身份证号码": ID2, "决定类型": "撤销缓刑",
          "生效日期": "2026-05-11", "矫正类别": "缓刑", "执行地": "530581"}],
        [RegisterRow(0, "张三", ID1, sex="男", case_number=CASE1, deciding_organ="530502FY",
                     correction_type="PROBATION", effective_on=D("2025-03-01"), period_start=D("2025-03-01"),
                     period_end=D("2027-02-28"), division="530502", status=Status.UNDER_SUPERVISION),
         RegisterRow(0, "李四", ID2, case_number="（2026）云0502刑更9号", deciding_organ="530502FY",
                     correction_type="PROBATION", effective_on=D("2026-05-11"), division="530581",
                     status=Status.REVOKED)]),
    "police_custody": (
        [{"姓名": "张三", "身份证号码": ID1, "羁押措施": "刑事拘留", "羁押机关": "530502KS",
          "羁押起始日期": "2026-06-20", "执行地": "530502"},
         {"姓名": "JOHN SMITH", "出生日期": "1980-07-01", "羁押措施": "行政拘留", "羁押机关": "530502KS",
          "羁押起始日期": "2026-06-01", "羁押结束日期": "2026-06-10"}],
        [RegisterRow(0, "张三", ID1, division="530502", status=Status.IN_CUSTODY, since=D("2026-06-20"),
                     organ="530502KS"),
         RegisterRow(0, "JOHN SMITH", None, birth_date=D("1980-07-01"), status=Status.IN_CUSTODY,
                     since=D("2026-06-01"), until=D("2026-06-10"), organ="530502KS")]),
    "police_wanted": (
        [{"姓名": "王五", "身份证号码": ID3, "追逃状态": "在逃", "上网日期": "2026-03-05",
          "案号": "（2026）云0502刑更3号", "主办单位": "530502GA", "执行地": "530502"},
         {"姓名": "赵六", "身份证号码": ID4, "追逃状态": "已撤销", "上网日期": "2025-11-01"},
         {"姓名": "钱七", "身份证号码": ID2}],
        [RegisterRow(0, "王五", ID3, case_number="（2026）云0502刑更3号", division="530502", status=Status.AT_LARGE,
                     since=D("2026-03-05"), organ="530502GA"),
         RegisterRow(0, "赵六", ID4, status=None, since=D("2025-11-01")),
         RegisterRow(0, "钱七", ID2, status=Status.AT_LARGE)]),
    "prison_releases": (
        [{"罪犯编号": "JY0001", "姓名": "孙八", "身份证号码": ID3, "出监类别": "假释", "决定机关": "530500FY",
          "案号": "（2025）云05刑更1号", "出监日期": "2025-05-01", "矫正起始日期": "2025-05-01",
          "矫正终止日期": "2026-10-31", "执行地": "530502"},
         {"罪犯编号": "JY0002", "姓名": "周九", "身份证号码": ID4, "出监类别": "暂予监外执行", "决定机关": "530000JY",
          "出监日期": "2025-08-15", "执行地": "530581"}],
        [RegisterRow(0, "孙八", ID3, person_ref="JY0001", case_number="（2025）云05刑更1号", deciding_organ="530500FY",
                     correction_type="PAROLE", period_start=D("2025-05-01"), period_end=D("2026-10-31"),
                     division="530502", status=Status.UNDER_SUPERVISION, since=D("2025-05-01")),
         RegisterRow(0, "周九", ID4, person_ref="JY0002", deciding_organ="530000JY", correction_type="TEMP_OUTSIDE",
                     division="530581", status=Status.UNDER_SUPERVISION, since=D("2025-08-15"))]),
}

# as clerks type them in a spreadsheet: dates in every hand form, county names, code aliases, half-width brackets
_HAND_DATES = [lambda d: f"{d.year}/{d.month}/{d.day}", lambda d: f"{d.year}年{d.month}月{d.day}日",
               lambda d: f"{d:%Y%m%d}", lambda d: f"{d.year}.{d.month}.{d.day}", lambda d: d.isoformat()]
_TYPED = {"530502": "隆阳区", "530581": "云南省保山市腾冲市", "暂予监外执行": "暂外", "在册": "在矫",
          "宣告缓刑": "缓刑", CASE1: "(2025)云0502刑初1号"}


def hand_typed(header: str, value: str, n: int) -> str:
    if len(value) == 10 and value[4] == "-" and header.endswith("日期"):
        try:
            return _HAND_DATES[n % len(_HAND_DATES)](D(value))
        except ValueError:  # no such date: typed as it is
            return value
    return _TYPED.get(value, value) if header not in ("序号", "身份证号码") else value


def headers_of(rows: list[dict[str, str]]) -> list[str]:
    return list(dict.fromkeys(h for r in rows for h in r))


def as_csv(rows: list[dict[str, str]], encoding: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    headers = headers_of(rows)
    writer.writerow(headers)
    for i, r in enumerate(rows):
        writer.writerow([hand_typed(h, r[h], i + j) if h in r else "" for j, h in enumerate(headers)])
    return out.getvalue().encode(encoding)


def as_xlsx(rows: list[dict[str, str]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    headers = headers_of(rows)
    ws.append(headers)
    for r in rows:  # dates as Excel date cells, the rest as text
        ws.append([None if h not in r else dt.datetime.fromisoformat(r[h]) if h.endswith("日期") else
                   _TYPED.get(r[h], r[h]) for h in headers])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def as_xml(kind: str, rows: list[dict[str, str]], encoding: str = "UTF-8", /, **attrs: str) -> bytes:
    spec = load_spec(RegisterKind(kind))
    frame = {"kind": kind, "agency": AGENCY[kind], "asOf": AS_OF.isoformat(), **attrs}
    root = etree.Element(f"{{{NS}}}register", frame, nsmap={None: NS})  # type: ignore[dict-item]
    for r in rows:
        row = etree.SubElement(root, f"{{{NS}}}row")
        for header, value in r.items():
            element = spec.by_key[key(header)].element
            if element:
                etree.SubElement(row, f"{{{NS}}}{element}").text = value
    return etree.tostring(root, xml_declaration=True, encoding=encoding)


FORMATS: dict[str, Callable[[str, list[dict[str, str]]], tuple[bytes, str]]] = {
    "csv-utf8": lambda kind, rows: (as_csv(rows, "utf-8"), "register.csv"),
    "csv-utf8-bom": lambda kind, rows: (as_csv(rows, "utf-8-sig"), "register.csv"),
    "csv-gb18030": lambda kind, rows: (as_csv(rows, "gb18030"), "register.csv"),
    "xlsx": lambda kind, rows: (as_xlsx(rows), "register.xlsx"),
    "xml": lambda kind, rows: (as_xml(kind, rows), "register.xml"),
    "xml-gb18030": lambda kind, rows: (as_xml(kind, rows, "GB18030"), "register.xml"),
}


def unnumbered(rows: tuple[RegisterRow, ...]) -> list[RegisterRow]:
    return [dataclasses.replace(r, number=0) for r in rows]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", SAMPLES)
def test_each_kind_reads_alike_from_every_format(kind: str, fmt: str) -> None:
    # Given a register of this kind written in this format (a spreadsheet as clerks type it)
    rows, expected = SAMPLES[kind]
    data, filename = FORMATS[fmt](kind, rows)
    # When read
    snap = read_snapshot(kind, data, filename=filename, agency=AGENCY[kind], as_of=AS_OF)
    # Then every row is accepted with its values in the hub's vocabulary, numbered as the file shows it
    assert snap.rejected == ()
    assert unnumbered(snap.rows) == expected
    first = 1 if fmt.startswith("xml") else 2
    assert [r.number for r in snap.rows] == list(range(first, first + len(rows)))
    assert (snap.kind, snap.agency, snap.as_of, snap.format) == (kind, AGENCY[kind], AS_OF, fmt.split("-")[0])
    assert len(snap.digest) == 64


@pytest.mark.parametrize("typed", ["2017/6/30", "2017.6.30", "2017年6月30日", "20170630", "42916",
                                   "２０１７－０６－３０", "2017/6/30 0:00"])
def test_hand_typed_dates_are_read(typed: str) -> None:
    # Given a bureau register whose first day is typed by hand
    data = f"姓名,身份证号码,矫正类别,矫正起始日期,状态\n张三,{ID1},缓刑,{typed},在册\n".encode()
    # When read
    snap = read_snapshot("bureau_register", data, filename="r.csv", agency="530502SF", as_of=AS_OF)
    # Then the date is the one meant
    assert [r.period_start for r in snap.rows] == [dt.date(2017, 6, 30)]


BAD_ROWS = [{"姓名": "张三", "身份证号码": ID1, "矫正类别": "缓刑", "矫正起始日期": "2025-02-30", "状态": "在册"},
            {"姓名": "李四", "身份证号码": ID2, "矫正类别": "缓刑", "矫正起始日期": "2025-03-01", "状态": "在册"}]


@pytest.mark.parametrize(("fmt", "where"), [("csv-utf8", "CSV!D2"), ("csv-gb18030", "CSV!D2"),
                                            ("xml", "/register/row[1]/periodStart")])
def test_a_bad_row_is_rejected_alone_at_its_cell(fmt: str, where: str) -> None:
    # Given a register whose first row has a date that does not exist
    data, filename = FORMATS[fmt]("bureau_register", BAD_ROWS)
    # When read
    snap = read_snapshot("bureau_register", data, filename=filename, agency="530502SF", as_of=AS_OF)
    # Then that row alone is rejected, its problem placed at its cell; the other row is read
    assert [r.name for r in snap.rows] == ["李四"]
    ((problem,),) = [r.problems for r in snap.rejected]
    assert problem.where == where
    assert "2025-02-30" in problem.reason


def test_every_problem_of_a_row_is_named_at_its_cell() -> None:
    # Given an XLSX row with an unknown status, a last day before its first and neither ID nor birth date, and an
    # ID number stored as a number
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "名册"
    ws.append(["姓名", "身份证号码", "出生日期", "矫正类别", "矫正起始日期", "矫正终止日期", "状态"])
    ws.append(["张三", None, None, "缓刑", dt.datetime(2025, 3, 1), dt.datetime(2024, 3, 1), "失踪"])
    ws.append(["李四", 530502198001011234, None, "缓刑", dt.datetime(2025, 3, 1), None, "在册"])
    out = io.BytesIO()
    wb.save(out)
    # When read
    snap = read_snapshot("bureau_register", out.getvalue(), filename="r.xlsx", agency="530502SF", as_of=AS_OF)
    # Then no row is accepted, and each problem names its cell
    assert snap.rows == ()
    assert [(r.number, sorted(p.where for p in r.problems)) for r in snap.rejected] == [
        (2, ["名册!2:2", "名册!F2", "名册!G2"]), (3, ["名册!B3"])]


def test_an_id_number_that_fails_its_check_is_kept_but_not_matched_on() -> None:
    # Given a row whose ID number has a wrong check character
    wrong = ID1[:17] + ("0" if ID1[17] != "0" else "1")
    data = f"姓名,身份证号码,矫正类别,矫正起始日期,状态\n张三,{wrong},缓刑,2025-03-01,在册\n".encode()
    # When read
    (row,) = read_snapshot("bureau_register", data, filename="r.csv", agency="530502SF", as_of=AS_OF).rows
    # Then the row is kept with the number as typed and the birth date it carries, for matching by name and birth
    assert (row.id_number, row.id_typed, row.birth_date) == (None, wrong, dt.date(1980, 1, 1))


def test_a_code_outside_a_kinds_subset_is_rejected() -> None:
    # Given a prison release typed as 管制 (a court's sentence, never a release from prison)
    data = f"姓名,身份证号码,出监类别,决定机关,出监日期,执行地\n孙八,{ID3},管制,530500FY,2025-05-01,530502\n".encode()
    # When read
    snap = read_snapshot("prison_releases", data, filename="r.csv", agency="530502JY", as_of=AS_OF)
    # Then it is rejected at the cell, naming the allowed words
    ((problem,),) = [r.problems for r in snap.rejected]
    assert problem.where == "CSV!C2" and "假释、暂予监外执行" in problem.reason


@pytest.mark.parametrize(("header", "where", "why"), [
    ("姓名,身份证号码,矫正类别,矫正起始日期,状态,罪名\n", "CSV!F1", "not a column"),
    ("姓名,身份证号码,矫正类别,状态\n", "CSV!1:1", "矫正起始日期"),
    ("姓名,矫正类别,矫正起始日期,状态\n", "CSV!1:1", "身份证号码"),
    ("姓名,身份证号码,身份证号,矫正类别,矫正起始日期,状态\n", "CSV!C1", "repeats"),
])
def test_a_header_that_does_not_fit_refuses_the_file(header: str, where: str, why: str) -> None:
    # Given a bureau register whose header has an unknown, a missing, or a repeated column
    data = (header + "张三,x,缓刑,2025-03-01,在册,y\n").encode()
    # When read, then the whole file is refused, naming the header cell
    with pytest.raises(RegisterFormatError) as caught:
        read_snapshot("bureau_register", data, filename="r.csv", agency="530502SF", as_of=AS_OF)
    assert caught.value.code == "bad_header"
    assert any(p.where == where and why in p.reason for p in caught.value.problems)


def test_a_header_without_rows_is_checked_too() -> None:
    # Given a header with an unknown column and no data row, when read, then it is refused at its header cell
    # (an empty register would otherwise say that every person has left it)
    with pytest.raises(RegisterFormatError) as caught:
        read_snapshot("bureau_register", "姓名,罪名\n".encode(), filename="r.csv", agency="530502SF", as_of=AS_OF)
    assert caught.value.code == "bad_header" and any(p.where == "CSV!B1" for p in caught.value.problems)
    # And a right header with no rows is an empty register
    snap = read_snapshot("bureau_register", "姓名,身份证号码,矫正类别,矫正起始日期,状态\n".encode(), filename="r.csv",
                         agency="530502SF", as_of=AS_OF)
    assert (len(snap.rows), len(snap.rejected)) == (0, 0)


@pytest.mark.parametrize(("data", "code"), [
    (b"", "empty"),
    ("姓名,状态\n".encode("utf-16"), "wrong_encoding"),
    (b"PK\x03\x04 not a workbook", "corrupt"),
])
def test_a_file_that_is_no_register_is_refused(data: bytes, code: str) -> None:
    # Given bytes that are no readable CSV or XLSX, when read, then the file is refused with what is wrong
    with pytest.raises(RegisterFormatError) as caught:
        read_snapshot("bureau_register", data, filename="r.csv", agency="530502SF", as_of=AS_OF)
    assert caught.value.code == code


@pytest.mark.parametrize(("attrs", "as_of", "code"), [
    ({"kind": "court_decisions"}, AS_OF, "wrong_register"),
    ({"agency": "530581SF"}, AS_OF, "wrong_register"),
    ({}, dt.date(2026, 6, 29), "wrong_register"),
    ({"from": "2026-01-01"}, AS_OF, "wrong_register"),
    ({"asOf": "30/06/2026"}, None, "invalid"),
])
def test_an_xml_frame_that_does_not_fit_refuses_the_file(attrs: dict[str, str], as_of: dt.date | None,
                                                         code: str) -> None:
    # Given an XML bureau register naming another kind, another agency, another day, a period, or a bad date
    data = as_xml("bureau_register", SAMPLES["bureau_register"][0], **attrs)
    # When read, then the whole file is refused
    with pytest.raises(RegisterFormatError) as caught:
        read_snapshot("bureau_register", data, filename="r.xml", agency="530502SF", as_of=as_of)
    assert caught.value.code == code


@pytest.mark.parametrize("as_of", ["2026-06-30", "2026-06-30+08:00"])
def test_an_xml_register_names_its_own_day_and_period(as_of: str) -> None:
    # Given a court's XML list of a period (its day with or without a time zone), read without telling the day
    data = as_xml("court_decisions", SAMPLES["court_decisions"][0], **{"from": "2025-01-01", "asOf": as_of})
    snap = read_snapshot("court_decisions", data, filename="r.xml", agency="530502FY")
    # Then the snapshot is as of the file's day, for the file's period
    assert (snap.as_of, snap.period_start) == (AS_OF, dt.date(2025, 1, 1))


@pytest.mark.parametrize(("data", "code"), [
    (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "y">]><register/>', "dtd_forbidden"),
    (as_xml("bureau_register", SAMPLES["bureau_register"][0])[:-40], "not_xml"),
    ("<?xml version='1.0' encoding='UTF-8'?><register>张三</register>".encode("gb18030"), "wrong_encoding"),
])
def test_hostile_truncated_or_misencoded_xml_is_refused_whole(data: bytes, code: str) -> None:
    # Given XML with a DTD, cut short, or not in its declared encoding; when read, then nothing of it is taken
    with pytest.raises(RegisterFormatError) as caught:
        read_snapshot("bureau_register", data, filename="r.xml", agency="530502SF", as_of=AS_OF)
    assert caught.value.code == code


def test_an_xml_row_with_another_kinds_element_is_rejected_alone() -> None:
    # Given an XML bureau register whose second row carries a custody list's element
    rows = SAMPLES["bureau_register"][0]
    data = as_xml("bureau_register", rows).replace(b"</row></register>",
                                                   b"<until>2026-06-30</until></row></register>")
    # When read
    snap = read_snapshot("bureau_register", data, filename="r.xml", agency="530502SF", as_of=AS_OF)
    # Then the first row is read and the second rejected, naming the element
    assert [r.number for r in snap.rows] == [1]
    assert [p.where for r in snap.rejected for p in r.problems] == ["/register/row[2]/until"]


@pytest.mark.parametrize(("kind", "agency"), [("bureau_register", "530502FY"), ("police_wanted", "530502KS"),
                                              ("court_decisions", "not-a-code")])
def test_only_the_keeper_of_a_kind_may_upload_it(kind: str, agency: str) -> None:
    # Given a register uploaded by an agency that does not keep that kind, when read, then it is refused
    with pytest.raises(RegisterFormatError) as caught:
        read_snapshot(kind, b"x", filename="r.csv", agency=agency, as_of=AS_OF)
    assert caught.value.code == "wrong_agency"


def test_a_spreadsheet_needs_its_day() -> None:
    # Given a CSV register without the day it is as of, when read, then the call is refused
    with pytest.raises(ValueError, match="as of"):
        read_snapshot("bureau_register", b"x", filename="r.csv", agency="530502SF")


def test_the_column_specifications_agree_with_the_xsd_and_the_row() -> None:
    # Given every kind's column specification, the shared code lists and the XSD
    folder = data_dir("schemas") / "registers"
    codes = json.loads((folder / "codes.json").read_text(encoding="utf-8"))["code_lists"]
    xsd = etree.parse(str(folder / "register.xsd"))
    xs = {"xs": "http://www.w3.org/2001/XMLSchema"}
    elements = {e.get("name"): e.get("type") for e in xsd.iterfind(".//xs:element[@name='row']//xs:element", xs)}
    enums = {t.get("name"): [e.get("value") for e in t.iterfind(".//xs:enumeration", xs)]
             for t in xsd.iterfind("xs:simpleType", xs)}
    fields = {f.name for f in dataclasses.fields(RegisterRow)}
    load_schema()
    for kind in RegisterKind:
        raw = json.loads((folder / f"{kind.value}.json").read_text(encoding="utf-8"))
        assert raw["kind"] == kind.value
        for col in raw["columns"]:
            # Then each kept column names a row element the XSD declares and a field of RegisterRow
            if col["type"] == "ignored":
                assert "element" not in col and "field" not in col
                continue
            assert col["element"] in elements, col["header"]
            assert col.get("field") is None or col["field"] in fields
            # and a coded column's words are exactly the XSD's enumeration of its element's type
            if col["type"] == "code":
                assert list(codes[col["code_list"]]["values"]) == enums[elements[col["element"]]], col["header"]


@pytest.mark.parametrize(("kind", "header", "rows", "where"), [
    ("bureau_register", "姓名,身份证号码,矫正类别,矫正起始日期,状态,执行地",
     ["张三,{id1},缓刑,2025-03-01,在册,{here}", "李四,{id2},缓刑,2025-03-01,在册,{there}"], "CSV!F3"),
    ("police_custody", "姓名,身份证号码,羁押起始日期,执行地",
     ["张三,{id1},2026-06-20,{here}", "李四,{id2},2026-06-20,{there}"], "CSV!D3"),
    ("police_wanted", "姓名,身份证号码,追逃状态,执行地",
     ["张三,{id1},在逃,{here}", "李四,{id2},在逃,{there}"], "CSV!D3"),
], ids=["bureau_register", "police_custody", "police_wanted"])
@pytest.mark.parametrize(("agency", "here", "there"), [("530523", "530523", "530521"),
                                                       ("530500", "530521", "530102")], ids=["county", "prefecture"])
def test_a_row_outside_the_keepers_jurisdiction_is_rejected_alone(kind: str, header: str, rows: list[str],
                                                                  where: str, agency: str, here: str,
                                                                  there: str) -> None:
    # Given a county's (or a prefecture's) bureau register or police list with one row in its own jurisdiction
    # and one whose 执行地 is a county it does not cover
    keeper = agency + ("SF" if kind == "bureau_register" else "GA")
    lines = [r.format(id1=ID1, id2=ID2, here=here, there=there) for r in rows]
    data = "\n".join([header, *lines, ""]).encode()
    # When read
    snap = read_snapshot(kind, data, filename="r.csv", agency=keeper, as_of=AS_OF)
    # Then the row in the jurisdiction is read and the other rejected alone, the reason at its 执行地 cell
    assert [(r.name, r.division) for r in snap.rows] == [("张三", here)]
    ((problem,),) = [r.problems for r in snap.rejected]
    assert problem.where == where
    assert problem.reason == f"执行地: {there} 不在 {keeper} 的辖区内 / is outside the jurisdiction of {keeper}"


def test_an_xml_row_outside_the_keepers_jurisdiction_is_rejected_at_its_element() -> None:
    # Given an XML bureau register of 530502 whose second row is placed in 530581
    rows = [dict(r) for r in SAMPLES["bureau_register"][0]]
    rows[1]["执行地"] = "530581"
    # When read
    snap = read_snapshot("bureau_register", as_xml("bureau_register", rows), filename="r.xml", agency="530502SF",
                         as_of=AS_OF)
    # Then only the first row is read; the second is rejected at its division element
    assert [r.number for r in snap.rows] == [1]
    assert [p.where for r in snap.rejected for p in r.problems] == ["/register/row[2]/division"]


def test_courts_and_prisons_send_people_to_any_county() -> None:
    # Given a court's list placing a person in another prefecture, when read, then the row is accepted
    data = f"案号,姓名,身份证号码,生效日期,矫正类别,执行地\n{CASE1},张三,{ID1},2025-03-01,缓刑,530102\n".encode()
    (row,) = read_snapshot("court_decisions", data, filename="r.csv", agency="530502FY", as_of=AS_OF).rows
    assert row.division == "530102"
