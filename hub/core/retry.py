"""Retry policy as pure functions: which failures retry, and when the next attempt is due."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

# HTTP answers that mean "not now" rather than "never".
RETRYABLE_STATUS = frozenset({408, 425, 429})


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff tiers (seconds) for rescheduled deliveries, with jitter, a cap and a give-up age."""

    tiers: tuple[float, ...] = (60.0, 300.0, 1800.0, 7200.0, 21600.0)
    jitter: float = 0.2
    max_age: dt.timedelta = dt.timedelta(hours=72)
    inline_attempts: int = 3
    inline_wait: float = 0.2

    def __post_init__(self) -> None:
        if not self.tiers or any(t <= 0 for t in self.tiers):
            raise ValueError("retry tiers must be positive")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        if self.max_age <= dt.timedelta(0):
            raise ValueError("max_age must be positive")
        if self.inline_attempts < 1:
            raise ValueError("inline_attempts must be at least 1")
        if self.inline_wait < 0:
            raise ValueError("inline_wait must not be negative")


def is_retryable_status(status: int) -> bool:
    """True for answers worth retrying: 5xx, 408, 425, 429."""
    return status >= 500 or status in RETRYABLE_STATUS


def next_delay(policy: RetryPolicy, failures: int, *, rng: random.Random | None = None) -> float:
    """Seconds until the next attempt after ``failures`` rescheduled failures (1-based); capped, jittered."""
    if failures < 1:
        raise ValueError("failures counts from 1")
    base = policy.tiers[min(failures, len(policy.tiers)) - 1]
    spread = base * policy.jitter
    r = (rng or random).uniform(-spread, spread)
    return max(1.0, base + r)


def gives_up(policy: RetryPolicy, *, first_attempt: dt.datetime, next_attempt: dt.datetime) -> bool:
    """True when the next attempt would fall past the delivery's maximum age: a failed transfer instead."""
    return next_attempt - first_attempt > policy.max_age
