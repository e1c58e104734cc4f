"""The county judicial bureau's exchange messages (<JHBW>, adapters/bureau): golden pairs, round trips, batches
with bad records, hostile and malformed input."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters import NativeError, Record, get_adapter
from adapters.bureau import mapping, native
from adapters.kit.canonical import parse_canonical
from adapters.kit.mapping import MESSAGE_ID_NAMESPACE, mapping_table
from hub.core.routing import HUB_MESSAGE_TYPES
from tests.adapters.strategies import canonical_messages
from tests.adapters.support import GOLDEN, check_inbound, check_outbound, context, golden_names, round_trip

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "schemas" / "agencies" / "bureau" / "samples"
CANONICAL_SAMPLES = ROOT / "schemas" / "canonical" / "v1" / "samples"
ADAPTER = get_adapter("bureau")
TENGCHONG = "530581SF"


def decode(payload: bytes, sender: str = TENGCHONG) -> list[Record]:
    return list(ADAPTER.decode(payload, context(sender)))


def sample(code: str) -> str:
    """The text of the schema sample of a business type code (UTF-8)."""
    (path,) = SAMPLES.glob(f"{code}-*.xml")
    return path.read_text("utf-8")


def one(payload: str | bytes) -> Record:
    records = decode(payload.encode("utf-8") if isinstance(payload, str) else payload)
    assert len(records) == 1
    return records[0]


def canonical_of(rec: Record) -> dict[str, object]:
    assert rec.ok, rec.problems
    assert rec.canonical is not None
    return parse_canonical(rec.canonical)[1]


def wheres(rec: Record) -> list[str | None]:
    return [p.where for p in rec.problems]


# ---- golden pairs --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", golden_names("bureau", "in"))
def test_golden_inbound(name: str) -> None:
    """Given a native message the bureau sends, when decoded, then it gives exactly the golden canonical message."""
    raw = (GOLDEN / "bureau" / f"{name}.in.xml").read_bytes()
    found = re.search(rb"<FSDW>([0-9A-Z]+)</FSDW>", raw)
    assert found is not None
    check_inbound("bureau", name, found.group(1).decode())


@pytest.mark.parametrize("name", golden_names("bureau", "out"))
def test_golden_outbound(name: str) -> None:
    """Given a canonical message for a bureau, when encoded, then it gives exactly the golden native bytes."""
    check_outbound("bureau", name)


def test_golden_pairs_cover_every_type() -> None:
    """Given the golden folder, then every type the bureau sends has an inbound pair and every type it receives
    an outbound pair."""
    def types(names: list[str], suffix: str) -> set[str]:
        return {parse_canonical((GOLDEN / "bureau" / f"{n}{suffix}").read_bytes())[0] for n in names}

    assert types(golden_names("bureau", "in"), ".in.canonical.xml") >= ADAPTER.sends
    assert types(golden_names("bureau", "out"), ".out.canonical.xml") >= ADAPTER.receives


def test_every_business_type_has_a_valid_sample() -> None:
    """Given the schema samples, then there is one per business type code, each valid against jhbw.xsd, and each
    decodes into the canonical type of its code."""
    codes = {s.native_type for s in mapping.SPECS.items}
    assert {p.name[:4] for p in SAMPLES.glob("*.xml")} == codes
    for code in sorted(codes):
        doc = etree.fromstring(sample(code).encode("utf-8"))
        assert native.schema().validate(doc), (code, native.schema().error_log)
        rec = one(sample(code).encode("utf-8"))
        assert rec.ok, (code, rec.problems)
        assert rec.message_type == mapping.SPECS.by_native(code).message_type


def test_the_format_covers_what_the_bureau_exchanges() -> None:
    """Given the adapter, then every type it sends or receives has a business type code."""
    assert ADAPTER.sends | ADAPTER.receives <= mapping.SPECS.message_types


def test_schema_code_lists_match_the_mapping() -> None:
    """Given jhbw.xsd, then each code list's enumeration is exactly the codes the mapping accepts."""
    xs = "{http://www.w3.org/2001/XMLSchema}"
    doc = etree.parse(str(ROOT / "schemas" / "agencies" / "bureau" / native.XSD))
    for type_name, codes in mapping.CODE_LISTS.items():
        found = doc.getroot().find(f"{xs}simpleType[@name='{type_name}']")
        assert found is not None, type_name
        values = {str(e.get("value")) for e in found.iter(f"{xs}enumeration")}
        assert values == set(codes.table) | set(codes.aliases), type_name


