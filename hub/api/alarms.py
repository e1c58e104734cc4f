"""API of the alarm notices sent and drafted pursuit requests.

An agency reads the deadline notices it was sent (addressed or copied); the hub's operators (organ type HUB)
read every one. A bureau reads, confirms and dismisses its own drafted pursuit requests; operators all of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hub import alarming, authz, pursuits
from hub.api import ops_cases
from hub.api.common import error, plain
from hub.api.guard import caller, caller_agency
from hub.api.operator_auth import operator_check
from hub.core.alarms import NoticeStep
from hub.core.model import Agency
from hub.service import Hub
from hub.store.db import utcnow

DRAFT_STATUSES = ("drafted", "confirmed", "sent", "dismissed", "withdrawn")


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ValueError("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def router(hub: Hub, who: Callable[[Request], Agency]) -> APIRouter:
    """The endpoints of this area."""
    api = APIRouter(tags=["alarms and pursuit drafts"])
    operator = operator_check(hub.engine, hub.directory, who)

    @api.get("/api/v1/alarms")
    async def alarms(request: Request, agency: str | None = None, step: str | None = None,
                     after: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=1000)) -> JSONResponse:
        """Deadline notices sent, in the order sent, each with its recipients; page with ``after`` = the last
        ``seq`` seen. An agency sees those it was sent; operators all (or one agency's with ``agency``), and how
        many open obligations wait for each missing calendar year."""
        asks = caller(request)
        if asks.scope is not None:
            named = authz.decide(asks, "alarms", [authz.Rel.ADDRESSEE] if agency in (None, asks.code) else [])
            if not named:
                return error("forbidden", f"{asks.code} sees only the notices it was sent ({named.reason})", 403,
                             "agency")
            agency = asks.code
        if step is not None and step not in {s.value for s in NoticeStep}:
            return error("invalid", f"step: not a notice step: {step!r} (one of "
                          f"{', '.join(s.value for s in NoticeStep)})", 422, "step")
        items = await run_in_threadpool(lambda: alarming.list_alarms(hub.engine, agency=agency, step=step,
                                                                     after=after, limit=limit))
        body: dict[str, Any] = {"notices": items, "next_after": items[-1]["seq"] if items else after}
        if asks.scope is None:
            body["calendar_missing"] = [{"year": y, "waiting": n} for y, n in sorted(
                (await run_in_threadpool(_waiting)).items())]
        return JSONResponse(plain(body))

    def _waiting() -> dict[int, int]:
        with hub.engine.connect() as conn:
            return alarming.waiting_for_calendar(conn)

    @api.get("/api/v1/pursuit-drafts")
    async def drafts(request: Request, status: str | None = None,
                     bureau: str | None = None, limit: int = Query(100, ge=1, le=1000)) -> JSONResponse:
        """Drafted pursuit requests (oldest first): a bureau sees its own, operators all. Without a key, a console
        session: its agency's (as its bureau), or all for an operator who sees every agency."""
        asks = caller(request)  # a bureau's key (hub.authz_routes), or a console session as its agency
        if asks.scope is not None:
            if bureau not in (None, asks.code):
                why = authz.decide(asks, "pursuit_drafts", [])
                return error("forbidden", f"a bureau sees its own pursuit drafts; operators see all ({why.reason})",
                             403)
            bureau = asks.code
        if status is not None and status not in DRAFT_STATUSES:
            return error("invalid", f"status: one of {', '.join(DRAFT_STATUSES)}, not {status!r}", 422, "status")
        items = await run_in_threadpool(lambda: pursuits.list_drafts(hub, status=status, bureau=bureau, limit=limit))
        return JSONResponse(plain({"drafts": items}))

    @api.get("/api/v1/pursuit-drafts/{draft_id}")
    async def draft(draft_id: str, request: Request) -> JSONResponse:
        """One draft with its canonical PursuitRequest. Without a key, a console session: its agency's drafts (as
        their bureau), or all for an operator who sees every agency."""
        asks = caller(request)
        item = await run_in_threadpool(pursuits.get_draft, hub, draft_id)
        if item is None or not authz.decide(asks, "pursuit_drafts", authz.owned(asks.code, item["bureau"])):
            return error("not_found", f"no pursuit draft {draft_id} for {asks.scope or 'the hub'}", 404)
        return JSONResponse(plain(item))

    async def decide(draft_id: str, request: Request, action: str) -> JSONResponse:
        if not caller(request).by_key:  # a console session (hub.api.ops_cases)
            return await ops_cases.decide_by_session(hub, operator, draft_id, request, action)
        agency = caller_agency(request, hub.directory)
        clock: Callable[[], dt.datetime] = getattr(request.app.state, "clock", utcnow)
        try:
            body = await _body(request)
        except ValueError as e:
            return ops_cases.invalid(e)
        by, reason, now = str(body.get("by", "")), str(body.get("reason", "")), clock()
        if action == "confirm":
            return await ops_cases.decided(lambda: pursuits.confirm(hub, draft_id, agency=agency, by=by, now=now))
        return await ops_cases.decided(lambda: pursuits.dismiss(hub, draft_id, agency=agency, by=by, reason=reason))

    @api.post("/api/v1/pursuit-drafts/{draft_id}/confirm")
    async def confirm(draft_id: str, request: Request) -> JSONResponse:
        """The bureau (or an operator) confirms: the hub sends the PursuitRequest as the bureau's. Body {"by"}."""
        return await decide(draft_id, request, "confirm")

    @api.post("/api/v1/pursuit-drafts/{draft_id}/dismiss")
    async def dismiss(draft_id: str, request: Request) -> JSONResponse:
        """The bureau (or an operator) declines the draft. Body {"by", "reason"}; nothing is sent."""
        return await decide(draft_id, request, "dismiss")

    return api
