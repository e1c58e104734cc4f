"""API of the register snapshots and discrepancy items: an agency uploads the register it keeps (CSV, XLSX or
XML), which is kept as received and reconciled at once; each agency sees the items it must act on or confirm,
the hub's operators (organ type HUB) all; the acting agency or an operator resolves an item with a note. "Today"
(the latest day a register may be as of, and the day an upload's reconciliation compares as of) is the legal day
of the app's clock."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hub import authz, register_store
from hub.api.common import error
from hub.api.guard import caller, caller_agency
from hub.core.facts import legal_day
from hub.core.model import Agency
from hub.core.reconcile import Category, RegisterKind
from hub.errors import Problem
from hub.service import Hub
from hub.store.db import utcnow

MAX_REGISTER_BYTES = 256 * 1024 * 1024  # a province's register of 700,000 rows is about 100 MiB as CSV
STATUSES = ("open", "resolved")


def _date(text: str | None, name: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name}: not a date (YYYY-MM-DD): {text[:40]!r}") from None


def _today(request: Request) -> dt.date:
    """The legal day (Asia/Shanghai) of the app's clock, whose time is UTC."""
    clock: Callable[[], dt.datetime] = getattr(request.app.state, "clock", utcnow)
    return legal_day(clock())


KEPT_OF_OVERSIZE = 64 * 1024  # what of a body over its limit is kept in the quarantine (as for messages)
_SPOOL_IN_MEMORY = 8 * 1024 * 1024  # a body larger than this streams to a temporary file while it arrives


