"""Detention-centre message file → canonical messages: one Record per 人员信息 record; a bad record fails alone."""

from __future__ import annotations

from adapters.detention.native import DETENTION
from adapters.kit.pipeline import DecodeContext, Record, translate


def decode(native: bytes, ctx: DecodeContext) -> list[Record]:
    """Every record of the file, translated and checked against the canonical XSD (NativeError when the
    payload as a whole is unreadable: encoding, not well-formed, header or frame)."""
    return [translate(DETENTION.specs, rec, ctx) for rec in DETENTION.read(native)]
