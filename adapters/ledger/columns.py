"""The ledger's column specification (schemas/agencies/ledger/columns.json) and the check of every row against it.

The specification lists the code lists, each column (header, 说明, type, code list, maximum length, header
aliases, the fields of a multi-line cell) and each 事项 with the columns it fills and those it requires.
``Layout`` reads a file's header once: every header must name a column (or an alias of one), and the columns
every row needs must be there, else the whole file is refused (NativeError). ``Layout.check`` then checks one
row before anything is translated: every filled cell against its column, the columns the row's 事项 requires,
cells the 事项 does not use. It gives the row's cells in normal form — dates YYYY-MM-DD, code words as the
code list writes them, county names as codes, a date range as {起, 止}, a multi-line cell as a list of
{field: value} — and every problem at its cell (``台账!E12``), naming the column.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from adapters.kit import text
from adapters.kit.dates import parse_hand_date
from adapters.kit.mapping import SHANGHAI
from adapters.kit.nativexml import agency_schema_dir
from adapters.kit.problems import NativeError, NativeProblem
from adapters.ledger.native import Row, sheet_ref, unescape

SYSTEM = "ledger"
SPEC_FILE = "columns.json"

Normal = str | dict[str, str] | list[dict[str, str]]
Normaliser = Callable[[object], Normal]

_ID = re.compile(r"[0-9]{17}[0-9X]|[0-9]{15}")
_AGENCY = re.compile(r"[0-9]{6}[A-Z]{2}(?:[0-9]{2})?")
_DIVISION = re.compile(r"[1-9][0-9]{5}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SPACES = re.compile(r"\s+")
_LINES = re.compile(r"\r\n|\r|\n")
_TIME = re.compile(
    r"(?P<date>.+?)(?:(?:T|\s+)(?P<h>\d{1,2})[:：](?P<m>\d{2})(?:[:：](?P<s>\d{2})(?:\.(?P<f>\d{1,6}))?)?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?",
    re.ASCII,
)
_SHOWN = 60  # characters of a bad value quoted in a reason


def key(value: str) -> str:
    """The form in which a typed word is looked up: NFKC (full-width brackets and letters as ASCII), no spaces."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", value))


def _shown(value: str) -> str:
    return repr(value if len(value) <= _SHOWN else value[: _SHOWN - 1] + "…")


