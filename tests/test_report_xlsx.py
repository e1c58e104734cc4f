"""The joint-meeting report as XLSX and JSON: figures as numbers at their places, every figure traceable to its
persons in the appendix, and no text ever read as a formula."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import math
import re
import zipfile

from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from hub.report.model import Figure, Member, Report, Section, Table
from hub.report.render_json import as_json, figure_json
from hub.report.render_xlsx import APPENDIX, APPENDIX_COLUMNS, COVER, escape_text, unescape_text, xlsx
from tests.report_sample import FORMULA, LI, WANG, sample_report

SECTION_SHEETS = ["一、总体情况", "二、衔接时效", "三、脱管漏管风险", "六、图表"]
FORMULA_CHARS = tuple("=+-@\t\r＝＋－＠")
# Texts built of what the escaping is about: formula characters, apostrophes and Excel's _xHHHH_ sequences.
TRICKY = st.lists(st.sampled_from(["=", "＠", "'", "-", "\t", "_x0041_", "_x005F_", "_X00e9_", "_", "x", "0"])
                  | st.text(max_size=2)).map("".join)
XSTRING = re.compile("_[xX]([0-9A-Fa-f]{4})_")
ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def workbook(report: Report) -> Workbook:
    return load_workbook(io.BytesIO(xlsx(report)))


def excel_shows(value: object) -> str:
    """The text Excel shows for a string cell: its stored text with each _xHHHH_ read as U+HHHH (an empty cell:
    the empty text)."""
    assert value is None or isinstance(value, str)
    return "" if value is None else XSTRING.sub(lambda m: chr(int(m.group(1), 16)), value)


def shown(value: object) -> str:
    """The text a cell shows without the escaping apostrophe."""
    text = excel_shows(value)
    return text[1:] if text.startswith("'") else text


def table_top(ws: Worksheet, title: str) -> int:
    """The row of a table's header (the row after its title, printed with its number: ``（一）累计与在册``)."""
    for (cell,) in ws.iter_rows(min_col=1, max_col=1):
        if cell.value is not None and re.sub("^（[一二三四五六七八九十]+）", "", shown(cell.value)) == title:
            return cell.row + 1
    raise AssertionError(f"{title} not on {ws.title}")


def assert_valid_sheet_name(name: str) -> None:
    assert 0 < len(name.encode("utf-16-le")) // 2 <= 31
    assert not set(name) & set("[]:*?/\\")
    assert not name.startswith("'") and not name.endswith("'")


def one_figure_report(cell_text: str, name: str, title: str = "总体情况") -> Report:
    member = dataclasses.replace(WANG, name=name)
    table = Table("t", "表", ("项目", "人数"), ((cell_text, Figure("f", "人数", 1, members=(member,))),))
    return dataclasses.replace(sample_report(), sections=(Section("overview", 1, title, tables=(table,)),))


# ---- XLSX ------------------------------------------------------------------------------------------------------


def test_one_sheet_per_section_between_cover_and_appendix() -> None:
    """Given the sample, when rendered, then the sheets are the cover, one per section named by its heading, and
    the appendix, every name one Excel accepts."""
    wb = workbook(sample_report())
    assert wb.sheetnames == [COVER, *SECTION_SHEETS, APPENDIX]
    for name in wb.sheetnames:
        assert_valid_sheet_name(name)


def test_cover_names_the_report_period_time_counties_and_imports() -> None:
    """Given the sample, when rendered, then the cover gives the title, the period, the generation time in Beijing
    time, the counties and the note on imported registers."""
    ws = workbook(sample_report())[COVER]
    assert ws["A1"].value == "保山市腾冲市社区矫正工作联席会议对账报告"
    lines = {shown(a.value): shown(b.value) for a, b in ws.iter_rows(min_row=2, max_col=2) if a.value is not None}
    assert lines["统计期间"] == "2017-01-01 至 2017-06-30"
    assert lines["生成时间"] == "2017-07-03 09:02:03（北京时间）"
    assert lines["覆盖区县"] == "腾冲市（530581）"
    assert lines["历史名册导入"] == "累计数含 2016-12-31 前历史名册导入 1 人（标注“导入”）。"


