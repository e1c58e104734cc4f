"""What operators do to the ledger: waive an obligation (with a reason, audited) and reschedule open obligations
after a rule change or a calendar year loaded. Both change the obligation row and the case's stored state together,
under the ledger's lock, so the projection sees the change. A waiver is kept in the audit log with the message
number the ledger had reached, so a rebuild makes it again at the same point (``replay_waiver``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from hub import audit, case_views
from hub.case_codec import decode_state
from hub.case_project import cursor, lock
from hub.case_rows import case_row, event_row, obligation_detail, obligation_of, obligation_row
from hub.core.calendar import Calendar
from hub.core.obligations import Obligation, reschedule
from hub.core.rules import RuleBook
from hub.store.db import aware, utcnow
from hub.store.ledger_schema import case_events, cases, ledger_cursor, obligations
from hub.store.schema import audit_log

WAIVE = "obligation_waive"
log = logging.getLogger("xianjie.ledger")


class ObligationClosed(ValueError):
    """The obligation is already met or waived."""


class LedgerRebuilding(ValueError):
    """The ledger is being rebuilt: a waiver now could not be placed among the messages."""


@dataclass(frozen=True)
class OperatorWaiver:
    """An operator's waiver as the audit log keeps it."""

    obligation_id: str
    reason: str
    by: str
    today: dt.date
    at: dt.datetime
    after_seq: int  # the ledger had applied the messages up to here

    def plain(self) -> dict[str, object]:
        """The waiver as JSON values (``OperatorWaiver.of`` reads them back)."""
        return {"obligation_id": self.obligation_id, "reason": self.reason, "by": self.by,
                "today": self.today.isoformat(), "at": self.at.isoformat(), "after_seq": self.after_seq}

    @classmethod
    def of(cls, d: Mapping[str, Any]) -> OperatorWaiver:
        return cls(d["obligation_id"], d["reason"], d["by"], dt.date.fromisoformat(d["today"]),
                   dt.datetime.fromisoformat(d["at"]), int(d["after_seq"]))


def waive(engine: Engine, obligation_id: str, *, reason: str, by: str, today: dt.date) -> dict[str, Any]:
    """Set an open obligation aside, with the reason and who decided, in the ledger and the audit log.

    ValueError without a reason or a name; LookupError for an unknown id; ObligationClosed when it is already met
    or waived; LedgerRebuilding while a rebuild runs (nothing changes)."""
    if not reason.strip():
        raise ValueError("reason: a reason is required to waive an obligation")
    if not by.strip():
        raise ValueError("by: the person waiving the obligation must be named")
    if len(by.strip()) > 100:
        raise ValueError("by: at most 100 characters")
    now = utcnow()
    with engine.begin() as conn:
        lock(conn, wait=True)
        cur = cursor(conn)
        if cur["rebuild_target"] is not None:
            raise LedgerRebuilding("the ledger is being rebuilt; waive the obligation when it is done")
        seq = int(cur["last_seq"])
        w = OperatorWaiver(obligation_id, reason.strip(), by.strip(), today, now, seq)
        before, _ = _apply(conn, w)
        audit.record(conn, at=now, actor=w.by, action=WAIVE, target=f"obligation:{obligation_id}",
                     detail={"reason": w.reason, "rule_id": before.rule_id, "case_key": before.case_key,
                             "status_before": before.status(today).value, "today": today.isoformat(),
                             "after_seq": seq})
        out = conn.execute(select(obligations).where(obligations.c.id == obligation_id)).mappings().one()
    return case_views.obligation_view(out, today=today)


def _apply(conn: Connection, w: OperatorWaiver) -> tuple[Obligation, Obligation]:
    row = conn.execute(select(obligations).where(obligations.c.id == w.obligation_id)).mappings().first()
    if row is None:
        raise LookupError(f"no obligation {w.obligation_id}")
    before = obligation_of(row)
    if not before.is_open:
        raise ObligationClosed(f"obligation {w.obligation_id} is already {before.status(w.today).value}")
    after = before.waived(reason=w.reason, by=w.by, on=w.today)
    store_obligations(conn, after.case_key, {after.id: after}, now=w.at)
    conn.execute(update(obligations).where(obligations.c.id == after.id).values(
        obligation_row(after, opened_at=aware(row["opened_at"]) or w.at)))
    conn.execute(insert(case_events).values(event_row(
        case_key=after.case_key, person_key=after.person_key, at=w.at, kind="obligation_waived", message_id=None,
        **obligation_detail(after))))
    return before, after


