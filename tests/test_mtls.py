"""Mutual TLS (hub.api.tls, hub.api.auth): a verified client certificate whose SHA-256 fingerprint the registry names
identifies its agency, with or without the agency's API key as the registry says; an unknown certificate is 401; no
certificate is 401 or a refused handshake as the hub is configured; a TLS-terminating proxy's certificate header is
believed only from a trusted proxy's address. Real TLS servers (uvicorn, as ``xianjie serve`` runs it), certificates
made by the openssl command, httpx with a client certificate."""

from __future__ import annotations

import base64
import os
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from hub import api_keys
from hub.api import tls
from hub.api.app import create_app
from hub.migrate import upgrade
from hub.registry import fingerprint_of, load_registry
from hub.settings import Settings
from hub.store.db import make_engine
from hub.store.schema import audit_log
from tests.conftest import Stack
from tests.harness import api_key, auth, notice, wait_until, write_registry
from tests.hubserver import env_for, hub_settings

FY, GA, SF = "530502FY", "530502GA", "530502SF"  # a certificate alone; certificate and key; a key alone


@dataclass(frozen=True)
class Pki:
    folder: Path

    def pem(self, name: str) -> Path:
        return self.folder / f"{name}.pem"

    def key(self, name: str) -> Path:
        return self.folder / f"{name}.key"

    def fingerprint(self, name: str) -> str:
        """As an operator reads it for the registry: ``openssl x509 -noout -fingerprint -sha256``."""
        out = subprocess.run(["openssl", "x509", "-in", str(self.pem(name)), "-noout", "-fingerprint", "-sha256"],
                             check=True, capture_output=True, text=True).stdout
        return out.strip().split("=", 1)[1]  # AB:CD:…

    def client(self, name: str | None) -> ssl.SSLContext:
        """A client context trusting the hub's CA and presenting ``name``'s certificate (None: none)."""
        ctx = ssl.create_default_context(cafile=str(self.pem("ca")))
        if name is not None:
            ctx.load_cert_chain(str(self.pem(name)), str(self.key(name)))
        return ctx


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _make_pki(folder: Path) -> Pki:
    """A CA, the hub's server certificate for 127.0.0.1, client certificates court/police (registered), stranger
    (same CA, registered nowhere), and rogue (another CA)."""
    pki = Pki(folder)

    def ca(name: str) -> None:
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                 "-keyout", str(pki.key(name)), "-out", str(pki.pem(name)), "-subj", f"/CN=Xianjie test {name}",
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")

    def leaf(name: str, issuer: str, cn: str, ext: str) -> None:
        csr = folder / f"{name}.csr"
        _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", str(pki.key(name)), "-out", str(csr), "-subj", f"/CN={cn}")
        extfile = folder / f"{name}.ext"
        extfile.write_text(ext)
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(pki.pem(issuer)), "-CAkey", str(pki.key(issuer)),
                 "-CAcreateserial", "-days", "2", "-out", str(pki.pem(name)), "-extfile", str(extfile))

    ca("ca")
    ca("rogue-ca")
    leaf("server", "ca", "127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    for name in ("court", "police", "stranger"):
        leaf(name, "ca", f"{name} system", "extendedKeyUsage=clientAuth\n")
    leaf("rogue", "rogue-ca", "rogue system", "extendedKeyUsage=clientAuth\n")
    return pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return _make_pki(tmp_path_factory.mktemp("pki"))


def mtls_registry(path: Path, pki: Pki) -> Path:
    """The test registry, with the court identified by its certificate alone and the police by certificate and key
    (the default once fingerprints are registered); the bureau uses its key alone."""
    write_registry(path, recipients_url="http://127.0.0.1:9", drop_root=path.parent / "drop")
    text = path.read_text()
    for code, extra in ((FY, f'client_cert_sha256 = ["{pki.fingerprint("court")}"]\nclient_auth = "cert"'),
                        (GA, f'client_cert_sha256 = "{pki.fingerprint("police").lower()}"')):
        text = text.replace(f'code = "{code}"\n', f'code = "{code}"\n{extra}\n', 1)
    path.write_text(text)
    return path


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """The hub's API served in a thread the way ``xianjie serve`` serves it (``tls.uvicorn_options``); its URL."""
    upgrade(settings.database_url)
    app = create_app(settings, workers=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_level="warning",
                                           lifespan="on", **tls.uvicorn_options(settings)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        assert time.time() < deadline and thread.is_alive(), "the hub did not start"
        time.sleep(0.05)
    try:
        yield f"{'https' if settings.tls_cert else 'http'}://127.0.0.1:{settings.port}"
    finally:
        server.should_exit = True
        thread.join(30)


def post_notice(c: httpx.Client, headers: dict[str, str] | None = None) -> httpx.Response:
    """A court's notice (sender 530502FY): 202 only for a caller identified as that court."""
    _, xml = notice("SentencingDecision")
    return c.post("/api/v1/messages", content=xml, headers={"Content-Type": "application/xml", **(headers or {})})


def message(r: httpx.Response) -> str:
    return str(r.json()["error"]["message"])


def test_a_registered_client_certificate_identifies_its_agency(stack: Stack, pki: Pki, tmp_path: Path) -> None:
    registry = mtls_registry(tmp_path / "agencies.toml", pki)
    s = hub_settings(database_url=stack.database_url, broker_url=stack.broker_url, registry_path=registry,
                     queue_prefix=stack.queue_prefix, tls_cert=pki.pem("server"), tls_key=pki.key("server"),
                     tls_client_ca=pki.pem("ca"), api_key_cache_seconds=0.0)
    with serve(s) as url:
        def client(cert: str | None) -> httpx.Client:
            return httpx.Client(base_url=url, verify=pki.client(cert), timeout=30)

        # Given the court's certificate (its registry entry: the certificate alone)
        with client("court") as c:
            # Then it is the court, with no key: its notice is accepted; the police's notice would not be its own
            r = post_notice(c)
            assert r.status_code == 202, r.text
            assert c.get("/api/v1/inbox").status_code == 200
            # and a key sent with it must be the court's too
            assert c.get("/api/v1/inbox", headers=auth(FY)).status_code == 200
            r = c.get("/api/v1/inbox", headers=auth(SF))
            assert r.status_code == 401
            assert message(r) == "the API key and the client certificate belong to different agencies"
        # Given the police's certificate (certificate and key)
        with client("police") as c:
            r = c.get("/api/v1/inbox")
            assert r.status_code == 401 and "authenticates with its API key as well" in message(r)
            assert c.get("/api/v1/inbox", headers=auth(GA)).status_code == 200
            r = post_notice(c, auth(GA))
            assert r.status_code == 403 and r.json()["error"]["code"] == "sender_mismatch"  # it is the police
            r = c.get("/api/v1/inbox", headers=auth(SF))
            assert r.status_code == 401 and "different agencies" in message(r)
        # Given a certificate the CA signed but no agency registered: 401, whatever key comes with it
        with client("stranger") as c:
            for headers in ({}, auth(SF), auth(FY)):
                r = c.get("/api/v1/inbox", headers=headers)
                assert r.status_code == 401 and message(r) == "the client certificate is not registered for any agency"
        # Given no certificate (the hub asks for one, optionally): a key-only agency is served, the others refused
        with client(None) as c:
            assert c.get("/api/v1/inbox", headers=auth(SF)).status_code == 200
            r = c.get("/api/v1/inbox", headers=auth(FY))
            assert r.status_code == 401 and message(r) == f"agency {FY} must present its TLS client certificate"
            r = c.get("/api/v1/inbox", headers=auth(GA))
            assert r.status_code == 401 and "must present its TLS client certificate" in message(r)
            assert c.get("/api/v1/inbox").status_code == 401
        # Given a certificate another CA signed: the handshake itself is refused
        with client("rogue") as c, pytest.raises(httpx.TransportError):
            c.get("/api/v1/inbox", headers=auth(SF))


def test_a_revoked_client_certificate_is_refused_without_a_registry_change(stack: Stack, pki: Pki,
                                                                             tmp_path: Path) -> None:
    registry = mtls_registry(tmp_path / "agencies.toml", pki)
    s = hub_settings(database_url=stack.database_url, broker_url=stack.broker_url, registry_path=registry,
                     queue_prefix=stack.queue_prefix, tls_cert=pki.pem("server"), tls_key=pki.key("server"),
                     tls_client_ca=pki.pem("ca"), api_key_cache_seconds=0.0)
    directory = load_registry(registry)
    court = pki.fingerprint("court").replace(":", "").lower()
    engine = make_engine(s.database_url, pool_size=1)
    with serve(s) as url, httpx.Client(base_url=url, verify=pki.client("court"), timeout=30) as c:
        # Given the court's certificate, listed beside the keys and accepted
        listed = {k.id: k for k in api_keys.list_keys(engine, directory=directory, agency=FY)}
        assert listed[f"crt-{court[:32]}"].source == "cert" and listed[f"crt-{court[:32]}"].revoked_at is None
        assert c.get("/api/v1/inbox").status_code == 200
        # When it is revoked by a prefix of its fingerprint (too short a prefix, or none registered, is refused)
        for bad, says in (("crt-abc", "16 to 64 hex digits"), ("crt-" + "0" * 20, "no registered client")):
            with pytest.raises(api_keys.ApiKeyError, match=says):
                api_keys.revoke(engine, directory=directory, key_id=bad, by="ops:li", reason="x")
        info = api_keys.revoke(engine, directory=directory, key_id=f"crt-{court[:16]}", by="ops:li",
                               reason="法院服务器更换")
        assert (info.id, info.agency, info.source, info.revoked_by) == (f"crt-{court[:32]}", FY, "cert", "ops:li")
        # Then the court is refused with it, with or without its key, while the police's certificate still works
        for headers in ({}, auth(FY)):
            r = c.get("/api/v1/inbox", headers=headers)
            assert r.status_code == 401 and message(r) == "the client certificate is revoked"
        with httpx.Client(base_url=url, verify=pki.client("police"), timeout=30) as police:
            assert police.get("/api/v1/inbox", headers=auth(GA)).status_code == 200
        # And a second revocation is refused, and the first is in the audit log
        with pytest.raises(api_keys.ApiKeyError, match="revoked already"):
            api_keys.revoke(engine, directory=directory, key_id=f"crt-{court}", by="ops:li", reason="again")
        with engine.connect() as conn:
            entries = conn.execute(select(audit_log.c.actor, audit_log.c.target).where(
                audit_log.c.action == "api_key_revoke")).all()
    engine.dispose()
    assert [tuple(e) for e in entries] == [("ops:li", f"api_key:crt-{court[:32]}")]


def test_serve_with_client_certificates_required_refuses_the_handshake_without_one(pki: Pki, tmp_path: Path) -> None:
    registry = mtls_registry(tmp_path / "agencies.toml", pki)
    s = hub_settings(database_url=f"sqlite:///{tmp_path}/hub.db", registry_path=registry)
    env = env_for(s) | {"XIANJIE_TLS_CLIENT_CERT": "required"}
    # Given `xianjie serve` with TLS and client certificates required
    with open(tmp_path / "serve.log", "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hub", "serve", "--no-workers", "--host", "127.0.0.1", "--port", str(s.port),
             "--log-level", "warning", "--tls-cert", str(pki.pem("server")), "--tls-key", str(pki.key("server")),
             "--tls-client-ca", str(pki.pem("ca"))], env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"https://127.0.0.1:{s.port}"
    try:
        def up() -> bool:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                return httpx.get(url + "/healthz", verify=pki.client("court"), timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up, timeout=60, what="xianjie serve over TLS")
        # Then with the court's certificate, it is the court
        with httpx.Client(base_url=url, verify=pki.client("court"), timeout=30) as c:
            assert post_notice(c).status_code == 202
        # And without a certificate the handshake is refused, even with a good key, even for /healthz
        with httpx.Client(base_url=url, verify=pki.client(None), timeout=30) as c:
            for path in ("/api/v1/inbox", "/healthz"):
                with pytest.raises(httpx.TransportError):
                    c.get(path, headers=auth(SF))
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_proxy_s_certificate_header_is_believed_only_from_a_trusted_proxy(pki: Pki, tmp_path: Path) -> None:
    registry = mtls_registry(tmp_path / "agencies.toml", pki)
    court_pem = pki.pem("court").read_text()
    base: dict[str, Any] = dict(database_url=f"sqlite:///{tmp_path}/hub.db", registry_path=registry,
                                client_cert_header="X-Client-Cert")
    # Given the hub behind a TLS-terminating proxy on loopback, which passes the verified certificate as nginx does
    with serve(hub_settings(**base, trusted_proxies=("127.0.0.1",))) as url, httpx.Client(base_url=url) as c:
        escaped = {"X-Client-Cert": quote(court_pem, safe="")}
        # Then the court is identified by it, whatever client the proxy forwards for
        assert c.get("/api/v1/inbox", headers=escaped).status_code == 200
        assert c.get("/api/v1/inbox", headers=escaped | {"X-Forwarded-For": "203.0.113.9"}).status_code == 200
        assert post_notice(c, escaped).status_code == 202
        # and an unregistered certificate, or a header that holds none, is refused
        r = c.get("/api/v1/inbox", headers={"X-Client-Cert": quote(pki.pem("stranger").read_text(), safe="")})
        assert r.status_code == 401 and "not registered" in message(r)
        r = c.get("/api/v1/inbox", headers={"X-Client-Cert": "not a certificate", **auth(SF)})
        assert r.status_code == 401 and "not a readable certificate" in message(r)
        # an empty header (no certificate at the proxy) is no certificate: a key-only agency passes
        assert c.get("/api/v1/inbox", headers={"X-Client-Cert": "", **auth(SF)}).status_code == 200
    # Given the same header from an address that is not a trusted proxy: refused, and the key does not help
    with serve(hub_settings(**base, trusted_proxies=("10.0.0.1",))) as url, httpx.Client(base_url=url) as c:
        r = c.get("/api/v1/inbox", headers={"X-Client-Cert": quote(court_pem, safe=""), **auth(SF)})
        assert r.status_code == 401 and "127.0.0.1, which is not a trusted proxy" in message(r)
        assert c.get("/api/v1/inbox", headers=auth(SF)).status_code == 200


def test_a_certificate_header_is_read_in_the_forms_proxies_send(pki: Pki) -> None:
    pem = pki.pem("court").read_text()
    der = ssl.PEM_cert_to_DER_cert(pem)
    for form in (pem, quote(pem, safe=""), pem.replace("\n", " "), pem.replace("\n", "\t"),
                 base64.b64encode(der).decode()):
        assert tls.der_from_header(form) == der, form[:40]
    for junk in ("", "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----", "aGVsbG8=", "%%%"):
        assert tls.der_from_header(junk) is None


def test_the_registry_and_the_settings_say_what_is_wrong_with_a_tls_setup(pki: Pki, tmp_path: Path) -> None:
    good = mtls_registry(tmp_path / "agencies.toml", pki)
    d = load_registry(good)
    court, police, bureau = d.get(FY), d.get(GA), d.get(SF)
    assert court is not None and police is not None and bureau is not None
    assert court.client_auth == "cert" and court.client_cert_sha256 == (fingerprint_of(pki.fingerprint("court")),)
    assert police.client_auth == "cert+key" and bureau.client_auth == "key" and bureau.client_cert_sha256 == ()
    assert d.by_cert_fingerprint(fingerprint_of(pki.fingerprint("police"))) == police
    text = good.read_text()
    for edit, why in [
        (lambda t: t.replace('client_auth = "cert"', 'client_auth = "password"'), "client_auth is one of"),
        (lambda t: t.replace(f'code = "{SF}"\n', f'code = "{SF}"\nclient_auth = "cert"\n'), "needs client_cert_sha256"),
        (lambda t: t.replace(f'code = "{SF}"\n', f'code = "{SF}"\nclient_cert_sha256 = "abc"\n'),
         "is not a SHA-256 fingerprint"),
        (lambda t: t.replace(f'code = "{SF}"\n',
                             f'code = "{SF}"\nclient_cert_sha256 = ["{pki.fingerprint("court")}"]\n'),
         f"registered for {FY} already"),
        (lambda t: t.replace(f'code = "{SF}"\n', f'code = "{SF}"\nclient_cert_sha256 = 7\n'), "a list of them"),
    ]:
        bad = tmp_path / "bad.toml"
        bad.write_text(edit(text))
        with pytest.raises(ValueError, match=why):
            load_registry(bad)
    for changes, why in [(dict(tls_key=pki.key("server")), "need --tls-cert"),
                         (dict(tls_cert=tmp_path / "missing.pem"), "no such file"),
                         (dict(tls_cert=pki.pem("server"), tls_client_cert="sometimes"), "optional or required"),
                         (dict(trusted_proxies=("10.0.0.0/8", "proxy.example")), "not an address or a network")]:
        with pytest.raises(ValueError, match=why):
            tls.uvicorn_options(Settings.from_env({}, **changes))
    opts = tls.uvicorn_options(Settings.from_env({"XIANJIE_TLS_CERT": str(pki.pem("server")),
                                                  "XIANJIE_TLS_CLIENT_CA": str(pki.pem("ca")),
                                                  "XIANJIE_TLS_CLIENT_CERT": "required",
                                                  "XIANJIE_TRUSTED_PROXIES": ""}))
    assert opts["ssl_cert_reqs"] == ssl.CERT_REQUIRED and opts["proxy_headers"] is False
    assert "forwarded_allow_ips" not in opts and os.fspath(pki.pem("ca")) == opts["ssl_ca_certs"]


def test_with_optional_certificates_the_console_and_key_only_agencies_need_none(pki: Pki, tmp_path: Path) -> None:
    """Console sign-in does not need a client certificate when certificates are optional (browsers have none)."""
    registry = mtls_registry(tmp_path / "agencies.toml", pki)
    s = hub_settings(database_url=f"sqlite:///{tmp_path}/hub.db", registry_path=registry, tls_cert=pki.pem("server"),
                     tls_key=pki.key("server"), tls_client_ca=pki.pem("ca"))
    with serve(s) as url, httpx.Client(base_url=url, verify=pki.client(None)) as c:
        assert c.get("/console/signin").status_code == 200
        assert c.get("/healthz").status_code == 200
        assert c.get("/api/v1/inbox", headers={"Authorization": f"Bearer {api_key(SF)}"}).status_code == 200
