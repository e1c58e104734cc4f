"""Reading an agency's register snapshot (CSV, XLSX or XML) into a ``hub.core.reconcile.Snapshot``.

The columns of each kind are specified in schemas/registers/<kind>.json (code lists in codes.json). CSV and
XLSX stream through the ledger's reader (``adapters.ledger.native.read_rows``: UTF-8 or GB18030, the header is
the first non-empty row, dates typed by hand); XML streams through lxml's iterparse with the hardened options,
its frame and each row validated against schemas/registers/register.xsd. A header that does not fit the kind,
or a file that cannot be read to its end, refuses the whole file (``RegisterFormatError``): half a register
would read as missing persons. A row that does not fit is rejected alone, each problem named at its cell; so is
a row of a bureau register or a police list whose 执行地 lies outside the keeper's jurisdiction (its division; a
prefecture's agency covers its counties): those lists speak only for their own counties.

The column specifications are compiled in ``hub.register_specs``; its public names are importable from here.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from lxml import etree

from adapters.kit.problems import NativeError, NativeProblem
from adapters.kit.text import check_xml_encoding
from adapters.ledger.columns import key
from adapters.ledger.native import LedgerFormatError, Row, read_rows, sheet_ref
from hub.core.reconcile_values import RegisterKind, RegisterRow, RejectedRow, RowProblem, Snapshot, Status, id_key
from hub.register_specs import _AGENCY, _UNSET, Column, RegisterSpec, load_schema, load_spec

__all__ = ["NS", "Column", "RegisterFormatError", "RegisterSpec", "load_schema", "load_spec", "read_snapshot"]

NS = "urn:xianjie:registers:v1"
_ROW = f"{{{NS}}}row"
# the lists whose rows must lie in the keeper's jurisdiction (a court or prison sends people to any county)
_WITHIN_JURISDICTION = frozenset({RegisterKind.BUREAU_REGISTER, RegisterKind.POLICE_CUSTODY,
                                  RegisterKind.POLICE_WANTED})


class RegisterFormatError(NativeError):
    """The file is not a readable register of its kind; ``problems`` say where and why."""


# ---- reading -------------------------------------------------------------------------------------------


def read_snapshot(kind: RegisterKind | str, data: bytes, *, filename: str | None, agency: str,
                  as_of: dt.date | None = None, period_start: dt.date | None = None) -> Snapshot:
    """The snapshot in ``data``: every row that fits the kind's columns, every other row rejected with its
    problems; RegisterFormatError when the file as a whole cannot be read as a register of ``kind`` kept by
    ``agency``. CSV and XLSX need ``as_of``; an XML register names its own (which must agree when given)."""
    spec = load_spec(RegisterKind(kind))
    if not _AGENCY.fullmatch(agency) or agency[6:8] not in spec.agency_types:
        raise RegisterFormatError("wrong_agency", f"{agency} may not upload a {spec.kind} (kept by "
                                                  f"{'/'.join(spec.agency_types)} agencies)")
    if period_start is not None and not spec.period:
        raise ValueError(f"a {spec.kind} is as of a day, not of a period")
    stripped = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    rows: list[RegisterRow] = []
    rejected: list[RejectedRow] = []
    reader = _Reader(spec, agency)
    if (filename or "").lower().endswith(".xml") or stripped.lstrip()[:1] == b"<":
        fmt = "xml"
        frame, records = _xml(spec, data, agency, as_of, period_start, reader)
        as_of, period_start = frame
    else:
        if as_of is None:
            raise ValueError("a CSV or XLSX register needs the day it is as of")
        fmt = "xlsx" if data.startswith(b"PK") else "csv"
        records = _sheet(spec, data, filename, reader)
    try:
        for found in records:
            if isinstance(found, RegisterRow):
                rows.append(found)
            else:
                rejected.append(found)
    except LedgerFormatError as e:
        raise RegisterFormatError(e.code, e.message, [NativeProblem(e.message, e.where)]) from e
    return Snapshot(spec.kind, agency, as_of, tuple(rows), tuple(rejected), period_start, filename, fmt,
                    hashlib.sha256(data).hexdigest())


class _Reader:
    """Turns one row's cells (column → raw value) into a RegisterRow, or a RejectedRow naming each problem."""

    def __init__(self, spec: RegisterSpec, agency: str) -> None:
        self.spec = spec
        context = {"{agency}": agency, "{division}": agency[:6]}
        self.defaults = {f: context.get(v, v) for f, v in spec.defaults.items()}
        self.required = [c for c in spec.columns if c.required]
        self.agency = agency
        self.keeper = Snapshot(spec.kind, agency, dt.date.min, ())  # its ``covers`` is the keeper's jurisdiction
        self.local = [c for c in spec.columns if c.field == "division"] if spec.kind in _WITHIN_JURISDICTION else []

    def row(self, number: int, cells: Iterable[tuple[Column, object]], where: Callable[[Column | None], str]
            ) -> RegisterRow | RejectedRow:
        values: dict[str, object] = {}
        problems: list[RowProblem] = []
        filled: dict[str, object] = {}
        for col, raw in cells:
            if col.normalise is None:
                continue
            try:
                value = col.normalise(raw)
            except ValueError as e:
                problems.append(RowProblem(where(col), f"{col.header}: {e}"))
                filled[col.header] = _UNSET
                continue
            filled[col.header] = value
            if col.field is not None:
                values[col.field] = value
        for col in self.required:
            if col.header not in filled:
                problems.append(RowProblem(where(col), f"{col.header}: 必填 / required"))
        for group in self.spec.one_of:
            if not any(h in filled for h in group):
                problems.append(RowProblem(where(None), f"{'或'.join(group)}: 至少填写一项 / give at least one of "
                                                        f"{', '.join(group)}"))
        for first, last in self.spec.date_order:
            a, b = filled.get(first), filled.get(last)
            if isinstance(a, dt.date) and isinstance(b, dt.date) and b < a:
                problems.append(RowProblem(where(self.spec.by_key[key(last)]),
                                           f"{last}: {b} 早于{first} {a} / is before {first}"))
        for col in self.local:
            county = filled.get(col.header)
            if isinstance(county, str) and not self.keeper.covers(county):
                problems.append(RowProblem(where(col), f"{col.header}: {county} 不在 {self.agency} 的辖区内 / is "
                                                       f"outside the jurisdiction of {self.agency}"))
        if problems:
            return RejectedRow(number, tuple(problems))
        for f, v in self.defaults.items():
            values.setdefault(f, v)
        status = values.get("status")
        values["status"] = Status(str(status)) if status else None
        typed = values.get("id_number")
        if isinstance(typed, str):
            valid = id_key(typed)
            values["id_number"] = valid
            if valid is None:
                values["id_typed"] = typed
                if "birth_date" not in values:
                    values["birth_date"] = _birth_of(typed)
        return RegisterRow(number=number, **values)  # type: ignore[arg-type]


