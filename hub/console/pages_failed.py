"""Failed transfers in the console: the list with its filters and search, one transfer whole, and its actions."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from hub.console import data
from hub.console.session import actor
from hub.console.ui import Console
from hub.core.routing import MESSAGE_TYPES
from hub.operators import Session


def register(api: APIRouter, ui: Console) -> None:
    @api.get("/failed", response_class=HTMLResponse)
    async def failed(request: Request, page_no: int = 1) -> Response:
        session = await ui.gate(request, "view")
        if not isinstance(session, Session):
            return session
        f = data.FailedFilter.of(dict(request.query_params))
        page_no = max(1, page_no)
        found = await run_in_threadpool(data.failed_list, ui.engine, f, scope=ui.scope(session),
                                        now=ui.clock(), limit=data.PAGE, offset=(page_no - 1) * data.PAGE)
        pages = max(1, -(-found["total"] // data.PAGE))
        agencies = sorted(ui.directory.agencies)
        return ui.page(request, session, "failed_list.html", f=f, found=found, page_no=page_no, pages=pages,
                       agencies=agencies, causes=data.CAUSES, ages=list(data.AGES), statuses=data.STATUSES,
                       message_types=sorted(MESSAGE_TYPES), filter_query=urlencode(f.query()))

    async def one_failed(request: Request, ft_id: str, action: str,
                         csrf: str | None = None) -> tuple[Session, dict[str, Any]] | Response:
        """The session and the failed transfer, when the role may take ``action`` and the transfer is in the
        operator's scope; else the page that says why."""
        session = await ui.gate(request, action, csrf)
        if not isinstance(session, Session):
            return session
        ft = await run_in_threadpool(data.failed_one, ui.engine, ft_id, scope=ui.scope(session),
                                     now=ui.clock())
        if ft is None:
            return ui.refused(request, session, "err.not_found", 404)
        return session, ft

    @api.get("/failed/{ft_id}", response_class=HTMLResponse)
    async def failed_detail(request: Request, ft_id: str, done: str = "") -> Response:
        found = await one_failed(request, ft_id, "view")
        if not isinstance(found, tuple):
            return found
        session, ft = found
        return ui.page(request, session, "failed_detail.html", ft=ft, done=done)

    @api.post("/failed/{ft_id}/retry")
    async def failed_retry(request: Request, ft_id: str, csrf: str = Form(""), reason: str = Form("")) -> Response:
        found = await one_failed(request, ft_id, "retry", csrf)
        if not isinstance(found, tuple):
            return found
        session, _ = found
        await run_in_threadpool(ui.hub.retry_failed_transfer, ft_id, actor=actor(session), reason=reason or None)
        return RedirectResponse(f"/console/failed/{ft_id}?done=retried", status_code=303)

