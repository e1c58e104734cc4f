"""The ledger's rows: a case state and its obligations as table rows and back, the registry as the core's role
resolver, and the case's standing in the words of register reconciliation."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from hub.case_codec import encode_state
from hub.core.case_state import CaseState, CaseStatus, RoleResolver, conventional_roles
from hub.core.facts import legal_day, normalise_case_number
from hub.core.model import Directory, OrganType
from hub.core.obligations import Obligation, Waiver
from hub.core.reconcile_values import Status

_ORGANS = {"bureau": OrganType.BUREAU, "police": OrganType.POLICE, "procuratorate": OrganType.PROCURATORATE}
# Before a decision the person is not under community corrections: such cases are not in any register.
_NOT_DECIDED = frozenset({CaseStatus.COMMISSIONED, CaseStatus.ASSESSED})


def directory_roles(directory: Directory) -> RoleResolver:
    """The bureau, police and procuratorate of a division as the registry names them; the conventional code
    (division + SF/GA/JC) where the registry has no such organ for the division."""
    known: dict[tuple[str, str], str] = {}

    def resolve(role: str, division: str) -> str:
        key = (role, division)
        code = known.get(key)
        if code is None:
            organ = _ORGANS.get(role)
            agency = directory.find(organ, division) if organ is not None else None
            code = known[key] = agency.code if agency is not None else conventional_roles(role, division)
        return code

    return resolve


def register_status(state: CaseState) -> Status | None:
    """Where the person stands in reconciliation's words (hub.core.reconcile_values.Status); None before any
    decision. A revocation or recommittal in force is ``at_large`` while the person is not in custody and the
    police have not found them, ``revoked`` otherwise; every other state of a decided case is supervision
    (``in_custody`` while held)."""
    p = state.progress
    if state.state in _NOT_DECIDED:
        return None
    if p.ended == "released":
        return Status.RELEASED
    if p.revocation in ("revoked", "recommitted"):
        return Status.AT_LARGE if p.at_large and p.pursuit != "located" else Status.REVOKED
    if p.ended:
        return Status.TERMINATED
    if p.custody_since is not None:
        return Status.IN_CUSTODY
    return Status.UNDER_SUPERVISION


def status_since(before: CaseState | None, before_since: dt.date | None, after: CaseState,
                 day: dt.date) -> dt.date | None:
    """The legal day the register status of ``after`` began: kept while it does not change, else ``day`` (the
    custody's first day for a person held)."""
    now = register_status(after)
    if now is None:
        return None
    if before is not None and register_status(before) == now and before_since is not None:
        return before_since
    if now is Status.IN_CUSTODY and after.progress.custody_since is not None:
        return after.progress.custody_since
    return day


def case_row(state: CaseState, *, since: dt.date | None, seq: int, now: dt.datetime) -> dict[str, Any]:
    """The ``cases`` row of ``state``."""
    person, case = state.person, state.case
    key = state.person_key
    status = register_status(state)
    return dict(
        case_key=state.case_key, person_key=key, person_name=person.name if person else None,
        id_number=key if key is not None and not key.startswith("ref|") else None,
        birth_date=person.birth_date if person else None, deciding_organ=case.deciding_organ,
        case_number=case.case_number, case_number_key=normalise_case_number(case.case_number),
        division=case.execution_division, correction_type=case.correction_type, effective_on=case.effective_date,
        period_start=case.period_start, period_end=case.period_end, status=state.state.value,
        register_status=status.value if status is not None else None, status_since=since,
        responsible=state.responsible, documents_served=1 if state.progress.decision_message else 0,
        state_json=encode_state(state), updated_at=now, last_seq=seq,
    )


def obligation_row(o: Obligation, *, opened_at: dt.datetime) -> dict[str, Any]:
    """The ``obligations`` row of ``o`` (``opened_at`` is kept from the first time it was written)."""
    w = o.waiver
    return dict(
        id=o.id, case_key=o.case_key, person_key=o.person_key, division=o.division, rule_id=o.rule_id, step=o.step,
        obligor=o.obligor, obligee=o.obligee, owes=o.owes, trigger_message=o.trigger_message,
        trigger_date=o.trigger_date, due_date=o.due_date, due_soon_days=o.due_soon_days,
        soon_from=o.due_date - dt.timedelta(days=o.due_soon_days) if o.due_date is not None else None,
        calendar_missing_year=o.calendar_missing, is_open=1 if o.is_open else 0, met_on=o.met_on, met_by=o.met_by,
        waived_on=w.on if w else None, waived_by=w.by if w else None, waived_reason=w.reason if w else None,
        opened_at=opened_at,
    )


def obligation_of(row: Mapping[Any, Any]) -> Obligation:
    """The obligation an ``obligations`` row holds."""
    waiver = Waiver(row["waived_reason"], row["waived_by"], row["waived_on"]) if row["waived_on"] else None
    return Obligation(
        id=row["id"], case_key=row["case_key"], person_key=row["person_key"], rule_id=row["rule_id"],
        step=row["step"], obligor=row["obligor"], obligee=row["obligee"], owes=row["owes"], division=row["division"],
        trigger_message=row["trigger_message"], trigger_date=row["trigger_date"], due_date=row["due_date"],
        due_soon_days=row["due_soon_days"], calendar_missing=row["calendar_missing_year"], met_on=row["met_on"],
        met_by=row["met_by"], waiver=waiver,
    )


def event_row(*, case_key: str | None, person_key: str | None, at: dt.datetime, kind: str,
              message_id: str | None, **detail: object) -> dict[str, Any]:
    """A ``case_events`` row; ``at`` is when the hub received the message that caused it."""
    return dict(case_key=case_key, person_key=person_key, at=at, day=legal_day(at), kind=kind,
                message_id=message_id,
                detail=json.dumps(detail, ensure_ascii=False, default=str) if detail else None)


def obligation_detail(o: Obligation) -> dict[str, object]:
    """What a timeline line says about an obligation."""
    out: dict[str, object] = {"obligation_id": o.id, "rule_id": o.rule_id, "obligor": o.obligor,
                              "obligee": o.obligee, "owes": o.owes, "due_date": o.due_date}
    if o.calendar_missing is not None:
        out["calendar_missing_year"] = o.calendar_missing
    if o.met_on is not None:
        out |= {"met_on": o.met_on, "met_by": o.met_by}
    if o.waiver is not None:
        out |= {"waived_on": o.waiver.on, "waived_by": o.waiver.by, "reason": o.waiver.reason}
    return out
