"""The ledger (台账) reading layer: hand-typed dates and XLSX/CSV rows with their spreadsheet locations."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterable, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook

from adapters.kit.dates import excel_serial, format_date, parse_hand_date
from adapters.ledger.native import LedgerFormatError, Row, normalise_header, read_rows

JUNE_30 = dt.date(2017, 6, 30)


def xlsx(rows: Iterable[Sequence[object]], title: str = "Sheet1", *, before: Sequence[str] = ()) -> bytes:
    """A workbook written with openpyxl's write-only mode; ``before`` names sheets placed ahead of ``title``."""
    workbook = Workbook(write_only=True)
    for name in before:
        other = workbook.create_sheet(name)
        other.append(["别的表"])
        other.append(["other"])
    sheet = workbook.create_sheet(title)
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def rewrite_member(data: bytes, member: str, change: object) -> bytes:
    """The zip ``data`` with ``member``'s bytes replaced by ``change(old)``."""
    assert callable(change)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            body = zin.read(item)
            zout.writestr(item, change(body) if item.filename == member else body)
    return out.getvalue()


def format_error(data: bytes, filename: str | None = None) -> LedgerFormatError:
    with pytest.raises(LedgerFormatError) as caught:
        list(read_rows(data, filename=filename))
    return caught.value


# --- dates ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2017-06-30",
        "2017-6-30",
        "2017/6/30",
        "2017/06/30",
        "2017.6.30",
        "2017.06.30",
        "2017年6月30日",
        "2017年06月30日",
        "2017年6月30",
        "２０１７年６月３０日",
        " 2017 年 6 月 30 日 ",
        "\u30002017年6月30日\u3000",
        "２０１７－０６－３０",
        "２０１７／６／３０",
        "20170630",
        "２０１７０６３０",
        20170630,
        42916,
        42916.0,
        42916.99,
        "42916",
        "42916.5",
        "４２９１６",
        "2017/6/30 0:00",
        "2017-06-30 00:00:00",
        "2017-06-30T08:15:00",
        dt.datetime(2017, 6, 30, 23, 59),
        dt.date(2017, 6, 30),
    ],
)
def test_hand_date_forms(value: object) -> None:
    assert parse_hand_date(value) == JUNE_30


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        (1, dt.date(1900, 1, 1)),
        (59, dt.date(1900, 2, 28)),
        (61, dt.date(1900, 3, 1)),
        (61.9, dt.date(1900, 3, 1)),
        ("61", dt.date(1900, 3, 1)),
        (2958465, dt.date(9999, 12, 31)),
    ],
)
def test_excel_serial_edges(serial: object, expected: dt.date) -> None:
    assert parse_hand_date(serial) == expected


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("2017-02-30", "日期不存在 / no such date (2017年2月30日)"),
        ("2017年13月1日", "no such date"),
        (20170230, "no such date"),
        ("30/6/2017", "ambiguous day and month order"),
        ("6/30/2017", "ambiguous day and month order"),
        ("17-6-30", "ambiguous day and month order"),
        ("", "日期为空 / empty date"),
        ("   ", "empty date"),
        (None, "empty date"),
        (60, "Excel serial 60 is the non-existent 1900-02-29"),
        ("60", "1900-02-29"),
        (60.5, "1900-02-29"),
        (0, "Excel serial out of range"),
        (0.5, "out of range"),
        (-1, "out of range"),
        (2958466, "out of range"),
        (float("nan"), "not a date"),
        (float("inf"), "not a date"),
        (True, "not a date"),
        ([2017, 6, 30], "not a date (list)"),
        ("2017-6/30", "unrecognised date"),
        ("2017年6月", "unrecognised date"),
        ("六月三十日", "unrecognised date"),
        ("-42916", "unrecognised date"),
    ],
)
def test_bad_hand_dates(value: object, why: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_hand_date(value)
    message = str(caught.value)
    assert why in message
    assert repr(value) in message  # names the value
    assert "可接受的写法 / accepted forms: 2017-06-30, 2017/6/30, 2017.6.30, 2017年6月30日, 20170630" in message


def test_bad_date_message_is_bounded() -> None:
    with pytest.raises(ValueError) as caught:
        parse_hand_date("x" * 10_000)
    assert len(str(caught.value)) < 300


@given(st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2099, 12, 31)))
def test_every_rendering_parses_back(d: dt.date) -> None:
    serial = (d - dt.date(1899, 12, 30)).days
    full_width = str.maketrans("0123456789", "０１２３４５６７８９")
    renderings: list[object] = [
        d.isoformat(),
        f"{d.year}/{d.month}/{d.day}",
        f"{d.year}.{d.month}.{d.day}",
        f"{d.year}年{d.month}月{d.day}日",
        f"{d.year}年{d.month}月{d.day}日".translate(full_width),
        f"{d:%Y%m%d}",
        serial,
        float(serial) + 0.5,
        str(serial),
        dt.datetime(d.year, d.month, d.day, 12),
    ]
    for rendering in renderings:
        assert parse_hand_date(rendering) == d, rendering
    assert excel_serial(d) == serial


