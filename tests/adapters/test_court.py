"""The court adapter: 法院案件管理系统 exchange batches (数据报文 <SJBW>) ↔ canonical messages."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters import NativeError, Record, get_adapter
from adapters.court import native
from adapters.court.mapping import BODY, CASE, CODE_LISTS, ENVELOPE, PERSON, RECEIVES, SENDS, SPECS
from adapters.kit.canonical import get, parse_canonical
from adapters.kit.mapping import MESSAGE_ID_NAMESPACE, mapping_table
from tests.adapters.strategies import canonical_messages
from tests.adapters.support import GOLDEN, check_inbound, check_outbound, context, golden_names, round_trip

SYSTEM = "court"
ADAPTER = get_adapter(SYSTEM)
REPO = Path(__file__).resolve().parents[2]
FOLDER = GOLDEN / SYSTEM
SAMPLES = REPO / "schemas" / "agencies" / SYSTEM / "samples"
XSD = REPO / "schemas" / "agencies" / SYSTEM / native.XSD
SPEC_PAGE = REPO / "docs" / "agencies" / f"{SYSTEM}.md"
XS = "{http://www.w3.org/2001/XMLSchema}"
SENDER = "530502FY"


# ---- helpers ---------------------------------------------------------------------------------------------


def sender_of(payload: bytes) -> str:
    found = re.search(rb"<FSDW>\s*([0-9A-Z]+)\s*</FSDW>", payload)
    assert found is not None
    return found.group(1).decode("ascii")


def golden_batch(name: str) -> etree._Element:
    return etree.fromstring((FOLDER / f"{name}.in.xml").read_bytes(), etree.XMLParser(remove_blank_text=True))


def record_of(name: str) -> etree._Element:
    found = golden_batch(name).find("JL")
    assert found is not None
    return found


def batch(*records: etree._Element, count: int | None = None, encoding: str = "UTF-8") -> bytes:
    """A batch with the commission golden's header around ``records``."""
    root = golden_batch("assessment-commission")
    for jl in root.findall("JL"):
        root.remove(jl)
    for jl in records:
        root.append(jl)
    header_count = root.find("BWT/JLS")
    assert header_count is not None
    header_count.text = str(len(records) if count is None else count)
    out = etree.tostring(root, xml_declaration=True, encoding=encoding)
    assert isinstance(out, bytes)
    return out


def edited(name: str, path: str, value: str | None) -> etree._Element:
    """A golden record with the element at ``path`` set to ``value`` (removed when None)."""
    jl = record_of(name)
    el = jl.find(path)
    assert el is not None, path
    if value is None:
        parent = el.getparent()
        assert parent is not None
        parent.remove(el)
    else:
        el.text = value
    return jl


def decode(payload: bytes, sender: str = SENDER) -> list[Record]:
    return list(ADAPTER.decode(payload, context(sender)))


def one(payload: bytes) -> Record:
    records = decode(payload)
    assert len(records) == 1
    return records[0]


def canonical(rec: Record) -> dict[str, object]:
    assert rec.ok and rec.canonical is not None, rec.problems
    return parse_canonical(rec.canonical)[1]


def failure(payload: bytes) -> NativeError:
    with pytest.raises(NativeError) as caught:
        decode(payload)
    return caught.value


# ---- golden pairs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", golden_names(SYSTEM, "in"))
def test_golden_inbound(name: str) -> None:
    """Given a court batch as the court system exports it, when decoded, then it gives the golden
    canonical message."""
    check_inbound(SYSTEM, name, sender_of((FOLDER / f"{name}.in.xml").read_bytes()))


@pytest.mark.parametrize("name", golden_names(SYSTEM, "out"))
def test_golden_outbound(name: str) -> None:
    """Given a canonical message for a court, when encoded, then it gives the golden GB18030 batch."""
    check_outbound(SYSTEM, name)