async def _body(request: Request, limit: int) -> tuple[bytes, int]:
    """The body as it streams, up to ``limit`` bytes, and its size. Over ``limit`` (the declared length, or what
    had come when the limit was passed) the reading stops there, so an oversize body is refused while it streams,
    and only its first 64 KiB are returned, to be kept. What has come is spooled to a temporary file past 8 MiB,
    so that a body refused near the limit never stood in memory, and one within it stands there once."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return b"", int(declared)
    size = 0
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as spool:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                spool.write(chunk[: max(0, KEPT_OF_OVERSIZE - (size - len(chunk)))])
                spool.seek(0)
                return spool.read(KEPT_OF_OVERSIZE), size
            spool.write(chunk)
        spool.seek(0)
        return spool.read(), size


def router(hub: Hub, who: Callable[[Request], Agency]) -> APIRouter:
    """POST /api/v1/registers/{kind}, GET /api/v1/registers/snapshots/{id}, GET /api/v1/discrepancies[/{id}],
    POST /api/v1/discrepancies/{id}/resolve."""
    api = APIRouter(tags=["registers and discrepancies"])
    engine = hub.engine

    def refuse(raw: bytes, agency: Agency, status: int, code: str, message: str, path: str | None = None,
               size: int | None = None, ctype: str | None = None) -> JSONResponse:
        # refused before it could be read as a register: kept like every refused input
        problem = Problem(message, path=path)
        qid = hub.quarantine(raw, agency=agency.code, channel="register-api", status=status, code=code,
                             message=message, problems=[problem], content_type=ctype, size=size,
                             truncated=size is not None and size > len(raw))
        return _refuse(code, message, status, [problem], quarantine_id=qid)

    @api.post("/api/v1/registers/{kind}", name="post_register")
    async def post_register(kind: str, request: Request, as_of: str | None = None,
                            period_start: str | None = None, filename: str | None = None) -> JSONResponse:
        """Upload the register the authenticated agency keeps, as of a day (an XML register names its own):
        201 with the snapshot's report (each rejected row's problems at its cell) and the items the
        reconciliation opened, reopened or resolved; 400 when the file as a whole cannot be read, 422 when no row
        can, 403 when the agency does not keep this kind of register. The file is kept in every case."""
        agency = caller_agency(request, hub.directory)
        ctype = request.headers.get("content-type")
        raw, size = await _body(request, MAX_REGISTER_BYTES)
        if kind not in {k.value for k in RegisterKind}:
            return await run_in_threadpool(refuse, raw, agency, 404, "unknown_kind", (
                f"{kind[:40]!r} is not a register kind; one of {', '.join(k.value for k in RegisterKind)}"),
                None, size, ctype)
        if size > MAX_REGISTER_BYTES:
            return await run_in_threadpool(refuse, raw, agency, 413, "too_large", (
                f"body of {size} bytes exceeds the limit of {MAX_REGISTER_BYTES} bytes"), None, size, ctype)
        try:
            day, start = _date(as_of, "as_of"), _date(period_start, "period_start")
        except ValueError as e:
            return await run_in_threadpool(refuse, raw, agency, 400, "invalid", str(e), str(e).split(":")[0], size,
                                           ctype)
        name, today = filename or request.headers.get("x-filename"), _today(request)
        if name is not None and "\x00" in name:  # a text column (PostgreSQL's) cannot hold it
            return await run_in_threadpool(refuse, raw, agency, 400, "bad_filename", (
                f"the file name has a NUL character at position {name.index(chr(0)) + 1}: name the file without it"),
                "filename", size, ctype)
        res = await run_in_threadpool(lambda: register_store.upload(
            engine, kind, raw, agency=agency.code, filename=name, as_of=day, period_start=start,
            actor=agency.code, today=today))
        url = str(request.url_for("get_register_snapshot", snapshot_id=res.snapshot["snapshot_id"]))
        body: dict[str, Any] = {"snapshot": res.snapshot, "status_url": url}
        if res.error is not None:
            return _refuse(res.error.code, res.error.message, res.error.status, list(res.error.problems), **body)
        assert res.run is not None
        return JSONResponse(body | {"reconciliation": res.run.as_dict()}, status_code=201)

    @api.get("/api/v1/registers/snapshots/{snapshot_id}", name="get_register_snapshot")
    async def get_register_snapshot(snapshot_id: str, request: Request) -> JSONResponse:
        """A snapshot's report, for the agency that uploaded it and for the operators."""
        asks = caller(request)
        found = await run_in_threadpool(register_store.get_snapshot, engine, snapshot_id)
        if found is None or not authz.decide(asks, "register_snapshot", authz.owned(asks.code, found["agency"])):
            return _refuse("not_found", "no such register snapshot for this agency", 404)
        return JSONResponse(found)

    @api.get("/api/v1/discrepancies")
    async def list_discrepancies(request: Request, status: str | None = None, category: str | None = None,
                                 agency: str | None = None, county: str | None = None,
                                 limit: int = Query(500, ge=1, le=10_000), offset: int = Query(0, ge=0)
                                 ) -> JSONResponse:
        """Items by county, category and person: an agency's own (to act on or confirm); the operators' all.
        ``agency`` narrows to those one agency must act on or confirm."""
        mine = caller(request).scope  # the items it must act on or confirm (hub.authz.ACCESS["discrepancies"])
        if status and status not in STATUSES:
            message = f"status: one of {', '.join(STATUSES)}"
            return _refuse("invalid", message, 400, [Problem(message, path="status")])
        if category and category not in {c.value for c in Category}:
            message = f"category: one of {', '.join(c.value for c in Category)}"
            return _refuse("invalid", message, 400, [Problem(message, path="category")])
        items = await run_in_threadpool(lambda: register_store.list_items(
            engine, status=status, category=category, agency=agency, county=county, visible_to=mine, limit=limit,
            offset=offset))
        return JSONResponse({"items": items, "count": len(items), "limit": limit, "offset": offset})

    async def visible(item_id: str, asks: authz.Principal) -> dict[str, Any] | None:
        item = await run_in_threadpool(register_store.get_item, engine, item_id)
        if item is None:
            return None
        party = asks.code in (item["acting_agency"], item["confirming_agency"])
        return item if authz.decide(asks, "discrepancies", [authz.Rel.PARTY] if party else []) else None

    @api.get("/api/v1/discrepancies/{item_id}")
    async def get_discrepancy(item_id: str, request: Request) -> JSONResponse:
        """One item, for the agencies it names and the operators."""
        item = await visible(item_id, caller(request))
        if item is None:
            return _refuse("not_found", "no such discrepancy for this agency", 404)
        return JSONResponse(item)

    @api.post("/api/v1/discrepancies/{item_id}/resolve")
    async def resolve_discrepancy(item_id: str, request: Request) -> JSONResponse:
        """Close an open item by hand, body {"by", "note"}: the acting agency or an operator (audited)."""
        asks = caller(request)
        item = await visible(item_id, asks)
        if item is None:
            return _refuse("not_found", "no such discrepancy for this agency", 404)
        acting = authz.decide(asks, "discrepancy_resolution", [authz.Rel.ACTING]
                              if asks.code == item["acting_agency"] else [])
        if not acting:
            return _refuse("forbidden", f"only the acting agency {item['acting_agency']} or the hub's operators "
                                       f"resolve this item ({acting.reason})", 403)
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _refuse("invalid", 'the body must be a JSON object {"by", "note"}', 400)
        by = str(body.get("by") or "").strip()
        try:
            done = await run_in_threadpool(lambda: register_store.resolve(
                engine, item_id, by=f"{asks.code}:{by}" if by else "", note=str(body.get("note") or "")))
        except KeyError:
            return _refuse("not_found", "no such discrepancy for this agency", 404)
        except register_store.AlreadyResolved as e:
            return _refuse("already_resolved", str(e), 409)
        except ValueError as e:
            return _refuse("invalid", str(e), 422, [Problem(str(e), path=str(e).split(":")[0])])
        return JSONResponse(done)

    return api


def _refuse(code: str, message: str, status: int, problems: list[Problem] | None = None,
            **extra: Any) -> JSONResponse:
    return error(code, message, status, problems=problems or [Problem(message)], **extra)
