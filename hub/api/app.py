"""The HTTP API: ``create_app(settings)`` wires the store, registry, schema, bus and workers."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import DataError, DBAPIError
from starlette.concurrency import run_in_threadpool

from adapters import module_of
from hub import authz, inbound, payload_views
from hub.api import alarms as alarms_api
from hub.api import cases as cases_api
from hub.api import identity as identity_api
from hub.api import ops_cases, ops_failed, ops_queues, ops_read, ops_tasks
from hub.api import registers as registers_api
from hub.api import reports as reports_api
from hub.api import reports_history as history_api
from hub.api import rules as rules_api
from hub.api.auth import authenticate, setup_auth
from hub.api.common import error_body
from hub.api.guard import admit_input, caller, caller_agency, make_guard
from hub.api.operator_auth import operator_check
from hub.bus.kombu_bus import Bus, make_bus
from hub.bus.topology import build_topology
from hub.canonical import load_schema
from hub.console import data as console_data
from hub.console import web as console_web
from hub.core.model import Agency
from hub.errors import Forbidden, InvalidMessage, Problem, Unauthorised
from hub.registry import load_registry
from hub.service import Hub, SendRefused
from hub.settings import Settings
from hub.store.db import make_engine, utcnow
from hub.workers.groupcommit import GroupCommit
from hub.workers.runtime import Workers

log = logging.getLogger("xianjie.api")
UNAUTHENTICATED_KEEP = 65536  # bytes of a body without credentials kept in quarantine (its size is noted)


def create_app(settings: Settings, *, workers: bool = True, bus: Bus | None = None,
               clock: Callable[[], dt.datetime] | None = None) -> FastAPI:
    """The hub's API; with ``workers`` the relay, deliverers, sweeper and case ledger run in this process too.
    ``clock`` is the deadline clock's time (default: now, UTC); a test passes one it moves on."""
    engine = make_engine(settings.database_url)
    directory = load_registry(settings.registry_path)
    topology = build_topology(broker_url=settings.broker_url, prefix=settings.queue_prefix)
    the_bus = bus or make_bus(settings.broker_url, topology)
    hub = Hub(engine=engine, directory=directory, schema=load_schema())
    runtime: Workers | None = None

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        nonlocal runtime
        if workers:
            runtime = Workers(settings=settings, engine=engine, bus=the_bus, directory=directory, clock=clock)
            hub.on_commit = runtime.wake.set
            runtime.start()
        hub.committer = GroupCommit(engine, directory, on_commit=hub.on_commit)
        try:
            yield
        finally:
            await run_in_threadpool(hub.committer.stop)
            if runtime is not None:
                await run_in_threadpool(runtime.stop)
            the_bus.close()
            engine.dispose()

    # every route is held to its row of hub.authz_routes before its endpoint runs (``who`` is bound below)
    guard = make_guard(engine=engine, directory=directory, who=lambda r: who(r))
    app = FastAPI(title="Xianjie 衔接 — community-corrections data-exchange hub", version="0.1.0",
                  lifespan=lifespan, dependencies=[Depends(guard)])
    app.state.hub = hub
    app.state.settings = settings
    app.state.clock = clock or utcnow
    setup_auth(app, hub=hub, settings=settings)  # keys, client certificates, failed-attempt limit (hub.api.auth)

    def who(request: Request) -> Agency:
        return authenticate(request, directory)

    app.include_router(rules_api.router(engine, who))
    for ops in (ops_failed, ops_tasks, ops_cases, ops_queues, ops_read):  # the operators' actions, for console and API
        app.include_router(ops.router(hub, operator_check(engine, directory, who)))
    app.mount("/console/static", console_web.static_files(), name="console-static")

    @app.middleware("http")
    async def console_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        if request.url.path.startswith("/console") and not request.url.path.startswith("/console/static/"):
            console_web.secure(response)
        return response
    app.include_router(console_web.router(hub, clock=app.state.clock))
    for area in (cases_api, alarms_api, identity_api, registers_api, history_api, reports_api):
        app.include_router(area.router(hub, who))

    async def read_body(request: Request, limit: int) -> tuple[bytes, bool, int]:
        """The body, read as it streams; stops at ``limit`` (returns what was read, at most 64 KiB of it when over,
        True if over, and the size read or declared)."""
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            head = b""
            async for chunk in request.stream():
                head += chunk
                if len(head) > 65536:
                    break
            return head[:65536], True, int(declared)
        parts: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                parts.append(chunk[: max(0, 65536 - (size - len(chunk)))])
                return b"".join(parts), True, size
            parts.append(chunk)
        return b"".join(parts), False, size

    @app.exception_handler(Unauthorised)
    async def _unauth(_r: Request, e: Unauthorised) -> JSONResponse:
        return JSONResponse(error_body("unauthorised", str(e), []), status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(DBAPIError)
    async def _database_away(r: Request, e: DBAPIError) -> JSONResponse:
        if isinstance(e, DataError) and "NUL" in str(e.orig):
            # a text with a NUL character, which PostgreSQL's text columns refuse: the request's fault, not the
            # database's (nothing was stored: the transaction rolled back)
            reason = "a text holds a NUL character (0x00), which cannot be stored: send it without"
            return JSONResponse(error_body("invalid_text", reason, [Problem(reason)]), status_code=400)
        log.error("database error: %s", e.__class__.__name__)
        if r.url.path.startswith("/api/v1/inbound/"):
            # a batch stores its records in chunks: those before the failure may be stored, which a resend finds
            # as duplicates (records are idempotent by the sender's document id)
            message = ("the hub's database is not available; records of this payload stored before it went away "
                       "stay stored; send the whole payload again later")
        else:
            message = "the hub's database is not available; nothing was stored, send again later"
        return JSONResponse(error_body("unavailable", message, []), status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(Forbidden)
    async def _forbidden(_r: Request, e: Forbidden) -> JSONResponse:
        return JSONResponse(error_body("forbidden", str(e), []), status_code=403)

    @app.post("/api/v1/messages", status_code=202, tags=["messages"])
    async def post_message(request: Request) -> Response:
        """Accept one canonical notice: 202 once stored, 200 for a resubmission, 4xx with details otherwise."""
        ctype = request.headers.get("content-type")
        # who sends is known from the headers before the body is read; a blocked address's refusal (429) reads
        # none of it, and an anonymous body is kept up to its first UNAUTHENTICATED_KEEP bytes, with its size
        try:
            agency = who(request)
        except Unauthorised as e:
            raw, over, size = await read_body(request, UNAUTHENTICATED_KEEP)
            qid = await run_in_threadpool(hub.quarantine, raw, agency=None, channel="api", status=401,
                                          code="unauthorised", message=str(e), problems=[Problem(str(e))],
                                          content_type=ctype, size=size, truncated=over)
            return JSONResponse(error_body("unauthorised", str(e), [Problem(str(e))], quarantine_id=qid),
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        raw, over, size = await read_body(request, settings.max_body_bytes)
        if not (admitted := admit_input(request, agency)):
            qid = await run_in_threadpool(hub.quarantine, raw, agency=agency.code, channel="api", status=403,
                                          code="forbidden", message=admitted.reason,
                                          problems=[Problem(admitted.reason)], content_type=ctype, size=size,
                                          truncated=over)
            return JSONResponse(error_body("forbidden", admitted.reason, [Problem(admitted.reason)],
                                           quarantine_id=qid), status_code=403)
        if over:
            reason = f"body of {size} bytes exceeds the limit of {settings.max_body_bytes} bytes"
            qid = await run_in_threadpool(hub.quarantine, raw, agency=agency.code, channel="api", status=413,
                                          code="too_large", message=reason, problems=[Problem(reason)],
                                          content_type=ctype, size=size, truncated=True)
            return JSONResponse(error_body("too_large", reason, [Problem(reason)], quarantine_id=qid),
                                status_code=413)
        try:
            res = await run_in_threadpool(hub.ingest, raw, agency=agency)
        except InvalidMessage as e:
            qid = await run_in_threadpool(hub.quarantine, raw, agency=agency.code, channel="api", status=e.status,
                                          code=e.code, message=e.message, problems=e.problems, content_type=ctype)
            return JSONResponse(error_body(e.code, e.message, e.problems, quarantine_id=qid), status_code=e.status)
        except Forbidden as e:  # the sender's own refusal: kept in quarantine like every other
            code, field = (e.code, e.field) if isinstance(e, SendRefused) else ("sender_mismatch", "sender")
            p = Problem(str(e), path=envelope_path(raw, field))
            qid = await run_in_threadpool(hub.quarantine, raw, agency=agency.code, channel="api", status=403,
                                          code=code, message=str(e), problems=[p], content_type=ctype)
            return JSONResponse(error_body(code, str(e), [p], quarantine_id=qid), status_code=403)
        status_url = str(request.url_for("get_message", message_id=res.message_id))
        return JSONResponse({"message_id": res.message_id, "status_url": status_url, "created": res.created},
                            status_code=202 if res.created else 200)

    @app.post("/api/v1/inbound/{system}", tags=["native inbound"], name="post_native")
    async def post_native(system: str, request: Request, filename: str | None = None) -> Response:
        """Accept a native payload of an agency system (one record or a batch; XML, JSON, CSV or XLSX).

        Every record is translated, validated, routed and stored on its own: 202 when all were accepted
        (200 if all were already known), 207 when some were rejected, 422 when none was accepted, 400 when
        the payload as a whole is unreadable. The body lists each record's outcome; rejected records name
        each problem at its native place (element path, JSON pointer, sheet row and column)."""
        ctype = request.headers.get("content-type")
        agency = who(request)  # from the headers: a refused caller's body is not read
        raw, over, size = await read_body(request, settings.max_native_bytes)
        own = authz.may_send_system(code=agency.code, systems=agency.inbound_systems, system=system)
        if own and not (admitted := admit_input(request, agency)):
            own = admitted
        if module_of(system) is None or not own:
            # kept like every refused input, so an operator can see what the agency tried to send
            known = module_of(system) is not None
            code, status = ("forbidden", 403) if known else ("unknown_system", 404)
            reason = own.reason if known else f"{system} is not an agency system this hub knows"
            qid = await run_in_threadpool(hub.quarantine, raw, agency=agency.code, channel="native-api",
                                          status=status, code=code, message=reason, problems=[Problem(reason)],
                                          content_type=ctype, size=size, truncated=over)
            return JSONResponse(error_body(code, reason, [Problem(reason)], quarantine_id=qid), status_code=status)
        if over:
            reason = f"body of {size} bytes exceeds the limit of {settings.max_native_bytes} bytes"
            qid = await run_in_threadpool(hub.quarantine, raw, agency=agency.code, channel="native-api", status=413,
                                          code="too_large", message=reason, problems=[Problem(reason)],
                                          content_type=ctype, size=size, truncated=True)
            return JSONResponse(error_body("too_large", reason, [Problem(reason)], quarantine_id=qid),
                                status_code=413)
        name = filename or request.headers.get("x-filename")
        if name is not None and "\x00" in name:  # a text column (PostgreSQL's) cannot hold it: refused, kept
            reason = f"the file name has a NUL character at position {name.index(chr(0)) + 1}: name the file without it"
            qid = await run_in_threadpool(hub.quarantine, raw, agency=agency.code, channel="native-api", status=400,
                                          code="bad_filename", message=reason, problems=[Problem(reason, "filename")],
                                          content_type=ctype, size=size)
            return JSONResponse(error_body("bad_filename", reason, [Problem(reason, "filename")], quarantine_id=qid),
                                status_code=400)
        report = await run_in_threadpool(inbound.receive, hub, raw, agency=agency, system=system,
                                         channel="native-api", filename=name, content_type=ctype)
        body = report.as_dict()
        body["status_url"] = str(request.url_for("get_native", payload_id=report.payload_id))
        if report.error is not None:
            body = error_body(report.error.code, report.error.message, report.error.problems) | body
            return JSONResponse(_jsonable(body), status_code=report.error.status)
        if report.rejected:
            status = 207 if report.accepted or report.duplicates else 422
        else:
            status = 202 if report.accepted else 200
        return JSONResponse(_jsonable(body), status_code=status)

    @app.get("/api/v1/inbound/payloads/{payload_id}", tags=["native inbound"], name="get_native")
    async def get_native(payload_id: str, request: Request) -> Response:
        """What became of a native payload and each of its records (the sender's or the operators')."""
        who_asks = caller(request)
        found = await run_in_threadpool(inbound.payload_summary, hub, payload_id)
        if found is None or not authz.decide(who_asks, "native_payload", authz.owned(who_asks.code, found["agency"])):
            return JSONResponse(error_body("not_found", "no such payload for this agency", []), status_code=404)
        return JSONResponse(_jsonable(found))

    @app.get("/api/v1/attachments/{sha256}", tags=["native inbound"])
    async def get_attachment(sha256: str, request: Request) -> Response:
        """A file that came inline (base64) with a native notice, by the SHA-256 its canonical message names;
        for agencies that may read that message."""
        who_asks = caller(request)
        found = await run_in_threadpool(inbound.get_attachment, hub, sha256.lower())

        def may_read(ids: list[str]) -> bool:
            return any(hub.may_read_message(who_asks, i, "attachment") for i in ids)

        if found is None or not await run_in_threadpool(may_read, found[0]):
            return JSONResponse(error_body("not_found", "no such attachment for this agency", []), status_code=404)
        return Response(found[1], media_type="application/octet-stream")

    @app.get("/api/v1/messages/{message_id}", tags=["messages"], name="get_message")
    async def get_message(message_id: str, request: Request) -> Response:
        """Each recipient's state and the message's full timeline: for its sender, the agencies it was routed or
        copied to, and the hub's operators (hub.authz.ACCESS["message"])."""
        if not await run_in_threadpool(hub.may_read_message, caller(request), message_id):
            return JSONResponse(error_body("not_found", "no such message for this agency", []), status_code=404)
        status = await run_in_threadpool(hub.message_status, message_id)
        return JSONResponse(_jsonable(status))

    async def quarantine_entry(qid: str, request: Request) -> dict[str, Any] | None:
        """The entry if the caller may see it: the agency it came from, or the hub's operators."""
        who_asks = caller(request)
        q = await run_in_threadpool(hub.get_quarantine, qid)
        if q is None or not authz.decide(who_asks, "quarantine", authz.owned(who_asks.code, q["agency"])):
            return None
        return q

    async def operator_view(request: Request, q: dict[str, Any], reason: str | None, part: str) -> Response | None:
        """An agency reads its own rejected input with its key freely; the hub's operators read an input only for a
        stated ``reason``, put on the record as ``view_payload`` before the bytes are shown (422 without it)."""
        who_asks = caller(request)
        if who_asks.by_key and q["agency"] == who_asks.code:
            return None
        try:
            why = payload_views.from_api(reason)
        except payload_views.ReasonRefused as e:
            return JSONResponse(error_body(e.code_, e.message, e.problems), status_code=e.status)
        shown = [payload_views.part(part, bytes(q["raw"]))]
        await run_in_threadpool(lambda: payload_views.record(
            hub.engine, actor=who_asks.actor, target=f"quarantine:{q['id']}", reason=why, shown=shown,
            channel="api", code=q["code"]))
        return None

    @app.get("/api/v1/quarantine/{qid}", tags=["quarantine"])
    async def get_quarantine(qid: str, request: Request, reason: str | None = None) -> Response:
        """A rejected input: the reasons, and the raw bytes exactly as received (base64) and as text. The hub's
        operators give a ``reason`` to read another agency's input (audited as ``view_payload``)."""
        q = await quarantine_entry(qid, request)
        if q is None:
            return JSONResponse(error_body("not_found", "no such quarantine entry for this agency", []),
                                status_code=404)
        if (refused := await operator_view(request, q, reason, "raw")) is not None:
            return refused
        raw = bytes(q.pop("raw"))
        q["raw_base64"] = base64.b64encode(raw).decode()
        q["raw_text"] = readable(raw)
        return JSONResponse(_jsonable(q))

    @app.get("/api/v1/quarantine/{qid}/raw", tags=["quarantine"])
    async def get_quarantine_raw(qid: str, request: Request, reason: str | None = None) -> Response:
        q = await quarantine_entry(qid, request)
        if q is None:
            return JSONResponse(error_body("not_found", "no such quarantine entry", []), status_code=404)
        if (refused := await operator_view(request, q, reason, "raw")) is not None:
            return refused
        return Response(bytes(q["raw"]), media_type="application/octet-stream")

    @app.get("/api/v1/inbox", tags=["inbox"])
    async def get_inbox(request: Request, limit: int = 100, after: int = 0) -> Response:
        """The authenticated agency's pull inbox in hub order (items after ``seq`` ``after``); fetched items count
        as delivered and stay until acknowledged."""
        agency = caller_agency(request, directory)
        items = await run_in_threadpool(hub.inbox, agency, limit=max(1, min(limit, 500)), after=max(0, after))
        return JSONResponse({"items": items})

    @app.post("/api/v1/inbox/{delivery_id}/ack", tags=["inbox"])
    async def ack_inbox(delivery_id: str, request: Request) -> Response:
        agency = caller_agency(request, directory)
        changed = await run_in_threadpool(hub.inbox_ack, agency, delivery_id)
        if changed is None:
            return JSONResponse(error_body("not_found", "no such inbox item for this agency", []), status_code=404)
        return JSONResponse({"delivery_id": delivery_id, "acknowledged": True, "changed": changed})

    @app.get("/api/v1/failed-transfers", tags=["failed transfers"])
    async def list_failed(request: Request, limit: int = 100, offset: int = 0) -> Response:
        """Failed transfers with their cause, oldest first; they never expire. Filters: ``status`` (open,
        retrying, resolved, any), ``cause``, ``recipient``, ``agency`` (sender or recipient), ``message_type``,
        ``age`` (lt1d, 1to3d, 3to7d, gt7d), ``q`` (a person's name, ID number or case number)."""
        scope = caller(request).scope
        found = await run_in_threadpool(console_data.failed_list, engine,
                                        console_data.FailedFilter.of(dict(request.query_params)), scope=scope,
                                        now=app.state.clock(), limit=max(1, min(limit, 1000)), offset=max(0, offset))
        return JSONResponse(_jsonable(found))

    @app.post("/api/v1/failed-transfers/{ft_id}/retry", tags=["failed transfers"])
    async def retry_failed(ft_id: str, request: Request) -> Response:
        """Send again (after the recipient or the registry is fixed)."""
        by, scope = caller(request).actor, caller(request).scope
        if scope is not None and await run_in_threadpool(console_data.failed_one, engine, ft_id, scope=scope,
                                                         now=app.state.clock()) is None:
            return JSONResponse(error_body("not_found", "no such failed transfer", []), status_code=404)
        res = await run_in_threadpool(hub.retry_failed_transfer, ft_id, actor=by)
        if res is None:
            return JSONResponse(error_body("not_found", "no such failed transfer", []), status_code=404)
        return JSONResponse(res, status_code=202)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> Response:
        def check() -> dict[str, str]:
            out = {}
            try:
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                out["database"] = "ok"
            except Exception as e:
                out["database"] = f"unreachable: {type(e).__name__}"
            out["broker"] = "ok" if the_bus.ping() else "unreachable"  # the database queue answers with the database
            return out

        res = await run_in_threadpool(check)
        ok = all(v == "ok" for v in res.values())
        return JSONResponse({"status": "ready" if ok else "not ready", **res}, status_code=200 if ok else 503)

    return app


def readable(raw: bytes) -> str:
    """Raw bytes as text for an operator: UTF-8 if they are, else GB18030 if they are, else UTF-8 with
    replacement characters."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace")


def envelope_path(raw: bytes, field: str = "sender") -> str:
    """Where an envelope field sits, by element names (the body already parsed once, so this is safe)."""
    from hub.canonical import element_path, parse_tree

    root = parse_tree(raw).getroot()
    node = root.find(f"{{urn:xianjie:canonical:v1}}envelope/{{urn:xianjie:canonical:v1}}{field}")
    return element_path(node) if node is not None else f"/*/x:envelope/x:{field}"


def _jsonable(value: Any) -> Any:
    import datetime as dt

    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value