def cell_text(value: object) -> str:
    """A cell's value as text: numbers without a spurious .0, a date cell as YYYY-MM-DD, the apostrophe of a
    value the hub's CSV escaped taken off."""
    if isinstance(value, str):
        return unescape(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


# ---- the specification -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeList:
    """Allowed words of a coded column; ``aliases`` are other words clerks write for them."""

    name: str
    values: tuple[str, ...]
    aliases: Mapping[str, str]
    lookup: Mapping[str, str]  # normalised word or alias → word
    exact: Mapping[str, str]  # word or alias as written → word (most cells: no normalising needed)

    def word(self, value: object) -> str:
        typed = cell_text(value)
        found = self.exact.get(typed) or self.lookup.get(key(typed))
        if found is None:
            raise ValueError(f"{_shown(typed)} 不在代码表“{self.name}”中 / is not in the code list {self.name}; "
                             f"可填 / allowed: {', '.join(self.values)}")
        return found


@dataclass(frozen=True)
class ItemField:
    """One field of a line of a multi-line cell (文书清单, 缺少材料)."""

    name: str
    label: str
    type: str
    required: bool
    normalise: Callable[[str], str]


@dataclass(frozen=True)
class Column:
    header: str
    label: str  # 说明
    description: str
    type: str
    common: bool
    required: bool
    aliases: tuple[str, ...]
    code_list: CodeList | None
    max_length: int | None
    fields: tuple[ItemField, ...]
    max_items: int | None
    normalise: Normaliser | None  # None for an ignored column and for 事项


@dataclass(frozen=True)
class Event:
    """A 事项: the word outbound writes, the words read as it, the body columns it fills and requires."""

    word: str
    label: str
    aliases: tuple[str, ...]
    columns: tuple[str, ...]
    required: tuple[str, ...]

    @property
    def uses(self) -> frozenset[str]:
        return _uses(self.columns)


@dataclass(frozen=True)
class ColumnSpec:
    columns: tuple[Column, ...]
    events: tuple[Event, ...]
    code_lists: Mapping[str, CodeList]
    divisions: Mapping[str, str]
    together: tuple[tuple[str, str], ...]
    item_separator: str
    range_separators: tuple[str, ...]
    by_key: Mapping[str, Column] = field(default_factory=dict)  # normalised header or alias → column
    event_by_key: Mapping[str, Event] = field(default_factory=dict)  # normalised word or alias → 事项
    events_exact: Mapping[str, Event] = field(default_factory=dict)  # word or alias as written → 事项

    def column(self, header: str) -> Column | None:
        """The column a header names (its own header or an alias)."""
        return self.by_key.get(header) or self.by_key.get(key(header))

    def event(self, value: object) -> Event | None:
        typed = cell_text(value)
        return self.events_exact.get(typed) or self.event_by_key.get(key(typed))

    @property
    def common(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.common)

    def headers_of(self, event: Event) -> list[str]:
        """The columns a ledger row of ``event`` has, in the specification's order: the head, then its body."""
        body = set(event.columns)
        return [c.header for c in self.columns if c.common or c.header in body]


@cache
def load() -> ColumnSpec:
    """The column specification, read and compiled once per process."""
    raw = json.loads((agency_schema_dir(SYSTEM) / SPEC_FILE).read_text(encoding="utf-8"))
    return compile_spec(raw)


def compile_spec(raw: Mapping[str, Any]) -> ColumnSpec:
    code_lists = {name: _code_list(name, body) for name, body in raw["code_lists"].items()}
    divisions = {key(k): str(v) for k, v in raw["divisions"].items()}
    prefixes = tuple(key(p) for p in raw["division_prefixes"])
    separator = str(raw["item_separator"])
    ranges = tuple(str(s) for s in raw["range_separators"])
    columns = tuple(_column(c, code_lists, divisions, prefixes, separator, ranges) for c in raw["columns"])
    events = tuple(Event(str(e["value"]), str(e["说明"]), tuple(e["aliases"]), tuple(e["columns"]),
                         tuple(e["required"])) for e in raw["事项"])
    by_key: dict[str, Column] = {}
    for col in columns:
        for name in (col.header, *col.aliases):
            if key(name) in by_key:
                raise ValueError(f"{SPEC_FILE}: header {name!r} names two columns")
            by_key[key(name)] = col
    event_by_key: dict[str, Event] = {}
    headers = {c.header for c in columns}
    for ev in events:
        unknown = (set(ev.columns) | set(ev.required)) - headers
        if unknown or not set(ev.required) <= set(ev.columns):
            raise ValueError(f"{SPEC_FILE}: 事项 {ev.word} names unknown or unused columns {sorted(unknown)}")
        for word in (ev.word, *ev.aliases):
            if key(word) in event_by_key:
                raise ValueError(f"{SPEC_FILE}: 事项 word {word!r} is given twice")
            event_by_key[key(word)] = ev
    together = tuple((str(a), str(b)) for a, b in raw["together"])
    exact = {word: ev for ev in events for word in (ev.word, *ev.aliases)}
    return ColumnSpec(columns, events, code_lists, divisions, together, separator, ranges, by_key, event_by_key, exact)


def _code_list(name: str, body: Mapping[str, Any]) -> CodeList:
    values = tuple(str(v) for v in body["values"])
    aliases = {str(k): str(v) for k, v in body.get("aliases", {}).items()}
    lookup = {key(v): v for v in values}
    for alias, word in aliases.items():
        if word not in values:
            raise ValueError(f"{SPEC_FILE}: alias {alias!r} of code list {name} names {word!r}, not one of its values")
        lookup.setdefault(key(alias), word)
    exact = {v: v for v in values} | {a: w for a, w in aliases.items() if key(a) not in {key(v) for v in values}}
    return CodeList(name, values, aliases, lookup, exact)


def _column(c: Mapping[str, Any], code_lists: Mapping[str, CodeList], divisions: Mapping[str, str],
            prefixes: tuple[str, ...], separator: str, ranges: tuple[str, ...]) -> Column:
    kind = str(c["type"])
    header = str(c["header"])
    max_length = c.get("max_length")
    codes = code_lists[c["code_list"]] if "code_list" in c else None
    fields = tuple(_item_field(f, code_lists) for f in c.get("fields", ()))
    normalise: Normaliser | None
    if kind in ("ignored", "event"):
        normalise = None
    elif kind in ("text", "name", "case_number", "document_number"):
        normalise = _text_of(max_length)
    elif kind == "id_number":
        normalise = _id_number
    elif kind == "date":
        normalise = _date
    elif kind == "datetime":
        normalise = parse_datetime
    elif kind == "date_range":
        normalise = _date_range(ranges)
    elif kind == "code":
        assert codes is not None, header
        normalise = codes.word
    elif kind == "agency":
        normalise = _agency
    elif kind == "division":
        normalise = _division(divisions, prefixes)
    elif kind == "uuid":
        normalise = _uuid
    elif kind == "items":
        normalise = _items(fields, separator, c.get("max_items"))
    else:
        raise ValueError(f"{SPEC_FILE}: column {header} has the unknown type {kind!r}")
    return Column(header, str(c["说明"]), str(c["description"]), kind, bool(c.get("common", False)),
                  bool(c.get("required", False)), tuple(c.get("header_aliases", ())), codes, max_length, fields,
                  c.get("max_items"), normalise)


def _item_field(f: Mapping[str, Any], code_lists: Mapping[str, CodeList]) -> ItemField:
    kind = str(f["type"])
    normalise: Callable[[str], str]
    if kind == "code":
        normalise = code_lists[f["code_list"]].word
    elif kind == "sha256":
        normalise = _sha256
    elif kind in ("text", "uri"):
        normalise = _text_of(f.get("max_length"))
    else:
        raise ValueError(f"{SPEC_FILE}: item field {f['name']} has the unknown type {kind!r}")
    return ItemField(str(f["name"]), str(f["说明"]), kind, bool(f["required"]), normalise)


# ---- cell types ------------------------------------------------------------------------------------------


def _text_of(max_length: int | None) -> Callable[[object], str]:
    def normalise(value: object) -> str:
        out = cell_text(value)
        if max_length is not None and len(out) > max_length:
            raise ValueError(f"{len(out)} 个字，超过 {max_length} 字 / {len(out)} characters, at most {max_length}")
        return out

    return normalise


def _id_number(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("身份证号码存成了数字，Excel 只保留 15 位有效数字，后几位可能已丢失；"
                         "请把该列设为“文本”后重新录入 / stored as a number: Excel keeps 15 significant digits, "
                         "so the last ones may be lost; format the column as text and type it again")
    out = text.id_number(cell_text(value))
    if not _ID.fullmatch(out):
        raise ValueError(f"{_shown(out)} 不是公民身份号码 / is not a resident ID number (18 characters ending in a "
                         "digit or X, or 15 digits)")
    return out


def _date(value: object) -> str:
    return parse_hand_date(value).isoformat()


def parse_datetime(value: object) -> str:
    """A typed or stored time as ISO 8601 with offset: Beijing time unless an offset (or Z) is typed; a date
    alone is its midnight. Accepts the date forms of ``parse_hand_date`` followed by H:MM or H:MM:SS, a
    date-time cell, an Excel serial with a fraction of a day."""
    moment: dt.datetime
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=SHANGHAI)
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time(), SHANGHAI)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        day = parse_hand_date(value)
        fraction = value - math.floor(value) if not (10_000_000 <= value < 100_000_000) else 0.0
        moment = dt.datetime.combine(day, dt.time(), SHANGHAI) + dt.timedelta(seconds=round(fraction * 86400))
    else:
        typed = unicodedata.normalize("NFKC", cell_text(value)).strip()
        m = _TIME.fullmatch(typed)
        if m is None:
            raise ValueError(f"{_shown(typed)} 不是时间 / is not a time (e.g. 2026-04-02 09:30)")
        day = parse_hand_date(m["date"])
        hour, minute, second = int(m["h"] or 0), int(m["m"] or 0), int(m["s"] or 0)
        micro = int((m["f"] or "0").ljust(6, "0"))
        zone: dt.tzinfo = SHANGHAI
        if m["tz"] == "Z":
            zone = dt.UTC
        elif m["tz"]:
            sign = -1 if m["tz"][0] == "-" else 1
            digits = m["tz"][1:].replace(":", "")
            zone = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        try:
            moment = dt.datetime.combine(day, dt.time(hour, minute, second, micro), zone)
        except ValueError:
            raise ValueError(f"{_shown(typed)} 时间不存在 / no such time of day") from None
    return moment.isoformat()


