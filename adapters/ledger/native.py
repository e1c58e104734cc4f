"""Reading a county office's ledger (台账): an XLSX workbook or a CSV file, one notice or event per row; and
writing the CSV the hub delivers to such an office (``write_csv``).

``read_rows`` streams the rows under the header row (the first non-empty row) as ``Row`` objects keyed by
normalised header names. Memory stays flat in the number of rows: XLSX goes through ``adapters.ledger.xlsx``
(openpyxl for the workbook's small parts and each cell's value, a streaming parse of the sheet), CSV through
the csv module over an incremental decoder; ``Limits`` bound what a file may hold. Problems with the file itself (not a
spreadsheet, corrupt, undecodable, bad header, a value in a column without a header; a workbook part that
declares a DTD or entities, a file over its limits) raise ``LedgerFormatError`` naming the cell; they
surface while iterating, header problems on the first ``next``.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import functools
import io
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from xml.etree.ElementTree import ParseError

from lxml import etree
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from adapters.ledger.xlsx import LEDGER_LIMITS, LIMITS, Limits, SheetSource, XlsxLimitError, open_sheet

__all__ = ["CSV_SHEET", "LEDGER_LIMITS", "LEDGER_SHEET", "LIMITS", "LedgerFormatError", "Limits", "Row",
           "normalise_header", "read_rows", "row_text", "sheet_ref", "write_csv"]

CSV_SHEET = "CSV"
LEDGER_SHEET = "台账"  # read in preference to the first sheet when a workbook has it

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls and other Office 97-2003 files
_UTF16_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_CHUNK = 1 << 20
_SAVE_AS = "请另存为 .xlsx 或 CSV (UTF-8) / save it as .xlsx or CSV (UTF-8)"
# What openpyxl and zipfile raise for a damaged or foreign file.
_CORRUPT: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    ParseError,
    etree.LxmlError,
    InvalidFileException,
    KeyError,
    EOFError,
    OSError,
    ValueError,
    TypeError,
    IndexError,
    AttributeError,
)

# Full-width ASCII letters, digits and brackets → half-width; zero-width characters removed.
_HALF = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz()[]{}"
_FULL = "".join(chr(ord(c) + 0xFEE0) for c in _HALF)  # U+FF01..FF5E mirror ASCII 0x21..0x7E
_HEADER_TABLE: dict[int, int | None] = {
    **str.maketrans(_FULL, _HALF),
    **{ord(c): None for c in "\u200b\u200c\u200d\u2060\ufeff"},
}
_PLAIN_SHEET_TITLE = re.compile(r"\w+")


class LedgerFormatError(ValueError):
    """The file is not a readable ledger; ``where`` names the place (``Sheet1!B1``, ``CSV!3:3``) if known;
    ``code`` says what kind of problem it is (``not_a_ledger``, ``wrong_encoding``, ``bad_header``, ``empty``,
    ``corrupt``, ``dtd_forbidden``, ``too_large``)."""

    def __init__(self, message: str, where: str | None = None, code: str = "not_a_ledger") -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.message = message
        self.where = where
        self.code = code


@dataclass(frozen=True)
class Row:
    """One non-empty row under the header.

    ``number`` is the row number the user sees (the sheet's row; for CSV the line the record starts on,
    the header being line 1 when it is the first line); ``cells`` maps header → value (strings stripped;
    XLSX numbers and dates as openpyxl gives them; empty cells left out); ``columns`` maps every header
    to its column letter and is shared by all rows of a file: do not modify it. ``header_row`` is the
    number of the header row.
    """

    number: int
    sheet: str
    cells: dict[str, object]
    columns: dict[str, str]
    header_row: int = 1
    # cells holding a value in a column without a header (their references): a problem of this row alone
    stray: tuple[str, ...] = ()

    def where(self, header: str) -> str:
        """The cell reference of this row's ``header`` column, e.g. ``Sheet1!E7``."""
        return f"{sheet_ref(self.sheet)}!{self.columns[header]}{self.number}"


@functools.lru_cache(maxsize=4096, typed=True)
def normalise_header(value: object) -> str:
    """A header cell's name: whitespace removed, full-width ASCII letters, digits and brackets made half-width."""
    text = value if isinstance(value, str) else str(value)
    return "".join(text.translate(_HEADER_TABLE).split())