def test_excel_serial_before_march_1900() -> None:
    assert excel_serial(dt.date(1900, 1, 1)) == 1
    assert excel_serial(dt.date(1900, 2, 28)) == 59
    with pytest.raises(ValueError):
        excel_serial(dt.date(1899, 12, 31))


def test_format_date() -> None:
    assert format_date(JUNE_30) == "2017-06-30"
    assert format_date(dt.datetime(2017, 6, 30, 8, 15)) == "2017-06-30"
    assert format_date(dt.date(5, 1, 2)) == "0005-01-02"


# --- XLSX -----------------------------------------------------------------------------------------------

HEADER = ["序号", "姓名", "身份证号码", "出生日期", "日期", "备注"]


def test_xlsx_typed_dates_serials_and_datetimes() -> None:
    data = xlsx(
        [
            HEADER,
            [1, "张三", "110105198001010011", dt.datetime(1980, 1, 1), 42916, None],
            [2, " 李四 ", "110105198102020022", dt.date(1981, 2, 2), "2017/6/30", "补录"],
            [3, "王五", "110105198203030033", "1982年3月3日", dt.datetime(2017, 6, 30, 9, 30), 42916.25],
        ]
    )
    rows = list(read_rows(data, filename="台账.xlsx"))
    assert [r.number for r in rows] == [2, 3, 4]
    assert {r.sheet for r in rows} == {"Sheet1"}
    first, second, third = rows
    assert first.cells == {
        "序号": 1,
        "姓名": "张三",
        "身份证号码": "110105198001010011",
        "出生日期": dt.datetime(1980, 1, 1),
        "日期": 42916,
    }
    assert second.cells["姓名"] == "李四"
    assert second.cells["备注"] == "补录"
    assert isinstance(second.cells["出生日期"], dt.datetime)  # openpyxl stores a date as a date-formatted number
    assert third.cells["备注"] == 42916.25
    assert [parse_hand_date(r.cells["日期"]) for r in rows] == [JUNE_30] * 3
    assert [parse_hand_date(r.cells["出生日期"]) for r in rows] == [
        dt.date(1980, 1, 1),
        dt.date(1981, 2, 2),
        dt.date(1982, 3, 3),
    ]
    assert first.columns == {"序号": "A", "姓名": "B", "身份证号码": "C", "出生日期": "D", "日期": "E", "备注": "F"}
    assert first.columns is third.columns
    assert second.where("日期") == "Sheet1!E3"


def test_xlsx_row_numbers_are_the_sheet_rows_and_empty_rows_are_skipped() -> None:
    data = xlsx(
        [
            [],
            [None, None],
            ["序号", "姓名"],
            [1, "张三"],
            [],
            [None, "  "],
            ["", None],
            [2, "李四"],
        ]
    )
    rows = list(read_rows(data))
    assert [(r.number, r.cells) for r in rows] == [(4, {"序号": 1, "姓名": "张三"}), (8, {"序号": 2, "姓名": "李四"})]


def test_xlsx_header_may_start_right_of_column_a() -> None:
    rows = list(read_rows(xlsx([[None, "序号", "姓名"], [None, 1, "张三"]])))
    assert rows[0].cells == {"序号": 1, "姓名": "张三"}
    assert rows[0].columns == {"序号": "B", "姓名": "C"}


def test_xlsx_wide_sheet_column_letters() -> None:
    header = [f"列{i}" for i in range(1, 30)]
    (row,) = read_rows(xlsx([header, list(range(1, 30))]))
    assert row.columns["列27"] == "AA"
    assert row.cells["列29"] == 29
    assert row.where("列28") == "Sheet1!AB2"


def test_xlsx_prefers_the_ledger_sheet() -> None:
    data = xlsx([["序号"], [7]], title="台账", before=["说明"])
    (row,) = read_rows(data)
    assert (row.sheet, row.cells) == ("台账", {"序号": 7})


def test_xlsx_first_sheet_without_a_ledger_sheet() -> None:
    data = xlsx([["序号"], [7]], title="第二张", before=["说明"])
    (row,) = read_rows(data)
    assert (row.sheet, row.number, row.cells) == ("说明", 2, {"别的表": "other"})


