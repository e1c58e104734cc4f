"""The faults of a chaos run, planned in full from the seed before the run starts (so ``SEED=n`` replays the same
plan) and injected as the run goes: SIGKILLs of API and worker processes (each restarted after a random
delay), a RabbitMQ node kill and restart, a PostgreSQL crash stop and restart, a recipient down for a simulated
48 hours, and its drop folder's disk full."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Fault:
    """One fault and its end: ``kind`` at ``at`` seconds into the nominal timeline, ``end`` ``lasts`` seconds after."""

    at: float
    kind: str  # kill | rabbit_kill | pg_stop | down | fill
    end: str  # restart | rabbit_start | pg_start | up | free
    lasts: float
    target: str = ""


@dataclass(frozen=True)
class Plan:
    faults: tuple[Fault, ...]
    seconds: float  # the nominal timeline: the posting's planned length

    def describe(self) -> str:
        kills = [f for f in self.faults if f.kind == "kill"]
        by = Counter(f.target.split("-")[0] for f in kills)
        one = {f.kind: f for f in self.faults if f.kind != "kill"}
        down, fill = one["down"], one["fill"]
        return (f"{len(kills)} SIGKILLs ({by['api']} API, {by['worker']} worker) between {kills[0].at:.0f} s and "
                f"{kills[-1].at:.0f} s; RabbitMQ killed at {one['rabbit_kill'].at:.0f} s; PostgreSQL crash-stopped "
                f"at {one['pg_stop'].at:.0f} s; recipient down at {down.at:.0f} s for {down.lasts:.0f} s; disk full "
                f"at {fill.at:.0f} s for {fill.lasts:.0f} s (on the nominal timeline: a fault also waits until that "
                "share of the notices is posted)")


def plan(*, seed: int, seconds: float, kills: int, apis: list[str], workers: list[str], outage: float,
         disk_full: float, restart_delay: tuple[float, float] = (0.5, 6.0), rabbit_down: tuple[float, float] = (3, 8),
         pg_down: tuple[float, float] = (1, 5), rabbit_window: tuple[float, float] = (0.25, 0.4),
         pg_window: tuple[float, float] = (0.55, 0.7), startup: float = 15.0) -> Plan:
    """Every fault of a run whose posting is planned to last ``seconds``; ``outage`` and ``disk_full`` are real
    seconds. A process is killed only while another of its kind is up, counting ``startup`` seconds for a restarted
    one to serve."""
    rng = random.Random(seed)
    faults: list[Fault] = []
    # kills spread over the posting, at least a third on each kind of process, each target alive when killed
    times = sorted(rng.uniform(0.03, 0.95) * seconds for _ in range(kills))
    kinds = ["api"] * (kills // 3) + ["worker"] * (kills // 3)
    kinds += [rng.choice(("api", "worker")) for _ in range(kills - len(kinds))]
    rng.shuffle(kinds)
    back: dict[str, float] = {}  # process -> when it serves again

    def targets(at: float, kind: str) -> list[str]:
        """Processes that may be killed at ``at``: never the last one of its kind serving (the other kind then)."""
        for pool in (apis, workers) if kind == "api" else (workers, apis):
            up = [n for n in pool if back.get(n, 0.0) <= at]
            if len(up) >= 2:
                return up
        return []

    for at, kind in zip(times, kinds, strict=True):
        while not (up := targets(at, kind)):
            at += 1.0  # every process but one of each kind is down: a little later
        name = rng.choice(up)
        delay = rng.uniform(*restart_delay)
        back[name] = at + delay + startup
        faults.append(Fault(at, "kill", "restart", delay, name))
    rab = rng.uniform(*rabbit_window) * seconds
    faults.append(Fault(rab, "rabbit_kill", "rabbit_start", rng.uniform(*rabbit_down)))
    pg = rng.uniform(*pg_window) * seconds
    faults.append(Fault(pg, "pg_stop", "pg_start", rng.uniform(*pg_down)))
    faults.append(Fault(rng.uniform(0.04, 0.1) * seconds, "down", "up", outage))
    faults.append(Fault(rng.uniform(0.3, 0.45) * seconds, "fill", "free", disk_full))
    return Plan(tuple(sorted(faults, key=lambda f: f.at)), seconds)


@dataclass
class Done:
    """What was actually injected (the summary's fault counts come from here, not from the plan)."""

    sigkills: Counter[str] = field(default_factory=Counter)  # api / worker
    restarts: Counter[str] = field(default_factory=Counter)  # api / worker / rabbitmq / postgresql / recipient
    log: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    times: dict[str, float] = field(default_factory=dict)  # event kind -> seconds after the start (last one)


class Injector(threading.Thread):
    """Runs a plan. Each fault starts once its time on the nominal timeline has come *and* that share of the notices
    has been posted (``progress``, 0..1), so that on a slow machine the faults still spread over the whole stream;
    its end follows after its real duration. Each fault runs on its own thread, one at a time per resource (a
    process, the broker, the database, the recipient, the disk), so a slow restart never delays another fault.
    ``actions[kind](target)`` does the work and says what it did."""

    def __init__(self, p: Plan, actions: dict[str, Callable[[str], str]], *, t0: float, stop: threading.Event,
                 echo: Callable[[str], None], progress: Callable[[], float]) -> None:
        super().__init__(name="faults", daemon=True)
        self.plan, self.actions, self.t0, self.stop, self.echo = p, actions, t0, stop, echo
        self.progress = progress
        self.done = Done()
        self.finished = threading.Event()
        self.locks: dict[str, threading.Lock] = {}
        self.lock = threading.Lock()

    def run(self) -> None:
        running: list[threading.Thread] = []
        try:
            for f in self.plan.faults:
                due, latest = self.t0 + f.at, self.t0 + f.at + self.plan.seconds  # progress holds it back this long
                while time.monotonic() < due or (self.progress() < f.at / self.plan.seconds
                                                 and time.monotonic() < latest):
                    if self.stop.wait(0.2):
                        return
                lock = self.locks.setdefault(f.target or f.kind, threading.Lock())
                th = threading.Thread(target=self._run, args=(f, lock), name=f"fault-{f.kind}", daemon=True)
                th.start()
                running.append(th)
        finally:
            for th in running:
                th.join(600)
            self.finished.set()

    def _run(self, f: Fault, lock: threading.Lock) -> None:
        with lock:
            self._do(f.kind, f.target)
            self.stop.wait(f.lasts)  # cut short only when the run is stopped: then end the fault at once
            self._do(f.end, f.target)

    def _do(self, kind: str, target: str) -> None:
        start = time.monotonic() - self.t0
        try:
            what = self.actions[kind](target)
        except Exception as ex:
            what = f"FAILED: {type(ex).__name__}: {str(ex)[:500]}"
            with self.lock:
                self.done.errors.append(f"{kind} {target}: {what}")
        else:
            with self.lock:
                self._count(kind, target)
        line = f"[{start:7.1f} s] {kind} {target} {what}".rstrip()
        with self.lock:
            self.done.times[kind] = start
            self.done.log.append(line)
        self.echo(line)

    def _count(self, kind: str, target: str) -> None:
        d = self.done
        if kind == "kill":
            d.sigkills[target.split("-")[0]] += 1
        elif kind == "restart":
            d.restarts[target.split("-")[0]] += 1
        elif kind == "rabbit_start":
            d.restarts["rabbitmq"] += 1
        elif kind == "pg_start":
            d.restarts["postgresql"] += 1
        elif kind == "up":
            d.restarts["recipient"] += 1
