"""Operators of the console: accounts with salted password hashes and roles, and signed-in sessions.

A password is kept as ``scrypt$n$r$p$salt$hash`` (``hashlib.scrypt``, a random 16-byte salt per password), and
compared in constant time. A session is a random token in the operator's cookie; the table keeps its SHA-256, the
CSRF token every form of the session carries, and when it ends: after ``IDLE`` without a request, at ``LIFETIME``
after sign-in, or at sign-out. ``MAX_FAILURES`` wrong passwords in a row lock the account for ``LOCKOUT``; every
sign-in, failed sign-in, account change and sign-out is in the audit log. Every failed sign-in is also logged on
``xianjie.auth`` with the client's address, and too many from one address block that address for a while
(``hub.auth_limit``, realm ``console``: ``SignInThrottled``, a 429 page), whoever's account they tried.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import logging
import secrets
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from hub import audit
from hub.auth_limit import SharedFailureLimiter, limiter_for
from hub.store.db import aware, utcnow
from hub.store.operator_schema import operator_sessions, operators

ROLES = ("operator", "supervisor", "auditor", "administrator")
ROLE_LABELS = {"operator": "操作员", "supervisor": "主管", "auditor": "审计员", "administrator": "管理员"}
IDLE = dt.timedelta(minutes=30)
LIFETIME = dt.timedelta(hours=12)
MAX_FAILURES = 5
LOCKOUT = dt.timedelta(minutes=15)
MIN_PASSWORD = 10
_SCRYPT = (2 ** 14, 8, 1)
REALM = "console"  # the failed-attempt limit's count of console sign-ins (hub.auth_limit)
log = logging.getLogger("xianjie.auth")


class OperatorError(ValueError):
    """An account request that cannot be done as asked (unknown user, weak password, unknown role …)."""


class SignInRefused(Exception):
    """Wrong user name or password, a disabled or a locked account: the caller says only that sign-in failed."""


class SignInThrottled(SignInRefused):
    """Too many failed sign-ins from the client's address: it may try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins from this address; try again in {retry_after} s")
        self.retry_after = retry_after


