"""What every API module answers with: the error body, and values made plain for JSON."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.responses import JSONResponse

from hub.errors import Problem
from hub.store.db import aware


def error_body(code: str, message: str, problems: list[Problem], **extra: Any) -> dict[str, Any]:
    """``{"error": {"code", "message", "details": [...]}, ...extra}``, the shape of every refusal."""
    return {"error": {"code": code, "message": message, "details": [p.as_dict() for p in problems]}, **extra}


def error(code: str, message: str, status: int, path: str | None = None, *,
          problems: list[Problem] | None = None, **extra: Any) -> JSONResponse:
    """A refusal with its status; one detail naming ``path`` unless ``problems`` are given."""
    return JSONResponse(error_body(code, message, problems or [Problem(message, path=path)], **extra),
                        status_code=status)


def plain(value: Any) -> Any:
    """Dicts, lists and tuples with dates and datetimes (stored naive ones read as UTC) as ISO text."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dt.datetime):
        return aware(value).isoformat()  # type: ignore[union-attr]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
