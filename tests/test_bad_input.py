"""Bad input never blocks good input (invariant 5), through the real HTTP API on both stacks.

Each malformed, hostile or unauthorised post gets its own status and error code, says where and why,
is kept in quarantine byte for byte for the hub's operators, and a good notice posted right after it
is accepted and delivered.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from tests.conftest import Stack
from tests.harness import NS, N, auth, make_id, notice, states, wait_until
from tests.hubserver import InProcessHub, hub_settings

HUB = "530500ZX"
WHY = {"reason": "supervision"}  # the hub's operators read an agency's rejected input for a stated reason
LIMIT = 64 * 1024


@pytest.fixture
def hub(stack: Stack, registry: Path) -> Iterator[InProcessHub]:
    s = hub_settings(database_url=stack.database_url, broker_url=stack.broker_url, registry_path=registry,
                     queue_prefix=stack.queue_prefix, max_body_bytes=LIMIT)
    s = replace(s, retry=replace(s.retry, tiers=(0.5, 1.0, 2.0), inline_wait=0.05))
    h = InProcessHub(s).start()
    yield h
    h.stop()


@pytest.fixture
def client(hub: InProcessHub) -> Iterator[httpx.Client]:
    with hub.client() as c:
        yield c


def post(c: httpx.Client, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return c.post("/api/v1/messages", content=body, headers={"Content-Type": "application/xml", **headers})


def rejected(r: httpx.Response, status: int, code: str, *, where: bool = True) -> dict[str, Any]:
    """The response is the error: that status, that code, each detail giving a reason (and where, for documents)."""
    assert r.status_code == status, r.text
    body = r.json()
    err = body["error"]
    assert set(err) == {"code", "message", "details"}
    assert err["code"] == code
    assert isinstance(err["message"], str) and err["message"]
    assert err["details"], body
    for d in err["details"]:
        assert isinstance(d["reason"], str) and d["reason"], d
        assert set(d) <= {"reason", "path", "line"}, d
        if where:
            assert "path" in d or "line" in d, d
    assert isinstance(body["quarantine_id"], str)
    return dict(body)


def quarantined(c: httpx.Client, res: dict[str, Any], raw: bytes, *, agency: str | None, status: int,
                code: str) -> dict[str, Any]:
    """The quarantine entry, read by the hub's operators: the raw bytes exactly, and the same reasons."""
    r = c.get(f"/api/v1/quarantine/{res['quarantine_id']}", headers=auth(HUB), params=WHY)
    assert r.status_code == 200, r.text
    q = r.json()
    assert q["id"] == res["quarantine_id"]
    assert base64.b64decode(q["raw_base64"]) == raw
    assert q["agency"] == agency
    assert q["status_code"] == status
    assert q["code"] == code
    assert q["channel"] == "api"
    assert q["problems"] == res["error"]["details"]
    assert q["message"] == res["error"]["message"]
    raw_again = c.get(f"/api/v1/quarantine/{res['quarantine_id']}/raw", headers=auth(HUB), params=WHY)
    assert raw_again.status_code == 200 and raw_again.content == raw
    return dict(q)


def good_goes_through(c: httpx.Client) -> None:
    """A valid judgment posted now is accepted and reaches all three recipients."""
    mid, xml = notice("SentencingDecision", sender="530502FY", execution_division="530581",
                      id_number=make_id("530502", "19900101", 13))
    r = post(c, xml, auth("530502FY"))
    assert r.status_code == 202, r.text
    assert r.json()["message_id"] == mid
    wait_until(lambda: states(c, mid) == {"530581SF": "delivered", "530581GA": "delivered", "530581JC": "available"},
               what="the good message's deliveries")


def judgment(**kw: Any) -> bytes:
    return notice("SentencingDecision", sender="530502FY", execution_division="530581", **kw)[1]


def test_not_xml_is_400_with_the_line(client: httpx.Client) -> None:
    # Given a judgment cut off mid-way (the third line is where it breaks)
    raw = f'<?xml version="1.0" encoding="UTF-8"?>\n<SentencingDecision xmlns="{NS}">\n<envelope><sender>'.encode()
    # When the court posts it
    res = rejected(post(client, raw, auth("530502FY")), 400, "not_xml")
    # Then it is told which line, and the bytes are kept for operators
    assert all(isinstance(d.get("line"), int) and d["line"] >= 3 for d in res["error"]["details"])
    quarantined(client, res, raw, agency="530502FY", status=400, code="not_xml")
    good_goes_through(client)


