"""Is this the same person? Records of one person across agencies, compared by ID number, name, birth and case.

Verdicts, in order (DOMAIN.md §4: link, never merge silently; keep "not the same person" decisions):

1. A standing reviewer's decision on the pair wins: NOT_SAME → NO_MATCH, SAME → MATCH.
2. Both records carry a valid ID number (15-digit numbers upgraded to 18): the same number → MATCH; different
   numbers → NO_MATCH, unless name (exact or pinyin), birth date and sex all agree → POSSIBLE ("ID conflict").
3. Otherwise (an ID missing or invalid on a side) the fields are weighed; birth date and sex are read from a
   valid ID where there is one. MATCH needs no contradiction and either an exact name with the same birth
   date and sex, or a shared case number with a name that agrees at least in pinyin. POSSIBLE needs a name
   that agrees at least nearly together with the same birth date or a shared case number, or else the same
   birth date, sex and case number under another name (a changed name, 曾用名). Anything less is NO_MATCH: a
   name alone never links two records.

The score (0–100) ranks pairs for reviewers and does not decide by itself: a valid same ID or a SAME
decision is 100, a NOT_SAME decision 0; otherwise name EXACT 40, PINYIN 30, NEAR 15; the same birth
date 30; the same sex 10; a shared case number 20.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from hub.core.idnumber import check_id_number, normalise_id
from hub.core.namematch import NameAgreement, NameKey, compare_names, name_key, normalise_case_number

RecordKey = tuple[str, str]  # (source agency code, the agency's own record id)

NAME_POINTS = {NameAgreement.EXACT: 40, NameAgreement.PINYIN: 30, NameAgreement.NEAR: 15}
BIRTH_POINTS, SEX_POINTS, CASE_POINTS = 30, 10, 20


class Sex(StrEnum):
    MALE = "MALE"
    FEMALE = "FEMALE"
    UNKNOWN = "UNKNOWN"


class Verdict(StrEnum):
    MATCH = "match"
    POSSIBLE = "possible"
    NO_MATCH = "no_match"


class Judgement(StrEnum):
    SAME = "same"
    NOT_SAME = "not_same"


@dataclass(frozen=True)
class PersonRecord:
    """One agency's record of a person, as the agency wrote it."""

    agency: str
    record_id: str
    id_number: str | None
    name: str
    sex: Sex = Sex.UNKNOWN
    birth_date: dt.date | None = None
    case_numbers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # agencies' adapters hand over plain strings ("MALE") and lists; compare and hash them as values
        object.__setattr__(self, "sex", Sex(self.sex))
        object.__setattr__(self, "case_numbers", tuple(self.case_numbers))

    @property
    def key(self) -> RecordKey:
        return (self.agency, self.record_id)


@dataclass(frozen=True)
class Decision:
    """A reviewer's decision that two records are, or are not, the same person."""

    a: RecordKey
    b: RecordKey
    judgement: Judgement
    who: str
    when: dt.datetime
    reason: str

    def __post_init__(self) -> None:
        if self.a == self.b:
            raise ValueError(f"a decision needs two different records, not {self.a} twice")
        if self.when.tzinfo is None:
            raise ValueError("a decision's time must be timezone-aware")

    @property
    def pair(self) -> tuple[RecordKey, RecordKey]:
        return (min(self.a, self.b), max(self.a, self.b))


@dataclass(frozen=True)
class Decisions:
    """The standing decision for each pair: the latest one; at the same instant NOT_SAME prevails."""

    by_pair: Mapping[tuple[RecordKey, RecordKey], Decision]

    @classmethod
    def of(cls, decisions: Decisions | Iterable[Decision]) -> Decisions:
        """The standing decisions among these, whatever their order."""
        if isinstance(decisions, Decisions):
            return decisions
        table: dict[tuple[RecordKey, RecordKey], Decision] = {}
        for d in decisions:
            old = table.get(d.pair)
            if old is None or _precedence(d) > _precedence(old):
                table[d.pair] = d
        return cls(table)

    def standing(self, a: RecordKey, b: RecordKey) -> Decision | None:
        """The decision in force for the pair (in either order), if any."""
        return self.by_pair.get((min(a, b), max(a, b)))


def _precedence(d: Decision) -> tuple[dt.datetime, bool, str, str]:
    # who and reason only break exact ties, so that the standing decision never depends on input order
    return (d.when, d.judgement is Judgement.NOT_SAME, d.who, d.reason)


NO_DECISIONS = Decisions({})


@dataclass(frozen=True)
class Reason:
    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class MatchResult:
    """The verdict on a pair of records, its score (0–100) and the reasons, in Chinese and English."""

    verdict: Verdict
    score: int
    reasons: tuple[Reason, ...]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)


@dataclass(frozen=True)
class Features:
    """What matching reads from a record, computed once per record."""

    record: PersonRecord
    id18: str | None
    id_problem: str | None
    name: NameKey
    birth: dt.date | None
    male: bool | None
    cases: frozenset[str]


def features(record: PersonRecord, *, today: dt.date | None = None) -> Features:
    """A record's comparable facts; birth date and sex come from a valid ID number where there is one."""
    id18 = problem = None
    birth, male = record.birth_date, {Sex.MALE: True, Sex.FEMALE: False}.get(record.sex)
    if record.id_number and record.id_number.strip():
        chk = check_id_number(record.id_number, today=today)
        if chk.ok:
            id18 = normalise_id(chk.normalised, today=today)
            birth, male = chk.birth_date, chk.male
        else:
            problem = chk.problem
    cases = frozenset(c for c in map(normalise_case_number, record.case_numbers) if c)
    return Features(record, id18, problem, name_key(record.name), birth, male, cases)


