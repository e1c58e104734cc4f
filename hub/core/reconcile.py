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

The values are in ``reconcile_values``, the records grouped by person in ``reconcile_records``, the rules in
``reconcile_rules``; every public name of those is importable from here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import replace

from hub.core.reconcile_records import Entry, Record, _Context, _group
from hub.core.reconcile_rules import _Person
from hub.core.reconcile_values import (
    ABSENT,
    BUREAU_SUFFIX,
    CATEGORY_EN,
    CATEGORY_LABELS,
    LEDGER,
    NAMESPACE,
    ON_BOOKS,
    Category,
    Discrepancy,
    LedgerPerson,
    MatchBy,
    RegisterKind,
    RegisterRow,
    RejectedRow,
    RowProblem,
    Side,
    Snapshot,
    Status,
    discrepancy_id,
    id_key,
    name_key,
)

__all__ = [
    "ABSENT",
    "BUREAU_SUFFIX",
    "CATEGORY_EN",
    "CATEGORY_LABELS",
    "LEDGER",
    "NAMESPACE",
    "ON_BOOKS",
    "Category",
    "Discrepancy",
    "Entry",
    "LedgerPerson",
    "MatchBy",
    "Record",
    "RegisterKind",
    "RegisterRow",
    "RejectedRow",
    "RowProblem",
    "Side",
    "Snapshot",
    "Status",
    "discrepancy_id",
    "id_key",
    "name_key",
    "reconcile",
    "resolve_items",
]


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
