"""A payload is shown only for a stated reason, and each showing is audited with the viewer, the reason and what was
shown, on both stacks: a failed transfer's page, its editor and its attached scan in the console (a small form of
preset reasons and one's own words, refused while it says nothing or too little), the same through the operator API
(``reason`` required, 422 naming it), and a quarantined input's raw bytes and corrections."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from hub.store.db import make_engine
from hub.store.schema import audit_log, messages
from tests.conftest import Stack
from tests.console_harness import console_hub, sign_in
from tests.harness import Recipients, auth, make_id, notice
from tests.hubserver import InProcessHub
from tests.test_console import failed_transfer

HUB_KEY = auth("530500ZX")
COURT = "530502FY"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2
ACCOUNTS = [("zhang", "operator", "530500ZX"), ("shen", "auditor", "530500ZX"), ("ly", "operator", "530502SF")]
ESCAPED_OFFENCE = "&lt;offence&gt;盗窃罪&lt;/offence&gt;"  # a line of the judgment's canonical XML, as a page shows it


@pytest.fixture
def hub(stack: Stack, registry: Path) -> Iterator[InProcessHub]:
    with console_hub(stack, registry, ACCOUNTS) as h:
        yield h


@pytest.fixture
def db(hub: InProcessHub) -> Iterator[Engine]:
    engine = make_engine(hub.settings.database_url, pool_size=2)
    yield engine
    engine.dispose()


def views(engine: Engine) -> list[dict[str, Any]]:
    """Every ``view_payload`` entry of the audit log, oldest first, its detail read as JSON."""
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log.c.actor, audit_log.c.target, audit_log.c.detail)
                            .where(audit_log.c.action == "view_payload").order_by(audit_log.c.id)).all()
    return [{"actor": r.actor, "target": r.target, **json.loads(r.detail)} for r in rows]


def stored(engine: Engine, message_id: str) -> tuple[bytes, bytes]:
    with engine.connect() as conn:
        r = conn.execute(select(messages.c.canonical, messages.c.raw).where(messages.c.id == message_id)).one()
    return bytes(r.canonical), bytes(r.raw)


def sha(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def refused_code(html: str) -> str | None:
    found = re.search(r'class="notice bad reason-refused" data-code="([a-z_]+)"', html)
    return found.group(1) if found else None


# ---- the console ----------------------------------------------------------------------------------------------

def test_a_failed_transfer_s_payload_is_shown_in_the_console_only_for_a_stated_reason(
        hub: InProcessHub, recipients: Recipients, db: Engine) -> None:
    with hub.client() as c:
        # Given a judgment the bureau refused, and an operator of the hub signed in
        mid, ft = failed_transfer(c, recipients)
        canonical, raw = stored(db, mid)
        csrf = sign_in(c, "zhang")
        # When the operator opens the failed transfer
        page = c.get(f"/console/failed/{ft}")
        # Then its facts are there but not its payload: a form asks why, offering the preset reasons in Chinese
        assert page.status_code == 200 and 'id="ft-facts"' in page.text
        assert ESCAPED_OFFENCE not in page.text and 'id="canonical"' not in page.text
        form = page.text.split('id="payload-reason"')[1].split("</form>")[0]
        assert 'name="csrf"' in form and 'name="reason_note"' in form
        for code, words in (("check_failure", "核对转递失败原因"), ("correct_data", "更正数据"),
                            ("supervision", "监督检查"), ("other", "其他")):
            assert re.search(rf'<option value="{code}"[^>]*>{words}', form), code
        assert views(db) == []
        # When the form is sent without a reason, with too few words of one's own, or without its CSRF value
        target = f"/console/failed/{ft}/payload"
        r = c.post(target, data={"csrf": csrf, "reason_code": "", "reason_note": "  "})
        assert r.status_code == 422 and refused_code(r.text) == "reason_required"
        assert "请选择查看理由" in r.text and ESCAPED_OFFENCE not in r.text
        r = c.post(target, data={"csrf": csrf, "reason_code": "other", "reason_note": "看看"})
        assert r.status_code == 422 and refused_code(r.text) == "reason_too_short" and ESCAPED_OFFENCE not in r.text
        r = c.post(target, data={"csrf": csrf, "reason_code": "no_such_reason"})
        assert r.status_code == 422 and refused_code(r.text) == "reason_unknown"
        r = c.post(target, data={"csrf": "forged", "reason_code": "check_failure"})
        assert r.status_code == 403 and ESCAPED_OFFENCE not in r.text
        # Then nothing is shown and nothing is on the record
        assert views(db) == []
        # When a preset reason is given, with words of one's own beside it
        r = c.post(target, data={"csrf": csrf, "reason_code": "check_failure", "reason_note": "对方拒收，核对内容"})
        # Then the payload is shown, saying for which reason, and the view is on the record before it
        assert r.status_code == 200 and ESCAPED_OFFENCE in r.text.split('id="canonical"')[1]
        assert "核对转递失败原因：对方拒收，核对内容" in r.text.split('id="payload-shown"')[1].split("</p>")[0]
        [entry] = views(db)
        assert (entry["actor"], entry["target"], entry["channel"]) == ("console:zhang", f"failed_transfer:{ft}",
                                                                       "console")
        assert (entry["reason"], entry["reason_code"], entry["reason_note"]) == (
            "核对转递失败原因：对方拒收，核对内容", "check_failure", "对方拒收，核对内容")
        # the entry names exactly what was shown, by size and SHA-256 (the raw message only if it differs)
        want = [{"part": "canonical", "bytes": len(canonical), "sha256": sha(canonical)}]
        if raw != canonical:
            want.append({"part": "raw", "bytes": len(raw), "sha256": sha(raw)})
        assert entry["shown"] == want
        # When the operator gives a reason of their own words only
        r = c.post(target, data={"csrf": csrf, "reason_code": "other", "reason_note": "协助法院核实"})
        assert r.status_code == 200 and ESCAPED_OFFENCE in r.text
        assert [(v["reason"], v["reason_code"]) for v in views(db)][-1] == ("协助法院核实", "other")
        # And opening the page again shows no payload and records nothing
        assert ESCAPED_OFFENCE not in c.get(f"/console/failed/{ft}").text
        assert len(views(db)) == 2


def test_the_editor_and_an_attached_scan_open_only_for_a_stated_reason(
        hub: InProcessHub, recipients: Recipients, db: Engine) -> None:
    with hub.client() as c:
        mid, ft = failed_transfer(c, recipients)
        canonical, _ = stored(db, mid)
        csrf = sign_in(c, "zhang")
        # When the operator opens the editor, it asks why first, "更正数据" chosen, and shows no payload
        page = c.get(f"/console/failed/{ft}/edit")
        assert page.status_code == 200 and 'id="payload"' not in page.text and ESCAPED_OFFENCE not in page.text
        form = page.text.split('id="payload-reason"')[1].split("</form>")[0]
        assert 'name="then" value="edit"' in form and re.search(r'<option value="correct_data" selected>', form)
        r = c.post(f"/console/failed/{ft}/payload", data={"csrf": csrf, "then": "edit", "reason_code": ""})
        assert r.status_code == 422 and 'id="payload"' not in r.text and views(db) == []
        # When the reason is given, the editor opens filled with the canonical message, and the view is recorded
        r = c.post(f"/console/failed/{ft}/payload", data={"csrf": csrf, "then": "edit", "reason_code": "correct_data"})
        assert r.status_code == 200 and ESCAPED_OFFENCE in r.text.split('id="payload"')[1]
        [entry] = views(db)
        assert (entry["reason"], entry["shown"]) == (
            "更正数据", [{"part": "canonical", "bytes": len(canonical), "sha256": sha(canonical)}])
        # Given the transfer resolved by hand with a scan attached
        r = c.post(f"/api/v1/failed-transfers/{ft}/resolve", headers=HUB_KEY, data={"reason": "已当面送达"},
                   files={"file": ("送达回证.png", PNG, "image/png")})
        assert r.status_code == 200, r.text
        file_id = r.json()["file_id"]
        # When the operator follows the file's bare address, it leads to the form, not to the file
        r = c.get(f"/console/failed/{ft}/files/{file_id}")
        assert r.status_code == 303 and r.headers["location"] == f"/console/failed/{ft}#payload-reason"
        # and the page without a reason names the file but offers no download
        assert f"/console/failed/{ft}/files/{file_id}" not in c.get(f"/console/failed/{ft}").text
        # When the payload is shown for a reason, the download goes with the same reason
        page = c.post(f"/console/failed/{ft}/payload", data={"csrf": csrf, "reason_code": "supervision"}).text
        download = page.split(f'action="/console/failed/{ft}/files/{file_id}"')[1].split("</form>")[0]
        assert 'name="reason_code" value="supervision"' in download
        r = c.post(f"/console/failed/{ft}/files/{file_id}", data={"csrf": csrf, "reason_code": ""})
        assert r.status_code == 422 and r.content != PNG
        r = c.post(f"/console/failed/{ft}/files/{file_id}", data={"csrf": csrf, "reason_code": "supervision",
                                                                   "reason_note": ""})
        assert r.status_code == 200 and r.content == PNG
        entry = views(db)[-1]
        assert (entry["actor"], entry["target"], entry["reason"], entry["failed_transfer"]) == (
            "console:zhang", f"operator_file:{file_id}", "监督检查", ft)
        assert entry["shown"] == [{"part": "file", "bytes": len(PNG), "sha256": sha(PNG), "filename": "送达回证.png"}]


def test_an_operator_outside_the_transfer_s_agency_gets_nothing_whatever_the_reason(
        hub: InProcessHub, recipients: Recipients, db: Engine) -> None:
    with hub.client() as c:
        _, ft = failed_transfer(c, recipients)
    with hub.client() as far:
        csrf = sign_in(far, "ly")  # 隆阳's bureau: neither the sender nor the recipient
        r = far.post(f"/console/failed/{ft}/payload", data={"csrf": csrf, "reason_code": "supervision"})
        assert r.status_code == 404 and ESCAPED_OFFENCE not in r.text
        assert far.get(f"/api/v1/failed-transfers/{ft}", params={"reason": "supervision"}).status_code == 404
    assert views(db) == []


# ---- the operator API -----------------------------------------------------------------------------------------

def test_the_api_shows_payloads_only_for_a_reason_and_names_it_when_missing(
        hub: InProcessHub, recipients: Recipients, db: Engine) -> None:
    with hub.client() as c:
        mid, ft = failed_transfer(c, recipients)
        canonical, raw = stored(db, mid)
        # Given an edit submitted, so that there are edits' texts too
        edited = canonical.decode().replace("<offence>盗窃罪</offence>", "<offence>诈骗罪</offence>")
        assert c.post(f"/api/v1/failed-transfers/{ft}/edits", headers=HUB_KEY,
                      json={"payload": edited, "reason": "罪名有误"}).status_code == 201
        # When the transfer is read without a reason: its facts, but no payload, and a word on how to ask
        got = c.get(f"/api/v1/failed-transfers/{ft}", headers=HUB_KEY)
        assert got.status_code == 200
        body = got.json()
        assert "canonical" not in body and "raw" not in body and "reason=" in body["payloads"]
        assert body["message_id"] == mid and [set(e) & {"payload", "diff"} for e in body["edits"]] == [set()]
        assert "盗窃罪" not in got.text and views(db) == []
        # When a reason says too little, or the payload-only endpoints get none: 422 naming ``reason``
        for url, params in ((f"/api/v1/failed-transfers/{ft}", {"reason": "看看"}),
                            (f"/api/v1/failed-transfers/{ft}/edits", {}),
                            (f"/api/v1/failed-transfers/{ft}/edits", {"reason": " "})):
            r = c.get(url, params=params, headers=HUB_KEY)
            assert r.status_code == 422, (url, r.text)
            err = r.json()["error"]
            assert err["code"] in ("reason_required", "reason_too_short") and "reason" in err["message"]
            assert [d.get("path") for d in err["details"]] == ["reason"]
            assert "盗窃罪" not in r.text
        assert views(db) == []
        # When a preset is named by its code: the payloads, and the view on the record with what was shown
        r = c.get(f"/api/v1/failed-transfers/{ft}", params={"reason": "supervision"}, headers=HUB_KEY)
        assert r.status_code == 200 and r.json()["canonical"] == canonical.decode() and r.json()["raw"] == raw.decode()
        [edit] = r.json()["edits"]
        assert edit["payload"] == edited and "+    <offence>诈骗罪</offence>" in edit["diff"]
        [entry] = views(db)
        assert (entry["actor"], entry["target"], entry["reason"], entry["reason_code"], entry["channel"]) == (
            "530500ZX", f"failed_transfer:{ft}", "监督检查", "supervision", "api")
        assert entry["shown"] == [{"part": "canonical", "bytes": len(canonical), "sha256": sha(canonical)},
                                  {"part": "raw", "bytes": len(raw), "sha256": sha(raw)},
                                  {"part": "edit", "bytes": len(edited.encode()), "sha256": sha(edited),
                                   "edit_id": edit["id"]}]
        # and by its Chinese words, or in the caller's own words
        r = c.get(f"/api/v1/failed-transfers/{ft}/edits", params={"reason": "更正数据"}, headers=HUB_KEY)
        assert r.status_code == 200 and r.json()["items"][0]["payload"] == edited
        r = c.get(f"/api/v1/failed-transfers/{ft}/edits", params={"reason": "法院来函要求核对"}, headers=HUB_KEY)
        assert r.status_code == 200
        assert [(v["reason"], v["reason_code"], [p["part"] for p in v["shown"]]) for v in views(db)[1:]] == [
            ("更正数据", "correct_data", ["edit"]), ("法院来函要求核对", "other", ["edit"])]
        # A console session reading through the API is named as its operator
        with hub.client() as s:
            sign_in(s, "shen")
            assert s.get(f"/api/v1/failed-transfers/{ft}", params={"reason": "监督检查"}).status_code == 200
        assert views(db)[-1]["actor"] == "console:shen"
        # Given the transfer resolved with a scan: the file only for a reason
        r = c.post(f"/api/v1/failed-transfers/{ft}/resolve", headers=HUB_KEY, data={"reason": "已当面送达"},
                   files={"file": ("scan.png", PNG, "image/png")})
        file_id = r.json()["file_id"]
        r = c.get(f"/api/v1/operator-files/{file_id}", headers=HUB_KEY)
        assert r.status_code == 422 and r.json()["error"]["details"][0]["path"] == "reason" and r.content != PNG
        r = c.get(f"/api/v1/operator-files/{file_id}", params={"reason": "check_failure"}, headers=HUB_KEY)
        assert r.status_code == 200 and r.content == PNG
        entry = views(db)[-1]
        assert (entry["target"], entry["reason"], entry["shown"]) == (
            f"operator_file:{file_id}", "核对转递失败原因",
            [{"part": "file", "bytes": len(PNG), "sha256": sha(PNG), "filename": "scan.png"}])


# ---- the quarantine -------------------------------------------------------------------------------------------

def quarantined(c: httpx.Client) -> tuple[str, bytes]:
    """A court's judgment whose ID number breaks the schema, in quarantine: (its id, its raw bytes)."""
    def bad(root: Any) -> None:
        root.find("{urn:xianjie:canonical:v1}person/{urn:xianjie:canonical:v1}idNumber").text = "ID-530581"

    _, raw = notice("SentencingDecision", sender=COURT, execution_division="530581",
                    id_number=make_id("530581", "19850707", 33), edit=bad)
    r = c.post("/api/v1/messages", content=raw, headers={"Content-Type": "application/xml", **auth(COURT)})
    assert r.status_code == 422, r.text
    return str(r.json()["quarantine_id"]), raw


