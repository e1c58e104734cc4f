"""Declarative mapping between a native record and a canonical message.

An adapter states, per native document type, which native field holds which canonical element and
how the value is converted (a codec). The same table drives inbound (native → canonical), outbound
(canonical → native) and the mapping table in the agency's spec page, so the three cannot drift.

A native record is nested plain data: ``{"XM": "杨国富", "FJLB": {"WJ": [{"WJMC": "…"}, …]}}`` —
dicts, lists and strings — whatever the format (XML elements, JSON members, spreadsheet columns).
Native paths use ``/`` between steps (``FJLB/WJ``); canonical paths are relative to the root element
(``decision/documents/document``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from adapters.kit import text
from adapters.kit.canonical import CanonicalDict, get, get_steps
from adapters.kit.problems import NativeProblem

SHANGHAI = ZoneInfo("Asia/Shanghai")
# messageIds of native records that carry none: uuid5 of sender and the sender's document id, so that a
# record sent twice gets the same id and the hub's idempotency holds
MESSAGE_ID_NAMESPACE = uuid.UUID("6f1c2a4e-8d1b-5c57-9e2f-3a9b7c1d0e55")

Locate = Callable[[str], str]


class Codec(Protocol):
    """Converts one value; ``inbound`` raises ValueError with a reason a clerk can act on."""

    @property
    def doc(self) -> str: ...

    def inbound(self, value: str) -> str: ...

    def outbound(self, value: str) -> str: ...


@dataclass(frozen=True)
class Func:
    """A codec from two functions (identity outbound unless given)."""

    doc: str
    to_canonical: Callable[[str], str]
    to_native: Callable[[str], str] = str

    def inbound(self, value: str) -> str:
        return self.to_canonical(value)

    def outbound(self, value: str) -> str:
        return self.to_native(value)


def _nonempty(value: str) -> str:
    out = text.clean_text(value)
    if not out:
        raise ValueError("is blank")
    return out


TEXT = Func("text (trimmed)", _nonempty)
NAME = Func("name: NFC, separator dot as U+00B7", lambda v: text.person_name(v) or _nonempty(v))
CASE_NUMBER = Func("case number: ASCII digits, （ ）, no spaces", text.case_number)
DOCUMENT_NUMBER = Func("document number: ASCII digits, no spaces", text.document_number)
ID_NUMBER = Func("ID number: half-width, upper-case X", text.id_number)
CODE = Func("code, as is (half-width)", lambda v: text.halfwidth(v).strip())

# the canonical document kinds as Chinese papers name them, for systems that write the word rather than a code
DOCUMENT_KINDS: dict[str, str] = {
    "判决书": "JUDGMENT",
    "裁定书": "RULING",
    "决定书": "DECISION",
    "执行通知书": "EXECUTION_NOTICE",
    "假释证明书": "PAROLE_CERTIFICATE",
    "暂予监外执行决定书": "TEMP_OUTSIDE_DECISION",
    "结案登记表": "CASE_CLOSING_FORM",
    "起诉书": "INDICTMENT",
    "调查评估委托函": "COMMISSION_LETTER",
    "调查评估意见书": "ASSESSMENT_REPORT",
    "档案材料": "PERSON_FILE",
    "病情诊断": "MEDICAL_REPORT",
    "证据材料": "EVIDENCE",
    "证明书": "CERTIFICATE",
    "其他": "OTHER",
}


@dataclass(frozen=True)
class Enum:
    """A code list: native code → canonical value; ``aliases`` are accepted inbound only."""

    table: Mapping[str, str]
    name: str = "code list"
    aliases: Mapping[str, str] = field(default_factory=dict)

    @property
    def doc(self) -> str:
        return f"{self.name}: " + ", ".join(f"{k} = {v}" for k, v in self.table.items())

    def inbound(self, value: str) -> str:
        key = text.halfwidth(value).strip()
        found = self.table.get(key) or self.aliases.get(key)
        if found is None:
            allowed = ", ".join(f"{k} ({v})" for k, v in self.table.items())
            raise ValueError(f"{value!r} is not in {self.name}; allowed: {allowed}")
        return found

    def outbound(self, value: str) -> str:
        found = self._codes.get(value)
        if found is None:
            raise ValueError(f"{value!r} has no code in {self.name}")
        return found

    @functools.cached_property
    def _codes(self) -> dict[str, str]:
        """Canonical value → its first native code (a scan of the table per value costs more than the field)."""
        out: dict[str, str] = {}
        for k, v in self.table.items():
            out.setdefault(v, k)
        return out


@dataclass(frozen=True)
class Date:
    """xs:date ↔ a native date pattern (strptime format)."""

    fmt: str = "%Y%m%d"

    @property
    def doc(self) -> str:
        return f"date {self.fmt.replace('%Y', 'YYYY').replace('%m', 'MM').replace('%d', 'DD')}"

    def inbound(self, value: str) -> str:
        v = text.halfwidth(value).strip()
        try:
            if self.fmt == "%Y%m%d" and len(v) == 8 and v.isdigit():
                return dt.date(int(v[:4]), int(v[4:6]), int(v[6:])).isoformat()
            if self.fmt == "%Y-%m-%d" and len(v) == 10 and v[4] == "-" and v[7] == "-":
                return dt.date.fromisoformat(v).isoformat()
            return dt.datetime.strptime(v, self.fmt).date().isoformat()
        except ValueError:
            raise ValueError(f"{value!r} is not a date of the form {self.doc[5:]}") from None

    def outbound(self, value: str) -> str:
        d = dt.date.fromisoformat(value)
        if self.fmt == "%Y%m%d":
            return f"{d.year:04d}{d.month:02d}{d.day:02d}"
        if self.fmt == "%Y-%m-%d":
            return d.isoformat()
        return d.strftime(self.fmt)


@dataclass(frozen=True)
class DateTime:
    """A timestamp: native local Beijing time in ``fmt`` (no offset) ↔ canonical ISO 8601 with offset.
    With ``fmt=None`` the native side is ISO 8601 with an offset too (kept as written)."""

    fmt: str | None = "%Y%m%d%H%M%S"

    @property
    def doc(self) -> str:
        return f"time {self.fmt} (Beijing time)" if self.fmt else "time ISO 8601 with offset"

    def inbound(self, value: str) -> str:
        v = value.strip()
        if self.fmt is None:
            try:
                parsed = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(f"{value!r} is not an ISO 8601 time") from None
            if parsed.tzinfo is None:
                raise ValueError(f"{value!r} has no UTC offset (write e.g. +08:00)")
            return v
        try:
            fields = _fixed_width_time(self.fmt, v)
            if fields is not None and fields[0] >= _FIXED_OFFSET_FROM.year:
                # Beijing time has been UTC+08:00 without summer time since 1991: no zone lookup needed
                return dt.datetime(*fields).isoformat() + "+08:00"
            local = dt.datetime.strptime(v, self.fmt).replace(tzinfo=SHANGHAI)
        except ValueError:
            raise ValueError(f"{value!r} is not a time of the form {self.fmt}") from None
        return local.isoformat()

    def outbound(self, value: str) -> str:
        if self.fmt is None:
            return value
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is not None and parsed >= _FIXED_OFFSET_FROM:
            local = parsed.astimezone(_UTC8)
            layout = _TIME_LAYOUTS.get(self.fmt)
            if layout is not None and local.year >= 1000:  # strftime writes years before 1000 unpadded
                return layout.format(local)
            return local.strftime(self.fmt)
        return parsed.astimezone(SHANGHAI).strftime(self.fmt)


_UTC8 = dt.timezone(dt.timedelta(hours=8))
# from this instant on Asia/Shanghai is plain UTC+08:00 (its last summer time ended in September 1991)
_FIXED_OFFSET_FROM = dt.datetime(1992, 1, 1, tzinfo=_UTC8)
# strftime patterns of the native time formats, as str.format layouts (strftime is several times slower)
_TIME_LAYOUTS = {
    "%Y%m%d%H%M%S": "{0.year:04d}{0.month:02d}{0.day:02d}{0.hour:02d}{0.minute:02d}{0.second:02d}",
    "%Y-%m-%d %H:%M:%S": "{0.year:04d}-{0.month:02d}-{0.day:02d} {0.hour:02d}:{0.minute:02d}:{0.second:02d}",
}


def _fixed_width_time(fmt: str, v: str) -> tuple[int, int, int, int, int, int] | None:
    """Year … second of ``v`` when it is written with every field at full width in one of the common native
    formats (what strptime would read the same way), else None (strptime decides)."""
    if fmt == "%Y%m%d%H%M%S":
        if len(v) != 14 or not v.isascii() or not v.isdigit():
            return None
        return int(v[:4]), int(v[4:6]), int(v[6:8]), int(v[8:10]), int(v[10:12]), int(v[12:])
    if fmt == "%Y-%m-%d %H:%M:%S":
        if len(v) != 19 or not v.isascii() or v[4] != "-" or v[7] != "-" or v[10] != " " or v[13] != ":" \
                or v[16] != ":":
            return None
        digits = v[:4] + v[5:7] + v[8:10] + v[11:13] + v[14:16] + v[17:]
        if not digits.isdigit():
            return None
        return int(v[:4]), int(v[5:7]), int(v[8:10]), int(v[11:13]), int(v[14:16]), int(v[17:])
    return None


@dataclass(frozen=True)
class Bool:
    """xs:boolean ↔ native yes/no codes."""

    true: str = "1"
    false: str = "0"
    aliases: Mapping[str, bool] = field(default_factory=lambda: {"是": True, "否": False, "true": True,
                                                                  "false": False, "Y": True, "N": False})

    @property
    def doc(self) -> str:
        return f"yes/no: {self.true} = yes, {self.false} = no"

    def inbound(self, value: str) -> str:
        v = text.halfwidth(value).strip()
        if v == self.true:
            return "true"
        if v == self.false:
            return "false"
        if v in self.aliases:
            return "true" if self.aliases[v] else "false"
        raise ValueError(f"{value!r} is not {self.true} (yes) or {self.false} (no)")

    def outbound(self, value: str) -> str:
        return self.true if value in ("true", "1") else self.false


@dataclass(frozen=True)
class F:
    """One native field ↔ one canonical leaf."""

    native: str
    canonical: str
    codec: Codec = TEXT
    label: str = ""
    required: bool = False


@dataclass(frozen=True)
class Group:
    """A repeated native item (``native`` is the path to the list) ↔ a repeated canonical element."""

    native: str
    canonical: str
    fields: tuple[F, ...]
    label: str = ""
    required: bool = False  # at least one item


@dataclass(frozen=True)
class Spec:
    """One native document type: its code, the canonical type it becomes, constant canonical values
    (e.g. decisionKind JUDGMENT for a 判决书), and the fields."""

    native_type: str
    message_type: str
    fields: tuple[F | Group, ...]
    fixed: Mapping[str, str] = field(default_factory=dict)
    label: str = ""

    def matches(self, message_type: str, data: CanonicalDict) -> bool:
        return self.message_type == message_type and all(get(data, p) == v for p, v in self.fixed.items())


@dataclass(frozen=True)
class Specs:
    """An adapter's document types, looked up by native code (inbound) or canonical content (outbound)."""

    items: tuple[Spec, ...]
    name: str = "document type"

    def by_native(self, code: str) -> Spec:
        found = self._by_code.get(code)
        if found is not None:
            return found
        allowed = ", ".join(f"{s.native_type} ({s.label or s.message_type})" for s in self.items)
        raise ValueError(f"{code!r} is not a {self.name} this format sends; allowed: {allowed}")

    def for_canonical(self, message_type: str, data: CanonicalDict) -> Spec:
        for s, fixed in self._by_message_type.get(message_type, ()):
            if all(get_steps(data, steps) == v for steps, v in fixed):
                return s
        raise ValueError(f"this format has no {self.name} for {message_type}"
                         + (f" with {dict((p, get(data, p)) for s in self.items for p in s.fixed)}"
                            if any(s.message_type == message_type for s in self.items) else ""))

    @property
    def message_types(self) -> frozenset[str]:
        return frozenset(s.message_type for s in self.items)

    # looked up once per record: a scan of every type per lookup costs more than the lookup's use
    @functools.cached_property
    def _by_code(self) -> dict[str, Spec]:
        out: dict[str, Spec] = {}
        for s in self.items:
            out.setdefault(s.native_type, s)
        return out

    @functools.cached_property
    def _by_message_type(self) -> dict[str, tuple[tuple[Spec, tuple[tuple[tuple[str, ...], str], ...]], ...]]:
        out: dict[str, list[tuple[Spec, tuple[tuple[tuple[str, ...], str], ...]]]] = {}
        for s in self.items:
            out.setdefault(s.message_type, []).append((s, tuple((_steps(p), v) for p, v in s.fixed.items())))
        return {k: tuple(v) for k, v in out.items()}


