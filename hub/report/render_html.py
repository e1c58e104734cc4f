"""The joint-meeting report as one HTML document: tables of figures, the persons behind the problem figures, and
charts drawn as inline SVG (no script, no external asset), for the console and, with its stylesheet inlined, for
the PDF."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup

from hub.core.idnumber import masked_id_number
from hub.report.model import Chart, Figure, Member, Report, Section, Table
from hub.report.words import beijing, chinese_date, chinese_numeral, report_title

HERE = Path(__file__).parent

FigureLink = Callable[[Figure], str | None]

# sections whose figures count persons someone has to act on: their persons are listed after the sections
LISTED_SECTIONS = frozenset({"at_risk", "failed_transfers", "discrepancies"})
UNIT_SHOWN = frozenset({"%", "日"})
PALETTE = ("#1d4f91", "#5fa8d3", "#f0b429", "#de911d", "#b42318", "#3f8f5b", "#7a5195", "#6b7280")
CHART_FONT = "Noto Sans CJK SC, Noto Sans SC, Microsoft YaHei, PingFang SC, sans-serif"

def beijing_time(moment: dt.datetime) -> str:
    """The moment in Beijing time as printed; a naive moment is taken as UTC (the app's clock)."""
    local = beijing(moment)
    return f"{chinese_date(local.date())} {local:%H:%M}"


def period_text(report: Report) -> str:
    return f"统计期间：{chinese_date(report.period_from)}至{chinese_date(report.period_to)}"


def figure_text(figure: Figure) -> str:
    """The figure as printed in a cell: its value, with the unit where the column header does not say it."""
    text = figure.as_text()
    if figure.value is not None and figure.unit in UNIT_SHOWN:
        return text + figure.unit
    return text


def _safe_href(url: str | None) -> str | None:
    if not url:
        return None
    scheme = urlsplit(url).scheme.lower()
    return url if scheme in ("", "http", "https") else None


# ---------------------------------------------------------------- cells and tables


@dataclass(frozen=True)
class CellView:
    text: str
    figure_id: str | None = None
    href: str | None = None
    imported: int = 0
    numeric: bool = False


@dataclass(frozen=True)
class TableView:
    id: str
    number: str
    title: str
    columns: tuple[str, ...]
    numeric_columns: tuple[bool, ...]
    rows: tuple[tuple[CellView, ...], ...]
    note: str


@dataclass(frozen=True)
class MemberView:
    name: str
    id_number: str
    case: str
    agency: str
    on: str
    note: str
    imported: bool


@dataclass(frozen=True)
class MemberList:
    figure_id: str
    heading: str
    count: str
    members: tuple[MemberView, ...]


def _cell(cell: Figure | str, figure_link: FigureLink | None) -> CellView:
    if isinstance(cell, str):
        return CellView(cell)
    href = _safe_href(figure_link(cell)) if figure_link is not None and cell.members else None
    return CellView(figure_text(cell), figure_id=cell.id, href=href, imported=cell.imported, numeric=True)


def _table(table: Table, number: str, figure_link: FigureLink | None) -> TableView:
    rows = tuple(tuple(_cell(c, figure_link) for c in row) for row in table.rows)
    numeric = tuple(bool(table.rows) and all(i < len(row) and isinstance(row[i], Figure) for row in table.rows)
                    for i in range(len(table.columns)))
    return TableView(table.id, number, table.title, table.columns, numeric, rows, table.note)


def _member(m: Member) -> MemberView:
    case = m.case_key.replace("|", " · ") if m.case_key else ""
    return MemberView(m.name, masked_id_number(m.id_number), case, m.agency or "",
                      chinese_date(m.on) if m.on else "", m.note, m.imported)


def listed(figure_id: str) -> bool:
    """Whether a printed report lists the persons of this figure at its end: each agency's persons at risk, and the
    failed transfers and discrepancy items still open, by agency (the totals and the subsets would list the same
    persons again)."""
    parts = figure_id.split(".")
    if parts[0] == "at_risk":
        return len(parts) == 3 and parts[2] == "total"
    if parts[0] in ("failed_transfers", "discrepancies"):
        return parts[-1] == "open" and parts[1] != "total"
    return False


def _member_lists(sections: Iterable[Section]) -> tuple[MemberList, ...]:
    out: list[MemberList] = []
    seen: set[str] = set()
    for s in sections:
        if s.id not in LISTED_SECTIONS:
            continue
        for t in s.tables:
            for row in t.rows:
                for col, c in enumerate(row):
                    if not isinstance(c, Figure) or not c.members or c.id in seen or not listed(c.id):
                        continue
                    seen.add(c.id)
                    context = [x for x in row[:col] if isinstance(x, str) and x]
                    parts = [t.title, *context[:2]]
                    header = t.columns[col] if col < len(t.columns) else ""
                    if c.label not in parts and c.label != header:
                        parts.append(c.label)
                    count = f"{c.as_text()} {c.unit}"
                    out.append(MemberList(c.id, " · ".join(parts), count, tuple(_member(m) for m in c.members)))
    return tuple(out)


# ---------------------------------------------------------------- charts


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class XLabel:
    x: float
    y: float
    text: str
    full: str
    rotate: bool


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    colour: str
    css: str
    tip: str
    label: str
    label_x: float
    label_y: float
    label_rotate: bool


@dataclass(frozen=True)
class Dot:
    cx: float
    cy: float
    colour: str
    css: str
    tip: str
    label: str
    label_y: float


@dataclass(frozen=True)
class Line:
    points: str
    colour: str
    css: str
    series: str


@dataclass(frozen=True)
class LegendKey:
    x: float
    y: float
    colour: str
    css: str
    name: str


@dataclass(frozen=True)
class ChartView:
    id: str
    number: str
    title: str
    kind: str
    unit: str
    width: float
    height: float
    left: float
    right: float
    top: float
    bottom: float
    ticks: tuple[Tick, ...]
    xlabels: tuple[XLabel, ...]
    bars: tuple[Bar, ...]
    lines: tuple[Line, ...]
    dots: tuple[Dot, ...]
    legend: tuple[LegendKey, ...]
    font: str
    empty: bool


CHART_WIDTH = 640.0
PLOT_HEIGHT = 190.0
LABEL_SIZE = 11.0
VALUE_SIZE = 10.0
MAX_CATEGORY_WIDTH = 150.0


def text_width(text: str, size: float) -> float:
    """A rough advance of ``text`` at ``size``: a CJK character or punctuation mark is one em, anything else about
    0.6 em."""
    return sum(size if ord(ch) >= 0x2E80 or 0x2010 <= ord(ch) <= 0x206F else size * 0.6 for ch in text)


def shorten(text: str, width: float, size: float) -> str:
    """``text`` cut with an ellipsis to about ``width`` at ``size``."""
    if text_width(text, size) <= width:
        return text
    out = ""
    for ch in text:
        if text_width(out + ch + "…", size) > width:
            break
        out += ch
    return out + "…"


def value_text(v: float | int) -> str:
    return f"{v:.1f}" if isinstance(v, float) else str(v)


def _nice_scale(lo: float, hi: float, *, integer: bool, unit: str) -> tuple[float, float, float]:
    """Axis bottom, top and tick step covering ``lo``..``hi`` in 1-2-5 steps (a rate up to 100 %)."""
    lo = min(lo, 0.0)
    hi = max(hi, 0.0)
    if unit == "%" and lo >= 0 and hi <= 100:
        return 0.0, 100.0, 20.0
    if hi - lo <= 0:
        hi = lo + 1.0
    raw = (hi - lo) / 5
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw - 1e-12)
    if integer:
        step = max(1.0, float(math.ceil(step)))
    bottom = math.floor(lo / step) * step
    top = math.ceil(hi / step) * step
    if top <= bottom:
        top = bottom + step
    return bottom, top, step


