"""An operator's session on a request: the cookie, the CSRF token, and the role check, for the console's pages
and for the operator API alike."""

from __future__ import annotations

import hmac

from fastapi import Request
from sqlalchemy import Engine

from hub import operators
from hub.authz import may_operate
from hub.console.permissions import sees_every_agency
from hub.core.model import Directory
from hub.errors import Forbidden, Unauthorised
from hub.operators import Session

COOKIE = "xianjie_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


POLL = "poll"  # the query parameter of a page's own automatic refresh


def current(request: Request, engine: Engine) -> Session | None:
    """The live session the request's cookie names, if any. A page's automatic refresh (``?poll=1``) does not
    count as activity, so a session left on a self-refreshing page still times out when idle."""
    return operators.session_of(engine, request.cookies.get(COOKIE), touch=request.query_params.get(POLL) != "1")


def csrf_ok(session: Session, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(session.csrf.encode(), str(token).encode())


def require(request: Request, engine: Engine, action: str, *, csrf: str | None = None) -> Session:
    """The session, checked: Unauthorised without one; Forbidden when a state-changing request lacks the
    session's CSRF token (form field or ``X-CSRF-Token``) or the role may not take ``action``."""
    session = current(request, engine)
    if session is None:
        raise Unauthorised("sign in to the console first")
    if request.method not in SAFE_METHODS and not csrf_ok(session, csrf or request.headers.get(CSRF_HEADER)):
        raise Forbidden("missing or wrong CSRF token")
    decision = may_operate(session.operator.role, action)
    if not decision:
        raise Forbidden(decision.reason)
    return session


def scope_of(session: Session, directory: Directory) -> str | None:
    """The agency whose messages the operator is limited to; None for every agency."""
    return None if sees_every_agency(session.operator, directory) else session.operator.agency


def actor(session: Session) -> str:
    """How the audit log names the operator."""
    return f"console:{session.operator.username}"
