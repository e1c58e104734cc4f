"""The procuratorate adapter: JCJH field-list batches (检察数据交换包) ↔ canonical messages."""

from __future__ import annotations

import codecs
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters import NativeError, Record, get_adapter
from adapters.kit import nativexml
from adapters.kit.canonical import parse_canonical, shapes
from adapters.kit.mapping import MESSAGE_ID_NAMESPACE, Group, mapping_table
from adapters.procuratorate import native
from adapters.procuratorate.mapping import SPECS, field_codes
from tests.adapters.strategies import canonical_messages
from tests.adapters.support import GOLDEN, check_inbound, check_outbound, context, golden_names, round_trip

SYSTEM = "procuratorate"
ADAPTER = get_adapter(SYSTEM)
SENDER = "530502JC"
GOLDEN_IN = GOLDEN / SYSTEM / "AssessmentCommission.in.xml"
SAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "agencies" / SYSTEM / "samples"
XSD = Path(__file__).resolve().parents[2] / "schemas" / "agencies" / SYSTEM / native.XSD


# ---- helpers ---------------------------------------------------------------------------------------------


def find(node: etree._Element, path: str) -> etree._Element:
    found = node.find(path)
    assert found is not None, path
    return found


def golden_root() -> etree._Element:
    return etree.fromstring(GOLDEN_IN.read_bytes(), etree.XMLParser(remove_blank_text=True))


def golden_notice() -> etree._Element:
    return find(golden_root(), "TZ")


def notice(changes: dict[str, str | None] | None = None, *, lx: str = "1101") -> etree._Element:
    """The golden notice with fields set (added at the end when absent) or removed (None)."""
    tz = golden_notice()
    tz.set("LX", lx)
    for code, value in (changes or {}).items():
        field = tz.find(f"ZD[@DM='{code}']")
        if value is None:
            if field is not None:
                tz.remove(field)
            continue
        if field is None:
            field = etree.SubElement(tz, "ZD", DM=code)
        field.text = value
    return tz


def batch(*notices: etree._Element, count: int | None = None, encoding: str = "UTF-8") -> bytes:
    root = golden_root()
    for tz in root.findall("TZ"):
        root.remove(tz)
    for i, tz in enumerate(notices, start=1):
        tz.set("XH", str(i))
        root.append(tz)
    find(root, "BT/TZS").text = str(len(notices) if count is None else count)
    out = etree.tostring(root, xml_declaration=True, encoding=encoding)
    assert isinstance(out, bytes)
    return out


def decode(payload: bytes) -> list[Record]:
    return list(ADAPTER.decode(payload, context(SENDER)))


def only(payload: bytes) -> Record:
    records = decode(payload)
    assert len(records) == 1
    return records[0]


def canonical_of(rec: Record) -> dict[str, Any]:
    assert rec.ok, rec.problems
    assert rec.canonical is not None
    return parse_canonical(rec.canonical)[1]


def problem_at(rec: Record, where: str) -> str:
    """The reason of the record's problem located at ``where`` (fails when there is none)."""
    assert not rec.ok
    found = [p.reason for p in rec.problems if p.where == where]
    assert found, f"no problem at {where}: {rec.problems}"
    return found[0]


def native_error(payload: bytes) -> NativeError:
    with pytest.raises(NativeError) as caught:
        decode(payload)
    return caught.value


# ---- golden pairs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", golden_names(SYSTEM, "in"))
def test_golden_inbound(name: str) -> None:
    """Given a golden JCJH batch sent by 隆阳区人民检察院, when decoded, then it gives the golden canonical message."""
    check_inbound(SYSTEM, name, SENDER)


@pytest.mark.parametrize("name", golden_names(SYSTEM, "out"))
def test_golden_outbound(name: str) -> None:
    """Given a golden canonical message, when encoded for the procuratorate, then it gives the golden JCJH batch."""
    check_outbound(SYSTEM, name)


