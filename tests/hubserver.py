"""Run the hub on loopback: in this process (uvicorn in a thread) or as real `xianjie` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn

from hub.api.app import create_app
from hub.migrate import upgrade
from hub.settings import Settings
from tests.harness import free_port


@dataclass
class InProcessHub:
    settings: Settings
    workers: bool = True
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    def start(self) -> InProcessHub:
        upgrade(self.settings.database_url)
        app = create_app(self.settings, workers=self.workers)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.settings.port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("hub did not start")
            time.sleep(0.05)
        return self

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(60)


def env_for(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "XIANJIE_DATABASE_URL": settings.database_url, "XIANJIE_BROKER_URL": settings.broker_url,
        "XIANJIE_REGISTRY": str(settings.registry_path), "XIANJIE_QUEUE_PREFIX": settings.queue_prefix,
        "XIANJIE_LEASE_SECONDS": str(settings.lease_seconds), "XIANJIE_REDRIVE_AFTER": str(settings.redrive_after),
        "XIANJIE_SWEEP_INTERVAL": str(settings.sweep_interval), "XIANJIE_HTTP_TIMEOUT": str(settings.http_timeout),
        "XIANJIE_RETRY_TIERS": ",".join(str(t) for t in settings.retry.tiers),
        "XIANJIE_RETRY_MAX_AGE": str(settings.retry.max_age.total_seconds()),
        "XIANJIE_CLOCK_INTERVAL": str(settings.clock_interval),
        "XIANJIE_AUTH_MAX_FAILURES": str(settings.auth_max_failures),
        "XIANJIE_AUTH_WINDOW_SECONDS": str(settings.auth_window_seconds),
        "XIANJIE_AUTH_BLOCK_SECONDS": str(settings.auth_block_seconds),
    })
    return env


@dataclass
class ProcessHub:
    """`xianjie serve --no-workers` plus N `xianjie worker` processes, each killable."""

    settings: Settings
    log_dir: Path
    api: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    def _spawn(self, *args: str, name: str) -> subprocess.Popen[bytes]:
        with open(self.log_dir / f"{name}-{time.time_ns()}.log", "wb") as log:
            return subprocess.Popen([sys.executable, "-m", "hub", *args], env=env_for(self.settings),
                                    stdout=log, stderr=subprocess.STDOUT)

    def start_api(self) -> None:
        self.api = self._spawn("serve", "--no-workers", "--migrate", "--host", "127.0.0.1",
                               "--port", str(self.settings.port), "--log-level", "warning", name="api")
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.api.poll() is not None:
                raise RuntimeError("api process exited")
            time.sleep(0.1)
        raise RuntimeError("api did not start")

    def start_worker(self) -> subprocess.Popen[bytes]:
        w = self._spawn("worker", name="worker")
        self.workers.append(w)
        return w

    def kill_worker(self, w: subprocess.Popen[bytes]) -> None:
        w.send_signal(signal.SIGKILL)
        w.wait(10)
        self.workers.remove(w)

    def stop(self) -> None:
        for p in [*self.workers, self.api]:
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in [*self.workers, self.api]:
            if p is not None:
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()


def hub_settings(**kw: object) -> Settings:
    # the deadline clock is off unless a test turns it on: the samples' dates are long past, and its notices would
    # be messages and deliveries the delivery tests do not expect
    base = dict(port=free_port(), lease_seconds=5.0, redrive_after=2.0, sweep_interval=0.3, http_timeout=3.0,
                clock_interval=0.0)
    base.update(kw)
    if base.get("audit_anchor_dir") is None:  # each hub's daily audit anchors in a folder of its own, not var/
        base["audit_anchor_dir"] = Path(tempfile.mkdtemp(prefix="xianjie-anchors-"))
    return Settings.from_env({}, **base)
