"""Making a joint-meeting report: the area (a county, or a city and every county of it in the registry), the
period, the rows (``hub.report.data.load``), the figures (``hub.report.figures.joint_meeting``), and the output in
the format asked for."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import re
from collections.abc import Callable

from sqlalchemy import Engine

from hub import casework
from hub.core.model import Directory, OrganType
from hub.report import data as report_data
from hub.report import figures
from hub.report.model import Figure, Report

FORMATS = {"pdf": "application/pdf", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
           "html": "text/html; charset=utf-8", "json": "application/json"}
_DIVISION = re.compile(r"^\d{6}$")


class ReportRequestError(ValueError):
    """What was asked cannot be reported: ``field`` names the parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def area(directory: Directory, division: str) -> tuple[str, list[tuple[str, str]]]:
    """The area's name and its counties (code, name): a county is itself; a city (…00) is every county of the
    registry whose code starts with the city's four digits. ReportRequestError for a code the registry lacks."""
    if not _DIVISION.match(division or ""):
        raise ReportRequestError("division", f"a 6-digit administrative division code, not {division!r}")
    names = area_names(directory)
    if division.endswith("00"):
        counties = sorted((d, n) for d, n in names.items() if d[:4] == division[:4] and not d.endswith("00"))
        if not counties:
            raise ReportRequestError("division", f"no county of {division} in the registry")
        return names.get(division, division), [(d, _short(n, names.get(division, ""))) for d, n in counties]
    if division not in names:
        raise ReportRequestError("division", f"{division} is not a county of the registry")
    city = names.get(division[:4] + "00", "")
    name = names[division]
    full = name if not city or city.isdigit() or name.startswith(city) or name.isdigit() else city + name
    return full, [(division, _short(name, city))]


def area_names(directory: Directory) -> dict[str, str]:
    """Each division's name, from the name of an agency of it (保山市隆阳区司法局 → 保山市隆阳区), its bureau's first;
    the division's code when no agency's name ends in an organ's title."""
    out: dict[str, str] = {}
    local = (a for a in directory.agencies.values() if a.organ_type not in (OrganType.PRISON, OrganType.DETENTION))
    for a in sorted(local, key=lambda a: a.organ_type is not OrganType.BUREAU):  # prisons serve a province
        named = _ORGAN_TITLE.sub("", a.name)
        if not out.get(a.division) and named != a.name and named:
            out[a.division] = named
        out.setdefault(a.division, "")
    return {d: n or d for d, n in out.items()}


_ORGAN_TITLE = re.compile(r"(司法局|中级人民法院|人民法院|人民检察院|公安局)$")


def _short(name: str, city: str) -> str:
    return name[len(city):] if city and name.startswith(city) and len(name) > len(city) else name


EARLIEST, LATEST = dt.date(1990, 1, 1), dt.date(2100, 12, 31)  # the days a report may speak of


def check_day(day: dt.date, field: str) -> dt.date:
    if not EARLIEST <= day <= LATEST:
        raise ReportRequestError(field, f"{day} is outside {EARLIEST} – {LATEST}")
    return day


def period_of(start: dt.date, end: dt.date) -> figures.Period:
    check_day(start, "from")
    check_day(end, "to")
    if end < start:
        raise ReportRequestError("to", f"the period ends ({end}) before it starts ({start})")
    if (end - start).days > 3660:
        raise ReportRequestError("to", "a period of at most ten years")
    return figures.Period(start, end)


def agency_namer(directory: Directory) -> Callable[[str], str]:
    def name(code: str) -> str:
        a = directory.agencies.get(code)
        return f"{a.name}（{code}）" if a is not None else code
    return name


def joint_meeting(engine: Engine, directory: Directory, *, division: str, period_from: dt.date, period_to: dt.date,
                  today: dt.date, now: dt.datetime) -> Report:
    """The joint-meeting report of ``division`` over the period, with persons at risk as of ``today``."""
    name, counties = area(directory, division)
    period = period_of(period_from, period_to)
    check_day(today, "today")
    collecting = gc.isenabled()
    gc.disable()  # hundreds of thousands of small rows: the cyclic collector would walk them again and again
    try:
        rows = report_data.load(engine, [c for c, _ in counties], since=period.before().start, upto=period.end)
        report = figures.joint_meeting(rows, division=division, area_name=name, counties_covered=counties,
                                       period=period, today=today, generated_at=now,
                                       agency_name=agency_namer(directory))
    finally:
        if collecting:
            gc.enable()
    if not casework.ready(engine):
        note = ("案件台账正在按已存电文重建，尚未完成：本报告的数字可能偏少，请在重建完成后重新生成"
                "（xianjie ledger status 可查看进度）。")
        report = dataclasses.replace(report, notes=(*report.notes, note))
    return report


def render(report: Report, fmt: str, *, figure_link: Callable[[Figure], str | None] | None = None) -> bytes:
    """The report in ``fmt`` (pdf, xlsx, html, json)."""
    if fmt == "pdf":
        from hub.report.render_pdf import pdf
        return pdf(report)
    if fmt == "xlsx":
        from hub.report.render_xlsx import xlsx
        return xlsx(report)
    if fmt == "html":
        from hub.report.render_html import html
        return html(report, figure_link=figure_link, for_print=True).encode("utf-8")
    if fmt == "json":
        import json

        from hub.report.render_json import as_json
        return json.dumps(as_json(report), ensure_ascii=False, indent=1).encode("utf-8")
    raise ReportRequestError("format", f"one of {', '.join(FORMATS)}, not {fmt!r}")


def filename(report: Report, fmt: str) -> str:
    return f"联席会议对账报告-{report.division}-{report.period_from:%Y%m%d}-{report.period_to:%Y%m%d}.{fmt}"
