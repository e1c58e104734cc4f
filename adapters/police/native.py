"""The police exchange's JSON payloads (公安综合信息平台 社区矫正协作模块).

Reading is hardened: at most 10 MB, UTF-8 only (a byte-order mark tolerated), strict JSON (no duplicate keys,
no NaN or Infinity, nesting at most ``MAX_DEPTH`` deep, no characters XML cannot carry) and then the JSON
Schema, every error placed by its JSON pointer (``/records/2/ryxx/sfzhm``). A problem inside record *i*
rejects only that record; a problem anywhere else rejects the payload. Writing gives UTF-8 without a BOM,
two-space indentation and a fixed key order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from functools import cache
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator, ValidationError

from adapters.kit.mapping import DateTime, Locate
from adapters.kit.nativexml import agency_schema_dir
from adapters.kit.pipeline import NativeRecord
from adapters.kit.problems import NativeError, NativeProblem

SYSTEM = "police"
SCHEMA_FILE = "police-exchange.schema.json"
VERSION = "1.0"
MAX_BYTES = 10 * 1024 * 1024
# payload → records → record → wsxx → a document list → a document is six levels; the rest is headroom
MAX_DEPTH = 10
CONTENT_TYPE = "application/json; charset=utf-8"

_BOM = b"\xef\xbb\xbf"
_WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff")  # UTF-16 and UTF-32, either byte order
# what XML 1.0 cannot carry: a record holding it could never become canonical XML
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_REQUIRED = re.compile(r"^'(.+)' is a required property$")
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_SHOWN = 300  # characters of a schema message kept (messages quote the offending value)

Path = tuple[str | int, ...]


# ---- JSON pointers --------------------------------------------------------------------------------------

def pointer(path: Sequence[str | int]) -> str:
    """RFC 6901 JSON pointer of a path (``~`` and ``/`` in names escaped); "" is the whole payload."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def locator(index: int, record: Mapping[str, Any]) -> Locate:
    """Native paths of the mapping (``wsxx/wslb[2]/wsmc``, 1-based, the index left out for a single item) as
    JSON pointers into the payload (``/records/0/wsxx/wslb/1/wsmc``, 0-based)."""
    def locate(native_path: str) -> str:
        parts: list[str | int] = ["records", index]
        cur: Any = record
        for step in native_path.split("/") if native_path else ():
            m = re.fullmatch(r"(.+)\[([0-9]+)\]", step)
            name, n = (m[1], int(m[2]) - 1) if m else (step, None)
            parts.append(name)
            cur = cur.get(name) if isinstance(cur, Mapping) else None
            if isinstance(cur, list):
                k = n if n is not None else 0
                parts.append(k)
                cur = cur[k] if k < len(cur) else None
        return pointer(parts)

    return locate


# ---- reading --------------------------------------------------------------------------------------------

class _Constant:
    """NaN, Infinity or -Infinity as written: JSON has no such numbers, Python's reader accepts them."""

    def __init__(self, name: str) -> None:
        self.name = name


class _Repeated(dict[str, Any]):
    """A JSON object that named a key more than once (JSON leaves the meaning open: refused)."""

    repeated: tuple[str, ...] = ()


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = dict(pairs)
    if len(out) == len(pairs):  # no key named twice: the common case, without a loop in Python
        return out
    out = {}
    repeated = []
    for key, value in pairs:
        if key in out:
            repeated.append(key)
        out[key] = value
    if repeated:
        obj = _Repeated(out)
        obj.repeated = tuple(repeated)
        return obj
    return out


def _int(digits: str) -> int | Decimal:
    # Python refuses integers of more than 4300 digits and converts long ones slowly: anything longer than an
    # integer field could hold stays a Decimal, which the schema then refuses where it wants an integer
    return int(digits) if len(digits) <= 20 else Decimal(digits)


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _text(data: bytes) -> str:
    if data.startswith(_WIDE_BOMS):
        raise NativeError("unsupported_encoding", "UTF-16/UTF-32 payloads are not accepted: send UTF-8",
                          [NativeProblem("byte-order mark of UTF-16 or UTF-32 at offset 0: the police exchange "
                                         "takes UTF-8 only", line=1)])
    skip = len(_BOM) if data.startswith(_BOM) else 0
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as e:
        at = e.start + skip
        hint = ""
        try:
            data[skip:].decode("gb18030")
            hint = " (the bytes read as GB18030: convert the payload to UTF-8 before sending)"
        except UnicodeDecodeError:
            pass
        line = data[:at].count(b"\n") + 1
        raise NativeError("wrong_encoding", f"the payload is not valid UTF-8: byte 0x{data[at]:02x} at offset {at}"
                                            f"{hint}",
                          [NativeProblem(f"byte 0x{data[at]:02x} at offset {at} is not valid UTF-8{hint}",
                                         line=line)]) from None


