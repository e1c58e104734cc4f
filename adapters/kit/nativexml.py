"""Native XML: hardened parsing with the encoding checked, validation against the agency's own XSD with
each error placed on its record, element ↔ nested data, and writing in the declared encoding."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from adapters.kit.problems import NativeError, NativeProblem
from adapters.kit.text import check_xml_encoding

_HOSTILE = (b"<!DOCTYPE", b"<!ENTITY")


def agency_schema_dir(system: str) -> Path:
    from hub.resources import data_dir

    return data_dir("schemas") / "agencies" / system


@cache
def load_xsd(system: str, filename: str) -> etree.XMLSchema:
    """An agency's native XSD, compiled once per process."""
    return etree.XMLSchema(etree.parse(str(agency_schema_dir(system) / filename)))


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           remove_blank_text=True, collect_ids=False)


def parse(data: bytes) -> etree._Element:
    """The root of a native XML payload; NativeError for hostile, mis-encoded or malformed input."""
    if not data.strip():
        raise NativeError("empty", "the payload is empty")
    head = data[:65536]
    if any(h in head for h in _HOSTILE):
        line = head[: max(head.find(b"<!"), 0)].count(b"\n") + 1
        raise NativeError("dtd_forbidden", "document type declarations and entities are not accepted",
                          [NativeProblem("<!DOCTYPE>/<!ENTITY> found: native XML must not carry a DTD", line=line)])
    check_xml_encoding(data)
    try:
        return etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as e:
        at = e.lineno if isinstance(e.lineno, int) else None
        raise NativeError("not_xml", "the payload is not well-formed XML",
                          [NativeProblem(str(e.msg), line=at)]) from e


def path_of(node: etree._Element) -> str:
    """/ROOT/JL[2]/XM — element names, [n] among same-named siblings (1-based)."""
    steps = []
    cur: etree._Element | None = node
    while cur is not None:
        name = etree.QName(cur).localname
        parent = cur.getparent()
        step = name
        if parent is not None:
            same = [c for c in parent if c.tag == cur.tag]
            if len(same) > 1:
                step = f"{name}[{same.index(cur) + 1}]"
        steps.append(step)
        cur = parent
    return "/" + "/".join(reversed(steps))


# a namespace in Clark notation ({urn:…}); not an enumeration set such as {'1', '2'}, which names the allowed codes,
# nor a pattern quantifier such as [0-9]{8}, which says how many characters are expected
_NS_IN_MSG = re.compile(r"\{[^}\s':]*:[^}\s']*\}")


def schema_errors(root: etree._Element, schema: etree.XMLSchema) -> list[tuple[etree._Element | None, NativeProblem]]:
    """Every XSD error as (offending element, problem located at its native path)."""
    if schema.validate(root):
        return []
    tree = root.getroottree()
    out: list[tuple[etree._Element | None, NativeProblem]] = []
    for err in schema.error_log:  # type: ignore[attr-defined]
        node: etree._Element | None = None
        if err.path:
            try:
                found = tree.xpath(err.path)
            except etree.XPathError:
                found = None
            if isinstance(found, list) and found and isinstance(found[0], etree._Element):
                node = found[0]
        where = path_of(node) if node is not None else err.path
        out.append((node, NativeProblem(_NS_IN_MSG.sub("", err.message), where=where, line=err.line)))
    return out


def split_errors(errors: list[tuple[etree._Element | None, NativeProblem]], records: list[etree._Element]
                 ) -> tuple[dict[int, list[NativeProblem]], list[NativeProblem]]:
    """Schema errors by record index (an error inside record i rejects only record i) and the rest
    (errors in the header or the batch's frame, which reject the whole payload)."""
    position = {id(r): i for i, r in enumerate(records)}
    by_record: dict[int, list[NativeProblem]] = {}
    frame: list[NativeProblem] = []
    for node, problem in errors:
        cur = node
        index = None
        while cur is not None:
            index = position.get(id(cur))
            if index is not None:
                break
            cur = cur.getparent()
        if index is None:
            frame.append(problem)
        else:
            by_record.setdefault(index, []).append(problem)
    return by_record, frame


def to_data(node: etree._Element) -> dict[str, Any]:
    """Nested data of an element: leaf children as text, repeated names as lists, attributes ignored."""
    out: dict[str, Any] = {}
    for el in node:
        name = el.tag
        if type(name) is not str:
            continue  # a comment or processing instruction
        if name[0] == "{":
            name = name[name.index("}") + 1:]
        value: Any = to_data(el) if len(el) else (el.text or "")
        prior = out.get(name)
        if prior is None:
            out[name] = value
        elif isinstance(prior, list):
            prior.append(value)
        else:
            out[name] = [prior, value]
    return out


def build(parent: etree._Element, data: Mapping[str, Any], namespace: str | None = None) -> None:
    """Append ``data`` under ``parent`` in insertion order (lists become repeated elements)."""
    prefix = "{" + namespace + "}" if namespace else ""
    sub = etree.SubElement
    for name, value in data.items():
        for item in value if type(value) is list else (value,):
            el = sub(parent, prefix + name)
            if type(item) is str:
                el.text = item
            elif type(item) is dict or isinstance(item, Mapping):
                build(el, item, namespace)
            else:
                el.text = str(item)


def serialise(root: etree._Element, encoding: str = "UTF-8") -> bytes:
    """Declared-encoding bytes of a native document."""
    out = etree.tostring(root, xml_declaration=True, encoding=encoding, pretty_print=True)
    assert isinstance(out, bytes)
    return out
