"""Agency adapters: pure translation between an agency system's native format and canonical XML.

Each adapter package (``adapters/<system>/``) has the same roles: ``native`` (the agency's own format:
read and write it, split batches into records), ``inbound`` (native → canonical) and ``outbound``
(canonical → native). No database, broker or web imports. ``get_adapter`` is the registry that the
agency registry's ``adapter = "<system>"`` lines name.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable
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
    "module_of",
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

    def decode(self, native: bytes, ctx: DecodeContext) -> Iterable[Record]:
        """One Record per native record, in payload order (a bad record fails alone); NativeError when the
        payload as a whole cannot be read (encoding, not well-formed, a broken header). Large formats may
        yield records as they read them (a list is fine too)."""


# system name → module defining ADAPTER; a system not listed here is looked up as ``adapters.<system>``, so a
# new agency system joins with its package, its schema and the registry line naming it
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


def module_of(name: str) -> str | None:
    """The module that defines system ``name``'s adapter, or None if there is none."""
    module = SYSTEMS.get(name) or (f"adapters.{name}" if name.isidentifier() and name != "kit" else None)
    if module is None:
        return None
    try:
        return module if importlib.util.find_spec(module) is not None else None
    except ModuleNotFoundError:
        return None


def get_adapter(name: str) -> Adapter:
    """The adapter registered under ``name``; KeyError for an unknown one."""
    found = _loaded.get(name)
    if found is None:
        module = module_of(name)
        if module is None:
            raise KeyError(name)
        found = importlib.import_module(module).ADAPTER
        _loaded[name] = found
    return found
