"""How every format of the report writes its title, its numbers in Chinese and its times (one place for all)."""

from __future__ import annotations

import datetime as dt

from hub.core.facts import SHANGHAI
from hub.report.model import Report

_DIGITS = "零一二三四五六七八九"


def report_title(report: Report) -> str:
    return f"{report.area_name}社区矫正工作联席会议对账报告"


def chinese_numeral(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十, 105 → 一百零五 (section and table numbers as printed)."""
    if n < 0:
        return "负" + chinese_numeral(-n)
    if n < 10:
        return _DIGITS[n]
    if n < 20:
        return "十" + (_DIGITS[n % 10] if n % 10 else "")
    if n < 100:
        return _DIGITS[n // 10] + "十" + (_DIGITS[n % 10] if n % 10 else "")
    if n < 1000:
        rest = n % 100
        tail = "" if rest == 0 else ("零" + _DIGITS[rest] if rest < 10 else
                                     (_DIGITS[1] if rest < 20 else "") + chinese_numeral(rest))
        return _DIGITS[n // 100] + "百" + tail
    return str(n)


def chinese_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def beijing(moment: dt.datetime) -> dt.datetime:
    """``moment`` in Beijing time; a timestamp without a time zone is taken as UTC (the hub's clock)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(SHANGHAI)
