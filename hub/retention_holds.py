"""Legal holds: records the retention sweep keeps whatever their period, until the hold is released.

A hold names a person (an ID number, or a person key as the ledger writes it), a case (its case number; the
deciding organ's code and ``|`` before it narrows it to that organ's case) or a message (a message id, or the id of a
quarantined input or a stored file). Placing and releasing are audited in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, or_, select, update

from hub import audit
from hub.core.facts import canonical_id_number, legal_day, normalise_case_number
from hub.store.db import aware, utcnow
from hub.store.history_schema import history_imports
from hub.store.identity_schema import person_records
from hub.store.ledger_schema import cases
from hub.store.register_schema import register_snapshots
from hub.store.retention_schema import legal_holds
from hub.store.schema import messages, native_payloads, quarantine

KINDS = ("person", "case", "message")


class HoldError(ValueError):
    """A hold that cannot be placed or released as asked (nothing is stored)."""


def normalise(kind: str, subject: str, *, today: dt.date) -> str:
    """The subject as stored and matched: an ID number in its 18-character form, a case number normalised."""
    s = subject.strip()
    if kind == "person":
        return canonical_id_number(s.upper(), today=today) or s
    if kind == "case":
        organ, bar, number = s.rpartition("|")
        return f"{organ.strip()}|{normalise_case_number(number)}" if bar else normalise_case_number(s)
    return s


def _known(conn: Connection, kind: str, subject: str) -> bool:
    """Whether the hub holds anything the subject names."""
    if kind == "person":
        ref = subject[4:] if subject.startswith("ref|") else subject
        return any(conn.execute(q.limit(1)).first() is not None for q in (
            select(cases.c.case_key).where(or_(cases.c.person_key == subject, cases.c.id_number == subject)),
            select(messages.c.seq).where(or_(messages.c.person_key == subject.upper(),
                                             messages.c.person_key.like(f"%:{ref}"))),
            select(person_records.c.id).where(or_(person_records.c.id_number == subject,
                                                  person_records.c.record_id == ref))))
    if kind == "case":
        _, bar, number = subject.rpartition("|")
        q = select(cases.c.case_key).where(cases.c.case_key == subject) if bar else \
            select(cases.c.case_key).where(cases.c.case_number_key == number)
        return conn.execute(q.limit(1)).first() is not None
    return any(conn.execute(select(t.c.id).where(t.c.id == subject).limit(1)).first() is not None
               for t in (messages, quarantine, native_payloads, register_snapshots, history_imports))


def place(engine: Engine, *, kind: str, subject: str, reason: str, by: str,
          now: dt.datetime | None = None) -> dict[str, Any]:
    """Place a hold on what ``subject`` names (HoldError if the hub holds nothing it names, without a reason or a
    name, or if an active hold on it exists); audited."""
    now = now or utcnow()
    if kind not in KINDS:
        raise HoldError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    if not reason.strip():
        raise HoldError("reason: a hold needs its reason (the case, the order, who asked)")
    if not by.strip() or len(by.strip()) > 100:
        raise HoldError("by: name who places the hold (at most 100 characters)")
    key = normalise(kind, subject, today=legal_day(now))
    if not key or len(key) > 220:
        raise HoldError(f"subject: {subject!r} is empty or longer than 220 characters")
    hold_id = str(uuid.uuid4())
    with engine.begin() as conn:
        if not _known(conn, kind, key):
            raise HoldError(f"subject: the hub holds no {kind} {key!r} (a {kind} hold names "
                            + {"person": "an ID number or a person key such as ref|…",
                               "case": "a case number, or deciding organ|case number",
                               "message": "a message id, or the id of a quarantined input or a stored file"}[kind]
                            + ")")
        if conn.execute(select(legal_holds.c.id).where(legal_holds.c.kind == kind, legal_holds.c.subject == key,
                                                       legal_holds.c.released_at.is_(None))).first() is not None:
            raise HoldError(f"subject: {kind} {key!r} is already under an active hold")
        row = dict(id=hold_id, kind=kind, subject=key, reason=reason.strip(), placed_by=by.strip(), placed_at=now)
        conn.execute(insert(legal_holds).values(**row))
        audit.record(conn, at=now, actor=by.strip(), action="legal_hold_place", target=f"legal_hold:{hold_id}",
                     detail={"kind": kind, "subject": key, "reason": reason.strip()})
    return _plain(row)


def release(engine: Engine, hold_id: str, *, reason: str, by: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """Release an active hold (HoldError if there is none with that id, or no reason or name); audited. What it
    kept is swept by the next run once its period has passed."""
    now = now or utcnow()
    if not reason.strip():
        raise HoldError("reason: say why the hold ends (the case closed, the order lifted …)")
    if not by.strip() or len(by.strip()) > 100:
        raise HoldError("by: name who releases the hold (at most 100 characters)")
    with engine.begin() as conn:
        row = conn.execute(select(legal_holds).where(legal_holds.c.id == hold_id.strip())).mappings().first()
        if row is None:
            raise HoldError(f"hold: no legal hold {hold_id!r} (`xianjie retention hold list` shows them)")
        if row["released_at"] is not None:
            raise HoldError(f"hold: {hold_id} was released on {aware(row['released_at'])} by {row['released_by']}")
        changes = dict(released_by=by.strip(), released_at=now, release_reason=reason.strip())
        conn.execute(update(legal_holds).where(legal_holds.c.id == row["id"]).values(**changes))
        audit.record(conn, at=now, actor=by.strip(), action="legal_hold_release", target=f"legal_hold:{row['id']}",
                     detail={"kind": row["kind"], "subject": row["subject"], "reason": reason.strip()})
    return _plain(dict(row) | changes)


def list_holds(engine: Engine, *, include_released: bool = False) -> list[dict[str, Any]]:
    """The holds (active ones only unless ``include_released``), oldest first."""
    q = select(legal_holds).order_by(legal_holds.c.placed_at, legal_holds.c.id)
    if not include_released:
        q = q.where(legal_holds.c.released_at.is_(None))
    with engine.connect() as conn:
        return [_plain(dict(r)) for r in conn.execute(q).mappings()]


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: row.get(k) for k in ("id", "kind", "subject", "reason", "placed_by", "placed_at", "released_by",
                                   "released_at", "release_reason")}
    for k in ("placed_at", "released_at"):
        out[k] = aware(out[k]).isoformat() if out[k] is not None else None  # type: ignore[union-attr]
    return out


@dataclass(frozen=True)
class Holds:
    """The active holds, as the sweep matches records against them."""

    persons: frozenset[str]
    cases: frozenset[str]  # case numbers normalised, or organ|case number
    messages: frozenset[str]

    @classmethod
    def load(cls, conn: Connection) -> Holds:
        rows = conn.execute(select(legal_holds.c.kind, legal_holds.c.subject)
                            .where(legal_holds.c.released_at.is_(None))).all()
        return cls(*(frozenset(r.subject for r in rows if r.kind == k) for k in KINDS))

    def person(self, keys: Iterable[str | None]) -> bool:
        """Whether any of a person's keys (ID number, person key, ``ref|`` or bare reference) is held."""
        return any(k in self.persons or f"ref|{k}" in self.persons or k.upper() in self.persons
                   for k in keys if k)

    def case(self, case_key: str | None, case_number: str | None) -> bool:
        """Whether a case (its key organ|number, or its number alone) is held; a record that names only the number
        (a message of no case, an identity record) is held by a hold on that number under any deciding organ."""
        if case_key and case_key in self.cases:
            return True
        if not case_number:
            return False
        number = normalise_case_number(case_number)
        return number in self.cases or (case_key is None and any(h.rpartition("|")[2] == number
                                                                  for h in self.cases))

    def ids(self, ids: Iterable[str | None]) -> bool:
        return any(i in self.messages for i in ids if i)

    def __bool__(self) -> bool:
        return bool(self.persons or self.cases or self.messages)
