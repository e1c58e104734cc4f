"""The canonical tree as plain data: element order read once from the canonical XSDs, canonical XML
to nested dicts and back, and the XSD check of what an adapter produced.

A canonical dict mirrors the XML: ``{"envelope": {"messageId": "…", "to": ["…"]}, "person": {…}, …}``;
leaves are strings exactly as in the XML, an element that may repeat is always a list.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from adapters.kit.problems import NativeProblem
from adapters.kit.text import escape_text

NS = "urn:xianjie:canonical:v1"
_NSB = "{" + NS + "}"
_XS = "{http://www.w3.org/2001/XMLSchema}"

CanonicalDict = dict[str, Any]


@dataclass(frozen=True)
class Child:
    name: str
    repeated: bool
    shape: Shape | None  # None for a leaf


Shape = tuple[Child, ...]


def schema_dir() -> Path:
    from hub.resources import data_dir

    return data_dir("schemas") / "canonical" / "v1"


@cache
def shapes() -> dict[str, Shape]:
    """Each message type's element tree, in XSD sequence order (read once per process)."""
    types: dict[str, etree._Element] = {}
    roots: dict[str, str] = {}
    for path in sorted(schema_dir().glob("*.xsd")):
        doc = etree.parse(str(path))
        for ct in doc.getroot().iter(f"{_XS}complexType"):
            if ct.get("name"):
                types[str(ct.get("name"))] = ct
        for el in doc.getroot().findall(f"{_XS}element"):
            roots[str(el.get("name"))] = str(el.get("type"))

    def build(type_name: str) -> Shape | None:
        ct = types.get(type_name)
        if ct is None:
            return None
        out: list[Child] = []
        for el in ct.iter(f"{_XS}element"):
            max_occurs = el.get("maxOccurs", "1")
            repeated = max_occurs == "unbounded" or int(max_occurs) > 1
            out.append(Child(str(el.get("name")), repeated, build(str(el.get("type")))))
        return tuple(out)

    result: dict[str, Shape] = {}
    for name, type_name in roots.items():
        shape = build(type_name)
        if shape is not None:
            result[name] = shape
    return result


def message_type_of(root: etree._Element) -> str:
    return etree.QName(root).localname


def to_dict(root: etree._Element) -> CanonicalDict:
    """The nested dict of a parsed canonical message (root element given)."""
    shape = shapes()[message_type_of(root)]
    return _read(root, shape)


_INDEX: dict[int, tuple[Shape, dict[str, Child]]] = {}


def _index_of(shape: Shape) -> dict[str, Child]:
    found = _INDEX.get(id(shape))
    if found is None or found[0] is not shape:
        found = _INDEX[id(shape)] = (shape, {c.name: c for c in shape})
    return found[1]


def _read(node: etree._Element, shape: Shape) -> CanonicalDict:
    index = _index_of(shape)
    out: CanonicalDict = {}
    cut = len(_NSB)
    for el in node:
        tag = el.tag
        if not isinstance(tag, str):
            continue
        name = tag[cut:]
        child = index.get(name)
        value: Any
        value = _read(el, child.shape) if child is not None and child.shape is not None else el.text or ""
        if child is not None and child.repeated:
            out.setdefault(name, []).append(value)
        else:
            out[name] = value
    return out


def parse_canonical(raw: bytes) -> tuple[str, CanonicalDict]:
    """Message type and dict of canonical XML bytes (trusted: the hub wrote or validated them)."""
    found = _read_plain(raw)
    if found is not None:
        return found
    from hub.canonical import parse_tree

    root = parse_tree(raw).getroot()
    return message_type_of(root), to_dict(root)


# ---- plain canonical XML, read without building a tree --------------------------------------------------
# What the hub writes and stores is plain: an XML declaration, the root in the default canonical namespace,
# elements without attributes, leaves holding text without references, comments only before the root. Such a
# document is read here by its tags, several times faster than building an lxml tree and walking it; anything
# else (a prefix, an attribute, a comment inside, a CDATA section, a character or entity reference, a carriage
# return, a byte lxml would refuse) is left to lxml, so the result is always what the tree gives.

_DECLARATION = re.compile(r"""<\?xml version=(["'])1\.0\1(?: encoding=(["'])(?:UTF|utf)-8\2)?"""
                          r"""(?: standalone=(["'])(?:yes|no)\3)?[ \t\n]*\?>""")