def read_rows(data: bytes, *, filename: str | None = None, header: bool = False,
              limits: Limits = LIMITS) -> Iterator[Row]:
    """The ledger's rows under its header, streamed; XLSX (by its zip signature) or else CSV.

    ``filename`` only sharpens messages (a file named ``.xlsx`` that is no zip is refused as such). With
    ``header``, the first Row yielded is the header itself (no cells; ``number == header_row``), so that a
    reader can check the header of a file that has no data rows. ``limits`` bounds the file (rows, columns, a
    workbook's parts, sizes and counts): a file over one is refused whole (``too_large``) before a row is yielded,
    but for a sheet whose rows or columns pass the limit only where the reader gets to them.
    """
    if data.startswith(_ZIP_MAGIC):
        yield from _xlsx_rows(data, header, limits)
        return
    name = (filename or "").lower()
    if data.startswith(_OLE_MAGIC):
        raise LedgerFormatError(f"不支持旧版 Excel (.xls) / legacy Excel (.xls) files are not supported; {_SAVE_AS}")
    if name.endswith((".xlsx", ".xlsm")):
        raise LedgerFormatError(f"文件名为 .xlsx 但内容不是 XLSX / named {filename} but not an XLSX (no zip signature)")
    yield from _csv_rows(data, header, limits)


# --- header and rows, shared by both formats ---------------------------------------------------------


def sheet_ref(title: str) -> str:
    """A sheet's title as a cell reference writes it (quoted when it is not a plain word)."""
    if _PLAIN_SHEET_TITLE.fullmatch(title):
        return title
    return "'" + title.replace("'", "''") + "'"


class _Layout:
    """The header row: which column holds which header."""

    def __init__(self, sheet: str, number: int, names: Sequence[str]) -> None:
        self.sheet = sheet
        self.number = number
        self.ref = sheet_ref(sheet)
        used = [i for i, name in enumerate(names) if name]
        first, last = used[0], used[-1]
        self.columns: dict[str, str] = {}
        for i in range(first, last + 1):
            name, letter = names[i], get_column_letter(i + 1)
            if not name:
                raise LedgerFormatError(
                    f"表头单元格为空 / blank header cell in column {letter} (between {names[first]!r} and "
                    f"{names[last]!r}); 请填写列名或删除该列 / name the column or delete it",
                    f"{self.ref}!{letter}{number}",
                    "bad_header",
                )
            if name in self.columns:
                raise LedgerFormatError(
                    f"表头重复 / duplicate header {name!r} (also in {self.columns[name]}{number})",
                    f"{self.ref}!{letter}{number}",
                    "bad_header",
                )
            self.columns[name] = letter
        self.names: list[str | None] = [None] * first + [names[i] for i in range(first, last + 1)]
        self._seen_data = False

    def row(self, number: int, values: Iterable[object]) -> Row | None:
        """The row of ``values``, or None when every cell is empty."""
        names = self.names
        width = len(names)
        cells: dict[str, object] = {}
        stray: list[str] = []
        for i, value in enumerate(values):
            if value is None:
                continue
            if isinstance(value, str):
                value = value.strip()
                if not value:
                    continue
            name = names[i] if i < width else None
            if name is None:
                stray.append(f"{self.ref}!{get_column_letter(i + 1)}{number}")
                continue
            cells[name] = value
        if not cells and not stray:
            return None
        if stray and len(self.columns) == 1 and not self._seen_data:
            # a one-cell "header" followed by a wider row is a title typed above the real header
            raise LedgerFormatError(
                f"第{number}行比表头宽：表头上方可能有标题行 / row {number} is wider than the header row "
                f"{self.number}; 表头须为第一个非空行 / the header must be the first non-empty row (delete any title "
                "above it)", stray[0], "bad_header")
        self._seen_data = True
        return Row(number, self.sheet, cells, self.columns, self.number, tuple(stray))


def _too_wide(sheet: str, number: int, values: Sequence[object], limits: Limits) -> LedgerFormatError:
    width = len(values)
    return LedgerFormatError(
        f"第 {number} 行有 {width} 列，超过上限 {limits.max_columns} 列 / row {number} has {width} columns; at most "
        f"{limits.max_columns} columns (max_columns)", f"{sheet_ref(sheet)}!{number}:{number}", "too_large")


