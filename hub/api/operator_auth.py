"""Who may take an operator's action through the API: the hub's own API key (an agency of organ type HUB), or a
console session whose role may take it (``hub.console.permissions``), with the session's CSRF token in
``X-CSRF-Token`` on a change. Both the console and the API go through this one check."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from sqlalchemy import Engine

from hub.console import session as console_session
from hub.core.model import Agency, Directory, OrganType
from hub.errors import Forbidden


def operator(request: Request, *, engine: Engine, directory: Directory, who: Callable[[Request], Agency],
             action: str) -> tuple[str, str | None]:
    """Who acts (as the audit log names them) and the agency they are limited to (None: every agency).
    Unauthorised without a key or a session; Forbidden for another agency's key, a missing CSRF token on a
    change, or a role that may not take ``action``."""
    if request.headers.get("x-api-key") or request.headers.get("authorization"):
        agency = who(request)
        if agency.organ_type is not OrganType.HUB:
            raise Forbidden("this is for the hub's operators")
        return agency.code, None
    session = console_session.require(request, engine, action)
    return console_session.actor(session), console_session.scope_of(session, directory)


def operator_check(engine: Engine, directory: Directory,
                   who: Callable[[Request], Agency]) -> Callable[[Request, str], tuple[str, str | None]]:
    """``operator`` bound to one hub: ``check(request, action)``."""
    def check(request: Request, action: str) -> tuple[str, str | None]:
        return operator(request, engine=engine, directory=directory, who=who, action=action)
    return check
