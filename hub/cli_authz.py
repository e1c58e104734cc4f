"""``xianjie authz show``: the authorisation matrix (``hub.authz``, ``hub.authz_routes``) printed as Markdown tables,
the same tables docs/security-authz.md carries (a test checks that the page matches)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from hub.authz import ACCESS, OPERATOR, ROLES, SEND, senders
from hub.authz_routes import ROUTES, Policy
from hub.core.model import OrganType
from hub.core.routing import MESSAGE_TYPES

ORGANS = (OrganType.COURT, OrganType.PROCURATORATE, OrganType.POLICE, OrganType.BUREAU, OrganType.PRISON,
          OrganType.DETENTION, OrganType.HUB)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def send_table() -> str:
    """Message type × organ type: ✓ may send, ✓ with a condition, or · may not."""
    head = "| message type | " + " | ".join(o.value for o in ORGANS) + " |"
    lines = [head, "|---|" + "---|" * len(ORGANS)]
    for message_type in sorted(MESSAGE_TYPES):
        rows = {r.organ: r for r in senders(message_type)}
        cells = []
        for organ in ORGANS:
            rule = rows.get(organ)
            cells.append("·" if rule is None else "✓" if rule.only is None else f"✓ {rule.condition()}")
        lines.append(f"| {message_type} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def send_reasons() -> str:
    lines = ["| organ type | message type | only when | why |", "|---|---|---|---|"]
    for r in SEND:
        lines.append(f"| {r.organ.value} | {r.message_type} | {r.condition() or '—'} | {_cell(r.basis)} |")
    return "\n".join(lines)


def access_table() -> str:
    lines = ["| resource | what | organ types whose key may ask | how the agency must stand to it | why |",
             "|---|---|---|---|---|"]
    for name, a in ACCESS.items():
        organs = ", ".join(o.value for o in ORGANS if o in a.organs) or "— (the hub's key only)"
        rels = ", ".join(sorted(a.relations)) or "—"
        if a.own_only:
            rels += " (the hub's key too: its own only)"
        lines.append(f"| `{name}` | {_cell(a.what)} | {organs} | {rels} | {_cell(a.basis)} |")
    return "\n".join(lines)


def operator_table() -> str:
    lines = ["| action | what | " + " | ".join(ROLES) + " |", "|---|---|" + "---|" * len(ROLES)]
    for name, a in OPERATOR.items():
        lines.append(f"| `{name}` | {_cell(a.what)} | " + " | ".join("✓" if r in a.roles else "·" for r in ROLES)
                     + " |")
    return "\n".join(lines)


def _policy(p: Policy) -> tuple[str, str, str]:
    key = f"`{p.agency}`" + (" (after the body is read)" if p.after_body else "") if p.agency else \
        "the hub's key" if p.operator else "—"
    session = f"`{p.operator}`" if p.operator else f"page: `{p.console}`" if p.console else "—"
    return key, session, _cell(p.public or "")


def routes_table() -> str:
    lines = ["| route | agency API key (ACCESS) | console session (OPERATOR action) | public |", "|---|---|---|---|"]
    for route, p in ROUTES.items():
        key, session, public = _policy(p)
        lines.append(f"| `{route}` | {key} | {session} | {public} |")
    return "\n".join(lines)


def render_markdown() -> str:
    """Every table of the matrix, in the order docs/security-authz.md shows them."""
    return "\n\n".join([
        "### Who may send what (SEND)", send_table(),
        "### Why (each SEND row)", send_reasons(),
        "### What an agency's key reaches (ACCESS)", access_table(),
        "### What each operator role may do (OPERATOR)", operator_table(),
        "### Every route's policy (ROUTES)", routes_table(),
    ]) + "\n"


def cmd_show(args: argparse.Namespace) -> int:
    print(render_markdown(), end="")
    return 0


def register(sub: Any, engine_of: Callable[[argparse.Namespace], Engine]) -> None:
    """``xianjie authz show``."""
    p = sub.add_parser("authz", help="the authorisation matrix: who may send, read and do what")
    s = p.add_subparsers(dest="authz_command", required=True)
    s.add_parser("show", help="print every table of the matrix (Markdown)").set_defaults(func=cmd_show)
