"""The daily retention sweep inside the worker, when the policy's ``[sweep] daily`` is on (off as shipped): once a
day, from the policy's time of day (Asia/Shanghai), ``hub.retention.apply``. A day counts as swept when the audit
log has a ``retention_apply`` entry of that day, whoever made it (a manual ``xianjie retention apply`` included), so
several workers side by side sweep once between them (each batch takes its class's writer lock)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine, select

from hub.core.facts import SHANGHAI, legal_day
from hub.retention import Policy, apply, policy_in_force
from hub.settings import Settings
from hub.store.schema import audit_log

log = logging.getLogger("xianjie.retention")
ACTOR = "worker:retention"


class DailySweep:
    """Runs the sweep once a day at the policy's time."""

    def __init__(self, *, engine: Engine, policy: Policy, clock: Callable[[], dt.datetime]) -> None:
        self.engine, self.policy, self.clock = engine, policy, clock

    def due(self, now: dt.datetime) -> bool:
        """Whether the day's sweep is due at ``now``: its time has come and nobody has swept today."""
        local = now.astimezone(SHANGHAI)
        if local.time() < self.policy.at:
            return False
        start = dt.datetime.combine(legal_day(now), dt.time(), SHANGHAI).astimezone(dt.UTC)
        with self.engine.connect() as conn:
            done = conn.execute(select(audit_log.c.id).where(audit_log.c.action == "retention_apply",
                                                             audit_log.c.at >= start).limit(1)).first()
        return done is None

    def run_once(self) -> bool:
        """Sweep if due; whether it swept."""
        now = self.clock()
        if not self.due(now):
            return False
        report = apply(self.engine, self.policy, by=ACTOR, now=now)
        log.info("retention sweep: %s", {c.name: c.deleted for c in report.classes if c.deleted})
        return True

    def run(self, stop: threading.Event, *, every: float = 60.0) -> None:
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("retention sweep failed; the next look is in %s s", every)
            stop.wait(every)


def daily_sweep(settings: Settings, engine: Engine, clock: Callable[[], dt.datetime]) -> DailySweep | None:
    """The daily sweep if the policy in force asks for one; None otherwise, or (logged) if the policy is refused."""
    try:
        policy = policy_in_force(settings.retention_policy)
    except ValueError as e:
        log.error("retention policy refused, no daily sweep: %s", e)
        return None
    return DailySweep(engine=engine, policy=policy, clock=clock) if policy.daily else None
