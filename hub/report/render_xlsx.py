"""The joint-meeting report as an XLSX workbook: a cover, one sheet per section, and the drill-down appendix with
one row per figure and person behind it, so that every number can be traced to the persons it counts.

Figures are written as numbers (a rate with the format ``0.0``, its unit in the column header), ``—`` as text when
there is nothing to measure, and a figure with members links to its first row in the appendix. Every text is
written as text, never as a formula: see ``escape_text``. The workbook is written in openpyxl's write-only mode,
so a large appendix is streamed rather than held as a grid of cells.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterator, Sequence

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, Cell
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.hyperlink import Hyperlink

from hub.core.idnumber import masked_id_number
from hub.report.model import Chart, Figure, Member, Report, Section, Table, Value
from hub.report.render_json import json_value, masked_person_key
from hub.report.words import beijing, chinese_numeral, report_title

COVER = "封面"
APPENDIX = "附录：明细"
NONE_TEXT = "—"  # a figure with nothing to measure
APPENDIX_COLUMNS = ("指标编号", "指标", "数值", "单位", "姓名", "身份证号", "人员标识", "案件标识", "机关", "日期",
                    "说明", "导入", "消息编号", "所在位置")

# A text starting with one of these is written after an apostrophe: Excel and WPS take =, +, -, @ (and their
# full-width forms, and a tab or carriage return in front of one) for the start of a formula. A text that itself
# starts with an apostrophe gets one more, so that dropping the first apostrophe always gives the text back.
FORMULA_START = frozenset("=+-@\t\r＝＋－＠'")
# What XML 1.0 cannot carry (openpyxl refuses the control characters): shown as U+FFFD.
ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
REPLACEMENT = "\ufffd"
# Excel reads _xHHHH_ in a cell's text as the character U+HHHH: the underscore that starts such a sequence (in
# either case) is written _x005F_ (an underscore), so that the text shows as it is.
_XSTRING_START = re.compile("_(?=[xX][0-9A-Fa-f]{4}_)")
_XSTRING_CODE = re.compile("_[xX]([0-9A-Fa-f]{4})_")
MAX_CELL_UNITS = 32767  # UTF-16 code units Excel keeps in one cell
MAX_SHEET_NAME = 31
_SHEET_CHARS = str.maketrans({"[": "［", "]": "］", ":": "：", "*": "＊", "?": "？", "/": "／", "\\": "＼",
                              "\t": " ", "\n": " ", "\r": " "})

HEADING = Font(bold=True, size=14)
TITLE = Font(bold=True, size=12)
BOLD = Font(bold=True)
NOTE = Font(italic=True, color="666666")
LINK = Font(color="0563C1", underline="single")
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
WRAP = Alignment(wrap_text=True, vertical="top")
RIGHT = Alignment(horizontal="right")
CHART_ROWS = 17  # rows a chart of the default 7.5 cm covers, and a little space


def escape_text(text: str) -> str:
    """``text`` as a cell stores it: characters XML cannot carry as U+FFFD, an ``_xHHHH_`` sequence kept as it
    is, an apostrophe in front when the text starts with a character of ``FORMULA_START``; cut at Excel's length
    of a cell (with ``…``)."""
    stored = _XSTRING_START.sub("_x005F_", ILLEGAL.sub(REPLACEMENT, text))
    if stored[:1] in FORMULA_START:
        stored = "'" + stored
    return _clip(stored, MAX_CELL_UNITS, "…")


def unescape_text(stored: str) -> str:
    """The text a cell written by ``escape_text`` shows, without the apostrophe put in front of it: the text
    given to ``escape_text`` (with U+FFFD for what XML cannot carry)."""
    shown = _XSTRING_CODE.sub(lambda m: chr(int(m.group(1), 16)), stored)
    return shown[1:] if shown[:1] == "'" else shown


def xlsx(report: Report) -> bytes:
    """The report as an XLSX workbook: ``封面``, one sheet per section, then ``附录：明细``."""
    wb = Workbook(write_only=True)
    wb.properties.title = ILLEGAL.sub(REPLACEMENT, report_title(report))
    wb.properties.creator = "Xianjie"
    names = _sheet_names(report.sections)
    links = _appendix_rows(report)
    places = _places(report)
    _cover(wb, report, names)
    for section, name in zip(report.sections, names, strict=True):
        _section_sheet(wb, section, name, links)
    rest = _appendix(wb, report, places)
    out = io.BytesIO()
    wb.save(out)
    return _append_rows(out.getvalue(), rest) if rest else out.getvalue()


def heading(section: Section) -> str:
    """The section's heading as printed: ``一、总体情况`` (its tables and charts are numbered ``（一）`` …)."""
    return f"{chinese_numeral(section.number)}、{section.title}"


