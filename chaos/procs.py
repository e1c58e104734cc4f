"""The processes of a chaos run, each killable by its own pid: hub API processes (`xianjie serve --no-workers`),
hub worker processes (`xianjie worker`) and the simulated agencies' endpoints (chaos.recipient)."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


class Proc:
    """One child process with its log (appended to across restarts)."""

    def __init__(self, name: str, argv: Sequence[str], *, log_dir: Path, env: Mapping[str, str]) -> None:
        self.name, self.argv, self.env = name, list(argv), dict(env)
        self.log_path = log_dir / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            log.write(f"---- start {self.starts + 1} at {time.strftime('%H:%M:%S')}\n".encode())
            log.flush()
            self.popen = subprocess.Popen([sys.executable, *self.argv], env=self.env, stdout=log,
                                          stderr=subprocess.STDOUT, cwd=ROOT)
        self.starts += 1

    @property
    def pid(self) -> int:
        return self.popen.pid if self.popen is not None else -1

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> int:
        """SIGKILL; returns the pid killed."""
        assert self.popen is not None
        pid = self.popen.pid
        with contextlib.suppress(ProcessLookupError):
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(30)
        return pid

    def stop(self, timeout: float = 30.0) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(10)

    def wait_http(self, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            if not self.alive():
                break
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer {url}:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Hub:
    """API and worker processes of one hub, by name (api-1, worker-2 …)."""

    env: Mapping[str, str]
    log_dir: Path
    api_ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, Proc] = field(default_factory=dict)

    def add_api(self, name: str, port: int) -> Proc:
        self.api_ports[name] = port
        p = Proc(name, ["-m", "hub", "serve", "--no-workers", "--host", "127.0.0.1", "--port", str(port),
                        "--log-level", "warning"], log_dir=self.log_dir, env=self.env)
        self.procs[name] = p
        return p

    def add_worker(self, name: str) -> Proc:
        p = Proc(name, ["-m", "hub", "worker"], log_dir=self.log_dir, env=self.env)
        self.procs[name] = p
        return p

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.api_ports[name]}"

    @property
    def urls(self) -> list[str]:
        return [self.url(n) for n in self.api_ports]

    def names(self, kind: str) -> list[str]:
        return [n for n in self.procs if n.startswith(kind)]

    def start_all(self) -> None:
        for p in self.procs.values():
            p.start()
        for name in self.api_ports:
            self.procs[name].wait_http(self.url(name) + "/healthz")

    def stop_all(self) -> None:
        for p in self.procs.values():
            if p.alive():
                assert p.popen is not None
                p.popen.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            p.stop()


class Recipient(Proc):
    """A chaos.recipient endpoint on a fixed port, journaling to a file that outlives the process."""

    def __init__(self, name: str, *, port: int, journal: Path, acks: Sequence[str], log_dir: Path,
                 env: Mapping[str, str]) -> None:
        super().__init__(name, ["-m", "chaos.recipient", "--port", str(port), "--journal", str(journal),
                                "--ack", ",".join(acks)], log_dir=log_dir, env=env)
        self.port, self.journal = port, journal

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_ready(self) -> None:
        self.start()
        self.wait_http(self.url + "/healthz", timeout=30)
