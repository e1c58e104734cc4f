"""The working-day calendar: CPL Art. 105 day counting across weekends, public holidays and make-up
working days, the refusal to guess a year it does not know, and the operator's file for next year.

Expected dates are counted by hand from the State Council's 2026 schedule (国务院办公厅关于2026年部分节假日
安排的通知): 元旦 1月1日–3日 off, 1月4日（周日）上班; 春节 2月15日–23日 off, 2月14日（周六）、2月28日（周六）
上班; 清明 4月4日–6日; 劳动节 5月1日–5日 off, 5月9日（周六）上班; 端午 6月19日–21日; 中秋 9月25日–27日;
国庆 10月1日–7日 off, 9月20日（周日）、10月10日（周六）上班.
"""

from __future__ import annotations

import datetime as dt

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.core.calendar import Calendar, CalendarMissing, parse_calendar_year

D = dt.date
CAL = Calendar.seeded()

# An example schedule for 2027 written for these tests (not the State Council's, which is not out yet).
YEAR_2027 = """
year = 2027

[[day]]
kind = "holiday"
name = "元旦 New Year's Day"
from = 2027-01-01
to = 2027-01-03

[[day]]
kind = "放假"
name = "春节 Spring Festival"
from = 2027-02-05
to = 2027-02-11

[[day]]
kind = "workday"
name = "春节 Spring Festival"
date = 2027-01-31

[[day]]
kind = "上班"
name = "春节 Spring Festival"
date = 2027-02-13
"""

# ---- the seeded calendar agrees with the published 2026 schedule ------------------------------------------


def test_the_2026_national_day_holiday_and_its_make_up_days_are_as_published() -> None:
    # Given the seeded calendar, When we list September–October 2026, Then 10月1日–7日 are off and
    # 9月20日 (Sunday) and 10月10日 (Saturday) are working days.
    autumn = [D(2026, 9, 1) + dt.timedelta(days=i) for i in range(61)]
    off = {d for d in autumn if d in CAL.holidays}
    assert off == {D(2026, 9, 25), D(2026, 9, 26), D(2026, 9, 27)} | {D(2026, 10, d) for d in range(1, 8)}
    assert {d for d in autumn if d in CAL.workdays} == {D(2026, 9, 20), D(2026, 10, 10)}


def test_the_2026_spring_festival_runs_from_the_15th_to_the_23rd_with_two_make_up_saturdays() -> None:
    february = [D(2026, 2, d) for d in range(1, 29)]
    assert [d for d in february if d in CAL.holidays] == [D(2026, 2, d) for d in range(15, 24)]
    assert [d for d in february if d in CAL.workdays] == [D(2026, 2, 14), D(2026, 2, 28)]


@given(st.dates(min_value=D(2004, 1, 1), max_value=D(2026, 12, 31)))
def test_every_day_from_2004_to_2026_matches_the_chinesecalendar_package(day: dt.date) -> None:
    assert CAL.is_working_day(day) == chinese_calendar.is_workday(day)


def test_seeding_beyond_the_package_data_is_refused_not_guessed() -> None:
    with pytest.raises(CalendarMissing) as caught:
        Calendar.seeded(last=2027)
    assert caught.value.year == 2027
    assert str(caught.value) == "no working-day calendar loaded for 2027"


# ---- CPL Art. 105: N days ----------------------------------------------------------------------------------


def test_five_days_ending_on_a_weekday_end_on_that_day() -> None:
    # 2026-03-04 (Wed) + 5 = 03-09 (Mon), a working day.
    assert CAL.add_days(D(2026, 3, 4), 5) == D(2026, 3, 9)


def test_five_days_ending_on_a_sunday_move_to_monday() -> None:
    # 2026-03-10 (Tue) + 5 = 03-15, a Sunday → the next working day, Monday 03-16.
    assert CAL.add_days(D(2026, 3, 10), 5) == D(2026, 3, 16)


def test_five_days_ending_in_the_spring_festival_move_past_the_whole_holiday() -> None:
    # 2026-02-12 (Thu) + 5 = 02-17, inside 春节 (02-15..02-23) → the first working day after, Tuesday 02-24.
    assert CAL.add_days(D(2026, 2, 12), 5) == D(2026, 2, 24)


def test_days_ending_on_a_make_up_working_day_stay_there() -> None:
    # 2026-10-05 + 5 = 10-10, a Saturday that is 调休上班; 2026-09-15 + 5 = 09-20, a Sunday that is 调休上班.
    assert CAL.add_days(D(2026, 10, 5), 5) == D(2026, 10, 10)
    assert CAL.add_days(D(2026, 9, 15), 5) == D(2026, 9, 20)


def test_the_start_day_is_not_counted_and_not_even_looked_at() -> None:
    # 2003 is not loaded, but only the last day (2004-01-05, a Monday) is inspected.
    assert CAL.add_days(D(2003, 12, 31), 5) == D(2004, 1, 5)


