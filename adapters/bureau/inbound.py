"""Bureau exchange message → canonical messages, one per record."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from adapters.bureau import mapping, native
from adapters.kit.mapping import F, Spec
from adapters.kit.pipeline import DecodeContext, NativeRecord, Record, translate
from adapters.kit.problems import NativeProblem


def _leaves(data: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Native paths of the leaf elements under ``data`` (repeated items without their index)."""
    for name, value in data.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, Mapping):
                yield from _leaves(item, f"{prefix}{name}/")
            else:
                yield f"{prefix}{name}"


def _mapped(spec: Spec) -> set[str]:
    out = {"YWLX"}
    for item in spec.fields:
        if isinstance(item, F):
            out.add(item.native)
        else:
            out.update(f"{item.native}/{f.native}" for f in item.fields)
    return out


def _type_problem(rec: NativeRecord) -> tuple[NativeProblem, str | None] | None:
    """Why the record does not fit its business type (unknown code, a body block of another type, an element the
    type does not have), with the canonical type when the code is known."""
    code = rec.native_type
    if code is None:
        return None  # the schema requires YWLX: the record already carries that problem
    try:
        spec = mapping.SPECS.by_native(code)
    except ValueError as e:
        return NativeProblem(str(e), where=rec.locate("YWLX")), None
    expected = mapping.body_block(spec)
    found = [name for name in rec.data if name in mapping.BODY_BLOCKS]
    if found and found[0] != expected:
        return NativeProblem(f"业务类型 {code} ({spec.label}) carries its content in <{expected}>, but the record has "
                             f"<{found[0]}>", where=rec.locate(found[0])), spec.message_type
    # the schema's body blocks are shared between business types: e.g. 终止原因 ZZYY means nothing in a 解除 (2601)
    mapped = _mapped(spec)
    for path in _leaves(rec.data):
        if path not in mapped:
            return NativeProblem(f"<{path.rsplit('/', 1)[-1]}> is not part of 业务类型 {code} ({spec.label})",
                                 where=rec.locate(path)), spec.message_type
    return None


def decode(payload: bytes, ctx: DecodeContext) -> list[Record]:
    """One Record per <SJX>: canonical XML checked against the canonical XSD, or the problems of that record
    (record number and native element path). NativeError when the payload as a whole is unreadable."""
    out = []
    for rec in native.read(payload):
        found = None if rec.problems else _type_problem(rec)
        if found is not None:
            problem, message_type = found
            out.append(Record(rec.number, rec.where, message_type, None, (problem,), {}, rec.raw))
        else:
            out.append(translate(mapping.SPECS, rec, ctx))
    return out