# ---- cells ------------------------------------------------------------------------------------------------------


def _text(ws: WriteOnlyWorksheet, text: str, font: Font | None = None, alignment: Alignment | None = None) -> Cell:
    """A text cell: always of type string (never a formula, nor an error value such as ``#N/A``)."""
    stored = escape_text(text)
    cell = WriteOnlyCell(ws, stored or None)
    if stored:
        cell.data_type = "s"
    if font is not None:
        cell.font = font
    if alignment is not None:
        cell.alignment = alignment
    return cell


def _header(ws: WriteOnlyWorksheet, texts: Sequence[str]) -> list[Cell]:
    cells = [_text(ws, t, BOLD) for t in texts]
    for c in cells:
        c.fill = HEADER_FILL
    return cells


def _plain(ws: WriteOnlyWorksheet, text: str) -> str | Cell | None:
    """An unstyled text cell: the stored text itself (a write-only sheet then reuses one cell object), or a cell of
    type string when openpyxl would take the stored text for an error value."""
    stored = escape_text(text)
    if stored in ERROR_CODES:
        return _text(ws, text)
    return stored or None


def _number_format(value: int | float, unit: str, unit_suffix: bool) -> str:
    fmt = "0.0" if isinstance(value, float) or unit == "%" else "General"
    if unit_suffix and unit and '"' not in unit:
        fmt = ("0" if fmt == "General" else fmt) + f'"{unit}"'
    return fmt


def _value_cell(ws: WriteOnlyWorksheet, value: Value, unit: str, *, unit_suffix: bool = False) -> Cell | int:
    """A figure's value: a number (a bare int needs no cell of its own), or ``—`` as text."""
    number = json_value(value)
    if number is None:
        return _text(ws, NONE_TEXT, alignment=RIGHT)
    fmt = _number_format(number, unit, unit_suffix)
    if fmt == "General" and isinstance(number, int):
        return number
    cell = WriteOnlyCell(ws, number)
    cell.number_format = fmt
    return cell


def _figure_cell(ws: WriteOnlyWorksheet, figure: Figure, *, unit_suffix: bool, link_row: int | None) -> Cell | int:
    value = _value_cell(ws, figure.value, figure.unit, unit_suffix=unit_suffix)
    if link_row is None or not figure.members:
        return value
    cell = value if isinstance(value, Cell) else WriteOnlyCell(ws, value)
    imported = f"，含历史名册导入 {figure.imported}" if figure.imported else ""
    tip = ILLEGAL.sub(REPLACEMENT, f"{figure.label}：明细 {len(figure.members)} 条{imported}（{figure.id}）")
    cell.hyperlink = Hyperlink(ref=cell.coordinate, location=f"{quote_sheetname(APPENDIX)}!A{link_row}",
                               tooltip=_clip(tip, 255, ""))
    cell.font = LINK
    return cell


def _display_width(value: object) -> int:
    """Roughly how many widths of ``0`` the value takes: a Chinese character two."""
    if isinstance(value, str):
        return max(sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
                   for line in value[:120].split("\n"))
    if isinstance(value, float):
        return len(f"{value:.1f}")
    if isinstance(value, int):
        return len(str(value))
    if isinstance(value, dt.date):
        return 10
    return 0


class _Rows:
    """The rows of a sheet, kept until its column widths are known: a write-only sheet writes its widths and frozen
    panes with its first row."""

    def __init__(self, ws: WriteOnlyWorksheet) -> None:
        self.ws = ws
        self.rows: list[list[Cell | int | None]] = []
        self.widths: dict[int, int] = {}

    @property
    def last(self) -> int:
        return len(self.rows)

    def add(self, cells: Sequence[Cell | int | None] = (), *, measure: bool = True) -> int:
        self.rows.append(list(cells))
        if measure:
            self.measure(cells)
        return len(self.rows)

    def measure(self, cells: Sequence[Cell | object | None]) -> None:
        for i, c in enumerate(cells, 1):
            value = c.value if isinstance(c, Cell) else c
            if value is not None:
                self.widths[i] = max(self.widths.get(i, 0), _display_width(value))

    def write(self, *, freeze: str | None, min_width: int = 8, max_width: int = 50) -> None:
        _set_widths(self.ws, self.widths, min_width, max_width)
        if freeze is not None:
            self.ws.freeze_panes = freeze
        for row in self.rows:
            self.ws.append(row)


