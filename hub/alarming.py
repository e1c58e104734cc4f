"""The deadline clock's alarms: notices to the responsible agencies and operators, escalation, drafted pursuit
requests."""

from __future__ import annotations

import datetime as dt

from hub.service import Hub


def run_clock(*, hub: Hub, now: dt.datetime) -> int:
    """Evaluate every open obligation at ``now`` and send what is due; returns how many notices were sent."""
    return 0