def test_golden_pairs_cover_every_sent_document_type_and_every_received_message_type() -> None:
    """Given the golden folder, then every native type the court sends has an inbound pair and every
    canonical type it receives an outbound pair."""
    sent = {native.read_batch((FOLDER / f"{n}.in.xml").read_bytes())[0].native_type
            for n in golden_names(SYSTEM, "in")}
    assert sent == {s.native_type for s in SPECS.items if s.message_type in SENDS}
    received = {parse_canonical((FOLDER / f"{n}.out.canonical.xml").read_bytes())[0]
                for n in golden_names(SYSTEM, "out")}
    assert received == RECEIVES


def test_adapter_declares_what_its_document_types_cover() -> None:
    """Given the adapter, then sends and receives together are exactly the canonical types of its
    document types, and do not overlap."""
    assert SPECS.message_types == SENDS | RECEIVES
    assert not SENDS & RECEIVES
    assert ADAPTER.sends == SENDS and ADAPTER.receives == RECEIVES


# ---- round trips -----------------------------------------------------------------------------------------

# SentencingDecision once per native document type (1101 判决书, 1102 裁定书, 1103 决定书)
ROUND_TRIPS: list[tuple[str, dict[str, str]]] = [
    *((t, {}) for t in sorted(SENDS | RECEIVES) if t != "SentencingDecision"),
    *(("SentencingDecision", dict(s.fixed)) for s in SPECS.items if s.message_type == "SentencingDecision"),
]


@pytest.mark.parametrize(("message_type", "fixed"), ROUND_TRIPS,
                         ids=[f"{t}-{'-'.join(f.values())}" if f else t for t, f in ROUND_TRIPS])
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_round_trip(message_type: str, fixed: dict[str, str], data: st.DataObject) -> None:
    """Given any valid canonical message of a type the court sends or receives, when encoded for the court
    and decoded again, then the content is unchanged (envelope to/cc aside)."""
    round_trip(ADAPTER, data.draw(canonical_messages(message_type, fixed=fixed)))


def test_sentencing_decision_kind_chooses_the_document_type() -> None:
    """Given a judgment, a ruling and a decision, when encoded, then each gets its own 文书类型代码."""
    raw = (FOLDER / "sentencing-judgment.in.canonical.xml").read_bytes()
    for kind, code in (("JUDGMENT", "1101"), ("RULING", "1102"), ("DECISION", "1103")):
        body = ADAPTER.encode(raw.replace(b">JUDGMENT</decisionKind>", f">{kind}</decisionKind>".encode()),
                              message_type="SentencingDecision").body
        assert f"<WSLXDM>{code}</WSLXDM>".encode() in body


def test_outbound_is_gb18030_with_references_only() -> None:
    """Given a canonical message whose document came inline, when encoded, then the batch is declared and
    written in GB18030 and names the document by reference and digest, never inline."""
    raw = (FOLDER / "sentencing-judgment.in.canonical.xml").read_bytes()
    enc = ADAPTER.encode(raw, message_type="SentencingDecision")
    assert enc.content_type == "application/xml; charset=GB18030" and enc.extension == "xml"
    assert enc.body.startswith(b"<?xml version='1.0' encoding='GB18030'?>")
    text = enc.body.decode("gb18030")
    assert "<NR>" not in text
    assert "<DZ>urn:xianjie:attachment:sha256:788342245a79cb686f60bf3772449d9cde9f87ce5d1caffde575f83f43c6300c</DZ>" \
        in text
    assert "保山市隆阳区人民法院刑事判决书".encode("gb18030") in enc.body


def test_encode_refuses_a_type_the_court_format_lacks() -> None:
    """Given a pursuit request (police business), when encoded for a court, then a ValueError says so."""
    raw = (REPO / "schemas" / "canonical" / "v1" / "samples" / "PursuitRequest.xml").read_bytes()
    with pytest.raises(ValueError, match=r"no 文书类型 .* for PursuitRequest"):
        ADAPTER.encode(raw, message_type="PursuitRequest")


# ---- inline documents (NR) -------------------------------------------------------------------------------