@dataclasses.dataclass(frozen=True)
class Operator:
    username: str
    display_name: str
    role: str
    agency: str
    disabled: bool

    def plain(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Session:
    """A signed-in operator, as a request sees it."""

    operator: Operator
    token_hash: str
    csrf: str
    lang: str
    expires_at: dt.datetime


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    n, r, p = _SCRYPT
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(_unb64(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, _unb64(digest))


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


_DUMMY = hash_password(secrets.token_urlsafe(16))  # compared against when there is no account


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise OperatorError(f"a password needs at least {MIN_PASSWORD} characters")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise OperatorError(f"unknown role {role!r}: one of {', '.join(ROLES)}")


def _audit(conn: Connection, *, at: dt.datetime, actor: str, action: str, target: str, **detail: Any) -> None:
    audit.record(conn, at=at, actor=actor, action=action, target=target, detail=detail)


def _operator(row: Any) -> Operator:
    return Operator(row.username, row.display_name, row.role, row.agency, bool(row.disabled))


def create(engine: Engine, *, username: str, password: str, role: str, agency: str, display_name: str,
           actor: str, now: dt.datetime | None = None) -> Operator:
    """A new account; OperatorError if the name is taken, the role unknown or the password too short."""
    _check_role(role)
    _check_password(password)
    username = username.strip()
    if not username or len(username) > 40 or any(c.isspace() for c in username):
        raise OperatorError("a user name is 1 to 40 characters without spaces")
    now = now or utcnow()
    with engine.begin() as conn:
        if conn.execute(select(operators.c.username).where(operators.c.username == username)).first():
            raise OperatorError(f"user {username!r} exists already")
        conn.execute(insert(operators).values(
            username=username, display_name=display_name.strip() or username, role=role, agency=agency,
            password_hash=hash_password(password), disabled=0, created_at=now, password_changed_at=now,
            failed_signins=0, locked_until=None))
        _audit(conn, at=now, actor=actor, action="operator_create", target=f"operator:{username}", role=role,
               agency=agency)
    return Operator(username, display_name.strip() or username, role, agency, False)


def change(engine: Engine, username: str, *, actor: str, password: str | None = None, role: str | None = None,
           agency: str | None = None, disabled: bool | None = None, now: dt.datetime | None = None) -> Operator:
    """Change an account; a new password, a new role or disabling it ends the account's sessions."""
    now = now or utcnow()
    values: dict[str, Any] = {}
    changed: dict[str, Any] = {}
    if password is not None:
        _check_password(password)
        values |= {"password_hash": hash_password(password), "password_changed_at": now, "failed_signins": 0,
                   "locked_until": None}
        changed["password"] = "changed"
    if role is not None:
        _check_role(role)
        values["role"] = changed["role"] = role
    if agency is not None:
        values["agency"] = changed["agency"] = agency
    if disabled is not None:
        values["disabled"] = int(disabled)
        changed["disabled"] = disabled
    with engine.begin() as conn:
        row = conn.execute(select(operators).where(operators.c.username == username)).first()
        if row is None:
            raise OperatorError(f"no user {username!r}")
        if values:
            conn.execute(update(operators).where(operators.c.username == username).values(**values))
            if password is not None or role is not None or agency is not None or disabled:
                conn.execute(delete(operator_sessions).where(operator_sessions.c.username == username))
            _audit(conn, at=now, actor=actor, action="operator_change", target=f"operator:{username}", **changed)
        row = conn.execute(select(operators).where(operators.c.username == username)).one()
    return _operator(row)


def list_operators(engine: Engine) -> list[Operator]:
    with engine.connect() as conn:
        return [_operator(r) for r in conn.execute(select(operators).order_by(operators.c.username))]


def get(engine: Engine, username: str) -> Operator | None:
    with engine.connect() as conn:
        row = conn.execute(select(operators).where(operators.c.username == username)).first()
    return _operator(row) if row else None


def sign_in(engine: Engine, username: str, password: str, *, lang: str = "zh", client: str = "",
            now: dt.datetime | None = None, limiter: SharedFailureLimiter | None = None) -> tuple[str, Session]:
    """A new session (the token for the cookie, and the session); SignInRefused, logged, when the name or the
    password is wrong, the account is disabled or locked; SignInThrottled, before any password is checked, while
    the client's address is blocked for too many failures (``limiter``: the hub's, by default)."""
    now = now or utcnow()
    limiter = limiter or limiter_for(engine)
    wait = limiter.blocked_for(REALM, client)
    if wait:
        log.warning("console sign-in refused: client=%s blocked for %ds more after repeated failures (user %r)",
                    client, wait, username[:40])
        raise SignInThrottled(wait)
    with engine.begin() as conn:
        row = conn.execute(select(operators).where(operators.c.username == username)).first()
        locked = row is not None and row.locked_until is not None and aware(row.locked_until) > now  # type: ignore[operator]
        # the password is checked whatever the account's state, so that the time taken does not tell whether a
        # user name exists, is disabled or is locked
        matches = verify_password(password, row.password_hash if row is not None else _DUMMY)
        ok = row is not None and not row.disabled and not locked and matches
        if not ok:
            reason = ("unknown user" if row is None else "disabled" if row.disabled else "locked" if locked
                      else "wrong password")
            if row is not None and reason == "wrong password":
                # a lock that has run out starts the count again
                lapsed = row.locked_until is not None and aware(row.locked_until) <= now  # type: ignore[operator]
                failures = (0 if lapsed else int(row.failed_signins)) + 1
                conn.execute(update(operators).where(operators.c.username == username).values(
                    failed_signins=failures, locked_until=now + LOCKOUT if failures >= MAX_FAILURES else None))
                if failures >= MAX_FAILURES:
                    reason = f"wrong password ({failures} in a row): locked until {(now + LOCKOUT).isoformat()}"
            _audit(conn, at=now, actor=f"console:{username[:40]}", action="sign_in_failed",
                   target=f"operator:{username[:40]}", reason=reason, client=client)
            log.warning("console sign-in failed: client=%s user=%r reason=%s", client, username[:40], reason)
            block = limiter.failed(REALM, client, {"last_reason": reason})
            if block:  # audited by the limiter's sync, below (once, whichever process starts the block)
                log.warning("console sign-in: client=%s blocked for %ds after %d failures within %gs", client, block,
                            limiter.max_failures, limiter.window)
        else:
            assert row is not None
            token = secrets.token_urlsafe(32)
            session = Session(_operator(row), _token_hash(token), secrets.token_urlsafe(32),
                              lang if lang in ("zh", "en") else "zh", now + LIFETIME)
            conn.execute(insert(operator_sessions).values(
                token_hash=session.token_hash, username=row.username, csrf=session.csrf, created_at=now,
                last_seen=now, expires_at=session.expires_at, lang=session.lang))
            conn.execute(update(operators).where(operators.c.username == username).values(failed_signins=0,
                                                                                          locked_until=None))
            conn.execute(delete(operator_sessions).where(operator_sessions.c.expires_at < now))
            _audit(conn, at=now, actor=f"console:{row.username}", action="sign_in", target=f"operator:{row.username}",
                   client=client)
    if not ok:
        limiter.sync()  # the failure counted by every process of the hub (after this transaction)
        raise SignInRefused(reason)
    return token, session


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_of(engine: Engine, token: str | None, *, now: dt.datetime | None = None,
               touch: bool = True) -> Session | None:
    """The live session of ``token`` (its idle time starts again, unless ``touch`` is false: a page refreshing
    itself is not the operator at work), or None: unknown, idle too long, past its end, or its account
    disabled."""
    if not token:
        return None
    now = now or utcnow()
    h = _token_hash(token)
    with engine.begin() as conn:
        row = conn.execute(select(operator_sessions, operators).join(
            operators, operators.c.username == operator_sessions.c.username).where(
            operator_sessions.c.token_hash == h)).first()
        if row is None:
            return None
        if row.disabled or aware(row.expires_at) <= now or now - aware(row.last_seen) > IDLE:  # type: ignore[operator]
            conn.execute(delete(operator_sessions).where(operator_sessions.c.token_hash == h))
            return None
        if touch:
            conn.execute(update(operator_sessions).where(operator_sessions.c.token_hash == h).values(last_seen=now))
    return Session(_operator(row), h, row.csrf, row.lang, aware(row.expires_at))  # type: ignore[arg-type]


def set_language(engine: Engine, session: Session, lang: str) -> None:
    if lang not in ("zh", "en"):
        raise OperatorError("language is zh or en")
    with engine.begin() as conn:
        conn.execute(update(operator_sessions).where(operator_sessions.c.token_hash == session.token_hash)
                     .values(lang=lang))


def sign_out(engine: Engine, session: Session, *, now: dt.datetime | None = None) -> None:
    now = now or utcnow()
    with engine.begin() as conn:
        conn.execute(delete(operator_sessions).where(operator_sessions.c.token_hash == session.token_hash))
        _audit(conn, at=now, actor=f"console:{session.operator.username}", action="sign_out",
               target=f"operator:{session.operator.username}")