# ---- N working days ----------------------------------------------------------------------------------------


def test_ten_working_days_from_29_september_2026_skip_the_national_day_holiday() -> None:
    # Counting from the day after: 09-30 (1); 10-01..10-07 off; 10-08 (2), 10-09 (3), 10-10 Saturday 调休上班 (4);
    # 10-11 Sunday; 10-12 (5), 10-13 (6), 10-14 (7), 10-15 (8), 10-16 (9); weekend; 10-19 (10).
    assert CAL.add_working_days(D(2026, 9, 29), 10) == D(2026, 10, 19)


def test_ten_working_days_from_30_september_2026_end_on_20_october() -> None:
    # 10-01..10-07 off; 10-08 (1), 10-09 (2), 10-10 Saturday 调休上班 (3), 10-12 (4) .. 10-16 (8);
    # weekend; 10-19 (9), 10-20 (10).
    assert CAL.add_working_days(D(2026, 9, 30), 10) == D(2026, 10, 20)


def test_a_make_up_saturday_counts_as_a_working_day() -> None:
    # 2026-02-09 (Mon): 02-10 (1), 02-11 (2), 02-12 (3), 02-13 (4), 02-14 Saturday 调休上班 (5).
    assert CAL.add_working_days(D(2026, 2, 9), 5) == D(2026, 2, 14)
    assert CAL.is_working_day(D(2026, 2, 14))


def test_working_days_between_counts_after_the_start_up_to_the_end_and_is_signed() -> None:
    assert CAL.working_days_between(D(2026, 9, 29), D(2026, 10, 19)) == 10
    assert CAL.working_days_between(D(2026, 10, 19), D(2026, 9, 29)) == -10
    assert CAL.working_days_between(D(2026, 10, 1), D(2026, 10, 7)) == 0


# ---- a year with no calendar ------------------------------------------------------------------------------


def test_days_that_end_in_an_unknown_year_raise_calendar_missing() -> None:
    # 2026-12-28 + 5 = 2027-01-02: whether that is a working day is unknown without the 2027 schedule.
    with pytest.raises(CalendarMissing) as caught:
        CAL.add_days(D(2026, 12, 28), 5)
    assert caught.value.year == 2027


def test_days_that_end_inside_a_known_year_need_no_later_year() -> None:
    # 2026-12-21 + 10 = 12-31, a Thursday: nothing in 2027 is looked at.
    assert CAL.add_days(D(2026, 12, 21), 10) == D(2026, 12, 31)


def test_working_days_that_run_into_an_unknown_year_raise_calendar_missing() -> None:
    # From 2026-12-24: 12-25 (1), 12-28 .. 12-31 (2..5), then 2027-01-01 must be inspected.
    with pytest.raises(CalendarMissing):
        CAL.add_working_days(D(2026, 12, 24), 10)
    with pytest.raises(CalendarMissing):
        CAL.working_days_between(D(2026, 12, 30), D(2027, 1, 2))
    with pytest.raises(CalendarMissing):
        CAL.is_working_day(D(2027, 1, 4))


# ---- next year's schedule, loaded by an operator ------------------------------------------------------------


def test_a_2027_schedule_loaded_from_the_operator_file_is_then_used() -> None:
    # Given the 2027 file loaded on top of the seeded calendar
    calendar = CAL.with_calendar_year(parse_calendar_year(YEAR_2027))
    # Then 2026-12-28 + 5 = 2027-01-02, a holiday; 01-03 too; the deadline is Monday 2027-01-04.
    assert calendar.add_days(D(2026, 12, 28), 5) == D(2027, 1, 4)
    # And from 2026-12-24: 12-25 (1), 12-28..12-31 (2..5), 2027-01-01..03 off, 01-04..01-08 (6..10).
    assert calendar.add_working_days(D(2026, 12, 24), 10) == D(2027, 1, 8)
    # And across 春节: 02-05..02-11 off, 02-12 (1), 02-13 Saturday 调休上班 (2), 02-15 (3).
    assert calendar.add_working_days(D(2027, 2, 4), 3) == D(2027, 2, 15)
    assert calendar.describe(D(2027, 1, 31)) == "调休上班 make-up working day (春节 Spring Festival)"
    assert calendar.describe(D(2027, 2, 8)) == "春节 Spring Festival (holiday)"
    # And the years before are unchanged.
    assert calendar.add_working_days(D(2026, 9, 29), 10) == D(2026, 10, 19)


def test_loading_a_year_again_replaces_it() -> None:
    calendar = CAL.with_calendar_year(parse_calendar_year(YEAR_2027))
    corrected = calendar.with_year(2027, holidays=[D(2027, 1, 1)], workdays=[])
    assert corrected.is_working_day(D(2027, 2, 8))
    assert not corrected.is_working_day(D(2027, 2, 13))
    assert not corrected.is_working_day(D(2027, 1, 1))


