"""A failed transfer's actions through the console and the operator API, on both stacks: an edit approved by a
second operator reaches the recipient as a new message and is acknowledged, while the original stays as it was and
nobody else gets it again; the submitter never approves their own edit; an edit that fails the canonical checks is
shown at its lines and XPaths and not kept; a reroute delivers to the agency chosen; a transfer resolved by hand
keeps its scan and lets the person's next message through; roles without an action neither see nor take it, and an
operator of another agency finds nothing."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import Engine, select

from hub.store.db import make_engine
from hub.store.operator_schema import failed_transfer_edits, operator_files
from hub.store.schema import audit_log, deliveries, events, failed_transfers, messages
from tests.conftest import Stack
from tests.console_harness import console_hub, sign_in
from tests.harness import N, Recipients, auth, notice, states, status, wait_until
from tests.hubserver import InProcessHub
from tests.test_console import PERSON, failed_transfer

BUREAU = "530581SF"  # 腾冲's bureau: the recipient that refuses
COURT = "530502FY"  # 隆阳's court: the sender
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
ACCOUNTS = [("zhang", "operator", "530500ZX"), ("li", "supervisor", "530500ZX"), ("wang", "supervisor", "530500ZX"),
            ("shen", "auditor", "530500ZX"), ("lysup", "supervisor", "530502SF"), ("tc", "operator", BUREAU),
            ("tcsup", "supervisor", BUREAU)]


@pytest.fixture
def hub(stack: Stack, registry: Path) -> Iterator[InProcessHub]:
    with console_hub(stack, registry, ACCOUNTS) as h:
        yield h


@pytest.fixture
def db(hub: InProcessHub) -> Iterator[Engine]:
    engine = make_engine(hub.settings.database_url, pool_size=2)
    yield engine
    engine.dispose()


def original_xml(engine: Engine, message_id: str) -> str:
    with engine.connect() as conn:
        return bytes(conn.execute(select(messages.c.canonical).where(messages.c.id == message_id)).scalar_one()
                     ).decode()


def row(engine: Engine, table: Any, **where: Any) -> dict[str, Any]:
    with engine.connect() as conn:
        found = conn.execute(select(table).where(*(table.c[k] == v for k, v in where.items()))).mappings().all()
    assert len(found) == 1, found
    return dict(found[0])


def audited(engine: Engine, action: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [(r.actor, r.target) for r in conn.execute(
            select(audit_log.c.actor, audit_log.c.target).where(audit_log.c.action == action).order_by(audit_log.c.id))]


def kinds(engine: Engine, message_id: str) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(events.c.kind).where(events.c.message_id == message_id)
                                 .order_by(events.c.id)).scalars())


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.split("\n"), start=1) if needle in line)


def test_an_edit_approved_by_a_second_operator_reaches_the_recipient_and_is_acknowledged(
        hub: InProcessHub, recipients: Recipients, db: Engine) -> None:
    with hub.client() as c, hub.client() as boss:
        # Given a judgment the bureau refused, and an operator who corrects it
        mid, ft = failed_transfer(c, recipients)
        before = states(c, mid)
        original = original_xml(db, mid)
        csrf = sign_in(c, "zhang")
        asked = c.get(f"/console/failed/{ft}/edit")  # the editor shows the payload: it asks why first
        assert asked.status_code == 200 and "&lt;offence&gt;" not in asked.text and 'id="payload-reason"' in asked.text
        form = c.post(f"/console/failed/{ft}/payload", data={"csrf": csrf, "then": "edit",
                                                             "reason_code": "correct_data"})
        assert form.status_code == 200 and "&lt;offence&gt;盗窃罪&lt;/offence&gt;" in form.text  # pre-filled, escaped
        edited = original.replace("<offence>盗窃罪</offence>", "<offence>诈骗罪</offence>")
        # When the operator submits the edit with a reason
        r = c.post(f"/console/failed/{ft}/edit", data={"csrf": csrf, "payload": edited.replace("\n", "\r\n"),
                                                       "reason": "罪名录入有误"})
        assert r.status_code == 303 and r.headers["location"].endswith("done=edit_submitted"), r.text
        # Then it waits, nothing is sent, and the page shows the difference from the original
        edit = row(db, failed_transfer_edits, failed_transfer_id=ft)
        assert edit["status"] == "pending" and edit["submitted_by"] == "console:zhang"
        assert bytes(edit["payload"]).decode() == edited  # the form's CRLF line ends read as the text's own
        page = c.get(r.headers["location"])
        assert "&lt;offence&gt;" not in page.text  # the difference is payload: shown for a stated reason
        page = c.post(f"/console/failed/{ft}/payload", data={"csrf": csrf, "reason_code": "correct_data"})
        assert "-    &lt;offence&gt;盗窃罪&lt;/offence&gt;" in page.text
        assert "+    &lt;offence&gt;诈骗罪&lt;/offence&gt;" in page.text
        assert 'class="approve"' not in page.text and 'id="edit"' not in page.text  # one pending edit at a time
        assert row(db, failed_transfers, id=ft)["status"] == "open"
        # When a supervisor approves it, with the bureau now answering with an acknowledgement
        recipients.modes[BUREAU] = "ack"
        boss_csrf = sign_in(boss, "li")
        page = boss.get(f"/console/failed/{ft}")
        assert 'class="approve"' not in page.text and "approve-hidden" in page.text  # the difference read first
        page = boss.post(f"/console/failed/{ft}/payload", data={"csrf": boss_csrf, "reason_code": "supervision"})
        assert 'class="approve"' in page.text
        r = boss.post(f"/console/failed/{ft}/edits/{edit['id']}/approve", data={"csrf": boss_csrf, "note": "核对无误"})
        assert r.status_code == 303 and r.headers["location"].endswith("done=edit_approved"), r.text
        # Then the edited payload is delivered to the bureau as a new message and acknowledged
        edit = row(db, failed_transfer_edits, id=edit["id"])
        new = edit["new_message_id"]
        assert edit["status"] == "approved" and edit["decided_by"] == "console:li" and new and new != mid
        wait_until(lambda: states(c, new) == {BUREAU: "acknowledged"}, what="the edit acknowledged by the bureau")
        got = [g for g in recipients.got(BUREAU) if g.message_id == new]
        assert len(got) == 1 and "<offence>诈骗罪</offence>" in got[0].body.decode()
        new_status = status(c, new)
        assert new_status["sender"] == COURT
        sdid = row(db, messages, id=mid)["sender_document_id"]
        assert new_status["sender_document_id"] == f"{sdid}#edit-1"
        # and nobody else got it again; the original stays as it was, its failed delivery resolved
        assert [g for g in recipients.got() if g.message_id == new and g.agency != BUREAU] == []
        assert original_xml(db, mid) == original
        after = states(c, mid)
        assert after[BUREAU] == "resolved" and {k: v for k, v in after.items() if k != BUREAU} == \
            {k: v for k, v in before.items() if k != BUREAU}
        ft_row = row(db, failed_transfers, id=ft)
        assert ft_row["status"] == "resolved" and new in ft_row["resolution"] and ft_row["resolved_by"] == "console:li"
        assert "superseded" in kinds(db, mid) and "supersedes" in kinds(db, new)
        assert audited(db, "submit_failed_transfer_edit") == [("console:zhang", f"failed_transfer_edit:{edit['id']}")]
        assert audited(db, "approve_failed_transfer_edit") == [("console:li", f"failed_transfer_edit:{edit['id']}")]
        # the API lists the edit with its diff
        listed = c.get(f"/api/v1/failed-transfers/{ft}/edits", params={"reason": "correct_data"}).json()["items"]
        assert [e["status"] for e in listed] == ["approved"] and "+    <offence>诈骗罪</offence>" in listed[0]["diff"]


def test_the_submitter_never_approves_their_own_edit_and_a_rejection_sends_nothing(
        hub: InProcessHub, recipients: Recipients, db: Engine) -> None:
    with hub.client() as c, hub.client() as other, hub.client() as clerk:
        mid, ft = failed_transfer(c, recipients)
        edited = original_xml(db, mid).replace("<offence>盗窃罪</offence>", "<offence>诈骗罪</offence>")
        # Given a supervisor who submits an edit through the API
        csrf = sign_in(c, "li")
        assert c.post(f"/api/v1/failed-transfers/{ft}/edits", json={"payload": edited, "reason": "更正"}
                      ).status_code == 403  # no CSRF token, no change
        r = c.post(f"/api/v1/failed-transfers/{ft}/edits", json={"payload": edited, "reason": "更正"},
                   headers={"x-csrf-token": csrf})
        assert r.status_code == 201, r.text
        edit_id = r.json()["id"]
        assert r.json()["recipients"] == [BUREAU]
        # a second edit waits until the first is decided
        r = c.post(f"/api/v1/failed-transfers/{ft}/edits", json={"payload": edited.replace("诈骗罪", "抢劫罪"),
                                                                  "reason": "再改"}, headers={"x-csrf-token": csrf})
        assert r.status_code == 409 and r.json()["error"]["code"] == "edit_pending"
        # When the same supervisor tries to approve it: refused, through the API and the console alike
        r = c.post(f"/api/v1/failed-transfer-edits/{edit_id}/approve", json={}, headers={"x-csrf-token": csrf})
        assert r.status_code == 403 and r.json()["error"]["code"] == "own_edit"
        page = c.get(f"/console/failed/{ft}")
        assert 'class="approve"' not in page.text and "own-edit" in page.text
        r = c.post(f"/console/failed/{ft}/edits/{edit_id}/approve", data={"csrf": csrf})
        assert r.status_code == 403 and 'data-code="own_edit"' in r.text
        # an operator's role may not approve at all
        clerk_csrf = sign_in(clerk, "zhang")
        r = clerk.post(f"/api/v1/failed-transfer-edits/{edit_id}/approve", headers={"x-csrf-token": clerk_csrf})
        assert r.status_code == 403 and "operator" in r.json()["error"]["message"]
        # another agency's supervisor finds neither the transfer nor the edit
        far = sign_in(other, "lysup")
        assert other.get(f"/api/v1/failed-transfers/{ft}/edits", params={"reason": "supervision"}).status_code == 404
        assert other.post(f"/api/v1/failed-transfer-edits/{edit_id}/approve", headers={"x-csrf-token": far}
                          ).status_code == 404
        assert other.get(f"/console/failed/{ft}/edit").status_code == 404
        other.cookies.clear()
        # Then a second supervisor rejects it, with a note
        other_csrf = sign_in(other, "wang")
        r = other.post(f"/api/v1/failed-transfer-edits/{edit_id}/reject", json={}, headers={"x-csrf-token": other_csrf})
        assert r.status_code == 400 and r.json()["error"]["details"] == [{"reason": "note is missing", "path": "note"}]
        r = other.post(f"/api/v1/failed-transfer-edits/{edit_id}/reject", json={"note": "罪名无误，无需修改"},
                       headers={"x-csrf-token": other_csrf})
        assert r.status_code == 200, r.text
        r = other.post(f"/api/v1/failed-transfer-edits/{edit_id}/approve", headers={"x-csrf-token": other_csrf})
        assert r.status_code == 409 and r.json()["error"]["code"] == "already_decided"
    edit = row(db, failed_transfer_edits, id=edit_id)
    assert (edit["status"], edit["decided_by"], edit["new_message_id"]) == ("rejected", "console:wang", None)
    assert row(db, failed_transfers, id=ft)["status"] == "open"
    with db.connect() as conn:
        assert conn.execute(select(messages.c.id).where(messages.c.sender_document_id.like("%#edit-%"))).all() == []
    assert audited(db, "approve_failed_transfer_edit") == []
    assert audited(db, "reject_failed_transfer_edit") == [("console:wang", f"failed_transfer_edit:{edit_id}")]


def test_an_edit_that_fails_the_canonical_checks_is_shown_at_its_place_and_not_kept(
        hub: InProcessHub, recipients: Recipients, db: Engine) -> None:
    with hub.client() as c:
        mid, ft = failed_transfer(c, recipients)
        original = original_xml(db, mid)
        csrf = sign_in(c, "zhang")
        # a schema error: the console names its line and XPath, and marks the line in the submitted text
        bad = original.replace("<sex>MALE</sex>", "<sex>MAN</sex>")
        r = c.post(f"/console/failed/{ft}/edit", data={"csrf": csrf, "payload": bad, "reason": "试改"})
        n = line_of(bad, "<sex>MAN</sex>")
        assert r.status_code == 422 and 'data-code="schema_invalid"' in r.text
        assert f'<a href="#line-{n}">{n}</a>' in r.text and "/x:SentencingDecision/x:person/x:sex" in r.text
        assert f'<tr id="line-{n}" class="bad">' in r.text
        assert r.text.count('class="bad"') == 1
        assert "&lt;sex&gt;MAN&lt;/sex&gt;" in r.text  # the operator's text, kept in the form and escaped
        # a semantic error through the API: the same line and XPath in the error body
        bad = original.replace("<end>2028-03-30</end>", "<end>2025-03-30</end>")
        r = c.post(f"/api/v1/failed-transfers/{ft}/edits", json={"payload": bad, "reason": "试改"},
                   headers={"x-csrf-token": csrf})
        assert r.status_code == 422 and r.json()["error"]["code"] == "semantic_invalid"
        assert r.json()["error"]["details"] == [{
            "reason": "start 2026-03-31 is after end 2025-03-30",
            "path": "/x:SentencingDecision/x:case/x:supervisionPeriod/x:end", "line": line_of(bad, "<end>2025")}]
        # the sender and the message type stay the original's
        r = c.post(f"/api/v1/failed-transfers/{ft}/edits", json={
            "payload": original.replace(f"<sender>{COURT}</sender>", "<sender>530581FY</sender>"), "reason": "x"},
            headers={"x-csrf-token": csrf})
        assert r.status_code == 422 and r.json()["error"]["details"][0]["path"] == \
            "/x:SentencingDecision/x:envelope/x:sender"
        # not XML at all, an unchanged payload, no reason
        r = c.post(f"/api/v1/failed-transfers/{ft}/edits", json={"payload": original[:200], "reason": "x"},
                   headers={"x-csrf-token": csrf})
        assert r.status_code == 400 and r.json()["error"]["code"] == "not_xml"
        assert r.json()["error"]["details"][0]["line"] > 1
        r = c.post(f"/api/v1/failed-transfers/{ft}/edits", json={"payload": original, "reason": "x"},
                   headers={"x-csrf-token": csrf})
        assert r.status_code == 422 and r.json()["error"]["code"] == "no_change"
        r = c.post(f"/api/v1/failed-transfers/{ft}/edits", json={"payload": original.replace("盗窃罪", "诈骗罪")},
                   headers={"x-csrf-token": csrf})
        assert r.status_code == 400 and r.json()["error"]["details"] == [{"reason": "reason is missing",
                                                                          "path": "reason"}]
    with db.connect() as conn:
        assert conn.execute(select(failed_transfer_edits)).all() == []
    assert audited(db, "submit_failed_transfer_edit") == []



def test_an_edit_may_not_turn_a_notice_into_one_its_sender_may_not_send(
        hub: InProcessHub, recipients: Recipients, db: Engine) -> None:
    # Given the prison's parole notice (the court's ruling, which the releasing prison serves) that 腾冲's bureau
    # rejects
    recipients.modes["530581SF"] = "reject"

    def parole(root: Any) -> None:
        root.find("x:case/x:correctionType", N).text = "PAROLE"

    with hub.client() as c:
        mid, ft = failed_transfer(c, recipients, sender="530502JY", edit=parole)
        csrf = sign_in(c, "zhang")
        # When an operator's edit makes it a probation judgment, which only a court decides
        edited = original_xml(db, mid).replace("<correctionType>PAROLE</correctionType>",
                                               "<correctionType>PROBATION</correctionType>")
        r = c.post(f"/api/v1/failed-transfers/{ft}/edits", json={"payload": edited, "reason": "改为缓刑"},
                   headers={"x-csrf-token": csrf})
        # Then it is refused as the send itself would be, naming the rule, and nothing is kept
        assert r.status_code == 403 and r.json()["error"]["code"] == "sender_not_authorised", r.text
        assert "correctionType PROBATION" in r.json()["error"]["message"]
    with db.connect() as conn:
        assert conn.execute(select(failed_transfer_edits)).all() == []

def test_an_edit_of_a_notice_no_agency_could_receive_goes_where_the_corrected_one_routes(
        hub: InProcessHub, recipients: Recipients, db: Engine) -> None:
    with hub.client() as c, hub.client() as boss:
        # Given a judgment naming a county no agency serves: every role it needs is a failed transfer
        mid, xml = notice("SentencingDecision", sender=COURT, execution_division="530599", id_number=PERSON)
        assert c.post("/api/v1/messages", content=xml, headers=auth(COURT)).status_code == 202
        with db.connect() as conn:
            fts = list(conn.execute(select(failed_transfers.c.id).where(failed_transfers.c.message_id == mid)
                                    ).scalars())
        assert len(fts) == 3
        original = original_xml(db, mid)
        csrf = sign_in(c, "zhang")
        # an edit that still finds nobody is refused at the element routing reads, its line marked
        still = original.replace("<offence>盗窃罪</offence>", "<offence>诈骗罪</offence>")
        r = c.post(f"/console/failed/{fts[0]}/edit", data={"csrf": csrf, "payload": still, "reason": "改罪名"})
        n = line_of(still, "<executionDivision>")
        assert r.status_code == 422 and 'data-code="no_recipient"' in r.text
        assert f'<tr id="line-{n}" class="bad">' in r.text
        assert "/x:SentencingDecision/x:case/x:executionDivision" in r.text
        # When the county is corrected and a supervisor approves
        fixed = original.replace("<executionDivision>530599</executionDivision>",
                                 "<executionDivision>530581</executionDivision>")
        r = c.post(f"/api/v1/failed-transfers/{fts[0]}/edits", json={"payload": fixed, "reason": "执行地录错"},
                   headers={"x-csrf-token": csrf})
        assert r.status_code == 201 and sorted(r.json()["recipients"]) == ["530581GA", "530581JC", BUREAU], r.text
        boss_csrf = sign_in(boss, "li")
        r = boss.post(f"/api/v1/failed-transfer-edits/{r.json()['id']}/approve", json={"note": "同意"},
                      headers={"x-csrf-token": boss_csrf})
        assert r.status_code == 202, r.text
        new = r.json()["new_message_id"]
        # Then the corrected notice reaches the county's agencies, and all three failed transfers are resolved
        wait_until(lambda: states(c, new) == {BUREAU: "delivered", "530581GA": "delivered",
                                               "530581JC": "available"}, what="the corrected notice delivered")
        with db.connect() as conn:
            assert set(conn.execute(select(failed_transfers.c.status, failed_transfers.c.resolution).where(
                failed_transfers.c.message_id == mid)).all()) == {
                ("resolved", f"superseded by message {new} (edit {r.json()['id']} by console:zhang, approved by "
                             "console:li)")}
            assert conn.execute(select(failed_transfers.c.id).where(failed_transfers.c.message_id == new)).all() == []


def test_a_reroute_to_an_agency_that_already_has_the_message_is_refused(
        hub: InProcessHub, recipients: Recipients) -> None:
    # Given a judgment the court copies to 隆阳's bureau as well, which 腾冲's bureau rejects
    def copy_to_longyang(root: etree._Element) -> None:
        env = root.find("x:envelope", N)
        cc = etree.Element(f"{{{N['x']}}}cc")
        cc.text = "530502SF"
        env.find("x:sender", N).addnext(cc)

    with hub.client() as c:
        _, ft = failed_transfer(c, recipients, edit=copy_to_longyang)
        # When its reroute names that bureau, which may receive a judgment but has this one already
        r = c.post(f"/api/v1/failed-transfers/{ft}/reroute", json={"agency": "530502SF", "reason": "x"},
                   headers=auth("530500ZX"))
        # Then it is refused with the delivery it has, and the page does not offer it
        assert r.status_code == 409 and r.json()["error"]["code"] == "already_recipient", r.text
        sign_in(c, "li")
        choices = re.search(r'<select name="agency".*?</select>', c.get(f"/console/failed/{ft}").text, re.S)
        assert choices and 'value="530502SF"' not in choices.group(0) and 'value="530521SF"' in choices.group(0)


def test_a_supervisor_reroutes_a_failed_transfer_to_another_agency(
        hub: InProcessHub, recipients: Recipients, db: Engine) -> None:
    with hub.client() as c, hub.client() as clerk:
        mid, ft = failed_transfer(c, recipients)
        # an operator sees no reroute and the API refuses it to the role
        clerk_csrf = sign_in(clerk, "zhang")
        page = clerk.get(f"/console/failed/{ft}")
        assert 'id="reroute"' not in page.text and 'id="edit"' in page.text and 'id="resolve"' in page.text
        r = clerk.post(f"/api/v1/failed-transfers/{ft}/reroute", json={"agency": "530502SF", "reason": "x"},
                       headers={"x-csrf-token": clerk_csrf})
        assert r.status_code == 403 and "operator" in r.json()["error"]["message"]
        csrf = sign_in(c, "li")
        page = c.get(f"/console/failed/{ft}")
        assert 'id="reroute"' in page.text
        choices = re.search(r'<select name="agency".*?</select>', page.text, re.S)
        assert choices and 'value="530502SF"' in choices.group(0)
        assert f'value="{BUREAU}"' not in choices.group(0) and 'value="530500ZX"' not in choices.group(0)
        # refusals name what was wrong
        r = c.post(f"/console/failed/{ft}/reroute", data={"csrf": csrf, "agency": "530502SF", "reason": " "})
        assert r.status_code == 400 and 'data-code="reason_required"' in r.text and "请填写说明" in r.text
        r = c.post(f"/api/v1/failed-transfers/{ft}/reroute", json={"agency": BUREAU, "reason": "x"},
                   headers={"x-csrf-token": csrf})
        assert r.status_code == 422 and r.json()["error"]["code"] == "same_recipient"
        r = c.post(f"/api/v1/failed-transfers/{ft}/reroute", json={"agency": "530599SF", "reason": "x"},
                   headers={"x-csrf-token": csrf})
        assert r.status_code == 422 and r.json()["error"]["details"] == [
            {"reason": "no agency 530599SF in the registry", "path": "agency"}]
        # a bureau's notice goes to another bureau, never to the police or a court instead
        for other in ("530581GA", "530502FY", "530581JC"):
            assert f'value="{other}"' not in choices.group(0)
            r = c.post(f"/api/v1/failed-transfers/{ft}/reroute", json={"agency": other, "reason": "x"},
                       headers={"x-csrf-token": csrf})
            assert r.status_code == 422 and r.json()["error"]["code"] == "may_not_receive", r.text
            assert "only a BUREAU may receive it" in r.json()["error"]["message"]
        r = c.post(f"/console/failed/{ft}/reroute", data={"csrf": csrf, "agency": "530581GA", "reason": "x"})
        assert r.status_code == 422 and 'data-code="may_not_receive"' in r.text and "不能改投" in r.text
        # another agency's supervisor finds nothing
        with hub.client() as far:
            far_csrf = sign_in(far, "lysup")
            r = far.post(f"/api/v1/failed-transfers/{ft}/reroute", json={"agency": "530524SF", "reason": "x"},
                         headers={"x-csrf-token": far_csrf})
            assert r.status_code == 404
        assert row(db, failed_transfers, id=ft)["status"] == "open"
        # When the supervisor reroutes it to 隆阳's bureau
        r = c.post(f"/console/failed/{ft}/reroute", data={"csrf": csrf, "agency": "530502SF",
                                                          "reason": "当事人实际居住在隆阳区"})
        assert r.status_code == 303 and r.headers["location"].endswith("done=rerouted")
        # Then that bureau gets the same message, and the failed transfer is resolved naming it and the reason
        wait_until(lambda: states(c, mid).get("530502SF") == "delivered", what="delivered to the other bureau")
        assert [g.message_id for g in recipients.got("530502SF")] == [mid]
        assert states(c, mid)[BUREAU] == "resolved"
        ft_row = row(db, failed_transfers, id=ft)
        assert ft_row["status"] == "resolved" and "530502SF" in ft_row["resolution"]
        assert "当事人实际居住在隆阳区" in ft_row["resolution"] and ft_row["resolved_by"] == "console:li"
        assert "rerouted" in kinds(db, mid)
        assert audited(db, "reroute_failed_transfer") == [("console:li", f"failed_transfer:{ft}")]
        page = c.get(f"/console/failed/{ft}")
        assert 'id="reroute"' not in page.text and "当事人实际居住在隆阳区" in page.text
        # a resolved transfer takes no further action
        r = c.post(f"/api/v1/failed-transfers/{ft}/reroute", json={"agency": "530524SF", "reason": "x"},
                   headers={"x-csrf-token": csrf})
        assert r.status_code == 409 and r.json()["error"]["code"] == "already_resolved"


def test_a_transfer_resolved_by_hand_keeps_its_scan_and_lets_the_next_message_through(
        hub: InProcessHub, recipients: Recipients, db: Engine) -> None:
    with hub.client() as c:
        mid, ft = failed_transfer(c, recipients)
        # Given the person's next notice to the same bureau, held behind the one that failed
        recipients.modes[BUREAU] = "ok"
        later, xml = notice("SentencingDecision", sender=COURT, execution_division="530581", id_number=PERSON)
        assert c.post("/api/v1/messages", content=xml, headers=auth(COURT)).status_code == 202
        wait_until(lambda: states(c, later).get(BUREAU) == "held", what="the later notice held")
        # an auditor may not resolve; another agency's operator finds nothing
        with hub.client() as other:
            csrf = sign_in(other, "shen")
            assert 'id="resolve"' not in other.get(f"/console/failed/{ft}").text
            r = other.post(f"/api/v1/failed-transfers/{ft}/resolve", data={"reason": "x"},
                           headers={"x-csrf-token": csrf})
            assert r.status_code == 403 and "auditor" in r.json()["error"]["message"]
        csrf = sign_in(c, "tc")  # an operator of the bureau itself
        # refusals: no reason; a file that is not a scan; a scan over 10 MB
        r = c.post(f"/api/v1/failed-transfers/{ft}/resolve", data={"reason": ""}, headers={"x-csrf-token": csrf})
        assert r.status_code == 400 and r.json()["error"]["code"] == "reason_required"
        r = c.post(f"/console/failed/{ft}/resolve", data={"csrf": csrf, "reason": "已当面送达"},
                   files={"file": ("送达回证.pdf", b"<html>not a scan</html>", "application/pdf")})
        assert r.status_code == 422 and 'data-code="file_type"' in r.text and "3c 68 74 6d" in r.text
        r = c.post(f"/api/v1/failed-transfers/{ft}/resolve", data={"reason": "已当面送达"},
                   files={"file": ("big.png", PNG + bytes(10 * 1024 * 1024), "image/png")},
                   headers={"x-csrf-token": csrf})
        assert r.status_code == 413 and r.json()["error"]["code"] == "file_too_large"
        assert row(db, failed_transfers, id=ft)["status"] == "open"
        # When the bureau's operator resolves it, served by hand, with the scan of the receipt
        r = c.post(f"/console/failed/{ft}/resolve", data={"csrf": csrf, "reason": "已于4月3日当面送达"},
                   files={"file": ("送达回证.png", PNG, "image/png")})
        assert r.status_code == 303 and r.headers["location"].endswith("done=resolved"), r.text
        # Then the transfer is resolved, its delivery too, and the held notice goes on
        ft_row = row(db, failed_transfers, id=ft)
        assert ft_row["status"] == "resolved" and "已于4月3日当面送达" in ft_row["resolution"]
        assert row(db, deliveries, message_id=mid, recipient=BUREAU)["state"] == "resolved"
        wait_until(lambda: states(c, later).get(BUREAU) == "delivered", what="the later notice delivered")
        assert "resolved_by_hand" in kinds(db, mid)
        # the scan is kept whole with its SHA-256, listed on the page and downloadable (each view audited)
        f = row(db, operator_files, target=f"failed_transfer:{ft}")
        assert bytes(f["content"]) == PNG and f["sha256"] == hashlib.sha256(PNG).hexdigest()
        assert f["content_type"] == "image/png" and f["filename"] == "送达回证.png"
        page = c.get(f"/console/failed/{ft}")
        assert f"/console/failed/{ft}/files/{f['id']}" not in page.text and f["sha256"] in page.text
        page = c.post(f"/console/failed/{ft}/payload", data={"csrf": csrf, "reason_code": "supervision"})
        assert f"/console/failed/{ft}/files/{f['id']}" in page.text and f["sha256"] in page.text
        got = c.post(f"/console/failed/{ft}/files/{f['id']}", data={"csrf": csrf, "reason_code": "supervision"})
        assert got.status_code == 200 and got.content == PNG and got.headers["content-type"] == "image/png"
        assert got.headers["content-disposition"].startswith("attachment")
        api = c.get(f"/api/v1/operator-files/{f['id']}", params={"reason": "supervision"})
        assert api.status_code == 200 and api.content == PNG and api.headers["x-content-sha256"] == f["sha256"]
        assert audited(db, "resolve_failed_transfer") == [("console:tc", f"failed_transfer:{ft}")]
        assert audited(db, "view_payload").count(("console:tc", f"operator_file:{f['id']}")) == 2
        # the detail page also shows the person's timeline: both notices
        timeline = re.search(r'<table class="list" id="ft-timeline">.*?</table>', page.text, re.S)
        assert timeline and later[:8] in timeline.group(0) and mid[:8] in timeline.group(0)
        # an operator of another agency neither sees the file nor resolves anything
        with hub.client() as far:
            far_csrf = sign_in(far, "lysup")
            assert far.get(f"/api/v1/operator-files/{f['id']}", params={"reason": "supervision"}).status_code == 404
            assert far.get(f"/console/failed/{ft}/files/{f['id']}").status_code == 404
            assert far.post(f"/console/failed/{ft}/files/{f['id']}", data={
                "csrf": far_csrf, "reason_code": "supervision"}).status_code == 404
            r = far.post(f"/api/v1/failed-transfers/{ft}/resolve", data={"reason": "x"},
                         headers={"x-csrf-token": far_csrf})
            assert r.status_code == 404
        # the hub's own key reads it too
        assert c.get(f"/api/v1/operator-files/{f['id']}", params={"reason": "supervision"},
                     headers=auth("530500ZX")).content == PNG


def _words() -> dict[str, tuple[str, str]]:
    from hub.console.pages_failed import WORDS

    return WORDS


def test_every_refusal_outcome_and_edit_status_has_words_in_both_languages() -> None:
    import inspect

    from hub import transfer_actions

    codes = set(re.findall(r'Refused\(\s*"([a-z_]+)"', inspect.getsource(transfer_actions)))
    words = _words()
    assert codes and all(k.startswith("fta.") for k in words)
    assert sorted(c for c in codes if f"fta.err.{c}" not in words) == []
    from hub.console.pages_failed import DONE

    asked = {f"fta.done.{d}" for d in DONE if d != "retried"} | {
        f"fta.edit_status.{s}" for s in ("pending", "approved", "rejected", "withdrawn")}
    assert sorted(asked - set(words)) == []
    assert all(zh and en for zh, en in words.values())


def test_the_agency_that_failed_to_receive_a_message_may_not_rewrite_or_redirect_it(
        hub: InProcessHub, recipients: Recipients, db: Engine) -> None:
    with hub.client() as c:
        mid, ft = failed_transfer(c, recipients)  # the court's judgment, refused by 腾冲's bureau
        original = original_xml(db, mid)
        edited = original.replace("<offence>盗窃罪</offence>", "<offence>诈骗罪</offence>")
        csrf = sign_in(c, "tcsup")  # the bureau's own supervisor
        page = c.get(f"/console/failed/{ft}")
        assert page.status_code == 200  # it sees the transfer, and may retry or resolve it by hand
        for path, body in ((f"/api/v1/failed-transfers/{ft}/reroute", {"agency": "530502SF", "reason": "x"}),
                           (f"/api/v1/failed-transfers/{ft}/edits", {"payload": edited, "reason": "x"})):
            r = c.post(path, json=body, headers={"x-csrf-token": csrf})
            assert r.status_code == 403 and "not_the_sender" in r.text, r.text
        assert original_xml(db, mid) == original
    # And an edit is approved by a named operator, never with the hub's API key
    with hub.client() as c:
        csrf = sign_in(c, "zhang")
        r = c.post(f"/api/v1/failed-transfers/{ft}/edits", json={"payload": edited, "reason": "更正罪名"},
                   headers={"x-csrf-token": csrf})
        assert r.status_code == 201, r.text
        edit_id = r.json()["id"]
        r = c.post(f"/api/v1/failed-transfer-edits/{edit_id}/approve", json={}, headers=auth("530500ZX"))
        assert r.status_code == 403 and "approver_not_operator" in r.text


def test_an_edit_waiting_for_approval_is_withdrawn_when_a_retry_delivers_the_original(
        hub: InProcessHub, recipients: Recipients, db: Engine) -> None:
    with hub.client() as c:
        mid, ft = failed_transfer(c, recipients)
        edited = original_xml(db, mid).replace("<offence>盗窃罪</offence>", "<offence>诈骗罪</offence>")
        csrf = sign_in(c, "zhang")
        r = c.post(f"/api/v1/failed-transfers/{ft}/edits", json={"payload": edited, "reason": "更正罪名"},
                   headers={"x-csrf-token": csrf})
        assert r.status_code == 201, r.text
        recipients.modes[BUREAU] = "ok"
        assert c.post(f"/api/v1/failed-transfers/{ft}/retry", headers=auth("530500ZX")).status_code == 202
        wait_until(lambda: states(c, mid).get(BUREAU) == "delivered", what="the original delivered")
        edit = row(db, failed_transfer_edits, failed_transfer_id=ft)
        assert (edit["status"], edit["decided_by"]) == ("withdrawn", "hub")


def test_the_submitter_withdraws_their_own_edit_and_may_edit_again_but_no_one_else_may_withdraw_it(
        hub: InProcessHub, recipients: Recipients, db: Engine) -> None:
    with hub.client() as c, hub.client() as boss:
        mid, ft = failed_transfer(c, recipients)
        edited = original_xml(db, mid).replace("<offence>盗窃罪</offence>", "<offence>诈骗罪</offence>")
        csrf = sign_in(c, "zhang")
        r = c.post(f"/api/v1/failed-transfers/{ft}/edits", json={"payload": edited, "reason": "更正罪名"},
                   headers={"x-csrf-token": csrf})
        assert r.status_code == 201, r.text
        edit_id = r.json()["id"]
        # the submitter sees a withdraw button on their pending edit; a second operator sees none
        page = c.get(f"/console/failed/{ft}")
        assert f'/edits/{edit_id}/withdraw"' in page.text and 'id="edit"' not in page.text
        boss_csrf = sign_in(boss, "li")
        assert "/withdraw" not in boss.get(f"/console/failed/{ft}").text
        # another operator may not withdraw it, through the API or the console, nor may the hub's key
        r = boss.post(f"/api/v1/failed-transfer-edits/{edit_id}/withdraw", json={},
                      headers={"x-csrf-token": boss_csrf})
        assert r.status_code == 403 and r.json()["error"]["code"] == "not_submitter"
        r = boss.post(f"/console/failed/{ft}/edits/{edit_id}/withdraw", data={"csrf": boss_csrf})
        assert r.status_code == 403 and 'data-code="not_submitter"' in r.text
        r = c.post(f"/api/v1/failed-transfer-edits/{edit_id}/withdraw", json={}, headers=auth("530500ZX"))
        assert r.status_code == 403
        assert c.post(f"/console/failed/{ft}/edits/{edit_id}/withdraw", data={}).status_code == 403  # no CSRF
        # the submitter withdraws it in the console
        r = c.post(f"/console/failed/{ft}/edits/{edit_id}/withdraw", data={"csrf": csrf})
        assert r.status_code == 303 and r.headers["location"].endswith("done=edit_withdrawn")
        page = c.get(r.headers["location"])
        assert 'data-status="withdrawn"' in page.text and 'id="edit"' in page.text
        # nothing can be done with it any more
        r = boss.post(f"/api/v1/failed-transfer-edits/{edit_id}/approve", json={}, headers={"x-csrf-token": boss_csrf})
        assert r.status_code == 409 and r.json()["error"]["code"] == "already_decided"
        # and a new edit may be submitted at once
        r = c.post(f"/api/v1/failed-transfers/{ft}/edits", json={"payload": edited, "reason": "再次更正"},
                   headers={"x-csrf-token": csrf})
        assert r.status_code == 201, r.text
    edit = row(db, failed_transfer_edits, id=edit_id)
    assert (edit["status"], edit["decided_by"]) == ("withdrawn", "console:zhang")
    assert row(db, failed_transfers, id=ft)["status"] == "open"
    assert audited(db, "withdraw_failed_transfer_edit") == [("console:zhang", f"failed_transfer_edit:{edit_id}")]
    assert "edit_withdrawn" in kinds(db, mid)
