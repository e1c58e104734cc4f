"""Operators' actions through the API: tasks (the console calls the same functions)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request

from hub.service import Hub

Check = Callable[[Request, str], tuple[str, str | None]]


def router(hub: Hub, operator: Check) -> APIRouter:
    """``operator(request, action)`` gives who acts and the agency they are limited to, or raises."""
    api = APIRouter(tags=["operators"])
    return api
