"""Who may take an operator's action through the API, for code that asks by action name: the hub's own API key (an
agency of organ type HUB), or a console session whose role may take it, with the session's CSRF token in
``X-CSRF-Token`` on a change. Decided by ``hub.authz_routes.admit`` on the principal ``hub.api.guard`` identified,
the same decision every route's policy gets."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from sqlalchemy import Engine

from hub.api import guard
from hub.authz import Principal
from hub.authz_routes import Policy, admit
from hub.core.model import Agency, Directory
from hub.errors import Forbidden


def operator(request: Request, *, engine: Engine, directory: Directory, who: Callable[[Request], Agency],
             action: str) -> tuple[str, str | None]:
    """Who acts (as the audit log names them) and the agency they are limited to (None: every agency).
    Unauthorised without a key or a session; Forbidden for another agency's key, a missing CSRF token on a
    change, or a role that may not take ``action``."""
    policy = Policy(operator=action)
    found = getattr(request.state, "principal", None)
    principal = found if isinstance(found, Principal) else guard.identify(
        request, policy, engine=engine, directory=directory, who=who)
    decision = admit(principal, policy)
    if not decision:
        raise Forbidden(decision.reason)
    return principal.actor, principal.scope


def operator_check(engine: Engine, directory: Directory,
                   who: Callable[[Request], Agency]) -> Callable[[Request, str], tuple[str, str | None]]:
    """``operator`` bound to one hub: ``check(request, action)``."""
    def check(request: Request, action: str) -> tuple[str, str | None]:
        return operator(request, engine=engine, directory=directory, who=who, action=action)
    return check
