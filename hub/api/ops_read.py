"""What the console's pages show, through the operator API: the dashboard's figures, the audit log, one failed
transfer whole, one obligation with its notes, and one person's page. Each endpoint takes the hub's API key or a
console session (reading needs no CSRF token), holds a session to the role table (``hub.console.permissions``) and
reads through the same functions as its page (``hub.console.data``, ``hub.console.cases_data``,
``hub.transfer_actions``) with the caller's agency scope, so that the API never shows more, or other, than the
page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hub import payload_views
from hub import transfer_actions as ta
from hub.api.common import error, plain
from hub.console import cases_data, data
from hub.core.facts import legal_day
from hub.service import Hub
from hub.store.db import utcnow

Check = Callable[[Request, str], tuple[str, str | None]]


def _now(request: Request) -> dt.datetime:
    clock: Callable[[], dt.datetime] = getattr(request.app.state, "clock", utcnow)
    return clock()


def router(hub: Hub, operator: Check) -> APIRouter:
    """``operator(request, action)`` gives who acts and the agency they are limited to, or raises."""
    api = APIRouter(tags=["operators"])

    async def check(request: Request, action: str) -> tuple[str, str | None]:
        return await run_in_threadpool(operator, request, action)

    @api.get("/api/v1/dashboard")
    async def dashboard(request: Request) -> JSONResponse:
        """The console's dashboard figures for the caller's scope: messages in and deliveries out per legal day
        (``series``) and per agency (``flows``) over the last ``days`` days, the delivery ``queue``, open failed
        transfers by cause and age (``failed``, ``failed_total``), and open obligations due soon, due today and
        overdue per responsible agency (``obligations``: for an agency, those it owes or is owed)."""
        _, scope = await check(request, "view")
        now = _now(request)
        figures = await run_in_threadpool(lambda: data.dashboard(hub.engine, scope=scope, now=now))
        return JSONResponse(plain(figures | {"scope": scope}))

    @api.get("/api/v1/audit-log")
    async def audit_log(request: Request, actor: str = "", action: str = "", target: str = "",
                        page: int = 1) -> JSONResponse:
        """The audit log, newest first, 50 to a page: ``actor`` and ``target`` match a part, ``action`` exactly.
        ``{"items", "total", "page", "pages"}``. Auditors and administrators (and the hub's API key)."""
        await check(request, "view_audit")
        found = await run_in_threadpool(lambda: data.audit_page(
            hub.engine, actor=actor.strip() or None, action=action.strip() or None, target=target.strip() or None,
            page=max(1, page)))
        return JSONResponse(plain(found))

    @api.get("/api/v1/failed-transfers/{ft_id}")
    async def failed_transfer(ft_id: str, request: Request, reason: str | None = None) -> JSONResponse:
        """One failed transfer as its page shows it: the transfer and its message, every ``attempts`` of its
        delivery, the message's ``deliveries``, the ``edits`` (newest first), the ``files`` attached to its
        resolution and the person's ``timeline``. The payloads — ``canonical``, ``raw``, each edit's ``payload``
        and ``diff`` — are shown only for a stated ``reason`` (a preset — check_failure, correct_data,
        supervision — or your own words; 422 if it says too little), and that view is audited (``view_payload``,
        target ``failed_transfer:<id>``, with the reason and each part shown); without one, ``payloads`` says
        how to ask. 404 outside the caller's scope."""
        by, scope = await check(request, "view")
        now = _now(request)
        why = None
        if reason is not None:
            try:
                why = payload_views.from_api(reason)
            except payload_views.ReasonRefused as e:
                return error(e.code_, e.message, e.status, problems=e.problems)

        def read() -> dict[str, Any] | None:
            ft = data.failed_one(hub.engine, ft_id, scope=scope, now=now)
            if ft is None:
                return None
            edits = ta.list_edits(hub.engine, ft_id, scope=scope)
            if why is None:
                ft = {k: v for k, v in ft.items() if k not in ("canonical", "raw")} | {
                    "payloads": "withheld: ask again with ?reason= (check_failure, correct_data, supervision or "
                                "your own words) to see the canonical and raw payloads and the edits' texts"}
                edits = [{k: v for k, v in e.items() if k not in ("payload", "diff")} for e in edits]
            else:
                ta.record_payload_view(hub.engine, ft_id, actor=by, reason=why, channel="api",
                                       shown=ta.payload_parts(ft, edits))
                ft = ft | {"payloads": "shown", "reason": why.text}
            files = [f | {"url": f"/api/v1/operator-files/{f['id']}"} for f in ta.files_of(hub.engine, ft_id)]
            return ft | {"edits": edits, "files": files,
                         "timeline": cases_data.transfer_timeline(hub.engine, ft, scope=scope, today=legal_day(now))}

        try:
            found = await run_in_threadpool(read)
        except ta.NotFound:
            found = None
        if found is None:
            return error("not_found", f"no failed transfer {ft_id}", 404)
        return JSONResponse(plain(found))

    @api.get("/api/v1/obligations/{obligation_id}")
    async def obligation(obligation_id: str, request: Request) -> JSONResponse:
        """One obligation as its page shows it: its rule's legal basis, trigger, due date, status on the legal day,
        met or waived by whom and why, the pursuit drafts that would discharge it, and its ``notes``; 404 outside
        the caller's scope (an agency's operators: what their agency owes or is owed)."""
        _, scope = await check(request, "view")
        today = legal_day(_now(request))

        def read() -> dict[str, Any] | None:
            found = cases_data.obligation_one(hub.engine, obligation_id, scope=scope, today=today)
            return None if found is None else found | {"notes": cases_data.notes_of(hub.engine, obligation_id)}

        found = await run_in_threadpool(read)
        if found is None:
            return error("not_found", f"no obligation {obligation_id}", 404)
        return JSONResponse(plain(found))

    @api.get("/api/v1/persons/{ref}")
    async def person(ref: str, request: Request) -> JSONResponse:
        """One person as their page shows them: cases, obligations, pursuit drafts, the failed transfers of their
        messages, the ledger's ``timeline``, and ``lines``: that timeline with the notes on their obligations and the
        operators' actions the audit log
        keeps about them. ``ref``: an ID number, a person key or a case number; 404 when the caller's agency
        neither sent nor received a message about them."""
        _, scope = await check(request, "view")
        today = legal_day(_now(request))
        found = await run_in_threadpool(lambda: cases_data.person(hub.engine, ref, scope=scope, today=today))
        if found is None:
            return error("not_found", "no such person for this operator", 404)
        return JSONResponse(plain(found))

    return api
