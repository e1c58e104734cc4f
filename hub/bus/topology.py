"""Read queue/topology.toml into kombu entities and the retry policy."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kombu.entity import Exchange, Queue

from hub.core.retry import RetryPolicy
from hub.resources import topology_path


@dataclass(frozen=True)
class Topology:
    exchanges: dict[str, Exchange]
    queues: dict[str, Queue]
    retry: RetryPolicy
    prefetch: int
    confirm_publish: bool
    deliver_routing_key: str

    @property
    def deliver(self) -> Queue:
        return self.queues["deliver"]

    @property
    def work_exchange(self) -> Exchange:
        return self.exchanges["work"]


def read_topology_file(path: Path | None = None) -> dict[str, Any]:
    with (path or topology_path()).open("rb") as f:
        return tomllib.load(f)


def retry_policy(data: dict[str, Any] | None = None) -> RetryPolicy:
    """The retry policy the topology declares."""
    r = (data or read_topology_file())["retry"]
    return RetryPolicy(
        tiers=tuple(float(t) for t in r["tiers"]),
        jitter=float(r["jitter"]),
        max_age=dt.timedelta(hours=float(r["max_age_hours"])),
        inline_attempts=int(r["inline_attempts"]),
        inline_wait=float(r["inline_wait_seconds"]),
    )


def build_topology(*, broker_url: str, prefix: str = "", data: dict[str, Any] | None = None) -> Topology:
    """Kombu exchanges and queues from the topology file; ``prefix`` isolates one hub (or test) from another."""
    d = data or read_topology_file()
    rabbit = broker_url.startswith(("amqp", "pyamqp"))
    exchanges = {
        key: Exchange(prefix + e["name"], type=e["type"], durable=bool(e.get("durable", True)))
        for key, e in d["exchanges"].items()
    }
    queues = {}
    for key, q in d["queues"].items():
        args: dict[str, Any] = {}
        if rabbit:
            if q.get("rabbitmq_queue_type"):
                args["x-queue-type"] = q["rabbitmq_queue_type"]
            if q.get("dead_letter"):
                args["x-dead-letter-exchange"] = exchanges[q["dead_letter"]].name
        queues[key] = Queue(prefix + q["name"], exchanges[q["exchange"]], routing_key=q["routing_key"],
                            durable=bool(q.get("durable", True)), queue_arguments=args or None)
    return Topology(
        exchanges=exchanges, queues=queues, retry=retry_policy(d), prefetch=int(d["broker"]["prefetch"]),
        confirm_publish=bool(d["broker"]["confirm_publish"]),
        deliver_routing_key=d["queues"]["deliver"]["routing_key"],
    )
