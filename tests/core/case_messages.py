"""Canonical messages about one case, built from the canonical samples with chosen values.

``Case`` holds a person and a case; each method returns the canonical XML of one message about it (a copy of
the sample of that type, with the envelope, person, case and body set), ready for ``facts_of``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from lxml import etree

from hub.core.idnumber import check_digit
from hub.resources import data_dir

NS = "urn:xianjie:canonical:v1"
SAMPLES = data_dir("schemas") / "canonical" / "v1" / "samples"
CST = dt.timezone(dt.timedelta(hours=8))
Value = str | Sequence[str] | None
# Where an element absent from a sample goes: after the last present sibling of these names.
_AFTER = {"to": ("sender",), "cc": ("to", "sender"), "causationId": ("correlationId",), "endedOn": ("startedOn",),
          "arrestOrdered": ("returnCustody", "personInCustody"), "originalCustody": ("documents",)}
_DOC_TITLES = {"JUDGMENT": "刑事判决书", "RULING": "刑事裁定书", "DECISION": "决定书", "EXECUTION_NOTICE": "执行通知书",
               "PAROLE_CERTIFICATE": "假释证明书", "TEMP_OUTSIDE_DECISION": "暂予监外执行决定书",
               "CASE_CLOSING_FORM": "结案登记表", "PERSON_FILE": "档案材料", "MEDICAL_REPORT": "病情诊断"}
FULL_PAPERS = {"CONTROL": ("JUDGMENT", "EXECUTION_NOTICE", "CASE_CLOSING_FORM"),
               "PROBATION": ("JUDGMENT", "EXECUTION_NOTICE", "CASE_CLOSING_FORM"),
               "PAROLE": ("RULING", "EXECUTION_NOTICE", "PAROLE_CERTIFICATE", "CASE_CLOSING_FORM"),
               "TEMP_OUTSIDE": ("TEMP_OUTSIDE_DECISION", "JUDGMENT", "EXECUTION_NOTICE", "CASE_CLOSING_FORM")}


def q(name: str) -> str:
    return f"{{{NS}}}{name}"


@cache
def _template(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def _insert(parent: etree._Element, name: str) -> etree._Element:
    el = etree.Element(q(name))
    anchors = [c for c in parent if etree.QName(c).localname in _AFTER.get(name, ())]
    if not anchors:
        raise KeyError(f"no place for <{name}> in <{etree.QName(parent).localname}>")
    anchors[-1].addnext(el)
    return el


def _set(root: etree._Element, path: str, value: Value) -> None:
    *parents, name = path.split("/")
    parent = root
    for step in parents:
        found = parent.find(q(step))
        if found is None:
            raise KeyError(f"no <{step}> on the way to {path}")
        parent = found
    present = parent.findall(q(name))
    if value is None:
        for el in present:
            parent.remove(el)
        return
    texts = [value] if isinstance(value, str) else list(value)
    anchor = present[0] if present else None
    for el in present[1:]:
        parent.remove(el)
    if anchor is None:
        if not texts:
            return
        anchor = _insert(parent, name)
    if not texts:
        parent.remove(anchor)
        return
    anchor.text = texts[0]
    for text in reversed(texts[1:]):
        clone = etree.Element(q(name))
        clone.text = text
        anchor.addnext(clone)


def _documents(root: etree._Element, path: str, kinds: Sequence[str]) -> None:
    holder = root
    for step in path.split("/"):
        found = holder.find(q(step))
        assert found is not None, path
        holder = found
    for child in list(holder):
        holder.remove(child)
    for kind in kinds:
        doc = etree.SubElement(holder, q("document"))
        etree.SubElement(doc, q("kind")).text = kind
        etree.SubElement(doc, q("title")).text = _DOC_TITLES.get(kind, "材料")


def build(sample: str, values: Mapping[str, Value], documents: Mapping[str, Sequence[str]] | None = None) -> bytes:
    """The sample with each path (relative to the root) set; None removes, a sequence repeats the element."""
    root = etree.fromstring(_template(sample))
    for path, value in values.items():
        _set(root, path, value)
    for path, kinds in (documents or {}).items():
        _documents(root, path, kinds)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def id_number(division: str, birth: dt.date, seq: int) -> str:
    body = f"{division}{birth:%Y%m%d}{seq % 1000:03d}"
    return body + check_digit(body)


def message_id(*parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "xianjie-test:" + "/".join(map(str, parts))))


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    """A timestamp on ``day`` in Shanghai (the legal day is ``day``)."""
    return dt.datetime.combine(day, dt.time(hour), tzinfo=CST)


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day is not None else None


@dataclass(frozen=True)
class Case:
    """One person and one case, and the canonical messages the agencies send about it."""

    number: str
    court: str
    correction: str
    division: str
    name: str
    id_number: str
    male: bool
    birth: dt.date
    decided: dt.date
    effective: dt.date
    period_end: dt.date

    @property
    def bureau(self) -> str:
        return self.division + "SF"

    @property
    def police(self) -> str:
        return self.division + "GA"

    @property
    def procuratorate(self) -> str:
        return self.division + "JC"

    def _common(self, mid: str, sender: str, to: Sequence[str], cc: Sequence[str], sent: dt.datetime,
                causation: str | None, *, decided: bool = True, division: str | None = None) -> dict[str, Value]:
        where = division or self.division
        return {
            "envelope/messageId": mid, "envelope/sender": sender, "envelope/to": tuple(to), "envelope/cc": tuple(cc),
            "envelope/sentAt": sent.isoformat(timespec="seconds"), "envelope/senderDocumentId": f"{sender}-{mid}",
            "envelope/correlationId": self.number, "envelope/causationId": causation,
            "envelope/personRef": f"{sender}:{self.id_number[-6:]}",
            "person/name": self.name, "person/idNumber": self.id_number,
            "person/sex": "MALE" if self.male else "FEMALE",
            "person/birthDate": self.birth.isoformat(), "person/residence/divisionCode": where,
            "case/caseNumber": self.number, "case/decidingOrgan": self.court,
            "case/decisionDate": _iso(self.decided) if decided else None,
            "case/effectiveDate": _iso(self.effective) if decided else None,
            "case/correctionType": self.correction, "case/executionDivision": where,
        } | ({"case/supervisionPeriod/start": self.effective.isoformat(),
              "case/supervisionPeriod/end": self.period_end.isoformat()} if decided else {})

    def commission(self, mid: str, sent: dt.datetime, *, fast: bool = False) -> bytes:
        v = self._common(mid, self.court, [self.bureau], [self.procuratorate], sent, None, decided=False)
        v |= {"commission/commissioningOrgan": self.court, "commission/commissionDate": sent.date().isoformat(),
              "commission/fastTrack": "true" if fast else "false"}
        return build("AssessmentCommission.xml", v)

    def opinion(self, mid: str, sent: dt.datetime, *, commission: str | None) -> bytes:
        v = self._common(mid, self.bureau, [self.court], [self.procuratorate], sent, commission, decided=False)
        v |= {"opinion/commissioningOrgan": self.court, "opinion/assessedOn": sent.date().isoformat()}
        return build("AssessmentOpinion.xml", v)

    def decision(self, mid: str, sent: dt.datetime, *, papers: Sequence[str] | None = None,
                 custody: str | None = None, causation: str | None = None) -> bytes:
        v = self._common(mid, self.court, [self.bureau], [self.procuratorate, self.police], sent, causation)
        kind = {"PAROLE": "RULING", "TEMP_OUTSIDE": "DECISION"}.get(self.correction, "JUDGMENT")
        v |= {"decision/decisionKind": kind, "decision/documentNumber": self.number,
              "decision/decidedOn": self.decided.isoformat(), "decision/effectiveOn": self.effective.isoformat(),
              "decision/executionNotice/issuedOn": self.effective.isoformat(),
              "decision/executionNotice/reportBy": (self.effective + dt.timedelta(days=10)).isoformat(),
              "decision/originalCustody": custody}
        kinds = FULL_PAPERS[self.correction] if papers is None else papers
        return build("SentencingDecision.xml", v, {"decision/documents": kinds})

    def receipt(self, mid: str, sent: dt.datetime, *, of: str, to: str | None = None,
                missing: Sequence[str] = (), sender: str | None = None) -> bytes:
        who = sender or self.bureau
        v = self._common(mid, who, [to or self.court], [self.procuratorate], sent, of,
                         division=who[:6])
        v |= {"receipt/receiptOf": of, "receipt/receivedOn": sent.date().isoformat()}
        if not missing:
            v |= {"receipt/completeness": "COMPLETE"}
            return build("DocumentReceipt.xml", v)
        v |= {"receipt/completeness": "INCOMPLETE"}
        root = etree.fromstring(build("DocumentReceipt-incomplete.xml", v))
        body = root.find(q("receipt"))
        assert body is not None
        entries = body.findall(q("missing"))
        for kind in reversed(missing):
            clone = etree.fromstring(etree.tostring(entries[0]))
            kind_el = clone.find(q("kind"))
            assert kind_el is not None
            kind_el.text = kind
            entries[-1].addnext(clone)
        for old in entries:
            body.remove(old)
        return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))

    def reporting(self, mid: str, sent: dt.datetime, *, result: str = "REPORTED", reported: dt.date | None = None,
                  due: dt.date | None = None, causation: str | None = None, sender: str | None = None) -> bytes:
        who = sender or self.bureau
        v = self._common(mid, who, [self.court], [self.procuratorate], sent, causation, division=who[:6])
        v |= {"outcome/result": result, "outcome/dueDate": (due or self.effective + dt.timedelta(days=10)).isoformat(),
              "outcome/reportedOn": None if result == "NOT_REPORTED" else (reported or sent.date()).isoformat()}
        return build("ReportingOutcome.xml", v)

    def handover(self, mid: str, sent: dt.datetime, *, custodian: str, served: dt.date) -> bytes:
        v = self._common(mid, custodian, [self.bureau], [self.procuratorate], sent, None)
        v |= {"transfer/fromDivision": custodian[:6], "transfer/toDivision": self.division,
              "transfer/handoverDate": sent.date().isoformat(), "transfer/escortingAgency": custodian,
              "transfer/decisionServedOn": served.isoformat()}
        return build("TransferPapers.xml", v, {"transfer/manifest": FULL_PAPERS["TEMP_OUTSIDE"]})

    def county_transfer(self, mid: str, sent: dt.datetime, *, to_division: str, decided: dt.date,
                        served: dt.date) -> bytes:
        v = self._common(mid, self.bureau, [to_division + "SF"], [self.court], sent, None, division=to_division)
        v |= {"transfer/fromDivision": self.division, "transfer/toDivision": to_division,
              "transfer/handoverDate": sent.date().isoformat(), "transfer/changeDecidedOn": decided.isoformat(),
              "transfer/decisionServedOn": served.isoformat(),
              "transfer/reportBy": (served + dt.timedelta(days=7)).isoformat()}
        return build("TransferPapers-county.xml", v)

    def transfer_opinion(self, mid: str, sent: dt.datetime, *, to_division: str, asked: dt.date,
                reply: str | None = None, request: str | None = None) -> bytes:
        """Bureau A asks ``to_division``'s bureau for its opinion on a change of residence, or (``reply``: AGREE
        or DISAGREE) that bureau answers the request ``request``."""
        sender, to = (to_division + "SF", self.bureau) if reply else (self.bureau, to_division + "SF")
        v = self._common(mid, sender, [to], [], sent, request)
        v |= {"opinion/kind": "REPLY" if reply else "REQUEST", "opinion/fromDivision": self.division,
              "opinion/toDivision": to_division, "opinion/requestedOn": asked.isoformat()}
        if reply:
            return build("TransferOpinion-reply.xml", v | {"opinion/conclusion": reply,
                                                           "opinion/repliedOn": sent.date().isoformat()})
        return build("TransferOpinion.xml", v)

    def custody(self, mid: str, sent: dt.datetime, *, started: dt.date, ended: dt.date | None = None,
                measure: str = "CRIMINAL_DETENTION") -> bytes:
        v = self._common(mid, self.police, [self.bureau], [self.procuratorate], sent, None)
        v |= {"custody/custodyAgency": self.division + "KS", "custody/startedOn": started.isoformat(),
              "custody/endedOn": _iso(ended), "custody/measure": measure}
        return build("CustodyNotice.xml", v)

    def event(self, mid: str, sent: dt.datetime, *, kind: str, on: dt.date | None = None,
              sender: str | None = None) -> bytes:
        who = sender or self.bureau
        v = self._common(mid, who, [], [self.procuratorate], sent, None, division=who[:6])
        day = on or sent.date()
        v |= {"event/kind": kind, "event/occurredOn": day.isoformat(), "event/decisionNumber": f"{who}-{mid[:8]}"}
        if kind == "LEAVE_APPROVED":
            v |= {"event/leave/from": (day + dt.timedelta(days=1)).isoformat(),
                  "event/leave/to": (day + dt.timedelta(days=5)).isoformat()}
        else:
            v |= {"event/leave": None}
        return build("SupervisionEvent.xml", v)

    def proposal(self, mid: str, sent: dt.datetime, *, arrest: bool = False) -> bytes:
        v = self._common(mid, self.bureau, [self.court], [self.procuratorate], sent, None)
        kind = {"PAROLE": "REVOKE_PAROLE", "TEMP_OUTSIDE": "RECOMMIT_TEMP_OUTSIDE"}.get(self.correction,
                                                                                      "REVOKE_PROBATION")
        v |= {"proposal/kind": kind, "proposal/proposedOn": sent.date().isoformat(),
              "proposal/requestArrest": "true" if arrest else "false"}
        return build("RevocationProposal.xml", v)

    def revocation(self, mid: str, sent: dt.datetime, *, proposal: str | None, in_custody: bool,
                   granted: bool = True) -> bytes:
        v = self._common(mid, self.court, [self.bureau, self.police], [self.procuratorate], sent, proposal)
        kind = {"PAROLE": "REVOKE_PAROLE", "TEMP_OUTSIDE": "RECOMMIT_TEMP_OUTSIDE"}.get(self.correction,
                                                                                      "REVOKE_PROBATION")
        v |= {"decision/kind": kind, "decision/outcome": "GRANTED" if granted else "REFUSED",
              "decision/decidedOn": sent.date().isoformat(), "decision/documentNumber": f"{self.number}更",
              "decision/personInCustody": "true" if in_custody else "false"}
        return build("RevocationDecision.xml", v)

    def pursuit_request(self, mid: str, sent: dt.datetime, *, kind: str, causation: str | None) -> bytes:
        v = self._common(mid, self.bureau, [self.police], [self.procuratorate], sent, causation)
        v |= {"pursuit/kind": kind, "pursuit/requestedOn": sent.date().isoformat(),
              "pursuit/basisDocumentNumber": f"{self.number}更" if kind == "PURSUE_ABSCONDER" else None}
        return build("PursuitRequest.xml", v)

    def pursuit_result(self, mid: str, sent: dt.datetime, *, status: str, request: str | None) -> bytes:
        v = self._common(mid, self.police, [self.bureau], [self.procuratorate], sent, request)
        v |= {"result/status": status, "result/reportedOn": sent.date().isoformat(),
              "result/locatedOn": sent.date().isoformat() if status in ("LOCATED", "IN_CUSTODY") else None,
              "result/custodyAgency": self.division + "KS" if status == "IN_CUSTODY" else None}
        return build("PursuitResult.xml", v)

    def release(self, mid: str, sent: dt.datetime, *, kind: str = "RELEASED", on: dt.date | None = None) -> bytes:
        v = self._common(mid, self.bureau, [self.court, self.procuratorate, self.police], [], sent, None)
        v |= {"release/kind": kind, "release/effectiveOn": (on or sent.date()).isoformat(),
              "release/originalCustody": None,
              "release/certificateNumber": f"{self.bureau}-解-{mid[:8]}" if kind == "RELEASED" else None}
        return build("ReleaseNotice.xml", v)

