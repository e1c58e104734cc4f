"""Prison exchange file → canonical messages: one Record per 罪犯信息 record; a bad record fails alone."""

from __future__ import annotations

from adapters.kit.pipeline import DecodeContext, Record, translate
from adapters.prison.native import PRISON


def decode(native: bytes, ctx: DecodeContext) -> list[Record]:
    """Every record of the batch, translated and checked against the canonical XSD (NativeError when the
    payload as a whole is unreadable: encoding, not well-formed, header or frame)."""
    return [translate(PRISON.specs, rec, ctx) for rec in PRISON.read(native)]