def _tick_text(v: float, step: float) -> str:
    decimals = 0 if float(step).is_integer() else max(0, -math.floor(math.log10(step)))
    return f"{v:.{decimals}f}"


def chart_view(chart: Chart, number: str = "") -> ChartView:
    values = [v for _, vs in chart.series for v in vs if v is not None]
    integer = all(isinstance(v, int) for v in values) and chart.unit != "%"
    lo = min(values, default=0)
    hi = max(values, default=0)
    bottom, top, step = _nice_scale(float(lo), float(hi), integer=integer, unit=chart.unit)
    tick_values = [bottom + i * step for i in range(round((top - bottom) / step) + 1)]
    tick_labels = [_tick_text(v, step) for v in tick_values]

    n_cat = max(len(chart.categories), 1)
    n_series = max(len(chart.series), 1)
    left = 10 + max((text_width(t, LABEL_SIZE) for t in tick_labels), default=10) + 8
    right = CHART_WIDTH - 14
    group = (right - left) / n_cat
    bar_w = min(group * 0.72 / n_series, 40.0) if chart.kind == "bar" else 0.0
    shown = [shorten(c, MAX_CATEGORY_WIDTH, LABEL_SIZE) for c in chart.categories]
    cat_w = max((text_width(c, LABEL_SIZE) for c in shown), default=0.0)
    rotate_x = cat_w > group - 4
    if rotate_x and shown:
        reach = text_width(shown[0], LABEL_SIZE) * 0.82 - group / 2 + 12  # a slanted first label runs left
        if reach > left:
            left = reach
            group = (right - left) / n_cat
            bar_w = min(group * 0.72 / n_series, 40.0) if chart.kind == "bar" else 0.0

    value_w = max((text_width(value_text(v), VALUE_SIZE) for v in values), default=0.0)
    rotate_values = chart.kind == "bar" and value_w > bar_w + 2
    plot_top = 24 + (value_w if rotate_values else 0)
    plot_bottom = plot_top + PLOT_HEIGHT

    def y_of(v: float) -> float:
        return round(plot_bottom - (v - bottom) / (top - bottom) * PLOT_HEIGHT, 2)

    zero_y = y_of(0.0)
    ticks = tuple(Tick(y_of(v), label) for v, label in zip(tick_values, tick_labels, strict=True))

    xlabels = tuple(
        XLabel(round(left + group * (i + 0.5), 2), plot_bottom + (14 if rotate_x else 16), c, full, rotate_x)
        for i, (c, full) in enumerate(zip(shown, chart.categories, strict=True)))
    x_space = cat_w * 0.58 + 18 if rotate_x else 24.0

    bars: list[Bar] = []
    lines: list[Line] = []
    points: list[tuple[float, float, str, str, str, str]] = []
    for si, (name, series_values) in enumerate(chart.series):
        colour = PALETTE[si % len(PALETTE)]
        css = f"c{si % len(PALETTE) + 1}"
        run: list[str] = []
        for ci, v in enumerate(series_values[: len(chart.categories)]):
            category = chart.categories[ci]
            if v is None:
                if run:
                    lines.append(Line(" ".join(run), colour, css, name))
                    run = []
                continue
            tip = f"{category} {name} {value_text(v)}{chart.unit}"
            if chart.kind == "bar":
                x = left + group * ci + (group - bar_w * n_series) / 2 + bar_w * si
                y = min(y_of(v), zero_y)
                h = abs(zero_y - y_of(v))
                cx = x + bar_w / 2
                label_y = y - 3 if v >= 0 else y + h + VALUE_SIZE + 1
                bars.append(Bar(round(x + 0.5, 2), y, round(max(bar_w - 1, 1.0), 2), round(h, 2), colour, css, tip,
                                value_text(v), round(cx + (3 if rotate_values else 0), 2), round(label_y, 2),
                                rotate_values))
            else:
                cx = round(left + group * (ci + 0.5), 2)
                cy = y_of(v)
                run.append(f"{cx},{cy}")
                points.append((cx, cy, colour, css, tip, value_text(v)))
        if run:
            lines.append(Line(" ".join(run), colour, css, name))

    dots = _place_point_labels(points)

    legend: list[LegendKey] = []
    lx, ly = left, plot_bottom + x_space + 10
    for si, (full_name, _) in enumerate(chart.series):
        name = shorten(full_name, CHART_WIDTH / 2, LABEL_SIZE)
        advance = 18 + text_width(name, LABEL_SIZE) + 16
        if lx + advance > CHART_WIDTH and lx > left:
            lx, ly = left, ly + 18
        legend.append(LegendKey(round(lx, 2), round(ly, 2), PALETTE[si % len(PALETTE)],
                                f"c{si % len(PALETTE) + 1}", name))
        lx += advance
    height = ly + 16 if legend else plot_bottom + x_space

    return ChartView(chart.id, number, chart.title, chart.kind, chart.unit, CHART_WIDTH, round(height, 2),
                     round(left, 2), round(right, 2), round(plot_top, 2), round(plot_bottom, 2), ticks, xlabels,
                     tuple(bars), tuple(lines), dots, tuple(legend), CHART_FONT, not values)


