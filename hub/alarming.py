"""The deadline clock's alarms: notices to the responsible agencies and operators, escalation, drafted pursuit
requests.

``run_clock`` is called every minute (and by ``xianjie clock run``). On the legal day of ``now`` it reads the
ledger's obligations that could call for a notice — open ones due soon, due today or overdue, and closed ones
alarmed but not yet resolved — skipping every open one it has bookmarked (``alarm_watch``) for a later day at
its present due date: an obligation's dates alone decide its step, so after a look the next notice it can need
has a known first day (``hub.core.alarms.next_look``), and a run with nothing new reads next to nothing. It plans
the notices with
``hub.core.alarms.plan_notices`` against what ``alarm_notices`` says was sent, and sends each as a canonical
DeadlineNotice through the hub. A notice's ``alarm_notices`` rows and its message (with its deliveries and
outbox rows) commit in one transaction, and its message id is a UUID 5 of the obligation and the step: a crash
sends nothing twice and loses nothing (the next run plans the notice again), and two processes racing store
it once. Obligations without a due date (their calendar year is not loaded) alarm nobody but the hub's
operators: one ``calendar_missing`` row a day per missing year, for the registry's HUB agency, counting the
obligations that wait (``hub.core.alarms.plan_calendar_notices``) — no message, since the hub does not deliver
to itself and operators read it with the other notices. Then the drafted pursuit requests are brought up to
date (``hub.pursuits``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, exists, func, select

from hub.alarm_notice import CaseLine, RuleText, addressees, deadline_notice_xml, hub_agency, notice_message_id
from hub.case_rows import directory_roles, obligation_of
from hub.casework import ready
from hub.core.alarms import CalendarNotice, Ladder, Notice, NoticeStep, next_look, plan_calendar_notices, plan_notices
from hub.core.facts import legal_day
from hub.core.obligations import Obligation
from hub.core.rules import RuleBook
from hub.errors import InvalidMessage
from hub.pursuits import refresh_drafts
from hub.rulebook import rules_in_force
from hub.service import Hub
from hub.store.alarm_schema import alarm_notices, alarm_watch
from hub.store.db import aware, upsert, utcnow
from hub.store.ingest import Incoming, MessageIdTaken, insert_ignoring_duplicates, store_batch
from hub.store.ledger_schema import cases, obligations

log = logging.getLogger("xianjie.alarms")
BATCH = 200  # notices per transaction
LADDER = Ladder()
_A, _O, _W = alarm_notices.c, obligations.c, alarm_watch.c


def run_clock(*, hub: Hub, now: dt.datetime, ladder: Ladder = LADDER) -> int:
    """Evaluate every open obligation at ``now`` and send what is due; returns how many notices were sent."""
    if now.tzinfo is None:
        raise ValueError("the clock's now must be timezone-aware")
    if not ready(hub.engine):
        log.info("the ledger is being rebuilt: no alarms until it has caught up")
        return 0
    today = legal_day(now)
    with hub.engine.connect() as conn:
        rows = _candidates(conn, today)
        sent = _sent(conn, [r.id for r in rows])
    obs = {r.id: obligation_of(r._mapping) for r in rows}
    lines = {r.id: _case_line(r) for r in rows}
    notices = plan_notices(obs.values(), sent=sent, today=today, ladder=ladder,
                           directory_roles=directory_roles(hub.directory))
    count, stored = 0, set(sent)
    rule_of = _rule_lookup(rules_in_force(hub.engine))
    for start in range(0, len(notices), BATCH):
        new, done = _send(hub, notices[start:start + BATCH], obs, lines, rule_of, now)
        count, stored = count + new, stored | done
    unsent = {n.obligation_id for n in notices if n.key not in stored}
    _bookmark(hub.engine, [o for o in obs.values() if o.id not in unsent], stored, today, ladder)
    count += _send_calendar(hub, today)
    refresh_drafts(hub, today=today, now=now)
    return count


# ---- what the ledger says ------------------------------------------------------------------------------------

def _candidates(conn: Connection, today: dt.date) -> list[Any]:
    """The obligations that may need a notice today: open ones due soon, due today or overdue that the clock has
    not bookmarked for a later day at their present due date, and closed ones alarmed but not yet resolved —
    each query on an index, not a scan of every obligation."""
    c = cases.c
    cols = select(obligations, c.person_name, c.id_number, c.case_number, c.deciding_organ, c.correction_type,
                  c.division.label("case_division")).select_from(
        obligations.outerjoin(cases, cases.c.case_key == _O.case_key))
    later = exists().where(_W.obligation_id == _O.id, _W.next_on > today, _W.due_date == _O.due_date)
    alarmed = select(_W.obligation_id).where(_W.alarmed == 1)
    rows: list[Any] = []
    for where in (and_(_O.is_open == 1, _O.soon_from <= today, ~later),
                  and_(_O.id.in_(alarmed), _O.is_open == 0)):
        rows += conn.execute(cols.where(where)).all()
    return rows


def _bookmark(engine: Engine, looked: list[Obligation], stored: set[tuple[str, str]], today: dt.date,
              ladder: Ladder) -> None:
    """Bookmark the obligations looked at whose notices (if any were due) are stored: an open one until the day
    it can need its next step; a closed one no more once its resolved notice is stored (or when nothing about it
    was ever sent, so none is owed)."""
    alarmed = {oid for oid, step in stored if step != NoticeStep.RESOLVED.value}
    resolved = {oid for oid, step in stored if step == NoticeStep.RESOLVED.value}
    rows = [dict(obligation_id=o.id, due_date=o.due_date, next_on=next_look(o, today, ladder),
                 alarmed=int(o.id in alarmed)) for o in looked if o.is_open]
    done = [o.id for o in looked if not o.is_open and (o.id in resolved or o.id not in alarmed)]
    with engine.begin() as conn:
        for i in range(0, len(rows), 500):
            upsert(conn, alarm_watch, rows[i:i + 500])
        for i in range(0, len(done), 500):
            conn.execute(delete(alarm_watch).where(_W.obligation_id.in_(done[i:i + 500])))


def _sent(conn: Connection, ids: list[str]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for i in range(0, len(ids), 500):
        q = select(_A.obligation_id, _A.step).distinct().where(_A.obligation_id.in_(ids[i:i + 500]))
        out |= {(r.obligation_id, r.step) for r in conn.execute(q)}
    return out


def _rule_lookup(book: RuleBook) -> Any:
    @cache
    def rule_of(rule_id: str, division: str, on: dt.date) -> RuleText:
        try:
            r = book.rule(rule_id, division=division, on=on)
        except (KeyError, ValueError):
            return RuleText(rule_id, rule_id, "（规则已不在册 rule no longer in the book）")
        return RuleText(r.title_zh, r.title_en, r.basis)

    return rule_of


def _case_line(r: Any) -> CaseLine | None:
    if r.case_number is None or r.deciding_organ is None:
        return None
    return CaseLine(case_key=r.case_key, person_key=r.person_key, person_name=r.person_name, id_number=r.id_number,
                    case_number=r.case_number, deciding_organ=r.deciding_organ,
                    correction_type=r.correction_type, division=r.case_division or r.division)


# ---- sending -------------------------------------------------------------------------------------------------

def _send(hub: Hub, notices: Iterable[Notice], obs: dict[str, Obligation], lines: dict[str, CaseLine | None],
          rule_of: Any, now: dt.datetime) -> tuple[int, set[tuple[str, str]]]:
    """Store one batch of notices and their messages in one transaction: how many were new, and the (obligation,
    step) of every notice now stored (new, or stored before by a racing run)."""
    directory, roles = hub.directory, directory_roles(hub.directory)
    sender = hub_agency(directory)
    agency = directory.get(sender)
    assert agency is not None
    items: dict[tuple[str, str], Incoming] = {}
    rows: list[dict[str, Any]] = []
    at = utcnow()
    for n in notices:
        o, line = obs[n.obligation_id], lines[n.obligation_id]
        if line is None:
            log.error("obligation %s: its case %s is not in the ledger; no %s notice", o.id, o.case_key, n.step)
            continue
        readers = addressees(n, division=o.division, directory=directory, roles=roles)
        rule = rule_of(o.rule_id, o.division, o.trigger_date)
        xml = deadline_notice_xml(n, o, case=line, rule=rule, sender=sender, readers=readers, sent_at=now,
                                  name=lambda code: a.name if (a := directory.get(code)) is not None else code)
        try:
            items[n.key] = hub.prepare(xml, agency=agency, channel="alarm")
        except InvalidMessage as e:
            # where, not what: a problem's reason may quote the notice's values (the person's name)
            log.error("deadline notice %s of obligation %s does not validate (%s)", n.step, o.id, e.code,
                      extra={"problems": [{"path": p.path, "line": p.line} for p in e.problems]})
            continue
        message_id = notice_message_id(n.obligation_id, n.step.value)
        rows.extend(dict(
            obligation_id=n.obligation_id, step=n.step.value, recipient=r.agency, role=r.role, copy=r.copy,
            level=n.level, day=n.on, message_id=message_id, case_key=o.case_key, person_key=o.person_key,
            rule_id=o.rule_id, obligor=o.obligor, due_date=o.due_date, days_overdue=n.days_overdue,
            outcome=n.outcome, created_at=at) for r in readers)
    if not rows:
        return 0, set()
    with hub.engine.begin() as conn:
        new = {(r.obligation_id, r.step) for r in conn.execute(
            insert_ignoring_duplicates(conn, alarm_notices).returning(_A.obligation_id, _A.step), rows)}
        fresh = [item for key, item in items.items() if key in new]
        for result in store_batch(conn, fresh, directory=directory, now=at):
            if isinstance(result, MessageIdTaken):
                raise RuntimeError(f"deadline notice id {result} is taken by another document")
    if fresh:
        hub.on_commit()
        log.info("sent %d deadline notices", len(fresh))
    return len(fresh), set(items)


def waiting_for_calendar(conn: Connection) -> dict[int, int]:
    """How many open obligations wait for each year's working-day calendar (year -> count)."""
    q = (select(_O.calendar_missing_year, func.count()).where(_O.is_open == 1, _O.due_date.is_(None))
         .group_by(_O.calendar_missing_year))
    return {int(year): int(n) for year, n in conn.execute(q) if year is not None}


