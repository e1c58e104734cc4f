"""What every console page shares: rendering a template in the operator's language, the sign-in gate with its
role and CSRF checks, refusals, agency names. An area of the console (``hub.console.pages_*``) gets one
``Console`` and adds its routes with ``register(api, ui)``."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from hub.authz_routes import policy_of
from hub.console.i18n import translate
from hub.console.permissions import may
from hub.console.session import csrf_ok, current, scope_of
from hub.core.idnumber import masked_id_number
from hub.operators import ROLES, Session
from hub.service import Hub

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))


def _local(value: dt.datetime | None) -> str:
    """A time as Beijing time, to the minute."""
    if value is None:
        return ""
    return value.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")


templates.env.filters["local"] = _local
templates.env.filters["masked_id"] = masked_id_number  # list pages: the person's own page shows the number whole


@dataclasses.dataclass
class Console:
    hub: Hub
    clock: Callable[[], dt.datetime]

    @property
    def engine(self) -> Any:
        return self.hub.engine

    @property
    def directory(self) -> Any:
        return self.hub.directory

    def agency_name(self, code: str | None) -> str:
        a = self.directory.agencies.get(code or "")
        return f"{a.name}（{code}）" if a is not None else (code or "")

    def scope(self, session: Session) -> str | None:
        """The agency the operator is limited to (None: every agency)."""
        return scope_of(session, self.directory)

    def page(self, request: Request, session: Session | None, name: str, status: int = 200,
             **context: Any) -> HTMLResponse:
        """``name`` rendered in the session's language (before sign-in: the language cookie's)."""
        lang = session.lang if session else request.cookies.get("xianjie_lang", "zh")

        def t(key: str, **values: object) -> str:
            return translate(lang, key, **values)

        def can(action: str) -> bool:
            return session is not None and may(session.operator, action)

        return templates.TemplateResponse(request, name, {
            "t": t, "lang": lang, "session": session, "can": can, "agency_name": self.agency_name,
            "roles": ROLES, "path": request.url.path, "query": request.url.query, **context}, status_code=status)

    def refused(self, request: Request, session: Session | None, key: str, status: int) -> HTMLResponse:
        """A page that says why (``key`` in the catalogue), with ``status``."""
        return self.page(request, session, "message.html", status=status, message_key=key)

    async def signed_in(self, request: Request) -> Session | None:
        return await run_in_threadpool(current, request, self.engine)

    async def before_form(self, request: Request) -> Response | None:
        """The sign-in page when no one is signed in, so that a form's body is not read for a stranger."""
        if await self.signed_in(request) is None:
            return RedirectResponse(f"/console/signin?{urlencode({'next': request.url.path})}", status_code=303)
        return None

    async def gate(self, request: Request, action: str, csrf: str | None = None) -> Session | Response:
        """The session if the role may take the action the page's row in ``hub.authz_routes.ROUTES`` names, and
        ``action`` (a page may ask for more than its row), and, for a form, its CSRF token is right; else the
        sign-in page or a refusal. A page without a row is refused to everyone."""
        session = await self.signed_in(request)
        if session is None:
            return RedirectResponse(f"/console/signin?{urlencode({'next': request.url.path})}", status_code=303)
        if request.method == "POST" and not csrf_ok(session, csrf):
            return self.refused(request, session, "err.csrf", 403)
        row = policy_of(request.method, getattr(request.scope.get("route"), "path", ""))
        if row is None or row.console is None or not may(session.operator, row.console) \
                or not may(session.operator, action):
            return self.refused(request, session, "err.forbidden", 403)
        return session


def diff_rows(diff: str) -> list[dict[str, str]]:
    """A unified diff's lines, each with its kind (file, hunk, add, del, ctx) for the stylesheet to colour."""
    def kind(line: str) -> str:
        if line.startswith(("+++", "---")):
            return "file"
        return {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "ctx")

    return [{"kind": kind(line), "text": line} for line in diff.splitlines()]
