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
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from adapters.kit import text
from adapters.kit.canonical import CanonicalDict, get
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
        for k, v in self.table.items():
            if v == value:
                return k
        raise ValueError(f"{value!r} has no code in {self.name}")


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
            local = dt.datetime.strptime(v, self.fmt).replace(tzinfo=SHANGHAI)
        except ValueError:
            raise ValueError(f"{value!r} is not a time of the form {self.fmt}") from None
        return local.isoformat()

    def outbound(self, value: str) -> str:
        if self.fmt is None:
            return value
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.astimezone(SHANGHAI).strftime(self.fmt)


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
        for s in self.items:
            if s.native_type == code:
                return s
        allowed = ", ".join(f"{s.native_type} ({s.label or s.message_type})" for s in self.items)
        raise ValueError(f"{code!r} is not a {self.name} this format sends; allowed: {allowed}")

    def for_canonical(self, message_type: str, data: CanonicalDict) -> Spec:
        for s in self.items:
            if s.matches(message_type, data):
                return s
        raise ValueError(f"this format has no {self.name} for {message_type}"
                         + (f" with {dict((p, get(data, p)) for s in self.items for p in s.fixed)}"
                            if any(s.message_type == message_type for s in self.items) else ""))

    @property
    def message_types(self) -> frozenset[str]:
        return frozenset(s.message_type for s in self.items)


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


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _canonical_path(message_type: str, path: str, index: dict[str, tuple[int, int]] | None = None) -> str:
    steps = []
    acc = ""
    for step in path.split("/"):
        acc = f"{acc}/{step}" if acc else step
        pos = (index or {}).get(acc)
        steps.append(f"x:{step}[{pos[0] + 1}]" if pos and pos[1] > 1 else f"x:{step}")
    return f"/x:{message_type}/" + "/".join(steps)


class Provenance(Mapping[str, str]):
    """Canonical element path → native place, worked out only when asked (most records never need it)."""

    def __init__(self, message_type: str, locate: Locate) -> None:
        self._mt, self._locate = message_type, locate
        # (canonical path, group path and (index, count) or None, native path for locate)
        self._trace: list[tuple[str, str | None, tuple[int, int] | None, str]] = []
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


def inbound(spec: Spec, record: Mapping[str, Any], locate: Locate) -> Translation:
    """Native record → canonical dict (problems collected, not raised)."""
    data: CanonicalDict = {}
    mt = spec.message_type
    provenance = Provenance(mt, locate)
    problems: list[NativeProblem] = []

    def one(f: F, source: Any, prefix: str, into: CanonicalDict, group: str | None,
            pos: tuple[int, int] | None) -> None:
        raw = _get_steps(source, _steps(f.native))
        if raw is None or (type(raw) is str and not raw.strip()):
            if f.required:
                problems.append(NativeProblem(f"{_label(f)} is required but empty or missing",
                                              where=locate(prefix + f.native)))
            return
        if type(raw) is not str:
            problems.append(NativeProblem(f"{_label(f)} must be a single value", where=locate(prefix + f.native)))
            return
        try:
            value = f.codec.inbound(raw)
        except ValueError as e:
            problems.append(NativeProblem(f"{_label(f)}: {e}", where=locate(prefix + f.native)))
            return
        bad = _NOT_XML.search(value)
        if bad is not None:
            problems.append(NativeProblem(f"{_label(f)} contains the control character U+{ord(bad.group()):04X}, "
                                          "which XML cannot carry", where=locate(prefix + f.native)))
            return
        _put_steps(into, _steps(f.canonical), value)
        provenance.note(f"{group}/{f.canonical}" if group else f.canonical, group, pos, prefix + f.native)

    for item in spec.fields:
        if type(item) is F:
            one(item, record, "", data, None, None)
            continue
        assert isinstance(item, Group)
        entries = _as_list(_get_steps(record, _steps(item.native)))
        if item.required and not entries:
            problems.append(NativeProblem(f"{_label(item)} is required but empty or missing",
                                          where=locate(item.native)))
        out: list[CanonicalDict] = []
        count = len(entries)
        for i, entry in enumerate(entries):
            prefix = f"{item.native}[{i + 1}]/" if count > 1 else f"{item.native}/"
            if not isinstance(entry, Mapping):
                problems.append(NativeProblem(f"{_label(item)} item must be a structure", where=locate(prefix[:-1])))
                continue
            sub: CanonicalDict = {}
            for f in item.fields:
                one(f, entry, prefix, sub, item.canonical, (i, count))
            out.append(sub)
            provenance.note(item.canonical, item.canonical, (i, count), prefix[:-1])
        if out:
            _put_steps(data, _steps(item.canonical), out)
    for path, value in spec.fixed.items():
        _put_steps(data, _steps(path), value)
    return Translation(mt, data, provenance, problems)


def outbound(spec: Spec, data: CanonicalDict) -> dict[str, Any]:
    """Canonical dict → native record, in the order of the spec's fields."""
    record: dict[str, Any] = {}
    for item in spec.fields:
        if type(item) is F:
            value = _get_steps(data, _steps(item.canonical))
            if value is not None and value != "":
                native_put(record, item.native, item.codec.outbound(value if type(value) is str else str(value)))
            continue
        assert isinstance(item, Group)
        entries = _as_list(get(data, item.canonical))
        rows: list[dict[str, Any]] = []
        for entry in entries:
            row: dict[str, Any] = {}
            for f in item.fields:
                value = get(entry, f.canonical)
                if value is not None and value != "":
                    native_put(row, f.native, f.codec.outbound(str(value)))
            rows.append(row)
        if rows:
            native_put(record, item.native, rows)
    return record


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
        env["messageId"] = str(uuid.uuid5(MESSAGE_ID_NAMESPACE, f"{env.get('sender')}|{env['senderDocumentId']}"))
    # keep the envelope's elements in schema order regardless of how they were set
    tr.data["envelope"] = env


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