def test_every_figure_is_a_number_at_its_place() -> None:
    """Given the sample, when rendered, then each table has its title, a bold header (a unit in it when the column
    has one) and its rows: figures as numbers (a rate with one decimal), ``—`` for nothing to measure, texts as
    they are."""
    report = sample_report()
    wb = workbook(report)
    seen = 0
    for section, name in zip(report.sections, SECTION_SHEETS, strict=True):
        ws = wb[name]
        assert ws["A1"].value == name
        for table in section.tables:
            top = table_top(ws, table.title)
            header = [shown(c.value) for c in ws[top][: len(table.columns)]]
            assert [h.split("（")[0] for h in header] == list(table.columns)
            assert all(c.font.b for c in ws[top][: len(table.columns)])
            assert ws.freeze_panes == f"A{top + 1}"
            for i, row in enumerate(table.rows, top + 1):
                for j, expected in enumerate(row, 1):
                    cell = ws.cell(i, j)
                    if isinstance(expected, str):
                        assert cell.data_type == "s" and shown(cell.value) == expected
                    elif expected.value is None:
                        assert (cell.data_type, cell.value) == ("s", "—")
                    else:
                        seen += 1
                        assert type(cell.value) in (int, float) and cell.data_type == "n"
                        assert cell.value == expected.value
                        if expected.unit == "%":
                            assert cell.number_format == "0.0"
    assert seen == 7
    assert wb["一、总体情况"].cell(table_top(wb["一、总体情况"], "累计与在册") - 1, 1).value == "（一）累计与在册"
    assert [shown(c.value) for c in wb["二、衔接时效"][4]] == ["事项", "机关", "按期率（%）", "最长迟延（日）"]


def test_text_that_looks_like_a_formula_stays_text() -> None:
    """Given the sample's hostile texts (in a table and in a member), when rendered, then each is a string cell that
    starts with an apostrophe and shows the text; no cell of any sheet is a formula and the sheets' XML holds no
    formula element."""
    data = xlsx(sample_report())
    wb = load_workbook(io.BytesIO(data))
    risk = wb["三、脱管漏管风险"]
    top = table_top(risk, "逾期未履行")
    assert [risk.cell(top + 1, 3).value, risk.cell(top + 2, 1).value, risk.cell(top + 2, 3).value] == [
        "'-5 天", "'@机关", "'=1+1"]
    appendix = wb[APPENDIX]
    odd = next(r for r in appendix.iter_rows(min_row=2) if r[6].value == FORMULA.person_key)
    assert odd[4].value == "'=HYPERLINK(\"http://x\")" and shown(odd[4].value) == FORMULA.name
    assert odd[10].value == "'+1 -1 @SUM(A1)" and shown(odd[10].value) == FORMULA.note
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate)
                if isinstance(cell.value, str):
                    assert cell.data_type == "s"
                    assert not cell.value.startswith(FORMULA_CHARS), (ws.title, cell.coordinate, cell.value)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        assert len(sheets) == 6
        for n in sheets:
            assert not re.search(rb"<(\w+:)?f[ >]", z.read(n)), n


def test_negative_numbers_stay_numbers() -> None:
    """Given a figure of -2 and a rate of -0.5, when rendered, then both are numbers, not escaped text."""
    row = ("接收", Figure("d", "差额", -2), Figure("r", "变化", -0.5, "%"))
    table = Table("t", "差异", ("项目", "差额", "变化"), (row,))
    report = dataclasses.replace(sample_report(), sections=(Section("discrepancies", 1, "差异", tables=(table,)),))
    ws = workbook(report)["一、差异"]
    top = table_top(ws, "差异")
    assert [ws.cell(top + 1, 2).value, ws.cell(top + 1, 3).value] == [-2, -0.5]
    assert ws.cell(top + 1, 3).data_type == "n" and ws.cell(top + 1, 3).number_format == "0.0"


