"""From native records to checked canonical messages, and from canonical messages to native records.

Each adapter splits its payload into ``NativeRecord``s (its own format's business); ``translate`` does the
rest the same way for every format: mapping, envelope completion, canonical XML, canonical XSD check
with every error placed on the native field that produced it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from adapters.kit import mapping
from adapters.kit.canonical import CanonicalDict, parse_canonical, to_xml, xsd_problems
from adapters.kit.problems import NativeProblem


@dataclass(frozen=True)
class DecodeContext:
    """What the hub knows about a native payload: who sent it (the authenticated agency) and when."""

    sender: str | None
    received_at: dt.datetime
    filename: str | None = None


@dataclass(frozen=True)
class Record:
    """One record of a native payload: canonical XML when it translated, else the problems; ``where`` and
    ``number`` locate it in the payload (record n, or sheet row), ``raw`` is its own native text."""

    number: int
    where: str
    message_type: str | None
    canonical: bytes | None
    problems: tuple[NativeProblem, ...] = ()
    provenance: Mapping[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    # attached files carried inside the native payload (base64), by SHA-256 hex; the canonical message
    # names them by that hash
    attachments: Mapping[str, bytes] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.canonical is not None and not self.problems


@dataclass(frozen=True)
class NativeRecord:
    """A record split out of a native payload, before translation."""

    number: int
    where: str
    native_type: str | None
    data: Mapping[str, Any]
    locate: mapping.Locate
    problems: tuple[NativeProblem, ...] = ()
    raw: bytes | None = None
    envelope: Mapping[str, str] = field(default_factory=dict)  # canonical envelope values from a batch header


def translate(specs: mapping.Specs, rec: NativeRecord, ctx: DecodeContext) -> Record:
    """Translate one native record into checked canonical XML (or the problems that stop it)."""
    def failed(problems: list[NativeProblem], message_type: str | None = None) -> Record:
        return Record(rec.number, rec.where, message_type, None, tuple(problems), {}, rec.raw)

    if rec.problems:
        return failed(list(rec.problems))
    if rec.native_type is None:
        return failed([NativeProblem(f"the record does not say which {specs.name} it is", where=rec.where)])
    try:
        spec = specs.by_native(rec.native_type)
    except ValueError as e:
        return failed([NativeProblem(str(e), where=rec.locate("") if rec.where else None)])
    tr = mapping.inbound(spec, rec.data, rec.locate)
    env = tr.data.setdefault("envelope", {})
    for k, v in rec.envelope.items():
        env.setdefault(k, v)
    mapping.finish_envelope(tr, sender=ctx.sender, received_at=ctx.received_at)
    if tr.problems:
        return failed(tr.problems, spec.message_type)
    xml = to_xml(spec.message_type, tr.data)
    problems = xsd_problems(xml, tr.provenance)
    if problems:
        return failed(problems, spec.message_type)
    return Record(rec.number, rec.where, spec.message_type, xml, (), tr.provenance, rec.raw)


def to_native(specs: mapping.Specs, canonical: bytes) -> tuple[mapping.Spec, CanonicalDict, dict[str, Any]]:
    """The spec, canonical dict and native record of a canonical message (ValueError if the format has no
    document type for it)."""
    message_type, data = parse_canonical(canonical)
    spec = specs.for_canonical(message_type, data)
    return spec, data, mapping.outbound(spec, data)
