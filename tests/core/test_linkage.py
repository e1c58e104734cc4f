"""Linking records into persons (DOMAIN.md §4): link, never merge silently; NOT_SAME decisions are kept."""

from __future__ import annotations

import datetime as dt
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.core.identity import (
    Decision,
    Decisions,
    Judgement,
    PersonRecord,
    Sex,
    Verdict,
    features,
    match,
)
from hub.core.linkage import blocking_keys, link
from tests.core.test_identity import AT, BORN, CASE, TODAY, idn, rec

ZHANG = idn("530502", BORN, 31)


def test_records_of_one_person_across_agencies_are_linked_and_homophones_queued_for_review() -> None:
    # Given the court (18-digit ID), the detention centre (legacy 15-digit ID), the bureau (no ID, same case
    # with 章 typed for 张), and two records of 李晓明 / 李小明 that only a person can tell apart
    court = rec("530502FY", "FY-1", "张建国", id_number=ZHANG, cases=(CASE,))
    detention = rec("530502KS", "KS-1", "张建国", id_number="530502880314031")
    bureau = rec("530502SF", "SF-1", "章建国", cases=("〔2017〕云0502刑初123号",))
    li_a = rec("530502GA", "GA-1", "李晓明", id_number=idn("530502", BORN, 51))
    li_b = rec("530502SF", "SF-2", "李小明", sex=Sex.MALE, birth=BORN)
    stranger = rec("530502SF", "SF-3", "赵丽", sex=Sex.FEMALE, birth=dt.date(1979, 1, 2))
    # When linked
    linkage = link([court, detention, bureau, li_a, li_b, stranger], today=TODAY)
    # Then 张建国 is one person of three records, the others stand alone, and 李 is a review item
    assert linkage.person_of(court.key) == (court.key, detention.key, bureau.key)
    assert linkage.person_of(bureau.key) == linkage.person_of(detention.key)
    assert linkage.person_of(li_a.key) == (li_a.key,)
    assert len(linkage.persons) == 4
    assert [(r.a, r.b) for r in linkage.review] == [(li_a.key, li_b.key)]
    assert linkage.review[0].result.verdict is Verdict.POSSIBLE


def test_a_chain_of_matches_is_not_joined_across_a_not_same_decision() -> None:
    # Given A and C share an ID, C and B share an ID written as a legacy number and a case, and A / B decided apart
    a = rec("530502FY", "A", "张建国", id_number=ZHANG, cases=(CASE,))
    b = rec("530502SF", "B", "张建国", cases=(CASE,))
    c = rec("530502GA", "C", "张建国", id_number="530502880314031", cases=(CASE,))
    apart = Decision(a.key, b.key, Judgement.NOT_SAME, "王科长", AT, "同案同名不同人")
    # When linked
    linkage = link([a, b, c], decisions=[apart], today=TODAY)
    # Then the stronger join (the same ID) is made, the join of C and B is refused and queued, marked
    assert linkage.person_of(a.key) == (a.key, c.key)
    assert linkage.person_of(b.key) == (b.key,)
    assert [(r.a, r.b) for r in linkage.review] == [(c.key, b.key)]
    item = linkage.review[0]
    assert "kept_apart" in item.result.codes and item.result.verdict is Verdict.POSSIBLE


def test_namesakes_born_the_same_day_are_not_joined_through_a_record_without_an_id() -> None:
    # Given two women named 古丽娜尔·吐尔逊 born the same day, each with her own ID number, and a bureau record
    # without a number that matches both by name, birth date and sex, and one of them by case number too
    born = dt.date(1989, 1, 30)
    case = "(2020)新0102刑初8号"
    first = rec("650102FY", "FY-1", "古丽娜尔·吐尔逊", id_number=idn("650102", born, 114), cases=(case,))
    second = rec("650102GA", "GA-2", "古丽娜尔•吐尔逊", id_number=idn("650104", born, 504))
    bureau = rec("650102SF", "SF-3", "古丽娜尔・吐尔逊", sex=Sex.FEMALE, birth=born, cases=(case,))
    # When linked
    linkage = link([second, bureau, first], today=TODAY)
    # Then the bureau's record joins the one it shares a case with, and the two women stay two persons
    assert linkage.person_of(bureau.key) == (first.key, bureau.key)
    assert linkage.person_of(second.key) == (second.key,)
    # and both remaining pairs go to review: the ID conflict, and the refused join with its reason
    codes = {(r.a, r.b): r.result.codes for r in linkage.review}
    assert codes[(first.key, second.key)][0] == "id_conflict"
    assert codes[(second.key, bureau.key)][-1] == "ids_apart"
    assert len(codes) == 2