def test_appendix_has_one_row_per_figure_and_member() -> None:
    """Given the sample, when rendered, then the appendix has a header and one row per figure and member, in the
    order of the report's figures, with the value as a number, the person, the day, 是/否 for imported and the
    message ids."""
    report = sample_report()
    ws = workbook(report)[APPENDIX]
    assert [c.value for c in ws[1]] == list(APPENDIX_COLUMNS)
    assert ws.freeze_panes == "A2"
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=2)]
    expected = [(f, m) for f in report.figures().values() for m in f.members]
    assert len(rows) == len(expected) == 6
    for row, (figure, member) in zip(rows, expected, strict=True):
        assert row[0] == figure.id and row[1] == figure.label
        assert row[2] == figure.value and type(row[2]) in (int, float)
        # the ID number, and the person key that is one, masked as the PDF and HTML print them
        assert shown(row[4]) == member.name and row[6] == masked(member.person_key)
        assert (row[5] or None) == masked(member.id_number) and (row[7] or None) == member.case_key
        assert row[11] == ("是" if member.imported else "否")
        assert (row[13] or "") != ""
    first = rows[0]
    assert first[5] == "530581********0337" and first[6] == "530581********0337"
    assert first[8] == "530581SF" and first[10] == "迟延 3 日"
    assert first[9] == dt.datetime(2017, 3, 2) and first[12] == "m-1 m-2"
    assert rows[1][4] == LI.name and rows[1][11] == "是"
    assert rows[5][13] == "三、脱管漏管风险／逾期未履行／530581SF／人数；三、脱管漏管风险／逾期未履行／@机关／人数"


def masked(value: str | None) -> str | None:
    """What the report prints for an ID number: its first six and last four characters, ``*`` between; any other
    value (a sender's own reference) as it is."""
    if value is None or not re.fullmatch(r"\d{17}[\dX]|\d{15}", value):
        return value
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def test_no_id_number_is_written_whole_in_the_workbook_or_the_json() -> None:
    """Given the sample's persons with ID numbers, when rendered as XLSX and as JSON with members, then no ID number
    appears whole anywhere in the workbook's parts or the JSON, and each appears masked."""
    report = sample_report()
    numbers = {m.id_number for f in report.figures().values() for m in f.members if m.id_number}
    assert numbers == {WANG.id_number, LI.id_number}
    with zipfile.ZipFile(io.BytesIO(xlsx(report))) as z:
        parts = "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    text = json.dumps(as_json(report, members=True), ensure_ascii=False) + json.dumps(
        figure_json(report.figures()["overview.received_total"]), ensure_ascii=False)
    for number in numbers:
        assert number not in parts and number not in text
        assert masked(number) in parts and masked(number) in text


def test_figures_link_to_their_first_row_in_the_appendix() -> None:
    """Given the sample, when rendered, then a figure with members links to the appendix row of its first member,
    and a figure without members links nowhere."""
    wb = workbook(sample_report())
    ws = wb["一、总体情况"]
    top = table_top(ws, "累计与在册")
    received, released = ws.cell(top + 1, 2), ws.cell(top + 2, 2)
    assert released.hyperlink is None
    assert received.hyperlink is not None and received.hyperlink.location is not None
    sheet, cell = received.hyperlink.location.rsplit("!", 1)
    assert sheet == f"'{APPENDIX}'"
    assert wb[APPENDIX][cell].value == "overview.received_total"


def test_charts_are_tables_with_native_charts() -> None:
    """Given the sample's charts, when rendered, then each is a table of categories by series on its section's
    sheet (no value an empty cell) with a chart drawn from it."""
    data = xlsx(sample_report())
    ws = load_workbook(io.BytesIO(data))["六、图表"]
    top = table_top(ws, "月度接收与解除（单位：人）")
    table = [[c.value for c in r] for r in ws.iter_rows(min_row=top, max_row=top + 3, max_col=3)]
    assert table == [["分类", "接收", "解除"], ["2017-01", 3, 1], ["2017-02", 0, 2], ["2017-03", 5, None]]
    assert ws.cell(table_top(ws, "月度接收与解除（单位：人）") - 1, 1).value == "（一）月度接收与解除（单位：人）"
    top = table_top(ws, "在册人数（单位：人）")
    assert ws.cell(top - 1, 1).value == "（二）在册人数（单位：人）"
    assert [ws.cell(top + 3, 1).value, ws.cell(top + 3, 2).value] == ["2017-03", 45]
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        charts = sorted(n for n in z.namelist() if n.startswith("xl/charts/chart"))
        assert len(charts) == 2
        assert b"barChart" in z.read(charts[0]) and b"lineChart" in z.read(charts[1])


