"""The console's tasks pages."""

from __future__ import annotations

from fastapi import APIRouter

from hub.console.ui import Console

WORDS: dict[str, tuple[str, str]] = {}


def register(api: APIRouter, ui: Console) -> None:
    """Add this area's pages to the console."""