def test_inline_document_is_hashed_named_and_returned() -> None:
    """Given a judgment with its file inline in base64, when decoded, then the canonical document carries
    the file's SHA-256 and the attachment URI, and the bytes come back in the record's attachments."""
    rec = one((FOLDER / "sentencing-judgment.in.xml").read_bytes())
    content = base64.b64decode("".join((record_of("sentencing-judgment").findtext("SDXX/WSQD/WS/NR") or "").split()))
    digest = hashlib.sha256(content).hexdigest()
    assert dict(rec.attachments) == {digest: content}
    doc = get(canonical(rec), "decision/documents/document")[0]
    assert doc["sha256"] == digest and doc["uri"] == f"urn:xianjie:attachment:sha256:{digest}"


def test_inline_document_without_a_declared_digest_is_accepted() -> None:
    """Given an inline file with no HASH, when decoded, then its digest is computed."""
    rec = one(batch(edited("sentencing-judgment", "SDXX/WSQD/WS/HASH", None)))
    assert rec.ok and len(rec.attachments) == 1


def test_inline_document_whose_digest_disagrees_is_rejected_at_the_item() -> None:
    """Given an inline file whose declared SHA-256 is not the file's, when decoded, then the record is
    rejected with the problem on that document's HASH."""
    rec = one(batch(edited("sentencing-judgment", "SDXX/WSQD/WS/HASH", "ab" * 32)))
    assert not rec.ok and not rec.attachments
    [problem] = rec.problems
    assert problem.where == "/SJBW/JL/SDXX/WSQD/WS[1]/HASH"
    assert "does not match the inline file" in problem.reason


def test_inline_document_with_invalid_base64_is_rejected_at_the_item() -> None:
    """Given an inline file that is not base64, when decoded, then the record is rejected at its NR."""
    rec = one(batch(edited("sentencing-judgment", "SDXX/WSQD/WS/NR", "这不是base64!!")))
    [problem] = rec.problems
    assert problem.where == "/SJBW/JL/SDXX/WSQD/WS[1]/NR"
    assert "base64" in problem.reason


def test_a_document_is_either_inline_or_a_reference() -> None:
    """Given a document with both an address and inline content, when decoded, then the schema rejects it."""
    jl = record_of("sentencing-judgment")
    ws = jl.find("SDXX/WSQD/WS")
    assert ws is not None
    etree.SubElement(ws, "DZ").text = "https://fy.baoshan.example.cn/a.pdf"
    rec = one(batch(jl))
    assert rec.problems and rec.problems[0].where == "/SJBW/JL/SDXX/WSQD/WS[1]/DZ"


# ---- batches ---------------------------------------------------------------------------------------------


def test_batch_good_records_translate_and_each_bad_one_is_reported_where_it_is() -> None:
    """Given a batch of four records of which the second has an impossible date and the fourth an unknown
    document type, when decoded, then records 1 and 3 translate and 2 and 4 are rejected with their record
    number and native path."""
    records = decode(batch(
        record_of("assessment-commission"),
        edited("custody-notice", "JYXX/KSRQ", "2026-02-30"),
        record_of("custody-notice"),
        edited("revocation-decision", "WSLXDM", "1999"),
    ))
    assert [r.number for r in records] == [1, 2, 3, 4]
    assert [r.ok for r in records] == [True, False, True, False]
    assert [r.message_type for r in records if r.ok] == ["AssessmentCommission", "CustodyNotice"]
    assert records[1].where == "/SJBW/JL[2]"
    assert [p.where for p in records[1].problems] == ["/SJBW/JL[2]/JYXX/KSRQ"]
    assert [p.where for p in records[3].problems] == ["/SJBW/JL[4]/WSLXDM"]
    assert records[0].raw is not None and records[0].raw.startswith(b"<JL>")


def test_record_count_must_match_the_header() -> None:
    """Given a header announcing 3 records over a batch of 2, when decoded, then the batch is refused at JLS."""
    err = failure(batch(record_of("assessment-commission"), record_of("custody-notice"), count=3))
    assert err.code == "record_count"
    assert err.problems[0].where == "/SJBW/BWT/JLS"


