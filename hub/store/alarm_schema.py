"""Tables of the alarm notices sent and drafted pursuit requests."""

from __future__ import annotations

from hub.store.schema import metadata  # noqa: F401  (tables are declared on the one metadata)
