"""API of the historical registers the joint-meeting report counts: a bureau imports its own register from before
the hub went live (the hub's operators import one for a bureau, naming it with ``agency``); every file is kept as
received with its report. "Today" (the latest day a register may be as of) is the legal day of the app's clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hub import authz
from hub.api.common import error
from hub.api.guard import admit_input, caller
from hub.api.registers import _body, _date
from hub.core.model import Agency
from hub.errors import Problem
from hub.report import history
from hub.service import Hub
from hub.store.db import utcnow


def router(hub: Hub, who: Callable[[Request], Agency]) -> APIRouter:
    """POST /api/v1/reports/history, GET /api/v1/reports/history[/{id}]."""
    api = APIRouter(tags=["reports"])
    engine = hub.engine

    def refuse(raw: bytes, caller: Agency, status: int, code: str, message: str, path: str | None = None,
               size: int | None = None, ctype: str | None = None) -> JSONResponse:
        # refused before it could be read as a register: kept like every refused input
        problem = Problem(message, path=path)
        qid = hub.quarantine(raw, agency=caller.code, channel="history-api", status=status, code=code,
                             message=message, problems=[problem], content_type=ctype, size=size,
                             truncated=size is not None and size > len(raw))
        return error(code, message, status, problems=[problem], quarantine_id=qid)

    @api.post("/api/v1/reports/history", name="post_history_import")
    async def post_history_import(request: Request, filename: str | None = None, as_of: str | None = None,
                                  agency: str | None = None, by: str | None = None) -> JSONResponse:
        """Import a bureau's historical register (the body: CSV, XLSX or XML), as of a day (an XML register names
        its own): 201 with the report (rows accepted, each rejected row's problems at its cell), 200 with the
        earlier report when the same file was imported before, 400 when the file as a whole cannot be read, 403
        for an agency that is not a bureau (or another bureau's register), 413 over the body limit, 422 when not
        one row can be read. A bureau imports its own register; the hub's operators name the bureau in
        ``agency``."""
        asks = who(request)  # admitted once the body is in, so that a refusal is kept (hub.authz_routes)
        ctype = request.headers.get("content-type")
        limit = request.app.state.settings.max_native_bytes
        raw, size = await _body(request, limit)
        if size > limit:
            return await run_in_threadpool(refuse, raw, asks, 413, "too_large", (
                f"body of {size} bytes exceeds the limit of {limit} bytes"), None, size, ctype)
        try:
            day = _date(as_of, "as_of")
        except ValueError as e:
            return await run_in_threadpool(refuse, raw, asks, 400, "invalid", str(e), "as_of", size, ctype)
        admitted = admit_input(request, asks)  # a bureau, or the hub (hub.authz.ACCESS["history_import"])
        if not admitted:
            return await run_in_threadpool(refuse, raw, asks, 403, "wrong_agency", admitted.reason, None, size,
                                           ctype)
        whose = agency.strip().upper() if agency else asks.code
        own = authz.decide(caller(request), "history_import", authz.owned(asks.code, whose))
        if caller(request).every_agency and not agency:
            return await run_in_threadpool(refuse, raw, asks, 400, "invalid", (
                "agency: the hub's operators name the bureau whose register it is"), "agency", size, ctype)
        if not own:
            return await run_in_threadpool(refuse, raw, asks, 403, "forbidden", (
                f"agency: {asks.code} imports its own register, not {agency[:12] if agency else whose}'s "
                f"({own.reason})"), "agency", size, ctype)
        code = whose
        clock: Callable[[], dt.datetime] = getattr(request.app.state, "clock", utcnow)
        name = filename or request.headers.get("x-filename")
        for field, text in (("filename", name), ("by", by)):
            if text is not None and "\x00" in text:  # a text column (PostgreSQL's) cannot hold it
                return await run_in_threadpool(refuse, raw, asks, 400, "invalid", (
                    f"{field}: a NUL character at position {text.index(chr(0)) + 1}"), field, size, ctype)
        who_by = f"{asks.code}:{by.strip()}" if by and by.strip() else asks.code
        report = await run_in_threadpool(lambda: history.import_history(
            engine, hub.directory, raw, agency=code, filename=name, as_of=day, by=who_by, now=clock()))
        body = report | {"status_url": str(request.url_for("get_history_import", import_id=report["import_id"]))}
        failed = history.error_status(report)
        if failed is not None:
            return JSONResponse(body, status_code=failed)
        return JSONResponse(body, status_code=200 if report["repeated"] else 201)

    @api.get("/api/v1/reports/history", name="list_history_imports")
    async def list_history_imports(request: Request, agency: str | None = None) -> JSONResponse:
        """The imports, latest first: an agency's own; the operators' all (``agency`` narrows to one bureau's)."""
        asks = caller(request)
        mine = agency if asks.scope is None else asks.code  # its own imports (hub.authz.ACCESS["history_imports"])
        found = await run_in_threadpool(lambda: history.list_imports(engine, agency=mine))
        return JSONResponse({"imports": found, "count": len(found)})

    @api.get("/api/v1/reports/history/{import_id}", name="get_history_import")
    async def get_history_import(import_id: str, request: Request) -> JSONResponse:
        """An import's report (without the file), for the bureau it belongs to and the operators."""
        asks = caller(request)
        found: dict[str, Any] | None = await run_in_threadpool(history.get_import, engine, import_id)
        if found is None or not authz.decide(asks, "history_imports", authz.owned(asks.code, found["agency"])):
            return error("not_found", "no such historical register import for this agency", 404)
        return JSONResponse(found)

    return api
