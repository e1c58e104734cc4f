"""Canonical messages → the prison exchange file (one record per file, UTF-8)."""

from __future__ import annotations

from adapters import Encoded
from adapters.kit.pipeline import to_native
from adapters.prison.native import PRISON, BatchFormat


def encode_with(fmt: BatchFormat, canonical: bytes, message_type: str) -> bytes:
    """The native batch file holding one canonical message; the batch id is the message id, so a
    redelivered message yields the same file. ValueError when the format has no document type for it."""
    spec, data, record = to_native(fmt.specs, canonical)
    if spec.message_type != message_type:
        raise ValueError(f"the message is a {spec.message_type}, not a {message_type}")
    envelope = data["envelope"]
    return fmt.write(envelope["messageId"], envelope, [{fmt.type_field: spec.native_type, **record}])


def encode(canonical: bytes, *, message_type: str) -> Encoded:
    """The prison's native form of a canonical message."""
    return Encoded(encode_with(PRISON, canonical, message_type), "application/xml; charset=utf-8", "xml")