def test_spec_page_mapping_tables_match_the_code() -> None:
    """Given docs/agencies/bureau.md, then every row of every business type's mapping table is in it, and its
    constant values are in that type's row of the business-type table."""
    page = (ROOT / "docs" / "agencies" / "bureau.md").read_text("utf-8")
    for spec in mapping.SPECS.items:
        (type_row,) = [line for line in page.splitlines() if line.startswith(f"| `{spec.native_type}` |")]
        assert f"`{spec.message_type}`" in type_row
        for native_path, label, canonical, conversion in mapping_table(spec):
            if native_path == "(fixed)":
                assert f"`{canonical}` = `{conversion.removeprefix('= ')}`" in type_row, type_row
                continue
            row = f"| `{native_path}` | {label} | `{canonical}` | {conversion} |"
            assert row in page, row


# ---- round trips ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("message_type", sorted(ADAPTER.sends | ADAPTER.receives))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_round_trip(message_type: str, data: st.DataObject) -> None:
    """Given any valid canonical message of a type the bureau sends or receives, when encoded for the bureau and
    decoded again, then the content is unchanged."""
    round_trip(ADAPTER, data.draw(canonical_messages(message_type)))


@pytest.mark.parametrize("code", [s.native_type for s in mapping.SPECS.items])
def test_round_trip_of_every_business_type(code: str) -> None:
    """Given the sample of a business type, when decoded, encoded again and decoded, then the content is unchanged
    and the encoder chose the same business type code."""
    canonical = one(sample(code)).canonical
    assert canonical is not None
    message_type, _ = parse_canonical(canonical)
    assert f"<YWLX>{code}</YWLX>".encode() in ADAPTER.encode(canonical, message_type=message_type).body
    round_trip(ADAPTER, canonical)


def test_encode_refuses_what_the_format_cannot_carry() -> None:
    """Given a technical acknowledgement or a type that does not match, when encoded, then ValueError."""
    ack = (CANONICAL_SAMPLES / "TechnicalAck.xml").read_bytes()
    with pytest.raises(ValueError, match="TechnicalAck"):
        ADAPTER.encode(ack, message_type="TechnicalAck")
    with pytest.raises(ValueError, match="not a CustodyNotice"):
        ADAPTER.encode((CANONICAL_SAMPLES / "SentencingDecision.xml").read_bytes(), message_type="CustodyNotice")


def test_encoded_messages_are_utf8_and_valid() -> None:
    """Given every canonical sample the format carries, when encoded, then the bytes are declared UTF-8 and valid
    against jhbw.xsd."""
    for path in sorted(CANONICAL_SAMPLES.glob("*.xml")):
        message_type, _ = parse_canonical(path.read_bytes())
        if message_type == "TechnicalAck" or message_type in HUB_MESSAGE_TYPES:
            continue  # the hub's own notices go to every agency as canonical XML
        enc = ADAPTER.encode(path.read_bytes(), message_type=message_type)
        assert enc.body.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
        assert (enc.content_type, enc.extension) == ("application/xml; charset=utf-8", "xml")
        assert native.schema().validate(etree.fromstring(enc.body)), path.name


# ---- batches -------------------------------------------------------------------------------------------------


def _record_of(code: str) -> str:
    found = re.search(r"<SJX>.*</SJX>", sample(code), re.S)
    assert found is not None
    return found.group(0)


