"""Who may do what, written once as data, and the pure functions that decide it.

Three tables, each row with its reason:

- ``SEND``: which organ type may originate which message type (through ``POST /api/v1/messages`` and through
  every native adapter alike: the check runs on the canonical message, after decoding), from the law of
  ../shared/DOMAIN.md §2 and the canonical schemas (docs/messages.md);
- ``ACCESS``: what an agency's API key reaches, and how the agency must stand to the subject (sender, addressee,
  the copy it is owed, owner, party, area …) — the hub's own key (organ type HUB) reaches everything;
- ``OPERATOR``: which console role may take which operator action (the hub's own key may take every one).

Every function here is pure: an agency, organ type or role and the facts of the subject in, a ``Decision`` (allowed
or the reason why not, naming who may) out. ``hub.authz_routes`` says which of these each HTTP route needs, and
``hub.api.guard`` is the one place a request is held to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from hub.core.model import Directory, OrganType
from hub.core.routing import MESSAGE_TYPES

COURT, PROCURATORATE, POLICE = OrganType.COURT, OrganType.PROCURATORATE, OrganType.POLICE
BUREAU, PRISON, DETENTION, HUB = OrganType.BUREAU, OrganType.PRISON, OrganType.DETENTION, OrganType.HUB
AGENCY_ORGANS = frozenset(OrganType) - {HUB}  # every organ type but the hub's own


@dataclass(frozen=True)
class Decision:
    """Allowed, or refused with a reason that names who may."""

    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def _yes(reason: str) -> Decision:
    return Decision(True, reason)


def _no(reason: str) -> Decision:
    return Decision(False, reason)


# ---- 1. sending ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SendRule:
    """``organ`` may originate ``message_type`` (only when the message's fact ``only[0]`` is one of ``only[1]``)."""

    organ: OrganType
    message_type: str
    basis: str
    only: tuple[str, frozenset[str]] | None = None

    def admits(self, facts: Mapping[str, str]) -> bool:
        return self.only is None or facts.get(self.only[0]) in self.only[1]

    def condition(self) -> str:
        return "" if self.only is None else f"{self.only[0]} {' or '.join(sorted(self.only[1]))}"


def _only(name: str, *values: str) -> tuple[str, frozenset[str]]:
    return (name, frozenset(values))


ESCORTED = _only("kind", "ESCORTED_HANDOVER")
ACK = "any receiving system acknowledges a delivery it got (transport level; ack.xsd)"

SEND: tuple[SendRule, ...] = (
    # 人民法院: decides 管制, 缓刑, 假释 and court 暂外; commissions assessments; rules on revocations
    SendRule(COURT, "AssessmentCommission", "Law 18; SPC 2021 282: the court commissions the assessment (row 1)"),
    SendRule(COURT, "SentencingDecision", "Law 20; SPC 2021 519: the deciding court serves its judgment, ruling "
                                          "or decision with the execution notice (rows 3-4)"),
    SendRule(COURT, "CustodyNotice", "Law 32: a court that orders detention or arrest tells the bureau (row 14)"),
    SendRule(COURT, "RevocationDecision", "Law 46-49; SPC 2021 543-545: the court rules on a revocation or "
                                          "recommittal proposal (row 16)"),
    SendRule(COURT, "TechnicalAck", ACK),
    # 人民检察院: supervises; receives copies; commissions assessments, approves arrests
    SendRule(PROCURATORATE, "AssessmentCommission", "Law 18: a procuratorate may commission the assessment "
                                                    "before it proposes a non-custodial sentence (row 1)"),
    SendRule(PROCURATORATE, "CustodyNotice", "Law 32: a procuratorate that approves an arrest tells the bureau "
                                             "(row 14)"),
    SendRule(PROCURATORATE, "TechnicalAck", ACK),
    # 公安机关: approves 暂外 for detention-centre inmates; hands persons over; custody; pursuit
    SendRule(POLICE, "AssessmentCommission", "Law 18: the police may commission the assessment (row 1)"),
    SendRule(POLICE, "SentencingDecision", "CPL 265; Law 20: the police approve 暂予监外执行 of a "
                                           "detention-centre inmate and serve that decision; they decide no 管制, "
                                           "缓刑 or 假释 (DOMAIN §1)", _only("correctionType", "TEMP_OUTSIDE")),
    SendRule(POLICE, "TransferPapers", "Law 21: the police hand a 暂外 person over to the bureau (row 8)",
             ESCORTED),
    SendRule(POLICE, "CustodyNotice", "Law 32: detention, arrest and other custody measures (row 14)"),
    SendRule(POLICE, "RevocationDecision", "Law 49: the organ that approved 暂予监外执行 decides its "
                                           "recommittal (row 16)", _only("kind", "RECOMMIT_TEMP_OUTSIDE")),
    SendRule(POLICE, "PursuitResult", "Law 50: the police report a search or pursuit back (row 18)"),
    SendRule(POLICE, "TechnicalAck", ACK),
    # 监狱 (and 监狱管理局): proposes parole, approves 暂外, hands persons over
    SendRule(PRISON, "AssessmentCommission", "Law 18: a prison commissions the assessment before it proposes "
                                             "parole or 暂外 (row 1)"),
    SendRule(PRISON, "SentencingDecision", "Law 20; CPL 265: prison administration approves 暂予监外执行, and the "
                                           "prison serves the court's parole ruling with the parole certificate "
                                           "when it releases the person (row 4); no 管制 or 缓刑",
             _only("correctionType", "PAROLE", "TEMP_OUTSIDE")),
    SendRule(PRISON, "TransferPapers", "Law 21: the prison escorts a 暂外 person to the bureau (row 8)", ESCORTED),
    SendRule(PRISON, "RevocationDecision", "Law 49: prison administration decides the recommittal of a person "
                                           "whose 暂外 it approved (row 16)", _only("kind", "RECOMMIT_TEMP_OUTSIDE")),
    SendRule(PRISON, "TechnicalAck", ACK),
    # 看守所 (run by the police): hands over persons it held; takes persons in
    SendRule(DETENTION, "TransferPapers", "Law 21: a detention centre hands over a person it held (row 8)",
             ESCORTED),
    SendRule(DETENTION, "CustodyNotice", "Law 32: the detention centre that takes a person in tells the bureau "
                                         "(row 14)"),
    SendRule(DETENTION, "TechnicalAck", ACK),
    # 司法局 / 社区矫正机构: receives and supervises the person
    SendRule(BUREAU, "AssessmentOpinion", "Measures 2020; SPC 2021 282: the bureau of the planned 执行地 answers "
                                          "the commission (row 2)"),
    SendRule(BUREAU, "DocumentReceipt", "Measures 2020: the bureau that received the documents returns the 回执 "
                                        "(rows 5-6)"),
    SendRule(BUREAU, "ReportingOutcome", "Law 21, 22, 30: the bureau tells the deciding organ whether the person "
                                         "reported (rows 7, 9)"),
    SendRule(BUREAU, "TransferOpinion", "Law 27: bureau A asks bureau B's opinion on a change of 执行地, B replies "
                                        "(row 10)"),
    SendRule(BUREAU, "TransferPapers", "Law 27: bureau A sends the person's file to bureau B (row 11)",
             _only("kind", "COUNTY_TRANSFER")),
    SendRule(BUREAU, "SupervisionEvent", "Law 28, 30: admonitions, warnings, leave, lost contact (rows 13, 15)"),
    SendRule(BUREAU, "RevocationProposal", "Law 46-49: the bureau proposes revocation or recommittal "
                                           "(rows 16-17)"),
    SendRule(BUREAU, "PursuitRequest", "Law 30, 50: the bureau asks the police to search or pursue (row 18)"),
    SendRule(BUREAU, "ReleaseNotice", "Law 44, 45, 51: the bureau releases or terminates (row 19)"),
    SendRule(BUREAU, "TechnicalAck", ACK),
    # the hub itself
    SendRule(HUB, "DeadlineNotice", "the hub's own deadline notices (notice.xsd): no agency sends one"),
    SendRule(HUB, "TechnicalAck", "the hub's own offices (the joint-meeting office) receive deadline notices and "
                                  "may acknowledge them"),
)


def senders(message_type: str) -> tuple[SendRule, ...]:
    """Every row that lets some organ type originate ``message_type``."""
    return tuple(r for r in SEND if r.message_type == message_type)


def _who_sends(message_type: str) -> str:
    rows = senders(message_type)
    return ", ".join(f"{r.organ.value}" + (f" (only {r.condition()})" if r.only else "") for r in rows) or "nobody"


def may_send(organ: OrganType, message_type: str, facts: Mapping[str, str] | None = None) -> Decision:
    """Whether an agency of organ type ``organ`` may originate ``message_type`` with these body ``facts``."""
    facts = facts or {}
    if message_type not in MESSAGE_TYPES:
        return _no(f"{message_type} is not a message type this hub knows")
    mine = [r for r in senders(message_type) if r.organ is organ]
    if not mine:
        return _no(f"a {organ.value} may not send {message_type}: it is sent by {_who_sends(message_type)}")
    for rule in mine:
        if rule.admits(facts):
            return _yes(rule.basis)
    name = mine[0].only[0] if mine[0].only else ""
    return _no(f"a {organ.value} may send {message_type} only with {' or '.join(r.condition() for r in mine)}, not "
               f"{name} {facts.get(name) or '(absent)'}; {mine[0].basis}")


def may_send_system(*, code: str, systems: Iterable[str], system: str) -> Decision:
    """Whether the agency ``code`` may send payloads in ``system``'s native format (its registry line's adapter and
    ``also_accepts``); what each payload carries is then held to ``SEND`` record by record."""
    own = tuple(systems)
    if system in own:
        return _yes(f"agency {code} sends {system} payloads (its registry line)")
    return _no(f"agency {code} sends {', '.join(own)} payloads, not {system}")


# ---- 2. what an agency's key reaches ---------------------------------------------------------------------------

class Rel(StrEnum):
    """How an agency stands to a subject."""

    SENDER = "sender"  # it sent the message
    ADDRESSEE = "addressee"  # the message was routed to it
    COPY = "copy"  # it is owed a copy (抄送): a procuratorate or police of the 执行地, or named in cc
    OWNER = "owner"  # its own: its inbox, its upload, its input, its drafts, its records
    PARTY = "party"  # named in the item: owes or is owed (an obligation), must act or confirm (a discrepancy)
    ACTING = "acting"  # the agency that must act on the item
    CORRESPONDENT = "correspondent"  # it sent or received a message about the person
    AREA = "area"  # an agency of the county the report covers, or of the city above it
    ANY = "any"  # every agency with a key


@dataclass(frozen=True)
class Access:
    """What an agency's key reaches: the organ types whose key may ask at all, and the relations of which one
    must hold between the agency and the subject. The hub's own key (organ type HUB) and operators who see every
    agency reach every subject, unless ``own_only``: then the subject must be their own too (an inbox, a delivery
    to acknowledge: nobody acknowledges for the recipient)."""

    what: str
    organs: frozenset[OrganType]
    relations: frozenset[Rel]
    basis: str
    own_only: bool = False


def _access(what: str, organs: Iterable[OrganType], relations: Iterable[Rel], basis: str, *,
            own_only: bool = False) -> Access:
    return Access(what, frozenset(organs), frozenset(relations), basis, own_only)


_MESSAGE = (Rel.SENDER, Rel.ADDRESSEE, Rel.COPY)
ACCESS: dict[str, Access] = {
    "send": _access("send canonical messages in", frozenset(OrganType), [Rel.OWNER],
                    "any agency sends its own messages (the envelope's sender); each is held to SEND"),
    "send_native": _access("send payloads in its own systems' formats", frozenset(OrganType), [Rel.OWNER],
                           "the systems of its registry line (may_send_system); each record is held to SEND"),
    "inbox": _access("its pull inbox", frozenset(OrganType), [Rel.OWNER],
                     "an agency collects what was routed or copied to it, nothing else", own_only=True),
    "delivery": _access("a delivery's receipt (acknowledge an inbox item)", frozenset(OrganType),
                        [Rel.ADDRESSEE, Rel.COPY], "only the recipient acknowledges a delivery made to it",
                        own_only=True),
    "message": _access("a message, its recipients' states and timeline", AGENCY_ORGANS, _MESSAGE,
                       "an agency sees what it sent or received; a procuratorate the copies it is owed"),
    "attachment": _access("a file that came with a message", AGENCY_ORGANS, _MESSAGE,
                          "as the message that carried it"),
    "native_payload": _access("a native payload's report", AGENCY_ORGANS, [Rel.OWNER], "its sender's"),
    "quarantine": _access("a rejected input and its raw bytes", AGENCY_ORGANS, [Rel.OWNER],
                          "the agency it came from sees what it sent"),
    "timeline": _access("a person's timeline and cases", AGENCY_ORGANS, [Rel.CORRESPONDENT],
                        "an agency that sent or received a message about the person"),
    "person_records": _access("a person's records across agencies", AGENCY_ORGANS, [Rel.OWNER],
                              "an agency that holds one of the records"),
    "obligations": _access("deadline obligations", AGENCY_ORGANS, [Rel.PARTY],
                           "those it owes or is owed"),
    "alarms": _access("deadline notices sent", AGENCY_ORGANS, [Rel.ADDRESSEE, Rel.COPY],
                      "those it was sent or copied"),
    "pursuit_drafts": _access("drafted pursuit requests", [BUREAU], [Rel.OWNER],
                              "Law 30, 50: a bureau's own drafts; only a bureau requests a pursuit"),
    "pursuit_decision": _access("confirm or dismiss a pursuit draft", [BUREAU], [Rel.OWNER],
                                "Law 30, 50: the bureau whose draft it is decides"),
    "register_upload": _access("upload the register it keeps", AGENCY_ORGANS, [Rel.OWNER],
                               "its own register; the kinds each organ type keeps are the register specs' data"),
    "register_snapshot": _access("a register snapshot's report", AGENCY_ORGANS, [Rel.OWNER],
                                 "the agency that uploaded it"),
    "discrepancies": _access("register discrepancy items", AGENCY_ORGANS, [Rel.PARTY],
                             "those it must act on or confirm"),
    "discrepancy_resolution": _access("resolve a discrepancy item", AGENCY_ORGANS, [Rel.ACTING],
                                      "the agency that must act"),
    "identity_reviews": _access("possible matches of person records", [BUREAU], [Rel.OWNER],
                                "a bureau sees the review items that involve its own records"),
    "identity_decision": _access("decide whether two records are one person", [], [],
                                 "the hub's operators only: records are linked, never merged silently"),
    "report": _access("the joint-meeting report and the persons behind its figures", AGENCY_ORGANS, [Rel.AREA],
                      "the agencies of the county's (or city's) joint meeting"),
    "history_import": _access("import a historical register", [BUREAU], [Rel.OWNER],
                              "a bureau imports its own register from before the hub"),
    "history_imports": _access("historical register imports", AGENCY_ORGANS, [Rel.OWNER], "its own"),
    "rules": _access("deadline rules and the working-day calendar", AGENCY_ORGANS, [Rel.ANY],
                     "every agency may read the rules it is held to"),
    "rule_change": _access("change a deadline rule or load a calendar year", [], [],
                           "the hub's operators only (audited)"),
}


def message_relations(code: str, *, sender: str | None, recipients: Mapping[str, str]) -> frozenset[Rel]:
    """How agency ``code`` stands to a message: ``recipients`` maps each recipient to its role (to, cc)."""
    out: set[Rel] = set()
    if sender == code:
        out.add(Rel.SENDER)
    role = recipients.get(code)
    if role == "to":
        out.add(Rel.ADDRESSEE)
    elif role == "cc":
        out.add(Rel.COPY)
    return frozenset(out)


def owned(code: str, owner: str | None) -> frozenset[Rel]:
    return frozenset({Rel.OWNER}) if owner is not None and owner == code else frozenset()


def in_area(directory: Directory, code: str, division: str) -> frozenset[Rel]:
    """AREA when agency ``code`` takes part in the joint meeting of ``division``: an agency of the county, or of the
    city above it; for a city's report, the city's own agencies."""
    agency = directory.get(code)
    if agency is None:
        return frozenset()
    mine = agency.division
    if division.endswith("00"):
        ok = mine == division
    else:
        ok = mine == division or (mine.endswith("00") and mine[:4] == division[:4])
    return frozenset({Rel.AREA}) if ok else frozenset()


# ---- 3. operators ----------------------------------------------------------------------------------------------

OPERATOR_ROLE, SUPERVISOR, AUDITOR, ADMINISTRATOR = "operator", "supervisor", "auditor", "administrator"
ROLES = (OPERATOR_ROLE, SUPERVISOR, AUDITOR, ADMINISTRATOR)
_ALL = frozenset(ROLES)
_ACTING = frozenset({OPERATOR_ROLE, SUPERVISOR, ADMINISTRATOR})
_SENIOR = frozenset({SUPERVISOR, ADMINISTRATOR})


@dataclass(frozen=True)
class Action:
    roles: frozenset[str]
    what: str


OPERATOR: dict[str, Action] = {
    # reading
    "view": Action(_ALL, "read the queues, failed transfers, obligations, persons, tasks, reports"),
    "view_payload": Action(_ALL, "open a payload or an attached file (audited)"),
    "view_audit": Action(frozenset({AUDITOR, ADMINISTRATOR}), "read the audit log"),
    # failed transfers
    "retry": Action(_ACTING, "send a failed transfer again"),
    "bulk_retry": Action(_SENIOR, "start, pause, resume or cancel a bulk retry"),
    "reroute": Action(_SENIOR, "deliver a failed transfer to another agency"),
    "edit_submit": Action(_ACTING, "submit an edited payload, or withdraw one's own"),
    "edit_approve": Action(_SENIOR, "approve or reject another operator's edit (never one's own)"),
    "resolve_by_hand": Action(_ACTING, "resolve a failed transfer without delivery"),
    # obligations, pursuit drafts, queues
    "record_outcome": Action(_ACTING, "record what happened about an obligation"),
    "waive": Action(_SENIOR, "waive an obligation (audited)"),
    "confirm_pursuit": Action(_ACTING, "confirm or dismiss a drafted pursuit request"),
    "correct_quarantine": Action(_ACTING, "propose a corrected payload, or withdraw one's own"),
    "release_quarantine": Action(_SENIOR, "dismiss an input; approve or reject another operator's correction"),
    "resolve_discrepancy": Action(_ACTING, "resolve a register discrepancy"),
    "decide_identity": Action(_SENIOR, "decide whether two records are one person"),
    # accounts
    "manage_operators": Action(frozenset({ADMINISTRATOR}), "add operators, change roles and passwords"),
}
ALLOWED: dict[str, frozenset[str]] = {name: a.roles for name, a in OPERATOR.items()}


def may_operate(role: str, action: str) -> Decision:
    """Whether a console role may take ``action`` (an unknown action is allowed to no one)."""
    found = OPERATOR.get(action)
    if found is None:
        return _no(f"{action!r} is not an operator action")
    if role in found.roles:
        return _yes(f"the role {role!r} may {found.what}")
    return _no(f"the role {role!r} may not {action.replace('_', ' ')} (that is for "
               f"{', '.join(r for r in ROLES if r in found.roles)})")


def operator_sees_every_agency(role: str, agency_organ: OrganType | None) -> bool:
    """Auditors and administrators see every agency's messages, and so does anyone working for the hub itself (the
    joint-meeting office); an agency's operators and supervisors see their own agency's only."""
    return role in (AUDITOR, ADMINISTRATOR) or agency_organ is HUB


# ---- who asks, and the one decision ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Principal:
    """Who asks: an agency by its API key (``role`` None), or an operator of ``code`` by a console session."""

    code: str
    organ: OrganType | None
    role: str | None = None
    username: str | None = None

    @property
    def by_key(self) -> bool:
        return self.role is None

    @property
    def every_agency(self) -> bool:
        """The hub's own key, or an operator who sees every agency."""
        if self.role is None:
            return self.organ is HUB
        return operator_sees_every_agency(self.role, self.organ)

    @property
    def scope(self) -> str | None:
        """The agency whose subjects this principal is limited to; None for every agency."""
        return None if self.every_agency else self.code

    @property
    def actor(self) -> str:
        """How the audit log names them."""
        return self.code if self.role is None else f"console:{self.username}"

    def named(self) -> str:
        return f"{self.code} ({self.organ.value if self.organ else 'not in the registry'})" if self.role is None \
            else f"operator {self.username} ({self.role}, {self.code})"


def may_reach(principal: Principal, resource: str) -> Decision:
    """Whether ``principal``'s key may ask for ``resource`` at all (its organ type), before any subject is read."""
    access = ACCESS[resource]
    if principal.every_agency and not access.own_only:
        return _yes("the hub's own key reaches everything")
    if principal.organ in access.organs:
        return _yes(access.basis)
    who = ", ".join(o.value for o in sorted(access.organs)) or "no agency"
    return _no(f"{access.what}: for {who} and the hub's operators, not {principal.named()} ({access.basis})")


def decide(principal: Principal, resource: str, relations: Iterable[Rel]) -> Decision:
    """The one decision on a subject: allowed when the principal sees every agency, or its organ type may ask for
    ``resource`` and one of ``relations`` (how its agency stands to the subject) is one the resource needs."""
    reach = may_reach(principal, resource)
    access = ACCESS[resource]
    if not reach or (principal.every_agency and not access.own_only):
        return reach
    have = frozenset(relations) | {Rel.ANY}
    if have & access.relations:
        return _yes(access.basis)
    return _no(f"{access.what}: {principal.code} is not its {' or '.join(sorted(access.relations))} "
               f"({access.basis})")
