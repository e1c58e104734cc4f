"""What the case ledger reads from one canonical message: envelope, person, case and the body's own facts.

Keys. A case is keyed by its deciding organ and its case number, normalised (NFKC, no spaces, every kind of
bracket written as ASCII parentheses), because every business message carries both in ``<case>`` and they
do not change when the person moves county or the message comes from another agency. A message without a
``<case>`` block (a technical ack) falls back to its correlation id. A person is keyed by the resident ID
number when it passes the GB 11643 check (a legacy 15-digit number is widened to its 18-digit form, so both
forms of one number meet), else by the sender's own person reference: that is only a per-agency key, and the
identity module links such records rather than merging them here.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from hub.core.fact_bodies import Body, CaseFacts, PersonFacts
from hub.core.fact_reader import NS, Reader, parse_xml, read_body, read_case, read_person
from hub.core.idnumber import normalise_id

SHANGHAI = ZoneInfo("Asia/Shanghai")
_BRACKETS = str.maketrans("〔〕【】[]［］｛｝{}", "()()()()()()")


def legal_day(moment: dt.datetime) -> dt.date:
    """The calendar day in Asia/Shanghai on which ``moment`` falls (the day deadlines count from)."""
    if moment.tzinfo is None:
        raise ValueError("a timestamp without a time zone has no legal day")
    return moment.astimezone(SHANGHAI).date()


def normalise_case_number(text: str) -> str:
    """The case number as agencies mean it: NFKC, no white space, brackets as ASCII parentheses."""
    return "".join(unicodedata.normalize("NFKC", text).translate(_BRACKETS).split())


def canonical_id_number(raw: str, *, today: dt.date) -> str | None:
    """The 18-character form of a valid resident ID number (15-digit ones widened), None if it fails the check."""
    return normalise_id(raw, today=today)


@dataclass(frozen=True)
class MessageFacts:
    """One canonical message as the ledger needs it; ``received_at`` is when the hub accepted it."""

    message_id: str
    message_type: str
    sender: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    sent_at: dt.datetime
    received_at: dt.datetime
    correlation_id: str | None
    causation_id: str | None
    person_ref: str | None
    person: PersonFacts | None
    case: CaseFacts | None
    body: Body

    @property
    def received_on(self) -> dt.date:
        """The legal day the hub received the message."""
        return legal_day(self.received_at)

    @property
    def case_key(self) -> str | None:
        """Deciding organ + normalised case number; the correlation id when there is no case block."""
        if self.case is not None:
            return f"{self.case.deciding_organ}|{normalise_case_number(self.case.case_number)}"
        if self.correlation_id:
            return f"corr|{normalise_case_number(self.correlation_id)}"
        return None

    @property
    def person_key(self) -> str | None:
        """The valid resident ID number (18-character form), else ``ref|<sender's person reference>``."""
        if self.person is not None and self.person.id_number:
            number = canonical_id_number(self.person.id_number, today=self.received_on)
            if number is not None:
                return number
        if self.person_ref:
            return f"ref|{self.person_ref}"
        return None


def facts_of(canonical_xml: bytes, *, received_at: dt.datetime) -> MessageFacts:
    """Read a canonical message (already validated at ingest); ValueError if a field the ledger needs is absent."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    root = parse_xml(canonical_xml)
    r = Reader(root)
    message_type = r.local_name(root)
    if r.namespace(root) != NS:
        raise ValueError(f"<{message_type}> is not in the canonical namespace {NS}")
    env = r.child(root, "envelope")
    sent_at = dt.datetime.fromisoformat(r.text(env, "sentAt").replace("Z", "+00:00")).astimezone(dt.UTC)
    person_el = r.find(root, "person")
    case_el = r.find(root, "case")
    return MessageFacts(
        message_id=r.text(env, "messageId"),
        message_type=message_type,
        sender=r.text(env, "sender"),
        to=r.texts(env, "to"),
        cc=r.texts(env, "cc"),
        sent_at=sent_at,
        received_at=received_at.astimezone(dt.UTC),
        correlation_id=r.opt(env, "correlationId"),
        causation_id=r.opt(env, "causationId"),
        person_ref=r.opt(env, "personRef"),
        person=read_person(r, person_el) if person_el is not None else None,
        case=read_case(r, case_el) if case_el is not None else None,
        body=read_body(r, root, message_type),
    )