def _rows(sheet: str, numbered: Iterator[tuple[int, Sequence[object]]], limits: Limits,
          header: bool = False) -> Iterator[Row]:
    cap = limits.max_columns
    for number, values in numbered:
        if len(values) > cap:
            raise _too_wide(sheet, number, values, limits)
        names = [normalise_header(v) if v is not None else "" for v in values]
        if any(names):
            layout = _Layout(sheet, number, names)
            break
    else:
        raise LedgerFormatError("没有表头：文件中没有数据 / no header row: the sheet is empty", sheet_ref(sheet),
                                "empty")
    if header:
        yield Row(layout.number, sheet, {}, layout.columns, layout.number)
    make = layout.row
    for number, values in numbered:
        if len(values) > cap:
            raise _too_wide(sheet, number, values, limits)
        row = make(number, values)
        if row is not None:
            yield row


# --- XLSX ---------------------------------------------------------------------------------------------


def _xlsx_rows(data: bytes, header: bool, limits: Limits) -> Iterator[Row]:
    try:
        source = open_sheet(data, limits, LEDGER_SHEET)
    except XlsxLimitError as exc:
        raise LedgerFormatError(exc.message, exc.where, exc.code) from exc
    except _CORRUPT as exc:
        raise LedgerFormatError(f"XLSX 文件损坏或不是工作簿 / corrupt XLSX or not an Excel workbook: {exc!r}",
                                code="corrupt") from exc
    try:
        yield from _rows(source.title, _xlsx_numbered(source), limits, header)
    finally:
        source.reader.archive.close()


def _xlsx_numbered(source: SheetSource) -> Iterator[tuple[int, Sequence[object]]]:
    rows = source.rows()
    number = 0
    while True:
        try:
            number, values = next(rows)
        except StopIteration:
            return
        except XlsxLimitError as exc:
            cell = exc.where or f"{number + 1}:{number + 1}"
            raise LedgerFormatError(exc.message, f"{sheet_ref(source.title)}!{cell}", exc.code) from exc
        except _CORRUPT as exc:
            raise LedgerFormatError(
                f"XLSX 文件损坏 / corrupt XLSX after row {number}: {exc!r}",
                f"{sheet_ref(source.title)}!{number + 1}:{number + 1}",
                "corrupt",
            ) from exc
        yield number, values


# --- CSV ----------------------------------------------------------------------------------------------


