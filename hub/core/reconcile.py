"""Register reconciliation: agencies' register snapshots against the case ledger and against each other.

A person is matched across records by resident ID number and, where a record has none (or one that fails its
check), by name and birth date; an item resting on such a match says so (``MatchBy``). Each disagreement is a
``Discrepancy`` naming the agency that must act. Its id is derived from what it is about (category, person,
agencies involved), so a later run finds the same item and ``resolve_items`` tells open, resolved and new apart.

Rules (``_Person``): for each county where a person is decided or registered, the reference account is the
ledger's, else the court's list, else the prison's; the bureau's register of that county is compared with it.
- decided_not_in_register: a decision in force for the county, older than the grace period and not yet
  ended, and no row in the county's register; the bureau acts, or the deciding organ if the ledger shows its
  documents were never served (a decision the ledger does not know counts as never served).
- in_register_without_basis: a register row on the books (在册、羁押、在逃) with no decision for the county in
  the ledger, the court's list or the prison's; the bureau acts, the deciding organ it names confirms.
- type_or_period_mismatch: the register and the reference disagree on type, first or last day (the bureau
  acts, unless the court's or prison's own list agrees with the register); the court's or prison's list and
  the ledger disagree (that agency acts).
- status_mismatch: the register's status and the ledger's (or the court's revocation) disagree — the bureau
  acts; the court revoked and the ledger does not know — the court acts; police list as wanted a person the
  register supervises — the bureau acts; police still list as wanted a person recommitted, or do not list or
  hold in custody a person at large — the police act.
- custody_vs_supervision: police list the person in custody on the register's day, the register says 在册;
  the bureau acts, the police confirm.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from hub.core.idnumber import normalise_id


class RegisterKind(StrEnum):
    BUREAU_REGISTER = "bureau_register"
    COURT_DECISIONS = "court_decisions"
    POLICE_CUSTODY = "police_custody"
    POLICE_WANTED = "police_wanted"
    PRISON_RELEASES = "prison_releases"


class Status(StrEnum):
    """Where a person stands, in the ledger's words (a register's status words map onto these)."""

    UNDER_SUPERVISION = "under_supervision"
    RELEASED = "released"
    TERMINATED = "terminated"
    REVOKED = "revoked"  # revocation or recommittal in force, person in custody
    AT_LARGE = "at_large"  # revocation or recommittal in force, person not in custody
    IN_CUSTODY = "in_custody"  # under supervision, held for the time being


class Category(StrEnum):
    DECIDED_NOT_IN_REGISTER = "decided_not_in_register"
    IN_REGISTER_WITHOUT_BASIS = "in_register_without_basis"
    TYPE_OR_PERIOD_MISMATCH = "type_or_period_mismatch"
    STATUS_MISMATCH = "status_mismatch"
    CUSTODY_VS_SUPERVISION = "custody_vs_supervision"

    @property
    def label_zh(self) -> str:
        return CATEGORY_LABELS[self]


CATEGORY_LABELS = {
    Category.DECIDED_NOT_IN_REGISTER: "已决定未列入名册（漏管风险）",
    Category.IN_REGISTER_WITHOUT_BASIS: "在册无法律依据",
    Category.TYPE_OR_PERIOD_MISMATCH: "矫正类别或期限不一致",
    Category.STATUS_MISMATCH: "状态不一致",
    Category.CUSTODY_VS_SUPERVISION: "公安在押而司法局在册",
}
CATEGORY_EN = {
    Category.DECIDED_NOT_IN_REGISTER: "decided but not in the bureau's register (risk of 漏管)",
    Category.IN_REGISTER_WITHOUT_BASIS: "in the register without a legal basis",
    Category.TYPE_OR_PERIOD_MISMATCH: "correction type or period disagrees",
    Category.STATUS_MISMATCH: "status disagrees",
    Category.CUSTODY_VS_SUPERVISION: "in custody per the police, under supervision per the bureau",
}


class MatchBy(StrEnum):
    """How sure the item is that its records are one person."""

    ID_NUMBER = "id_number"
    NAME_AND_BIRTH = "name_and_birth"  # lower confidence: a record without a valid ID number
    UNMATCHED = "unmatched"  # a record with neither: it could only be compared with itself


@dataclass(frozen=True, slots=True)
class RegisterRow:
    """One accepted row of a register snapshot; codes in the hub's vocabulary, ``None`` where the kind has no
    such column or the cell is empty. ``id_number`` is valid and normalised (see ``id_key``); an ID number that
    fails its check is kept in ``id_typed`` only. ``since``/``until``: the status's first day (出监、羁押、上网、
    状态日期) and the custody's last."""

    number: int  # the row's place in the file: sheet row, CSV line, or the XML row's position
    name: str
    id_number: str | None = None
    id_typed: str | None = None
    sex: str | None = None
    birth_date: dt.date | None = None
    person_ref: str | None = None
    case_number: str | None = None
    deciding_organ: str | None = None
    correction_type: str | None = None  # CONTROL | PROBATION | PAROLE | TEMP_OUTSIDE
    effective_on: dt.date | None = None
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    division: str | None = None
    status: Status | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    organ: str | None = None  # custodian or pursuing agency


