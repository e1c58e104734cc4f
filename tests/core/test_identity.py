"""Is it the same person? match() on records of several agencies (DOMAIN.md §4): ID numbers, names, birth, case."""

from __future__ import annotations

import datetime as dt

import pytest

from hub.core.identity import Decision, Decisions, Judgement, PersonRecord, Sex, Verdict, match
from hub.core.idnumber import check_digit

TODAY = dt.date(2026, 6, 1)
BORN = dt.date(1988, 3, 14)
CASE = "（2017）云0502刑初123号"
AT = dt.datetime(2026, 5, 20, 2, 30, tzinfo=dt.UTC)


def idn(division: str, birth: dt.date, seq: int) -> str:
    body = f"{division}{birth:%Y%m%d}{seq:03d}"
    return body + check_digit(body)


def rec(agency: str, rid: str, name: str, *, id_number: str | None = None, sex: Sex = Sex.UNKNOWN,
        birth: dt.date | None = None, cases: tuple[str, ...] = ()) -> PersonRecord:
    return PersonRecord(agency, rid, id_number, name, sex, birth, cases)


ZHANG_ID = idn("530502", BORN, 31)  # 张建国, male (odd sequence)
court = rec("530502FY", "FY-2017-123", "张建国", id_number=ZHANG_ID, sex=Sex.MALE, cases=(CASE,))


def test_the_same_valid_id_number_is_a_match() -> None:
    # Given the court's and the police's records carrying the same ID number, the police's without the case
    police = rec("530502GA", "GA-88", "张建国", id_number=ZHANG_ID)
    # When matched
    result = match(court, police, today=TODAY)
    # Then they are the same person, for certain
    assert result.verdict is Verdict.MATCH and result.score == 100
    assert result.codes == ("same_id",)
    assert ZHANG_ID in result.reasons[0].en and "身份证号码相同" in result.reasons[0].zh


def test_a_legacy_15_digit_number_matches_its_18_digit_form() -> None:
    # Given a detention centre that still records the old 15-digit number
    detention = rec("530502KS", "KS-7", "张建国", id_number="530502880314031")
    assert match(court, detention, today=TODAY).verdict is Verdict.MATCH


def test_a_lower_case_x_matches_the_upper_case_x() -> None:
    number = next(n for n in (idn("530581", BORN, s) for s in range(200)) if n.endswith("X"))
    a = rec("530581FY", "1", "杨丽", id_number=number)
    b = rec("530581SF", "2", "杨丽", id_number=number[:-1] + "x")
    assert match(a, b, today=TODAY).codes == ("same_id",)


def test_numbers_under_a_retired_division_code_link_like_any_other() -> None:
    # 530522 (腾冲县, now 腾冲市 530581): an old number is still the person's number
    # Given the court's 18-digit and the bureau's legacy 15-digit form of one such number
    a = rec("530581FY", "1", "段正明", id_number=idn("530522", dt.date(1975, 5, 5), 17))
    b = rec("530581SF", "2", "段正明", id_number="530522750505017")
    # Then they are one person
    assert match(a, b, today=TODAY).codes == ("same_id",)


def test_the_same_id_number_decided_not_the_same_person_is_no_match() -> None:
    # Given a reviewer found two persons sharing one number (a number issued twice)
    police = rec("530502GA", "GA-88", "张建国", id_number=ZHANG_ID)
    no = Decision(court.key, police.key, Judgement.NOT_SAME, "王科长", AT, "户籍核查：重号")
    # When matched with that decision kept
    result = match(court, police, decisions=Decisions.of([no]), today=TODAY)
    # Then the decision stands, with who decided and why
    assert result.verdict is Verdict.NO_MATCH and result.score == 0
    assert result.codes == ("decided_not_same",)
    assert "王科长" in result.reasons[0].zh and "重号" in result.reasons[0].en


def test_different_ids_with_the_same_name_birth_and_sex_are_a_possible_id_conflict() -> None:
    # Given the prison wrote one sequence digit differently, giving another valid number of a man born the same day
    prison = rec("530500JY", "JY-1", "张建国", id_number=idn("530502", BORN, 33))
    result = match(court, prison, today=TODAY)
    assert result.verdict is Verdict.POSSIBLE
    assert result.codes[0] == "id_conflict"
    assert "ID conflict" in result.reasons[0].en and "冲突" in result.reasons[0].zh
    assert {"name_exact", "birth_same", "sex_same"} <= set(result.codes)


