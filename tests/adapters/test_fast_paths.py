"""The adapters' fast paths give exactly what the general ones give: canonical XML read from its text, native XML
written as text (GB18030 included), the native time formats, message ids, element paths, and the police
exchange's compiled JSON Schema check and JSON writer."""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters.kit import canonical, mapping, nativexml
from adapters.kit.canonical import CanonicalDict, message_type_of, parse_canonical, to_dict
from adapters.kit.nativexml import agency_schema_dir
from adapters.police import native as police
from hub.canonical import parse_tree
from tests.adapters.strategies import MESSAGE_TYPES, canonical_messages
from tests.adapters.support import GOLDEN

ROOT = Path(__file__).resolve().parents[2]
CANONICALS = sorted(GOLDEN.glob("*/*.canonical.xml")) + sorted((ROOT / "schemas/canonical/v1/samples").glob("*.xml"))
FEW = settings(max_examples=15, deadline=None)


def tree_read(raw: bytes) -> tuple[str, CanonicalDict]:
    """parse_canonical as it reads every document: an lxml tree, walked."""
    root = parse_tree(raw).getroot()
    return message_type_of(root), to_dict(root)


# ---- canonical XML read from its text ------------------------------------------------------------------------

def test_every_golden_and_sample_canonical_message_is_read_from_its_text_as_the_tree_reads_it() -> None:
    plain = 0
    for path in CANONICALS:
        raw = path.read_bytes()
        found = canonical._read_plain(raw)
        if found is not None:
            plain += 1
            assert found == tree_read(raw), path
        assert parse_canonical(raw) == tree_read(raw), path
    assert plain > 0.9 * len(CANONICALS)  # the fast path is the one that runs (a reference, &amp;, is left to lxml)


@pytest.mark.parametrize("message_type", sorted(MESSAGE_TYPES))
@FEW
@given(data=st.data())
def test_generated_canonical_messages_are_read_as_the_tree_reads_them(message_type: str,
                                                                      data: st.DataObject) -> None:
    raw = data.draw(canonical_messages(message_type))
    assert parse_canonical(raw) == tree_read(raw)


# markup the text reader leaves to lxml, or reads the same way: each edit is tried at every tag of a message
EDITS = ["<!-- a comment -->", "<![CDATA[x]]>", "&amp;", "&#x4E00;", "\r\n", "\r", "<?pi x?>", "<x:a/>", "<a/>",
         "<name>杨</name>", "<person><name>x</name></person>", "text", " ", "\t\n", "<to>530581SF</to>",
         '<name a="1">x</name>', "</name>", "<documents></documents>", "]]>", "\x01", "\ufffe", "\ufeff", "<",
         ">", "<unknownElement>1</unknownElement>", "<envelope></envelope>"]


@pytest.mark.parametrize("edit", EDITS)
def test_edited_canonical_messages_are_left_to_lxml_or_read_as_it_reads_them(edit: str) -> None:
    raw = (GOLDEN / "bureau" / "custody-notice.out.canonical.xml").read_bytes()
    starts = [i for i in range(len(raw)) if raw[i:i + 1] == b"<"] + [len(raw)]
    for at in starts:
        for edited in (raw[:at] + edit.encode() + raw[at:], raw[:at] + edit.encode() + raw[at + 1:]):
            check_read(edited)


@settings(max_examples=300, deadline=None)
@given(cuts=st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 40), st.sampled_from(["", *EDITS])),
                     min_size=1, max_size=3),
       name=st.sampled_from(CANONICALS))
def test_cut_and_patched_canonical_messages_are_left_to_lxml_or_read_as_it_reads_them(
        cuts: list[tuple[int, int, str]], name: Path) -> None:
    raw = name.read_bytes()
    for at, length, edit in cuts:
        at = min(at, len(raw))
        raw = raw[:at] + edit.encode() + raw[at + length:]
    check_read(raw)


def check_read(raw: bytes) -> None:
    found = canonical._read_plain(raw)
    if found is None:
        return
    assert found == tree_read(raw), raw  # (tree_read raises for what is not XML: the reader must not accept it)


# ---- native XML written as text ------------------------------------------------------------------------------

TEXT = st.text(alphabet=st.sampled_from([*"aZ09 -:.", "&", "<", ">", '"', "'", "\r", "\n", "\t", "杨", "𠮷", "·",
                                         "\u3000", *nativexml.GB18030_DIFFERENT]), max_size=8)
NAMES = st.sampled_from(["A", "XM", "WS", "JZ_1", "a.b-c"])
DATA: st.SearchStrategy[Any] = st.recursive(
    TEXT, lambda inner: st.dictionaries(NAMES, inner | st.lists(inner, max_size=3), max_size=4), max_leaves=12)


