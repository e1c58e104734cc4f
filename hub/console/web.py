"""The console's pages at ``/console``: server-rendered (Jinja2), plain forms, every asset served by the hub.

Each page reads through ``hub.console.data`` with the operator's scope, and each action goes through the same
function the operator API calls, after the same role check (``hub.console.permissions``) and the session's CSRF
token. A refused action is a page that says why, with status 403.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from hub import operators
from hub.console import data
from hub.console.i18n import translate
from hub.console.permissions import may
from hub.console.session import COOKIE, actor, csrf_ok, current, scope_of
from hub.core.routing import MESSAGE_TYPES
from hub.operators import ROLES, Session
from hub.service import Hub

HERE = Path(__file__).parent
SIGNIN_COOKIE = "xianjie_signin"  # the sign-in form's CSRF value, before there is a session
templates = Jinja2Templates(directory=str(HERE / "templates"))


def static_files() -> StaticFiles:
    return StaticFiles(directory=str(HERE / "static"))


def _local(value: dt.datetime | None) -> str:
    """A time as Beijing time, to the minute."""
    if value is None:
        return ""
    return value.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")


templates.env.filters["local"] = _local


def router(hub: Hub, *, clock: Callable[[], dt.datetime]) -> APIRouter:
    api = APIRouter(prefix="/console", include_in_schema=False)
    engine, directory = hub.engine, hub.directory

    def agency_name(code: str | None) -> str:
        a = directory.agencies.get(code or "")
        return f"{a.name}（{code}）" if a is not None else (code or "")

    def page(request: Request, session: Session | None, name: str, status: int = 200,
             **context: Any) -> HTMLResponse:
        lang = session.lang if session else request.cookies.get("xianjie_lang", "zh")

        def t(key: str, **values: object) -> str:
            return translate(lang, key, **values)

        def can(action: str) -> bool:
            return session is not None and may(session.operator, action)

        return templates.TemplateResponse(request, name, {
            "t": t, "lang": lang, "session": session, "can": can, "agency_name": agency_name,
            "roles": ROLES, "path": request.url.path, "query": request.url.query, **context}, status_code=status)

    def refused(request: Request, session: Session | None, key: str, status: int) -> HTMLResponse:
        return page(request, session, "message.html", status=status, message_key=key)

    async def signed_in(request: Request) -> Session | None:
        return await run_in_threadpool(current, request, engine)

    def to_signin(request: Request) -> RedirectResponse:
        return RedirectResponse(f"/console/signin?{urlencode({'next': request.url.path})}", status_code=303)

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

    async def gate(request: Request, action: str, csrf: str | None = None) -> Session | Response:
        """The session if the role may take ``action`` (and, for a form, its CSRF token is right); else the
        sign-in page or a refusal."""
        session = await signed_in(request)
        if session is None:
            return to_signin(request)
        if request.method == "POST" and not csrf_ok(session, csrf):
            return refused(request, session, "err.csrf", 403)
        if not may(session.operator, action):
            return refused(request, session, "err.forbidden", 403)
        return session

    @api.get("/dashboard", response_class=HTMLResponse)
    async def dashboard(request: Request) -> Response:
        session = await gate(request, "view")
        if not isinstance(session, Session):
            return session
        figures = await run_in_threadpool(data.dashboard, engine, scope=scope_of(session, directory), now=clock())
        flows = [{"label": agency_name(r["agency"]), "sent": r["sent"], "received": r["received"]}
                 for r in figures["flows"]]
        obligation_rows = [{"label": agency_name(code), **counts} for code, counts in figures["obligations"].items()]
        return page(request, session, "dashboard.html", d=figures, flows=flows, obligation_rows=obligation_rows,
                    ages=list(data.AGES), causes=data.CAUSES)

    @api.get("/failed", response_class=HTMLResponse)
    async def failed(request: Request, page_no: int = 1) -> Response:
        session = await gate(request, "view")
        if not isinstance(session, Session):
            return session
        f = data.FailedFilter.of(dict(request.query_params))
        page_no = max(1, page_no)
        found = await run_in_threadpool(data.failed_list, engine, f, scope=scope_of(session, directory),
                                        now=clock(), limit=data.PAGE, offset=(page_no - 1) * data.PAGE)
        pages = max(1, -(-found["total"] // data.PAGE))
        agencies = sorted(directory.agencies)
        return page(request, session, "failed_list.html", f=f, found=found, page_no=page_no, pages=pages,
                    agencies=agencies, causes=data.CAUSES, ages=list(data.AGES), statuses=data.STATUSES,
                    message_types=sorted(_message_types()), filter_query=urlencode(f.query()))

    async def one_failed(request: Request, ft_id: str, action: str,
                         csrf: str | None = None) -> tuple[Session, dict[str, Any]] | Response:
        """The session and the failed transfer, when the role may take ``action`` and the transfer is in the
        operator's scope; else the page that says why."""
        session = await gate(request, action, csrf)
        if not isinstance(session, Session):
            return session
        ft = await run_in_threadpool(data.failed_one, engine, ft_id, scope=scope_of(session, directory),
                                     now=clock())
        if ft is None:
            return refused(request, session, "err.not_found", 404)
        return session, ft

    @api.get("/failed/{ft_id}", response_class=HTMLResponse)
    async def failed_detail(request: Request, ft_id: str, done: str = "") -> Response:
        found = await one_failed(request, ft_id, "view")
        if not isinstance(found, tuple):
            return found
        session, ft = found
        return page(request, session, "failed_detail.html", ft=ft, done=done)

    @api.post("/failed/{ft_id}/retry")
    async def failed_retry(request: Request, ft_id: str, csrf: str = Form(""), reason: str = Form("")) -> Response:
        found = await one_failed(request, ft_id, "retry", csrf)
        if not isinstance(found, tuple):
            return found
        session, _ = found
        await run_in_threadpool(hub.retry_failed_transfer, ft_id, actor=actor(session), reason=reason or None)
        return RedirectResponse(f"/console/failed/{ft_id}?done=retried", status_code=303)

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

    return api


def _safe_next(target: str) -> str:
    """Only a path inside the console (never another site) after sign-in or a language switch."""
    return target if target.startswith("/console") and "//" not in target and "\\" not in target else \
        "/console/dashboard"


def _message_types() -> set[str]:
    return set(MESSAGE_TYPES)
