"""The agency registry: a TOML file of agencies (code, organ type, division, name, transport, adapter, bootstrap
key hash, client-certificate fingerprints and how the agency authenticates, and a bureau's ``auto_pursuit``
choice)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tomllib
from dataclasses import replace
from pathlib import Path

from adapters import module_of
from hub.core.facts import SHANGHAI
from hub.core.model import Agency, Directory, OrganType, Transport


def key_hash(api_key: str) -> str:
    """The SHA-256 hex digest stored for an API key (keys themselves are never stored)."""
    return hashlib.sha256(api_key.encode()).hexdigest()


CLIENT_AUTH = ("key", "cert", "cert+key")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def fingerprint_of(text: str) -> str:
    """A SHA-256 fingerprint as the hub compares it: lowercase hex without colons (``AB:CD:…`` is accepted)."""
    return text.replace(":", "").strip().lower()


def _fingerprints(value: object) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
        raise ValueError(f"client_cert_sha256 is a fingerprint or a list of them, not {value!r}")
    out = tuple(fingerprint_of(x) for x in items)
    for fp in out:
        if not _HEX64.fullmatch(fp):
            raise ValueError(f"client_cert_sha256 {fp!r} is not a SHA-256 fingerprint (64 hex digits)")
    return out


def _expiry(value: object) -> dt.datetime | None:
    """``api_key_expires``: a TOML date (the key is refused from 00:00 Beijing time that day) or a date-time with
    its offset."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"api_key_expires {value.isoformat()} needs its offset (e.g. +08:00)")
        return value.astimezone(dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(0), tzinfo=SHANGHAI).astimezone(dt.UTC)
    raise ValueError(f"api_key_expires is a date (2027-06-30) or a date-time with its offset, not {value!r}")


def load_registry(path: Path) -> Directory:
    """Read and check a registry file; raises ValueError naming the agency and field at fault."""
    with path.open("rb") as f:
        data = tomllib.load(f)
    agencies = []
    certs: dict[str, str] = {}
    keys: dict[str, str] = {}
    for i, row in enumerate(data.get("agency", []), start=1):
        where = f"{path}: agency #{i} ({row.get('code', '?')})"
        try:
            transport = Transport(row["transport"])
            agency = Agency(
                code=str(row["code"]),
                organ_type=OrganType(row["organ_type"]),
                division=str(row["division"]),
                name=str(row["name"]),
                transport=transport,
                adapter=str(row.get("adapter", "canonical")),
                endpoint=row.get("endpoint"),
                api_key_sha256=row.get("api_key_sha256"),
                also_accepts=tuple(str(x) for x in row.get("also_accepts", ())),
                auto_pursuit=row.get("auto_pursuit", False),
                client_cert_sha256=_fingerprints(row.get("client_cert_sha256", [])),
            )
            key_sha = agency.api_key_sha256
            if key_sha is not None and not _HEX64.fullmatch(str(key_sha).lower()):
                raise ValueError(f"api_key_sha256 {key_sha!r} is not a SHA-256 hex digest (64 hex digits)")
            client_auth = str(row.get("client_auth", "cert+key" if agency.client_cert_sha256 else "key"))
            agency = replace(agency, client_auth=client_auth,
                             api_key_sha256=str(key_sha).lower() if key_sha is not None else None,
                             api_key_expires=_expiry(row.get("api_key_expires")))
        except (KeyError, ValueError) as e:
            raise ValueError(f"{where}: {e!r}") from e
        if agency.client_auth not in CLIENT_AUTH:
            raise ValueError(f"{where}: client_auth is one of {', '.join(CLIENT_AUTH)}, not {agency.client_auth!r}")
        if agency.client_auth != "key" and not agency.client_cert_sha256:
            raise ValueError(f"{where}: client_auth {agency.client_auth!r} needs client_cert_sha256 (the "
                             f"fingerprints of the agency's client certificates)")
        for fp in agency.client_cert_sha256:
            if fp in certs:
                raise ValueError(f"{where}: client certificate {fp} is registered for {certs[fp]} already")
            certs[fp] = agency.code
        if agency.api_key_expires is not None and agency.api_key_sha256 is None:
            raise ValueError(f"{where}: api_key_expires without api_key_sha256: there is no bootstrap key to expire")
        if agency.api_key_sha256 is not None:
            if agency.api_key_sha256 in keys:
                raise ValueError(f"{where}: api_key_sha256 is the key of {keys[agency.api_key_sha256]} already")
            keys[agency.api_key_sha256] = agency.code
        if not isinstance(agency.auto_pursuit, bool):
            raise ValueError(f"{where}: auto_pursuit must be true or false, not {agency.auto_pursuit!r}")
        if agency.auto_pursuit and agency.organ_type is not OrganType.BUREAU:
            raise ValueError(f"{where}: auto_pursuit is a bureau's choice; a {agency.organ_type.value} has none")
        for system in agency.inbound_systems:
            if module_of(system) is None:
                raise ValueError(f"{where}: adapter {system!r} is not an agency system: no package "
                                 f"adapters/{system}/ defines it")
        if transport in (Transport.HTTP, Transport.FOLDER) and not agency.endpoint:
            raise ValueError(f"{where}: transport {transport.value} needs an endpoint")
        agencies.append(agency)
    if not agencies:
        raise ValueError(f"{path}: no [[agency]] entries")
    return Directory.of(agencies)