def test_a_same_decision_joins_records_with_different_id_numbers() -> None:
    # Given a reviewer found one man under two numbers (re-issued after a change of birth date)
    a = rec("530502FY", "FY-1", "张建国", id_number=ZHANG)
    b = rec("530502GA", "GA-1", "张建国", id_number=idn("530502", dt.date(1988, 4, 14), 31))
    c = rec("530502SF", "SF-1", "张建国", id_number="530502880414031")
    yes = Decision(a.key, b.key, Judgement.SAME, "李主任", AT, "户籍更正")
    assert link([a, b, c], today=TODAY).person_of(a.key) == (a.key,)
    assert link([a, b, c], decisions=[yes], today=TODAY).person_of(a.key) == (a.key, b.key, c.key)


def test_a_same_decision_links_records_no_block_brings_together() -> None:
    # Given a foreign national with no ID and no birth date in one system, a romanised name in the other
    a = rec("530502GA", "GA-5", "阮文雄", sex=Sex.MALE)
    b = rec("530502KS", "KS-5", "NGUYEN VAN HUNG", sex=Sex.MALE)
    yes = Decision(a.key, b.key, Judgement.SAME, "李主任", AT, "护照号码一致")
    assert link([a, b], today=TODAY).person_of(a.key) == (a.key,)
    assert link([a, b], decisions=Decisions.of([yes]), today=TODAY).person_of(a.key) == (a.key, b.key)


def test_review_items_appear_once_each_strongest_first_and_not_for_records_already_linked() -> None:
    # Given two records of one man linked by ID, and a third that is possibly him (sex mistyped)
    a = rec("530502FY", "1", "张建国", id_number=ZHANG)
    b = rec("530502GA", "2", "张建国", id_number="530502880314031")
    c = rec("530502SF", "3", "张建国", sex=Sex.FEMALE, birth=BORN)   # score 70 with each of a and b
    d = rec("530502SF", "4", "章建国", sex=Sex.MALE, birth=BORN)     # pinyin only: 70 with a, b; 60 with c
    linkage = link([d, c, b, a], today=TODAY)
    pairs = [(r.a, r.b) for r in linkage.review]
    assert len(pairs) == len(set(pairs))
    assert (a.key, b.key) not in pairs
    scores = [r.result.score for r in linkage.review]
    assert scores == sorted(scores, reverse=True)
    assert pairs == [(a.key, c.key), (a.key, d.key), (b.key, c.key), (b.key, d.key), (c.key, d.key)]


def test_a_record_key_given_twice_is_refused() -> None:
    a = rec("530502FY", "1", "张建国", id_number=ZHANG)
    with pytest.raises(ValueError, match="appears twice"):
        link([a, rec("530502FY", "1", "张三")], today=TODAY)


def test_blocks_are_the_id_every_surname_reading_with_the_birth_date_and_each_case() -> None:
    f = features(rec("530502FY", "1", "单雄信", id_number=idn("530502", BORN, 11), cases=(CASE, "(2018)云05刑终7号")),
                 today=TODAY)
    keys = set(blocking_keys(f))
    assert keys == {("id", f.id18), ("born", BORN, "dan"), ("born", BORN, "chan"), ("born", BORN, "shan"),
                    ("case", "(2017)云0502刑初123"), ("case", "(2018)云05刑终7")}
    romanised = features(rec("530502GA", "2", "Shan Xiongxin", birth=BORN), today=TODAY)
    assert ("born", BORN, "shan") in set(blocking_keys(romanised))


# --- properties --------------------------------------------------------------------------------------------

NAMES = ["张建国", "章建国", "臧建国", "李晓明", "李小明", "单雄信", "善雄信", "阿依古丽·买买提", "阿依古丽买买提",
         "𠮷祥", "Zhang Jianguo", ""]
BIRTHS = [BORN, dt.date(1988, 3, 15), dt.date(1970, 1, 1)]
IDS = [idn("530502", b, s) for b in BIRTHS for s in (31, 32, 33)] + ["530502880314031", "530502880314032",
                                                                 ZHANG[:-1] + ("0" if ZHANG[-1] != "0" else "1")]
CASES = [CASE, "〔2017〕云0502刑初123号", "(2016)云0581刑初9号"]

Row = tuple[str, str | None, str, Sex, dt.date | None, tuple[str, ...]]

fields = st.tuples(
    st.sampled_from(["530502FY", "530502GA", "530502SF", "530500JY"]),
    st.none() | st.sampled_from(IDS), st.sampled_from(NAMES), st.sampled_from(list(Sex)),
    st.none() | st.sampled_from(BIRTHS), st.lists(st.sampled_from(CASES), max_size=2).map(tuple),
)
records = st.lists(fields, max_size=14).map(
    lambda rows: [PersonRecord(ag, f"r{i}", id_, name, sex, birth, cases)
                  for i, (ag, id_, name, sex, birth, cases) in enumerate(rows)])


