"""The retention policy: each record class the hub stores, how long it is kept, what starts the clock and why, read
from a TOML file (the shipped ``hub/retention.toml`` or the file ``XIANJIE_RETENTION_POLICY`` names) and checked,
each error naming the file, the class row and the field.

What a class is — its tables, its clock, whether it is tied to a person — is the hub's (``SPECS``): the file must
say the same, so that it reads as the policy in force, and it sets the periods and the daily sweep. The sweep
itself is ``hub.retention_sweep`` (``plan``, ``apply`` below); legal holds are ``hub.retention_holds``.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from hub.retention_sweep import RunReport

SUBJECTS = ("person", "agency", "input", "operational", "permanent")


@dataclass(frozen=True)
class Spec:
    """What the hub knows of a record class: whose records they are, what starts the clock, which tables."""

    subject: str
    clock: str
    tables: frozenset[str]


def _spec(subject: str, clock: str, *tables: str) -> Spec:
    return Spec(subject, clock, frozenset(tables))


_MESSAGE_TABLES = ("messages", "deliveries", "events", "outbox", "failed_transfers", "failed_transfer_edits",
                   "operator_files", "attachment_messages", "attachments")
# In the order the sweep runs them: a class that depends on another's records being gone (identity records and
# native payloads on messages) comes after it, so that one run reaches the end and a second deletes nothing.
SPECS: dict[str, Spec] = {
    "case_records": _spec("person", "case_closed", *_MESSAGE_TABLES, "cases", "obligations", "case_events",
                          "case_facts", "obligation_notes", "alarm_notices", "alarm_watch", "draft_watch",
                          "pursuit_drafts"),
    "loose_messages": _spec("person", "received", *_MESSAGE_TABLES, "case_events"),
    "identity_records": _spec("person", "last_message", "person_records", "person_links", "identity_decisions",
                              "identity_reviews"),
    "discrepancies": _spec("person", "resolved", "discrepancies"),
    "native_payloads": _spec("agency", "received", "native_payloads"),
    "register_snapshots": _spec("agency", "superseded", "register_snapshots"),
    "history_registers": _spec("agency", "imported", "history_imports", "history_rows"),
    "quarantine": _spec("input", "received", "quarantine", "quarantine_reviews", "quarantine_corrections"),
    "refused_files": _spec("input", "received", "native_payloads", "register_snapshots", "history_imports"),
    "outbox": _spec("operational", "created", "outbox"),
    "operator_sessions": _spec("operational", "expired", "operator_sessions"),
    "bulk_tasks": _spec("operational", "finished", "bulk_tasks", "bulk_task_items"),
    "auth_failures": _spec("operational", "recorded", "auth_failures"),
    "auth_blocks": _spec("operational", "ended", "auth_blocks"),
    "audit_log": _spec("permanent", "never", "audit_log", "audit_head"),
    "api_keys": _spec("permanent", "never", "api_keys"),
    "operator_accounts": _spec("permanent", "never", "operators"),
    "rules_and_calendar": _spec("permanent", "never", "rule_changes", "calendar_years"),
    "ledger_state": _spec("permanent", "never", "ledger_cursor", "identity_cursor"),
    "legal_holds": _spec("permanent", "never", "legal_holds"),
}
WHY_PERMANENT = {
    "audit_log": "the audit log is a hash chain: deleting any entry cuts it",
    "api_keys": "keys are revoked, never deleted: the audit log names them",
    "operator_accounts": "accounts are disabled, never deleted: the audit log names them",
    "rules_and_calendar": "every kept obligation was computed with them, and a ledger rebuild needs them",
    "ledger_state": "the ledger's and the identity index's place in the messages",
    "legal_holds": "a hold is the record of why records were kept",
}
_PERIOD = re.compile(r"(\d{1,4})([ymd])")
_AT = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


@dataclass(frozen=True)
class Period:
    """How long a record is kept after its clock starts: years, months or days, or for ever."""

    amount: int
    unit: str  # "y" | "m" | "d" | "forever"

    @classmethod
    def parse(cls, text: str) -> Period:
        """``5y``, ``18m``, ``90d`` or ``forever``; ValueError otherwise."""
        if text == "forever":
            return cls(0, "forever")
        m = _PERIOD.fullmatch(text)
        if m is None:
            raise ValueError(f"{text!r} is not a period: write e.g. \"5y\", \"18m\", \"90d\" or \"forever\"")
        return cls(int(m.group(1)), m.group(2))

    @property
    def forever(self) -> bool:
        return self.unit == "forever"

    def cutoff(self, today: dt.date) -> dt.date:
        """The first day whose records are not yet due: a record whose clock started on a day before this one has
        been kept its whole period by ``today``. (29 February less a year is 28 February.)"""
        if self.forever:
            raise ValueError("a record kept for ever has no cutoff")
        if self.unit == "d":
            return today - dt.timedelta(days=self.amount)
        months = self.amount * (12 if self.unit == "y" else 1)
        y, m = divmod(today.year * 12 + today.month - 1 - months, 12)
        m += 1
        day = today.day
        while True:
            try:
                return dt.date(y, m, day)
            except ValueError:
                day -= 1

    def __str__(self) -> str:
        return "forever" if self.forever else f"{self.amount}{self.unit}"


@dataclass(frozen=True)
class RecordClass:
    """One row of the policy."""

    name: str
    subject: str
    tables: tuple[str, ...]
    keep: Period
    clock: str
    basis: str


@dataclass(frozen=True)
class Policy:
    """The policy in force: its classes in the order the sweep runs them, the daily sweep, where it was read."""

    classes: tuple[RecordClass, ...]
    daily: bool
    at: dt.time
    batch: int
    source: str

    def of(self, name: str) -> RecordClass:
        for c in self.classes:
            if c.name == name:
                return c
        raise KeyError(f"no record class {name!r} (one of {', '.join(SPECS)})")

    def tables(self) -> frozenset[str]:
        """Every table some class names."""
        return frozenset(t for c in self.classes for t in c.tables)


_FIELDS: dict[str, type] = {"name": str, "subject": str, "tables": list, "keep": str, "clock": str, "basis": str}
_SWEEP: dict[str, type] = {"daily": bool, "at": str, "batch": int}


def load_policy(text: str, *, source: str = "retention.toml") -> Policy:
    """The policy in ``text``; ValueError naming ``source``, the class row (number and name) and the field at
    fault."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{source}: not TOML: {e}") from None
    unknown = set(data) - {"sweep", "class"}
    if unknown:
        raise ValueError(f"{source}: unknown top-level key(s) {', '.join(sorted(unknown))} (sweep, class)")
    sweep = data.get("sweep", {})
    if not isinstance(sweep, dict):
        raise ValueError(f"{source}: [sweep] must be a table")
    _types(sweep, _SWEEP, f"{source}: [sweep]", required=())
    at = _AT.fullmatch(sweep.get("at", "03:30"))
    if at is None:
        raise ValueError(f"{source}: [sweep]: at: {sweep['at']!r} is not a time of day HH:MM (Asia/Shanghai)")
    batch = sweep.get("batch", 50)
    if not 1 <= batch <= 10_000:
        raise ValueError(f"{source}: [sweep]: batch: {batch} is not between 1 and 10000")
    rows = data.get("class", [])
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValueError(f"{source}: 'class' must be an array of tables ([[class]])")
    found: dict[str, RecordClass] = {}
    for number, row in enumerate(rows, start=1):
        c = _class(row, f"{source}: class row {number} ({row.get('name', '?')})")
        if c.name in found:
            raise ValueError(f"{source}: class row {number} ({c.name}): name: the class is already in the file")
        found[c.name] = c
    missing = [n for n in SPECS if n not in found]
    if missing:
        raise ValueError(f"{source}: no row for the class(es) {', '.join(missing)}: every class must be in the "
                         "file, each with its period")
    return Policy(tuple(found[n] for n in SPECS), bool(sweep.get("daily", False)),
                  dt.time(int(at.group(1)), int(at.group(2))), batch, source)


