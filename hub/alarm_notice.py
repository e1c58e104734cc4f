"""The hub's deadline notice (期限预警通知) as canonical XML: who it is for, what it says in Chinese and English.

A notice is about one obligation of the case ledger at one step of the escalation ladder
(``hub.core.alarms``). It goes to the office that owes the step; from level 1 also to the county bureau's head;
from level 2 also to the joint-meeting office (联席会议办公室), which is the hub's operators (the registry's HUB
agency of the county, else of its city or province, else the first); and always, as a copy, to the county's
procuratorate, which supervises timeliness. Its message id is a UUID 5 of the obligation and the step, so the
same notice can never be two messages. A missing calendar year is not a DeadlineNotice: it is the operators'
business, not an office's (``hub.alarming``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from hub.core.alarms import Notice, NoticeStep
from hub.core.case_state import RoleResolver
from hub.core.facts import SHANGHAI
from hub.core.idnumber import check_id_number, normalise_id
from hub.core.model import Directory, OrganType
from hub.core.obligations import Obligation

NS = "urn:xianjie:canonical:v1"
# Fixed: changing it would change the id of every notice ever sent, and so send them all again.
NOTICE_NAMESPACE = uuid.UUID("2b7e4c1d-9a3f-5d60-8e1b-4c7a2f9d0e35")
ROLE_CODES = {"office": "OFFICE", "bureau_head": "BUREAU_HEAD", "joint_meeting": "JOINT_MEETING",
              "procuratorate": "PROCURATORATE"}
_STATUS = {NoticeStep.DUE_SOON: "DUE_SOON", NoticeStep.DUE_TODAY: "DUE_TODAY", NoticeStep.OVERDUE: "OVERDUE",
           NoticeStep.BUREAU_HEAD: "OVERDUE", NoticeStep.JOINT_MEETING: "OVERDUE",
           NoticeStep.CALENDAR_MISSING: "CALENDAR_MISSING", NoticeStep.RESOLVED: "RESOLVED"}
_STEP_EN = {NoticeStep.DUE_SOON: "Due soon", NoticeStep.DUE_TODAY: "Due today", NoticeStep.OVERDUE: "Overdue",
            NoticeStep.BUREAU_HEAD: "Overdue, escalated to the county bureau head",
            NoticeStep.JOINT_MEETING: "Overdue, escalated to the joint-meeting office",
            NoticeStep.CALENDAR_MISSING: "No working-day calendar", NoticeStep.RESOLVED: "Resolved"}
_OUTCOME_ZH = {"met": "已按期履行", "met_late": "已逾期履行", "waived": "已免除"}


@dataclass(frozen=True)
class CaseLine:
    """What the ledger's ``cases`` row says of the person and the case."""

    case_key: str
    person_key: str | None
    person_name: str | None
    id_number: str | None
    case_number: str
    deciding_organ: str
    correction_type: str
    division: str


@dataclass(frozen=True)
class RuleText:
    """The rule's title and legal basis as the notice quotes them."""

    title_zh: str
    title_en: str
    basis: str


@dataclass(frozen=True)
class Addressee:
    """One reader of a notice: its capacity, agency code, and whether it is addressed (to) or copied (cc)."""

    role: str
    agency: str
    copy: str


def notice_message_id(obligation_id: str, step: str) -> str:
    """The message id of the notice of ``step`` about ``obligation_id`` (the same whenever it is computed)."""
    return str(uuid.uuid5(NOTICE_NAMESPACE, f"{obligation_id}\n{step}"))


def hub_agency(directory: Directory, division: str = "") -> str:
    """The hub's operators for ``division``: its HUB agency, else its city's or province's, else the first."""
    for where in (division, division[:4] + "00", division[:2] + "0000") if division else ():
        found = directory.find(OrganType.HUB, where)
        if found is not None:
            return found.code
    hubs = sorted(a.code for a in directory.agencies.values() if a.organ_type is OrganType.HUB)
    if not hubs:
        raise LookupError("the registry has no agency of organ type HUB to send or receive deadline notices")
    return hubs[0]


def addressees(notice: Notice, *, division: str, directory: Directory, roles: RoleResolver) -> tuple[Addressee, ...]:
    """Everyone a notice is for: the ladder's recipients (to) and the county's procuratorate (cc)."""
    out = [Addressee(r.role, hub_agency(directory, r.address) if r.role == "joint_meeting" else r.address, "to")
           for r in notice.recipients]
    out.append(Addressee("procuratorate", roles("procuratorate", division), "cc"))
    return tuple(out)


def _add(parent: etree._Element, name: str, text: str | None) -> etree._Element | None:
    if text is None:
        return None
    el = etree.SubElement(parent, f"{{{NS}}}{name}")
    el.text = text
    return el


def _zh(day: dt.date | None) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if day is not None else "（未定）"


