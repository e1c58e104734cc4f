"""Agency authentication: an API key (``Authorization: Bearer <key>`` or ``X-Api-Key``), a verified TLS client
certificate whose fingerprint the registry names, or both, as the agency's ``client_auth`` says (key, cert,
cert+key). Keys are compared by hash (hub.api_keys); every failure is logged on ``xianjie.auth`` with the client's
address, the key's public id when there is one, and the reason (never the key). Too many failures from one
address block that address's failing requests (429 without a look at their body, hub.auth_limit); correct
credentials still pass, so that one client behind a shared NAT or proxy cannot shut the others out. See
docs/security-keys.md.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from hub.api import tls
from hub.api.common import error_body
from hub.api_keys import REGISTRY as REGISTRY_KEY
from hub.api_keys import KeyStore
from hub.auth_limit import SharedFailureLimiter, TooManyAttempts, configure
from hub.core.model import Agency, Directory
from hub.errors import Unauthorised
from hub.service import Hub
from hub.settings import Settings
from hub.store.db import utcnow

log = logging.getLogger("xianjie.auth")
REALM = "api"


class _Refusal(Exception):
    """Why a request's credentials are refused: ``reason`` for the log, ``message`` for the client. Every refusal
    counts towards the address's block, a request without any credential too (each such request to an input is
    kept in quarantine, so an unlimited stream of them would fill it)."""

    def __init__(self, reason: str, message: str, *, key_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.message, self.key_id = reason, message, key_id


class AgencyAuth:
    """Who an API request comes from, for one app: its key store, failure limiter, settings and clock."""

    def __init__(self, *, keys: KeyStore, limiter: SharedFailureLimiter, settings: Settings,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.keys = keys
        self.limiter = limiter
        self.settings = settings
        self.clock = clock

    def authenticate(self, request: Request, directory: Directory) -> Agency:
        """The agency the request's credentials identify; Unauthorised if they identify none, TooManyAttempts
        instead while the client's address is blocked. Only headers are read: an endpoint calls this before it
        reads a body.

        A blocked address is refused its failing requests, and its requests with a registry bootstrap key (which
        may be any text someone typed, so guessing it must stay slow); an issued key (256 bits of randomness, which
        no number of guesses finds) or a registered client certificate is still served, so that one client behind a
        shared NAT, or a proxy not listed as trusted, cannot shut out every agency behind it."""
        client = tls.client_host(request)
        key = request.headers.get("x-api-key")
        header = request.headers.get("authorization", "")
        if not key and header.lower().startswith("bearer "):
            key = header[7:].strip()
        now = self.clock()
        try:
            agency, key_id = self._identify(request, directory, key or None, now)
        except _Refusal as r:
            wait = self.limiter.blocked_for(REALM, client)
            if wait:
                log.warning("agency authentication refused: client=%s blocked for %ds more after repeated failures "
                            "(reason=%s)", client, wait, r.reason)
                raise TooManyAttempts(wait, f"too many failed authentications from {client}; try again in {wait} s "
                                            f"(this one: {r.message})") from None
            self._failed(request, client, r)
            raise Unauthorised(r.message) from None
        if key_id is not None and key_id.startswith(REGISTRY_KEY):
            wait = self.limiter.blocked_for(REALM, client)
            if wait:  # a bootstrap key may be guessable: no answer tells a blocked address whether it was right
                log.warning("agency authentication refused: client=%s blocked for %ds more after repeated failures "
                            "(a registry key, not served during a block)", client, wait)
                raise TooManyAttempts(wait, f"too many failed authentications from {client}; try again in {wait} s")
        if key and key_id is not None:
            self.keys.touch(key_id, agency=agency, key=key, now=now)
        return agency

    def _identify(self, request: Request, directory: Directory, key: str | None,
                  now: dt.datetime) -> tuple[Agency, str | None]:
        fingerprint, problem = tls.client_certificate(request, self.settings)
        if problem is not None:
            raise _Refusal(problem, problem)
        by_cert: Agency | None = None
        if fingerprint is not None:
            by_cert = directory.by_cert_fingerprint(fingerprint)
            if by_cert is None:
                raise _Refusal(f"unknown client certificate sha256={fingerprint}",
                               "the client certificate is not registered for any agency")
            if self.keys.cert_revoked(fingerprint):
                raise _Refusal(f"revoked client certificate sha256={fingerprint} of {by_cert.code}",
                               "the client certificate is revoked", key_id=f"crt-{fingerprint[:32]}")
        if key is None:
            if by_cert is None:
                raise _Refusal("no credentials", "no API key: send 'Authorization: Bearer <key>'")
            if by_cert.client_auth != "cert":
                raise _Refusal(f"certificate of {by_cert.code} without its API key",
                               f"agency {by_cert.code} authenticates with its API key as well as its certificate")
            return by_cert, None
        found = self.keys.check(key, directory=directory, now=now)
        if found.agency is None:
            raise _Refusal(found.reason or "unknown key",
                           "unknown API key" if found.reason == "unknown key" else f"API key refused: {found.reason}",
                           key_id=found.key_id)
        agency = found.agency
        if by_cert is not None and by_cert.code != agency.code:
            raise _Refusal(f"key of {agency.code} with the certificate of {by_cert.code}",
                           "the API key and the client certificate belong to different agencies", key_id=found.key_id)
        if by_cert is None and agency.client_auth != "key":
            raise _Refusal(f"key of {agency.code} without its client certificate",
                           f"agency {agency.code} must present its TLS client certificate", key_id=found.key_id)
        return agency, found.key_id

    def _failed(self, request: Request, client: str, r: _Refusal) -> None:
        log.warning("agency authentication failed: client=%s key_id=%s reason=%s path=%s",
                    client, r.key_id or "-", r.reason, request.url.path)
        block = self.limiter.failed(REALM, client, {"last_reason": r.reason, "key_id": r.key_id})
        if block:  # audited by the limiter's sync (once, whichever process starts the block)
            log.warning("agency authentication: client=%s blocked for %ds after %d failures within %gs",
                        client, block, self.limiter.max_failures, self.limiter.window)
        if self.limiter.waiting:  # shared with the hub's other processes beside the request, not before its answer
            self.keys.background(self.limiter.sync)


def authenticate(request: Request, directory: Directory) -> Agency:
    """The agency whose credentials the request carries (see ``AgencyAuth.authenticate``)."""
    guard: AgencyAuth = request.app.state.agency_auth
    return guard.authenticate(request, directory)


def _too_many(_r: Request, e: Exception) -> JSONResponse:
    assert isinstance(e, TooManyAttempts)
    return JSONResponse(error_body("too_many_attempts", str(e), []), status_code=429,
                        headers={"Retry-After": str(e.retry_after)})


def setup_auth(app: FastAPI, *, hub: Hub, settings: Settings) -> AgencyAuth:
    """Give ``app`` its agency authentication (``app.state.agency_auth``; keys expire by ``app.state.clock``) and
    the 429 answer of a blocked address."""

    def clock() -> dt.datetime:
        now: dt.datetime = getattr(app.state, "clock", utcnow)()
        return now

    guard = AgencyAuth(keys=KeyStore(hub.engine, cache_seconds=settings.api_key_cache_seconds),
                       limiter=configure(hub.engine, max_failures=settings.auth_max_failures,
                                         window=settings.auth_window_seconds, block=settings.auth_block_seconds),
                       settings=settings, clock=clock)
    app.state.agency_auth = guard
    app.add_exception_handler(TooManyAttempts, _too_many)
    return guard
