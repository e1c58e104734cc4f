"""A hub on loopback for the hostile corpus, a canary server that must never be called, and the RSS figures."""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import Loopback, Recipients, write_registry
from tests.hostile.corpus import ADAPTERS
from tests.hubserver import InProcessHub, hub_settings

RSS_BOUND_MB = 200
FIGURES: list[str] = []


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field}")


def reset_peak() -> None:
    """Hands freed heap back to the system and starts a new peak-RSS (VmHWM) window for this process."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")


def peak_mb() -> float:
    return rss_mb("VmHWM")


@dataclass
class Canary(Loopback):
    """A loopback HTTP server every external reference in the corpus points at: nobody may call it."""

    hits: list[str] = field(default_factory=list)

    def start(self) -> Canary:
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer.hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "3")
                self.end_headers()
                self.wfile.write(b"<a>")

        self.serve(H)
        return self


@dataclass
class HostileHub:
    hub: InProcessHub
    client: httpx.Client
    canary: Canary
    drop_root: Path


@pytest.fixture(scope="package")  # stopped once the corpus is done, before other tests look at threads
def canary() -> Iterator[Canary]:
    c = Canary().start()
    yield c
    c.stop()


@contextmanager
def hostile_hub(tmp: Path, canary: Canary, *, database_url: str, broker_url: str = "database://",
                queue_prefix: str = "") -> Iterator[HostileHub]:
    """A hub for the corpus on the given database and broker, with body limits large enough for every /messages case to
    reach the parser (2 MiB; the oversize cases go far past it) and quick drop folders."""
    recipients = Recipients().start()
    registry = write_registry(tmp / "registry.toml", recipients_url=recipients.url, drop_root=tmp / "out",
                              adapters=ADAPTERS, accepts={"530521SF": ["ledger"]})
    settings = hub_settings(database_url=database_url, broker_url=broker_url, queue_prefix=queue_prefix,
                            registry_path=registry, max_body_bytes=2 * 1024 * 1024, max_native_bytes=8 * 1024 * 1024,
                            inbound_root=tmp / "inbound", inbound_settle_seconds=0.2, inbound_poll_interval=0.1)
    hub = InProcessHub(settings).start()
    try:
        with httpx.Client(base_url=hub.url, timeout=120) as client:
            yield HostileHub(hub, client, canary, tmp / "inbound")
    finally:
        hub.stop()
        recipients.stop()


@pytest.fixture(scope="package")  # stopped once the corpus is done, before other tests look at threads
def hostile(tmp_path_factory: pytest.TempPathFactory, canary: Canary) -> Iterator[HostileHub]:
    tmp = tmp_path_factory.mktemp("hostile")
    with hostile_hub(tmp, canary, database_url=f"sqlite:///{tmp}/hub.db") as h:
        yield h


@pytest.fixture(scope="module", autouse=True)
def rss_batch(request: pytest.FixtureRequest) -> Iterator[None]:
    before = rss_mb()
    yield
    after = rss_mb()
    line = f"RSS {request.module.__name__.rsplit('.', 1)[-1]}: before {before:.0f} MB, after {after:.0f} MB, " \
           f"growth {after - before:+.0f} MB"
    FIGURES.append(line)
    print("\n" + line)
    assert after - before < RSS_BOUND_MB, line


def pytest_sessionfinish(session: pytest.Session) -> None:
    # a worker of a parallel run (pytest-xdist) sends its figures to the controller, which prints them all
    out = getattr(session.config, "workeroutput", None)
    if out is not None:
        out["hostile_rss"] = list(FIGURES)


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, called in the controller as each worker ends
def pytest_testnodedown(node: Any, error: Any) -> None:
    FIGURES.extend(getattr(node, "workeroutput", {}).get("hostile_rss", ()))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.write_sep("-", "hostile corpus: server RSS per batch")
        for line in FIGURES:
            terminalreporter.write_line(line)
