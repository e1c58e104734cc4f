"""The canonical message strategies: every example passes the hub's validator, fixed values hold, and the
optional and repeated elements of every message type are exercised."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import uuid
from collections import defaultdict

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample
from lxml import etree

from hub.canonical import parse
from hub.core.idnumber import check_id_number
from hub.core.routing import AGENCY_MESSAGE_TYPES as ROUTED_TYPES
from tests.adapters.strategies import (
    EXEC_DIVISIONS,
    ID_DIVISIONS,
    MESSAGE_TYPES,
    _agencies,
    _schema_paths,
    canonical_messages,
)

NS = "urn:xianjie:canonical:v1"
CASE_NUMBER = re.compile(r"（20(1[5-9]|2[0-6])）云[0-9]{2,4}刑[初终执更][1-9][0-9]{0,3}号")
SENT_AT = re.compile(r"20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\+08:00|Z)")
FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def leaves(root: etree._Element) -> list[tuple[str, str]]:
    """(path relative to the root, text) of every leaf element."""
    out = []
    for el in root.iter():
        if el is root or len(el):
            continue
        steps = []
        cur: etree._Element | None = el
        while cur is not None and cur is not root:
            steps.append(etree.QName(cur).localname)
            cur = cur.getparent()
        out.append(("/".join(reversed(steps)), el.text or ""))
    return out


def element_paths(root: etree._Element) -> set[str]:
    return {p for path, _ in leaves(root) for p in _prefixes(path)}


def _prefixes(path: str) -> list[str]:
    steps = path.split("/")
    return ["/".join(steps[: i + 1]) for i in range(len(steps))]


def check_example(message_type: str, raw: bytes) -> etree._Element:
    """Everything a generated message must satisfy beyond the hub's own validation."""
    assert raw.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    parsed = parse(raw)
    assert parsed.canonical.message_type == message_type
    root = parsed.root
    types = _schema_paths(message_type)
    codes = {a.code for a in _agencies()}
    for path, text in leaves(root):
        assert text, path
        assert text == text.strip() and "\n" not in text and "\r" not in text, (path, text)
        assert not FORBIDDEN.search(text), (path, text)
        assert unicodedata.is_normalized("NFC", text), (path, text)
        kind = types[path].type_name
        if kind == "AgencyCode":
            assert text in codes, (path, text)
        elif kind == "xs:date" and path != "person/birthDate":
            assert "2015-01-01" <= text <= "2026-12-31", (path, text)
        elif kind == "xs:boolean":
            assert text in ("true", "false"), (path, text)
        elif kind == "ShortText":
            assert len(text) <= 200, path
        elif kind == "Text":
            assert len(text) <= 2000, path
    env = root.find(f"{{{NS}}}envelope")
    assert env is not None
    message_id = env.findtext(f"{{{NS}}}messageId") or ""
    assert str(uuid.UUID(message_id)) == message_id and uuid.UUID(message_id).version == 4
    assert SENT_AT.fullmatch(env.findtext(f"{{{NS}}}sentAt") or "")
    assert env.findtext(f"{{{NS}}}schemaVersion") == "1.0"
    if message_type != "TechnicalAck":
        case_number = root.findtext(f"{{{NS}}}case/{{{NS}}}caseNumber") or ""
        assert CASE_NUMBER.fullmatch(case_number), case_number
        assert root.findtext(f"{{{NS}}}case/{{{NS}}}executionDivision") in EXEC_DIVISIONS
        id_number = root.findtext(f"{{{NS}}}person/{{{NS}}}idNumber")
        if id_number is not None:
            chk = check_id_number(id_number)
            assert chk.ok and chk.birth_date is not None, id_number
            assert id_number[:6] in ID_DIVISIONS
            assert dt.date(1950, 1, 1) <= chk.birth_date <= dt.date(2006, 12, 31)
            assert root.findtext(f"{{{NS}}}person/{{{NS}}}sex") == ("MALE" if chk.male else "FEMALE")
    return root


def test_the_fifteen_message_types_are_those_agencies_send() -> None:
    # (the hub's own deadline notice is routed too, but no agency writes one)
    assert len(MESSAGE_TYPES) == 15
    assert set(MESSAGE_TYPES) == set(ROUTED_TYPES)


@pytest.mark.parametrize("message_type", MESSAGE_TYPES)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_every_example_passes_the_hub_validator(message_type: str, data: st.DataObject) -> None:
    check_example(message_type, data.draw(canonical_messages(message_type)))


FIXED: list[tuple[str, dict[str, str]]] = [
    ("SentencingDecision", {"decision/decisionKind": "JUDGMENT"}),
    ("SentencingDecision", {"case/correctionType": "TEMP_OUTSIDE", "decision/documents/document/kind": "JUDGMENT"}),
    ("SentencingDecision", {"person/sex": "FEMALE", "person/birthDate": "1988-03-14"}),
    ("SentencingDecision", {"person/idNumber": "530522198803140310", "envelope/to": "530581SF"}),
    ("SentencingDecision", {"case/supervisionPeriod/end": "2016-02-01", "decision/sentence": "管制一年"}),
    ("DocumentReceipt", {"receipt/completeness": "INCOMPLETE"}),
    ("DocumentReceipt", {"receipt/missing/problem": "DEFECTIVE"}),
    ("DocumentReceipt", {"receipt/completeness": "COMPLETE", "person/sex": "UNKNOWN"}),
    ("TransferPapers", {"transfer/kind": "COUNTY_TRANSFER", "case/executionDivision": "530521"}),
    ("SupervisionEvent", {"event/leave/destinationDivision": "530103", "event/kind": "WARNING"}),
    ("SupervisionEvent", {"event/leave/to": "2015-03-01"}),
    ("CustodyNotice", {"custody/endedOn": "2016-05-20"}),
    ("RevocationDecision", {"decision/kind": "REVOKE_PAROLE"}),
    ("ReleaseNotice", {"release/kind": "TERMINATED_RECOMMITTED"}),
    ("ReportingOutcome", {"outcome/result": "NOT_REPORTED"}),
    ("TechnicalAck", {"ack/status": "REJECTED", "envelope/sentAt": "2026-04-02T09:30:00+08:00"}),
    ("AssessmentCommission", {"person/name": "阿依古丽·买买提", "envelope/messageType": "AssessmentCommission"}),
]


