"""The hub's error tree: every edge translates its driver's errors into one of two branches.

    HubError
    ├── PermanentError          reject, never retry
    │   ├── InvalidMessage      not XML, not canonical, schema or semantic check failed (4xx, quarantine)
    │   │   └── HostileInput    DTDs, entities, oversize bodies (4xx, quarantine)
    │   ├── Unauthorised        no or unknown API key (401)
    │   ├── Forbidden           authenticated, but not allowed (sender mismatch: 403)
    │   └── RecipientRejected   the recipient refused the payload for good (a 4xx other than 408/429)
    └── TransientError          retry with backoff
        ├── RecipientUnavailable  timeout, connection refused, 5xx, 408, 429
        └── BrokerUnavailable     the broker could not be reached or did not confirm
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (XPath or line) and why."""

    reason: str
    path: str | None = None
    line: int | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON form used in API error bodies and quarantine records."""
        out: dict[str, object] = {"reason": self.reason}
        if self.path is not None:
            out["path"] = self.path
        if self.line is not None:
            out["line"] = self.line
        return out


class HubError(Exception):
    """Root of every error the hub raises on purpose."""


class PermanentError(HubError):
    """Retrying cannot help."""

    code = "permanent"


@dataclass
class InvalidMessage(PermanentError):
    """The input is not an acceptable canonical message; ``problems`` says where and why."""

    code_: str
    message: str
    problems: list[Problem] = field(default_factory=list)
    status: int = 422

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @property
    def code(self) -> str:  # type: ignore[override]
        return self.code_


class HostileInput(InvalidMessage):
    """Input that tries to make the parser do more than parse."""


class Unauthorised(PermanentError):
    code = "unauthorised"


class Forbidden(PermanentError):
    code = "forbidden"


class RecipientRejected(PermanentError):
    code = "rejected"


class TransientError(HubError):
    """Retrying later may help."""

    code = "transient"


class RecipientUnavailable(TransientError):
    code = "unavailable"


class BrokerUnavailable(TransientError):
    code = "broker_unavailable"
