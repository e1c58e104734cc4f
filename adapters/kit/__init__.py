"""Shared tools for adapters: problems with native locations, the canonical tree, text and encodings,
the declarative field mapping, native XML reading and writing. Pure: no database, broker or web imports."""