def _set_widths(ws: WriteOnlyWorksheet, widths: dict[int, int], min_width: int, max_width: int) -> None:
    for col, w in widths.items():
        ws.column_dimensions[get_column_letter(col)].width = min(max(w + 2, min_width), max_width)  # type: ignore[attr-defined]


# ---- sheets -----------------------------------------------------------------------------------------------------


def _cover(wb: Workbook, report: Report, names: Sequence[str]) -> None:
    ws: WriteOnlyWorksheet = wb.create_sheet(COVER)
    rows = _Rows(ws)
    rows.add([_text(ws, report_title(report), Font(bold=True, size=16))], measure=False)
    rows.add()

    def line(label: str, value: str, link: str | None = None) -> None:
        cell = _text(ws, value, alignment=WRAP)
        if link is not None:
            cell.hyperlink = Hyperlink(ref=cell.coordinate, location=link)
            cell.font = LINK
        rows.add([_text(ws, label, BOLD, Alignment(vertical="top")), cell])

    generated = beijing(report.generated_at)
    line("地区", f"{report.area_name}（{report.division}）")
    line("统计期间", f"{report.period_from.isoformat()} 至 {report.period_to.isoformat()}")
    line("对比期间", f"{report.previous_from.isoformat()} 至 {report.previous_to.isoformat()}")
    line("基准日", report.today.isoformat())
    line("生成时间", f"{generated:%Y-%m-%d %H:%M:%S}（北京时间）")
    line("覆盖区县", "、".join(f"{name}（{code}）" for code, name in report.counties))
    if report.imported_note:
        line("历史名册导入", report.imported_note)
    for note in report.notes:
        line("说明", note)
    rows.add()
    for section, name in zip(report.sections, names, strict=True):
        line("目录", heading(section), f"{quote_sheetname(name)}!A1")
    line("目录", APPENDIX, f"{quote_sheetname(APPENDIX)}!A1")
    _set_widths(ws, {1: 12, 2: 80}, 8, 80)
    for row in rows.rows:
        ws.append(row)


def _column_units(table: Table) -> dict[int, str | None]:
    """For each column holding figures: their one unit, or None when the column mixes units."""
    units: dict[int, set[str]] = {}
    for row in table.rows:
        for j, c in enumerate(row):
            if isinstance(c, Figure):
                units.setdefault(j, set()).add(c.unit)
    return {j: next(iter(u)) if len(u) == 1 else None for j, u in units.items()}


def _header_text(column: str, unit: str | None) -> str:
    return f"{column}（{unit}）" if unit and unit not in column else column


def _section_sheet(wb: Workbook, section: Section, name: str, links: dict[str, int]) -> None:
    ws: WriteOnlyWorksheet = wb.create_sheet(name)
    rows = _Rows(ws)
    rows.add([_text(ws, heading(section), HEADING)], measure=False)
    if section.note:
        rows.add([_text(ws, section.note, NOTE)], measure=False)
    first_header: int | None = None
    for i, table in enumerate(section.tables, 1):
        rows.add()
        rows.add([_text(ws, f"（{chinese_numeral(i)}）{table.title}", TITLE)], measure=False)
        units = _column_units(table)
        header = rows.add(_header(ws, [_header_text(c, units.get(j)) for j, c in enumerate(table.columns)]))
        first_header = first_header or header
        for row in table.rows:
            rows.add([_figure_cell(ws, c, unit_suffix=units.get(j) is None, link_row=links.get(c.id))
                      if isinstance(c, Figure) else _text(ws, c) for j, c in enumerate(row)])
        if table.note:
            rows.add([_text(ws, table.note, NOTE)], measure=False)
    for i, chart in enumerate(section.charts, len(section.tables) + 1):
        _chart_rows(ws, rows, chart, f"（{chinese_numeral(i)}）")
    single = len(section.tables) == 1 and not section.charts
    rows.write(freeze=f"A{first_header + 1}" if single and first_header else "A2")


