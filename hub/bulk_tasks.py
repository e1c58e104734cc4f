"""Bulk tasks: one action (``retry``) over every failed transfer a filter matched when the task was made.

A task keeps the matching failed transfers as its items, in the list's order, and the worker runtime works through
them one at a time (``run_some``). Each item is one transaction: the retry of the failed transfer, the item's new
state and the task's counters commit together or not at all, so a worker that dies anywhere leaves the item
pending and untouched, and the next worker retries it once. Pause, resume and cancel change the task's status
between items. A task is seen by the creator's scope: ``scope`` None (every agency) is seen only by operators who see
every agency; an agency's task by that agency's operators and by those who see every agency.

Counters: ``done`` counts the items worked through (done, skipped or error), ``failed`` those that ended in error.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Engine, exists, func, insert, select, update
from sqlalchemy.exc import DBAPIError, OperationalError

from hub import audit
from hub.console import data
from hub.console.data import FailedFilter
from hub.errors import Problem
from hub.service import Hub
from hub.store.db import aware, utcnow
from hub.store.operator_schema import bulk_task_items, bulk_tasks
from hub.store.schema import deliveries, failed_transfers, messages

KINDS = ("retry",)
STATUSES = ("running", "paused", "cancelled", "done")
ITEM_STATES = ("pending", "done", "skipped", "error")
FILTER_KEYS = ("status", "agency", "message_type", "cause", "age", "q", "recipient")
ITEMS_PAGE = 50
# action: (the statuses it applies to, the status it leaves)
CHANGES = {"pause": (("running",), "paused"), "resume": (("paused",), "running"),
           "cancel": (("running", "paused"), "cancelled")}


class TaskRefused(ValueError):
    """A request about a bulk task that cannot be done as asked; ``code`` says which kind, ``problems`` where."""

    def __init__(self, code: str, message: str, problems: list[Problem] | None = None,
                 **values: object) -> None:
        super().__init__(message)
        self.code, self.message = code, message
        self.problems = problems or [Problem(message)]
        self.values = values


def parse_filter(params: Mapping[str, object]) -> FailedFilter:
    """The failed-transfer list's filter from ``params``, strictly: an unknown key or a value the list does not
    know is refused (a typo must not widen a bulk action to more than was meant)."""
    problems: list[Problem] = []
    clean: dict[str, str] = {}
    for key, value in params.items():
        if key not in FILTER_KEYS:
            problems.append(Problem(f"unknown filter {key!r}: one of {', '.join(FILTER_KEYS)}", path=key))
        elif value is not None and not isinstance(value, str):
            problems.append(Problem(f"filter {key!r} must be text", path=key))
        elif value is not None:
            clean[key] = value.strip()
    allowed = {"status": (*data.STATUSES, "any"), "cause": data.CAUSES, "age": tuple(data.AGES)}
    for key, values in allowed.items():
        v = clean.get(key, "")
        if v and v != "any" and v not in values:
            problems.append(Problem(f"filter {key!r} is {v!r}: one of {', '.join(values)}", path=key))
    if problems:
        raise TaskRefused("invalid_filter", "the filter is not one the failed-transfer list knows", problems)
    return FailedFilter.of(clean)


def create(engine: Engine, *, kind: str, f: FailedFilter, scope: str | None, actor: str, reason: str | None,
           now: dt.datetime) -> dict[str, Any]:
    """A running task whose items are the failed transfers ``f`` matches within ``scope`` now, in the list's
    order; audited ``bulk_task_create``. TaskRefused for an unknown kind or when nothing matches."""
    if kind not in KINDS:
        raise TaskRefused("unknown_kind", f"unknown kind {kind!r}: one of {', '.join(KINDS)}", kind=kind)
    ids = data.failed_ids(engine, f, scope=scope, now=now)
    if not ids:
        raise TaskRefused("nothing_matches", "no failed transfer matches this filter")
    task_id = str(uuid.uuid4())
    at = utcnow()
    reason = (reason or "").strip() or None
    with engine.begin() as conn:
        conn.execute(insert(bulk_tasks).values(
            id=task_id, kind=kind, filter=json.dumps({"filter": f.query(), "scope": scope}, ensure_ascii=False),
            reason=reason, created_by=actor[:100], created_at=at, status="running", total=len(ids), done=0,
            failed=0, updated_at=at, finished_at=None))
        conn.execute(insert(bulk_task_items), [
            {"task_id": task_id, "failed_transfer_id": ft, "position": n, "state": "pending", "detail": None,
             "updated_at": None} for n, ft in enumerate(ids, start=1)])
        _audit(conn, at=at, actor=actor, action="bulk_task_create", task_id=task_id, kind=kind, filter=f.query(),
               scope=scope, total=len(ids), reason=reason)
    found = get(engine, task_id, scope=scope)
    assert found is not None
    return found


def change(engine: Engine, task_id: str, action: str, *, scope: str | None, actor: str) -> dict[str, Any] | None:
    """Pause, resume or cancel (``action``) a task visible to ``scope``; audited ``bulk_task_<action>``. None when
    no such task is visible; TaskRefused when its status does not allow the action. It takes effect between
    items: an item being worked on finishes first."""
    if action not in CHANGES:
        raise TaskRefused("unknown_action", f"unknown action {action!r}: one of {', '.join(CHANGES)}")
    before, after = CHANGES[action]
    at = utcnow()
    with engine.begin() as conn:
        row = conn.execute(select(bulk_tasks.c.status, bulk_tasks.c.filter).where(bulk_tasks.c.id == task_id)
                           ).first()
        if row is None or not visible(_scope_of(row.filter), scope):
            return None
        changed = conn.execute(update(bulk_tasks).where(bulk_tasks.c.id == task_id,
                                                        bulk_tasks.c.status.in_(before)).values(
            status=after, updated_at=at, finished_at=at if after == "cancelled" else None)).rowcount
        if not changed:
            now_status = conn.execute(select(bulk_tasks.c.status).where(bulk_tasks.c.id == task_id)).scalar_one()
            raise TaskRefused("task_state", f"the task is {now_status}; {action} applies only to a task that is "
                              f"{' or '.join(before)}", status=now_status, action=action)
        _audit(conn, at=at, actor=actor, action=f"bulk_task_{action}", task_id=task_id, was=row.status)
    return get(engine, task_id, scope=scope)


def visible(task_scope: str | None, scope: str | None) -> bool:
    """Whether an operator limited to ``scope`` (None: every agency) sees a task made within ``task_scope``."""
    return scope is None or task_scope == scope


def list_tasks(engine: Engine, *, scope: str | None, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """Tasks visible to ``scope``, newest first, ``limit`` from ``offset``, and how many in all."""
    with engine.connect() as conn:
        rows = [r for r in conn.execute(select(bulk_tasks).order_by(bulk_tasks.c.created_at.desc(),
                                                                    bulk_tasks.c.id)).mappings()
                if visible(_scope_of(r["filter"]), scope)]
        page = rows[max(0, offset):max(0, offset) + limit]
        counts = _counts(conn, [r["id"] for r in page])
    return {"total": len(rows), "items": [_task(r, counts.get(r["id"], {})) for r in page]}


def get(engine: Engine, task_id: str, *, scope: str | None, limit: int = ITEMS_PAGE,
        offset: int = 0) -> dict[str, Any] | None:
    """One task with its progress and its items in order (``limit`` from ``offset``), each with its failed
    transfer's message; None when no such task is visible to ``scope``."""
    with engine.connect() as conn:
        row = conn.execute(select(bulk_tasks).where(bulk_tasks.c.id == task_id)).mappings().first()
        if row is None or not visible(_scope_of(row["filter"]), scope):
            return None
        counts = _counts(conn, [task_id]).get(task_id, {})
        items = conn.execute(
            select(bulk_task_items.c.position, bulk_task_items.c.failed_transfer_id, bulk_task_items.c.state,
                   bulk_task_items.c.detail, bulk_task_items.c.updated_at, failed_transfers.c.status.label("ft_status"),
                   failed_transfers.c.recipient, failed_transfers.c.cause, messages.c.message_type,
                   messages.c.sender, messages.c.person_name)
            .select_from(bulk_task_items.outerjoin(
                failed_transfers, failed_transfers.c.id == bulk_task_items.c.failed_transfer_id).outerjoin(
                messages, messages.c.id == failed_transfers.c.message_id))
            .where(bulk_task_items.c.task_id == task_id).order_by(bulk_task_items.c.position)
            .limit(limit).offset(max(0, offset))).mappings().all()
    out = _task(row, counts)
    out["items"] = [dict(i) | {"updated_at": aware(i["updated_at"])} for i in items]
    return out


