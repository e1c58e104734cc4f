"""``xianjie reconcile``: upload an agency's register snapshot, reconcile the registers with the case ledger now,
list the discrepancy items, and resolve one by hand (audited)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from hub.core.reconcile import Category, RegisterKind

STATUS_ZH = {"open": "未解决", "resolved": "已解决"}


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _print_run(run: dict[str, Any]) -> None:
    if run["skipped"]:
        print(f"未对账 not reconciled: {run['skipped']}")
        return
    print(f"对账 reconciled as of {run['as_of']}: {len(run['snapshots'])} registers compared; "
          f"新增 opened {run['opened_count']}, 重新打开 reopened {run['reopened_count']}, "
          f"自动解决 resolved {run['resolved_count']}, 未解决 open now {run['still_open']}")
    for what in ("opened", "reopened", "resolved"):
        for item in run[what]:
            print(f"  {what:<8} {item['id']}  {item['category_zh']}  {item['name']}  → {item['acting_agency']}")
    for u in run["unreadable"]:
        print(f"  set aside: snapshot {u['snapshot_id']} can no longer be read: {u['reason']}", file=sys.stderr)


def cmd_upload(args: argparse.Namespace, engine: Engine) -> int:
    from hub.register_store import upload

    data = Path(args.file).read_bytes()
    res = upload(engine, args.kind, data, agency=args.agency, filename=Path(args.file).name, as_of=args.as_of,
                 period_start=args.period_start, actor=f"{args.agency}:{args.by}" if args.by else args.agency)
    snap = res.snapshot
    print(f"名册 snapshot {snap['snapshot_id']} ({snap['kind']} of {snap['agency']}, as of {snap['as_of']}): "
          f"{snap['status']}, {snap['rows']} rows accepted, {snap['rejected']} rejected")
    for r in snap["rejected_rows"]:
        for p in r["problems"]:
            print(f"  row {r['row']} {p['where']}: {p['reason']}")
    if res.error is not None:
        print(f"refused ({res.error.code}): {res.error.message}; the file is kept", file=sys.stderr)
        for p in res.error.problems:
            print(f"  {p.path or ''} {p.reason}", file=sys.stderr)
        return 2
    assert res.run is not None
    _print_run(res.run.as_dict())
    return 0


def cmd_run(args: argparse.Namespace, engine: Engine) -> int:
    from hub.audit import command_line_actor
    from hub.register_store import reconcile_now

    run = reconcile_now(engine, as_of=args.as_of, actor=args.by or command_line_actor())
    _print_run(run.as_dict())
    return 0


def cmd_list(args: argparse.Namespace, engine: Engine) -> int:
    from hub.register_store import list_items

    items = list_items(engine, status=args.status, category=args.category, agency=args.agency,
                       county=args.county, limit=args.limit)
    if args.json:
        print(json.dumps(items, ensure_ascii=False, indent=2))
        return 0
    print(f"对账差异 discrepancies: {len(items)}")
    for i in items:
        confirm = f", 确认 confirms {i['confirming_agency']}" if i["confirming_agency"] else ""
        print(f"{i['id']}  [{STATUS_ZH[i['status']]}] {i['county']} {i['category_zh']}  {i['name']} "
              f"{i['id_number'] or ''}  处理 acts {i['acting_agency']}{confirm}")
        print(f"    {i['description_zh']}")
        if i["status"] == "resolved":
            print(f"    resolved {i['resolved_at']} by {i['resolved_by']}: {i['resolution']}")
    return 0


def cmd_resolve(args: argparse.Namespace, engine: Engine) -> int:
    from hub.register_store import resolve

    try:
        item = resolve(engine, args.id, by=args.by, note=args.note)
    except KeyError:
        print(f"no discrepancy {args.id}", file=sys.stderr)
        return 2
    except ValueError as e:
        print(f"refused: {e}", file=sys.stderr)
        return 2
    print(f"{item['id']} resolved by {item['resolved_by']} (audited): {item['resolution']}")
    return 0


def register(sub: Any, engine_of: Callable[[argparse.Namespace], Engine]) -> None:
    """Add ``reconcile`` to the ``xianjie`` command."""

    def bind(parser: argparse.ArgumentParser, fn: Callable[[argparse.Namespace, Engine], int]) -> None:
        parser.set_defaults(func=lambda args: fn(args, engine_of(args)))

    rp = sub.add_parser("reconcile", help="register snapshots and the discrepancies between agencies' registers")
    rsub = rp.add_subparsers(dest="reconcile_command", required=True)
    p = rsub.add_parser("upload", help="store an agency's register (CSV, XLSX or XML) and reconcile at once")
    p.add_argument("kind", choices=[k.value for k in RegisterKind])
    p.add_argument("file")
    p.add_argument("--agency", required=True, help="the agency that keeps the register, e.g. 530581SF")
    p.add_argument("--as-of", type=_date, help="the register's day (required for CSV and XLSX)")
    p.add_argument("--from", dest="period_start", type=_date, help="a list of a period: its first day")
    p.add_argument("--by", help="who uploads it on the agency's behalf (audited)")
    bind(p, cmd_upload)
    p = rsub.add_parser("run", help="compare the latest registers with the case ledger now")
    p.add_argument("--as-of", type=_date, help="use registers as of this day or before (default today, Beijing)")
    p.add_argument("--by", help="who runs it (audited)")
    bind(p, cmd_run)
    p = rsub.add_parser("list", help="the discrepancy items")
    p.add_argument("--status", choices=list(STATUS_ZH))
    p.add_argument("--category", choices=[c.value for c in Category])
    p.add_argument("--agency", help="items this agency must act on or confirm")
    p.add_argument("--county", help="a county's 6-digit code")
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--json", action="store_true")
    bind(p, cmd_list)
    p = rsub.add_parser("resolve", help="close an open item by hand (audited)")
    p.add_argument("id")
    p.add_argument("--by", required=True, help="who resolves it")
    p.add_argument("--note", required=True, help="how it was resolved")
    bind(p, cmd_resolve)
