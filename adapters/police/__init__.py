"""The public-security system (公安综合信息平台 社区矫正协作模块): JSON over HTTP, UTF-8.

The police send 暂予监外执行 decisions they approved, custody notices, pursuit results and assessment
commissions; they receive pursuit requests and the copies they are owed. See docs/agencies/police.md.
"""

from __future__ import annotations

from adapters import DecodeContext, Encoded, Record
from adapters.police import inbound, outbound
from adapters.police.mapping import RECEIVES, SENDS
from adapters.police.native import CONTENT_TYPE


class PoliceAdapter:
    name = "police"
    sends: frozenset[str] = SENDS
    receives: frozenset[str] = RECEIVES

    def encode(self, canonical: bytes, *, message_type: str) -> Encoded:
        """One record per payload, UTF-8 JSON without a BOM (ValueError if the format has no document type)."""
        return Encoded(outbound.encode(canonical, message_type=message_type), CONTENT_TYPE, "json")

    def decode(self, native: bytes, ctx: DecodeContext) -> list[Record]:
        """One Record per native record; NativeError when the payload as a whole cannot be read."""
        return inbound.decode(native, ctx)


ADAPTER = PoliceAdapter()
