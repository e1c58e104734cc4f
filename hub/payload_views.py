"""A payload — a failed transfer's canonical and raw message, an edit's or a correction's text, a quarantined input,
a scan attached to a resolution — is shown to an operator only for a stated reason, and each showing is on the
record (``view_payload`` in the audit log): who, why, through which channel, and exactly what was shown (each part
by name, size and SHA-256, so that the entry names the bytes seen without repeating them).

A reason is one of REASONS, with the operator's own words beside it if they like, or ``other`` with at least
MIN_NOTE characters of their own words. The console asks for it in a small form; the API takes it as the
``reason`` parameter (a preset's code or Chinese words, or the caller's own words)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine

from hub import audit
from hub.errors import PermanentError, Problem
from hub.logs import mask_id_numbers
from hub.store.db import utcnow

ACTION = "view_payload"
OTHER = "other"
# code → (Chinese, English); the console offers them in this order, ``other`` last
REASONS: dict[str, tuple[str, str]] = {
    "check_failure": ("核对转递失败原因", "checking why a transfer failed"),
    "correct_data": ("更正数据", "correcting the data"),
    "supervision": ("监督检查", "supervision and inspection"),
    OTHER: ("其他", "other"),
}
MIN_NOTE = 4  # characters of one's own words when no preset says why (四个汉字: 核对身份)
NOTE_LIMIT = 500


class ReasonRefused(PermanentError):
    """No reason, or one that does not say why: ``code_``, the message, each problem at ``reason``; status 422."""

    def __init__(self, code: str, message: str, where: str = "reason") -> None:
        super().__init__(message)
        self.code_, self.message, self.status = code, message, 422
        self.problems = [Problem(message, where)]


@dataclass(frozen=True)
class Reason:
    """Why an operator views a payload: a preset ``code`` (REASONS) and their own ``note`` (may be empty for a
    preset; at least MIN_NOTE characters for ``other``)."""

    code: str
    note: str = ""

    @property
    def text(self) -> str:
        """The reason as the audit log states it: the preset's words, then the operator's own."""
        if self.code == OTHER:
            return self.note
        words = REASONS[self.code][0]
        return f"{words}：{self.note}" if self.note else words

    def detail(self) -> dict[str, Any]:
        return {"reason": self.text, "reason_code": self.code, "reason_note": self.note or None}


def stated(code: str | None, note: str | None) -> Reason:
    """The reason given in the console's form: a preset, with an optional note; ``other`` (or none chosen) with a
    note of at least MIN_NOTE characters. Raises ReasonRefused naming what is missing."""
    code = (code or "").strip()
    text = " ".join((note or "").split())
    if len(text) > NOTE_LIMIT:
        raise ReasonRefused("reason_too_long", f"the reason is {len(text)} characters; at most {NOTE_LIMIT}",
                            "reason_note")
    if code and code not in REASONS:
        raise ReasonRefused("reason_unknown", f"reason_code {code!r} is none of {', '.join(REASONS)}", "reason_code")
    if code and code != OTHER:
        return Reason(code, text)
    if not text:
        raise ReasonRefused("reason_required", "state why the payload is viewed: choose a reason, or write your own "
                            f"(at least {MIN_NOTE} characters)", "reason_code")
    if len(text) < MIN_NOTE:
        raise ReasonRefused("reason_too_short", f"a reason in your own words has at least {MIN_NOTE} characters; "
                            f"{len(text)} given", "reason_note")
    return Reason(OTHER, text)


def from_api(value: str | None) -> Reason:
    """The API's ``reason`` parameter: a preset's code (``check_failure``, ``correct_data``, ``supervision``) or its
    Chinese words, or the caller's own words of at least MIN_NOTE characters. Raises ReasonRefused (422) naming
    ``reason`` when it is missing or says too little."""
    text = " ".join((value or "").split())
    if not text:
        raise ReasonRefused("reason_required", "reason: required — why the payload is viewed: check_failure, "
                            f"correct_data, supervision, or your own words (at least {MIN_NOTE} characters)")
    for code, (zh, _) in REASONS.items():
        if code != OTHER and text in (code, zh):
            return Reason(code)
    if len(text) > NOTE_LIMIT:
        raise ReasonRefused("reason_too_long", f"reason: {len(text)} characters; at most {NOTE_LIMIT}")
    if len(text) < MIN_NOTE:
        raise ReasonRefused("reason_too_short", f"reason: a reason in your own words has at least {MIN_NOTE} "
                            f"characters ({len(text)} given), or name a preset: check_failure, correct_data, "
                            "supervision")
    return Reason(OTHER, text)


_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"|“[^”\n]*”|‘[^’\n]*’")


def without_values(reason: str) -> str:
    """A rejection's reason as it is shown before a reason to view the payload is stated: what it quotes (the
    schema's ``value 'ID-530581' is not accepted…``, a name that is too long) replaced by '…', ID numbers masked."""
    return mask_id_numbers(_QUOTED.sub("'…'", reason))


def part(name: str, content: bytes | str, **facts: Any) -> dict[str, Any]:
    """One thing shown, for the audit entry: its name, its size in bytes and its SHA-256 (and ``facts``)."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    return {"part": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), **facts}


def record_in(conn: Connection, *, at: dt.datetime, actor: str, target: str, reason: Reason,
              shown: Sequence[dict[str, Any]], channel: str, **detail: Any) -> None:
    """Put one view of payloads on the record in the caller's transaction: the viewer, the reason, the channel
    (console or api) and each part shown."""
    audit.record(conn, at=at, actor=actor, action=ACTION, target=target,
                 detail=reason.detail() | {"channel": channel, "shown": list(shown)} | detail)


def record(engine: Engine, *, actor: str, target: str, reason: Reason, shown: Sequence[dict[str, Any]],
           channel: str, **detail: Any) -> None:
    """``record_in`` in a transaction of its own, committed before the payload is shown."""
    with engine.begin() as conn:
        record_in(conn, at=utcnow(), actor=actor, target=target, reason=reason, shown=shown, channel=channel,
                  **detail)
