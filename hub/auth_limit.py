"""Failed authentications counted per client address, and the block that follows too many (429 with Retry-After).

One ``FailureLimiter`` per hub database and process (``limiter_for(engine)``), shared by the API's agency
authentication (realm ``api``) and the console's sign-in (realm ``console``), each realm counted apart. The state
is in memory: it starts empty when a process starts, and each process counts on its own, so N processes behind one
balancer allow up to N times ``max_failures`` before every one of them blocks (docs/security-keys.md).
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from hub.errors import HubError

MAX_FAILURES = 20
WINDOW_SECONDS = 300.0
BLOCK_SECONDS = 300.0
MAX_CLIENTS = 10_000  # addresses remembered at once (the oldest forgotten first): memory stays bounded


class TooManyAttempts(HubError):
    """The client address failed to authenticate too often; it may try again in ``retry_after`` seconds."""

    code = "too_many_attempts"

    def __init__(self, retry_after: int, message: str) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class FailureLimiter:
    """Counts failures per (realm, client address) in a sliding window; ``max_failures`` within ``window``
    seconds block the address for ``block`` seconds. ``max_failures`` of 0 switches the limit off."""

    max_failures: int = MAX_FAILURES
    window: float = WINDOW_SECONDS
    block: float = BLOCK_SECONDS
    clock: Callable[[], float] = time.monotonic
    max_clients: int = MAX_CLIENTS
    _failures: OrderedDict[tuple[str, str], deque[float]] = field(default_factory=OrderedDict)
    _blocked: dict[tuple[str, str], float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def blocked_for(self, realm: str, client: str) -> int:
        """Whole seconds until ``client`` may try again in ``realm`` (0: not blocked)."""
        with self._lock:
            until = self._blocked.get((realm, client))
            if until is None:
                return 0
            left = until - self.clock()
            if left <= 0:
                del self._blocked[(realm, client)]
                return 0
            return max(1, math.ceil(left))

    def failed(self, realm: str, client: str) -> int:
        """Count one failure; the block's length in whole seconds if this failure starts one, else 0."""
        if self.max_failures <= 0:
            return 0
        now = self.clock()
        k = (realm, client)
        with self._lock:
            seen = self._failures.pop(k, None) or deque(maxlen=self.max_failures)
            seen.append(now)
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            self._failures[k] = seen  # last used goes last: the first is the one to forget
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)
            if len(seen) < self.max_failures or self._blocked.get(k, now) > now:
                return 0
            self._blocked[k] = now + self.block
            while len(self._blocked) > self.max_clients:
                del self._blocked[min(self._blocked, key=self._blocked.__getitem__)]
            seen.clear()  # after the block, the count starts again
            return max(1, math.ceil(self.block))


_LIMITERS: weakref.WeakKeyDictionary[Engine, FailureLimiter] = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


def limiter_for(engine: Engine) -> FailureLimiter:
    """The process's limiter for the hub on ``engine`` (made with the defaults unless ``configure`` ran first)."""
    with _REGISTRY_LOCK:
        found = _LIMITERS.get(engine)
        if found is None:
            found = _LIMITERS[engine] = FailureLimiter()
        return found


def configure(engine: Engine, *, max_failures: int, window: float, block: float,
              clock: Callable[[], float] = time.monotonic) -> FailureLimiter:
    """A fresh limiter with these limits for the hub on ``engine`` (the API app does this when it starts)."""
    limiter = FailureLimiter(max_failures=max_failures, window=window, block=block, clock=clock)
    with _REGISTRY_LOCK:
        _LIMITERS[engine] = limiter
    return limiter
