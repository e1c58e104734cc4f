"""The detention-centre adapter (看守所管理信息系统, KSSBW files): golden pairs, round trips, batches and hostile
input."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters import NativeError, Record, get_adapter
from adapters.detention.mapping import HEADER, SPECS
from adapters.kit import nativexml
from adapters.kit.canonical import parse_canonical
from adapters.kit.mapping import MESSAGE_ID_NAMESPACE, Group, Spec, mapping_table
from tests.adapters.strategies import canonical_messages
from tests.adapters.support import GOLDEN, check_inbound, check_outbound, context, golden_names, round_trip

SYSTEM = "detention"
SENDER = "530502KS"
ADAPTER = get_adapter(SYSTEM)
FOLDER = GOLDEN / SYSTEM
SAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "agencies" / SYSTEM / "samples"
SPEC_PAGE = Path(__file__).resolve().parents[2] / "docs" / "agencies" / f"{SYSTEM}.md"
CANONICAL_SAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "canonical" / "v1" / "samples"
RECORD = "/KSSBW/BWNR/RYXX"


def golden(name: str) -> bytes:
    return (FOLDER / name).read_bytes()


def decode(native: bytes) -> list[Record]:
    return list(ADAPTER.decode(native, context(SENDER)))


def decode_one(native: bytes) -> Record:
    records = decode(native)
    assert len(records) == 1
    return records[0]


def canonical_of(rec: Record) -> dict[str, object]:
    assert rec.ok, rec.problems
    assert rec.canonical is not None
    return parse_canonical(rec.canonical)[1]


def edited(name: str, field: str, value: str | None) -> bytes:
    """A golden native file with the record's field set to ``value`` (None removes it; a new field is added)."""
    root = etree.fromstring(golden(name))
    record = root.find("BWNR/RYXX")
    assert record is not None
    el = record.find(field)
    if value is None:
        assert el is not None, field
        record.remove(el)
    else:
        if el is None:
            el = etree.SubElement(record, field)
        el.text = value
    return nativexml.serialise(root, "GB18030")


# ---- golden pairs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", golden_names(SYSTEM, "in"))
def test_golden_inbound(name: str) -> None:
    """Given a KSSBW file as the detention centre sends it (GB18030), when decoded, then it gives exactly the
    golden canonical message."""
    check_inbound(SYSTEM, name, SENDER)


@pytest.mark.parametrize("name", golden_names(SYSTEM, "out"))
def test_golden_outbound(name: str) -> None:
    """Given a canonical message for the detention centre, when encoded, then it gives exactly the golden
    KSSBW bytes."""
    check_outbound(SYSTEM, name)


def test_golden_pairs_cover_every_type_sent_and_received() -> None:
    """Given the golden folder, then every type the detention centre sends has an inbound pair and every type
    it receives an outbound pair."""
    inbound = {parse_canonical(golden(f"{n}.in.canonical.xml"))[0] for n in golden_names(SYSTEM, "in")}
    outbound = {parse_canonical(golden(f"{n}.out.canonical.xml"))[0] for n in golden_names(SYSTEM, "out")}
    assert inbound >= ADAPTER.sends
    assert outbound >= ADAPTER.receives


def test_schema_samples_cover_every_business_type_and_decode() -> None:
    """Given the native samples shipped with the schema, then there is one per business type and each decodes
    into a valid canonical message of its type."""
    seen = set()
    for path in sorted(SAMPLES.glob("*.xml")):
        rec = decode_one(path.read_bytes())
        code = etree.fromstring(path.read_bytes()).findtext("BWNR/RYXX/YWLX")
        assert rec.ok, (path.name, rec.problems)
        assert rec.message_type == SPECS.by_native(str(code)).message_type
        seen.add(code)
    assert seen == {s.native_type for s in SPECS.items}


def doc_rows(spec: Spec) -> list[str]:
    """The spec page's table rows of a document type: mapping_table plus whether the field is required."""
    required: dict[str, bool] = {}
    for item in spec.fields:
        required[item.native] = item.required
        if isinstance(item, Group):
            required.update({f"{item.native}/{f.native}": f.required for f in item.fields})
    return [f"| `{n}` | {label} | {'yes' if required.get(n) else ''} | `{c}` | {conv} |"
            for n, label, c, conv in mapping_table(spec)]


def test_spec_page_mapping_tables_match_the_code() -> None:
    """Given the spec page, then every row of every document type's mapping table (and the header's) is in it,
    as the adapter runs it."""
    page = SPEC_PAGE.read_text(encoding="utf-8").splitlines()
    for spec in (*SPECS.items, Spec("BWT", "", HEADER)):
        missing = [row for row in doc_rows(spec) if row not in page]
        assert not missing, (spec.native_type, missing)


