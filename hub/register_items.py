"""Reading and resolving the discrepancy items and register snapshots ``hub.register_store`` keeps: an item as the
API and CLI show it, items by county, category and person, one item, a snapshot's stored report, and closing an
open item by hand with a note (audited). The names are importable from ``hub.register_store`` too.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from hub import audit
from hub.core.reconcile import Category
from hub.store.db import aware, utcnow
from hub.store.register_schema import discrepancies, register_snapshots

__all__ = ["AlreadyResolved", "as_dict", "get_item", "get_snapshot", "list_items", "resolve"]


def as_dict(row: Any) -> dict[str, Any]:
    """An item as the API and CLI show it."""
    out = {k: row.get(k) for k in (
        "id", "category", "person_key", "id_number", "name", "division", "acting_agency", "confirming_agency",
        "match", "status", "first_seen", "last_seen", "resolved_at", "resolved_by", "resolution", "reopened",
        "description_zh", "description_en")}
    out["category_zh"] = Category(row["category"]).label_zh
    out["county"] = out.pop("division")
    out["sides"] = json.loads(row["sides"])
    out["snapshot_ids"] = json.loads(row["snapshot_ids"])
    return dict(_plain(out))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime):
        return aware(value).isoformat()  # type: ignore[union-attr]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _audit(conn: Connection, at: dt.datetime, actor: str, action: str, target: str, detail: dict[str, Any]) -> None:
    audit.record(conn, at=at, actor=actor, action=action, target=target, detail=detail)


class AlreadyResolved(ValueError):
    """The item was resolved before (by whom and when is in the message)."""


def resolve(engine: Engine, item_id: str, *, by: str, note: str) -> dict[str, Any]:
    """Close an open item by hand with a note (audited). KeyError: no such item; AlreadyResolved; ValueError
    without a note or a name."""
    if not note.strip():
        raise ValueError("note: say how the item was resolved")
    if not by.strip():
        raise ValueError("by: name who resolves the item")
    now = utcnow()
    with engine.begin() as conn:
        row = conn.execute(select(discrepancies).where(discrepancies.c.id == item_id)).mappings().first()
        if row is None:
            raise KeyError(item_id)
        done = conn.execute(update(discrepancies).where(discrepancies.c.id == item_id, discrepancies.c.status == "open")
                            .values(status="resolved", resolved_at=now, resolved_by=by[:100], resolution=note))
        if row["status"] != "open" or done.rowcount != 1:
            raise AlreadyResolved(f"item {item_id} was resolved by {row['resolved_by']} at "
                                  f"{_plain(row['resolved_at'])}: {row['resolution']}")
        _audit(conn, now, by, "discrepancy_resolve", f"discrepancy:{item_id}",
               {"note": note, "category": row["category"], "person_key": row["person_key"],
                "acting_agency": row["acting_agency"]})
    return as_dict(dict(row) | {"status": "resolved", "resolved_at": now, "resolved_by": by, "resolution": note})


def get_item(engine: Engine, item_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(discrepancies).where(discrepancies.c.id == item_id)).mappings().first()
    return None if row is None else as_dict(row)


def list_items(engine: Engine, *, status: str | None = None, category: str | None = None,
               agency: str | None = None, county: str | None = None, visible_to: str | None = None,
               limit: int = 500, offset: int = 0) -> list[dict[str, Any]]:
    """Items by county, category and person; ``agency``/``visible_to``: those it must act on or confirm."""
    c = discrepancies.c
    query = select(discrepancies).order_by(c.division, c.category, c.person_key, c.id).limit(limit).offset(offset)
    for value, column in ((status, c.status), (category, c.category), (county, c.division)):
        if value:
            query = query.where(column == value)
    for code in (agency, visible_to):
        if code:
            query = query.where((c.acting_agency == code) | (c.confirming_agency == code))
    with engine.connect() as conn:
        return [as_dict(r) for r in conn.execute(query).mappings()]


def get_snapshot(engine: Engine, snapshot_id: str, *, raw: bool = False) -> dict[str, Any] | None:
    """A snapshot's stored report (with who uploaded it), and its bytes as received when ``raw``."""
    with engine.connect() as conn:
        row = conn.execute(select(register_snapshots).where(register_snapshots.c.id == snapshot_id)).mappings().first()
    if row is None:
        return None
    out: dict[str, Any] = dict(json.loads(row["report"])) | {"uploaded_by": row["uploaded_by"], "size": row["size"],
                                                         "sha256": row["sha256"]}
    if raw:
        out["raw"] = bytes(row["raw"])
    return out
