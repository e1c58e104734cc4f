"""Reading one worksheet of an XLSX workbook row by row, in memory that does not grow with the sheet.

openpyxl's read-only worksheet keeps every row element it has read attached to the sheet's tree (cleared, but
still there), and when a sheet has no ``<dimension>`` it parses the whole sheet once just to open it; its shared
string table keeps every ``<si>`` element the same way. A workbook whose sheet inflates to a few hundred MB then
takes a multiple of that in memory. Here openpyxl reads only what is small (the package manifest, the workbook
part, the styles for the date formats) and converts the cells other than plain text and plain numbers
(``WorkSheetParser.parse_cell``: dates, booleans, errors, rich text), while the sheet and the shared strings are
parsed by lxml's ``iterparse``, which drops each element once it is read.

Before anything is parsed, every part of the archive is inflated once as a stream and measured against
``Limits``: the number of parts, each part's inflated size, the rows, cells and shared strings it declares, and
any DTD or entity declaration (refused: Excel and WPS never write one). A workbook over a limit is refused
whole, with the limit named, before a row is read.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from lxml import etree
from openpyxl.cell.text import Text
from openpyxl.reader.excel import ExcelReader
from openpyxl.utils import coordinate_to_tuple, get_column_letter
from openpyxl.worksheet._reader import WorkSheetParser
from openpyxl.xml.constants import SHARED_STRINGS, SHEET_MAIN_NS

__all__ = ["LEDGER_LIMITS", "LIMITS", "Limits", "SheetSource", "open_sheet", "scan_parts"]

_CHUNK = 1 << 20
_ROW_TAG = f"{{{SHEET_MAIN_NS}}}row"
_SI_TAG = f"{{{SHEET_MAIN_NS}}}si"
_T_TAG = f"{{{SHEET_MAIN_NS}}}t"
_V_TAG = f"{{{SHEET_MAIN_NS}}}v"
_INLINE_TAG = f"{{{SHEET_MAIN_NS}}}is"
_DTD_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")
EXCEL_MAX_ROW = 1_048_576

# Fixed-length patterns (a start tag with or without a namespace prefix), so that counting chunk by chunk with
# an overlap of one pattern length less one counts each exactly once.
_COUNTED = {"rows": re.compile(rb"[<:]row[\s/>]"), "cells": re.compile(rb"[<:]c[\s/>]"),
            "shared strings": re.compile(rb"[<:]si[\s/>]")}
_OVERLAP = 16


@dataclass(frozen=True)
class Limits:
    """What a workbook or CSV file may hold before it is refused whole (each named in the refusal)."""

    max_rows: int  # data rows: rows of the sheet (``<row>`` elements) or CSV records besides the header row
    max_columns: int  # columns of a row: the last used column's number
    max_cells: int  # ``<c>`` elements of one sheet
    max_sheets: int  # worksheets in the workbook
    max_sheet_bytes: int  # inflated size of one worksheet or of the shared-string table (and of a non-XML part)
    max_part_bytes: int  # inflated size of any other XML part (read whole: manifest, workbook, styles, theme …)
    max_unzipped: int  # inflated size of the whole archive
    max_shared_strings: int  # ``<si>`` entries in the shared-string table
    max_parts: int  # members of the zip archive


# A county office's ledger: a few thousand notices and events a year; 200,000 rows (the size the reader is
# measured at, 17 MiB as Excel saves it, 175 MiB of sheet XML as openpyxl writes it) is decades of one county.
LEDGER_LIMITS = Limits(max_rows=200_000, max_columns=256, max_cells=4_000_000, max_sheets=100,
                       max_sheet_bytes=256 << 20, max_part_bytes=16 << 20, max_unzipped=512 << 20,
                       max_shared_strings=1_000_000, max_parts=2_000)
# Registers (a province's register of persons runs to 700,000 rows) and other tables read with the same reader:
# up to Excel's own last row.
LIMITS = Limits(max_rows=EXCEL_MAX_ROW - 1, max_columns=256, max_cells=20_000_000, max_sheets=255,
                max_sheet_bytes=1 << 30, max_part_bytes=16 << 20, max_unzipped=1 << 30,
                max_shared_strings=4_000_000, max_parts=2_000)


class XlsxLimitError(ValueError):
    """A workbook over one of its ``Limits``, or declaring a DTD or entities (``code``)."""

    def __init__(self, message: str, code: str = "too_large", where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.where = where


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB" if n >= 1 << 20 else f"{n} bytes"


def _kind(name: str) -> str:
    """How a member is read: ``sheet`` (streamed, counted), ``strings`` (streamed), ``xml`` (read whole) or
    ``other`` (never parsed: images, printer settings, pivot caches)."""
    if name.startswith("xl/worksheets/") and name.endswith(".xml") and name.count("/") == 2:
        return "sheet"
    if name.endswith("sharedStrings.xml"):
        return "strings"
    if name.startswith("xl/pivotCache/"):
        return "other"
    if name.endswith((".xml", ".rels", ".vml")):
        return "xml"
    return "other"


def scan_parts(archive: zipfile.ZipFile, limits: Limits) -> None:
    """Inflate every member once as a stream, refusing the workbook (XlsxLimitError) at the first limit passed or
    the first DTD or entity declaration. Memory stays flat; reading stops as soon as a limit is passed."""
    members = archive.infolist()
    if len(members) > limits.max_parts:
        raise XlsxLimitError(f"XLSX 含有 {len(members)} 个部件，超过上限 {limits.max_parts} / the archive has "
                             f"{len(members)} parts; at most {limits.max_parts} (max_parts)")
    declared = sum(m.file_size for m in members)
    if declared > limits.max_unzipped:
        raise XlsxLimitError(f"XLSX 解压后超过 {_mib(limits.max_unzipped)} / the workbook inflates to "
                             f"{_mib(declared)}; at most {_mib(limits.max_unzipped)} (max_unzipped)")
    sheets = sum(1 for m in members if _kind(m.filename) == "sheet")
    if sheets > limits.max_sheets:
        raise XlsxLimitError(f"工作簿有 {sheets} 个工作表，超过上限 {limits.max_sheets} / the workbook has {sheets} "
                             f"worksheets; at most {limits.max_sheets} (max_sheets)")
    total = 0
    keep = max(len(m) for m in _DTD_MARKERS) - 1
    for member in members:
        kind = _kind(member.filename)
        cap = limits.max_part_bytes if kind == "xml" else limits.max_sheet_bytes
        counts = {"rows": 0, "cells": 0} if kind == "sheet" else {"shared strings": 0} if kind == "strings" else {}
        caps = {"rows": limits.max_rows + 1, "cells": limits.max_cells, "shared strings": limits.max_shared_strings}
        size = 0
        tail = b""
        with archive.open(member) as part:
            while chunk := part.read(_CHUNK):
                size += len(chunk)
                total += len(chunk)
                if size > cap:
                    name = "max_part_bytes" if kind == "xml" else "max_sheet_bytes"
                    raise XlsxLimitError(f"XLSX 的 {member.filename} 解压后超过 {_mib(cap)} / {member.filename} "
                                         f"inflates beyond {_mib(cap)}, the limit for one part ({name})")
                if total > limits.max_unzipped:
                    raise XlsxLimitError(f"XLSX 解压后超过 {_mib(limits.max_unzipped)} / the workbook inflates "
                                         f"beyond {_mib(limits.max_unzipped)} (max_unzipped)")
                window = tail + chunk
                if kind != "other" and any(marker in window for marker in _DTD_MARKERS):
                    raise XlsxLimitError(f"XLSX 的 {member.filename} 含有 DOCTYPE/ENTITY 声明，拒绝读取 / "
                                         f"{member.filename} declares a DTD or entities: refused", "dtd_forbidden")
                for what in counts:
                    # a match is counted in the window where it ends before the overlap kept for the next one
                    counts[what] += len(_COUNTED[what].findall(window, 0, len(window)))
                    counts[what] -= len(_COUNTED[what].findall(tail))
                    if counts[what] > caps[what]:
                        raise XlsxLimitError(_over(member.filename, what, caps[what], limits))
                tail = window[-max(keep, _OVERLAP):]


_WORDS = {"rows": "行", "cells": "单元格", "shared strings": "共享字符串"}


def _over(part: str, what: str, cap: int, limits: Limits) -> str:
    if what == "rows":
        return (f"{part} 的数据行超过 {limits.max_rows:,} 行 / {part} has more than {limits.max_rows:,} rows under "
                f"the header (max_rows); 请分成几个文件 / split it")
    return f"XLSX 的 {part} 超过 {cap:,} 个{_WORDS[what]} / {part} has more than {cap:,} {what} " \
           f"(max_{what.replace(' ', '_')})"


# --- the workbook's small parts through openpyxl ---------------------------------------------------------------


class _Reader(ExcelReader):
    """openpyxl's reader without its worksheets (listed only) and with a shared-string table read as a stream."""

    def __init__(self, data: bytes, limits: Limits) -> None:
        super().__init__(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
        self.limits = limits
        self.sheets: list[tuple[str, str]] = []  # (title, part) of each worksheet, in the workbook's order

    def read_strings(self) -> None:
        ct = self.package.find(SHARED_STRINGS)  # type: ignore[no-untyped-call]
        if ct is not None:
            with self.archive.open(ct.PartName[1:]) as src:
                self.shared_strings = _shared_strings(src, self.limits)

    def read_worksheets(self) -> None:
        for sheet, rel in self.parser.find_sheets():
            if rel.target in self.valid_files and "chartsheet" not in rel.Type:
                self.sheets.append((sheet.name, rel.target))


# elements inside one row or one shared string: 256 columns of cells with rich text to spare
MAX_ELEMENTS_INSIDE = 100_000


def _stream(src: IO[bytes], tag: str) -> Iterator[Any]:
    """Each ``tag`` element whole, in document order; every element outside one is dropped from the tree as soon as
    its end tag is read, so that the tree never holds more than the element being read (at most MAX_ELEMENTS_INSIDE
    elements) and its ancestors. libxml2 without ``huge_tree`` refuses text nodes over 10 MB, names over 50,000
    characters and nesting deeper than 256."""
    within = 0
    inside = 0
    for event, el in etree.iterparse(src, events=("start", "end"), resolve_entities=False, no_network=True,
                                     load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True):
        if event == "start":
            if el.tag == tag:
                within += 1
            continue
        if el.tag == tag:
            within -= 1
            if within == 0:
                inside = 0
                yield el
        elif within:
            inside += 1
            if inside > MAX_ELEMENTS_INSIDE:
                raise XlsxLimitError(f"一行（或一个共享字符串）含有超过 {MAX_ELEMENTS_INSIDE:,} 个元素 / more than "
                                     f"{MAX_ELEMENTS_INSIDE:,} elements inside one {tag.rsplit('}', 1)[-1]} element")
        if within == 0:
            parent = el.getparent()
            if parent is not None:
                parent.remove(el)


def _shared_strings(src: IO[bytes], limits: Limits) -> list[str]:
    out: list[str] = []
    for el in _stream(src, _SI_TAG):
        if len(el) == 1 and el[0].tag == _T_TAG and not len(el[0]):  # plain text, as Excel writes most strings
            value = el[0].text or ""
        else:  # rich text runs, phonetic readings: openpyxl's reading
            text = Text.from_tree(el)
            value = text.content if text is not None else ""
        out.append(value.replace("x005F_", "") if "x005F_" in value else value)
        if len(out) > limits.max_shared_strings:
            raise XlsxLimitError(f"共享字符串超过 {limits.max_shared_strings:,} 个 / more than "
                                 f"{limits.max_shared_strings:,} shared strings (max_shared_strings)")
    return out


@dataclass
class SheetSource:
    """The sheet to read (``title``) and how to read its rows."""

    title: str
    reader: _Reader
    part: str

    def rows(self) -> Iterator[tuple[int, Sequence[object]]]:
        """(row number, values by column from A) of every row element, in order; values are what openpyxl's
        read-only reader gives with ``data_only`` (strings, numbers, dates, booleans, None for an empty cell)."""
        wb = self.reader.wb
        limits = self.reader.limits
        with self.reader.archive.open(self.part) as src:
            parser = WorkSheetParser(src, self.reader.shared_strings, data_only=True, epoch=wb.epoch,
                                     date_formats=wb._date_formats,  # type: ignore[attr-defined]
                                     timedelta_formats=wb._timedelta_formats)  # type: ignore[attr-defined]
            last = 0
            for seen, el in enumerate(_stream(src, _ROW_TAG), 1):
                if seen > limits.max_rows + 1:
                    raise XlsxLimitError(_over(self.part, "rows", limits.max_rows + 1, limits))
                number, cells = _parse_row(parser, el)
                yield self._values(number, last, cells, limits)
                last = number

    def _values(self, number: int, last: int, cells: list[tuple[int, object]],
                limits: Limits) -> tuple[int, Sequence[object]]:
        if not last < number <= EXCEL_MAX_ROW:
            raise ValueError(f"row number {number} after row {last}: rows must be in order, 1 to {EXCEL_MAX_ROW}")
        if not cells:
            return number, ()
        width = max(column for column, _ in cells)
        if width > limits.max_columns:
            letter = get_column_letter(width) if width <= 18_278 else str(width)
            raise XlsxLimitError(f"第 {number} 行用到第 {width} 列 ({letter})，超过上限 {limits.max_columns} 列 / "
                                 f"row {number} has a cell in column {width} ({letter}); at most "
                                 f"{limits.max_columns} columns (max_columns)", where=f"{letter}{number}")
        values: list[object] = [None] * width
        for column, value in cells:
            values[column - 1] = value
        return number, values


def _parse_row(parser: WorkSheetParser, row: Any) -> tuple[int, list[tuple[int, object]]]:
    """(row number, [(column, value)]) as ``WorkSheetParser.parse_row`` reads them with ``data_only``: the cells
    Excel and WPS write most (text inline or shared, a formula's text result, a number without a date format) read
    here directly; any other (dates, booleans, errors, rich text) by openpyxl's ``parse_cell``."""
    r = row.get("r")
    if r is not None:
        try:
            parser.row_counter = int(r)
        except ValueError:
            as_float = float(r)
            if not as_float.is_integer():
                raise ValueError(f"{r} is not a valid row number") from None
            parser.row_counter = int(as_float)
    else:
        parser.row_counter += 1
    parser.col_counter = 0
    shared = parser.shared_strings
    dates = parser.date_formats
    out: list[tuple[int, object]] = []
    for c in row:
        kind = c.get("t", "n")
        value: object = None
        if kind == "inlineStr":
            inline = c.find(_INLINE_TAG)
            if inline is None or len(inline) != 1 or inline[0].tag != _T_TAG or len(inline[0]):
                out.append(_by_openpyxl(parser, c))
                continue
            value = inline[0].text or ""
        elif kind in ("s", "str", "n"):
            text = c.findtext(_V_TAG, None) or None
            if text is not None:
                if kind == "s":
                    value = shared[int(text)]
                elif kind == "n":
                    style = c.get("s")
                    if style and int(style) in dates:
                        out.append(_by_openpyxl(parser, c))
                        continue
                    value = float(text) if "." in text or "E" in text or "e" in text else int(text)
                else:
                    value = text
        else:
            out.append(_by_openpyxl(parser, c))
            continue
        ref = c.get("r")
        if ref:
            column = coordinate_to_tuple(ref)[1]
            parser.col_counter = column
        else:
            parser.col_counter += 1
            column = parser.col_counter
        out.append((column, value))
    return parser.row_counter, out


def _by_openpyxl(parser: WorkSheetParser, cell: Any) -> tuple[int, object]:
    parsed = parser.parse_cell(cell)
    return int(parsed["column"]), parsed["value"]


def open_sheet(data: bytes, limits: Limits, prefer: str) -> SheetSource:
    """The workbook's sheet titled ``prefer`` (surrounding spaces ignored), else its first worksheet, ready to be
    read; XlsxLimitError for a workbook over its limits, ValueError (no worksheet) and whatever zipfile and openpyxl
    raise for a damaged one."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        scan_parts(archive, limits)
    reader = _Reader(data, limits)
    reader.read()
    if not reader.sheets:
        raise ValueError("the workbook has no worksheet")
    title, part = next(((t, p) for t, p in reader.sheets if t.strip() == prefer), reader.sheets[0])
    return SheetSource(title, reader, part)
