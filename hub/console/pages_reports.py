"""The console's joint-meeting report (联席会议对账报告): choose the area and the period, read the report in the
browser with every figure a link to the persons behind it, download it as PDF, XLSX, HTML or JSON. Who may read it
is the API's rule (``hub.api.reports.may_read``); each report made and each figure opened is audited."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import escape
from sqlalchemy import Engine, select
from starlette.concurrency import run_in_threadpool

from hub.api.reports import audit, download_headers, may_read, report_day
from hub.console import cases_data
from hub.console.i18n import translate
from hub.console.session import actor
from hub.console.ui import Console
from hub.core.facts import legal_day
from hub.core.idnumber import masked_id_number
from hub.operators import Session
from hub.report import build
from hub.report.model import Figure, Report
from hub.report.render_html import html, report_css
from hub.store.ledger_schema import cases

WORDS: dict[str, tuple[str, str]] = {
    "nav.reports": ("联席会议报告", "Joint-meeting report"),
    "rep.title": ("联席会议对账报告", "Joint-meeting reconciliation report"),
    "rep.intro": ("选择县（市、区）或全市及统计期间。报告中每个数字都可展开为其所含人员和电文。",
                  "Choose a county or the whole city and the period. Every number of the report opens the list of "
                  "the persons and messages behind it."),
    "rep.division": ("地区", "Area"), "rep.from": ("起始日期", "From"), "rep.to": ("截止日期", "To"),
    "rep.today": ("风险人员计算日", "At risk as of"), "rep.view": ("在线查看", "View"),
    "rep.download": ("下载", "Download"), "rep.formats": ("下载格式", "Download as"),
    "rep.none": ("您所在机关不参加任何地区的联席会议。", "Your agency takes part in no area's joint meeting."),
    "rep.invalid": ("请求有误：", "The request does not fit: "),
    "rep.figure": ("数字明细", "Behind the figure"), "rep.value": ("数值", "Value"),
    "rep.back": ("返回报告", "Back to the report"), "rep.members": ("涉及人员与电文", "Persons and messages"),
    "rep.name": ("姓名", "Name"), "rep.id_number": ("身份证号", "ID number"), "rep.case": ("案件", "Case"),
    "rep.agency": ("机关", "Agency"), "rep.on": ("日期", "Day"), "rep.note": ("说明", "Note"),
    "rep.messages": ("电文", "Messages"), "rep.imported": ("历史导入", "imported"),
    "rep.no_members": ("该数字没有对应的人员。", "No person is behind this figure."),
    "rep.city": ("全市", "the whole city"),
}


def default_period(today: dt.date) -> tuple[dt.date, dt.date]:
    """The last half year that has ended: January–June, or July–December of the year before."""
    if today.month > 6:
        return dt.date(today.year, 1, 1), dt.date(today.year, 6, 30)
    return dt.date(today.year - 1, 7, 1), dt.date(today.year - 1, 12, 31)


def register(api: APIRouter, ui: Console) -> None:
    """Add the report's pages to the console."""

    def areas(scope: str | None) -> list[tuple[str, str]]:
        names = build.area_names(ui.directory)
        cities = sorted(d for d in names if d.endswith("00"))
        out: list[tuple[str, str]] = []
        for city in cities:
            counties = sorted(d for d in names if d[:4] == city[:4] and d != city)
            for code in (city, *counties):
                if may_read(ui.directory, scope, code):
                    out.append((code, names[code] + ("（全市）" if code == city else "")))
        return out

    def asked(request: Request) -> dict[str, str]:
        q = request.query_params
        return {k: q.get(k, "") for k in ("division", "from", "to", "today")}

    async def made(request: Request, session: Session) -> Report | Response:
        """The report the query asks for, or the form again saying what does not fit (or a refusal)."""
        p = asked(request)
        now = ui.clock()
        try:
            start = report_day(p["from"], "from")
            end = report_day(p["to"], "to")
            today = report_day(p["today"], "today") if p["today"] else legal_day(now)
            build.area(ui.directory, p["division"])
            if not may_read(ui.directory, ui.scope(session), p["division"]):
                return ui.refused(request, session, "err.forbidden", 403)
            return await run_in_threadpool(lambda: build.joint_meeting(
                ui.engine, ui.directory, division=p["division"], period_from=start, period_to=end, today=today,
                now=now))
        except build.ReportRequestError as e:
            return await form(request, session, status=422, problem=str(e))

    async def form(request: Request, session: Session, *, status: int = 200, problem: str = "") -> Response:
        today = legal_day(ui.clock())
        start, end = default_period(today)
        p = asked(request)
        choices = areas(ui.scope(session))
        return ui.page(request, session, "reports.html", status=status, choices=choices, problem=problem,
                       division=p["division"] or (choices[0][0] if choices else ""),
                       date_from=p["from"] or start.isoformat(), date_to=p["to"] or end.isoformat(),
                       today=p["today"], formats=tuple(build.FORMATS))

    @api.get("/reports", response_class=HTMLResponse)
    async def reports(request: Request) -> Response:
        session = await ui.gate(request, "view")
        if not isinstance(session, Session):
            return session
        return await form(request, session)

    @api.get("/reports/report.css")
    async def stylesheet() -> Response:
        return Response(report_css(), media_type="text/css; charset=utf-8")

    @api.get("/reports/view", response_class=HTMLResponse)
    async def view(request: Request) -> Response:
        session = await ui.gate(request, "view")
        if not isinstance(session, Session):
            return session
        report = await made(request, session)
        if not isinstance(report, Report):
            return report
        query = {k: v for k, v in asked(request).items() if v} | {"today": report.today.isoformat()}

        def link(figure: Figure) -> str | None:
            return "/console/reports/figure?" + urlencode(query | {"id": figure.id}) if figure.members else None

        page = await run_in_threadpool(lambda: html(report, figure_link=link, stylesheet="/console/reports/report.css"))
        await run_in_threadpool(lambda: audit(ui.hub, actor=actor(session), action="report_joint_meeting",
                                              target=f"report:{report.division}", detail={
                                                  "from": report.period_from, "to": report.period_to,
                                                  "format": "console"}))
        back = (f'<nav class="console-back"><a href="/console/reports?{urlencode(query)}">← '
                f'{escape(translate(session.lang, "rep.title"))}</a> · ' + " · ".join(
                    f'<a href="/console/reports/download?{urlencode(query | {"format": f})}">{f.upper()}</a>'
                    for f in build.FORMATS) + "</nav>")
        return HTMLResponse(re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + back, page, count=1))

    @api.get("/reports/download")
    async def download(request: Request, format: str = "pdf") -> Response:
        session = await ui.gate(request, "view")
        if not isinstance(session, Session):
            return session
        if format not in build.FORMATS:
            return await form(request, session, status=422, problem=f"format: {format}")
        report = await made(request, session)
        if not isinstance(report, Report):
            return report
        body = await run_in_threadpool(build.render, report, format)
        await run_in_threadpool(lambda: audit(ui.hub, actor=actor(session), action="report_joint_meeting",
                                              target=f"report:{report.division}", detail={
                                                  "from": report.period_from, "to": report.period_to,
                                                  "format": format}))
        return Response(body, media_type=build.FORMATS[format], headers=download_headers(report, format))

    @api.get("/reports/figure", response_class=HTMLResponse)
    async def figure(request: Request, id: str = "") -> Response:
        session = await ui.gate(request, "view")
        if not isinstance(session, Session):
            return session
        report = await made(request, session)
        if not isinstance(report, Report):
            return report
        found = report.figure(id)
        if found is None:
            return ui.refused(request, session, "err.not_found", 404)
        await run_in_threadpool(lambda: audit(ui.hub, actor=actor(session), action="report_figure",
                                              target=f"report:{report.division}", detail={
                                                  "figure": id, "from": report.period_from,
                                                  "to": report.period_to}))
        query = {k: v for k, v in asked(request).items() if v}
        numbers = await run_in_threadpool(_case_numbers, ui.engine, {m.case_key for m in found.members})
        return ui.page(request, session, "reports_figure.html", report=report, figure=found,
                       back="/console/reports/view?" + urlencode(query), members=_members(found, numbers))


def _case_numbers(engine: Engine, keys: set[str | None]) -> dict[str, str]:
    """The case number of each of these ledger cases (by case key)."""
    out: dict[str, str] = {}
    with engine.connect() as conn:
        for part in cases_data._chunks(k for k in keys if k):
            out |= {str(k): str(n) for k, n in conn.execute(select(cases.c.case_key, cases.c.case_number).where(
                cases.c.case_key.in_(part)))}
    return out


def _members(figure: Figure, case_numbers: dict[str, str]) -> list[dict[str, Any]]:
    # the ID number masked as the printed report shows it; the person's own page is where it is whole, linked by
    # the case number (so that the address carries no ID number), by the person key when there is none
    return [{"person_key": m.person_key, "name": m.name, "id_number": masked_id_number(m.id_number),
             "ref": case_numbers.get(m.case_key or "") or m.person_key, "case": m.case_key or "",
             "agency": m.agency or "", "on": m.on, "note": m.note, "imported": m.imported,
             "messages": m.message_ids} for m in figure.members]
