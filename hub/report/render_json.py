"""The joint-meeting report as plain JSON values: its sections, tables and rows as printed, and every figure by id.

A table cell is ``{"text": …}``; a figure's cell also names the figure (``"figure": id``) with its value and unit,
and the flat ``figures`` object gives each figure once with where it is printed and (when asked) its members.
"""

from __future__ import annotations

import math
import re
from typing import Any

from hub.core.idnumber import masked_id_number
from hub.report.model import Chart, Figure, Member, Report, Section, Table, Value
from hub.report.words import beijing, report_title


def json_value(value: Value) -> int | float | None:
    """A figure's value as JSON carries it: a number, or null for nothing to measure (and for NaN or infinity,
    which JSON has no word for)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def value_text(figure: Figure) -> str:
    """The value as printed (``Figure.as_text``), with ``—`` for a value that is not a finite number."""
    return "—" if json_value(figure.value) is None else figure.as_text()


_ID_SHAPED = re.compile(r"[0-9]{17}[0-9Xx]|[0-9]{15}")


def masked_person_key(key: str) -> str:
    """A person key as a report shows it: the ID number that keys a person who has one masked as the ID column is
    (``530502********0311``, as the PDF and HTML print it); a sender's own reference (``ref|…``) as it is."""
    return masked_id_number(key) if _ID_SHAPED.fullmatch(key) else key


def member_json(member: Member) -> dict[str, Any]:
    """One person behind a figure; the ID number (and a person key that is one) masked as the printed report does."""
    return {
        "person_key": masked_person_key(member.person_key),
        "name": member.name,
        "id_number": masked_id_number(member.id_number) or None,
        "case_key": member.case_key,
        "agency": member.agency,
        "message_ids": list(member.message_ids),
        "on": member.on.isoformat() if member.on is not None else None,
        "note": member.note,
        "imported": member.imported,
    }


def _figure_head(figure: Figure) -> dict[str, Any]:
    return {
        "id": figure.id,
        "label": figure.label,
        "value": json_value(figure.value),
        "text": value_text(figure),
        "unit": figure.unit,
        "imported": figure.imported,
        "member_count": len(figure.members),
    }


def figure_json(figure: Figure) -> dict[str, Any]:
    """The drill-down of one figure: the figure and every member behind it."""
    return {**_figure_head(figure), "members": [member_json(m) for m in figure.members]}


def _cell_json(cell: str | Figure) -> dict[str, Any]:
    if isinstance(cell, Figure):
        return {"text": value_text(cell), "figure": cell.id, "value": json_value(cell.value), "unit": cell.unit}
    return {"text": cell}


def _table_json(table: Table) -> dict[str, Any]:
    return {
        "id": table.id,
        "title": table.title,
        "columns": list(table.columns),
        "rows": [[_cell_json(c) for c in row] for row in table.rows],
        "note": table.note,
    }


def _chart_json(chart: Chart) -> dict[str, Any]:
    return {
        "id": chart.id,
        "title": chart.title,
        "kind": chart.kind,
        "unit": chart.unit,
        "categories": list(chart.categories),
        "series": [{"name": name, "values": [json_value(v) for v in values]} for name, values in chart.series],
    }


def _section_json(section: Section) -> dict[str, Any]:
    return {
        "id": section.id,
        "number": section.number,
        "title": section.title,
        "note": section.note,
        "tables": [_table_json(t) for t in section.tables],
        "charts": [_chart_json(c) for c in section.charts],
    }


def _places(report: Report) -> dict[str, list[dict[str, Any]]]:
    """Where each figure is printed: section, table, row and column (indexes from 0 into ``rows`` and a row)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for s in report.sections:
        for t in s.tables:
            for i, row in enumerate(t.rows):
                for j, c in enumerate(row):
                    if isinstance(c, Figure):
                        out.setdefault(c.id, []).append({"section": s.id, "table": t.id, "row": i, "column": j})
    return out


def as_json(report: Report, *, members: bool = False) -> dict[str, Any]:
    """The report as JSON values: dates ISO, the generation time ISO in Beijing time with its offset; each figure
    in the flat ``figures`` object with its member count, and its members only when ``members`` is true."""
    places = _places(report)
    figures: dict[str, dict[str, Any]] = {}
    for figure_id, figure in report.figures().items():
        entry = figure_json(figure) if members else _figure_head(figure)
        entry["places"] = places.get(figure_id, [])
        figures[figure_id] = entry
    return {
        "title": report_title(report),
        "division": report.division,
        "area_name": report.area_name,
        "counties": [{"code": code, "name": name} for code, name in report.counties],
        "period": {"from": report.period_from.isoformat(), "to": report.period_to.isoformat()},
        "previous": {"from": report.previous_from.isoformat(), "to": report.previous_to.isoformat()},
        "today": report.today.isoformat(),
        "generated_at": beijing(report.generated_at).isoformat(),
        "imported_note": report.imported_note,
        "notes": list(report.notes),
        "sections": [_section_json(s) for s in report.sections],
        "figures": figures,
    }