def _too_deep_at(text: str) -> int:
    """Offset of the first bracket that opens a level deeper than MAX_DEPTH (strings skipped)."""
    depth = 0
    for m in _TOKENS.finditer(text):
        tok = m.group()
        if tok in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                return m.start()
        elif tok in ("]", "}"):
            depth -= 1
    return 0


def read(data: bytes) -> dict[str, Any]:
    """The payload object; NativeError (with line and column, or a JSON pointer) when it is not one."""
    if len(data) > MAX_BYTES:
        raise NativeError("too_large", f"the payload has {len(data)} bytes; at most {MAX_BYTES} (10 MB) are "
                                       "accepted: split the batch")
    text = _text(data)
    if not text.strip():
        raise NativeError("empty", "the payload is empty")
    try:
        doc = json.loads(text, object_pairs_hook=_pairs, parse_constant=_Constant, parse_int=_int,
                         parse_float=Decimal)
    except json.JSONDecodeError as e:
        raise NativeError("not_json", f"the payload is not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})",
                          [NativeProblem(f"{e.msg} (column {e.colno})", line=e.lineno)]) from None
    except RecursionError:
        line, col = _line_col(text, _too_deep_at(text))
        raise NativeError("too_deep", f"the payload nests more than {MAX_DEPTH} levels deep (line {line}, "
                                      f"column {col})",
                          [NativeProblem(f"more than {MAX_DEPTH} nested arrays or objects (column {col})",
                                         line=line)]) from None
    if not isinstance(doc, dict):
        kind = "an array" if isinstance(doc, list) else "a single value"
        raise NativeError("not_object", f"the payload must be a JSON object {{\"header\": …, \"records\": […]}}, "
                                        f"not {kind}", [NativeProblem(f"top level is {kind}", where="")])
    _check_strict(doc)
    return doc


def _walk(doc: Any) -> Iterator[tuple[Path, Any, int]]:
    """(path, value, depth) of every value, in document order (iterative: depth is what it guards)."""
    stack: list[tuple[Path, Any, int]] = [((), doc, 1)]
    while stack:
        path, value, depth = stack.pop()
        yield path, value, depth
        if isinstance(value, dict):
            stack.extend(((*path, k), v, depth + 1) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend(((*path, i), v, depth + 1) for i, v in reversed(list(enumerate(value))))


def _strict(value: Any, depth: int = 1) -> bool:
    """Whether ``_check_strict`` has nothing to say about ``value``: no object or array deeper than MAX_DEPTH, no
    key named twice, no NaN or Infinity (a quick walk without paths; the checked walk names what is wrong)."""
    t = type(value)
    if t is dict or t is list:
        if depth > MAX_DEPTH:
            return False
        return all(_strict(v, depth + 1) for v in (value.values() if t is dict else value))
    return not isinstance(value, _Constant | dict | list)  # a _Repeated is a dict of another type


def _check_strict(doc: dict[str, Any]) -> None:
    """What JSON's grammar allows or Python's reader accepts, but the exchange refuses."""
    if _strict(doc):
        return
    problems: list[tuple[str, NativeProblem]] = []
    for path, value, depth in _walk(doc):
        if depth > MAX_DEPTH and isinstance(value, dict | list):
            problems.append(("too_deep", NativeProblem(f"more than {MAX_DEPTH} nested arrays or objects",
                                                       where=pointer(path))))
            break
        if isinstance(value, _Repeated):
            problems.extend(("duplicate_key", NativeProblem(f"key {k!r} appears more than once in the object",
                                                            where=pointer((*path, k)))) for k in value.repeated)
        elif isinstance(value, _Constant):
            problems.append(("not_a_number", NativeProblem(f"{value.name} is not a JSON value",
                                                           where=pointer(path))))
        if len(problems) >= 50:
            break
    if problems:
        code, first = problems[0]
        raise NativeError(code, f"the payload is not strict JSON: {first.reason} at {first.where}",
                          [p for _, p in problems])


# ---- the schema ---------------------------------------------------------------------------------------

_ANNOTATIONS = frozenset({"title", "description"})


def _inline(node: Any, defs: Mapping[str, Any]) -> Any:
    """The schema with every ``#/$defs/…`` reference replaced by the definition itself (the schema has no
    recursion). Same meaning; validating a large batch takes half the time without reference lookups."""
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _inline(v, defs) for k, v in node.items() if k not in ("$ref", "$defs")}
    ref = node.get("$ref")
    if ref is None:
        return out
    if not isinstance(ref, str) or not ref.startswith("#/$defs/") or ref[8:] not in defs:
        raise ValueError(f"the police schema refers to {ref!r}: only #/$defs/… references are supported")
    target = _inline(defs[ref[8:]], defs)
    if any(k in out and k not in _ANNOTATIONS for k in target):
        return out | {"allOf": [target]}
    return target | out


