"""The operator console's pages and the operator API behind them, through a hub on both stacks: sign-in and
CSRF, a failed transfer found by a person's ID number and retried, what each role sees and may do, each agency's
operators limited to their own agency, the language switch, the audit log."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from lxml import etree
from sqlalchemy import select

from hub.core.idnumber import masked_id_number
from hub.store.db import make_engine
from hub.store.schema import audit_log
from tests.conftest import Stack
from tests.console_harness import PASSWORD, console_hub, hidden, sign_in
from tests.harness import Recipients, auth, make_id, notice, states, wait_until
from tests.hubserver import InProcessHub

PERSON = make_id("530581", "19850707", 33)


ACCOUNTS = [("zhang", "operator", "530500ZX"), ("shen", "auditor", "530500ZX"), ("tc", "operator", "530581SF"),
            ("ly", "operator", "530502SF")]


@pytest.fixture
def hub(stack: Stack, registry: Path) -> Iterator[InProcessHub]:
    with console_hub(stack, registry, ACCOUNTS) as h:
        yield h


def failed_transfer(c: httpx.Client, recipients: Recipients, *, sender: str = "530502FY",
                    edit: Callable[[etree._Element], None] | None = None) -> tuple[str, str]:
    """A judgment about PERSON (from ``sender``, changed by ``edit``) that 腾冲's bureau rejects: (message id, failed
    transfer id)."""
    recipients.modes["530581SF"] = "reject"
    mid, xml = notice("SentencingDecision", sender=sender, execution_division="530581", id_number=PERSON, edit=edit)
    assert c.post("/api/v1/messages", content=xml, headers=auth(sender)).status_code == 202
    wait_until(lambda: states(c, mid).get("530581SF") == "failed", what="failed transfer")
    fts = c.get("/api/v1/failed-transfers", headers=auth("530500ZX")).json()["items"]
    return mid, next(f["id"] for f in fts if f["message_id"] == mid)


def test_pages_need_a_session_and_a_wrong_password_gets_nowhere(hub: InProcessHub) -> None:
    with hub.client() as c:
        r = c.get("/console/failed")
        assert r.status_code == 303 and r.headers["location"].startswith("/console/signin")
        # every console response forbids scripts and framing and is kept out of the browser's cache
        form = c.get("/console/signin")
        assert "default-src 'none'" in form.headers["content-security-policy"]
        assert (form.headers["cache-control"], form.headers["x-content-type-options"]) == ("no-store", "nosniff")
        form = c.get("/console/signin")
        r = c.post("/console/signin", data={"username": "zhang", "password": "wrong password!",
                                            "csrf": hidden(form.text, "csrf")})
        assert r.status_code == 303 and "failed=1" in r.headers["location"]
        assert "用户名或密码错误" in c.get(r.headers["location"]).text
        assert c.get("/console/dashboard").status_code == 303
        # a sign-in form posted without its CSRF value is refused
        r = c.post("/console/signin", data={"username": "zhang", "password": PASSWORD, "csrf": "forged"})
        assert r.status_code == 403 and "xianjie_session" not in c.cookies
        assert c.get("/console/dashboard").status_code == 303


def test_an_operator_finds_a_failed_transfer_by_id_number_and_retries_it(hub: InProcessHub,
                                                                         recipients: Recipients) -> None:
    with hub.client() as c:
        mid, ft = failed_transfer(c, recipients)
        csrf = sign_in(c, "zhang")
        listing = c.get("/console/failed", params={"q": PERSON})
        assert listing.status_code == 200 and f"/console/failed/{ft}" in listing.text
        # the list shows the number masked (the transfer's own page shows it whole)
        table = re.search(r"<tbody>.*?</tbody>", listing.text, re.S)
        assert table and masked_id_number(PERSON) in table.group(0) and PERSON not in table.group(0)
        assert c.get("/console/failed", params={"q": make_id("530581", "19900101", 11)}).text.count(
            "/console/failed/") == 0
        detail = c.get(f"/console/failed/{ft}")
        assert "对方拒收" in detail.text and "SentencingDecision" in detail.text and 'id="retry"' in detail.text
        assert "&lt;SentencingDecision" not in detail.text  # the payload only for a stated reason
        shown = c.post(f"/console/failed/{ft}/payload", data={"csrf": csrf, "reason_code": "check_failure"})
        assert "&lt;SentencingDecision" in shown.text  # the payload shown as text, escaped
        # a form without the session's CSRF token does nothing
        assert c.post(f"/console/failed/{ft}/retry", data={"csrf": "forged"}).status_code == 403
        recipients.modes["530581SF"] = "ok"
        r = c.post(f"/console/failed/{ft}/retry", data={"csrf": csrf, "reason": "对方系统已恢复"})
        assert r.status_code == 303 and r.headers["location"].endswith("done=retried")
        wait_until(lambda: states(c, mid).get("530581SF") == "delivered", what="delivered after the retry")
        # a retry of what is already resolved says that nothing was sent
        wait_until(lambda: c.get(f"/api/v1/failed-transfers?status=resolved&q={PERSON}").json()["total"] == 1,
                   what="the transfer resolved")
        again = c.post(f"/console/failed/{ft}/retry", data={"csrf": csrf})
        assert again.status_code == 409 and "未重新投递" in again.text and "already resolved" in again.text
    engine = make_engine(hub.settings.database_url, pool_size=1)
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log.c.actor, audit_log.c.detail).where(
            audit_log.c.action == "retry_failed_transfer")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("console:zhang", "对方系统已恢复")]


def test_a_role_that_may_not_act_does_not_see_the_action_and_is_refused_by_the_api(
        hub: InProcessHub, recipients: Recipients) -> None:
    with hub.client() as c:
        _, ft = failed_transfer(c, recipients)
        csrf = sign_in(c, "shen")  # an auditor
        detail = c.get(f"/console/failed/{ft}")
        assert detail.status_code == 200 and 'id="retry"' not in detail.text
        assert c.post(f"/console/failed/{ft}/retry", data={"csrf": csrf}).status_code == 403
        r = c.post(f"/api/v1/failed-transfers/{ft}/retry", headers={"x-csrf-token": csrf})
        assert r.status_code == 403 and "auditor" in r.text
        # the audit log is theirs to read
        assert c.get("/console/audit").status_code == 200
    with hub.client() as c:
        csrf = sign_in(c, "zhang")
        assert "/console/audit" not in c.get("/console/dashboard").text
        assert c.get("/console/audit").status_code == 403
        # the API takes the console's session, and its CSRF token on a change
        assert c.post(f"/api/v1/failed-transfers/{ft}/retry").status_code == 403
        assert c.get("/api/v1/failed-transfers", params={"q": PERSON}).json()["total"] == 1
        assert c.post(f"/api/v1/failed-transfers/{ft}/retry", headers={"x-csrf-token": csrf}).status_code == 202
    with hub.client() as c:
        assert c.get("/api/v1/failed-transfers").status_code == 401  # no key, no session


def test_an_agency_s_operators_see_only_their_own_agency_s_failed_transfers(hub: InProcessHub,
                                                                            recipients: Recipients) -> None:
    with hub.client() as c:
        _, ft = failed_transfer(c, recipients)  # sent by 隆阳's court to 腾冲's bureau
        csrf = sign_in(c, "ly")  # 隆阳's bureau: neither sender nor recipient
        assert c.get(f"/console/failed/{ft}").status_code == 404
        assert c.get("/api/v1/failed-transfers").json()["total"] == 0
        assert c.post(f"/api/v1/failed-transfers/{ft}/retry", headers={"x-csrf-token": csrf}).status_code == 404
    with hub.client() as c:
        sign_in(c, "tc")  # 腾冲's bureau, the recipient
        assert c.get(f"/console/failed/{ft}").status_code == 200
        assert c.get("/api/v1/failed-transfers").json()["total"] == 1


def test_the_language_switch_and_the_dashboard(hub: InProcessHub, recipients: Recipients) -> None:
    with hub.client() as c:
        failed_transfer(c, recipients)
        csrf = sign_in(c, "zhang")
        page = c.get("/console/dashboard")
        assert "投递失败" in page.text and 'id="failed-by-cause"' in page.text and 'id="daily"' in page.text
        # the figures behind it: today's one judgment in and its three deliveries out; one rejected transfer
        from hub.console import data
        engine = make_engine(hub.settings.database_url, pool_size=1)
        figures = data.dashboard(engine, scope=None, now=dt.datetime.now(dt.UTC))
        mine = data.dashboard(engine, scope="530581SF", now=dt.datetime.now(dt.UTC))
        engine.dispose()
        assert (figures["series"][-1]["in"], figures["series"][-1]["out"]) == (1, 3)
        assert (mine["series"][-1]["in"], mine["series"][-1]["out"]) == (0, 1)
        assert figures["failed"]["rejected"]["lt1d"] == figures["failed_total"] == 1
        assert {f["agency"]: (f["sent"], f["received"]) for f in figures["flows"]}["530502FY"] == (1, 0)
        r = c.post("/console/lang", data={"lang": "en", "csrf": csrf, "back": "/console/dashboard"})
        assert r.status_code == 303
        page = c.get("/console/dashboard")
        assert "Failed transfers by cause and age" in page.text and "中文" in page.text
        # an address outside the console is never where the switch leads
        r = c.post("/console/lang", data={"lang": "zh", "csrf": csrf, "back": "https://elsewhere.example/"})
        assert r.headers["location"] == "/console/dashboard"
        assert "投递失败" in c.get("/console/dashboard").text
        # signing out ends the session
        assert c.post("/console/signout", data={"csrf": csrf}).status_code == 303
        assert c.get("/console/dashboard").status_code == 303


def test_every_word_a_template_asks_for_is_in_both_languages() -> None:
    from hub.console import data, i18n, web
    from hub.operators import ROLES

    for area in web.AREAS:
        i18n.extend(getattr(area, "WORDS", {}))
    asked = set()
    for template in (Path(web.__file__).parent / "templates").glob("*.html"):
        asked |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_.]+)["']""", template.read_text()))
    asked |= {f"cause.{c}" for c in data.CAUSES} | {f"status.{s}" for s in data.STATUSES}
    asked |= {f"age.{a}" for a in data.AGES} | {f"role.{r}" for r in ROLES}
    missing = sorted(k for k in asked if k not in i18n.CATALOGUE and not k.endswith("."))  # "cause." ~ c: above
    assert not missing, missing
    assert all(zh and en for zh, en in i18n.CATALOGUE.values())
