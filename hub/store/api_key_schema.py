"""The agencies' API keys (hub.api_keys): the SHA-256 of each key, never the key itself."""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table, Text

from hub.store.schema import TS, SeqType, metadata

# One row per key. ``id`` is public: it is printed in the key itself (``xjk_<id>_<secret>``), so logs and the audit
# log can name a key without revealing it. ``source`` is ``issued`` for a key made by ``xianjie keys issue``, or
# ``registry`` for the agency registry's bootstrap key (``api_key_sha256``), whose row (id ``reg-<agency>``) is
# written the first time the key is used or revoked; or ``cert`` for a registered client certificate (id ``crt-<the
# first 32 hex digits of its fingerprint>``, ``key_sha256`` the whole fingerprint), whose row is written when it is
# revoked. Keys are revoked, never deleted: the audit log names them.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("agency", String(12), nullable=False),
    Column("source", String(10), nullable=False),  # issued | registry | cert
    Column("key_sha256", String(64), nullable=False),  # hex digest of the whole key text
    Column("label", String(200)),
    Column("created_at", TS, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("expires_at", TS),  # always set for an issued key; a registry key ends when revoked or edited out
    Column("revoked_at", TS),
    Column("revoked_by", String(100)),
    Column("revoke_reason", Text),
    Column("last_used_at", TS),  # written at most once a minute per key and process
)
Index("ux_api_keys_key_sha256", api_keys.c.key_sha256, unique=True)
Index("ix_api_keys_agency", api_keys.c.agency)

# The failed-attempt limiter's state shared by the hub's processes (hub.auth_limit.SharedFailureLimiter): each
# failed authentication (realm ``api`` or ``console``, the client's address, when), and each address's block
# (``key`` is ``<realm> <address>``). The limiter deletes what is past its window; the retention classes
# ``auth_failures`` and ``auth_blocks`` bound it too. No key, password or user name is kept here.
auth_failures = Table(
    "auth_failures",
    metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("realm", String(10), nullable=False),
    Column("client", String(64), nullable=False),
    Column("at", TS, nullable=False),
)
Index("ix_auth_failures_client", auth_failures.c.realm, auth_failures.c.client, auth_failures.c.at)
Index("ix_auth_failures_at", auth_failures.c.at)
auth_blocks = Table(
    "auth_blocks",
    metadata,
    Column("key", String(80), primary_key=True),
    Column("started_at", TS, nullable=False),
    Column("until_at", TS, nullable=False),
)
Index("ix_auth_blocks_until", auth_blocks.c.until_at)
