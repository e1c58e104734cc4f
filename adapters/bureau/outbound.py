"""Canonical message → bureau exchange message (one <JHBW> with one <SJX>)."""

from __future__ import annotations

from adapters.bureau import mapping, native
from adapters.kit.pipeline import to_native


def encode(canonical: bytes, message_type: str) -> bytes:
    """The <JHBW> carrying one canonical message, UTF-8, valid against jhbw.xsd; ValueError when the message
    is not of ``message_type`` or the format has no business type for it."""
    spec, data, record = to_native(mapping.SPECS, canonical)
    if spec.message_type != message_type:
        raise ValueError(f"the message is a {spec.message_type}, not a {message_type}")
    env = data["envelope"]
    header = native.Header(
        # one message per payload: the message id makes the batch number unique and stable on redelivery
        batch_id=f"XJ-{env['messageId']}",
        sender=env["sender"],
        sent_at=mapping.TIME.outbound(env["sentAt"]),
        count=1,
        # no 接收单位 (JSDW): the same rendering goes to every bureau the hub delivers the message to
    )
    return native.write(header, [(spec.native_type, record)])
