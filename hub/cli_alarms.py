"""Commands of the alarm notices sent and drafted pursuit requests: ``xianjie alarms``, ``xianjie pursuits``,
``xianjie clock run``. They act as the hub's operators (the registry's HUB agency); decisions name the person."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from hub.core.alarms import NoticeStep

DRAFT_STATUSES = ("drafted", "confirmed", "sent", "dismissed", "withdrawn")
_DRAFT_ZH = {"drafted": "待确认", "confirmed": "已确认发送", "sent": "已自动发送", "dismissed": "已驳回",
             "withdrawn": "已撤回"}


def _moment(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date-time (2026-12-02T09:00+08:00): {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give the time zone too (…+08:00 or …Z): {text!r}")
    return value


def _hub(args: argparse.Namespace, engine: Engine) -> Any:
    from pathlib import Path

    from hub.canonical import load_schema
    from hub.registry import load_registry
    from hub.service import Hub
    from hub.settings import Settings

    settings = Settings.from_env(None, **({"registry_path": Path(args.registry)} if args.registry else {}))
    return Hub(engine=engine, directory=load_registry(settings.registry_path), schema=load_schema())


def _operator(hub: Any) -> Any:
    from hub.alarm_notice import hub_agency

    return hub.directory.get(hub_agency(hub.directory))


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=lambda v: v.isoformat())


def cmd_alarms(args: argparse.Namespace, engine: Engine) -> int:
    from hub.alarming import list_alarms

    items = list_alarms(engine, agency=args.agency, step=args.step, after=args.after, limit=args.limit)
    if args.json:
        print(_dump(items))
        return 0
    print(f"期限预警通知 deadline notices sent{' to ' + args.agency if args.agency else ''}: {len(items)}")
    for n in items:
        due = n["due_date"] or "期限未定 no due date"
        late = f", 逾期{n['days_overdue']}日 {n['days_overdue']} days overdue" if n["days_overdue"] else ""
        outcome = f" ({n['outcome']})" if n["outcome"] else ""
        to = ", ".join(f"{r['agency']}[{r['role']}{'' if r['copy'] == 'to' else ', cc'}]" for r in n["recipients"])
        print(f"#{n['seq']} {n['day']} {n['step_zh']} {n['step']}{outcome}  {n['rule_id']} owed by {n['obligor']}, "
              f"due {due}{late}")
        print(f"    → {to}   message {n['message_id']}  case {n['case_key']}")
    return 0


def cmd_pursuits_list(args: argparse.Namespace, engine: Engine) -> int:
    from hub import pursuits

    items = pursuits.list_drafts(_hub(args, engine), status=args.status, bureau=args.bureau, limit=args.limit)
    if args.json:
        print(_dump(items))
        return 0
    print(f"追逃/协查请求草稿 pursuit drafts: {len(items)}")
    for d in items:
        decided = f" by {d['status_by']}" if d["status_by"] else ""
        print(f"{d['id']}  {d['drafted_on']}  {_DRAFT_ZH[d['status']]} {d['status']}{decided}  {d['kind']}  "
              f"{d['bureau']} → {d['police']}  {d['person_name'] or d['person_key']}")
        print(f"    {d['reason']}" + (f"  — {d['status_reason']}" if d["status_reason"] else ""))
    return 0


def _decide(args: argparse.Namespace, engine: Engine, action: str) -> int:
    from hub import pursuits
    from hub.errors import Forbidden
    from hub.store.db import utcnow

    hub = _hub(args, engine)
    try:
        if action == "confirm":
            d = pursuits.confirm(hub, args.draft_id, agency=_operator(hub), by=args.by, now=utcnow())
        else:
            d = pursuits.dismiss(hub, args.draft_id, agency=_operator(hub), by=args.by, reason=args.reason)
    except (LookupError, Forbidden, ValueError) as e:
        print(f"{action}: {e}", file=sys.stderr)
        return 2
    print(f"{d['id']}: {_DRAFT_ZH[d['status']]} {d['status']} by {d['status_by']}"
          + (f"; PursuitRequest {d['message_id']} sent as {d['bureau']}" if action == "confirm" else ""))
    return 0


def cmd_clock_run(args: argparse.Namespace, engine: Engine) -> int:
    from hub import alarming, casework, pursuits, rulebook
    from hub.store.db import utcnow

    hub = _hub(args, engine)
    now = args.now or utcnow()
    read = casework.catch_up(engine, rules=rulebook.rules_in_force(engine),
                             calendar=rulebook.calendar_in_force(engine), directory=hub.directory, wait=True)
    sent = alarming.run_clock(hub=hub, now=now)
    waiting = len(pursuits.list_drafts(hub, status="drafted", limit=100000))
    print(f"clock at {now.isoformat()}: ledger read {read} new messages; {sent} deadline notices sent; "
          f"{waiting} pursuit drafts wait for confirmation")
    return 0


def register(sub: Any, engine_of: Callable[[argparse.Namespace], Engine]) -> None:
    """Add this area's commands to ``xianjie``."""

    def bind(p: argparse.ArgumentParser, fn: Callable[[argparse.Namespace, Engine], int]) -> None:
        p.set_defaults(func=lambda args: fn(args, engine_of(args)))

    p = sub.add_parser("alarms", help="deadline notices sent (期限预警): to whom, on which step, when")
    p.add_argument("--agency", help="only those sent to this agency code")
    p.add_argument("--step", choices=[s.value for s in NoticeStep])
    p.add_argument("--after", type=int, default=0, help="only those after this seq (paging)")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")
    bind(p, cmd_alarms)

    pp = sub.add_parser("pursuits", help="drafted pursuit requests (提请协查/追逃): list, confirm, dismiss")
    psub = pp.add_subparsers(dest="pursuits_command", required=True)
    p = psub.add_parser("list", help="the drafts, oldest first")
    p.add_argument("--status", choices=DRAFT_STATUSES)
    p.add_argument("--bureau", help="one bureau's drafts (agency code)")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")
    bind(p, cmd_pursuits_list)
    p = psub.add_parser("confirm", help="send a draft to the police as the bureau's request (audited)")
    p.add_argument("draft_id")
    p.add_argument("--by", required=True, help="who confirms (audited)")
    bind(p, lambda a, e: _decide(a, e, "confirm"))
    p = psub.add_parser("dismiss", help="decline a draft, saying why (audited); nothing is sent")
    p.add_argument("draft_id")
    p.add_argument("--by", required=True, help="who dismisses (audited)")
    p.add_argument("--reason", required=True)
    bind(p, lambda a, e: _decide(a, e, "dismiss"))

    cp = sub.add_parser("clock", help="the deadline clock")
    csub = cp.add_subparsers(dest="clock_command", required=True)
    p = csub.add_parser("run", help="catch the ledger up, then evaluate every obligation once and send what is due")
    p.add_argument("--now", type=_moment, help="the clock's time (ISO with zone; default: now)")
    bind(p, cmd_clock_run)
