"""Native XML: hardened parsing with the encoding checked, validation against the agency's own XSD with
each error placed on its record, element ↔ nested data, and writing in the declared encoding."""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from adapters.kit.problems import NativeError, NativeProblem
from adapters.kit.text import check_xml_encoding, escape_text


def agency_schema_dir(system: str) -> Path:
    from hub.resources import data_dir

    return data_dir("schemas") / "agencies" / system


@cache
def load_xsd(system: str, filename: str) -> etree.XMLSchema:
    """An agency's native XSD, compiled once per process."""
    return etree.XMLSchema(etree.parse(str(agency_schema_dir(system) / filename)))


_local = threading.local()


def _parser() -> etree.XMLParser:
    # one per thread, made once: a parser is not shared between threads, and making one costs about as much as
    # parsing a small payload
    found: etree.XMLParser | None = getattr(_local, "parser", None)
    if found is None:
        found = _local.parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                                                huge_tree=False, remove_blank_text=True, collect_ids=False)
    return found


def parse(data: bytes) -> etree._Element:
    """The root of a native XML payload; NativeError for hostile, mis-encoded or malformed input."""
    if not data or data.isspace():
        raise NativeError("empty", "the payload is empty")
    head = data[:65536]
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
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


def paths_of(nodes: Sequence[etree._Element]) -> list[str]:
    """``path_of`` of each node, each parent's path and its children's positions worked out once (a batch of n
    records costs n steps, not n²)."""
    if len(nodes) == 1:  # a payload of one record: nothing to share
        return [path_of(nodes[0])]
    parents: dict[etree._Element, tuple[str, dict[int, str]]] = {}
    out: list[str] = []
    for node in nodes:
        parent = node.getparent()
        if parent is None:
            out.append(path_of(node))
            continue
        found = parents.get(parent)
        if found is None:
            counts: dict[object, int] = {}
            for c in parent:
                counts[c.tag] = counts.get(c.tag, 0) + 1
            seen: dict[object, int] = {}
            steps: dict[int, str] = {}
            for c in parent:
                n = seen[c.tag] = seen.get(c.tag, 0) + 1
                if isinstance(c.tag, str):
                    name = etree.QName(c).localname
                    steps[id(c)] = f"{name}[{n}]" if counts[c.tag] > 1 else name
            found = parents[parent] = (path_of(parent), steps)
        out.append(f"{found[0]}/{found[1][id(node)]}")
    return out


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
        tag = el.tag
        name = _LOCAL_NAMES.get(tag)
        if name is None:
            if type(tag) is not str:
                continue  # a comment or processing instruction
            name = tag[tag.index("}") + 1:] if tag[0] == "{" else tag
            if len(_LOCAL_NAMES) < 4096:  # a format has a few hundred names; a hostile payload may have any
                _LOCAL_NAMES[tag] = name
        value: Any = to_data(el) if len(el) else (el.text or "")
        prior = out.get(name)
        if prior is None:
            out[name] = value
        elif isinstance(prior, list):
            prior.append(value)
        else:
            out[name] = [prior, value]
    return out


# element tag (Clark notation) → local name: slicing the namespace off every element costs more than the lookup
_LOCAL_NAMES: dict[object, str] = {}


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


# ---- writing as text ------------------------------------------------------------------------------------
# Building an lxml tree element by element and serialising it is most of what an encoder costs; the same bytes
# are written here as text. ``to_text`` gives exactly what ``serialise`` gives for the tree ``build`` makes
# (tests compare the two); a document this writer cannot vouch for (a name that may not be an XML name, a
# character XML cannot carry) is built with lxml instead, which also raises lxml's own errors for it.

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


def to_text(tag: str, children: Mapping[str, Any], *, namespace: str | None = None,
            attributes: Mapping[str, str] | None = None, encoding: str = "UTF-8") -> bytes:
    """``serialise(root, encoding)`` of a root element ``tag`` (in the default ``namespace``, with ``attributes``)
    holding ``build(root, children, namespace)``, written without building the tree."""
    out = [f"<?xml version='1.0' encoding='{encoding}'?>\n<{tag}"]
    if namespace:
        out.append(f' xmlns="{escape_attribute(namespace)}"')
    for name, value in (attributes or {}).items():
        out.append(f' {name}="{escape_attribute(value)}"')
    plain = _NAME.fullmatch(tag) is not None and all(_NAME.fullmatch(k) for k in attributes or ())
    if plain:
        out.append(">")
        mark = len(out)
        plain = _write(out, children, "\n  ")
        if len(out) == mark:  # no element inside: an empty root
            out[mark - 1] = "/>\n"
        else:
            out.append(f"\n</{tag}>\n")
    if plain:
        found = encode_text("".join(out), encoding)
        if found is not None:
            return found
    root = etree.Element(f"{{{namespace}}}{tag}" if namespace else tag, dict(attributes or {}),
                         nsmap={None: namespace} if namespace else None)  # type: ignore[dict-item]
    build(root, children, namespace)
    return serialise(root, encoding)


