"""Routing, as a pure function: who gets each message type, by 执行地, against the 保山 registry (DOMAIN.md §2)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.core.model import Canonical, Directory, Route
from hub.core.routing import MESSAGE_TYPES, RULES, route
from hub.registry import load_registry
from hub.resources import default_registry_path
from tests.harness import make_id

DIRECTORY: Directory = load_registry(default_registry_path())
SENT = dt.datetime(2026, 4, 2, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def msg(message_type: str, sender: str, facts: Mapping[str, str] | None = None, *, to: tuple[str, ...] = (),
        cc: tuple[str, ...] = (), id_number: str | None = None) -> Canonical:
    return Canonical(message_id="8092df1d-87f8-438e-bf6a-5826f71aebe0", message_type=message_type, sender=sender,
                     to=to, cc=cc, sent_at=SENT, sender_document_id="DOC-1", correlation_id="CASE-1",
                     causation_id=None, person_ref="P-1", id_number=id_number, facts=dict(facts or {}))


def roles(routes: list[Route]) -> dict[str, str]:
    """agency → role, asserting first that every route found an agency and none appears twice."""
    assert all(r.agency is not None for r in routes), routes
    codes = [r.agency for r in routes]
    assert len(codes) == len(set(codes)), routes
    return {str(r.agency): r.role for r in routes}


def missing(routes: list[Route]) -> list[Route]:
    return [r for r in routes if r.agency is None]


# Each message type, in a realistic cross-county case: the person lives in 腾冲市 (530581) and was
# sentenced by the 隆阳区 court (530502FY); every expected recipient is named with its role.
CASES: dict[str, tuple[str, dict[str, str], dict[str, str]]] = {
    "AssessmentCommission": ("530502FY", {"executionDivision": "530581"},
                             {"530581SF": "to", "530581JC": "cc"}),
    "AssessmentOpinion": ("530581SF", {"executionDivision": "530581", "commissioningOrgan": "530502FY"},
                          {"530502FY": "to", "530581JC": "cc"}),
    "SentencingDecision": ("530502FY", {"executionDivision": "530581", "decidingOrgan": "530502FY"},
                           {"530581SF": "to", "530581JC": "cc", "530581GA": "cc"}),
    "DocumentReceipt": ("530581SF", {"executionDivision": "530581", "decidingOrgan": "530502FY"},
                        {"530502FY": "to", "530581JC": "cc"}),
    "ReportingOutcome": ("530581SF", {"executionDivision": "530581", "decidingOrgan": "530502FY",
                                      "result": "REPORTED"},
                         {"530502FY": "to", "530581JC": "cc"}),
    "TransferPapers": ("530502JY", {"executionDivision": "530581", "decidingOrgan": "530502FY",
                                    "kind": "ESCORTED_HANDOVER"},
                       {"530581SF": "to", "530581JC": "cc"}),
    # 腾冲市's bureau asks 隆阳区's about the person moving there; 隆阳区's replies to 腾冲市's
    "TransferOpinion": ("530581SF", {"executionDivision": "530581", "kind": "REQUEST", "fromDivision": "530581",
                                     "toDivision": "530502"},
                        {"530502SF": "to"}),
    "CustodyNotice": ("530581GA", {"executionDivision": "530581", "kind": "CRIMINAL_DETENTION"},
                      {"530581SF": "to", "530581JC": "cc"}),
    "SupervisionEvent": ("530581SF", {"executionDivision": "530581", "decidingOrgan": "530502FY",
                                      "kind": "WARNING"},
                         {"530581JC": "to"}),
    "RevocationProposal": ("530581SF", {"executionDivision": "530581", "decidingOrgan": "530502FY"},
                           {"530502FY": "to", "530581JC": "cc"}),
    "RevocationDecision": ("530502FY", {"executionDivision": "530581", "decidingOrgan": "530502FY"},
                           {"530581SF": "to", "530581GA": "to", "530581JC": "cc"}),
    "PursuitRequest": ("530581SF", {"executionDivision": "530581"},
                       {"530581GA": "to", "530581JC": "cc"}),
    "PursuitResult": ("530581GA", {"executionDivision": "530581"},
                      {"530581SF": "to", "530581JC": "cc"}),
    "ReleaseNotice": ("530581SF", {"executionDivision": "530581", "decidingOrgan": "530502FY"},
                      {"530502FY": "to", "530581JC": "to", "530581GA": "to"}),
    "TechnicalAck": ("530581SF", {"ackOf": "8092df1d-87f8-438e-bf6a-5826f71aebe0", "status": "ACCEPTED"}, {}),
    # the hub's own deadline notices go only to whom their envelope names (see the test below)
    "DeadlineNotice": ("530500ZX", {"executionDivision": "530581", "status": "OVERDUE"}, {}),
}


def test_every_message_type_has_a_routing_case_here() -> None:
    assert set(CASES) == set(RULES) == set(MESSAGE_TYPES)


@pytest.mark.parametrize("message_type", sorted(CASES))
def test_each_message_type_reaches_exactly_its_recipients(message_type: str) -> None:
    # Given a message of this type about a person who lives in 腾冲市
    sender, facts, expected = CASES[message_type]
    # When it is routed
    routes = route(msg(message_type, sender, facts), DIRECTORY)
    # Then exactly the expected agencies get it, each in its role, and nothing is missing
    assert missing(routes) == []
    assert roles(routes) == expected
    # And every route says why
    assert all(r.why for r in routes)


def test_cross_county_sentencing_follows_the_place_of_execution_not_the_sender_or_the_id_number() -> None:
    # Given the 隆阳区 court sentencing someone whose ID was issued in retired 腾冲县 (530522) and who lives in 腾冲市
    m = msg("SentencingDecision", "530502FY", {"executionDivision": "530581", "decidingOrgan": "530502FY"},
            id_number=make_id("530522", "19880314", 31))
    # When it is routed
    routes = route(m, DIRECTORY)
    # Then 腾冲市's bureau gets it, with copies to 腾冲市's procuratorate and police, and nobody in 隆阳区
    assert roles(routes) == {"530581SF": "to", "530581JC": "cc", "530581GA": "cc"}
    assert [r.agency for r in routes if r.role == "to"] == ["530581SF"]
    assert not any(str(r.agency).startswith(("530502", "530522")) for r in routes)
    bureau = next(r for r in routes if r.agency == "530581SF")
    assert "BUREAU" in bureau.why and "530581" in bureau.why


def test_a_reply_on_a_change_of_residence_goes_back_to_the_county_that_asked() -> None:
    # Given 隆阳区's bureau answering 腾冲市's request for its opinion
    m = msg("TransferOpinion", "530502SF", {"executionDivision": "530581", "kind": "REPLY",
                                            "fromDivision": "530581", "toDivision": "530502"})
    # Then only 腾冲市's bureau gets it
    assert roles(route(m, DIRECTORY)) == {"530581SF": "to"}


def test_a_deadline_notice_goes_to_whom_its_envelope_names_and_never_back_to_the_hub() -> None:
    # Given the hub's overdue notice to 腾冲市's bureau, escalated to the joint-meeting office (the hub's operators),
    # copied to the county's procuratorate
    m = msg("DeadlineNotice", "530500ZX", {"executionDivision": "530581", "status": "OVERDUE"},
            to=("530581SF", "530500ZX"), cc=("530581JC",))
    # Then the bureau and the procuratorate get it; the hub does not deliver to itself
    assert roles(route(m, DIRECTORY)) == {"530581SF": "to", "530581JC": "cc"}


def test_to_routes_come_before_cc_routes() -> None:
    routes = route(msg("SentencingDecision", "530502FY", {"executionDivision": "530581"}, cc=("530500JC",)),
                   DIRECTORY)
    assert [r.role for r in routes] == ["to", "cc", "cc", "cc"]


@pytest.mark.parametrize(("result", "police"), [("REPORTED", False), ("REPORTED_LATE", False),
                                                 ("NOT_REPORTED", True)])
def test_reporting_outcome_copies_police_only_when_the_person_did_not_report(result: str, police: bool) -> None:
    # Given the 腾冲市 bureau telling the 隆阳区 court whether the person reported
    facts = {"executionDivision": "530581", "decidingOrgan": "530502FY", "result": result}
    # When it is routed
    got = roles(route(msg("ReportingOutcome", "530581SF", facts), DIRECTORY))
    # Then the court and procuratorate always get it; the police (who must assist a search) only on NOT_REPORTED
    expected = {"530502FY": "to", "530581JC": "cc"} | ({"530581GA": "cc"} if police else {})
    assert got == expected


@pytest.mark.parametrize(("kind", "expected"), [
    ("ADMONITION", {"530581JC": "to"}),
    ("WARNING", {"530581JC": "to"}),
    ("LEAVE_APPROVED", {"530581JC": "to"}),
    ("RESIDENCE_CHANGE", {"530581JC": "to", "530581GA": "to"}),
    ("CONTACT_RESTORED", {"530581JC": "to", "530581GA": "to"}),
    ("LOST_CONTACT", {"530581JC": "to", "530581GA": "to", "530502FY": "cc"}),
])
def test_supervision_events_inform_the_procuratorate_and_involve_police_and_court_by_kind(
        kind: str, expected: dict[str, str]) -> None:
    facts = {"executionDivision": "530581", "decidingOrgan": "530502FY", "kind": kind}
    assert roles(route(msg("SupervisionEvent", "530581SF", facts), DIRECTORY)) == expected


def test_escorted_handover_goes_to_the_bureau_of_the_place_of_execution() -> None:
    # Given the 保山 prison handing a 暂外 person over to 腾冲市
    facts = {"executionDivision": "530581", "decidingOrgan": "530502JY", "kind": "ESCORTED_HANDOVER",
             "fromDivision": "530502", "toDivision": "530523"}
    # When routed, then only the 执行地 bureau and procuratorate get it; transfer facts are not read
    assert roles(route(msg("TransferPapers", "530502JY", facts), DIRECTORY)) == {"530581SF": "to", "530581JC": "cc"}


def test_county_transfer_goes_to_the_new_bureau_and_the_deciding_organ_with_both_counties_copied() -> None:
    # Given 昌宁县's bureau sending the person's papers to 施甸县 (the sample TransferPapers-county)
    facts = {"executionDivision": "530521", "decidingOrgan": "530524FY", "kind": "COUNTY_TRANSFER",
             "fromDivision": "530524", "toDivision": "530521"}
    # When routed
    got = roles(route(msg("TransferPapers", "530524SF", facts), DIRECTORY))
    # Then bureau B and the deciding organ get it; procuratorate and police of both counties get copies
    assert got == {"530521SF": "to", "530524FY": "to",
                   "530524JC": "cc", "530524GA": "cc", "530521JC": "cc", "530521GA": "cc"}


def test_county_transfer_with_an_unregistered_destination_is_reported_not_dropped() -> None:
    facts = {"executionDivision": "530524", "decidingOrgan": "530524FY", "kind": "COUNTY_TRANSFER",
             "fromDivision": "530524", "toDivision": "530522"}
    routes = route(msg("TransferPapers", "530524SF", facts), DIRECTORY)
    gaps = missing(routes)
    assert {r.role for r in gaps} == {"to", "cc"}
    assert len(gaps) == 3  # bureau, procuratorate and police of 530522
    assert all("530522" in str(r.missing) and "toDivision" in str(r.missing) for r in gaps)
    assert any("BUREAU" in str(r.missing) for r in gaps)


@pytest.mark.parametrize(("message_type", "fact", "sender"), [
    ("RevocationDecision", "returnCustody", "530502FY"),
    ("ReleaseNotice", "originalCustody", "530581SF"),
])
def test_optional_custody_targets_are_added_when_named_and_never_missing_when_absent(
        message_type: str, fact: str, sender: str) -> None:
    base = {"executionDivision": "530581", "decidingOrgan": "530502FY"}
    # Given the fact names the 保山 prison: it is a 'to' recipient
    with_prison = roles(route(msg(message_type, sender, base | {fact: "530502JY"}), DIRECTORY))
    assert with_prison["530502JY"] == "to"
    # Given no such fact: no prison, and nothing reported missing
    without = route(msg(message_type, sender, base), DIRECTORY)
    assert missing(without) == []
    assert "530502JY" not in roles(without)
    # And the rest of the recipients are the same either way
    assert {k: v for k, v in with_prison.items() if k != "530502JY"} == roles(without)


def test_release_of_a_temp_outside_person_also_tells_the_original_prison() -> None:
    facts = {"executionDivision": "530581", "decidingOrgan": "530502FY", "originalCustody": "530502JY",
             "correctionType": "TEMP_OUTSIDE"}
    got = roles(route(msg("ReleaseNotice", "530581SF", facts), DIRECTORY))
    assert got == {"530502FY": "to", "530581JC": "to", "530581GA": "to", "530502JY": "to"}


@pytest.mark.parametrize(("message_type", "sender", "facts", "envelope_to", "expected"), [
    # a procuratorate's custody notice goes to the bureau; the procuratorate does not get a copy of its own
    ("CustodyNotice", "530581JC", {"executionDivision": "530581"}, (), {"530581SF": "to"}),
    # police reporting lost contact do not notify themselves
    ("SupervisionEvent", "530581GA", {"executionDivision": "530581", "decidingOrgan": "530502FY",
                                      "kind": "LOST_CONTACT"}, (), {"530581JC": "to", "530502FY": "cc"}),
    # a court serving its own county's bureau, naming itself in the envelope
    ("SentencingDecision", "530502FY", {"executionDivision": "530502"}, ("530502FY",),
     {"530502SF": "to", "530502JC": "cc", "530502GA": "cc"}),
    # a procuratorate commissioning an assessment in its own county is not copied on it
    ("AssessmentCommission", "530581JC", {"executionDivision": "530581"}, (), {"530581SF": "to"}),
])
def test_the_sender_never_receives_its_own_message(message_type: str, sender: str, facts: dict[str, str],
                                                   envelope_to: tuple[str, ...], expected: dict[str, str]) -> None:
    routes = route(msg(message_type, sender, facts, to=envelope_to), DIRECTORY)
    assert sender not in {r.agency for r in routes}
    assert missing(routes) == []
    assert roles(routes) == expected


def test_to_wins_over_cc_for_the_same_agency_whichever_comes_first() -> None:
    # Given the court naming 腾冲市's procuratorate as a 'to' (the rules make it a cc) and the bureau as a cc
    m = msg("SentencingDecision", "530502FY", {"executionDivision": "530581"},
            to=("530581JC",), cc=("530581SF", "530581GA"))
    # When routed, then each agency appears once, in the stronger role
    assert roles(route(m, DIRECTORY)) == {"530581SF": "to", "530581JC": "to", "530581GA": "cc"}


def test_envelope_recipients_are_added_with_their_role() -> None:
    m = msg("SentencingDecision", "530502FY", {"executionDivision": "530581"},
            to=("530500SF",), cc=("530500JC", "530502JY"))
    routes = route(m, DIRECTORY)
    assert roles(routes) == {"530581SF": "to", "530500SF": "to", "530581JC": "cc", "530581GA": "cc",
                             "530500JC": "cc", "530502JY": "cc"}
    named = {r.agency: r.why for r in routes if r.agency in ("530500SF", "530500JC", "530502JY")}
    assert set(named.values()) == {"named in the envelope"}


def test_technical_acks_ignore_the_envelope_recipients() -> None:
    # Given a technical ack whose envelope names agencies, including one that does not exist
    m = msg("TechnicalAck", "530581SF", {"ackOf": "x", "status": "ACCEPTED"},
            to=("530502FY",), cc=("530581JC", "530599SF"))
    # Then it is for the hub alone: no recipients, and nothing reported missing
    assert route(m, DIRECTORY) == []


def test_an_unknown_agency_in_the_envelope_becomes_a_missing_route_naming_it() -> None:
    m = msg("SentencingDecision", "530502FY", {"executionDivision": "530581"}, to=("530599SF",), cc=("530599GA",))
    routes = route(m, DIRECTORY)
    # the known recipients are still there
    assert roles([r for r in routes if r.agency]) == {"530581SF": "to", "530581JC": "cc", "530581GA": "cc"}
    gaps = missing(routes)
    assert [(r.role, r.agency) for r in gaps] == [("to", None), ("cc", None)]
    assert "530599SF" in str(gaps[0].missing) and "530599GA" in str(gaps[1].missing)


def test_a_retired_division_has_no_bureau_and_every_required_target_is_reported() -> None:
    # Given a judgment for someone whose 执行地 is 腾冲县 (530522), retired in 2015
    routes = route(msg("SentencingDecision", "530502FY", {"executionDivision": "530522"}), DIRECTORY)
    # Then nobody is routed, and each of bureau, procuratorate and police is reported missing, by name
    assert [r.agency for r in routes] == [None, None, None]
    reasons = sorted(str(r.missing) for r in routes)
    for organ in ("BUREAU", "PROCURATORATE", "POLICE"):
        assert any(organ in reason and "530522" in reason for reason in reasons), reasons
    assert {r.role for r in routes} == {"to", "cc"}


def test_an_absent_execution_division_is_reported() -> None:
    routes = route(msg("PursuitRequest", "530581SF", {}), DIRECTORY)
    assert [r.agency for r in routes] == [None, None]
    assert all("executionDivision" in str(r.missing) and "absent" in str(r.missing) for r in routes)


@pytest.mark.parametrize("fact_value", [None, "530599FY"])
def test_a_required_named_agency_that_is_absent_or_unregistered_is_reported(fact_value: str | None) -> None:
    facts = {"executionDivision": "530581"} | ({"decidingOrgan": fact_value} if fact_value else {})
    routes = route(msg("DocumentReceipt", "530581SF", facts), DIRECTORY)
    assert roles([r for r in routes if r.agency]) == {"530581JC": "cc"}
    gaps = missing(routes)
    assert len(gaps) == 1 and gaps[0].role == "to"
    assert "decidingOrgan" in str(gaps[0].missing)
    if fact_value:
        assert fact_value in str(gaps[0].missing)


def test_an_unknown_message_type_is_refused() -> None:
    with pytest.raises(ValueError, match="NoSuchNotice"):
        route(msg("NoSuchNotice", "530502FY", {"executionDivision": "530581"}), DIRECTORY)


# ---- property: for any facts, nothing is silently dropped and no agency appears twice -------------------

KNOWN = sorted(DIRECTORY.agencies)
DIVISIONS = [*sorted({a.division for a in DIRECTORY.agencies.values()}), "530522", "533001", "110101"]
CODES = st.sampled_from(KNOWN) | st.sampled_from(["530599SF", "530522FY", "110101GA"])
FACT_VALUES = {
    "executionDivision": st.sampled_from(DIVISIONS),
    "fromDivision": st.sampled_from(DIVISIONS),
    "toDivision": st.sampled_from(DIVISIONS),
    "decidingOrgan": CODES,
    "commissioningOrgan": CODES,
    "returnCustody": CODES,
    "originalCustody": CODES,
    "kind": st.sampled_from(["ESCORTED_HANDOVER", "COUNTY_TRANSFER", "LOST_CONTACT", "CONTACT_RESTORED",
                             "RESIDENCE_CHANGE", "WARNING", "ADMONITION", "ARREST"]),
    "result": st.sampled_from(["REPORTED", "REPORTED_LATE", "NOT_REPORTED"]),
}
FACTS = st.fixed_dictionaries({}, optional=FACT_VALUES)


@settings(max_examples=400, deadline=None)
@given(message_type=st.sampled_from(sorted(MESSAGE_TYPES)), sender=CODES, facts=FACTS,
       to=st.lists(CODES, max_size=3), cc=st.lists(CODES, max_size=3))
def test_property_every_route_is_a_registered_agency_or_a_stated_gap_and_none_twice(
        message_type: str, sender: str, facts: dict[str, str], to: list[str], cc: list[str]) -> None:
    routes = route(msg(message_type, sender, facts, to=tuple(to), cc=tuple(cc)), DIRECTORY)
    agencies = [r.agency for r in routes if r.agency is not None]
    # no agency twice, and never the sender
    assert len(agencies) == len(set(agencies))
    assert sender not in agencies
    for r in routes:
        assert r.role in ("to", "cc")
        if r.agency is None:
            assert r.missing, r
        else:
            assert DIRECTORY.get(r.agency) is not None
            assert r.missing is None
    # every agency named in the envelope (but a technical ack's) is either routed or reported missing
    if message_type != "TechnicalAck":
        gaps = " ".join(str(r.missing) for r in routes if r.agency is None)
        for code in set(to) | set(cc):
            assert code == sender or code in agencies or code in gaps, (code, routes)
        # an envelope 'to' is never demoted to cc
        for code in set(to) - {sender}:
            assert any(r.agency == code and r.role == "to" for r in routes) or code in gaps
