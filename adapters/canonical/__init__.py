"""The identity adapter, for agency systems that speak canonical XML themselves."""

from __future__ import annotations

from adapters import Encoded


class CanonicalAdapter:
    name = "canonical"

    def encode(self, canonical: bytes, *, message_type: str) -> Encoded:
        """Canonical XML goes out unchanged."""
        return Encoded(canonical, "application/xml; charset=utf-8", "xml")

    def decode(self, native: bytes) -> bytes:
        """Canonical XML comes in unchanged (the hub validates it)."""
        return native
