"""Canonical messages → police payloads: one record per payload."""

from __future__ import annotations

from adapters.kit import mapping
from adapters.kit.canonical import parse_canonical
from adapters.kit.pipeline import to_native
from adapters.police import native
from adapters.police.mapping import SPECS


def encode(canonical: bytes, *, message_type: str | None = None, native_type: str | None = None) -> bytes:
    """The police payload of one canonical message, valid against the police exchange schema.

    The document type is the first that fits the message (``native_type`` forces one, e.g. GA21 for a
    police-approved 暂外 decision). The header's sender and send time are the envelope's; the batch id is the
    message id. ValueError when the format has no document type for the message, or the message does not fit
    the native limits."""
    if native_type is None:
        spec, data, record = to_native(SPECS, canonical)
    else:
        spec = SPECS.by_native(native_type)
        found, data = parse_canonical(canonical)
        if not spec.matches(found, data):
            raise ValueError(f"a {found} with these values is not a {native_type} ({spec.label})")
        record = mapping.outbound(spec, data)
    if message_type is not None and message_type != spec.message_type:
        raise ValueError(f"the message is a {spec.message_type}, not a {message_type}")
    env = data["envelope"]
    doc = native.payload(sender=env["sender"], sent_at=env["sentAt"], batch=env["messageId"],
                         records=[{"wslx": spec.native_type, **record}])
    problems = native.schema_problems(doc)
    if problems:
        listed = "; ".join(f"{p.where}: {p.reason}" for _, p in problems[:5])
        raise ValueError(f"the {spec.native_type} record does not fit the police exchange schema: {listed}")
    return native.dump(doc)
