"""Alarm planning: which notices to send today about the obligations, up an escalation ladder, without flooding.

Each obligation gets at most one notice per step — due soon, due today, overdue, then escalated to the county
bureau's head after ``Ladder.bureau_head_after_days`` days overdue and to the joint-meeting office (联席会议
办公室) after ``Ladder.joint_meeting_after_days`` — and one ``resolved`` notice once an obligation that was
alarmed is met or waived. A step already passed when the hub first looks (an obligation opened overdue) is
not sent late: only the step the obligation stands on is. An obligation whose due date the calendar cannot
compute (its year is not loaded) sends nothing to the offices, who cannot fix that: ``plan_calendar_notices``
plans one notice a day per missing year to the hub's operators instead, naming how many obligations wait, until
an operator loads the year and the obligations, rescheduled, join the ladder. The caller keeps the set of
(obligation id, step) already sent and evaluates as often as it likes; the plan is the same for the same inputs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from enum import StrEnum

from hub.core.case_state import RoleResolver, conventional_roles
from hub.core.obligations import Obligation, ObligationStatus
from hub.core.pursuit_draft import PursuitDraft, draft_pursuit_request, pursuit_request_xml

__all__ = [
    "NEVER",
    "CalendarNotice",
    "Ladder",
    "Notice",
    "NoticeStep",
    "PursuitDraft",
    "Recipient",
    "draft_pursuit_request",
    "next_look",
    "plan_calendar_notices",
    "plan_notices",
    "pursuit_request_xml",
]


class NoticeStep(StrEnum):
    """The steps of the ladder; each is sent at most once per obligation."""

    DUE_SOON = "due_soon"
    DUE_TODAY = "due_today"
    OVERDUE = "overdue"
    BUREAU_HEAD = "escalated_bureau_head"
    JOINT_MEETING = "escalated_joint_meeting"
    CALENDAR_MISSING = "calendar_missing"
    RESOLVED = "resolved"

    @property
    def label_zh(self) -> str:
        """The step as the notice names it."""
        return _STEP_ZH[self]


_STEP_ZH = {
    NoticeStep.DUE_SOON: "即将到期提醒",
    NoticeStep.DUE_TODAY: "今日到期提醒",
    NoticeStep.OVERDUE: "逾期预警",
    NoticeStep.BUREAU_HEAD: "逾期预警（报县级司法局负责人）",
    NoticeStep.JOINT_MEETING: "逾期预警（报联席会议办公室）",
    NoticeStep.CALENDAR_MISSING: "缺少工作日历，无法计算期限",
    NoticeStep.RESOLVED: "已解除预警",
}
LEVEL = {NoticeStep.BUREAU_HEAD: 1, NoticeStep.JOINT_MEETING: 2}


@dataclass(frozen=True)
class Ladder:
    """How many days overdue before the bureau head (level 1) and the joint-meeting office (level 2) hear."""

    bureau_head_after_days: int = 3
    joint_meeting_after_days: int = 10

    def __post_init__(self) -> None:
        if not 0 < self.bureau_head_after_days < self.joint_meeting_after_days:
            raise ValueError("the ladder needs 0 < bureau_head_after_days < joint_meeting_after_days")

    def step_overdue(self, days: int) -> NoticeStep:
        """The overdue step reached after ``days`` days overdue."""
        if days >= self.joint_meeting_after_days:
            return NoticeStep.JOINT_MEETING
        if days >= self.bureau_head_after_days:
            return NoticeStep.BUREAU_HEAD
        return NoticeStep.OVERDUE


@dataclass(frozen=True)
class Recipient:
    """Who reads a notice: the obliged office (0), the county bureau's head (1), the joint-meeting office (2)."""

    level: int
    role: str  # "office" | "bureau_head" | "joint_meeting"
    address: str  # an agency code; for the joint-meeting office, the county's division code


@dataclass(frozen=True)
class Notice:
    """One notice to send now about one obligation."""

    obligation_id: str
    case_key: str
    person_key: str | None
    rule_id: str
    step: NoticeStep
    level: int
    recipients: tuple[Recipient, ...]
    obligor: str
    obligee: str
    owes: str
    due_date: dt.date | None
    days_overdue: int
    on: dt.date
    outcome: str | None = None  # for RESOLVED: met, met_late or waived

    @property
    def key(self) -> tuple[str, str]:
        """The (obligation id, step) pair the caller records as sent."""
        return (self.obligation_id, self.step.value)


