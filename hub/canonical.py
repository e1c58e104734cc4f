"""Parse and validate canonical XML: hardened lxml parsing, XSD validation, semantic checks, fact extraction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree

from hub.core.idnumber import check_id_number
from hub.core.model import Canonical
from hub.core.routing import MESSAGE_TYPES
from hub.errors import HostileInput, InvalidMessage, Problem
from hub.resources import canonical_schema_path

NS = "urn:xianjie:canonical:v1"
_N = {"x": NS}

# Facts the router and ledger read: (block, element); block "*" means any body element.
_FACTS = {
    "executionDivision": ("case", "executionDivision"),
    "decidingOrgan": ("case", "decidingOrgan"),
    "correctionType": ("case", "correctionType"),
    "commissioningOrgan": ("*", "commissioningOrgan"),
    "originalCustody": ("*", "originalCustody"),
    "returnCustody": ("*", "returnCustody"),
    "fromDivision": ("*", "fromDivision"),
    "toDivision": ("*", "toDivision"),
    "kind": ("*", "kind"),
    "result": ("*", "result"),
    "status": ("*", "status"),
    "completeness": ("*", "completeness"),
    "receiptOf": ("*", "receiptOf"),
    "ackOf": ("*", "ackOf"),
}
_NSB = "{" + NS + "}"
# (earlier, later) dates that must not be reversed
_DATE_PAIRS = (
    ("x:case/x:supervisionPeriod/x:start", "x:case/x:supervisionPeriod/x:end"),
    ("x:event/x:leave/x:from", "x:event/x:leave/x:to"),
    ("x:custody/x:startedOn", "x:custody/x:endedOn"),
    ("x:opinion/x:requestedOn", "x:opinion/x:repliedOn"),
)
_BLOCKS = frozenset({"envelope", "person", "case"})


def _parser() -> etree.XMLParser:
    # No DTD loading, no entity expansion, no network, no huge trees: parse only.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
        collect_ids=False,
    )


def parse_tree(raw: bytes) -> etree._ElementTree:
    """Parse with the hardened parser (raises XMLSyntaxError)."""
    return etree.fromstring(raw, _parser()).getroottree()


@lru_cache(maxsize=4)
def load_schema(path: Path | None = None) -> etree.XMLSchema:
    """The compiled canonical schema (every message type); compiled once per process."""
    p = path or canonical_schema_path()
    return etree.XMLSchema(etree.parse(str(p)))


@dataclass(frozen=True)
class Parsed:
    canonical: Canonical
    root: etree._Element


def parse(raw: bytes, *, schema: etree.XMLSchema | None = None, today: dt.date | None = None) -> Parsed:
    """Parse, validate and read a canonical message; raises InvalidMessage naming each problem and where."""
    if not raw.strip():
        raise InvalidMessage("empty", "the body is empty", [Problem("no XML document in the body")], 400)
    if b"<!DOCTYPE" in raw[:65536] or b"<!ENTITY" in raw[:65536]:
        raise HostileInput(
            "dtd_forbidden", "document type declarations and entities are not accepted",
            [Problem("<!DOCTYPE>/<!ENTITY> found: canonical messages must not carry a DTD", line=_line_of(raw, b"<!"))],
            400,
        )
    try:
        doc = parse_tree(raw)
    except etree.XMLSyntaxError as e:
        line = e.lineno if isinstance(e.lineno, int) else None
        raise InvalidMessage("not_xml", "the body is not well-formed XML", [Problem(str(e.msg), line=line)], 400) from e
    info: Any = doc.docinfo
    if info.doctype or info.internalDTD is not None:
        raise HostileInput("dtd_forbidden", "document type declarations are not accepted",
                           [Problem("a DOCTYPE was found", line=1)], 400)
    encoding = (info.encoding or "UTF-8").upper()
    if encoding not in ("UTF-8", "UTF8") or raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InvalidMessage("wrong_encoding", "canonical messages are UTF-8",
                             [Problem(f"declared encoding {encoding}; canonical XML must be UTF-8", line=1)], 400)
    root = doc.getroot()
    qname = etree.QName(root)
    if qname.namespace != NS:
        raise InvalidMessage(
            "wrong_namespace", "the root element is not in the canonical namespace",
            [Problem(f"root <{qname.localname}> is in namespace {qname.namespace or '(none)'}; expected {NS}",
                     path=f"/{qname.localname}", line=_line(root))],
        )
    if qname.localname not in MESSAGE_TYPES:
        raise InvalidMessage(
            "unknown_type", f"{qname.localname} is not a canonical message type",
            [Problem(f"unknown root element {qname.localname}", path=f"/{qname.localname}", line=_line(root))],
        )
    xsd = schema if schema is not None else load_schema()
    if not xsd.validate(doc):
        problems = [Problem(_clean(err.message), path=readable_path(doc, err.path), line=err.line)
                    for err in xsd.error_log]  # type: ignore[attr-defined]
        raise InvalidMessage("schema_invalid", f"{qname.localname} does not match the canonical schema", problems)
    canonical = _read(root, qname.localname)
    _check_semantics(root, canonical, today=today)
    return Parsed(canonical, root)


def _clean(message: str) -> str:
    return message.replace("{" + NS + "}", "")


def _line_of(raw: bytes, needle: bytes) -> int:
    return raw[: max(raw.find(needle), 0)].count(b"\n") + 1


def element_path(node: etree._Element) -> str:
    """An XPath naming each step, e.g. /x:SentencingDecision/x:person/x:idNumber, where x is the canonical
    namespace ([n] only among same-named siblings)."""
    steps = []
    cur: etree._Element | None = node
    while cur is not None:
        q = etree.QName(cur)
        name = f"x:{q.localname}" if q.namespace == NS else q.localname
        parent = cur.getparent()
        step = name
        if parent is not None:
            same = [c for c in parent if isinstance(c.tag, str) and c.tag == cur.tag]
            if len(same) > 1:
                step = f"{name}[{same.index(cur) + 1}]"
        steps.append(step)
        cur = parent
    return "/" + "/".join(reversed(steps))


def readable_path(doc: etree._ElementTree, path: str | None) -> str | None:
    """lxml's schema error path (``/*/*[2]``) rewritten with element names."""
    if not path:
        return path
    try:
        found = doc.xpath(path)
    except etree.XPathError:
        return path
    if isinstance(found, list) and found and isinstance(found[0], etree._Element):
        return element_path(found[0])
    return path


