"""The court case-management system (法院案件管理系统): exchange batches <SJBW> of documents <JL>, XML with
pinyin-abbreviation element names, GB18030 out, GB18030 or UTF-8 in. Spec: docs/agencies/court.md."""

from __future__ import annotations

from adapters import DecodeContext, Encoded, Record

from . import inbound, outbound
from .mapping import RECEIVES, SENDS


class CourtAdapter:
    name = "court"
    sends: frozenset[str] = SENDS
    receives: frozenset[str] = RECEIVES

    def encode(self, canonical: bytes, *, message_type: str) -> Encoded:
        """A GB18030 batch of one record; ValueError if the court format has no document type for it."""
        return Encoded(outbound.encode(canonical), "application/xml; charset=GB18030", "xml")

    def decode(self, native: bytes, ctx: DecodeContext) -> list[Record]:
        """One Record per <JL>; NativeError when the batch as a whole cannot be read."""
        return inbound.decode(native, ctx)


ADAPTER = CourtAdapter()
