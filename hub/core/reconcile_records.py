"""Register reconciliation's records (``hub.core.reconcile``): the ledger's and the registers' records grouped
by person, the snapshots they are compared in, and the decisions in force they show."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from hub.core.reconcile_values import (
    ABSENT,
    LEDGER,
    LedgerPerson,
    RegisterKind,
    RegisterRow,
    Side,
    Snapshot,
    Status,
    _prefix,
    id_key,
    name_key,
)

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


# ---- decisions in force --------------------------------------------------------------------------------

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