def _write(out: list[str], data: Mapping[str, Any], indent: str) -> bool:
    """Append ``data`` as ``build`` lays it out; False when a name may not be an XML name."""
    if not _NAMES_SEEN.issuperset(data):
        for name in data:
            if name not in _NAMES_SEEN:
                if _NAME.fullmatch(name) is None:
                    return False
                if len(_NAMES_SEEN) < 10_000:  # a format has a few hundred names; a hostile one may have any
                    _NAMES_SEEN.add(name)
    for name, value in data.items():
        if type(value) is str:  # most elements: one with text
            if "&" in value or "<" in value or ">" in value or "\r" in value:
                value = escape_text(value)
            out.append(f"{indent}<{name}>{value}</{name}>")
            continue
        for item in value if type(value) is list else (value,):
            if type(item) is str:
                if "&" in item or "<" in item or ">" in item or "\r" in item:
                    item = escape_text(item)
                out.append(f"{indent}<{name}>{item}</{name}>")
            elif type(item) is dict or isinstance(item, Mapping):
                out.append(f"{indent}<{name}>")
                mark = len(out)
                if not _write(out, item, indent + "  "):
                    return False
                if len(out) == mark:  # no element inside (no members, or only empty lists): an empty element
                    out[mark - 1] = f"{indent}<{name}/>"
                else:
                    out.append(f"{indent}</{name}>")
            else:
                out.append(f"{indent}<{name}>{escape_text(str(item))}</{name}>")
    return True


_NAMES_SEEN: set[str] = set()


def escape_attribute(value: str) -> str:
    """An attribute value as libxml2 writes it between double quotes."""
    value = escape_text(value)
    if '"' in value:
        value = value.replace('"', "&quot;")
    if "\n" in value:
        value = value.replace("\n", "&#10;")
    if "\t" in value:
        value = value.replace("\t", "&#9;")
    return value


# control characters XML 1.0 does not allow (lxml refuses them in a tree): as bytes, they are the same in
# UTF-8 and GB18030, whose multi-byte sequences never use a byte below 0x30
_NOT_BAD_CONTROL = bytes(b for b in range(256) if not (b < 0x20 and b not in (0x09, 0x0A, 0x0D)))


def encode_text(text: str, encoding: str) -> bytes | None:
    """``text`` encoded as lxml encodes a document in ``encoding`` (UTF-8 or GB18030), or None when it holds a
    character XML cannot carry (or the encoding is another), for lxml to deal with."""
    if "\ufffe" in text or "\uffff" in text:
        return None
    try:
        if encoding in ("UTF-8", "utf-8"):
            out = text.encode("utf-8")
        elif encoding == "GB18030":
            out = _gb18030(text)
        else:
            return None
    except UnicodeEncodeError:  # a lone surrogate
        return None
    return None if out.translate(None, _NOT_BAD_CONTROL) else out


# The characters whose GB18030 bytes differ between Python's codec and the converter libxml2 uses (editions of
# the standard map them differently); a test checks this list against every code point.
GB18030_DIFFERENT = "\u1e3f\u9fb4\u9fb5\u9fb6\u9fb7\u9fb8\u9fb9\u9fba\u9fbb\ue7c7\ue816\ue817\ue818\ue831\ue83b\ue855" \
    "\ufe10\ufe11\ufe12\ufe13\ufe14\ufe15\ufe16\ufe17\ufe18\ufe19"
_GB18030_DIFFERENT = re.compile(f"[{GB18030_DIFFERENT}]")


def _gb18030(text: str) -> bytes:
    # a search for each character is a fast scan; a regular expression of them all steps through every character
    if not any(c in text for c in GB18030_DIFFERENT):
        return text.encode("gb18030")
    table = _libxml2_gb18030()
    out: list[bytes] = []
    last = 0
    for m in _GB18030_DIFFERENT.finditer(text):
        out.append(text[last:m.start()].encode("gb18030"))
        out.append(table[m.group()])
        last = m.end()
    out.append(text[last:].encode("gb18030"))
    return b"".join(out)


@cache
def _libxml2_gb18030() -> dict[str, bytes]:
    """The GB18030 bytes libxml2 writes for each of ``GB18030_DIFFERENT``, asked of lxml itself."""
    root = etree.Element("x")
    out: dict[str, bytes] = {}
    for c in GB18030_DIFFERENT:
        root.text = c
        written = etree.tostring(root, encoding="GB18030", xml_declaration=False)
        assert isinstance(written, bytes) and written.startswith(b"<x>") and written.endswith(b"</x>")
        out[c] = written[3:-4]
    return out
