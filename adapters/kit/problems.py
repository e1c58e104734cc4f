"""What is wrong with a native input, and where in the native input it is."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NativeProblem:
    """One problem: ``where`` names the native place (element path, JSON pointer, or sheet!cell)."""

    reason: str
    where: str | None = None
    line: int | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"reason": self.reason}
        if self.where is not None:
            out["path"] = self.where
        if self.line is not None:
            out["line"] = self.line
        return out


class NativeError(ValueError):
    """A native payload (or one record of it) that cannot be translated; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str, problems: list[NativeProblem] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.problems = problems or [NativeProblem(message)]
