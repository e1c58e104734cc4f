"""API of the joint-meeting report: the report of a county or a city for a period, in PDF, XLSX, HTML or JSON, and
the persons and messages behind any one of its figures.

Who may read it (``may_read``, also the console's rule): the hub's operators, auditors and administrators; and the
agencies of the area it covers — for a county, the county's own court, procuratorate, police and bureau and the
city's agencies above them; for a city, the city's agencies. Each report made and each drill-down is audited
(``report_joint_meeting``, ``report_figure``): they list identifiable persons."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from hub import audit as audit_log_entry
from hub import authz
from hub.api.common import error, plain
from hub.api.guard import caller
from hub.core.facts import legal_day
from hub.core.model import Agency, Directory
from hub.report import build
from hub.report.model import Report
from hub.report.render_json import figure_json
from hub.service import Hub
from hub.store.db import utcnow


def may_read(directory: Directory, reader: str | None, division: str) -> bool:
    """Whether ``reader`` (an agency code; None for those who see every agency) may read the report of
    ``division``: an agency of the area (the county, or any county of the city), or of the city above it
    (``hub.authz.ACCESS["report"]``, ``hub.authz.in_area``)."""
    if reader is None:
        return True
    agency = directory.agencies.get(reader)
    if agency is None:
        return False
    return authz.decide(authz.Principal(reader, agency.organ_type), "report",
                        authz.in_area(directory, reader, division)).allowed


def audit(hub: Hub | Engine, *, actor: str, action: str, target: str, detail: dict[str, object]) -> None:
    """An audit entry for a report made or a figure opened (they list identifiable persons)."""
    engine = hub.engine if isinstance(hub, Hub) else hub
    with engine.begin() as conn:
        audit_log_entry.record(conn, at=utcnow(), actor=actor, action=action, target=target, detail=detail)


def download_headers(report: Report, fmt: str) -> dict[str, str]:
    name = build.filename(report, fmt)
    how = "inline" if fmt in ("html", "json") else "attachment"
    return {"Content-Disposition": f"{how}; filename=\"joint-meeting.{fmt}\"; filename*=UTF-8''{quote(name)}"}


def report_day(text: str | None, field: str) -> dt.date:
    """A day given as YYYY-MM-DD, or ReportRequestError naming ``field``."""
    if not text:
        raise build.ReportRequestError(field, "required, a date YYYY-MM-DD")
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise build.ReportRequestError(field, f"not a date (YYYY-MM-DD): {text!r}") from None
    return build.check_day(day, field)


def router(hub: Hub, who: Callable[[Request], Agency]) -> APIRouter:
    """GET /api/v1/reports/joint-meeting and GET /api/v1/reports/joint-meeting/figures/{figure_id}."""
    api = APIRouter(tags=["reports"])

    async def made(request: Request, division: str | None, date_from: str | None, date_to: str | None,
                   today: str | None) -> tuple[str, Report] | JSONResponse:
        asks = caller(request)  # an agency's key, or a console session (who reads as the audit log names them)
        by, agency = asks.actor, asks.scope
        clock: Callable[[], dt.datetime] = getattr(request.app.state, "clock", utcnow)
        now = clock()
        try:
            start, end = report_day(date_from, "from"), report_day(date_to, "to")
            day = report_day(today, "today") if today else legal_day(now)
            build.area(hub.directory, division or "")  # a division that does not fit is named before the reader
            allowed = authz.decide(asks, "report", authz.in_area(hub.directory, asks.code, division or ""))
            if not allowed:
                return error("forbidden", f"{agency} does not take part in the joint meeting of {division} "
                             f"({allowed.reason})", 403, "division")
            report = await run_in_threadpool(lambda: build.joint_meeting(
                hub.engine, hub.directory, division=division or "", period_from=start, period_to=end, today=day,
                now=now))
        except build.ReportRequestError as e:
            return error("invalid", str(e), 422, e.field)
        return by, report

    @api.get("/api/v1/reports/joint-meeting")
    async def joint_meeting(request: Request, division: str | None = None, format: str = "json",
                            today: str | None = None) -> Response:
        """The joint-meeting report of ``division`` (a county, or a city: its counties summed and each shown) from
        ``from`` to ``to`` (query parameters, YYYY-MM-DD), persons at risk as of ``today`` (default: the legal
        day of the hub's clock), as ``format`` pdf, xlsx, html or json. 422 naming a parameter that does not fit;
        403 for an agency outside the area."""
        if format not in build.FORMATS:
            return error("invalid", f"format: one of {', '.join(build.FORMATS)}, not {format!r}", 422, "format")
        got = await made(request, division, request.query_params.get("from"), request.query_params.get("to"), today)
        if isinstance(got, JSONResponse):
            return got
        by, report = got
        body = await run_in_threadpool(build.render, report, format)
        await run_in_threadpool(lambda: audit(hub, actor=by, action="report_joint_meeting",
                                              target=f"report:{report.division}", detail={
                                                  "from": report.period_from, "to": report.period_to,
                                                  "today": report.today, "format": format}))
        return Response(body, media_type=build.FORMATS[format], headers=download_headers(report, format))

    @api.get("/api/v1/reports/joint-meeting/figures/{figure_id}")
    async def figure(figure_id: str, request: Request, division: str | None = None,
                     today: str | None = None) -> JSONResponse:
        """The persons and messages behind one figure of the same report (its ``id`` as the report gives it):
        ``{"id", "label", "value", "unit", "members": [...]}``; 404 for an id the report does not have."""
        got = await made(request, division, request.query_params.get("from"), request.query_params.get("to"), today)
        if isinstance(got, JSONResponse):
            return got
        by, report = got
        found = report.figure(figure_id)
        if found is None:
            return error("not_found", f"the report has no figure {figure_id!r}", 404, "figure_id")
        await run_in_threadpool(lambda: audit(hub, actor=by, action="report_figure",
                                              target=f"report:{report.division}", detail={
                                                  "figure": figure_id, "from": report.period_from,
                                                  "to": report.period_to}))
        return JSONResponse(plain(figure_json(found)))

    return api
