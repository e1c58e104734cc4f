"""The values of register reconciliation (``hub.core.reconcile``): register kinds, statuses and categories,
the rows of an agency's register snapshot, the ledger's account of a person, and the discrepancies found.

Records are matched by ``id_key`` and, failing that, by ``name_key`` and birth date; an item's id is derived from
what it is about (``discrepancy_id``), so a later run finds the same item.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
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


def _prefix(division: str) -> str:
    if division.endswith("0000"):
        return division[:2]
    return division[:4] if division.endswith("00") else division
