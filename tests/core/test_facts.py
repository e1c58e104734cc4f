"""What the case ledger reads from canonical messages: every sample, the case and person keys, the legal day."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.canonical import parse
from hub.core.fact_bodies import (
    AckFacts,
    CommissionFacts,
    CustodyFacts,
    DecisionFacts,
    EventFacts,
    OpinionFacts,
    ProposalFacts,
    PursuitRequestFacts,
    PursuitResultFacts,
    ReceiptFacts,
    ReleaseFacts,
    ReportingFacts,
    RevocationFacts,
    TransferFacts,
    TransferOpinionFacts,
)
from hub.core.facts import MessageFacts, canonical_id_number, facts_of, legal_day, normalise_case_number
from hub.core.idnumber import check_digit
from hub.core.routing import HUB_MESSAGE_TYPES
from hub.resources import data_dir
from tests.adapters.strategies import MESSAGE_TYPES, canonical_messages

SAMPLES = data_dir("schemas") / "canonical" / "v1" / "samples"
RECEIVED = dt.datetime(2026, 4, 2, 1, 30, tzinfo=dt.UTC)
D = dt.date


def read(name: str, received_at: dt.datetime = RECEIVED) -> MessageFacts:
    return facts_of((SAMPLES / name).read_bytes(), received_at=received_at)


# The body facts of each sample, written out from the sample files by hand.
EXPECTED_BODIES = {
    "AssessmentCommission.xml": CommissionFacts("530502FY", D(2026, 3, 2), False),
    "AssessmentOpinion.xml": OpinionFacts("530502FY", "SUITABLE", D(2026, 3, 12)),
    "SentencingDecision.xml": DecisionFacts("JUDGMENT", "（2026）云0502刑初123号", D(2026, 3, 20), D(2026, 3, 31),
                                            D(2026, 4, 10), ("JUDGMENT", "EXECUTION_NOTICE", "CASE_CLOSING_FORM"),
                                            None),
    "DocumentReceipt.xml": ReceiptFacts("8092df1d-87f8-438e-bf6a-5826f71aebe0", D(2026, 4, 2), True, ()),
    "DocumentReceipt-incomplete.xml": ReceiptFacts("d07d440f-f585-41a7-af04-248dee8cd9d1", D(2025, 6, 15), False,
                                                   ("MEDICAL_REPORT", "PERSON_FILE")),
    "ReportingOutcome.xml": ReportingFacts("REPORTED", D(2026, 4, 10), D(2026, 4, 8)),
    "TransferPapers.xml": TransferFacts("ESCORTED_HANDOVER", "530502", "530523", D(2025, 6, 15), None,
                                        D(2025, 6, 8), None, "530502JY",
                                        ("TEMP_OUTSIDE_DECISION", "JUDGMENT", "PERSON_FILE", "OTHER")),
    "TransferPapers-county.xml": TransferFacts("COUNTY_TRANSFER", "530524", "530521", D(2026, 5, 11), D(2026, 5, 8),
                                               D(2026, 5, 11), D(2026, 5, 18), None,
                                               ("DECISION", "JUDGMENT", "EXECUTION_NOTICE", "PERSON_FILE")),
    "TransferOpinion.xml": TransferOpinionFacts("REQUEST", "530524", "530521", D(2026, 4, 27), None, None),
    "TransferOpinion-reply.xml": TransferOpinionFacts("REPLY", "530524", "530521", D(2026, 4, 27), "AGREE",
                                                      D(2026, 4, 30)),
    "CustodyNotice.xml": CustodyFacts("CRIMINAL_DETENTION", "530502KS", D(2026, 5, 18), None),
    "SupervisionEvent.xml": EventFacts("LEAVE_APPROVED", D(2026, 5, 29), D(2026, 6, 1), D(2026, 6, 7), "530103"),
    "RevocationProposal.xml": ProposalFacts("REVOKE_PROBATION", D(2026, 7, 13), True, "腾司矫撤建〔2026〕3号"),
    "RevocationDecision.xml": RevocationFacts("REVOKE_PROBATION", "GRANTED", D(2026, 7, 24), "（2026）云0502刑更58号",
                                              False, "530502KS", None),
    "PursuitRequest.xml": PursuitRequestFacts("PURSUE_ABSCONDER", D(2026, 7, 27), "（2026）云0502刑更58号",
                                              D(2026, 6, 5)),
    "PursuitResult.xml": PursuitResultFacts("IN_CUSTODY", D(2026, 8, 12), D(2026, 8, 10), "530502KS"),
    "ReleaseNotice.xml": ReleaseFacts("RELEASED", D(2026, 3, 14), "530502JY"),
    "TechnicalAck.xml": AckFacts("8092df1d-87f8-438e-bf6a-5826f71aebe0", "ACCEPTED"),
}


def test_every_sample_has_its_expected_body() -> None:
    # Given the sample folder, Then the table above covers every sample in it but the hub's own notices, which are
    # not case history: the ledger does not read them
    agencies = [p.name for p in SAMPLES.glob("*.xml") if p.stem.split("-")[0] not in HUB_MESSAGE_TYPES]
    assert sorted(agencies) == sorted(EXPECTED_BODIES)
    with pytest.raises(ValueError, match="DeadlineNotice is not a canonical message type"):
        read("DeadlineNotice.xml")


@pytest.mark.parametrize("name", sorted(EXPECTED_BODIES))
def test_each_sample_reads_as_the_hub_parser_reads_it(name: str) -> None:
    # Given a canonical sample, read both by the hub's validating parser and by the ledger's reader
    raw = (SAMPLES / name).read_bytes()
    c = parse(raw).canonical
    # When the ledger reads it
    f = facts_of(raw, received_at=RECEIVED)
    # Then envelope, person and case agree with the validating parser, and the body is the expected one
    assert (f.message_id, f.message_type, f.sender, f.to, f.cc) == (c.message_id, c.message_type, c.sender, c.to, c.cc)
    assert (f.correlation_id, f.causation_id, f.person_ref, f.sent_at) == (c.correlation_id, c.causation_id,
                                                                           c.person_ref, c.sent_at)
    assert f.received_at == RECEIVED
    assert f.body == EXPECTED_BODIES[name]
    if c.message_type == "TechnicalAck":
        assert f.person is None and f.case is None
        return
    assert f.person is not None and f.case is not None
    assert (f.person.name, f.person.id_number, f.person.sex) == (c.person_name, c.id_number, c.sex)
    assert f.person.birth_date == (D.fromisoformat(c.birth_date) if c.birth_date else None)
    assert (f.case.case_number, f.case.deciding_organ) == (c.case_number, c.facts["decidingOrgan"])
    assert (f.case.execution_division, f.case.correction_type) == (c.facts["executionDivision"],
                                                                   c.facts["correctionType"])


def test_the_case_facts_of_a_sentencing_decision() -> None:
    # Given the sample judgment, When read, Then its dates and period are those the clocks count from
    f = read("SentencingDecision.xml")
    assert f.case is not None
    assert (f.case.decision_date, f.case.effective_date) == (D(2026, 3, 20), D(2026, 3, 31))
    assert (f.case.period_start, f.case.period_end) == (D(2026, 3, 31), D(2028, 3, 30))
    assert f.person is not None and f.person.residence_division == "530581"


def test_messages_of_one_case_share_one_case_key_and_one_person_key() -> None:
    # Given the samples about 杨国富's case (from the court, the bureau and the police)
    names = ["AssessmentCommission.xml", "AssessmentOpinion.xml", "SentencingDecision.xml", "DocumentReceipt.xml",
             "ReportingOutcome.xml", "SupervisionEvent.xml", "RevocationProposal.xml", "RevocationDecision.xml",
             "PursuitRequest.xml", "PursuitResult.xml"]
    facts = [read(n) for n in names]
    # Then they all land in one case and one person, keyed by the valid ID number
    assert {f.case_key for f in facts} == {"530502FY|(2026)云0502刑初123号"}
    assert {f.person_key for f in facts} == {"530522198803140310"}
    # And the other cases keep their own keys
    assert read("TransferPapers.xml").case_key == read("ReleaseNotice.xml").case_key == "530502JY|(2024)云0523刑初78号"
    assert read("TransferPapers-county.xml").case_key != read("CustodyNotice.xml").case_key


def test_a_message_without_a_case_block_falls_back_to_its_correlation_id() -> None:
    ack = read("TechnicalAck.xml")
    assert ack.case_key == "corr|(2026)云0502刑初123号"
    assert ack.person_key == "ref|530502FY:RY2026-0123"


@pytest.mark.parametrize("variant", ["（2026）云0502刑初123号", "(2026)云0502刑初123号", "〔2026〕云0502刑初123号",
                                     "[2026]云0502刑初123号", " （２０２６）云０５０２刑初１２３号 ",
                                     "（2026） 云0502 刑初123号"])
def test_case_numbers_written_differently_normalise_alike(variant: str) -> None:
    assert normalise_case_number(variant) == "(2026)云0502刑初123号"


def with_person(raw: bytes, old: bytes, new: bytes) -> bytes:
    assert old in raw
    return raw.replace(old, new)


def test_an_invalid_id_number_falls_back_to_the_senders_person_reference() -> None:
    # Given the judgment with a wrong check character
    raw = with_person((SAMPLES / "SentencingDecision.xml").read_bytes(), b"530522198803140310", b"530522198803140311")
    # When read, Then the person is keyed by the court's own reference
    f = facts_of(raw, received_at=RECEIVED)
    assert f.person_key == "ref|530502FY:RY2026-0123"


def test_a_legacy_15_digit_number_meets_its_18_digit_form() -> None:
    # Given a legacy number and the same person's 18-digit number
    legacy = "530522880314031"
    body = "530522" + "19" + "880314031"
    modern = body + check_digit(body)
    raw = (SAMPLES / "SentencingDecision.xml").read_bytes()
    old = facts_of(with_person(raw, b"530522198803140310", legacy.encode()), received_at=RECEIVED)
    new = facts_of(with_person(raw, b"530522198803140310", modern.encode()), received_at=RECEIVED)
    # Then both key the same person
    assert old.person_key == new.person_key == modern
    assert canonical_id_number(legacy.lower(), today=D(2026, 1, 1)) == modern


def test_a_lower_case_check_character_keys_as_upper_case() -> None:
    assert canonical_id_number("11010519491231002x", today=D(2026, 1, 1)) == "11010519491231002X"


def test_the_legal_day_is_the_day_in_shanghai() -> None:
    # Given an instant late in the UTC evening, Then in Shanghai it is already the next day
    assert legal_day(dt.datetime(2026, 3, 31, 16, 30, tzinfo=dt.UTC)) == D(2026, 4, 1)
    assert legal_day(dt.datetime(2026, 3, 31, 15, 59, tzinfo=dt.UTC)) == D(2026, 3, 31)
    f = read("ReportingOutcome.xml", dt.datetime(2026, 4, 8, 16, 0, tzinfo=dt.UTC))
    assert f.received_on == D(2026, 4, 9)


def test_a_naive_timestamp_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        read("ReportingOutcome.xml", dt.datetime(2026, 4, 8, 16, 0))
    with pytest.raises(ValueError, match="time zone"):
        legal_day(dt.datetime(2026, 4, 8, 16, 0))


def test_a_foreign_root_is_refused() -> None:
    with pytest.raises(ValueError, match="namespace"):
        facts_of(b"<SentencingDecision xmlns='urn:other'/>", received_at=RECEIVED)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), message_type=st.sampled_from(MESSAGE_TYPES))
def test_any_valid_message_reads_as_the_hub_parser_reads_it(data: st.DataObject, message_type: str) -> None:
    # Given any valid canonical message of any type
    raw = data.draw(canonical_messages(message_type))
    c = parse(raw).canonical
    # When the ledger reads it
    f = facts_of(raw, received_at=RECEIVED)
    # Then it agrees with the validating parser on everything both read
    assert (f.message_id, f.message_type, f.sender, f.causation_id) == (c.message_id, message_type, c.sender,
                                                                        c.causation_id)
    if f.case is not None:
        assert f.case.case_number == c.case_number
        assert f.case.execution_division == c.facts["executionDivision"]
        assert f.case_key is not None and f.case_key.startswith(c.facts["decidingOrgan"] + "|")
    for name, value in c.facts.items():
        body = f.body
        if name == "completeness":
            assert isinstance(body, ReceiptFacts) and body.complete == (value == "COMPLETE")
        if name == "receiptOf":
            assert isinstance(body, ReceiptFacts) and body.receipt_of == value
        if name == "kind" and message_type != "TechnicalAck":
            assert getattr(body, "kind", None) == value
