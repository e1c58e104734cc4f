"""Tables of the operator console: operators' accounts and their signed-in sessions (hub.operators)."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table

from hub.store.schema import TS, metadata

# One row per operator. ``agency`` is the registry code of the agency the operator works for; which messages the
# operator sees follows from it and from ``role`` (hub.operators.ROLES). Accounts are disabled, never deleted: the
# audit log names them.
operators = Table(
    "operators",
    metadata,
    Column("username", String(40), primary_key=True),
    Column("display_name", String(100), nullable=False),
    Column("role", String(20), nullable=False),
    Column("agency", String(12), nullable=False),
    Column("password_hash", String(200), nullable=False),  # scrypt$n$r$p$salt$hash (hub.operators)
    Column("disabled", Integer, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("password_changed_at", TS, nullable=False),
    Column("failed_signins", Integer, nullable=False),  # consecutive failures since the last success
    Column("locked_until", TS),  # after too many failures in a row
)

# One row per signed-in session: the cookie carries the token, the table only its SHA-256. A session ends when it
# has been idle too long, at its absolute end, or when the operator signs out.
operator_sessions = Table(
    "operator_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(40), nullable=False),
    Column("csrf", String(64), nullable=False),  # the token every form and API call of the session must carry
    Column("created_at", TS, nullable=False),
    Column("last_seen", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("lang", String(5), nullable=False),  # zh | en
)
Index("ix_operator_sessions_username", operator_sessions.c.username)
