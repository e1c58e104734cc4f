"""Parse and validate canonical XML: hardened lxml parsing, XSD validation, semantic checks, fact extraction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from lxml import etree

from hub.core.idnumber import check_id_number
from hub.core.model import Canonical
from hub.core.routing import MESSAGE_TYPES
from hub.errors import HostileInput, InvalidMessage, Problem
from hub.resources import canonical_schema_path

NS = "urn:xianjie:canonical:v1"
_N = {"x": NS}

# Facts the router and ledger read from a body, wherever they sit under the root.
_FACT_PATHS = {
    "executionDivision": "x:case/x:executionDivision",
    "decidingOrgan": "x:case/x:decidingOrgan",
    "correctionType": "x:case/x:correctionType",
    "commissioningOrgan": "*/x:commissioningOrgan",
    "originalCustody": "*/x:originalCustody",
    "returnCustody": "*/x:returnCustody",
    "fromDivision": "*/x:fromDivision",
    "toDivision": "*/x:toDivision",
    "kind": "*/x:kind",
    "result": "*/x:result",
    "status": "*/x:status",
    "completeness": "*/x:completeness",
    "receiptOf": "*/x:receiptOf",
    "ackOf": "*/x:ackOf",
}


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
    head = raw[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
    if b"<!DOCTYPE" in raw[:65536] or b"<!ENTITY" in raw[:65536]:
        raise HostileInput(
            "dtd_forbidden", "document type declarations and entities are not accepted",
            [Problem("<!DOCTYPE>/<!ENTITY> found: canonical messages must not carry a DTD", line=_line_of(raw, b"<!"))],
            400,
        )
    try:
        doc = etree.fromstring(raw, _parser()).getroottree()
    except etree.XMLSyntaxError as e:
        line = e.lineno if isinstance(e.lineno, int) else None
        raise InvalidMessage("not_xml", "the body is not well-formed XML", [Problem(str(e.msg), line=line)], 400) from e
    info = doc.docinfo
    if info.doctype or info.internalDTD is not None:  # type: ignore[union-attr]
        raise HostileInput("dtd_forbidden", "document type declarations are not accepted",
                           [Problem("a DOCTYPE was found", line=1)], 400)
    encoding = (doc.docinfo.encoding or "UTF-8").upper()
    if encoding not in ("UTF-8", "UTF8") and head.startswith(b"<?xml"):
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
        problems = [Problem(_clean(err.message), path=err.path, line=err.line)
                    for err in xsd.error_log  # type: ignore[attr-defined]
                    ]
        raise InvalidMessage("schema_invalid", f"{qname.localname} does not match the canonical schema", problems)
    canonical = _read(root, qname.localname)
    _check_semantics(root, canonical, today=today)
    return Parsed(canonical, root)


def _clean(message: str) -> str:
    return message.replace("{" + NS + "}", "")


def _line_of(raw: bytes, needle: bytes) -> int:
    return raw[: max(raw.find(needle), 0)].count(b"\n") + 1


def _line(node: etree._Element | None) -> int | None:
    return node.sourceline if node is not None and isinstance(node.sourceline, int) else None


def _text(root: etree._Element, path: str) -> str | None:
    node = root.find(path, _N)
    if node is None or node.text is None:
        return None
    return node.text.strip()


def _read(root: etree._Element, msg_type: str) -> Canonical:
    env = root.find("x:envelope", _N)
    assert env is not None  # guaranteed by the schema

    def e(name: str) -> str | None:
        return _text(env, f"x:{name}")

    facts = {k: v for k, p in _FACT_PATHS.items() if (v := _text(root, p)) is not None}
    sent = dt.datetime.fromisoformat(e("sentAt") or "")
    return Canonical(
        message_id=e("messageId") or "",
        message_type=msg_type,
        sender=e("sender") or "",
        to=tuple(n.text.strip() for n in env.findall("x:to", _N) if n.text),
        cc=tuple(n.text.strip() for n in env.findall("x:cc", _N) if n.text),
        sent_at=sent,
        sender_document_id=e("senderDocumentId") or "",
        correlation_id=e("correlationId"),
        causation_id=e("causationId"),
        person_ref=e("personRef"),
        person_name=_text(root, "x:person/x:name"),
        id_number=_text(root, "x:person/x:idNumber"),
        case_number=_text(root, "x:case/x:caseNumber"),
        facts=facts,
    )


def _check_semantics(root: etree._Element, c: Canonical, *, today: dt.date | None) -> None:
    problems: list[Problem] = []
    tree = root.getroottree()
    declared = _text(root, "x:envelope/x:messageType")
    if declared != c.message_type:
        node = root.find("x:envelope/x:messageType", _N)
        problems.append(Problem(f"envelope messageType {declared} differs from the root element {c.message_type}",
                                path=tree.getpath(node) if node is not None else None,
                                line=_line(node)))
    id_node = root.find("x:person/x:idNumber", _N)
    if id_node is not None and id_node.text:
        chk = check_id_number(id_node.text, today=today)
        if not chk.ok:
            problems.append(Problem(str(chk.problem), path=tree.getpath(id_node), line=_line(id_node)))
        else:
            birth = root.find("x:person/x:birthDate", _N)
            if birth is not None and birth.text and chk.birth_date and birth.text.strip() != chk.birth_date.isoformat():
                problems.append(Problem(
                    f"birthDate {birth.text.strip()} differs from the ID number's {chk.birth_date.isoformat()}",
                    path=tree.getpath(birth), line=_line(birth)))
    if problems:
        raise InvalidMessage("semantic_invalid", f"{c.message_type} fails the hub's checks", problems)
