"""Canonical message → court batch of one record, GB18030.

Documents go out as references (DZ with its SHA-256), never inline. The batch id is derived from the
message id, so the same message always gives the same bytes.
"""

from __future__ import annotations

from adapters.kit.canonical import get
from adapters.kit.pipeline import to_native

from . import native
from .mapping import SPECS


def encode(canonical: bytes) -> bytes:
    """The court's native batch for a canonical message (ValueError if the court format has no document
    type for it)."""
    spec, data, record = to_native(SPECS, canonical)
    message_id = str(get(data, "envelope/messageId"))
    return native.write_batch(batch_id=f"XJ-{message_id}", sender=str(get(data, "envelope/sender")),
                              sent_at=str(get(data, "envelope/sentAt")), native_type=spec.native_type,
                              record=record)