def _date_range(separators: tuple[str, ...]) -> Callable[[object], dict[str, str]]:
    # 2026.5.1-2026.5.10: a hyphen separates two dates only where the second one starts with its year
    hyphen = re.compile(r"(.*\S)\s*[-－]\s*(\d{4}\D.*|\d{8})", re.ASCII)

    def normalise(value: object) -> dict[str, str]:
        if not isinstance(value, str):
            raise ValueError(f"须填起止两个日期，如 2026-05-01至2026-05-10 / give both dates, e.g. "
                             f"2026-05-01至2026-05-10 (found {cell_text(value)!r})")
        typed = unicodedata.normalize("NFKC", cell_text(value)).strip()
        parts: list[str] | None = None
        for sep in separators:
            sep = unicodedata.normalize("NFKC", sep)
            if typed.count(sep) == 1:
                parts = typed.split(sep)
                break
        if parts is None:
            m = hyphen.fullmatch(typed)
            if m is not None:
                parts = [m[1], m[2]]
        if parts is None:
            raise ValueError(f"{_shown(typed)} 须为“起始日期至结束日期” / must be two dates, "
                             "e.g. 2026-05-01至2026-05-10")
        first, last = parse_hand_date(parts[0].strip()), parse_hand_date(parts[1].strip())
        if last < first:
            raise ValueError(f"结束日期 {last.isoformat()} 早于起始日期 {first.isoformat()} / "
                             "the last day is before the first")
        return {"起": first.isoformat(), "止": last.isoformat()}

    return normalise


