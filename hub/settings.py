"""Settings: read once from the environment into a frozen object that is passed down."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from hub.bus.topology import retry_policy
from hub.core.retry import RetryPolicy
from hub.resources import default_registry_path

DEFAULT_VAR = Path("var")


@dataclass(frozen=True)
class Settings:
    """Everything configurable; ``XIANJIE_*`` environment variables override the defaults."""

    database_url: str = f"sqlite:///{DEFAULT_VAR}/xianjie.db"
    broker_url: str = "database://"
    registry_path: Path = field(default_factory=default_registry_path)
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 10 * 1024 * 1024
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    lease_seconds: float = 60.0
    http_timeout: float = 10.0
    delivery_threads: int = 8
    per_recipient_concurrency: int = 4
    relay_batch: int = 500
    bus_batch: int = 100
    redrive_after: float = 30.0
    sweep_interval: float = 1.0
    queue_prefix: str = ""
    # native payloads (batches, spreadsheets) may be far larger than one canonical notice
    max_native_bytes: int = 64 * 1024 * 1024
    # drop folders: <inbound_root>/<agency code>/incoming, done, rejected; None switches polling off
    inbound_root: Path | None = None
    inbound_poll_interval: float = 2.0
    inbound_settle_seconds: float = 2.0
    # case ledger: poll for messages other processes stored; run the deadline clock; messages per projection batch
    ledger_poll: float = 2.0
    clock_interval: float = 60.0
    ledger_batch: int = 1000
    # the retention policy (hub.retention, docs/security-retention.md); None: the shipped hub/retention.toml
    retention_policy: Path | None = None
    # the audit chain's daily anchors (hub.audit, docs/security-audit.md); None: beside a SQLite database file, else
    # var/audit-anchors
    audit_anchor_dir: Path | None = None
    # agency authentication (hub.api.auth, hub.api_keys; docs/security-keys.md): TLS served by the hub itself, with
    # client certificates checked against tls_client_ca ("optional": a client may present one; "required": the
    # handshake fails without one); or a TLS-terminating proxy among trusted_proxies passing the verified client
    # certificate in client_cert_header. trusted_proxies is also whose X-Forwarded-For names the client.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    tls_client_cert: str = "optional"
    client_cert_header: str = ""
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    api_key_days: int = 365  # an issued key's lifetime unless `xianjie keys issue --expires-in-days` says otherwise
    api_key_cache_seconds: float = 5.0  # how stale a process's view of the keys may be (0: look up every request)
    auth_max_failures: int = 20  # failed authentications from one client address within auth_window_seconds ...
    auth_window_seconds: float = 300.0
    auth_block_seconds: float = 300.0  # ... block that address (429) for this long

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Defaults, then ``XIANJIE_*`` variables, then keyword overrides."""
        e = os.environ if env is None else env
        s = cls()
        changes: dict[str, object] = {}
        simple: dict[str, type] = {
            "database_url": str, "broker_url": str, "host": str, "port": int,
            "max_body_bytes": int, "lease_seconds": float, "http_timeout": float, "delivery_threads": int,
            "per_recipient_concurrency": int, "relay_batch": int, "bus_batch": int,
            "redrive_after": float, "sweep_interval": float, "queue_prefix": str,
            "max_native_bytes": int, "inbound_poll_interval": float, "inbound_settle_seconds": float,
            "ledger_poll": float, "clock_interval": float, "ledger_batch": int,
            "tls_client_cert": str, "client_cert_header": str, "api_key_days": int, "api_key_cache_seconds": float,
            "auth_max_failures": int, "auth_window_seconds": float, "auth_block_seconds": float,
        }
        for name, kind in simple.items():
            raw = e.get(f"XIANJIE_{name.upper()}")
            if raw is not None and raw != "":
                changes[name] = kind(raw)
        if e.get("XIANJIE_INBOUND_ROOT"):
            changes["inbound_root"] = Path(e["XIANJIE_INBOUND_ROOT"])
        if e.get("XIANJIE_REGISTRY"):
            changes["registry_path"] = Path(e["XIANJIE_REGISTRY"])
        if e.get("XIANJIE_RETENTION_POLICY"):
            changes["retention_policy"] = Path(e["XIANJIE_RETENTION_POLICY"])
        if e.get("XIANJIE_AUDIT_ANCHOR_DIR"):
            changes["audit_anchor_dir"] = Path(e["XIANJIE_AUDIT_ANCHOR_DIR"])
        for name in ("tls_cert", "tls_key", "tls_client_ca"):
            if e.get(f"XIANJIE_{name.upper()}"):
                changes[name] = Path(e[f"XIANJIE_{name.upper()}"])
        if e.get("XIANJIE_TRUSTED_PROXIES") is not None:
            changes["trusted_proxies"] = tuple(x.strip() for x in e["XIANJIE_TRUSTED_PROXIES"].split(",") if x.strip())
        retry = retry_policy()
        if e.get("XIANJIE_RETRY_TIERS"):
            retry = replace(retry, tiers=tuple(float(x) for x in e["XIANJIE_RETRY_TIERS"].split(",")))
        if e.get("XIANJIE_RETRY_MAX_AGE"):
            retry = replace(retry, max_age=dt.timedelta(seconds=float(e["XIANJIE_RETRY_MAX_AGE"])))
        changes["retry"] = retry
        changes.update(overrides)
        return replace(s, **changes)  # type: ignore[arg-type]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
