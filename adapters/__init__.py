"""Agency adapters: pure translation between an agency system's native format and canonical XML.

Each adapter package (``adapters/<system>/``) has the same roles: ``native`` (the agency's own format:
read and write it, split batches into records), ``inbound`` (native → canonical) and ``outbound``
(canonical → native). No database, broker or web imports. ``get_adapter`` is the registry that the
agency registry's ``adapter = "<system>"`` lines name.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Protocol

from adapters.kit.pipeline import DecodeContext, Record
from adapters.kit.problems import NativeError, NativeProblem

__all__ = [
    "SYSTEMS",
    "Adapter",
    "DecodeContext",
    "Encoded",
    "NativeError",
    "NativeProblem",
    "Record",
    "get_adapter",
]


@dataclass(frozen=True)
class Encoded:
    body: bytes
    content_type: str
    extension: str


class Adapter(Protocol):
    """An agency system's format. ``sends``: canonical types it can decode from the agency;
    ``receives``: canonical types it can encode for the agency."""

    name: str
    sends: frozenset[str]
    receives: frozenset[str]

    def encode(self, canonical: bytes, *, message_type: str) -> Encoded:
        """The recipient's native form of a canonical message (ValueError if the format has none)."""

    def decode(self, native: bytes, ctx: DecodeContext) -> list[Record]:
        """One Record per native record (a bad record fails alone); NativeError when the payload as a
        whole cannot be read (encoding, not well-formed, a broken header)."""


# system name → module defining ADAPTER; the agency registry's ``adapter`` names one of these
SYSTEMS: dict[str, str] = {
    "canonical": "adapters.canonical",
    "court": "adapters.court",
    "prison": "adapters.prison",
    "detention": "adapters.detention",
    "police": "adapters.police",
    "bureau": "adapters.bureau",
    "procuratorate": "adapters.procuratorate",
    "ledger": "adapters.ledger",
}

_loaded: dict[str, Adapter] = {}


def get_adapter(name: str) -> Adapter:
    """The adapter registered under ``name``; KeyError for an unknown one."""
    found = _loaded.get(name)
    if found is None:
        module = SYSTEMS[name]
        found = importlib.import_module(module).ADAPTER
        _loaded[name] = found
    return found