def test_header_normalisation() -> None:
    assert normalise_header(" 身份证号码 ") == "身份证号码"
    assert normalise_header("出生\n日期") == "出生日期"
    assert normalise_header("\u3000姓\u3000名\u200b") == "姓名"
    assert normalise_header("ＩＤ（１）［ａ］｛ｂ｝") == "ID(1)[a]{b}"
    assert normalise_header("案号【一审】") == "案号【一审】"
    assert normalise_header(2017) == "2017"
    data = xlsx([["身份证号码 ", " 姓 名", "编号（ＡＢ）"], ["110105198001010011", "张三", "x"]])
    (row,) = read_rows(data)
    assert set(row.cells) == {"身份证号码", "姓名", "编号(AB)"}


def test_xlsx_duplicate_header() -> None:
    error = format_error(xlsx([["序号", "姓名", "日期", "姓名 "], [1, "张三", 42916, "李四"]]))
    assert error.where == "Sheet1!D1"
    assert "表头重复 / duplicate header '姓名' (also in B1)" in str(error)
    assert str(error).startswith("Sheet1!D1: ")


def test_xlsx_blank_header_among_used_columns() -> None:
    error = format_error(xlsx([[], ["序号", None, "姓名"], [1, None, "张三"]]))
    assert error.where == "Sheet1!B2"
    assert "blank header cell in column B" in error.message


def test_xlsx_value_in_a_column_without_header() -> None:
    data = xlsx([["序号", "姓名"], [1, "张三"], [2, "李四", "多出来的"], [3, "王五"]])
    rows = list(read_rows(data))
    # the stray value is its row's problem (reported at its cell by the column check); the rows go on
    assert [(r.number, r.stray) for r in rows] == [(2, ()), (3, ("Sheet1!C3",)), (4, ())]


def test_xlsx_title_row_above_the_header_is_reported() -> None:
    data = xlsx([["某某县社区矫正台账"], ["序号", "姓名"], [1, "张三"]])
    error = format_error(data)
    assert error.where == "Sheet1!B2"
    assert "the header must be the first non-empty row" in error.message


def test_xlsx_sheet_title_quoted_in_where() -> None:
    error = format_error(xlsx([["序号", "序号"]], title="2017 年"))
    assert error.where == "'2017 年'!B1"


def test_xlsx_empty_sheet_has_no_header() -> None:
    error = format_error(xlsx([[], [None]]))
    assert error.where == "Sheet1"
    assert "no header row" in error.message