def test_different_ids_with_homophone_names_are_still_a_possible_conflict() -> None:
    a = rec("530502FY", "1", "李晓明", id_number=idn("530502", BORN, 51))
    b = rec("530502GA", "2", "李小明", id_number=idn("530502", BORN, 53))
    assert match(a, b, today=TODAY).verdict is Verdict.POSSIBLE


@pytest.mark.parametrize(("other_name", "other_id"), [
    ("张建国", idn("530502", BORN, 32)),                   # a woman's number: sex differs
    ("张建国", idn("530502", dt.date(1988, 3, 15), 31)),   # another birth date
    ("李明华", idn("530502", BORN, 33)),                   # another name
    ("臧建国", idn("530502", BORN, 33)),                   # a name only near in pinyin
])
def test_different_ids_are_no_match_unless_name_birth_and_sex_all_agree(other_name: str, other_id: str) -> None:
    other = rec("530500JY", "JY-2", other_name, id_number=other_id)
    result = match(court, other, today=TODAY)
    assert result.verdict is Verdict.NO_MATCH
    assert result.codes[0] == "different_id"


def test_without_an_id_full_agreement_with_the_id_s_birth_date_and_sex_is_a_match() -> None:
    # Given the bureau's record with no ID number, its birth date and sex written out
    bureau = rec("530502SF", "SF-1", "张建国", sex=Sex.MALE, birth=BORN)
    # When matched with the court's, whose birth date and sex come only from its ID number
    result = match(court, bureau, today=TODAY)
    # Then full agreement of name, birth date and sex is a match
    assert result.verdict is Verdict.MATCH
    assert set(result.codes) == {"name_exact", "birth_same", "sex_same"}
    assert result.score == 80


def test_a_shared_case_number_written_differently_with_a_homophone_name_is_a_match() -> None:
    # Given the bureau typed 章 for 张 and wrote the case number with 〔〕 and full-width digits
    bureau = rec("530502SF", "SF-2", "章建国", cases=("〔２０１７〕云０５０２刑初１２３号",))
    result = match(court, bureau, today=TODAY)
    assert result.verdict is Verdict.MATCH
    assert set(result.codes) == {"name_pinyin", "case_shared"}
    assert result.score == 50


def test_a_homophone_without_a_case_number_is_only_possible() -> None:
    # Given 李晓明 / 李小明, born the same day, both men, no ID on one side
    a = rec("530502FY", "1", "李晓明", id_number=idn("530502", BORN, 51))
    b = rec("530502SF", "2", "李小明", sex=Sex.MALE, birth=BORN)
    result = match(a, b, today=TODAY)
    assert result.verdict is Verdict.POSSIBLE and result.score == 70
    assert "name_pinyin" in result.codes


@pytest.mark.parametrize(("a", "b"), [
    ("单雄信", "善雄信"),  # 单 read shàn as a surname, typed as 善
    ("单雄信", "丹雄信"),  # 单 read dān
    ("曾国藩", "增国藩"),  # 曾 zēng
    ("曾国藩", "层国藩"),  # 曾 céng
])
def test_heteronyms_count_every_reading(a: str, b: str) -> None:
    x = rec("530502FY", "1", a, sex=Sex.MALE, birth=BORN)
    y = rec("530502SF", "2", b, sex=Sex.MALE, birth=BORN)
    result = match(x, y, today=TODAY)
    assert result.verdict is Verdict.POSSIBLE and "name_pinyin" in result.codes


@pytest.mark.parametrize(("a", "b"), [("王敏", "王明"), ("张建国", "臧建国"), ("林芳", "凌芳")])
def test_a_name_one_letter_away_in_pinyin_is_near(a: str, b: str) -> None:
    x = rec("530502FY", "1", a, sex=Sex.FEMALE, birth=BORN)
    y = rec("530502SF", "2", b, sex=Sex.FEMALE, birth=BORN)
    result = match(x, y, today=TODAY)
    assert result.verdict is Verdict.POSSIBLE
    assert "name_near" in result.codes and result.score == 55


