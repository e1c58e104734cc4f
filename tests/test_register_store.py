"""Register snapshots in the hub: judgments posted through the hub become the ledger; the
agencies' registers uploaded with planted discrepancies of every category are reconciled at once, each item found
once naming who acts; a corrected register resolves them; bad rows and bad files are reported and kept; each
agency sees and resolves only its own items. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree
from sqlalchemy import Engine, select, update

from adapters.ledger.columns import key
from hub import casework, register_store, rulebook
from hub.api.app import create_app
from hub.cli import main
from hub.core.reconcile import LedgerPerson, RegisterKind, Status
from hub.migrate import upgrade
from hub.registers import NS as RNS
from hub.registers import load_spec
from hub.registry import load_registry
from hub.store.db import make_engine
from hub.store.ledger_schema import ledger_cursor
from hub.store.register_schema import register_snapshots
from hub.store.schema import audit_log
from tests import hubserver
from tests.clock import today
from tests.conftest import Stack
from tests.harness import N, auth, make_id, notice, write_registry
from tests.hubserver import InProcessHub, hub_settings

COUNTY, BUREAU, POLICE, COURT = "530581", "530581SF", "530581GA", "530502FY"
TYPE_ZH = {"PROBATION": "缓刑", "CONTROL": "管制"}
DECISION_ZH = {"PROBATION": "宣告缓刑", "CONTROL": "判处管制"}
BUREAU_HEADER = ["序号", "姓名", "身份证号码", "案号", "决定机关", "矫正类别", "矫正起始日期", "矫正终止日期", "执行地",
                 "状态"]
COURT_HEADER = ["案号", "姓名", "身份证号码", "决定类型", "生效日期", "矫正类别", "矫正起始日期", "矫正终止日期",
                "执行地"]
CUSTODY_HEADER = ["姓名", "身份证号码", "羁押措施", "羁押机关", "羁押起始日期", "羁押结束日期"]


@dataclass(frozen=True)
class Person:
    seq: int
    name: str
    correction_type: str = "PROBATION"
    start: dt.date = dt.date(2026, 3, 31)
    months: int = 24

    @property
    def id_number(self) -> str:
        return make_id(COUNTY, f"19{70 + self.seq:02d}0{self.seq % 9 + 1}1{self.seq % 9}", self.seq)

    @property
    def case_number(self) -> str:
        return f"（2026）云0502刑初{100 + self.seq}号"

    @property
    def end(self) -> dt.date:
        return self.start.replace(year=self.start.year + self.months // 12) - dt.timedelta(days=1)

    def ledger(self, served: bool = True) -> LedgerPerson:
        return LedgerPerson(f"id:{self.id_number}", self.id_number, self.name, f"case-{self.seq}", self.case_number,
                            COURT, self.correction_type, self.start, self.end, COUNTY, Status.UNDER_SUPERVISION,
                            BUREAU, served, effective_on=self.start)

    def bureau_row(self, *, correction_type: str | None = None, status: str = "在册") -> list[str]:
        return [str(self.seq), self.name, self.id_number, self.case_number, COURT,
                TYPE_ZH[correction_type or self.correction_type], self.start.isoformat(), self.end.isoformat(),
                COUNTY, status]

    def court_row(self) -> list[str]:
        return [self.case_number, self.name, self.id_number, DECISION_ZH[self.correction_type],
                self.start.isoformat(), TYPE_ZH[self.correction_type], self.start.isoformat(),
                self.end.isoformat(), COUNTY]

    def custody_row(self, until: dt.date | None = None) -> list[str]:
        return [self.name, self.id_number, "刑事拘留", "530581KS", (today() - dt.timedelta(days=5)).isoformat(),
                until.isoformat() if until else ""]


def as_csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


# the county: two persons on whom every account agrees, and one for each category of discrepancy
CLEAN, CLEAN_CONTROL = Person(1, "杨国富"), Person(2, "李秀英", "CONTROL", dt.date(2026, 5, 6), 12)
MISSING, NO_BASIS, OTHER_TYPE = Person(3, "张伟"), Person(4, "王芳"), Person(5, "赵磊")
RELEASED_HERE, HELD = Person(6, "刘洋"), Person(7, "陈静")
DECIDED = [CLEAN, CLEAN_CONTROL, MISSING, OTHER_TYPE, RELEASED_HERE, HELD]  # NO_BASIS: no decision anywhere
OUTSIDER = Person(8, "孙强")  # in police custody, never under community corrections


def bureau_register(*, corrected: bool = False) -> bytes:
    if corrected:
        return as_csv(BUREAU_HEADER, [p.bureau_row() for p in DECIDED])
    rows = [p.bureau_row() for p in (CLEAN, CLEAN_CONTROL, HELD)]
    rows += [NO_BASIS.bureau_row(), OTHER_TYPE.bureau_row(correction_type="CONTROL"),
             RELEASED_HERE.bureau_row(status="解除")]
    return as_csv(BUREAU_HEADER, rows)


def custody_list(*, corrected: bool = False) -> bytes:
    held = HELD.custody_row(until=today() - dt.timedelta(days=2) if corrected else None)
    return as_csv(CUSTODY_HEADER, [held, OUTSIDER.custody_row()])


def as_xml(kind: str, agency: str, header: list[str], rows: list[list[str]]) -> bytes:
    """A register in its XML form (register.xsd), which names its own kind, keeper and day."""
    spec = load_spec(RegisterKind(kind))
    root = etree.Element(f"{{{RNS}}}register", {"kind": kind, "agency": agency, "asOf": today().isoformat()},
                         nsmap={None: RNS})  # type: ignore[dict-item]
    for values in rows:
        row = etree.SubElement(root, f"{{{RNS}}}row")
        for h, v in zip(header, values, strict=True):
            if v:
                etree.SubElement(row, f"{{{RNS}}}{spec.by_key[key(h)].element}").text = v
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# the items the county's registers should give: (category, person, acting agency, confirming agency)
EXPECTED = {
    ("decided_not_in_register", MISSING.id_number, BUREAU, None),
    ("in_register_without_basis", NO_BASIS.id_number, BUREAU, COURT),
    ("type_or_period_mismatch", OTHER_TYPE.id_number, BUREAU, COURT),
    ("status_mismatch", RELEASED_HERE.id_number, BUREAU, COURT),
    ("custody_vs_supervision", HELD.id_number, BUREAU, POLICE),
}


def found(items: list[dict[str, object]]) -> set[tuple[object, ...]]:
    return {(i["category"], i["id_number"], i["acting_agency"], i["confirming_agency"]) for i in items}


@pytest.fixture
def engine(stack: Stack) -> Iterator[Engine]:
    upgrade(stack.database_url)
    e = make_engine(stack.database_url, pool_size=2)
    yield e
    e.dispose()


def ledger_of(*persons: Person) -> register_store.People:
    return lambda _engine: [p.ledger() for p in persons]


def test_items_are_resolved_only_by_a_run_over_the_registers_they_came_from(engine: Engine) -> None:
    # Given a ledger of the county's decisions and the bureau's register, which lacks one of them
    people = ledger_of(*DECIDED)
    first = register_store.upload(engine, "bureau_register", as_csv(BUREAU_HEADER, [
        p.bureau_row() for p in DECIDED if p is not MISSING]), agency=BUREAU, as_of=today(), people=people)
    assert first.run is not None
    assert found(first.run.opened) == {("decided_not_in_register", MISSING.id_number, BUREAU, None)}
    (item,) = first.run.opened
    # When the police upload their list, the item is found again: touched, not opened twice
    second = register_store.upload(engine, "police_custody", as_csv(CUSTODY_HEADER, [OUTSIDER.custody_row()]),
                                   agency=POLICE, as_of=today(), people=people)
    assert second.run is not None and (second.run.opened, second.run.resolved, second.run.still_open) == ([], [], 1)
    # When a run compares only registers as of yesterday (none), the item is not judged: it stays open
    earlier = register_store.reconcile_now(engine, as_of=today() - dt.timedelta(days=1), people=people)
    assert (earlier.snapshots, earlier.resolved, earlier.still_open) == ([], [], 1)
    # When the bureau uploads its register with the person added
    third = register_store.upload(engine, "bureau_register", as_csv(BUREAU_HEADER, [p.bureau_row() for p in DECIDED]),
                                  agency=BUREAU, as_of=today(), people=people)
    # Then the item is resolved automatically, and stays on record
    assert third.run is not None and [i["id"] for i in third.run.resolved] == [item["id"]]
    (after,) = register_store.list_items(engine)
    assert (after["status"], after["resolved_by"]) == ("resolved", register_store.AUTOMATIC)
    assert after["first_seen"] == item["first_seen"] and "no longer found" in after["resolution"]
    # And each run is in the audit log with what it opened and resolved
    with engine.connect() as conn:
        runs = [json.loads(r.detail) for r in conn.execute(select(audit_log).where(audit_log.c.action == "reconcile")
                                                           .order_by(audit_log.c.id))]
    assert [(len(r["opened"]), len(r["resolved"])) for r in runs] == [(1, 0), (0, 0), (0, 0), (0, 1)]


def test_an_item_resolved_by_hand_stays_resolved_until_a_newer_register_shows_it(engine: Engine) -> None:
    # Given an open item: the register's correction type differs from the ledger's
    people = ledger_of(*DECIDED)
    register = bureau_register(corrected=True).replace("缓刑".encode(), "管制".encode(), 1)
    res = register_store.upload(engine, "bureau_register", register, agency=BUREAU, as_of=today(), people=people)
    assert res.run is not None
    (item,) = res.run.opened
    assert (item["category"], item["id_number"]) == ("type_or_period_mismatch", CLEAN.id_number)
    # When the bureau resolves it by hand (a note is required), audited
    with pytest.raises(ValueError, match="note"):
        register_store.resolve(engine, item["id"], by=f"{BUREAU}:王", note=" ")
    done = register_store.resolve(engine, item["id"], by=f"{BUREAU}:王", note="判决书载明为管制，台账有误")
    assert (done["status"], done["resolved_by"]) == ("resolved", f"{BUREAU}:王")
    with pytest.raises(register_store.AlreadyResolved):
        register_store.resolve(engine, item["id"], by="530500ZX:李", note="again")
    # Then a run over the same registers leaves it resolved
    register_store.upload(engine, "police_custody", as_csv(CUSTODY_HEADER, []), agency=POLICE, as_of=today(),
                          people=people)
    assert register_store.get_item(engine, item["id"])["status"] == "resolved"  # type: ignore[index]
    # But the same register uploaded again still shows it, and it reopens
    again = register_store.upload(engine, "bureau_register", register, agency=BUREAU, as_of=today(), people=people)
    assert again.run is not None and [i["id"] for i in again.run.reopened] == [item["id"]]
    reopened = register_store.get_item(engine, item["id"])
    assert reopened is not None and (reopened["status"], reopened["reopened"]) == ("open", 1)
    with engine.connect() as conn:
        entry = conn.execute(select(audit_log).where(audit_log.c.action == "discrepancy_resolve")).one()
    assert entry.actor == f"{BUREAU}:王" and "台账有误" in entry.detail


def test_nothing_is_compared_while_the_ledger_is_rebuilt(engine: Engine) -> None:
    # Given a ledger whose rebuild has not yet reached the messages stored when it began
    with engine.begin() as conn:
        casework.cursor(conn)
        conn.execute(update(ledger_cursor).values(rebuild_target=10))
    # When the bureau uploads its register
    res = register_store.upload(engine, "bureau_register", bureau_register(), agency=BUREAU, as_of=today())
    # Then the register is kept, but no item is opened from a half-built ledger
    assert res.error is None and res.run is not None and res.run.skipped and res.run.opened == []
    assert register_store.list_items(engine) == []
    # And once the rebuild is done, a run compares it (the ledger is empty: no one on the books has a basis)
    with engine.begin() as conn:
        conn.execute(update(ledger_cursor).values(rebuild_target=None))
    run = register_store.reconcile_now(engine)
    assert {i["category"] for i in run.opened} == {"in_register_without_basis"} and len(run.opened) == 5


@pytest.mark.parametrize(("keeper", "own", "foreign"), [("530523SF", "530523", "530521"),
                                                     ("530500SF", "530521", "530102")], ids=["county", "prefecture"])
def test_a_bureau_opens_no_item_in_a_county_it_does_not_cover(engine: Engine, keeper: str, own: str,
                                                              foreign: str) -> None:
    # Given a bureau's register with two persons on its books and no decision in the ledger: one placed in its
    # own jurisdiction, one in a county outside it
    rows = [[*p.bureau_row()[:8], county, *p.bureau_row()[9:]] for p, county in ((NO_BASIS, own), (CLEAN, foreign))]
    # When the bureau uploads it
    res = register_store.upload(engine, "bureau_register", as_csv(BUREAU_HEADER, rows), agency=keeper,
                                as_of=today(), people=ledger_of())
    # Then the row outside is rejected alone, the reason at its 执行地 cell; the other is compared
    assert res.error is None and res.run is not None
    assert (res.snapshot["rows"], res.snapshot["rejected"]) == (1, 1)
    reason = f"执行地: {foreign} 不在 {keeper} 的辖区内 / is outside the jurisdiction of {keeper}"
    assert res.snapshot["rejected_rows"] == [{"row": 3, "problems": [{"where": "CSV!I3", "reason": reason}]}]
    # And the only item is the one in its own jurisdiction: nobody in the other county is named to act
    assert [(i["county"], i["id_number"]) for i in register_store.list_items(engine)] == [(own, NO_BASIS.id_number)]


@pytest.mark.parametrize(("kind", "agency", "data", "as_of", "code", "status"), [
    ("bureau_register", BUREAU, "姓名,罪名\n张三,盗窃\n".encode(), 0, "bad_header", 400),
    ("bureau_register", BUREAU, b"PK\x03\x04 not a workbook", 0, "corrupt", 400),
    ("bureau_register", COURT, bureau_register(), 0, "wrong_agency", 403),
    ("bureau_register", BUREAU, bureau_register(), None, "invalid", 400),
    ("bureau_register", BUREAU, bureau_register(), 1, "invalid", 400),
    ("police_custody", POLICE, as_csv(CUSTODY_HEADER, [["张三", "", "刑拘", "X", "2026-02-30", ""]]), 0,
     "no_valid_rows", 422),
])
def test_a_file_that_cannot_be_compared_is_kept_with_its_reason(engine: Engine, kind: str, agency: str, data: bytes,
                                                                as_of: int | None, code: str, status: int
                                                                ) -> None:
    # Given a file refused whole, from the wrong agency, without or with a future day, or with no readable row
    # When uploaded
    day = None if as_of is None else today() + dt.timedelta(days=as_of)  # days from today; parameters are made early
    res = register_store.upload(engine, kind, data, agency=agency, filename="r.csv", as_of=day,
                                people=ledger_of(*DECIDED))
    # Then it is refused with its reason, nothing is reconciled, and the bytes are kept with the report
    assert res.error is not None and (res.error.code, res.error.status) == (code, status), res.error
    assert res.run is None and res.error.problems
    stored = register_store.get_snapshot(engine, res.snapshot["snapshot_id"], raw=True)
    assert stored is not None and stored["raw"] == data
    assert stored["status"] == ("rejected" if status == 422 else "refused") and stored["error"]["code"] == code
    assert register_store.list_items(engine) == []
    with engine.connect() as conn:
        assert conn.execute(select(register_snapshots.c.uploaded_by)).scalar_one() == agency


# ---- through the hub: judgments posted, the ledger projected, registers uploaded by the agencies ------------


def judgment(p: Person) -> bytes:
    def edit(root: etree._Element) -> None:
        def put(path: str, value: object) -> None:
            for el in root.iterfind(path, N):
                el.text = str(value)

        put("x:person/x:name", p.name)
        put("x:person/x:sex", "MALE" if int(p.id_number[16]) % 2 else "FEMALE")
        for path in ("x:envelope/x:correlationId", "x:case/x:caseNumber", "x:decision/x:documentNumber"):
            put(path, p.case_number)
        put("x:envelope/x:senderDocumentId", f"{p.case_number}-送达")
        put("x:envelope/x:sentAt", f"{p.start + dt.timedelta(days=2)}T09:30:00+08:00")
        put("x:case/x:correctionType", p.correction_type)
        for path in ("x:case/x:effectiveDate", "x:decision/x:effectiveOn", "x:case/x:supervisionPeriod/x:start"):
            put(path, p.start)
        put("x:case/x:supervisionPeriod/x:end", p.end)
        for path in ("x:case/x:decisionDate", "x:decision/x:decidedOn"):
            put(path, p.start - dt.timedelta(days=11))

    return notice("SentencingDecision", sender=COURT, id_number=p.id_number, execution_division=COUNTY,
                  edit=edit)[1]


@pytest.fixture
def hub(tmp_path: Path, stack: Stack) -> Iterator[tuple[InProcessHub, Path]]:
    registry = write_registry(tmp_path / "registry.toml", recipients_url="http://127.0.0.1:9", drop_root=tmp_path)
    h = InProcessHub(hub_settings(database_url=stack.database_url, broker_url=stack.broker_url,
                                  queue_prefix=stack.queue_prefix, registry_path=registry), workers=False).start()
    try:
        yield h, registry
    finally:
        h.stop()


def post_register(client: httpx.Client, kind: str, data: bytes, agency: str, **params: str) -> httpx.Response:
    return client.post(f"/api/v1/registers/{kind}", content=data, headers=auth(agency),
                       params={"as_of": today().isoformat(), "filename": "register.csv", **params})


def items_seen_by(client: httpx.Client, caller: str, **params: str) -> list[dict[str, Any]]:
    r = client.get("/api/v1/discrepancies", headers=auth(caller), params=params)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def test_planted_discrepancies_are_found_once_each_and_resolved_by_corrected_registers(
        hub: tuple[InProcessHub, Path]) -> None:
    server, registry = hub
    with server.client() as client:
        # Given the court's judgments posted through the hub and projected into the case ledger
        for p in DECIDED:
            assert client.post("/api/v1/messages", content=judgment(p), headers=auth(COURT)).status_code == 202
        engine = make_engine(server.settings.database_url, pool_size=1)
        try:
            casework.catch_up(engine, rules=rulebook.rules_in_force(engine),
                              calendar=rulebook.calendar_in_force(engine), directory=load_registry(registry))
            assert {p.id_number for p in casework.ledger_people(engine)} == {p.id_number for p in DECIDED}
        finally:
            engine.dispose()
        # And the court's list of its decisions and the police custody list, which agree with the ledger
        court = post_register(client, "court_decisions", as_csv(COURT_HEADER, [p.court_row() for p in DECIDED]),
                              COURT, period_start="2026-01-01")
        assert court.status_code == 201, court.text
        police = post_register(client, "police_custody", custody_list(), POLICE)
        assert police.status_code == 201 and police.json()["reconciliation"]["opened"] == []
        # When the bureau uploads its register, with one discrepancy of every category planted
        r = post_register(client, "bureau_register", bureau_register(), BUREAU)
        # Then each is found once, naming the agency that must act and the one that confirms, and nothing else
        assert r.status_code == 201, r.text
        run = r.json()["reconciliation"]
        assert len(run["opened"]) == len(EXPECTED) and found(run["opened"]) == EXPECTED
        assert len(run["snapshots"]) == 3 and r.json()["snapshot"]["rows"] == 6
        by_person = {i["id_number"]: i for i in items_seen_by(client, "530500ZX")}
        assert len(by_person) == len(EXPECTED)
        assert by_person[MISSING.id_number]["county"] == COUNTY
        assert by_person[OTHER_TYPE.id_number]["sides"][1]["value"] == "CONTROL 2026-03-31/2028-03-30"

        # Each agency sees the items it must act on or confirm; the operators all, filtered as asked
        assert found(items_seen_by(client, BUREAU)) == EXPECTED
        assert {i["id_number"] for i in items_seen_by(client, COURT)} == {
            NO_BASIS.id_number, OTHER_TYPE.id_number, RELEASED_HERE.id_number}
        assert [i["id_number"] for i in items_seen_by(client, POLICE)] == [HELD.id_number]
        assert items_seen_by(client, "530521SF") == []
        assert [i["id_number"] for i in items_seen_by(client, "530500ZX", category="custody_vs_supervision",
                                                      county=COUNTY, status="open")] == [HELD.id_number]
        assert len(items_seen_by(client, "530500ZX", agency=COURT)) == 3
        assert client.get("/api/v1/discrepancies", params={"status": "closed"},
                          headers=auth("530500ZX")).status_code == 400
        # The snapshot's report is for its uploader and the operators
        url = r.json()["status_url"]
        assert client.get(url, headers=auth(BUREAU)).json()["rows"] == 6
        assert client.get(url, headers=auth(COURT)).status_code == 404
        assert client.get(url, headers=auth("530500ZX")).status_code == 200

        # Only the acting agency (or an operator) resolves an item by hand, with a note
        no_basis = by_person[NO_BASIS.id_number]["id"]
        path = f"/api/v1/discrepancies/{no_basis}/resolve"
        assert client.post(path, json={"by": "法官", "note": "x"}, headers=auth(COURT)).status_code == 403
        assert client.post(path, json={"by": "民警", "note": "x"}, headers=auth(POLICE)).status_code == 404
        assert client.post(path, json={"by": "王科员", "note": " "}, headers=auth(BUREAU)).status_code == 422
        done = client.post(path, json={"by": "王科员", "note": "系外省转入，已补录决定书"}, headers=auth(BUREAU))
        assert done.status_code == 200 and done.json()["resolved_by"] == f"{BUREAU}:王科员"
        assert client.post(path, json={"by": "王科员", "note": "again"}, headers=auth(BUREAU)).status_code == 409

        # When the bureau uploads its corrected register, with one more row it typed badly
        bad = Person(9, "周敏", start=dt.date(2026, 2, 1))
        rows = [*(p.bureau_row() for p in DECIDED), [*bad.bureau_row()[:6], "2026-02-30", *bad.bureau_row()[7:]]]
        r = post_register(client, "bureau_register", as_csv(BUREAU_HEADER, rows), BUREAU)
        # Then the bad row is reported at its cell, the good rows counted, and the corrected items resolved
        assert r.status_code == 201, r.text
        snap = r.json()["snapshot"]
        assert (snap["rows"], snap["rejected"]) == (6, 1)
        ((problem,),) = [row["problems"] for row in snap["rejected_rows"]]
        assert problem["where"] == "CSV!G8" and "2026-02-30" in problem["reason"]
        resolved = r.json()["reconciliation"]["resolved"]
        assert {i["id_number"] for i in resolved} == {MISSING.id_number, OTHER_TYPE.id_number,
                                                      RELEASED_HERE.id_number}
        assert {i["resolved_by"] for i in resolved} == {register_store.AUTOMATIC}
        # And when the police list (in its XML form, naming its own day) shows the custody over, the last item is
        # resolved too
        xml = as_xml("police_custody", POLICE, CUSTODY_HEADER, [
            HELD.custody_row(until=today() - dt.timedelta(days=2)), OUTSIDER.custody_row()])
        r = post_register(client, "police_custody", xml, POLICE, as_of="", filename="custody.xml")
        assert r.status_code == 201 and r.json()["snapshot"]["format"] == "xml", r.text
        assert [i["id_number"] for i in r.json()["reconciliation"]["resolved"]] == [HELD.id_number]
        assert items_seen_by(client, "530500ZX", status="open") == []
        assert len(items_seen_by(client, "530500ZX", status="resolved")) == len(EXPECTED)


def test_the_api_refuses_what_cannot_be_compared_and_keeps_it(hub: tuple[InProcessHub, Path]) -> None:
    server, _ = hub
    with server.client() as client:
        # a header that does not fit: refused whole, naming the cell; the file is kept with its report
        r = post_register(client, "bureau_register", "姓名,罪名\n张三,盗窃\n".encode(), BUREAU)
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_header"
        assert any(d.get("path") == "CSV!B1" for d in r.json()["error"]["details"])
        assert client.get(r.json()["status_url"], headers=auth(BUREAU)).json()["status"] == "refused"
        # every row bad: 422 with each problem at its cell
        unreadable = as_csv(CUSTODY_HEADER, [["张三", "", "刑拘", "", "2026-13-01", ""]])
        r = post_register(client, "police_custody", unreadable, POLICE)
        assert r.status_code == 422 and {d["path"] for d in r.json()["error"]["details"]} == {"CSV!E2", "CSV!2:2"}
        # a court may not upload the bureau's register; an unknown kind or a bad day is refused and kept
        r = post_register(client, "bureau_register", bureau_register(), COURT)
        assert r.status_code == 403 and r.json()["error"]["code"] == "wrong_agency"
        r = post_register(client, "bureau_roster", bureau_register(), BUREAU)
        assert r.status_code == 404 and r.json()["quarantine_id"]
        r = post_register(client, "bureau_register", bureau_register(), BUREAU, as_of="30/11/2026")
        assert r.status_code == 400 and r.json()["error"]["details"][0]["path"] == "as_of"
        assert client.get(f"/api/v1/quarantine/{r.json()['quarantine_id']}",
                          headers=auth(BUREAU)).json()["raw_text"] == bureau_register().decode()
        assert client.post("/api/v1/registers/bureau_register", content=b"x").status_code == 401


def test_the_api_takes_today_from_the_apps_clock(tmp_path: Path, stack: Stack,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a hub whose clock stands at 2021-03-01 17:30 UTC, which is 2021-03-02 in Beijing
    moment = dt.datetime(2021, 3, 1, 17, 30, tzinfo=dt.UTC)
    monkeypatch.setattr(hubserver, "create_app", functools.partial(create_app, clock=lambda: moment))
    registry = write_registry(tmp_path / "registry.toml", recipients_url="http://127.0.0.1:9", drop_root=tmp_path)
    server = InProcessHub(hub_settings(database_url=stack.database_url, broker_url=stack.broker_url,
                                       queue_prefix=stack.queue_prefix, registry_path=registry), workers=False).start()
    try:
        with server.client() as client:
            # When the bureau uploads a register as of the day after, then it is refused: that day has not been
            r = post_register(client, "bureau_register", bureau_register(), BUREAU, as_of="2021-03-03")
            assert r.status_code == 400 and "after today (2021-03-02)" in r.json()["error"]["message"], r.text
            # When it uploads one as of the clock's day, then it is accepted and compared as of that day
            r = post_register(client, "bureau_register", bureau_register(), BUREAU, as_of="2021-03-02")
            assert r.status_code == 201 and r.json()["reconciliation"]["as_of"] == "2021-03-02", r.text
    finally:
        server.stop()


def test_the_cli_uploads_runs_lists_and_resolves(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--database-url", f"sqlite:///{tmp_path}/hub.db"]
    (tmp_path / "register.csv").write_bytes(bureau_register())
    # Given an empty ledger, the bureau's register is uploaded: every person on its books lacks a legal basis
    assert main([*db, "reconcile", "upload", "bureau_register", str(tmp_path / "register.csv"), "--agency", BUREAU,
                 "--as-of", today().isoformat(), "--by", "王科员"]) == 0
    assert "opened 5" in capsys.readouterr().out
    assert main([*db, "reconcile", "list", "--status", "open", "--json"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert {i["category"] for i in items} == {"in_register_without_basis"} and len(items) == 5
    # one is resolved by hand (audited); a second time is refused
    assert main([*db, "reconcile", "resolve", items[0]["id"], "--by", "李", "--note", "已核实"]) == 0
    capsys.readouterr()
    assert main([*db, "reconcile", "resolve", items[0]["id"], "--by", "李", "--note", "again"]) == 2
    assert "resolved" in capsys.readouterr().err
    # a run changes nothing more; the listing shows what is open in Chinese first
    assert main([*db, "reconcile", "run", "--by", "李"]) == 0
    assert "open now 4" in capsys.readouterr().out
    assert main([*db, "reconcile", "list", "--agency", BUREAU]) == 0
    out = capsys.readouterr().out
    assert "在册无法律依据" in out and "已解决" in out and "未解决" in out
    # a file that is no register is refused with exit code 2 and kept
    (tmp_path / "bad.csv").write_bytes("姓名,罪名\n张三,盗窃\n".encode())
    assert main([*db, "reconcile", "upload", "bureau_register", str(tmp_path / "bad.csv"), "--agency", BUREAU,
                 "--as-of", today().isoformat()]) == 2
    assert "bad_header" in capsys.readouterr().err
