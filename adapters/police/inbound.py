"""Police payloads → canonical messages: one Record per native record."""

from __future__ import annotations

from adapters.kit.pipeline import DecodeContext, Record, translate
from adapters.police import native
from adapters.police.mapping import SPECS


def decode(data: bytes, ctx: DecodeContext) -> list[Record]:
    """Every record of the payload translated, in order (record n is ``/records/n-1``); a bad record carries
    its problems, each at a JSON pointer, and the others still translate. NativeError when the payload as a
    whole cannot be read (size, encoding, JSON, nesting, header or frame)."""
    doc = native.read(data)
    return [translate(SPECS, rec, ctx) for rec in native.split(doc)]
