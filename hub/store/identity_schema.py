"""Tables of the identity links, decisions and the review queue."""

from __future__ import annotations

from hub.store.schema import metadata  # noqa: F401  (tables are declared on the one metadata)
