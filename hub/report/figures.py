"""The figures of the joint-meeting report, each a pure function of ``ReportData`` and the period (no database, no
clock): the same rows always give the same report, and every figure carries the persons and messages it counts.

How things are counted (also in docs/reports.md):

- A person is **in a county's register** from the day they report or are handed over there (``arrived``) until
  the day supervision ends there: released (期满解除), terminated (终止), revoked (撤销缓刑、假释) or recommitted
  (收监执行), or the day they arrive in another county after a transfer (responsibility moves only on arrival).
  Rows imported from historical registers count the same way, from 矫正起始日期 to the day of 解除 or 终止, unless
  the hub's own records of the same person cover the same time.
- Days are the days the documents name (reported on, effective on, occurred on …), else the day the hub received
  the notice; a period includes its first and last day.
- An obligation is **on time** when met on or before its due day, **late** when met after it or still open once
  its due day has passed; waived ones are not counted. The timeliness of a period is over the obligations due in
  it; a delay is counted in days, to the day met (or to ``today`` for one still open).
- **At risk now**: open obligations whose due day has passed on ``today``, by the agency that owes them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from hub.core.facts import legal_day
from hub.core.reconcile_values import CATEGORY_LABELS, Category
from hub.report.data import DiscrepancyRow, FactRow, FailedRow, ObligationRow, ReportData
from hub.report.facts import EXITS, FactKind
from hub.report.history import HistoryRow
from hub.report.model import Chart, Figure, Member, Report, Section, Table, Value

TYPES = (("CONTROL", "管制"), ("PROBATION", "缓刑"), ("PAROLE", "假释"), ("TEMP_OUTSIDE", "暂予监外执行"))
# Timeliness: the rules of each handover step the joint meeting reads, in the order of the workflow.
STEPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("notify", "通知执行地社区矫正机构", ("notify_bureau",)),
    ("documents", "送达法律文书", ("serve_documents", "cure_documents")),
    ("receipt", "送达回执", ("receipt",)),
    ("report", "报到", ("report",)),
    ("handover", "暂予监外执行交付", ("handover",)),
    ("transfer", "执行地变更", ("transfer_opinion", "transfer_papers", "report_after_transfer")),
    ("assessment", "调查评估", ("assessment_opinion", "assessment_opinion_fast")),
)
# At risk: 漏管 (never got under supervision) and 脱管 (fell out after getting in), by the obligation overdue.
LEAKS = frozenset({"assessment_opinion", "assessment_opinion_fast", "notify_bureau", "serve_documents", "receipt",
                   "cure_documents", "report", "handover", "transfer_opinion", "transfer_papers",
                   "report_after_transfer", "search_on_failure"})
LAPSES = frozenset({"lost_contact_search", "lost_contact_warning", "lost_contact_revoke", "pursuit_request",
                    "pursuit_reply"})
RULE_TITLES = {
    "assessment_opinion": "调查评估意见", "assessment_opinion_fast": "调查评估意见（速裁）",
    "notify_bureau": "通知执行地社区矫正机构", "serve_documents": "送达法律文书", "receipt": "送达回执",
    "cure_documents": "补正法律文书", "report": "报到", "handover": "暂予监外执行交付",
    "search_on_failure": "未报到立即查找", "transfer_opinion": "执行地变更征求意见回复",
    "transfer_papers": "执行地变更移交档案", "report_after_transfer": "变更后到新执行地报到",
    "lost_contact_search": "失联查找", "lost_contact_warning": "失联逾十日警告",
    "lost_contact_revoke": "失联逾一月提请撤销",
    "revocation_decision": "撤销、收监决定", "arrest_decision": "逮捕决定", "arrest_custody_limit": "羁押期限",
    "pursuit_request": "提请追逃", "pursuit_reply": "追逃结果回复", "release_notice": "解除、终止通知",
}
CAUSES = {"no_recipient": "无收件机关", "rejected": "对方拒收", "retries_exhausted": "重试用尽",
          "not_collected": "对方未取件"}
ENTRY_NEW, ENTRY_TRANSFER = "new", "transfer"


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end

    def before(self) -> Period:
        """The period just before this one: as many whole months for a period of whole months (the first half of a
        year compares with the second half of the year before), else as many days."""
        after_end = self.end + dt.timedelta(days=1)
        if self.start.day == 1 and after_end.day == 1:
            months = (after_end.year - self.start.year) * 12 + after_end.month - self.start.month
            first = self.start.year * 12 + self.start.month - 1 - months
            return Period(dt.date(first // 12, first % 12 + 1, 1), self.start - dt.timedelta(days=1))
        days = (self.end - self.start).days + 1
        return Period(self.start - dt.timedelta(days=days), self.start - dt.timedelta(days=1))

    def months(self) -> list[tuple[str, dt.date, dt.date]]:
        """(YYYY-MM, first day, last day) of each month the period touches, cut to the period."""
        out, day = [], self.start.replace(day=1)
        while day <= self.end:
            nxt = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            out.append((f"{day:%Y-%m}", max(day, self.start), min(nxt - dt.timedelta(days=1), self.end)))
            day = nxt
        return out


@dataclass(frozen=True)
class Stay:
    """One person's time in one county's register (from the hub's facts, or from an imported row)."""

    person_key: str
    name: str
    id_number: str | None
    case_key: str | None
    division: str
    correction_type: str
    start: dt.date
    entry: str  # new | transfer
    end: dt.date | None = None
    end_kind: str | None = None  # released | terminated | revoked | recommitted | moved
    messages: tuple[str, ...] = ()
    imported: bool = False

    def on_books(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or self.end > day)

    def member(self, on: dt.date | None = None, note: str = "") -> Member:
        return Member(self.person_key, self.name, self.id_number, self.case_key, None, self.messages,
                      on if on is not None else self.start, note, self.imported)


def stays(data: ReportData) -> list[Stay]:
    """Every stay in a register that the facts show (any county: a person who moved away shows where they went),
    then the imported rows of the report's counties that no stay of the hub's for the same person overlaps, each
    ended by the first release or end the hub was told of after it began (the hub holds the notices of a person
    whose decision came before it did, but counts them)."""
    out: list[Stay] = []
    by_case: dict[str, list[FactRow]] = defaultdict(list)
    exits: dict[str, list[FactRow]] = defaultdict(list)
    for f in data.facts:
        by_case[f.case_key].append(f)
        if f.kind in EXITS:
            exits[f.person_key].append(f)
    for rows in by_case.values():
        out.extend(_stays_of_case(sorted(rows, key=lambda f: (f.on, f.seq))))
    mine: dict[str, list[Stay]] = defaultdict(list)
    for s in out:
        mine[s.person_key].append(s)
    for h in data.history:
        if h.division in data.divisions and not any(_overlap(s, h) for s in mine.get(h.person_key, ())):
            stay = _imported(h)
            told = sorted((f for f in exits.get(h.person_key, ()) if f.division == h.division
                           and stay.start <= f.on < (stay.end or dt.date.max)), key=lambda f: (f.on, f.seq))
            out.append(_ended(stay, told[0].on, told[0].kind.value, told[0].message_id) if told else stay)
    return out


# Facts that belong to the county the document names (where the person arrived, was commissioned for, moved from
# or to); every other fact belongs to the county whose register held the person that day.
_OWN_COUNTY = frozenset({FactKind.ARRIVED, FactKind.NOT_REPORTED, FactKind.TRANSFERRED_OUT, FactKind.TRANSFERRED_IN,
                         FactKind.COMMISSIONED, FactKind.ASSESSED, FactKind.DECIDED})


def attributed(data: ReportData, every: Sequence[Stay]) -> dict[FactKind, list[FactRow]]:
    """The facts of the report's counties by kind, each fact in the county responsible for the person on its day:
    a warning between the transfer papers and the report at the new county is the old county's."""
    by_case: dict[str, list[Stay]] = defaultdict(list)
    for x in every:
        if x.case_key is not None:
            by_case[x.case_key].append(x)
    out: dict[FactKind, list[FactRow]] = defaultdict(list)
    for f in data.facts:
        county = f.division if f.kind in _OWN_COUNTY else (county_on(by_case.get(f.case_key, ()), f.on)
                                                           or f.division)
        if county in data.divisions:
            out[f.kind].append(f)
    return out


def county_on(case_stays: Sequence[Stay], day: dt.date) -> str | None:
    """The county whose register held the case on ``day`` (its last day included), if any."""
    held = [s for s in case_stays if s.start <= day and (s.end is None or day <= s.end)]
    return max(held, key=lambda s: s.start).division if held else None


def _stays_of_case(rows: Sequence[FactRow]) -> list[Stay]:
    out: list[Stay] = []
    current: Stay | None = None
    for f in rows:
        if f.kind is FactKind.ARRIVED:
            if current is not None and current.division == f.division:
                continue  # a second report in the same county: still the same stay
            if current is not None:
                out.append(_ended(current, f.on, "moved", f.message_id))
            entry = ENTRY_NEW if not out else ENTRY_TRANSFER
            current = Stay(f.person_key, f.name, f.id_number, f.case_key, f.division, f.correction_type, f.on, entry,
                           messages=(f.message_id,))
        elif f.kind in EXITS and current is not None:
            out.append(_ended(current, f.on, f.kind.value, f.message_id))
            current = None
    if current is not None:
        out.append(current)
    return out


def _ended(s: Stay, on: dt.date, kind: str, message_id: str) -> Stay:
    return dataclasses.replace(s, end=max(on, s.start), end_kind=kind, messages=(*s.messages, message_id))


def _overlap(s: Stay, h: HistoryRow) -> bool:
    end = h.ended_on or (h.period_end if h.period_end is not None else dt.date.max)
    return s.start <= end and (s.end or dt.date.max) >= h.received_on


def _imported(h: HistoryRow) -> Stay:
    """An imported row as a stay: ended on its 状态日期 when its status ends supervision; a person still on the
    books on the register's day is counted until the last day of their supervision period (矫正终止日期), when the
    register gives one (``expired``: off the books, neither released nor terminated as far as the hub knows)."""
    end, kind = h.ended_on, None if h.end_kind is None else ("released" if h.end_kind == "released" else "terminated")
    if end is None and h.period_end is not None:
        end, kind = h.period_end + dt.timedelta(days=1), "expired"
    return Stay(h.person_key, h.name, h.id_number, None, h.division, h.correction_type, h.received_on, ENTRY_NEW,
                end, kind, imported=True)


# ---- figures ------------------------------------------------------------------------------------------------

def persons(fid: str, label: str, members: Iterable[Member]) -> Figure:
    """A count of distinct persons, each listed once (the first member of each)."""
    seen: dict[str, Member] = {}
    for m in members:
        seen.setdefault(m.person_key, m)
    listed = tuple(seen.values())
    return Figure(fid, label, len(listed), "人", listed, sum(1 for m in listed if m.imported))


def duties(fid: str, label: str, members: Iterable[Member]) -> Figure:
    """A count of obligations (件): one member per obligation, a person as often as they are owed something."""
    listed = tuple(members)
    return Figure(fid, label, len(listed), "件", listed)


def events(fid: str, label: str, rows: Iterable[FactRow]) -> Figure:
    """A count of notices (人次): one member per message."""
    listed = tuple(_fact_member(f) for f in rows)
    return Figure(fid, label, len(listed), "人次", listed)


def _fact_member(f: FactRow, note: str = "") -> Member:
    return Member(f.person_key, f.name, f.id_number, f.case_key, f.sender, (f.message_id,), f.on, note or
                  (f.detail or ""))


def in_register(all_stays: Sequence[Stay], day: dt.date, *, fid: str, label: str,
                correction_type: str | None = None) -> Figure:
    return persons(fid, label, (s.member() for s in all_stays if s.on_books(day)
                                and (correction_type is None or s.correction_type == correction_type)))


@dataclass(frozen=True)
class Context:
    data: ReportData
    period: Period
    previous: Period
    today: dt.date
    agency_name: Callable[[str], str]
    stays: tuple[Stay, ...]  # in the report's counties
    by_kind: dict[FactKind, list[FactRow]]  # the facts of its counties, by kind
    failed: tuple[FailedRow, ...]  # failed transfers raised in the period

    def facts(self, *kinds: FactKind, period: Period | None = None) -> list[FactRow]:
        """The facts of ``kinds`` in the report's counties on a day of the period, in the order they happened."""
        p = period or self.period
        return [f for k in kinds for f in self.by_kind.get(k, ()) if f.on in p]


def overview(cx: Context) -> Section:
    p, end = cx.period, cx.period.end
    s = cx.stays
    received = persons("overview.received_total", "累计接收", (s_.member() for s_ in s if s_.start <= end))
    released = persons("overview.released_total", "累计解除", (
        s_.member(s_.end) for s_ in s if s_.end_kind == "released" and s_.end is not None and s_.end <= end))
    ended = persons("overview.terminated_total", "累计终止", (
        s_.member(s_.end) for s_ in s if s_.end_kind in ("terminated", "revoked", "recommitted")
        and s_.end is not None and s_.end <= end))
    cumulative = Table("overview.cumulative", "累计情况（自有记录以来）", ("项目", "人数"), (
        ("累计接收社区矫正对象", received), ("累计解除矫正", released), ("累计终止矫正（撤销、收监、死亡）", ended)),
        note="含历史名册导入的人员（见各数字旁“含导入”）。" if received.imported or released.imported else "")
    rows: list[tuple[str | Figure, ...]] = [
        (label, in_register(s, end, fid=f"overview.in_register.{code}", label=f"期末在册 · {label}",
                            correction_type=code)) for code, label in TYPES]
    rows.append(("合计", in_register(s, end, fid="overview.in_register.total", label="期末在册 · 合计")))
    register = Table("overview.in_register", f"期末在册人数（截至{end:%Y年%m月%d日}）", ("矫正类别", "人数"),
                     tuple(rows))
    ontime, late = _assessments(cx)
    in_period = (
        ("新接收", persons("overview.new", "新接收", (
            x.member() for x in s if x.start in p and x.entry == ENTRY_NEW))),
        ("外县（市、区）转入", persons("overview.transferred_in", "转入", (
            x.member() for x in s if x.start in p and x.entry == ENTRY_TRANSFER))),
        ("期满解除", persons("overview.released", "期满解除", (
            x.member(x.end) for x in s if x.end_kind == "released" and x.end in p))),
        ("终止矫正", persons("overview.terminated", "终止矫正", (
            x.member(x.end) for x in s if x.end_kind in ("terminated", "revoked", "recommitted") and x.end in p))),
        ("训诫", events("overview.admonitions", "训诫", cx.facts(FactKind.ADMONITION))),
        ("警告", events("overview.warnings", "警告", cx.facts(FactKind.WARNING))),
        ("批准外出请假", events("overview.leave", "批准外出请假", cx.facts(FactKind.LEAVE_APPROVED))),
        ("居住地变更（县内）", events("overview.residence_changes", "居住地变更", cx.facts(FactKind.RESIDENCE_CHANGE))),
        ("执行地变更（转出）", events("overview.transfers_out", "执行地变更转出", cx.facts(FactKind.TRANSFERRED_OUT))),
        ("撤销缓刑、假释", events("overview.revoked", "撤销缓刑、假释", cx.facts(FactKind.REVOKED))),
        ("收监执行", events("overview.recommitted", "收监执行", cx.facts(FactKind.RECOMMITTED))),
        ("提请公安机关协助查找、追逃", events("overview.pursuits", "提请协查、追逃",
                                        cx.facts(FactKind.PURSUIT_REQUESTED))),
        ("接受委托调查评估", events("overview.assessments_commissioned", "接受委托调查评估",
                             cx.facts(FactKind.COMMISSIONED))),
        ("完成调查评估", events("overview.assessments_done", "完成调查评估", cx.facts(FactKind.ASSESSED))),
        ("本期到期的调查评估：按期完成", ontime),
        ("本期到期的调查评估：逾期完成或逾期未完成", late),
    )
    flows = Table("overview.period", f"本期情况（{p.start:%Y年%m月%d日}至{p.end:%Y年%m月%d日}）", ("项目", "数量"),
                  in_period, note="人数按人计；训诫、警告、请假等按文书计（人次）。"
                  "调查评估的按期与否按本期到期的评估义务计。")
    return Section("overview", 1, "总体情况", tables=(cumulative, register, flows))


def _assessments(cx: Context) -> tuple[Figure, Figure]:
    rules = dict((k, r) for k, _, r in STEPS)["assessment"]
    due = [o for o in cx.data.obligations if o.rule_id in rules and _counted(o, cx.period, cx.today)]
    on, late = _split(due)
    return (persons("overview.assessments_on_time", "按期完成调查评估", (_ob_member(cx, o) for o in on)),
            persons("overview.assessments_late", "逾期调查评估", (_ob_member(cx, o, cx.today) for o in late)))


# ---- timeliness ---------------------------------------------------------------------------------------------

def _counted(o: ObligationRow, period: Period, today: dt.date) -> bool:
    """Due in the period, not waived, and either met or already past its due day."""
    return (o.due_date is not None and o.due_date in period and o.waived_on is None
            and (o.met_on is not None or o.due_date < today))


def _split(rows: Iterable[ObligationRow]) -> tuple[list[ObligationRow], list[ObligationRow]]:
    on: list[ObligationRow] = []
    late: list[ObligationRow] = []
    for o in rows:
        assert o.due_date is not None
        (on if o.met_on is not None and o.met_on <= o.due_date else late).append(o)
    return on, late


def delay(o: ObligationRow, today: dt.date) -> int:
    """Days past the due day: to the day met, or to ``today`` while still open."""
    assert o.due_date is not None
    return max(0, ((o.met_on or today) - o.due_date).days)


def _ob_member(cx: Context, o: ObligationRow, today: dt.date | None = None) -> Member:
    name, id_number = o.name, o.id_number
    title = RULE_TITLES.get(o.rule_id, o.rule_id)
    note = f"{title} · {o.obligor} → {o.obligee} · 期限 {o.due_date}"
    if o.met_on is not None:
        note += f" · 履行 {o.met_on}"
    if today is not None and o.due_date is not None and (o.met_on is None or o.met_on > o.due_date):
        note += f" · 迟延 {delay(o, today)} 日"
    return Member(o.person_key, name, id_number, o.case_key, o.obligor, (o.trigger_message,), o.due_date, note)


def _rate(fid: str, label: str, on: Sequence[ObligationRow], late: Sequence[ObligationRow], cx: Context) -> Figure:
    total = len(on) + len(late)
    value: Value = round(100.0 * len(on) / total, 1) if total else None
    members = tuple(_ob_member(cx, o, cx.today) for o in (*on, *late))
    return Figure(fid, label, value, "%", members)


def _delays(fid: str, label: str, late: Sequence[ObligationRow], cx: Context, *, worst: bool) -> Figure:
    days = [delay(o, cx.today) for o in late]
    if not days:
        return Figure(fid, label, None, "日")
    if worst:
        top = max(days)
        return Figure(fid, label, top, "日", tuple(_ob_member(cx, o, cx.today) for o, d in zip(late, days, strict=True)
                                                   if d == top))
    med = statistics.median(days)
    return Figure(fid, label, float(med) if med % 1 else int(med), "日",
                  tuple(_ob_member(cx, o, cx.today) for o in late))


def timeliness(cx: Context) -> tuple[Section, dict[str, tuple[Figure, Figure]]]:
    """Per step and owing agency: due, on time, late, on-time rate now and in the previous period, median and
    worst delay; and per agency over every step (for the chart): (this period's rate, the previous one's)."""
    rows: list[tuple[str | Figure, ...]] = []
    agency_all: dict[str, list[ObligationRow]] = defaultdict(list)
    agency_prev: dict[str, list[ObligationRow]] = defaultdict(list)
    for key, title, rules in STEPS:
        mine = [o for o in cx.data.obligations if o.rule_id in rules]
        now = [o for o in mine if _counted(o, cx.period, cx.today)]
        before = [o for o in mine if _counted(o, cx.previous, cx.today)]
        for agency in sorted({o.obligor for o in now} | {o.obligor for o in before}):
            a_now = [o for o in now if o.obligor == agency]
            a_before = [o for o in before if o.obligor == agency]
            agency_all[agency] += a_now
            agency_prev[agency] += a_before
            on, late = _split(a_now)
            p_on, p_late = _split(a_before)
            fid = f"timeliness.{key}.{agency}"
            rate = _rate(f"{fid}.rate", f"{title} · {agency} · 按期率", on, late, cx)
            prev = _rate(f"{fid}.previous_rate", f"{title} · {agency} · 上期按期率", p_on, p_late, cx)
            rows.append((title, cx.agency_name(agency),
                         duties(f"{fid}.due", f"{title} · {agency} · 应履行", (_ob_member(cx, o, cx.today)
                                                                          for o in a_now)),
                         duties(f"{fid}.on_time", f"{title} · {agency} · 按期", (_ob_member(cx, o) for o in on)),
                         duties(f"{fid}.late", f"{title} · {agency} · 逾期", (_ob_member(cx, o, cx.today)
                                                                         for o in late)),
                         rate, prev, _change(f"{fid}.change", rate, prev),
                         _delays(f"{fid}.median_delay", f"{title} · {agency} · 中位迟延", late, cx, worst=False),
                         _delays(f"{fid}.worst_delay", f"{title} · {agency} · 最长迟延", late, cx, worst=True)))
    by_step = Table("timeliness.by_step", "各环节各机关按期情况", (
        "环节", "义务机关", "应履行（件）", "按期（件）", "逾期（件）", "按期率（%）", "上期按期率（%）",
        "变化（百分点）", "中位迟延（日）", "最长迟延（日）"), tuple(rows), note=(
        f"本期：{cx.period.start}至{cx.period.end}到期的义务；上期：{cx.previous.start}至{cx.previous.end}。"
        "逾期含到期未履行的；迟延天数算至履行之日，未履行的算至报告日。已免除的义务不计。"))
    compare: list[tuple[str | Figure, ...]] = []
    per_agency: dict[str, tuple[Figure, Figure]] = {}
    for agency in sorted(set(agency_all) | set(agency_prev)):
        on, late = _split(agency_all[agency])
        p_on, p_late = _split(agency_prev[agency])
        rate = _rate(f"timeliness.agency.{agency}.rate", f"{agency} · 按期率", on, late, cx)
        prev = _rate(f"timeliness.agency.{agency}.previous_rate", f"{agency} · 上期按期率", p_on, p_late, cx)
        per_agency[agency] = (rate, prev)
        compare.append((cx.agency_name(agency), duties(
            f"timeliness.agency.{agency}.due", f"{agency} · 应履行", (_ob_member(cx, o, cx.today)
                                                                 for o in agency_all[agency])),
            rate, prev, _change(f"timeliness.agency.{agency}.change", rate, prev)))
    by_agency = Table("timeliness.by_agency", "各机关总体按期率比较", (
        "机关", "应履行（件）", "按期率（%）", "上期按期率（%）", "变化（百分点）"), tuple(compare))
    return Section("timeliness", 2, "衔接时效", tables=(by_step, by_agency)), per_agency


def _change(fid: str, now: Figure, before: Figure) -> Figure:
    if now.value is None or before.value is None:
        return Figure(fid, "变化", None, "百分点")
    return Figure(fid, "变化", round(float(now.value) - float(before.value), 1), "百分点")


# ---- at risk ------------------------------------------------------------------------------------------------

def at_risk(cx: Context) -> Section:
    overdue = [o for o in cx.data.obligations if o.is_open and o.due_date is not None and o.due_date < cx.today]
    rows: list[tuple[str | Figure, ...]] = []

    def row(fid: str, who: str, label: str, mine: list[ObligationRow]) -> tuple[str | Figure, ...]:
        def of(kind: str, title: str, keep: Callable[[ObligationRow], bool]) -> Figure:
            return persons(f"{fid}.{kind}", f"{label}{title}", (_ob_member(cx, o, cx.today) for o in mine if keep(o)))
        return (who, of("leak", "漏管风险", lambda o: o.rule_id in LEAKS),
                of("lapse", "脱管风险", lambda o: o.rule_id in LAPSES),
                of("other", "其他逾期", lambda o: o.rule_id not in LEAKS | LAPSES),
                of("total", "合计", lambda o: True),
                _delays(f"{fid}.worst_delay", f"{label}最长逾期", mine, cx, worst=True))

    for agency in sorted({o.obligor for o in overdue}):
        rows.append(row(f"at_risk.{agency}", cx.agency_name(agency), f"{agency} · ",
                        [o for o in overdue if o.obligor == agency]))
    rows.append(row("at_risk", "合计", "", overdue))
    by_agency = Table("at_risk.by_agency", f"逾期未履行义务涉及的人员（截至{cx.today:%Y年%m月%d日}）", (
        "义务机关", "漏管风险（人）", "脱管风险（人）", "其他逾期（人）", "合计（人）", "最长逾期（日）"), tuple(rows),
        note="漏管：调查评估、通知、送达、回执、补正、报到、交付、移交、未报到查找等环节逾期；脱管：失联查找、警告、"
             "提请撤销、提请追逃、追逃回复逾期；其他：撤销裁定、逮捕决定、解除终止通知等逾期。")
    by_rule: list[tuple[str | Figure, ...]] = []
    for rule in sorted({o.rule_id for o in overdue}, key=lambda r: list(RULE_TITLES).index(r)
                       if r in RULE_TITLES else 99):
        mine = [o for o in overdue if o.rule_id == rule]
        by_rule.append((RULE_TITLES.get(rule, rule), persons(f"at_risk.rule.{rule}", RULE_TITLES.get(rule, rule),
                                                             (_ob_member(cx, o, cx.today) for o in mine))))
    rules = Table("at_risk.by_rule", "按环节", ("环节", "人数"), tuple(by_rule))
    return Section("at_risk", 3, "当前脱管漏管风险", tables=(by_agency, rules))


# ---- failed transfers ---------------------------------------------------------------------------------------

def how_resolved(r: FailedRow) -> str:
    text = (r.resolution or "").lower()
    if r.status != "resolved":
        return "open"
    if text.startswith("superseded"):
        return "edited"
    if text.startswith("rerouted") or "routed again" in text:
        return "rerouted"
    if text.startswith("resolved without delivery"):
        return "by_hand"
    return "delivered"


def _hours(r: FailedRow) -> float:
    assert r.resolved_at is not None
    return (r.resolved_at - r.created_at).total_seconds() / 3600


def _ft_member(r: FailedRow) -> Member:
    note = f"{r.message_type} · {CAUSES.get(r.cause, r.cause)}"
    if r.resolved_at is not None:
        note += f" · {_hours(r):.1f} 小时后解决"
    return Member(r.person_key, r.name, r.id_number, None, r.recipient, (r.message_id,), r.created_on, note)


def failed(cx: Context) -> Section:
    rows: list[tuple[str | Figure, ...]] = []
    groups: dict[tuple[str, str], list[FailedRow]] = defaultdict(list)
    for r in cx.failed:
        groups[(r.recipient or "—", r.cause)].append(r)
    for (recipient, cause), mine in sorted(groups.items()):
        fid = f"failed_transfers.{recipient}.{cause}"
        rows.append(_failed_row(fid, cx.agency_name(recipient) if recipient != "—" else "（无收件机关）",
                                CAUSES.get(cause, cause), mine))
    rows.append(_failed_row("failed_transfers.total", "合计", "", list(cx.failed)))
    table = Table("failed_transfers.by_agency", "本期投递失败及处理情况", (
        "收件机关", "原因", "发生", "重新投递送达", "改投", "修改后重发", "线下送达", "未解决", "解决用时中位（小时）",
        "最长（小时）"), tuple(rows), note="按投递失败发生之日计入本期；解决方式以处理记录为准。")
    return Section("failed_transfers", 4, "投递失败", tables=(table,))


def _failed_row(fid: str, who: str, cause: str, rows: list[FailedRow]) -> tuple[str | Figure, ...]:
    def count(sub: str, label: str, keep: Callable[[FailedRow], bool]) -> Figure:
        listed = tuple(_ft_member(r) for r in rows if keep(r))
        return Figure(f"{fid}.{sub}", label, len(listed), "件", listed)

    done = [r for r in rows if r.resolved_at is not None and r.status == "resolved"]
    hours = sorted(_hours(r) for r in done)
    median: Value = round(statistics.median(hours), 1) if hours else None
    worst: Value = round(hours[-1], 1) if hours else None
    slowest = tuple(_ft_member(r) for r in done if hours and round(_hours(r), 1) == worst)
    return (who, cause, count("raised", "发生", lambda r: True),
            count("delivered", "重新投递送达", lambda r: how_resolved(r) == "delivered"),
            count("rerouted", "改投", lambda r: how_resolved(r) == "rerouted"),
            count("edited", "修改后重发", lambda r: how_resolved(r) == "edited"),
            count("by_hand", "线下送达", lambda r: how_resolved(r) == "by_hand"),
            count("open", "未解决", lambda r: how_resolved(r) == "open"),
            Figure(f"{fid}.median_hours", "解决用时中位", median, "小时", tuple(_ft_member(r) for r in done)),
            Figure(f"{fid}.worst_hours", "最长", worst, "小时", slowest))


# ---- discrepancies ------------------------------------------------------------------------------------------

def _label(category: str) -> str:
    try:
        return CATEGORY_LABELS[Category(category)]
    except ValueError:
        return category


def _d_member(d: DiscrepancyRow) -> Member:
    note = _label(d.category) + (f" · 已解决 {legal_day(d.resolved_at)}" if d.resolved_at else "")
    return Member(d.person_key, d.name, d.id_number, None, d.acting_agency, (), legal_day(d.first_seen), note)


def _open_at(d: DiscrepancyRow, day: dt.date) -> bool:
    return legal_day(d.first_seen) <= day and (d.resolved_at is None or legal_day(d.resolved_at) > day)


def _listed(fid: str, label: str, unit: str, members: list[Member]) -> Figure:
    return Figure(fid, label, len(members), unit, tuple(members))


def discrepancies(cx: Context) -> Section:
    p = cx.period

    def open_at_end(d: DiscrepancyRow) -> bool:
        return _open_at(d, p.end)

    rows: list[tuple[str | Figure, ...]] = []
    groups: dict[tuple[str, str], list[DiscrepancyRow]] = defaultdict(list)
    for d in cx.data.discrepancies:
        groups[(d.category, d.acting_agency)].append(d)

    def row(fid: str, what: str, who: str, mine: list[DiscrepancyRow]) -> tuple[str | Figure, ...]:
        def count(sub: str, label: str, keep: Callable[[DiscrepancyRow], bool]) -> Figure:
            listed = tuple(_d_member(d) for d in mine if keep(d))
            return Figure(f"{fid}.{sub}", label, len(listed), "条", listed)
        return (what, who,
                count("found", "本期新发现", lambda d: legal_day(d.first_seen) in p),
                count("resolved", "本期已解决", lambda d: d.resolved_at is not None and legal_day(d.resolved_at) in p),
                count("open", "期末未解决", open_at_end))

    for (category, agency), mine in sorted(groups.items()):
        rows.append(row(f"discrepancies.{category}.{agency}", _label(category), cx.agency_name(agency), mine))
    rows.append(row("discrepancies.total", "合计", "", list(cx.data.discrepancies)))
    table = Table("discrepancies.by_category", "台账差异",
                  ("类别", "处理机关", "本期新发现", "本期已解决", "期末未解决"), tuple(rows),
                  note="各机关名册与平台案件台账、与其他机关名册的不一致之处。")
    return Section("discrepancies", 5, "台账差异", tables=(table,))


# ---- charts -------------------------------------------------------------------------------------------------

def charts(cx: Context, per_agency: dict[str, tuple[Figure, Figure]]) -> Section:
    months = cx.period.months()
    s = cx.stays
    ins = tuple(sum(1 for x in s if a <= x.start <= b) for _, a, b in months)
    outs = tuple(sum(1 for x in s if x.end is not None and x.end_kind not in ("moved", "expired") and a <= x.end <= b)
                 for _, a, b in months)
    on_books = tuple(len({x.person_key for x in s if x.on_books(b)}) for _, _, b in months)
    labels = tuple(m for m, _, _ in months)
    agencies = tuple(sorted(per_agency))
    return Section("charts", 6, "图表", charts=(
        Chart("charts.flows", "月度接收与解除、终止", "bar", labels, (("接收（含转入）", ins), ("解除、终止", outs))),
        Chart("charts.timeliness", "各机关按期率", "bar", tuple(cx.agency_name(a) for a in agencies), (
            ("本期", tuple(per_agency[a][0].value for a in agencies)),
            ("上期", tuple(per_agency[a][1].value for a in agencies))), unit="%"),
        Chart("charts.in_register", "月末在册人数", "line", labels, (("在册", on_books),)),
    ))


# ---- counties (a city's report) -----------------------------------------------------------------------------

def counties(cx: Context, names: Sequence[tuple[str, str]]) -> Section:
    rows: list[tuple[str | Figure, ...]] = []
    p = cx.period
    for code, name in names:
        mine = [x for x in cx.stays if x.division == code]
        overdue = [o for o in cx.data.obligations if o.division == code and o.is_open and o.due_date is not None
                   and o.due_date < cx.today]
        rows.append((name,
                     in_register(mine, p.end, fid=f"counties.{code}.in_register", label=f"{name} · 期末在册"),
                     persons(f"counties.{code}.new", f"{name} · 本期接收", (x.member() for x in mine if x.start in p)),
                     persons(f"counties.{code}.ended", f"{name} · 本期解除、终止", (
                         x.member(x.end) for x in mine if x.end in p and x.end_kind not in ("moved", "expired"))),
                     persons(f"counties.{code}.at_risk", f"{name} · 逾期未履行", (
                         _ob_member(cx, o, cx.today) for o in overdue)),
                     _listed(f"counties.{code}.failed", f"{name} · 本期投递失败", "件", [
                         _ft_member(r) for r in cx.failed if code in (r.division, (r.recipient or "")[:6])]),
                     _listed(f"counties.{code}.discrepancies", f"{name} · 期末未解决差异", "条", [
                         _d_member(d) for d in cx.data.discrepancies if d.division == code and _open_at(d, p.end)])))
    table = Table("counties.summary", "各县（市、区）概况", (
        "县（市、区）", "期末在册", "本期接收", "本期解除、终止", "逾期未履行（人）", "本期投递失败（件）",
        "期末未解决差异（条）"), tuple(rows))
    return Section("counties", 0, "各县（市、区）概况", tables=(table,))


def joint_meeting(data: ReportData, *, division: str, area_name: str, counties_covered: Sequence[tuple[str, str]],
                  period: Period, today: dt.date, generated_at: dt.datetime,
                  agency_name: Callable[[str], str]) -> Report:
    """The whole report for ``data`` over ``period`` (persons at risk as of ``today``)."""
    previous = period.before()
    every = stays(data)
    cx = Context(data, period, previous, today, agency_name,
                 tuple(x for x in every if x.division in data.divisions), attributed(data, every),
                 tuple(r for r in data.failed if r.created_on in period))
    time_section, per_agency = timeliness(cx)
    sections = [overview(cx), time_section, at_risk(cx), failed(cx), discrepancies(cx), charts(cx, per_agency)]
    if len(counties_covered) > 1:
        sections.insert(0, counties(cx, counties_covered))
        sections = [Section(s.id, n, s.title, s.tables, s.charts, s.note) for n, s in enumerate(sections, start=1)]
    imported = [x for x in cx.stays if x.imported]
    note = ""
    if imported:
        last = max(x.start for x in imported)
        note = (f"累计数含历史名册导入的 {len({x.person_key for x in imported})} 人（最晚矫正起始日期 {last}），"
                "数字旁标“含导入”。")
    return Report(division=division, area_name=area_name, counties=tuple(counties_covered),
                  period_from=period.start, period_to=period.end, previous_from=previous.start,
                  previous_to=previous.end, today=today, generated_at=generated_at, sections=tuple(sections),
                  imported_note=note)