def _chart_rows(ws: WriteOnlyWorksheet, rows: _Rows, chart: Chart, number: str) -> None:
    """The chart's data as a table (a category a row, a series a column; no value an empty cell, so that the chart
    leaves a gap), and a native chart drawn from it to the right."""
    rows.add()
    top = rows.add([_text(ws, f"{number}{chart.title}（单位：{chart.unit}）", TITLE)], measure=False)
    header = rows.add(_header(ws, ["分类", *(name for name, _ in chart.series)]))
    for k, category in enumerate(chart.categories):
        values = [json_value(v[k]) if k < len(v) else None for _, v in chart.series]
        rows.add([_text(ws, category), *(None if v is None else _value_cell(ws, v, chart.unit) for v in values)])
    last = rows.last
    if chart.categories and chart.series:
        drawn = BarChart() if chart.kind == "bar" else LineChart()
        drawn.title = ILLEGAL.sub(REPLACEMENT, chart.title)
        drawn.y_axis.title = ILLEGAL.sub(REPLACEMENT, chart.unit)
        drawn.x_axis.delete = False
        drawn.y_axis.delete = False
        drawn.add_data(Reference(ws, min_col=2, max_col=1 + len(chart.series), min_row=header, max_row=last),
                       titles_from_data=True)
        drawn.set_categories(Reference(ws, min_col=1, min_row=header + 1, max_row=last))
        ws.add_chart(drawn, f"{get_column_letter(len(chart.series) + 3)}{top}")  # type: ignore[misc]
        while rows.last < top + CHART_ROWS:
            rows.add()


def _member_cells(ws: WriteOnlyWorksheet, figure: Figure, member: Member, place: str) -> list[Cell | object | None]:
    day: Cell | None = None
    if member.on is not None:
        day = WriteOnlyCell(ws)
        day.value = member.on
        day.number_format = "yyyy-mm-dd"
    texts = _member_texts(member)
    return [_plain(ws, figure.id), _plain(ws, figure.label), _value_cell(ws, figure.value, figure.unit),
            _plain(ws, figure.unit), *(_plain(ws, t) for t in texts), day, _plain(ws, member.note),
            "是" if member.imported else "否", _plain(ws, " ".join(member.message_ids)), _plain(ws, place)]


def _appendix(wb: Workbook, report: Report, places: dict[str, str]) -> list[list[str | int | float | dt.date | None]]:
    """The appendix sheet with its header and first row; the values of the rows after it (``_append_rows``)."""
    ws: WriteOnlyWorksheet = wb.create_sheet(APPENDIX)
    widths = _Rows(ws)
    header = _header(ws, APPENDIX_COLUMNS)
    widths.measure(header)
    for n, (figure, member) in enumerate(_pairs(report)):
        if n == 1000:
            break
        widths.measure(_member_cells(ws, figure, member, places.get(figure.id, "")))
    _set_widths(ws, widths.widths, 8, 40)
    ws.freeze_panes = "A2"
    ws.print_title_rows = "1:1"
    ws.append(header)
    pairs = list(_pairs(report))
    if pairs:  # the first row through openpyxl: its cells give the styles of the rest (``_append_rows``)
        figure, member = pairs[0]
        ws.append(_member_cells(ws, figure, member, places.get(figure.id, "")))
    ws.auto_filter.ref = f"A1:{get_column_letter(len(APPENDIX_COLUMNS))}{len(pairs) + 1}"  # type: ignore[attr-defined]
    return [_member_values(figure, member, places.get(figure.id, "")) for figure, member in pairs[1:]]


# ---- the appendix's rows, written as the sheet's XML --------------------------------------------------------------
# A county's report has some 100,000 (figure, person) rows of 14 cells; through openpyxl's cell objects they took
# most of the workbook's time. The rows after the first are written straight into the saved sheet's XML, each cell
# with the style openpyxl gave the same column in the first row.

_EXCEL_EPOCH = dt.date(1899, 12, 30)
_ROW_TWO = re.compile(r'<row r="2"[^>]*>(.*?)</row>', re.S)
_CELL_STYLE = re.compile(r'<c r="([A-Z]+)2"[^>]*?\bs="(\d+)"')


def _member_values(figure: Figure, member: Member, place: str) -> list[str | int | float | dt.date | None]:
    """The appendix row of a figure and one of its persons, as values (texts escaped as every text cell is)."""
    number = json_value(figure.value)
    texts = _member_texts(member)
    return [escape_text(figure.id), escape_text(figure.label), NONE_TEXT if number is None else number,
            escape_text(figure.unit), *(escape_text(t) for t in texts), member.on, escape_text(member.note),
            "是" if member.imported else "否", escape_text(" ".join(member.message_ids)), escape_text(place)]