def test_with_year_refuses_a_day_of_another_year() -> None:
    with pytest.raises(ValueError, match="2028-01-01 is outside 2027"):
        CAL.with_year(2027, holidays=[D(2028, 1, 1)], workdays=[])


def test_describe_names_the_day_for_operators() -> None:
    assert CAL.describe(D(2026, 10, 1)) == "国庆节 National Day (holiday)"
    assert CAL.describe(D(2026, 10, 10)) == "调休上班 make-up working day (国庆节 National Day)"
    assert CAL.describe(D(2026, 10, 11)) == "周末 weekend"
    assert CAL.describe(D(2026, 10, 12)) == "工作日 working day"
    with pytest.raises(CalendarMissing):
        CAL.describe(D(2027, 3, 1))


def _with_entry(entry: str, year: int = 2027) -> str:
    return f"year = {year}\n\n[[day]]\nkind = \"holiday\"\ndate = {year}-01-01\n\n[[day]]\n{entry}\n"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('kind = "holiday"\ndate = 2028-01-01', r"day entry 2 \(2028-01-01\): the date is outside 2027"),
        ('kind = "workday"\ndate = 2027-02-12',
         r"day entry 2 \(2027-02-12\): a make-up working day must be a Saturday or Sunday, not a Friday"),
        ('kind = "holiday"\nfrom = 2026-12-31\nto = 2027-01-02', r"day entry 2 \(2026-12-31\): the date is outside"),
        ('kind = "workday"\ndate = 2027-01-01', r"day entry 2 \(2027-01-01\): the day is already listed in entry 1"),
        ('kind = "vacation"\ndate = 2027-03-01', r"day entry 2: unknown kind 'vacation'"),
        ('date = 2027-03-01', r"day entry 2: unknown kind None"),
        ('kind = "holiday"\nfrom = 2027-03-05\nto = 2027-03-01', r"day entry 2: 'to' 2027-03-01 is before 'from'"),
        ('kind = "holiday"\ndate = "2027-03-01"', r"day entry 2: 'date' must be a date"),
        ('kind = "holiday"', r"day entry 2: needs a 'date' or a 'from'"),
        ('kind = "holiday"\ndate = 2027-03-01\nnote = "x"', r"day entry 2: unknown key\(s\) note"),
    ],
)
def test_the_operator_file_names_the_entry_at_fault(entry: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_calendar_year(_with_entry(entry))


def test_the_operator_file_needs_a_year_and_valid_toml() -> None:
    with pytest.raises(ValueError, match="'year' must be a whole year"):
        parse_calendar_year('[[day]]\nkind = "holiday"\ndate = 2027-01-01\n')
    with pytest.raises(ValueError, match="line 2"):
        parse_calendar_year("year = 2027\n[[day]\n")


def test_the_operator_file_yields_named_days_in_order() -> None:
    parsed = parse_calendar_year(YEAR_2027)
    assert parsed.year == 2027
    assert parsed.holidays[:3] == tuple((D(2027, 1, d), "元旦 New Year's Day") for d in (1, 2, 3))
    assert len(parsed.holidays) == 10
    assert parsed.workdays == ((D(2027, 1, 31), "春节 Spring Festival"), (D(2027, 2, 13), "春节 Spring Festival"))


# ---- properties ---------------------------------------------------------------------------------------------

# Starts and counts chosen so that every result stays inside the seeded years.
starts = st.dates(min_value=D(2004, 1, 1), max_value=D(2026, 10, 31))
counts = st.integers(min_value=1, max_value=40)


@given(starts, counts)
def test_add_working_days_lands_on_the_nth_working_day_after_the_start(start: dt.date, n: int) -> None:
    end = CAL.add_working_days(start, n)
    assert CAL.is_working_day(end)
    assert CAL.working_days_between(start, end) == n
    assert CAL.working_days_between(start, end - dt.timedelta(days=1)) == n - 1


@given(starts, st.integers(min_value=0, max_value=40))
def test_add_days_is_the_first_working_day_on_or_after_start_plus_n(start: dt.date, n: int) -> None:
    end = CAL.add_days(start, n)
    earliest = start + dt.timedelta(days=n)
    assert end >= earliest
    assert CAL.is_working_day(end)
    assert not any(CAL.is_working_day(earliest + dt.timedelta(days=i)) for i in range((end - earliest).days))


@given(starts, counts)
def test_both_counts_are_monotonic_in_n(start: dt.date, n: int) -> None:
    assert CAL.add_days(start, n - 1) <= CAL.add_days(start, n)
    assert CAL.add_working_days(start, n - 1) < CAL.add_working_days(start, n)


def test_negative_periods_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        CAL.add_days(D(2026, 1, 5), -1)
    with pytest.raises(ValueError, match="negative"):
        CAL.add_working_days(D(2026, 1, 5), -1)