def _texts(n: Notice, o: Obligation, case: CaseLine, rule: RuleText, name: Callable[[str], str]) -> tuple[str, str]:
    who = case.person_name or "（姓名不详）"
    head = f"【{n.step.label_zh}】社区矫正对象{who}（{case.case_number}）："
    what = f"“{rule.title_zh}”（依据：{rule.basis}）"
    en_what = (f'{o.obligor} owes {o.obligee} "{rule.title_en}" ({o.owes}, rule {o.rule_id}, {rule.basis}) '
               f"for {who}, case {case.case_number}")
    due = o.due_date.isoformat() if o.due_date is not None else ""
    step = n.step
    if step is NoticeStep.RESOLVED:
        outcome = n.outcome or "met"
        when = o.waiver.on if o.waiver is not None else o.met_on
        day = when.isoformat() if when is not None else n.on.isoformat()
        why = f"，理由：{o.waiver.reason}" if o.waiver is not None else ""
        return (head + f"{name(o.obligor)}应向{name(o.obligee)}履行的{what}{_OUTCOME_ZH.get(outcome, outcome)}"
                f"（{_zh(when or n.on)}{why}），预警解除。",
                f"{_STEP_EN[step]}: {en_what} — {outcome.replace('_', ' ')} on {day}; the alarm is lifted.")
    owed = f"{name(o.obligor)}应于{_zh(o.due_date)}前向{name(o.obligee)}履行{what}"
    if step is NoticeStep.DUE_SOON:
        left = (o.due_date - n.on).days if o.due_date is not None else 0
        return (head + f"{owed}，距到期还有{left}日，请按期办理。",
                f"{_STEP_EN[step]}: {en_what}; it is due {due}, in {left} days.")
    if step is NoticeStep.DUE_TODAY:
        return (head + f"{owed}，今日到期，请于今日办理并经衔接平台发送。",
                f"{_STEP_EN[step]}: {en_what}; it is due today, {due}.")
    return (head + f"{owed}，已逾期{n.days_overdue}日，请立即办理并经衔接平台发送。",
            f"{_STEP_EN[step]}: {en_what}; it was due {due} and is {n.days_overdue} days overdue.")


def deadline_notice_xml(n: Notice, o: Obligation, *, case: CaseLine, rule: RuleText, sender: str,
                        readers: tuple[Addressee, ...], sent_at: dt.datetime, name: Callable[[str], str]) -> bytes:
    """The canonical DeadlineNotice of ``n`` about obligation ``o`` (UTF-8 XML, schema order)."""
    if sent_at.tzinfo is None:
        raise ValueError("sent_at must be timezone-aware")
    if n.step is NoticeStep.CALENDAR_MISSING:
        raise ValueError("a missing calendar year is the operators' notice, not a DeadlineNotice to an office")
    message_id = notice_message_id(n.obligation_id, n.step.value)
    root = etree.Element(f"{{{NS}}}DeadlineNotice", nsmap={None: NS})  # type: ignore[dict-item]
    env = etree.SubElement(root, f"{{{NS}}}envelope")
    for tag, value in (("messageId", message_id), ("messageType", "DeadlineNotice"), ("schemaVersion", "1.0"),
                       ("sender", sender)):
        _add(env, tag, value)
    for copy in ("to", "cc"):
        for code in dict.fromkeys(a.agency for a in readers if a.copy == copy):
            if copy == "to" or code not in {a.agency for a in readers if a.copy == "to"}:
                _add(env, copy, code)
    _add(env, "sentAt", sent_at.astimezone(SHANGHAI).isoformat(timespec="seconds"))
    _add(env, "senderDocumentId", f"XJ-ALARM-{n.obligation_id}-{n.step.value}")
    _add(env, "correlationId", case.case_number)
    person = etree.SubElement(root, f"{{{NS}}}person")
    _add(person, "name", (case.person_name or "（姓名不详）")[:100])
    number = normalise_id(case.id_number, today=n.on) if case.id_number else None
    check = check_id_number(number, today=n.on) if number is not None else None
    _add(person, "idNumber", number)
    male = check.male if check is not None else None
    _add(person, "sex", "UNKNOWN" if male is None else "MALE" if male else "FEMALE")
    born = check.birth_date if check is not None else None
    _add(person, "birthDate", born.isoformat() if born is not None else None)
    c = etree.SubElement(root, f"{{{NS}}}case")
    for tag, value in (("caseNumber", case.case_number), ("decidingOrgan", case.deciding_organ),
                       ("correctionType", case.correction_type), ("executionDivision", case.division)):
        _add(c, tag, value)
    body = etree.SubElement(root, f"{{{NS}}}notice")
    zh, en = _texts(n, o, case, rule, name)
    fields: tuple[tuple[str, str | None], ...] = (
            ("obligationId", n.obligation_id), ("ruleId", n.rule_id), ("titleZh", rule.title_zh[:200]),
            ("titleEn", rule.title_en[:200]), ("legalBasis", rule.basis[:200]), ("obligor", o.obligor),
            ("obligee", o.obligee), ("owes", o.owes), ("triggerDate", o.trigger_date.isoformat()),
            ("dueDate", o.due_date.isoformat() if o.due_date is not None else None), ("status", _STATUS[n.step]),
            ("daysOverdue", str(n.days_overdue)), ("escalationLevel", str(n.level)), ("noticeDate", n.on.isoformat()),
            ("outcome", n.outcome.upper() if n.outcome else None))
    for tag, text in fields:
        _add(body, tag, text)
    for a in readers:
        holder = etree.SubElement(body, f"{{{NS}}}addressee")
        _add(holder, "role", ROLE_CODES[a.role])
        _add(holder, "agency", a.agency)
    _add(body, "textZh", zh[:2000])
    _add(body, "textEn", en[:2000])
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