@dataclass(frozen=True, slots=True)
class RowProblem:
    where: str  # sheet!cell, CSV!line, or /register/row[n]/element
    reason: str


@dataclass(frozen=True, slots=True)
class RejectedRow:
    number: int
    problems: tuple[RowProblem, ...]


@dataclass(frozen=True)
class Snapshot:
    """One agency's register as of a day (for a list of a period: its last day, ``period_start`` its first)."""

    kind: RegisterKind
    agency: str
    as_of: dt.date
    rows: tuple[RegisterRow, ...]
    rejected: tuple[RejectedRow, ...] = ()
    period_start: dt.date | None = None
    filename: str | None = None
    format: str = ""  # csv | xlsx | xml
    digest: str = ""  # SHA-256 of the file

    @property
    def division(self) -> str:
        return self.agency[:6]

    def covers(self, county: str) -> bool:
        """Whether the keeper's jurisdiction includes ``county`` (a prefecture's register covers its counties)."""
        return county.startswith(_prefix(self.division))


@dataclass(frozen=True, slots=True)
class LedgerPerson:
    """A person and case as the case ledger knows them. ``documents_served``: the deciding organ's documents
    reached the bureau; ``status_since``: the day the status began, if known."""

    person_key: str
    id_number: str | None
    name: str
    case_key: str
    case_number: str | None
    deciding_organ: str
    correction_type: str
    period_start: dt.date | None
    period_end: dt.date | None
    execution_division: str
    status: Status
    responsible_agency: str
    documents_served: bool
    birth_date: dt.date | None = None
    effective_on: dt.date | None = None
    status_since: dt.date | None = None


@dataclass(frozen=True)
class Side:
    """One account in an item: the ledger's or a register's, whose, what it says (``absent``: no such person)."""

    source: str  # "ledger" or a RegisterKind
    agency: str | None
    value: str
    row: int | None = None
    snapshot: str | None = None  # the snapshot's digest
    as_of: dt.date | None = None


@dataclass(frozen=True)
class Discrepancy:
    """One disagreement about one person: ``sides[0]`` is the account taken as reference, ``sides[1]`` the one
    that disagrees, any further sides corroborate the first."""

    id: uuid.UUID
    category: Category
    person_key: str
    name: str
    id_number: str | None
    division: str
    acting_agency: str
    confirming_agency: str | None
    sides: tuple[Side, ...]
    match: MatchBy
    description_zh: str
    description_en: str



ABSENT = "absent"
LEDGER = "ledger"
BUREAU_SUFFIX = "SF"  # the registry's bureau code: 6-digit division + SF
NAMESPACE = uuid.UUID("8d7f7a52-3a43-5d0e-9a55-1f0c2b7f4e11")
_FAR = dt.date(9999, 12, 31)
_NAME_DROP = {ord(c): None for c in "·•‧・･∙⋅●.．- \u3000\t"}
ON_BOOKS = frozenset({Status.UNDER_SUPERVISION, Status.IN_CUSTODY, Status.AT_LARGE})
_FAMILY = {Status.UNDER_SUPERVISION: "supervised", Status.IN_CUSTODY: "supervised", Status.AT_LARGE: "revoked",
           Status.REVOKED: "revoked", Status.RELEASED: "released", Status.TERMINATED: "terminated"}