def test_a_name_two_letters_away_is_different() -> None:
    x = rec("530502FY", "1", "王敏", sex=Sex.FEMALE, birth=BORN)
    y = rec("530502SF", "2", "王梅", sex=Sex.FEMALE, birth=BORN)
    result = match(x, y, today=TODAY)
    assert result.verdict is Verdict.NO_MATCH and "name_different" in result.codes


def test_the_same_name_born_on_another_day_is_no_match() -> None:
    other = rec("530502SF", "SF-3", "张建国", sex=Sex.MALE, birth=dt.date(1990, 1, 1))
    result = match(court, other, today=TODAY)
    assert result.verdict is Verdict.NO_MATCH and "birth_differs" in result.codes


def test_a_name_alone_never_links() -> None:
    other = rec("530502SF", "SF-4", "张建国", sex=Sex.MALE)
    assert match(court, other, today=TODAY).verdict is Verdict.NO_MATCH


def test_full_agreement_but_for_sex_is_possible() -> None:
    # a sex field mistyped by one agency: a reviewer must look
    other = rec("530502SF", "SF-5", "张建国", sex=Sex.FEMALE, birth=BORN)
    result = match(court, other, today=TODAY)
    assert result.verdict is Verdict.POSSIBLE and "sex_differs" in result.codes


def test_a_shared_case_with_a_contradicting_birth_date_is_possible() -> None:
    other = rec("530502SF", "SF-6", "张建国", birth=dt.date(1988, 3, 4), cases=(CASE,))
    result = match(court, other, today=TODAY)
    assert result.verdict is Verdict.POSSIBLE
    assert {"case_shared", "birth_differs"} <= set(result.codes)


def test_a_shared_case_with_a_contradicting_sex_is_possible() -> None:
    other = rec("530502SF", "SF-6b", "张建国", sex=Sex.FEMALE, cases=(CASE,))
    result = match(court, other, today=TODAY)
    assert result.verdict is Verdict.POSSIBLE
    assert {"case_shared", "sex_differs"} <= set(result.codes)


def test_co_defendants_of_one_case_are_not_the_same_person() -> None:
    # Given an accomplice in the same case, no ID, no birth date
    accomplice = rec("530502SF", "SF-7", "杨光荣", cases=(CASE,))
    assert match(court, accomplice, today=TODAY).verdict is Verdict.NO_MATCH


def test_a_changed_name_with_the_same_birth_sex_and_case_is_possible() -> None:
    renamed = rec("530502SF", "SF-8", "张国栋", sex=Sex.MALE, birth=BORN, cases=(CASE,))
    result = match(court, renamed, today=TODAY)
    assert result.verdict is Verdict.POSSIBLE and "name_different" in result.codes


@pytest.mark.parametrize("variant", ["阿依古丽•买买提", "阿依古丽‧买买提", "阿依古丽・买买提", "阿依古丽 买买提",
                                     "阿依古丽买买提", "阿依古丽．买买提", "阿依古丽･买买提"])
def test_minority_names_match_whatever_dot_separates_their_parts(variant: str) -> None:
    number = idn("650102", dt.date(1992, 7, 1), 22)
    court_record = rec("650102FY", "1", "阿依古丽·买买提", id_number=number)
    bureau = rec("650102SF", "2", variant, sex=Sex.FEMALE, birth=dt.date(1992, 7, 1))
    result = match(court_record, bureau, today=TODAY)
    assert result.verdict is Verdict.MATCH and "name_exact" in result.codes


def test_names_outside_the_basic_plane_compare_exactly_and_by_reading() -> None:
    # 𠮷 (U+20BB7) has no reading: equal only to itself; 𪚥 (U+2A6A5) reads zhé like 哲
    a = rec("530502FY", "1", "𠮷祥", sex=Sex.MALE, birth=BORN)
    assert match(a, rec("530502SF", "2", "𠮷祥", sex=Sex.MALE, birth=BORN), today=TODAY).verdict is Verdict.MATCH
    assert match(a, rec("530502SF", "3", "阿祥", sex=Sex.MALE, birth=BORN), today=TODAY).verdict is Verdict.NO_MATCH
    b = rec("530502FY", "4", "𪚥明", sex=Sex.MALE, birth=BORN)
    result = match(b, rec("530502SF", "5", "哲明", sex=Sex.MALE, birth=BORN), today=TODAY)
    assert result.verdict is Verdict.POSSIBLE and "name_pinyin" in result.codes


