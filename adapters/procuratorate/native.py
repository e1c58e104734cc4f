"""The JCJH batch (检察业务应用系统 数据交换包): read, check against ``jcjh.xsd``, split, write.

A batch is ``<JCJH BBH="1.0">`` with a header ``<BT>`` (batch id, sending organ, send time, notice count)
and one ``<TZ XH="n" LX="type code">`` per notice. A notice is a flat list of coded fields
``<ZD DM="XM">杨国富</ZD>``; repeated items (document lists, missing documents) are a field group
``<ZDZ DM="WSQD">`` of items ``<ZX XH="1">`` holding coded fields of their own. Native places are
written as XPath with the field code, e.g. ``/JCJH/TZ[2]/ZD[@DM='CSRQ']`` or
``/JCJH/TZ[1]/ZDZ[@DM='WSQD']/ZX[2]/ZD[@DM='WSLB']``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lxml import etree

from adapters.kit import mapping, nativexml
from adapters.kit.pipeline import NativeRecord
from adapters.kit.problems import NativeError, NativeProblem
from adapters.kit.text import escape_text

SYSTEM = "procuratorate"
XSD = "jcjh.xsd"
VERSION = "1.0"
ENCODING = "UTF-8"
ROOT, HEADER, NOTICE, FIELD, GROUP, ITEM = "JCJH", "BT", "TZ", "ZD", "ZDZ", "ZX"
HEADER_TIME = mapping.DateTime("%Y-%m-%d %H:%M:%S")

_STEP = re.compile(r"^([A-Z0-9]+)(?:\[(\d+)\])?$")


@dataclass(frozen=True)
class Header:
    """The batch header (报头): 批次号, 发送单位, 接收单位 (optional), 发送时间 (Beijing time, as written)."""

    batch_id: str
    sender: str
    sent_at: str
    receiver: str | None = None


@dataclass(frozen=True)
class Batch:
    header: Header
    records: list[NativeRecord]


def notice_path(number: int) -> str:
    return f"/{ROOT}/{NOTICE}[{number}]"


def place_of(node: etree._Element) -> str:
    """The native place of an element: notices and items by position, fields and groups by their code."""
    steps: list[str] = []
    cur: etree._Element | None = node
    while cur is not None:
        name = str(cur.tag)
        parent = cur.getparent()
        same = [c for c in parent if c.tag == cur.tag] if parent is not None else [cur]
        if name in (FIELD, GROUP):
            steps.append(f"{name}[@DM='{cur.get('DM', '')}']")
        elif name in (NOTICE, ITEM) or len(same) > 1:
            steps.append(f"{name}[{same.index(cur) + 1}]")
        else:
            steps.append(name)
        cur = parent
    return "/" + "/".join(reversed(steps))


def locator(number: int, groups: frozenset[str]) -> mapping.Locate:
    """Native places of the kit's field paths (``XM``, ``WSQD[2]/WSMC``, ``WSQD``) within notice ``number``."""
    base = notice_path(number)

    def locate(path: str) -> str:
        if not path:
            return base
        out = base
        steps = path.split("/")
        for i, step in enumerate(steps):
            m = _STEP.match(step)
            name, index = (m.group(1), m.group(2)) if m else (step, None)
            if name in groups and i < len(steps) - 1:
                out += f"/{GROUP}[@DM='{name}']/{ITEM}[{index or 1}]"
            elif name in groups:
                out += f"/{GROUP}[@DM='{name}']" + (f"/{ITEM}[{index}]" if index else "")
            else:
                out += f"/{FIELD}[@DM='{name}']"
        return out

    return locate


def _fields(node: etree._Element) -> dict[str, Any]:
    """Coded fields of a notice or item as nested data: field code → text, group code → list of items."""
    out: dict[str, Any] = {}
    for el in node:
        if el.tag == FIELD:
            out[str(el.get("DM"))] = el.text or ""
        elif el.tag == GROUP:
            out[str(el.get("DM"))] = [_fields(item) for item in el if item.tag == ITEM]
    return out


# what libxml2 adds to an enumeration error when the value also takes part in a uniqueness constraint
_IDC_ECHO = "No precomputed value available"


def _relocated(errors: list[tuple[etree._Element | None, NativeProblem]]
               ) -> list[tuple[etree._Element | None, NativeProblem]]:
    """Schema errors placed by field code, without libxml2's echo of an error already reported."""
    return [(node, NativeProblem(p.reason, place_of(node), p.line) if node is not None else p)
            for node, p in errors if _IDC_ECHO not in p.reason]


def _header_texts(root: etree._Element) -> dict[object, str | None]:
    """The trimmed text (None when empty) of the first header element of each name, in one walk."""
    out: dict[object, str | None] = {}
    for bt in root.iterchildren(HEADER):
        for el in bt:
            if el.tag not in out:
                out[el.tag] = el.text.strip() if el.text else None
    return out


