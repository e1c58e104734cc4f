"""Operators' actions through the API: bulk tasks (hub.bulk_tasks; the console calls the same functions).

A task is seen by the operators whose scope covers the scope it was made in: its own agency's operators and those
who see every agency (the hub's key, the joint-meeting office, auditors, administrators)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from hub import bulk_tasks
from hub.api.common import error, plain
from hub.bulk_tasks import TaskRefused
from hub.errors import Problem
from hub.service import Hub

Check = Callable[[Request, str], tuple[str, str | None]]
MAX_BODY = 64 * 1024


def router(hub: Hub, operator: Check) -> APIRouter:
    """``operator(request, action)`` gives who acts and the agency they are limited to, or raises."""
    api = APIRouter(tags=["operators"])
    engine = hub.engine

    def refused(e: TaskRefused) -> Response:
        status = 409 if e.code == "task_state" else 422
        return error(e.code, e.message, status, problems=e.problems)

    def not_found(task_id: str) -> Response:
        return error("not_found", f"no bulk task {task_id} for this operator", 404)

    @api.post("/api/v1/bulk-tasks", status_code=202)
    async def create_task(request: Request) -> Response:
        """Start a bulk task: ``{"kind": "retry", "filter": {…the failed-transfer list's keys…}, "reason": …}``;
        202 with the task, whose items are the failed transfers the filter matches now in the caller's scope."""
        by, scope = operator(request, "bulk_retry")
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return error("too_large", f"a bulk task request is at most {MAX_BODY} bytes", 413)
        try:
            body = json.loads(raw or b"{}")
        except ValueError as e:
            return error("invalid_json", f"the body is not JSON: {e}", 400)
        if not isinstance(body, dict):
            return error("invalid_request", "the body must be a JSON object", 422)
        problems = [Problem(f"unknown field {k!r}: kind, filter, reason", path=k) for k in body
                    if k not in ("kind", "filter", "reason")]
        kind, f, reason = body.get("kind", "retry"), body.get("filter", {}), body.get("reason")
        if not isinstance(kind, str):
            problems.append(Problem("kind must be text", path="kind"))
        if not isinstance(f, dict):
            problems.append(Problem("filter must be an object of the failed-transfer list's filters", path="filter"))
        if reason is not None and not isinstance(reason, str):
            problems.append(Problem("reason must be text", path="reason"))
        if problems:
            return error("invalid_request", "the request is not a bulk task this hub knows", 422, problems=problems)
        try:
            parsed = bulk_tasks.parse_filter(f)
            task = await run_in_threadpool(bulk_tasks.create, engine, kind=kind, f=parsed, scope=scope, actor=by,
                                           reason=reason, now=request.app.state.clock())
        except TaskRefused as e:
            return refused(e)
        return JSONResponse(plain(task), status_code=202)

    @api.get("/api/v1/bulk-tasks")
    async def list_tasks(request: Request, limit: int = 50, offset: int = 0) -> Response:
        """Bulk tasks the caller sees, newest first: ``{"items", "total"}`` with each one's progress."""
        _, scope = operator(request, "view")
        found = await run_in_threadpool(bulk_tasks.list_tasks, engine, scope=scope, limit=max(1, min(limit, 500)),
                                        offset=max(0, offset))
        return JSONResponse(plain(found))

    @api.get("/api/v1/bulk-tasks/{task_id}")
    async def get_task(task_id: str, request: Request, limit: int = 50, offset: int = 0) -> Response:
        """One bulk task: its progress and its items in order (``limit`` from ``offset``)."""
        _, scope = operator(request, "view")
        task = await run_in_threadpool(bulk_tasks.get, engine, task_id, scope=scope,
                                       limit=max(1, min(limit, 1000)), offset=max(0, offset))
        return not_found(task_id) if task is None else JSONResponse(plain(task))

    async def change(task_id: str, request: Request, action: str) -> Response:
        by, scope = operator(request, "bulk_retry")
        try:
            task: dict[str, Any] | None = await run_in_threadpool(bulk_tasks.change, engine, task_id, action,
                                                                  scope=scope, actor=by)
        except TaskRefused as e:
            return refused(e)
        return not_found(task_id) if task is None else JSONResponse(plain(task))

    @api.post("/api/v1/bulk-tasks/{task_id}/pause")
    async def pause_task(task_id: str, request: Request) -> Response:
        """Stop after the item in hand; 409 unless the task is running."""
        return await change(task_id, request, "pause")

    @api.post("/api/v1/bulk-tasks/{task_id}/resume")
    async def resume_task(task_id: str, request: Request) -> Response:
        """Go on from the next pending item; 409 unless the task is paused."""
        return await change(task_id, request, "resume")

    @api.post("/api/v1/bulk-tasks/{task_id}/cancel")
    async def cancel_task(task_id: str, request: Request) -> Response:
        """Stop for good after the item in hand, leaving the rest untouched; 409 once done or cancelled."""
        return await change(task_id, request, "cancel")

    return api
