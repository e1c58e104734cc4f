"""What the console shows, through the operator API, on both stacks: the audit log (auditors and administrators),
the dashboard's figures and one failed transfer whole (its payloads' view audited), and the obligation and
pursuit-draft lists with a console session; each with the hub's API key or a session (no CSRF token to read),
refused to a role that may not read it and to an agency's key, 401 without either, and held to the operator's
agency as the pages are. A scoped operator's dashboard counts the obligations their list lists; a person's timeline
is seen by one rule on the person's page and with a failed transfer through the API; a session idle too long ends,
on a page and on the API."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select, update

from hub import audit, operators, pursuits
from hub.console import cases_data, data
from hub.core.facts import legal_day
from hub.store.db import utcnow
from hub.store.operator_schema import operator_sessions
from hub.store.schema import audit_log
from tests.clock import today
from tests.conftest import Stack
from tests.console_harness import sign_in
from tests.harness import Recipients, auth, notice, states, wait_until
from tests.test_console import PERSON, failed_transfer
from tests.test_console_cases import Env, late, ledger_env

ACCOUNTS = [("zhang", "operator", "530500ZX"), ("shen", "auditor", "530500ZX"), ("root", "administrator", "530500ZX"),
            ("tc", "operator", "530581SF"), ("ly", "operator", "530502SF"), ("court", "operator", "530502FY"),
            ("sd", "operator", "530521SF"), ("ga", "operator", "530581GA")]
HUB_KEY = auth("530500ZX")
BUREAU_KEY = auth("530581SF")


@pytest.fixture
def env(stack: Stack, registry: Path, recipients: Recipients) -> Iterator[Env]:
    with ledger_env(stack, registry, recipients, ACCOUNTS) as e:
        yield e


@contextmanager
def session(env: Env, username: str) -> Iterator[httpx.Client]:
    """A client signed in to the console as ``username``."""
    with env.client() as c:
        sign_in(c, username)
        yield c


def audited(engine: Engine, action: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [(r.actor, r.target) for r in conn.execute(
            select(audit_log.c.actor, audit_log.c.target).where(audit_log.c.action == action).order_by(audit_log.c.id))]


def aware_iso(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    assert value.tzinfo is not None, text
    return value


# ---- the audit log ----------------------------------------------------------------------------------------------

def test_the_audit_log_is_read_through_the_api_as_its_page_shows_it_by_auditors_only(env: Env) -> None:
    # Given sixty entries about things, besides the sign-ins
    start = utcnow() - dt.timedelta(hours=1)
    with env.engine.begin() as conn:
        for i in range(60):  # through hub.audit.record, the one writer of the chained log
            audit.record(conn, at=start + dt.timedelta(seconds=i), actor="console:robot", action="probe",
                         target=f"thing:{i}", detail=f'{{"n": {i}}}')
    with session(env, "shen") as c:  # an auditor
        # the same filters and pages as the console's page: newest first, 50 to a page
        first = c.get("/api/v1/audit-log", params={"action": "probe"})
        assert first.status_code == 200, first.text
        body = first.json()
        assert (body["total"], body["page"], body["pages"], len(body["items"])) == (60, 1, 2, 50)
        assert [x["target"] for x in body["items"]] == [f"thing:{i}" for i in range(59, 9, -1)]
        one = body["items"][0]
        assert (one["actor"], one["action"], one["detail"]) == ("console:robot", "probe", '{"n": 59}')
        assert aware_iso(one["at"]) == start + dt.timedelta(seconds=59)
        second = c.get("/api/v1/audit-log", params={"action": "probe", "page": 2}).json()
        assert [x["target"] for x in second["items"]] == [f"thing:{i}" for i in range(9, -1, -1)]
        assert c.get("/api/v1/audit-log", params={"action": "probe", "page": 0}).json()["items"] == body["items"]
        # who (a part of the name), what (exactly), which object (a part)
        assert {x["target"] for x in c.get("/api/v1/audit-log", params={"target": "thing:5"}).json()["items"]} == \
            {"thing:5", *(f"thing:{i}" for i in range(50, 60))}
        mine = c.get("/api/v1/audit-log", params={"actor": "she"}).json()
        assert mine["total"] == 1 and (mine["items"][0]["actor"], mine["items"][0]["action"]) == (
            "console:shen", "sign_in")
        assert c.get("/api/v1/audit-log", params={"action": "prob"}).json()["total"] == 0
        # the page shows the same entries
        page = c.get("/console/audit", params={"action": "probe", "target": "thing:5"})
        api = c.get("/api/v1/audit-log", params={"action": "probe", "target": "thing:5"}).json()["items"]
        assert page.status_code == 200
        assert re.findall(r'<td class="wrap">(thing:\d+)</td>', page.text) == [x["target"] for x in api]
    with session(env, "root") as c:  # an administrator
        assert c.get("/api/v1/audit-log", params={"action": "probe"}).json()["total"] == 60
    # an operator, even the hub's, may not read the audit log; an agency's key neither; nobody without either
    for name in ("zhang", "tc"):
        with session(env, name) as c:
            r = c.get("/api/v1/audit-log")
            assert r.status_code == 403 and "operator" in r.json()["error"]["message"], name
    with env.client() as c:
        assert c.get("/api/v1/audit-log").status_code == 401
        assert c.get("/api/v1/audit-log", headers=BUREAU_KEY).status_code == 403
        assert c.get("/api/v1/audit-log", params={"action": "probe"}, headers=HUB_KEY).json()["total"] == 60


# ---- the dashboard ----------------------------------------------------------------------------------------------

def test_the_dashboard_through_the_api_has_the_page_s_figures_in_the_caller_s_scope(env: Env) -> None:
    with env.client() as c:
        failed_transfer(c, env.recipients)  # a judgment from 隆阳's court that 腾冲's bureau refused
        whole = c.get("/api/v1/dashboard", headers=HUB_KEY)
        assert whole.status_code == 200, whole.text
        assert c.get("/api/v1/dashboard").status_code == 401
        assert c.get("/api/v1/dashboard", headers=BUREAU_KEY).status_code == 403
    figures = whole.json()
    assert figures["scope"] is None and figures["days"] == 14 and len(figures["series"]) == 14
    assert dt.date.fromisoformat(figures["today"]) == legal_day(utcnow())
    assert (figures["series"][-1]["day"], figures["series"][-1]["in"], figures["series"][-1]["out"]) == (
        figures["today"], 1, 3)
    assert figures["failed_total"] == 1 and figures["failed"]["rejected"]["lt1d"] == 1
    assert {f["agency"]: (f["sent"], f["received"]) for f in figures["flows"]}["530502FY"] == (1, 0)
    with session(env, "tc") as c:  # the bureau that refused: its own figures, as its page draws them
        mine = c.get("/api/v1/dashboard").json()
        page = c.get("/console/dashboard").text
    expected = data.dashboard(env.engine, scope="530581SF", now=utcnow())
    assert mine["scope"] == "530581SF"
    assert (mine["series"][-1]["in"], mine["series"][-1]["out"]) == (0, 1)
    assert [f["agency"] for f in mine["flows"]] == [f["agency"] for f in expected["flows"]] == ["530581SF"]
    assert mine["failed"] == expected["failed"] and mine["failed_total"] == 1 and mine["queue"] == expected["queue"]
    assert re.search(r'href="/console/failed\?cause=rejected&age=lt1d">1<', page.replace("&amp;", "&"))
    with session(env, "ly") as c:  # a bureau with no part in it
        other = c.get("/api/v1/dashboard").json()
    assert other["scope"] == "530502SF" and other["failed_total"] == 0 and other["series"][-1]["out"] == 0


# ---- one failed transfer ------------------------------------------------------------------------------------------

def test_a_failed_transfer_whole_through_the_api_its_payloads_view_audited(env: Env) -> None:
    with env.client() as c:
        mid, ft = failed_transfer(c, env.recipients)
    with env.client() as c:
        csrf = sign_in(c, "zhang")
        edited = c.get(f"/api/v1/failed-transfers/{ft}", params={"reason": "correct_data"}).json()[
            "canonical"].replace("盗窃罪", "诈骗罪")
        assert c.post(f"/api/v1/failed-transfers/{ft}/edits", json={"payload": edited, "reason": "更正罪名"},
                      headers={"x-csrf-token": csrf}).status_code == 201
    with session(env, "tc") as c:  # the recipient's operator; no CSRF token needed to read
        assert "canonical" not in c.get(f"/api/v1/failed-transfers/{ft}").json()  # payloads for a stated reason
        r = c.get(f"/api/v1/failed-transfers/{ft}", params={"reason": "check_failure"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["id"], got["message_id"], got["recipient"], got["sender"]) == (ft, mid, "530581SF", "530502FY")
    assert (got["cause"], got["status"], got["message_type"], got["id_number"]) == (
        "rejected", "open", "SentencingDecision", PERSON)
    assert "<offence>盗窃罪</offence>" in got["canonical"] and "<offence>盗窃罪</offence>" in got["raw"]
    aware_iso(got["created_at"])
    aware_iso(got["received_at"])
    # every attempt of its delivery with its error, the message's deliveries, the edit with its diff
    assert got["attempts"] and all(a["delivery_id"] in (None, got["delivery_id"]) for a in got["attempts"])
    assert "failed" in [a["kind"] for a in got["attempts"]]
    assert {d["recipient"]: d["state"] for d in got["deliveries"]}["530581SF"] == "failed"
    assert [(e["status"], e["submitted_by"]) for e in got["edits"]] == [("pending", "console:zhang")]
    assert "+    <offence>诈骗罪</offence>" in got["edits"][0]["diff"]
    assert got["files"] == []
    # the person's timeline, this message's lines marked
    assert {x["message_id"] for x in got["timeline"] if x["current"]} == {mid}
    assert [x["message_type"] for x in got["timeline"] if x["source"] == "message"] == ["SentencingDecision"]
    # the same as the console's data for its scope, and the view is on the record
    same = data.failed_one(env.engine, ft, scope="530581SF", now=utcnow())
    assert same is not None and {k: got[k] for k in ("canonical", "raw", "cause", "detail")} == {
        k: same[k] for k in ("canonical", "raw", "cause", "detail")}
    assert audited(env.engine, "view_payload").count(("console:tc", f"failed_transfer:{ft}")) == 1
    # an auditor reads it too; so does the hub's key (named in the audit log by its agency)
    with session(env, "shen") as c:
        assert c.get(f"/api/v1/failed-transfers/{ft}", params={"reason": "supervision"}).status_code == 200
    with env.client() as c:
        assert c.get(f"/api/v1/failed-transfers/{ft}", params={"reason": "supervision"},
                     headers=HUB_KEY).json()["id"] == ft
        # nobody without a key or a session; an agency's key is not an operator's
        assert c.get(f"/api/v1/failed-transfers/{ft}").status_code == 401
        assert c.get(f"/api/v1/failed-transfers/{ft}", headers=BUREAU_KEY).status_code == 403
        assert c.get("/api/v1/failed-transfers/no-such-transfer", headers=HUB_KEY).status_code == 404
    views = audited(env.engine, "view_payload")
    assert ("console:shen", f"failed_transfer:{ft}") in views and ("530500ZX", f"failed_transfer:{ft}") in views
    # an operator of an agency with no part in it finds nothing, and nothing is recorded as seen
    before = len(views)
    with session(env, "ly") as c:
        r = c.get(f"/api/v1/failed-transfers/{ft}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        assert c.get("/api/v1/failed-transfers").json()["total"] == 0
    assert len(audited(env.engine, "view_payload")) == before


def test_a_person_s_timeline_is_seen_by_one_rule_on_the_person_s_page_and_a_failed_transfer_s(env: Env) -> None:
    with env.client() as c:
        # Given a judgment about PERSON that 腾冲's bureau refused, and a custody notice about PERSON from 隆阳's
        # police to 隆阳's bureau, which 腾冲's bureau neither sent nor received
        mid, ft = failed_transfer(c, env.recipients)
        custody, xml = notice("CustodyNotice", sender="530502GA", id_number=PERSON)
        assert c.post("/api/v1/messages", content=xml, headers=auth("530502GA")).status_code == 202
        wait_until(lambda: states(c, custody) == {"530502SF": "delivered", "530502JC": "available"}
                   and states(c, mid) == {"530581SF": "failed", "530581GA": "delivered", "530581JC": "available"},
                   what="both messages where they end")
    env.projected()
    rule = cases_data.timeline_in_scope(env.engine, PERSON, scope="530581SF", today=today())
    assert rule is not None
    whole = {x["message_id"] for x in rule["timeline"]}
    assert {mid, custody} <= whole
    with session(env, "tc") as c:
        # Then 腾冲's bureau, a party, sees the whole timeline on the failed transfer and on the person's page
        lines = c.get(f"/api/v1/failed-transfers/{ft}").json()["timeline"]
        assert {x["message_id"] for x in lines} == whole
        assert [x["message_type"] for x in lines if x["message_id"] == custody and x["source"] == "message"] == [
            "CustodyNotice"]
        page = c.get(f"/console/persons/{PERSON}")
        assert page.status_code == 200 and "<b>CustodyNotice</b>" in page.text and "<b>SentencingDecision</b>" in \
            page.text
        detail = c.get(f"/console/failed/{ft}").text.split('id="ft-timeline"')[1].split("</table>")[0]
        assert "CustodyNotice" in detail and "SentencingDecision" in detail
    with session(env, "ly") as c:
        # 隆阳's bureau, a party only to the custody notice: the person, but not the failed transfer
        assert c.get(f"/console/persons/{PERSON}").status_code == 200
        assert c.get(f"/api/v1/failed-transfers/{ft}").status_code == 404
    with session(env, "sd") as c:
        # 施甸's bureau, no party at all: neither
        assert c.get(f"/console/persons/{PERSON}").status_code == 404
    assert cases_data.timeline_in_scope(env.engine, PERSON, scope="530521SF", today=today()) is None
    assert cases_data.transfer_timeline(env.engine, {"id_number": PERSON, "person_key": None, "message_id": mid},
                                        scope="530521SF", today=today()) == []


# ---- obligations and pursuit drafts with a session ----------------------------------------------------------------

def ids(r: httpx.Response, key: str) -> set[str]:
    assert r.status_code == 200, r.text
    return {x["id"] for x in r.json()[key]}


def test_obligations_and_pursuit_drafts_are_listed_with_a_console_session_in_its_agency_s_scope(env: Env) -> None:
    # Given a person who did not report to 腾冲's bureau (owed to 隆阳's court), and the drafted pursuit request
    c1 = late(21)
    env.post(c1)
    env.projected()
    report = env.obligation(c1, "report")
    assert (report["obligor"], report["obligee"], report["status"]) == ("530581SF", "530502FY", "overdue")
    assert pursuits.refresh_drafts(env.hub, today=today(), now=utcnow()) == 1
    (draft,) = pursuits.list_drafts(env.hub)
    assert draft["bureau"] == "530581SF"
    with env.client() as c:
        everything = ids(c.get("/api/v1/obligations", params={"state": "open"}, headers=HUB_KEY), "items")
        by_court = ids(c.get("/api/v1/obligations", params={"agency": "530502FY", "state": "open"}, headers=HUB_KEY),
                       "items")
    seen: dict[str, set[str]] = {}
    for name, agency in (("tc", "530581SF"), ("court", "530502FY")):
        with session(env, name) as c:  # owed by, and owed to: both see it, and only what concerns them
            r = c.get("/api/v1/obligations", params={"state": "open"})
            assert report["id"] in ids(r, "items")
            seen[agency] = ids(r, "items")
            assert all(agency in (x["obligor"], x["obligee"]) for x in r.json()["items"])
            assert ids(r, "items") == {x["id"] for x in cases_data.obligation_list(
                env.engine, cases_data.ObligationFilter(state="open"), scope=agency, today=today(),
                limit=1000)["items"]}
            r = c.get("/api/v1/obligations", params={"agency": "530502SF"})
            assert r.status_code == 403 and r.json()["error"]["details"][0]["path"] == "agency"
    by_bureau = seen["530581SF"]
    assert seen["530502FY"] == by_court
    with session(env, "tc") as c:
        assert ids(c.get("/api/v1/pursuit-drafts"), "drafts") == {draft["id"]}
        assert ids(c.get("/api/v1/pursuit-drafts", params={"bureau": "530581SF"}), "drafts") == {draft["id"]}
        assert ids(c.get("/api/v1/pursuit-drafts", params={"status": "sent"}), "drafts") == set()
    with session(env, "ly") as c:  # neither owes nor is owed; another bureau's draft
        assert ids(c.get("/api/v1/obligations", params={"state": "open"}), "items") == set()
        assert ids(c.get("/api/v1/pursuit-drafts"), "drafts") == set()
        assert c.get("/api/v1/pursuit-drafts", params={"bureau": "530581SF"}).status_code == 403
    with session(env, "court") as c:  # a court decides no pursuit drafts
        assert ids(c.get("/api/v1/pursuit-drafts"), "drafts") == set()
    for name in ("zhang", "shen"):  # the hub's operator and an auditor see every agency's
        with session(env, name) as c:
            assert ids(c.get("/api/v1/obligations", params={"state": "open"}), "items") == everything
            assert ids(c.get("/api/v1/obligations", params={"agency": "530502FY", "state": "open"}), "items") == \
                by_court
            assert ids(c.get("/api/v1/pursuit-drafts"), "drafts") == {draft["id"]}
    with env.client() as c:
        assert c.get("/api/v1/obligations").status_code == 401
    # one obligation, one draft and one person, as their pages show them, in the same scope
    person_ref = report["person_key"]
    with session(env, "tc") as c:
        csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/console/dashboard").text).group(1)  # type: ignore
        assert c.post(f"/api/v1/obligations/{report['id']}/notes", json={"note": "已电话联系家属"},
                      headers={"x-csrf-token": csrf}).status_code == 201
        one = c.get(f"/api/v1/obligations/{report['id']}")
        assert one.status_code == 200 and one.json()["id"] == report["id"] and one.json()["status"] == "overdue"
        assert [n["note"] for n in one.json()["notes"]] == ["已电话联系家属"]
        assert c.get(f"/api/v1/pursuit-drafts/{draft['id']}").json()["id"] == draft["id"]
        page = c.get(f"/api/v1/persons/{person_ref}")
        assert page.status_code == 200 and report["id"] in {x["id"] for x in page.json()["obligations"]}
        assert any(x.get("note") == "已电话联系家属" for x in page.json()["lines"])
        timeline = c.get(f"/api/v1/persons/{person_ref}/timeline")
        assert timeline.status_code == 200 and report["id"] in {x["id"] for x in timeline.json()["obligations"]}
    with session(env, "ga") as c:  # 腾冲's police had the judgment, but owe and are owed nothing here
        page = c.get(f"/api/v1/persons/{person_ref}")
        assert page.status_code == 200 and report["id"] in {x["id"] for x in page.json()["obligations"]}
        assert page.json()["notes"] == [] and not any(x["source"] == "note" for x in page.json()["lines"])
        assert not any(x.get("target") == f"obligation:{report['id']}" for x in page.json()["lines"])
        assert c.get(f"/api/v1/obligations/{report['id']}").status_code == 404
        assert "已电话联系家属" not in c.get(f"/console/persons/{person_ref}").text
    with session(env, "ly") as c:  # neither owes nor is owed, nor a party to any message about the person
        assert c.get(f"/api/v1/obligations/{report['id']}").status_code == 404
        assert c.get(f"/api/v1/pursuit-drafts/{draft['id']}").status_code == 404
        assert c.get(f"/api/v1/persons/{person_ref}").status_code == 404
        assert c.get(f"/api/v1/persons/{person_ref}/timeline").status_code == 404
    with session(env, "shen") as c:  # an auditor sees every agency's
        assert c.get(f"/api/v1/obligations/{report['id']}").status_code == 200
        assert c.get(f"/api/v1/pursuit-drafts/{draft['id']}").status_code == 200
        assert c.get(f"/api/v1/persons/{person_ref}").status_code == 200
    with env.client() as c:
        assert c.get(f"/api/v1/obligations/{report['id']}", headers=HUB_KEY).status_code == 200
        assert c.get(f"/api/v1/obligations/{report['id']}", headers=BUREAU_KEY).status_code == 403
        assert c.get(f"/api/v1/persons/{person_ref}").status_code == 401
        assert c.get("/api/v1/pursuit-drafts").status_code == 401
        # an agency's key answers as it did, as the agency's session does
        assert ids(c.get("/api/v1/obligations", params={"state": "open"}, headers=BUREAU_KEY), "items") == \
            by_bureau
        assert ids(c.get("/api/v1/pursuit-drafts", headers=BUREAU_KEY), "drafts") == {draft["id"]}


def test_a_scoped_operator_s_dashboard_counts_the_obligations_their_list_lists(env: Env) -> None:
    # Given reports owed by 腾冲's bureau to 隆阳's court: one overdue, one due soon
    overdue, soon = late(22), late(23, days=9)
    for c in (overdue, soon):
        env.post(c)
    env.projected()
    assert env.obligation(overdue, "report")["status"] == "overdue"
    assert env.obligation(soon, "report")["status"] in ("due_soon", "due_today"), env.obligation(soon, "report")
    counted: dict[str, dict[str, Any]] = {}
    for name in ("court", "tc", "ly", "zhang"):
        with session(env, name) as c:
            dashboard = c.get("/api/v1/dashboard").json()
            figures, scope = dashboard["obligations"], dashboard["scope"]
            counted[name] = figures
            for state in ("due_soon", "due_today", "overdue"):
                listed = c.get("/api/v1/obligations", params={"state": state, "limit": 1000}).json()["items"]
                on_dashboard = sum(per[state] for per in figures.values())
                assert on_dashboard == len(listed), (name, state, figures, [x["id"] for x in listed])
                assert on_dashboard == cases_data.obligation_list(
                    env.engine, cases_data.ObligationFilter(state=state), scope=scope, today=today())["total"]
    # the court, owed the reports, sees them under the bureau that owes them
    assert counted["court"].get("530581SF", {}).get("overdue", 0) >= 1
    assert counted["tc"]["530581SF"]["overdue"] == counted["court"]["530581SF"]["overdue"]
    assert counted["ly"] == {}


# ---- the session's idle timeout -------------------------------------------------------------------------------------

def idle_for(engine: Engine, username: str, idle: dt.timedelta) -> None:
    """Make every session of ``username`` last seen ``idle`` ago."""
    with engine.begin() as conn:
        conn.execute(update(operator_sessions).where(operator_sessions.c.username == username).values(
            last_seen=utcnow() - idle))


def last_seen(engine: Engine, username: str) -> dt.datetime:
    with engine.connect() as conn:
        seen = conn.execute(select(operator_sessions.c.last_seen).where(
            operator_sessions.c.username == username)).scalar_one()
    return seen if seen.tzinfo else seen.replace(tzinfo=dt.UTC)


def test_a_session_idle_past_the_timeout_ends_on_a_page_and_on_the_api(env: Env) -> None:
    longer, shorter = operators.IDLE + dt.timedelta(minutes=1), operators.IDLE - dt.timedelta(minutes=2)
    # a session used within the timeout stays alive, and each request starts its idle time again
    with session(env, "zhang") as c:
        idle_for(env.engine, "zhang", shorter)
        assert c.get("/console/dashboard").status_code == 200
        assert utcnow() - last_seen(env.engine, "zhang") < dt.timedelta(minutes=1)
        idle_for(env.engine, "zhang", shorter)
        assert c.get("/api/v1/dashboard").status_code == 200
        assert utcnow() - last_seen(env.engine, "zhang") < dt.timedelta(minutes=1)
        # idle past the timeout: the page sends the operator to sign in again
        idle_for(env.engine, "zhang", longer)
        r = c.get("/console/dashboard")
        assert r.status_code == 303 and r.headers["location"].startswith("/console/signin")
        assert c.get("/api/v1/dashboard").status_code == 401  # and the session is gone for the API too
    with session(env, "tc") as c:
        # idle past the timeout: the API answers 401, and the page then asks for sign-in
        idle_for(env.engine, "tc", longer)
        r = c.get("/api/v1/failed-transfers")
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorised"
        assert c.get("/console/failed").status_code == 303
