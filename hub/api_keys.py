"""Agencies' API keys: several per agency, each with a public id, a label, an expiry, and revocable; the database
keeps the SHA-256 of a key, never the key.

A key reads ``xjk_<id>_<secret>``: ``id`` is 8 hex digits that logs and the audit log may show, ``secret`` 32
random bytes (256 bits, URL-safe base64). It is printed once, when issued. The registry's ``api_key_sha256`` stays
a valid key of its agency (the *bootstrap* key, id ``reg-<agency>``) until revoked here like any other.

``KeyStore`` answers "whose key is this" for one process, from a snapshot of the table at most ``cache_seconds``
old (0: one indexed lookup per request): a key revoked in another process stops working here within that bound.
See docs/security-keys.md for the choice and its measured cost.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub import audit
from hub.core.model import Agency, Directory
from hub.registry import key_hash
from hub.store.api_key_schema import api_keys
from hub.store.db import READ_ONLY, aware, utcnow

log = logging.getLogger("xianjie.auth")

KEY_PREFIX = "xjk"
REGISTRY = "reg-"  # the id of an agency's bootstrap key is reg-<agency code>
CERT = "crt-"  # the id of a registered client certificate is crt-<the first 32 hex digits of its fingerprint>
MAX_DAYS = 3650
TOUCH_SECONDS = 60.0  # last_used_at is written at most this often per key and process
MISS_RELOAD_SECONDS = 1.0  # a key not in the snapshot reloads it if it is older than this
_KEY = re.compile(r"xjk_([0-9a-f]{8})_[A-Za-z0-9_-]{20,}")


class ApiKeyError(ValueError):
    """A key request that cannot be done as asked (unknown agency or key, no reason, a revoked key …)."""


@dataclasses.dataclass(frozen=True)
class Issued:
    """A new key: ``key`` is its only copy, shown once."""

    key_id: str
    agency: str
    key: str
    label: str | None
    expires_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class KeyInfo:
    """A key as an operator sees it (never its text)."""

    id: str
    agency: str
    source: str  # issued | registry
    label: str | None
    created_at: dt.datetime | None
    created_by: str | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    revoked_by: str | None
    revoke_reason: str | None
    last_used_at: dt.datetime | None

    def state(self, now: dt.datetime) -> str:
        """``revoked``, ``expired`` or ``active``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def plain(self, now: dt.datetime) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"state": self.state(now)}


def public_id(key: str) -> str | None:
    """The public id a key in the hub's format carries (None for any other text, such as a registry key)."""
    m = _KEY.fullmatch(key)
    return m.group(1) if m else None


def _new_key() -> tuple[str, str]:
    key_id = secrets.token_hex(4)
    return key_id, f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"


def _info(row: Any) -> KeyInfo:
    return KeyInfo(row.id, row.agency, row.source, row.label, aware(row.created_at), row.created_by,
                   aware(row.expires_at), aware(row.revoked_at), row.revoked_by, row.revoke_reason,
                   aware(row.last_used_at))


def issue(engine: Engine, *, directory: Directory, agency: str, by: str, label: str | None = None,
          expires_in: dt.timedelta = dt.timedelta(days=365), now: dt.datetime | None = None) -> Issued:
    """A new key for ``agency``, valid for ``expires_in``; its hash stored and the issue audited in one commit.
    ApiKeyError for an agency not in the registry or a lifetime outside 1 day … 10 years."""
    if agency not in directory.agencies:
        raise ApiKeyError(f"no agency {agency!r} in the registry (`xianjie agencies` lists them)")
    if not dt.timedelta(days=1) <= expires_in <= dt.timedelta(days=MAX_DAYS):
        raise ApiKeyError(f"a key lives 1 to {MAX_DAYS} days, not {expires_in.total_seconds() / 86400:g}")
    label = (label or "").strip()[:200] or None
    now = now or utcnow()
    expires_at = now + expires_in
    with engine.begin() as conn:
        while True:  # a clash of two random 32-bit ids is rare; draw again
            key_id, key = _new_key()
            if conn.execute(select(api_keys.c.id).where(api_keys.c.id == key_id)).first() is None:
                break
        conn.execute(insert(api_keys).values(
            id=key_id, agency=agency, source="issued", key_sha256=key_hash(key), label=label, created_at=now,
            created_by=by[:100], expires_at=expires_at))
        audit.record(conn, at=now, actor=by, action="api_key_issue", target=f"api_key:{key_id}",
                     detail={"agency": agency, "label": label, "expires_at": expires_at.isoformat()})
    log.info("API key %s issued for %s by %s, expires %s", key_id, agency, by, expires_at.isoformat())
    return Issued(key_id, agency, key, label, expires_at)


