"""Test harness: loopback recipient agencies, a test registry, notices built from the samples, a hub server."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from lxml import etree

from hub.core.idnumber import check_digit

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "schemas" / "canonical" / "v1" / "samples"
NS = "urn:xianjie:canonical:v1"
N = {"x": NS}

DIVISIONS = ["530500", "530502", "530521", "530523", "530524", "530581"]
ORGANS = {"FY": "COURT", "JC": "PROCURATORATE", "GA": "POLICE", "SF": "BUREAU"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_id(division: str = "530502", birth: str = "19880314", seq: int = 31) -> str:
    """A valid 18-character resident ID number."""
    body = f"{division}{birth}{seq:03d}"
    return body + check_digit(body)


def api_key(code: str) -> str:
    return f"test-{code}"


def auth(code: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key(code)}"}


@dataclass
class Received:
    agency: str
    message_id: str
    body: bytes
    at: float


@dataclass
class Loopback:
    """A threaded HTTP server on 127.0.0.1 at a free port; ``serve`` starts it with a request handler class."""

    port: int = field(default_factory=free_port)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@dataclass
class Recipients(Loopback):
    """Simulated agency endpoints on loopback. Modes per agency: ok, ack, down (503), reject (400), slow."""

    modes: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    slow_seconds: float = 3.0
    started: dict[str, int] = field(default_factory=dict)  # requests begun per agency (a slow one is in flight)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Recipients:
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                pass

            def do_POST(self) -> None:
                n = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(n)
                m = re.match(r"/agencies/([0-9A-Z]+)/notices", self.path)
                code = m.group(1) if m else "?"
                mode = outer.modes.get(code, "ok")
                with outer.lock:
                    outer.started[code] = outer.started.get(code, 0) + 1
                if mode == "slow":
                    time.sleep(outer.slow_seconds)
                if mode == "down":
                    return self._answer(503, b"service unavailable")
                if mode == "reject":
                    return self._answer(400, b"payload refused: unknown document kind")
                if mode == "reject-nul":  # a careless system's error page, control bytes and all
                    return self._answer(400, b"refused\x00\x01 by \xff\xfe legacy gateway")
                mid = self.headers.get("X-Xianjie-Message-Id", "")
                with outer.lock:
                    outer.received.append(Received(code, mid, body, time.time()))
                if mode == "ack":
                    return self._answer(200, technical_ack(code, mid), "application/xml")
                return self._answer(200, b"")

            def _answer(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.serve(H)
        return self

    def got(self, agency: str | None = None) -> list[Received]:
        with self.lock:
            return [r for r in self.received if agency is None or r.agency == agency]


def technical_ack(sender: str, ack_of: str, status: str = "ACCEPTED") -> bytes:
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).isoformat(timespec="seconds")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<TechnicalAck xmlns="{NS}">
  <envelope>
    <messageId>{uuid.uuid4()}</messageId><messageType>TechnicalAck</messageType><schemaVersion>1.0</schemaVersion>
    <sender>{sender}</sender><sentAt>{now}</sentAt><senderDocumentId>ACK-{uuid.uuid4()}</senderDocumentId>
    <correlationId>ack</correlationId><causationId>{ack_of}</causationId>
  </envelope>
  <ack><ackOf>{ack_of}</ackOf><status>{status}</status></ack>
</TechnicalAck>""".encode()


def write_registry(path: Path, *, recipients_url: str, drop_root: Path,
                   transports: dict[str, str] | None = None, extra: str = "",
                   adapters: dict[str, str] | None = None, accepts: dict[str, list[str]] | None = None) -> Path:
    """The 保山 registry with test keys and every http endpoint on the loopback recipients; ``adapters`` names
    an agency's native system (canonical otherwise), ``accepts`` the other systems it may send in."""
    transports = transports or {}
    adapters = adapters or {}
    accepts = accepts or {}
    lines = []

    def add(code: str, organ: str, div: str, name: str) -> None:
        t = transports.get(code, "inbox" if organ == "PROCURATORATE" else "http")
        lines.extend(["[[agency]]", f'code = "{code}"', f'organ_type = "{organ}"', f'division = "{div}"',
                  f'name = "{name}"', f'transport = "{t}"',
                  f'api_key_sha256 = "{hashlib.sha256(api_key(code).encode()).hexdigest()}"'])
        if code in adapters:
            lines.append(f'adapter = "{adapters[code]}"')
        if code in accepts:
            lines.append("also_accepts = [" + ", ".join(f'"{s}"' for s in accepts[code]) + "]")
        if t == "http":
            lines.append(f'endpoint = "{recipients_url}/agencies/{code}/notices"')
        elif t == "folder":
            lines.append(f'endpoint = "{drop_root / code}"')
        lines.append("")

    for div in DIVISIONS:
        for suf, organ in ORGANS.items():
            add(div + suf, organ, div, f"{div}{organ}")
    add("530502JY", "PRISON", "530502", "云南省保山监狱")
    add("530502KS", "DETENTION", "530502", "保山市隆阳区看守所")
    add("530500ZX", "HUB", "530500", "hub operators")
    path.write_text("\n".join(lines) + extra, encoding="utf-8")
    return path


def notice(sample: str = "SentencingDecision", *, sender: str | None = None, id_number: str | None = None,
           execution_division: str | None = None, doc_id: str | None = None, message_id: str | None = None,
           edit: Callable[[etree._Element], None] | None = None) -> tuple[str, bytes]:
    """A fresh, valid canonical message from a sample: new ids, optionally another person or county."""
    root = etree.parse(str(SAMPLES / f"{sample}.xml")).getroot()
    env = root.find("x:envelope", N)
    mid = message_id or str(uuid.uuid4())
    env.find("x:messageId", N).text = mid
    env.find("x:senderDocumentId", N).text = doc_id or f"DOC-{uuid.uuid4()}"
    if sender:
        env.find("x:sender", N).text = sender
    for tag in ("to", "cc"):
        for el in env.findall(f"x:{tag}", N):
            env.remove(el)
    if id_number is not None:
        el = root.find("x:person/x:idNumber", N)
        if el is not None:
            el.text = id_number
            bd = root.find("x:person/x:birthDate", N)
            if bd is not None:
                bd.text = f"{id_number[6:10]}-{id_number[10:12]}-{id_number[12:14]}"
    if execution_division:
        root.find("x:case/x:executionDivision", N).text = execution_division
    if edit:
        edit(root)
    return mid, etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def wait_until(pred: Callable[[], bool], timeout: float = 30.0, interval: float = 0.1, what: str = "") -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or pred}")


def status(client: httpx.Client, message_id: str, as_agency: str = "530500ZX") -> dict[str, Any]:
    r = client.get(f"/api/v1/messages/{message_id}", headers=auth(as_agency))
    assert r.status_code == 200, r.text
    return dict(r.json())


def states(client: httpx.Client, message_id: str) -> dict[str, str]:
    return {d["recipient"]: d["state"] for d in status(client, message_id)["recipients"]}


def dumps(x: Any) -> str:
    return json.dumps(x, ensure_ascii=False, indent=1)