def _batch(records: list[str], sender: str = TENGCHONG) -> bytes:
    head = (f'<?xml version="1.0" encoding="UTF-8"?>\n<JHBW xmlns="urn:sqjz:exchange:1">\n  <BWTX>\n'
            f"    <BWBH>{sender}-20260620-0001</BWBH>\n    <BBH>1.0</BBH>\n    <FSDW>{sender}</FSDW>\n"
            f"    <FSSJ>2026-06-20 17:30:00</FSSJ>\n    <JLS>{len(records)}</JLS>\n  </BWTX>\n")
    return (head + "\n".join(records) + "\n</JHBW>\n").encode("utf-8")


def test_batch_with_bad_records() -> None:
    """Given a batch of five records where record 2 has a sex code outside GB/T 2261.1 and record 4 lacks the
    case number, when decoded, then records 1, 3 and 5 translate and records 2 and 4 are reported with their
    record numbers and native paths."""
    records = [_record_of(c) for c in ("2001", "2101", "2102", "2203", "2205")]
    records[1] = records[1].replace("<XB>1</XB>", "<XB>5</XB>")
    records[3] = re.sub(r"<AH>[^<]*</AH>\s*", "", records[3])
    out = decode(_batch(records))
    assert [r.number for r in out] == [1, 2, 3, 4, 5]
    assert [r.ok for r in out] == [True, False, True, False, True]
    assert [r.message_type for r in out if r.ok] == ["AssessmentOpinion", "ReportingOutcome", "SupervisionEvent"]
    bad_sex, no_case = out[1], out[3]
    assert (bad_sex.where, no_case.where) == ("/JHBW/SJX[2]", "/JHBW/SJX[4]")
    assert wheres(bad_sex) == ["/JHBW/SJX[2]/JZDX/XB"]
    assert "'5' is not an element of the set" in bad_sex.problems[0].reason
    assert wheres(no_case) == ["/JHBW/SJX[4]/AJXX/JDJG"]
    assert "Expected is ( AH )" in no_case.problems[0].reason
    assert bad_sex.raw is not None and b"<XB>5</XB>" in bad_sex.raw


def test_batch_records_take_sender_and_time_from_the_header() -> None:
    """Given a batch whose records carry no sending time, when decoded, then each record's sender is the header's
    sending organ and its sentAt the header's sending time (Beijing)."""
    records = [re.sub(r"<FWSJ>[^<]*</FWSJ>\s*", "", _record_of(c)) for c in ("2202", "2501")]
    for rec in decode(_batch(records)):
        env = canonical_of(rec)["envelope"]
        assert isinstance(env, dict)
        assert (env["sender"], env["sentAt"]) == (TENGCHONG, "2026-06-20T17:30:00+08:00")


def test_record_count_must_match() -> None:
    """Given a header whose record count 记录数 disagrees with the records, when decoded, then the payload is
    refused at /JHBW/BWTX/JLS."""
    payload = _batch([_record_of("2102")]).replace(b"<JLS>1</JLS>", b"<JLS>2</JLS>")
    with pytest.raises(NativeError) as e:
        decode(payload)
    assert e.value.code == "native_invalid"
    assert e.value.problems[0].where == "/JHBW/BWTX/JLS"


def test_broken_header_rejects_the_payload() -> None:
    """Given a header without the sending organ, when decoded, then the whole payload is refused, naming it."""
    payload = _batch([_record_of("2102")]).replace(b"<FSDW>530581SF</FSDW>", b"")
    with pytest.raises(NativeError) as e:
        decode(payload)
    assert e.value.code == "native_invalid"
    assert any("FSDW" in p.reason and p.where == "/JHBW/BWTX/FSSJ" for p in e.value.problems)


def test_wrong_root_is_refused() -> None:
    """Given XML that is not a <JHBW> of the bureau namespace, when decoded, then it is refused as such."""
    with pytest.raises(NativeError, match="not a bureau exchange message") as e:
        decode(sample("2102").replace('xmlns="urn:sqjz:exchange:1"', 'xmlns="urn:other"').encode())
    assert e.value.problems[0].where == "/JHBW"