def _types(row: dict[str, Any], fields: dict[str, type], where: str, *, required: Iterable[str]) -> None:
    unknown = set(row) - set(fields)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} ({', '.join(fields)})")
    for name in required:
        if name not in row:
            raise ValueError(f"{where}: {name}: missing")
    for name, value in row.items():
        kind = fields[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(f"{where}: {name}: must be {kind.__name__}, not {value!r}")


def _class(row: dict[str, Any], where: str) -> RecordClass:
    _types(row, _FIELDS, where, required=_FIELDS)
    name = row["name"]
    spec = SPECS.get(name)
    if spec is None:
        raise ValueError(f"{where}: name: unknown record class {name!r} (one of {', '.join(SPECS)})")
    if row["subject"] != spec.subject:
        raise ValueError(f"{where}: subject: {row['subject']!r}, but {name} is {spec.subject!r} "
                         f"(one of {', '.join(SUBJECTS)})")
    if row["clock"] != spec.clock:
        raise ValueError(f"{where}: clock: {row['clock']!r}, but the clock of {name} starts at {spec.clock!r}")
    tables = row["tables"]
    if not all(isinstance(t, str) for t in tables):
        raise ValueError(f"{where}: tables: must be a list of table names")
    extra, lacking = set(tables) - spec.tables, spec.tables - set(tables)
    if extra or lacking or len(tables) != len(set(tables)):
        problems = ([f"not of this class: {', '.join(sorted(extra))}"] if extra else []) + \
                   ([f"missing: {', '.join(sorted(lacking))}"] if lacking else []) + \
                   (["a table named twice"] if len(tables) != len(set(tables)) else [])
        raise ValueError(f"{where}: tables: {'; '.join(problems)}")
    try:
        keep = Period.parse(row["keep"])
    except ValueError as e:
        raise ValueError(f"{where}: keep: {e}") from None
    if spec.subject == "permanent" and not keep.forever:
        raise ValueError(f"{where}: keep: must be \"forever\": {WHY_PERMANENT[name]}")
    if not row["basis"].strip():
        raise ValueError(f"{where}: basis: say why the period is what it is")
    return RecordClass(name, spec.subject, tuple(tables), keep, spec.clock, " ".join(row["basis"].split()))


def shipped_policy_text() -> str:
    return resources.files("hub").joinpath("retention.toml").read_text(encoding="utf-8")


def policy_in_force(path: Path | None) -> Policy:
    """The policy of ``path`` (Settings.retention_policy) or, when None, the shipped one; ValueError if it fails
    its checks."""
    if path is None:
        return load_policy(shipped_policy_text(), source="hub/retention.toml")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ValueError(f"{path}: cannot be read: {e.strerror or e}") from None
    return load_policy(text, source=str(path))


def unclassified(policy: Policy, tables: Iterable[str]) -> list[str]:
    """The tables of the database schema no class names (the sweep never deletes from them)."""
    return sorted(set(tables) - policy.tables())


def plan(engine: Engine, policy: Policy, *, now: dt.datetime | None = None,
         only: Iterable[str] = ()) -> RunReport:
    """What ``apply`` would delete now, class by class, and what it would keep and why; changes nothing."""
    from hub.retention_sweep import run

    return run(engine, policy, now=now, apply=False, only=tuple(only))


def apply(engine: Engine, policy: Policy, *, by: str, now: dt.datetime | None = None, only: Iterable[str] = (),
          batch: int | None = None) -> RunReport:
    """Delete what is past its period and not held, in batches of its own transaction, each audited."""
    from hub.retention_sweep import run

    return run(engine, policy, now=now, apply=True, by=by, only=tuple(only), batch=batch)
