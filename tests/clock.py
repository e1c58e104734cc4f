"""Today's legal day, read when a test runs rather than when its module is imported.

A suite that starts before midnight in Beijing (16:00 UTC) and reaches a test after it would otherwise compare the
hub's today with yesterday's."""
from __future__ import annotations

import datetime as dt

from hub.core.facts import legal_day


def today() -> dt.date:
    return legal_day(dt.datetime.now(dt.UTC))
