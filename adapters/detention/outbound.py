"""Canonical messages → the detention-centre message file (one record per file, GB18030)."""

from __future__ import annotations

from adapters import Encoded
from adapters.detention.native import DETENTION
from adapters.prison.outbound import encode_with


def encode(canonical: bytes, *, message_type: str) -> Encoded:
    """The detention centre's native form of a canonical message (ValueError if the format has none)."""
    return Encoded(encode_with(DETENTION, canonical, message_type), "application/xml; charset=GB18030", "xml")