# ---- round trips ----------------------------------------------------------------------------------------

ROUND_TRIPS = [
    ("TransferPapers", {"transfer/kind": "ESCORTED_HANDOVER"}),
    ("TransferPapers", {"transfer/kind": "COUNTY_TRANSFER"}),
    ("CustodyNotice", {}),
    ("RevocationDecision", {}),
    ("ReleaseNotice", {}),
]


def test_round_trips_cover_every_type_sent_and_received() -> None:
    """Given the round-trip cases, then they cover every type the detention centre sends or receives."""
    assert {t for t, _ in ROUND_TRIPS} == ADAPTER.sends | ADAPTER.receives


@pytest.mark.parametrize(("message_type", "fixed"), ROUND_TRIPS,
                         ids=[f"{t}-{'-'.join(f.values()) or 'any'}" for t, f in ROUND_TRIPS])
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_round_trip(message_type: str, fixed: dict[str, str], data: st.DataObject) -> None:
    """Given any valid canonical message of a type the detention centre sends or receives, when encoded as
    KSSBW and decoded again, then the content is unchanged (envelope to/cc aside)."""
    round_trip(ADAPTER, data.draw(canonical_messages(message_type, fixed=fixed)))


def test_encode_refuses_a_message_the_format_has_no_business_type_for() -> None:
    """Given a sentencing decision, when encoded for the detention centre, then ValueError names why."""
    with pytest.raises(ValueError, match="业务类型"):
        ADAPTER.encode((CANONICAL_SAMPLES / "SentencingDecision.xml").read_bytes(), message_type="SentencingDecision")


def test_encoded_file_is_gb18030_and_keeps_characters_outside_the_bmp() -> None:
    """Given a canonical message naming 𠮷秀英, when encoded, then the file is GB18030, declared as such, and
    the name survives."""
    canonical = golden("release-notice.out.canonical.xml").replace("李秀英".encode(), "𠮷秀英".encode())
    enc = ADAPTER.encode(canonical, message_type="ReleaseNotice")
    assert enc.body.startswith(b"<?xml version='1.0' encoding='GB18030'?>")
    assert enc.content_type == "application/xml; charset=GB18030"
    assert "<XM>𠮷秀英</XM>" in enc.body.decode("gb18030")
    assert canonical_of(decode_one(enc.body))["person"]["name"] == "𠮷秀英"  # type: ignore[index]


# ---- batches --------------------------------------------------------------------------------------------


def record_of(name: str) -> etree._Element:
    found = etree.fromstring(golden(name)).find("BWNR/RYXX")
    assert found is not None
    return found


def batch(*records: etree._Element) -> bytes:
    root = etree.fromstring(golden("custody-notice.in.xml"))
    body = root.find("BWNR")
    assert body is not None
    for old in list(body):
        body.remove(old)
    for r in records:
        body.append(copy.deepcopy(r))
    count = root.find("BWT/JLZS")
    assert count is not None
    count.text = str(len(records))
    return nativexml.serialise(root, "GB18030")


def test_batch_good_records_translate_and_each_bad_one_is_reported_with_its_place() -> None:
    """Given a batch of four records of which the second writes sex as M and the third, a custody notice, has
    no 入所日期, when decoded, then records 1 and 4 translate and 2 and 3 are rejected, each with its record
    number and the native path of the field."""
    bad_sex = record_of("handover.in.xml")
    bad_sex.find("XB").text = "M"  # type: ignore[union-attr]
    no_start = record_of("custody-notice.in.xml")
    no_start.remove(no_start.find("RSRQ"))  # type: ignore[arg-type]
    records = decode(batch(record_of("custody-notice.in.xml"), bad_sex, no_start, record_of("handover.in.xml")))
    assert [(r.number, r.ok) for r in records] == [(1, True), (2, False), (3, False), (4, True)]
    assert [r.message_type for r in records if r.ok] == ["CustodyNotice", "TransferPapers"]
    assert [p.where for p in records[1].problems] == [f"{RECORD}[2]/XB"]
    assert "'M' is not an element of the set {'男', '女', '未知', '未说明'}" in records[1].problems[0].reason
    assert [p.where for p in records[2].problems] == [f"{RECORD}[3]/RSRQ"]
    assert records[2].problems[0].reason == "入所日期 (RSRQ) is required but empty or missing"


