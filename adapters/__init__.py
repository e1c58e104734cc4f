"""Agency adapters: pure translation between an agency system's native format and canonical XML.

Each adapter package has the same roles: ``native`` (the agency's own format), ``inbound``
(native → canonical) and ``outbound`` (canonical → native). No database, broker or web imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Encoded:
    body: bytes
    content_type: str
    extension: str


class Adapter(Protocol):
    name: str

    def encode(self, canonical: bytes, *, message_type: str) -> Encoded:
        """The recipient's native form of a canonical message."""

    def decode(self, native: bytes) -> bytes:
        """The canonical XML of a native payload (raises ValueError naming the problem)."""


def get_adapter(name: str) -> Adapter:
    """The adapter registered under ``name``; KeyError for an unknown one."""
    from adapters.canonical import CanonicalAdapter

    registry: dict[str, Adapter] = {"canonical": CanonicalAdapter()}
    return registry[name]
