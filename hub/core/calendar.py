"""The China working-day calendar and CPL Art. 105 day counting, kept as data.

A ``Calendar`` knows, for each year in ``years``, its statutory days off (``holidays``, 法定节假日 and
the 调休 days off) and the weekend days that are working days (``workdays``, 调休上班). It is seeded
from the ``chinesecalendar`` package and an operator adds next year's from the State Council notice,
written in this TOML format (``parse_calendar_year``)::

    year = 2027

    [[day]]
    kind = "holiday"            # "holiday" (放假) or "workday" (调休上班, a Saturday or Sunday)
    name = "国庆节 National Day" # optional
    from = 2027-10-01           # a range of days, both ends included ...
    to = 2027-10-07

    [[day]]
    kind = "workday"
    name = "国庆节 National Day"
    date = 2027-10-09           # ... or one day

Every day must lie in ``year`` and appear once; entries are numbered from 1 in error messages.
A computation that must look at a day of a year the calendar does not know raises
``CalendarMissing``: a deadline is never guessed.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any

ONE_DAY = dt.timedelta(days=1)
KINDS = {"holiday": "holiday", "放假": "holiday", "workday": "workday", "上班": "workday"}
# chinesecalendar names its holidays in English; operators read Chinese first.
FESTIVALS_ZH = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "Mid-autumn Festival": "中秋节",
    "National Day": "国庆节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}
WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class CalendarMissing(ValueError):
    """A computation needed a year whose holidays and make-up working days are not loaded."""

    def __init__(self, year: int) -> None:
        super().__init__(f"no working-day calendar loaded for {year}")
        self.year = year


@dataclass(frozen=True)
class CalendarYear:
    """One year's schedule as an operator loads it: days off and make-up working days, each named."""

    year: int
    holidays: tuple[tuple[dt.date, str], ...]
    workdays: tuple[tuple[dt.date, str], ...]


