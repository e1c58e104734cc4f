"""``xianjie users``: the console's operator accounts (add, list, change password or role, disable, enable).

Passwords are read from the terminal, or from ``--password-stdin`` for scripts, never from the command line."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from hub import audit
from hub.operators import ROLE_LABELS, ROLES


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("密码 password: ")
    if getpass.getpass("再输一次 again: ") != first:
        raise SystemExit("the two passwords differ; nothing changed")
    return first


def _known_agency(args: argparse.Namespace, code: str | None) -> bool:
    """Whether ``code`` is in the agency registry the hub runs with (an account of an unknown agency would see
    nothing); says why on stderr when not."""
    if code is None:
        return True
    from hub.cli import _settings
    from hub.registry import load_registry

    directory = load_registry(_settings(args).registry_path)
    if code in directory.agencies:
        return True
    print(f"refused, nothing stored: no agency {code!r} in the registry (`xianjie agencies` lists them)",
          file=sys.stderr)
    return False


def cmd_add(args: argparse.Namespace, engine: Engine) -> int:
    from hub import operators

    if not _known_agency(args, args.agency):
        return 2
    try:
        op = operators.create(engine, username=args.username, password=_password(args), role=args.role,
                              agency=args.agency, display_name=args.name or args.username, actor=args.by)
    except operators.OperatorError as e:
        print(f"refused, nothing stored: {e}", file=sys.stderr)
        return 2
    print(f"已创建 created {op.username} ({op.display_name}), {ROLE_LABELS[op.role]} {op.role}, {op.agency}")
    return 0


def cmd_list(args: argparse.Namespace, engine: Engine) -> int:
    from hub import operators

    ops = operators.list_operators(engine)
    if args.json:
        print(json.dumps([o.plain() for o in ops], ensure_ascii=False, indent=2))
        return 0
    for o in ops:
        state = "停用 disabled" if o.disabled else "启用 active"
        print(f"{o.username:<20} {o.display_name:<12} {ROLE_LABELS[o.role]} {o.role:<14} {o.agency:<10} {state}")
    return 0


def cmd_change(args: argparse.Namespace, engine: Engine) -> int:
    from hub import operators

    changes: dict[str, Any] = {}
    if args.users_command == "passwd":
        changes["password"] = _password(args)
    elif args.users_command == "role":
        changes["role"] = args.role
        if args.agency:
            if not _known_agency(args, args.agency):
                return 2
            changes["agency"] = args.agency
    else:
        changes["disabled"] = args.users_command == "disable"
    try:
        op = operators.change(engine, args.username, actor=args.by, **changes)
    except operators.OperatorError as e:
        print(f"refused, nothing stored: {e}", file=sys.stderr)
        return 2
    state = "停用 disabled" if op.disabled else "启用 active"
    print(f"已修改 changed {op.username}: {ROLE_LABELS[op.role]} {op.role}, {op.agency}, {state}"
          + ("; its sessions ended" if args.users_command != "enable" else ""))
    return 0


def register(sub: Any, engine_of: Callable[[argparse.Namespace], Engine]) -> None:
    """Add ``users`` to the ``xianjie`` command."""

    def bind(parser: argparse.ArgumentParser, fn: Callable[[argparse.Namespace, Engine], int]) -> None:
        parser.set_defaults(func=lambda args: fn(args, engine_of(args)))

    up = sub.add_parser("users", help="operator accounts of the console (操作员账户)")
    usub = up.add_subparsers(dest="users_command", required=True)

    def account(name: str, help_: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = usub.add_parser(name, help=help_)
        p.add_argument("username")
        p.add_argument("--by", default=audit.command_line_actor(),
                       help="who makes the change (audited; default: cli:<the account running the command>)")
        return p

    p = account("add", "a new account; the password is asked for twice")
    p.add_argument("--role", choices=ROLES, required=True)
    p.add_argument("--agency", required=True, help="the agency code the operator works for, e.g. 530581SF")
    p.add_argument("--name", help="the name shown in the console and the audit log")
    p.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    bind(p, cmd_add)
    p = usub.add_parser("list", help="every account, its role, agency and whether it is active")
    p.add_argument("--json", action="store_true")
    bind(p, cmd_list)
    p = account("passwd", "set a new password (ends the account's sessions)")
    p.add_argument("--password-stdin", action="store_true")
    bind(p, cmd_change)
    p = account("role", "change the role (and the agency) (ends the account's sessions)")
    p.add_argument("role", choices=ROLES)
    p.add_argument("--agency")
    bind(p, cmd_change)
    bind(account("disable", "stop the account signing in (ends its sessions)"), cmd_change)
    bind(account("enable", "let a disabled account sign in again"), cmd_change)