def list_keys(engine: Engine, *, directory: Directory, agency: str | None = None) -> list[KeyInfo]:
    """Every key (of ``agency``), issued or the registry's bootstrap key, by agency then creation time."""
    with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        q = select(api_keys)
        if agency is not None:
            q = q.where(api_keys.c.agency == agency)
        rows = {r.id: r for r in conn.execute(q)}
    out = [_info(r) for r in rows.values() if r.source == "issued"]
    registered = set()
    for a in directory.agencies.values():
        if agency is not None and a.code != agency:
            continue
        for fp in a.client_cert_sha256:
            registered.add(cert_id(fp))
            row = rows.get(cert_id(fp))
            out.append(_info(row) if row is not None and row.key_sha256 == fp else KeyInfo(
                cert_id(fp), a.code, "cert", _cert_label(fp), None, None, None, None, None, None, None))
    # a certificate revoked, then removed from the registry, stays listed (revoked): the audit log names it
    out.extend(_info(r) for r in rows.values() if r.source == "cert" and r.id not in registered)
    for a in directory.agencies.values():
        if a.api_key_sha256 is None or (agency is not None and a.code != agency):
            continue
        row = rows.get(REGISTRY + a.code)
        # a row for another key than the registry's names a bootstrap key the registry has replaced since
        info = _info(row) if row is not None and row.key_sha256 == a.api_key_sha256 else KeyInfo(
            REGISTRY + a.code, a.code, "registry", "registry bootstrap key", None, None, None, None, None, None, None)
        out.append(dataclasses.replace(info, expires_at=a.api_key_expires))  # the registry says when it expires
    first = dt.datetime.min.replace(tzinfo=dt.UTC)
    return sorted(out, key=lambda k: (k.agency, k.source != "registry", k.created_at or first, k.id))


def cert_id(fingerprint: str) -> str:
    """The public id of a registered client certificate (``crt-`` and the first 32 hex digits of its SHA-256)."""
    return CERT + fingerprint[:32]


def _cert_label(fingerprint: str) -> str:
    return f"client certificate sha256 {fingerprint[:16]}…"


def _certificate(directory: Directory, key_id: str) -> tuple[Agency, str]:
    """The agency and fingerprint a ``crt-<hex>`` id names (at least 16 hex digits of the fingerprint)."""
    prefix = key_id[len(CERT):].lower()
    if not re.fullmatch(r"[0-9a-f]{16,64}", prefix):
        raise ApiKeyError(f"{key_id!r}: a certificate is named crt-<16 to 64 hex digits of its SHA-256 fingerprint>")
    found = [(a, fp) for a in directory.agencies.values() for fp in a.client_cert_sha256 if fp.startswith(prefix)]
    if len(found) != 1:
        raise ApiKeyError(f"no registered client certificate {key_id!r}" if not found else
                          f"{key_id!r} names {len(found)} certificates: give more of the fingerprint")
    return found[0]