@cache
def validator() -> Draft202012Validator:
    """The police exchange's JSON Schema (draft 2020-12), checked and compiled once per process."""
    path = agency_schema_dir(SYSTEM) / SCHEMA_FILE
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(_inline(schema, schema.get("$defs", {})))


@cache
def _fast_check() -> Callable[[Any], object]:
    """The same schema compiled to Python by fastjsonschema: it only tells valid from invalid (raising for
    invalid), many times faster than ``validator()``, which then says what is wrong. The schema's keywords (type,
    properties, required, additionalProperties, enum, const, if/then, allOf, items, min/maxItems, pattern,
    min/maxLength, minimum/maximum) mean the same to both; fastjsonschema reads a pattern's $ as the end of the
    text, which is stricter, so at worst a valid payload goes to ``validator()`` as well.

    A record's schema is a list of "if wslx is X then …" for every document type; compiled as it is, each "if"
    that does not hold raises and formats an exception. So a record is checked against the rules of its own type
    only: the base rules and the "then" of its wslx, which is what the list says (no other "if" holds)."""
    path = agency_schema_dir(SYSTEM) / SCHEMA_FILE
    schema = json.loads(path.read_text(encoding="utf-8"))
    inlined = _inline(schema, schema.get("$defs", {}))

    def compiled(definition: Any) -> Callable[[Any], object]:
        return fastjsonschema.compile(definition, use_default=False, use_formats=False)

    by_type = _rules_by_type(inlined)
    if by_type is None:  # a schema of another shape: checked whole
        return compiled(inlined)
    frame_schema, base, thens = by_type
    frame, any_type = compiled(frame_schema), compiled(base)
    per_type = {code: compiled({"allOf": [base, then]}) for code, then in thens.items()}

    def check(doc: Any) -> None:
        frame(doc)
        for record in doc["records"]:
            code = record.get("wslx") if isinstance(record, dict) else None
            per_type.get(code, any_type)(record) if type(code) is str else any_type(record)

    return check


def _rules_by_type(schema: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]] | None:
    """(the schema without the records' own rules, a record's base rules, the "then" of each wslx) when the
    records' rules are the base and a list of "if wslx is X then …", else None."""
    try:
        records = schema["properties"]["records"]
        items = records["items"]
        rules = items["allOf"]
        thens: dict[str, Any] = {}
        for rule in rules:
            condition = rule["if"]
            code = condition["properties"]["wslx"]["const"]
            expected = {"required": ["wslx"], "properties": {"wslx": {"const": code}}}
            if set(rule) != {"if", "then"} or condition != expected or not isinstance(code, str) or code in thens:
                return None
            thens[code] = rule["then"]
    except (KeyError, TypeError):
        return None
    base = {k: v for k, v in items.items() if k != "allOf"}
    frame_records = {k: v for k, v in records.items() if k != "items"}
    frame = {**schema, "properties": {**schema["properties"], "records": frame_records}}
    return frame, base, thens


