"""Reading canonical XML into the ledger's facts with lxml: a typed element reader and one reader per family."""

from __future__ import annotations

import datetime as dt

from lxml import etree

from hub.core.fact_bodies import (
    AckFacts,
    Body,
    CaseFacts,
    CommissionFacts,
    CustodyFacts,
    DecisionFacts,
    EventFacts,
    OpinionFacts,
    PersonFacts,
    ProposalFacts,
    PursuitRequestFacts,
    PursuitResultFacts,
    ReceiptFacts,
    ReleaseFacts,
    ReportingFacts,
    RevocationFacts,
    TransferFacts,
    TransferOpinionFacts,
)

NS = "urn:xianjie:canonical:v1"
_N = {"x": NS}


def parse_xml(raw: bytes) -> etree._Element:
    """The root element, parsed without DTDs, entities or network access."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    return etree.fromstring(raw, parser)


class Reader:
    """Typed access to canonical elements by slash-separated local names (``executionNotice/reportBy``)."""

    def __init__(self, root: etree._Element) -> None:
        self.root = root

    @staticmethod
    def local_name(el: etree._Element) -> str:
        """The element's name without its namespace."""
        return etree.QName(el).localname

    @staticmethod
    def namespace(el: etree._Element) -> str | None:
        """The element's namespace URI, None if it has none."""
        return etree.QName(el).namespace

    @staticmethod
    def _xp(path: str) -> str:
        return "/".join(f"x:{p}" for p in path.split("/"))

    def find(self, el: etree._Element, path: str) -> etree._Element | None:
        """The first element at ``path`` under ``el``, or None."""
        return el.find(self._xp(path), _N)

    def child(self, el: etree._Element, path: str) -> etree._Element:
        """The first element at ``path``; ValueError naming it when absent."""
        found = self.find(el, path)
        if found is None:
            raise ValueError(f"<{self.local_name(el)}> has no <{path}>")
        return found

    def opt(self, el: etree._Element | None, path: str) -> str | None:
        """The stripped text at ``path``, None when the element or its text is absent."""
        if el is None:
            return None
        found = self.find(el, path)
        return found.text.strip() if found is not None and found.text is not None else None

    def text(self, el: etree._Element, path: str) -> str:
        """The stripped text at ``path``; ValueError when absent."""
        value = self.opt(el, path)
        if value is None:
            raise ValueError(f"<{self.local_name(el)}> has no <{path}> text")
        return value

    def texts(self, el: etree._Element | None, path: str) -> tuple[str, ...]:
        """The texts of every element at ``path``, in document order."""
        if el is None:
            return ()
        return tuple(n.text.strip() for n in el.findall(self._xp(path), _N) if n.text is not None)

    def date(self, el: etree._Element, path: str) -> dt.date:
        """The ISO date at ``path``; ValueError when absent."""
        return dt.date.fromisoformat(self.text(el, path))

    def opt_date(self, el: etree._Element | None, path: str) -> dt.date | None:
        """The ISO date at ``path``, None when absent."""
        value = self.opt(el, path)
        return dt.date.fromisoformat(value) if value is not None else None

    def flag(self, el: etree._Element | None, path: str) -> bool | None:
        """The xs:boolean at ``path``, None when absent."""
        value = self.opt(el, path)
        return None if value is None else value in ("true", "1")


def read_person(r: Reader, el: etree._Element) -> PersonFacts:
    """The <person> block (ID number upper-cased)."""
    number = r.opt(el, "idNumber")
    return PersonFacts(
        name=r.text(el, "name"),
        id_number=number.upper() if number else None,
        sex=r.text(el, "sex"),
        birth_date=r.opt_date(el, "birthDate"),
        residence_division=r.opt(el, "residence/divisionCode"),
    )


def read_case(r: Reader, el: etree._Element) -> CaseFacts:
    """The <case> block."""
    return CaseFacts(
        case_number=r.text(el, "caseNumber"),
        deciding_organ=r.text(el, "decidingOrgan"),
        correction_type=r.text(el, "correctionType"),
        decision_date=r.opt_date(el, "decisionDate"),
        effective_date=r.opt_date(el, "effectiveDate"),
        period_start=r.opt_date(el, "supervisionPeriod/start"),
        period_end=r.opt_date(el, "supervisionPeriod/end"),
        execution_division=r.text(el, "executionDivision"),
    )



def read_body(r: Reader, root: etree._Element, message_type: str) -> Body:
    """The body facts of ``message_type``; ValueError for a type the vocabulary does not have."""
    reader = _BODIES.get(message_type)
    if reader is None:
        raise ValueError(f"{message_type} is not a canonical message type")
    block, fn = reader
    return fn(r, r.child(root, block))


def _commission(r: Reader, b: etree._Element) -> Body:
    return CommissionFacts(r.text(b, "commissioningOrgan"), r.date(b, "commissionDate"),
                           bool(r.flag(b, "fastTrack")))


def _opinion(r: Reader, b: etree._Element) -> Body:
    return OpinionFacts(r.text(b, "commissioningOrgan"), r.text(b, "conclusion"), r.date(b, "assessedOn"))