def test_record_count_that_disagrees_with_the_header_rejects_the_batch() -> None:
    """Given a header announcing two records and a batch of one, when decoded, then the payload is refused."""
    native = golden("custody-notice.in.xml").replace(b"<JLZS>1</JLZS>", b"<JLZS>2</JLZS>")
    with pytest.raises(NativeError) as err:
        decode(native)
    assert err.value.code == "count_mismatch"
    assert err.value.problems[0].where == "/KSSBW/BWT/JLZS"


def test_header_error_rejects_the_whole_batch() -> None:
    """Given a header sending time in the wrong form, when decoded, then the whole payload is refused at FSSJ."""
    native = golden("custody-notice.in.xml").replace(b"20260519091500", b"2026-05-19 09:15")
    with pytest.raises(NativeError) as err:
        decode(native)
    assert err.value.code == "native_invalid"
    assert [p.where for p in err.value.problems] == ["/KSSBW/BWT/FSSJ"]


# ---- hostile and malformed input ------------------------------------------------------------------------


def test_doctype_and_entities_are_refused() -> None:
    """Given a file with an internal entity (billion laughs shape), when decoded, then it is refused."""
    native = golden("custody-notice.in.xml").replace(
        b"<KSSBW>", b'<!DOCTYPE KSSBW [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>\n<KSSBW>', 1)
    with pytest.raises(NativeError) as err:
        decode(native)
    assert err.value.code == "dtd_forbidden"


def test_not_well_formed_is_refused() -> None:
    """Given a file with a tag left open, when decoded, then it is refused as not well-formed."""
    native = golden("custody-notice.in.xml").replace(b"</XM>", b"", 1)
    with pytest.raises(NativeError) as err:
        decode(native)
    assert err.value.code == "not_xml"


def test_wrong_root_element_is_refused() -> None:
    """Given a prison JYSJJH file, when decoded as a detention file, then it is refused naming KSSBW."""
    with pytest.raises(NativeError) as err:
        decode((GOLDEN / "prison" / "parole.in.xml").read_bytes())
    assert err.value.code == "wrong_format"
    assert "KSSBW" in err.value.message


def test_utf8_bytes_declared_gb18030_are_refused() -> None:
    """Given UTF-8 bytes under the GB18030 declaration, when decoded, then it is refused as wrongly encoded."""
    native = golden("custody-notice.in.xml").decode("gb18030").encode("utf-8")
    with pytest.raises(NativeError) as err:
        decode(native)
    assert err.value.code == "wrong_encoding"


def test_gb18030_bytes_declared_utf8_are_refused() -> None:
    """Given GB18030 bytes under a UTF-8 declaration, when decoded, then it is refused as wrongly encoded."""
    native = golden("custody-notice.in.xml").replace(b'encoding="GB18030"', b'encoding="UTF-8"')
    with pytest.raises(NativeError) as err:
        decode(native)
    assert err.value.code == "wrong_encoding"


def test_utf8_declared_and_utf8_with_bom_are_accepted() -> None:
    """Given the same file as UTF-8 (declared) and as UTF-8 with a byte-order mark, when decoded, then both
    give the golden canonical message."""
    expected = parse_canonical(golden("custody-notice.in.canonical.xml"))[1]
    utf8 = golden("custody-notice.in.xml").decode("gb18030").replace('encoding="GB18030"', 'encoding="UTF-8"')
    assert canonical_of(decode_one(utf8.encode("utf-8"))) == expected
    assert canonical_of(decode_one(b"\xef\xbb\xbf" + utf8.encode("utf-8"))) == expected


def test_unknown_business_type_is_reported_on_the_record() -> None:
    """Given a record whose 业务类型 is not in the code list, when decoded, then the record is rejected at YWLX."""
    rec = decode_one(edited("custody-notice.in.xml", "YWLX", "JY09"))
    assert [p.where for p in rec.problems] == [f"{RECORD}/YWLX"]
    assert "'JY09' is not an element of the set" in rec.problems[0].reason


def test_bad_measure_code_is_reported_at_its_field() -> None:
    """Given a 羁押类型 code outside the code list, when decoded, then the record is rejected at JYLX."""
    rec = decode_one(edited("custody-notice.in.xml", "JYLX", "5"))
    assert [p.where for p in rec.problems] == [f"{RECORD}/JYLX"]
    assert "{'1', '2', '3', '4', '9'}" in rec.problems[0].reason


def test_impossible_date_is_reported_at_its_field() -> None:
    """Given 入所日期 20260230, when decoded, then the record is rejected at RSRQ naming the expected form."""
    rec = decode_one(edited("custody-notice.in.xml", "RSRQ", "20260230"))
    assert [p.where for p in rec.problems] == [f"{RECORD}/RSRQ"]
    assert "入所日期 (RSRQ): '20260230' is not a date of the form YYYYMMDD" in rec.problems[0].reason