# ---- native nested data ---------------------------------------------------------------------------

def native_get(record: Mapping[str, Any], path: str) -> Any:
    return _get_steps(record, _steps(path))


def _get_steps(record: Any, steps: tuple[str, ...]) -> Any:
    cur = record
    for step in steps:
        if type(cur) is not dict and not isinstance(cur, Mapping):
            return None
        cur = cur.get(step)
        if cur is None:
            return None
    return cur


@functools.cache
def _steps(path: str) -> tuple[str, ...]:
    return tuple(path.split("/"))


def native_put(record: dict[str, Any], path: str, value: Any) -> None:
    steps = _steps(path)
    cur = record
    for step in steps[:-1]:
        nxt = cur.get(step)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[step] = nxt
        cur = nxt
    cur[steps[-1]] = value


def _put_steps(data: CanonicalDict, steps: tuple[str, ...], value: Any) -> None:
    cur = data
    for step in steps[:-1]:
        nxt = cur.get(step)
        if nxt is None:
            nxt = cur[step] = {}
        cur = nxt
    cur[steps[-1]] = value


def _canonical_path(message_type: str, path: str, index: dict[str, tuple[int, int]] | None = None) -> str:
    steps = []
    acc = ""
    for step in path.split("/"):
        acc = f"{acc}/{step}" if acc else step
        pos = (index or {}).get(acc)
        steps.append(f"x:{step}[{pos[0] + 1}]" if pos and pos[1] > 1 else f"x:{step}")
    return f"/x:{message_type}/" + "/".join(steps)