def _sort_key(r: PersonRecord) -> tuple[str, ...]:
    return (r.agency, r.record_id, r.id_number or "", r.name, r.sex.value,
            r.birth_date.isoformat() if r.birth_date else "", *r.case_numbers)


def match(a: PersonRecord, b: PersonRecord, *, decisions: Decisions | Iterable[Decision] = NO_DECISIONS,
          today: dt.date | None = None) -> MatchResult:
    """The verdict on two records; the same whichever comes first."""
    return match_features(features(a, today=today), features(b, today=today), decisions=Decisions.of(decisions))


def match_features(fa: Features, fb: Features, *, decisions: Decisions = NO_DECISIONS) -> MatchResult:
    """match() on prepared features (linking prepares each record once)."""
    ka, kb = fa.record.key, fb.record.key
    if kb < ka or (kb == ka and _sort_key(fb.record) < _sort_key(fa.record)):
        fa, fb = fb, fa  # one order for both calls, so that reasons read alike too
    decision = decisions.standing(fa.record.key, fb.record.key)
    if decision is not None:
        when = decision.when.isoformat(timespec="seconds")
        if decision.judgement is Judgement.NOT_SAME:
            return MatchResult(Verdict.NO_MATCH, 0, (_reason("decided_not_same", d=decision, when=when),))
        return MatchResult(Verdict.MATCH, 100, (_reason("decided_same", d=decision, when=when),))
    if fa.id18 and fb.id18 and fa.id18 == fb.id18:
        return MatchResult(Verdict.MATCH, 100, (_reason("same_id", id=fa.id18),))
    names = compare_names(fa.name, fb.name)
    score, reasons = _fields(fa, fb, names)
    named = names in (NameAgreement.EXACT, NameAgreement.PINYIN)
    birth, sex = _same(fa.birth, fb.birth), _same(fa.male, fb.male)
    if fa.id18 and fb.id18:
        conflict = named and birth and sex
        head = _reason("id_conflict" if conflict else "different_id", a=fa.id18, b=fb.id18)
        return MatchResult(Verdict.POSSIBLE if conflict else Verdict.NO_MATCH, score, (head, *reasons))
    notes = tuple(_reason("invalid_id", r=f.record, problem=f.id_problem) for f in (fa, fb) if f.id_problem)
    contradiction = _differ(fa.birth, fb.birth) or _differ(fa.male, fb.male)
    case = bool(fa.cases & fb.cases)
    if not contradiction and ((names is NameAgreement.EXACT and birth and sex) or (case and named)):
        verdict = Verdict.MATCH
    elif ((named or names is NameAgreement.NEAR) and (birth or case)) or (birth and sex and case):
        verdict = Verdict.POSSIBLE
    else:
        verdict = Verdict.NO_MATCH
    return MatchResult(verdict, score, notes + reasons)


def _same(x: object, y: object) -> bool:
    return x is not None and x == y


def _differ(x: object, y: object) -> bool:
    return x is not None and y is not None and x != y


def _fields(fa: Features, fb: Features, names: NameAgreement) -> tuple[int, tuple[Reason, ...]]:
    score, out = 0, []
    if names is not NameAgreement.UNKNOWN:
        score += NAME_POINTS.get(names, 0)
        out.append(_reason(f"name_{names.value}", a=fa.record.name, b=fb.record.name))
    if fa.birth is not None and fb.birth is not None:
        score += BIRTH_POINTS if fa.birth == fb.birth else 0
        out.append(_reason("birth_same" if fa.birth == fb.birth else "birth_differs", a=fa.birth, b=fb.birth))
    if fa.male is not None and fb.male is not None:
        score += SEX_POINTS if fa.male == fb.male else 0
        out.append(_reason("sex_same" if fa.male == fb.male else "sex_differs"))
    shared = sorted(fa.cases & fb.cases)
    if shared:
        score += CASE_POINTS
        out.append(_reason("case_shared", zh="、".join(shared), en=", ".join(shared)))
    return score, tuple(out)


REASONS = {
    "decided_same": ("已判定为同一人（{d.who}，{when}）：{d.reason}",
                     "decided the same person ({d.who}, {when}): {d.reason}"),
    "decided_not_same": ("已判定非同一人（{d.who}，{when}）：{d.reason}",
                         "decided not the same person ({d.who}, {when}): {d.reason}"),
    "same_id": ("身份证号码相同：{id}", "same ID number {id}"),
    "id_conflict": ("身份证号码冲突：{a} / {b}，但姓名、出生日期、性别一致",
                    "ID conflict: {a} / {b}, but name, birth date and sex agree"),
    "different_id": ("身份证号码不同：{a} / {b}", "different ID numbers: {a} / {b}"),
    "invalid_id": ("{r.agency} 记录 {r.record_id} 的身份证号码无效，未作比对",
                   "the ID number of {r.agency} record {r.record_id} is invalid and was not compared: {problem}"),
    "name_exact": ("姓名相同：{a}", "same name: {a}"),
    "name_pinyin": ("姓名拼音相同：{a} / {b}", "names sound alike in pinyin: {a} / {b}"),
    "name_near": ("姓名拼音相近：{a} / {b}", "names are near in pinyin: {a} / {b}"),
    "name_different": ("姓名不同：{a} / {b}", "different names: {a} / {b}"),
    "birth_same": ("出生日期相同：{a}", "same birth date: {a}"),
    "birth_differs": ("出生日期不同：{a} / {b}", "different birth dates: {a} / {b}"),
    "sex_same": ("性别相同", "same sex"),
    "sex_differs": ("性别不同", "different sex"),
    "case_shared": ("案号相同：{zh}", "shared case number: {en}"),
}


def _reason(code: str, **values: object) -> Reason:
    zh, en = REASONS[code]
    return Reason(code, zh.format(**values), en.format(**values))