def _send_calendar(hub: Hub, today: dt.date) -> int:
    """Today's notice to the operators for each missing calendar year, once a day; how many were new."""
    with hub.engine.connect() as conn:
        waiting = waiting_for_calendar(conn)
        keys = [CalendarNotice(year, n, today).key[0] for year, n in waiting.items()]
        sent = _sent(conn, keys) if keys else set()
    notices = plan_calendar_notices(waiting, sent=sent, today=today)
    if not notices:
        return 0
    operators, at = hub_agency(hub.directory), utcnow()
    rows = [dict(obligation_id=n.key[0], step=n.key[1], recipient=operators, role="joint_meeting", copy="to",
                 level=2, day=today, message_id=notice_message_id(*n.key), case_key=f"calendar:{n.year}",
                 person_key=None, rule_id="calendar", obligor=operators, due_date=None, days_overdue=0,
                 waiting=n.waiting, outcome=None, created_at=at) for n in notices]
    with hub.engine.begin() as conn:
        new = list(conn.execute(insert_ignoring_duplicates(conn, alarm_notices).returning(_A.obligation_id), rows))
    for n in notices:
        log.warning("no working-day calendar for %d: %d open obligations have no due date and alarm nobody "
                    "until an operator loads it (notice to %s)", n.year, n.waiting, operators)
    return len(new)