_TYPE_ZH = {"CONTROL": "管制", "PROBATION": "缓刑", "PAROLE": "假释", "TEMP_OUTSIDE": "暂予监外执行"}
_STATUS_ZH = {Status.UNDER_SUPERVISION: "在册", Status.IN_CUSTODY: "羁押", Status.AT_LARGE: "在逃",
              Status.REVOKED: "撤销/收监", Status.RELEASED: "解除", Status.TERMINATED: "终止"}
_SOURCE_ZH = {
    LEDGER: "案件台账",
    RegisterKind.BUREAU_REGISTER: "司法局名册",
    RegisterKind.COURT_DECISIONS: "法院决定清单",
    RegisterKind.POLICE_CUSTODY: "公安在押名单",
    RegisterKind.POLICE_WANTED: "公安追逃名单",
    RegisterKind.PRISON_RELEASES: "监狱出监名单",
}
_SOURCE_EN = {
    LEDGER: "the case ledger",
    RegisterKind.BUREAU_REGISTER: "the bureau's register",
    RegisterKind.COURT_DECISIONS: "the court's decisions",
    RegisterKind.POLICE_CUSTODY: "the police custody list",
    RegisterKind.POLICE_WANTED: "the police wanted list",
    RegisterKind.PRISON_RELEASES: "the prison's releases",
}


def id_key(raw: str | None) -> str | None:
    """The ID number records are matched by (18 characters, upper-case X, a legacy 15-digit number widened to
    18), or None when there is none or it fails its check."""
    return normalise_id("".join(unicodedata.normalize("NFKC", raw).split()), today=_FAR) if raw else None


def name_key(name: str) -> str:
    """A name as compared: NFKC, without spaces and the dots between the parts of a transliterated name."""
    return unicodedata.normalize("NFKC", name).translate(_NAME_DROP)


def discrepancy_id(category: Category, person_key: str, agencies: Iterable[str]) -> uuid.UUID:
    """The stable id of an item: the same category, person and agencies give the same id in every run."""
    return uuid.uuid5(NAMESPACE, "|".join((category.value, person_key, *sorted(set(agencies)))))


def resolve_items(open: Iterable[Discrepancy], found_now: Iterable[Discrepancy]
                  ) -> tuple[list[Discrepancy], list[Discrepancy], list[Discrepancy]]:
    """(still open, resolved, new): an open item found again stays open (as found now), one not found again is
    resolved, the rest are new. ``found_now`` must come from a run over the same agencies' registers."""
    before = {d.id: d for d in open}
    now = {d.id: d for d in found_now}
    return ([d for i, d in now.items() if i in before], [d for i, d in before.items() if i not in now],
            [d for i, d in now.items() if i not in before])


def reconcile(*, ledger: Iterable[LedgerPerson], snapshots: Sequence[Snapshot], as_of: dt.date,
              grace_days: int = 10) -> list[Discrepancy]:
    """Every discrepancy between the ledger and the snapshots, each once, ordered by county, category and
    person. A decision that took effect less than ``grace_days`` before a register's day is not expected in it."""
    for s in snapshots:
        if s.as_of > as_of:
            raise ValueError(f"the {s.kind} of {s.agency} is as of {s.as_of}, after {as_of}")
    ctx = _Context(snapshots, dt.timedelta(days=grace_days))
    found: dict[uuid.UUID, Discrepancy] = {}
    for key, entries in _group(ledger, snapshots).items():
        for item in _Person(key, entries, ctx).items():
            prior = found.get(item.id)
            if prior is None:
                found[item.id] = item
            elif extra := tuple(s for s in item.sides if s not in prior.sides):
                found[item.id] = replace(prior, sides=prior.sides + extra)
    return sorted(found.values(), key=lambda d: (d.division, d.category, d.person_key, str(d.id)))


# ---- matching records to persons -----------------------------------------------------------------------

_L, _B, _C, _P, _K, _W = range(6)  # ledger, then the register kinds
_TAGS = {RegisterKind.BUREAU_REGISTER: _B, RegisterKind.COURT_DECISIONS: _C, RegisterKind.PRISON_RELEASES: _P,
         RegisterKind.POLICE_CUSTODY: _K, RegisterKind.POLICE_WANTED: _W}