def tree_written(tag: str, children: dict[str, Any], namespace: str | None, attributes: dict[str, str],
                 encoding: str) -> bytes:
    root = etree.Element(f"{{{namespace}}}{tag}" if namespace else tag, attributes,
                         nsmap={None: namespace} if namespace else None)  # type: ignore[dict-item]
    nativexml.build(root, children, namespace)
    return nativexml.serialise(root, encoding)


@settings(max_examples=300, deadline=None)
@given(children=st.dictionaries(NAMES, DATA | st.lists(DATA, max_size=3), max_size=5),
       namespace=st.sampled_from([None, "urn:sqjz:exchange:1"]),
       attributes=st.dictionaries(st.sampled_from(["BBH", "LX"]), TEXT, max_size=2),
       encoding=st.sampled_from(["UTF-8", "GB18030"]))
def test_native_xml_written_as_text_is_what_lxml_writes(children: dict[str, Any], namespace: str | None,
                                                        attributes: dict[str, str], encoding: str) -> None:
    assert nativexml.to_text("R", children, namespace=namespace, attributes=attributes, encoding=encoding) == \
        tree_written("R", children, namespace, attributes, encoding)


@pytest.mark.parametrize("children", [{"A": "x\x01y"}, {"A": {"B": "\ufffe"}}, {"A": ["ok", "\x00"]}])
def test_a_character_xml_cannot_carry_is_refused_as_lxml_refuses_it(children: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="XML compatible"):
        tree_written("R", children, None, {}, "UTF-8")
    with pytest.raises(ValueError, match="XML compatible"):
        nativexml.to_text("R", children)


def test_a_name_that_may_not_be_an_xml_name_is_left_to_lxml() -> None:
    with pytest.raises(ValueError):
        nativexml.to_text("R", {"a b": "x"})
    assert nativexml.to_text("R", {"名称": "x"}) == tree_written("R", {"名称": "x"}, None, {}, "UTF-8")


def test_gb18030_differs_between_python_and_libxml2_for_exactly_the_listed_characters() -> None:
    """Every character XML can carry (the BMP whole, the other planes sampled), encoded by Python's codec and
    by libxml2: they agree except on GB18030_DIFFERENT, and there the writer uses libxml2's bytes."""
    xml_chars = [c for c in range(0x20, 0x10000) if not 0xD800 <= c <= 0xDFFF and c not in (0xFFFE, 0xFFFF)]
    xml_chars += list(range(0x10000, 0x110000, 97))
    different: set[str] = set()
    for start in range(0, len(xml_chars), 4000):
        chars = [chr(c) for c in xml_chars[start:start + 4000]]
        root = etree.Element("R")
        for c in chars:
            etree.SubElement(root, "C").text = c
        written = etree.tostring(root, encoding="GB18030", xml_declaration=False)
        assert isinstance(written, bytes)
        items = written[len(b"<R><C>"):-len(b"</C></R>")].split(b"</C><C>")
        assert len(items) == len(chars)
        different.update(c for c, b in zip(chars, items, strict=True)
                         if b != nativexml.escape_text(c).encode("gb18030"))
    assert different == set(nativexml.GB18030_DIFFERENT)
    text = "".join(sorted(different))
    root = etree.Element("R")
    root.text = text
    assert nativexml.encode_text(f"<R>{text}</R>", "GB18030") == etree.tostring(root, encoding="GB18030",
                                                                                   xml_declaration=False)


def test_paths_of_siblings_are_their_paths() -> None:
    root = etree.fromstring(b"<R xmlns='u'><A/><B/><A><C/><C/><D/></A><!--x--><B/><D/></R>")
    nodes = [n for n in root.iter() if isinstance(n.tag, str)]
    assert nativexml.paths_of(nodes) == [nativexml.path_of(n) for n in nodes]
    assert nativexml.paths_of(nodes[3:4]) == [nativexml.path_of(nodes[3])]


# ---- values -------------------------------------------------------------------------------------------------

SHANGHAI = mapping.SHANGHAI


def strptime_inbound(fmt: str, value: str) -> str | ValueError:
    """What DateTime.inbound gave before its fast path (strptime for every value)."""
    try:
        return dt.datetime.strptime(value.strip(), fmt).replace(tzinfo=SHANGHAI).isoformat()
    except ValueError:
        return ValueError(f"{value!r} is not a time of the form {fmt}")


def attempt(fn: Callable[[], str]) -> str | ValueError:
    try:
        return fn()
    except ValueError as e:
        return ValueError(str(e))


@pytest.mark.parametrize("fmt", ["%Y%m%d%H%M%S", "%Y-%m-%d %H:%M:%S"])
@settings(max_examples=300, deadline=None)
@given(moment=st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)),
       noise=st.text(alphabet="0123456789- :T１", max_size=20), which=st.integers(0, 3))