@cache
def _frame_validator() -> Draft202012Validator:
    """The schema without the rules of each record: the header and the records array itself (its length)."""
    path = agency_schema_dir(SYSTEM) / SCHEMA_FILE
    schema = json.loads(path.read_text(encoding="utf-8"))
    inlined = _inline(schema, schema.get("$defs", {}))
    records = inlined.get("properties", {}).get("records")
    if isinstance(records, dict):
        inlined = {**inlined, "properties": {**inlined["properties"],
                                             "records": {k: v for k, v in records.items() if k != "items"}}}
    return Draft202012Validator(inlined)


def frame_problems(doc: Any) -> list[NativeProblem]:
    """The problems of the payload's header and frame, found before any record is looked at: a batch of more
    records than the exchange allows is refused without checking each of them."""
    out = []
    for err in _frame_validator().iter_errors(doc):
        path: Path = tuple(err.absolute_path)
        if err.validator == "required" and (m := _REQUIRED.match(err.message)):
            path = (*path, m.group(1))
        reason = _message(err)
        if err.validator == "maxItems" and path == ("records",) and isinstance(err.instance, list):
            reason = (f"the batch has {len(err.instance)} records; at most {err.validator_value} in one batch "
                      "(records maxItems): split the batch")
        out.append(NativeProblem(reason, where=pointer(path)))
    return out


def _schema_valid(doc: Any) -> bool:
    try:
        _fast_check()(doc)
    except Exception:  # invalid, or a value the fast check cannot judge: the full check decides
        return False
    return True


def _strings(value: Any, out: list[str]) -> None:
    t = type(value)
    if t is str:
        out.append(value)
    elif t is dict or t is list or isinstance(value, dict | list):
        for v in value.values() if isinstance(value, dict) else value:
            if type(v) is str:  # most values: taken here rather than by a call
                out.append(v)
            elif v is not None:
                _strings(v, out)


def _carriable(doc: Any) -> bool:
    """Whether every string in ``doc`` can be carried in XML (checked at once; the walk names the ones that can't)."""
    found: list[str] = []
    _strings(doc, found)
    text = "".join(found)
    # printable text has no control character, surrogate or non-character; else the exact check
    return text.isprintable() or _NOT_XML.search(text) is None


def _message(err: ValidationError) -> str:
    msg = err.message
    if err.validator == "enum" and isinstance(err.validator_value, list):
        # optional coded fields may be null, so null is in the schema's enums: not worth naming as a code
        allowed = [v for v in err.validator_value if v is not None]
        title = err.schema.get("title") if isinstance(err.schema, Mapping) else None
        msg = f"{err.instance!r} is not one of {allowed!r}" + (f" ({title})" if title else "")
    return msg if len(msg) <= _SHOWN else msg[: _SHOWN - 1] + "…"


def schema_problems(doc: Any) -> list[tuple[Path, NativeProblem]]:
    """Every schema error as (path, problem at its JSON pointer); a missing member is placed where it belongs."""
    if _schema_valid(doc) and _carriable(doc):
        return []
    out: list[tuple[Path, NativeProblem]] = []
    for err in validator().iter_errors(doc):
        path: Path = tuple(err.absolute_path)
        if err.validator == "required":
            m = _REQUIRED.match(err.message)
            if m:
                path = (*path, m.group(1))
        out.append((path, NativeProblem(_message(err), where=pointer(path))))
    for path, value, _ in _walk(doc):
        if isinstance(value, str) and (bad := _NOT_XML.search(value)):
            out.append((path, NativeProblem(f"character U+{ord(bad.group()):04X} at position {bad.start() + 1} "
                                            "cannot be carried (control character or lone surrogate)",
                                            where=pointer(path))))
    out.sort(key=lambda item: (item[1].where or "", item[1].reason))
    return out


# ---- records --------------------------------------------------------------------------------------------

def _raw(record: Any) -> bytes:
    text = json.dumps(record, ensure_ascii=False, default=str)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: keep it escaped
        return json.dumps(record, default=str).encode("ascii")


