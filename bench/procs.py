"""Child processes of a bench run: spawn with a log file, wait until they answer, stop them by pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx


class Proc:
    """One child process, its log and its name; stopped with SIGTERM (then SIGKILL) by its own pid only."""

    def __init__(self, name: str, args: Sequence[str], *, log_dir: Path, env: Mapping[str, str] | None = None,
                 python: bool = True) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        self.log_start = log.tell()  # a log reused by a later process: read only what this one writes
        cmd = [sys.executable, *args] if python else list(args)
        self.popen = subprocess.Popen(cmd, env=dict(env) if env is not None else None, stdout=log,
                                      stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parent.parent)
        log.close()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_http(self, url: str, timeout: float = 60.0, *, request_timeout: float = 1.0, every: float = 0.1) -> None:
        """Until GET ``url`` answers 200; raises with the log's tail if the process dies or is too slow."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if httpx.get(url, timeout=request_timeout).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if not self.alive():
                break
            time.sleep(every)
        raise RuntimeError(f"{self.name} did not come up at {url}:\n{self.tail()}")

    def wait_line(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text.encode() in self.log_path.read_bytes()[self.log_start:]:
                return
            if not self.alive():
                break
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not print {text!r}:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_bytes()[self.log_start:].decode(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 60.0) -> int | None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            return self.popen.wait(10)


def stop_all(procs: Sequence[Proc]) -> None:
    """SIGTERM every process first (so they drain in parallel), then wait for each."""
    for p in procs:
        if p.alive():
            p.popen.send_signal(signal.SIGTERM)
    for p in procs:
        p.stop()