@dataclass(frozen=True)
class Calendar:
    """Working days of the years in ``years``; every day of any other year is unknown."""

    years: frozenset[int]
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]
    names: Mapping[dt.date, str] = field(default_factory=lambda: MappingProxyType({}), hash=False, repr=False)

    def __post_init__(self) -> None:
        both = self.holidays & self.workdays
        if both:
            raise ValueError(f"{min(both)} is listed both as a holiday and as a make-up working day")
        for day in self.workdays:
            if day.weekday() < 5:
                raise ValueError(f"make-up working day {day} is a {WEEKDAYS_EN[day.weekday()]}, not a weekend day")
        for day in self.holidays | self.workdays:
            if day.year not in self.years:
                raise ValueError(f"{day} is listed but its year {day.year} is not among the calendar's years")

    @classmethod
    def seeded(cls, first: int = 2004, last: int = 2026) -> Calendar:
        """The official schedules of ``first``..``last`` from chinesecalendar; CalendarMissing beyond its data."""
        return _seeded(first, last)

    def with_year(
        self,
        year: int,
        *,
        holidays: Iterable[dt.date],
        workdays: Iterable[dt.date],
        names: Mapping[dt.date, str] | None = None,
    ) -> Calendar:
        """This calendar with ``year`` (re)placed by the given days off and make-up working days."""
        new_holidays = frozenset(holidays)
        new_workdays = frozenset(workdays)
        for day in new_holidays | new_workdays:
            if day.year != year:
                raise ValueError(f"{day} is outside {year}")
        kept_names = {d: n for d, n in self.names.items() if d.year != year}
        kept_names.update({d: n for d, n in (names or {}).items() if d in new_holidays | new_workdays})
        return Calendar(
            years=self.years | {year},
            holidays=frozenset(d for d in self.holidays if d.year != year) | new_holidays,
            workdays=frozenset(d for d in self.workdays if d.year != year) | new_workdays,
            names=MappingProxyType(kept_names),
        )

    def with_calendar_year(self, entry: CalendarYear) -> Calendar:
        """This calendar with the operator's schedule for ``entry.year`` loaded (replacing any earlier one)."""
        return self.with_year(
            entry.year,
            holidays=(d for d, _ in entry.holidays),
            workdays=(d for d, _ in entry.workdays),
            names={d: n for d, n in (*entry.holidays, *entry.workdays) if n},
        )

    def is_working_day(self, day: dt.date) -> bool:
        """True on weekdays that are not days off and on make-up working days; CalendarMissing if unknown."""
        if day.year not in self.years:
            raise CalendarMissing(day.year)
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_days(self, start: dt.date, n: int) -> dt.date:
        """CPL Art. 105: ``start + n`` days, moved to the next working day if that day is not one."""
        if n < 0:
            raise ValueError(f"a period cannot be negative ({n} days)")
        day = start + dt.timedelta(days=n)
        while not self.is_working_day(day):
            day += ONE_DAY
        return day

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        """The n-th working day after ``start`` (``start`` itself not counted; ``start`` when n is 0)."""
        if n < 0:
            raise ValueError(f"a period cannot be negative ({n} working days)")
        day = start
        while n:
            day += ONE_DAY
            if self.is_working_day(day):
                n -= 1
        return day

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days after ``start`` up to and including ``end``; negative when ``end`` is before ``start``."""
        if end < start:
            return -self.working_days_between(end, start)
        count = 0
        day = start + ONE_DAY
        while day <= end:
            count += self.is_working_day(day)
            day += ONE_DAY
        return count

    def describe(self, day: dt.date) -> str:
        """What the day is, in words for operators (Chinese, then English)."""
        working = self.is_working_day(day)
        name = self.names.get(day, "")
        if day in self.workdays:
            return "调休上班 make-up working day" + (f" ({name})" if name else "")
        if day in self.holidays:
            return f"{name} (holiday)" if name else "节假日 public holiday"
        return "工作日 working day" if working else "周末 weekend"


@lru_cache(maxsize=8)
def _seeded(first: int, last: int) -> Calendar:
    # Imported here so that importing the core does not load the package's tables.
    import chinese_calendar

    known = {d.year for d in chinese_calendar.holidays}
    for year in range(first, last + 1):
        if year not in known:
            raise CalendarMissing(year)
    years = frozenset(range(first, last + 1))

    def named(days: Mapping[dt.date, str]) -> dict[dt.date, str]:
        return {d: f"{FESTIVALS_ZH.get(n, n)} {n}" for d, n in days.items() if d.year in years}

    holidays, workdays = named(chinese_calendar.holidays), named(chinese_calendar.workdays)
    return Calendar(
        years=years,
        holidays=frozenset(holidays),
        workdays=frozenset(workdays),
        names=MappingProxyType(holidays | workdays),
    )


def parse_calendar_year(text: str) -> CalendarYear:
    """The schedule in the module's TOML format; ValueError naming the entry for any inconsistency."""
    data = tomllib.loads(text)
    year = data.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 1900 <= year <= 9999:
        raise ValueError(f"'year' must be a whole year such as 2027, not {year!r}")
    extra = set(data) - {"year", "day"}
    if extra:
        raise ValueError(f"unknown top-level key(s): {', '.join(sorted(extra))}")
    entries = data.get("day", [])
    if not isinstance(entries, list):
        raise ValueError("'day' must be an array of tables ([[day]])")
    seen: dict[dt.date, int] = {}
    holidays: list[tuple[dt.date, str]] = []
    workdays: list[tuple[dt.date, str]] = []
    for number, entry in enumerate(entries, start=1):
        kind, name, days = _entry(number, entry)
        for day in days:
            where = f"day entry {number} ({day})"
            if day.year != year:
                raise ValueError(f"{where}: the date is outside {year}")
            if day in seen:
                raise ValueError(f"{where}: the day is already listed in entry {seen[day]}")
            if kind == "workday" and day.weekday() < 5:
                raise ValueError(
                    f"{where}: a make-up working day must be a Saturday or Sunday, "
                    f"not a {WEEKDAYS_EN[day.weekday()]}"
                )
            seen[day] = number
            (holidays if kind == "holiday" else workdays).append((day, name))
    return CalendarYear(year=year, holidays=tuple(sorted(holidays)), workdays=tuple(sorted(workdays)))


def _entry(number: int, entry: Any) -> tuple[str, str, list[dt.date]]:
    where = f"day entry {number}"
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: must be a table")
    extra = set(entry) - {"kind", "name", "date", "from", "to"}
    if extra:
        raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
    raw_kind = entry.get("kind")
    kind = KINDS.get(raw_kind) if isinstance(raw_kind, str) else None
    if kind is None:
        raise ValueError(f"{where}: unknown kind {raw_kind!r} (holiday/放假 or workday/上班)")
    name = entry.get("name", "")
    if not isinstance(name, str):
        raise ValueError(f"{where}: 'name' must be text")
    if "date" in entry:
        if "from" in entry or "to" in entry:
            raise ValueError(f"{where}: give either 'date' or 'from'/'to', not both")
        first = last = _date(where, "date", entry["date"])
    elif "from" in entry:
        first = _date(where, "from", entry["from"])
        last = _date(where, "to", entry.get("to", first))
        if last < first:
            raise ValueError(f"{where}: 'to' {last} is before 'from' {first}")
    else:
        raise ValueError(f"{where}: needs a 'date' or a 'from' (and 'to')")
    return kind, name, [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _date(where: str, key: str, value: Any) -> dt.date:
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise ValueError(f"{where}: {key!r} must be a date such as 2027-10-01, not {value!r}")
    return value