def _decision(r: Reader, b: etree._Element) -> Body:
    return DecisionFacts(
        decision_kind=r.text(b, "decisionKind"), document_number=r.text(b, "documentNumber"),
        decided_on=r.date(b, "decidedOn"), effective_on=r.date(b, "effectiveOn"),
        report_by=r.opt_date(b, "executionNotice/reportBy"),
        documents=r.texts(b, "documents/document/kind"), original_custody=r.opt(b, "originalCustody"),
    )


def _receipt(r: Reader, b: etree._Element) -> Body:
    return ReceiptFacts(r.text(b, "receiptOf"), r.date(b, "receivedOn"), r.text(b, "completeness") == "COMPLETE",
                        r.texts(b, "missing/kind"))


def _reporting(r: Reader, b: etree._Element) -> Body:
    return ReportingFacts(r.text(b, "result"), r.date(b, "dueDate"), r.opt_date(b, "reportedOn"))


def _transfer(r: Reader, b: etree._Element) -> Body:
    return TransferFacts(
        kind=r.text(b, "kind"), from_division=r.opt(b, "fromDivision"), to_division=r.opt(b, "toDivision"),
        handover_date=r.opt_date(b, "handoverDate"), change_decided_on=r.opt_date(b, "changeDecidedOn"),
        decision_served_on=r.opt_date(b, "decisionServedOn"), report_by=r.opt_date(b, "reportBy"),
        escorting_agency=r.opt(b, "escortingAgency"), manifest=r.texts(b, "manifest/document/kind"),
    )


def _transfer_opinion(r: Reader, b: etree._Element) -> Body:
    return TransferOpinionFacts(r.text(b, "kind"), r.text(b, "fromDivision"), r.text(b, "toDivision"),
                                r.date(b, "requestedOn"), r.opt(b, "conclusion"), r.opt_date(b, "repliedOn"))


def _custody(r: Reader, b: etree._Element) -> Body:
    return CustodyFacts(r.text(b, "measure"), r.opt(b, "custodyAgency"), r.date(b, "startedOn"),
                        r.opt_date(b, "endedOn"))


def _event(r: Reader, b: etree._Element) -> Body:
    return EventFacts(r.text(b, "kind"), r.date(b, "occurredOn"), r.opt_date(b, "leave/from"),
                      r.opt_date(b, "leave/to"), r.opt(b, "leave/destinationDivision"))


def _proposal(r: Reader, b: etree._Element) -> Body:
    return ProposalFacts(r.text(b, "kind"), r.date(b, "proposedOn"), bool(r.flag(b, "requestArrest")),
                         r.opt(b, "documentNumber"))


def _revocation(r: Reader, b: etree._Element) -> Body:
    return RevocationFacts(
        kind=r.text(b, "kind"), outcome=r.text(b, "outcome"), decided_on=r.date(b, "decidedOn"),
        document_number=r.text(b, "documentNumber"), person_in_custody=bool(r.flag(b, "personInCustody")),
        return_custody=r.opt(b, "returnCustody"), arrest_ordered=r.flag(b, "arrestOrdered"),
    )


def _pursuit_request(r: Reader, b: etree._Element) -> Body:
    return PursuitRequestFacts(r.text(b, "kind"), r.date(b, "requestedOn"), r.opt(b, "basisDocumentNumber"),
                               r.opt_date(b, "lastContactOn"))


def _pursuit_result(r: Reader, b: etree._Element) -> Body:
    return PursuitResultFacts(r.text(b, "status"), r.date(b, "reportedOn"), r.opt_date(b, "locatedOn"),
                              r.opt(b, "custodyAgency"))


def _release(r: Reader, b: etree._Element) -> Body:
    return ReleaseFacts(r.text(b, "kind"), r.date(b, "effectiveOn"), r.opt(b, "originalCustody"))


def _ack(r: Reader, b: etree._Element) -> Body:
    return AckFacts(r.text(b, "ackOf"), r.text(b, "status"))


_BODIES = {
    "AssessmentCommission": ("commission", _commission),
    "AssessmentOpinion": ("opinion", _opinion),
    "SentencingDecision": ("decision", _decision),
    "DocumentReceipt": ("receipt", _receipt),
    "ReportingOutcome": ("outcome", _reporting),
    "TransferPapers": ("transfer", _transfer),
    "TransferOpinion": ("opinion", _transfer_opinion),
    "CustodyNotice": ("custody", _custody),
    "SupervisionEvent": ("event", _event),
    "RevocationProposal": ("proposal", _proposal),
    "RevocationDecision": ("decision", _revocation),
    "PursuitRequest": ("pursuit", _pursuit_request),
    "PursuitResult": ("result", _pursuit_result),
    "ReleaseNotice": ("release", _release),
    "TechnicalAck": ("ack", _ack),
}

# the message types whose body the ledger reads (the agencies' messages, acks included; not the hub's own notices)
READ_TYPES = frozenset(_BODIES)
