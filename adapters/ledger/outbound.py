"""Canonical message → a one-row ledger CSV that the office opens in Excel or WPS."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.kit.canonical import CanonicalDict
from adapters.kit.mapping import Spec, covered_paths
from adapters.kit.pipeline import to_native
from adapters.ledger import columns, mapping, native

# envelope elements the format does not carry: fixed by the type, or recomputed by the hub's router
_NOT_CARRIED = frozenset({"envelope/messageType", "envelope/schemaVersion", "envelope/to", "envelope/cc"})


def encode(canonical: bytes, message_type: str) -> bytes:
    """The CSV of one canonical message: UTF-8 with a byte-order mark, CRLF, the header row (the head columns,
    then the columns of the message's 事项) and one data row, 消息编号 being the canonical messageId. ValueError
    when the message is not of ``message_type``, when the ledger has no 事项 for it, or when it holds content
    the ledger has no column for or cannot write in a cell (nothing is dropped silently)."""
    spec, data, record = to_native(mapping.SPECS, canonical)
    if spec.message_type != message_type:
        raise ValueError(f"the message is a {spec.message_type}, not a {message_type}")
    _check_carried(spec, data)
    layout = columns.load()
    event = next(e for e in layout.events if e.word == spec.native_type)
    record["序号"] = "1"
    record["事项"] = event.word
    headers = layout.headers_of(event)
    by_header = {c.header: c for c in layout.columns}
    values = [_cell(by_header[h], record.get(h), layout.item_separator) for h in headers]
    return native.write_csv(headers, [values])


def _check_carried(spec: Spec, data: CanonicalDict) -> None:
    covered = covered_paths(spec)
    lost = [path for path in _leaf_paths(data) if path not in covered and path not in _NOT_CARRIED]
    if lost:
        raise ValueError(f"the ledger's 事项 {spec.native_type} has no column for {', '.join(sorted(set(lost)))}")


def _leaf_paths(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Canonical leaf paths present in ``data``, items of a repeated element as ``path/*/leaf``."""
    out: list[str] = []
    for name, value in data.items():
        path = f"{prefix}{name}"
        if isinstance(value, list) and value and isinstance(value[0], Mapping):
            for item in value:
                out.extend(_leaf_paths(item, f"{path}/*/"))
        elif isinstance(value, Mapping):
            out.extend(_leaf_paths(value, f"{path}/"))
        elif value not in (None, "", []):
            out.append(path)
    return out


def _cell(column: columns.Column, value: Any, separator: str) -> str:
    """One cell as written: a date range as 起至止, a multi-line cell one item per line (fields joined by ｜,
    trailing empty fields left out), an ID number after a tab so that Excel keeps it as text."""
    if value is None:
        return ""
    if column.type == "date_range":
        return f"{value['起']}至{value['止']}"
    if column.type == "items":
        lines = []
        for item in value:
            fields = [item.get(f.name, "") for f in column.fields]
            for f, v in zip(column.fields, fields, strict=True):
                if separator in v or "|" in v or "\n" in v or "\r" in v:
                    raise ValueError(f"{column.header} {f.name} {v!r} holds a line break or the separator {separator}: "
                                     "a ledger cell cannot carry it")
            while fields and not fields[-1]:
                fields.pop()
            lines.append(separator.join(fields))
        return "\n".join(lines)
    if column.type == "id_number":
        # Excel turns 18 digits into a number and loses the last three; a leading tab keeps the cell text, and
        # the reader strips it
        return "\t" + str(value)
    return str(value)
