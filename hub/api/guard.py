"""The one check every request passes before its endpoint runs (an app-wide dependency).

It finds the served route's row in ``hub.authz_routes.ROUTES`` — a route with none is refused —, identifies the
caller the row asks for (an agency's API key, or a console session with its CSRF token on a change; a key takes
precedence), holds them to the row with ``hub.authz_routes.admit`` and leaves the ``Principal`` on the request for
the endpoint, which decides its subject with ``hub.authz.decide`` (the same rows). Public routes, console pages
(held by their own gate to the same role table) and inputs (``send``: checked after the body is read, so that a
refusal is kept in quarantine) pass through untouched.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from sqlalchemy import Engine

from hub.authz import Decision, Principal
from hub.authz_routes import Policy, admit, policy_of, route_key
from hub.console import session as console_session
from hub.core.model import Agency, Directory
from hub.errors import Forbidden, Unauthorised
from hub.operators import Session


def of_agency(agency: Agency) -> Principal:
    """An agency as its API key identifies it."""
    return Principal(agency.code, agency.organ_type)


def of_session(session: Session, directory: Directory) -> Principal:
    """An operator as their console session identifies them (the organ type of their agency, if registered)."""
    agency = directory.get(session.operator.agency)
    return Principal(session.operator.agency, agency.organ_type if agency else None, role=session.operator.role,
                     username=session.operator.username)


def keyed(request: Request) -> bool:
    """Whether the request carries an agency's credentials (a key always takes precedence over a session)."""
    return bool(request.headers.get("x-api-key") or request.headers.get("authorization"))


def identify(request: Request, policy: Policy, *, engine: Engine, directory: Directory,
             who: Callable[[Request], Agency]) -> Principal:
    """Who calls, as ``policy`` accepts them: Unauthorised without credentials (or a session ended); Forbidden for a
    change made with a session but without its CSRF token."""
    session_route = policy.operator is not None
    if keyed(request) or not session_route or (policy.agency is not None
                                               and console_session.COOKIE not in request.cookies):
        return of_agency(who(request))
    session = console_session.current(request, engine)
    if session is None:
        raise Unauthorised("sign in to the console first")
    if request.method not in console_session.SAFE_METHODS and not console_session.csrf_ok(
            session, request.headers.get(console_session.CSRF_HEADER)):
        raise Forbidden("missing or wrong CSRF token")
    return of_session(session, directory)


def make_guard(*, engine: Engine, directory: Directory,
               who: Callable[[Request], Agency]) -> Callable[[Request], None]:
    """The app-wide dependency: ``FastAPI(dependencies=[Depends(make_guard(...))])``."""
    def guard(request: Request) -> None:
        route = request.scope.get("route")
        path = getattr(route, "path", None)
        if path is None:
            return
        policy = policy_of(request.method, path)
        if policy is None:
            raise Forbidden(f"{route_key(request.method, path)} has no authorisation policy; every route needs its "
                            "row in hub.authz_routes.ROUTES")
        if not policy.checked_by_guard:
            return
        principal = identify(request, policy, engine=engine, directory=directory, who=who)
        decision = admit(principal, policy)
        if not decision:
            raise Forbidden(decision.reason)
        request.state.principal = principal

    return guard


def admit_input(request: Request, agency: Agency) -> Decision:
    """For a route admitted after its body is read (``Policy.after_body``): whether its row admits ``agency``, whose
    credentials the endpoint checked once the body was in (so that it keeps any refusal in quarantine)."""
    route = request.scope.get("route")
    policy = policy_of(request.method, getattr(route, "path", ""))
    if policy is None or not policy.after_body:
        raise RuntimeError(f"{request.method} {request.url.path} is not an input admitted after its body is read")
    principal = of_agency(agency)
    request.state.principal = principal
    return admit(principal, policy)


def caller(request: Request) -> Principal:
    """The principal the guard admitted for this request (a route without a key or session policy has none)."""
    found = getattr(request.state, "principal", None)
    if not isinstance(found, Principal):
        raise RuntimeError(f"{request.method} {request.url.path}: no principal; its policy does not identify callers")
    return found


def caller_agency(request: Request, directory: Directory) -> Agency:
    """The registry entry of the agency whose key the admitted request carries."""
    p = caller(request)
    agency = directory.get(p.code)
    if agency is None or not p.by_key:
        raise Forbidden("this needs an agency's API key")
    return agency
