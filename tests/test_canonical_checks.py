"""The hub's checks beyond the schema: each names the element at fault."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lxml import etree

from hub.canonical import parse
from hub.errors import InvalidMessage
from tests.harness import N, make_id, notice


def rejected(raw: bytes) -> InvalidMessage:
    with pytest.raises(InvalidMessage) as e:
        parse(raw)
    assert e.value.code == "semantic_invalid" and e.value.status == 422
    return e.value


def set_text(path: str, value: str) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        root.find(path, N).text = value
    return edit


def test_sex_must_agree_with_the_id_numbers_sequence_digit() -> None:
    # Given a man's ID number (odd sequence digit) on a person recorded as female
    _, raw = notice(id_number=make_id("530502", "19880314", 31), edit=set_text("x:person/x:sex", "FEMALE"))
    err = rejected(raw)
    assert err.problems[0].path == "/x:SentencingDecision/x:person/x:sex"
    assert "odd: male" in err.problems[0].reason


def test_an_incomplete_receipt_must_list_what_is_missing() -> None:
    _, raw = notice("DocumentReceipt", edit=set_text("x:receipt/x:completeness", "INCOMPLETE"))
    err = rejected(raw)
    assert err.problems[0].path == "/x:DocumentReceipt/x:receipt/x:completeness"


def test_a_complete_receipt_must_not_list_missing_documents() -> None:
    _, raw = notice("DocumentReceipt-incomplete", edit=set_text("x:receipt/x:completeness", "COMPLETE"))
    assert "INCOMPLETE exactly when" in rejected(raw).problems[0].reason


def test_a_supervision_period_cannot_end_before_it_starts() -> None:
    _, raw = notice(edit=set_text("x:case/x:supervisionPeriod/x:end", "2020-01-01"))
    err = rejected(raw)
    assert err.problems[0].path == "/x:SentencingDecision/x:case/x:supervisionPeriod/x:end"


def test_the_samples_pass_every_check() -> None:
    for sample in ("SentencingDecision", "DocumentReceipt", "DocumentReceipt-incomplete", "CustodyNotice",
                   "SupervisionEvent"):
        _, raw = notice(sample)
        assert parse(raw).canonical.message_type == sample.split("-")[0]