# (canonical path, group path and (index, count) or None, native path for locate)
Trace = tuple[str, str | None, tuple[int, int] | None, str]


class Provenance(Mapping[str, str]):
    """Canonical element path → native place, worked out only when asked (most records never need it)."""

    def __init__(self, message_type: str, locate: Locate, trace: list[Trace] | None = None) -> None:
        self._mt, self._locate = message_type, locate
        self._trace: list[Trace] = [] if trace is None else trace
        self._built: dict[str, str] | None = None

    def note(self, canonical: str, group: str | None, pos: tuple[int, int] | None, native: str) -> None:
        self._trace.append((canonical, group, pos, native))
        self._built = None

    def _table(self) -> dict[str, str]:
        if self._built is None:
            out: dict[str, str] = {}
            for canonical, group, pos, native in self._trace:
                index = {group: pos} if group is not None and pos is not None else None
                out.setdefault(_canonical_path(self._mt, canonical, index), self._locate(native))
            self._built = out
        return self._built

    def __getitem__(self, key: str) -> str:
        return self._table()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())


@dataclass
class Translation:
    """The result of translating one native record: the canonical dict, where each canonical element came
    from (canonical element path → native place), and the problems met."""

    message_type: str
    data: CanonicalDict
    provenance: Mapping[str, str]
    problems: list[NativeProblem]