def waivers(conn: Connection) -> list[OperatorWaiver]:
    """Every operator waiver in the audit log, in the order made."""
    out = []
    for r in conn.execute(select(audit_log).where(audit_log.c.action == WAIVE).order_by(audit_log.c.id)):
        d = json.loads(r.detail)
        out.append(OperatorWaiver(r.target.split(":", 1)[1], d["reason"], r.actor, dt.date.fromisoformat(d["today"]),
                          aware(r.at) or utcnow(), int(d.get("after_seq", 0))))
    return out


def replay_waivers(conn: Connection, due: list[OperatorWaiver]) -> None:
    """Make recorded waivers again during a rebuild (not audited again); one whose obligation does not exist or
    is already closed at this point of the rebuild is passed over, with a warning."""
    for w in due:
        try:
            _apply(conn, w)
        except (LookupError, ObligationClosed) as e:
            log.warning("rebuild: waiver of obligation %s by %s not made again after message %d: %s",
                        w.obligation_id, w.by, w.after_seq, e)


def store_obligations(conn: Connection, case_key: str, changed: Mapping[str, Obligation], *,
                      now: dt.datetime) -> None:
    """Put changed obligations into the case's stored state, so later messages see them."""
    row = conn.execute(select(cases.c.state_json, cases.c.status_since, cases.c.last_seq)
                       .where(cases.c.case_key == case_key)).first()
    if row is None:
        return
    state = decode_state(row.state_json)
    state = dataclasses.replace(state, obligations=tuple(changed.get(o.id, o) for o in state.obligations))
    conn.execute(update(cases).where(cases.c.case_key == case_key).values(
        case_row(state, since=row.status_since, seq=int(row.last_seq), now=now)))


def reschedule_open(engine: Engine, *, rules: RuleBook, calendar: Calendar, by: str = "ledger",
                    fingerprint: str | None = None, chunk: int = 5000) -> int:
    """Recompute the due date of every open obligation under ``rules`` and ``calendar`` (after a rule change or a
    calendar year loaded: ``calendar_missing`` clears once its year is known); how many changed. Audited."""
    now = utcnow()
    changed = 0
    with engine.begin() as conn:
        lock(conn, wait=True)
        after = ""
        while True:
            page = conn.execute(select(obligations).where(obligations.c.is_open == 1, obligations.c.id > after)
                                .order_by(obligations.c.id).limit(chunk)).mappings().all()
            if not page:
                break
            after = page[-1]["id"]
            moved: dict[str, dict[str, tuple[Obligation, Obligation, Any]]] = {}
            for row in page:
                old = obligation_of(row)
                try:
                    new = reschedule(old, rules=rules, calendar=calendar)
                except KeyError:
                    continue  # no rule in effect any more on its trigger day: left as it was
                if (new.due_date, new.calendar_missing, new.due_soon_days) != \
                        (old.due_date, old.calendar_missing, old.due_soon_days):
                    moved.setdefault(new.case_key, {})[new.id] = (old, new, row)
            for case_key, items in moved.items():
                store_obligations(conn, case_key, {i: new for i, (_, new, _) in items.items()}, now=now)
                for old, new, row in items.values():
                    conn.execute(update(obligations).where(obligations.c.id == new.id).values(
                        obligation_row(new, opened_at=aware(row["opened_at"]) or now)))
                    conn.execute(insert(case_events).values(event_row(
                        case_key=case_key, person_key=new.person_key, at=now, kind="obligation_rescheduled",
                        message_id=None, **obligation_detail(new), due_before=old.due_date,
                        calendar_missing_before=old.calendar_missing)))
                    changed += 1
        if changed:
            audit.record(conn, at=now, actor=by, action="obligations_reschedule", target="ledger",
                         detail={"changed": changed, "inputs": fingerprint})
        if fingerprint is not None:
            cursor(conn)
            conn.execute(update(ledger_cursor).where(ledger_cursor.c.id == 1).values(inputs=fingerprint))
    return changed