def test_plain_text_is_not_xml(client: httpx.Client) -> None:
    raw = "判决书见附件\n".encode()
    res = rejected(post(client, raw, auth("530502FY")), 400, "not_xml")
    quarantined(client, res, raw, agency="530502FY", status=400, code="not_xml")
    good_goes_through(client)


def test_wrong_namespace_is_422(client: httpx.Client) -> None:
    raw = judgment().replace(NS.encode(), b"urn:example:court:v3")
    res = rejected(post(client, raw, auth("530502FY")), 422, "wrong_namespace")
    d = res["error"]["details"][0]
    assert d["path"] == "/SentencingDecision"
    assert "urn:example:court:v3" in d["reason"] and NS in d["reason"]
    quarantined(client, res, raw, agency="530502FY", status=422, code="wrong_namespace")
    good_goes_through(client)


def test_missing_required_field_is_422_schema_invalid_with_an_xpath(client: httpx.Client) -> None:
    # Given a judgment without its place of execution
    def drop(root: etree._Element) -> None:
        case = root.find("x:case", N)
        case.remove(case.find("x:executionDivision", N))

    raw = judgment(edit=drop)
    res = rejected(post(client, raw, auth("530502FY")), 422, "schema_invalid")
    # Then the XPath finds the <case> element that lacks it, and the reason names the missing child
    doc = etree.fromstring(raw).getroottree()
    details = res["error"]["details"]
    assert any(doc.xpath(d["path"], namespaces=N) == doc.xpath("/x:SentencingDecision/x:case", namespaces=N)
               and "executionDivision" in d["reason"] for d in details), details
    quarantined(client, res, raw, agency="530502FY", status=422, code="schema_invalid")
    good_goes_through(client)


def test_invalid_id_checksum_is_422_semantic_invalid_naming_the_id_number(client: httpx.Client) -> None:
    good = make_id("530502", "19880314", 31)
    bad = good[:17] + ("1" if good[17] != "1" else "2")
    raw = judgment(id_number=bad)
    res = rejected(post(client, raw, auth("530502FY")), 422, "semantic_invalid")
    [d] = res["error"]["details"]
    assert "check character" in d["reason"]
    doc = etree.fromstring(raw).getroottree()
    assert doc.xpath(d["path"], namespaces=N) == doc.xpath("/x:SentencingDecision/x:person/x:idNumber", namespaces=N)
    quarantined(client, res, raw, agency="530502FY", status=422, code="semantic_invalid")
    good_goes_through(client)
    # And the path names the field itself, readably, not only by position ('/*/*[2]/*[2]')
    assert "idNumber" in d["path"], d


