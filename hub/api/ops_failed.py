"""Operators' actions on failed transfers through the API: reroute, edit and resubmit (approved by a second
operator), resolve without delivery, and the files attached to a resolution. The console calls the same functions
(hub.transfer_actions); a failed transfer outside the operator's agency is 404, a refusal names what was wrong."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from hub import payload_views as pv
from hub import transfer_actions as ta
from hub.api.common import error, plain
from hub.console.pages_failed import read_form
from hub.errors import Problem
from hub.service import Hub

Check = Callable[[Request, str], tuple[str, str | None]]


def router(hub: Hub, operator: Check) -> APIRouter:
    """``operator(request, action)`` gives who acts and the agency they are limited to, or raises."""
    api = APIRouter(tags=["failed transfers"])

    async def check(request: Request, action: str) -> tuple[str, str | None]:
        return await run_in_threadpool(operator, request, action)

    async def run(call: Callable[[], Any], status: int = 200) -> Response:
        """The action's result, or its refusal as the API's error body."""
        try:
            result = await run_in_threadpool(call)
        except ta.NotFound as e:
            return error("not_found", str(e), 404)
        except ta.Refused as e:
            return error(e.code_, e.message, e.status, problems=e.problems)
        return JSONResponse(plain(result), status_code=status)

    @api.post("/api/v1/failed-transfers/{ft_id}/reroute")
    async def reroute(ft_id: str, request: Request) -> Response:
        """Deliver the message to another registered agency instead: ``{"agency", "reason"}``."""
        by, scope = await check(request, "reroute")
        body = await _json(request, required=("agency", "reason"))
        if isinstance(body, Response):
            return body
        return await run(lambda: ta.reroute(hub, ft_id, agency=body["agency"], reason=body["reason"], actor=by,
                                            scope=scope), 202)

    @api.post("/api/v1/failed-transfers/{ft_id}/edits")
    async def submit_edit(ft_id: str, request: Request) -> Response:
        """Submit an edited canonical payload for a second operator's approval: ``{"payload", "reason"}``."""
        by, scope = await check(request, "edit_submit")
        body = await _json(request, required=("payload", "reason"))
        if isinstance(body, Response):
            return body
        return await run(lambda: ta.submit_edit(hub, ft_id, payload=body["payload"], reason=body["reason"],
                                                actor=by, scope=scope), 201)

    @api.get("/api/v1/failed-transfers/{ft_id}/edits")
    async def list_edits(ft_id: str, request: Request, reason: str | None = None) -> Response:
        """The failed transfer's edits, newest first, each with its payload and a unified diff: payloads, shown for
        a stated ``reason`` (a preset — check_failure, correct_data, supervision — or your own words; 422 without
        it) and audited as ``view_payload`` with the reason and each edit shown."""
        by, scope = await check(request, "view_payload")
        why = _reason(reason)
        if isinstance(why, Response):
            return why

        def read() -> dict[str, Any]:
            items = ta.list_edits(hub.engine, ft_id, scope=scope)
            if items:
                shown = [pv.part("edit", e["payload"], edit_id=e["id"]) for e in items]
                ta.record_payload_view(hub.engine, ft_id, actor=by, reason=why, shown=shown, channel="api")
            return {"items": items}

        return await run(read)

    @api.post("/api/v1/failed-transfer-edits/{edit_id}/approve")
    async def approve_edit(edit_id: str, request: Request) -> Response:
        """Approve another operator's edit (``{"note"}`` optional): it is sent as a new message."""
        by, scope = await check(request, "edit_approve")
        body = await _json(request, required=(), optional=True)
        if isinstance(body, Response):
            return body
        return await run(lambda: ta.approve_edit(hub, edit_id, actor=by, note=body.get("note"), scope=scope), 202)

    @api.post("/api/v1/failed-transfer-edits/{edit_id}/reject")
    async def reject_edit(edit_id: str, request: Request) -> Response:
        """Reject an edit: ``{"note"}`` says why."""
        by, scope = await check(request, "edit_approve")
        body = await _json(request, required=("note",))
        if isinstance(body, Response):
            return body
        return await run(lambda: ta.reject_edit(hub, edit_id, actor=by, note=body["note"], scope=scope))

    @api.post("/api/v1/failed-transfer-edits/{edit_id}/withdraw")
    async def withdraw_edit(edit_id: str, request: Request) -> Response:
        """Take back one's own pending edit (``{"note"}`` optional); only its submitter may."""
        by, scope = await check(request, "edit_submit")
        body = await _json(request, required=(), optional=True)
        if isinstance(body, Response):
            return body
        return await run(lambda: ta.withdraw_edit(hub, edit_id, actor=by, note=body.get("note"), scope=scope))

    @api.post("/api/v1/failed-transfers/{ft_id}/resolve")
    async def resolve(ft_id: str, request: Request) -> Response:
        """Resolve without delivery. Multipart form: ``reason``, optional ``file`` (PDF, JPEG or PNG, ≤ 10 MB)."""
        by, scope = await check(request, "resolve_by_hand")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > ta.FILE_LIMIT + 65536:
            return error("file_too_large", f"the request is {declared} bytes; a file may have at most "
                         f"{ta.FILE_LIMIT}", 413, "file")
        if "multipart/form-data" not in request.headers.get("content-type", "") and \
                "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
            return error("not_a_form", "send a multipart form with reason (and file, optionally)", 400)
        form = await read_form(request)
        reason = form.get("reason")
        upload = form.get("file")
        scan = upload if isinstance(upload, tuple) and (upload[0] or upload[1]) else None
        if isinstance(upload, str) and upload:
            return error("file_type", "file must be an uploaded file part, not a text field", 400, "file")
        return await run(lambda: ta.resolve_by_hand(hub, ft_id, reason=reason if isinstance(reason, str) else "",
                                                    actor=by, scope=scope, file=scan))

    @api.get("/api/v1/operator-files/{file_id}")
    async def operator_file(file_id: str, request: Request, reason: str | None = None) -> Response:
        """A file an operator attached, whole, for a stated ``reason`` (422 without it); the view is audited with
        the reason and the file's SHA-256."""
        by, scope = await check(request, "view_payload")
        why = _reason(reason)
        if isinstance(why, Response):
            return why
        try:
            f = await run_in_threadpool(lambda: ta.get_file(hub.engine, file_id, actor=by, scope=scope, reason=why,
                                                            channel="api"))
        except ta.NotFound as e:
            return error("not_found", str(e), 404)
        return Response(f["content"], media_type=f["content_type"], headers=ta.download_headers(f))

    return api


def _reason(value: str | None) -> pv.Reason | Response:
    """The stated reason for a payload view, or the 422 that names ``reason`` and says what it may be."""
    try:
        return pv.from_api(value)
    except pv.ReasonRefused as e:
        return error(e.code_, e.message, e.status, problems=e.problems)


async def _json(request: Request, *, required: tuple[str, ...], optional: bool = False) -> dict[str, Any] | Response:
    """The body as a JSON object whose ``required`` fields are strings (an empty body is ``{}`` if ``optional``)."""
    raw = await request.body()
    if not raw.strip() and optional:
        return {}
    try:
        body = await request.json()
    except ValueError as e:
        return error("not_json", f"the body is not JSON: {e}", 400)
    if not isinstance(body, dict):
        return error("not_json", "the body is a JSON object", 400)
    problems = [Problem(f"{name} is missing" if name not in body else f"{name} is not a string", name)
                for name in required if not isinstance(body.get(name), str)]
    problems += [Problem(f"{name} is not a string", name) for name, value in body.items()
                 if name not in required and value is not None and not isinstance(value, str)]
    if problems:
        return error("bad_request", "; ".join(p.reason for p in problems), 400, problems=problems)
    return body
