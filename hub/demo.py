"""Placeholder replaced by the demo module."""

from __future__ import annotations

from hub.settings import Settings


def run_demo(settings: Settings, *, duration: float = 0) -> int:
    """Start the hub with simulated agencies and a feed of notices."""
    raise SystemExit("the demo is not built yet")
