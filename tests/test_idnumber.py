"""Resident ID numbers (GB 11643, DOMAIN.md §4): checksum, birth date, province, legacy and historic numbers."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.core.idnumber import PROVINCES, check_digit, check_id_number, normalise_id, upgrade_legacy

TODAY = dt.date(2026, 6, 1)
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def reference_check(first17: str) -> str:
    """GB 11643 written out independently: S = Σ dᵢ·Wᵢ; S mod 11 → 1 0 X 9 8 7 6 5 4 3 2."""
    s = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return {0: "1", 1: "0", 2: "X", 3: "9", 4: "8", 5: "7", 6: "6", 7: "5", 8: "4", 9: "3", 10: "2"}[s % 11]


def build(division: str, birth: dt.date, seq: int) -> str:
    body = f"{division}{birth:%Y%m%d}{seq:03d}"
    return body + reference_check(body)


divisions = st.builds(lambda p, rest: f"{p:02d}{rest:04d}", st.sampled_from(sorted(PROVINCES)),
                      st.integers(min_value=0, max_value=9999))
births = st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY)
sequences = st.integers(min_value=0, max_value=999)


@settings(max_examples=500)
@given(division=divisions, birth=births, seq=sequences)
def test_any_well_formed_number_passes_and_reads_birth_date_and_sex(division: str, birth: dt.date, seq: int) -> None:
    # Given an ID number built by the standard
    number = build(division, birth, seq)
    # When checked
    chk = check_id_number(number, today=TODAY)
    # Then it passes, with its birth date, and male exactly when the sequence is odd
    assert chk.ok, chk.problem
    assert chk.normalised == number
    assert chk.birth_date == birth
    assert chk.male is (seq % 2 == 1)


@settings(max_examples=200)
@given(division=divisions, birth=births, seq=sequences)
def test_the_hub_check_digit_matches_the_standard(division: str, birth: dt.date, seq: int) -> None:
    body = f"{division}{birth:%Y%m%d}{seq:03d}"
    assert check_digit(body) == reference_check(body)


def x_number() -> str:
    """A valid number whose check character is X."""
    for seq in range(1000):
        number = build("530502", dt.date(1988, 3, 14), seq)
        if number.endswith("X"):
            return number
    raise AssertionError("no sequence gives X")


def test_a_lower_case_x_is_accepted_and_normalised_to_upper_case() -> None:
    number = x_number()
    chk = check_id_number(number[:-1] + "x", today=TODAY)
    assert chk.ok, chk.problem
    assert chk.normalised == number
    assert chk.normalised.endswith("X")


def test_surrounding_whitespace_is_ignored() -> None:
    number = build("530581", dt.date(1975, 5, 5), 17)
    chk = check_id_number(f"  {number}\n", today=TODAY)
    assert chk.ok and chk.normalised == number


@settings(max_examples=60)
@given(division=divisions, birth=births, seq=sequences)
def test_every_single_character_corruption_is_rejected(division: str, birth: dt.date, seq: int) -> None:
    number = build(division, birth, seq)
    for i in range(18):
        alphabet = "0123456789X" if i == 17 else "0123456789"
        for c in alphabet:
            if c == number[i]:
                continue
            bad = number[:i] + c + number[i + 1:]
            chk = check_id_number(bad, today=TODAY)
            assert not chk.ok, (number, bad)
            # a corrupted sequence digit or check character can only be caught by the checksum
            if i >= 14:
                assert "check character" in str(chk.problem), (bad, chk.problem)


def test_a_transposition_of_adjacent_digits_is_rejected() -> None:
    number = build("530502", dt.date(1988, 3, 14), 31)
    swapped = number[:14] + number[15] + number[14] + number[16:]
    assert swapped != number
    assert not check_id_number(swapped, today=TODAY).ok


@pytest.mark.parametrize("birth", ["19880230", "19881301", "19880000", "19870229", "20250431"])
def test_an_impossible_birth_date_is_rejected(birth: str) -> None:
    body = f"530502{birth}031"
    chk = check_id_number(body + check_digit(body), today=TODAY)
    assert not chk.ok
    assert "birth date" in str(chk.problem) and birth in str(chk.problem)


def test_a_leap_day_birth_date_is_accepted() -> None:
    chk = check_id_number(build("530502", dt.date(1988, 2, 29), 31), today=TODAY)
    assert chk.ok and chk.birth_date == dt.date(1988, 2, 29)


@pytest.mark.parametrize("birth", [dt.date(2026, 6, 2), dt.date(2030, 1, 1)])
def test_a_birth_date_in_the_future_is_rejected(birth: dt.date) -> None:
    chk = check_id_number(build("530502", birth, 31), today=TODAY)
    assert not chk.ok
    assert "out of range" in str(chk.problem) and birth.isoformat() in str(chk.problem)


def test_a_birth_date_of_today_is_accepted() -> None:
    assert check_id_number(build("530502", TODAY, 31), today=TODAY).ok


def test_a_birth_date_before_1900_is_rejected() -> None:
    chk = check_id_number(build("530502", dt.date(1899, 12, 31), 31), today=TODAY)
    assert not chk.ok and "out of range" in str(chk.problem) and "1899-12-31" in str(chk.problem)


def test_a_birth_date_of_1_january_1900_is_accepted() -> None:
    chk = check_id_number(build("530502", dt.date(1900, 1, 1), 31), today=TODAY)
    assert chk.ok and chk.birth_date == dt.date(1900, 1, 1)


@pytest.mark.parametrize("prefix", ["00", "10", "19", "20", "39", "47", "55", "60", "66", "70", "80", "90", "99"])
def test_a_number_from_no_province_is_rejected(prefix: str) -> None:
    chk = check_id_number(build(f"{prefix}0502", dt.date(1988, 3, 14), 31), today=TODAY)
    assert not chk.ok
    assert "province" in str(chk.problem) and prefix in str(chk.problem)


@pytest.mark.parametrize("raw", ["", "5305021988031403", "53050219880314031", "5305021988031403100",
                                 "53050219880314031000000", "53052288031403"])
def test_a_number_of_the_wrong_length_is_rejected(raw: str) -> None:
    chk = check_id_number(raw, today=TODAY)
    assert not chk.ok
    assert "18" in str(chk.problem) and str(len(raw)) in str(chk.problem)


@pytest.mark.parametrize("raw", ["53050219880314031A", "5305021988O3140310", "53050219880314X310", "X30502198803140310",
                                 "530502-9880314031X"])
def test_letters_anywhere_but_the_check_character_are_rejected(raw: str) -> None:
    assert not check_id_number(raw, today=TODAY).ok


def test_a_legacy_15_digit_number_is_accepted_with_its_20th_century_birth_date() -> None:
    # 6-digit division, YYMMDD, 3-digit sequence, no check character
    chk = check_id_number("530522880314032", today=TODAY)
    assert chk.ok, chk.problem
    assert chk.birth_date == dt.date(1988, 3, 14)
    assert chk.male is False
    assert check_id_number("533001750505017", today=TODAY).male is True


@pytest.mark.parametrize("raw", ["530522880230032", "530522881301032", "990522880314032", "53052288031403X",
                                 "53052288031403x"])
def test_a_bad_legacy_number_is_rejected(raw: str) -> None:
    assert not check_id_number(raw, today=TODAY).ok


@pytest.mark.parametrize("division", ["533001", "533022", "533023", "533024", "533025", "530522"])
def test_numbers_issued_under_retired_division_codes_are_accepted(division: str) -> None:
    # 保山地区 (5330xx) became 保山市 (5305xx) in 2000; 腾冲县 530522 became 腾冲市 530581 in 2015
    number = build(division, dt.date(1970, 1, 1), 11)
    chk = check_id_number(number, today=TODAY)
    assert chk.ok, chk.problem
    assert chk.normalised == number


@settings(max_examples=1000)
@given(raw=st.text(max_size=20) | st.text(alphabet="0123456789Xx０１２３４５６７８９²³¹٣", min_size=14, max_size=19))
def test_any_text_is_answered_never_raised_and_only_ascii_numbers_pass(raw: str) -> None:
    # check_id_number must answer for whatever an adapter hands it: never raise, and never pass a
    # number that is not plain ASCII digits (a full-width copy of a number would be another person_key)
    chk = check_id_number(raw, today=TODAY)
    if chk.ok:
        assert chk.normalised.isascii(), chk
        assert len(chk.normalised) in (15, 18)
        assert chk.normalised[:17].isdigit()


FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.mark.parametrize("raw", [
    # full-width digits (Unicode Nd) with an ASCII check character: str.isdigit() and int() accept them
    "530522198803140310"[:17].translate(FULL_WIDTH) + "0",
    "530522880314032".translate(FULL_WIDTH),
    # a superscript two: str.isdigit() is True but int() raises
    "5305221988031403²0",
    "²30522880314032",
], ids=["full-width-18", "full-width-15", "superscript-18", "superscript-15"])
def test_non_ascii_digits_are_rejected_not_accepted_or_raised(raw: str) -> None:
    chk = check_id_number(raw, today=TODAY)
    assert not chk.ok


BRIEF_PROVINCES = [*range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47), *range(50, 55),
                   *range(61, 66), 71, 81, 82, 83]


@pytest.mark.parametrize("province", BRIEF_PROVINCES)
def test_every_province_prefix_of_any_era_is_accepted(province: int) -> None:
    # Given a number issued in that province under a county code no current list need contain
    number = build(f"{province:02d}9999", dt.date(1966, 6, 6), 7)
    # Then it is valid, and its normal form is itself
    assert check_id_number(number, today=TODAY).ok
    assert normalise_id(number, today=TODAY) == number


def test_the_province_list_is_exactly_the_standard_one() -> None:
    assert sorted(PROVINCES) == BRIEF_PROVINCES


@settings(max_examples=300)
@given(division=divisions, birth=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(1999, 12, 31)),
       seq=sequences)
def test_a_legacy_number_upgrades_to_the_18_digit_number_of_the_same_person(
        division: str, birth: dt.date, seq: int) -> None:
    # Given the legacy 15-digit number of a person born in the 20th century
    legacy = f"{division}{birth:%y%m%d}{seq:03d}"
    # When normalised for linking
    upgraded = normalise_id(legacy, today=TODAY)
    # Then it is the 18-digit number the standard gives that person, valid, with the same birth date and sex
    assert upgraded == build(division, birth, seq) == upgrade_legacy(legacy)
    chk = check_id_number(upgraded, today=TODAY)
    assert chk.ok and chk.birth_date == birth and chk.male is check_id_number(legacy, today=TODAY).male


def test_a_known_legacy_number_upgrades_with_19_inserted_and_a_check_character() -> None:
    # 530522 880314 032 → 530522 19880314 032 + check character
    assert upgrade_legacy("530522880314032") == "53052219880314032" + reference_check("53052219880314032")


@pytest.mark.parametrize("raw", ["", "53052288031403", "5305228803140321", "53052288031403X",
                                 "５３０５２２８８０３１４０３２"])
def test_upgrade_legacy_refuses_anything_but_15_ascii_digits(raw: str) -> None:
    with pytest.raises(ValueError, match="15-digit"):
        upgrade_legacy(raw)


def test_normalise_id_upper_cases_x_and_strips_spaces() -> None:
    number = x_number()
    assert normalise_id(f" {number[:-1]}x ", today=TODAY) == number


@pytest.mark.parametrize("raw", [
    "", "530502198803140310", "530522880230032", "19050219880314031X", build("530502", dt.date(1899, 12, 31), 31),
], ids=["empty", "bad-check", "legacy-30-february", "no-province", "born-1899"])
def test_normalise_id_is_none_for_an_invalid_number(raw: str) -> None:
    assert normalise_id(raw, today=TODAY) is None


@pytest.mark.parametrize("division", ["530522", "533001", "533025"])
def test_normalise_id_keeps_a_retired_division_code(division: str) -> None:
    # 腾冲县 530522 and 保山地区 5330xx are retired; the number stays the person's number for life
    number = build(division, dt.date(1970, 1, 1), 11)
    assert normalise_id(number, today=TODAY) == number
    assert normalise_id(f"{division}700101011", today=TODAY) == number
