"""Transports: push over HTTP (httpx), drop into a folder (temp file + rename), or place in the pull inbox.

Each returns an Outcome kind; driver errors are sorted into transient (retry) and permanent (fail).
"""

from __future__ import annotations

import contextlib
import errno
import os
import uuid
from pathlib import Path

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_fixed

from adapters import get_adapter
from hub.canonical import parse
from hub.core.model import Agency
from hub.core.retry import RetryPolicy, is_retryable_status
from hub.core.routing import HUB_MESSAGE_TYPES
from hub.errors import InvalidMessage, RecipientRejected, RecipientUnavailable
from hub.store.work import Claimed

ACK_MARK = b"TechnicalAck"


class _FastTransient(RecipientUnavailable):
    """A transient failure cheap enough to retry at once (refused connection, 5xx)."""


def send(c: Claimed, agency: Agency, *, client: httpx.Client,
         policy: RetryPolicy) -> tuple[str, str | None, int | None]:
    """Deliver one claim; returns (kind, detail, http status). Never raises for recipient failures."""
    if agency.transport.value == "inbox":
        return ("available", None, None)  # encoded for the agency when it fetches its inbox
    # the hub's own notices have no form in any agency's native format: they go out as canonical XML
    system = "canonical" if c.message_type in HUB_MESSAGE_TYPES else agency.adapter
    try:
        enc = get_adapter(system).encode(c.payload, message_type=c.message_type)
    except ValueError as e:
        # the recipient's format has no form for this message: retrying cannot help, an operator must act
        return ("permanent", f"cannot encode {c.message_type} in the {agency.adapter} format: {e}", None)
    try:
        if agency.transport.value == "folder":
            assert agency.endpoint is not None
            name = drop_file(Path(agency.endpoint), c, enc.body, enc.extension)
            return ("delivered", f"written as {name}", None)
        assert agency.endpoint is not None
        status, body = _post(client, agency.endpoint, c, enc.body, enc.content_type, policy)
        answer = _ack_in(body, c.message_id)
        if answer == "REJECTED":
            return ("permanent", "the recipient answered with a TechnicalAck REJECTED: " + clean_text(body), status)
        return ("acknowledged" if answer == "ACCEPTED" else "delivered", None, status)
    except RecipientRejected as e:
        return ("permanent", str(e), getattr(e, "status", None))
    except RecipientUnavailable as e:
        return ("transient", str(e), getattr(e, "status", None))


def _ack_in(body: bytes, message_id: str) -> str | None:
    """ACCEPTED or REJECTED if the reply is a valid canonical TechnicalAck naming this message, else None."""
    if ACK_MARK not in body[:4096] or message_id.encode() not in body:
        return None
    try:
        ack = parse(body).canonical
    except InvalidMessage:
        return None
    if ack.message_type != "TechnicalAck" or ack.facts.get("ackOf") != message_id:
        return None
    return ack.facts.get("status")


def clean_text(raw: bytes | str, limit: int = 300) -> str:
    """Printable, bounded text for the record: recipients' error bodies may hold anything (even NUL)."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    return "".join(ch if ch.isprintable() else " " for ch in text[:limit]).strip()


def _post(client: httpx.Client, url: str, c: Claimed, body: bytes, content_type: str,
          policy: RetryPolicy) -> tuple[int, bytes]:
    headers = {"Content-Type": content_type, "X-Xianjie-Message-Id": c.message_id,
               "X-Xianjie-Delivery-Id": c.delivery_id, "X-Xianjie-Message-Type": c.message_type}

    def once() -> tuple[int, bytes]:
        try:
            r = client.post(url, content=body, headers=headers)
        except httpx.TimeoutException as e:
            raise RecipientUnavailable(f"timed out: {type(e).__name__}") from e
        except httpx.TransportError as e:
            raise _FastTransient(f"cannot reach {url}: {type(e).__name__}: {clean_text(str(e))}") from e
        if 200 <= r.status_code < 300:
            return r.status_code, r.content
        excerpt = clean_text(r.content)
        if is_retryable_status(r.status_code):
            err: Exception = (_FastTransient if r.status_code >= 500 else RecipientUnavailable)(
                f"HTTP {r.status_code}: {excerpt}")
        else:
            err = RecipientRejected(f"HTTP {r.status_code}: {excerpt}")
        err.status = r.status_code  # type: ignore[attr-defined]
        raise err

    retrying = Retrying(stop=stop_after_attempt(policy.inline_attempts), wait=wait_fixed(policy.inline_wait),
                        retry=retry_if_exception_type(_FastTransient), reraise=True)
    return retrying(once)


def drop_file(folder: Path, c: Claimed, body: bytes, extension: str) -> str:
    """Write atomically: a temp file in the same folder, fsync, then rename; the name sorts in hub order."""
    name = f"{c.seq:012d}-{c.message_type}-{c.message_id}.{extension}"
    tmp = folder / f".{c.delivery_id}.{c.attempt}.{uuid.uuid4().hex}.tmp"  # two sends never share one
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, folder / name)
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        what = {errno.ENOSPC: "disk full", errno.EACCES: "permission denied", errno.EROFS: "read-only"}.get(
            e.errno or 0, e.strerror or str(e))
        raise RecipientUnavailable(f"cannot write to drop folder {folder}: {what}") from e
    return name
