"""Where the shipped data lives: inside the wheel (hub/_data) or, in a checkout, at the repository root."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The folder ``schemas`` or ``queue`` shipped with the hub."""
    for candidate in (_HERE / "_data" / name, _HERE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"shipped data folder {name!r} not found next to {_HERE}")


def canonical_schema_path() -> Path:
    return data_dir("schemas") / "canonical" / "v1" / "xianjie.xsd"


def topology_path() -> Path:
    return data_dir("queue") / "topology.toml"


def default_registry_path() -> Path:
    return _HERE / "registry" / "baoshan.toml"