def _place_point_labels(points: list[tuple[float, float, str, str, str, str]]) -> tuple[Dot, ...]:
    """The points of line charts with their value labels: above the point, or below it where the label would
    run into the label or point of a higher series at the same category."""
    placed: dict[int, float] = {}
    by_x: dict[float, list[int]] = {}
    for i, p in enumerate(points):
        by_x.setdefault(p[0], []).append(i)
    for indexes in by_x.values():
        edge = -math.inf
        for i in sorted(indexes, key=lambda j: points[j][1]):
            cy = points[i][1]
            above = cy - 7
            label_y = above if above - VALUE_SIZE >= edge else cy + 4 + VALUE_SIZE
            placed[i] = round(label_y, 2)
            edge = max(label_y, cy + 3)
    return tuple(Dot(cx, cy, colour, css, tip, label, placed[i])
                 for i, (cx, cy, colour, css, tip, label) in enumerate(points))


# ---------------------------------------------------------------- the document


@dataclass(frozen=True)
class SectionView:
    id: str
    heading: str
    tables: tuple[TableView, ...]
    charts: tuple[ChartView, ...]
    note: str


def _section(section: Section, figure_link: FigureLink | None) -> SectionView:
    tables = tuple(_table(t, f"（{chinese_numeral(i + 1)}）", figure_link) for i, t in enumerate(section.tables))
    first = len(tables)
    charts = tuple(chart_view(c, f"（{chinese_numeral(first + i + 1)}）") for i, c in enumerate(section.charts))
    return SectionView(section.id, f"{chinese_numeral(section.number)}、{section.title}", tables, charts, section.note)


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def report_css() -> str:
    """The report's stylesheet (screen and print), for the console to serve as a file."""
    return (HERE / "static" / "report.css").read_text(encoding="utf-8")


def html(report: Report, *, figure_link: FigureLink | None = None, for_print: bool = False,
         stylesheet: str | None = None) -> str:
    """The report as a complete HTML document in Chinese.

    ``figure_link`` gives the drill-down URL of a figure with members (or None for no link). With ``for_print``
    the stylesheet is inlined in a ``<style>`` element; otherwise the document links ``stylesheet`` (the URL the
    console serves :func:`report_css` at) when given, and carries no inline style at all.
    """
    sections = tuple(_section(s, figure_link) for s in report.sections)
    scope = "、".join(name for _, name in report.counties) if len(report.counties) > 1 else ""
    template = _environment().get_template("report.html")
    return template.render(
        title=report_title(report),
        period=period_text(report),
        generated=f"生成时间：{beijing_time(report.generated_at)}",
        scope=scope,
        imported_note=report.imported_note,
        sections=sections,
        member_lists=_member_lists(report.sections),
        notes=report.notes,
        css=Markup(report_css()) if for_print else None,
        stylesheet=None if for_print else stylesheet,
        for_print=for_print,
    )
