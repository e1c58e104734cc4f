"""The load generator: posts notices closed loop (max speed) or open loop (fixed rate) over keep-alive HTTP/1.1.

Two clients, chosen by ``BENCH_CLIENT``: ``raw`` (default), a minimal asyncio HTTP/1.1 client costing ~0.1 ms
of CPU a request, and ``httpx``, httpx.AsyncClient with one pool per connection (one shared pool of 48
connections costs ~3 ms of CPU a request in httpcore; one pool each ~0.8 ms). On 2 cores every millisecond
the client burns is taken from the hub, hence the default.

Every request is recorded as (scheduled, sent, answered, status). A 5xx or a transport error is retried
(as a sender would) and counted; the recorded send time stays the first one.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from bench.messages import Notice, headers

PATH = "/api/v1/messages"


@dataclass
class Run:
    # notice index → (scheduled, sent, answered, status)
    records: dict[int, tuple[float, float, float, int]] = field(default_factory=dict)
    retries: int = 0
    errors: list[str] = field(default_factory=list)
    cpu_seconds: float = 0.0  # this process's CPU while the run lasted

    @property
    def started(self) -> float:
        return min(r[1] for r in self.records.values())

    @property
    def finished(self) -> float:
        return max(r[2] for r in self.records.values())

    def rate(self) -> float:
        """Requests answered per second over the run."""
        return len(self.records) / max(self.finished - self.started, 1e-9)

    def statuses(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for r in self.records.values():
            out[r[3]] = out.get(r[3], 0) + 1
        return out

    def ordered(self, count: int) -> list[tuple[float, float, float, int]]:
        """The records in notice order."""
        return [self.records[i] for i in range(count)]


class RawClient:
    """Keep-alive HTTP/1.1 POSTs over a pool of at most ``connections`` asyncio streams (Content-Length only)."""

    def __init__(self, base_url: str, connections: int) -> None:
        host, _, port = base_url.removeprefix("http://").rstrip("/").partition(":")
        self.host, self.port = host, int(port or 80)
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.slots = asyncio.Semaphore(connections)

    async def post(self, path: str, body: bytes, hdrs: dict[str, str]) -> tuple[int, bytes]:
        head = "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
        req = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{head}Content-Length: {len(body)}\r\n\r\n"
               .encode() + body)
        async with self.slots:
            conn = self.idle.pop() if self.idle else await asyncio.open_connection(self.host, self.port)
            reader, writer = conn
            keep = False
            try:
                writer.write(req)
                raw = await reader.readuntil(b"\r\n\r\n")
                lines = raw.split(b"\r\n")
                status = int(lines[0].split(b" ", 2)[1])
                size, keep = 0, True
                for line in lines[1:]:
                    k, _, v = line.partition(b":")
                    k = k.strip().lower()
                    if k == b"content-length":
                        size = int(v)
                    elif k == b"connection" and v.strip().lower() == b"close":
                        keep = False
                    elif k == b"transfer-encoding":
                        raise OSError("chunked responses are not supported by the raw client")
                data = await reader.readexactly(size)
            except BaseException:
                keep = False
                raise
            finally:
                if keep:
                    self.idle.append(conn)
                else:
                    writer.close()
        return status, data

    async def aclose(self) -> None:
        for _, w in self.idle:
            w.close()


class HttpxClients:
    """httpx.AsyncClient, one per connection (httpcore's pool costs O(connections) per request)."""

    def __init__(self, base_url: str, connections: int) -> None:
        self.clients = [httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(120.0),
                                          limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))
                        for _ in range(connections)]
        self.free: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
        for c in self.clients:
            self.free.put_nowait(c)

    async def post(self, path: str, body: bytes, hdrs: dict[str, str]) -> tuple[int, bytes]:
        c = await self.free.get()
        try:
            r = await c.post(path, content=body, headers=hdrs)
            return r.status_code, r.content
        except httpx.HTTPError as e:
            raise OSError(f"{type(e).__name__}: {e}") from e
        finally:
            self.free.put_nowait(c)

    async def aclose(self) -> None:
        for c in self.clients:
            await c.aclose()


Client = RawClient | HttpxClients


def _client(base_url: str, connections: int) -> Client:
    kind = os.environ.get("BENCH_CLIENT", "raw")
    return HttpxClients(base_url, connections) if kind == "httpx" else RawClient(base_url, connections)


async def _post(client: Client, n: Notice, run: Run, hdrs: dict[str, str]) -> tuple[float, int]:
    sent = time.time()
    for attempt in range(20):
        try:
            status, body = await asyncio.wait_for(client.post(PATH, n.body, hdrs), 120)
            if status < 500:
                return sent, status
            why = f"HTTP {status}: {body[:200]!r}"
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as e:
            why = f"{type(e).__name__}: {e}"
        run.retries += 1
        if len(run.errors) < 20:
            run.errors.append(why)
        await asyncio.sleep(min(0.05 * 2 ** attempt, 2.0))
    return sent, 599


async def _closed(base_url: str, notices: Sequence[Notice], concurrency: int, until: float | None) -> Run:
    run = Run()
    hdrs = headers()
    it = iter(enumerate(notices))
    client = _client(base_url, concurrency)

    async def worker() -> None:
        for i, n in it:
            if until is not None and time.time() >= until:
                return
            sched = time.time()
            sent, status = await _post(client, n, run, hdrs)
            run.records[i] = (sched, sent, time.time(), status)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await client.aclose()
    return run


async def _open(base_url: str, notices: Sequence[Notice], rate: float, connections: int) -> Run:
    run = Run()
    hdrs = headers()
    client = _client(base_url, connections)

    async def one(i: int, n: Notice, sched: float) -> None:
        sent, status = await _post(client, n, run, hdrs)
        run.records[i] = (sched, sent, time.time(), status)

    tasks = []
    start = time.time() + 0.05
    for i, n in enumerate(notices):
        sched = start + i / rate
        delay = sched - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, n, sched)))
    await asyncio.gather(*tasks)
    await client.aclose()
    return run


def _timed(coro_factory: object) -> Run:
    cpu0 = sum(os.times()[:2])
    run: Run = asyncio.run(coro_factory())  # type: ignore[operator]
    run.cpu_seconds = sum(os.times()[:2]) - cpu0
    return run


def closed_loop(base_url: str, notices: Sequence[Notice], *, concurrency: int, until: float | None = None) -> Run:
    """Post every notice as fast as ``concurrency`` requests in flight allow (none is started after ``until``)."""
    return _timed(lambda: _closed(base_url, notices, concurrency, until))


def open_loop(base_url: str, notices: Sequence[Notice], *, rate: float, connections: int = 256) -> Run:
    """Post the notices at ``rate`` per second whatever the server's speed (latency includes any queueing)."""
    return _timed(lambda: _open(base_url, notices, rate, connections))