def test_native_times_read_as_strptime_reads_them(fmt: str, moment: dt.datetime, noise: str, which: int) -> None:
    written = moment.strftime(fmt) if moment.year >= 1000 else noise
    value = [written, noise, f" {written} ", written.replace("0", "6", 1)][which]
    codec = mapping.DateTime(fmt)
    expected, found = strptime_inbound(fmt, value), attempt(lambda: codec.inbound(value))
    assert str(found) == str(expected) and type(found) is type(expected)


@pytest.mark.parametrize("fmt", ["%Y%m%d%H%M%S", "%Y-%m-%d %H:%M:%S"])
@settings(max_examples=300, deadline=None)
@given(moment=st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30),
                           timezones=st.sampled_from([dt.UTC, SHANGHAI, dt.timezone(dt.timedelta(hours=-5))])))
def test_native_times_written_as_strftime_writes_them(fmt: str, moment: dt.datetime) -> None:
    value = moment.isoformat()
    assert mapping.DateTime(fmt).outbound(value) == \
        dt.datetime.fromisoformat(value).astimezone(SHANGHAI).strftime(fmt)


@settings(max_examples=200, deadline=None)
@given(sender=st.text(max_size=12), document=st.text(max_size=30))
def test_derived_message_ids_are_uuid5(sender: str, document: str) -> None:
    name = f"{sender}|{document}"
    try:
        expected = str(uuid.uuid5(mapping.MESSAGE_ID_NAMESPACE, name))
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            mapping._uuid5(name)
        return
    assert mapping._uuid5(name) == expected


# ---- the police exchange -------------------------------------------------------------------------------------

POLICE_PAYLOADS = sorted((GOLDEN / "police").glob("*.json")) + sorted((ROOT / "schemas/agencies/police/samples")
                                                                      .glob("*.json"))


def full_valid(doc: Any) -> bool:
    return not list(police.validator().iter_errors(doc))


def test_the_police_schema_is_checked_record_by_record_by_its_document_type() -> None:
    assert police._rules_by_type(police._inline(*_police_schema())) is not None


def _police_schema() -> tuple[Any, Any]:
    schema = json.loads((agency_schema_dir("police") / police.SCHEMA_FILE).read_text(encoding="utf-8"))
    return schema, schema.get("$defs", {})


def test_the_compiled_police_check_agrees_with_the_validator_on_the_payloads_and_their_edits() -> None:
    """Where the compiled check says valid, the validator agrees (it alone says what is wrong); on the golden and
    sample payloads and hundreds of edits of them, the two agree both ways but for patterns ending a line."""
    rng = random.Random(7)
    values: list[Any] = [None, "", "x", "1", "01", "JS01", "GA21", "20260101", "20260101\n", "530581", "9" * 300,
                         1, 1.5, True, [], {}, ["x"], [{}], {"wszl": "01", "wsmc": "x"}]
    checked = 0
    for path in POLICE_PAYLOADS:
        doc = json.loads(path.read_bytes(), parse_float=Decimal)
        if full_valid(doc):
            assert police._schema_valid(doc), path
        for _ in range(60):
            edited = json.loads(json.dumps(doc, default=str))
            target, key = _random_member(rng, edited)
            if target is None:
                continue
            if rng.random() < 0.2 and isinstance(target, dict):
                del target[key]
            else:
                target[key] = rng.choice(values)
            fast, full = police._schema_valid(edited), full_valid(edited)
            assert full or not fast, edited
            checked += fast == full
    assert checked > 500


def _random_member(rng: random.Random, doc: Any) -> tuple[Any, Any]:
    cur, key = None, None
    node = doc
    while isinstance(node, dict | list) and node and rng.random() < 0.85:
        cur = node
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        node = node[key]
    return cur, key


JSON: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=15)


@settings(max_examples=300, deadline=None)
@given(doc=st.dictionaries(st.text(max_size=4), JSON, max_size=4))
def test_police_payloads_are_written_as_json_writes_them(doc: dict[str, Any]) -> None:
    try:
        expected = (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            police.dump(doc)
        return
    assert police.dump(doc) == expected


@pytest.mark.parametrize("text", ["杨国富", "a\nb", "\t", "x\x0bz", "\ud800", "\ufffe", "\u3000", "\ue000", "𠮷"])
def test_strings_xml_cannot_carry_are_found_as_the_walk_finds_them(text: str) -> None:
    doc = {"header": {"x": [1, {"y": text}]}}
    walked = any(isinstance(v, str) and police._NOT_XML.search(v) for _, v, _ in police._walk(doc))
    assert police._carriable(doc) is not walked
