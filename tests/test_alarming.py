"""Deadline notices through the hub, on SQLite and PostgreSQL: an unreceipted judgment climbs the escalation ladder
one notice per step on the days the rules say, a receipt sends one resolved notice, and every notice reaches its
agencies as canonical XML whatever their own format; a person who does not report gets a drafted pursuit request
that the bureau confirms (or that goes at once where the bureau chose so) and the police receive; a custody
notice withdraws the draft and silences the alarm. The hub runs in-process with a fake clock that the tests move
on, day by day, evaluating as the worker's clock does."""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from lxml import etree
from sqlalchemy import Engine, func, select

from hub import alarming, casework, pursuits, rulebook
from hub.api.app import create_app
from hub.canonical import load_schema
from hub.cli import main
from hub.core.model import Directory
from hub.migrate import upgrade
from hub.registry import load_registry
from hub.service import Hub
from hub.store.alarm_schema import alarm_notices, alarm_watch, pursuit_drafts
from hub.store.db import make_engine, utcnow
from hub.store.ingest import store_batch
from hub.store.ledger_schema import obligations
from hub.store.schema import audit_log, messages
from tests import hubserver
from tests.conftest import Stack
from tests.harness import NS, N, Recipients, auth, make_id, notice, wait_until, write_registry
from tests.hubserver import InProcessHub, hub_settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = dt.timedelta(days=1)
ADAPTERS = {"530581SF": "bureau", "530581GA": "police", "530581JC": "procuratorate"}


class FakeClock:
    """The deadline clock's time, moved on by the test."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class World:
    server: InProcessHub
    recipients: Recipients
    clock: FakeClock
    engine: Engine
    hub: Hub
    registry: Path
    today: dt.date  # the legal day the test's messages are received (the real one: ingest stamps real time)

    def at(self, day: dt.date) -> dt.datetime:
        """09:00 in Shanghai on ``day``."""
        return dt.datetime.combine(day, dt.time(9), tzinfo=SHANGHAI)

    def tick(self, day: dt.date) -> int:
        """The clock on ``day``: the ledger caught up, then one evaluation, as the worker's clock runs it."""
        self.clock.now = self.at(day)
        casework.catch_up(self.engine, rules=rulebook.rules_in_force(self.engine),
                          calendar=rulebook.calendar_in_force(self.engine), directory=self.hub.directory, wait=True)
        return alarming.run_clock(hub=self.hub, now=self.clock.now)

    def post(self, raw: bytes, sender: str) -> str:
        with self.server.client() as c:
            r = c.post("/api/v1/messages", content=raw, headers=auth(sender))
        assert r.status_code == 202, r.text
        return str(r.json()["message_id"])

    def get(self, path: str, as_agency: str, **params: Any) -> httpx.Response:
        with self.server.client() as c:
            return c.get(path, headers=auth(as_agency), params=params)


def world(tmp_path: Path, stack: Stack, monkeypatch: pytest.MonkeyPatch, *, auto: str | None = None) -> World:
    recipients = Recipients().start()
    registry = write_registry(tmp_path / "registry.toml", recipients_url=recipients.url, drop_root=tmp_path / "drop",
                              adapters=ADAPTERS)
    if auto:  # the bureau's own choice: drafted pursuit requests go at once
        text = registry.read_text(encoding="utf-8")
        registry.write_text(text.replace(f'code = "{auto}"\n', f'code = "{auto}"\nauto_pursuit = true\n'), "utf-8")
    start = utcnow()
    clock = FakeClock(start)
    monkeypatch.setattr(hubserver, "create_app", functools.partial(create_app, clock=clock))
    server = InProcessHub(hub_settings(database_url=stack.database_url, broker_url=stack.broker_url,
                                       queue_prefix=stack.queue_prefix, registry_path=registry,
                                       clock_interval=0.5, ledger_poll=0.2)).start()
    engine = make_engine(stack.database_url, pool_size=4)
    hub = Hub(engine=engine, directory=load_registry(registry), schema=load_schema())
    return World(server, recipients, clock, engine, hub, registry, start.astimezone(SHANGHAI).date())


