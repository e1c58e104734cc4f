"""Dates as people type them in a ledger, and as spreadsheets store them.

Accepted: ``2017-06-30``, ``2017/6/30``, ``2017.6.30``, ``2017年6月30日`` (full-width digits and spaces
allowed), ``20170630``, an Excel serial number (1900 date system, as a number or as digits), a
``datetime``/``date`` (openpyxl's value for a date-formatted cell). A time of day after a typed date
(``2017/6/30 0:00``, as spreadsheets export it) and the fraction of a serial are ignored. Anything else,
including day-first or month-first forms such as ``30/6/2017``, raises ``ValueError``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata

__all__ = ["ACCEPTED_FORMS", "excel_serial", "format_date", "parse_hand_date"]

ACCEPTED_FORMS = "2017-06-30, 2017/6/30, 2017.6.30, 2017年6月30日, 20170630, Excel 序列号/serial (42916)"

# Excel's 1900 system: serial 1 is 1900-01-01 and serial 60 is the non-existent 1900-02-29 (a Lotus bug
# Excel keeps), so from serial 61 (1900-03-01) on, day 0 is 1899-12-30.
_EPOCH = dt.date(1899, 12, 30)
_EARLY_EPOCH = dt.date(1899, 12, 31)
_FAKE_LEAP_DAY = 60
_MAX_SERIAL = (dt.date(9999, 12, 31) - _EPOCH).days  # 2958465, Excel's last date

_TIME = r"(?:(?:T|\s+)\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_SEPARATED = re.compile(r"(?P<y>\d{4})\s*(?P<sep>[-/.])\s*(?P<m>\d{1,2})\s*(?P=sep)\s*(?P<d>\d{1,2})" + _TIME, re.ASCII)
_CHINESE = re.compile(r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日?" + _TIME, re.ASCII)
_COMPACT = re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})", re.ASCII)
_SERIAL = re.compile(r"\d{1,7}(?:\.\d*)?", re.ASCII)
_DAY_OR_MONTH_FIRST = re.compile(r"\d{1,2}\s*([-/.])\s*\d{1,2}\s*\1\s*\d{2,4}" + _TIME, re.ASCII)
_SHOWN = 60  # characters of a bad value quoted in a message


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _bad(value: object, why: str) -> ValueError:
    return ValueError(f"{why}: {_shown(value)}; 可接受的写法 / accepted forms: {ACCEPTED_FORMS}")


def _calendar(value: object, year: int, month: int, day: int) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise _bad(value, f"日期不存在 / no such date ({year}年{month}月{day}日)") from None


def _from_serial(value: object, serial: float) -> dt.date:
    if not math.isfinite(serial):
        raise _bad(value, "不是日期 / not a date")
    whole = math.floor(serial)
    if whole < 1 or whole > _MAX_SERIAL:
        raise _bad(value, f"Excel 序列号超出范围 / Excel serial out of range (1–{_MAX_SERIAL})")
    if whole == _FAKE_LEAP_DAY:
        raise _bad(value, "Excel 序列号 60 是不存在的 1900-02-29 / Excel serial 60 is the non-existent 1900-02-29")
    if whole < _FAKE_LEAP_DAY:
        return _EARLY_EPOCH + dt.timedelta(days=whole)
    return _EPOCH + dt.timedelta(days=whole)


def excel_serial(d: dt.date) -> int:
    """The Excel (1900 system) serial number of a date from 1900-01-01 on."""
    if isinstance(d, dt.datetime):
        d = d.date()
    days = (d - _EPOCH).days
    if days < _FAKE_LEAP_DAY + 1:
        days = (d - _EARLY_EPOCH).days
        if days < 1:
            raise ValueError(f"no Excel serial before 1900-01-01: {d.isoformat()}")
    return days


def _from_text(value: object, text: str) -> dt.date:
    s = unicodedata.normalize("NFKC", text).strip()
    if not s:
        raise _bad(value, "日期为空 / empty date")
    for pattern in (_SEPARATED, _CHINESE, _COMPACT):
        m = pattern.fullmatch(s)
        if m:
            return _calendar(value, int(m["y"]), int(m["m"]), int(m["d"]))
    if _SERIAL.fullmatch(s):
        return _from_serial(value, float(s))
    if _DAY_OR_MONTH_FIRST.fullmatch(s):
        raise _bad(value, "日、月顺序不明，年份须在前 / ambiguous day and month order, put the 4-digit year first")
    raise _bad(value, "无法识别的日期 / unrecognised date")


def parse_hand_date(value: object) -> dt.date:
    """The date a ledger cell means; ValueError (Chinese and English, naming the value) if it is not one."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool):
        raise _bad(value, "不是日期 / not a date")
    if isinstance(value, int | float):
        if 10_000_000 <= value < 100_000_000 and value == int(value):
            # eight digits typed as a number: 20170630 (Excel serials stop at 2958465)
            n = int(value)
            return _calendar(value, n // 10_000, n // 100 % 100, n % 100)
        return _from_serial(value, value)
    if isinstance(value, str):
        return _from_text(value, value)
    if value is None:
        raise _bad(value, "日期为空 / empty date")
    raise _bad(value, f"不是日期 / not a date ({type(value).__name__})")


def format_date(d: dt.date) -> str:
    """ISO 8601: ``2017-06-30``."""
    if isinstance(d, dt.datetime):
        d = d.date()
    return d.isoformat()
