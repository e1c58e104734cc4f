"""Comparing persons' names and case numbers as the agencies write them: variants, homophones, pinyin.

A name is reduced to *tokens*: each Chinese character (or any other character outside the Latin alphabet)
is one token, a run of Latin letters and digits is one token. Each token carries every reading pypinyin
knows for it (heteronyms included: 单 dan/chan/shan, 曾 ceng/zeng); a token without a reading reads as
itself. Two names agree

- EXACT when equal after NFKC, case folding, and removal of spaces and middle dots (·•‧・);
- PINYIN when some choice of readings spells both alike (a homophone typed for another character);
- NEAR when the readings, position by position, differ by at most one letter in all (ming/min, zhang/zang:
  the flat and retroflex, front and back nasal confusions of many dialects).

A name written in Latin letters (a romanised 张三 as "Zhang San") is compared with the spellings of the other.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from itertools import product

from pypinyin import Style, pinyin

# Dots that separate the parts of a minority name (阿依古丽·买买提) in the various encodings agencies use.
NAME_DOTS = "·•‧・∙⋅.．"
_DROP = str.maketrans("", "", NAME_DOTS)
_BRACKETS = str.maketrans("〔〕【】[]［］", "()()()()")
# Enough to cover real names with several heteronyms; longer combinations only use the first readings.
MAX_SPELLINGS = 64
# A Chinese surname's reading has at most six letters (zhuang, shuang).
SURNAME_PREFIX = 6


class NameAgreement(StrEnum):
    EXACT = "exact"
    PINYIN = "pinyin"
    NEAR = "near"
    DIFFERENT = "different"
    UNKNOWN = "unknown"  # one side has no name


@dataclass(frozen=True)
class NameKey:
    """A name prepared for comparison: its normal form and the readings of each token."""

    text: str
    readings: tuple[frozenset[str], ...]
    romanised: bool  # written in Latin letters only

    @property
    def surname_keys(self) -> frozenset[str]:
        """Keys under which the name is indexed: the surname's readings (a romanised name: its prefixes)."""
        if not self.readings:
            return frozenset()
        if self.romanised:
            (latin,) = self.readings[0]
            return frozenset(latin[:n] for n in range(1, min(len(latin), SURNAME_PREFIX) + 1))
        return self.readings[0]

    def spellings(self) -> frozenset[str]:
        """The name spelled out in pinyin, one string per choice of readings (at most MAX_SPELLINGS)."""
        out: list[str] = [""]
        for options in self.readings:
            choices = sorted(options)
            if len(out) * len(choices) > MAX_SPELLINGS:
                choices = choices[:1]
            out = [s + c for s, c in product(out, choices)]
        return frozenset(out)


def normalise_name(raw: str) -> str:
    """The name as compared: NFKC, case-folded, without spaces or middle dots."""
    text = unicodedata.normalize("NFKC", raw).casefold().replace("ü", "v")
    return "".join(text.translate(_DROP).split())


def _is_latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


@lru_cache(maxsize=65536)
def _readings(ch: str) -> frozenset[str]:
    found = pinyin(ch, style=Style.NORMAL, heteronym=True, errors="default")
    options = frozenset(r for group in found for r in group if r)
    return options or frozenset({ch})


def name_key(raw: str) -> NameKey:
    """Prepare a name for comparison (any Unicode, characters outside the BMP included)."""
    text = normalise_name(raw)
    readings: list[frozenset[str]] = []
    run = ""
    for ch in text:
        if _is_latin(ch):
            run += ch
            continue
        if run:
            readings.append(frozenset({run}))
            run = ""
        readings.append(_readings(ch))
    if run:
        readings.append(frozenset({run}))
    romanised = bool(text) and all(_is_latin(ch) for ch in text)
    return NameKey(text, tuple(readings), romanised)


def within_one_edit(p: str, q: str) -> bool:
    """True when the Levenshtein distance between p and q is at most 1."""
    if p == q:
        return True
    if abs(len(p) - len(q)) > 1:
        return False
    if len(p) > len(q):
        p, q = q, p
    i = 0
    while i < len(p) and p[i] == q[i]:
        i += 1
    if len(p) == len(q):
        return p[i + 1:] == q[i + 1:]
    return p[i:] == q[i + 1:]


def _letters(s: str) -> bool:
    return s.isascii() and s.isalpha()


def _token_distance(x: frozenset[str], y: frozenset[str]) -> int:
    if x & y:
        return 0
    # an unreadable character (a rare one outside pypinyin's tables) must be equal, never "near"
    if any(_letters(p) and _letters(q) and within_one_edit(p, q) for p in x for q in y):
        return 1
    return 2


def compare_names(a: NameKey, b: NameKey) -> NameAgreement:
    """How far two names agree; symmetric."""
    if not a.text or not b.text:
        return NameAgreement.UNKNOWN
    if a.text == b.text:
        return NameAgreement.EXACT
    if len(a.readings) == len(b.readings):
        total = 0
        for x, y in zip(a.readings, b.readings, strict=True):
            total += _token_distance(x, y)
            if total > 1:
                break
        if total <= 1:
            return NameAgreement.PINYIN if total == 0 else NameAgreement.NEAR
    if a.romanised != b.romanised:
        latin, other = (a, b) if a.romanised else (b, a)
        spellings = other.spellings()
        if latin.text in spellings:
            return NameAgreement.PINYIN
        if any(within_one_edit(latin.text, s) for s in spellings):
            return NameAgreement.NEAR
    return NameAgreement.DIFFERENT


def normalise_case_number(raw: str) -> str | None:
    """A case number as compared: NFKC, brackets as (), no spaces, Latin upper-cased, no trailing 号."""
    text = "".join(unicodedata.normalize("NFKC", raw).translate(_BRACKETS).split()).upper()
    text = text.removesuffix("号")
    return text or None