def test_a_quarantined_input_and_its_corrections_are_shown_only_for_a_reason(hub: InProcessHub, db: Engine) -> None:
    with hub.client() as c:
        qid, raw = quarantined(c)
        csrf = sign_in(c, "zhang")
        # When the operator opens the entry: its reasons, but not its raw input, and no correction box to fill
        page = c.get(f"/console/quarantine/{qid}")
        assert page.status_code == 200 and 'id="qu-problems"' in page.text
        assert 'id="raw-lines"' not in page.text and "ID-530581" not in page.text.split('id="qu-problems"')[1]
        assert 'id="payload-reason"' in page.text and 'id="resubmit-form"' not in page.text
        r = c.post(f"/console/quarantine/{qid}/payload", data={"csrf": csrf, "reason_code": "other",
                                                               "reason_note": "查"})
        assert r.status_code == 422 and refused_code(r.text) == "reason_too_short" and 'id="raw-lines"' not in r.text
        assert views(db) == []
        # When a reason is given: the input line by line, the correction box filled, the view on the record
        r = c.post(f"/console/quarantine/{qid}/payload", data={"csrf": csrf, "reason_code": "correct_data",
                                                               "reason_note": "身份证号格式"})
        assert r.status_code == 200 and 'id="raw-lines"' in r.text
        assert "&lt;idNumber&gt;ID-530581&lt;/idNumber&gt;" in r.text.split('id="payload"')[1]
        [entry] = views(db)
        assert (entry["actor"], entry["target"], entry["channel"], entry["reason"], entry["code"]) == (
            "console:zhang", f"quarantine:{qid}", "console", "更正数据：身份证号格式", "schema_invalid")
        assert entry["shown"] == [{"part": "raw", "bytes": len(raw), "sha256": sha(raw)}]
        # And through the API, the corrections only for a reason
        assert c.get(f"/api/v1/quarantine/{qid}/corrections", headers=HUB_KEY).status_code == 422
        r = c.get(f"/api/v1/quarantine/{qid}/corrections", params={"reason": "supervision"}, headers=HUB_KEY)
        assert r.status_code == 200 and r.json()["items"] == []
        entry = views(db)[-1]
        assert (entry["actor"], entry["target"], entry["channel"], entry["reason"], entry["shown"]) == (
            "530500ZX", f"quarantine:{qid}", "api", "监督检查", [])


