"""Encodings and the normal forms the canonical vocabulary requires.

Native payloads come in UTF-8 (with or without a byte-order mark) or GB18030 (GBK and GB2312 are
subsets and are read as GB18030). A payload whose bytes contradict its declared encoding is refused
with the offset of the first offending byte; nothing is guessed silently.
"""

from __future__ import annotations

import re
import unicodedata

from adapters.kit.problems import NativeError, NativeProblem

UTF8_BOM = b"\xef\xbb\xbf"
_GB = {"GB18030", "GBK", "GB2312", "CP936", "GB-18030", "EUC-CN"}
_UTF8 = {"UTF-8", "UTF8"}
_DECL = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._\-]+)["']""")


def canonical_encoding(name: str) -> str:
    """``UTF-8`` or ``GB18030`` for the names agencies use; NativeError for anything else."""
    upper = name.strip().upper()
    if upper in _UTF8:
        return "UTF-8"
    if upper in _GB:
        return "GB18030"
    raise NativeError("unsupported_encoding", f"encoding {name} is not accepted (UTF-8 or GB18030)",
                      [NativeProblem(f"declared encoding {name}: only UTF-8 and GB18030 (GBK, GB2312) are accepted",
                                     line=1)])


def _line_at(data: bytes, offset: int) -> int:
    return data[:offset].count(b"\n") + 1


def declared_xml_encoding(data: bytes) -> str | None:
    """The encoding named in an XML declaration, if any (BOM excluded)."""
    m = _DECL.match(data[3:] if data.startswith(UTF8_BOM) else data)
    return m.group(1).decode("ascii") if m else None


