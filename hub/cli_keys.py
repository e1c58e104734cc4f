"""``xianjie keys``: agencies' API keys — issue one (printed once), list them, revoke one (audited).

Keys are issued, listed and revoked here, on the hub's host, and not through the API: a stolen hub API key must not
be able to mint keys for other agencies (docs/security-keys.md)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from hub import audit
from hub.store.db import utcnow

_SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def _directory(args: argparse.Namespace) -> Any:
    from hub.cli import _settings
    from hub.registry import load_registry

    return load_registry(_settings(args).registry_path)


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(_SHANGHAI).strftime("%Y-%m-%d %H:%M") if value is not None else "-"


def cmd_issue(args: argparse.Namespace, engine: Engine) -> int:
    from hub import api_keys
    from hub.cli import _settings

    days = args.expires_in_days if args.expires_in_days is not None else _settings(args).api_key_days
    try:
        issued = api_keys.issue(engine, directory=_directory(args), agency=args.agency, by=args.by, label=args.label,
                                expires_in=dt.timedelta(days=days))
    except api_keys.ApiKeyError as e:
        print(f"refused, nothing stored: {e}", file=sys.stderr)
        return 2
    print(issued.key)  # alone on stdout, so that a script can take it
    print(f"已签发 issued key {issued.key_id} for {issued.agency}"
          + (f" ({issued.label})" if issued.label else "")
          + f", expires {_when(issued.expires_at)} (Asia/Shanghai). The key above is shown this once: the hub "
            "keeps only its hash.", file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace, engine: Engine) -> int:
    from hub import api_keys

    now = utcnow()
    keys = api_keys.list_keys(engine, directory=_directory(args), agency=args.agency)
    if args.json:
        print(json.dumps([k.plain(now) for k in keys], ensure_ascii=False, indent=2, default=str))
        return 0
    print(f"{'id':<14} {'agency':<10} {'state':<8} {'created':<16} {'expires':<16} {'last used':<16} label / revoked")
    for k in keys:
        note = k.label or ""
        if k.revoked_at is not None:
            note += f" — revoked {_when(k.revoked_at)} by {k.revoked_by}: {k.revoke_reason}"
        elif k.source == "registry" and k.expires_at is None:
            note += " (no expiry: revoke it once the agency uses an issued key)"
        print(f"{k.id:<14} {k.agency:<10} {k.state(now):<8} {_when(k.created_at):<16} {_when(k.expires_at):<16} "
              f"{_when(k.last_used_at):<16} {note}")
    print(f"{len(keys)} keys")
    return 0


def cmd_revoke(args: argparse.Namespace, engine: Engine) -> int:
    from hub import api_keys

    try:
        info = api_keys.revoke(engine, directory=_directory(args), key_id=args.key_id, by=args.by, reason=args.reason)
    except api_keys.ApiKeyError as e:
        print(f"refused, nothing changed: {e}", file=sys.stderr)
        return 2
    print(f"已吊销 revoked key {info.id} of {info.agency} at {_when(info.revoked_at)}: every hub process refuses it "
          "within its key cache time (XIANJIE_API_KEY_CACHE_SECONDS)")
    return 0


def register(sub: Any, engine_of: Callable[[argparse.Namespace], Engine]) -> None:
    """Add ``keys`` to the ``xianjie`` command."""

    def bind(parser: argparse.ArgumentParser, fn: Callable[[argparse.Namespace, Engine], int]) -> None:
        parser.set_defaults(func=lambda args: fn(args, engine_of(args)))

    kp = sub.add_parser("keys", help="agencies' API keys (接口密钥): issue, list, revoke")
    ksub = kp.add_subparsers(dest="keys_command", required=True)
    p = ksub.add_parser("issue", help="a new key for an agency, printed once on stdout")
    p.add_argument("agency", help="the agency's registry code, e.g. 530581SF")
    p.add_argument("--expires-in-days", type=int, help="lifetime (default XIANJIE_API_KEY_DAYS, 365)")
    p.add_argument("--label", help="what the key is for, e.g. the agency system or server that holds it")
    p.add_argument("--by", default=audit.command_line_actor(),
                   help="who issues it (audited; default: cli:<the account running the command>)")
    bind(p, cmd_issue)
    p = ksub.add_parser("list", help="keys (of one agency) and their state; never the keys themselves")
    p.add_argument("agency", nargs="?")
    p.add_argument("--json", action="store_true")
    bind(p, cmd_list)
    p = ksub.add_parser("revoke", help="revoke a key for good (an issued one; reg-<agency>: the registry's key; "
                                       "crt-<fingerprint hex>: a client certificate)")
    p.add_argument("key_id")
    p.add_argument("--reason", required=True, help="why (audited)")
    p.add_argument("--by", default=audit.command_line_actor(),
                   help="who revokes it (audited; default: cli:<the account running the command>)")
    bind(p, cmd_revoke)
