"""Register reconciliation's rules (``hub.core.reconcile``, where they are listed): one person's records
compared county by county, each disagreement worded as a ``Discrepancy`` naming the agency that must act."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from hub.core.reconcile_records import (
    _B,
    _C,
    _K,
    _L,
    _P,
    _SUPERVISED,
    _W,
    Entry,
    Record,
    _Context,
    _Decision,
)
from hub.core.reconcile_values import (
    ABSENT,
    BUREAU_SUFFIX,
    CATEGORY_EN,
    CATEGORY_LABELS,
    LEDGER,
    ON_BOOKS,
    Category,
    Discrepancy,
    LedgerPerson,
    MatchBy,
    RegisterKind,
    RegisterRow,
    Side,
    Status,
    discrepancy_id,
    id_key,
)

_FAMILY = {Status.UNDER_SUPERVISION: "supervised", Status.IN_CUSTODY: "supervised", Status.AT_LARGE: "revoked",
           Status.REVOKED: "revoked", Status.RELEASED: "released", Status.TERMINATED: "terminated"}
_TYPE_ZH = {"CONTROL": "管制", "PROBATION": "缓刑", "PAROLE": "假释", "TEMP_OUTSIDE": "暂予监外执行"}
_STATUS_ZH = {Status.UNDER_SUPERVISION: "在册", Status.IN_CUSTODY: "羁押", Status.AT_LARGE: "在逃",
              Status.REVOKED: "撤销/收监", Status.RELEASED: "解除", Status.TERMINATED: "终止"}
_SOURCE_ZH = {
    LEDGER: "案件台账",
    RegisterKind.BUREAU_REGISTER: "司法局名册",
    RegisterKind.COURT_DECISIONS: "法院决定清单",
    RegisterKind.POLICE_CUSTODY: "公安在押名单",
    RegisterKind.POLICE_WANTED: "公安追逃名单",
    RegisterKind.PRISON_RELEASES: "监狱出监名单",
}
_SOURCE_EN = {
    LEDGER: "the case ledger",
    RegisterKind.BUREAU_REGISTER: "the bureau's register",
    RegisterKind.COURT_DECISIONS: "the court's decisions",
    RegisterKind.POLICE_CUSTODY: "the police custody list",
    RegisterKind.POLICE_WANTED: "the police wanted list",
    RegisterKind.PRISON_RELEASES: "the prison's releases",
}


def _terms(rec: Record) -> str:
    return f"{rec.correction_type or '?'} {rec.period_start or '?'}/{rec.period_end or '?'}"


def _terms_zh(value: str) -> str:
    kind, _, period = value.partition(" ")
    start, _, end = period.partition("/")
    return f"{_TYPE_ZH.get(kind, kind)} {start}至{end}"


def _differs(a: Record, b: Record) -> bool:
    return any(x is not None and y is not None and x != y for x, y in (
        (a.correction_type, b.correction_type), (a.period_start, b.period_start), (a.period_end, b.period_end)))


def _ongoing(row: RegisterRow, day: dt.date) -> bool:
    return (row.since is None or row.since <= day) and (row.until is None or row.until >= day)


# ---- one person's records, county by county ---------------------------------------------------------------


def _rank(person: LedgerPerson) -> tuple[int, int]:
    order = 0 if person.status in _SUPERVISED else 1 if person.status in ON_BOOKS or person.status is Status.REVOKED \
        else 2
    return order, -(person.period_start.toordinal() if person.period_start else 0)


class _Person:
    def __init__(self, key: str, entries: list[Entry], ctx: _Context) -> None:
        self.ctx = ctx
        self.indirect = {id(e[2]) for e in entries if not e[3]}
        self.unmatched = key.startswith("rec:")
        ledger = sorted((e[2] for e in entries if isinstance(e[2], LedgerPerson)), key=_rank)
        rows: dict[int, list[tuple[int, RegisterRow]]] = {}
        for tag, si, rec, _ in entries:
            if isinstance(rec, RegisterRow):
                rows.setdefault(tag, []).append((si, rec))
        first = ledger[0] if ledger else next(e[2] for e in entries)
        self.first = first
        self.key = min(p.person_key for p in ledger) if ledger else key if key[:3] in ("nb:", "rec") else "id:" + key
        self.ledger = ledger
        self.rows = rows
        self.wanted = [(si, r) for si, r in rows.get(_W, ()) if r.status is Status.AT_LARGE]

    def items(self) -> Iterator[Discrepancy]:
        snapshots = self.ctx.snapshots
        decisions: dict[str, list[_Decision]] = {}
        by_case: dict[str, _Decision] = {}
        by_type: dict[str, _Decision] = {}

        def add(d: _Decision) -> None:
            decisions.setdefault(d.county, []).append(d)
            if d.rec.case_number:
                by_case.setdefault(d.rec.case_number, d)

        for person in self.ledger:
            d = _Decision(_L, -1, person, person.execution_division, person.deciding_organ)
            add(d)
            by_type.setdefault(person.correction_type, d)
        court = self.rows.get(_C, [])
        for si, r in court:
            if r.status is not Status.REVOKED:
                found = by_case.get(r.case_number) if r.case_number else None
                if found is not None and found.tag == _L:
                    found.others.append((si, r))
                else:
                    add(_Decision(_C, si, r, r.division or snapshots[si].division,
                                  r.deciding_organ or snapshots[si].agency))
        for si, r in self.rows.get(_P, ()):
            found = by_type.get(r.correction_type or "")
            if found is not None:
                found.others.append((si, r))
            else:
                add(_Decision(_P, si, r, r.division or snapshots[si].division,
                              r.deciding_organ or snapshots[si].agency))
        for si, r in court:
            if r.status is Status.REVOKED:
                found = (by_case.get(r.case_number) if r.case_number else None) or by_type.get(r.correction_type or "")
                if found is not None:
                    found.revocation = (si, r)
                else:
                    add(_Decision(_C, si, r, r.division or snapshots[si].division,
                                  r.deciding_organ or snapshots[si].agency))
        registered: dict[str, list[tuple[int, RegisterRow]]] = {}
        for si, r in self.rows.get(_B, ()):
            registered.setdefault(r.division or snapshots[si].division, []).append((si, r))
        for county in sorted(decisions.keys() | registered.keys()):
            yield from self._county(county, decisions.get(county, []), registered.get(county, []))

    def _county(self, county: str, ds: list[_Decision], registered: list[tuple[int, RegisterRow]]
                ) -> Iterator[Discrepancy]:
        ctx, snapshots = self.ctx, self.ctx.snapshots
        bsi = registered[0][0] if registered else ctx.list_for(RegisterKind.BUREAU_REGISTER, county)
        bureau = county + BUREAU_SUFFIX
        if bsi is not None and snapshots[bsi].division == county:
            bureau = snapshots[bsi].agency
        if not registered:
            if bsi is not None:
                due = [d for d in ds if d.in_force and ctx.due(d, snapshots[bsi].as_of)]
                if due:
                    d = due[0]
                    acting = bureau if isinstance(d.rec, LedgerPerson) and d.rec.documents_served else d.organ
                    yield self._item(Category.DECIDED_NOT_IN_REGISTER, county, acting, None, {bureau, d.organ},
                                     [(d.si, d.rec, _terms(d.rec)) for d in due], ctx.absent(bsi))
        else:
            yield from self._registered(county, bureau, ds, registered[0])
        for d in ds:
            if d.tag != _L:
                continue
            person = d.rec
            assert isinstance(person, LedgerPerson)
            for si, r in d.others:
                if _differs(r, person):
                    agency = snapshots[si].agency
                    yield self._item(Category.TYPE_OR_PERIOD_MISMATCH, county, agency, None, {agency, LEDGER},
                                     [(-1, person, _terms(person))], (si, r, _terms(r)))
            if d.revocation is not None and person.status in _SUPERVISED:
                si, r = d.revocation
                agency = snapshots[si].agency  # the court's revocation has not reached the ledger
                yield self._item(Category.STATUS_MISMATCH, county, agency, None, {agency, LEDGER},
                                 [(si, r, Status.REVOKED)], (-1, person, person.status))
            yield from self._police(county, bureau, person)

    def _registered(self, county: str, bureau: str, ds: list[_Decision], b: tuple[int, RegisterRow]
                    ) -> Iterator[Discrepancy]:
        ctx = self.ctx
        bsi, row = b
        day = ctx.snapshots[bsi].as_of
        if not ds:
            if row.status in ON_BOOKS:
                yield self._item(Category.IN_REGISTER_WITHOUT_BASIS, county, bureau, row.deciding_organ, {bureau},
                                 [(-1, None, ABSENT)], (bsi, row, row.status or ""))
            return
        d = next((d for d in ds if row.case_number and d.rec.case_number == row.case_number), ds[0])
        if _differs(row, d.rec) and all(_differs(row, r) for _, r in d.others):
            yield self._item(Category.TYPE_OR_PERIOD_MISMATCH, county, bureau, d.organ, {bureau, d.organ},
                             [(d.si, d.rec, _terms(d.rec))], (bsi, row, _terms(row)))
        said = row.status
        if said is not None:
            rec = d.rec
            if isinstance(rec, LedgerPerson):
                revoked = d.revocation is not None and _FAMILY[said] == "revoked"
                if (rec.status_since is None or rec.status_since <= day) and not revoked \
                        and _FAMILY[rec.status] != _FAMILY[said]:
                    yield self._item(Category.STATUS_MISMATCH, county, bureau, d.organ, {bureau, d.organ},
                                     [(-1, rec, rec.status)], (bsi, row, said))
                if rec.status is Status.UNDER_SUPERVISION and said is Status.IN_CUSTODY:
                    yield from self._custody_not_notified(county, bureau, rec, b)
            elif (d.revocation is not None or rec.status is Status.REVOKED) and _FAMILY[said] != "revoked":
                si, r = d.revocation or (d.si, rec)
                yield self._item(Category.STATUS_MISMATCH, county, d.organ, bureau, {bureau, d.organ},
                                 [(si, r, Status.REVOKED)], (bsi, row, said))
        if said is Status.UNDER_SUPERVISION:
            for si, w in self.wanted:
                if w.since is None or w.since <= day:
                    police = ctx.snapshots[si].agency
                    yield self._item(Category.STATUS_MISMATCH, county, bureau, police, {bureau, police},
                                     [(si, w, Status.AT_LARGE)], (bsi, row, said))
            for si, k in self.rows.get(_K, ()):
                if _ongoing(k, day):
                    police = ctx.snapshots[si].agency
                    yield self._item(Category.CUSTODY_VS_SUPERVISION, county, bureau, police, {bureau, police},
                                     [(si, k, Status.IN_CUSTODY)], (bsi, row, said))

    def _custody_not_notified(self, county: str, bureau: str, person: LedgerPerson, b: tuple[int, RegisterRow]
                              ) -> Iterator[Discrepancy]:
        """The police and the bureau hold the person, the ledger does not: the police owe the custody notice."""
        for si, k in self.rows.get(_K, ()):
            if _ongoing(k, self.ctx.snapshots[si].as_of):
                police = self.ctx.snapshots[si].agency
                yield self._item(Category.STATUS_MISMATCH, county, police, bureau, {police, bureau, LEDGER},
                                 [(si, k, Status.IN_CUSTODY), (*b, Status.IN_CUSTODY)], (-1, person, person.status))
                return

    def _police(self, county: str, bureau: str, person: LedgerPerson) -> Iterator[Discrepancy]:
        """The police lists against a ledger person whose revocation is in force."""
        if person.status not in (Status.AT_LARGE, Status.REVOKED):
            return
        ctx, since = self.ctx, person.status_since
        held = False
        for si, k in self.rows.get(_K, ()):
            day = ctx.snapshots[si].as_of
            if _ongoing(k, day) and (since is None or since <= day):
                held = True
                if person.status is Status.AT_LARGE:  # located: the police have not reported it
                    police = ctx.snapshots[si].agency
                    yield self._item(Category.STATUS_MISMATCH, county, police, bureau, {police, LEDGER},
                                     [(si, k, Status.IN_CUSTODY)], (-1, person, person.status))
        for si, w in self.wanted:
            if person.status is Status.REVOKED and (since is None or since <= ctx.snapshots[si].as_of):
                police = ctx.snapshots[si].agency  # recommitted, still listed as wanted
                yield self._item(Category.STATUS_MISMATCH, county, police, bureau, {police, LEDGER},
                                 [(-1, person, person.status)], (si, w, Status.AT_LARGE))
        if person.status is Status.AT_LARGE and not held and not self.wanted:
            wsi = ctx.list_for(RegisterKind.POLICE_WANTED, county)
            if wsi is not None and (since is None or since <= ctx.snapshots[wsi].as_of):
                police = ctx.snapshots[wsi].agency  # at large, and the county's police do not pursue
                yield self._item(Category.STATUS_MISMATCH, county, police, bureau, {police, LEDGER},
                                 [(-1, person, person.status)], ctx.absent(wsi))

    def _item(self, category: Category, county: str, acting: str, confirming: str | None, parties: set[str],
              refs: list[tuple[int, Record | None, str]], other: Side | tuple[int, Record, str]) -> Discrepancy:
        cited = [rec for _, rec, _ in refs if rec is not None]
        if not isinstance(other, Side):
            cited.append(other[1])
            other = self.ctx.side(*other)
        sides = (*(self.ctx.side(si, rec, value) if rec is not None else Side(LEDGER, None, value)
                   for si, rec, value in refs), other)
        if self.unmatched:
            match = MatchBy.UNMATCHED
        elif self.key.startswith("nb:") or any(id(r) in self.indirect for r in cited):
            match = MatchBy.NAME_AND_BIRTH
        else:
            match = MatchBy.ID_NUMBER
        ref, found = sides[0], sides[-1]
        id_number = id_key(self.first.id_number)
        who = id_number or "无身份证号 / no ID number"
        name = self.first.name
        zh = (f"{name}（{who}，执行地 {county}）：{_SOURCE_ZH[ref.source]}{ref.agency or ''}为“{_zh(ref.value)}”，"
              f"{_SOURCE_ZH[found.source]}{found.agency or ''}为“{_zh(found.value)}”。{CATEGORY_LABELS[category]}；"
              f"由 {acting} 处理" + (f"，{confirming} 确认。" if confirming else "。"))
        en = (f"{name} ({who}, county {county}): {_SOURCE_EN[ref.source]} {ref.agency or ''} says {ref.value}, "
              f"{_SOURCE_EN[found.source]} {found.agency or ''} says {found.value}. {CATEGORY_EN[category]}; "
              f"{acting} to act" + (f", {confirming} to confirm." if confirming else "."))
        return Discrepancy(discrepancy_id(category, self.key, parties), category, self.key, name, id_number, county,
                           acting, confirming, sides, match, zh, en.replace("  ", " "))


def _zh(value: str) -> str:
    if value == ABSENT:
        return "无此人"
    if value in _STATUS_ZH:
        return _STATUS_ZH[Status(value)]
    return _terms_zh(value)
