"""Operators' actions through the API: the quarantine (list, dismiss, corrections proposed by one operator and
approved by another), discrepancy items (list, resolve) and identity review items (list, decide), for the hub's
API key or a console session held to the same roles and agency limit as the console (which calls the same
functions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hub import identity_store, payload_views, register_items
from hub.api.common import error, plain
from hub.console import queues_data as qd
from hub.errors import InvalidMessage, Problem
from hub.service import Hub

Check = Callable[[Request, str], tuple[str, str | None]]


async def _object(request: Request, shape: str) -> dict[str, Any] | JSONResponse:
    """The JSON object of the body, or the refusal that says what shape it must have."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return error("invalid", f"the body must be a JSON object {shape}", 400)
    return body


def _text(body: dict[str, Any], name: str, *, required: bool) -> str | JSONResponse:
    value = body.get(name, "")
    if not isinstance(value, str) or (required and not value.strip()):
        return error("invalid", f"{name}: required, a non-empty string", 422, name)
    return value


_REFUSALS = (InvalidMessage, qd.AlreadyReviewed, qd.CannotResubmit, qd.CorrectionRefused)


def _refusal(e: Exception) -> JSONResponse:
    """How the API answers a correction refused: the payload's problems at their places, or why not now."""
    if isinstance(e, InvalidMessage):
        return error(e.code, e.message, e.status, problems=e.problems)
    if isinstance(e, qd.AlreadyReviewed):
        return error("already_reviewed", str(e), 409)
    if isinstance(e, qd.CannotResubmit):
        return error("no_agency", str(e), 409)
    assert isinstance(e, qd.CorrectionRefused)
    return error(e.code, e.message, e.status)


def _note(body: dict[str, Any]) -> str:
    note = body.get("note")
    return note if isinstance(note, str) else ""