# ---- hostile and malformed input ----------------------------------------------------------------------------


def test_doctype_and_entities_are_refused() -> None:
    """Given a payload with a DTD declaring an entity, when decoded, then it is refused before parsing."""
    text = sample("2102")
    hostile = text.replace('<JHBW', '<!DOCTYPE JHBW [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<JHBW', 1)
    hostile = hostile.replace("<BZ>", "<BZ>&x;", 1)
    with pytest.raises(NativeError) as e:
        decode(hostile.encode())
    assert e.value.code == "dtd_forbidden"


def test_not_well_formed_is_refused() -> None:
    """Given a payload cut off in the middle, when decoded, then it is refused as not well-formed, with a line."""
    text = sample("2102")
    with pytest.raises(NativeError) as e:
        decode(text[: text.index("</AJXX>")].encode())
    assert e.value.code == "not_xml"
    assert e.value.problems[0].line is not None


def test_wrong_declared_encoding_is_refused() -> None:
    """Given GB18030 bytes declared UTF-8, or UTF-8 bytes declared GB18030, when decoded, then each is refused
    with a clear error."""
    text = sample("2102")
    with pytest.raises(NativeError, match="not UTF-8") as e:
        decode(text.encode("gb18030"))
    assert e.value.code == "wrong_encoding"
    with pytest.raises(NativeError, match="declared encoding GB18030, but") as e:
        decode(text.replace("encoding='UTF-8'", "encoding='GB18030'").encode("utf-8"))
    assert e.value.code == "wrong_encoding"


def test_gb18030_and_utf8_bom_are_accepted() -> None:
    """Given the same message as GB18030 (declared) and as UTF-8 with a byte-order mark, when decoded, then both
    give the same canonical message as plain UTF-8."""
    text = sample("2102")
    plain = canonical_of(one(text))
    gb = text.replace("encoding='UTF-8'", "encoding='GB18030'").encode("gb18030")
    assert canonical_of(one(gb)) == plain
    assert canonical_of(one(b"\xef\xbb\xbf" + text.encode("utf-8"))) == plain


def test_unknown_business_type_code() -> None:
    """Given a record with business type 9999, when decoded, then that record is refused at its YWLX, listing the
    codes the format has."""
    rec = one(sample("2102").replace("<YWLX>2102</YWLX>", "<YWLX>9999</YWLX>"))
    assert not rec.ok
    assert wheres(rec) == ["/JHBW/SJX/YWLX"]
    assert "'9999' is not a 业务类型 (YWLX)" in rec.problems[0].reason
    assert "2102 (报到情况)" in rec.problems[0].reason


def test_body_of_another_business_type() -> None:
    """Given a record typed 2101 (回执) that carries a 报到情况 body, when decoded, then it is refused at that body."""
    rec = one(sample("2102").replace("<YWLX>2102</YWLX>", "<YWLX>2101</YWLX>"))
    assert wheres(rec) == ["/JHBW/SJX/BDQK"]
    assert "<WSHZ>" in rec.problems[0].reason


def test_bad_code_in_a_code_list() -> None:
    """Given a correction type code 05 (not in 矫正类别代码), when decoded, then the record is refused at JZLB."""
    rec = one(sample("2102").replace("<JZLB>02</JZLB>", "<JZLB>05</JZLB>"))
    assert wheres(rec) == ["/JHBW/SJX/AJXX/JZLB"]
    assert "'05' is not an element of the set" in rec.problems[0].reason


def test_bad_dates() -> None:
    """Given a birth date that does not exist, or one written YYYYMMDD, when decoded, then the record is refused
    at CSRQ: the first by the date check, the second by the schema."""
    rec = one(sample("2102").replace("<CSRQ>1988-03-14</CSRQ>", "<CSRQ>1988-02-30</CSRQ>"))
    assert wheres(rec) == ["/JHBW/SJX/JZDX/CSRQ"]
    assert rec.problems[0].reason == "出生日期 (CSRQ): '1988-02-30' is not a date of the form YYYY-MM-DD"
    rec = one(sample("2102").replace("<CSRQ>1988-03-14</CSRQ>", "<CSRQ>19880314</CSRQ>"))
    assert wheres(rec) == ["/JHBW/SJX/JZDX/CSRQ"]
    assert "pattern" in rec.problems[0].reason