def _agency(value: object) -> str:
    out = _SPACES.sub("", text.halfwidth(cell_text(value))).upper()
    if not _AGENCY.fullmatch(out):
        raise ValueError(f"{_shown(cell_text(value))} 不是单位代码 / is not an agency code (6-digit division and "
                         "the organ letters, e.g. 530502FY 隆阳区人民法院, 530581SF 腾冲市司法局)")
    return out


def _division(divisions: Mapping[str, str], prefixes: tuple[str, ...]) -> Callable[[object], str]:
    names = "、".join(f"{name} {code}" for name, code in divisions.items())

    def normalise(value: object) -> str:
        typed = key(cell_text(value))
        if _DIVISION.fullmatch(typed):
            return typed
        for prefix in prefixes:
            if typed.startswith(prefix) and typed != prefix:
                typed = typed[len(prefix):]
                break
        found = divisions.get(typed)
        if found is None:
            raise ValueError(f"{_shown(cell_text(value))} 不是县级行政区划 / is not a county: write its "
                             f"6-digit code, or one of {names}")
        return found

    return normalise


def _uuid(value: object) -> str:
    out = _SPACES.sub("", text.halfwidth(cell_text(value))).lower()
    if not _UUID.fullmatch(out):
        raise ValueError(f"{_shown(cell_text(value))} 不是消息编号 / is not a message id (a UUID such as "
                         "8092df1d-87f8-438e-bf6a-5826f71aebe0)")
    return out


def _sha256(value: str) -> str:
    out = _SPACES.sub("", text.halfwidth(value)).lower()
    if not _SHA256.fullmatch(out):
        raise ValueError(f"{_shown(value)} 不是 SHA-256 值 / is not a SHA-256 digest (64 hexadecimal digits)")
    return out