def split(doc: dict[str, Any]) -> list[NativeRecord]:
    """The records of a payload, each with its own schema problems; NativeError when the header or the frame
    is wrong (which would make every record doubtful)."""
    by_record: dict[int, list[NativeProblem]] = {}
    frame = frame_problems(doc)
    if frame:
        raise NativeError("schema_invalid", f"the payload's header or frame does not match the police exchange "
                                            f"schema ({len(frame)} problem(s), first at {frame[0].where or '/'}: "
                                            f"{frame[0].reason})", frame)
    for path, problem in schema_problems(doc):
        if len(path) >= 2 and path[0] == "records" and isinstance(path[1], int):
            by_record.setdefault(path[1], []).append(problem)
        else:
            frame.append(problem)
    if frame:
        raise NativeError("schema_invalid", f"the payload's header or frame does not match the police exchange "
                                            f"schema ({len(frame)} problem(s), first at {frame[0].where or '/'}: "
                                            f"{frame[0].reason})", frame)
    header: dict[str, Any] = doc["header"]
    records: list[Any] = doc["records"]
    if header["jls"] != len(records):
        raise NativeError("bad_header", f"the header announces {header['jls']} records (jls) but the payload has "
                                        f"{len(records)}",
                          [NativeProblem(f"jls is {header['jls']}, records has {len(records)}", where="/header/jls")])
    try:
        sent_at = DateTime(None).inbound(header["fssj"])
    except ValueError as e:
        raise NativeError("bad_header", f"the header's send time (fssj) is wrong: {e}",
                          [NativeProblem(str(e), where="/header/fssj")]) from None
    envelope = {"sender": header["fsdwdm"], "sentAt": sent_at}
    out = []
    for i, rec in enumerate(records):
        data: Mapping[str, Any] = rec if isinstance(rec, dict) else {}
        kind = data.get("wslx")
        out.append(NativeRecord(number=i + 1, where=pointer(("records", i)),
                                native_type=kind if isinstance(kind, str) else None, data=data,
                                locate=locator(i, data), problems=tuple(by_record.get(i, ())), raw=_raw(rec),
                                envelope=envelope))
    return out


# ---- writing --------------------------------------------------------------------------------------------

def payload(*, sender: str, sent_at: str, batch: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """A payload object: the header (版本号, 发送单位代码, 发送时间, 批次号, 记录数) and the records."""
    return {"header": {"bbh": VERSION, "fsdwdm": sender, "fssj": sent_at, "pch": batch, "jls": len(records)},
            "records": records}


def dump(doc: Mapping[str, Any]) -> bytes:
    """UTF-8 bytes (no BOM), non-ASCII kept as is, keys in the order given, two-space indentation."""
    text = _indented(doc, "\n")
    if text is None:
        # a value the short writer does not handle: json's own (which raises for what JSON cannot hold)
        return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    return (text + "\n").encode("utf-8")


def _indented(value: Any, newline: str) -> str | None:
    """What ``json.dumps(value, ensure_ascii=False, indent=2)`` writes (``newline`` is the line break and
    indentation before ``value``'s own members), or None for a value of a kind left to json. json writes indented
    output with its Python encoder, which costs more than the rest of an encode."""
    t = type(value)
    if t is str:
        return _json_string(value)
    if t is dict or t is list:
        if not value:
            return "{}" if t is dict else "[]"
        inner = newline + "  "
        members: list[str] = []
        for key, item in value.items() if t is dict else enumerate(value):
            written = ""
            if t is dict:
                if type(key) is not str:
                    return None
                written = _JSON_KEYS.get(key) or ""
                if not written:
                    written = _json_string(key) + ": "
                    if len(_JSON_KEYS) < 4096:  # the exchange has a few hundred member names
                        _JSON_KEYS[key] = written
            text = _json_string(item) if type(item) is str else _indented(item, inner)
            if text is None:
                return None
            members.append(written + text)
        return ("{" if t is dict else "[") + inner + ("," + inner).join(members) + newline + ("}" if t is dict else "]")
    if value is None:
        return "null"
    if t is bool:
        return "true" if value else "false"
    if t is int:
        return int.__repr__(value)
    return None


_json_string: Callable[[str], str] = json.encoder.encode_basestring
_JSON_KEYS: dict[str, str] = {}  # member name → as written before its value
