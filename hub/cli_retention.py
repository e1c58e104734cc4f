"""``xianjie retention``: the retention policy in force, the sweep (``plan``, the default: what would be deleted and
what is kept and why; ``apply``: delete it) and legal holds (``hold add|release|list``)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from hub import audit
from hub.core.facts import SHANGHAI


def _policy(args: argparse.Namespace) -> Any:
    from hub.cli import _settings
    from hub.retention import policy_in_force

    try:
        return policy_in_force(_settings(args).retention_policy)
    except ValueError as e:
        raise SystemExit(f"retention policy refused: {e}") from None


def _print(report: Any, as_json: bool) -> None:
    plain = report.plain()
    if as_json:
        print(json.dumps(plain, ensure_ascii=False, indent=2))
        return
    verb = "deleted" if plain["applied"] else "would delete"
    print(f"retention {'apply' if plain['applied'] else 'plan (nothing deleted)'} on {plain['today']}, "
          f"policy {plain['policy']}, {plain['seconds']} s")
    print(f"{'class':<20} {'keep':<8} {'before':<11} {'due':>8} {verb + ' (units)':>22}  rows; kept (reason: units)")
    for c in plain["classes"]:
        if c["note"] == "kept for ever":
            continue
        rows = ", ".join(f"{t} {n}" for t, n in c["rows"].items()) or "-"
        kept = ", ".join(f"{k}: {n}" for k, n in c["kept"].items())
        print(f"{c['class']:<20} {c['keep']:<8} {c['cutoff'] or '':<11} {c['examined']:>8} {c['deleted']:>22}  "
              f"{rows}" + (f"; kept {kept}" if kept else "") + (f"  [{c['note']}]" if c["note"] else ""))
    forever = [c["class"] for c in plain["classes"] if c["note"] == "kept for ever"]
    if forever:
        print(f"kept for ever: {', '.join(forever)}")
    if plain["unclassified_tables"]:
        print(f"tables no class names (never swept; add them to the policy): "
              f"{', '.join(plain['unclassified_tables'])}", file=sys.stderr)


def cmd_plan(args: argparse.Namespace, engine: Engine) -> int:
    from hub import retention

    now = None
    if getattr(args, "today", None):
        now = dt.datetime.combine(dt.date.fromisoformat(args.today), dt.time(12), SHANGHAI).astimezone(dt.UTC)
    try:
        report = retention.plan(engine, _policy(args), now=now, only=getattr(args, "only", None) or ())
    except ValueError as e:
        print(f"refused: {e}", file=sys.stderr)
        return 2
    _print(report, getattr(args, "json", False))
    return 0


def cmd_apply(args: argparse.Namespace, engine: Engine) -> int:
    from hub import retention

    try:
        report = retention.apply(engine, _policy(args), by=args.by, only=args.only or (), batch=args.batch)
    except ValueError as e:
        print(f"refused, nothing deleted: {e}", file=sys.stderr)
        return 2
    _print(report, args.json)
    return 0


def cmd_policy(args: argparse.Namespace, engine: Engine | None = None) -> int:
    p = _policy(args)
    if args.json:
        print(json.dumps({"source": p.source, "daily": p.daily, "at": p.at.isoformat("minutes"), "batch": p.batch,
                          "classes": [{"name": c.name, "subject": c.subject, "tables": list(c.tables),
                                       "keep": str(c.keep), "clock": c.clock, "basis": c.basis}
                                      for c in p.classes]}, ensure_ascii=False, indent=2))
        return 0
    print(f"retention policy {p.source}; daily sweep {'at ' + p.at.isoformat('minutes') if p.daily else 'off'}")
    for c in p.classes:
        print(f"{c.name:<20} {c.subject:<12} keep {c.keep!s:<8} from {c.clock:<13} {', '.join(c.tables)}")
    return 0


def cmd_hold(args: argparse.Namespace, engine: Engine) -> int:
    from hub import retention_holds as holds

    try:
        if args.hold_command == "add":
            kind = next(k for k in holds.KINDS if getattr(args, k) is not None)
            h = holds.place(engine, kind=kind, subject=getattr(args, kind), reason=args.reason, by=args.by)
            print(f"已保全 hold placed {h['id']}: {h['kind']} {h['subject']} — {h['reason']}")
        elif args.hold_command == "release":
            h = holds.release(engine, args.hold_id, reason=args.reason, by=args.by)
            print(f"已解除 hold released {h['id']}: {h['kind']} {h['subject']}")
        else:
            rows = holds.list_holds(engine, include_released=args.all)
            if args.json:
                print(json.dumps(rows, ensure_ascii=False, indent=2))
            for h in [] if args.json else rows:
                state = f"released {h['released_at']} by {h['released_by']}" if h["released_at"] else "active"
                print(f"{h['id']}  {h['kind']:<7} {h['subject']:<40} {state}; placed {h['placed_at']} by "
                      f"{h['placed_by']}: {h['reason']}")
    except holds.HoldError as e:
        print(f"refused, nothing changed: {e}", file=sys.stderr)
        return 2
    return 0


def register(sub: Any, engine_of: Callable[[argparse.Namespace], Engine]) -> None:
    """Add ``retention`` to the ``xianjie`` command."""

    def bind(parser: argparse.ArgumentParser, fn: Callable[[argparse.Namespace, Engine], int]) -> None:
        parser.set_defaults(func=lambda args: fn(args, engine_of(args)))

    rp = sub.add_parser("retention", help="retention by record class, the sweep, legal holds (保存期限与保全)")
    bind(rp, cmd_plan)  # `xianjie retention` alone plans
    rsub = rp.add_subparsers(dest="retention_command")

    def classes(p: argparse.ArgumentParser) -> None:
        p.add_argument("--class", dest="only", action="append", metavar="NAME", help="only this class (repeatable)")
        p.add_argument("--json", action="store_true")

    p = rsub.add_parser("plan", help="what would be deleted now, by class, and what is kept and why (deletes nothing)")
    classes(p)
    p.add_argument("--today", metavar="YYYY-MM-DD", help="plan as on another day (what will be due then)")
    bind(p, cmd_plan)
    p = rsub.add_parser("apply", help="delete what is past its period and not held (audited, batch by batch)")
    classes(p)
    p.add_argument("--by", default=audit.command_line_actor(),
                   help="who runs the sweep (audited; default: cli:<the account running the command>)")
    p.add_argument("--batch", type=int, help="units per transaction (default: the policy's [sweep] batch)")
    bind(p, cmd_apply)
    p = rsub.add_parser("policy", help="the policy in force, checked")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_policy)

    hp = rsub.add_parser("hold", help="legal holds: records kept whatever their period")
    hsub = hp.add_subparsers(dest="hold_command", required=True)
    p = hsub.add_parser("add", help="place a hold on a person, a case or a message")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--person", help="an ID number, or a person key (ref|…)")
    which.add_argument("--case", help="a case number (or deciding organ|case number)")
    which.add_argument("--message", help="a message id, or the id of a quarantined input or a stored file")
    p.add_argument("--reason", required=True, help="why (the litigation, the order, who asked)")
    p.add_argument("--by", required=True, help="who places it (audited)")
    bind(p, cmd_hold)
    p = hsub.add_parser("release", help="release an active hold")
    p.add_argument("hold_id")
    p.add_argument("--reason", required=True)
    p.add_argument("--by", required=True)
    bind(p, cmd_hold)
    p = hsub.add_parser("list", help="active holds (--all: released ones too)")
    p.add_argument("--all", action="store_true")
    p.add_argument("--json", action="store_true")
    bind(p, cmd_hold)