Record = LedgerPerson | RegisterRow
Entry = tuple[int, int, Record, bool]  # tag, snapshot index (-1: ledger), record, matched by its own ID number


def _group(ledger: Iterable[LedgerPerson], snapshots: Sequence[Snapshot]) -> dict[str, list[Entry]]:
    """Records by person: by ID number; a record without one by name and birth date, joined to the one ID
    number borne by records of that name and birth date, if there is exactly one."""
    groups: dict[str, list[Entry]] = {}
    loose: list[tuple[int, int, Record, str | None]] = []
    for person in ledger:
        idk = id_key(person.id_number)
        if idk is None:
            loose.append((_L, -1, person, _birth_key(person.name, person.birth_date)))
        else:
            groups.setdefault(idk, []).append((_L, -1, person, True))
    for si, snap in enumerate(snapshots):
        tag = _TAGS[snap.kind]
        for row in snap.rows:
            if row.id_number is None:
                loose.append((tag, si, row, _birth_key(row.name, row.birth_date)))
            else:
                groups.setdefault(row.id_number, []).append((tag, si, row, True))
    if not loose:
        return groups
    wanted = {nb for *_, nb in loose if nb is not None}
    borne: dict[str, set[str]] = {}
    for idk, entries in groups.items():
        for _, _, rec, _ in entries:
            nb = f"{name_key(rec.name)}|{idk[6:14]}"
            if nb in wanted:
                borne.setdefault(nb, set()).add(idk)
    for tag, si, rec, birth in loose:
        ids = borne.get(birth) if birth is not None else None
        if ids is not None and len(ids) == 1:
            key = next(iter(ids))
        elif birth is not None:
            key = "nb:" + birth
        elif isinstance(rec, LedgerPerson):
            key = "rec:" + rec.person_key
        else:
            key = f"rec:{snapshots[si].agency}:{tag}:{rec.number}"
        groups.setdefault(key, []).append((tag, si, rec, False))
    return groups


def _birth_key(name: str, birth: dt.date | None) -> str | None:
    return None if birth is None else f"{name_key(name)}|{birth:%Y%m%d}"


class _Context:
    def __init__(self, snapshots: Sequence[Snapshot], grace: dt.timedelta) -> None:
        self.snapshots = snapshots
        self.grace = grace
        self._lists: dict[tuple[RegisterKind, str], int | None] = {}

    def list_for(self, kind: RegisterKind, county: str) -> int | None:
        """The snapshot of ``kind`` that covers ``county`` most narrowly (the latest of equals), if any."""
        found = self._lists.get((kind, county), -1)
        if found == -1:
            best = sorted((len(_prefix(s.division)), s.as_of, i) for i, s in enumerate(self.snapshots)
                          if s.kind is kind and s.covers(county))
            found = self._lists[(kind, county)] = best[-1][2] if best else None
        return found

    def side(self, si: int, rec: Record, value: str) -> Side:
        if si < 0:
            return Side(LEDGER, None, value)
        s = self.snapshots[si]
        return Side(s.kind.value, s.agency, value, rec.number if isinstance(rec, RegisterRow) else None, s.digest,
                    s.as_of)

    def absent(self, si: int) -> Side:
        s = self.snapshots[si]
        return Side(s.kind.value, s.agency, ABSENT, None, s.digest, s.as_of)

    def due(self, d: _Decision, day: dt.date) -> bool:
        """Whether a decision in force should be in a register as of ``day``: in effect for the grace period and
        its period not yet over."""
        rec = d.rec
        ref = rec.effective_on or (rec.since if isinstance(rec, RegisterRow) else None) or rec.period_start
        if ref is not None and ref > day - self.grace:
            return False
        return rec.period_end is None or rec.period_end >= day


def _prefix(division: str) -> str:
    if division.endswith("0000"):
        return division[:2]
    return division[:4] if division.endswith("00") else division


def _terms(rec: Record) -> str:
    return f"{rec.correction_type or '?'} {rec.period_start or '?'}/{rec.period_end or '?'}"