class ItemsError(ValueError):
    """Problems of the lines of a multi-line cell, one reason per bad line."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def _items(fields: tuple[ItemField, ...], separator: str,
           max_items: int | None) -> Callable[[object], list[dict[str, str]]]:
    names = separator.join(f.name for f in fields)
    # the half-width bar is read as the separator too: it is what a keyboard in English mode types
    split = re.compile(f"[{re.escape(separator)}|]")

    def normalise(value: object) -> list[dict[str, str]]:
        items: list[dict[str, str]] = []
        reasons: list[str] = []
        for number, line in enumerate(_LINES.split(cell_text(value)), 1):
            if not line.strip():
                continue
            at = f"第{number}行 / line {number}"
            parts = [p.strip() for p in split.split(line)]
            if len(parts) > len(fields):
                reasons.append(f"{at}: {len(parts)} 项，至多 {len(fields)} 项 / {len(parts)} fields, at most "
                               f"{len(fields)}: {names}")
                continue
            item: dict[str, str] = {}
            for f, part in zip(fields, parts, strict=False):
                if not part:
                    continue
                try:
                    item[f.name] = f.normalise(part)
                except ValueError as e:
                    reasons.append(f"{at}, {f.name}: {e}")
            missing = [f.name for f in fields if f.required and f.name not in item and not any(
                r.startswith(f"{at}, {f.name}:") for r in reasons)]
            if missing:
                reasons.append(f"{at}: 缺少 {'、'.join(missing)} / {', '.join(missing)} required ({names})")
            items.append(item)
        if max_items is not None and len(items) > max_items:
            reasons.append(f"{len(items)} 项，至多 {max_items} 项 / {len(items)} lines, at most {max_items}")
        if reasons:
            raise ItemsError(reasons)
        return items

    return normalise


# ---- a file's header and its rows ------------------------------------------------------------------------


class Layout:
    """The columns of one ledger file, read from its header; checks its rows. ``Layout.of`` reuses the layout of
    a header seen before (the hub reads many small files with the same header)."""

    @classmethod
    def of(cls, spec: ColumnSpec, first: Row) -> Layout:
        """The layout of ``first``'s file: NativeError when its header does not fit the specification."""
        seen = (id(spec), first.sheet, first.header_row, tuple(first.columns.items()))
        found = _LAYOUTS.get(seen)
        if found is None or found.spec is not spec:
            found = cls(spec, first)
            if len(_LAYOUTS) >= 256:
                _LAYOUTS.clear()
            _LAYOUTS[seen] = found
        return found

    def __init__(self, spec: ColumnSpec, first: Row) -> None:
        self.spec = spec
        self.ref = sheet_ref(first.sheet)
        header_row = first.header_row
        problems: list[NativeProblem] = []
        self.columns: dict[str, Column] = {}  # the file's header → column
        self.letters: dict[str, str] = {}  # column header → the file's column letter
        for header, letter in first.columns.items():
            col = spec.column(header)
            where = f"{self.ref}!{letter}{header_row}"
            if col is None:
                problems.append(NativeProblem(
                    f"表头“{header}”不是台账的列 / {header!r} is not a ledger column; 请改为规范的列名或删除该列 / "
                    f"rename it to a column of the specification or delete it", where))
                continue
            if col.header in self.letters:
                problems.append(NativeProblem(
                    f"表头“{header}”与 {self.letters[col.header]} 列是同一列“{col.header}” / {header!r} is the "
                    f"same column as {self.letters[col.header]}{header_row} ({col.header})", where))
                continue
            self.columns[header] = col
            self.letters[col.header] = letter
        for col in spec.common:
            if col.required and col.header not in self.letters:
                problems.append(NativeProblem(f"缺少必需的列“{col.header}” / the ledger has no column {col.header} "
                                              f"({col.label}), which every row needs",
                                              f"{self.ref}!{header_row}:{header_row}"))
        if problems:
            raise NativeError("bad_header", f"the ledger's header row does not match the column specification: "
                                            f"{problems[0].reason}" + (f" (and {len(problems) - 1} more)"
                                                                       if len(problems) > 1 else ""), problems)
        self.event_header = next(h for h, c in self.columns.items() if c.type == "event")
        self.required_common = tuple(c for c in spec.common if c.required and c.type != "event")

    def cell(self, header: str, number: int) -> str:
        """The cell of column ``header`` in row ``number`` (the whole row when the file has no such column)."""
        letter = self.letters.get(header)
        return f"{self.ref}!{letter}{number}" if letter is not None else f"{self.ref}!{number}:{number}"

    def check(self, row: Row) -> tuple[Event | None, dict[str, Normal], list[NativeProblem]]:
        """The row's 事项, its cells in normal form by column header, and its problems (each at its cell)."""
        n = row.number
        problems: list[NativeProblem] = []
        data: dict[str, Normal] = {}
        failed: set[str] = set()
        raw_event = row.cells.get(self.event_header)
        event = self.spec.event(raw_event) if raw_event is not None else None
        if raw_event is None:
            problems.append(NativeProblem("事项: 必填：本行登记的是什么（报到、警告、回执……） / "
                                          "required: what the row records (报到, 警告, 回执 …)", self.cell("事项", n)))
        elif event is None:
            allowed = "、".join(e.word for e in self.spec.events)
            problems.append(NativeProblem(f"事项: {_shown(cell_text(raw_event))} 不是台账的事项 / "
                                          f"is not a 事项 of the ledger; 可填 / allowed: {allowed}",
                                          self.cell("事项", n)))
        problems.extend(NativeProblem(
            f"{ref.rsplit('!', 1)[1]} 单元格有数据但该列没有表头 / a value in a column without a header; 请删除或补上"
            "表头 / delete it or give the column a header", ref) for ref in row.stray)
        used = event.uses if event is not None else frozenset()
        for header, value in row.cells.items():
            col = self.columns[header]
            normalise = col.normalise
            if normalise is None:
                continue
            if not col.common:
                if event is None:
                    continue  # nothing to say about a body cell of an unknown 事项
                if col.header not in used:
                    problems.append(NativeProblem(
                        f"{col.header}: 事项“{event.word}”不填此列 / not used for {event.word}; 请清空或移到适用的列 / "
                        "leave it empty or move the content to a column the 事项 has", self.cell(col.header, n)))
                    failed.add(col.header)
                    continue
            try:
                data[col.header] = normalise(value)
            except ItemsError as e:
                failed.add(col.header)
                problems.extend(NativeProblem(f"{col.header}: {r}", self.cell(col.header, n)) for r in e.reasons)
            except ValueError as e:
                failed.add(col.header)
                problems.append(NativeProblem(f"{col.header}: {e}", self.cell(col.header, n)))
        required = [c.header for c in self.required_common]
        if event is not None:
            required.extend(event.required)
        for header in required:
            if header not in data and header not in failed:
                why = f"事项“{event.word}”必填 / required for {event.word}" if event and header in event.required \
                    else "必填 / required"
                problems.append(NativeProblem(f"{header}: {why}", self.cell(header, n)))
        for a, b in self.spec.together:
            if (a in data) != (b in data) and a not in failed and b not in failed:
                missing, given = (b, a) if a in data else (a, b)
                problems.append(NativeProblem(f"{missing}: 填了“{given}”就须同时填写 / required with {given}",
                                              self.cell(missing, n)))
        completeness = data.get("材料是否齐全")
        if completeness is not None and "缺少材料" not in failed:
            if completeness == "不齐全" and "缺少材料" not in data:
                problems.append(NativeProblem("缺少材料: 材料不齐全时须逐行列出缺少或有误的材料 / "
                                              "list the missing or defective documents when 材料是否齐全 is 不齐全",
                                              self.cell("缺少材料", n)))
            elif completeness == "齐全" and "缺少材料" in data:
                problems.append(NativeProblem("缺少材料: 材料齐全时不填 / leave it empty when 材料是否齐全 is 齐全",
                                              self.cell("缺少材料", n)))
        return event, data, problems


_LAYOUTS: dict[tuple[int, str, int, tuple[tuple[str, str], ...]], Layout] = {}


@cache
def _uses(headers: tuple[str, ...]) -> frozenset[str]:
    return frozenset(headers)
