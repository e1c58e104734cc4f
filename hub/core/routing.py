"""Routing: a pure function from a canonical message to its recipients (to + cc).

Recipients follow ../shared/DOMAIN.md §2 and the person's place of execution (执行地, the case's
``executionDivision``), never the sender's county and never the ID number's division code.
The rules are data: per message type, a list of targets, each either an organ of a type in the
division named by a fact, or the agency named by a fact, optionally only when a fact has a value.
Recipients the sender names in its envelope are added. A required target no agency fills becomes
a route with ``agency=None`` — the hub turns it into a failed transfer ``no_recipient``.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.core.model import Canonical, Directory, OrganType, Route

EXEC = "executionDivision"


@dataclass(frozen=True)
class Target:
    role: str  # "to" | "cc"
    organ: OrganType | None = None  # an organ of this type ...
    division_fact: str = EXEC  # ... in the division this fact names
    agency_fact: str | None = None  # or the agency this fact names
    when: tuple[str, frozenset[str]] | None = None  # only if facts[name] is one of these
    optional: bool = False  # a missing fact or agency is not an error

    def applies(self, facts: dict[str, str]) -> bool:
        if self.when is None:
            return True
        name, values = self.when
        return facts.get(name) in values


def _to(organ: OrganType, division_fact: str = EXEC, **kw: object) -> Target:
    return Target("to", organ=organ, division_fact=division_fact, **kw)  # type: ignore[arg-type]


def _cc(organ: OrganType, division_fact: str = EXEC, **kw: object) -> Target:
    return Target("cc", organ=organ, division_fact=division_fact, **kw)  # type: ignore[arg-type]


def _agency(role: str, fact: str, **kw: object) -> Target:
    return Target(role, agency_fact=fact, **kw)  # type: ignore[arg-type]


def _when(name: str, *values: str) -> tuple[str, frozenset[str]]:
    return (name, frozenset(values))


B, P, G = OrganType.BUREAU, OrganType.PROCURATORATE, OrganType.POLICE
ESCORTED = _when("kind", "ESCORTED_HANDOVER")
TRANSFER = _when("kind", "COUNTY_TRANSFER")
POLICE_EVENTS = _when("kind", "LOST_CONTACT", "CONTACT_RESTORED", "RESIDENCE_CHANGE")

RULES: dict[str, tuple[Target, ...]] = {
    # 1 调查评估委托: bureau of the planned 执行地, cc that county's procuratorate
    "AssessmentCommission": (_to(B), _cc(P)),
    # 2 调查评估意见: back to the commissioning organ, cc procuratorate
    "AssessmentOpinion": (_agency("to", "commissioningOrgan"), _cc(P)),
    # 3-4 判决/裁定/决定 + 执行通知书: bureau of 执行地, cc its procuratorate and police
    "SentencingDecision": (_to(B), _cc(P), _cc(G)),
    # 5 回执: to the deciding organ (cc procuratorate, who audits timeliness)
    "DocumentReceipt": (_agency("to", "decidingOrgan"), _cc(P)),
    # 7, 9 报到情况: deciding organ; police must assist when the person did not report
    "ReportingOutcome": (
        _agency("to", "decidingOrgan"),
        _cc(P),
        _cc(G, when=_when("result", "NOT_REPORTED")),
    ),
    # 8 暂外 escorted handover; 11 transfer papers between counties
    "TransferPapers": (
        _to(B, when=ESCORTED),
        _cc(P, when=ESCORTED),
        _to(B, "toDivision", when=TRANSFER),
        _agency("to", "decidingOrgan", when=TRANSFER),
        _cc(P, "fromDivision", when=TRANSFER),
        _cc(G, "fromDivision", when=TRANSFER),
        _cc(P, "toDivision", when=TRANSFER),
        _cc(G, "toDivision", when=TRANSFER),
    ),
    # 10 opinion on a change of the place of execution: A asks B (the county of toDivision), B answers A
    "TransferOpinion": (
        _to(B, "toDivision", when=_when("kind", "REQUEST")),
        _to(B, "fromDivision", when=_when("kind", "REPLY")),
    ),
    # 14 custody events explain an absence to the bureau
    "CustodyNotice": (_to(B), _cc(P)),
    # 13, 15 supervision events: procuratorate informed; police assist on lost contact
    "SupervisionEvent": (
        _to(P),
        _to(G, when=POLICE_EVENTS),
        _agency("cc", "decidingOrgan", when=_when("kind", "LOST_CONTACT")),
    ),
    # 16 revocation / recommittal proposal to the deciding organ
    "RevocationProposal": (_agency("to", "decidingOrgan"), _cc(P)),
    # 16 decision served on bureau and police, cc procuratorate; the prison that takes the person back
    "RevocationDecision": (_to(B), _to(G), _cc(P), _agency("to", "returnCustody", optional=True)),
    # 18 pursuit
    "PursuitRequest": (_to(G), _cc(P)),
    "PursuitResult": (_to(B), _cc(P)),
    # 19 release / termination: deciding organ, procuratorate, police; 暂外 also the original prison
    "ReleaseNotice": (
        _agency("to", "decidingOrgan"),
        _to(P),
        _to(G),
        _agency("to", "originalCustody", optional=True),
    ),
    # technical acknowledgements are for the hub itself
    "TechnicalAck": (),
    # the hub's own deadline notices (期限预警): to the office that owes, up the escalation ladder, cc the
    # county's procuratorate — all named in the envelope by the hub, which alone sends them
    "DeadlineNotice": (),
}

MESSAGE_TYPES = frozenset(RULES)
# Message types only the hub itself sends. Agency systems' native formats have no form for them, so every
# recipient gets them as canonical XML, whatever its own adapter.
HUB_MESSAGE_TYPES = frozenset({"DeadlineNotice"})
AGENCY_MESSAGE_TYPES = MESSAGE_TYPES - HUB_MESSAGE_TYPES


# The organ types a fact naming an agency may name (DOMAIN.md §1-2): the organ that decided, commissioned an
# assessment, or holds the person in custody.
FACT_ORGANS: dict[str, frozenset[OrganType]] = {
    "decidingOrgan": frozenset({OrganType.COURT, OrganType.PRISON, OrganType.POLICE}),
    "commissioningOrgan": frozenset({OrganType.COURT, OrganType.PROCURATORATE, OrganType.POLICE, OrganType.PRISON}),
    "returnCustody": frozenset({OrganType.PRISON, OrganType.DETENTION}),
    "originalCustody": frozenset({OrganType.PRISON, OrganType.DETENTION}),
}
AGENCY_ORGANS = frozenset(OrganType) - {OrganType.HUB}


def organs_for(target: str) -> frozenset[OrganType]:
    """The organ types that may fill a required target as ``route`` names a missing one (``why``): an organ type
    in a division (``BUREAU@executionDivision``), a fact naming an agency (``decidingOrgan``), or ``envelope``
    (any agency's organ type)."""
    organ, at, _fact = target.partition("@")
    if at:
        return frozenset({OrganType(organ)}) if organ in OrganType.__members__ else frozenset()
    return FACT_ORGANS.get(target, AGENCY_ORGANS if target == "envelope" else frozenset())


def route(message: Canonical, directory: Directory) -> list[Route]:
    """Every recipient of ``message``: one Route per agency (``to`` wins over ``cc``), sender excluded.

    Required targets that no agency fills come back as routes with ``agency=None`` and the reason.
    """
    rules = RULES.get(message.message_type)
    if rules is None:
        raise ValueError(f"no routing rule for message type {message.message_type}")
    facts = dict(message.facts)
    found: dict[str, Route] = {}
    missing: list[Route] = []

    def add(role: str, code: str, why: str) -> None:
        if code == message.sender:
            return
        prior = found.get(code)
        if prior is None or (prior.role == "cc" and role == "to"):
            found[code] = Route(role, code, why)

    for t in rules:
        if not t.applies(facts):
            continue
        if t.agency_fact is not None:
            code = facts.get(t.agency_fact)
            if code and directory.get(code) is not None:
                add(t.role, code, f"named as {t.agency_fact}")
            elif not t.optional:
                what = f"{t.agency_fact} {code}" if code else f"no {t.agency_fact} in the message"
                missing.append(Route(t.role, None, f"{t.agency_fact}", f"{what} is not a registered agency"))
            continue
        assert t.organ is not None
        division = facts.get(t.division_fact)
        agency = directory.find(t.organ, division) if division else None
        if agency is not None:
            add(t.role, agency.code, f"{t.organ.value} of {t.division_fact} {division}")
        elif not t.optional:
            missing.append(
                Route(t.role, None, f"{t.organ.value}@{t.division_fact}",
                      f"no {t.organ.value} registered for {t.division_fact} {division or '(absent)'}")
            )
    envelope = () if message.message_type == "TechnicalAck" else (("to", message.to), ("cc", message.cc))
    for role, codes in envelope:
        for code in codes:
            if directory.get(code) is not None:
                add(role, code, "named in the envelope")
            else:
                missing.append(Route(role, None, "envelope", f"envelope names {code}, not a registered agency"))
    return sorted(found.values(), key=lambda r: (r.role != "to", r.agency or "")) + missing