def _terms_zh(value: str) -> str:
    kind, _, period = value.partition(" ")
    start, _, end = period.partition("/")
    return f"{_TYPE_ZH.get(kind, kind)} {start}至{end}"


def _differs(a: Record, b: Record) -> bool:
    return any(x is not None and y is not None and x != y for x, y in (
        (a.correction_type, b.correction_type), (a.period_start, b.period_start), (a.period_end, b.period_end)))


def _ongoing(row: RegisterRow, day: dt.date) -> bool:
    return (row.since is None or row.since <= day) and (row.until is None or row.until >= day)


# ---- one person's records, county by county ---------------------------------------------------------------

_SUPERVISED = frozenset({Status.UNDER_SUPERVISION, Status.IN_CUSTODY})


@dataclass(slots=True)
class _Decision:
    """A decision in force somewhere: the ledger's (with the court's and prison's rows about it) or, where the
    ledger does not know it, a court's or prison's row."""

    tag: int
    si: int
    rec: Record
    county: str
    organ: str  # deciding organ
    others: list[tuple[int, RegisterRow]] = field(default_factory=list)
    revocation: tuple[int, RegisterRow] | None = None

    @property
    def in_force(self) -> bool:
        if self.revocation is not None:
            return False
        return self.rec.status in _SUPERVISED if self.tag == _L else self.rec.status is not Status.REVOKED


def _rank(person: LedgerPerson) -> tuple[int, int]:
    order = 0 if person.status in _SUPERVISED else 1 if person.status in ON_BOOKS or person.status is Status.REVOKED \
        else 2
    return order, -(person.period_start.toordinal() if person.period_start else 0)