# ---- the runner -------------------------------------------------------------------------------------------


def run_some(hub: Hub, limit: int = 20) -> int:
    """Work through up to ``limit`` pending items of running tasks (the oldest task first, each in order); returns
    how many were worked through. Safe to call from several workers and processes at once: each item is done by
    one of them, once."""
    worked = 0
    while worked < limit:
        with hub.engine.begin() as conn:
            outcome = _step(conn, hub)
        if outcome is None:
            break
        if outcome == "item":
            worked += 1
            hub.on_commit()  # the retried deliveries are due now
    return worked


def _step(conn: Connection, hub: Hub) -> str | None:
    """One item of the oldest running task no other worker holds, in this transaction: "item", "finished" (the
    task had nothing left), or None (no work)."""
    # PostgreSQL: the task's row stays locked until this item commits, so workers side by side take other tasks
    # and a pause waits for the item in hand. SQLite: the transaction began IMMEDIATE, so writers queue.
    task = conn.execute(select(bulk_tasks).where(bulk_tasks.c.status == "running")
                        .order_by(bulk_tasks.c.created_at, bulk_tasks.c.id).limit(1)
                        .with_for_update(skip_locked=True)).mappings().first()
    if task is None:
        return None
    item = conn.execute(select(bulk_task_items.c.failed_transfer_id).where(
        bulk_task_items.c.task_id == task["id"], bulk_task_items.c.state == "pending")
        .order_by(bulk_task_items.c.position).limit(1)).first()
    now = utcnow()
    if item is None:
        _finish(conn, task, now)
        return "finished"
    ft_id = item.failed_transfer_id
    if task["kind"] == "retry":
        state, detail = _retry_one(conn, hub, task, ft_id)
    else:
        state, detail = "error", f"this hub does not know the kind {task['kind']!r}"
    conn.execute(update(bulk_task_items).where(
        bulk_task_items.c.task_id == task["id"], bulk_task_items.c.failed_transfer_id == ft_id,
        bulk_task_items.c.state == "pending").values(state=state, detail=detail[:2000], updated_at=now))
    conn.execute(update(bulk_tasks).where(bulk_tasks.c.id == task["id"]).values(
        done=bulk_tasks.c.done + 1, failed=bulk_tasks.c.failed + (1 if state == "error" else 0), updated_at=now))
    if not conn.execute(select(exists().where(bulk_task_items.c.task_id == task["id"],
                                              bulk_task_items.c.state == "pending"))).scalar():
        _finish(conn, task, now)
    return "item"