def test_missing_required_field() -> None:
    """Given a record without its document number 文书编号 (WSBH), when decoded, then it is refused where WSBH
    was expected."""
    rec = one(re.sub(r"<WSBH>[^<]*</WSBH>\s*", "", sample("2102")))
    assert not rec.ok
    assert wheres(rec) == ["/JHBW/SJX/FWSJ"]
    assert "Expected is ( WSBH )" in rec.problems[0].reason


def test_blank_required_field() -> None:
    """Given a name of spaces only, when decoded, then the record is refused at XM."""
    rec = one(sample("2102").replace("<XM>杨国富</XM>", "<XM>   </XM>"))
    assert wheres(rec) == ["/JHBW/SJX/JZDX/XM"]
    assert "姓名 (XM)" in rec.problems[0].reason


def test_full_width_case_number_is_normalised() -> None:
    """Given a case number typed with half-width brackets and full-width digits, when decoded, then the canonical
    case number has ASCII digits and full-width brackets."""
    text = sample("2102").replace("<AH>（2026）云0502刑初123号</AH>", "<AH>(２０２６)云０５０２刑初１２３号</AH>")
    case = canonical_of(one(text))["case"]
    assert isinstance(case, dict)
    assert case["caseNumber"] == "（2026）云0502刑初123号"


@pytest.mark.parametrize("typed", ["阿依古丽•买买提", "阿依古丽.买买提", "阿依古丽・买买提", "阿依古丽 · 买买提"])
def test_minority_name_dot_is_normalised(typed: str) -> None:
    """Given a minority name typed with a look-alike separator dot, when decoded, then the name carries U+00B7."""
    person = canonical_of(one(sample("2102").replace("<XM>杨国富</XM>", f"<XM>{typed}</XM>")))["person"]
    assert isinstance(person, dict)
    assert person["name"] == "阿依古丽·买买提"


@pytest.mark.parametrize("encoding", ["UTF-8", "GB18030"])
def test_name_outside_the_bmp_is_kept(encoding: str) -> None:
    """Given a name with 𠮷 (U+20BB7, outside the BMP), in UTF-8 or GB18030, when decoded, then it is kept."""
    text = sample("2102").replace("<XM>杨国富</XM>", "<XM>𠮷祥</XM>").replace("encoding='UTF-8'",
                                                                           f"encoding='{encoding}'")
    person = canonical_of(one(text.encode(encoding)))["person"]
    assert isinstance(person, dict)
    assert person["name"] == "𠮷祥"


def test_identifiers_are_normalised() -> None:
    """Given an ID number ending in lower-case x and an upper-case message id, when decoded, then the ID ends in X
    and the message id is lower-case."""
    text = sample("2102").replace("<SFZHM>530522198803140310</SFZHM>", "<SFZHM>53052219880314031x</SFZHM>")
    text = text.replace("<XXID>5b01edb4", "<XXID>5B01EDB4")
    data = canonical_of(one(text))
    assert data["person"]["idNumber"] == "53052219880314031X"  # type: ignore[index]
    assert data["envelope"]["messageId"] == "5b01edb4-1404-4a0b-9ca3-19b5e63dcac2"  # type: ignore[index]


def test_message_id_is_derived_when_absent() -> None:
    """Given a record without a message id 消息标识, when decoded twice, then it gets the same id both times, derived
    from the sender and its document number."""
    text = re.sub(r"<XXID>[^<]*</XXID>\s*", "", sample("2102"))
    first = canonical_of(one(text))["envelope"]
    again = canonical_of(one(text))["envelope"]
    assert isinstance(first, dict) and isinstance(again, dict)
    expected = uuid.uuid5(MESSAGE_ID_NAMESPACE, f"{TENGCHONG}|{first['senderDocumentId']}")
    assert first["messageId"] == again["messageId"] == str(expected)


