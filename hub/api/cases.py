"""API of the case ledger: cases, obligations, case timeline, projection cursor."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request

from hub.core.model import Agency
from hub.service import Hub


def router(hub: Hub, who: Callable[[Request], Agency]) -> APIRouter:
    """The endpoints of this area."""
    return APIRouter()