def _recipients(o: Obligation, level: int, roles: RoleResolver) -> tuple[Recipient, ...]:
    ladder = [Recipient(0, "office", o.obligor)]
    if level >= 1:
        ladder.append(Recipient(1, "bureau_head", roles("bureau", o.division)))
    if level >= 2:
        ladder.append(Recipient(2, "joint_meeting", o.division))
    return tuple(ladder)


def _step_now(o: Obligation, status: ObligationStatus, today: dt.date, ladder: Ladder) -> NoticeStep | None:
    if status is ObligationStatus.DUE_SOON:
        return NoticeStep.DUE_SOON
    if status is ObligationStatus.DUE_TODAY:
        return NoticeStep.DUE_TODAY
    if status is ObligationStatus.OVERDUE and o.due_date is not None:
        return ladder.step_overdue((today - o.due_date).days)
    return None


NEVER = dt.date.max


def next_look(o: Obligation, today: dt.date, ladder: Ladder = Ladder()) -> dt.date:
    """The first legal day after ``today`` on which the open obligation ``o`` can stand on another step of the
    ladder (``NEVER`` once it has climbed to the top, or has no due date to climb by). Until then the clock need
    not look at it again: its dates alone decide its step, so a notice it needs cannot fall due sooner."""
    if o.due_date is None:
        return NEVER
    status = o.status(today)
    if status is ObligationStatus.PENDING:
        return o.due_date - dt.timedelta(days=o.due_soon_days)
    if status is ObligationStatus.DUE_SOON:
        return o.due_date
    if status is ObligationStatus.DUE_TODAY:
        return o.due_date + dt.timedelta(days=1)
    if status is ObligationStatus.OVERDUE:
        overdue = (today - o.due_date).days
        for rung in (ladder.bureau_head_after_days, ladder.joint_meeting_after_days):
            if overdue < rung:
                return o.due_date + dt.timedelta(days=rung)
    return NEVER


def plan_notices(
    obligations: Iterable[Obligation],
    *,
    sent: Set[tuple[str, str]],
    today: dt.date,
    ladder: Ladder = Ladder(),
    directory_roles: RoleResolver = conventional_roles,
) -> list[Notice]:
    """The notices to send on the legal day ``today``: each (obligation, step) once, never one already ``sent``."""
    alarmed: dict[str, int] = {}
    for oid, sent_step in sent:
        if sent_step != NoticeStep.RESOLVED:
            alarmed[oid] = max(alarmed.get(oid, 0), LEVEL.get(NoticeStep(sent_step), 0))
    out: list[Notice] = []
    for o in obligations:
        status = o.status(today)
        step: NoticeStep | None
        overdue = (today - o.due_date).days if o.due_date is not None and today > o.due_date else 0
        if o.is_open:
            step = _step_now(o, status, today, ladder)
            level = LEVEL.get(step, 0) if step is not None else 0
        elif o.id in alarmed:
            step, level = NoticeStep.RESOLVED, alarmed[o.id]
        else:
            step = None
        if step is None or (o.id, step.value) in sent:
            continue
        out.append(Notice(
            obligation_id=o.id, case_key=o.case_key, person_key=o.person_key, rule_id=o.rule_id, step=step,
            level=level, recipients=_recipients(o, level, directory_roles), obligor=o.obligor, obligee=o.obligee,
            owes=o.owes, due_date=o.due_date, days_overdue=overdue if o.is_open else 0, on=today,
            outcome=status.value if step is NoticeStep.RESOLVED else None,
        ))
    return out


@dataclass(frozen=True)
class CalendarNotice:
    """The day's notice to the hub's operators that ``year`` has no working-day calendar and ``waiting``
    open obligations wait for it."""

    year: int
    waiting: int
    on: dt.date

    @property
    def key(self) -> tuple[str, str]:
        """The (pseudo obligation id, step) pair the caller records as sent: one per year and legal day."""
        return (f"calendar:{self.year}:{self.on.isoformat()}", NoticeStep.CALENDAR_MISSING.value)

    @property
    def text_zh(self) -> str:
        """The notice as the operators read it."""
        return (f"{self.year}年工作日历尚未载入，{self.waiting}项义务无法计算期限、不会预警，"
                "请载入该年度工作日历。")


def plan_calendar_notices(waiting: Mapping[int, int], *, sent: Set[tuple[str, str]],
                          today: dt.date) -> list[CalendarNotice]:
    """One notice on ``today`` per year that open obligations wait for (``waiting``: year -> how many), unless
    already ``sent`` today."""
    out = [CalendarNotice(year, count, today) for year, count in sorted(waiting.items()) if count > 0]
    return [n for n in out if n.key not in sent]