def router(hub: Hub, operator: Check) -> APIRouter:
    """``operator(request, action)`` gives who acts and the agency they are limited to, or raises."""
    api = APIRouter(tags=["operators"])
    engine = hub.engine

    # ---- quarantine -----------------------------------------------------------------------------------------

    @api.get("/api/v1/quarantine", tags=["quarantine"])
    async def list_quarantine(request: Request, limit: int = Query(100, ge=1, le=1000),
                              offset: int = Query(0, ge=0)) -> JSONResponse:
        """Rejected inputs, newest first, with their review; filters ``agency``, ``code``, ``channel``,
        ``reviewed`` (no — the default —, yes, any). ``{"items", "total"}``."""
        _, scope = await run_in_threadpool(operator, request, "view")
        f = qd.QuarantineFilter.of(dict(request.query_params))
        found = await run_in_threadpool(qd.quarantine_list, engine, f, scope=scope, limit=limit, offset=offset)
        return JSONResponse(plain(found))

    async def entry(qid: str, scope: str | None) -> dict[str, Any] | None:
        return await run_in_threadpool(qd.quarantine_one, engine, qid, scope=scope)

    def not_found() -> JSONResponse:
        return error("not_found", "no such quarantine entry", 404)

    @api.post("/api/v1/quarantine/{qid}/dismiss", tags=["quarantine"])
    async def dismiss_quarantine(qid: str, request: Request) -> JSONResponse:
        """Close a rejected input, body ``{"reason"}`` (audited): 409 if it was reviewed before."""
        by, scope = await run_in_threadpool(operator, request, "release_quarantine")
        if await entry(qid, scope) is None:
            return not_found()
        body = await _object(request, '{"reason"}')
        if isinstance(body, JSONResponse):
            return body
        reason = _text(body, "reason", required=True)
        if isinstance(reason, JSONResponse):
            return reason
        try:
            review = await run_in_threadpool(lambda: qd.dismiss(engine, qid, by=by, reason=reason))
        except qd.AlreadyReviewed as e:
            return error("already_reviewed", str(e), 409)
        return JSONResponse(plain({"quarantine_id": qid, **review}))

    @api.post("/api/v1/quarantine/{qid}/corrections", tags=["quarantine"])
    async def propose_correction(qid: str, request: Request) -> JSONResponse:
        """Propose a corrected payload to send as the original agency's message, body ``{"payload", "reason"}``:
        checked exactly as POST /api/v1/messages checks a message, and kept as ``pending`` (201) until a second
        operator approves it; the refusal's status with each problem at its place (nothing kept); 409 when the input
        was reviewed before, came without a known agency, or has a correction waiting already."""
        by, scope = await run_in_threadpool(operator, request, "correct_quarantine")
        q = await entry(qid, scope)
        if q is None:
            return not_found()
        body = await _object(request, '{"payload", "reason"}')
        if isinstance(body, JSONResponse):
            return body
        payload, reason = _text(body, "payload", required=True), _text(body, "reason", required=True)
        if isinstance(payload, JSONResponse):
            return payload
        if isinstance(reason, JSONResponse):
            return reason
        limit = int(request.app.state.settings.max_body_bytes)  # as POST /api/v1/messages
        try:
            done = await run_in_threadpool(lambda: qd.propose(hub, q, payload.encode("utf-8"), by=by, reason=reason,
                                                              max_bytes=limit))
        except _REFUSALS as e:
            return _refusal(e)
        return JSONResponse(plain(done), status_code=201)

    @api.get("/api/v1/quarantine/{qid}/corrections", tags=["quarantine"])
    async def list_corrections(qid: str, request: Request, reason: str | None = None) -> JSONResponse:
        """The input's corrections, newest first, each with its payload and a diff against the raw input: payloads,
        shown for a stated ``reason`` (a preset — check_failure, correct_data, supervision — or your own words;
        422 without it) and audited as ``view_payload`` with the reason and each correction shown."""
        by, scope = await run_in_threadpool(operator, request, "view_payload")
        try:
            why = payload_views.from_api(reason)
        except payload_views.ReasonRefused as e:
            return error(e.code_, e.message, e.status, problems=e.problems)
        q = await entry(qid, scope)
        if q is None:
            return not_found()
        items = await run_in_threadpool(qd.corrections_of, engine, qid, q["raw"])
        shown = [payload_views.part("correction", c["payload"], correction_id=c["id"]) for c in items]
        await run_in_threadpool(lambda: payload_views.record(
            engine, actor=by, target=f"quarantine:{qid}", reason=why, shown=shown, channel="api", code=q["code"]))
        return JSONResponse(plain({"items": items}))

    async def decide(request: Request, action: str, call: Callable[[str, str | None, dict[str, Any]], Any],
                     *, note_required: bool = False) -> JSONResponse:
        by, scope = await run_in_threadpool(operator, request, action)
        body: dict[str, Any] = {}
        if note_required or await request.body():
            given = await _object(request, '{"note"}')
            if isinstance(given, JSONResponse):
                return given
            body = given
        try:
            done = await run_in_threadpool(lambda: call(by, scope, body))
        except qd.NoSuchCorrection:
            return error("not_found", "no such correction", 404)
        except _REFUSALS as e:
            return _refusal(e)
        return JSONResponse(plain(done), status_code=202 if done.get("created") else 200)

    @api.post("/api/v1/quarantine-corrections/{cid}/approve", tags=["quarantine"])
    async def approve_correction(cid: str, request: Request) -> JSONResponse:
        """Approve another operator's correction (``{"note"}`` optional; a console session, never an API key): the
        message is stored and the input closed as resubmitted in one transaction; 202 with the new message id (200
        when the sender's document was known already)."""
        limit = int(request.app.state.settings.max_body_bytes)
        return await decide(request, "release_quarantine", lambda by, scope, body: qd.approve(
            hub, cid, by=by, note=_note(body), scope=scope, max_bytes=limit))

    @api.post("/api/v1/quarantine-corrections/{cid}/reject", tags=["quarantine"])
    async def reject_correction(cid: str, request: Request) -> JSONResponse:
        """Reject a correction: ``{"note"}`` says why; nothing is sent."""
        return await decide(request, "release_quarantine", lambda by, scope, body: qd.reject(
            engine, cid, by=by, note=_note(body), scope=scope), note_required=True)

    @api.post("/api/v1/quarantine-corrections/{cid}/withdraw", tags=["quarantine"])
    async def withdraw_correction(cid: str, request: Request) -> JSONResponse:
        """Take back one's own pending correction; only its proposer may."""
        return await decide(request, "correct_quarantine", lambda by, scope, _: qd.withdraw(
            engine, cid, by=by, scope=scope))

    # ---- discrepancies --------------------------------------------------------------------------------------

    @api.get("/api/v1/operator/discrepancies", tags=["registers and discrepancies"])
    async def list_discrepancies(request: Request, limit: int = Query(100, ge=1, le=1000),
                                 offset: int = Query(0, ge=0)) -> JSONResponse:
        """Discrepancy items, the longest known first; filters ``status`` (open — the default —, resolved, any),
        ``category``, ``agency`` (the one that must act), ``county``. An agency's operators: the items their
        agency must act on. ``{"items", "total"}``."""
        _, scope = await run_in_threadpool(operator, request, "view")
        f = qd.DiscrepancyFilter.of(dict(request.query_params))
        found = await run_in_threadpool(qd.discrepancy_list, engine, f, scope=scope, limit=limit, offset=offset)
        return JSONResponse(plain(found))

    @api.post("/api/v1/operator/discrepancies/{item_id}/resolve", tags=["registers and discrepancies"])
    async def resolve_discrepancy(item_id: str, request: Request) -> JSONResponse:
        """Close an open item by hand, body ``{"note"}`` (audited, the operator named as who resolved it)."""
        by, scope = await run_in_threadpool(operator, request, "resolve_discrepancy")
        if await run_in_threadpool(qd.discrepancy_one, engine, item_id, scope=scope) is None:
            return error("not_found", "no such discrepancy", 404)
        body = await _object(request, '{"note"}')
        if isinstance(body, JSONResponse):
            return body
        note = _text(body, "note", required=True)
        if isinstance(note, JSONResponse):
            return note
        try:
            done = await run_in_threadpool(lambda: register_items.resolve(engine, item_id, by=by, note=note.strip()))
        except register_items.AlreadyResolved as e:
            return error("already_resolved", str(e), 409)
        return JSONResponse(done)

    # ---- identity review ------------------------------------------------------------------------------------

    @api.get("/api/v1/operator/identity/reviews", tags=["identity"])
    async def list_reviews(request: Request, status: str = Query("open"), limit: int = Query(100, ge=1, le=1000),
                           offset: int = Query(0, ge=0)) -> JSONResponse:
        """Review items (``status`` open — the default —, decided, withdrawn, any), highest score first, each
        with both records and the reasons; an agency's operators: those involving its records."""
        _, scope = await run_in_threadpool(operator, request, "view")
        if status not in (*qd.IDENTITY_STATUSES, "any"):
            return error("invalid", f"status: one of {', '.join(qd.IDENTITY_STATUSES)}, any", 400, "status")
        found = await run_in_threadpool(lambda: qd.identity_list(
            engine, status=None if status == "any" else status, scope=scope, limit=limit, offset=offset))
        return JSONResponse(found)

    @api.post("/api/v1/operator/identity/reviews/{review_id}/decide", tags=["identity"])
    async def decide_review(review_id: str, request: Request) -> JSONResponse:
        """A decision on the pair, body ``{"same": true|false, "reason"}`` (audited, the operator named as who
        decided; the records are relinked at once); 409 for an item withdrawn (the records no longer look
        alike)."""
        by, scope = await run_in_threadpool(operator, request, "decide_identity")
        item = await run_in_threadpool(qd.identity_one, engine, review_id, scope=scope)
        if item is None:
            return error("not_found", "no such identity review", 404)
        body = await _object(request, '{"same": true|false, "reason"}')
        if isinstance(body, JSONResponse):
            return body
        if not isinstance(body.get("same"), bool):
            return error("invalid", "same: required, true (the same person) or false (not the same person)", 422,
                         "same")
        reason = _text(body, "reason", required=True)
        if isinstance(reason, JSONResponse):
            return reason
        if item["status"] == "withdrawn":
            return error("withdrawn", "the records no longer look alike; there is nothing to decide", 409,
                         problems=[Problem("the review item was withdrawn")])
        outcome = await run_in_threadpool(lambda: identity_store.decide(
            engine, item["a"]["id"], item["b"]["id"], same=body["same"], by=by, reason=reason.strip()))
        after = await run_in_threadpool(qd.identity_one, engine, review_id, scope=None)
        return JSONResponse({"decision": outcome, "review": after})

    return api
