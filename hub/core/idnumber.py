"""Resident ID numbers (公民身份号码, GB 11643): checksum, birth date, province; any era's division code.

A number is checked against the standard only, never against a list of current division codes: numbers
issued under a code retired since (5330xx 保山地区, 530522 腾冲县) stay valid for life.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
# Persons born before 1900 are no longer alive to be supervised; an earlier date is a typing error.
EARLIEST_BIRTH = dt.date(1900, 1, 1)
# GB/T 2260 province-level prefixes, including 71 台湾, 81 香港, 82 澳门 and 83 (港澳台居民居住证).
PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
     53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83}
)


@dataclass(frozen=True)
class IdCheck:
    """The outcome of checking one ID number; ``normalised`` upper-cases a trailing x."""

    normalised: str
    problem: str | None
    birth_date: dt.date | None = None
    male: bool | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def check_digit(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def check_id_number(raw: str, *, today: dt.date | None = None) -> IdCheck:
    """Check an 18- or legacy 15-digit ID; never rejects a number only because its division is historic."""
    value = raw.strip().upper()
    if not value.isascii():
        return IdCheck(value, "ID number must be written with ASCII digits (and X), not full-width or other digits")
    if len(value) == 18:
        body, last = value[:17], value[17]
        if not body.isdigit() or not (last.isdigit() or last == "X"):
            return IdCheck(value, "ID number must be 17 digits followed by a digit or X")
        birth_text = value[6:14]
        seq = value[14:17]
    elif len(value) == 15:
        if not value.isdigit():
            return IdCheck(value, "a 15-digit ID number must be all digits")
        birth_text = "19" + value[6:12]
        seq = value[12:15]
        body = last = ""
    else:
        return IdCheck(value, f"ID number must have 18 (or legacy 15) characters, not {len(value)}")
    if int(value[:2]) not in PROVINCES:
        return IdCheck(value, f"ID number starts with {value[:2]}, which is no province code")
    try:
        birth = dt.date(int(birth_text[:4]), int(birth_text[4:6]), int(birth_text[6:8]))
    except ValueError:
        return IdCheck(value, f"ID number carries no valid birth date ({birth_text})")
    limit = today or dt.date.today()
    if birth > limit or birth < EARLIEST_BIRTH:
        return IdCheck(value, f"ID number's birth date {birth.isoformat()} is out of range")
    if body and check_digit(body) != last:
        return IdCheck(value, f"ID number check character is {last}, expected {check_digit(body)}")
    return IdCheck(value, None, birth, int(seq[-1]) % 2 == 1)


def upgrade_legacy(number15: str) -> str:
    """The 18-digit form of a legacy 15-digit number: "19" inserted before the year, check character appended."""
    if len(number15) != 15 or not (number15.isascii() and number15.isdigit()):
        raise ValueError(f"not a legacy 15-digit ID number: {number15!r}")
    body = number15[:6] + "19" + number15[6:]
    return body + check_digit(body)


def normalise_id(raw: str, *, today: dt.date | None = None) -> str | None:
    """The 18-character form of a valid ID number (legacy numbers upgraded, x upper-cased), or None if invalid."""
    chk = check_id_number(raw, today=today)
    if not chk.ok:
        return None
    if len(chk.normalised) == 15:
        return upgrade_legacy(chk.normalised)
    return chk.normalised


def masked_id_number(id_number: str | None) -> str:
    """An ID number as lists and reports print it: the first six digits (the division) and the last four
    (``530581********0337``); a shorter number keeps its first and last two."""
    if not id_number:
        return ""
    if len(id_number) <= 10:
        return id_number[:2] + "*" * max(len(id_number) - 4, 0) + id_number[-2:]
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]
