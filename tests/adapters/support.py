"""Shared checks for adapter tests: golden pairs and round trips.

Golden pairs live in ``tests/golden/<system>/``: ``<name>.in.<ext>`` (native as the agency sends it) with
``<name>.in.canonical.xml`` (what the hub must make of it), and ``<name>.out.canonical.xml`` (a canonical
message) with ``<name>.out.<ext>`` (what the agency must receive). Set XIANJIE_WRITE_GOLDEN=1 to write
missing expected files from the current output (then read them before committing them).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from lxml import etree

from adapters import Adapter, DecodeContext, get_adapter
from adapters.kit import nativexml
from adapters.kit.canonical import CanonicalDict, parse_canonical

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
RECEIVED_AT = dt.datetime(2026, 4, 2, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


# each XML format's own schema: the encoders do not check what they write at run time, so every document the
# tests make them write is checked here
NATIVE_XSD = {"court": "court.xsd", "prison": "jysjjh.xsd", "detention": "kssbw.xsd", "bureau": "jhbw.xsd",
              "procuratorate": "jcjh.xsd"}


def assert_native_valid(system: str, body: bytes) -> None:
    """Given what an encoder wrote for ``system``, then it is valid against the system's own schema (XML formats;
    the police encoder checks its JSON Schema itself, and that check is compared with the full validator)."""
    if system == "police":
        import json

        from adapters.police import native as police

        errors = [e.message for e in police.validator().iter_errors(json.loads(body))]
        assert not errors, errors
        return
    xsd = NATIVE_XSD.get(system)
    if xsd is None:
        return
    schema = nativexml.load_xsd(system, xsd)
    assert schema.validate(etree.fromstring(body)), [f"{e.path}: {e.message}" for e in schema.error_log]  # type: ignore[attr-defined]


def context(sender: str | None, filename: str | None = None) -> DecodeContext:
    return DecodeContext(sender=sender, received_at=RECEIVED_AT, filename=filename)


def comparable(data: CanonicalDict, *, drop_envelope: frozenset[str] = frozenset({"to", "cc"})) -> CanonicalDict:
    """A canonical dict with sentAt as a UTC instant and the envelope fields routing recomputes left out."""
    out: dict[str, Any] = dict(data)
    env = {k: v for k, v in out.get("envelope", {}).items() if k not in drop_envelope}
    if "sentAt" in env:
        env["sentAt"] = dt.datetime.fromisoformat(env["sentAt"].replace("Z", "+00:00")).astimezone(dt.UTC)
    out["envelope"] = env
    return out


def golden_names(system: str, direction: str) -> list[str]:
    """Names of the golden pairs of a system in one direction ("in" or "out")."""
    folder = GOLDEN / system
    if direction == "in":
        natives = [p for p in folder.glob("*.in.*") if not p.name.endswith(".canonical.xml")]
        return sorted(p.name.split(".in.")[0] for p in natives)
    suffix = ".out.canonical.xml"
    return sorted(p.name[: -len(suffix)] for p in folder.glob(f"*{suffix}"))


def _native_file(system: str, name: str, direction: str) -> Path:
    found = [p for p in (GOLDEN / system).glob(f"{name}.{direction}.*") if not p.name.endswith(".canonical.xml")]
    if direction == "in":
        assert len(found) == 1, f"expected one native file {name}.in.* in {GOLDEN / system}, found {found}"
    return found[0] if found else GOLDEN / system / f"{name}.{direction}"


def check_inbound(system: str, name: str, sender: str | None) -> None:
    """Given the golden native payload, when decoded, then it gives exactly the golden canonical message."""
    adapter = get_adapter(system)
    native = _native_file(system, name, "in").read_bytes()
    records = list(adapter.decode(native, context(sender)))
    assert len(records) == 1, f"{len(records)} records"
    rec = records[0]
    assert rec.ok, rec.problems
    assert rec.canonical is not None
    expected = GOLDEN / system / f"{name}.in.canonical.xml"
    if not expected.exists() and os.environ.get("XIANJIE_WRITE_GOLDEN") == "1":
        expected.write_bytes(rec.canonical)
    assert parse_canonical(rec.canonical) == parse_canonical(expected.read_bytes())


def check_outbound(system: str, name: str) -> None:
    """Given the golden canonical message, when encoded for the system, then it gives exactly the golden
    native bytes."""
    adapter = get_adapter(system)
    source = GOLDEN / system / f"{name}.out.canonical.xml"
    message_type, _ = parse_canonical(source.read_bytes())
    enc = adapter.encode(source.read_bytes(), message_type=message_type)
    target = GOLDEN / system / f"{name}.out.{enc.extension}"
    if not target.exists() and os.environ.get("XIANJIE_WRITE_GOLDEN") == "1":
        target.write_bytes(enc.body)
    assert target.exists(), f"missing golden file {target}"
    assert enc.body == target.read_bytes()
    assert_native_valid(system, enc.body)


def round_trip(adapter: Adapter, canonical: bytes, *,
               drop_envelope: frozenset[str] = frozenset({"to", "cc"})) -> None:
    """canonical → adapter.encode → adapter.decode gives back the same canonical content."""
    message_type, original = parse_canonical(canonical)
    enc = adapter.encode(canonical, message_type=message_type)
    assert_native_valid(adapter.name, enc.body)
    records = list(adapter.decode(enc.body, context(original["envelope"]["sender"])))
    assert len(records) == 1, f"{len(records)} records"
    rec = records[0]
    assert rec.ok, (rec.problems, enc.body.decode("utf-8", "replace") if enc.body.isascii() else enc.body[:2000])
    assert rec.canonical is not None
    back_type, back = parse_canonical(rec.canonical)
    assert back_type == message_type
    assert comparable(back, drop_envelope=drop_envelope) == comparable(original, drop_envelope=drop_envelope)
