"""Commands of the identity links, decisions and the review queue."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine


def register(sub: Any, engine_of: Callable[[argparse.Namespace], Engine]) -> None:
    """Add this area's commands to ``xianjie``."""