def test_units_mixed_in_a_column_go_with_each_number() -> None:
    """Given a column holding a rate and a delay, when rendered, then the header has no unit and each number shows
    its own unit through its number format."""
    rows = (("A", Figure("r", "按期率", 50.0, "%")), ("B", Figure("d", "迟延", 4, "日")))
    table = Table("t", "时效", ("机关", "指标"), rows)
    report = dataclasses.replace(sample_report(), sections=(Section("timeliness", 2, "时效", tables=(table,)),))
    ws = workbook(report)["二、时效"]
    top = table_top(ws, "时效")
    assert ws.cell(top, 2).value == "指标"
    assert [ws.cell(top + 1, 2).number_format, ws.cell(top + 2, 2).number_format] == ['0.0"%"', '0"日"']


def test_sheet_names_stay_valid_and_distinct() -> None:
    """Given section titles with characters Excel refuses, longer than a sheet name, and the same twice, when
    rendered, then every sheet name is valid and distinct."""
    titles = ["a/b:c*d?[e]\\f", "很长的标题" * 10, "很长的标题" * 10, "'引号'", "附录：明细"]
    sections = tuple(Section(f"s{i}", i + 1, t) for i, t in enumerate(titles))
    wb = workbook(dataclasses.replace(sample_report(), sections=sections))
    assert len(wb.sheetnames) == len(titles) + 2
    assert len({n.casefold() for n in wb.sheetnames}) == len(wb.sheetnames)
    assert wb.sheetnames[1] == "一、a／b：c＊d？［e］＼f"
    for name in wb.sheetnames:
        assert_valid_sheet_name(name)


def test_text_longer_than_a_cell_is_cut_visibly() -> None:
    """Given a note longer than Excel keeps in a cell, when rendered, then the cell holds Excel's maximum, ending
    with …."""
    stored = escape_text("=" + "长" * 40000)
    assert len(stored) == 32767 and stored.startswith("'=") and stored.endswith("…")
    wide = escape_text("😀" * 20000)
    assert wide.endswith("…") and sum(2 if ord(c) > 0xFFFF else 1 for c in wide) == 32767


@settings(max_examples=150, deadline=None)
@given(cell_text=st.text() | TRICKY, name=st.text() | TRICKY)
def test_any_text_comes_back_as_text(cell_text: str, name: str) -> None:
    """Given any text in a table cell and as a member's name, when rendered and read back, then neither cell is a
    formula and each shows the text once the escaping apostrophe is dropped (and ``_xHHHH_`` read as Excel reads
    it) — except the control characters XML cannot carry, which show as U+FFFD."""
    wb = workbook(one_figure_report(cell_text, name))
    ws = wb["一、总体情况"]
    table_cell = ws.cell(table_top(ws, "表") + 1, 1)
    name_cell = wb[APPENDIX].cell(2, 5)
    for cell, text in ((table_cell, cell_text), (name_cell, name)):
        assert cell.data_type != "f"
        assert cell.value is None or cell.data_type == "s"
        assert not excel_shows(cell.value).startswith(FORMULA_CHARS)
        assert shown(cell.value) == ILLEGAL.sub("\ufffd", text)
        assert cell.value is None or unescape_text(str(cell.value)) == shown(cell.value)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=4))
def test_any_section_titles_make_valid_sheet_names(titles: list[str]) -> None:
    """Given any section titles, when rendered, then the workbook opens with a valid, distinct name per sheet."""
    sections = tuple(Section(f"s{i}", i + 1, t) for i, t in enumerate(titles))
    wb = workbook(dataclasses.replace(sample_report(), sections=sections))
    assert len({n.casefold() for n in wb.sheetnames}) == len(titles) + 2
    for name in wb.sheetnames:
        assert_valid_sheet_name(name)