def _birth_of(typed: str) -> dt.date | None:
    digits = typed[6:14] if len(typed) == 18 else "19" + typed[6:12]
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def _sheet(spec: RegisterSpec, data: bytes, filename: str | None, reader: _Reader
           ) -> Iterator[RegisterRow | RejectedRow]:
    layout: dict[str, Column] | None = None
    letters: dict[str, str] = {}
    ref = ""
    for row in read_rows(data, filename=filename, header=True):
        if layout is None:  # the header row itself: checked even when no data row follows
            layout = _layout(spec, row)
            letters = {layout[h].header: letter for h, letter in row.columns.items()}
            ref = sheet_ref(row.sheet)
            continue
        yield reader.row(row.number, [(layout[h], v) for h, v in row.cells.items()],
                         functools.partial(_cell, ref, letters, row.number))


def _cell(ref: str, letters: Mapping[str, str], number: int, col: Column | None) -> str:
    letter = letters.get(col.header) if col is not None else None
    return f"{ref}!{letter}{number}" if letter else f"{ref}!{number}:{number}"


def _layout(spec: RegisterSpec, first: Row) -> dict[str, Column]:
    """The file's header → column; RegisterFormatError naming every header cell that does not fit."""
    ref, at = sheet_ref(first.sheet), first.header_row
    problems: list[NativeProblem] = []
    out: dict[str, Column] = {}
    seen: dict[str, str] = {}
    for header, letter in first.columns.items():
        col = spec.by_key.get(key(header))
        if col is None:
            problems.append(NativeProblem(f"表头“{header}”不是{spec.title}的列 / {header!r} is not a column of a "
                                          f"{spec.kind}", f"{ref}!{letter}{at}"))
        elif col.header in seen:
            problems.append(NativeProblem(f"表头“{header}”与 {seen[col.header]} 列重复 / {header!r} repeats column "
                                          f"{seen[col.header]} ({col.header})", f"{ref}!{letter}{at}"))
        else:
            out[header] = col
            seen[col.header] = letter
    for col in spec.columns:
        if col.required and col.header not in seen:
            problems.append(NativeProblem(f"缺少必需的列“{col.header}” / no column {col.header}", f"{ref}!{at}:{at}"))
    for group in spec.one_of:
        if not any(h in seen for h in group):
            problems.append(NativeProblem(f"须有“{'”或“'.join(group)}”列 / needs a column {' or '.join(group)}",
                                          f"{ref}!{at}:{at}"))
    if problems:
        raise RegisterFormatError("bad_header", f"the header does not fit a {spec.kind}: {problems[0].reason}"
                                  + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""), problems)
    return out


