"""The column specification of each register kind (``hub.registers`` reads the snapshots by it).

The columns of each kind are specified in schemas/registers/<kind>.json (code lists in codes.json), the XML form
in schemas/registers/register.xsd; ``load_spec`` compiles a kind's columns, each with the normaliser that checks
and converts its cells (a ValueError names what is wrong with a cell).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from adapters.kit import text
from adapters.kit.dates import parse_hand_date
from adapters.ledger.columns import cell_text, key
from hub.core.reconcile_values import RegisterKind
from hub.resources import data_dir

_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]|[0-9]{15}")
_AGENCY = re.compile(r"[0-9]{6}[A-Z]{2}(?:[0-9]{2})?")
_DIVISION = re.compile(r"[1-9][0-9]{5}")
_SPACES = re.compile(r"\s+")
_UNSET = object()


@dataclass(frozen=True, eq=False)  # hashed by identity: a row's cells are looked up by column
class Column:
    header: str
    aliases: tuple[str, ...]
    element: str | None
    field: str | None  # the RegisterRow field it fills; None: checked, not kept
    required: bool
    normalise: Callable[[object], object] | None  # None: an ignored column


@dataclass(frozen=True)
class RegisterSpec:
    kind: RegisterKind
    title: str
    agency_types: tuple[str, ...]
    period: bool
    columns: tuple[Column, ...]
    by_key: Mapping[str, Column]  # normalised header or alias → column
    by_element: Mapping[str, Column]
    defaults: Mapping[str, str]
    one_of: tuple[tuple[str, ...], ...]
    date_order: tuple[tuple[str, str], ...]


def _spec_dir() -> Path:
    return data_dir("schemas") / "registers"


@functools.cache
def load_spec(kind: RegisterKind) -> RegisterSpec:
    """The column specification of ``kind``, compiled once per process."""
    raw = json.loads((_spec_dir() / f"{kind.value}.json").read_text(encoding="utf-8"))
    codes = json.loads((_spec_dir() / "codes.json").read_text(encoding="utf-8"))
    columns = tuple(_column(c, codes) for c in raw["columns"])
    by_key: dict[str, Column] = {}
    for col in columns:
        for name in (col.header, *col.aliases):
            if key(name) in by_key:
                raise ValueError(f"{kind}.json: header {name!r} names two columns")
            by_key[key(name)] = col
    return RegisterSpec(kind, raw["title"], tuple(raw["agency_types"]), bool(raw["period"]), columns, by_key,
                        {c.element: c for c in columns if c.element}, dict(raw.get("defaults", {})),
                        tuple(tuple(group) for group in raw.get("one_of", ())),
                        tuple((a, b) for a, b in raw.get("date_order", ())))


@functools.cache
def load_schema() -> etree.XMLSchema:
    """The XSD of a register's XML form, compiled once per process."""
    return etree.XMLSchema(etree.parse(str(_spec_dir() / "register.xsd")))


def _column(c: Mapping[str, Any], codes: Mapping[str, Any]) -> Column:
    kind, limit = c["type"], c.get("max_length")
    normalise: Callable[[object], object] | None
    if kind == "ignored":
        normalise = None
    elif kind in ("text", "name", "case_number"):
        normalise = _text(_FORMS[kind], limit)
    elif kind == "id_number":
        normalise = _id_number
    elif kind == "date":
        normalise = _memo(parse_hand_date)
    elif kind == "code":
        normalise = _memo(_code(c["code_list"], codes["code_lists"][c["code_list"]], c.get("allowed")))
    elif kind == "agency":
        normalise = _memo(_agency)
    elif kind == "division":
        normalise = _memo(_division(codes["divisions"], codes["division_prefixes"]))
    else:
        raise ValueError(f"column {c['header']} has the unknown type {kind!r}")
    return Column(c["header"], tuple(c.get("header_aliases", ())), c.get("element"), c.get("field"),
                  bool(c.get("required")), normalise)


def _memo(normalise: Callable[[object], object]) -> Callable[[object], object]:
    """``normalise`` remembering its answers: a register repeats the same dates, codes and agencies in most rows."""
    seen: dict[tuple[type, object], object] = {}

    def remembered(value: object) -> object:
        at = (value.__class__, value)
        found = seen.get(at, _UNSET)
        if found is _UNSET:
            found = normalise(value)
            if len(seen) < 8192:
                seen[at] = found
        return found

    return remembered


_FORMS: dict[str, Callable[[str], str]] = {"text": str.strip, "name": text.person_name,
                                           "case_number": text.case_number}


def _text(form: Callable[[str], str], limit: int | None) -> Callable[[object], str]:
    def normalise(value: object) -> str:
        out = form(cell_text(value))
        if limit is not None and len(out) > limit:
            raise ValueError(f"{len(out)} 个字，超过 {limit} 字 / {len(out)} characters, at most {limit}")
        return out

    return normalise


def _id_number(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("身份证号码存成了数字，后几位可能已丢失；请把该列设为文本后重新录入 / stored as a number, "
                         "so its last digits may be lost: format the column as text and type it again")
    out = text.id_number(cell_text(value))
    if not _ID_SHAPE.fullmatch(out):
        raise ValueError(f"{out[:40]!r} 不是公民身份号码 / is not a resident ID number (18 characters ending in a "
                         "digit or X, or 15 digits)")
    return out


def _code(name: str, body: Mapping[str, Any], allowed: list[str] | None) -> Callable[[object], str]:
    values: dict[str, str] = dict(body["values"])
    words = {w: w for w in values} | {a: w for a, w in body.get("aliases", {}).items()}
    lookup = {key(k): w for k, w in words.items()}
    permitted = set(allowed or values)

    def normalise(value: object) -> str:
        typed = cell_text(value)
        word = words.get(typed) or lookup.get(key(typed))
        if word is None or word not in permitted:
            raise ValueError(f"{typed[:40]!r} 不在代码表“{name}”中 / is not in the code list {name}; 可填 / allowed: "
                             f"{'、'.join(w for w in values if w in permitted)}")
        return values[word]

    return normalise


def _agency(value: object) -> str:
    out = _SPACES.sub("", text.halfwidth(cell_text(value))).upper()
    if not _AGENCY.fullmatch(out):
        raise ValueError(f"{out[:40]!r} 不是单位代码 / is not an agency code (e.g. 530502FY)")
    return out


def _division(names: Mapping[str, str], prefixes: list[str]) -> Callable[[object], str]:
    table = {key(k): v for k, v in names.items()}

    def normalise(value: object) -> str:
        typed = key(cell_text(value))
        if _DIVISION.fullmatch(typed):
            return typed
        for prefix in prefixes:
            if typed.startswith(key(prefix)) and typed != key(prefix):
                typed = typed[len(key(prefix)):]
                break
        found = table.get(typed)
        if found is None:
            raise ValueError(f"{typed[:40]!r} 不是县级行政区划 / is not a county: write its 6-digit code or one of "
                             f"{'、'.join(names)}")
        return found

    return normalise