def test_golden_pairs_cover_every_type() -> None:
    """Given the golden pairs, then every type the system sends has an inbound pair and every notice type it
    receives (each decision kind and transfer kind) has an outbound pair."""
    inbound = {parse_canonical((GOLDEN / SYSTEM / f"{n}.in.canonical.xml").read_bytes())[0]
               for n in golden_names(SYSTEM, "in")}
    assert ADAPTER.sends <= inbound
    codes = {find(etree.parse(str(GOLDEN / SYSTEM / f"{n}.out.xml")).getroot(), "TZ").get("LX")
             for n in golden_names(SYSTEM, "out")}
    assert codes == {s.native_type for s in SPECS.items}


# ---- what the system speaks ------------------------------------------------------------------------------


def test_sends_and_receives() -> None:
    """Given the adapter, then it sends assessment commissions and receives a copy of every business message
    routed to a procuratorate."""
    assert ADAPTER.sends == frozenset({"AssessmentCommission"})
    # (the hub's own deadline notices reach every agency as canonical XML, in no agency's format; an opinion
    # between two bureaus on a change of residence is not copied to the procuratorate)
    assert frozenset(shapes()) - ADAPTER.receives == frozenset({"TechnicalAck", "DeadlineNotice", "TransferOpinion"})
    assert ADAPTER.sends <= ADAPTER.receives


def test_technical_ack_is_not_encoded() -> None:
    """Given a technical acknowledgement, when encoded, then ValueError: the format has no notice type for it."""
    sample = Path(__file__).resolve().parents[2] / "schemas" / "canonical" / "v1" / "samples" / "TechnicalAck.xml"
    with pytest.raises(ValueError, match="TechnicalAck"):
        ADAPTER.encode(sample.read_bytes(), message_type="TechnicalAck")


def test_encode_refuses_a_mislabelled_message() -> None:
    """Given a SentencingDecision announced as another type, when encoded, then ValueError."""
    body = (GOLDEN / SYSTEM / "SentencingDecision.out.canonical.xml").read_bytes()
    with pytest.raises(ValueError, match="not a ReleaseNotice"):
        ADAPTER.encode(body, message_type="ReleaseNotice")


def test_schema_code_lists_match_the_mapping() -> None:
    """Given the native XSD, then its notice types and field codes are exactly those of the mapping tables."""
    doc = etree.parse(str(XSD))
    xs = "{http://www.w3.org/2001/XMLSchema}"

    def enumeration(name: str) -> set[str]:
        found = find(doc.getroot(), f"{xs}simpleType[@name='{name}']")
        return {str(e.get("value")) for e in found.iter(f"{xs}enumeration")}

    fields, groups, items = field_codes()
    assert enumeration("NoticeType") == {s.native_type for s in SPECS.items}
    assert enumeration("FieldCode") == fields
    assert enumeration("GroupCode") == groups
    assert enumeration("ItemFieldCode") == items