# ---- the reasons themselves -----------------------------------------------------------------------------------

def test_a_reason_is_a_preset_or_enough_words_of_one_s_own_and_the_console_has_words_for_each() -> None:
    from hub import payload_views as pv
    from hub.console import i18n

    assert pv.stated("supervision", "") == pv.Reason("supervision") and pv.Reason("supervision").text == "监督检查"
    assert pv.stated("correct_data", "  身份证号  录错 ").text == "更正数据：身份证号 录错"
    assert pv.stated("", "协助法院核实") == pv.stated("other", "协助法院核实") == pv.Reason("other", "协助法院核实")
    assert pv.from_api("更正数据") == pv.from_api("correct_data") == pv.Reason("correct_data")
    assert pv.from_api("other") == pv.Reason("other", "other")  # five letters of one's own: enough
    refusals = {"reason_required": [lambda: pv.stated("", " "), lambda: pv.from_api(None), lambda: pv.from_api("")],
                "reason_too_short": [lambda: pv.stated("other", "核对"), lambda: pv.from_api("看看")],
                "reason_too_long": [lambda: pv.stated("supervision", "字" * 501), lambda: pv.from_api("字" * 501)],
                "reason_unknown": [lambda: pv.stated("curiosity", "")]}
    for code, calls in refusals.items():
        for call in calls:
            with pytest.raises(pv.ReasonRefused) as refused:
                call()
            assert (refused.value.code_, refused.value.status) == (code, 422)
            assert refused.value.problems[0].path in ("reason", "reason_code", "reason_note")
        assert f"pv.err.{code}" in i18n.CATALOGUE
    for code, (zh, _) in pv.REASONS.items():
        assert i18n.CATALOGUE[f"pv.reason.{code}"][0].startswith(zh)