def _label(f: F | Group) -> str:
    return f"{f.label} ({f.native.rsplit('/', 1)[-1]})" if f.label else f.native


# characters XML 1.0 cannot carry (a value with one would make the canonical message unreadable)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


# ---- compiled specs ------------------------------------------------------------------------------------
# Translating walks a spec's fields once per record; the paths, labels and codec methods a field needs are worked
# out once per spec instead (splitting paths and building labels per record cost more than the conversions).
# Consecutive fields under the same native element and the same canonical element (JZDX/XM, JZDX/XB … →
# person/name, person/sex …) form a run: the two parents are looked up once for the run, not once per field.

# a field read inbound: (native leaf, native path, canonical leaf, provenance path, its provenance entry outside a
# group, conversion, required, label)
_InField = tuple[str, str, str, str, "Trace", Callable[[str], str], bool, str]
# a field written outbound: (canonical leaf, native leaf, conversion, or None when it writes the text as it is)
_OutField = tuple[str, str, Callable[[str], str] | None]


@dataclass(frozen=True)
class _Run:
    native_parents: tuple[str, ...]
    canonical_parents: tuple[str, ...]
    fields: tuple[Any, ...]  # _InField or _OutField


@dataclass(frozen=True)
class _InGroup:
    steps: tuple[str, ...]
    native: str
    prefix: str  # native path of the single item's fields
    canonical_steps: tuple[str, ...]
    canonical: str
    required: bool
    label: str
    runs: tuple[_Run, ...]


