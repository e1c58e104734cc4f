"""Values of the pure core: agencies, the facts a canonical message carries, routes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class OrganType(StrEnum):
    COURT = "COURT"
    PROCURATORATE = "PROCURATORATE"
    POLICE = "POLICE"
    BUREAU = "BUREAU"
    PRISON = "PRISON"
    DETENTION = "DETENTION"
    HUB = "HUB"


class Transport(StrEnum):
    HTTP = "http"
    FOLDER = "folder"
    INBOX = "inbox"


@dataclass(frozen=True)
class Agency:
    """One organ in the registry: who it is, where, and how it receives."""

    code: str
    organ_type: OrganType
    division: str
    name: str
    transport: Transport
    adapter: str = "canonical"
    endpoint: str | None = None
    api_key_sha256: str | None = None
    # when the registry's bootstrap key stops working (registry ``api_key_expires``; None: until revoked)
    api_key_expires: dt.datetime | None = None
    # native formats the agency may also send in (e.g. a bureau's spreadsheet ledger), besides its adapter's
    also_accepts: tuple[str, ...] = ()
    # a bureau's choice: drafted pursuit requests (提请协查/追逃) go to the police at once, unconfirmed
    auto_pursuit: bool = False
    # SHA-256 fingerprints (lowercase hex of the DER) of the agency's TLS client certificates (hub.api.auth)
    client_cert_sha256: tuple[str, ...] = ()
    # how the agency proves who it is: "key" (an API key), "cert" (a registered client certificate is enough) or
    # "cert+key" (both)
    client_auth: str = "key"

    @property
    def inbound_systems(self) -> tuple[str, ...]:
        """The systems whose native payloads this agency may send: its own adapter first."""
        return (self.adapter, *(s for s in self.also_accepts if s != self.adapter))


@dataclass(frozen=True)
class Directory:
    """The agency registry as a lookup: by code and by (organ type, division)."""

    agencies: Mapping[str, Agency]

    @classmethod
    def of(cls, agencies: Iterable[Agency]) -> Directory:
        table: dict[str, Agency] = {}
        for a in agencies:
            if a.code in table:
                raise ValueError(f"agency code {a.code} appears twice")
            table[a.code] = a
        return cls(table)

    def get(self, code: str) -> Agency | None:
        return self.agencies.get(code)

    def find(self, organ_type: OrganType, division: str) -> Agency | None:
        """The organ of that type for that division (the first by code if several)."""
        hits = sorted(
            (a for a in self.agencies.values() if a.organ_type is organ_type and a.division == division),
            key=lambda a: a.code,
        )
        return hits[0] if hits else None

    def by_key_hash(self, digest: str) -> Agency | None:
        for a in self.agencies.values():
            if a.api_key_sha256 is not None and a.api_key_sha256 == digest:
                return a
        return None

    def by_cert_fingerprint(self, fingerprint: str) -> Agency | None:
        """The agency that registered this client certificate (SHA-256 of its DER, lowercase hex), if any."""
        for a in self.agencies.values():
            if fingerprint in a.client_cert_sha256:
                return a
        return None


@dataclass(frozen=True)
class Canonical:
    """What the hub reads from a validated canonical message (the XML itself stays the record)."""

    message_id: str
    message_type: str
    sender: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    sent_at: dt.datetime
    sender_document_id: str
    correlation_id: str | None
    causation_id: str | None
    person_ref: str | None
    person_name: str | None = None
    id_number: str | None = None
    case_number: str | None = None
    # routing facts read from the body: executionDivision, decidingOrgan, commissioningOrgan, kind, ...
    facts: Mapping[str, str] = field(default_factory=dict)
    envelope_type: str | None = None
    birth_date: str | None = None
    sex: str | None = None

    @property
    def person_key(self) -> str:
        """The key that orders one person's messages: the ID number, else the sender's own reference."""
        if self.id_number:
            return self.id_number.upper()
        if self.person_ref:
            return f"{self.sender}:{self.person_ref}"
        return f"{self.sender}:{self.correlation_id or self.message_id}"


@dataclass(frozen=True)
class Route:
    """One recipient of a message, or the reason there is none for a required role."""

    role: str  # "to" or "cc"
    agency: str | None
    why: str
    missing: str | None = None  # set when no agency fills the role
