"""The bureau's exchange message (交换报文 <JHBW>): reading, checking against jhbw.xsd, splitting into records,
and writing.

A payload is checked against the native schema before anything is read from it. A schema error inside
record <SJX> n rejects record n only; an error in the header <BWTX> or in the frame (no records, wrong root,
record count 记录数 not matching) rejects the whole payload with a NativeError.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lxml import etree

from adapters.bureau.mapping import TIME
from adapters.kit import nativexml
from adapters.kit.mapping import Locate
from adapters.kit.pipeline import NativeRecord
from adapters.kit.problems import NativeError, NativeProblem

SYSTEM = "bureau"
NS = "urn:sqjz:exchange:1"
XSD = "jhbw.xsd"
VERSION = "1.0"
# what the bureau's system writes; GB18030 is accepted inbound when declared
ENCODING = "UTF-8"


def q(name: str) -> str:
    """The qualified tag of a native element."""
    return f"{{{NS}}}{name}"


def schema() -> etree.XMLSchema:
    return nativexml.load_xsd(SYSTEM, XSD)


@dataclass(frozen=True)
class Header:
    """The header <BWTX> (报文头): batch number, sending organ, sending time (native form), record count."""

    batch_id: str
    sender: str
    sent_at: str
    count: int
    sender_name: str | None = None
    recipient: str | None = None

    def as_native(self) -> dict[str, Any]:
        out: dict[str, Any] = {"BWBH": self.batch_id, "BBH": VERSION, "FSDW": self.sender}
        if self.sender_name:
            out["FSDWMC"] = self.sender_name
        if self.recipient:
            out["JSDW"] = self.recipient
        out["FSSJ"] = self.sent_at
        out["JLS"] = str(self.count)
        return out


def _locator(where: str) -> Locate:
    def locate(path: str) -> str:
        return f"{where}/{path}" if path else where

    return locate


def read(data: bytes) -> list[NativeRecord]:
    """The records of a payload, each with its own schema problems; NativeError when the payload as a whole
    cannot be read (encoding, DTD, not well-formed, not a <JHBW>, broken header or frame)."""
    root = nativexml.parse(data)
    if root.tag != q("JHBW"):
        found = etree.QName(root)
        raise NativeError("native_invalid", "the payload is not a bureau exchange message <JHBW>", [NativeProblem(
            f"root element <{found.localname}> in namespace {found.namespace or '(none)'}: expected <JHBW "
            f'xmlns="{NS}">', where=f"/{found.localname}",
            line=root.sourceline if isinstance(root.sourceline, int) else None)])
    records = root.findall(q("SJX"))
    by_record, frame = nativexml.split_errors(nativexml.schema_errors(root, schema()), records)
    if frame:
        raise NativeError("native_invalid", f"the header or frame of the exchange message does not match {XSD}",
                          frame)
    header_el = root.find(q("BWTX"))
    assert header_el is not None  # the schema requires it
    header = nativexml.to_data(header_el)
    if int(header["JLS"]) != len(records):
        raise NativeError("native_invalid", "the record count in the header does not match the records", [
            NativeProblem(f"记录数 JLS is {header['JLS']} but the message has {len(records)} <SJX> records",
                          where="/JHBW/BWTX/JLS")])
    try:
        sent_at = TIME.inbound(header["FSSJ"])
    except ValueError as e:
        raise NativeError("native_invalid", "the header's sending time is not a time",
                          [NativeProblem(f"发送时间 (FSSJ): {e}", where="/JHBW/BWTX/FSSJ")]) from None
    envelope = {"sender": str(header["FSDW"]), "sentAt": sent_at}
    out = []
    for i, (el, where) in enumerate(zip(records, nativexml.paths_of(records), strict=True)):
        code = el.findtext(q("YWLX"))
        out.append(NativeRecord(
            number=i + 1, where=where, native_type=code.strip() if code and code.strip() else None,
            data=nativexml.to_data(el), locate=_locator(where), problems=tuple(by_record.get(i, ())),
            raw=etree.tostring(el, encoding="UTF-8"), envelope=envelope))
    return out


def write(header: Header, records: Sequence[tuple[str, Mapping[str, Any]]]) -> bytes:
    """A <JHBW> with the header and one <SJX> per (business type code, record data).

    Not validated against jhbw.xsd here: checking every message would cost about a third of encoding it, and
    what the mapping writes from a valid canonical message is valid (the tests check every golden and generated
    message against the schema)."""
    return nativexml.to_text("JHBW", {"BWTX": header.as_native(), "SJX": [{"YWLX": code, **data}
                                                                           for code, data in records]},
                             namespace=NS, encoding=ENCODING)