def test_compatibility_ideographs_and_full_width_letters_are_the_same_name_after_nfkc() -> None:
    a = rec("530502FY", "1", "\uf92c志强", sex=Sex.MALE, birth=BORN)   # 郎 as the compatibility ideograph
    b = rec("530502SF", "2", "郎志强", sex=Sex.MALE, birth=BORN)
    assert match(a, b, today=TODAY).codes[0] == "name_exact"
    c = rec("530502FY", "3", "ＪＯＨＮ ＳＭＩＴＨ", sex=Sex.MALE, birth=BORN)
    d = rec("530502SF", "4", "John Smith", sex=Sex.MALE, birth=BORN)
    assert match(c, d, today=TODAY).verdict is Verdict.MATCH


def test_a_romanised_name_compares_with_the_pinyin_of_the_chinese_one() -> None:
    police = rec("530502GA", "GA-9", "ZHANG Jianguo", sex=Sex.MALE, birth=BORN)
    result = match(court, police, today=TODAY)
    assert result.verdict is Verdict.POSSIBLE and "name_pinyin" in result.codes


def test_an_invalid_id_number_is_set_aside_and_said_so() -> None:
    # Given the bureau's number with one digit mistyped (checksum fails)
    typo = ZHANG_ID[:10] + ("4" if ZHANG_ID[10] != "4" else "5") + ZHANG_ID[11:]
    bureau = rec("530502SF", "SF-9", "张建国", id_number=typo, sex=Sex.MALE, birth=BORN)
    result = match(court, bureau, today=TODAY)
    # Then the fields decide, and the reasons say the number was not compared
    assert result.verdict is Verdict.MATCH
    assert result.codes[0] == "invalid_id" and "SF-9" in result.reasons[0].en and "SF-9" in result.reasons[0].zh


def test_a_same_person_decision_links_a_pair_the_fields_leave_possible() -> None:
    bureau = rec("530502SF", "SF-10", "张建国", sex=Sex.FEMALE, birth=BORN)
    yes = Decision(bureau.key, court.key, Judgement.SAME, "李主任", AT, "性别录入错误")
    result = match(court, bureau, decisions=Decisions.of([yes]), today=TODAY)
    assert result.verdict is Verdict.MATCH and result.codes == ("decided_same",)


def test_the_latest_decision_stands_and_not_same_wins_a_tie() -> None:
    a, b = court.key, ("530502SF", "SF-11")
    early = Decision(a, b, Judgement.NOT_SAME, "甲", AT, "初查")
    late = Decision(b, a, Judgement.SAME, "乙", AT + dt.timedelta(days=1), "复核")
    tie = Decision(a, b, Judgement.NOT_SAME, "丙", AT + dt.timedelta(days=1), "复核不一致")
    assert Decisions.of([late, early]).standing(a, b) == late
    assert Decisions.of([tie, late, early]).standing(b, a) == tie
    assert Decisions.of([late, tie]).standing(a, b) == Decisions.of([tie, late]).standing(a, b) == tie


def test_a_decision_needs_two_records_and_an_aware_time() -> None:
    with pytest.raises(ValueError, match="two different"):
        Decision(court.key, court.key, Judgement.SAME, "甲", AT, "")
    with pytest.raises(ValueError, match="timezone"):
        Decision(court.key, ("x", "y"), Judgement.SAME, "甲", AT.replace(tzinfo=None), "")


def test_a_record_takes_the_sex_and_case_numbers_as_adapters_hand_them_over() -> None:
    # Given plain strings and a list, as read from a canonical message
    r = PersonRecord("530502SF", "SF-12", None, "张建国", "MALE", BORN, [CASE])  # type: ignore[arg-type]
    # Then the record holds them as values, and matches as if written with Sex
    assert r.sex is Sex.MALE and r.case_numbers == (CASE,)
    assert hash(r) == hash(rec("530502SF", "SF-12", "张建国", sex=Sex.MALE, birth=BORN, cases=(CASE,)))
    assert match(court, r, decisions=[], today=TODAY).verdict is Verdict.MATCH
