"""Baselines, measured in the same run on the same notices: what the hub's parts cost on their own."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kombu import Connection, Consumer, Exchange, Producer, Queue
from lxml import etree

from bench.loadgen import closed_loop
from bench.messages import Notice
from bench.procs import Proc
from tests.harness import free_port


def lxml_rates(notices: Sequence[Notice], seconds: float = 2.0) -> dict[str, float]:
    """Per second, single thread: lxml parse + XSD validate (the hub's schema), then hub.canonical.parse."""
    from hub.canonical import load_schema, parse

    schema = load_schema()
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             collect_ids=False)
    out = {}

    def validate(n: Notice) -> None:
        doc = etree.fromstring(n.body, parser).getroottree()
        assert schema.validate(doc)

    def full(n: Notice) -> None:
        parse(n.body, schema=schema)

    for name, fn in (("lxml_validate_per_s", validate), ("hub_parse_per_s", full)):
        done, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            for n in notices[:500]:
                fn(n)
            done += min(len(notices), 500)
        out[name] = round(done / (time.perf_counter() - t0), 1)
    return out


def kombu_rates(url: str, notices: Sequence[Notice], *, queue_args: dict[str, Any] | None = None,
                prefetch: int = 32) -> dict[str, float]:
    """Publish each notice as one persistent message (awaiting its confirm on RabbitMQ), then consume them all
    with manual acks; messages/s for each phase and for the two together (one message published and consumed)."""
    rabbit = url.startswith(("amqp", "pyamqp"))
    tag = f"bench{uuid.uuid4().hex[:8]}"
    ex = Exchange(f"{tag}.x", type="direct", durable=True)
    q = Queue(f"{tag}.q", ex, routing_key="k", durable=True, queue_arguments=queue_args)
    opts = {"confirm_publish": True} if rabbit else {}
    with Connection(url, transport_options=opts) as conn:
        conn.ensure_connection(max_retries=3)
        ch = conn.channel()
        q(ch).declare()
        producer = Producer(ch)
        t0 = time.perf_counter()
        for n in notices:
            producer.publish(n.body, exchange=ex, routing_key="k", delivery_mode=2, content_type="application/xml",
                             content_encoding="binary", retry=False)
        t_pub = time.perf_counter() - t0
        got = 0

        def on_message(message: Any) -> None:
            nonlocal got
            message.ack()
            got += 1

        t1 = time.perf_counter()
        with Consumer(conn.channel(), queues=[q], on_message=on_message, prefetch_count=prefetch):
            deadline = time.time() + 120
            while got < len(notices) and time.time() < deadline:
                try:
                    conn.drain_events(timeout=2)
                except (TimeoutError, OSError):
                    continue
        t_con = time.perf_counter() - t1
        try:
            q(conn.channel()).delete()
            ex(conn.channel()).delete()
        except Exception:  # the SQLAlchemy transport cannot delete everything it declared; harmless here
            pass
    n = len(notices)
    return {"messages": n, "consumed": got, "publish_per_s": round(n / t_pub, 1),
            "consume_per_s": round(got / t_con, 1), "publish_consume_per_s": round(got / (t_pub + t_con), 1)}


def fastapi_rates(notices: Sequence[Notice], *, concurrency: int, log_dir: Path) -> dict[str, dict[str, float]]:
    """POST/s of a bare FastAPI endpoint under uvicorn (and of one that also runs hub.canonical.parse)."""
    out = {}
    for name, extra in (("bare", []), ("parse", ["--parse"])):
        port = free_port()
        p = Proc(f"fastapi-{name}", ["-m", "bench.bare_app", "--port", str(port), *extra], log_dir=log_dir)
        try:
            p.wait_http(f"http://127.0.0.1:{port}/healthz")
            closed_loop(f"http://127.0.0.1:{port}", notices[:200], concurrency=concurrency)  # warm up
            run = closed_loop(f"http://127.0.0.1:{port}", notices, concurrency=concurrency)
            out[name] = {"requests": len(notices), "posts_per_s": round(run.rate(), 1),
                         "client_cpu_ms_per_request": round(run.cpu_seconds / len(notices) * 1000, 3),
                         "statuses": run.statuses()}
        finally:
            p.stop()
    return out


def loadgen_ceiling(notices: Sequence[Notice], *, concurrency: int, log_dir: Path) -> dict[str, float]:
    """The load generator against a null server (bench.recipient answers any POST at once): its own limit."""
    port = free_port()
    p = Proc("null-server", ["-m", "bench.recipient", "--port", str(port)], log_dir=log_dir)
    try:
        p.wait_line("ready")
        run = closed_loop(f"http://127.0.0.1:{port}", notices, concurrency=concurrency)
        return {"requests": len(notices), "posts_per_s": round(run.rate(), 1),
                "client_cpu_ms_per_request": round(run.cpu_seconds / len(notices) * 1000, 3)}
    finally:
        p.stop()
