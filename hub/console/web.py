"""The console's pages at ``/console``: server-rendered (Jinja2), plain forms, every asset served by the hub.

Each page reads through ``hub.console.data`` with the operator's scope, and each action goes through the same
function the operator API calls, after the same role check (``hub.console.permissions``) and the session's CSRF
token. A refused action is a page that says why, with status 403.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from hub import operators
from hub.console import data, i18n, pages_cases, pages_failed, pages_queues, pages_reports, pages_tasks
from hub.console.session import COOKIE, csrf_ok
from hub.console.ui import HERE, Console
from hub.operators import Session
from hub.service import Hub

SIGNIN_COOKIE = "xianjie_signin"  # the sign-in form's CSRF value, before there is a session
# each adds its pages with register(api, ui)
AREAS = (pages_failed, pages_tasks, pages_cases, pages_queues, pages_reports)


# Every console response: no script from anywhere, styles and images only from the hub, not framed, not kept in the
# browser's cache (pages carry ID numbers and payloads; office PCs are shared).
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def secure(response: Response) -> Response:
    """``response`` with the console's headers (a page's own take precedence)."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def static_files() -> StaticFiles:
    return StaticFiles(directory=str(HERE / "static"))


def router(hub: Hub, *, clock: Callable[[], dt.datetime]) -> APIRouter:
    api = APIRouter(prefix="/console", include_in_schema=False)
    ui = Console(hub, clock)
    engine = hub.engine
    page, refused, signed_in, gate = ui.page, ui.refused, ui.signed_in, ui.gate

    @api.get("", response_class=HTMLResponse)
    @api.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> Response:
        return RedirectResponse("/console/dashboard", status_code=303)

    # ---- sign-in ----------------------------------------------------------------------------------------

    @api.get("/signin", response_class=HTMLResponse)
    async def signin_form(request: Request, next: str = "/console/dashboard", failed: int = 0) -> Response:
        token = secrets.token_urlsafe(24)
        response = page(request, None, "signin.html", next=_safe_next(next), form_csrf=token, failed=bool(failed))
        response.set_cookie(SIGNIN_COOKIE, token, httponly=True, samesite="strict", path="/console")
        return response

    @api.post("/signin")
    async def signin(request: Request, username: str = Form(""), password: str = Form(""),
                     csrf: str = Form(""), next: str = Form("/console/dashboard")) -> Response:
        expected = request.cookies.get(SIGNIN_COOKIE, "")
        if not expected or not secrets.compare_digest(expected, csrf):
            return refused(request, None, "err.csrf", 403)
        lang = request.cookies.get("xianjie_lang", "zh")
        client = request.client.host if request.client else ""
        try:
            token, _ = await run_in_threadpool(operators.sign_in, engine, username.strip(), password, lang=lang,
                                               client=client)
        except operators.SignInThrottled as e:
            throttled = refused(request, None, "err.throttled", 429)
            throttled.headers["Retry-After"] = str(e.retry_after)
            return throttled
        except operators.SignInRefused:
            return RedirectResponse(f"/console/signin?{urlencode({'next': _safe_next(next), 'failed': 1})}",
                                    status_code=303)
        response = RedirectResponse(_safe_next(next), status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/",
                            secure=request.url.scheme == "https", max_age=int(operators.LIFETIME.total_seconds()))
        response.delete_cookie(SIGNIN_COOKIE, path="/console")
        return response

    @api.post("/signout")
    async def signout(request: Request, csrf: str = Form("")) -> Response:
        session = await signed_in(request)
        if session is not None and csrf_ok(session, csrf):
            await run_in_threadpool(operators.sign_out, engine, session)
        response = RedirectResponse("/console/signin", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    @api.post("/lang")
    async def switch_language(request: Request, lang: str = Form("zh"), csrf: str = Form(""),
                              back: str = Form("/console/dashboard")) -> Response:
        lang = lang if lang in ("zh", "en") else "zh"
        session = await signed_in(request)
        if session is not None:
            if not csrf_ok(session, csrf):
                return refused(request, session, "err.csrf", 403)
            await run_in_threadpool(operators.set_language, engine, session, lang)
        response = RedirectResponse(_safe_next(back), status_code=303)
        response.set_cookie("xianjie_lang", lang, samesite="strict", path="/")
        return response

    # ---- pages ------------------------------------------------------------------------------------------

    @api.get("/dashboard", response_class=HTMLResponse)
    async def dashboard(request: Request) -> Response:
        session = await gate(request, "view")
        if not isinstance(session, Session):
            return session
        figures = await run_in_threadpool(data.dashboard, engine, scope=ui.scope(session), now=ui.clock())
        flows = [{"label": ui.agency_name(r["agency"]), "sent": r["sent"], "received": r["received"]}
                 for r in figures["flows"]]
        obligation_rows = [{"label": ui.agency_name(code), **counts} for code, counts in figures["obligations"].items()]
        return page(request, session, "dashboard.html", d=figures, flows=flows, obligation_rows=obligation_rows,
                    ages=list(data.AGES), causes=data.CAUSES)

    @api.get("/audit", response_class=HTMLResponse)
    async def audit(request: Request, page_no: int = 1, actor_q: str = "", action: str = "",
                    target: str = "") -> Response:
        session = await gate(request, "view_audit")
        if not isinstance(session, Session):
            return session
        found = await run_in_threadpool(data.audit_page, engine, actor=actor_q or None, action=action or None,
                                        target=target or None, page=max(1, page_no))
        return page(request, session, "audit.html", found=found, actor_q=actor_q, action=action, target=target,
                    filter_query=urlencode({k: v for k, v in (("actor_q", actor_q), ("action", action),
                                                              ("target", target)) if v}))

    for area in AREAS:
        i18n.extend(getattr(area, "WORDS", {}))
        area.register(api, ui)
    return api


def _safe_next(target: str) -> str:
    """Only a path inside the console (never another site) after sign-in or a language switch."""
    return target if target.startswith("/console") and "//" not in target and "\\" not in target else \
        "/console/dashboard"