def test_spec_page_matches_the_mapping() -> None:
    """Given the spec page, then every row of every notice type's mapping table is on it, with its required
    flag, and every notice type has its section."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "agencies" / f"{SYSTEM}.md").read_text(encoding="utf-8")
    for spec in SPECS.items:
        assert f"#### {spec.native_type} {spec.label} → {spec.message_type}\n" in page
        flags: list[bool | None] = []
        for f in spec.fields:
            flags.append(f.required)
            if isinstance(f, Group):
                flags.extend(x.required for x in f.fields)
        flags.extend(None for _ in spec.fixed)
        for (code, label, canonical, conversion), req in zip(mapping_table(spec), flags, strict=True):
            shown = code if code == "(fixed)" else f"`{code}`"
            mark = "—" if req is None else ("yes" if req else "")
            row = f"| {shown} | {label} | `{canonical}` | {conversion} | {mark} |"
            assert row in page, row


def test_samples_are_valid_and_decode() -> None:
    """Given the native samples, then there is one per notice type, each valid against the XSD and decoding
    without problems to its canonical type."""
    schema = nativexml.load_xsd(SYSTEM, native.XSD)
    seen = set()
    for path in sorted(SAMPLES.glob("*.xml")):
        root = nativexml.parse(path.read_bytes())
        assert schema.validate(root), (path.name, schema.error_log)
        code = find(root, "TZ").get("LX")
        seen.add(code)
        rec = only(path.read_bytes())
        assert rec.ok, (path.name, rec.problems)
        assert rec.message_type == SPECS.by_native(str(code)).message_type
    assert seen == {s.native_type for s in SPECS.items}


# ---- round trips -----------------------------------------------------------------------------------------

ROUND_TRIPS = [
    ("AssessmentCommission", {}),
    ("AssessmentOpinion", {}),
    ("SentencingDecision", {"decision/decisionKind": "JUDGMENT"}),
    ("SentencingDecision", {"decision/decisionKind": "RULING"}),
    ("SentencingDecision", {"decision/decisionKind": "DECISION"}),
    ("DocumentReceipt", {}),
    ("ReportingOutcome", {}),
    ("TransferPapers", {"transfer/kind": "ESCORTED_HANDOVER"}),
    ("TransferPapers", {"transfer/kind": "COUNTY_TRANSFER"}),
    ("CustodyNotice", {}),
    ("SupervisionEvent", {}),
    ("RevocationProposal", {}),
    ("RevocationDecision", {}),
    ("PursuitRequest", {}),
    ("PursuitResult", {}),
    ("ReleaseNotice", {}),
]


def test_round_trips_cover_every_received_type() -> None:
    """Given the round-trip cases, then they cover every type the system receives (and so every type it sends)."""
    assert {t for t, _ in ROUND_TRIPS} == ADAPTER.receives


@pytest.mark.parametrize(("message_type", "fixed"), ROUND_TRIPS,
                         ids=[f"{t}-{'-'.join(f.values())}" if f else t for t, f in ROUND_TRIPS])
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_round_trip(message_type: str, fixed: dict[str, str], data: st.DataObject) -> None:
    """Given any valid canonical message of a received type, when encoded as JCJH and decoded again, then the
    content is unchanged (to and cc aside, which routing recomputes)."""
    canonical = data.draw(canonical_messages(message_type, fixed=fixed))
    round_trip(ADAPTER, canonical)


# ---- batches: good and bad notices -----------------------------------------------------------------------


def test_batch_with_good_and_bad_notices() -> None:
    """Given a batch of four notices, the second with an impossible birth date and the third with a field code
    the schema does not know, when decoded, then the first and fourth translate and each bad one is reported
    with its number and the native place of the fault."""
    payload = batch(notice(), notice({"CSRQ": "1990-02-30"}), notice({"XXX": "1"}),
                    notice({"TZBH": "隆检调委〔2026〕7号"}))
    records = decode(payload)
    assert [r.number for r in records] == [1, 2, 3, 4]
    assert [r.ok for r in records] == [True, False, False, True]
    assert records[1].where == "/JCJH/TZ[2]"
    assert "not a date of the form YYYY-MM-DD" in problem_at(records[1], "/JCJH/TZ[2]/ZD[@DM='CSRQ']")
    assert "'XXX' is not an element of the set {'XXBH'" in problem_at(records[2], "/JCJH/TZ[3]/ZD[@DM='XXX']")
    assert len(records[2].problems) == 1, records[2].problems
    assert records[2].where == "/JCJH/TZ[3]"
    first, last = canonical_of(records[0]), canonical_of(records[3])
    assert first["envelope"]["messageId"] != last["envelope"]["messageId"]


def test_problem_inside_a_group_item_is_located_on_the_item() -> None:
    """Given a document list whose second item has a document kind outside the code list, when decoded, then the
    problem names the code list and the item's field."""
    tz = notice()
    find(tz, "ZDZ[@DM='WSQD']/ZX[2]/ZD[@DM='WSLB']").text = "77"
    reason = problem_at(only(batch(tz)), "/JCJH/TZ[1]/ZDZ[@DM='WSQD']/ZX[2]/ZD[@DM='WSLB']")
    assert "'77' is not in 文书类别代码" in reason