@pytest.mark.parametrize(("message_type", "fixed"), FIXED)
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_fixed_values_hold_in_every_example(message_type: str, fixed: dict[str, str], data: st.DataObject) -> None:
    root = check_example(message_type, data.draw(canonical_messages(message_type, fixed=fixed)))
    found = defaultdict(list)
    for path, text in leaves(root):
        found[path].append(text)
    for path, value in fixed.items():
        assert found[path] and set(found[path]) == {value}, (path, found[path])


def test_coupled_values_follow_what_is_fixed() -> None:
    # a fixed body kind chooses the correction type; a fixed completeness the missing entries
    @settings(max_examples=10, deadline=None)
    @given(st.data())
    def run(data: st.DataObject) -> None:
        root = check_example("SentencingDecision", data.draw(
            canonical_messages("SentencingDecision", fixed={"decision/decisionKind": "JUDGMENT"})))
        assert root.findtext(f"{{{NS}}}case/{{{NS}}}correctionType") in ("CONTROL", "PROBATION")
        root = check_example("DocumentReceipt", data.draw(
            canonical_messages("DocumentReceipt", fixed={"receipt/completeness": "INCOMPLETE"})))
        assert 1 <= len(root.findall(f"{{{NS}}}receipt/{{{NS}}}missing")) <= 3
        root = check_example("SentencingDecision", data.draw(
            canonical_messages("SentencingDecision", fixed={"person/idNumber": "530522198803140310"})))
        assert root.findtext(f"{{{NS}}}person/{{{NS}}}sex") == "MALE"
        assert root.findtext(f"{{{NS}}}person/{{{NS}}}birthDate") in (None, "1988-03-14")

    run()


@pytest.mark.parametrize(("message_type", "fixed"), [
    ("SentencingDecision", {"decision/nope": "x"}),
    ("SentencingDecision", {"decision/documents": "x"}),
    ("SentencingDecision", {"envelope/messageType": "DocumentReceipt"}),
    ("SentencingDecision", {"decision/decidedOn": "20.3.2026"}),
    ("TechnicalAck", {"person/name": "张三"}),
    ("Unknown", {}),
])
def test_unknown_paths_and_impossible_values_are_refused(message_type: str, fixed: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        canonical_messages(message_type, fixed=fixed)


class Coverage:
    """What the examples of one message type have shown so far."""

    def __init__(self, message_type: str) -> None:
        self.message_type = message_type
        self.optional = {p for p, node in _schema_paths(message_type).items() if node.optional}
        self.present: set[str] = set()
        self.absent: set[str] = set()
        self.counts: dict[str, set[int]] = defaultdict(set)
        self.rare_name = self.dotted_name = message_type == "TechnicalAck"

    def record(self, raw: bytes) -> None:
        root = etree.fromstring(raw)
        paths = element_paths(root)
        for p in self.optional:
            if p.rsplit("/", 1)[0] in paths:
                (self.present if p in paths else self.absent).add(p)
        for p in ("envelope/to", "envelope/cc", "receipt/missing"):
            self.counts[p].add(len(root.findall("/".join(f"{{{NS}}}{s}" for s in p.split("/")))))
        for el in root.iter(f"{{{NS}}}document"):
            parent = el.getparent()
            assert parent is not None
            self.counts["document"].add(len(parent))
        for el in root.iter(f"{{{NS}}}name"):
            self.rare_name |= any(ord(ch) > 0xFFFF for ch in el.text or "")
            self.dotted_name |= "·" in (el.text or "")

    def missing(self) -> list[str]:
        out = [f"{p} never present" for p in sorted(self.optional - self.present)]
        out += [f"{p} never absent" for p in sorted(self.optional - self.absent)]
        for p in ("envelope/to", "envelope/cc"):
            if self.counts[p] != {0, 1, 2}:
                out.append(f"{p} counts {sorted(self.counts[p])}, not 0, 1 and 2")
        if self.message_type == "DocumentReceipt" and self.counts["receipt/missing"] != {0, 1, 2, 3}:
            out.append(f"missing entries {sorted(self.counts['receipt/missing'])}, not 0 to 3")
        has_lists = any(n.type_name == "DocumentList" for n in _schema_paths(self.message_type).values())
        if has_lists and self.counts["document"] != {1, 2, 3, 4}:
            out.append(f"documents per list {sorted(self.counts['document'])}, not 1 to 4")
        if not self.rare_name:
            out.append("no name outside the BMP")
        if not self.dotted_name:
            out.append("no name with U+00B7")
        return out


@pytest.mark.parametrize("message_type", MESSAGE_TYPES)
def test_every_optional_element_is_sometimes_present_and_sometimes_absent(message_type: str) -> None:
    # draw until every optional element was seen both ways (and the repeated ones in every number)
    seen = Coverage(message_type)

    def complete(raw: bytes) -> bool:
        seen.record(raw)
        return not seen.missing()

    try:
        find(canonical_messages(message_type), complete,
             settings=settings(max_examples=400, deadline=None, database=None, phases=[Phase.generate]))
    except NoSuchExample:
        pytest.fail(f"{message_type} after 400 examples: " + "; ".join(seen.missing()))
