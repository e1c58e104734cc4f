"""The deadline rules and the working-day calendar in force: what ships with the hub, plus what administrators
and operators changed since, which is stored (append-only) and written to the audit log.

Rules: the national rows of ``hub/rules/national.toml``, then each stored change applied in the order it was
made (``RuleBook.with_override``): a province's or county's own period, or a new period from a date. A change
that would make the book inconsistent (an overlapping period) is refused before anything is stored.

Calendar: ``chinesecalendar``'s years, then each year an operator loaded (the State Council's notice for the
next year, or a correction), which replaces that year whole.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from sqlalchemy import Connection, Engine, insert, select

from hub import audit
from hub.core.calendar import Calendar, CalendarYear, parse_calendar_year
from hub.core.rules import Rule, RuleBook, dump_rules, load_rules, national
from hub.store.db import utcnow, writer_lock
from hub.store.schema import calendar_years, rule_changes

log = logging.getLogger("xianjie.rules")


def rules_in_force(engine: Engine) -> RuleBook:
    """The national rules with every stored change applied in order."""
    with engine.connect() as conn:
        return _book(conn)


def _book(conn: Connection) -> RuleBook:
    book = national()
    for row in conn.execute(select(rule_changes.c.seq, rule_changes.c.row, rule_changes.c.supersede)
                            .order_by(rule_changes.c.seq)):
        (rule,) = load_rules(row.row).rows()
        try:
            book = book.with_override(rule, supersede=bool(row.supersede))
        except ValueError as e:
            # never reached through change_rule (which checks under a lock); a row written by other means must not
            # stop every deadline: it is left out, loudly
            log.error("rule change #%s is inconsistent with the changes before it and is not applied: %s", row.seq, e)
    return book


def change_rule(engine: Engine, rule: Rule, *, actor: str, reason: str, supersede: bool = True) -> RuleBook:
    """Store one rule change and audit it; returns the book now in force.

    ValueError (nothing stored) when the reason is empty, the row is invalid, or its period overlaps another row
    of the same id and scope."""
    if not reason.strip():
        raise ValueError("a reason is required for every rule change")
    if not actor.strip():
        raise ValueError("the person making the change must be named")
    row_text = dump_rules(RuleBook([rule]))
    load_rules(row_text)  # the row on its own is valid
    now = utcnow()
    with engine.begin() as conn:
        writer_lock(conn, "rules")  # the overlap check and the insert must not interleave with another's
        book = _book(conn)
        if rule.scope and not _is_local(book, rule):
            raise ValueError(f"rule {rule.id!r} is national law, not a local rule: a province or county may not set "
                             "its own period (the national row may still change, with its legal basis)")
        before = _current(book, rule)
        book = book.with_override(rule, supersede=supersede)
        conn.execute(insert(rule_changes).values(
            rule_id=rule.id, scope=rule.scope, effective_from=rule.effective_from, row=row_text,
            supersede=1 if supersede else 0, changed_at=now, changed_by=actor, reason=reason))
        audit.record(conn, at=now, actor=actor, action="rule_change",
                     target=f"rule:{rule.id}:{rule.scope or 'national'}",
                     detail={"reason": reason, "supersede": supersede, "before": before, "after": _plain(rule)})
    return book


def _is_local(book: RuleBook, rule: Rule) -> bool:
    """Whether the national rows of ``rule.id`` say a province or county may set it (DOMAIN: "local rule may
    differ")."""
    return any(r.local for r in book.rows() if r.id == rule.id and r.scope == "")


def _current(book: RuleBook, rule: Rule) -> dict[str, object] | None:
    """The row of the same id and scope in force on the new row's first day, if any (for the audit entry)."""
    for row in book.rows():
        if (row.id, row.scope) == (rule.id, rule.scope) and row.in_effect(rule.effective_from):
            return _plain(row)
    return None


def _plain(rule: Rule) -> dict[str, object]:
    return {k: (v.isoformat() if isinstance(v, dt.date) else str(v) if k == "unit" else v)
            for k, v in dataclasses.asdict(rule).items()}


def rule_history(engine: Engine, rule_id: str) -> list[dict[str, object]]:
    """Every stored change of one rule, oldest first, with who made it, when and why."""
    with engine.connect() as conn:
        rows = conn.execute(select(rule_changes).where(rule_changes.c.rule_id == rule_id)
                            .order_by(rule_changes.c.seq)).mappings().all()
    return [{"seq": r["seq"], "scope": r["scope"], "effective_from": r["effective_from"],
             "supersede": bool(r["supersede"]), "changed_at": r["changed_at"], "changed_by": r["changed_by"],
             "reason": r["reason"], "rule": _plain(load_rules(r["row"]).rows()[0])} for r in rows]


def calendar_in_force(engine: Engine) -> Calendar:
    """chinesecalendar's years with every operator-loaded year in place of its own."""
    cal = Calendar.seeded()
    with engine.connect() as conn:
        for row in conn.execute(select(calendar_years.c.source).order_by(calendar_years.c.year)):
            cal = cal.with_calendar_year(parse_calendar_year(row.source))
    return cal


def load_calendar_year(engine: Engine, text: str, *, actor: str) -> CalendarYear:
    """Check and store one year's schedule (replacing a year loaded before), audited; ValueError naming the
    entry when the file is inconsistent (nothing stored)."""
    if not actor.strip():
        raise ValueError("the person loading the calendar must be named")
    year = parse_calendar_year(text)
    now = utcnow()
    with engine.begin() as conn:
        had = conn.execute(select(calendar_years).where(calendar_years.c.year == year.year)).mappings().first()
        if had is not None:
            conn.execute(calendar_years.delete().where(calendar_years.c.year == year.year))
        conn.execute(insert(calendar_years).values(year=year.year, source=text, loaded_at=now, loaded_by=actor))
        # the schedule it replaces is kept in the audit entry, whole
        previous = None if had is None else {"source": had["source"], "loaded_by": had["loaded_by"],
                                             "loaded_at": had["loaded_at"]}
        audit.record(conn, at=now, actor=actor, action="calendar_load", target=f"calendar:{year.year}",
                     detail={"replaced": previous, "holidays": len(year.holidays), "workdays": len(year.workdays)})
    return year