def test_date_in_the_wrong_form_is_refused_by_the_schema() -> None:
    """Given 入所日期 written 2026-05-18, when decoded, then the native schema rejects it at RSRQ."""
    rec = decode_one(edited("custody-notice.in.xml", "RSRQ", "2026-05-18"))
    assert [p.where for p in rec.problems] == [f"{RECORD}/RSRQ"]
    assert "[0-9]{8}" in rec.problems[0].reason


def test_missing_required_field_is_reported() -> None:
    """Given a record without its 案号, when decoded, then the native schema rejects the record naming AH."""
    rec = decode_one(edited("custody-notice.in.xml", "AH", None))
    assert [p.where for p in rec.problems] == [RECORD]
    assert "AH" in rec.problems[0].reason


def test_handover_without_its_document_list_is_reported() -> None:
    """Given a handover record without 文书清单, when decoded, then the record is rejected at WSQD/WS."""
    rec = decode_one(edited("handover.in.xml", "WSQD", None))
    assert [p.where for p in rec.problems] == [f"{RECORD}/WSQD/WS"]
    assert rec.problems[0].reason == "文书清单 (WS) is required but empty or missing"


def test_field_of_another_business_type_is_reported_not_dropped() -> None:
    """Given a custody notice that also carries a 撤销收监类别, when decoded, then the record is rejected naming
    the field that would be lost."""
    rec = decode_one(edited("custody-notice.in.xml", "CXLB", "撤销缓刑"))
    assert [p.where for p in rec.problems] == [f"{RECORD}/CXLB"]
    assert "CXLB is not part of YWLX JY01 (社区矫正对象羁押通报)" in rec.problems[0].reason


def test_full_width_digits_and_brackets_in_a_case_number_are_normalised() -> None:
    """Given a case number typed with full-width digits and 〔〕 brackets, when decoded, then the canonical case
    number has ASCII digits and full-width parentheses."""
    rec = decode_one(edited("custody-notice.in.xml", "AH", "〔２０２５〕云0502刑初456号"))
    assert canonical_of(rec)["case"]["caseNumber"] == "（2025）云0502刑初456号"  # type: ignore[index]


@pytest.mark.parametrize("typed", ["帕提古丽•吐尔逊", "帕提古丽.吐尔逊", "帕提古丽・吐尔逊"])
def test_minority_name_separator_is_normalised(typed: str) -> None:
    """Given a transliterated name typed with a look-alike dot, when decoded, then the name carries U+00B7."""
    rec = decode_one(edited("custody-notice.in.xml", "XM", typed))
    assert canonical_of(rec)["person"]["name"] == "帕提古丽·吐尔逊"  # type: ignore[index]


def test_name_with_a_character_outside_the_bmp_is_kept() -> None:
    """Given a name with 𠮷 (U+20BB7, four bytes in GB18030), when decoded, then the character is kept."""
    rec = decode_one(edited("custody-notice.in.xml", "XM", "𠮷春华"))
    assert canonical_of(rec)["person"]["name"] == "𠮷春华"  # type: ignore[index]


def test_record_without_message_id_gets_a_stable_one() -> None:
    """Given a record without XXID, when decoded, then its messageId is derived from sender and 文书编号."""
    env = canonical_of(decode_one(golden("custody-notice.in.xml")))["envelope"]
    assert isinstance(env, dict)
    assert env["messageId"] == str(uuid.uuid5(MESSAGE_ID_NAMESPACE, "530502KS|隆看通〔2026〕57号"))


def test_optional_fields_may_be_left_out() -> None:
    """Given a custody notice with only the required fields, when decoded, then it translates."""
    native = golden("custody-notice.in.xml")
    for field in ("AJGLH", "ZYRYBH", "SFZH", "CSRQ", "XZZQH", "XZZXZ", "JDRQ", "SXRQ", "ZM", "JZQSRQ", "JZJZRQ",
                  "JYJG", "JYCS", "JYWSH"):
        root = etree.fromstring(native)
        record = root.find("BWNR/RYXX")
        assert record is not None
        record.remove(record.find(field))  # type: ignore[arg-type]
        native = nativexml.serialise(root, "GB18030")
    data = canonical_of(decode_one(native))
    assert data["person"] == {"name": "李春华", "sex": "MALE"}
    reason = "涉嫌盗窃罪，于2026年5月18日被保山市公安局隆阳分局刑事拘留，同日送押隆阳区看守所。"
    assert data["custody"] == {"measure": "CRIMINAL_DETENTION", "startedOn": "2026-05-18", "reason": reason}
