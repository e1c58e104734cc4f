"""``xianjie rules`` and ``xianjie calendar``: the deadline rules and the working-day calendar in force, and the
changes an administrator or operator makes to them (stored and audited)."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from hub.core.calendar import CalendarMissing
from hub.core.facts import legal_day
from hub.core.rules import Rule, Unit, dump_rules
from hub.store.db import utcnow

UNITS_ZH = {Unit.DAYS: "日", Unit.WORKING_DAYS: "个工作日", Unit.HOURS: "小时", Unit.IMMEDIATELY: "立即"}


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _division(text: str) -> str:
    if not (len(text) == 6 and text.isdigit()):
        raise argparse.ArgumentTypeError(f"not a 6-digit division code: {text!r}")
    return text


def period(rule: Rule) -> str:
    """'10 个工作日 (10 working days)' and the like."""
    if rule.unit is Unit.IMMEDIATELY:
        return "立即 (immediately)"
    return f"{rule.amount} {UNITS_ZH[rule.unit]} ({rule.amount} {rule.unit.value.replace('_', ' ')})"


def _today() -> dt.date:
    return legal_day(utcnow())  # the legal day is Beijing's


def cmd_rules_list(args: argparse.Namespace, engine: Engine) -> int:
    from hub.rulebook import rules_in_force

    book = rules_in_force(engine)
    on = args.on or _today()
    ids = list(dict.fromkeys(r.id for r in book.rows() if r.scope == ""))
    shown = []
    for rule_id in ids:
        try:
            shown.append(book.rule(rule_id, division=args.division or "", on=on))
        except KeyError:
            continue
    if args.json:
        print(json.dumps([_plain(r) for r in shown], ensure_ascii=False, indent=2))
        return 0
    where = f"{args.division}" if args.division else "全国 national"
    print(f"期限规则 deadline rules in force on {on} for {where}")
    for r in shown:
        scope = "全国" if not r.scope else r.scope
        print(f"{r.step:>3} {r.id:<24} {r.title_zh}  {period(r)}  [{scope}, {r.effective_from}起]"
              + ("  *地方可调整 local" if r.local else ""))
        print(f"    {r.obligor} → {r.obligee}, 以 {r.owes} 履行; 依据 {r.basis}")
    return 0


def cmd_rules_history(args: argparse.Namespace, engine: Engine) -> int:
    from hub.rulebook import rule_history, rules_in_force

    rows = [r for r in rules_in_force(engine).rows() if r.id == args.rule_id]
    if not rows:
        print(f"no rule {args.rule_id!r}", file=sys.stderr)
        return 2
    print(f"规则 rule {args.rule_id}: every row (all scopes, all periods)")
    for r in sorted(rows, key=lambda r: (r.scope, r.effective_from)):
        print(f"  {r.scope or '全国':<7} {r.effective_from} – {r.effective_to or '…'}  {period(r)}")
    for h in rule_history(engine, args.rule_id):
        print(f"  #{h['seq']} {h['changed_at']} {h['changed_by']}: {h['scope'] or '全国'} from "
              f"{h['effective_from']} — {h['reason']}")
    return 0


def cmd_rules_set(args: argparse.Namespace, engine: Engine) -> int:
    from hub.rulebook import change_rule, rules_in_force

    book = rules_in_force(engine)
    try:
        base = book.rule(args.rule_id, division=args.scope if len(args.scope) == 6 else "", on=args.start)
    except KeyError:
        print(f"no rule {args.rule_id!r} in force on {args.start}", file=sys.stderr)
        return 2
    unit = Unit(args.unit) if args.unit else base.unit
    rule = dataclasses.replace(
        base, scope=args.scope, effective_from=args.start, effective_to=args.end,
        amount=0 if unit is Unit.IMMEDIATELY else args.amount if args.amount is not None else base.amount,
        unit=unit, due_soon_days=args.due_soon if args.due_soon is not None else base.due_soon_days)
    try:
        change_rule(engine, rule, actor=args.by, reason=args.reason, supersede=True)
    except ValueError as e:
        print(f"refused: {e}", file=sys.stderr)
        return 2
    print(f"rule {rule.id} for {rule.scope or '全国'} from {rule.effective_from}: {period(rule)} (recorded, audited)")
    return 0


def cmd_rules_export(args: argparse.Namespace, engine: Engine) -> int:
    from hub.rulebook import rules_in_force

    sys.stdout.write(dump_rules(rules_in_force(engine)))
    return 0


def cmd_calendar_show(args: argparse.Namespace, engine: Engine) -> int:
    from hub.rulebook import calendar_in_force

    cal = calendar_in_force(engine)
    if args.year not in cal.years:
        print(f"没有 {args.year} 年的工作日历 / no working-day calendar for {args.year}: load the State Council's "
              f"notice with `xianjie calendar load FILE --by NAME`", file=sys.stderr)
        return 2
    days = sorted(d for d in cal.holidays | cal.workdays if d.year == args.year)
    print(f"{args.year} 年 放假与调休 days off and make-up working days ({len(days)})")
    for d in days:
        print(f"  {d} {'一二三四五六日'[d.weekday()]}  {cal.describe(d)}")
    return 0


def cmd_calendar_years(args: argparse.Namespace, engine: Engine) -> int:
    from hub.rulebook import calendar_in_force

    years = sorted(calendar_in_force(engine).years)
    print(f"工作日历覆盖 calendar covers {years[0]}–{years[-1]}" if years == list(range(years[0], years[-1] + 1))
          else f"工作日历覆盖 calendar covers {', '.join(map(str, years))}")
    return 0


def cmd_calendar_load(args: argparse.Namespace, engine: Engine) -> int:
    from hub.rulebook import load_calendar_year

    try:
        year = load_calendar_year(engine, Path(args.file).read_text(encoding="utf-8-sig"), actor=args.by)
    except ValueError as e:
        print(f"refused, nothing loaded: {e}", file=sys.stderr)
        return 2
    print(f"{year.year}: {len(year.holidays)} days off, {len(year.workdays)} make-up working days loaded")
    return 0


def cmd_calendar_due(args: argparse.Namespace, engine: Engine) -> int:
    from hub.rulebook import calendar_in_force, rules_in_force

    book = rules_in_force(engine)
    try:
        rule = book.rule(args.rule, division=args.division or "", on=args.start)
    except KeyError:
        print(f"no rule {args.rule!r} in force on {args.start}", file=sys.stderr)
        return 2
    try:
        due = book.due(rule, trigger=args.start, calendar=calendar_in_force(engine))
    except CalendarMissing as e:
        print(f"无法计算 cannot compute: {e}", file=sys.stderr)
        return 2
    print(f"{rule.title_zh} ({rule.id}): {period(rule)} from {args.start} → due {due} "
          f"({calendar_in_force(engine).describe(due)}); 依据 {rule.basis}")
    return 0


def _plain(rule: Rule) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.date) else str(v) if k == "unit" else v)
            for k, v in dataclasses.asdict(rule).items()}


def register(sub: Any, engine_of: Callable[[argparse.Namespace], Engine]) -> None:
    """Add ``rules`` and ``calendar`` to the ``xianjie`` command."""

    def bind(parser: argparse.ArgumentParser, fn: Callable[[argparse.Namespace, Engine], int]) -> None:
        parser.set_defaults(func=lambda args: fn(args, engine_of(args)))

    rp = sub.add_parser("rules", help="deadline rules in force; change one for a province or county")
    rsub = rp.add_subparsers(dest="rules_command", required=True)
    p = rsub.add_parser("list", help="the rule in force for each step")
    p.add_argument("--division", type=_division, help="a county's 6-digit code (its own rules apply)")
    p.add_argument("--on", type=_date, help="date (default today, Beijing time)")
    p.add_argument("--json", action="store_true")
    bind(p, cmd_rules_list)
    p = rsub.add_parser("history", help="every row and every change of one rule")
    p.add_argument("rule_id")
    bind(p, cmd_rules_history)
    p = rsub.add_parser("set", help="a new period for a rule from a date, nationally or for a province/county")
    p.add_argument("rule_id")
    p.add_argument("--scope", default="", help='"" national, 2 digits a province, 6 digits a county')
    p.add_argument("--amount", type=int)
    p.add_argument("--unit", choices=[u.value for u in Unit])
    p.add_argument("--from", dest="start", type=_date, required=True, help="first day in effect")
    p.add_argument("--to", dest="end", type=_date, help="last day in effect (default: open-ended)")
    p.add_argument("--due-soon", type=int, help="days before the due date from which it is 'due soon'")
    p.add_argument("--by", required=True, help="who makes the change (audited)")
    p.add_argument("--reason", required=True, help="why, e.g. the provincial notice that sets it (audited)")
    bind(p, cmd_rules_set)
    bind(rsub.add_parser("export", help="every rule row in force, as TOML"), cmd_rules_export)

    cp = sub.add_parser("calendar", help="the working-day calendar: show a year, load next year's, compute a due date")
    csub = cp.add_subparsers(dest="calendar_command", required=True)
    p = csub.add_parser("show", help="a year's days off and make-up working days")
    p.add_argument("year", type=int)
    bind(p, cmd_calendar_show)
    bind(csub.add_parser("years", help="which years the calendar covers"), cmd_calendar_years)
    p = csub.add_parser("load", help="load a year's schedule from a TOML file (see docs/deadlines.md)")
    p.add_argument("file")
    p.add_argument("--by", required=True, help="who loads it (audited)")
    bind(p, cmd_calendar_load)
    p = csub.add_parser("due", help="the due date of a rule triggered on a day")
    p.add_argument("--rule", required=True)
    p.add_argument("--from", dest="start", type=_date, required=True, help="the triggering day (not counted)")
    p.add_argument("--division", type=_division)
    bind(p, cmd_calendar_due)
