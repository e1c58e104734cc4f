"""Canonical message → a JCJH batch holding one notice (UTF-8)."""

from __future__ import annotations

from adapters.kit.canonical import get
from adapters.kit.pipeline import to_native
from adapters.procuratorate import native
from adapters.procuratorate.mapping import SPECS


def encode(canonical: bytes, message_type: str) -> bytes:
    """The JCJH batch of one canonical message; ValueError when the message is not of ``message_type`` or the
    format has no notice type for it (a technical acknowledgement). The batch id is the message id, so a
    redelivery carries the same batch id; the header names the issuing organ and its send time."""
    spec, data, record = to_native(SPECS, canonical)
    if spec.message_type != message_type:
        raise ValueError(f"the message is a {spec.message_type}, not a {message_type}")
    header = native.Header(
        batch_id=str(get(data, "envelope/messageId")).replace("-", "").upper(),
        sender=str(get(data, "envelope/sender")),
        sent_at=native.HEADER_TIME.outbound(str(get(data, "envelope/sentAt"))),
    )
    return native.write(header, [(spec.native_type, record)])