_COMMENT = re.compile(r"[ \t\n]*<!--[^-]*(?:-[^-]+)*-->")  # no "--" inside, none before the end
_ROOT = re.compile(r"""[ \t\n]*<([A-Za-z][A-Za-z0-9]*) xmlns=(["'])urn:xianjie:canonical:v1\2>""")
# a whole element holding only text, a start tag, or an end tag
_TOKEN = re.compile(r"<([A-Za-z][A-Za-z0-9]*)>([^<]*)</\1>|<([A-Za-z][A-Za-z0-9]*)>|</([A-Za-z][A-Za-z0-9]*)>")
# bytes that are control characters XML 1.0 does not allow, and CR (which parsing turns into LF)
_NOT_CONTROL = bytes(b for b in range(256) if not (b < 0x20 and b not in (0x09, 0x0A)))

# a shape as the reader walks it: child name → (repeated, the same for its children, or None for a leaf)
_Reading = dict[str, tuple[bool, "_Reading | None"]]


@cache
def _reading(message_type: str) -> _Reading:
    def of(shape: Shape) -> _Reading:
        return {c.name: (c.repeated, None if c.shape is None else of(c.shape)) for c in shape}

    return of(shapes()[message_type])


def _read_plain(raw: bytes) -> tuple[str, CanonicalDict] | None:
    """Message type and dict of a plain canonical document, or None when it is not plain (or not of a canonical
    message type), for lxml to read."""
    # (a text of more than 10 MB: lxml's limit, which this reader would not see)
    if b"&" in raw or len(raw) > 10_000_000 or raw.translate(None, _NOT_CONTROL):
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\ufffe" in text or "\uffff" in text or ("]" in text and "]]>" in text):
        return None
    pos = 0
    if text.startswith("<?"):
        decl = _DECLARATION.match(text)
        if decl is None:
            return None
        pos = decl.end()
    while (comment := _COMMENT.match(text, pos)) is not None:
        pos = comment.end()
    root = _ROOT.match(text, pos)
    if root is None:
        return None
    message_type = root.group(1)
    if message_type not in shapes():
        return None
    closing = f"</{message_type}>"
    end = text.rstrip(" \t\n")
    if not end.endswith(closing):
        return None
    inner = end[root.end():len(end) - len(closing)]
    tokens = _TOKEN.findall(inner)
    data: CanonicalDict = {}
    stack: list[tuple[CanonicalDict, _Reading, str]] = []
    cur, index, open_name = data, _reading(message_type), message_type
    leaves = 0
    value: Any
    for leaf, content, start, close in tokens:
        if leaf:  # most tokens: an element with its text
            found = index.get(leaf)
            if found is None:
                return None
            leaves += 1
            value = content if found[1] is None else {}  # an element with children ignores its text
            if found[0]:
                cur.setdefault(leaf, []).append(value)
            else:
                cur[leaf] = value
        elif start:
            found = index.get(start)
            if found is None or found[1] is None:
                return None  # an unknown element, or a leaf holding elements
            value = {}
            if found[0]:
                cur.setdefault(start, []).append(value)
            else:
                cur[start] = value
            stack.append((cur, index, open_name))
            cur, index, open_name = value, found[1], start
        else:
            if close != open_name or not stack:
                return None
            cur, index, open_name = stack.pop()
    # every "<" of the content is one of the tags read (else it is markup this reader leaves to lxml)
    if stack or inner.count("<") != len(tokens) + leaves:
        return None
    return message_type, data


def to_element(message_type: str, data: CanonicalDict) -> etree._Element:
    root = etree.Element(_NSB + message_type, nsmap={None: NS})  # type: ignore[dict-item]
    _write(root, shapes()[message_type], data)
    return root


def to_xml(message_type: str, data: CanonicalDict) -> bytes:
    """Canonical XML bytes (UTF-8, declared, indented) of a canonical dict, elements in schema order.

    Written as text rather than through an element tree: the adapters' hot path, about five times faster.
    Values must be XML characters (the mapping refuses control characters before they get here)."""
    out = ["<?xml version='1.0' encoding='UTF-8'?>\n<", message_type, ' xmlns="', NS, '">']
    _write_text(out, _layout(message_type), data)
    out.append("\n</")
    out.append(message_type)
    out.append(">\n")
    return "".join(out).encode("utf-8")


# a child as written: (name, repeated, layout of its children or None for a leaf, start tag with its indentation,
# end tag (indented for an element with children))
_Written = tuple[str, bool, "tuple[_Written, ...] | None", str, str]


