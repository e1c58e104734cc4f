"""The console's obligations, pursuit drafts and person timeline, and the operator API behind them, through a hub on
both stacks: an overdue obligation listed for the agencies that owe it or are owed it and for no other, a note
recorded (on the obligation and the person's timeline, audited), a waiver with a reason (and the refusals: no
reason, already closed, the ledger rebuilding), a drafted pursuit request confirmed through the console and sent
as the bureau's message, another dismissed through the API with the session, what each role may not do, and one
person's messages, obligations and operators' actions in order."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from sqlalchemy import Engine, select

from hub import case_actions, casework, pursuits
from hub.canonical import load_schema
from hub.console import cases_data, i18n, pages_cases
from hub.core.obligations import ObligationStatus
from hub.registry import load_registry
from hub.service import Hub
from hub.store.alarm_schema import pursuit_drafts
from hub.store.db import make_engine, utcnow
from hub.store.operator_schema import obligation_notes
from hub.store.schema import audit_log
from tests.clock import today
from tests.conftest import Stack
from tests.console_harness import console_hub, sign_in
from tests.core.case_messages import CST, Case, id_number, message_id
from tests.harness import Recipients, auth, states, wait_until
from tests.hubserver import InProcessHub

DAY = dt.timedelta(days=1)
ACCOUNTS = [("zhang", "operator", "530500ZX"), ("boss", "supervisor", "530500ZX"), ("shen", "auditor", "530500ZX"),
            ("tc", "operator", "530581SF"), ("tcboss", "supervisor", "530581SF"), ("ly", "operator", "530502SF"),
            ("court", "operator", "530502FY")]


@dataclass
class Env:
    server: InProcessHub
    engine: Engine
    hub: Hub
    recipients: Recipients

    def client(self) -> httpx.Client:
        return self.server.client()

    def post(self, c: Case, what: str = "decision") -> str:
        mid = message_id("console-cases", c.number, what)
        with self.client() as client:
            r = client.post("/api/v1/messages", content=c.decision(mid, dt.datetime.now(CST)), headers=auth(c.court))
        assert r.status_code == 202, r.text
        return mid

    def projected(self) -> None:
        def done() -> bool:
            s = casework.status(self.engine)
            return bool(s["last_seq"] >= s["latest_seq"] and s["gaps"] == 0)
        wait_until(done, 30, what="the ledger to catch up")

    def obligation(self, c: Case, rule: str) -> dict[str, Any]:
        found = casework.list_obligations(self.engine, today=today(), rule=rule, limit=1000)["items"]
        (one,) = [o for o in found if o["case_number"] == c.number]
        return one

    def audit(self, action: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(audit_log).where(audit_log.c.action == action)
                                                  .order_by(audit_log.c.id)).mappings()]


@contextmanager
def ledger_env(stack: Stack, registry: Path, recipients: Recipients,
               accounts: list[tuple[str, str, str]]) -> Iterator[Env]:
    """A hub whose ledger follows quickly, with ``accounts``, and a Hub of its own on the same database."""
    with console_hub(stack, registry, accounts, settings={"ledger_poll": 0.2}) as server:
        engine = make_engine(server.settings.database_url, pool_size=2)
        hub = Hub(engine=engine, directory=load_registry(registry), schema=load_schema())
        yield Env(server, engine, hub, recipients)
        engine.dispose()


@pytest.fixture
def env(stack: Stack, registry: Path, recipients: Recipients) -> Iterator[Env]:
    with ledger_env(stack, registry, recipients, ACCOUNTS) as e:
        yield e


def late(n: int, *, days: int = 40, division: str = "530581") -> Case:
    """Person ``n`` on probation by 隆阳区's court, living in ``division``, the judgment in effect ``days`` ago and
    sent to the hub only now: the person's report (due 10 days after) is overdue, owed by the county's bureau to
    the court."""
    effective = today() - days * DAY
    birth = dt.date(1979, 5, 1) + dt.timedelta(days=83 * n)
    return Case(f"（2026）云0502刑初{8200 + n}号", "530502FY", "PROBATION", division, f"赵{'国春玉明建丽'[n % 6]}{n}",
                id_number(division, birth, 41 + 2 * n), True, birth, effective - 10 * DAY, effective,
                effective + 730 * DAY)


def row_ids(html: str, prefix: str) -> list[str]:
    return re.findall(rf'<tr id="{prefix}-([0-9a-f-]+)"', html)


# ---- obligations ------------------------------------------------------------------------------------------------

def test_an_overdue_obligation_is_listed_for_the_agencies_it_concerns_most_urgent_first(env: Env) -> None:
    # Given two judgments that reached the hub late, one 40 and one 20 days after taking effect, and nine more
    # persons in 施甸 (so that every obligation there is makes more than one page)
    older, newer = late(1), late(2, days=20)
    for c in (older, newer, *(late(10 + i, days=15, division="530521") for i in range(9))):
        env.post(c)
    env.projected()
    report_old, report_new = env.obligation(older, "report"), env.obligation(newer, "report")
    assert (report_old["status"], report_old["obligor"], report_old["obligee"]) == ("overdue", "530581SF", "530502FY")
    served_late = env.obligation(older, "serve_documents")
    assert served_late["status"] == "met_late"
    with env.client() as c:
        sign_in(c, "tc")  # 腾冲's bureau owes the reports
        page = c.get("/console/obligations")
        assert page.status_code == 200 and "已逾期" in page.text
        shown = row_ids(page.text, "ob")
        # Then the default list (due soon, due today, overdue) has both reports, the more overdue first, and not
        # what was met late; each row says how many days overdue
        assert report_old["id"] in shown and report_new["id"] in shown and served_late["id"] not in shown
        assert shown.index(report_old["id"]) < shown.index(report_new["id"])
        days = (today() - dt.date.fromisoformat(str(report_old["due_date"]))).days
        row = page.text.split(f'id="ob-{report_old["id"]}"')[1].split("</tr>")[0]
        assert f"<td>{days}</td>" in row and older.number in row and "报到" in row
        # And the row's link to the person names them by the case number: the address carries no ID number
        link = html_lib.unescape(re.search(r'href="(/console/persons/[^"]+)"', row)[1])  # type: ignore[index]
        assert older.id_number not in unquote(link) and unquote(link) == f"/console/persons/{older.number}"
        person = c.get(link)
        assert person.status_code == 200 and older.name in person.text and report_old["id"] in person.text
        # And the filters narrow it: by status, rule, county and agency (owed by or owed to)
        assert served_late["id"] in row_ids(c.get("/console/obligations", params={"state": "met_late"}).text, "ob")
        assert report_old["id"] in row_ids(c.get("/console/obligations", params={"rule": "report"}).text, "ob")
        assert row_ids(c.get("/console/obligations", params={"rule": "receipt", "state": "overdue"}).text, "ob") == []
        assert row_ids(c.get("/console/obligations", params={"county": "530521"}).text, "ob") == []
        assert report_old["id"] in row_ids(c.get("/console/obligations", params={"agency": "530502FY"}).text, "ob")
        detail = c.get(f"/console/obligations/{report_old['id']}")
        assert detail.status_code == 200 and "社区矫正法" in detail.text and older.id_number in detail.text
    with env.client() as c:
        sign_in(c, "court")  # 隆阳's court is owed the reports
        assert report_old["id"] in row_ids(c.get("/console/obligations").text, "ob")
    with env.client() as c:
        sign_in(c, "ly")  # 隆阳's bureau neither owes nor is owed them
        assert row_ids(c.get("/console/obligations", params={"state": "any"}).text, "ob") == []
        assert c.get(f"/console/obligations/{report_old['id']}").status_code == 404
        assert c.get(f"/api/v1/obligations/{report_old['id']}/notes").status_code == 404
    with env.client() as c:
        sign_in(c, "zhang")  # the hub's operators see every agency's, 50 to a page
        first = c.get("/console/obligations", params={"state": "any"})
        assert len(row_ids(first.text, "ob")) == 50 and 'id="next-page"' in first.text
        second = c.get("/console/obligations", params={"state": "any", "page_no": 2})
        assert set(row_ids(second.text, "ob")).isdisjoint(row_ids(first.text, "ob"))
        assert len(row_ids(first.text, "ob")) + len(row_ids(second.text, "ob")) == int(
            re.search(r"共 (\d+) 条", first.text).group(1))  # type: ignore[union-attr]
        assert {report_old["id"], report_new["id"]} <= set(row_ids(c.get("/console/obligations").text, "ob"))


def test_a_note_is_recorded_on_the_obligation_and_the_person_s_timeline_and_audited(env: Env) -> None:
    c1 = late(3)
    env.post(c1)
    env.projected()
    report = env.obligation(c1, "report")
    url = f"/console/obligations/{report['id']}"
    with env.client() as c:
        csrf = sign_in(c, "tc")
        assert 'id="note-form"' in c.get(url).text
        # an empty note is refused, saying so, and records nothing
        r = c.post(f"{url}/notes", data={"csrf": csrf, "note": "   "})
        assert r.status_code == 422 and "请填写处理情况" in r.text
        # a form without the session's CSRF token changes nothing
        assert c.post(f"{url}/notes", data={"csrf": "forged", "note": "x"}).status_code == 403
        # When the bureau's operator records what happened
        r = c.post(f"{url}/notes", data={"csrf": csrf, "note": "已电话联系本人，约定明日报到"})
        assert r.status_code == 303 and r.headers["location"].endswith("done=noted")
        # Then it is on the obligation, on the person's timeline, and through the API
        page = c.get(r.headers["location"])
        assert "已电话联系本人，约定明日报到" in page.text and "console:tc" in page.text
        timeline = c.get(f"/console/persons/{c1.id_number}")
        assert timeline.status_code == 200 and "已电话联系本人，约定明日报到" in timeline.text
        notes = c.get(f"/api/v1/obligations/{report['id']}/notes").json()
        assert [(x["note"], x["by"]) for x in notes["items"]] == [("已电话联系本人，约定明日报到", "console:tc")]
        # And the API records one too, with the session's CSRF token, and refuses an empty one
        api = f"/api/v1/obligations/{report['id']}/notes"
        assert c.post(api, json={"note": "送达回执已寄出"}).status_code == 403  # no CSRF token
        r = c.post(api, json={"note": ""}, headers={"x-csrf-token": csrf})
        assert r.status_code == 422 and r.json()["error"]["details"][0]["path"] == "note"
        r = c.post(api, json={"note": "送达回执已寄出"}, headers={"x-csrf-token": csrf})
        assert r.status_code == 201 and r.json()["by"] == "console:tc"
        assert c.post("/api/v1/obligations/nope/notes", json={"note": "x"},
                      headers={"x-csrf-token": csrf}).status_code == 404
    # the hub's API key works as well
    with env.client() as c:
        assert len(c.get(f"/api/v1/obligations/{report['id']}/notes", headers=auth("530500ZX")).json()["items"]) == 2
    with env.engine.connect() as conn:
        stored = conn.execute(select(obligation_notes).order_by(obligation_notes.c.at)).mappings().all()
    assert [(x["obligation_id"], x["case_key"], x["person_key"]) for x in stored] == [
        (report["id"], report["case_key"], report["person_key"])] * 2
    audited = env.audit("obligation_note")
    assert [(a["actor"], a["target"]) for a in audited] == [("console:tc", f"obligation:{report['id']}")] * 2
    assert json.loads(audited[0]["detail"])["note"] == "已电话联系本人，约定明日报到"


def test_a_supervisor_waives_with_a_reason_and_a_waiver_that_cannot_be_made_is_refused_saying_why(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    c1 = late(4)
    env.post(c1)
    env.projected()
    report, receipt = env.obligation(c1, "report"), env.obligation(c1, "receipt")
    url = f"/console/obligations/{report['id']}"
    with env.client() as c:
        csrf = sign_in(c, "zhang")  # an operator may record what happened, not waive
        page = c.get(url).text
        assert 'id="note-form"' in page and 'id="waive-form"' not in page
        assert c.post(f"{url}/waive", data={"csrf": csrf, "reason": "x"}).status_code == 403
        assert c.post(f"/api/v1/obligations/{report['id']}/waive", json={"reason": "x"},
                      headers={"x-csrf-token": csrf}).status_code == 403
    with env.client() as c:
        csrf = sign_in(c, "boss")
        assert 'id="waive-form"' in c.get(url).text
        # without a reason: refused, saying so
        r = c.post(f"{url}/waive", data={"csrf": csrf, "reason": " "})
        assert r.status_code == 422 and "请填写免除理由" in r.text
        # while the ledger is being rebuilt: refused, saying so, nothing changes
        with monkeypatch.context() as m:
            m.setattr(case_actions, "cursor", lambda conn: {"rebuild_target": 10 ** 9, "last_seq": 0})
            r = c.post(f"{url}/waive", data={"csrf": csrf, "reason": "本人住院"})
        assert r.status_code == 409 and "台账正在重建" in r.text
        assert env.obligation(c1, "report")["status"] == "overdue"
        # When the supervisor waives it with a reason
        r = c.post(f"{url}/waive", data={"csrf": csrf, "reason": "本人住院，法院已书面说明"})
        assert r.status_code == 303 and r.headers["location"].endswith("done=waived")
        page = c.get(r.headers["location"]).text
        assert "已免除" in page and "本人住院，法院已书面说明" in page and 'id="waive-form"' not in page
        # Then a second waiver is refused: the obligation is closed
        r = c.post(f"{url}/waive", data={"csrf": csrf, "reason": "again"})
        assert r.status_code == 409 and "已履行或已免除" in r.text
    ob = env.obligation(c1, "report")
    assert (ob["status"], ob["waived_by"], ob["waived_reason"]) == (
        "waived", "console:boss", "本人住院，法院已书面说明")
    (entry,) = env.audit("obligation_waive")
    assert (entry["actor"], entry["target"]) == ("console:boss", f"obligation:{report['id']}")
    assert json.loads(entry["detail"])["status_before"] == "overdue"
    # And 腾冲's supervisor waives the receipt through the API with the session: only with the CSRF token
    api = f"/api/v1/obligations/{receipt['id']}/waive"
    with env.client() as c:
        csrf = sign_in(c, "tcboss")
        assert c.post(api, json={"reason": "已当面送达"}).status_code == 403
        r = c.post(api, json={"reason": ""}, headers={"x-csrf-token": csrf})
        assert r.status_code == 422 and "reason" in r.json()["error"]["message"]
        r = c.post(api, json={"reason": "已当面送达"}, headers={"x-csrf-token": csrf})
        assert r.status_code == 200 and (r.json()["status"], r.json()["waived_by"]) == ("waived", "console:tcboss")
        assert c.post(api, json={"reason": "again"}, headers={"x-csrf-token": csrf}).status_code == 409
    with env.client() as c:
        assert c.post(api, json={"reason": "x"}).status_code == 401  # neither a key nor a session


# ---- pursuit drafts ---------------------------------------------------------------------------------------------

def drafts(env: Env) -> list[dict[str, Any]]:
    with env.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(pursuit_drafts).order_by(pursuit_drafts.c.case_key))
                .mappings()]


def test_a_drafted_pursuit_request_is_confirmed_through_the_console_and_sent_as_the_bureau_s(env: Env) -> None:
    # Given three persons who did not report, and the clock's drafter run today
    c1, c2, c3 = late(5), late(6), late(11)
    for c in (c1, c2, c3):
        env.post(c)
    env.projected()
    assert pursuits.refresh_drafts(env.hub, today=today(), now=utcnow()) == 3
    first, second, third = (next(d for d in drafts(env) if d["person_name"] == c.name) for c in (c1, c2, c3))
    # (the third person's report is then waived: its draft waits to be withdrawn by the clock's next run)
    casework.waive(env.engine, env.obligation(c3, "report")["id"], reason="本人已被羁押", by="530500ZX:李",
                   today=today())
    assert (first["status"], first["kind"], first["bureau"], first["police"]) == (
        "drafted", "ASSIST_SEARCH", "530581SF", "530581GA")
    url = f"/console/pursuits/{first['id']}"
    # Then another bureau's operators see neither, nor their detail
    with env.client() as c:
        sign_in(c, "ly")
        assert row_ids(c.get("/console/pursuits").text, "pu") == []
        assert c.get(url).status_code == 404
    # And an auditor sees them without the buttons, and is refused by the console and the API
    with env.client() as c:
        csrf = sign_in(c, "shen")
        page = c.get(url)
        assert page.status_code == 200 and 'id="confirm"' not in page.text and 'id="dismiss"' not in page.text
        assert c.post(f"{url}/confirm", data={"csrf": csrf}).status_code == 403
        r = c.post(f"/api/v1/pursuit-drafts/{first['id']}/confirm", headers={"x-csrf-token": csrf})
        assert r.status_code == 403 and "auditor" in r.text
    with env.client() as c:
        csrf = sign_in(c, "tc")  # 腾冲's bureau, whose drafts they are
        listing = c.get("/console/pursuits")
        assert set(row_ids(listing.text, "pu")) == {first["id"], second["id"], third["id"]}
        assert "待确认" in listing.text and f"社区矫正对象{c1.name}未按期报到" in listing.text
        # a draft whose obligation closed meanwhile says so, offers no confirmation, and is refused one
        page = c.get(f"/console/pursuits/{third['id']}")
        assert 'id="obligation-closed"' in page.text and 'id="confirm"' not in page.text
        r = c.post(f"/console/pursuits/{third['id']}/confirm", data={"csrf": csrf})
        assert r.status_code == 409 and "is no longer needed" in r.text
        r = c.post(f"/api/v1/pursuit-drafts/{third['id']}/confirm", headers={"x-csrf-token": csrf})
        assert r.status_code == 409 and "met or waived" in r.json()["error"]["message"]
        page = c.get(url)
        assert "&lt;PursuitRequest" in page.text and "未按期报到" in page.text and 'id="confirm"' in page.text
        assert c.post(f"{url}/confirm", data={"csrf": "forged"}).status_code == 403
        # When the bureau's operator confirms it
        r = c.post(f"{url}/confirm", data={"csrf": csrf})
        assert r.status_code == 303 and r.headers["location"].endswith("done=confirmed")
        assert "已确认发送" in c.get(r.headers["location"]).text
        # Then a second decision is refused, saying why
        r = c.post(f"{url}/dismiss", data={"csrf": csrf, "reason": "x"})
        assert r.status_code == 409 and "已处理或已撤回" in r.text
        # waiting ones only, by default
        assert set(row_ids(c.get("/console/pursuits").text, "pu")) == {second["id"], third["id"]}
        # And the other one is dismissed through the API with the session: a reason required
        api = f"/api/v1/pursuit-drafts/{second['id']}/dismiss"
        r = c.post(api, json={}, headers={"x-csrf-token": csrf})
        assert r.status_code == 422 and "reason" in r.json()["error"]["message"]
        r = c.post(api, json={"reason": "已电话联系，本人明日报到"}, headers={"x-csrf-token": csrf})
        assert r.status_code == 200 and (r.json()["status"], r.json()["status_by"]) == (
            "dismissed", "530581SF:console:tc")
    # Then the request went out as the bureau's own message, and the police receive it
    confirmed = next(d for d in drafts(env) if d["id"] == first["id"])
    assert (confirmed["status"], confirmed["status_by"]) == ("confirmed", "530581SF:console:tc")
    with env.client() as c:
        sent = c.get(f"/api/v1/messages/{first['message_id']}", headers=auth("530500ZX")).json()
    assert (sent["message_type"], sent["sender"], sent["channel"]) == ("PursuitRequest", "530581SF", "draft")
    wait_until(lambda: first["message_id"] in {r.message_id for r in env.recipients.got("530581GA")}, what="police")
    assert [(a["actor"], a["target"]) for a in env.audit("pursuit_confirm")] == [
        ("530581SF:console:tc", f"pursuit_draft:{first['id']}")]
    assert [a["target"] for a in env.audit("pursuit_dismiss")] == [f"pursuit_draft:{second['id']}"]
    assert next(d for d in drafts(env) if d["id"] == third["id"])["status"] == "drafted"  # nothing was sent


# ---- roles --------------------------------------------------------------------------------------------------------

def test_an_auditor_sees_no_action_and_the_api_refuses_each_one(env: Env) -> None:
    c1 = late(7)
    env.post(c1)
    env.projected()
    report = env.obligation(c1, "report")
    url = f"/console/obligations/{report['id']}"
    with env.client() as c:
        csrf = sign_in(c, "shen")
        page = c.get(url)
        assert page.status_code == 200 and 'id="note-form"' not in page.text and 'id="waive-form"' not in page.text
        assert c.post(f"{url}/notes", data={"csrf": csrf, "note": "x"}).status_code == 403
        assert c.post(f"{url}/waive", data={"csrf": csrf, "reason": "x"}).status_code == 403
        for path, body in ((f"/api/v1/obligations/{report['id']}/notes", {"note": "x"}),
                           (f"/api/v1/obligations/{report['id']}/waive", {"reason": "x"})):
            r = c.post(path, json=body, headers={"x-csrf-token": csrf})
            assert r.status_code == 403 and "auditor" in r.text, path
        assert c.get(f"/api/v1/obligations/{report['id']}/notes").status_code == 200  # reading is theirs
    assert env.audit("obligation_note") == [] and env.audit("obligation_waive") == []
    assert env.obligation(c1, "report")["status"] == "overdue"
    # and an agency's API key still answers as it did: only the hub's operators waive
    with env.client() as c:
        r = c.post(f"/api/v1/obligations/{report['id']}/waive", json={"reason": "x", "by": "李"},
                   headers=auth("530581SF"))
        assert r.status_code == 403
        assert c.post(f"/api/v1/obligations/{report['id']}/notes", json={"note": "x"},
                      headers=auth("530581SF")).status_code == 403


# ---- a person ---------------------------------------------------------------------------------------------------

def test_a_person_s_timeline_lists_messages_obligations_and_operators_actions_in_order(env: Env) -> None:
    # Given a judgment that 腾冲's bureau refuses (a failed transfer), a note and a waiver on the person's report
    env.recipients.modes["530581SF"] = "reject"
    c1 = late(8)
    mid = env.post(c1)
    with env.client() as c:
        wait_until(lambda: states(c, mid).get("530581SF") == "failed", what="failed transfer")
        ft = next(f["id"] for f in c.get("/api/v1/failed-transfers", headers=auth("530500ZX")).json()["items"]
                  if f["message_id"] == mid)
    env.projected()
    report = env.obligation(c1, "report")
    with env.client() as c:
        csrf = sign_in(c, "boss")
        assert c.post(f"/console/obligations/{report['id']}/notes",
                      data={"csrf": csrf, "note": "多次电话未接通"}).status_code == 303
        assert c.post(f"/console/obligations/{report['id']}/waive",
                      data={"csrf": csrf, "reason": "已查明本人在外地住院"}).status_code == 303
        # When an operator looks the person up by ID number from the search box
        r = c.get("/console/persons", params={"ref": c1.id_number})
        assert r.status_code == 303 and r.headers["location"] == f"/console/persons/{c1.id_number}"
        page = c.get(r.headers["location"])
        assert page.status_code == 200
        html = page.text
        # Then the page has the case, every obligation (linked), the failed transfer, and the timeline in order:
        # the judgment received, what the ledger made of it, the note, the waiver (ledger and operator)
        assert c1.number in html and f"/console/obligations/{report['id']}" in html
        assert html.count(f'href="/console/failed/{ft}"') >= 2  # in the list and on the message's line
        timeline = html.split('id="pe-timeline"')[1]
        marks = ["SentencingDecision", "产生期限事项", "多次电话未接通", "期限事项已免除", "免除期限事项"]
        where = [timeline.find(m) for m in marks]
        assert all(i >= 0 for i in where) and where == sorted(where), list(zip(marks, where, strict=True))
        assert "console:boss" in timeline and "已查明本人在外地住院" in timeline
        at = re.findall(r'<td class="nowrap">([0-9: -]+)</td>', timeline)
        assert at and at == sorted(at)
        # And the case number finds the same person
        by_case = c.get(f"/console/persons/{quote(c1.number, safe='')}")
        assert by_case.status_code == 200 and "多次电话未接通" in by_case.text
        assert c.get("/console/persons/530581199001011234").status_code == 404
    # An agency that sent or received a message about the person sees them; another does not
    with env.client() as c:
        sign_in(c, "tc")
        assert c.get(f"/console/persons/{c1.id_number}").status_code == 200
    with env.client() as c:
        sign_in(c, "ly")
        r = c.get(f"/console/persons/{c1.id_number}")
        assert r.status_code == 404 and "没有找到该人员" in r.text and "多次电话未接通" not in r.text


def test_the_pages_in_english_and_every_word_in_both_languages(env: Env) -> None:
    for key in [*(f"ob.status.{s.value}" for s in ObligationStatus), "ob.state.urgent", "ob.state.open",
                "ob.state.any", *(f"pu.status.{s}" for s in cases_data.DRAFT_STATUSES),
                *(f"pu.kind.{k.lower()}" for k in cases_data.KINDS),
                *(f"pe.source.{s}" for s in ("message", "delivery", "ledger", "note", "operator"))]:
        assert key in pages_cases.WORDS and all(pages_cases.WORDS[key]), key
    assert all(k.startswith(("ob.", "pu.", "pe.")) for k in pages_cases.WORDS)
    i18n.extend(pages_cases.WORDS)
    c1 = late(9)
    env.post(c1)
    env.projected()
    report = env.obligation(c1, "report")
    with env.client() as c:
        csrf = sign_in(c, "boss")
        assert c.post("/console/lang", data={"lang": "en", "csrf": csrf, "back": "/console/obligations"}
                      ).status_code == 303
        for path in ("/console/obligations", f"/console/obligations/{report['id']}", "/console/pursuits",
                     f"/console/persons/{c1.id_number}", "/console/persons"):
            page = c.get(path)
            assert page.status_code == 200, path
            assert not re.findall(r"\b(?:ob|pu|pe)\.[a-z_.]+[a-z]\b", page.text), path  # no key left untranslated
        assert "Obligations" in c.get("/console/obligations").text
        assert "overdue" in c.get(f"/console/obligations/{report['id']}").text