def _retry_one(conn: Connection, hub: Hub, task: Mapping[Any, Any], ft_id: str) -> tuple[str, str]:
    """Retry one failed transfer inside the item's transaction: (item state, detail)."""
    ft = conn.execute(select(failed_transfers.c.status, failed_transfers.c.delivery_id,
                             failed_transfers.c.resolution).where(failed_transfers.c.id == ft_id)).first()
    if ft is None:
        return "error", "no such failed transfer"
    if ft.status == "resolved":
        return "skipped", f"already resolved: {ft.resolution or ''}".rstrip(": ")
    if ft.delivery_id is not None:
        state = conn.execute(select(deliveries.c.state).where(deliveries.c.id == ft.delivery_id)).scalar()
        if state != "failed":
            return "skipped", f"not failed any more: the delivery is {state}"
    actor = f"{task['created_by']} (bulk task {task['id']})"[:100]
    try:
        res = hub.retry_failed_transfer(ft_id, actor=actor, reason=task["reason"], conn=conn)
    except DBAPIError as e:
        if e.connection_invalidated or isinstance(e, OperationalError):
            raise  # the database is away or the transaction lost: the item stays pending for the next try
        return "error", f"{type(e.orig).__name__}: {e.orig}"
    except Exception as e:  # the retry's savepoint is rolled back; the item says why
        return "error", f"{type(e).__name__}: {e}"
    if res is None:
        return "error", "no such failed transfer"
    if res.get("status") == "retrying":
        return "done", f"sent again (delivery {res.get('delivery_id')})"
    if res.get("status") == "resolved" and "note" not in res:
        return "done", "routed again"
    if res.get("status") == "open":
        return "error", str(res.get("note") or "still open")
    return "skipped", str(res.get("note") or res.get("status"))


def _finish(conn: Connection, task: Mapping[Any, Any], now: dt.datetime) -> None:
    conn.execute(update(bulk_tasks).where(bulk_tasks.c.id == task["id"], bulk_tasks.c.status == "running").values(
        status="done", finished_at=now, updated_at=now))
    row = conn.execute(select(bulk_tasks.c.done, bulk_tasks.c.failed, bulk_tasks.c.total)
                       .where(bulk_tasks.c.id == task["id"])).one()
    _audit(conn, at=now, actor=f"{task['created_by']} (bulk task {task['id']})", action="bulk_task_done",
           task_id=task["id"], total=row.total, worked=row.done, failed=row.failed)


# ---- helpers ----------------------------------------------------------------------------------------------


def _audit(conn: Connection, *, at: dt.datetime, actor: str, action: str, task_id: str, **detail: Any) -> None:
    audit.record(conn, at=at, actor=actor, action=action, target=f"bulk_task:{task_id}", detail=detail)


def _scope_of(stored: str) -> str | None:
    scope = json.loads(stored).get("scope")
    return str(scope) if scope is not None else None


def _counts(conn: Connection, task_ids: list[str]) -> dict[str, dict[str, int]]:
    if not task_ids:
        return {}
    out: dict[str, dict[str, int]] = {}
    for task_id, state, n in conn.execute(
            select(bulk_task_items.c.task_id, bulk_task_items.c.state, func.count())
            .where(bulk_task_items.c.task_id.in_(task_ids))
            .group_by(bulk_task_items.c.task_id, bulk_task_items.c.state)):
        out.setdefault(task_id, dict.fromkeys(ITEM_STATES, 0))[state] = int(n)
    return out


def _task(r: Mapping[Any, Any], counts: Mapping[str, int]) -> dict[str, Any]:
    stored = json.loads(r["filter"])
    return {"id": r["id"], "kind": r["kind"], "filter": stored.get("filter", {}), "scope": stored.get("scope"),
            "reason": r["reason"], "created_by": r["created_by"], "created_at": aware(r["created_at"]),
            "status": r["status"], "total": r["total"], "done": r["done"], "failed": r["failed"],
            "items_by_state": dict.fromkeys(ITEM_STATES, 0) | dict(counts),
            "updated_at": aware(r["updated_at"]), "finished_at": aware(r["finished_at"])}
