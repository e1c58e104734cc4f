"""The joint-meeting report as values: what every renderer (HTML, PDF, XLSX, JSON) and every drill-down reads.

A report is sections of tables. A table's cells are text or **figures**; a figure is a number with the persons
and messages behind it (its ``members``), so that any number on any page can be expanded to the list it counts.
Every figure has an ``id`` that is stable for the same report (``overview.received_total``,
``timeliness.report.530581SF.on_time`` …): the drill-down API and the console link to it by that id.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

Value = int | float | None  # None: nothing to measure (a rate with no obligation due, a median of nothing)


@dataclass(frozen=True)
class Member:
    """One person behind a figure: who, which case, which messages, and (for a delay) what it was."""

    person_key: str
    name: str
    id_number: str | None
    case_key: str | None = None
    agency: str | None = None  # the agency the figure counts them under, when it counts by agency
    message_ids: tuple[str, ...] = ()
    on: dt.date | None = None  # the day that put them in the figure (received, released, due …)
    note: str = ""  # e.g. "迟延 3 日", "送达法律文书 · 530502FY → 530581SF"
    imported: bool = False  # from a historical register, not from the hub's messages


@dataclass(frozen=True)
class Figure:
    """A number in the report and everyone behind it. ``value`` is usually ``len`` of the distinct persons among
    ``members``; a rate or a delay says its own ``unit`` (``%``, ``日``) and lists the members it was taken over."""

    id: str
    label: str
    value: Value
    unit: str = "人"  # 人 | 件 | 条 | % | 日
    members: tuple[Member, ...] = ()
    imported: int = 0  # how many of the value came from historical registers

    def as_text(self) -> str:
        """The value as printed: ``—`` for nothing to measure, one decimal for a rate."""
        if self.value is None:
            return "—"
        if isinstance(self.value, float):
            return f"{self.value:.1f}"
        return str(self.value)


Cell = str | Figure


@dataclass(frozen=True)
class Table:
    """A table of a section: its header row, then rows of cells (the first cells usually text labels)."""

    id: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    note: str = ""  # printed under the table (how the figures are counted)


@dataclass(frozen=True)
class Chart:
    """A chart drawn from figures: ``categories`` along the x axis, one line or bar series per name."""

    id: str
    title: str
    kind: Literal["bar", "line"]
    categories: tuple[str, ...]
    series: tuple[tuple[str, tuple[Value, ...]], ...]
    unit: str = "人"


@dataclass(frozen=True)
class Section:
    id: str  # overview | counties | timeliness | at_risk | failed_transfers | discrepancies | charts
    number: int  # as printed: 一、二、三 …
    title: str
    tables: tuple[Table, ...] = ()
    charts: tuple[Chart, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Report:
    """One joint-meeting report: the area (a county, or a city with its counties), the period, when it was made,
    and its sections in order."""

    division: str  # 530502, or 530500 for the city
    area_name: str  # 保山市隆阳区
    counties: tuple[tuple[str, str], ...]  # (code, name) of each county it covers
    period_from: dt.date
    period_to: dt.date
    previous_from: dt.date  # the period of the same length just before, for comparison
    previous_to: dt.date
    today: dt.date  # the legal day "now" for persons at risk
    generated_at: dt.datetime
    sections: tuple[Section, ...]
    imported_note: str = ""  # e.g. "累计数含 2016-12-31 前历史名册导入 1,234 人（标注“导入”）"
    notes: tuple[str, ...] = field(default_factory=tuple)

    def figures(self) -> dict[str, Figure]:
        """Every figure of the report by its id (tables first, in order)."""
        out: dict[str, Figure] = {}
        for s in self.sections:
            for t in s.tables:
                for row in t.rows:
                    for c in row:
                        if isinstance(c, Figure):
                            out.setdefault(c.id, c)
        return out

    def figure(self, figure_id: str) -> Figure | None:
        return self.figures().get(figure_id)
