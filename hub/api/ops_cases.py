"""Operators' actions through the API: notes on obligations, and waivers and pursuit decisions made with a console
session (the console's pages call the same functions, ``hub.console.cases_data``).

``GET``/``POST /api/v1/obligations/{id}/notes`` take the hub's API key or a console session. ``POST
/api/v1/obligations/{id}/waive`` and ``POST /api/v1/pursuit-drafts/{id}/confirm|dismiss`` are the case ledger's
and the alarms' own endpoints (``hub.api.cases``, ``hub.api.alarms``): with an agency's API key they answer as
they always have; a request without a key that carries a console session (held by ``hub.api.guard`` to the
session's role and CSRF token) is handed to ``waive_by_session`` and ``decide_by_session`` here, which hold it to
the session's agency and name the operator in the audit log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hub import casework, pursuits
from hub.api.common import error, plain
from hub.api.guard import caller
from hub.console import cases_data
from hub.core.facts import legal_day
from hub.errors import Forbidden
from hub.service import Hub
from hub.store.db import utcnow

Check = Callable[[Request, str], tuple[str, str | None]]


async def _body(request: Request, fields: str) -> dict[str, Any] | JSONResponse:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return error("invalid", f"the body must be a JSON object {fields}", 400)
    return body


def _text(body: dict[str, Any], name: str) -> str | JSONResponse:
    value = body.get(name, "")
    if not isinstance(value, str):
        return error("invalid", f"{name}: must be text", 422, name)
    return value


def _clock(request: Request) -> dt.datetime:
    clock: Callable[[], dt.datetime] = getattr(request.app.state, "clock", utcnow)
    return clock()


def router(hub: Hub, operator: Check) -> APIRouter:
    """``operator(request, action)`` gives who acts and the agency they are limited to, or raises."""
    api = APIRouter(tags=["operators"])

    @api.get("/api/v1/obligations/{obligation_id}/notes")
    async def notes(obligation_id: str, request: Request) -> JSONResponse:
        """What operators recorded about an obligation, in the order recorded: ``{"obligation_id", "items"}``."""
        _, scope = operator(request, "view")
        found = await run_in_threadpool(lambda: cases_data.notes_in_scope(hub.engine, obligation_id, scope=scope))
        if found is None:
            return error("not_found", f"no obligation {obligation_id}", 404)
        return JSONResponse(plain({"obligation_id": obligation_id, "items": found}))

    @api.post("/api/v1/obligations/{obligation_id}/notes")
    async def add_note(obligation_id: str, request: Request) -> JSONResponse:
        """Record what happened about an obligation: ``{"note"}``. 201 with the note; 404 unknown (or another
        agency's), 422 empty or longer than 2,000 characters. Audited (``obligation_note``)."""
        by, scope = operator(request, "record_outcome")
        body = await _body(request, '{"note"}')
        if isinstance(body, JSONResponse):
            return body
        note = _text(body, "note")
        if isinstance(note, JSONResponse):
            return note
        try:
            done = await run_in_threadpool(lambda: cases_data.add_note(hub.engine, obligation_id, note=note, by=by,
                                                                       scope=scope))
        except LookupError as e:
            return error("not_found", str(e), 404)
        except ValueError as e:
            return error("invalid", str(e), 422, "note")
        return JSONResponse(plain(done), status_code=201)

    return api


async def waive_by_session(hub: Hub, operator: Check, obligation_id: str, request: Request) -> JSONResponse:
    """``POST /api/v1/obligations/{id}/waive`` with a console session: ``{"reason"}`` (the session names who).
    200 with the obligation; 403 a role that may not waive or no CSRF token; 404 unknown or another agency's;
    409 already met or waived, or the ledger is being rebuilt; 422 without a reason."""
    by, scope = operator(request, "waive")
    body = await _body(request, '{"reason"}')
    if isinstance(body, JSONResponse):
        return body
    reason = _text(body, "reason")
    if isinstance(reason, JSONResponse):
        return reason
    day = legal_day(_clock(request))
    try:
        done = await run_in_threadpool(lambda: cases_data.waive(hub.engine, obligation_id, reason=reason, by=by,
                                                                scope=scope, today=day))
    except (casework.ObligationClosed, casework.LedgerRebuilding) as e:
        return error("conflict", str(e), 409)
    except LookupError as e:
        return error("not_found", str(e), 404)
    except ValueError as e:
        return error("invalid", str(e), 422, str(e).split(":", 1)[0])
    return JSONResponse(plain(done))


async def decide_by_session(hub: Hub, operator: Check, draft_id: str, request: Request,
                            action: str) -> JSONResponse:
    """``POST /api/v1/pursuit-drafts/{id}/confirm`` (no body needed) or ``…/dismiss`` (``{"reason"}``) with a
    console session. 200 with the draft; 403 a role that may not decide or no CSRF token; 404 unknown or another
    bureau's; 409 already decided or withdrawn, or its obligation closed meanwhile; 422 dismissed without a
    reason."""
    by, scope = operator(request, "confirm_pursuit")
    operator_agency = caller(request).code  # the session's agency, as the guard identified it
    reason = ""
    if action == "dismiss":
        body = await _body(request, '{"reason"}')
        if isinstance(body, JSONResponse):
            return body
        text = _text(body, "reason")
        if isinstance(text, JSONResponse):
            return text
        reason = text
    now = _clock(request)

    def run() -> dict[str, Any]:
        agency = cases_data.acting_agency(hub.directory, operator_agency=operator_agency, scope=scope)
        if action == "confirm":
            return cases_data.confirm_draft(hub, draft_id, by=by, agency=agency, scope=scope, now=now)
        return cases_data.dismiss_draft(hub, draft_id, by=by, reason=reason, agency=agency, scope=scope)

    return await decided(run)


async def decided(run: Callable[[], dict[str, Any]]) -> JSONResponse:
    """A decision on a pursuit draft as the API answers it, whoever decides: 200 with the draft; 404 unknown or
    another bureau's; 403 not theirs to decide; 409 decided, withdrawn or its obligation closed; 422 invalid."""
    try:
        item = await run_in_threadpool(run)
    except LookupError as e:
        return error("not_found", str(e), 404)
    except Forbidden as e:
        return error("forbidden", str(e), 403)
    except pursuits.DraftClosed as e:
        return error("conflict", str(e), 409)
    except ValueError as e:
        return invalid(e)
    return JSONResponse(plain(item))


def invalid(e: ValueError) -> JSONResponse:
    """422 naming the field a ValueError's message begins with (``field: why``)."""
    field = str(e).split(":")[0]
    return error("invalid", str(e), 422, field if field.isidentifier() else None)
