"""The identity adapter, for agency systems that speak canonical XML themselves."""

from __future__ import annotations

from adapters import DecodeContext, Encoded, Record
from adapters.kit.canonical import shapes


class CanonicalAdapter:
    name = "canonical"

    @property
    def sends(self) -> frozenset[str]:
        return frozenset(shapes())

    @property
    def receives(self) -> frozenset[str]:
        return frozenset(shapes())

    def encode(self, canonical: bytes, *, message_type: str) -> Encoded:
        """Canonical XML goes out unchanged."""
        return Encoded(canonical, "application/xml; charset=utf-8", "xml")

    def decode(self, native: bytes, ctx: DecodeContext) -> list[Record]:
        """Canonical XML comes in unchanged: one record, checked by the hub's own validation."""
        return [Record(1, "/", None, native, (), {}, native)]


ADAPTER = CanonicalAdapter()