def check_xml_encoding(data: bytes) -> str:
    """The encoding an XML payload really uses (UTF-8 or GB18030), checked against its declaration and BOM.

    Refused: UTF-16/32, a BOM contradicting the declaration, bytes that are not valid in the declared
    encoding, and UTF-8 text declared as GB18030 (it would decode to mojibake rather than fail).
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00")):
        raise NativeError("unsupported_encoding", "UTF-16/UTF-32 payloads are not accepted",
                          [NativeProblem("byte-order mark of UTF-16 or UTF-32: send UTF-8 or GB18030", line=1)])
    declared = declared_xml_encoding(data)
    bom = data.startswith(UTF8_BOM)
    encoding = canonical_encoding(declared) if declared else "UTF-8"
    if bom and encoding != "UTF-8":
        raise NativeError("wrong_encoding", f"a UTF-8 byte-order mark contradicts the declared encoding {declared}",
                          [NativeProblem(f"UTF-8 BOM but declared encoding {declared}", line=1)])
    body = data[3:] if bom else data
    if encoding == "UTF-8":
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as e:
            hint = " (the bytes read as GB18030: declare encoding=\"GB18030\")" if _is_gb18030(body) else ""
            said = f"declared encoding {declared}" if declared else "no encoding declared, so UTF-8"
            raise NativeError("wrong_encoding", f"{said}, but the bytes are not UTF-8{hint}",
                              [NativeProblem(f"byte 0x{body[e.start]:02x} at offset {e.start + (3 if bom else 0)} is "
                                             f"not valid UTF-8{hint}", line=_line_at(body, e.start))]) from None
        return "UTF-8"
    try:
        body.decode("gb18030")
    except UnicodeDecodeError as e:
        raise NativeError("wrong_encoding", f"declared encoding {declared}, but the bytes are not GB18030",
                          [NativeProblem(f"byte 0x{body[e.start]:02x} at offset {e.start} is not valid GB18030",
                                         line=_line_at(body, e.start))]) from None
    if not body.isascii() and _is_utf8(body):
        raise NativeError("wrong_encoding", f"declared encoding {declared}, but the content is UTF-8",
                          [NativeProblem(f"declared {declared} but the non-ASCII bytes are UTF-8 (it would read as "
                                         "garbled characters): declare encoding=\"UTF-8\"", line=1)])
    return "GB18030"


def decode_text(data: bytes, *, declared: str | None = None) -> str:
    """Text of a non-XML payload (JSON, CSV): UTF-8 with or without BOM, or GB18030 when declared or detected."""
    if data.startswith(UTF8_BOM):
        data = data[3:]
        if declared and canonical_encoding(declared) != "UTF-8":
            raise NativeError("wrong_encoding", f"a UTF-8 byte-order mark contradicts charset {declared}")
    encoding = canonical_encoding(declared) if declared else "UTF-8"
    try:
        return data.decode("utf-8" if encoding == "UTF-8" else "gb18030")
    except UnicodeDecodeError as e:
        hint = " (the bytes read as GB18030: send charset=GB18030)" if encoding == "UTF-8" and _is_gb18030(data) else ""
        raise NativeError("wrong_encoding", f"the payload is not valid {encoding}{hint}",
                          [NativeProblem(f"byte 0x{data[e.start]:02x} at offset {e.start} is not valid "
                                         f"{encoding}{hint}", line=_line_at(data, e.start))]) from None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _is_gb18030(data: bytes) -> bool:
    try:
        data.decode("gb18030")
    except UnicodeDecodeError:
        return False
    return True


# ---- normal forms -------------------------------------------------------------------------------

# full-width ASCII variants (U+FF01..U+FF5E) → ASCII; the ideographic space → space
_HALF = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_DIGITS = {cp: cp - 0xFEE0 for cp in range(0xFF10, 0xFF1A)}
_OPEN = "(（〔［[【﹙"
_CLOSE = ")）〕］]】﹚"
_CASE_BRACKETS = {ord(c): "（" for c in _OPEN} | {ord(c): "）" for c in _CLOSE}
# dots people type between the parts of a transliterated name; the standard one is U+00B7
_NAME_DOTS = {ord(c): "·" for c in "•‧・･∙⋅●.．"}
_SPACES = re.compile(r"\s+")


def halfwidth(value: str) -> str:
    """Full-width ASCII letters, digits and punctuation as ASCII."""
    return value if value.isascii() else value.translate(_HALF)


def ascii_digits(value: str) -> str:
    """Full-width digits as ASCII digits, nothing else changed."""
    return value if value.isascii() else value.translate(_DIGITS)


def case_number(value: str) -> str:
    """A case number (案号) in canonical form: ASCII digits, full-width parentheses（）around the year,
    no spaces — （2026）云0502刑初123号 whether typed (2026)云0502刑初１２３号 or 〔2026〕云 0502 刑初123号."""
    return _SPACES.sub("", ascii_digits(value).translate(_CASE_BRACKETS))


def document_number(value: str) -> str:
    """A document number (文号): ASCII digits, spaces removed; its brackets (〔〕) are kept as written."""
    return _SPACES.sub("", ascii_digits(value))


def id_number(value: str) -> str:
    """A resident ID number: half-width, upper-case X, no spaces."""
    return _SPACES.sub("", halfwidth(value)).upper()


def person_name(value: str) -> str:
    """A name as NFC, with the separator of transliterated names as U+00B7 (阿依古丽·买买提); characters
    outside the BMP (𠮷) are kept as they are."""
    name = unicodedata.normalize("NFC", value.strip())
    if not name.isascii() and max(name) > "\u2000":  # a Chinese-script name: unify the separator dots
        name = name.translate(_NAME_DOTS)
        name = _SPACES.sub("", name)
    return name


def clean_text(value: str) -> str:
    """Free text trimmed, line ends as \\n, NFC."""
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = value.strip()
    return value if value.isascii() or unicodedata.is_normalized("NFC", value) else unicodedata.normalize("NFC", value)


def escape_text(value: str) -> str:
    """Element text as libxml2 writes it: &, <, > and CR escaped."""
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if "\r" in value:
        value = value.replace("\r", "&#13;")
    return value