def _member_texts(member: Member) -> tuple[str, str, str, str, str]:
    """A person's text cells in the appendix; the ID number (and a person key that is one) masked as the PDF and
    HTML print it."""
    return (member.name, masked_id_number(member.id_number), masked_person_key(member.person_key),
            member.case_key or "", member.agency or "")


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _append_rows(workbook: bytes, rows: list[list[str | int | float | dt.date | None]]) -> bytes:
    """``workbook`` with ``rows`` added to its last sheet (the appendix) after its second row."""
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(workbook))
    sheets = [n for n in source.namelist() if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)]
    name = max(sheets, key=lambda n: int(re.findall(r"\d+", n)[-1]))
    xml = source.read(name).decode("utf-8")
    found = _ROW_TWO.search(xml)
    assert found is not None, "the appendix's first row"
    styles = {col: f' s="{style}"' for col, style in _CELL_STYLE.findall(found.group(0))}
    letters = [get_column_letter(i + 1) for i in range(len(APPENDIX_COLUMNS))]
    out: list[str] = []
    for r, values in enumerate(rows, start=3):
        cells = [f'<row r="{r}">']
        for letter, v in zip(letters, values, strict=True):
            if v is None or v == "":
                continue
            if isinstance(v, str):
                cells.append(f'<c r="{letter}{r}" t="inlineStr"><is><t xml:space="preserve">{_xml_text(v)}</t>'
                             "</is></c>")
            elif isinstance(v, dt.date):
                cells.append(f'<c r="{letter}{r}"{styles.get(letter, "")}><v>{(v - _EXCEL_EPOCH).days}</v></c>')
            else:
                cells.append(f'<c r="{letter}{r}"><v>{v}</v></c>')
        cells.append("</row>")
        out.append("".join(cells))
    last = len(rows) + 2
    xml = xml.replace("</sheetData>", "".join(out) + "</sheetData>", 1)
    xml = re.sub(r'<dimension ref="[A-Z]+1:([A-Z]+)\d+"/>', lambda m: f'<dimension ref="A1:{m.group(1)}{last}"/>', xml,
                 count=1)
    target = io.BytesIO()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dest:
        for item in source.infolist():
            dest.writestr(item, xml.encode("utf-8") if item.filename == name else source.read(item.filename))
    return target.getvalue()


def _pairs(report: Report) -> Iterator[tuple[Figure, Member]]:
    for figure in report.figures().values():
        for member in figure.members:
            yield figure, member


def _appendix_rows(report: Report) -> dict[str, int]:
    """The appendix row of each figure's first member (row 1 is the header)."""
    out: dict[str, int] = {}
    row = 2
    for figure_id, figure in report.figures().items():
        if figure.members:
            out[figure_id] = row
            row += len(figure.members)
    return out


def _places(report: Report) -> dict[str, str]:
    """Where each figure is printed: ``一、总体情况／累计与在册／累计接收／人数`` (several places joined by ``；``)."""
    out: dict[str, list[str]] = {}
    for section in report.sections:
        for table in section.tables:
            for row in table.rows:
                label = next((c for c in row if isinstance(c, str)), "")
                for j, c in enumerate(row):
                    if isinstance(c, Figure):
                        column = table.columns[j] if j < len(table.columns) else ""
                        where = "／".join(p for p in (heading(section), table.title, label, column) if p)
                        out.setdefault(c.id, []).append(where)
    return {k: "；".join(v) for k, v in out.items()}


# ---- names ------------------------------------------------------------------------------------------------------



def _units16(text: str) -> int:
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


def _clip(text: str, units: int, mark: str) -> str:
    """``text`` cut to at most ``units`` UTF-16 code units, ending with ``mark`` when cut."""
    if len(text) * 2 <= units or _units16(text) <= units:
        return text
    room, used = units - _units16(mark), 0
    for i, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > room:
            return text[:i] + mark
    return text


def _sheet_names(sections: Sequence[Section]) -> list[str]:
    """A sheet name per section: its heading without the characters Excel refuses (``[]:*?/\\`` as their
    full-width forms), no apostrophe at either end, at most 31 characters, unique regardless of case."""
    used = {COVER.casefold(), APPENDIX.casefold(), "history"}
    out: list[str] = []
    for section in sections:
        base = ILLEGAL.sub(REPLACEMENT, heading(section)).translate(_SHEET_CHARS).strip().strip("'") or "Sheet"
        name, n = _clip(base, MAX_SHEET_NAME, "").rstrip("'"), 1
        while not name or name.casefold() in used:
            n += 1
            suffix = f"（{n}）"
            name = _clip(base, MAX_SHEET_NAME - len(suffix), "").rstrip("'") + suffix
        used.add(name.casefold())
        out.append(name)
    return out
