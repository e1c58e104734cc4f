"""TLS for ``xianjie serve``: the server's certificate, client certificates checked against a CA, and the verified
client certificate handed to the app, whether the hub terminates TLS itself or a trusted proxy does.

Uvicorn (0.54) does not put the peer's certificate in the ASGI scope. The hub's protocol classes below subclass
uvicorn's and, when a connection is made (after the TLS handshake), wrap the connection's app so that each of its
requests carries ``scope["extensions"]["tls"]`` as the ASGI TLS extension (0.2) describes it (``client_cert_chain``:
the verified client certificate, PEM; uvicorn already refused the handshake of a certificate the CA did not sign),
plus ``scope["extensions"]["xianjie.peer"]``: the address the connection came from, before uvicorn's proxy-header
middleware replaces the client with the one named in ``X-Forwarded-For``.

Behind a TLS-terminating proxy the certificate comes in ``Settings.client_cert_header`` (PEM, URL-escaped as
nginx's ``$ssl_client_escaped_cert`` gives it, or base64 DER), taken only from a connection whose address is among
``Settings.trusted_proxies``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import functools
import hashlib
import ipaddress
import ssl
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from hub.settings import Settings

if TYPE_CHECKING:  # the command line reads this module's flags without loading the web stack
    import asyncio

    from fastapi import Request
    from uvicorn._types import ASGI3Application, ASGIReceiveCallable, ASGISendCallable, Scope

PEER = "xianjie.peer"
CLIENT_CERT_MODES = ("optional", "required")
_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


def connection_extensions(transport: asyncio.BaseTransport) -> dict[str, Any]:
    """What the app learns about a connection: its peer address and, over TLS, the verified client certificate."""
    peer = transport.get_extra_info("peername")
    ext: dict[str, Any] = {PEER: {"host": peer[0] if isinstance(peer, tuple) and peer else None}}
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is not None:
        der = ssl_object.getpeercert(binary_form=True)
        ext["tls"] = {"server_cert": None, "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
                      "client_cert_name": None, "client_cert_error": None,
                      "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""), "cipher_suite": None}
    return ext


class _WithConnection:
    """The app of one connection: every request's scope gets the connection's extensions."""

    def __init__(self, app: ASGI3Application, extensions: dict[str, Any]) -> None:
        self.app = app
        self.extensions = extensions

    async def __call__(self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        if scope["type"] in ("http", "websocket"):
            scope["extensions"] = {**(scope.get("extensions") or {}), **self.extensions}
        await self.app(scope, receive, send)


@functools.cache
def connection_protocol() -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools, as uvicorn's "auto" picks), telling the app about each connection
    (``connection_extensions``) once it is made."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class ConnectionProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self.app = _WithConnection(self.app, connection_extensions(transport))

    return ConnectionProtocol


def check(settings: Settings) -> None:
    """ValueError naming the setting when the TLS settings do not make sense together or a file is missing."""
    if settings.tls_client_cert not in CLIENT_CERT_MODES:
        raise ValueError(f"XIANJIE_TLS_CLIENT_CERT is optional or required, not {settings.tls_client_cert!r}")
    if settings.tls_cert is None and (settings.tls_key is not None or settings.tls_client_ca is not None):
        raise ValueError("--tls-key and --tls-client-ca (XIANJIE_TLS_KEY, XIANJIE_TLS_CLIENT_CA) need --tls-cert")
    for name in ("tls_cert", "tls_key", "tls_client_ca"):
        path: Path | None = getattr(settings, name)
        if path is not None and not path.is_file():
            raise ValueError(f"--{name.replace('_', '-')} {path}: no such file")
    trusted_networks(settings.trusted_proxies)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of ``uvicorn.run``/``uvicorn.Config`` that serve the hub as ``settings`` say: the
    connection-aware protocol, whose ``X-Forwarded-For`` to believe, and TLS with client certificates."""
    check(settings)
    opts: dict[str, Any] = {"http": connection_protocol(), "proxy_headers": bool(settings.trusted_proxies)}
    if settings.trusted_proxies:
        opts["forwarded_allow_ips"] = list(settings.trusted_proxies)
    if settings.tls_cert is not None:
        opts["ssl_certfile"] = str(settings.tls_cert)
        if settings.tls_key is not None:
            opts["ssl_keyfile"] = str(settings.tls_key)
        if settings.tls_client_ca is not None:
            opts["ssl_ca_certs"] = str(settings.tls_client_ca)
            opts["ssl_cert_reqs"] = ssl.CERT_REQUIRED if settings.tls_client_cert == "required" else ssl.CERT_OPTIONAL
    return opts


