"""Transports: push over HTTP (httpx), drop into a folder (temp file + rename), or place in the pull inbox.

Each returns an Outcome kind; driver errors are sorted into transient (retry) and permanent (fail).
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_fixed

from adapters import get_adapter
from hub.core.model import Agency
from hub.core.retry import RetryPolicy, is_retryable_status
from hub.errors import RecipientRejected, RecipientUnavailable
from hub.store.work import Claimed

ACK_MARK = b"TechnicalAck"


class _FastTransient(RecipientUnavailable):
    """A transient failure cheap enough to retry at once (refused connection, 5xx)."""


def send(c: Claimed, agency: Agency, *, client: httpx.Client, policy: RetryPolicy,
         parse_ack: object = None) -> tuple[str, str | None, int | None]:
    """Deliver one claim; returns (kind, detail, http status). Never raises for recipient failures."""
    enc = get_adapter(agency.adapter).encode(c.payload, message_type=c.message_type)
    try:
        if agency.transport.value == "inbox":
            return ("available", None, None)
        if agency.transport.value == "folder":
            assert agency.endpoint is not None
            name = drop_file(Path(agency.endpoint), c, enc.body, enc.extension)
            return ("delivered", f"written as {name}", None)
        assert agency.endpoint is not None
        status, body = _post(client, agency.endpoint, c, enc.body, enc.content_type, policy)
        kind = "acknowledged" if _acks(body, c.message_id) else "delivered"
        return (kind, None, status)
    except RecipientRejected as e:
        return ("permanent", str(e), getattr(e, "status", None))
    except RecipientUnavailable as e:
        return ("transient", str(e), getattr(e, "status", None))


def _acks(body: bytes, message_id: str) -> bool:
    # A recipient may answer with a TechnicalAck naming the message: delivered and acknowledged at once.
    return ACK_MARK in body[:4096] and message_id.encode() in body and b"REJECTED" not in body


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
            raise _FastTransient(f"cannot reach {url}: {type(e).__name__}: {e}") from e
        if 200 <= r.status_code < 300:
            return r.status_code, r.content
        excerpt = r.text[:300].replace("\n", " ")
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
    tmp = folder / f".{c.delivery_id}.tmp"
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
