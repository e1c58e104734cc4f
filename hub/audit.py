"""The audit log (invariant 7): every operator action and every view of a payload is appended here, through
``record`` and nowhere else, so that the rules for an entry (lengths, the detail's JSON form) hold for all."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, insert

from hub.store.schema import audit_log

ACTOR_MAX = 100
TARGET_MAX = 80


def detail_text(detail: Mapping[str, Any] | str | None) -> str | None:
    """The stored form of an entry's detail: JSON for a mapping (Chinese kept readable), text as it is."""
    if detail is None or isinstance(detail, str):
        return detail
    return json.dumps(dict(detail), ensure_ascii=False, default=str)


def record(conn: Connection, *, at: dt.datetime, actor: str, action: str, target: str,
           detail: Mapping[str, Any] | str | None = None) -> None:
    """Append one entry in the caller's transaction: it is written if and only if the action it records is."""
    conn.execute(insert(audit_log).values(at=at, actor=actor[:ACTOR_MAX], action=action, target=target[:TARGET_MAX],
                                          detail=detail_text(detail)))
