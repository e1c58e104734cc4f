"""API of the case ledger: a person's timeline, obligations by status, and waiving one (hub operators).

An agency sees a person's timeline when it sent or received a message about that person, and the obligations it
owes or is owed; the hub's operators (organ type HUB) see everything. Statuses are those of the legal day of the
deadline clock's time (``?today=`` overrides it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hub import authz, casework
from hub.api import ops_cases
from hub.api.common import error, plain
from hub.api.guard import caller
from hub.api.operator_auth import operator_check
from hub.console import cases_data
from hub.core.facts import legal_day
from hub.core.model import Agency
from hub.service import Hub
from hub.store.db import utcnow


def _today(request: Request, text: str | None) -> dt.date:
    """``text`` (YYYY-MM-DD) or the legal day of the deadline clock's time; ValueError naming ``today``."""
    if text:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"today: not a date (YYYY-MM-DD): {text!r}") from None
    clock: Callable[[], dt.datetime] = getattr(request.app.state, "clock", utcnow)
    return legal_day(clock())


def router(hub: Hub, who: Callable[[Request], Agency]) -> APIRouter:
    """The /api/v1/persons/{ref}/timeline and /api/v1/obligations endpoints."""
    api = APIRouter(tags=["case ledger"])
    operator = operator_check(hub.engine, hub.directory, who)

    @api.get("/api/v1/persons/{ref}/timeline")
    async def timeline(ref: str, request: Request, today: str | None = None) -> JSONResponse:
        """Everything about one person in order: each message about them and what became of it (routed,
        delivered, acknowledged), what the ledger made of it, and each obligation with its status. ``ref``: an
        ID number, a person key or a case number."""
        asks = caller(request)  # an agency's key, or a console session in its agency's scope
        try:
            day = _today(request, today)
        except ValueError as e:
            return error("invalid", str(e), 400, "today")
        found = await run_in_threadpool(lambda: cases_data.timeline_in_scope(hub.engine, ref, scope=None, today=day))
        if found is None or not authz.decide(asks, "timeline", [authz.Rel.CORRESPONDENT]
                                             if asks.code in found["parties"] else []):
            return error("not_found", "no such person for this agency", 404)
        return JSONResponse(plain(found))

    @api.get("/api/v1/obligations")
    async def obligations(request: Request, state: str | None = None, agency: str | None = None,
                          county: str | None = None, rule: str | None = None, limit: int = 100,
                          after: str | None = None, today: str | None = None) -> JSONResponse:
        """Obligations by due date with their status on the day: ``state`` (pending, due_soon, due_today, overdue,
        met, met_late, waived, calendar_missing, or open), ``agency`` (owes or is owed), ``county``, ``rule``;
        page with ``after`` = the ``next_after`` of the previous page. Without a key, a console session: its
        agency's obligations, or every agency's for an operator who sees them all."""
        asks = caller(request)
        mine = asks.scope
        if mine is not None:
            named = authz.decide(asks, "obligations", [authz.Rel.PARTY] if agency in (None, "", mine) else [])
            if not named:
                return error("forbidden", f"agency {mine} sees only the obligations it owes or is owed "
                             f"({named.reason})", 403, "agency")
            agency = mine
        try:
            day = _today(request, today)
            found = await run_in_threadpool(lambda: casework.list_obligations(
                hub.engine, today=day, state=state or None, agency=agency or None, county=county or None,
                rule=rule or None, limit=max(1, min(limit, 1000)), after=after or None))
        except ValueError as e:
            name = str(e).split(":", 1)[0]
            return error("invalid", str(e), 422, name)
        return JSONResponse(plain(found))

    @api.post("/api/v1/obligations/{obligation_id}/waive")
    async def waive(obligation_id: str, request: Request) -> JSONResponse:
        """Set an open obligation aside: {"reason", "by"}; hub operators only; audited. 200 with the obligation,
        404 unknown, 409 already met or waived (or the ledger is being rebuilt), 422 without a reason or a name.
        Without a key, a console session whose role may waive: {"reason"} (hub.api.ops_cases.waive_by_session)."""
        asks = caller(request)  # the hub's key, or a console session whose role may waive (hub.authz_routes)
        if not asks.by_key:
            return await ops_cases.waive_by_session(hub, operator, obligation_id, request)
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return error("invalid", "the body must be a JSON object {\"reason\", \"by\"}", 400)
        by = str(body.get("by") or "").strip()
        try:
            day = legal_day(getattr(request.app.state, "clock", utcnow)())
            done = await run_in_threadpool(lambda: casework.waive(
                hub.engine, obligation_id, reason=str(body.get("reason") or ""),
                by=f"{asks.code}:{by}" if by else "", today=day))
        except (casework.ObligationClosed, casework.LedgerRebuilding) as e:
            return error("conflict", str(e), 409)
        except LookupError as e:
            return error("not_found", str(e), 404)
        except ValueError as e:
            return error("invalid", str(e), 422, str(e).split(":", 1)[0])
        return JSONResponse(plain(done))

    return api
