"""The console's queues and the operator API behind them, through a hub on both stacks: a rejected message in
quarantine shown line by line with each problem at its line and everything in it escaped, dismissed with a reason
or resubmitted corrected through the hub's ingest (a payload still broken is refused at its lines and nothing is
recorded); a discrepancy item resolved with a note; an identity review decided; what each role may do and what
another agency's operators do not see."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree
from markupsafe import escape
from sqlalchemy import Engine, func, select

from hub import identity_store, register_store
from hub.canonical import load_schema
from hub.console import queues_data as qd
from hub.registry import load_registry
from hub.service import Hub
from hub.store.db import make_engine
from hub.store.operator_schema import quarantine_corrections, quarantine_reviews
from hub.store.schema import audit_log, messages, quarantine
from tests.conftest import Stack
from tests.console_harness import console_hub, sign_in
from tests.harness import N, auth, make_id, notice
from tests.hubserver import InProcessHub

HUB, COURT, BUREAU = "530500ZX", "530502FY", "530581SF"
PERSON = make_id("530581", "19850707", 33)
SCRIPT = '</textarea><script>alert("x")</script><b>bold</b>'
# who signs in: (role, agency)
ACCOUNTS = {"wei": ("supervisor", HUB), "lin": ("supervisor", HUB), "zhang": ("operator", HUB),
            "shen": ("auditor", HUB), "tc": ("operator", BUREAU), "ly": ("supervisor", "530502SF"),
            "fy": ("supervisor", COURT)}


@pytest.fixture
def hub(stack: Stack, registry: Path) -> Iterator[InProcessHub]:
    with console_hub(stack, registry, [(u, r, a) for u, (r, a) in ACCOUNTS.items()], workers=False) as h:
        yield h


@pytest.fixture
def engine(hub: InProcessHub) -> Iterator[Engine]:
    e = make_engine(hub.settings.database_url, pool_size=2)
    yield e
    e.dispose()


def judgment(id_number: str = PERSON, *, comment: str | None = None) -> tuple[str, bytes]:
    """A court's judgment about PERSON; with ``id_number`` set as given (a bad one makes it schema-invalid)."""
    def edit(root: etree._Element) -> None:
        root.find("x:person/x:idNumber", N).text = id_number
        if comment is not None:
            root.insert(1, etree.Comment(comment))

    return notice("SentencingDecision", sender=COURT, execution_division="530581", id_number=PERSON, edit=edit)


def rejected(c: httpx.Client, raw: bytes, status: int = 422) -> dict[str, Any]:
    r = c.post("/api/v1/messages", content=raw, headers={"Content-Type": "application/xml", **auth(COURT)})
    assert r.status_code == status, r.text
    return dict(r.json())


