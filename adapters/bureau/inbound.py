"""Bureau exchange message → canonical messages, one per record."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.bureau import mapping, native
from adapters.kit.mapping import F, Spec
from adapters.kit.pipeline import DecodeContext, NativeRecord, Record, translate
from adapters.kit.problems import NativeProblem


def _unmapped(data: Mapping[str, Any], mapped: frozenset[str], prefix: str = "") -> str | None:
    """The native path of the first leaf element under ``data`` (in document order, repeated items without their
    index) that is not in ``mapped``."""
    for name, value in data.items():
        path = prefix + name
        for item in value if isinstance(value, list) else (value,):
            if type(item) is not str and (type(item) is dict or isinstance(item, Mapping)):
                found = _unmapped(item, mapped, path + "/")
                if found is not None:
                    return found
            elif path not in mapped:
                return path
    return None


def _mapped(spec: Spec) -> frozenset[str]:
    out = {"YWLX"}
    for item in spec.fields:
        if isinstance(item, F):
            out.add(item.native)
        else:
            out.update(f"{item.native}/{f.native}" for f in item.fields)
    return frozenset(out)


# the leaf paths each business type reads, by its code (worked out once, not per record)
_MAPPED = {s.native_type: _mapped(s) for s in mapping.SPECS.items}


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
    path = _unmapped(rec.data, _MAPPED.get(code) or _mapped(spec))
    if path is not None:
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
