"""API of the deadline rules and the working-day calendar: every agency may read them; only the hub's own
operators (organ type HUB) change them, each change with who and why, audited."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from hub import rulebook
from hub.api.common import error, plain
from hub.api.guard import caller
from hub.core.calendar import CalendarMissing, parse_calendar_year
from hub.core.facts import legal_day
from hub.core.model import Agency
from hub.core.rules import Rule, Unit
from hub.store.db import utcnow


def _plain(value: Any) -> Any:
    if isinstance(value, Rule):
        return _plain(dataclasses.asdict(value) | {"unit": value.unit.value})
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return plain(value)


def _date(text: str | None, name: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name}: not a date (YYYY-MM-DD): {text!r}") from None


def router(engine: Engine, who: Callable[[Request], Agency]) -> APIRouter:
    """The /api/v1/rules and /api/v1/calendar endpoints."""
    api = APIRouter(tags=["rules and calendar"])  # every agency reads; the hub's key changes (hub.authz_routes)

    @api.get("/api/v1/rules")
    async def list_rules(request: Request, division: str = Query(""), on: str | None = None) -> JSONResponse:
        """The rule in force for each step, for a county (its own rows first) on a day (default: the legal day of
        the deadline clock's time)."""
        try:
            day = _date(on, "on") or legal_day(getattr(request.app.state, "clock", utcnow)())
        except ValueError as e:
            return error("invalid", str(e), 400, "on")
        book = await run_in_threadpool(rulebook.rules_in_force, engine)
        shown = []
        for rule_id in dict.fromkeys(r.id for r in book.rows() if r.scope == ""):
            try:
                shown.append(book.rule(rule_id, division=division, on=day))
            except (KeyError, ValueError):
                continue
        return JSONResponse({"division": division, "on": day.isoformat(), "rules": _plain(shown)})

    @api.get("/api/v1/rules/{rule_id}")
    async def rule_rows(rule_id: str, request: Request) -> JSONResponse:
        """Every row of one rule (all scopes and periods) and every change made to it."""
        book = await run_in_threadpool(rulebook.rules_in_force, engine)
        rows = [r for r in book.rows() if r.id == rule_id]
        if not rows:
            return error("not_found", f"no rule {rule_id!r}", 404)
        history = await run_in_threadpool(rulebook.rule_history, engine, rule_id)
        return JSONResponse(_plain({"rule_id": rule_id, "rows": rows, "changes": history}))

    @api.post("/api/v1/rules/{rule_id}")
    async def change_rule(rule_id: str, request: Request) -> JSONResponse:
        """A new period for a rule from a date, nationally or for a province ("53") or county ("530521").

        Body: {"scope", "effective_from", "effective_to"?, "amount"?, "unit"?, "due_soon_days"?, "by",
        "reason"}; the other fields come from the row in force on that day."""
        agency = caller(request)
        body = await request.json()
        if not isinstance(body, dict):
            return error("invalid", "the body must be a JSON object", 400)
        try:
            start = _date(body.get("effective_from"), "effective_from")
            if start is None:
                raise ValueError("effective_from is required")
            scope = str(body.get("scope", ""))
            book = await run_in_threadpool(rulebook.rules_in_force, engine)
            base = book.rule(rule_id, division=scope if len(scope) == 6 else "", on=start)
            unit = Unit(body["unit"]) if "unit" in body else base.unit
            rule = dataclasses.replace(
                base, scope=scope, effective_from=start, effective_to=_date(body.get("effective_to"), "effective_to"),
                unit=unit, amount=0 if unit is Unit.IMMEDIATELY else int(body.get("amount", base.amount)),
                due_soon_days=int(body.get("due_soon_days", base.due_soon_days)))
            actor = f"{agency.code}:{body.get('by', '')}" if body.get("by") else ""
            await run_in_threadpool(lambda: rulebook.change_rule(engine, rule, actor=actor,
                                                                 reason=str(body.get("reason", ""))))
        except KeyError:
            return error("not_found", f"no rule {rule_id!r} in force then", 404)
        except (ValueError, TypeError) as e:
            return error("invalid", str(e), 422)
        return JSONResponse(_plain({"rule": rule}), status_code=201)

    @api.get("/api/v1/calendar/{year}")
    async def calendar_year(year: int, request: Request) -> JSONResponse:
        """A year's days off and make-up working days, each named; 404 when the year has no calendar."""
        cal = await run_in_threadpool(rulebook.calendar_in_force, engine)
        if year not in cal.years:
            return error("calendar_missing", str(CalendarMissing(year)), 404)
        days = sorted(d for d in cal.holidays | cal.workdays if d.year == year)
        return JSONResponse({"year": year, "days": [
            {"date": d.isoformat(), "kind": "workday" if d in cal.workdays else "holiday", "name": cal.describe(d)}
            for d in days]})

    @api.put("/api/v1/calendar/{year}")
    async def load_calendar(year: int, request: Request, by: str = Query("")) -> JSONResponse:
        """Load a year's schedule (the TOML format of docs/deadlines.md), replacing any loaded before; ``by``
        names the operator (audited)."""
        agency = caller(request)
        text = (await request.body()).decode("utf-8-sig", errors="replace")
        try:
            if parse_calendar_year(text).year != year:
                raise ValueError(f"the file is for {parse_calendar_year(text).year}, not {year}")
            loaded = await run_in_threadpool(lambda: rulebook.load_calendar_year(
                engine, text, actor=f"{agency.code}:{by}" if by else ""))
        except ValueError as e:
            return error("invalid", str(e), 422)
        return JSONResponse({"year": loaded.year, "holidays": len(loaded.holidays),
                             "workdays": len(loaded.workdays)}, status_code=201)

    return api
