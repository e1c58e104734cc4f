"""Deadline rules as data: who owes whom what, within how long, on which legal basis, where and when.

Each row of a ``RuleBook`` is one rule id in one scope ("" national, "53" a province, "530521" a
county) for one effective period (``effective_to`` is the last day in effect, or open-ended). A
county row beats a province row beats the national row, among the rows in effect on the day asked
about. The national defaults ship in ``hub/rules/national.toml``; ``load_rules`` reads that format
(one ``[[rule]]`` table per row, numbered from 1 in error messages) and ``dump_rules`` writes it.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from itertools import pairwise
from typing import Any

from hub.core.calendar import Calendar

OBLIGORS = frozenset(
    {"deciding_organ", "bureau", "receiving_bureau", "sending_bureau", "police", "court", "commissioning_organ",
     "custodian"}
)
OBLIGEES = OBLIGORS | {"procuratorate"}
SCOPE = re.compile(r"(\d{2}|\d{6})?")
RULE_ID = re.compile(r"[a-z][a-z0-9_]*")


class Unit(StrEnum):
    DAYS = "days"
    WORKING_DAYS = "working_days"
    HOURS = "hours"
    IMMEDIATELY = "immediately"


@dataclass(frozen=True)
class Rule:
    """One deadline rule row; constructing an inconsistent row raises ValueError."""

    id: str
    step: int
    title_zh: str
    title_en: str
    obligor: str
    obligee: str
    owes: str
    amount: int
    unit: Unit
    basis: str
    local: bool
    scope: str
    effective_from: dt.date
    effective_to: dt.date | None
    due_soon_days: int

    def __post_init__(self) -> None:
        problem = _problem(self)
        if problem:
            raise ValueError(problem)

    def in_effect(self, on: dt.date) -> bool:
        """Whether ``on`` lies in the row's effective period (both ends included)."""
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)


def _problem(rule: Rule) -> str | None:
    if not RULE_ID.fullmatch(rule.id):
        return f"id {rule.id!r} must be lower-case letters, digits and underscores"
    if rule.step < 1:
        return f"step {rule.step} must be a DOMAIN §2 row number (1 or more)"
    for name in ("title_zh", "title_en", "owes", "basis"):
        if not getattr(rule, name).strip():
            return f"{name} must not be empty"
    if rule.obligor not in OBLIGORS:
        return f"unknown role {rule.obligor!r} as obligor (one of {', '.join(sorted(OBLIGORS))})"
    if rule.obligee not in OBLIGEES:
        return f"unknown role {rule.obligee!r} as obligee (one of {', '.join(sorted(OBLIGEES))})"
    if not isinstance(rule.unit, Unit):
        return f"unknown unit {rule.unit!r} (one of {', '.join(u.value for u in Unit)})"
    if rule.unit is Unit.IMMEDIATELY and rule.amount != 0:
        return f"amount must be 0 for unit 'immediately', not {rule.amount}"
    if rule.unit is not Unit.IMMEDIATELY and rule.amount <= 0:
        return f"amount must be positive for unit {rule.unit.value!r}, not {rule.amount}"
    if not SCOPE.fullmatch(rule.scope):
        return f"scope {rule.scope!r} must be '' (national), 2 digits (province) or 6 digits (county)"
    if rule.effective_to is not None and rule.effective_to < rule.effective_from:
        return f"effective_to {rule.effective_to} is before effective_from {rule.effective_from}"
    if rule.due_soon_days < 0:
        return f"due_soon_days must not be negative, not {rule.due_soon_days}"
    return None


def _order(rule: Rule) -> tuple[int, str, str, dt.date]:
    return (rule.step, rule.id, rule.scope, rule.effective_from)


def _check_rows(rows: Sequence[Rule], label: Callable[[int], str]) -> None:
    """Refuse duplicate or overlapping periods and rows of one id that disagree on what is owed."""
    first_of: dict[str, int] = {}
    periods: dict[tuple[str, str], list[int]] = {}
    for i, row in enumerate(rows):
        j = first_of.setdefault(row.id, i)
        for name in ("step", "obligor", "obligee", "owes"):
            if getattr(row, name) != getattr(rows[j], name):
                raise ValueError(f"{label(i)}: {name} {getattr(row, name)!r} differs from "
                                 f"{getattr(rows[j], name)!r} in {label(j)}; every row of an id owes the same")
        periods.setdefault((row.id, row.scope), []).append(i)
    for indices in periods.values():
        indices.sort(key=lambda k: rows[k].effective_from)
        for a, b in pairwise(indices):
            earlier, later = rows[a], rows[b]
            if earlier.effective_from == later.effective_from:
                raise ValueError(f"{label(b)}: duplicate of {label(a)} (same id, scope and effective_from)")
            if earlier.effective_to is None or earlier.effective_to >= later.effective_from:
                raise ValueError(f"{label(b)}: effective period overlaps {label(a)} for the same id and scope")


def _describe(rule: Rule) -> str:
    return f"rule {rule.id!r} (scope {rule.scope!r}, from {rule.effective_from})"