def revoke(engine: Engine, *, directory: Directory, key_id: str, by: str, reason: str,
           now: dt.datetime | None = None) -> KeyInfo:
    """Revoke a key for good (an issued one, ``reg-<agency>``, the registry's bootstrap key, or ``crt-<hex>``, a
    registered client certificate), audited in the same commit; ApiKeyError for an unknown key, one revoked already,
    or no reason."""
    reason = reason.strip()
    if not reason:
        raise ApiKeyError("say why the key is revoked (--reason)")
    now = now or utcnow()
    with engine.begin() as conn:
        if key_id.startswith(CERT):
            holder, fingerprint = _certificate(directory, key_id)
            key_id = cert_id(fingerprint)
        row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        if key_id.startswith(CERT):
            if row is not None and row.revoked_at is not None:
                raise ApiKeyError(f"certificate {key_id} was revoked already, at "
                                  f"{aware(row.revoked_at).isoformat()}")  # type: ignore[union-attr]
            if row is None:
                conn.execute(insert(api_keys).values(
                    id=key_id, agency=holder.code, source="cert", key_sha256=fingerprint,
                    label=_cert_label(fingerprint), created_at=now, created_by="registry"))
            conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(
                revoked_at=now, revoked_by=by[:100], revoke_reason=reason))
            agency_code = holder.code
        elif key_id.startswith(REGISTRY):
            agency = directory.get(key_id[len(REGISTRY):])
            if agency is None or agency.api_key_sha256 is None:
                raise ApiKeyError(f"no bootstrap key {key_id!r}: the registry names no api_key_sha256 for "
                                  f"{key_id[len(REGISTRY):]!r}")
            if row is not None and row.key_sha256 == agency.api_key_sha256 and row.revoked_at is not None:
                raise ApiKeyError(f"key {key_id} was revoked already, at {aware(row.revoked_at).isoformat()}")  # type: ignore[union-attr]
            _ensure_registry_row(conn, agency, now)
            # the row now names the key the registry holds (a registry edited since an earlier revocation holds a
            # new key, and it is that one being revoked)
            conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(
                key_sha256=agency.api_key_sha256, revoked_at=now, revoked_by=by[:100], revoke_reason=reason))
            agency_code = agency.code
        else:
            if row is None:
                raise ApiKeyError(f"no key {key_id!r} (`xianjie keys list` shows them)")
            if row.revoked_at is not None:
                raise ApiKeyError(f"key {key_id} was revoked already, at {aware(row.revoked_at).isoformat()}")  # type: ignore[union-attr]
            conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(
                revoked_at=now, revoked_by=by[:100], revoke_reason=reason))
            agency_code = row.agency
        audit.record(conn, at=now, actor=by, action="api_key_revoke", target=f"api_key:{key_id}",
                     detail={"agency": agency_code, "reason": reason})
        info = _info(conn.execute(select(api_keys).where(api_keys.c.id == key_id)).one())
    log.info("API key %s of %s revoked by %s", key_id, agency_code, by)
    return info


def _ensure_registry_row(conn: Connection, agency: Agency, now: dt.datetime) -> None:
    make = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(make(api_keys).values(
        id=REGISTRY + agency.code, agency=agency.code, source="registry", key_sha256=agency.api_key_sha256,
        label="registry bootstrap key", created_at=now, created_by="registry").on_conflict_do_nothing())


# ---- checking a key on a request -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class KeyRow:
    id: str
    agency: str
    source: str
    key_sha256: str
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


@dataclasses.dataclass(frozen=True)
class KeyCheck:
    """What a key turned out to be: its agency, or the reason it was refused; ``key_id`` names it when known."""

    agency: Agency | None
    key_id: str | None
    reason: str | None = None


_COLUMNS = (api_keys.c.id, api_keys.c.agency, api_keys.c.source, api_keys.c.key_sha256, api_keys.c.expires_at,
            api_keys.c.revoked_at)


def _row(r: Any) -> KeyRow:
    return KeyRow(r.id, r.agency, r.source, r.key_sha256, aware(r.expires_at), aware(r.revoked_at))