def test_broken_header_refuses_the_batch() -> None:
    """Given a header without its sender, when decoded, then the whole batch is refused at the header."""
    root = golden_batch("assessment-commission")
    fsdw = root.find("BWT/FSDW")
    assert fsdw is not None
    root.find("BWT").remove(fsdw)  # type: ignore[union-attr]
    err = failure(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    assert err.code == "native_schema"
    assert err.problems[0].where is not None and err.problems[0].where.startswith("/SJBW/BWT")
    assert "FSDW" in err.problems[0].reason


def test_impossible_send_time_refuses_the_batch() -> None:
    """Given a send time that is no time (month 13), when decoded, then the batch is refused at FSSJ."""
    root = golden_batch("assessment-commission")
    root.find("BWT/FSSJ").text = "2026-13-02 10:15:00"  # type: ignore[union-attr]
    err = failure(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    assert err.code == "native_header" and err.problems[0].where == "/SJBW/BWT/FSSJ"


def test_header_gives_sender_and_send_time() -> None:
    """Given a batch header, when decoded, then its sender and Beijing send time become the envelope's."""
    env = canonical(one((FOLDER / "assessment-commission.in.xml").read_bytes()))["envelope"]
    assert isinstance(env, dict)
    assert env["sender"] == "530502FY" and env["sentAt"] == "2026-03-02T10:15:00+08:00"


def test_not_a_court_batch() -> None:
    """Given well-formed XML of another kind, when decoded, then it is refused as not a court batch."""
    err = failure(b'<?xml version="1.0" encoding="UTF-8"?><JCJH><BT/></JCJH>')
    assert err.code == "not_court_batch" and err.problems[0].where == "/JCJH"


# ---- hostile and malformed input -------------------------------------------------------------------------


@pytest.mark.parametrize("prolog", [
    b'<!DOCTYPE SJBW SYSTEM "http://evil.example/x.dtd">',
    b'<!DOCTYPE SJBW [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    b'<!DOCTYPE SJBW [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>',
])
def test_dtd_and_entities_are_refused(prolog: bytes) -> None:
    """Given a batch with a DOCTYPE or entity declarations, when decoded, then it is refused before parsing."""
    payload = (FOLDER / "assessment-commission.in.xml").read_bytes().replace(b"?>\n", b"?>\n" + prolog + b"\n", 1)
    err = failure(payload)
    assert err.code == "dtd_forbidden" and err.problems[0].line == 2


def test_not_well_formed() -> None:
    """Given a truncated batch, when decoded, then it is refused as not well-formed with the line."""
    payload = (FOLDER / "assessment-commission.in.xml").read_bytes()[:600]
    err = failure(payload)
    assert err.code == "not_xml" and err.problems[0].line is not None


def test_gb18030_bytes_declared_utf8_are_refused() -> None:
    """Given GB18030 bytes under a UTF-8 declaration, when decoded, then the wrong encoding is named."""
    payload = (FOLDER / "assessment-commission.in.xml").read_bytes().decode("utf-8").encode("gb18030")
    err = failure(payload)
    assert err.code == "wrong_encoding" and "GB18030" in err.message


def test_utf8_bytes_declared_gb18030_are_refused() -> None:
    """Given UTF-8 bytes under a GB18030 declaration, when decoded, then they are refused, not garbled."""
    payload = (FOLDER / "assessment-commission.in.xml").read_bytes().replace(b'encoding="UTF-8"',
                                                                             b'encoding="GB18030"')
    err = failure(payload)
    assert err.code == "wrong_encoding" and "declared encoding GB18030" in err.message


def test_unsupported_declared_encoding_is_refused() -> None:
    """Given a batch declared ISO-8859-1, when decoded, then the encoding is refused."""
    payload = (FOLDER / "custody-notice.in.xml").read_bytes().replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"')
    assert failure(payload).code == "unsupported_encoding"


def test_gb18030_and_utf8_with_bom_read_the_same() -> None:
    """Given one batch in UTF-8, UTF-8 with a byte-order mark, and GB18030, when decoded, then all three
    give the same canonical message."""
    utf8 = (FOLDER / "assessment-commission.in.xml").read_bytes()
    gb = utf8.decode("utf-8").replace('encoding="UTF-8"', 'encoding="GB18030"').encode("gb18030")
    expected = canonical(one(utf8))
    assert canonical(one(b"\xef\xbb\xbf" + utf8)) == expected
    assert canonical(one(gb)) == expected


def test_unknown_document_type_code() -> None:
    """Given a record with a document-type code the court system does not have, when decoded, then it is
    rejected at WSLXDM naming the code."""
    rec = one(batch(edited("assessment-commission", "WSLXDM", "1999")))
    [problem] = rec.problems
    assert problem.where == "/SJBW/JL/WSLXDM" and "'1999'" in problem.reason


def test_document_type_and_body_must_agree() -> None:
    """Given a 判决书 code (1101) over an assessment commission's body, when decoded, then the record is
    rejected at the body element."""
    rec = one(batch(edited("assessment-commission", "WSLXDM", "1101")))
    [problem] = rec.problems
    assert problem.where == "/SJBW/JL/WTXX" and "<SDXX>" in problem.reason


@pytest.mark.parametrize(("path", "value", "where"), [
    ("RYXX/XB", "3", "/SJBW/JL/RYXX/XB"),
    ("AJXX/JZLB", "2", "/SJBW/JL/AJXX/JZLB"),
    ("WTXX/WSQD/WS/WSZL", "15", "/SJBW/JL/WTXX/WSQD/WS[1]/WSZL"),
    ("WTXX/SFSC", "是", "/SJBW/JL/WTXX/SFSC"),
])
def test_bad_code_in_a_code_list(path: str, value: str, where: str) -> None:
    """Given a code outside its code list, when decoded, then the record is rejected at that field."""
    rec = one(batch(edited("assessment-commission", path, value)))
    [problem] = rec.problems
    assert problem.where == where and f"'{value}'" in problem.reason


@pytest.mark.parametrize("value", ["2026-02-30", "20260302", "2026/03/02", "2026-3-2"])
def test_bad_date(value: str) -> None:
    """Given a date that does not exist or is not written YYYY-MM-DD, when decoded, then the record is
    rejected at that date."""
    rec = one(batch(edited("assessment-commission", "WTXX/WTRQ", value)))
    [problem] = rec.problems
    assert problem.where == "/SJBW/JL/WTXX/WTRQ" and value in problem.reason


def test_missing_required_field() -> None:
    """Given a person without a name, when decoded, then the record is rejected at the element found in
    its place, naming the expected XM."""
    rec = one(batch(edited("assessment-commission", "RYXX/XM", None)))
    [problem] = rec.problems
    assert problem.where == "/SJBW/JL/RYXX/SFZHM" and "Expected is ( XM )" in problem.reason


def test_blank_required_field() -> None:
    """Given a name that is only spaces, when decoded, then the record is rejected at XM as blank."""
    rec = one(batch(edited("assessment-commission", "RYXX/XM", "   ")))
    [problem] = rec.problems
    assert problem.where == "/SJBW/JL/RYXX/XM" and problem.reason == "姓名 (XM) is required but empty or missing"


def test_canonical_check_is_placed_on_the_native_field() -> None:
    """Given an ID number the canonical schema refuses, when decoded, then the problem names SFZHM."""
    rec = one(batch(edited("assessment-commission", "RYXX/SFZHM", "53052219880314031")))
    [problem] = rec.problems
    assert problem.where == "/SJBW/JL/RYXX/SFZHM"


# ---- normal forms ----------------------------------------------------------------------------------------


def test_full_width_case_number_is_normalised() -> None:
    """Given a case number typed with full-width digits and half-width brackets, when decoded, then it has
    ASCII digits and full-width brackets."""
    rec = one(batch(edited("assessment-commission", "AJXX/AH", "(２０２６)云0502刑初１２３号")))
    assert get(canonical(rec), "case/caseNumber") == "（2026）云0502刑初123号"


@pytest.mark.parametrize("typed", ["阿依古丽•买买提", "阿依古丽.买买提", "阿依古丽・买买提", "阿依古丽 · 买买提"])
def test_minority_name_separator_is_normalised(typed: str) -> None:
    """Given a transliterated name typed with a look-alike dot, when decoded, then it uses U+00B7."""
    rec = one(batch(edited("assessment-commission", "RYXX/XM", typed)))
    assert get(canonical(rec), "person/name") == "阿依古丽·买买提"


@pytest.mark.parametrize("encoding", ["UTF-8", "GB18030"])
def test_name_outside_the_bmp_is_kept(encoding: str) -> None:
    """Given a name with a character outside the BMP (𠮷), when decoded from UTF-8 or GB18030, then it is
    kept as it is."""
    rec = one(batch(edited("assessment-commission", "RYXX/XM", "𠮷祥"), encoding=encoding))
    assert get(canonical(rec), "person/name") == "𠮷祥"


def test_optional_native_fields_may_be_absent_and_the_message_id_is_stable() -> None:
    """Given a record with no message id and the optional fields left out, when decoded twice, then it
    translates both times to the same derived message id."""
    payload = (FOLDER / "sentencing-decision.in.xml").read_bytes()
    first = canonical(one(payload))
    again = canonical(one(payload))
    expected = str(uuid.uuid5(MESSAGE_ID_NAMESPACE, "530523FY|龙法暂决〔2026〕2号"))
    assert get(first, "envelope/messageId") == get(again, "envelope/messageId") == expected


# ---- schema, samples and spec page -----------------------------------------------------------------------


def _enumerations() -> dict[str, set[str]]:
    doc = etree.parse(str(XSD))
    return {str(t.get("name")): {str(e.get("value")) for e in t.iter(f"{XS}enumeration")}
            for t in doc.getroot().iter(f"{XS}simpleType") if t.find(f"{XS}restriction/{XS}enumeration") is not None}


def test_code_lists_in_the_schema_match_the_mapping() -> None:
    """Given the native XSD, then each code list holds exactly the codes the mapping converts."""
    enums = _enumerations()
    for name, table in CODE_LISTS.items():
        assert enums[name] == set(table.table) | set(table.aliases), name
    assert enums["WSLXDM"] == {s.native_type for s in SPECS.items} == set(BODY)
    assert enums["SFDM"] == {"1", "0"}


@pytest.mark.parametrize("sample", sorted(SAMPLES.glob("*.xml")), ids=lambda p: p.name)
def test_samples_are_valid_and_translate(sample: Path) -> None:
    """Given a shipped native sample, then it is valid for the court XSD and translates without problems."""
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    assert schema.validate(etree.fromstring(sample.read_bytes())), schema.error_log
    [rec] = decode(sample.read_bytes(), sender_of(sample.read_bytes()))
    assert rec.ok, rec.problems
    assert sample.name.startswith(native.read_batch(sample.read_bytes())[0].native_type or "?")


def test_every_document_type_has_a_sample() -> None:
    """Given the samples folder, then each document type code has one sample."""
    assert {p.name[:4] for p in SAMPLES.glob("*.xml")} == {s.native_type for s in SPECS.items}


def _row(native_path: str, label: str, canonical_path: str, conversion: str) -> str:
    return f"| `{native_path}` | {label} | `{canonical_path}` | {conversion} |"


def test_spec_page_mapping_tables_match_the_code() -> None:
    """Given the spec page, then it lists every mapping row of every document type as the code has it."""
    page = SPEC_PAGE.read_text(encoding="utf-8")
    shared = len(ENVELOPE) + len(CASE) + len(PERSON)
    for spec in SPECS.items:
        rows = mapping_table(spec)
        for row in rows[:shared]:
            assert _row(*row) in page, row
        for row in rows[shared:]:
            assert _row(*row) in page, (spec.native_type, row)
