"""JCJH batch → canonical messages, one Record per notice."""

from __future__ import annotations

from adapters.kit.pipeline import DecodeContext, Record, translate
from adapters.procuratorate import native
from adapters.procuratorate.mapping import SPECS, field_codes

GROUPS = field_codes()[1]


def decode(payload: bytes, ctx: DecodeContext) -> list[Record]:
    """One Record per notice, in batch order: a notice that breaks the schema or the mapping fails alone with
    its problems located at its fields; NativeError when the batch as a whole cannot be read."""
    batch = native.read(payload, GROUPS)
    return [translate(SPECS, rec, ctx) for rec in batch.records]
