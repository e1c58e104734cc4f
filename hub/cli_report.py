"""``xianjie report``: the joint-meeting report's commands. ``joint-meeting`` makes the report of a county or a city
for a period (PDF, XLSX, HTML or JSON), or shows the persons behind one of its figures; ``import-history``
imports a bureau's historical register (社区矫正对象名册 from before the hub went live), whose rows the report counts
for the days before the hub's own records.

Each subcommand is added by one function of ``COMMANDS`` taking the ``report`` subparsers and ``bind`` (which
gives a command its engine)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

Command = Callable[[argparse.Namespace, Engine], int]
Bind = Callable[[argparse.ArgumentParser, Command], None]


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def print_import(report: dict[str, Any]) -> None:
    """An import's report as a clerk reads it: what was counted, and each rejected row's problems at its cell."""
    if report.get("repeated"):
        print(f"已导入过 already imported: import {report['import_id']} of {report['imported_at']}; nothing added")
    print(f"历史名册 historical register {report['import_id']} ({report['agency']}, {report['filename'] or '-'}, "
          f"as of {report['as_of'] or '-'}): {report['status']}, {report['rows_accepted']} rows accepted "
          f"(解除 released {report['ended']['released']}, 终止 terminated {report['ended']['terminated']}), "
          f"{report['rows_rejected']} rejected")
    for r in report["rejected_rows"]:
        for p in r["problems"]:
            print(f"  row {r['row']} {p['where']}: {p['reason']}")
    error = report.get("error")
    if error is not None:
        print(f"refused ({error['code']}): {error['message']}; the file is kept", file=sys.stderr)
        for d in error["details"]:
            print(f"  {d.get('path') or ''} {d['reason']}", file=sys.stderr)


def cmd_import_history(args: argparse.Namespace, engine: Engine) -> int:
    from hub.cli import _settings
    from hub.registry import load_registry
    from hub.report.history import import_history
    from hub.store.db import utcnow

    path = Path(args.file)
    report = import_history(engine, load_registry(_settings(args).registry_path), path.read_bytes(),
                            agency=args.agency, filename=path.name, as_of=args.as_of,
                            by=f"{args.agency}:{args.by}" if args.by else args.agency, now=utcnow())
    print_import(report)
    return 0 if report["rows_accepted"] else 1


def add_import_history(rsub: Any, bind: Bind) -> None:
    p = rsub.add_parser("import-history", help="import a bureau's historical register (CSV, XLSX or XML) that the "
                                               "report counts before the hub's own records")
    p.add_argument("file")
    p.add_argument("--agency", required=True, help="the bureau whose register it is, e.g. 530502SF")
    p.add_argument("--as-of", type=_date, help="the day the register shows (required for CSV and XLSX)")
    p.add_argument("--by", help="who imports it on the bureau's behalf (audited)")
    bind(p, cmd_import_history)


def cmd_joint_meeting(args: argparse.Namespace, engine: Engine) -> int:
    from hub.cli import _settings
    from hub.core.facts import legal_day
    from hub.registry import load_registry
    from hub.report import build
    from hub.report.render_json import figure_json
    from hub.store.db import utcnow

    now = utcnow()
    directory = load_registry(_settings(args).registry_path)
    try:
        report = build.joint_meeting(engine, directory, division=args.division, period_from=args.date_from,
                                     period_to=args.date_to, today=args.today or legal_day(now), now=now)
    except build.ReportRequestError as e:
        print(f"--{e.field}: {e.message}", file=sys.stderr)
        return 2
    import getpass

    from hub.api.reports import audit
    who = f"cli:{getpass.getuser()}"
    period = {"from": report.period_from, "to": report.period_to, "today": report.today}
    if args.figure:
        figure = report.figure(args.figure)
        if figure is None:
            print(f"--figure: the report has no figure {args.figure!r}", file=sys.stderr)
            return 2
        import json
        audit(engine, actor=who, action="report_figure", target=f"report:{report.division}",
              detail=period | {"figure": args.figure})
        print(json.dumps(figure_json(figure), ensure_ascii=False, indent=1))
        return 0
    audit(engine, actor=who, action="report_joint_meeting", target=f"report:{report.division}",
          detail=period | {"format": args.format})
    body = build.render(report, args.format)
    out = Path(args.out) if args.out else Path(build.filename(report, args.format))
    out.write_bytes(body)
    print(f"{out} ({len(body):,} bytes): {report.area_name}, {report.period_from} – {report.period_to}")
    return 0


def add_joint_meeting(rsub: Any, bind: Bind) -> None:
    p = rsub.add_parser("joint-meeting", help="the joint-meeting (联席会议) report of a county or a city for a period")
    p.add_argument("--division", required=True, help="a county (530502) or a city (530500: its counties summed)")
    p.add_argument("--from", dest="date_from", type=_date, required=True, help="first day of the period")
    p.add_argument("--to", dest="date_to", type=_date, required=True, help="last day of the period")
    p.add_argument("--format", choices=("pdf", "xlsx", "html", "json"), default="pdf")
    p.add_argument("--out", help="the file to write (default: 联席会议对账报告-<division>-<from>-<to>.<format>)")
    p.add_argument("--today", type=_date, help="the day persons at risk are counted on (default: today)")
    p.add_argument("--figure", help="print the persons and messages behind one figure (its id) as JSON instead")
    bind(p, cmd_joint_meeting)


COMMANDS: list[Callable[[Any, Bind], None]] = [add_joint_meeting, add_import_history]


def register(sub: Any, engine_of: Callable[[argparse.Namespace], Engine]) -> None:
    """Add ``report`` and its subcommands (``COMMANDS``) to the ``xianjie`` command."""

    def bind(parser: argparse.ArgumentParser, fn: Command) -> None:
        parser.set_defaults(func=lambda args: fn(args, engine_of(args)))

    rp = sub.add_parser("report", help="the joint-meeting report and the historical registers it counts")
    rsub = rp.add_subparsers(dest="report_command", required=True)
    for add in COMMANDS:
        add(rsub, bind)
