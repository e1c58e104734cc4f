"""Bulk tasks in the console: the list, the confirmation that starts one from the failed-transfer list's filter,
and one task's progress and items with its pause, resume and cancel (hub.bulk_tasks does the work)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from hub import bulk_tasks
from hub.bulk_tasks import TaskRefused
from hub.console import data
from hub.console.i18n import translate
from hub.console.session import actor
from hub.console.ui import Console
from hub.operators import Session

PAGE = 50

WORDS: dict[str, tuple[str, str]] = {
    "task.title": ("批量任务", "Bulk tasks"),
    "task.none": ("还没有批量任务。批量重新投递从“投递失败”列表的筛选结果开始。",
                  "No bulk task yet. A bulk retry starts from the failed-transfer list's filter."),
    "task.kind": ("类型", "Kind"),
    "task.kind.retry": ("批量重新投递", "Bulk retry"),
    "task.filter": ("筛选条件", "Filter"),
    "task.creator": ("发起人", "Started by"),
    "task.created": ("发起时间", "Started"),
    "task.finished": ("结束时间", "Ended"),
    "task.progress": ("进度", "Progress"),
    "task.failed": ("出错", "Errors"),
    "task.status": ("状态", "Status"),
    "task.reason": ("说明", "Reason"),
    "task.scope": ("范围", "Scope"),
    "task.every_agency": ("全部机关", "every agency"),
    "task.q": ("搜索", "Search"),
    "task.sep": ("；", "; "),
    "task.colon": ("：", ": "),
    "task.status.running": ("进行中", "running"),
    "task.status.paused": ("已暂停", "paused"),
    "task.status.cancelled": ("已取消", "cancelled"),
    "task.status.done": ("已完成", "done"),
    "task.items": ("逐条情况", "Items"),
    "task.position": ("序号", "No."),
    "task.item_state": ("结果", "Outcome"),
    "task.item.pending": ("尚未处理", "not yet"),
    "task.item.done": ("已重新投递", "sent again"),
    "task.item.skipped": ("已跳过", "skipped"),
    "task.item.error": ("出错", "error"),
    "task.of": ("已处理 {done} / {total} 条", "{done} of {total} worked through"),
    "task.counts": ("已重新投递 {done} 条，跳过 {skipped} 条，出错 {error} 条，尚未处理 {pending} 条",
                    "{done} sent again, {skipped} skipped, {error} errors, {pending} not yet"),
    "task.pause": ("暂停", "Pause"),
    "task.resume": ("继续", "Resume"),
    "task.cancel": ("取消任务", "Cancel the task"),
    "task.cancel_note": ("取消后，尚未处理的记录保持原样。", "Cancelling leaves the items not yet worked through as "
                         "they are."),
    "task.refreshing": ("任务进行中，本页每2秒自动刷新。", "The task is running; this page refreshes every 2 seconds."),
    "task.new_title": ("批量重新投递：确认", "Bulk retry: confirm"),
    "task.match_now": ("当前符合条件的投递失败记录：{n} 条。", "Failed transfers that match now: {n}."),
    "task.snapshot": ("开始时按当时符合条件的记录建立任务，逐条重新投递；可随时暂停、继续或取消。",
                      "The task takes those that match when it starts and retries them one by one; it can be "
                      "paused, resumed or cancelled at any time."),
    "task.start": ("开始批量重新投递", "Start the bulk retry"),
    "task.back": ("返回", "Back"),
    "task.back_to_list": ("返回投递失败列表", "Back to the failed-transfer list"),
    "task.err.nothing_matches": ("没有符合条件的投递失败记录，未建立任务。",
                                 "No failed transfer matches this filter; no task was started."),
    "task.err.invalid_filter": ("筛选条件无效：{keys}。", "The filter is not valid: {keys}."),
    "task.err.task_state": ("任务当前{status}，不能{action}。", "The task is {status}; it cannot {action}."),
    "task.action.pause": ("暂停", "pause"),
    "task.action.resume": ("继续", "resume"),
    "task.action.cancel": ("取消", "cancel"),
}


def register(api: APIRouter, ui: Console) -> None:
    """Add this area's pages to the console."""

    def refusal(request: Request, session: Session, e: TaskRefused, status: int, back: str) -> Response:
        """The page that says why a task request was refused."""
        def t(key: str) -> str:
            return translate(session.lang, key)
        values: dict[str, Any] = {}
        if e.code == "invalid_filter":
            values["keys"] = ", ".join(p.path or p.reason for p in e.problems)
        elif e.code == "task_state":
            values = {"status": t(f"task.status.{e.values['status']}"),
                      "action": t(f"task.action.{e.values['action']}")}
        return ui.page(request, session, "tasks_message.html", status=status, message_key=f"task.err.{e.code}",
                       values=values, back=back)

    @api.get("/tasks", response_class=HTMLResponse)
    async def task_list(request: Request, page_no: int = 1) -> Response:
        session = await ui.gate(request, "view")
        if not isinstance(session, Session):
            return session
        page_no = max(1, page_no)
        found = await run_in_threadpool(bulk_tasks.list_tasks, ui.engine, scope=ui.scope(session), limit=PAGE,
                                        offset=(page_no - 1) * PAGE)
        return ui.page(request, session, "tasks_list.html", found=found, page_no=page_no, total=found["total"],
                       pages=max(1, -(-found["total"] // PAGE)), filter_query="")

    @api.get("/tasks/new", response_class=HTMLResponse)
    async def task_new(request: Request) -> Response:
        session = await ui.gate(request, "bulk_retry")
        if not isinstance(session, Session):
            return session
        try:
            f = bulk_tasks.parse_filter(dict(request.query_params))
        except TaskRefused as e:
            return refusal(request, session, e, 422, "/console/failed")
        ids = await run_in_threadpool(data.failed_ids, ui.engine, f, scope=ui.scope(session), now=ui.clock())
        return ui.page(request, session, "tasks_new.html", filt=f.query(), scope=ui.scope(session), count=len(ids),
                       filter_query=urlencode(f.query()))

    @api.post("/tasks/new")
    async def task_create(request: Request) -> Response:
        if (stranger := await ui.before_form(request)) is not None:
            return stranger
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        session = await ui.gate(request, "bulk_retry", fields.pop("csrf", ""))
        if not isinstance(session, Session):
            return session
        reason = fields.pop("reason", "")
        try:
            f = bulk_tasks.parse_filter(fields)
            task = await run_in_threadpool(bulk_tasks.create, ui.engine, kind="retry", f=f, scope=ui.scope(session),
                                           actor=actor(session), reason=reason, now=ui.clock())
        except TaskRefused as e:
            return refusal(request, session, e, 422, f"/console/failed?{urlencode(fields)}")
        return RedirectResponse(f"/console/tasks/{task['id']}", status_code=303)

    @api.get("/tasks/{task_id}", response_class=HTMLResponse)
    async def task_detail(request: Request, task_id: str, page_no: int = 1) -> Response:
        session = await ui.gate(request, "view")
        if not isinstance(session, Session):
            return session
        page_no = max(1, page_no)
        task = await run_in_threadpool(bulk_tasks.get, ui.engine, task_id, scope=ui.scope(session),
                                       limit=bulk_tasks.ITEMS_PAGE, offset=(page_no - 1) * bulk_tasks.ITEMS_PAGE)
        if task is None:
            return ui.refused(request, session, "err.not_found", 404)
        return ui.page(request, session, "tasks_detail.html", task=task, page_no=page_no, total=task["total"],
                       pages=max(1, -(-task["total"] // bulk_tasks.ITEMS_PAGE)), filter_query="")

    async def change(request: Request, task_id: str, action: str) -> Response:
        if (stranger := await ui.before_form(request)) is not None:
            return stranger
        form = await request.form()
        csrf = form.get("csrf")
        session = await ui.gate(request, "bulk_retry", csrf if isinstance(csrf, str) else "")
        if not isinstance(session, Session):
            return session
        try:
            task = await run_in_threadpool(bulk_tasks.change, ui.engine, task_id, action, scope=ui.scope(session),
                                           actor=actor(session))
        except TaskRefused as e:
            return refusal(request, session, e, 409, f"/console/tasks/{task_id}")
        if task is None:
            return ui.refused(request, session, "err.not_found", 404)
        return RedirectResponse(f"/console/tasks/{task_id}", status_code=303)

    @api.post("/tasks/{task_id}/pause")
    async def task_pause(request: Request, task_id: str) -> Response:
        return await change(request, task_id, "pause")

    @api.post("/tasks/{task_id}/resume")
    async def task_resume(request: Request, task_id: str) -> Response:
        return await change(request, task_id, "resume")

    @api.post("/tasks/{task_id}/cancel")
    async def task_cancel(request: Request, task_id: str) -> Response:
        return await change(request, task_id, "cancel")