# ---- XML -----------------------------------------------------------------------------------------------


def _xml(spec: RegisterSpec, data: bytes, agency: str, as_of: dt.date | None, period_start: dt.date | None,
         reader: _Reader) -> tuple[tuple[dt.date, dt.date | None], Iterator[RegisterRow | RejectedRow]]:
    head = data[:65536]
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise RegisterFormatError("dtd_forbidden", "document type declarations and entities are not accepted")
    try:
        check_xml_encoding(data)
    except NativeError as e:
        raise RegisterFormatError(e.code, e.message, e.problems) from e
    events = etree.iterparse(io.BytesIO(data), events=("start", "end"), resolve_entities=False, no_network=True,
                             load_dtd=False, huge_tree=False, remove_blank_text=True, remove_comments=True,
                             remove_pis=True, collect_ids=False)
    try:
        _, root = next(events)
    except etree.XMLSyntaxError as e:
        raise RegisterFormatError("not_xml", f"not well-formed XML: {e.msg}") from e
    schema = load_schema()
    frame = etree.Element(root.tag, dict(root.attrib))
    if not schema.validate(frame):
        problems = [NativeProblem(_clean(err.message), "/register", err.line) for err in schema.error_log]  # type: ignore[attr-defined]
        raise RegisterFormatError("invalid", f"the register's root does not fit register.xsd: {problems[0].reason}",
                                  problems)
    said, since = _xml_day(root.get("asOf")), _xml_day(root.get("from"))
    found = {"kind": root.get("kind"), "agency": root.get("agency"), "asOf": said, "from": since}
    expected = {"kind": spec.kind.value, "agency": agency, "asOf": as_of or said,
                "from": period_start if period_start and since else since}
    wrong = [NativeProblem(f"{name}: the file says {found[name]}, expected {value}", "/register")
             for name, value in expected.items() if found[name] != value]
    if since is not None and not spec.period:
        wrong.append(NativeProblem(f"from: a {spec.kind} is as of a day, not of a period", "/register"))
    if wrong or said is None:
        wrong = wrong or [NativeProblem("asOf: not a day (YYYY-MM-DD)", "/register")]
        raise RegisterFormatError("wrong_register", wrong[0].reason, wrong)
    return (said, since or period_start), _xml_rows(spec, events, root, schema, reader)


def _xml_day(value: str | None) -> dt.date | None:
    # xs:date may carry a time zone (2026-06-30+08:00): the day is what counts
    try:
        return dt.date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def _xml_rows(spec: RegisterSpec, events: Any, root: etree._Element, schema: etree.XMLSchema, reader: _Reader
              ) -> Iterator[RegisterRow | RejectedRow]:
    number = 0
    try:
        for event, el in events:
            if event != "end" or el.getparent() is not root:
                continue
            number += 1
            at = f"/register/row[{number}]"
            if not schema.validate(el):
                yield RejectedRow(number, tuple(RowProblem(_child_path(at, el, err.path), _clean(err.message))
                                                for err in schema.error_log))  # type: ignore[attr-defined]
            else:
                cells: dict[Column, object] = {}
                unknown: list[RowProblem] = []
                for child in el:
                    name = etree.QName(child).localname
                    col = spec.by_element.get(name)
                    if col is None:
                        unknown.append(RowProblem(f"{at}/{name}", f"{name}: not a column of a {spec.kind}"))
                    elif child.text and child.text.strip():
                        cells[col] = child.text

                def where(col: Column | None, at: str = at) -> str:
                    return f"{at}/{col.element}" if col is not None else at

                yield RejectedRow(number, tuple(unknown)) if unknown else reader.row(number, cells.items(), where)
            el.clear()
            while el.getprevious() is not None:
                del root[0]
    except etree.XMLSyntaxError as e:
        raise RegisterFormatError("not_xml", f"not well-formed XML after row {number}: {e.msg}",
                                  [NativeProblem(str(e.msg), f"/register/row[{number + 1}]", e.lineno)]) from e


def _child_path(at: str, row: etree._Element, path: str | None) -> str:
    # the validator names the row's child by position (/*/*[3]): name it by element
    m = re.fullmatch(r"/\*/\*\[(\d+)\].*", path or "")
    if m is None or int(m[1]) > len(row):
        return at
    return f"{at}/{etree.QName(row[int(m[1]) - 1]).localname}"


def _clean(message: str) -> str:
    return message.replace(f"{{{NS}}}", "")