@dataclass(frozen=True)
class _OutGroup:
    canonical_steps: tuple[str, ...]
    native_parents: tuple[str, ...]
    native_leaf: str
    runs: tuple[_Run, ...]


@dataclass(frozen=True)
class _Plan:
    message_type: str
    # runs of fields, and groups, in the spec's order
    inbound: tuple[_Run | _InGroup, ...]
    outbound: tuple[_Run | _OutGroup, ...]
    fixed: tuple[tuple[tuple[str, ...], str], ...]


def _runs(fields: tuple[F, ...], group: str | None, inbound: bool) -> list[_Run]:
    runs: list[_Run] = []
    for f in fields:
        nsteps, csteps = _steps(f.native), _steps(f.canonical)
        if inbound:
            path = f"{group}/{f.canonical}" if group else f.canonical
            # a Func's own function, not its method that calls it
            convert = f.codec.to_canonical if type(f.codec) is Func else f.codec.inbound
            field: Any = (nsteps[-1], f.native, csteps[-1], path, (path, None, None, f.native), convert, f.required,
                          _label(f))
        else:
            write = f.codec.to_native if type(f.codec) is Func else f.codec.outbound
            field = (csteps[-1], nsteps[-1], None if write is str else write)  # str() of a text is the text
        if runs and runs[-1].native_parents == nsteps[:-1] and runs[-1].canonical_parents == csteps[:-1]:
            runs[-1] = _Run(nsteps[:-1], csteps[:-1], (*runs[-1].fields, field))
        else:
            runs.append(_Run(nsteps[:-1], csteps[:-1], (field,)))
    return runs


def _compile(spec: Spec) -> _Plan:
    inbound: list[_Run | _InGroup] = []
    outbound: list[_Run | _OutGroup] = []
    fields: list[F] = []
    for item in (*spec.fields, None):
        if isinstance(item, F):
            fields.append(item)
            continue
        if fields:
            inbound.extend(_runs(tuple(fields), None, True))
            outbound.extend(_runs(tuple(fields), None, False))
            fields = []
        if item is None:
            break
        nsteps = _steps(item.native)
        inbound.append(_InGroup(nsteps, item.native, f"{item.native}/", _steps(item.canonical), item.canonical,
                                item.required, _label(item), tuple(_runs(item.fields, item.canonical, True))))
        outbound.append(_OutGroup(_steps(item.canonical), nsteps[:-1], nsteps[-1],
                                  tuple(_runs(item.fields, None, False))))
    return _Plan(spec.message_type, tuple(inbound), tuple(outbound),
                 tuple((_steps(p), v) for p, v in spec.fixed.items()))


def _plan(spec: Spec) -> _Plan:
    """The compiled form of a spec, kept on the spec itself (so it lives as long as the spec does)."""
    plan = spec.__dict__.get("_plan")
    if plan is None:
        plan = _compile(spec)
        object.__setattr__(spec, "_plan", plan)
    assert type(plan) is _Plan
    return plan