class KeyStore:
    """One process's view of the keys: a snapshot of the table by hash, reloaded when older than
    ``cache_seconds`` (``monotonic`` is the clock it is measured by), or a lookup per check when that is 0; writes
    of a key's last use run in ``background`` (default ``off_the_loop``)."""

    def __init__(self, engine: Engine, *, cache_seconds: float = 5.0, touch_seconds: float = TOUCH_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic,
                 background: Callable[[Callable[[], None]], None] | None = None) -> None:
        self.engine = engine
        self.background = background or off_the_loop  # how writes the request does not wait for are run
        self.cache_seconds = cache_seconds
        self.touch_seconds = touch_seconds
        self.monotonic = monotonic
        self._by_hash: dict[str, Any] = {}  # the table's rows by hash, as fetched (read into a KeyRow when matched)
        self._loaded_at: float | None = None
        self._lock = threading.Lock()
        self._touched: dict[str, float] = {}

    def _lookup(self, digest: str, *, max_age: float | None = None) -> KeyRow | None:
        """The row for ``digest`` from a snapshot at most ``max_age`` (default ``cache_seconds``) old."""
        if self.cache_seconds <= 0:
            with self.engine.connect().execution_options(**{READ_ONLY: True}) as conn:
                r = conn.execute(select(*_COLUMNS).where(api_keys.c.key_sha256 == digest)).first()
            return _row(r) if r is not None else None
        limit = self.cache_seconds if max_age is None else max_age
        with self._lock:
            clock = self.monotonic()
            if self._loaded_at is None or clock - self._loaded_at >= limit:
                with self.engine.connect().execution_options(**{READ_ONLY: True}) as conn:
                    self._by_hash = {r[3]: r for r in conn.execute(select(*_COLUMNS)).all()}
                self._loaded_at = clock
            found = self._by_hash.get(digest)
        return _row(found) if found is not None else None

    def check(self, key: str, *, directory: Directory, now: dt.datetime) -> KeyCheck:
        """Whose key ``key`` is, at ``now``: an issued key must be known, unrevoked, unexpired and its agency in
        the registry; a registry key must not be revoked."""
        digest = key_hash(key)
        row = self._lookup(digest)
        if row is None and self.cache_seconds > 0 and directory.by_key_hash(digest) is None:
            # a key issued in another process since the snapshot works within MISS_RELOAD_SECONDS, not
            # cache_seconds; unknown keys cause at most one reload per MISS_RELOAD_SECONDS
            row = self._lookup(digest, max_age=min(self.cache_seconds, MISS_RELOAD_SECONDS))
        if row is not None and row.source == "issued":
            agency = directory.get(row.agency)
            if row.revoked_at is not None:
                return KeyCheck(None, row.id, "revoked key")
            if row.expires_at is not None and row.expires_at <= now:
                return KeyCheck(None, row.id, f"key expired at {row.expires_at.isoformat()}")
            if agency is None:
                return KeyCheck(None, row.id, f"key of agency {row.agency}, which is not in the registry")
            return KeyCheck(agency, row.id)
        agency = directory.by_key_hash(digest)
        if agency is not None:
            if row is not None and row.revoked_at is not None:
                return KeyCheck(None, row.id, "revoked key")
            if agency.api_key_expires is not None and agency.api_key_expires <= now:
                return KeyCheck(None, REGISTRY + agency.code, f"key expired at {agency.api_key_expires.isoformat()}")
            return KeyCheck(agency, REGISTRY + agency.code)
        return KeyCheck(None, public_id(key), "unknown key")

    def cert_revoked(self, fingerprint: str) -> bool:
        """Whether the registered client certificate with this fingerprint was revoked (``crt-…``), as of a
        snapshot at most ``cache_seconds`` old, like a key's revocation."""
        row = self._lookup(fingerprint)
        return row is not None and row.source == "cert" and row.revoked_at is not None

    def touch(self, key_id: str, *, agency: Agency, key: str, now: dt.datetime) -> None:
        """Note that the key was used: written to ``last_used_at`` at most once per ``touch_seconds`` per key, off
        the event loop when there is one (the request does not wait for the write)."""
        clock = self.monotonic()
        with self._lock:
            last = self._touched.get(key_id)
            if last is not None and clock - last < self.touch_seconds:
                return
            self._touched[key_id] = clock
        digest = key_hash(key)

        def write() -> None:
            try:
                with self.engine.begin() as conn:
                    if key_id.startswith(REGISTRY):
                        _ensure_registry_row(conn, agency, now)
                    conn.execute(update(api_keys).where(api_keys.c.id == key_id, api_keys.c.key_sha256 == digest)
                                 .values(last_used_at=now))
            except Exception as e:  # the key's last use is a convenience: never fail or slow a request for it
                log.warning("could not record the last use of API key %s: %s", key_id, type(e).__name__)

        self.background(write)


def off_the_loop(fn: Callable[[], None]) -> None:
    """Run ``fn`` without making the caller wait: in the event loop's default executor when called on the loop, else
    in a short-lived thread (a write may queue behind another transaction on SQLite)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        threading.Thread(target=fn, name="xianjie-auth-write", daemon=True).start()
        return
    loop.run_in_executor(None, fn)