@pytest.fixture
def w(tmp_path: Path, stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    env = world(tmp_path, stack, monkeypatch)
    yield env
    env.server.stop()
    env.engine.dispose()
    env.recipients.stop()


@pytest.fixture
def w_auto(tmp_path: Path, stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    env = world(tmp_path, stack, monkeypatch, auto="530581SF")
    yield env
    env.server.stop()
    env.engine.dispose()
    env.recipients.stop()


# ---- messages about one case, in effect on the day the test runs ------------------------------------------------

def _set(root: etree._Element, path: str, value: str) -> None:
    el = root.find("/".join(f"x:{p}" for p in path.split("/")), N)
    assert el is not None, path
    el.text = value


def judgment(effective: dt.date, *, n: int = 123, id_seq: int = 31) -> tuple[str, bytes]:
    """A probation judgment of 隆阳区's court, served complete on 腾冲市's bureau, in effect from ``effective``."""
    number = f"（2026）云0502刑初{n}号"

    def edit(root: etree._Element) -> None:
        for path, value in (("case/caseNumber", number), ("decision/documentNumber", number),
                            ("envelope/correlationId", number), ("case/decisionDate", str(effective - 11 * DAY)),
                            ("decision/decidedOn", str(effective - 11 * DAY)), ("case/effectiveDate", str(effective)),
                            ("decision/effectiveOn", str(effective)), ("case/supervisionPeriod/start", str(effective)),
                            ("case/supervisionPeriod/end", str(effective + 730 * DAY)),
                            ("decision/executionNotice/issuedOn", str(effective)),
                            ("decision/executionNotice/reportBy", str(effective + 10 * DAY))):
            _set(root, path, value)

    return notice("SentencingDecision", id_number=make_id("530522", "19880314", id_seq), edit=edit)


def about(sample: str, decision: bytes, sender: str, **values: str) -> tuple[str, bytes]:
    """A message of ``sample`` about the person and case of ``decision``, with body values set by path."""
    source = etree.fromstring(decision)

    def edit(root: etree._Element) -> None:
        for block in ("person", "case"):
            old, new = root.find(f"x:{block}", N), source.find(f"x:{block}", N)
            assert old is not None and new is not None
            root.replace(old, copy.deepcopy(new))
        _set(root, "envelope/correlationId", source.findtext("x:case/x:caseNumber", namespaces=N) or "")
        for path, value in values.items():
            _set(root, path, value)

    return notice(sample, sender=sender, edit=edit)


def obligation(w: World, rule_id: str) -> dict[str, Any]:
    with w.engine.connect() as c:
        return dict(c.execute(select(obligations).where(obligations.c.rule_id == rule_id)).mappings().one())


def receipt_notices(w: World, rule_id: str = "receipt") -> list[dict[str, Any]]:
    return [n for n in alarming.list_alarms(w.engine, limit=1000) if n["rule_id"] == rule_id]


# ---- the ladder ----------------------------------------------------------------------------------------------

def test_an_unreceipted_judgment_climbs_the_ladder_one_notice_per_step_and_a_receipt_resolves_it(w: World) -> None:
    # Given a judgment in effect today, served on 腾冲市's bureau, which never sends its receipt (回执)
    t = w.today
    decision_id, raw = judgment(t)
    w.post(raw, "530502FY")
    w.tick(t)
    owed = obligation(w, "receipt")
    due, soon = owed["due_date"], owed["soon_from"]
    assert owed["obligor"] == "530581SF" and due >= t + 5 * DAY and soon == due - owed["due_soon_days"] * DAY > t
    # When the clock runs every day until ten days past the due date (and twice on some days)
    sent_on: dict[str, dt.date] = {}
    day = t
    while day <= due + 10 * DAY:
        w.tick(day)
        assert w.tick(day) == 0  # a second evaluation the same day sends nothing
        for n in receipt_notices(w):
            sent_on.setdefault(n["step"], dt.date.fromisoformat(n["day"]))
        day += DAY
    # Then each step went once, on the day the rules and the ladder (3 and 10 days overdue) say
    assert sent_on == {"due_soon": soon, "due_today": due, "overdue": due + DAY,
                       "escalated_bureau_head": due + 3 * DAY, "escalated_joint_meeting": due + 10 * DAY}
    notices = receipt_notices(w)
    assert len(notices) == 5
    # And the circle widens: the bureau (office and county bureau head), then the joint-meeting office (the hub's
    # operators); the county's procuratorate has a copy of each
    circles = {n["step"]: sorted((r["role"], r["agency"], r["copy"]) for r in n["recipients"]) for n in notices}
    assert circles["overdue"] == [("office", "530581SF", "to"), ("procuratorate", "530581JC", "cc")]
    assert circles["escalated_joint_meeting"] == [
        ("bureau_head", "530581SF", "to"), ("joint_meeting", "530500ZX", "to"), ("office", "530581SF", "to"),
        ("procuratorate", "530581JC", "cc")]
    assert [n["days_overdue"] for n in notices] == [0, 0, 1, 3, 10]

    # When the bureau's receipt arrives at last, eleven days late
    w.clock.now = w.at(due + 11 * DAY)
    _, receipt = about("DocumentReceipt", raw, "530581SF", **{"receipt/receiptOf": decision_id,
                                                             "envelope/causationId": decision_id,
                                                             "receipt/receivedOn": str(t)})
    w.post(receipt, "530581SF")
    for later in range(11, 15):
        w.tick(due + later * DAY)
    # Then one resolved notice goes to everyone who was alarmed, saying how the ledger closed it, and then silence
    resolved = [n for n in receipt_notices(w) if n["step"] == "resolved"]
    assert len(resolved) == 1 and len(receipt_notices(w)) == 6
    met = obligation(w, "receipt")
    assert met["is_open"] == 0 and resolved[0]["outcome"] == ("met_late" if met["met_on"] > due else "met")
    assert resolved[0]["day"] == str(due + 11 * DAY) and resolved[0]["level"] == 2
    assert {r["role"] for r in resolved[0]["recipients"]} == {"office", "bureau_head", "joint_meeting",
                                                              "procuratorate"}

    # And every notice reached the bureau over HTTP as canonical XML, though its own system speaks another format
    ids = {n["message_id"] for n in receipt_notices(w)}
    wait_until(lambda: ids <= {r.message_id for r in w.recipients.got("530581SF")}, what="notices at 530581SF")
    for r in w.recipients.got("530581SF"):
        if r.message_id in ids:
            doc = etree.fromstring(r.body)
            assert doc.tag == f"{{{NS}}}DeadlineNotice" and doc.findtext("x:notice/x:ruleId", namespaces=N) == "receipt"
    # And the procuratorate's pull inbox hands them over as canonical XML too
    def inbox() -> list[dict[str, Any]]:
        return [i for i in w.get("/api/v1/inbox", "530581JC", limit=500).json()["items"] if i["message_id"] in ids]

    wait_until(lambda: len(inbox()) == 6, what="the procuratorate's inbox")
    mine = inbox()
    assert {i["format"] for i in mine} == {"canonical"} and not any("format_note" in i for i in mine)
    assert all("<DeadlineNotice" in i["payload"] and "回执" in i["payload"] for i in mine)
    # And the hub does not deliver to itself: the joint-meeting office reads its notices in the operators' list
    top = next(n for n in notices if n["step"] == "escalated_joint_meeting")
    status = w.get(f"/api/v1/messages/{top['message_id']}", "530500ZX").json()
    assert {d["recipient"] for d in status["recipients"]} == {"530581SF", "530581JC"}


def test_the_alarms_list_shows_an_agency_its_own_notices_and_operators_all(w: World,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    # Given a judgment of an earlier day whose report deadline has long passed, and the clock run today
    _, raw = judgment(w.today - 40 * DAY)
    w.post(raw, "530502FY")
    assert w.tick(w.today) >= 1
    everyone = w.get("/api/v1/alarms", "530500ZX").json()["notices"]
    # Then the bureau sees the notices it was sent, the procuratorate its copies, another county's bureau none
    assert everyone and all(n["step_zh"] for n in everyone)
    own = w.get("/api/v1/alarms", "530581SF").json()["notices"]
    assert [n["message_id"] for n in own] == [n["message_id"] for n in everyone
                                              if any(r["agency"] == "530581SF" for r in n["recipients"])]
    assert w.get("/api/v1/alarms", "530521SF").json()["notices"] == []
    assert w.get("/api/v1/alarms", "530581SF", agency="530521SF").status_code == 403
    assert w.get("/api/v1/alarms", "530500ZX", step="nonsense").status_code == 422
    # And paging with after= gives the rest
    first = w.get("/api/v1/alarms", "530500ZX", limit=1).json()
    rest = w.get("/api/v1/alarms", "530500ZX", after=first["next_after"]).json()["notices"]
    assert [n["message_id"] for n in first["notices"] + rest] == [n["message_id"] for n in everyone]
    # And `xianjie alarms` lists the same
    capsys.readouterr()
    assert main(["--database-url", w.server.settings.database_url, "--registry", str(w.registry),
                 "alarms", "--agency", "530581SF", "--json"]) == 0
    assert [n["message_id"] for n in json.loads(capsys.readouterr().out)] == [n["message_id"] for n in own]


def test_a_missing_calendar_year_alarms_the_operators_once_a_day_and_no_office_until_it_is_loaded(w: World) -> None:
    # Given two judgments in effect on 28 December 2026: the reports are due in January 2027, a year whose
    # working-day calendar the hub does not have
    for n, id_seq in ((125, 35), (126, 37)):
        w.post(judgment(dt.date(2026, 12, 28), n=n, id_seq=id_seq)[1], "530502FY")
    w.tick(dt.date(2026, 12, 28))
    with w.engine.connect() as c:
        waiting = c.execute(select(func.count()).select_from(obligations).where(
            obligations.c.calendar_missing_year == 2027, obligations.c.is_open == 1)).scalar()
    assert waiting is not None and waiting >= 2
    # When the clock runs twice on the 28th and once on the 29th
    w.tick(dt.date(2026, 12, 28))
    w.tick(dt.date(2026, 12, 29))
    # Then the operators (the joint-meeting office, 530500ZX) have one notice a day naming the year and the count,
    # and no office or procuratorate is sent anything about it
    gaps = [n for n in alarming.list_alarms(w.engine, limit=1000) if n["step"] == "calendar_missing"]
    assert [(n["day"], n["year"], n["waiting"], [(r["role"], r["agency"], r["copy"]) for r in n["recipients"]])
            for n in gaps] == [(str(dt.date(2026, 12, d)), 2027, waiting, [("joint_meeting", "530500ZX", "to")])
                               for d in (28, 29)]
    assert "2027年工作日历尚未载入" in gaps[0]["text_zh"]
    assert w.get("/api/v1/alarms", "530581SF", step="calendar_missing").json()["notices"] == []
    with w.engine.connect() as c:
        assert c.execute(select(func.count()).where(messages.c.message_type == "DeadlineNotice",
                                                    messages.c.sender_document_id.like("%calendar%"))).scalar() == 0
    # And the operators' list says how many obligations wait for which year; an agency's does not
    assert w.get("/api/v1/alarms", "530500ZX").json()["calendar_missing"] == [{"year": 2027, "waiting": waiting}]
    assert "calendar_missing" not in w.get("/api/v1/alarms", "530581SF").json()

    # When an operator loads 2027 and the ledger reschedules the obligations that waited
    rulebook.load_calendar_year(w.engine, "year = 2027\n[[day]]\nkind = 'holiday'\nname = '元旦'\n"
                                "from = 2027-01-01\nto = 2027-01-03\n", actor="530500ZX:李")
    casework.reschedule_open(w.engine, rules=rulebook.rules_in_force(w.engine),
                             calendar=rulebook.calendar_in_force(w.engine))
    day = dt.date(2026, 12, 30)
    while day <= dt.date(2027, 1, 8):
        w.tick(day)
        day += DAY
    # Then the operators hear no more of it, and the reports climb the normal ladder
    assert len([n for n in alarming.list_alarms(w.engine, limit=1000) if n["step"] == "calendar_missing"]) == 2
    assert w.get("/api/v1/alarms", "530500ZX").json()["calendar_missing"] == []
    reports = receipt_notices(w, "report")
    assert sorted((n["step"], n["day"]) for n in reports if n["step"] != "due_soon") == [
        ("due_today", "2027-01-07")] * 2 + [("overdue", "2027-01-08")] * 2
    assert all(r["agency"] != "530500ZX" for n in reports for r in n["recipients"])


def test_the_rules_in_force_default_to_the_deadline_clocks_day(w: World) -> None:
    w.clock.now = w.at(dt.date(2027, 3, 1))
    assert w.get("/api/v1/rules", "530581SF").json()["on"] == "2027-03-01"


# ---- drafted pursuit requests ----------------------------------------------------------------------------------

def report_due(w: World) -> dt.date:
    due = obligation(w, "report")["due_date"]
    assert isinstance(due, dt.date)
    return due


def drafts(w: World) -> list[dict[str, Any]]:
    with w.engine.connect() as c:
        return [dict(r) for r in c.execute(select(pursuit_drafts).order_by(pursuit_drafts.c.drafted_at)).mappings()]


def test_a_person_who_does_not_report_gets_a_draft_the_bureau_confirms_and_the_police_receive(
        w: World, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a judgment in effect today and a person who never reports
    t = w.today
    _, raw = judgment(t)
    w.post(raw, "530502FY")
    w.tick(t)
    due = report_due(w)
    # When the clock runs on the report's last day, nothing is drafted; the day after, one request is
    w.tick(due)
    assert drafts(w) == []
    w.tick(due + DAY)
    (d,) = drafts(w)
    assert (d["status"], d["kind"], d["bureau"], d["police"]) == ("drafted", "ASSIST_SEARCH", "530581SF", "530581GA")
    w.tick(due + 2 * DAY)
    assert len(drafts(w)) == 1  # one draft per case and obligation, however often the clock runs
    # Then the bureau sees its draft, another bureau and the police do not
    listed = w.get("/api/v1/pursuit-drafts", "530581SF", status="drafted").json()["drafts"]
    assert [x["id"] for x in listed] == [d["id"]]
    assert w.get("/api/v1/pursuit-drafts", "530521SF").json()["drafts"] == []
    assert w.get("/api/v1/pursuit-drafts", "530581GA").status_code == 403
    shown = w.get(f"/api/v1/pursuit-drafts/{d['id']}", "530581SF").json()
    assert "<PursuitRequest" in shown["canonical"] and "未按期报到" in shown["canonical"]
    with w.server.client() as c:
        url = f"/api/v1/pursuit-drafts/{d['id']}/confirm"
        # And only that bureau (or an operator) may confirm it, naming who does
        assert c.post(url, json={"by": "李四"}, headers=auth("530521SF")).status_code == 403
        refused = c.post(url, json={"by": " "}, headers=auth("530581SF"))
        assert refused.status_code == 422 and refused.json()["error"]["details"][0]["path"] == "by"
        # When the bureau confirms it
        r = c.post(url, json={"by": "张科长"}, headers=auth("530581SF"))
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["status_by"]) == ("confirmed", "530581SF:张科长")
        # And the request is stamped with the deadline clock's time, not the machine's
        sent_doc = etree.fromstring(next(x for x in drafts(w) if x["id"] == d["id"])["canonical"])
        assert (sent_doc.findtext("x:envelope/x:sentAt", namespaces=N),
                sent_doc.findtext("x:pursuit/x:requestedOn", namespaces=N)) == (
            w.clock.now.astimezone(SHANGHAI).isoformat(timespec="seconds"), str(due + 2 * DAY))
        assert c.post(url, json={"by": "张科长"}, headers=auth("530581SF")).status_code == 409
    # Then the hub sends it as the bureau's own request, and the police receive it (in their own format)
    sent = w.get(f"/api/v1/messages/{d['message_id']}", "530500ZX").json()
    assert (sent["message_type"], sent["sender"], sent["channel"]) == ("PursuitRequest", "530581SF", "draft")
    wait_until(lambda: d["message_id"] in {r.message_id for r in w.recipients.got("530581GA")}, what="police")
    with w.engine.connect() as c:
        audit = c.execute(select(audit_log).where(audit_log.c.action == "pursuit_confirm")).mappings().one()
    assert audit["actor"] == "530581SF:张科长" and audit["target"] == f"pursuit_draft:{d['id']}"
    # And once the ledger has the request, the clock drafts nothing more for the case
    w.tick(due + 3 * DAY)
    assert len(drafts(w)) == 1

    # Given a second person who does not report either
    _, other = judgment(t, n=124, id_seq=33)
    w.post(other, "530502FY")
    w.tick(due + 3 * DAY)
    second = next(x for x in drafts(w) if x["status"] == "drafted")
    db = ["--database-url", w.server.settings.database_url, "--registry", str(w.registry)]
    # When an operator dismisses it without a reason, it is refused; with one, it is dismissed and audited
    with w.server.client() as c:
        r = c.post(f"/api/v1/pursuit-drafts/{second['id']}/dismiss", json={"by": "王"}, headers=auth("530500ZX"))
        assert r.status_code == 422 and "reason" in r.json()["error"]["message"]
    why = "已电话联系，本人明日报到"
    assert main([*db, "pursuits", "dismiss", second["id"], "--by", "王科长", "--reason", why]) == 0
    assert {x["id"]: x["status"] for x in drafts(w)}[second["id"]] == "dismissed"
    capsys.readouterr()
    assert main([*db, "pursuits", "list", "--status", "dismissed", "--json"]) == 0
    (listed_dismissed,) = json.loads(capsys.readouterr().out)
    assert (listed_dismissed["status_by"], listed_dismissed["status_reason"]) == ("530500ZX:王科长", why)
    w.tick(due + 4 * DAY)
    assert sorted(x["status"] for x in drafts(w)) == ["confirmed", "dismissed"]  # a dismissed draft stays dismissed


def test_a_bureau_that_chose_auto_pursuit_has_the_request_sent_at_once(w_auto: World) -> None:
    w = w_auto
    # Given 腾冲市's bureau has chosen automatic sending, and a person who never reports
    _, raw = judgment(w.today)
    w.post(raw, "530502FY")
    w.tick(w.today)
    due = report_due(w)
    # When the report is overdue
    w.tick(due + DAY)
    # Then the request is sent at once, recorded as sent automatically, and the police receive it
    (d,) = drafts(w)
    assert (d["status"], d["status_by"]) == ("sent", "auto")
    wait_until(lambda: d["message_id"] in {r.message_id for r in w.recipients.got("530581GA")}, what="police")
    with w.engine.connect() as c:
        assert c.execute(select(messages.c.sender, messages.c.channel).where(
            messages.c.id == d["message_id"])).one() == ("530581SF", "draft")


def test_a_custody_notice_withdraws_the_draft_and_silences_the_alarm(w: World,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    # Given a person who did not report: the report is overdue, alarmed, and a request drafted
    t = w.today
    _, raw = judgment(t)
    w.post(raw, "530502FY")
    w.tick(t)
    due = report_due(w)
    w.tick(due + DAY)
    assert [n["step"] for n in receipt_notices(w, "report")] == ["overdue"]
    assert [x["status"] for x in drafts(w)] == ["drafted"]
    # When the police say the person has been in custody since before the deadline
    _, custody = about("CustodyNotice", raw, "530581GA", **{"custody/startedOn": str(t)})
    w.post(custody, "530581GA")
    db = ["--database-url", w.server.settings.database_url, "--registry", str(w.registry)]
    capsys.readouterr()
    assert main([*db, "clock", "run", "--now", w.at(due + 2 * DAY).isoformat()]) == 0
    assert "deadline notices sent" in capsys.readouterr().out
    for later in range(3, 13):
        w.tick(due + later * DAY)
    # Then the draft is withdrawn, saying why, and nobody confirms it
    (d,) = drafts(w)
    assert (d["status"], d["status_by"]) == ("withdrawn", "ledger") and "waived" in d["status_reason"]
    with w.server.client() as c:
        assert c.post(f"/api/v1/pursuit-drafts/{d['id']}/confirm", json={"by": "张"},
                      headers=auth("530581SF")).status_code == 409
    # And the alarm gets one resolved notice (waived) and no escalation after it
    steps = [(n["step"], n["outcome"]) for n in receipt_notices(w, "report")]
    assert steps == [("overdue", None), ("resolved", "waived")]


# ---- a crash between the notice and its message ----------------------------------------------------------------

@pytest.fixture
def bare(stack: Stack, tmp_path: Path) -> Iterator[tuple[Hub, Directory]]:
    upgrade(stack.database_url)
    engine = make_engine(stack.database_url, pool_size=2)
    registry = write_registry(tmp_path / "registry.toml", recipients_url="http://127.0.0.1:9", drop_root=tmp_path)
    directory = load_registry(registry)
    yield Hub(engine=engine, directory=directory, schema=load_schema()), directory
    engine.dispose()


def in_ledger(hub: Hub, directory: Directory, raw: bytes) -> None:
    """Store the court's message and project it into the ledger."""
    agency = directory.get("530502FY")
    assert agency is not None
    hub.ingest(raw, agency=agency)
    casework.catch_up(hub.engine, rules=rulebook.rules_in_force(hub.engine),
                      calendar=rulebook.calendar_in_force(hub.engine), directory=directory)


def test_a_crash_before_commit_sends_nothing_and_the_next_run_sends_each_notice_once(
        bare: tuple[Hub, Directory], monkeypatch: pytest.MonkeyPatch) -> None:
    hub, directory = bare
    # Given a judgment whose deadlines have passed, in the ledger
    in_ledger(hub, directory, judgment(dt.date(2026, 3, 31))[1])
    now = dt.datetime.now(dt.UTC)

    def counts() -> tuple[int, int, int]:
        with hub.engine.connect() as c:
            pairs = c.execute(select(func.count()).select_from(
                select(alarm_notices.c.obligation_id, alarm_notices.c.step).distinct().subquery())).scalar()
            sent = c.execute(select(func.count()).where(messages.c.message_type == "DeadlineNotice")).scalar()
            deliveries = c.execute(select(func.count()).select_from(alarm_notices)).scalar()
        return int(pairs or 0), int(sent or 0), int(deliveries or 0)

    # When the process dies after writing the notices and their messages but before the commit
    real = store_batch

    def crash(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)
        raise RuntimeError("killed before commit")

    monkeypatch.setattr(alarming, "store_batch", crash)
    with pytest.raises(RuntimeError, match="killed"):
        alarming.run_clock(hub=hub, now=now)
    # Then nothing was sent, and nothing is recorded as sent
    assert counts() == (0, 0, 0)
    # And the next run sends each notice once, with one message per (obligation, step), and a third sends nothing
    monkeypatch.setattr(alarming, "store_batch", real)
    first = alarming.run_clock(hub=hub, now=now)
    assert first >= 1 and alarming.run_clock(hub=hub, now=now) == 0
    pairs, sent, rows = counts()
    assert pairs == sent == first and rows >= 2 * first  # each to its office and copied to the procuratorate
    with hub.engine.connect() as c:
        ids = [r.id for r in c.execute(select(messages.c.id).where(messages.c.message_type == "DeadlineNotice"))]
    assert all(re.fullmatch(r"[0-9a-f-]{36}", i) for i in ids) and len(set(ids)) == len(ids)


def test_only_a_bureau_may_choose_automatic_pursuit_requests(tmp_path: Path) -> None:
    registry = write_registry(tmp_path / "r.toml", recipients_url="http://127.0.0.1:9", drop_root=tmp_path)
    base = registry.read_text("utf-8")
    for code, value, error in (("530581GA", "true", "auto_pursuit is a bureau's choice"),
                               ("530581SF", '"yes"', "auto_pursuit must be true or false")):
        bad = tmp_path / f"{code}.toml"
        bad.write_text(base.replace(f'code = "{code}"\n', f'code = "{code}"\nauto_pursuit = {value}\n'), "utf-8")
        with pytest.raises(ValueError, match=error):
            load_registry(bad)
    good = tmp_path / "good.toml"
    good.write_text(base.replace('code = "530581SF"\n', 'code = "530581SF"\nauto_pursuit = true\n'), "utf-8")
    assert [a.code for a in load_registry(good).agencies.values() if a.auto_pursuit] == ["530581SF"]


def test_a_run_with_nothing_new_reads_nothing_and_each_obligation_is_looked_at_again_on_its_day(
        bare: tuple[Hub, Directory]) -> None:
    hub, directory = bare
    # Given a judgment in effect on Mon 1 Jun 2026, in the ledger, with its obligations (notice, documents,
    # report) falling due over the following weeks
    in_ledger(hub, directory, judgment(dt.date(2026, 6, 1))[1])

    def at(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(10), tzinfo=SHANGHAI)

    def looked_at(day: dt.date) -> set[str]:
        with hub.engine.connect() as c:
            return {r.id for r in alarming._candidates(c, day)}

    def bookmarks() -> dict[str, dt.date]:
        with hub.engine.connect() as c:
            return {r.obligation_id: r.next_on for r in c.execute(select(alarm_watch))}

    with hub.engine.connect() as c:
        open_ids = {r.id for r in c.execute(select(obligations.c.id).where(obligations.c.is_open == 1))}
    # When the clock runs on a day when some are due soon or overdue
    day = dt.date(2026, 6, 12)
    first = looked_at(day)
    assert first and alarming.run_clock(hub=hub, now=at(day)) >= 1
    # Then each one it looked at is bookmarked for a later day, and a second run that day looks at nothing
    marks = bookmarks()
    assert set(marks) == first and all(d > day for d in marks.values())
    assert looked_at(day) == set() and alarming.run_clock(hub=hub, now=at(day)) == 0
    # And on the first bookmarked day exactly the obligations bookmarked for it (or newly due soon) come back,
    # and each gets its next notice
    nxt = min(marks.values())
    back = looked_at(nxt)
    assert {o for o, d in marks.items() if d == nxt} <= back <= open_ids
    assert alarming.run_clock(hub=hub, now=at(nxt)) >= len({o for o, d in marks.items() if d == nxt})
    assert looked_at(nxt) == set()
    # And an obligation whose due date moves (a rule or calendar change) is looked at again at once
    moved = sorted(first)[0]
    with hub.engine.begin() as c:
        c.execute(obligations.update().where(obligations.c.id == moved).values(
            due_date=nxt + 40 * DAY, soon_from=nxt))
    assert looked_at(nxt) == {moved}


def test_the_drafter_looks_at_a_case_once_a_day_until_it_changes(bare: tuple[Hub, Directory],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    hub, directory = bare
    # Given a person who never reported (the report was due 11 Jun) and was then reported out of contact: the
    # search for the lost contact is drafted, and the overdue report stays owed with no draft of its own
    _, raw = judgment(dt.date(2026, 6, 1))
    in_ledger(hub, directory, raw)
    _, lost = about("SupervisionEvent", raw, "530581SF", **{"event/kind": "LOST_CONTACT",
                                                            "event/occurredOn": "2026-06-20"})
    bureau = directory.get("530581SF")
    assert bureau is not None
    hub.ingest(lost, agency=bureau)
    casework.catch_up(hub.engine, rules=rulebook.rules_in_force(hub.engine),
                      calendar=rulebook.calendar_in_force(hub.engine), directory=directory)
    decoded: list[str] = []
    real = pursuits.decode_state

    def counting(text: str) -> Any:
        state = real(text)
        decoded.append(state.case_key)
        return state

    monkeypatch.setattr(pursuits, "decode_state", counting)

    def run(day: dt.date) -> int:
        decoded.clear()
        return pursuits.refresh_drafts(hub, today=day, now=dt.datetime.combine(day, dt.time(10), tzinfo=SHANGHAI))

    # When the drafter runs: one draft, for the search
    assert run(dt.date(2026, 6, 22)) == 1 and len(decoded) == 1
    assert [d["kind"] for d in drafts_of(hub)] == ["ASSIST_SEARCH"]
    # Then later that day the unchanged case is not read again, the next day it is, and nothing is drafted twice
    assert run(dt.date(2026, 6, 22)) == 0 and decoded == []
    assert run(dt.date(2026, 6, 23)) == 0 and len(decoded) == 1
    assert run(dt.date(2026, 6, 23)) == 0 and decoded == []
    assert len(drafts_of(hub)) == 1


def drafts_of(hub: Hub) -> list[dict[str, Any]]:
    with hub.engine.connect() as c:
        return [dict(r) for r in c.execute(select(pursuit_drafts)).mappings()]