# ---- reading -------------------------------------------------------------------------------------------------

def list_alarms(engine: Engine, *, agency: str | None = None, step: str | None = None, after: int = 0,
                limit: int = 100) -> list[dict[str, Any]]:
    """The notices sent, in the order sent (``seq`` of their first row; page with ``after``), each with everyone
    it was for; only those for ``agency`` and of ``step`` when given."""
    first = select(func.min(_A.seq).label("seq"), _A.message_id).group_by(_A.message_id)
    if agency:
        first = first.where(_A.message_id.in_(select(_A.message_id).where(_A.recipient == agency)))
    if step:
        first = first.where(_A.step == step)
    picked = first.subquery()
    with engine.connect() as conn:
        heads = conn.execute(select(picked.c.seq, picked.c.message_id).where(picked.c.seq > after)
                             .order_by(picked.c.seq).limit(limit)).all()
        order = {h.message_id: int(h.seq) for h in heads}
        rows = conn.execute(select(alarm_notices).where(_A.message_id.in_(list(order)))
                            .order_by(_A.seq)).mappings().all() if order else []
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        item = out.get(r["message_id"])
        if item is None:
            s = NoticeStep(r["step"])
            item = out[r["message_id"]] = {
                "seq": order[r["message_id"]], "message_id": r["message_id"], "obligation_id": r["obligation_id"],
                "step": s.value, "step_zh": s.label_zh, "level": r["level"], "day": r["day"].isoformat(),
                "rule_id": r["rule_id"], "case_key": r["case_key"], "person_key": r["person_key"],
                "obligor": r["obligor"], "due_date": r["due_date"].isoformat() if r["due_date"] else None,
                "days_overdue": r["days_overdue"], "outcome": r["outcome"],
                "sent_at": aware(r["created_at"]), "recipients": []}
            if s is NoticeStep.CALENDAR_MISSING and r["due_date"] is None and r["rule_id"] == "calendar":
                # the operators' notice of a missing year
                gap = CalendarNotice(int(r["case_key"].split(":")[1]), int(r["waiting"] or 0), r["day"])
                item.update(year=gap.year, waiting=gap.waiting, text_zh=gap.text_zh)
        item["recipients"].append({"role": r["role"], "agency": r["recipient"], "copy": r["copy"]})
    return sorted(out.values(), key=lambda i: int(i["seq"]))