BILLION_LAUGHS = f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE SentencingDecision [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<SentencingDecision xmlns="{NS}"><envelope><sender>&lol9;</sender></envelope></SentencingDecision>
""".encode()

EXTERNAL_ENTITY = f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE SentencingDecision [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<SentencingDecision xmlns="{NS}"><envelope><sender>&xxe;</sender></envelope></SentencingDecision>
""".encode()


@pytest.mark.parametrize("raw", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"])
def test_a_dtd_with_entities_is_400_dtd_forbidden(client: httpx.Client, raw: bytes) -> None:
    res = rejected(post(client, raw, auth("530502FY")), 400, "dtd_forbidden")
    # the DOCTYPE is on line 2
    assert [d.get("line") for d in res["error"]["details"]] == [2]
    quarantined(client, res, raw, agency="530502FY", status=400, code="dtd_forbidden")
    good_goes_through(client)


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_body_over_the_size_limit_is_413_and_a_prefix_is_kept(client: httpx.Client, declared: bool) -> None:
    # Given a 200 KiB post where the limit is 64 KiB
    xml = judgment()
    raw = xml.replace(b"</SentencingDecision>", b"<!--" + b"x" * (200 * 1024) + b"--></SentencingDecision>")
    assert len(raw) > 200 * 1024
    content: Any = raw if declared else iter([raw[i:i + 8192] for i in range(0, len(raw), 8192)])
    r = client.post("/api/v1/messages", content=content,
                    headers={"Content-Type": "application/xml", **auth("530502FY")})
    res = rejected(r, 413, "too_large", where=False)
    assert str(LIMIT) in res["error"]["message"]
    # Then operators see what came in: the start of the body, marked as truncated, and its size
    q = client.get(f"/api/v1/quarantine/{res['quarantine_id']}", headers=auth(HUB), params=WHY).json()
    kept = base64.b64decode(q["raw_base64"])
    assert kept and raw.startswith(kept) and len(kept) < len(raw)
    assert q["truncated"] is True
    assert q["code"] == "too_large" and q["status_code"] == 413 and q["agency"] == "530502FY"
    assert q["size"] > LIMIT
    if declared:
        assert q["size"] == len(raw)
    good_goes_through(client)


def test_a_body_just_under_the_limit_is_not_too_large(client: httpx.Client) -> None:
    xml = judgment()
    pad = LIMIT - len(xml) - len(b"<!---->") - 16
    raw = xml.replace(b"</SentencingDecision>", b"<!--" + b"x" * pad + b"--></SentencingDecision>")
    assert len(raw) < LIMIT
    assert post(client, raw, auth("530502FY")).status_code == 202


def test_an_unknown_api_key_is_401_and_quarantined_without_an_agency(client: httpx.Client) -> None:
    raw = judgment()
    r = post(client, raw, {"Authorization": "Bearer not-a-key-anyone-was-given"})
    res = rejected(r, 401, "unauthorised", where=False)
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert "unknown" in res["error"]["message"]
    quarantined(client, res, raw, agency=None, status=401, code="unauthorised")
    # and no agency, not even the one the envelope names, can read it
    assert client.get(f"/api/v1/quarantine/{res['quarantine_id']}", headers=auth("530502FY")).status_code == 404
    good_goes_through(client)


def test_no_api_key_is_401(client: httpx.Client) -> None:
    raw = judgment()
    r = post(client, raw, {})
    res = rejected(r, 401, "unauthorised", where=False)
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert "no API key" in res["error"]["message"]
    quarantined(client, res, raw, agency=None, status=401, code="unauthorised")
    good_goes_through(client)


def test_the_x_api_key_header_is_accepted_too(client: httpx.Client) -> None:
    _, raw = notice("SentencingDecision", sender="530502FY", execution_division="530581")
    assert post(client, raw, {"X-Api-Key": "test-530502FY"}).status_code == 202


def test_a_sender_mismatch_is_403(client: httpx.Client) -> None:
    # Given the 隆阳区 court's key on a notice whose envelope says it comes from 腾冲市's bureau
    _, raw = notice("SentencingDecision", sender="530581SF", execution_division="530581")
    res = rejected(post(client, raw, auth("530502FY")), 403, "sender_mismatch")
    [d] = res["error"]["details"]
    assert d["path"].endswith("sender")
    assert "530581SF" in d["reason"] and "530502FY" in d["reason"]
    quarantined(client, res, raw, agency="530502FY", status=403, code="sender_mismatch")
    good_goes_through(client)


def test_gb18030_canonical_xml_is_400_wrong_encoding(client: httpx.Client) -> None:
    root = etree.fromstring(judgment())
    raw = etree.tostring(root, encoding="GB18030", xml_declaration=True)
    assert "杨国富".encode("gb18030") in raw
    res = rejected(post(client, raw, auth("530502FY")), 400, "wrong_encoding")
    assert "GB18030" in res["error"]["details"][0]["reason"]
    quarantined(client, res, raw, agency="530502FY", status=400, code="wrong_encoding")
    good_goes_through(client)


def test_utf16_canonical_xml_is_400_wrong_encoding(client: httpx.Client) -> None:
    # Given a judgment in UTF-16 (with a byte-order mark, as Windows tools write it)
    root = etree.fromstring(judgment())
    raw = etree.tostring(root, encoding="UTF-16", xml_declaration=True)
    assert raw.startswith(b"\xff\xfe")
    # Then it is refused like any other non-UTF-8 canonical XML: stored, it would break every
    # reader that takes canonical XML as UTF-8 (e.g. the procuratorate's pull inbox)
    res = rejected(post(client, raw, auth("530502FY")), 400, "wrong_encoding")
    quarantined(client, res, raw, agency="530502FY", status=400, code="wrong_encoding")
    good_goes_through(client)


def test_a_message_id_reused_with_another_document_is_409(client: httpx.Client) -> None:
    # Given a judgment accepted under some message id
    mid, first = notice("SentencingDecision", sender="530502FY", execution_division="530581", doc_id="DOC-A")
    assert post(client, first, auth("530502FY")).status_code == 202
    # When another document (another senderDocumentId) arrives under the same message id
    _, second = notice("SentencingDecision", sender="530502FY", execution_division="530581", doc_id="DOC-B",
                       message_id=mid)
    res = rejected(post(client, second, auth("530502FY")), 409, "duplicate_message_id")
    assert res["error"]["details"][0]["path"].endswith("messageId")
    assert mid in res["error"]["details"][0]["reason"]
    quarantined(client, res, second, agency="530502FY", status=409, code="duplicate_message_id")
    # Then the first message is untouched and still the only one under that id
    r = client.get(f"/api/v1/messages/{mid}", headers=auth(HUB))
    assert r.json()["sender_document_id"] == "DOC-A"
    # And a resubmission of the first is still the idempotent 200
    again = post(client, first, auth("530502FY"))
    assert again.status_code == 200 and again.json()["message_id"] == mid
    good_goes_through(client)


def test_an_agency_may_not_read_another_agencys_quarantine_entry(client: httpx.Client) -> None:
    # Given the 隆阳区 court's rejected post
    raw = b"<not-closed>"
    res = rejected(post(client, raw, auth("530502FY")), 400, "not_xml")
    url = f"/api/v1/quarantine/{res['quarantine_id']}"
    # Then the court and the hub's operators may read it
    assert client.get(url, headers=auth("530502FY")).status_code == 200
    assert client.get(url, headers=auth(HUB), params=WHY).status_code == 200
    # though the hub's operators only for a stated reason, which goes on the record
    refused = client.get(url, headers=auth(HUB))
    assert refused.status_code == 422 and refused.json()["error"]["details"][0]["path"] == "reason"
    assert client.get(url + "/raw", headers=auth(HUB)).status_code == 422
    # But another agency gets 404, for the entry and for its raw bytes, as for an id that does not exist
    for other in ("530581SF", "530502JC"):
        r = client.get(url, headers=auth(other))
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "not_found"
        assert client.get(url + "/raw", headers=auth(other)).status_code == 404
    assert client.get("/api/v1/quarantine/00000000-0000-0000-0000-000000000000",
                      headers=auth(HUB)).status_code == 404
    # And without a key, nobody reads it
    assert client.get(url).status_code == 401


def test_a_burst_of_bad_posts_does_not_delay_the_good_one_behind_it(client: httpx.Client) -> None:
    good_id = make_id("530502", "19880314", 31)
    bad_id = good_id[:17] + ("1" if good_id[17] != "1" else "2")
    bad = [b"", b"<x>", judgment().replace(NS.encode(), b"urn:other"), BILLION_LAUGHS, judgment(id_number=bad_id)]
    codes = [post(client, b, auth("530502FY")).status_code for b in bad]
    assert codes == [400, 400, 422, 400, 422]
    good_goes_through(client)


@pytest.mark.parametrize("sent_at", ["2026-04-02T24:00:00+08:00", "0001-01-01T00:00:00+08:00"],
                         ids=["hour-24", "year-1"])
def test_a_schema_valid_but_unusable_timestamp_is_422_not_a_server_error(client: httpx.Client, sent_at: str) -> None:
    # Given a sentAt that xs:dateTime allows but the hub cannot store (24:00:00; a year-1 time east of UTC)
    def stamp(root: etree._Element) -> None:
        root.find("x:envelope/x:sentAt", N).text = sent_at

    raw = judgment(edit=stamp)
    r = post(client, raw, auth("530502FY"))
    # Then a good message still goes through
    good_goes_through(client)
    # And the court was told what and where, like for any other invalid field, and the bytes are quarantined
    assert r.status_code == 422, r.text
    res = rejected(r, 422, r.json()["error"]["code"])
    assert res["error"]["code"] in ("schema_invalid", "semantic_invalid")
    assert any("sentAt" in d["reason"] or "sentAt" in d.get("path", "") or d.get("line") == 11
               for d in res["error"]["details"]), res
    quarantined(client, res, raw, agency="530502FY", status=422, code=res["error"]["code"])
