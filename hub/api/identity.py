"""API of identity: the review queue of possible matches, reviewers' decisions, and a person's records across
agencies. The hub's operators (organ type HUB) see and decide everything; a bureau sees the review items that
involve its own records; an agency sees a person's linked records when it holds one of them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hub import authz, identity_store
from hub.api.common import error
from hub.api.guard import caller
from hub.core.model import Agency
from hub.service import Hub

STATUSES = ("open", "decided", "withdrawn", "all")


def _decision(body: Any) -> tuple[bool, str, str]:
    """``same``, ``by`` and ``reason`` of a decision body; ValueError naming the field that is wrong."""
    if not isinstance(body, dict):
        raise ValueError('the body must be a JSON object {"same": true|false, "by": ..., "reason": ...}', None)
    if not isinstance(body.get("same"), bool):
        raise ValueError("same: required, true (the same person) or false (not the same person)", "same")
    for field in ("by", "reason"):
        if not isinstance(body.get(field), str) or not body[field].strip():
            raise ValueError(f"{field}: required, a non-empty string", field)
    return body["same"], body["by"].strip(), body["reason"].strip()


def router(hub: Hub, who: Callable[[Request], Agency]) -> APIRouter:
    """The /api/v1/identity/reviews and /api/v1/persons/{ref}/records endpoints."""
    api = APIRouter(tags=["identity"])
    engine = hub.engine

    @api.get("/api/v1/identity/reviews")
    async def list_reviews(request: Request, status: str = Query("open"), limit: int = Query(100, ge=1, le=1000),
                           offset: int = Query(0, ge=0)) -> JSONResponse:
        """Possible matches waiting for a reviewer (or decided, withdrawn, all), highest score first, each pair
        with both records and the reasons in Chinese and English."""
        if status not in STATUSES:
            return error("invalid", f"status: one of {', '.join(STATUSES)}, not {status!r}", 400, "status")
        own = caller(request).scope  # a bureau's own records' items (hub.authz.ACCESS["identity_reviews"])
        items = await run_in_threadpool(lambda: identity_store.reviews(
            engine, status=None if status == "all" else status, agency=own, limit=limit, offset=offset))
        return JSONResponse({"status": status, "reviews": items})

    @api.post("/api/v1/identity/reviews/{review_id}/decide")
    async def decide(review_id: str, request: Request) -> JSONResponse:
        """A reviewer's decision on the pair: {"same": true|false, "by": "<name>", "reason": "<why>"}; kept for
        ever (a later decision supersedes it), audited; the records are relinked at once."""
        agency = caller(request)  # the hub's key only (hub.authz.ACCESS["identity_decision"])
        try:
            body = await request.json()
        except ValueError:
            return error("invalid", "the body is not JSON", 400)
        try:
            same, by, reason = _decision(body)
        except ValueError as e:
            return error("invalid", e.args[0], 422, e.args[1])
        found = await run_in_threadpool(lambda: identity_store.reviews(engine, status=None, review_id=review_id))
        if not found:
            return error("not_found", f"no identity review {review_id!r}", 404)
        item = found[0]
        outcome = await run_in_threadpool(lambda: identity_store.decide(
            engine, item["a"]["id"], item["b"]["id"], same=same, by=f"{agency.code}:{by}", reason=reason))
        after = await run_in_threadpool(lambda: identity_store.reviews(engine, status=None, review_id=review_id))
        return JSONResponse({"decision": outcome, "review": after[0]})

    @api.get("/api/v1/persons/{ref:path}/records")
    async def person_records(ref: str, request: Request) -> JSONResponse:
        """Every agency's record of the person behind ``ref`` (a resident ID number, a ``ref|<person reference>``
        key, ``<agency>:<record id>``, or a person id), linked across agencies, with how each was linked."""
        asks = caller(request)
        persons = await run_in_threadpool(identity_store.person_of, engine, ref)
        persons = [p for p in persons if authz.decide(asks, "person_records", [authz.Rel.OWNER] if any(
            r["agency"] == asks.code for r in p["records"]) else [])]
        if not persons:
            return error("not_found", f"no person {ref!r} for this agency", 404)
        return JSONResponse({"ref": ref, "persons": persons})

    return api