@settings(max_examples=400, deadline=None)
@given(a=fields, b=fields, same_key=st.booleans(), judgement=st.none() | st.sampled_from(list(Judgement)))
def test_match_is_symmetric(a: Row, b: Row, same_key: bool, judgement: Judgement | None) -> None:
    # Given any two records (sometimes under one key), with or without a decision on them
    ra, rb = PersonRecord(a[0], "x", *a[1:]), PersonRecord(a[0] if same_key else b[0], "x" if same_key else "y", *b[1:])
    decided = [Decision(ra.key, rb.key, judgement, "甲", AT, "")] if judgement and ra.key != rb.key else []
    # Then the verdict, score and reasons do not depend on which comes first
    book = Decisions.of(decided)
    assert match(ra, rb, decisions=book, today=TODAY) == match(rb, ra, decisions=book, today=TODAY)


@settings(max_examples=200, deadline=None)
@given(row=fields, number=st.sampled_from(IDS[:-1]))
def test_a_record_with_a_valid_id_always_matches_itself(row: Row, number: str) -> None:
    r = PersonRecord(row[0], "x", number, *row[2:])
    result = match(r, r, today=TODAY)
    assert result.verdict is Verdict.MATCH and result.score == 100


def not_same(rs: list[PersonRecord], data: st.DataObject, most: int) -> list[Decision]:
    """NOT_SAME decisions, mostly on pairs that linking alone would put into one person (where they bite)."""
    linked = [(a, b) for p in link(rs, today=TODAY).persons for a, b in combinations(p, 2)]
    anywhere = list(combinations([r.key for r in rs], 2))
    pool = st.sampled_from(linked) if linked else st.nothing()
    if anywhere:
        pool = pool | st.sampled_from(anywhere)
    chosen = data.draw(st.lists(pool, max_size=most)) if anywhere else []
    return [Decision(a, b, Judgement.NOT_SAME, "甲", AT, "") for a, b in chosen]


@settings(max_examples=300, deadline=None)
@given(rs=records, data=st.data())
def test_link_never_joins_records_decided_not_the_same(rs: list[PersonRecord], data: st.DataObject) -> None:
    # Given any records and NOT_SAME decisions on some of their pairs
    decisions = not_same(rs, data, 6)
    chosen = [(d.a, d.b) for d in decisions]
    # When linked, then no person holds a pair decided apart, and every record is in exactly one person
    linkage = link(rs, decisions=decisions, today=TODAY)
    for a, b in chosen:
        assert b not in linkage.person_of(a)
    assert sorted(k for p in linkage.persons for k in p) == sorted(r.key for r in rs)


@settings(max_examples=300, deadline=None)
@given(rs=records)
def test_without_a_same_decision_no_person_holds_two_id_numbers(rs: list[PersonRecord]) -> None:
    linkage = link(rs, today=TODAY)
    by_key = {r.key: features(r, today=TODAY) for r in rs}
    for person in linkage.persons:
        assert len({by_key[k].id18 for k in person} - {None}) <= 1, person


@settings(max_examples=300, deadline=None)
@given(rs=records, data=st.data())
def test_link_does_not_depend_on_input_order(rs: list[PersonRecord], data: st.DataObject) -> None:
    # Given any records and decisions, and the same in another order
    decisions = not_same(rs, data, 4)
    shuffled = data.draw(st.permutations(rs))
    # Then the persons and the review queue are the same
    assert link(rs, decisions=decisions, today=TODAY) == link(shuffled, decisions=decisions[::-1], today=TODAY)


@settings(max_examples=300, deadline=None)
@given(rs=records)
def test_blocking_loses_no_match_and_queues_every_possible_pair_it_compares(rs: list[PersonRecord]) -> None:
    # Given any records, linked without comparing all pairs
    linkage = link(rs, today=TODAY)
    queued = {frozenset((r.a, r.b)) for r in linkage.review}
    for a, b in combinations(rs, 2):
        verdict = match(a, b, today=TODAY).verdict
        together = b.key in linkage.person_of(a.key)
        # Then every pair match() calls MATCH ends in one person, or in the queue when joining it was refused
        if verdict is Verdict.MATCH:
            assert together or frozenset((a.key, b.key)) in queued
        # and every POSSIBLE pair sharing a block is linked or queued for review
        shared = set(blocking_keys(features(a, today=TODAY))) & set(blocking_keys(features(b, today=TODAY)))
        if verdict is Verdict.POSSIBLE and shared:
            assert together or frozenset((a.key, b.key)) in queued
