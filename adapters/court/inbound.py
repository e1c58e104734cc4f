"""Court batch → canonical records.

Each ``<JL>`` becomes one Record: translated when it is valid, else carrying its problems with the record
number and the native path; the other records of the batch are not affected. A document given inline
(``<NR>``, base64) is decoded, hashed (SHA-256) and named in the canonical message by that digest
(``urn:xianjie:attachment:sha256:<hex>``); its bytes travel in ``Record.attachments``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import dataclasses
import hashlib
from collections.abc import Mapping
from typing import Any

from adapters.kit.mapping import Group, Spec, native_get
from adapters.kit.pipeline import DecodeContext, NativeRecord, Record, translate
from adapters.kit.problems import NativeProblem

from . import native
from .mapping import BODY, DOCUMENT, INLINE_CONTENT, INLINE_URI, SPECS

_DOCUMENT_NATIVE = {f.native for f in DOCUMENT}


def decode(payload: bytes, ctx: DecodeContext) -> list[Record]:
    """One Record per ``<JL>``; NativeError when the batch as a whole cannot be read."""
    return [_record(rec, ctx) for rec in native.read_batch(payload)]


def _failed(rec: NativeRecord, problems: list[NativeProblem], message_type: str | None) -> Record:
    return Record(rec.number, rec.where, message_type, None, tuple(problems), {}, rec.raw)


def _record(rec: NativeRecord, ctx: DecodeContext) -> Record:
    if rec.problems or rec.native_type is None or rec.native_type not in BODY:
        return translate(SPECS, rec, ctx)  # reports the schema problems or the unknown type
    spec = SPECS.by_native(rec.native_type)
    body = BODY[rec.native_type]
    if body not in rec.data:
        found = next((k for k in rec.data if k in BODY.values()), "?")
        return _failed(rec, [NativeProblem(
            f"文书类型 {rec.native_type} ({spec.label}) carries its content in <{body}>, not <{found}>",
            where=rec.locate(found))], spec.message_type)
    if not _has_inline_documents(spec, rec.data):
        return translate(SPECS, rec, ctx)
    data, attachments, problems = _inline_documents(spec, rec)
    if problems:
        return _failed(rec, problems, spec.message_type)
    out = translate(SPECS, dataclasses.replace(rec, data=data), ctx)
    return dataclasses.replace(out, attachments=attachments) if out.ok and attachments else out


def _document_groups(spec: Spec) -> list[Group]:
    return [g for g in spec.fields if isinstance(g, Group) and {f.native for f in g.fields} == _DOCUMENT_NATIVE]


# each document type's document lists (worked out once, not per record)
_DOCUMENT_GROUPS = {s.native_type: _document_groups(s) for s in SPECS.items}


def _has_inline_documents(spec: Spec, data: Mapping[str, Any]) -> bool:
    """Whether any document of the record carries its file inline (most carry references, and the record's data
    is then translated as it is, without a copy to edit)."""
    for group in _DOCUMENT_GROUPS.get(spec.native_type) or _document_groups(spec):
        found = native_get(data, group.native)
        items = found if isinstance(found, list) else [found] if found is not None else []
        if any(isinstance(item, dict) and INLINE_CONTENT in item for item in items):
            return True
    return False


def _inline_documents(spec: Spec, rec: NativeRecord) -> tuple[dict[str, Any], dict[str, bytes], list[NativeProblem]]:
    """The record's data with each inline document replaced by its digest and attachment URI, the decoded
    files by digest, and the problems (invalid base64, a declared digest that disagrees)."""
    data: dict[str, Any] = copy.deepcopy(dict(rec.data))
    files: dict[str, bytes] = {}
    problems: list[NativeProblem] = []
    for group in _document_groups(spec):
        found = native_get(data, group.native)
        items = found if isinstance(found, list) else [found] if found is not None else []
        for i, item in enumerate(items):
            if not isinstance(item, dict) or INLINE_CONTENT not in item:
                continue
            at = f"{group.native}[{i + 1}]" if len(items) > 1 else group.native
            content = item.pop(INLINE_CONTENT)
            try:
                raw = base64.b64decode("".join(str(content).split()), validate=True)
            except (binascii.Error, ValueError):
                problems.append(NativeProblem("文件内容 (NR) is not valid base64", where=rec.locate(f"{at}/NR")))
                continue
            digest = hashlib.sha256(raw).hexdigest()
            declared = str(item.get("HASH") or "").strip().lower()
            if declared and declared != digest:
                problems.append(NativeProblem(
                    f"SHA-256 摘要 (HASH) {declared} does not match the inline file (NR), whose SHA-256 is {digest}",
                    where=rec.locate(f"{at}/HASH")))
                continue
            item["HASH"] = digest
            item["DZ"] = INLINE_URI + digest
            files[digest] = raw
    return data, files, problems