def inbound(spec: Spec, record: Mapping[str, Any], locate: Locate) -> Translation:
    """Native record → canonical dict (problems collected, not raised)."""
    plan = _plan(spec)
    # the converted values are checked for characters XML cannot carry all at once; only when one has such a
    # character is the record translated again value by value, to say which field it is in
    found = _inbound(plan, record, locate, False)
    if found is None:
        found = _inbound(plan, record, locate, True)
    assert found is not None
    return found


def _inbound(plan: _Plan, record: Mapping[str, Any], locate: Locate, check_each: bool) -> Translation | None:
    data: CanonicalDict = {}
    problems: list[NativeProblem] = []
    trace: list[Trace] = []
    values: list[str] = []
    for part in plan.inbound:
        if type(part) is _Run:
            _fill(part, record, "", data, None, None, problems, trace, values, locate, check_each)
            continue
        assert type(part) is _InGroup
        found = _get_steps(record, part.steps)
        entries = [] if found is None else found if isinstance(found, list) else [found]
        if part.required and not entries:
            problems.append(NativeProblem(f"{part.label} is required but empty or missing", where=locate(part.native)))
        out: list[CanonicalDict] = []
        count = len(entries)
        for i, entry in enumerate(entries):
            prefix = f"{part.native}[{i + 1}]/" if count > 1 else part.prefix
            if not isinstance(entry, Mapping):
                problems.append(NativeProblem(f"{part.label} item must be a structure", where=locate(prefix[:-1])))
                continue
            sub: CanonicalDict = {}
            pos = (i, count)
            for run in part.runs:
                _fill(run, entry, prefix, sub, part.canonical, pos, problems, trace, values, locate, check_each)
            out.append(sub)
            trace.append((part.canonical, part.canonical, pos, prefix[:-1]))
        if out:
            _put_steps(data, part.canonical_steps, out)
    if not check_each and _NOT_XML.search("".join(values)) is not None:
        return None
    for steps, value in plan.fixed:
        _put_steps(data, steps, value)
    mt = plan.message_type
    return Translation(mt, data, Provenance(mt, locate, trace), problems)


def _fill(run: _Run, source: Mapping[str, Any], prefix: str, into: CanonicalDict, group: str | None,
          pos: tuple[int, int] | None, problems: list[NativeProblem], trace: list[Trace], values: list[str],
          locate: Locate, check_each: bool) -> None:
    """Convert a run of fields of one native record (or of one item of ``group``) into ``into``."""
    parent: Any = _get_steps(source, run.native_parents) if run.native_parents else source
    if parent is not None and type(parent) is not dict and not isinstance(parent, Mapping):
        parent = None  # a text where the fields' element should be: every field is missing
    target: CanonicalDict | None = None
    for leaf, native, cleaf, path, entry, convert, required, label in run.fields:
        raw = None if parent is None else parent.get(leaf)
        if type(raw) is str:
            if not raw or raw.isspace():  # what ``not raw.strip()`` says, without the copy
                if required:
                    problems.append(NativeProblem(f"{label} is required but empty or missing",
                                                  where=locate(prefix + native)))
                continue
        elif raw is None:
            if required:
                problems.append(NativeProblem(f"{label} is required but empty or missing",
                                              where=locate(prefix + native)))
            continue
        else:
            problems.append(NativeProblem(f"{label} must be a single value", where=locate(prefix + native)))
            continue
        try:
            value = convert(raw)
        except ValueError as e:
            problems.append(NativeProblem(f"{label}: {e}", where=locate(prefix + native)))
            continue
        if check_each:
            bad = _NOT_XML.search(value)
            if bad is not None:
                problems.append(NativeProblem(f"{label} contains the control character U+{ord(bad.group()):04X}, "
                                              "which XML cannot carry", where=locate(prefix + native)))
                continue
        else:
            values.append(value)
        if target is None:
            target = into
            for step in run.canonical_parents:
                nxt = target.get(step)
                if nxt is None:
                    nxt = target[step] = {}
                target = nxt
        target[cleaf] = value
        trace.append(entry if group is None else (path, group, pos, prefix + native))