def test_element_outside_the_business_type() -> None:
    """Given a release (解除, 2601) that states a termination reason 终止原因, when decoded, then it is refused at
    ZZYY; the same record as a termination (2602) translates."""
    text = sample("2601").replace("<JCZZ>", "<JCZZ>\n      <ZZYY>3</ZZYY>")
    rec = one(text)
    assert wheres(rec) == ["/JHBW/SJX/JCZZ/ZZYY"]
    assert rec.message_type == "ReleaseNotice"
    release = canonical_of(one(text.replace("<YWLX>2601</YWLX>", "<YWLX>2602</YWLX>")))["release"]
    assert isinstance(release, dict)
    assert release["kind"] == "TERMINATED_DEATH"


# ---- opinion on a change of the place of execution (执行地变更征求意见) ------------------------------------------


@pytest.mark.parametrize(("name", "code", "sender"), [("TransferOpinion.xml", "2302", "530524SF"),
                                                      ("TransferOpinion-reply.xml", "2303", "530521SF")])
def test_transfer_opinion_goes_from_bureau_to_bureau(name: str, code: str, sender: str) -> None:
    """Given bureau A's request for bureau B's opinion on a change of the place of execution, or B's reply, then a
    bureau both sends and receives it: the kind chooses the business type (2302 征求意见函, 2303 征求意见回复), and
    what the hub writes for one bureau decodes, as sent by the other, into the same canonical message."""
    assert "TransferOpinion" in ADAPTER.sends & ADAPTER.receives
    canonical = (CANONICAL_SAMPLES / name).read_bytes()
    body = ADAPTER.encode(canonical, message_type="TransferOpinion").body
    assert f"<YWLX>{code}</YWLX>".encode() in body
    assert f"<FSDW>{sender}</FSDW>".encode() in body
    round_trip(ADAPTER, canonical)


@pytest.mark.parametrize(("element", "label"), [("YJJL", "意见结论"), ("HFRQ", "回复日期")])
def test_reply_must_state_its_conclusion_and_date(element: str, label: str) -> None:
    """Given a 征求意见回复 (2303) without its conclusion 意见结论 or its reply date 回复日期 (optional in the <ZQYJ>
    block it shares with the request), when decoded, then the record is refused at that element; the same record
    as a 征求意见函 (2302), which states neither, translates."""
    text = re.sub(rf"<{element}>[^<]*</{element}>\s*", "", sample("2303"))
    rec = one(text)
    assert not rec.ok
    assert rec.message_type == "TransferOpinion"
    assert wheres(rec) == [f"/JHBW/SJX/ZQYJ/{element}"]
    assert rec.problems[0].reason == f"{label} ({element}) is required but empty or missing"
    opinion = canonical_of(one(text.replace("<YWLX>2303</YWLX>", "<YWLX>2302</YWLX>")))["opinion"]
    assert isinstance(opinion, dict)
    assert opinion["kind"] == "REQUEST"


def test_transfer_opinion_conclusion_codes() -> None:
    """Given replies with 意见结论 1 and 2, when decoded, then they agree and disagree; a code outside 意见结论代码 is
    refused by the schema at YJJL."""
    for code, conclusion in (("1", "AGREE"), ("2", "DISAGREE")):
        text = sample("2303").replace("<YJJL>1</YJJL>", f"<YJJL>{code}</YJJL>")
        opinion = canonical_of(one(text))["opinion"]
        assert isinstance(opinion, dict)
        assert (opinion["kind"], opinion["conclusion"]) == ("REPLY", conclusion)
    rec = one(sample("2303").replace("<YJJL>1</YJJL>", "<YJJL>同意</YJJL>"))
    assert wheres(rec) == ["/JHBW/SJX/ZQYJ/YJJL"]
    assert "is not an element of the set" in rec.problems[0].reason
