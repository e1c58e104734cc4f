"""A fast recipient for every agency: a bare asyncio HTTP/1.1 server (keep-alive, Content-Length bodies).

``POST /agencies/<code>/notices`` answers 200 with a canonical TechnicalAck naming X-Xianjie-Message-Id, so
the hub records the delivery ``acknowledged`` in the same round trip. It records the first arrival time of
each (message, agency) and when a message has reached ``--fanout`` distinct agencies. Control endpoints:
``GET /stats`` (counts), ``GET /dump`` (arrivals as JSON), ``POST /reset``.

Run as ``python -m bench.recipient --port P --fanout 3``; it prints ``ready`` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<TechnicalAck xmlns="urn:xianjie:canonical:v1"><envelope>'
    "<messageId>{ack}</messageId><messageType>TechnicalAck</messageType><schemaVersion>1.0</schemaVersion>"
    "<sender>{code}</sender><sentAt>2026-04-02T09:30:00+08:00</sentAt><senderDocumentId>ACK-{ack}"
    "</senderDocumentId><correlationId>ack</correlationId><causationId>{mid}</causationId></envelope>"
    "<ack><ackOf>{mid}</ackOf><status>ACCEPTED</status></ack></TechnicalAck>"
)


class State:
    def __init__(self, fanout: int) -> None:
        self.fanout = fanout
        self.reset()

    def reset(self) -> None:
        self.posts = 0
        self.deliveries = 0
        self.arrivals: dict[str, dict[str, float]] = {}
        self.complete: dict[str, float] = {}

    def arrive(self, mid: str, code: str) -> None:
        now = time.time()
        self.posts += 1
        seen = self.arrivals.setdefault(mid, {})
        if code not in seen:
            seen[code] = now
            self.deliveries += 1
            if len(seen) == self.fanout:
                self.complete[mid] = now

    def stats(self) -> dict[str, object]:
        return {"posts": self.posts, "deliveries": self.deliveries, "messages": len(self.arrivals),
                "complete": len(self.complete), "last_complete": max(self.complete.values(), default=None)}


class MiniHttp(asyncio.Protocol):
    """A bare HTTP/1.1 server connection (keep-alive, Content-Length bodies): each whole request read off the
    connection goes to ``handle`` (method, path, lower-case headers, body), whose (status, body, content type) is
    written back. A request cut short is never handled. The chaos suite's recipients are one too."""


    def __init__(self) -> None:
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self.buf[:end]).split(b"\r\n")
            method, path, _ = lines[0].split(b" ", 2)
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(b":")
                headers[k.strip().lower()] = v.strip()
            size = int(headers.get(b"content-length", b"0"))
            if len(self.buf) < end + 4 + size:
                return
            body = bytes(self.buf[end + 4:end + 4 + size])
            del self.buf[:end + 4 + size]
            self.answer(*self.handle(method, path.decode(), headers, body))

    def handle(self, method: bytes, path: str, headers: dict[bytes, bytes], body: bytes) -> tuple[int, bytes, str]:
        raise NotImplementedError

    def answer(self, status: int, body: bytes, ctype: str) -> None:
        assert self.transport is not None
        reason = {200: "OK", 202: "Accepted"}.get(status, "Not Found")
        self.transport.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}"
                             f"\r\n\r\n".encode() + body)


class Http(MiniHttp):
    def __init__(self, state: State) -> None:
        super().__init__()
        self.state = state

    def handle(self, method: bytes, path: str, headers: dict[bytes, bytes], body: bytes) -> tuple[int, bytes, str]:
        if method == b"POST" and path.startswith("/agencies/"):
            code = path.split("/")[2]
            mid = headers.get(b"x-xianjie-message-id", b"").decode()
            self.state.arrive(mid, code)
            return 200, ACK.format(ack=uuid.uuid4(), code=code, mid=mid).encode(), "application/xml"
        if path == "/stats":
            return 200, json.dumps(self.state.stats()).encode(), "application/json"
        if path == "/dump":
            return 200, json.dumps({"arrivals": self.state.arrivals, "complete": self.state.complete}).encode(), \
                "application/json"
        if path == "/reset":
            self.state.reset()
            return 200, b"{}", "application/json"
        if method == b"POST" and path == "/api/v1/messages":  # a null server, for the load generator's ceiling
            return 202, b'{"message_id": "-", "created": true}', "application/json"
        return 404, b"not found", "text/plain"


async def serve(port: int, fanout: int) -> None:
    state = State(fanout)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Http(state), "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--fanout", type=int, default=3)
    a = p.parse_args()
    asyncio.run(serve(a.port, a.fanout))


if __name__ == "__main__":
    main()