@cache
def _layout(message_type: str) -> tuple[_Written, ...]:
    """The tags of a message type's tree, indentation included, worked out once."""
    def of(shape: Shape, indent: str) -> tuple[_Written, ...]:
        return tuple((c.name, c.repeated, None, f"{indent}<{c.name}>", f"</{c.name}>") if c.shape is None
                     else (c.name, c.repeated, of(c.shape, indent + "  "), f"{indent}<{c.name}>",
                           f"{indent}</{c.name}>")
                     for c in shape)

    return of(shapes()[message_type], "\n  ")


_escape = escape_text


def _write_text(out: list[str], layout: tuple[_Written, ...], data: CanonicalDict) -> None:
    get = data.get
    for name, repeated, children, start, end in layout:
        value = get(name)
        if value is None:
            continue
        if children is None and type(value) is str:  # most elements: a leaf with its text
            if value:
                if "&" in value or "<" in value or ">" in value or "\r" in value:
                    value = _escape(value)
                out.append(start + value + end)
            continue
        for item in value if repeated and type(value) is list else (value,):
            if type(item) is str:
                if not item:
                    continue
            elif item is None or item == "" or item == {}:
                continue
            if children is None:
                out.append(start)
                out.append(_escape(item if type(item) is str else str(item)))
                out.append(end)
            else:
                out.append(start)
                _write_text(out, children, item)
                out.append(end)


def _write(parent: etree._Element, shape: Shape, data: CanonicalDict) -> None:
    for child in shape:
        value = data.get(child.name)
        if value is None:
            continue
        items = value if child.repeated and isinstance(value, list) else [value]
        for item in items:
            if item is None or item == "" or item == {}:
                continue
            el = etree.SubElement(parent, _NSB + child.name)
            if child.shape is not None:
                _write(el, child.shape, item)
            else:
                el.text = str(item)


def get(data: CanonicalDict, path: str) -> Any:
    """The value at ``a/b/c`` (None when any step is missing)."""
    return get_steps(data, _split(path))


def get_steps(data: Any, steps: tuple[str, ...]) -> Any:
    """``get`` with the path already split: only dicts are stepped into."""
    cur: Any = data
    for step in steps:
        if type(cur) is not dict:
            return None
        cur = cur.get(step)
        if cur is None:
            return None
    return cur


@cache
def _split(path: str) -> tuple[str, ...]:
    return tuple(path.split("/"))


def put(data: CanonicalDict, path: str, value: Any) -> None:
    """Set ``a/b/c`` creating the dicts on the way."""
    steps = path.split("/")
    cur = data
    for step in steps[:-1]:
        nxt = cur.get(step)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[step] = nxt
        cur = nxt
    cur[steps[-1]] = value


def xsd_problems(xml: bytes, provenance: Mapping[str, str] | None = None) -> list[NativeProblem]:
    """Problems of canonical XML against the canonical XSD, each located at the native field that produced
    the offending element when ``provenance`` (canonical path → native place) knows it."""
    from hub.canonical import load_schema, readable_path

    doc = etree.fromstring(xml, _parser()).getroottree()
    schema = load_schema()
    if schema.validate(doc):
        return []
    out = []
    for err in schema.error_log:  # type: ignore[attr-defined]
        path = readable_path(doc, err.path)
        out.append(NativeProblem(err.message.replace(_NSB, ""), where=native_place(path, provenance)))
    return out


_local = threading.local()


def _parser() -> etree.XMLParser:
    """The hub's hardened canonical parser, one per thread (a parser is not shared between threads, and making
    one per message costs as much as validating a small one)."""
    found: etree.XMLParser | None = getattr(_local, "parser", None)
    if found is None:
        from hub.canonical import _parser as hub_parser

        found = _local.parser = hub_parser()
    return found


def native_place(path: str | None, provenance: Mapping[str, str] | None) -> str | None:
    """The native place of a canonical element path (``/x:Root/x:person/x:idNumber``): of the element or an
    ancestor, else the common native place of the fields inside it (an element missing a child, such as a
    supervision period with a start and no end), else the canonical path itself, marked as such."""
    if path is None:
        return None
    if provenance:
        probe = path
        while probe:
            if probe in provenance:
                return provenance[probe]
            probe = probe.rsplit("/", 1)[0] if "/" in probe[1:] else ""
        inside = [place for key, place in provenance.items() if key.startswith(path + "/")]
        if inside:
            return _common_place(inside)
    return f"canonical {path}"


def _common_place(places: list[str]) -> str:
    """The deepest native place (``/``-separated) that contains every one of ``places``; one place is itself."""
    common: list[str] = []
    for steps in zip(*(p.split("/") for p in places), strict=False):
        if len(set(steps)) != 1:
            break
        common.append(steps[0])
    return "/".join(common) or places[0]
