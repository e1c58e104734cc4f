"""``xianjie audit``: check the audit log's hash chain (``verify``), export its head (``anchor``).

``verify`` exits 0 when the chain is intact (and agrees with every anchor given) and its guard triggers are in
place, 1 when it is broken, naming the first entry altered, removed or inserted, and 2 when it is intact but the
triggers that refuse changes to entries are missing (docs/security-audit.md)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine


def cmd_verify(args: argparse.Namespace, engine: Engine) -> int:
    from hub import audit

    try:
        verdict = audit.verify(engine, anchors=Path(args.anchors) if args.anchors else None)
    except ValueError as e:  # an anchor file that is not one, or no such directory
        print(f"not verified: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(verdict.plain(), ensure_ascii=False, indent=2))
        return _status(verdict)
    head = verdict.head
    print(f"entries read: {verdict.entries}")
    print("head: missing" if head is None else f"head: seq {head.seq}, hash {head.hash}, chain {head.chain}")
    if verdict.last is not None:
        print(f"last entry read: {verdict.last.label()}")
    print("guard triggers: in place" if verdict.guards else
          "guard triggers: MISSING or disabled (UPDATE and DELETE of entries are not refused; the chain still shows "
          "any change)")
    if args.anchors:
        other = verdict.other_chains
        others = (f"; anchors of {len(other)} other chains skipped ({', '.join(c[:8] for c in other[:3])}"
                  f"{' …' if len(other) > 3 else ''})" if other else "")
        print(f"anchors of this chain: {verdict.anchors_mine}, agreeing so far: {verdict.anchors_agreed}{others}")
    if verdict.first_break is None:
        last = head.seq if head is not None else 0
        print(f"INTACT: entries seq 1 to {last} each fit the one before, and the head"
              + (" and every anchor" if args.anchors else ""))
        if not verdict.guards:
            print("UNGUARDED: the triggers that refuse changes to entries are gone; find out who removed them and "
                  "create them again (their statements are in hub/migrations/versions/0019_audit_chain.py)")
        return _status(verdict)
    print(f"BROKEN, the first problem: {verdict.first_break.text()}")
    return 1


def _status(verdict: Any) -> int:
    """0 intact and guarded, 1 broken, 2 intact without its guard triggers."""
    return 1 if not verdict.ok else 0 if verdict.guards else 2


def cmd_anchor(args: argparse.Namespace, engine: Engine) -> int:
    from hub import audit
    from hub.cli import _settings
    from hub.store.db import utcnow

    directory = Path(args.out) if args.out else audit.anchor_directory(_settings(args))
    anchor = audit.take_anchor(engine, now=utcnow())
    path = audit.write_anchor(anchor, directory)
    print(f"anchor written: {path}")
    print(f"date {anchor.date}, seq {anchor.seq}, hash {anchor.hash}, at {anchor.at}, count {anchor.count}")
    print("keep a copy away from the hub's machine (docs/security-audit.md)")
    return 0


def register(sub: Any, engine_of: Callable[[argparse.Namespace], Engine]) -> None:
    """Add ``audit`` to the ``xianjie`` command."""

    def bind(parser: argparse.ArgumentParser, fn: Callable[[argparse.Namespace, Engine], int]) -> None:
        parser.set_defaults(func=lambda args: fn(args, engine_of(args)))

    ap = sub.add_parser("audit", help="the audit log's hash chain (审计日志): verify it, export its head")
    asub = ap.add_subparsers(dest="audit_command", required=True)
    p = asub.add_parser("verify", help="walk the chain; name the first entry altered, removed or inserted")
    p.add_argument("--anchors", metavar="DIR", help="check the chain against every anchor in DIR (or one file)")
    p.add_argument("--json", action="store_true", help="the verdict as JSON")
    bind(p, cmd_verify)
    p = asub.add_parser("anchor", help="write the chain head (date, seq, hash) as a small JSON file")
    p.add_argument("--out", metavar="DIR", help="where (default: XIANJIE_AUDIT_ANCHOR_DIR, see docs)")
    bind(p, cmd_anchor)
