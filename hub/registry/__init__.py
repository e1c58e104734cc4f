"""The agency registry: a TOML file of agencies (code, organ type, division, name, transport, adapter, key hash,
and a bureau's ``auto_pursuit`` choice)."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

from adapters import module_of
from hub.core.model import Agency, Directory, OrganType, Transport


def key_hash(api_key: str) -> str:
    """The SHA-256 hex digest stored for an API key (keys themselves are never stored)."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def load_registry(path: Path) -> Directory:
    """Read and check a registry file; raises ValueError naming the agency and field at fault."""
    with path.open("rb") as f:
        data = tomllib.load(f)
    agencies = []
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
            )
        except (KeyError, ValueError) as e:
            raise ValueError(f"{where}: {e!r}") from e
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
