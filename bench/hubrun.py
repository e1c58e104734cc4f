"""The hub under test: real `xianjie` processes on one stack, pointed at the bench recipient."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.procs import Proc, stop_all
from bench.procstat import CpuWatch, memory_kib
from bench.stacks import Stack
from hub.settings import Settings
from tests.harness import DIVISIONS, ORGANS, free_port, write_registry
from tests.hubserver import env_for


def registry(path: Path, recipients_url: str) -> Path:
    """The test registry with every agency receiving over HTTP at the bench recipient."""
    codes = [div + suffix for div in DIVISIONS for suffix in ORGANS]
    return write_registry(path, recipients_url=recipients_url, drop_root=path.parent / "drop",
                          transports={code: "http" for code in codes})


@dataclass
class Hub:
    stack: Stack
    work: Path
    recipients_url: str
    profile_dir: Path | None = None
    port: int = field(default_factory=free_port)
    api: Proc | None = None
    workers: list[Proc] = field(default_factory=list)
    memory_start: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings(self) -> Settings:
        # Production defaults; any XIANJIE_* tuning variable in the environment passes through to the hub.
        return Settings.from_env(None, database_url=self.stack.database_url, broker_url=self.stack.broker_url,
                                 registry_path=registry(self.work / "agencies.toml", self.recipients_url),
                                 queue_prefix=self.stack.queue_prefix, port=self.port)

    def _args(self, name: str, *cmd: str) -> list[str]:
        if self.profile_dir is None:
            return ["-m", "hub", *cmd]
        return ["-m", "bench.sampler", "--out", str(self.profile_dir / f"{self.stack.name}-{name}.json"), "--", *cmd]

    def start(self) -> Hub:
        env = env_for(self.settings())
        serve = ["serve", "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        if self.stack.workers:
            serve += ["--no-workers", "--migrate"]
        self.api = Proc(f"{self.stack.name}-api", self._args("api", *serve), log_dir=self.work, env=env)
        self.api.wait_http(self.url + "/healthz", timeout=90)
        # one readiness check at a time: each opens a database and a broker connection
        self.api.wait_http(self.url + "/readyz", timeout=90, request_timeout=30, every=0.5)
        for i in range(self.stack.workers):
            w = Proc(f"{self.stack.name}-worker{i + 1}", self._args(f"worker{i + 1}", "worker"), log_dir=self.work,
                     env=env)
            self.workers.append(w)
        for w in self.workers:
            w.wait_line("worker started", timeout=60)
        self.memory_start = self.memory()
        return self

    def procs(self) -> dict[str, Proc]:
        api = "hub (api + workers)" if not self.stack.workers else "hub api"
        out = {api: self.api} if self.api else {}
        out.update({f"hub worker {i + 1}": w for i, w in enumerate(self.workers)})
        return out

    def memory(self) -> dict[str, dict[str, int]]:
        return {name: memory_kib(p.pid) for name, p in self.procs().items()}

    def cpu_watch(self, recipient_pid: int, loadgen_pid: int) -> CpuWatch:
        """CPU by component: hub processes, database, broker, recipient, load generator, everything else."""
        groups: dict[str, object] = {}
        for name, p in self.procs().items():
            groups[name] = lambda pid, _c, _cl, want=p.pid: pid == want
        if self.stack.db_name:
            db = self.stack.db_name
            groups["postgres (bench db backends)"] = lambda _p, c, cl: c.startswith("postgres") and db in cl
            # walwriter, checkpointer, ...: a backend's title names its client address instead
            groups["postgres (background)"] = lambda _p, c, cl: c.startswith("postgres") and not any(
                x in cl for x in ("127.0.0.1(", "[local]", "::1("))
        if self.stack.rabbit:
            groups["rabbitmq"] = lambda _p, c, _cl: c.startswith(("beam", "erl_child", "epmd"))
        groups["recipient"] = lambda pid, _c, _cl: pid == recipient_pid
        groups["load generator"] = lambda pid, _c, _cl: pid == loadgen_pid
        return CpuWatch(groups)

    def stop(self) -> dict[str, dict[str, int]]:
        """Stop the hub (SIGTERM, drained); returns each process's memory just before."""
        end = self.memory()
        stop_all([*self.workers, *([self.api] if self.api else [])])
        return end

    def logs_tail(self) -> str:
        return "\n".join(f"--- {n}\n{p.tail(15)}" for n, p in self.procs().items())
