"""Oversize bodies are refused while they stream: 413 arrives before the sender has sent everything, the input is
kept truncated in quarantine, and the next good message goes through."""

from __future__ import annotations

import json
import select
import socket
import time
from urllib.parse import quote

import pytest

from tests.harness import api_key
from tests.hostile.checks import good_goes_through, kept_in_quarantine, named
from tests.hostile.conftest import HostileHub
from tests.hostile.corpus import SENDERS, judgment

CHUNK = 256 * 1024


def stream_until_answered(port: int, path: str, agency: str, head: bytes, total: int,
                          declared: bool, chunk: int = CHUNK) -> tuple[int, dict[str, object], int]:
    """Sends ``head`` then filler towards ``total`` bytes, chunked (or with Content-Length), stopping as soon as
    an answer is readable; returns (status, body, bytes sent)."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        return _exchange(s, path, agency, head, total, declared, chunk)


def _exchange(s: socket.socket, path: str, agency: str, head: bytes, total: int, declared: bool,
              chunk: int) -> tuple[int, dict[str, object], int]:
    framing = f"Content-Length: {total}" if declared else "Transfer-Encoding: chunked"
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {api_key(agency)}\r\n"
              f"Content-Type: application/octet-stream\r\n{framing}\r\nConnection: close\r\n\r\n".encode())
    sent = 0
    filler = b"x" * chunk
    piece = head
    deadline = time.monotonic() + 60
    try:
        while sent < total and time.monotonic() < deadline:
            readable, _, _ = select.select([s], [], [], 0)
            if readable:
                break
            data = piece if declared else b"%x\r\n%s\r\n" % (len(piece), piece)
            s.sendall(data)
            sent += len(piece)
            piece = filler
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = b""
    s.settimeout(30)
    while b"\r\n\r\n" not in answer or len(answer) < _expected(answer):
        got = s.recv(65536)
        if not got:
            break
        answer += got
    head_part, _, body = answer.partition(b"\r\n\r\n")
    status = int(head_part.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head_part.lower():
        body = _dechunk(body)
    return status, json.loads(body), sent


def _expected(answer: bytes) -> int:
    head, sep, _ = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(head) + len(sep) + int(line.split(b":")[1])
    return 1 << 62


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size, _, rest = body.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            break
        out += rest[:n]
        body = rest[n + 2:]
    return out


BIG = 1 << 30
ENTRIES = [("messages", "530502FY", judgment()[:200], BIG)] + [
    (f"inbound/{s}", SENDERS[s], b'<?xml version="1.0" encoding="UTF-8"?><X>', BIG)
    for s in ("court", "prison", "detention", "bureau", "procuratorate", "ledger")] + [
    ("inbound/police", SENDERS["police"], b'{"header": {', BIG)]

@pytest.mark.parametrize(("entry", "agency", "head", "total"), [pytest.param(*e, id=e[0]) for e in ENTRIES])
def test_a_chunked_body_over_the_limit_is_413_before_it_is_all_sent(hostile: HostileHub, entry: str, agency: str,
                                                                    head: bytes, total: int) -> None:
    started = time.monotonic()
    status, body, sent = stream_until_answered(hostile.hub.settings.port, f"/api/v1/{entry}?as_of=2026-06-30",
                                               agency, head, total, declared=False)
    print(f"{entry}: {status} after {sent} of {total} bytes sent, {time.monotonic() - started:.2f}s")
    assert status == 413, body
    named(body["error"])  # type: ignore[arg-type]
    q = kept_in_quarantine(hostile.client, str(body["quarantine_id"]), None)
    assert q["truncated"] is True and q["code"] == "too_large"
    assert sent < total, f"the answer came only after all {total} bytes were sent"
    good_goes_through(hostile.client)


@pytest.mark.parametrize("entry", ["messages", "inbound/bureau", "inbound/ledger", "registers/bureau_register"])
def test_a_declared_oversize_length_is_413_before_the_body_is_sent(hostile: HostileHub, entry: str) -> None:
    agency = {"messages": "530502FY", "inbound/bureau": "530581SF", "inbound/ledger": "530521SF",
              "registers/bureau_register": "530502SF"}[entry]
    status, body, sent = stream_until_answered(hostile.hub.settings.port,
                                               f"/api/v1/{entry}?as_of=2026-06-30&filename={quote('x.csv')}",
                                               agency, b"<x>", 300 << 20, declared=True)
    print(f"{entry} (Content-Length 300 MiB): {status} after {sent} bytes sent")
    assert status == 413, body
    assert sent < 300 << 20
    named(body["error"])  # type: ignore[arg-type]
    kept_in_quarantine(hostile.client, str(body["quarantine_id"]), None)
    good_goes_through(hostile.client)
