"""``xianjie obligations``, ``xianjie timeline`` and ``xianjie ledger``: the case ledger from the command line —
who owes what by when, a person's whole history, waiving an obligation (audited), and projecting or rebuilding
the ledger from the stored messages."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from hub.core.facts import legal_day
from hub.core.obligations import ObligationStatus
from hub.store.db import utcnow

STATES = ["open", *(s.value for s in ObligationStatus)]


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _today() -> dt.date:
    return legal_day(utcnow())  # the legal day is Beijing's


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=lambda v: v.isoformat())


def _inputs(args: argparse.Namespace, engine: Engine) -> dict[str, Any]:
    """The rules and calendar in force and the agency registry (``--registry`` or XIANJIE_REGISTRY)."""
    from pathlib import Path

    from hub.registry import load_registry
    from hub.rulebook import calendar_in_force, rules_in_force
    from hub.settings import Settings

    registry = Path(args.registry) if getattr(args, "registry", None) else Settings.from_env().registry_path
    return {"rules": rules_in_force(engine), "calendar": calendar_in_force(engine),
            "directory": load_registry(registry)}


def cmd_obligations(args: argparse.Namespace, engine: Engine) -> int:
    from hub.casework import list_obligations

    today = args.today or _today()
    try:
        page = list_obligations(engine, today=today, state=args.state, agency=args.agency, county=args.county,
                                rule=args.rule, limit=args.limit, after=args.after)
    except ValueError as e:
        print(f"refused: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(_json(page))
        return 0
    items = page["items"]
    more = f", more with --after {page['next_after']}" if page["next_after"] else ""
    print(f"义务 obligations on {today}: {len(items)}{more}")
    for o in items:
        due = o["due_date"] or f"缺少{o['calendar_missing_year']}年工作日历"
        print(f"  {o['status_zh']:<6} {o['title_zh'] or o['rule_id']} ({o['rule_id']}) 应于 {due}  "
              f"{o['obligor']} → {o['obligee']}  {o['person_name'] or ''} {o['case_number'] or ''}")
        print(f"         id {o['id']}  county {o['division']}  opened by {o['trigger_message']}")
    return 0


def cmd_waive(args: argparse.Namespace, engine: Engine) -> int:
    from hub.casework import waive

    try:
        done = waive(engine, args.obligation_id, reason=args.reason, by=args.by, today=args.today or _today())
    except (LookupError, ValueError) as e:  # unknown, already met or waived, no reason, ledger being rebuilt
        print(f"refused, nothing changed: {e}", file=sys.stderr)
        return 2
    print(f"已免除 waived {done['rule_id']} ({done['id']}) by {done['waived_by']}: {done['waived_reason']} "
          "(recorded, audited)")
    return 0


def cmd_timeline(args: argparse.Namespace, engine: Engine) -> int:
    from hub.casework import case_timeline

    found = case_timeline(engine, args.ref, today=args.today or _today())
    if found is None:
        print(f"no person or case {args.ref!r} in the hub", file=sys.stderr)
        return 2
    if args.json:
        print(_json(found))
        return 0
    p = found["person"]
    print(f"{p['name'] or '?'}  {p['id_number'] or p['person_key'] or ''}")
    for r in found.get("records", []):
        print(f"  身份记录 record {r['agency']} {r['record_id']} {r['name']} ({r['how'] or 'alone'})")
    for c in found["cases"]:
        print(f"  案件 {c['case_number']} ({c['deciding_organ']}, {c['correction_type']}, 执行地 {c['division']}): "
              f"{c['status_zh']}; 责任单位 responsible {c['responsible']}{' (关联 linked)' if c.get('linked') else ''}")
    for line in found["timeline"]:
        at = line["at"].astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")
        detail = line.get("detail") or {}
        what = (detail.get("summary") or detail.get("rule_id") or detail.get("reason") or line.get("message_type")
                or line.get("recipient") or "")
        via = f"  (关联 linked: {line['person_key']})" if line.get("linked") else ""
        print(f"  {at}  {line['source']:<8} {line['kind']:<22} {what}{via}")
    print(f"  义务 obligations: {len(found['obligations'])}")
    for o in found["obligations"]:
        print(f"    {o['status_zh']:<6} {o['title_zh'] or o['rule_id']} 应于 {o['due_date'] or '?'} "
              f"{o['obligor']} → {o['obligee']}")
    return 0


def cmd_ledger_project(args: argparse.Namespace, engine: Engine) -> int:
    from hub.casework import catch_up, status

    n = catch_up(engine, wait=True, **_inputs(args, engine))
    print(f"{n} messages projected; {_json(status(engine))}")
    return 0


def cmd_ledger_rebuild(args: argparse.Namespace, engine: Engine) -> int:
    import time

    from hub.casework import rebuild, status

    started = time.perf_counter()
    n = rebuild(engine, **_inputs(args, engine))
    took = time.perf_counter() - started
    print(f"ledger rebuilt from {n} messages in {took:.1f} s; {_json(status(engine))}")
    return 0


def cmd_ledger_status(args: argparse.Namespace, engine: Engine) -> int:
    from hub.casework import status

    print(_json(status(engine)))
    return 0


def cmd_ledger_reschedule(args: argparse.Namespace, engine: Engine) -> int:
    from hub.casework import reschedule_open
    from hub.rulebook import calendar_in_force, rules_in_force

    n = reschedule_open(engine, rules=rules_in_force(engine), calendar=calendar_in_force(engine), by=args.by)
    print(f"{n} open obligations rescheduled (audited)")
    return 0


def register(sub: Any, engine_of: Callable[[argparse.Namespace], Engine]) -> None:
    """Add ``obligations``, ``timeline`` and ``ledger`` to ``xianjie``."""

    def bind(parser: argparse.ArgumentParser, fn: Callable[[argparse.Namespace, Engine], int]) -> None:
        parser.set_defaults(func=lambda args: fn(args, engine_of(args)))

    op = sub.add_parser("obligations", help="who owes what by when; waive one (audited)")
    op.add_argument("--state", choices=STATES, help="status on the day (default: all)")
    op.add_argument("--agency", help="an agency code: what it owes or is owed")
    op.add_argument("--county", help="a county's 6-digit code")
    op.add_argument("--rule", help="a rule id, e.g. receipt")
    op.add_argument("--today", type=_date, help="the day statuses are computed for (default today, Beijing time)")
    op.add_argument("--limit", type=int, default=100)
    op.add_argument("--after", help="continue after this obligation id (the previous page's last)")
    op.add_argument("--json", action="store_true")
    bind(op, cmd_obligations)
    osub = op.add_subparsers(dest="obligations_command")
    p = osub.add_parser("waive", help="set an open obligation aside, with a reason (audited)")
    p.add_argument("obligation_id")
    p.add_argument("--reason", required=True)
    p.add_argument("--by", required=True, help="who decides (audited)")
    p.add_argument("--today", type=_date, help="the day of the waiver (default today, Beijing time)")
    bind(p, cmd_waive)

    tp = sub.add_parser("timeline", help="a person's messages, case states and obligations, in order")
    tp.add_argument("ref", help="an ID number, a person key or a case number")
    tp.add_argument("--today", type=_date)
    tp.add_argument("--json", action="store_true")
    bind(tp, cmd_timeline)

    lp = sub.add_parser("ledger", help="the case ledger: project new messages now, rebuild, status")
    lsub = lp.add_subparsers(dest="ledger_command", required=True)
    bind(lsub.add_parser("project", help="apply the messages not yet projected (catch up now)"), cmd_ledger_project)
    bind(lsub.add_parser("rebuild", help="empty the ledger and project every stored message again"),
         cmd_ledger_rebuild)
    bind(lsub.add_parser("status", help="how far the projection has got"), cmd_ledger_status)
    p = lsub.add_parser("reschedule", help="recompute open obligations' due dates under the rules in force")
    p.add_argument("--by", required=True, help="who asks (audited)")
    bind(p, cmd_ledger_reschedule)
