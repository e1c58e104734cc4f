"""Simulated agency endpoints for the chaos run: a bare asyncio HTTP/1.1 server that records every arrival.

``POST /agencies/<code>/notices`` appends one JSON line to the journal (agency, message id, delivery id, message
type, body size and hash, time) with a single unbuffered write *before* it answers, so that what the hub counts as
delivered is on disk even if this process is killed the next instant. Agencies named with ``--ack`` answer with a
canonical TechnicalAck naming the message (the hub records the delivery acknowledged); the others answer an empty
200 (a bureau acknowledges later with its 回执). A body cut short (a sender killed mid-request) is never recorded.

``python -m chaos.recipient --port P --journal FILE [--ack CODE,CODE]``; prints ``ready`` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import time
import uuid

from bench.recipient import ACK, MiniHttp


class Journal:
    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(self, record: dict[str, object]) -> None:
        os.write(self.fd, (json.dumps(record, separators=(",", ":")) + "\n").encode())


class Http(MiniHttp):
    def __init__(self, journal: Journal, acks: frozenset[str]) -> None:
        super().__init__()
        self.journal, self.acks = journal, acks

    def handle(self, method: bytes, path: str, headers: dict[bytes, bytes], body: bytes) -> tuple[int, bytes, str]:
        if method == b"POST" and path.startswith("/agencies/"):
            code = path.split("/")[2]
            mid = headers.get(b"x-xianjie-message-id", b"").decode()
            ack = code in self.acks
            self.journal.write({"a": code, "m": mid, "d": headers.get(b"x-xianjie-delivery-id", b"").decode(),
                                "t": headers.get(b"x-xianjie-message-type", b"").decode(), "n": len(body),
                                "h": hashlib.sha256(body).hexdigest()[:16], "at": round(time.time(), 3),
                                "ack": ack})
            if ack:
                return 200, ACK.format(ack=uuid.uuid4(), code=code, mid=mid).encode(), "application/xml"
            return 200, b"", "text/plain"
        if path == "/healthz":
            return 200, b"ok", "text/plain"
        return 404, b"not found", "text/plain"


async def serve(port: int, journal: str, acks: frozenset[str]) -> None:
    j = Journal(journal)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Http(j, acks), "127.0.0.1", port, backlog=1024, reuse_address=True)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m chaos.recipient")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--journal", required=True)
    p.add_argument("--ack", default="", help="agency codes that answer with a TechnicalAck")
    a = p.parse_args()
    asyncio.run(serve(a.port, a.journal, frozenset(c for c in a.ack.split(",") if c)))


if __name__ == "__main__":
    main()