def _line(node: etree._Element | None) -> int | None:
    return node.sourceline if node is not None and isinstance(node.sourceline, int) else None


def _index(root: etree._Element) -> dict[str, list[str]]:
    """Texts of the root's grandchildren by "block/element" (one pass; body blocks also under "*")."""
    out: dict[str, list[str]] = {}
    cut = len(_NSB)
    for block in root:
        btag = block.tag
        if not isinstance(btag, str):
            continue
        bname = btag[cut:]
        for el in block:
            tag = el.tag
            if not isinstance(tag, str) or el.text is None:
                continue
            name = tag[cut:]
            text = el.text.strip()
            out.setdefault(f"{bname}/{name}", []).append(text)
            if bname not in _BLOCKS:
                out.setdefault(f"*/{name}", []).append(text)
    return out


def _sent_at(root: etree._Element, text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return value.astimezone(dt.UTC)
    except (ValueError, OverflowError) as e:
        node = root.find("x:envelope/x:sentAt", _N)
        raise InvalidMessage("semantic_invalid", "sentAt is not a usable point in time", [
            Problem(f"sentAt {text!r} cannot be converted to UTC: {e}",
                    path=element_path(node) if node is not None else None, line=_line(node))]) from e


def _read(root: etree._Element, msg_type: str) -> Canonical:
    idx = _index(root)

    def one(key: str) -> str | None:
        v = idx.get(key)
        return v[0] if v else None

    facts = {k: v[0] for k, (block, name) in _FACTS.items() if (v := idx.get(f"{block}/{name}"))}
    return Canonical(
        message_id=one("envelope/messageId") or "",
        message_type=msg_type,
        sender=one("envelope/sender") or "",
        to=tuple(idx.get("envelope/to", ())),
        cc=tuple(idx.get("envelope/cc", ())),
        sent_at=_sent_at(root, one("envelope/sentAt") or ""),
        sender_document_id=one("envelope/senderDocumentId") or "",
        correlation_id=one("envelope/correlationId"),
        causation_id=one("envelope/causationId"),
        person_ref=one("envelope/personRef"),
        person_name=one("person/name"),
        id_number=one("person/idNumber"),
        case_number=one("case/caseNumber"),
        facts=facts,
        envelope_type=one("envelope/messageType"),
        birth_date=one("person/birthDate"),
        sex=one("person/sex"),
    )


def _check_semantics(root: etree._Element, c: Canonical, *, today: dt.date | None) -> None:
    problems: list[Problem] = []
    def where(path: str) -> tuple[str | None, int | None]:
        node = root.find(path, _N)
        return (element_path(node), _line(node)) if node is not None else (None, None)

    if c.envelope_type != c.message_type:
        path, line = where("x:envelope/x:messageType")
        problems.append(Problem(f"envelope messageType {c.envelope_type} differs from the root element "
                                f"{c.message_type}", path=path, line=line))
    if c.id_number:
        chk = check_id_number(c.id_number, today=today)
        if not chk.ok:
            path, line = where("x:person/x:idNumber")
            problems.append(Problem(str(chk.problem), path=path, line=line))
        elif c.birth_date and chk.birth_date and c.birth_date != chk.birth_date.isoformat():
            path, line = where("x:person/x:birthDate")
            problems.append(Problem(f"birthDate {c.birth_date} differs from the ID number's "
                                    f"{chk.birth_date.isoformat()}", path=path, line=line))
        if chk.ok and chk.male is not None and c.sex in ("MALE", "FEMALE") and chk.male != (c.sex == "MALE"):
            path, line = where("x:person/x:sex")
            problems.append(Problem(f"sex {c.sex} contradicts the ID number's sequence digit "
                                    f"({'odd: male' if chk.male else 'even: female'})", path=path, line=line))
    if c.message_type == "DocumentReceipt":
        incomplete = c.facts.get("completeness") == "INCOMPLETE"
        has_missing = root.find("x:receipt/x:missing", _N) is not None
        if incomplete != has_missing:
            path, line = where("x:receipt/x:completeness")
            problems.append(Problem("completeness is INCOMPLETE exactly when missing documents are listed "
                                    f"(completeness {c.facts.get('completeness')}, "
                                    f"{'with' if has_missing else 'without'} missing entries)", path=path, line=line))
    if c.message_type == "TransferOpinion":
        kind = c.facts.get("kind")
        for name in ("conclusion", "repliedOn"):
            if kind == "REPLY" and root.find(f"x:opinion/x:{name}", _N) is None:
                path, line = where("x:opinion/x:kind")
                problems.append(Problem(f"a REPLY names its {name}", path=path, line=line))
        if root.findtext("x:opinion/x:fromDivision", namespaces=_N) == root.findtext("x:opinion/x:toDivision",
                                                                                      namespaces=_N):
            path, line = where("x:opinion/x:toDivision")
            problems.append(Problem("toDivision is the county the person would move to, not fromDivision",
                                    path=path, line=line))
    for first, last in _DATE_PAIRS:
        a, b = root.find(first, _N), root.find(last, _N)
        if a is not None and b is not None and a.text and b.text and a.text.strip() > b.text.strip():
            problems.append(Problem(f"{etree.QName(a).localname} {a.text.strip()} is after "
                                    f"{etree.QName(b).localname} {b.text.strip()}", path=element_path(b),
                                    line=_line(b)))
    if problems:
        raise InvalidMessage("semantic_invalid", f"{c.message_type} fails the hub's checks", problems)