def read(payload: bytes, groups: frozenset[str]) -> Batch:
    """The header and notices of a JCJH batch; NativeError when the batch as a whole is unreadable (encoding,
    not well-formed, not a JCJH batch, header or frame against the schema, notice count wrong). A notice that
    breaks the schema becomes a NativeRecord carrying its problems; the others are unaffected."""
    root = nativexml.parse(payload)
    if root.tag != ROOT:
        raise NativeError("not_jcjh", f"the root element is <{root.tag}>, not <{ROOT}> (检察数据交换包)",
                          [NativeProblem(f"expected <{ROOT}> as the root element", where=f"/{root.tag}")])
    notices = [el for el in root if el.tag == NOTICE]
    errors = _relocated(nativexml.schema_errors(root, nativexml.load_xsd(SYSTEM, XSD)))
    by_notice, frame = nativexml.split_errors(errors, notices)
    if frame:
        raise NativeError("schema", "the batch header or frame does not match the JCJH schema", frame)
    texts = _header_texts(root)
    header = Header(batch_id=texts.get("PCH") or "", sender=texts.get("FSDW") or "",
                    sent_at=texts.get("FSSJ") or "", receiver=texts.get("JSDW"))
    count = int(texts.get("TZS") or "0")
    if count != len(notices):
        raise NativeError("count_mismatch", f"the header announces {count} notices but the batch holds {len(notices)}",
                          [NativeProblem(f"通知数 TZS is {count}, but there are {len(notices)} <{NOTICE}> elements",
                                         where=f"/{ROOT}/{HEADER}/TZS")])
    try:
        sent_at = HEADER_TIME.inbound(header.sent_at)
    except ValueError as e:
        raise NativeError("bad_header", f"the batch send time is not a time: {e}",
                          [NativeProblem(f"发送时间 (FSSJ): {e}", where=f"/{ROOT}/{HEADER}/FSSJ")]) from None
    # the header's sending organ and time stand in for a notice that names neither
    envelope = {"sender": header.sender, "sentAt": sent_at}
    records = []
    for i, tz in enumerate(notices):
        number = i + 1
        records.append(NativeRecord(
            number=number,
            where=notice_path(number),
            native_type=tz.get("LX"),
            data=_fields(tz),
            locate=locator(number, groups),
            problems=tuple(by_notice.get(i, ())),
            raw=etree.tostring(tz, encoding="UTF-8"),
            envelope=envelope,
        ))
    return Batch(header, records)


def write(header: Header, notices: Sequence[tuple[str, Mapping[str, Any]]]) -> bytes:
    """A JCJH batch in UTF-8 of (type code, native data) notices, fields in the order given."""
    # written as text (the same bytes lxml writes for the tree below, a fraction of the time); a value XML
    # cannot carry is left to lxml, which refuses it
    found = nativexml.encode_text(_text_of(header, notices), ENCODING)
    return found if found is not None else _write_tree(header, notices)


def _text_of(header: Header, notices: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    text, attr = escape_text, nativexml.escape_attribute
    out = [f"<?xml version='1.0' encoding='{ENCODING}'?>\n<{ROOT} BBH=\"{VERSION}\">\n  <{HEADER}>",
           f"\n    <PCH>{text(header.batch_id)}</PCH>\n    <FSDW>{text(header.sender)}</FSDW>"]
    if header.receiver:
        out.append(f"\n    <JSDW>{text(header.receiver)}</JSDW>")
    out.append(f"\n    <FSSJ>{text(header.sent_at)}</FSSJ>\n    <TZS>{len(notices)}</TZS>\n  </{HEADER}>")
    for n, (code, data) in enumerate(notices, start=1):
        out.append(f'\n  <{NOTICE} XH="{n}" LX="{attr(code)}"')
        if not data:
            out.append("/>")
            continue
        out.append(">")
        for name, value in data.items():
            if isinstance(value, list):
                if not value:
                    out.append(f'\n    <{GROUP} DM="{attr(name)}"/>')
                    continue
                out.append(f'\n    <{GROUP} DM="{attr(name)}">')
                for k, item in enumerate(value, start=1):
                    if not item:
                        out.append(f'\n      <{ITEM} XH="{k}"/>')
                        continue
                    out.append(f'\n      <{ITEM} XH="{k}">')
                    out.extend(f'\n        <{FIELD} DM="{attr(sub)}">{text(str(v))}</{FIELD}>'
                               for sub, v in item.items())
                    out.append(f"\n      </{ITEM}>")
                out.append(f"\n    </{GROUP}>")
            else:
                out.append(f'\n    <{FIELD} DM="{attr(name)}">{text(str(value))}</{FIELD}>')
        out.append(f"\n  </{NOTICE}>")
    out.append(f"\n</{ROOT}>\n")
    return "".join(out)


def _write_tree(header: Header, notices: Sequence[tuple[str, Mapping[str, Any]]]) -> bytes:
    root = etree.Element(ROOT, BBH=VERSION)
    bt = etree.SubElement(root, HEADER)
    etree.SubElement(bt, "PCH").text = header.batch_id
    etree.SubElement(bt, "FSDW").text = header.sender
    if header.receiver:
        etree.SubElement(bt, "JSDW").text = header.receiver
    etree.SubElement(bt, "FSSJ").text = header.sent_at
    etree.SubElement(bt, "TZS").text = str(len(notices))
    for n, (code, data) in enumerate(notices, start=1):
        tz = etree.SubElement(root, NOTICE, XH=str(n), LX=code)
        for name, value in data.items():
            if isinstance(value, list):
                group = etree.SubElement(tz, GROUP, DM=name)
                for k, item in enumerate(value, start=1):
                    zx = etree.SubElement(group, ITEM, XH=str(k))
                    for sub, text in item.items():
                        etree.SubElement(zx, FIELD, DM=sub).text = str(text)
            else:
                etree.SubElement(tz, FIELD, DM=name).text = str(value)
    return nativexml.serialise(root, ENCODING)
