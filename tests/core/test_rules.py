"""Deadline rules as data: the national defaults of DOMAIN §2, their due dates on the 2026 calendar,
resolution by scope and effective period, validation of the rule file, and its round trip."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.core.calendar import Calendar, CalendarMissing
from hub.core.rules import OBLIGEES, OBLIGORS, Rule, RuleBook, Unit, dump_rules, load_rules, national

D = dt.date
CAL = Calendar.seeded()
BOOK = national()
BAOSHAN_SHIDIAN = "530521"
BAOSHAN_LONGYANG = "530502"
BEIJING_DONGCHENG = "110101"

# id → (DOMAIN §2 row, amount, unit, local rule may differ), as DOMAIN §2 and the shared brief give them.
EXPECTED = {
    "assessment_opinion": (2, 10, Unit.WORKING_DAYS, True),
    "assessment_opinion_fast": (2, 5, Unit.WORKING_DAYS, True),
    "notify_bureau": (3, 5, Unit.DAYS, False),
    "serve_documents": (4, 10, Unit.DAYS, False),
    "receipt": (5, 5, Unit.DAYS, True),
    "cure_documents": (6, 5, Unit.DAYS, True),
    "report": (7, 10, Unit.DAYS, False),
    "handover": (8, 10, Unit.DAYS, False),
    "search_on_failure": (9, 0, Unit.IMMEDIATELY, False),
    "transfer_opinion": (10, 5, Unit.DAYS, True),
    "transfer_papers": (11, 5, Unit.DAYS, True),
    "report_after_transfer": (12, 7, Unit.DAYS, True),
    "lost_contact_search": (13, 0, Unit.IMMEDIATELY, False),
    "lost_contact_warning": (13, 10, Unit.DAYS, False),
    "lost_contact_revoke": (13, 30, Unit.DAYS, False),
    "revocation_decision": (16, 30, Unit.DAYS, False),
    "arrest_decision": (17, 48, Unit.HOURS, False),
    "arrest_custody_limit": (17, 30, Unit.DAYS, False),
    "pursuit_request": (18, 0, Unit.IMMEDIATELY, False),
    "pursuit_reply": (18, 30, Unit.DAYS, True),
    "release_notice": (19, 0, Unit.IMMEDIATELY, False),
}

# Due dates counted by hand on the 2026 schedule (国庆 10-01..10-07 off, 10-10 Saturday 调休上班;
# 春节 02-15..02-23 off, 02-14 and 02-28 Saturdays 调休上班), for a trigger on Tuesday 2026-09-29 and on
# Thursday 2026-02-12 (just before each long holiday).
DUE = {
    # 09-30 (1), 10-08 (2), 10-09 (3), 10-10 (4), 10-12..10-16 (5..9), 10-19 (10)
    # 02-13 (1), 02-14 Sat (2), 02-24..02-27 (3..6), 02-28 Sat (7), 03-02..03-04 (8..10)
    "assessment_opinion": (D(2026, 10, 19), D(2026, 3, 4)),
    # 09-30, 10-08, 10-09, 10-10, 10-12 / 02-13, 02-14, 02-24, 02-25, 02-26
    "assessment_opinion_fast": (D(2026, 10, 12), D(2026, 2, 26)),
    # 09-29 + 5 = 10-04 off → 10-08 / 02-12 + 5 = 02-17 off → 02-24
    "notify_bureau": (D(2026, 10, 8), D(2026, 2, 24)),
    # + 10 = 10-09 (Fri, working) / 02-22 off → 02-24
    "serve_documents": (D(2026, 10, 9), D(2026, 2, 24)),
    "receipt": (D(2026, 10, 8), D(2026, 2, 24)),
    "cure_documents": (D(2026, 10, 8), D(2026, 2, 24)),
    "report": (D(2026, 10, 9), D(2026, 2, 24)),
    "handover": (D(2026, 10, 9), D(2026, 2, 24)),
    "search_on_failure": (D(2026, 9, 29), D(2026, 2, 12)),
    "transfer_opinion": (D(2026, 10, 8), D(2026, 2, 24)),
    "transfer_papers": (D(2026, 10, 8), D(2026, 2, 24)),
    # + 7 = 10-06 off → 10-08 / 02-19 off → 02-24
    "report_after_transfer": (D(2026, 10, 8), D(2026, 2, 24)),
    "lost_contact_search": (D(2026, 9, 29), D(2026, 2, 12)),
    "lost_contact_warning": (D(2026, 10, 9), D(2026, 2, 24)),
    # + 30 = 10-29 (Thu) / 03-14 (Sat) → 03-16
    "lost_contact_revoke": (D(2026, 10, 29), D(2026, 3, 16)),
    "revocation_decision": (D(2026, 10, 29), D(2026, 3, 16)),
    # 48 hours from the trigger day: two days later, never moved for a holiday
    "arrest_decision": (D(2026, 10, 1), D(2026, 2, 14)),
    "arrest_custody_limit": (D(2026, 10, 29), D(2026, 3, 16)),
    "pursuit_request": (D(2026, 9, 29), D(2026, 2, 12)),
    "pursuit_reply": (D(2026, 10, 29), D(2026, 3, 16)),
    "release_notice": (D(2026, 9, 29), D(2026, 2, 12)),
}
LAWS = ("社区矫正法第", "最高人民法院关于适用《中华人民共和国刑事诉讼法》的解释 (2021) 第", "社区矫正法实施办法 (2020)")


def test_the_national_book_has_one_row_per_rule_id_and_nothing_else() -> None:
    assert sorted(r.id for r in BOOK.rows()) == sorted(EXPECTED)


@pytest.mark.parametrize("rule_id", sorted(EXPECTED))
def test_each_national_row_is_as_domain_section_2_gives_it(rule_id: str) -> None:
    # Given the shipped defaults, When we look a rule up for a county on a day in 2026
    rule = BOOK.rule(rule_id, division=BAOSHAN_SHIDIAN, on=D(2026, 9, 29))
    # Then it is the national row with DOMAIN's row, period, unit and local flag, citing a law
    assert (rule.step, rule.amount, rule.unit, rule.local) == EXPECTED[rule_id]
    assert rule.scope == ""
    assert rule.effective_from == D(2020, 7, 1) and rule.effective_to is None
    assert rule.basis.startswith(LAWS)
    assert rule.obligor in OBLIGORS and rule.obligee in OBLIGEES and rule.obligor != rule.obligee
    assert rule.title_zh and rule.title_en
    if rule.unit is Unit.IMMEDIATELY:
        assert rule.due_soon_days == 0
    else:
        assert 0 < rule.due_soon_days < rule.amount


@pytest.mark.parametrize("rule_id", sorted(DUE))
@pytest.mark.parametrize("which", [0, 1], ids=["before-national-day", "before-spring-festival"])
def test_each_rule_falls_due_on_the_hand_counted_day(rule_id: str, which: int) -> None:
    trigger = (D(2026, 9, 29), D(2026, 2, 12))[which]
    rule = BOOK.rule(rule_id, division=BAOSHAN_LONGYANG, on=trigger)
    assert BOOK.due(rule, trigger=trigger, calendar=CAL) == DUE[rule_id][which]


def test_a_working_day_deadline_running_into_an_unknown_year_is_an_error() -> None:
    rule = BOOK.rule("assessment_opinion", division=BAOSHAN_LONGYANG, on=D(2026, 12, 24))
    with pytest.raises(CalendarMissing, match="2027"):
        BOOK.due(rule, trigger=D(2026, 12, 24), calendar=CAL)


def test_hours_count_from_the_start_of_the_trigger_day() -> None:
    rule = replace(BOOK.rule("arrest_decision", division="", on=D(2026, 1, 1)), amount=36)
    assert BOOK.due(rule, trigger=D(2026, 9, 29), calendar=CAL) == D(2026, 9, 30)


# ---- resolution by scope and period ------------------------------------------------------------------------

RECEIPT = BOOK.rule("receipt", division="", on=D(2026, 1, 1))


def _row(scope: str, amount: int, start: dt.date, end: dt.date | None = None) -> Rule:
    return replace(RECEIPT, scope=scope, amount=amount, effective_from=start, effective_to=end)


def test_a_county_row_beats_a_province_row_beats_the_national_row() -> None:
    # Given Yunnan (53) sets 7 days and 施甸 (530521) 3 days for the receipt
    book = BOOK.with_override(_row("53", 7, D(2024, 1, 1))).with_override(_row("530521", 3, D(2024, 1, 1)))
    on = D(2026, 5, 6)
    # Then 施甸 gets its own, 隆阳 the province's, and Beijing the national 5 days
    assert book.rule("receipt", division=BAOSHAN_SHIDIAN, on=on).amount == 3
    assert book.rule("receipt", division=BAOSHAN_LONGYANG, on=on).amount == 7
    assert book.rule("receipt", division=BEIJING_DONGCHENG, on=on).amount == 5
    assert book.rule("receipt", division="", on=on).amount == 5


def test_a_change_on_a_date_applies_from_that_date_and_not_before() -> None:
    # Given the national receipt period becomes 7 days from 2027-01-01
    book = BOOK.with_override(_row("", 7, D(2027, 1, 1)), supersede=True)
    # Then the old row ends the day before and the new one starts on the day
    before = book.rule("receipt", division=BAOSHAN_SHIDIAN, on=D(2026, 12, 31))
    after = book.rule("receipt", division=BAOSHAN_SHIDIAN, on=D(2027, 1, 1))
    assert (before.amount, before.effective_to) == (5, D(2026, 12, 31))
    assert (after.amount, after.effective_from, after.effective_to) == (7, D(2027, 1, 1), None)


def test_the_most_specific_scope_in_effect_wins_even_when_a_more_specific_one_exists_for_another_period() -> None:
    # Given Yunnan's 7 days throughout and 施甸's 3 days only in the first half of 2026
    book = BOOK.with_override(_row("53", 7, D(2021, 1, 1))).with_override(
        _row("530521", 3, D(2026, 1, 1), D(2026, 6, 30)))
    amounts = [book.rule("receipt", division=BAOSHAN_SHIDIAN, on=d).amount
               for d in (D(2025, 12, 31), D(2026, 1, 1), D(2026, 6, 30), D(2026, 7, 1))]
    # Then 施甸 falls back to the province outside its own period, and to the national row before 2021
    assert amounts == [7, 3, 3, 7]
    assert book.rule("receipt", division=BAOSHAN_SHIDIAN, on=D(2020, 12, 31)).amount == 5


def test_a_rule_not_in_effect_or_unknown_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="receipt"):
        BOOK.rule("receipt", division=BAOSHAN_SHIDIAN, on=D(2020, 6, 30))
    with pytest.raises(KeyError, match="no_such_rule"):
        BOOK.rule("no_such_rule", division=BAOSHAN_SHIDIAN, on=D(2026, 1, 1))
    with pytest.raises(ValueError, match="6-digit"):
        BOOK.rule("receipt", division="5305", on=D(2026, 1, 1))


def test_an_overlapping_period_for_the_same_id_and_scope_is_refused() -> None:
    book = BOOK.with_override(_row("53", 7, D(2024, 1, 1), D(2025, 12, 31)))
    with pytest.raises(ValueError, match=r"the new row rule 'receipt' \(scope '53', from 2025-06-01\).*overlaps"):
        book.with_override(_row("53", 9, D(2025, 6, 1)))
    # supersede closes only an open-ended earlier row; a closed period still overlaps
    with pytest.raises(ValueError, match="overlaps"):
        book.with_override(_row("53", 9, D(2025, 6, 1)), supersede=True)
    with pytest.raises(ValueError, match="overlaps"):
        BOOK.with_override(_row("", 7, D(2027, 1, 1)))
    assert book.with_override(_row("53", 9, D(2026, 1, 1))).rule(
        "receipt", division=BAOSHAN_LONGYANG, on=D(2026, 1, 1)).amount == 9


def test_an_override_must_owe_what_the_national_row_owes() -> None:
    with pytest.raises(ValueError, match="owes 'ReportingOutcome' differs"):
        BOOK.with_override(replace(_row("53", 7, D(2024, 1, 1)), owes="ReportingOutcome"))


def test_the_book_is_an_immutable_value() -> None:
    assert load_rules(dump_rules(BOOK)) == BOOK
    assert hash(load_rules(dump_rules(BOOK))) == hash(BOOK)
    assert BOOK.with_override(_row("53", 7, D(2024, 1, 1))) != BOOK
    with pytest.raises(AttributeError):
        BOOK._rows = ()  # type: ignore[misc]


# ---- the rule file ------------------------------------------------------------------------------------------

GOOD = """[[rule]]
id = "receipt"
step = 5
title_zh = "送达回执"
title_en = "Receipt"
obligor = "bureau"
obligee = "deciding_organ"
owes = "DocumentReceipt"
amount = 5
unit = "days"
basis = "社区矫正法实施办法 (2020)"
local = true
scope = ""
effective_from = 2020-07-01
due_soon_days = 2
"""


def _second_row(**changes: str) -> str:
    row = GOOD
    for key, value in changes.items():
        row, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", row)
        if n == 0:
            row += f"{key} = {value}\n"
    return GOOD + "\n" + row


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"unit": '"weeks"'}, "unknown unit 'weeks'"),
        ({"obligor": '"mayor"'}, "unknown role 'mayor' as obligor"),
        ({"obligee": '"person"'}, "unknown role 'person' as obligee"),
        ({"obligor": '"procuratorate"'}, "unknown role 'procuratorate' as obligor"),
        ({"amount": "-1"}, "amount must be positive"),
        ({"amount": "0"}, "amount must be positive for unit 'days'"),
        ({"unit": '"immediately"'}, "amount must be 0 for unit 'immediately'"),
        ({"scope": '"5305"'}, "scope '5305' must be"),
        ({"scope": '"53a"'}, "scope '53a' must be"),
        ({"effective_to": "2020-06-30"}, "effective_to 2020-06-30 is before effective_from 2020-07-01"),
        ({}, r"rule row 2 \(receipt\): duplicate of rule row 1 \(receipt\)"),
        ({"effective_from": "2024-01-01"}, r"rule row 2 \(receipt\): effective period overlaps rule row 1"),
        ({"amount": "true"}, "'amount' must be int"),
        ({"effective_from": '"2024-01-01"'}, "'effective_from' must be date"),
        ({"effective_from": "2024-01-01T00:00:00"}, "'effective_from' must be date"),
        ({"colour": '"red"'}, r"unknown key\(s\) colour"),
        ({"due_soon_days": "-1"}, "due_soon_days must not be negative"),
        ({"scope": '"53"', "owes": '"TechnicalAck"'}, "owes 'TechnicalAck' differs"),
    ],
)
def test_load_rules_names_the_row_at_fault(changes: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=r"rule row 2 \(receipt\)") as caught:
        load_rules(_second_row(**changes))
    assert re.search(message, str(caught.value)), str(caught.value)


def test_a_missing_field_is_named() -> None:
    with pytest.raises(ValueError, match=r"rule row 1 \(receipt\): missing 'basis'"):
        load_rules(GOOD.replace('basis = "社区矫正法实施办法 (2020)"\n', ""))


def test_a_closed_national_period_and_a_later_province_row_load_and_resolve() -> None:
    closed = GOOD.replace("due_soon_days = 2", "due_soon_days = 2\neffective_to = 2023-12-31")
    province = GOOD.replace('scope = ""', 'scope = "53"').replace("2020-07-01", "2024-01-01")
    book = load_rules(closed + "\n" + province)
    assert [(r.scope, r.effective_from, r.effective_to) for r in book.rows()] == [
        ("", D(2020, 7, 1), D(2023, 12, 31)), ("53", D(2024, 1, 1), None)]
    assert book.rule("receipt", division=BAOSHAN_LONGYANG, on=D(2024, 6, 1)).scope == "53"
    with pytest.raises(KeyError):
        book.rule("receipt", division=BEIJING_DONGCHENG, on=D(2024, 6, 1))


# ---- round trip --------------------------------------------------------------------------------------------

texts = st.text(min_size=1, max_size=30).filter(str.strip)


@st.composite
def books(draw: st.DrawFn) -> RuleBook:
    rows: list[Rule] = []
    ids = draw(st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True), min_size=1, max_size=3,
                        unique=True))
    for rule_id in ids:
        common = {"id": rule_id, "step": draw(st.integers(1, 19)), "owes": draw(texts),
                  "obligor": draw(st.sampled_from(sorted(OBLIGORS))),
                  "obligee": draw(st.sampled_from(sorted(OBLIGEES)))}
        for scope in draw(st.lists(st.sampled_from(["", "53", "11", "530521"]), min_size=1, max_size=3,
                                   unique=True)):
            starts = sorted(draw(st.lists(st.dates(D(1990, 1, 1), D(2100, 1, 1)), min_size=1, max_size=3,
                                          unique=True)))
            for i, start in enumerate(starts):
                limit = starts[i + 1] - dt.timedelta(days=1) if i + 1 < len(starts) else D(2200, 1, 1)
                end = draw(st.one_of(st.none(), st.dates(start, limit))) if i + 1 == len(starts) \
                    else draw(st.dates(start, limit))
                unit = draw(st.sampled_from(list(Unit)))
                rows.append(Rule(
                    **common, title_zh=draw(texts), title_en=draw(texts), basis=draw(texts),
                    amount=0 if unit is Unit.IMMEDIATELY else draw(st.integers(1, 10_000)), unit=unit,
                    local=draw(st.booleans()), scope=scope, effective_from=start, effective_to=end,
                    due_soon_days=draw(st.integers(0, 60)),
                ))
    return RuleBook(rows)


@given(books())
def test_dump_rules_reads_back_to_an_equal_book(book: RuleBook) -> None:
    assert load_rules(dump_rules(book)) == book
