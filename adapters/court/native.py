"""The court's exchange batch (数据报文) as XML: read, check against schemas/agencies/court/court.xsd, split
into records, and write.

    <SJBW BBH="1.0">                 数据报文
      <BWT>                          报文头: BWID 报文标识, FSDW 发送单位, FSSJ 发送时间, JLS 记录数
      <JL> … </JL>                   记录, one per document (1–1000)
    </SJBW>

The court writes GB18030; UTF-8 (with or without a byte-order mark) and GB18030 are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lxml import etree

from adapters.kit import nativexml
from adapters.kit.mapping import Locate
from adapters.kit.pipeline import NativeRecord
from adapters.kit.problems import NativeError, NativeProblem

from .mapping import SEND_TIME

SYSTEM = "court"
XSD = "court.xsd"
ROOT = "SJBW"
HEADER = "BWT"
RECORD = "JL"
TYPE = "WSLXDM"
VERSION = "1.0"
ENCODING = "GB18030"


def _text(node: etree._Element | None) -> str:
    return (node.text or "").strip() if node is not None else ""


def _line(node: etree._Element | None) -> int | None:
    line = node.sourceline if node is not None else None
    return line if isinstance(line, int) else None


def _locator(where: str) -> Locate:
    def locate(native_path: str) -> str:
        # the record itself is reported at its document type code: the only problem placed on "" is an
        # unknown or unexpected type
        return f"{where}/{native_path}" if native_path else f"{where}/{TYPE}"
    return locate


def read_batch(data: bytes) -> list[NativeRecord]:
    """The records of a batch, each with its own schema problems; NativeError when the payload as a whole
    is unreadable (encoding, DTD, not well-formed, not a court batch, a broken header or frame)."""
    root = nativexml.parse(data)
    if not isinstance(root.tag, str) or etree.QName(root).localname != ROOT or etree.QName(root).namespace:
        raise NativeError("not_court_batch", f"the payload is not a court exchange batch <{ROOT}>",
                          [NativeProblem(f"root element is <{etree.QName(root).text}>, expected <{ROOT}> "
                                         "without a namespace", where=nativexml.path_of(root),
                                         line=_line(root))])
    records = [el for el in root if el.tag == RECORD]
    errors = nativexml.schema_errors(root, nativexml.load_xsd(SYSTEM, XSD))
    by_record, frame = nativexml.split_errors(errors, records)
    if frame:
        raise NativeError("native_schema", "the batch header or frame does not match the court schema", frame)
    header = root.find(HEADER)
    assert header is not None  # the schema requires it
    envelope = _header_envelope(header)
    declared = int(_text(header.find("JLS")))
    if declared != len(records):
        count = header.find("JLS")
        raise NativeError("record_count", f"the header announces {declared} records but the batch has {len(records)}",
                          [NativeProblem(f"记录数 JLS = {declared}, but there are {len(records)} <{RECORD}> records",
                                         where=nativexml.path_of(count) if count is not None else None,
                                         line=_line(count))])
    out = []
    for i, (el, where) in enumerate(zip(records, nativexml.paths_of(records), strict=True)):
        out.append(NativeRecord(
            number=i + 1,
            where=where,
            native_type=_text(el.find(TYPE)) or None,
            data=nativexml.to_data(el),
            locate=_locator(where),
            problems=tuple(by_record.get(i, ())),
            raw=etree.tostring(el, encoding="UTF-8"),
            envelope=envelope,
        ))
    return out


def _header_envelope(header: etree._Element) -> dict[str, str]:
    """Canonical envelope values the header gives every record: sender and sending time."""
    sent = header.find("FSSJ")
    try:
        sent_at = SEND_TIME.inbound(_text(sent))
    except ValueError as e:
        raise NativeError("native_header", "the batch header's send time is not a valid time",
                          [NativeProblem(f"发送时间 (FSSJ): {e}", where=nativexml.path_of(sent) if sent is not None
                                         else None)]) from None
    return {"sender": _text(header.find("FSDW")), "sentAt": sent_at}


def write_batch(*, batch_id: str, sender: str, sent_at: str, native_type: str, record: Mapping[str, Any]) -> bytes:
    """A batch of one record, in GB18030 (``sent_at`` is canonical ISO 8601 with offset)."""
    return nativexml.to_text(ROOT, {HEADER: {"BWID": batch_id, "FSDW": sender, "FSSJ": SEND_TIME.outbound(sent_at),
                                             "JLS": "1"},
                                    RECORD: {TYPE: native_type, **record}},
                             attributes={"BBH": VERSION}, encoding=ENCODING)