def test_truncated_xlsx() -> None:
    data = xlsx([HEADER, [1, "张三", "110105198001010011", dt.datetime(1980, 1, 1), 42916, None]])
    for cut in (len(data) // 2, len(data) - 10, 30):
        error = format_error(data[:cut])
        assert "corrupt XLSX" in error.message


def test_xlsx_with_damaged_sheet_xml_fails_while_reading() -> None:
    data = xlsx([["序号", "姓名"], *([n, "张三"] for n in range(1, 200))])
    # A <dimension> at the top, as Excel writes it: openpyxl then does not parse the whole sheet when opening.
    damaged = rewrite_member(
        data,
        "xl/worksheets/sheet1.xml",
        lambda body: body.replace(b"</sheetPr>", b'</sheetPr><dimension ref="A1:B200"/>')[: len(body) // 2],
    )
    rows = read_rows(damaged)
    assert next(rows).number == 2
    with pytest.raises(LedgerFormatError) as caught:
        for _ in rows:
            pass
    assert "corrupt XLSX after row" in caught.value.message
    assert caught.value.where is not None and caught.value.where.startswith("Sheet1!")
    row = caught.value.where.removeprefix("Sheet1!").split(":")
    assert row[0] == row[1] and int(row[0]) > 2


def test_zip_that_is_not_a_workbook() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "不是工作簿")
    assert "not an Excel workbook" in format_error(out.getvalue()).message


# --- CSV ------------------------------------------------------------------------------------------------

CSV_TEXT = (
    "序号,姓名,身份证号码,日期\r\n1,张三,110105198001010011,2017/6/30\r\n2, 李四 ,110105198102020022,2017年6月30日\r\n"
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings(encoding: str) -> None:
    rows = list(read_rows(CSV_TEXT.encode(encoding), filename="台账.csv"))
    assert [(r.number, r.sheet) for r in rows] == [(2, "CSV"), (3, "CSV")]
    assert rows[0].cells == {"序号": "1", "姓名": "张三", "身份证号码": "110105198001010011", "日期": "2017/6/30"}
    assert rows[1].cells["姓名"] == "李四"
    assert rows[0].columns == {"序号": "A", "姓名": "B", "身份证号码": "C", "日期": "D"}
    assert {parse_hand_date(r.cells["日期"]) for r in rows} == {JUNE_30}


def test_csv_gb18030_beyond_gbk() -> None:
    text = "姓名,备注\n䶮,𠀀\n"  # characters outside GBK, four-byte sequences in GB18030
    (row,) = read_rows(text.encode("gb18030"))
    assert row.cells == {"姓名": "䶮", "备注": "𠀀"}


def test_csv_invalid_utf8_after_a_long_valid_prefix_is_read_as_gb18030() -> None:
    text = "序号,姓名\n" + "".join(f"{n},张三\n" for n in range(1, 100_000))
    rows = list(read_rows(text.encode("gb18030")))
    assert len(rows) == 99_999
    assert rows[-1].cells == {"序号": "99999", "姓名": "张三"}
    assert rows[-1].number == 100_000


def test_csv_quoted_multiline_fields_number_rows_by_their_first_line() -> None:
    text = '序号,姓名,备注\n1,张三,"第一行\n第二行\n第三行"\n2,李四,"含有""引号"",和逗号"\n\n3,"王\r\n五",\n'
    rows = list(read_rows(text.encode()))
    assert [r.number for r in rows] == [2, 5, 7]
    assert rows[0].cells["备注"] == "第一行\n第二行\n第三行"
    assert rows[1].cells["备注"] == '含有"引号",和逗号'
    assert rows[2].cells == {"序号": "3", "姓名": "王\r\n五"}


def test_csv_empty_rows_skipped_and_trailing_empty_fields_allowed() -> None:
    text = "\n\n序号,姓名,,\n,,,\n1,张三,,\n  ,  \n\n2,李四\n"
    rows = list(read_rows(text.encode()))
    assert [(r.number, r.cells) for r in rows] == [
        (5, {"序号": "1", "姓名": "张三"}),
        (8, {"序号": "2", "姓名": "李四"}),
    ]


def test_csv_tab_separated() -> None:
    (row,) = read_rows("序号\t姓名\n1\t张三\n".encode("gb18030"))
    assert row.cells == {"序号": "1", "姓名": "张三"}


def test_csv_duplicate_header() -> None:
    error = format_error("序号,姓名,日期,ＩＤ,ID\n".encode())
    assert error.where == "CSV!E1"
    assert "duplicate header 'ID' (also in D1)" in error.message


def test_csv_duplicate_header_below_blank_lines() -> None:
    assert format_error("\n\n姓名,姓名\n".encode("gb18030")).where == "CSV!B3"


def test_csv_blank_header_and_headerless_value() -> None:
    assert format_error(b"a,,b\n1,2,3\n").where == "CSV!B1"
    # a value beyond the last header is a problem of its row alone: the row carries it, the rows go on
    rows = list(read_rows(b"a,b\n1,2\n1,2,3\n4,5\n"))
    assert [(r.number, r.stray) for r in rows] == [(2, ()), (3, ("CSV!C3",)), (4, ())]


def test_csv_empty_file_has_no_header() -> None:
    for data in (b"", b"\n\n", b",,\n \n", "\ufeff".encode()):
        error = format_error(data)
        assert (error.where, "no header row" in error.message) == ("CSV", True)


@pytest.mark.parametrize(
    ("data", "filename", "why"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "photo.png", "neither an XLSX workbook nor a CSV text file"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\x00", None, "neither an XLSX workbook nor a CSV text file"),
        (b"\x80\xff\xfe\x80abc,\xff\n", None, "neither XLSX nor CSV text in UTF-8 or GB18030"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), "台账.xls", "legacy Excel (.xls)"),
        ("序号,姓名\n".encode("utf-16"), None, "UTF-16 and UTF-32"),
        (b"a,b\n1,2\n", "ledger.xlsx", "named ledger.xlsx but not an XLSX"),
        (b"\xef\xbb\xbfa,b\n1,\xff\n", None, "UTF-8 byte-order mark but invalid UTF-8 at byte 9"),
    ],
)
def test_not_a_spreadsheet(data: bytes, filename: str | None, why: str) -> None:
    error = format_error(data, filename)
    assert why in error.message
    assert isinstance(error, ValueError)


def test_undecodable_csv_names_the_line() -> None:
    error = format_error("序号,姓名\n1,张三\n".encode() + b"2,\x80\xff\n")
    assert error.where == "CSV!3:3"
    assert "invalid UTF-8 at byte 25, invalid GB18030 at byte 25" in error.message


def test_malformed_csv_is_a_format_error() -> None:
    huge = "a\n" + '"' + "x" * 200_000 + '"\n'
    error = format_error(huge.encode())
    assert error.where == "CSV!2:2"
    assert "malformed CSV" in error.message


def test_rows_are_streamed() -> None:
    text = "序号\n" + "".join(f"{n}\n" for n in range(1, 1000)) + "a," + "长" * 140_000 + "\n"
    rows = read_rows(text.encode())
    first = next(rows)
    assert isinstance(first, Row) and first.number == 2
    assert sum(1 for _ in zip(range(998), rows, strict=False)) == 998
    with pytest.raises(LedgerFormatError) as caught:
        next(rows)
    assert caught.value.code == "corrupt"