def add_serve_flags(parser: argparse.ArgumentParser) -> None:
    """``xianjie serve``'s TLS flags (each overrides its XIANJIE_* variable)."""
    parser.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM; XIANJIE_TLS_CERT)")
    parser.add_argument("--tls-key", help="its private key (PEM), unless it is in --tls-cert (XIANJIE_TLS_KEY)")
    parser.add_argument("--tls-client-ca", help="verify client certificates against these CA certificates (PEM; "
                                                "XIANJIE_TLS_CLIENT_CA)")
    parser.add_argument("--tls-client-cert", choices=CLIENT_CERT_MODES,
                        help="optional (default): a client may present a certificate; required: the TLS handshake "
                             "fails without one (XIANJIE_TLS_CLIENT_CERT)")


def apply_serve_flags(settings: Settings, args: argparse.Namespace) -> Settings:
    """``settings`` with the TLS flags given on the command line."""
    changes: dict[str, Any] = {}
    for name in ("tls_cert", "tls_key", "tls_client_ca"):
        if getattr(args, name, None):
            changes[name] = Path(getattr(args, name))
    if getattr(args, "tls_client_cert", None):
        changes["tls_client_cert"] = args.tls_client_cert
    return replace(settings, **changes)


# ---- on a request ----------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def trusted_networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None:
    """The trusted proxies as networks (None: ``*``, any address); ValueError naming an entry that is neither."""
    if "*" in entries:
        return None
    out = []
    for entry in entries:
        try:
            out.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as e:
            raise ValueError(f"XIANJIE_TRUSTED_PROXIES: {entry!r} is not an address or a network ({e})") from e
    return tuple(out)


def is_trusted_proxy(host: str | None, settings: Settings) -> bool:
    if not host or not settings.trusted_proxies:
        return False
    networks = trusted_networks(settings.trusted_proxies)
    if networks is None:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in n for n in networks)


def peer_host(request: Request) -> str | None:
    """The address the connection came from (a proxy's, behind one), not the client ``X-Forwarded-For`` names."""
    peer = (request.scope.get("extensions") or {}).get(PEER)
    if peer is not None:
        return peer.get("host")  # type: ignore[no-any-return]
    return request.client.host if request.client else None


def client_host(request: Request) -> str:
    """The client's address as the hub names it in logs and counts failures by: uvicorn's, which follows
    ``X-Forwarded-For`` only from a trusted proxy."""
    return request.client.host if request.client else "unknown"


def der_from_header(value: str) -> bytes | None:
    """A certificate's DER from a proxy's header: PEM (URL-escaped or not), or base64 DER; None if unreadable."""
    text = unquote(value).strip()
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    if begin in text:
        text = text[text.index(begin) + len(begin):text.index(end) if end in text else len(text)]
    try:
        der = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    return der if der[:1] == b"\x30" else None  # an X.509 certificate is a DER SEQUENCE


def client_certificate(request: Request, settings: Settings) -> tuple[str | None, str | None]:
    """The SHA-256 fingerprint (lowercase hex) of the client's verified certificate, if it presented one, and the
    problem with what was presented instead (a header from an untrusted address, an unreadable header)."""
    tls = (request.scope.get("extensions") or {}).get("tls")
    if tls and tls.get("client_cert_chain"):
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(tls["client_cert_chain"][0])).hexdigest(), None
    if not settings.client_cert_header:
        return None, None
    value = request.headers.get(settings.client_cert_header)
    if not value:
        return None, None
    peer = peer_host(request)
    if not is_trusted_proxy(peer, settings):
        return None, (f"a client certificate in {settings.client_cert_header} from {peer}, which is not a trusted "
                      f"proxy (XIANJIE_TRUSTED_PROXIES)")
    der = der_from_header(value)
    if der is None:
        return None, f"the client certificate in {settings.client_cert_header} is not a readable certificate"
    return hashlib.sha256(der).hexdigest(), None
