"""The police adapter (公安综合信息平台 社区矫正协作模块, JSON): golden pairs, round trips, batches with bad
records, hostile and malformed payloads, and the agreement of the JSON Schema with the mapping."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import NativeError, Record, get_adapter
from adapters.kit.canonical import native_place, parse_canonical, shapes
from adapters.kit.mapping import Enum, F, covered_paths, mapping_table
from adapters.police import native, outbound
from adapters.police.mapping import CODE_LISTS, RECEIVES, SENDS, SPECS
from tests.adapters.strategies import canonical_messages
from tests.adapters.support import (
    GOLDEN,
    assert_native_valid,
    check_inbound,
    check_outbound,
    comparable,
    context,
    golden_names,
)

ADAPTER = get_adapter("police")
FOLDER = GOLDEN / "police"
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "agencies" / "police"
HYPOTHESIS = settings(max_examples=25, deadline=None)


def golden_payload(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FOLDER / f"{name}.in.json").read_text(encoding="utf-8"))
    return loaded


def custody_record() -> dict[str, Any]:
    record: dict[str, Any] = golden_payload("custody-notice")["records"][0]
    return record


def payload(*records: Any, **header: Any) -> bytes:
    doc = {"header": {"bbh": "1.0", "fsdwdm": "530502GA", "fssj": "2026-05-19T08:52:31+08:00",
                      "pch": "530502GA-20260519-0002", "jls": len(records)} | header,
           "records": list(records)}
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def decode(data: bytes) -> list[Record]:
    return list(ADAPTER.decode(data, context("530502GA")))


def one(data: bytes) -> Record:
    records = decode(data)
    assert len(records) == 1
    return records[0]


def canonical_of(rec: Record) -> dict[str, Any]:
    assert rec.ok, rec.problems
    assert rec.canonical is not None
    return parse_canonical(rec.canonical)[1]


def problems_at(rec: Record) -> dict[str | None, str]:
    return {p.where: p.reason for p in rec.problems}


def refused(data: bytes) -> NativeError:
    with pytest.raises(NativeError) as caught:
        decode(data)
    return caught.value


# ---- golden pairs ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", golden_names("police", "in"))
def test_inbound_golden(name: str) -> None:
    """Given a payload as the police send it, when decoded, then it gives exactly the golden canonical message."""
    check_inbound("police", name, golden_payload(name)["header"]["fsdwdm"])


@pytest.mark.parametrize("name", golden_names("police", "out"))
def test_outbound_golden(name: str) -> None:
    """Given a canonical message for the police, when encoded, then it gives exactly the golden JSON bytes."""
    check_outbound("police", name)


def test_golden_pairs_cover_every_type_sent_and_received() -> None:
    """Given the golden folder, then every type the police send has an inbound pair and every type they
    receive an outbound pair."""
    inbound = {parse_canonical((FOLDER / f"{n}.in.canonical.xml").read_bytes())[0]
               for n in golden_names("police", "in")}
    outbound_types = {parse_canonical((FOLDER / f"{n}.out.canonical.xml").read_bytes())[0]
                      for n in golden_names("police", "out")}
    assert inbound >= SENDS
    assert outbound_types >= RECEIVES


def test_police_approved_decision_is_read_as_a_temp_outside_decision() -> None:
    """Given the police's own 暂外 decision (GA21, no correction type written), when decoded, then it is a
    DECISION for TEMP_OUTSIDE by the police organ, with a message id derived from sender and document number."""
    data = canonical_of(one((FOLDER / "temp-outside-decision.in.json").read_bytes()))
    assert data["decision"]["decisionKind"] == "DECISION"
    assert data["case"]["correctionType"] == "TEMP_OUTSIDE"
    assert data["case"]["decidingOrgan"] == "530502GA"
    assert data["envelope"]["messageId"] == "d802d613-eac4-5b11-9b4a-ec19da49ee9b"
    assert data["envelope"]["sentAt"] == "2026-05-07T10:20:00+08:00"  # the header's time: the record has none


# ---- round trips -----------------------------------------------------------------------------------------

def round_trip(canonical: bytes, *, native_type: str | None = None) -> None:
    message_type, original = parse_canonical(canonical)
    body = outbound.encode(canonical, message_type=message_type, native_type=native_type)
    assert_native_valid("police", body)
    records = list(ADAPTER.decode(body, context(original["envelope"]["sender"])))
    assert len(records) == 1
    back_type, back = parse_canonical(records[0].canonical or b"") if records[0].ok else ("", {})
    assert records[0].ok, records[0].problems
    assert back_type == message_type
    assert comparable(back) == comparable(original)


@pytest.mark.parametrize("message_type", sorted(SENDS | RECEIVES))
@HYPOTHESIS
@given(data=st.data())
def test_round_trip(message_type: str, data: st.DataObject) -> None:
    """Given any valid canonical message of a type the police send or receive, when encoded and decoded again,
    then the content is unchanged (envelope to/cc aside)."""
    round_trip(data.draw(canonical_messages(message_type)))


@HYPOTHESIS
@given(canonical=canonical_messages("SentencingDecision", fixed={
    "decision/decisionKind": "DECISION", "case/correctionType": "TEMP_OUTSIDE", "case/decidingOrgan": "530581GA"}))
def test_round_trip_police_approved_decision(canonical: bytes) -> None:
    """Given a police-approved 暂外 decision, when written as a GA21 and read back, then the content is unchanged."""
    round_trip(canonical, native_type="GA21")


def test_encoded_payload_is_plain_utf8_json_in_a_fixed_order() -> None:
    """Given a canonical message, when encoded, then the body is UTF-8 JSON without BOM, Chinese unescaped, one
    record, header first, valid against the police schema."""
    canonical = (FOLDER / "pursuit-request.out.canonical.xml").read_bytes()
    enc = ADAPTER.encode(canonical, message_type="PursuitRequest")
    assert enc.content_type == "application/json; charset=utf-8"
    assert enc.extension == "json"
    assert not enc.body.startswith(b"\xef\xbb\xbf")
    assert "杨国富" in enc.body.decode("utf-8")
    doc = json.loads(enc.body)
    assert list(doc) == ["header", "records"]
    assert list(doc["records"][0])[:3] == ["wslx", "xxbh", "wsbh"]
    assert doc["header"]["jls"] == 1 and doc["records"][0]["wslx"] == "JS09"
    assert native.schema_problems(doc) == []
    assert ADAPTER.encode(canonical, message_type="PursuitRequest").body == enc.body


def test_encode_refuses_what_the_format_cannot_carry() -> None:
    """Given a technical acknowledgement or a wrong message type, when encoded, then ValueError says why."""
    ack = (Path(__file__).resolve().parents[2] / "schemas/canonical/v1/samples/TechnicalAck.xml").read_bytes()
    with pytest.raises(ValueError, match=r"no document type .* for TechnicalAck"):
        ADAPTER.encode(ack, message_type="TechnicalAck")
    request = (FOLDER / "pursuit-request.out.canonical.xml").read_bytes()
    with pytest.raises(ValueError, match="is a PursuitRequest, not a PursuitResult"):
        ADAPTER.encode(request, message_type="PursuitResult")
    with pytest.raises(ValueError, match="not a GA21"):
        outbound.encode((FOLDER / "sentencing-decision.out.canonical.xml").read_bytes(), native_type="GA21")


# ---- batches ---------------------------------------------------------------------------------------------

def test_batch_with_good_and_bad_records() -> None:
    """Given a batch of four records of which two are bad, when decoded, then the good ones translate and each
    bad one is reported with its record number and the JSON pointer of every problem."""
    good = custody_record()
    second = copy.deepcopy(good)
    second["wsbh"] = "隆公（刑）拘通字〔2026〕119号"
    del second["xxbh"]
    bad = copy.deepcopy(good)
    bad["wsbh"] = "隆公（刑）拘通字〔2026〕120号"
    del bad["ryxx"]["xm"]
    bad["wsxx"]["ksrq"] = "20260231"
    records = decode(payload(good, bad, second, "not a record"))
    assert [r.number for r in records] == [1, 2, 3, 4]
    assert [r.where for r in records] == ["/records/0", "/records/1", "/records/2", "/records/3"]
    assert [r.ok for r in records] == [True, False, True, False]
    assert "/records/1/ryxx/xm" in problems_at(records[1])
    assert "is a required property" in problems_at(records[1])["/records/1/ryxx/xm"]
    assert "is not of type 'object'" in problems_at(records[3])["/records/3"]
    # schema problems stop the record before the mapping: the impossible date shows once the name is there
    bad["ryxx"]["xm"] = "李春华"
    later = decode(payload(good, bad))[1]
    assert problems_at(later) == {"/records/1/wsxx/ksrq": "羁押开始日期 (ksrq): '20260231' is not a date of the "
                                                          "form YYYYMMDD"}
    assert canonical_of(records[2])["envelope"]["messageId"] != canonical_of(records[0])["envelope"]["messageId"]


def test_problems_in_a_document_list_point_at_the_item() -> None:
    """Given a document list whose second item has a bad kind, when decoded, then the problem names that item."""
    record = golden_payload("temp-outside-decision")["records"][0]
    record["wsxx"]["wslb"][1]["wszl"] = "55"
    rec = one(payload(record))
    assert list(problems_at(rec)) == ["/records/0/wsxx/wslb/1/wszl"]
    assert "'55' is not one of ['01', '02'" in rec.problems[0].reason


# ---- normal forms and tolerated variants ------------------------------------------------------------------

def test_case_number_with_full_width_digits_and_brackets_is_normalised() -> None:
    """Given a case number typed with full-width digits and half-width brackets, when decoded, then it is in the
    canonical form （2025）云0502刑初456号."""
    record = custody_record()
    record["ajxx"]["ah"] = "(２０２５)云０５０２刑初４５６号"
    assert canonical_of(one(payload(record)))["case"]["caseNumber"] == "（2025）云0502刑初456号"


@pytest.mark.parametrize("written", ["阿依古丽•买买提", "阿依古丽．买买提", "阿依古丽・买买提", "阿依古丽 · 买买提"])
def test_minority_name_separator_is_normalised(written: str) -> None:
    """Given a transliterated name with a dot variant, when decoded, then the separator is U+00B7."""
    record = custody_record()
    record["ryxx"] |= {"xm": written, "sfzhm": None, "xb": "2", "csrq": None}
    assert canonical_of(one(payload(record)))["person"]["name"] == "阿依古丽·买买提"


def test_name_outside_the_bmp_is_kept() -> None:
    """Given a name with a character outside the BMP (𠮷), when decoded, then it is kept as written."""
    record = custody_record()
    record["ryxx"]["xm"] = "𠮷春华"
    assert canonical_of(one(payload(record)))["person"]["name"] == "𠮷春华"


def test_optional_fields_may_be_missing_or_null() -> None:
    """Given a record with only the required fields (and some optional ones null), when decoded, then it
    translates, the send time comes from the header and the message id is derived, stably."""
    minimal = {
        "wslx": "GA31", "wsbh": "隆公（刑）拘通字〔2026〕121号", "rybh": None,
        "ryxx": {"xm": "李春华", "xb": "9", "sfzhm": None},
        "ajxx": {"ah": "（2025）云0502刑初456号", "jdjg": "530502FY", "jzlb": "01", "zxdqh": "530502"},
        "wsxx": {"qzcs": "03", "ksrq": "20260518", "yy": "殴打他人，被处以行政拘留十日。"},
    }
    data = canonical_of(one(payload(minimal)))
    assert data["person"] == {"name": "李春华", "sex": "UNKNOWN"}
    assert data["custody"]["measure"] == "ADMINISTRATIVE_DETENTION"
    assert data["envelope"]["sentAt"] == "2026-05-19T08:52:31+08:00"
    assert data["envelope"]["messageId"] == canonical_of(one(payload(minimal)))["envelope"]["messageId"]


def test_upper_case_uuid_and_utf8_bom_are_accepted() -> None:
    """Given a UTF-8 payload with a byte-order mark and an upper-case message id, when decoded, then it is read
    and the id is written in lower case."""
    data = canonical_of(one(b"\xef\xbb\xbf" + (FOLDER / "custody-notice.in.json").read_bytes()))
    assert data["envelope"]["messageId"] == "d9b0c3b5-a856-4ff3-9c84-87145aa8e5dd"


# ---- bad records -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("change", "where", "reason"), [
    (lambda r: r.update(wslx="GA99"), "/records/0/wslx", "'GA99' is not one of ['JS01'"),
    (lambda r: r["ryxx"].update(xb="3"), "/records/0/ryxx/xb", "'3' is not one of ['1', '2', '0', '9']"),
    (lambda r: r["ajxx"].update(jzlb="管制"), "/records/0/ajxx/jzlb", "'管制' is not one of ['01', '02', '03', '04']"),
    (lambda r: r["wsxx"].update(ksrq="2026-05-18"), "/records/0/wsxx/ksrq", "does not match '^[0-9]{8}$'"),
    (lambda r: r["ryxx"].update(csrq="19791302"), "/records/0/ryxx/csrq", "'19791302' is not a date of the form"),
    (lambda r: r["ryxx"].pop("xm"), "/records/0/ryxx/xm", "'xm' is a required property"),
    (lambda r: r["ryxx"].update(xm=""), "/records/0/ryxx/xm", "should be non-empty"),
    (lambda r: r["wsxx"].pop("yy"), "/records/0/wsxx/yy", "'yy' is a required property"),
    (lambda r: r["ryxx"].update(sfzhm=533001197911020518), "/records/0/ryxx/sfzhm", "is not of type 'string'"),
    (lambda r: r.update(bz="额外字段"), "/records/0", "Additional properties are not allowed ('bz' was unexpected)"),
    (lambda r: r["wsxx"].update(yy="涉嫌\u0000盗窃"), "/records/0/wsxx/yy", "U+0000 at position 3"),
    (lambda r: r["ryxx"].update(xm="李\ud800"), "/records/0/ryxx/xm", "U+D800"),
    (lambda r: r["ajxx"].update(zxdqh="０５３０５０２"), "/records/0/ajxx/zxdqh", "does not match"),
])
def test_bad_record_is_reported_at_its_field(change: Any, where: str, reason: str) -> None:
    """Given one bad field in a record, when decoded, then the record is refused with a problem at that field's
    JSON pointer that says what is wrong."""
    record = custody_record()
    change(record)
    data = json.dumps({"header": {"bbh": "1.0", "fsdwdm": "530502GA", "fssj": "2026-05-19T08:52:31+08:00",
                                  "pch": "b1", "jls": 1}, "records": [record]})
    rec = one(data.encode("utf-8", "surrogatepass") if "\ud800" in data else data.encode("utf-8"))
    assert not rec.ok
    found = problems_at(rec)
    assert where in found, found
    assert reason in found[where]


def test_police_decision_must_name_a_police_organ() -> None:
    """Given a GA21 whose deciding organ is a court, when decoded, then the record is refused at ajxx/jdjg."""
    record = golden_payload("temp-outside-decision")["records"][0]
    record["ajxx"]["jdjg"] = "530502FY"
    assert "/records/0/ajxx/jdjg" in problems_at(one(payload(record)))


def test_canonical_elements_are_traced_to_their_native_fields() -> None:
    """Given a translated record, then each canonical element is traced to its JSON pointer, so that the hub's
    later checks (e.g. the ID number's check character) are reported on the native field."""
    rec = one(payload(custody_record()))
    assert native_place("/x:CustodyNotice/x:person/x:idNumber", dict(rec.provenance)) == "/records/0/ryxx/sfzhm"
    assert native_place("/x:CustodyNotice/x:custody/x:startedOn", dict(rec.provenance)) == "/records/0/wsxx/ksrq"
    two_docs = one((FOLDER / "temp-outside-decision.in.json").read_bytes())
    assert native_place("/x:SentencingDecision/x:decision/x:documents/x:document[2]/x:title",
                        dict(two_docs.provenance)) == "/records/0/wsxx/wslb/1/wsmc"


# ---- payloads refused as a whole -------------------------------------------------------------------------

def test_xml_with_doctype_and_entities_is_not_json() -> None:
    """Given an XML payload with a DOCTYPE and an entity, when decoded, then it is refused as not JSON (no entity
    is ever expanded)."""
    e = refused(b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>')
    assert e.code == "not_json"
    assert e.problems[0].line == 1


def test_not_well_formed_json_gives_line_and_column() -> None:
    """Given truncated JSON, when decoded, then the error gives the line and column."""
    data = (FOLDER / "custody-notice.in.json").read_text(encoding="utf-8")[:-40].encode("utf-8")
    e = refused(data)
    assert e.code == "not_json"
    assert "line" in e.message and "column" in e.message
    assert e.problems[0].line is not None and e.problems[0].line > 30


def test_gb18030_payload_is_refused_with_the_byte_offset() -> None:
    """Given a payload in GB18030 (the exchange takes UTF-8 only), when decoded, then it is refused with the
    offset of the first byte that is not UTF-8 and a hint."""
    text = (FOLDER / "custody-notice.in.json").read_text(encoding="utf-8")
    data = text.encode("gb18030")
    e = refused(data)
    assert e.code == "wrong_encoding"
    with pytest.raises(UnicodeDecodeError) as caught:
        data.decode("utf-8")
    assert f"byte 0x{data[caught.value.start]:02x} at offset {caught.value.start}" in e.message
    assert "GB18030" in e.message


def test_utf16_payload_is_refused() -> None:
    """Given a UTF-16 payload, when decoded, then it is refused as an unsupported encoding."""
    e = refused((FOLDER / "custody-notice.in.json").read_text(encoding="utf-8").encode("utf-16"))
    assert e.code == "unsupported_encoding"


@pytest.mark.parametrize(("data", "code", "where"), [
    (b"", "empty", None),
    (b"[1, 2]", "not_object", ""),
    (b'"text"', "not_object", ""),
    (b'{"header": {}, "header": {}, "records": []}', "duplicate_key", "/header"),
    (b'{"header": {"jls": NaN}, "records": []}', "not_a_number", "/header/jls"),
    (b'{"header": {"jls": -Infinity}, "records": []}', "not_a_number", "/header/jls"),
])
def test_payload_refused_as_a_whole(data: bytes, code: str, where: str | None) -> None:
    """Given a payload JSON (or Python's reader) allows but the exchange refuses, when decoded, then it is
    refused with a precise code and place."""
    e = refused(data)
    assert e.code == code
    assert e.problems[0].where == where


def test_duplicate_key_inside_a_record_is_placed() -> None:
    """Given a record naming xm twice, when decoded, then the payload is refused at that key."""
    text = payload(custody_record()).decode("utf-8").replace('"xm": "李春华"', '"xm": "李春华", "xm": "王五"')
    e = refused(text.encode("utf-8"))
    assert e.code == "duplicate_key"
    assert e.problems[0].where == "/records/0/ryxx/xm"


def test_depth_bombs_are_refused() -> None:
    """Given arrays nested far too deep, or an object nested deeper than the format needs, when decoded, then
    the payload is refused as too deep, with the place."""
    e = refused(b'{"records": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert e.code == "too_deep"
    assert e.problems[0].line == 1 and "column 22" in e.message
    record = custody_record()
    nested: dict[str, Any] = {}
    cur = nested
    for _ in range(8):
        cur["a"] = {}
        cur = cur["a"]
    record["wsxx"]["extra"] = nested
    e = refused(payload(record))
    assert e.code == "too_deep"
    assert (e.problems[0].where or "").startswith("/records/0/wsxx/extra/a/a/a/a")


def test_oversized_payload_is_refused() -> None:
    """Given a payload over 10 MB, when decoded, then it is refused before being read."""
    e = refused(b" " * (native.MAX_BYTES + 1))
    assert e.code == "too_large"


@pytest.mark.parametrize(("header", "code", "where"), [
    ({"fsdwdm": "腾冲市公安局"}, "schema_invalid", "/header/fsdwdm"),
    ({"fssj": "2026-05-19 08:52:31"}, "schema_invalid", "/header/fssj"),
    ({"fssj": "2026-02-30T08:00:00+08:00"}, "bad_header", "/header/fssj"),
    ({"jls": 3}, "bad_header", "/header/jls"),
    ({"jls": "1"}, "schema_invalid", "/header/jls"),
    ({"bbh": "2.0"}, "schema_invalid", "/header/bbh"),
])
def test_bad_header_refuses_the_payload(header: dict[str, Any], code: str, where: str) -> None:
    """Given a header that is wrong, when decoded, then the whole payload is refused with the header field."""
    e = refused(payload(custody_record(), **header))
    assert e.code == code
    assert where in [p.where for p in e.problems]


def test_empty_records_refuse_the_payload() -> None:
    """Given a payload without records, when decoded, then it is refused at /records."""
    e = refused(payload())
    assert e.code == "schema_invalid"
    assert "/records" in [p.where for p in e.problems]


# ---- the schema, the samples and the mapping agree ---------------------------------------------------------

def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMA_DIR / native.SCHEMA_FILE).read_text(encoding="utf-8"))
    return loaded


def test_schema_code_lists_match_the_mapping() -> None:
    """Given the JSON Schema's code lists, then each holds exactly the codes its codec reads."""
    defs = schema()["$defs"]
    for key, codec in CODE_LISTS.items():
        assert isinstance(codec, Enum)
        assert [c for c in defs[key]["enum"] if c is not None] == [*codec.table, *codec.aliases], key
    assert defs["RECORD"]["properties"]["wslx"]["enum"] == [s.native_type for s in SPECS.items]


def test_schema_declares_every_mapped_field_with_its_obligation() -> None:
    """Given each document type, then every field the mapping reads is declared in the schema where the mapping
    looks for it, and a field the mapping requires is required by the schema."""
    s = schema()
    defs = s["$defs"]
    for spec in SPECS.items:
        blocks = {"ryxx": defs["RYXX"], "ajxx": defs["AJXX"], "wsxx": defs[f"WSXX_{spec.native_type}"]}
        for item in spec.fields:
            head, _, rest = item.native.partition("/")
            block = blocks.get(head) if rest else defs["RECORD"]
            name = rest or head
            assert block is not None and name in block["properties"], (spec.native_type, item.native)
            required = name in block["required"] or (spec.native_type != "GA21" and item.native == "ajxx/jzlb")
            if isinstance(item, F):
                assert required == item.required, (spec.native_type, item.native)
            else:
                items = block["properties"][name]["items"]
                assert set(items["properties"]) == {f.native for f in item.fields}
                assert set(items["required"]) == {f.native for f in item.fields if f.required}
                assert required == item.required, (spec.native_type, item.native)


def canonical_leaves(message_type: str) -> set[str]:
    out: set[str] = set()

    def walk(prefix: str, shape: Any) -> None:
        for child in shape:
            path = f"{prefix}{child.name}"
            if child.shape is None:
                out.add(path)
            else:
                walk(f"{path}/*/" if child.repeated else f"{path}/", child.shape)

    walk("", shapes()[message_type])
    return out


@pytest.mark.parametrize("spec", SPECS.items, ids=lambda s: s.native_type)
def test_every_canonical_field_is_carried(spec: Any) -> None:
    """Given a document type, then it carries every canonical leaf of its message type, except what the header
    gives (sender), the format implies (type, version) or routing recomputes (to, cc)."""
    implied = {"envelope/messageType", "envelope/schemaVersion", "envelope/sender", "envelope/to", "envelope/cc"}
    assert canonical_leaves(spec.message_type) - implied <= covered_paths(spec)


def samples() -> list[Path]:
    return sorted((SCHEMA_DIR / "samples").glob("*.json"))


def test_a_sample_for_every_document_type() -> None:
    """Given the samples folder, then it has one sample per document type, named by its code."""
    assert sorted(p.name.split("-")[0] for p in samples()) == sorted(s.native_type for s in SPECS.items)


@pytest.mark.parametrize("path", samples(), ids=lambda p: p.stem)
def test_sample_is_valid_and_translates(path: Path) -> None:
    """Given a native sample, then it is valid against the schema and translates into its canonical type."""
    doc = json.loads(path.read_bytes())
    assert native.schema_problems(doc) == []
    records = list(ADAPTER.decode(path.read_bytes(), context(doc["header"]["fsdwdm"])))
    assert [r.ok for r in records] == [True]
    assert records[0].message_type == SPECS.by_native(path.name.split("-")[0]).message_type


def test_spec_page_mapping_tables_are_the_code() -> None:
    """Given the spec page, then every row of every document type's mapping table is on it, as the code has it."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "agencies" / "police.md").read_text(encoding="utf-8")
    for spec in SPECS.items:
        assert f"| `{spec.native_type}` | {spec.label} | `{spec.message_type}` |" in page
        for native_field, label, canonical, conversion in mapping_table(spec):
            row = f"| `{native_field}` | {label} | `{canonical}` | {conversion} |"
            assert row in page, (spec.native_type, row)