class _Person:
    def __init__(self, key: str, entries: list[Entry], ctx: _Context) -> None:
        self.ctx = ctx
        self.indirect = {id(e[2]) for e in entries if not e[3]}
        self.unmatched = key.startswith("rec:")
        ledger = sorted((e[2] for e in entries if isinstance(e[2], LedgerPerson)), key=_rank)
        rows: dict[int, list[tuple[int, RegisterRow]]] = {}
        for tag, si, rec, _ in entries:
            if isinstance(rec, RegisterRow):
                rows.setdefault(tag, []).append((si, rec))
        first = ledger[0] if ledger else next(e[2] for e in entries)
        self.first = first
        self.key = min(p.person_key for p in ledger) if ledger else key if key[:3] in ("nb:", "rec") else "id:" + key
        self.ledger = ledger
        self.rows = rows
        self.wanted = [(si, r) for si, r in rows.get(_W, ()) if r.status is Status.AT_LARGE]

    def items(self) -> Iterator[Discrepancy]:
        snapshots = self.ctx.snapshots
        decisions: dict[str, list[_Decision]] = {}
        by_case: dict[str, _Decision] = {}
        by_type: dict[str, _Decision] = {}

        def add(d: _Decision) -> None:
            decisions.setdefault(d.county, []).append(d)
            if d.rec.case_number:
                by_case.setdefault(d.rec.case_number, d)

        for person in self.ledger:
            d = _Decision(_L, -1, person, person.execution_division, person.deciding_organ)
            add(d)
            by_type.setdefault(person.correction_type, d)
        court = self.rows.get(_C, [])
        for si, r in court:
            if r.status is not Status.REVOKED:
                found = by_case.get(r.case_number) if r.case_number else None
                if found is not None and found.tag == _L:
                    found.others.append((si, r))
                else:
                    add(_Decision(_C, si, r, r.division or snapshots[si].division,
                                  r.deciding_organ or snapshots[si].agency))
        for si, r in self.rows.get(_P, ()):
            found = by_type.get(r.correction_type or "")
            if found is not None:
                found.others.append((si, r))
            else:
                add(_Decision(_P, si, r, r.division or snapshots[si].division,
                              r.deciding_organ or snapshots[si].agency))
        for si, r in court:
            if r.status is Status.REVOKED:
                found = (by_case.get(r.case_number) if r.case_number else None) or by_type.get(r.correction_type or "")
                if found is not None:
                    found.revocation = (si, r)
                else:
                    add(_Decision(_C, si, r, r.division or snapshots[si].division,
                                  r.deciding_organ or snapshots[si].agency))
        registered: dict[str, list[tuple[int, RegisterRow]]] = {}
        for si, r in self.rows.get(_B, ()):
            registered.setdefault(r.division or snapshots[si].division, []).append((si, r))
        for county in sorted(decisions.keys() | registered.keys()):
            yield from self._county(county, decisions.get(county, []), registered.get(county, []))

    def _county(self, county: str, ds: list[_Decision], registered: list[tuple[int, RegisterRow]]
                ) -> Iterator[Discrepancy]:
        ctx, snapshots = self.ctx, self.ctx.snapshots
        bsi = registered[0][0] if registered else ctx.list_for(RegisterKind.BUREAU_REGISTER, county)
        bureau = county + BUREAU_SUFFIX
        if bsi is not None and snapshots[bsi].division == county:
            bureau = snapshots[bsi].agency
        if not registered:
            if bsi is not None:
                due = [d for d in ds if d.in_force and ctx.due(d, snapshots[bsi].as_of)]
                if due:
                    d = due[0]
                    acting = bureau if isinstance(d.rec, LedgerPerson) and d.rec.documents_served else d.organ
                    yield self._item(Category.DECIDED_NOT_IN_REGISTER, county, acting, None, {bureau, d.organ},
                                     [(d.si, d.rec, _terms(d.rec)) for d in due], ctx.absent(bsi))
        else:
            yield from self._registered(county, bureau, ds, registered[0])
        for d in ds:
            if d.tag != _L:
                continue
            person = d.rec
            assert isinstance(person, LedgerPerson)
            for si, r in d.others:
                if _differs(r, person):
                    agency = snapshots[si].agency
                    yield self._item(Category.TYPE_OR_PERIOD_MISMATCH, county, agency, None, {agency, LEDGER},
                                     [(-1, person, _terms(person))], (si, r, _terms(r)))
            if d.revocation is not None and person.status in _SUPERVISED:
                si, r = d.revocation
                agency = snapshots[si].agency  # the court's revocation has not reached the ledger
                yield self._item(Category.STATUS_MISMATCH, county, agency, None, {agency, LEDGER},
                                 [(si, r, Status.REVOKED)], (-1, person, person.status))
            yield from self._police(county, bureau, person)

    def _registered(self, county: str, bureau: str, ds: list[_Decision], b: tuple[int, RegisterRow]
                    ) -> Iterator[Discrepancy]:
        ctx = self.ctx
        bsi, row = b
        day = ctx.snapshots[bsi].as_of
        if not ds:
            if row.status in ON_BOOKS:
                yield self._item(Category.IN_REGISTER_WITHOUT_BASIS, county, bureau, row.deciding_organ, {bureau},
                                 [(-1, None, ABSENT)], (bsi, row, row.status or ""))
            return
        d = next((d for d in ds if row.case_number and d.rec.case_number == row.case_number), ds[0])
        if _differs(row, d.rec) and all(_differs(row, r) for _, r in d.others):
            yield self._item(Category.TYPE_OR_PERIOD_MISMATCH, county, bureau, d.organ, {bureau, d.organ},
                             [(d.si, d.rec, _terms(d.rec))], (bsi, row, _terms(row)))
        said = row.status
        if said is not None:
            rec = d.rec
            if isinstance(rec, LedgerPerson):
                revoked = d.revocation is not None and _FAMILY[said] == "revoked"
                if (rec.status_since is None or rec.status_since <= day) and not revoked \
                        and _FAMILY[rec.status] != _FAMILY[said]:
                    yield self._item(Category.STATUS_MISMATCH, county, bureau, d.organ, {bureau, d.organ},
                                     [(-1, rec, rec.status)], (bsi, row, said))
            elif (d.revocation is not None or rec.status is Status.REVOKED) and _FAMILY[said] != "revoked":
                si, r = d.revocation or (d.si, rec)
                yield self._item(Category.STATUS_MISMATCH, county, d.organ, bureau, {bureau, d.organ},
                                 [(si, r, Status.REVOKED)], (bsi, row, said))
        if said is Status.UNDER_SUPERVISION:
            for si, w in self.wanted:
                if w.since is None or w.since <= day:
                    police = ctx.snapshots[si].agency
                    yield self._item(Category.STATUS_MISMATCH, county, bureau, police, {bureau, police},
                                     [(si, w, Status.AT_LARGE)], (bsi, row, said))
            for si, k in self.rows.get(_K, ()):
                if _ongoing(k, day):
                    police = ctx.snapshots[si].agency
                    yield self._item(Category.CUSTODY_VS_SUPERVISION, county, bureau, police, {bureau, police},
                                     [(si, k, Status.IN_CUSTODY)], (bsi, row, said))

    def _police(self, county: str, bureau: str, person: LedgerPerson) -> Iterator[Discrepancy]:
        """The police lists against a ledger person whose revocation is in force."""
        if person.status not in (Status.AT_LARGE, Status.REVOKED):
            return
        ctx, since = self.ctx, person.status_since
        held = False
        for si, k in self.rows.get(_K, ()):
            day = ctx.snapshots[si].as_of
            if _ongoing(k, day) and (since is None or since <= day):
                held = True
                if person.status is Status.AT_LARGE:  # located: the police have not reported it
                    police = ctx.snapshots[si].agency
                    yield self._item(Category.STATUS_MISMATCH, county, police, bureau, {police, LEDGER},
                                     [(si, k, Status.IN_CUSTODY)], (-1, person, person.status))
        for si, w in self.wanted:
            if person.status is Status.REVOKED and (since is None or since <= ctx.snapshots[si].as_of):
                police = ctx.snapshots[si].agency  # recommitted, still listed as wanted
                yield self._item(Category.STATUS_MISMATCH, county, police, bureau, {police, LEDGER},
                                 [(-1, person, person.status)], (si, w, Status.AT_LARGE))
        if person.status is Status.AT_LARGE and not held and not self.wanted:
            wsi = ctx.list_for(RegisterKind.POLICE_WANTED, county)
            if wsi is not None and (since is None or since <= ctx.snapshots[wsi].as_of):
                police = ctx.snapshots[wsi].agency  # at large, and the county's police do not pursue
                yield self._item(Category.STATUS_MISMATCH, county, police, bureau, {police, LEDGER},
                                 [(-1, person, person.status)], ctx.absent(wsi))

    def _item(self, category: Category, county: str, acting: str, confirming: str | None, parties: set[str],
              refs: list[tuple[int, Record | None, str]], other: Side | tuple[int, Record, str]) -> Discrepancy:
        cited = [rec for _, rec, _ in refs if rec is not None]
        if not isinstance(other, Side):
            cited.append(other[1])
            other = self.ctx.side(*other)
        sides = (*(self.ctx.side(si, rec, value) if rec is not None else Side(LEDGER, None, value)
                   for si, rec, value in refs), other)
        if self.unmatched:
            match = MatchBy.UNMATCHED
        elif self.key.startswith("nb:") or any(id(r) in self.indirect for r in cited):
            match = MatchBy.NAME_AND_BIRTH
        else:
            match = MatchBy.ID_NUMBER
        ref, found = sides[0], sides[-1]
        id_number = id_key(self.first.id_number)
        who = id_number or "无身份证号 / no ID number"
        name = self.first.name
        zh = (f"{name}（{who}，执行地 {county}）：{_SOURCE_ZH[ref.source]}{ref.agency or ''}为“{_zh(ref.value)}”，"
              f"{_SOURCE_ZH[found.source]}{found.agency or ''}为“{_zh(found.value)}”。{CATEGORY_LABELS[category]}；"
              f"由 {acting} 处理" + (f"，{confirming} 确认。" if confirming else "。"))
        en = (f"{name} ({who}, county {county}): {_SOURCE_EN[ref.source]} {ref.agency or ''} says {ref.value}, "
              f"{_SOURCE_EN[found.source]} {found.agency or ''} says {found.value}. {CATEGORY_EN[category]}; "
              f"{acting} to act" + (f", {confirming} to confirm." if confirming else "."))
        return Discrepancy(discrepancy_id(category, self.key, parties), category, self.key, name, id_number, county,
                           acting, confirming, sides, match, zh, en.replace("  ", " "))


def _zh(value: str) -> str:
    if value == ABSENT:
        return "无此人"
    if value in _STATUS_ZH:
        return _STATUS_ZH[Status(value)]
    return _terms_zh(value)