def test_required_document_list_missing() -> None:
    """Given a judgment notice without its list of served documents, when decoded, then the problem names the
    group where it belongs."""
    root = etree.fromstring((SAMPLES / "1201-SentencingDecision-judgment.xml").read_bytes(),
                            etree.XMLParser(remove_blank_text=True))
    tz = find(root, "TZ")
    tz.remove(find(tz, "ZDZ[@DM='WSQD']"))
    rec = only(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    reason = problem_at(rec, "/JCJH/TZ[1]/ZDZ[@DM='WSQD']")
    assert reason == "送达文书清单 (WSQD) is required but empty or missing"


def test_duplicate_field_code_is_rejected_by_the_schema() -> None:
    """Given a notice carrying the name field twice, when decoded, then the notice fails on the schema's
    uniqueness rule."""
    tz = notice()
    etree.SubElement(tz, "ZD", DM="XM").text = "杨国富"
    rec = only(batch(tz))
    assert not rec.ok
    assert any("fieldCodeOnce" in p.reason for p in rec.problems), rec.problems


def test_canonical_schema_error_is_located_on_the_native_field() -> None:
    """Given an execution place that is no 6-digit division code, when decoded, then the canonical schema's
    complaint is placed on the native field ZXD."""
    problem_at(only(batch(notice({"ZXD": "5305"}))), "/JCJH/TZ[1]/ZD[@DM='ZXD']")


# ---- field by field --------------------------------------------------------------------------------------


def test_unknown_notice_type_code() -> None:
    """Given a notice with a type code that is not in the list, when decoded, then the notice fails naming the
    code, at the notice."""
    rec = only(batch(notice(lx="1999")))
    reasons = [p.reason for p in rec.problems if p.where == "/JCJH/TZ[1]"]
    assert reasons and "'1999'" in reasons[0] and "1101" in reasons[0], rec.problems


def test_bad_code_in_a_code_list() -> None:
    """Given sex code 5 (GB/T 2261.1 has 0, 1, 2, 9), when decoded, then the problem names the code list."""
    reason = problem_at(only(batch(notice({"XB": "5"}))), "/JCJH/TZ[1]/ZD[@DM='XB']")
    assert "'5' is not in 性别代码 GB/T 2261.1" in reason


def test_sex_code_9_means_unknown() -> None:
    """Given sex code 9 (未说明), when decoded, then sex is UNKNOWN."""
    data = canonical_of(only(batch(notice({"XB": "9", "SFZHM": None}))))
    assert data["person"]["sex"] == "UNKNOWN"


@pytest.mark.parametrize("value", ["1990-02-30", "19901123", "1990/11/23"])
def test_bad_date(value: str) -> None:
    """Given a birth date that is impossible or not written YYYY-MM-DD, when decoded, then the problem says so."""
    reason = problem_at(only(batch(notice({"CSRQ": value}))), "/JCJH/TZ[1]/ZD[@DM='CSRQ']")
    assert f"{value!r} is not a date of the form YYYY-MM-DD" in reason


def test_bad_boolean() -> None:
    """Given 是否速裁 written 2, when decoded, then the problem says 1 (yes) or 0 (no)."""
    reason = problem_at(only(batch(notice({"SFSC": "2"}))), "/JCJH/TZ[1]/ZD[@DM='SFSC']")
    assert "is not 1 (yes) or 0 (no)" in reason


@pytest.mark.parametrize(("code", "label"),
                         [("XM", "姓名"), ("AH", "案号"), ("WTRQ", "委托日期"), ("TZBH", "通知编号")])
def test_missing_required_field(code: str, label: str) -> None:
    """Given a notice without a required field, when decoded, then the problem names the field where it belongs."""
    reason = problem_at(only(batch(notice({code: None}))), f"/JCJH/TZ[1]/ZD[@DM='{code}']")
    assert reason == f"{label} ({code}) is required but empty or missing"


def test_empty_required_field() -> None:
    """Given an empty name field, when decoded, then it counts as missing."""
    problem_at(only(batch(notice({"XM": ""}))), "/JCJH/TZ[1]/ZD[@DM='XM']")


def test_full_width_case_number_is_normalised() -> None:
    """Given a case number typed with full-width digits and half-width brackets, when decoded, then it is in
    canonical form: ASCII digits and full-width brackets."""
    data = canonical_of(only(batch(notice({"AH": "(２０２６)云０５０２刑初１２３号"}))))
    assert data["case"]["caseNumber"] == "（2026）云0502刑初123号"


@pytest.mark.parametrize("typed", ["阿依古丽•买买提", "阿依古丽.买买提", "阿依古丽・买买提", "阿依古丽 · 买买提"])
def test_minority_name_dot_is_normalised(typed: str) -> None:
    """Given a transliterated name typed with a look-alike separator, when decoded, then the separator is U+00B7."""
    data = canonical_of(only(batch(notice({"XM": typed}))))
    assert data["person"]["name"] == "阿依古丽·买买提"


def test_name_outside_the_bmp_is_kept() -> None:
    """Given a name with a character outside the BMP (𠮷), when decoded, then it is kept as it is."""
    data = canonical_of(only(batch(notice({"XM": "𠮷国强"}))))
    assert data["person"]["name"] == "𠮷国强"


def test_id_number_is_normalised() -> None:
    """Given an ID number in full-width digits, when decoded, then it is half-width."""
    data = canonical_of(only(batch(notice({"SFZHM": "５３０５２１１９９０１１２３０５１９"}))))
    assert data["person"]["idNumber"] == "530521199011230519"


def test_optional_envelope_fields_missing() -> None:
    """Given a notice without message id, sending organ and send time, when decoded twice, then the sender and
    time come from the batch header and the message id is derived from sender and notice number, the same
    both times."""
    payload = batch(notice({"XXBH": None, "FSJG": None, "FSSJ": None}))
    first, second = canonical_of(only(payload)), canonical_of(only(payload))
    env = first["envelope"]
    assert env["sender"] == "530502JC"
    assert env["sentAt"] == "2026-04-15T09:20:00+08:00"
    expected = uuid.uuid5(MESSAGE_ID_NAMESPACE, "530502JC|隆检调委〔2026〕6号")
    assert env["messageId"] == str(expected)
    assert second == first


def test_minimal_notice() -> None:
    """Given a notice with only the required fields, when decoded, then it translates."""
    keep = {"TZBH", "XM", "XB", "AH", "JDJG", "JZLB", "ZXD", "WTJG", "WTRQ", "SFSC"}
    tz = notice()
    for el in list(tz):
        if el.get("DM") not in keep:
            tz.remove(el)
    data = canonical_of(only(batch(tz)))
    assert set(data["commission"]) == {"commissioningOrgan", "commissionDate", "fastTrack"}


def test_upper_case_message_ids_are_lowered() -> None:
    """Given message ids printed upper-case, when decoded, then they are the canonical lower-case form."""
    mid = "E775CA07-BA81-424D-AADA-074DA27FD6C6"
    data = canonical_of(only(batch(notice({"XXBH": mid, "YYXXBH": mid}))))
    assert data["envelope"]["messageId"] == mid.lower()
    assert data["envelope"]["causationId"] == mid.lower()


# ---- the payload as a whole ------------------------------------------------------------------------------


def test_doctype_is_refused() -> None:
    """Given a batch with a DOCTYPE and an entity, when decoded, then it is refused before parsing."""
    payload = GOLDEN_IN.read_bytes().replace(
        b"<JCJH", b'<!DOCTYPE JCJH [<!ENTITY x "boom">]>\n<JCJH', 1).replace("字国强".encode(), b"&x;")
    assert native_error(payload).code == "dtd_forbidden"


def test_not_well_formed() -> None:
    """Given a batch cut off in the middle, when decoded, then it is refused as not well-formed, with a line."""
    err = native_error(GOLDEN_IN.read_bytes()[:400])
    assert err.code == "not_xml"
    assert err.problems[0].line is not None


def test_gb18030_bytes_declared_utf8_are_refused() -> None:
    """Given GB18030 bytes under a UTF-8 declaration, when decoded, then it is refused as wrongly encoded."""
    payload = GOLDEN_IN.read_text(encoding="utf-8").encode("gb18030")
    err = native_error(payload)
    assert err.code == "wrong_encoding"
    assert "GB18030" in err.message


def test_utf8_bytes_declared_gb18030_are_refused() -> None:
    """Given UTF-8 bytes under a GB18030 declaration, when decoded, then it is refused as wrongly encoded."""
    payload = GOLDEN_IN.read_bytes().replace(b'encoding="UTF-8"', b'encoding="GB18030"', 1)
    assert native_error(payload).code == "wrong_encoding"


def test_gb18030_is_accepted() -> None:
    """Given the golden batch in GB18030, declared as such, when decoded, then it gives the golden message."""
    payload = GOLDEN_IN.read_text(encoding="utf-8").replace('encoding="UTF-8"', 'encoding="GB18030"')
    expected = canonical_of(only(GOLDEN_IN.read_bytes()))
    assert canonical_of(only(payload.encode("gb18030"))) == expected


def test_gb18030_keeps_a_name_outside_the_bmp() -> None:
    """Given a GB18030 batch with 𠮷 in a name (a four-byte GB18030 character), when decoded, then it is kept."""
    data = canonical_of(only(batch(notice({"XM": "𠮷秀英"}), encoding="GB18030")))
    assert data["person"]["name"] == "𠮷秀英"


def test_utf8_with_bom_is_accepted() -> None:
    """Given the golden batch with a UTF-8 byte-order mark, when decoded, then it gives the golden message."""
    expected = canonical_of(only(GOLDEN_IN.read_bytes()))
    assert canonical_of(only(codecs.BOM_UTF8 + GOLDEN_IN.read_bytes())) == expected


def test_wrong_root_is_refused() -> None:
    """Given an XML document that is not a JCJH batch, when decoded, then it is refused naming the root."""
    err = native_error(b'<?xml version="1.0" encoding="UTF-8"?><SJBW><JL/></SJBW>')
    assert err.code == "not_jcjh"
    assert err.problems[0].where == "/SJBW"


def test_broken_header_refuses_the_batch() -> None:
    """Given a header without the sending organ, when decoded, then the whole batch is refused at the header."""
    payload = re.sub(rb"<FSDW>.*?</FSDW>", b"", GOLDEN_IN.read_bytes())
    err = native_error(payload)
    assert err.code == "schema"
    assert any(str(p.where).startswith("/JCJH/BT") and "FSDW" in p.reason for p in err.problems), err.problems


def test_impossible_header_time_refuses_the_batch() -> None:
    """Given a header send time that matches the pattern but is no time, when decoded, then the batch is refused."""
    payload = GOLDEN_IN.read_bytes().replace(b"<FSSJ>2026-04-15 09:20:00", b"<FSSJ>2026-04-31 09:20:00")
    err = native_error(payload)
    assert err.code == "bad_header"
    assert err.problems[0].where == "/JCJH/BT/FSSJ"


def test_notice_count_must_match() -> None:
    """Given a header announcing three notices for a batch of two, when decoded, then the batch is refused."""
    err = native_error(batch(notice(), notice(), count=3))
    assert err.code == "count_mismatch"
    assert err.problems[0].where == "/JCJH/BT/TZS"


def test_empty_payload() -> None:
    """Given an empty body, when decoded, then it is refused as empty."""
    assert native_error(b"  ").code == "empty"