class RuleBook:
    """Every rule row, all scopes and periods; an immutable value compared by its rows."""

    __slots__ = ("_index", "_rows")
    _rows: tuple[Rule, ...]
    _index: dict[tuple[str, str], tuple[Rule, ...]]

    def __init__(self, rows: Iterable[Rule] = ()) -> None:
        ordered = tuple(sorted(rows, key=_order))
        _check_rows(ordered, lambda i: _describe(ordered[i]))
        index: dict[tuple[str, str], list[Rule]] = {}
        for row in ordered:
            index.setdefault((row.id, row.scope), []).append(row)
        object.__setattr__(self, "_rows", ordered)
        object.__setattr__(self, "_index", {key: tuple(value) for key, value in index.items()})

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("RuleBook is immutable; use with_override")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RuleBook) and self._rows == other._rows

    def __hash__(self) -> int:
        return hash(self._rows)

    def __repr__(self) -> str:
        return f"RuleBook({len(self._rows)} rows)"

    def rows(self) -> tuple[Rule, ...]:
        """All rows, ordered by step, id, scope and effective_from."""
        return self._rows

    def rule(self, rule_id: str, *, division: str, on: dt.date) -> Rule:
        """The row of the most specific scope covering ``division`` in effect on ``on``; KeyError if none."""
        if not (division == "" or (len(division) == 6 and division.isdigit())):
            raise ValueError(f"division {division!r} must be a 6-digit code ('' for national rules only)")
        scopes = (division, division[:2], "") if division else ("",)
        for scope in scopes:
            for row in self._index.get((rule_id, scope), ()):
                if row.in_effect(on):
                    return row
        raise KeyError(f"no rule {rule_id!r} in effect on {on} for division {division!r}")

    def due(self, rule: Rule, *, trigger: dt.date, calendar: Calendar) -> dt.date:
        """The due date of ``rule`` for an obligation triggered on ``trigger`` (CPL Art. 105 counting)."""
        if rule.unit is Unit.DAYS:
            return calendar.add_days(trigger, rule.amount)
        if rule.unit is Unit.WORKING_DAYS:
            return calendar.add_working_days(trigger, rule.amount)
        if rule.unit is Unit.HOURS:
            # No date-only clock can do better than the day the hours run out, counted from the day's start.
            return trigger + dt.timedelta(days=rule.amount // 24)
        return trigger

    def with_override(self, rule: Rule, *, supersede: bool = False) -> RuleBook:
        """This book plus ``rule``; ValueError on an overlapping period for its id and scope.

        With ``supersede``, an open-ended row of the same id and scope that starts earlier is first
        closed on the day before ``rule.effective_from`` (the usual way a rule changes on a date).
        """
        rows = list(self._rows)
        if supersede:
            for i, row in enumerate(rows):
                if (row.id, row.scope) == (rule.id, rule.scope) and row.effective_to is None \
                        and row.effective_from < rule.effective_from:
                    rows[i] = replace(row, effective_to=rule.effective_from - dt.timedelta(days=1))
        candidate = [*rows, rule]
        _check_rows(candidate, lambda i: "the new row " + _describe(rule) if i == len(rows)
                    else _describe(candidate[i]))
        return RuleBook(candidate)


FIELDS: dict[str, type] = {
    "id": str, "step": int, "title_zh": str, "title_en": str, "obligor": str, "obligee": str, "owes": str,
    "amount": int, "unit": str, "basis": str, "local": bool, "scope": str, "effective_from": dt.date,
    "effective_to": dt.date, "due_soon_days": int,
}
OPTIONAL: dict[str, Any] = {"local": False, "scope": "", "effective_to": None}


def _rule_from(number: int, table: Any) -> Rule:
    if not isinstance(table, dict):
        raise ValueError(f"rule row {number}: must be a table")
    where = f"rule row {number} ({table.get('id', '?')})"
    unknown = set(table) - set(FIELDS)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name, kind in FIELDS.items():
        if name not in table:
            if name not in OPTIONAL:
                raise ValueError(f"{where}: missing {name!r}")
            values[name] = OPTIONAL[name]
            continue
        value = table[name]
        wrong = (not isinstance(value, kind) or (kind is int and isinstance(value, bool))
                 or (kind is dt.date and isinstance(value, dt.datetime)))
        if wrong:
            raise ValueError(f"{where}: {name!r} must be {kind.__name__}, not {value!r}")
        values[name] = value
    try:
        values["unit"] = Unit(values["unit"])
    except ValueError:
        raise ValueError(f"{where}: unknown unit {values['unit']!r} (one of {', '.join(u.value for u in Unit)})") \
            from None
    try:
        return Rule(**values)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def load_rules(text: str) -> RuleBook:
    """The book in ``text`` (national.toml format); ValueError naming the row (number and id) at fault."""
    data = tomllib.loads(text)
    unknown = set(data) - {"rule"}
    if unknown:
        raise ValueError(f"unknown top-level key(s): {', '.join(sorted(unknown))}")
    tables = data.get("rule", [])
    if not isinstance(tables, list):
        raise ValueError("'rule' must be an array of tables ([[rule]])")
    rows = [_rule_from(number, table) for number, table in enumerate(tables, start=1)]
    _check_rows(rows, lambda i: f"rule row {i + 1} ({rows[i].id})")
    return RuleBook(rows)


def _toml_string(value: str) -> str:
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\b\t\n\f\r":
            out.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Unit):
        return _toml_string(value.value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def dump_rules(book: RuleBook) -> str:
    """The book as TOML that ``load_rules`` reads back to an equal book."""
    blocks = []
    for row in book.rows():
        lines = ["[[rule]]"]
        for name in FIELDS:
            value = getattr(row, name)
            if value is not None:
                lines.append(f"{name} = {_toml_value(value)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


@lru_cache(maxsize=1)
def national() -> RuleBook:
    """The national defaults shipped in ``hub/rules/national.toml``."""
    return load_rules(resources.files("hub").joinpath("rules", "national.toml").read_text(encoding="utf-8"))
