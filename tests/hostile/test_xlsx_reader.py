"""The ledger's streaming XLSX reader gives each cell the value openpyxl's own read-only reader gives (the reader it
replaced), for every kind of cell; and its limits are counted exactly, across chunk boundaries."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from openpyxl import Workbook, load_workbook

from adapters.ledger import xlsx
from adapters.ledger.native import LedgerFormatError, read_rows
from tests.hostile.corpus import CONTENT_TYPES

NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


Rows = dict[int, tuple[object, ...]]


def openpyxl_rows(data: bytes) -> Rows:
    """Row number → values of every row with a value, as openpyxl's read-only reader gives them."""
    wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        return {n: tuple(r) for n, r in enumerate(wb.worksheets[0].values, 1) if any(v is not None for v in r)}
    finally:
        wb.close()


def streamed_rows(data: bytes) -> Rows:
    source = xlsx.open_sheet(data, xlsx.LIMITS, "台账")
    try:
        return {n: tuple(values) for n, values in source.rows() if any(v is not None for v in values)}
    finally:
        source.reader.archive.close()


def padded(rows: Rows) -> Rows:
    width = max((len(r) for r in rows.values()), default=0)
    return {n: r + (None,) * (width - len(r)) for n, r in rows.items()}


def test_every_kind_of_cell_reads_as_openpyxl_reads_it() -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["事项", "日期", "时间", "数", "小数", "真假", "公式", "空", "长文本"])
    ws.append(["警告", dt.date(2026, 7, 3), dt.datetime(2026, 7, 3, 9, 30), 42, 3.25, True, "=1+1", None,
               "予以警告。" * 50])
    ws.append(["训诫", dt.datetime(1999, 12, 31), dt.time(8, 0), -7, 1e-9, False, "=A1", "", "<b>&amp;</b>"])
    ws.cell(row=5, column=3, value="跳过一行")
    ws.cell(row=6, column=12, value=12)
    out = io.BytesIO()
    wb.save(out)
    data = out.getvalue()
    assert padded(streamed_rows(data)) == padded(openpyxl_rows(data))


def shared_string_workbook(sheet_rows: bytes, strings: list[bytes]) -> bytes:
    """An openpyxl workbook whose sheet is replaced by ``sheet_rows`` and which carries a declared shared-string
    table, the way Excel saves text."""
    wb = Workbook()
    out = io.BytesIO()
    wb.save(out)
    src = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    dest_buf = io.BytesIO()
    with zipfile.ZipFile(dest_buf, "w", zipfile.ZIP_DEFLATED) as dest:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                content = b'<worksheet %s><sheetData>%s</sheetData></worksheet>' % (NS, sheet_rows)
            if info.filename == "[Content_Types].xml":
                content = content.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="'
                                          + CONTENT_TYPES["xl/sharedStrings.xml"] + b'"/></Types>')
            dest.writestr(info, content)
        sst = b"".join(strings)
        dest.writestr("xl/sharedStrings.xml", b'<sst %s count="%d">%s</sst>' % (NS, len(strings), sst))
    return dest_buf.getvalue()


def test_shared_strings_rich_text_booleans_errors_and_cells_without_references_read_as_openpyxl_reads_them() -> None:
    strings = [b"<si><t>\xe5\xa7\x93\xe5\x90\x8d</t></si>", b"<si><r><t>\xe5\xbc\xa0</t></r><r><rPr><b/></rPr>"
               b"<t>\xe4\xb8\x89</t></r></si>", b'<si><t xml:space="preserve"> x_x005F_y </t></si>', b"<si><t/></si>"]
    rows = (b'<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c>'
            b'<c r="D1" t="s"><v>3</v></c></row>'
            b'<row r="3"><c t="b"><v>1</v></c><c t="e"><v>#N/A</v></c><c t="str"><v>text</v></c><c><v>1.5E3</v></c>'
            b'<c t="n"/><c t="inlineStr"><is><r><t>a</t></r><r><t>b</t></r></is></c></row>'
            b'<row><c r="B4" t="inlineStr"><is><t>next</t></is></c><c><v>7</v></c></row>')
    data = shared_string_workbook(rows, strings)
    assert padded(streamed_rows(data)) == padded(openpyxl_rows(data))


@pytest.mark.parametrize("n", [1, 2, 999, 1000, 1001])
def test_rows_are_counted_exactly_whatever_the_chunks(n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # small chunks, so that start tags fall across their boundaries
    monkeypatch.setattr(xlsx, "_CHUNK", 7)
    limits = xlsx.Limits(max_rows=999, max_columns=256, max_cells=10**6, max_sheets=5, max_sheet_bytes=1 << 20,
                         max_part_bytes=1 << 20, max_unzipped=1 << 22, max_shared_strings=10, max_parts=50)
    rows = b"".join(b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>x</t></is></c></row>' % (i, i)
                    for i in range(1, n + 1))
    data = shared_string_workbook(rows, [b"<si><t>a</t></si>"])
    if n <= 1000:  # the header and 999 rows under it
        assert len(list(read_rows(data, limits=limits, header=True))) == n
    else:
        with pytest.raises(LedgerFormatError) as e:
            list(read_rows(data, limits=limits))
        assert e.value.code == "too_large" and "max_rows" in e.value.message and "999" in e.value.message