def highlighted(html: str, prefix: str) -> dict[int, str]:
    """Each highlighted line of a line view: its number → the reasons shown beside it."""
    rows = re.findall(rf'<tr id="{prefix}-L(\d+)" class="bad"><td class="ln">\d+</td><td class="code">.*?</td>'
                      r'<td class="why">(.*?)</td></tr>', html, flags=re.S)
    return {int(n): why for n, why in rows}


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def audited(engine: Engine, action: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [(r.actor, r.target) for r in conn.execute(
            select(audit_log.c.actor, audit_log.c.target).where(audit_log.c.action == action).order_by(audit_log.c.id))]


def review_of(engine: Engine, qid: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        r = conn.execute(select(quarantine_reviews).where(quarantine_reviews.c.quarantine_id == qid)).mappings().first()
    return None if r is None else dict(r)


# ---- quarantine ---------------------------------------------------------------------------------------------

def test_a_schema_invalid_message_is_shown_at_its_line_with_everything_escaped(hub: InProcessHub,
                                                                              engine: Engine) -> None:
    # Given a court's judgment whose ID number breaks the schema, carrying script and markup in a comment
    _, raw = judgment("ID-530581", comment=SCRIPT)
    with hub.client() as c:
        res = rejected(c, raw)
        qid = res["quarantine_id"]
        assert res["error"]["code"] == "schema_invalid"
        lines = raw.decode().split("\n")
        problem_lines = {d["line"] for d in res["error"]["details"]}
        assert {lines[n - 1].strip()[:10] for n in problem_lines} == {"<idNumber>"}
        # When a supervisor of the hub looks at the quarantine and at the entry
        csrf = sign_in(c, "wei")
        listing = c.get("/console/quarantine")
        assert listing.status_code == 200 and f"/console/quarantine/{qid}" in listing.text
        assert f"/console/quarantine/{qid}" not in c.get("/console/quarantine", params={"code": "not_xml"}).text
        page = c.get(f"/console/quarantine/{qid}")  # the raw input only for a stated reason
        assert page.status_code == 200 and highlighted(page.text, "raw") == {} and 'id="payload-reason"' in page.text
        page = c.post(f"/console/quarantine/{qid}/payload", data={"csrf": csrf, "reason_code": "correct_data"})
        assert page.status_code == 200
        # Then exactly the idNumber's line is highlighted, with the reason beside it
        shown = highlighted(page.text, "raw")
        assert set(shown) == problem_lines
        for d in res["error"]["details"]:
            assert str(escape(d["reason"])) in shown[d["line"]]
        # And the script and markup of the input are text on the page, never markup, under a policy of no script
        assert "<script>" not in page.text and "<b>bold" not in page.text and SCRIPT not in page.text
        assert "&lt;/textarea&gt;&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
        assert "script-src" not in page.headers["content-security-policy"]
        assert "default-src 'none'" in page.headers["content-security-policy"]
        # And the actions are there, the corrected payload's box filled with the input as text
        assert 'id="dismiss"' in page.text and 'id="resubmit"' in page.text
        assert "&lt;idNumber&gt;ID-530581&lt;/idNumber&gt;" in page.text.split('id="payload"')[1]
    # And looking at the raw input is on the record as a payload view
    assert audited(engine, "view_payload") == [("console:wei", f"quarantine:{qid}")]


def test_bytes_that_are_not_text_are_shown_as_a_hex_preview(hub: InProcessHub) -> None:
    raw = b"\x00\x01\x02\xff\xfe" + b"<script>alert(1)</script>" + bytes(range(256))
    with hub.client() as c:
        qid = rejected(c, raw, 400)["quarantine_id"]
        csrf = sign_in(c, "wei")
        page = c.post(f"/console/quarantine/{qid}/payload", data={"csrf": csrf, "reason_code": "correct_data"}).text
    hexview = page.split('id="raw-hex">')[1].split("</pre>")[0]
    assert hexview.startswith("00000000  00 01 02 ff fe 3c 73 63")
    assert "|.....&lt;script&gt;ale|" in hexview
    assert "<script>" not in page and 'id="raw-lines"' not in page
    # nothing to correct in a box: bytes that are not text are not put in one
    assert re.search(r'<textarea name="payload" id="payload" spellcheck="false" required>\s*</textarea>', page)


def corrections(engine: Engine, qid: str) -> list[tuple[str, str, str | None]]:
    """(status, proposed by, decided by) of each correction of the input, oldest first."""
    with engine.connect() as conn:
        return [(r.status, r.submitted_by, r.decided_by) for r in conn.execute(
            select(quarantine_corrections).where(quarantine_corrections.c.quarantine_id == qid)
            .order_by(quarantine_corrections.c.submitted_at))]


def test_a_correction_is_sent_as_the_agency_s_message_only_once_a_second_operator_approves_it(
        hub: InProcessHub, engine: Engine) -> None:
    _, raw = judgment("ID-530581")
    with hub.client() as c, hub.client() as boss:
        res = rejected(c, raw)
        qid = res["quarantine_id"]
        bad_line = res["error"]["details"][0]["line"]
        csrf = sign_in(c, "zhang")  # an operator proposes
        before = (count(engine, messages), count(engine, quarantine))
        # When the operator proposes it still broken (another field broken too)
        still = raw.decode().replace("<sex>MALE</sex>", "<sex>M</sex>")
        assert still != raw.decode()
        r = c.post(f"/console/quarantine/{qid}/corrections", data={"csrf": csrf, "payload": still, "reason": "试一试"})
        # Then the problems are shown at their lines of what was submitted, and nothing is kept
        assert r.status_code == 422 and 'id="refused"' in r.text and "schema_invalid" in r.text
        shown = highlighted(r.text, "try")
        sex_line = next(n for n, text in enumerate(still.split("\n"), 1) if "<sex>" in text)
        assert set(shown) == {bad_line, sex_line} and "sex" in shown[sex_line]
        assert "&lt;sex&gt;M&lt;/sex&gt;" in r.text.split('id="payload"')[1]  # the box keeps what was typed
        assert corrections(engine, qid) == [] and review_of(engine, qid) is None
        # a correction without a reason is refused too
        mid, good = judgment()
        r = c.post(f"/console/quarantine/{qid}/corrections", data={"csrf": csrf, "payload": good.decode()})
        assert r.status_code == 400 and 'data-code="reason_required"' in r.text and corrections(engine, qid) == []
        # When it is proposed corrected (as a browser sends a textarea: CRLF)
        r = c.post(f"/console/quarantine/{qid}/corrections",
                   data={"csrf": csrf, "payload": good.decode().replace("\n", "\r\n"), "reason": "更正身份证号"})
        assert r.status_code == 303 and r.headers["location"].endswith("done=proposed")
        page = c.get(r.headers["location"]).text
        # Then nothing is sent yet: the proposer sees it waiting, with the change, and may only withdraw it
        assert (count(engine, messages), count(engine, quarantine)) == before and review_of(engine, qid) is None
        assert corrections(engine, qid) == [("pending", "console:zhang", None)]
        assert 'data-status="pending"' in page and "own-edit" in page and 'class="withdraw"' in page
        assert 'class="approve"' not in page and 'id="resubmit"' not in page
        assert "&lt;idNumber&gt;" not in page  # the change is payload: shown for a stated reason
        page = c.post(f"/console/quarantine/{qid}/payload", data={"csrf": csrf, "reason_code": "correct_data"}).text
        assert '<span class="del">-    &lt;idNumber&gt;ID-530581&lt;/idNumber&gt;</span>' in page
        cid = re.search(r'id="correction-([0-9a-f-]{36})"', page).group(1)  # type: ignore[union-attr]
        r = c.post(f"/console/quarantine/{qid}/corrections/{cid}/approve", data={"csrf": csrf})
        assert r.status_code == 403  # an operator's role may not approve at all
        # When a supervisor approves it
        boss_csrf = sign_in(boss, "wei")
        page = boss.get(f"/console/quarantine/{qid}").text
        assert 'class="approve"' not in page and "approve-hidden" in page  # the change is read first
        page = boss.post(f"/console/quarantine/{qid}/payload", data={"csrf": boss_csrf,
                                                                     "reason_code": "supervision"}).text
        assert 'class="approve"' in page and 'class="withdraw"' not in page
        r = boss.post(f"/console/quarantine/{qid}/corrections/{cid}/approve",
                      data={"csrf": boss_csrf, "note": "核对无误"})
        assert r.status_code == 303 and r.headers["location"].endswith("done=resubmitted")
        page = boss.get(r.headers["location"]).text
        assert mid in page and 'id="resubmit"' not in page and 'id="dismiss"' not in page
        assert 'class="approve"' not in page
        # Then it is the court's message, validated and stored as the hub stores messages
        status = c.get(f"/api/v1/messages/{mid}", headers=auth(COURT))
        assert status.status_code == 200 and status.json()["sender"] == COURT
        assert status.json()["channel"] == "console"
        review = review_of(engine, qid)
        assert review is not None
        assert (review["outcome"], review["message_id"], review["by"], review["reason"]) == (
            "resubmitted", mid, "console:wei", "更正身份证号")
        assert corrections(engine, qid) == [("approved", "console:zhang", "console:wei")]
        assert audited(engine, "quarantine_correction_submit") == [("console:zhang", f"quarantine_correction:{cid}")]
        assert audited(engine, "quarantine_correction_approve") == [("console:wei", f"quarantine_correction:{cid}")]
        assert audited(engine, "quarantine_resubmit") == [("console:wei", f"quarantine:{qid}")]
        with engine.connect() as conn:
            assert bytes(conn.execute(select(messages.c.raw).where(messages.c.id == mid)).scalar_one()) == good
        # And the list shows it among the reviewed, no longer among those waiting
        assert f"/console/quarantine/{qid}" not in c.get("/console/quarantine").text
        assert f"/console/quarantine/{qid}" in c.get("/console/quarantine", params={"reviewed": "yes"}).text
        # And it cannot be corrected twice
        r = c.post(f"/console/quarantine/{qid}/corrections", data={"csrf": csrf, "payload": good.decode(),
                                                                   "reason": "again"})
        assert r.status_code == 409 and 'id="already"' in r.text


def test_an_input_is_dismissed_with_a_reason(hub: InProcessHub, engine: Engine) -> None:
    with hub.client() as c:
        qid = rejected(c, "判决书见附件\n".encode(), 400)["quarantine_id"]
        csrf = sign_in(c, "wei")
        # a dismissal without a reason is refused and changes nothing
        r = c.post(f"/console/quarantine/{qid}/dismiss", data={"csrf": csrf, "reason": "  "})
        assert r.status_code == 422 and 'id="reason-missing"' in r.text and review_of(engine, qid) is None
        # nor does one without the session's CSRF token
        assert c.post(f"/console/quarantine/{qid}/dismiss", data={"csrf": "x", "reason": "重复"}).status_code == 403
        r = c.post(f"/console/quarantine/{qid}/dismiss", data={"csrf": csrf, "reason": "法院已另行发送正确电文"})
        assert r.status_code == 303
        page = c.get(r.headers["location"]).text
        assert 'id="done"' in page and "法院已另行发送正确电文" in page and 'id="dismiss"' not in page
        review = review_of(engine, qid)
        assert review is not None and (review["outcome"], review["by"]) == ("dismissed", "console:wei")
        assert audited(engine, "quarantine_dismiss") == [("console:wei", f"quarantine:{qid}")]
        # a second review of the same input is refused, through the API too
        r = c.post(f"/api/v1/quarantine/{qid}/dismiss", json={"reason": "again"}, headers={"x-csrf-token": csrf})
        assert r.status_code == 409 and "dismissed by console:wei" in r.json()["error"]["message"]


def test_the_quarantine_api_lists_dismisses_and_corrects_with_a_second_operator(hub: InProcessHub,
                                                                              engine: Engine) -> None:
    with hub.client() as c, hub.client() as boss:
        first = rejected(c, judgment("ID-1")[1])["quarantine_id"]
        second = rejected(c, b"<not-closed>", 400)["quarantine_id"]
        # the hub's key lists them, newest first, with the filters
        found = c.get("/api/v1/quarantine", headers=auth(HUB)).json()
        assert [i["id"] for i in found["items"]] == [second, first] and found["total"] == 2
        found = c.get("/api/v1/quarantine", params={"code": "schema_invalid", "agency": COURT},
                      headers=auth(HUB)).json()
        assert [i["id"] for i in found["items"]] == [first]
        assert c.get("/api/v1/quarantine", params={"channel": "drop-folder"}, headers=auth(HUB)).json()["total"] == 0
        assert c.get("/api/v1/quarantine", headers=auth(COURT)).status_code == 403  # not for an agency's key
        csrf = sign_in(c, "wei")
        url = f"/api/v1/quarantine/{first}/corrections"
        # a change without the session's CSRF token is refused
        assert c.post(url, json={"payload": judgment()[1].decode(), "reason": "x"}).status_code == 403
        # a payload still broken: the problems at their lines, nothing kept
        r = c.post(url, json={"payload": judgment("ID-2")[1].decode(), "reason": "x"}, headers={"x-csrf-token": csrf})
        assert r.status_code == 422 and r.json()["error"]["code"] == "schema_invalid"
        assert all(isinstance(d["line"], int) for d in r.json()["error"]["details"])
        # a payload naming another sender: refused at the sender, nothing kept
        _, other = notice("SentencingDecision", sender="530581FY", execution_division="530581", id_number=PERSON)
        r = c.post(url, json={"payload": other.decode(), "reason": "x"}, headers={"x-csrf-token": csrf})
        assert r.status_code == 422 and r.json()["error"]["code"] == "not_permitted"
        assert r.json()["error"]["details"][0]["path"] == "/x:SentencingDecision/x:envelope/x:sender"
        assert c.post(url, json={"payload": "", "reason": "x"}, headers={"x-csrf-token": csrf}).json()["error"][
            "details"] == [{"reason": "payload: required, a non-empty string", "path": "payload"}]
        mid, good = judgment()
        r = c.post(url, json={"payload": good.decode()}, headers={"x-csrf-token": csrf})
        assert r.status_code == 422 and r.json()["error"]["details"][0]["path"] == "reason"
        assert corrections(engine, first) == [] and review_of(engine, first) is None
        # a good one is kept, waiting; a second one waits until the first is decided
        r = c.post(url, json={"payload": good.decode(), "reason": "更正"}, headers={"x-csrf-token": csrf})
        assert r.status_code == 201 and r.json()["status"] == "pending", r.text
        cid = r.json()["id"]
        r = c.post(url, json={"payload": good.decode(), "reason": "再改"}, headers={"x-csrf-token": csrf})
        assert r.status_code == 409 and r.json()["error"]["code"] == "correction_pending"
        assert c.get(f"/api/v1/messages/{mid}", headers=auth(COURT)).status_code == 404  # nothing sent yet
        assert c.get(url).status_code == 422  # payloads only for a stated reason
        listed = c.get(url, params={"reason": "correct_data"}).json()["items"]
        assert [(i["id"], i["status"]) for i in listed] == [(cid, "pending")] and "+" in listed[0]["diff"]
        # the proposer never approves their own; the hub's key never approves at all
        r = c.post(f"/api/v1/quarantine-corrections/{cid}/approve", json={}, headers={"x-csrf-token": csrf})
        assert r.status_code == 403 and r.json()["error"]["code"] == "own_correction"
        r = c.post(f"/api/v1/quarantine-corrections/{cid}/approve", headers=auth(HUB))
        assert r.status_code == 403 and r.json()["error"]["code"] == "approver_not_operator"
        # a second supervisor may not withdraw it, and rejects it only with a note
        boss_csrf = sign_in(boss, "lin")
        r = boss.post(f"/api/v1/quarantine-corrections/{cid}/withdraw", headers={"x-csrf-token": boss_csrf})
        assert r.status_code == 403 and r.json()["error"]["code"] == "not_submitter"
        r = boss.post(f"/api/v1/quarantine-corrections/{cid}/reject", json={}, headers={"x-csrf-token": boss_csrf})
        assert r.status_code == 400 and r.json()["error"]["code"] == "note_required"
        r = boss.post(f"/api/v1/quarantine-corrections/{cid}/reject", json={"note": "案号不对"},
                      headers={"x-csrf-token": boss_csrf})
        assert r.status_code == 200 and r.json()["status"] == "rejected"
        r = boss.post(f"/api/v1/quarantine-corrections/{cid}/approve", headers={"x-csrf-token": boss_csrf})
        assert r.status_code == 409 and r.json()["error"]["code"] == "already_decided"
        # proposed again, withdrawn by its proposer, proposed again, approved by the second supervisor
        cid = c.post(url, json={"payload": good.decode(), "reason": "再次更正"},
                     headers={"x-csrf-token": csrf}).json()["id"]
        r = c.post(f"/api/v1/quarantine-corrections/{cid}/withdraw", headers={"x-csrf-token": csrf})
        assert r.status_code == 200 and r.json()["status"] == "withdrawn"
        cid = c.post(url, json={"payload": good.decode(), "reason": "第三次"},
                     headers={"x-csrf-token": csrf}).json()["id"]
        r = boss.post(f"/api/v1/quarantine-corrections/{cid}/approve", json={"note": "同意"},
                      headers={"x-csrf-token": boss_csrf})
        assert r.status_code == 202 and r.json()["message_id"] == mid and r.json()["created"] is True, r.text
        assert c.get(f"/api/v1/messages/{mid}", headers=auth(COURT)).status_code == 200
        assert corrections(engine, first) == [("rejected", "console:wei", "console:lin"),
                                              ("withdrawn", "console:wei", "console:wei"),
                                              ("approved", "console:wei", "console:lin")]
        # the other input is dismissed, with a reason
        r = c.post(f"/api/v1/quarantine/{second}/dismiss", json={}, headers={"x-csrf-token": csrf})
        assert r.status_code == 422 and r.json()["error"]["details"][0]["path"] == "reason"
        r = c.post(f"/api/v1/quarantine/{second}/dismiss", json={"reason": "测试数据"}, headers={"x-csrf-token": csrf})
        assert r.status_code == 200 and r.json()["outcome"] == "dismissed" and r.json()["by"] == "console:wei"
        assert c.get("/api/v1/quarantine", headers={"x-csrf-token": csrf}).json()["total"] == 0
        assert c.get("/api/v1/quarantine", params={"reviewed": "yes"}).json()["total"] == 2
    assert [r["outcome"] for r in (review_of(engine, first), review_of(engine, second)) if r] == [
        "resubmitted", "dismissed"]


def test_a_correction_is_stored_with_its_review_or_not_at_all(hub: InProcessHub, engine: Engine, registry: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    central = Hub(engine=engine, directory=load_registry(registry), schema=load_schema())
    with hub.client() as c:
        qid = rejected(c, judgment("ID-1")[1])["quarantine_id"]
        dropped = rejected(c, judgment("ID-2")[1])["quarantine_id"]
    entry = qd.quarantine_one(engine, qid, scope=None)
    assert entry is not None
    mid, good = judgment()
    cid = qd.propose(central, entry, good, by="console:zhang", reason="更正", max_bytes=10**6)["id"]
    # When storing the message fails after the review was written: neither stays, and the correction still waits
    real = qd.store_message

    def broken(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)
        raise RuntimeError("the database went away")

    monkeypatch.setattr(qd, "store_message", broken)
    with pytest.raises(RuntimeError):
        qd.approve(central, cid, by="console:wei", note=None, scope=None, max_bytes=10**6)
    monkeypatch.setattr(qd, "store_message", real)
    assert review_of(engine, qid) is None and corrections(engine, qid) == [("pending", "console:zhang", None)]
    with engine.connect() as conn:
        assert conn.execute(select(messages.c.id).where(messages.c.id == mid)).first() is None
    # When two supervisors approve it at the same moment: one message, one review, the other told it was decided
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        tries = [pool.submit(qd.approve, central, cid, by=who, note=None, scope=None, max_bytes=10**6)
                 for who in ("console:wei", "console:lin")]
        outcomes = []
        for t in tries:
            try:
                outcomes.append(t.result()["status"])
            except (qd.CorrectionRefused, qd.AlreadyReviewed) as e:
                outcomes.append(type(e).__name__)
    assert sorted(outcomes) in (["AlreadyReviewed", "approved"], ["CorrectionRefused", "approved"])
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(messages).where(messages.c.id == mid)).scalar_one() == 1
    assert [r[0] for r in corrections(engine, qid)] == ["approved"]
    # When an input is dismissed while its correction waits, the correction can no longer be approved
    other = qd.quarantine_one(engine, dropped, scope=None)
    assert other is not None
    _, fixed = judgment()
    cid = qd.propose(central, other, fixed, by="console:zhang", reason="更正", max_bytes=10**6)["id"]
    qd.dismiss(engine, dropped, by="console:wei", reason="法院已另行发送")
    with pytest.raises(qd.CorrectionRefused, match="withdrawn"):
        qd.approve(central, cid, by="console:lin", note=None, scope=None, max_bytes=10**6)
    assert corrections(engine, dropped) == [("withdrawn", "console:zhang", "console:wei")]


def test_a_role_without_the_action_sees_no_button_and_another_agency_sees_nothing(hub: InProcessHub,
                                                                                 engine: Engine) -> None:
    with hub.client() as c:
        qid = rejected(c, judgment("ID-530581")[1])["quarantine_id"]
    with hub.client() as c:
        csrf = sign_in(c, "zhang")  # an operator of the hub: sees, may propose a correction, may not dismiss
        page = c.post(f"/console/quarantine/{qid}/payload", data={"csrf": csrf, "reason_code": "correct_data"})
        assert page.status_code == 200 and 'id="dismiss"' not in page.text and 'id="resubmit"' in page.text
        assert c.post(f"/console/quarantine/{qid}/dismiss", data={"csrf": csrf, "reason": "x"}).status_code == 403
        r = c.post(f"/api/v1/quarantine/{qid}/dismiss", json={"reason": "x"}, headers={"x-csrf-token": csrf})
        assert r.status_code == 403 and "operator" in r.json()["error"]["message"]
    with hub.client() as c:
        csrf = sign_in(c, "shen")  # an auditor: sees, takes no action
        page = c.get(f"/console/quarantine/{qid}")
        assert page.status_code == 200 and 'id="dismiss"' not in page.text and 'id="resubmit"' not in page.text
        r = c.post(f"/api/v1/quarantine/{qid}/corrections", json={"payload": "x", "reason": "x"},
                   headers={"x-csrf-token": csrf})
        assert r.status_code == 403
    with hub.client() as c:
        csrf = sign_in(c, "ly")  # a supervisor of 隆阳's bureau: not the court that sent it
        assert f"/console/quarantine/{qid}" not in c.get("/console/quarantine").text
        assert c.get(f"/console/quarantine/{qid}").status_code == 404
        assert c.get("/api/v1/quarantine").json()["total"] == 0
        r = c.post(f"/api/v1/quarantine/{qid}/dismiss", json={"reason": "x"}, headers={"x-csrf-token": csrf})
        assert r.status_code == 404
    with hub.client() as c:
        sign_in(c, "fy")  # a supervisor of the court that sent it
        assert f"/console/quarantine/{qid}" in c.get("/console/quarantine").text
        assert 'id="dismiss"' in c.get(f"/console/quarantine/{qid}").text
    assert review_of(engine, qid) is None
    with hub.client() as c:
        assert c.get("/api/v1/quarantine").status_code == 401  # no key, no session


# ---- discrepancies ------------------------------------------------------------------------------------------

BUREAU_HEADER = ["序号", "姓名", "身份证号码", "案号", "决定机关", "矫正类别", "矫正起始日期", "矫正终止日期", "执行地",
                 "状态"]


def discrepancies(engine: Engine) -> list[dict[str, Any]]:
    """腾冲's bureau uploads a register of two persons no decision is known for: two items it must act on."""
    rows = [[str(n), name, make_id("530581", f"1980010{n}", 10 + n), f"（2026）云0502刑初{n}号", COURT, "缓刑",
             "2026-01-01", "2027-12-31", "530581", "在册"] for n, name in ((1, "王芳"), (2, "李强"))]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([BUREAU_HEADER, *rows])
    res = register_store.upload(engine, "bureau_register", out.getvalue().encode(), agency=BUREAU,
                                filename="名册.csv", as_of=register_store.beijing_today(), people=lambda _e: [])
    assert res.run is not None and len(res.run.opened) == 2
    return sorted(res.run.opened, key=lambda i: i["name"])


def test_a_discrepancy_is_resolved_through_the_console_and_the_api(hub: InProcessHub, engine: Engine) -> None:
    one, two = discrepancies(engine)
    assert one["category"] == "in_register_without_basis" and one["acting_agency"] == BUREAU
    with hub.client() as c:
        csrf = sign_in(c, "tc")  # an operator of 腾冲's bureau, the agency that must act
        listing = c.get("/console/discrepancies", params={"category": "in_register_without_basis"}).text
        assert f"/console/discrepancies/{one['id']}" in listing and f"/console/discrepancies/{two['id']}" in listing
        assert "/console/discrepancies/" not in c.get("/console/discrepancies",
                                                      params={"category": "status_mismatch"}).text
        page = c.get(f"/console/discrepancies/{one['id']}")
        assert page.status_code == 200 and "在册无法律依据" in page.text and one["description_zh"] in page.text
        assert "社区矫正对象名册" in page.text and "名册.csv" in page.text and 'id="resolve"' in page.text
        # a note is required
        r = c.post(f"/console/discrepancies/{one['id']}/resolve", data={"csrf": csrf, "note": " "})
        assert r.status_code == 422 and 'id="note-missing"' in r.text
        r = c.post(f"/console/discrepancies/{one['id']}/resolve", data={"csrf": csrf, "note": "已核实，补录决定书"})
        assert r.status_code == 303
        page = c.get(r.headers["location"]).text
        assert 'id="done"' in page and "已核实，补录决定书" in page and 'id="resolve"' not in page
        # the console's session resolves through the API too, with its CSRF token
        url = f"/api/v1/operator/discrepancies/{two['id']}/resolve"
        assert c.post(url, json={"note": "x"}).status_code == 403
        r = c.post(url, json={"note": "系重复登记"}, headers={"x-csrf-token": csrf})
        assert r.status_code == 200 and r.json()["resolved_by"] == "console:tc"
        assert c.post(url, json={"note": "again"}, headers={"x-csrf-token": csrf}).status_code == 409
        assert c.get("/api/v1/operator/discrepancies", params={"status": "resolved"}).json()["total"] == 2
    items = {i["id"]: i for i in register_store.list_items(engine)}
    assert (items[one["id"]]["status"], items[one["id"]]["resolved_by"]) == ("resolved", "console:tc")
    assert audited(engine, "discrepancy_resolve") == [("console:tc", f"discrepancy:{one['id']}"),
                                                      ("console:tc", f"discrepancy:{two['id']}")]


def test_discrepancies_are_seen_by_the_agency_that_must_act_and_resolved_only_by_a_role_that_may(
        hub: InProcessHub, engine: Engine) -> None:
    one, _ = discrepancies(engine)
    with hub.client() as c:
        csrf = sign_in(c, "ly")  # 隆阳's bureau: not the one that must act
        assert "/console/discrepancies/" not in c.get("/console/discrepancies").text
        assert c.get(f"/console/discrepancies/{one['id']}").status_code == 404
        r = c.post(f"/api/v1/operator/discrepancies/{one['id']}/resolve", json={"note": "x"},
                   headers={"x-csrf-token": csrf})
        assert r.status_code == 404
    with hub.client() as c:
        csrf = sign_in(c, "shen")  # an auditor: sees every agency's, acts on none
        page = c.get(f"/console/discrepancies/{one['id']}")
        assert page.status_code == 200 and 'id="resolve"' not in page.text
        assert c.post(f"/console/discrepancies/{one['id']}/resolve",
                      data={"csrf": csrf, "note": "x"}).status_code == 403
        r = c.post(f"/api/v1/operator/discrepancies/{one['id']}/resolve", json={"note": "x"},
                   headers={"x-csrf-token": csrf})
        assert r.status_code == 403 and "auditor" in r.json()["error"]["message"]
        assert c.get("/api/v1/operator/discrepancies").json()["total"] == 2
    assert register_store.get_item(engine, one["id"])["status"] == "open"  # type: ignore[index]


# ---- identity review ----------------------------------------------------------------------------------------

YANG = make_id("530522", "19880314", 31)


def possible_match(hub: InProcessHub, engine: Engine) -> dict[str, Any]:
    """The court's 杨国富 with an ID and 腾冲's police naming 阳国富 without one, born the same day: one review."""
    def post(sample: str, sender: str, ref: str, name: str, id_number: str | None, case: str) -> None:
        def edit(root: etree._Element) -> None:
            root.find("x:envelope/x:personRef", N).text = ref
            person = root.find("x:person", N)
            person.find("x:name", N).text = name
            person.find("x:sex", N).text = "MALE"
            person.find("x:birthDate", N).text = "1988-03-14"
            if id_number is None:
                person.remove(person.find("x:idNumber", N))
            root.find("x:case/x:caseNumber", N).text = case

        _, xml = notice(sample, sender=sender, id_number=id_number, edit=edit)
        with hub.client() as c:
            assert c.post("/api/v1/messages", content=xml, headers=auth(sender)).status_code == 202

    post("SentencingDecision", COURT, "530502FY:RY-1", "杨国富", YANG, "（2026）云0502刑初123号")
    post("PursuitResult", "530581GA", "530581GA:ZT-9", "阳国富", None, "（2025）云0581刑初77号")
    while not identity_store.index_messages(engine).caught_up:
        pass
    identity_store.relink(engine)
    (item,) = identity_store.reviews(engine, status="open")
    return item


def test_an_identity_review_is_decided_through_the_console(hub: InProcessHub, engine: Engine) -> None:
    item = possible_match(hub, engine)
    with hub.client() as c:
        csrf = sign_in(c, "wei")
        assert f"/console/identity/{item['id']}" in c.get("/console/identity").text
        page = c.get(f"/console/identity/{item['id']}")
        # both records side by side, where they differ marked, and why they may be one person
        assert page.status_code == 200 and "杨国富" in page.text and "阳国富" in page.text
        assert item["reasons"][0]["zh"] in page.text and 'class="differ">杨国富' in page.text
        assert 'id="decide"' in page.text
        # a decision needs a judgement and a reason; nothing is decided without
        r = c.post(f"/console/identity/{item['id']}/decide", data={"csrf": csrf, "judgement": "not_same",
                                                                    "reason": ""})
        assert r.status_code == 422 and 'id="problem"' in r.text
        r = c.post(f"/console/identity/{item['id']}/decide", data={"csrf": csrf, "reason": "x"})
        assert r.status_code == 422
        assert identity_store.reviews(engine, status="open") != []
        r = c.post(f"/console/identity/{item['id']}/decide",
                   data={"csrf": csrf, "judgement": "not_same", "reason": "公安核实：另有其人"})
        assert r.status_code == 303 and 'id="done"' in c.get(r.headers["location"]).text
        assert f"/console/identity/{item['id']}" not in c.get("/console/identity").text
        assert f"/console/identity/{item['id']}" in c.get("/console/identity", params={"status": "decided"}).text
    (after,) = identity_store.reviews(engine, status="decided")
    assert after["decided_by"] == "console:wei"
    with engine.connect() as conn:
        (actor, detail) = conn.execute(select(audit_log.c.actor, audit_log.c.detail)
                                       .where(audit_log.c.action == "identity_decision")).one()
    assert actor == "console:wei" and "NOT_SAME" in detail and "公安核实：另有其人" in detail
    assert len(identity_store.person_of(engine, YANG)[0]["records"]) == 1  # kept apart


def test_identity_decisions_through_the_api_and_who_may_see_and_decide(hub: InProcessHub, engine: Engine) -> None:
    item = possible_match(hub, engine)
    url = f"/api/v1/operator/identity/reviews/{item['id']}/decide"
    with hub.client() as c:
        csrf = sign_in(c, "zhang")  # an operator of the hub: sees, may not decide
        page = c.get(f"/console/identity/{item['id']}")
        assert page.status_code == 200 and 'id="decide"' not in page.text
        assert c.post(f"/console/identity/{item['id']}/decide",
                      data={"csrf": csrf, "judgement": "same", "reason": "x"}).status_code == 403
        r = c.post(url, json={"same": True, "reason": "x"}, headers={"x-csrf-token": csrf})
        assert r.status_code == 403
    with hub.client() as c:
        sign_in(c, "ly")  # 隆阳's bureau holds neither record
        assert c.get(f"/console/identity/{item['id']}").status_code == 404
        assert f"/console/identity/{item['id']}" not in c.get("/console/identity").text
        assert c.get("/api/v1/operator/identity/reviews").json()["total"] == 0
    assert identity_store.reviews(engine, status="open") != []
    with hub.client() as c:
        csrf = sign_in(c, "wei")
        assert c.get("/api/v1/operator/identity/reviews").json()["total"] == 1
        r = c.post(url, json={"same": "yes", "reason": "x"}, headers={"x-csrf-token": csrf})
        assert r.status_code == 422 and r.json()["error"]["details"][0]["path"] == "same"
        r = c.post(url, json={"same": True, "reason": "同一案件核对照片一致"}, headers={"x-csrf-token": csrf})
        assert r.status_code == 200 and r.json()["review"]["status"] == "decided"
        assert r.json()["decision"]["judgement"] == "SAME" and r.json()["review"]["decided_by"] == "console:wei"
    assert len(identity_store.person_of(engine, YANG)[0]["records"]) == 2  # linked by the decision


# ---- an input line by line ----------------------------------------------------------------------------------

def test_an_input_is_laid_out_line_by_line_with_nothing_hidden() -> None:
    # a problem with only an XPath (a sender mismatch) is placed at the line of the element it names
    _, raw = judgment()
    sender_line = next(n for n, text in enumerate(raw.decode().split("\n"), 1) if "<sender>" in text)
    view = qd.raw_view(raw, [{"reason": "not the authenticated agency",
                              "path": "/x:SentencingDecision/x:envelope/x:sender"},
                             {"reason": "somewhere", "path": "名册!G8"}, {"reason": "past the end", "line": 9999}])
    assert [(ln.number, p["located"]) for ln in view.lines for p in ln.problems] == [(sender_line, True)]
    assert [p["reason"] for p in view.unplaced] == ["somewhere", "past the end"]
    assert view.encoding == "UTF-8" and view.editable == raw.decode() and not view.binary
    # control and bidirectional characters are shown, not obeyed; bytes that do not decode are marked
    view = qd.raw_view("<a>\x1b[31m\u202eevil</a>\r\nline two\rthree".encode() + b"\xff\xfe\xfd", [{"reason": "r",
                                                                                                     "line": 3}])
    assert [ln.text for ln in view.lines] == ["<a>\u241b[31m⟨U+202E⟩evil</a>", "line two", "three\ufffd\ufffd\ufffd"]
    assert view.lines[2].problems and view.encoding is None and view.editable is None and view.hex_rows
    # a long input shows its head and the lines around each problem, saying how many are left out
    raw = "\n".join(f"<l{n}/>" for n in range(1, 5001)).encode()
    view = qd.raw_view(raw, [{"reason": "here", "line": 4000}])
    numbers = [ln.number for ln in view.lines]
    assert numbers == [*range(1, qd.HEAD_LINES + 1), 0, *range(3997, 4004), 0]
    assert [ln.skipped for ln in view.lines if ln.number == 0] == [3996 - qd.HEAD_LINES, 5000 - 4003]
    assert view.line_count == 5000 and view.lines[qd.HEAD_LINES + 4].text == "<l4000/>"


def test_the_console_rejects_and_withdraws_corrections_and_an_approval_the_rules_now_refuse_records_nothing(
        hub: InProcessHub, engine: Engine) -> None:
    with hub.client() as c, hub.client() as boss, hub.client() as far:
        qid = rejected(c, judgment("ID-1")[1])["quarantine_id"]
        csrf = sign_in(c, "zhang")
        boss_csrf = sign_in(boss, "wei")
        mid, good = judgment()

        def propose(reason: str) -> str:
            r = c.post(f"/console/quarantine/{qid}/corrections", data={"csrf": csrf, "payload": good.decode(),
                                                                        "reason": reason})
            assert r.status_code == 303, r.text
            return str(corrections_of_ids(engine, qid)[-1])

        cid = propose("第一次")
        # without the session's CSRF token nothing changes
        assert boss.post(f"/console/quarantine/{qid}/corrections/{cid}/reject",
                         data={"csrf": "x", "note": "不对"}).status_code == 403
        assert c.post(f"/console/quarantine/{qid}/corrections/{cid}/withdraw", data={}).status_code == 403
        # a rejection needs a note, then says so
        r = boss.post(f"/console/quarantine/{qid}/corrections/{cid}/reject", data={"csrf": boss_csrf, "note": " "})
        assert r.status_code == 400 and 'data-code="note_required"' in r.text
        r = boss.post(f"/console/quarantine/{qid}/corrections/{cid}/reject", data={"csrf": boss_csrf, "note": "不对"})
        assert r.status_code == 303 and r.headers["location"].endswith("done=rejected")
        # the proposer withdraws a second one in the console; a supervisor may not
        cid = propose("第二次")
        r = boss.post(f"/console/quarantine/{qid}/corrections/{cid}/withdraw", data={"csrf": boss_csrf})
        assert r.status_code == 403 and 'data-code="not_submitter"' in r.text
        r = c.post(f"/console/quarantine/{qid}/corrections/{cid}/withdraw", data={"csrf": csrf})
        assert r.status_code == 303 and r.headers["location"].endswith("done=withdrawn")
        # a correction named under another input is not found there
        other = rejected(c, judgment("ID-2")[1])["quarantine_id"]
        cid = propose("第三次")
        assert boss.post(f"/console/quarantine/{other}/corrections/{cid}/approve",
                         data={"csrf": boss_csrf}).status_code == 404
        # another agency's supervisor finds neither the input's corrections nor the correction
        far_csrf = sign_in(far, "ly")
        assert far.get(f"/api/v1/quarantine/{qid}/corrections", params={"reason": "supervision"}).status_code == 404
        for action in ("approve", "reject", "withdraw"):
            r = far.post(f"/api/v1/quarantine-corrections/{cid}/{action}", json={"note": "x"},
                         headers={"x-csrf-token": far_csrf})
            assert r.status_code == 404, (action, r.text)
        # a correction the rules refuse by the time it is approved (here: its payload spoilt where it is kept)
        with engine.begin() as conn:
            conn.execute(quarantine_corrections.update().where(quarantine_corrections.c.id == cid).values(
                payload=judgment("ID-3")[1]))
        r = boss.post(f"/console/quarantine/{qid}/corrections/{cid}/approve", data={"csrf": boss_csrf})
        assert r.status_code == 422 and 'data-code="invalid"' in r.text and "schema_invalid" in r.text
        r = boss.post(f"/api/v1/quarantine-corrections/{cid}/approve", json={}, headers={"x-csrf-token": boss_csrf})
        assert r.status_code == 422 and r.json()["error"]["code"] == "schema_invalid"
        assert review_of(engine, qid) is None and corrections(engine, qid)[-1][0] == "pending"
        assert c.get(f"/api/v1/messages/{mid}", headers=auth(COURT)).status_code == 404
        # reading the corrections through the API is a payload view, on the record
        assert c.get(f"/api/v1/quarantine/{qid}/corrections", params={"reason": "correct_data"}).status_code == 200
    assert ("console:zhang", f"quarantine:{qid}") in audited(engine, "view_payload")
    assert [a for a, _ in audited(engine, "quarantine_correction_reject")] == ["console:wei"]
    assert [a for a, _ in audited(engine, "quarantine_correction_withdraw")] == ["console:zhang"]


def corrections_of_ids(engine: Engine, qid: str) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(quarantine_corrections.c.id).where(
            quarantine_corrections.c.quarantine_id == qid).order_by(quarantine_corrections.c.submitted_at)).scalars())