# ---- JSON -------------------------------------------------------------------------------------------------------


def test_json_round_trips_with_the_report_structure() -> None:
    """Given the sample, when rendered as JSON, then it survives json.dumps (no NaN), dates are ISO, the generation
    time carries its offset, and each figure sits at its section, table, row and column."""
    out = as_json(sample_report())
    assert json.loads(json.dumps(out, allow_nan=False, ensure_ascii=False)) == out
    assert out["title"] == "保山市腾冲市社区矫正工作联席会议对账报告"
    assert out["period"] == {"from": "2017-01-01", "to": "2017-06-30"}
    assert out["today"] == "2017-07-03"
    assert dt.datetime.fromisoformat(out["generated_at"]) == dt.datetime(2017, 7, 3, 1, 2, 3, tzinfo=dt.UTC)
    assert out["generated_at"].endswith("+08:00")
    overview = out["sections"][0]
    assert overview["id"] == "overview" and overview["number"] == 1
    assert overview["tables"][0]["rows"][0] == [
        {"text": "累计接收"}, {"text": "2", "figure": "overview.received_total", "value": 2, "unit": "人"}]
    timeliness = out["sections"][1]["tables"][0]["rows"]
    assert timeliness[0][2]["value"] == 66.7 and timeliness[1][2] == {
        "text": "—", "figure": "timeliness.receipt.530581SF.rate", "value": None, "unit": "%"}
    chart = out["sections"][3]["charts"][0]
    assert chart["series"][1] == {"name": "解除", "values": [1, 2, None]}


def test_json_figures_by_id_with_members_only_when_asked() -> None:
    """Given the sample, when rendered as JSON, then every figure is in the flat map with its places and member
    count, and its members only with members=True."""
    report = sample_report()
    brief, full = as_json(report), as_json(report, members=True)
    assert set(brief["figures"]) == set(full["figures"]) == set(report.figures())
    for figure_id, figure in report.figures().items():
        entry = brief["figures"][figure_id]
        assert {k: entry[k] for k in ("id", "label", "unit", "imported", "member_count")} == {
            "id": figure.id, "label": figure.label, "unit": figure.unit, "imported": figure.imported,
            "member_count": len(figure.members)}
        assert "members" not in entry
        assert [m["person_key"] for m in full["figures"][figure_id]["members"]] == [
            masked(m.person_key) for m in figure.members]
    assert brief["figures"]["overview.received_total"]["imported"] == 1
    assert brief["figures"]["at_risk.530581SF.total"]["places"] == [
        {"section": "at_risk", "table": "at_risk.by_agency", "row": 0, "column": 1},
        {"section": "at_risk", "table": "at_risk.by_agency", "row": 1, "column": 1}]
    assert json.loads(json.dumps(full, allow_nan=False)) == full


def test_figure_json_lists_every_member() -> None:
    """Given a figure with two members (one imported), when drilled down, then both are listed with their persons,
    cases, days, notes and messages."""
    figure = sample_report().figures()["overview.received_total"]
    out = figure_json(figure)
    assert (out["id"], out["value"], out["text"], out["member_count"]) == ("overview.received_total", 2, "2", 2)
    assert out["members"] == [
        {"person_key": "530581********0337", "name": "王小明", "id_number": "530581********0337",
         "case_key": "530502FY|（2026）云0502刑初123号", "agency": "530581SF", "message_ids": ["m-1", "m-2"],
         "on": "2017-03-02", "note": "迟延 3 日", "imported": False},
        {"person_key": "530581********1234", "name": "李四", "id_number": "530581********1234", "case_key": None,
         "agency": None, "message_ids": [], "on": "2016-05-01", "note": "", "imported": True}]
    assert json.loads(json.dumps(out)) == out


def test_json_has_no_nan() -> None:
    """Given a figure whose value is not a finite number, when rendered as JSON, then its value is null."""
    member = Member("k", "某", None)
    out = figure_json(Figure("x", "比率", math.nan, "%", members=(member,)))
    assert (out["value"], out["text"]) == (None, "—")
    assert json.dumps(out, allow_nan=False)