def outbound(spec: Spec, data: CanonicalDict) -> dict[str, Any]:
    """Canonical dict → native record, in the order of the spec's fields."""
    record: dict[str, Any] = {}
    for part in _plan(spec).outbound:
        if type(part) is _Run:
            _write(part, _get_steps(data, part.canonical_parents), record, True)
            continue
        assert type(part) is _OutGroup
        found = get_steps(data, part.canonical_steps)
        entries = [] if found is None else found if isinstance(found, list) else [found]
        rows: list[dict[str, Any]] = []
        for entry in entries:
            row: dict[str, Any] = {}
            for run in part.runs:
                _write(run, get_steps(entry, run.canonical_parents), row, False)
            rows.append(row)
        if rows:
            _native_put(record, part.native_parents, part.native_leaf, rows)
    return record


def _write(run: _Run, block: Any, record: dict[str, Any], mappings: bool) -> None:
    """Write a run of fields from their canonical element ``block`` (a dict, or any mapping when ``mappings``)
    into ``record``."""
    if block is None or (type(block) is not dict and not (mappings and isinstance(block, Mapping))):
        return  # no value for any field of the run
    target: dict[str, Any] | None = None
    for cleaf, nleaf, convert in run.fields:
        value = block.get(cleaf)
        if value is None or value == "":
            continue
        value = value if type(value) is str else str(value)
        if convert is not None:
            value = convert(value)
        if target is None:
            target = record
            for step in run.native_parents:
                nxt = target.get(step)
                if not isinstance(nxt, dict):
                    nxt = {}
                    target[step] = nxt
                target = nxt
        target[nleaf] = value


def _native_put(record: dict[str, Any], parents: tuple[str, ...], leaf: str, value: Any) -> None:
    """``native_put`` with the path already split."""
    cur = record
    for step in parents:
        nxt = cur.get(step)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[step] = nxt
        cur = nxt
    cur[leaf] = value


def covered_paths(spec: Spec) -> set[str]:
    """Canonical leaf paths (group items as ``group/*/leaf``) the spec carries, fixed values included."""
    out = set(spec.fixed)
    for item in spec.fields:
        if isinstance(item, F):
            out.add(item.canonical)
        else:
            out.update(f"{item.canonical}/*/{f.canonical}" for f in item.fields)
    return out


def finish_envelope(tr: Translation, *, sender: str | None, received_at: dt.datetime) -> None:
    """Fill what a native record need not carry: type, version, sender (the authenticated agency),
    sending time (when the hub received it) and a stable message id."""
    env = tr.data.setdefault("envelope", {})
    env["messageType"] = tr.message_type
    env["schemaVersion"] = "1.0"
    if not env.get("sender") and sender:
        env["sender"] = sender
    if not env.get("sentAt"):
        env["sentAt"] = received_at.astimezone(SHANGHAI).isoformat(timespec="seconds")
    if not env.get("senderDocumentId"):
        tr.problems.append(NativeProblem("the record has no document id of the sender (needed to recognise a "
                                         "record sent twice)"))
    elif not env.get("messageId"):
        env["messageId"] = _uuid5(f"{env.get('sender')}|{env['senderDocumentId']}")
    # keep the envelope's elements in schema order regardless of how they were set
    tr.data["envelope"] = env


_NAMESPACE_BYTES = MESSAGE_ID_NAMESPACE.bytes


def _uuid5(name: str) -> str:
    """``str(uuid.uuid5(MESSAGE_ID_NAMESPACE, name))`` without building UUID objects (a third of a record's
    envelope work)."""
    b = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode("utf-8"), usedforsecurity=False).digest()[:16])
    b[6] = (b[6] & 0x0F) | 0x50  # version 5
    b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def mapping_table(spec: Spec) -> list[tuple[str, str, str, str]]:
    """Rows (native field, label, canonical path, conversion) for the spec page."""
    rows = []
    for item in spec.fields:
        if isinstance(item, F):
            rows.append((item.native, item.label, item.canonical, item.codec.doc))
        else:
            rows.append((item.native, item.label, item.canonical, "repeated"))
            rows.extend((f"{item.native}/{f.native}", f.label, f"{item.canonical}/{f.canonical}", f.codec.doc)
                        for f in item.fields)
    rows.extend(("(fixed)", "", p, f"= {v}") for p, v in spec.fixed.items())
    return rows