def test_approving_while_another_dismisses_leaves_one_outcome_whole(hub: InProcessHub, engine: Engine,
                                                                    registry: Path) -> None:
    central = Hub(engine=engine, directory=load_registry(registry), schema=load_schema())
    import concurrent.futures
    with hub.client() as c:
        qids = [rejected(c, judgment(f"ID-{i}")[1])["quarantine_id"] for i in range(6)]
    for qid in qids:
        entry = qd.quarantine_one(engine, qid, scope=None)
        assert entry is not None
        mid, good = judgment()
        cid = qd.propose(central, entry, good, by="console:zhang", reason="更正", max_bytes=10**6)["id"]
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            approving = pool.submit(qd.approve, central, cid, by="console:wei", note=None, scope=None,
                                    max_bytes=10**6)
            dismissing = pool.submit(qd.dismiss, engine, qid, by="console:lin", reason="另行处理")
            outcomes = []
            for f in (approving, dismissing):
                try:
                    outcomes.append(f.result()["status" if f is approving else "outcome"])
                except (qd.CorrectionRefused, qd.AlreadyReviewed) as e:
                    outcomes.append(type(e).__name__)
        review = review_of(engine, qid)
        assert review is not None
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(messages).where(messages.c.id == mid)).scalar_one()
        if review["outcome"] == "resubmitted":
            assert outcomes[0] == "approved" and outcomes[1] == "AlreadyReviewed"
            assert stored == 1 and corrections(engine, qid) == [("approved", "console:zhang", "console:wei")]
        else:
            assert outcomes[1] == "dismissed" and outcomes[0] in ("CorrectionRefused", "AlreadyReviewed")
            assert stored == 0 and corrections(engine, qid) == [("withdrawn", "console:zhang", "console:lin")]

