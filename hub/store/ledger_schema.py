"""Tables of the case ledger: cases, obligations, case timeline, projection cursor."""

from __future__ import annotations

from hub.store.schema import metadata  # noqa: F401  (tables are declared on the one metadata)