def _first_bad_byte(data: bytes, encoding: str) -> int | None:
    """Offset of the first byte that ``encoding`` cannot decode, or None; decodes chunk by chunk."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    view = memoryview(data)
    for start in range(0, len(data), _CHUNK):
        pending = len(decoder.getstate()[0])  # undecoded bytes carried over: the error offset counts them
        try:
            decoder.decode(view[start : start + _CHUNK])
        except UnicodeDecodeError as exc:
            return start - pending + exc.start
    pending = len(decoder.getstate()[0])
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        return len(data) - pending + exc.start
    return None


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _csv_encoding(data: bytes) -> str:
    if data.startswith(_UTF16_BOMS):
        raise LedgerFormatError(f"不支持 UTF-16/UTF-32 编码 / UTF-16 and UTF-32 text is not supported; {_SAVE_AS}",
                                code="wrong_encoding")
    if b"\x00" in data:
        raise LedgerFormatError(f"不是 XLSX 也不是 CSV 文本 / neither an XLSX workbook nor a CSV text file; {_SAVE_AS}")
    if data.startswith(codecs.BOM_UTF8):
        bad = _first_bad_byte(data[len(codecs.BOM_UTF8) :], "utf-8")
        if bad is not None:
            bad += len(codecs.BOM_UTF8)
            raise LedgerFormatError(
                f"文件以 UTF-8 BOM 开头但含有非 UTF-8 字节 / UTF-8 byte-order mark but invalid UTF-8 at byte {bad}",
                f"{CSV_SHEET}!{_line_of(data, bad)}:{_line_of(data, bad)}",
                "wrong_encoding",
            )
        return "utf-8-sig"
    bad_utf8 = _first_bad_byte(data, "utf-8")
    if bad_utf8 is None:
        return "utf-8"
    bad_gb = _first_bad_byte(data, "gb18030")
    if bad_gb is None:
        return "gb18030"
    line = _line_of(data, max(bad_utf8, bad_gb))
    raise LedgerFormatError(
        f"既不是 UTF-8 也不是 GB18030 编码的文本，也不是 XLSX / neither XLSX nor CSV text in UTF-8 or GB18030 "
        f"(invalid UTF-8 at byte {bad_utf8}, invalid GB18030 at byte {bad_gb}); {_SAVE_AS}",
        f"{CSV_SHEET}!{line}:{line}",
        "wrong_encoding",
    )


def _csv_delimiter(data: bytes, encoding: str) -> str:
    """Tab for a tab-separated export (tabs and no commas in the first non-blank line), else comma."""
    sample = data[:65536].decode(encoding, errors="ignore")
    for line in sample.splitlines():
        if line.strip():
            return "\t" if "\t" in line and "," not in line else ","
    return ","


def _check_csv_rows(data: bytes, encoding: str, delimiter: str, limits: Limits) -> None:
    """Refuse a CSV of more than ``limits.max_rows`` records before any is read (counted again only when it has
    more lines than that: a quoted cell may span lines)."""
    cap = limits.max_rows + 1  # and the header
    if data.count(b"\n") + 1 <= cap:
        return
    count = 0
    try:
        for _ in csv.reader(io.TextIOWrapper(io.BytesIO(data), encoding=encoding, errors="strict", newline=""),
                            delimiter=delimiter):
            count += 1
            if count > cap:
                raise LedgerFormatError(f"CSV 的数据行超过 {limits.max_rows:,} 行 / the file has more than "
                                        f"{limits.max_rows:,} rows under the header (max_rows); 请分成几个文件 / "
                                        "split it",
                                        f"{CSV_SHEET}!{count}:{count}", "too_large")
    except csv.Error:
        return  # reported where the rows are read


def _csv_rows(data: bytes, header: bool, limits: Limits) -> Iterator[Row]:
    encoding = _csv_encoding(data)
    delimiter = _csv_delimiter(data, encoding)
    _check_csv_rows(data, encoding, delimiter, limits)
    reader = csv.reader(io.TextIOWrapper(io.BytesIO(data), encoding=encoding, errors="strict", newline=""),
                        delimiter=delimiter)

    def numbered() -> Iterator[tuple[int, Sequence[object]]]:
        end = 0
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise LedgerFormatError(
                    f"CSV 格式错误 / malformed CSV: {exc}", f"{CSV_SHEET}!{end + 1}:{reader.line_num}", "corrupt"
                ) from exc
            start, end = end + 1, reader.line_num
            yield start, fields

    yield from _rows(CSV_SHEET, numbered(), limits, header)


# --- writing --------------------------------------------------------------------------------------------

# Excel and WPS run a cell that starts with one of these as a formula when they open a CSV: such a value is
# written after an apostrophe, which the reader takes off again (``unescape``); a value that itself starts
# with an apostrophe gets one more, so that every value comes back as it was.
FORMULA_START = frozenset("=+-@'")


def escape(value: str) -> str:
    """A cell value as written: with a leading apostrophe when a spreadsheet would read it as a formula."""
    return "'" + value if value[:1] in FORMULA_START else value


def unescape(value: str) -> str:
    """The value of a cell ``escape`` wrote (any other value unchanged)."""
    return value[1:] if value[:1] == "'" and value[1:2] in FORMULA_START else value


def write_csv(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    """A ledger as CSV the way Excel and WPS open it: UTF-8 with a byte-order mark, CRLF line ends, the header
    row then one row per record; every value escaped (see ``escape``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([escape(v) for v in row])
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")


def row_text(row: Row) -> bytes:
    """One row as a little CSV of its own (UTF-8): the headers of its filled cells, then their values as
    the file holds them, so that a row rejected alone can be shown as it was."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(row.cells)
    writer.writerow([_shown(v) for v in row.cells.values()])
    return out.getvalue().encode("utf-8")


def _shown(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)
