"""What every hostile case must show: a clean refusal that names the problem, the input kept, the next good
message accepted, and nothing rendered unescaped."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from tests.harness import auth, make_id, notice

HUB = "530500ZX"


def good_goes_through(c: httpx.Client) -> None:
    mid, xml = notice("SentencingDecision", sender="530502FY", execution_division="530581",
                      id_number=make_id("530502", "19900101", 13))
    r = c.post("/api/v1/messages", content=xml, headers={"Content-Type": "application/xml", **auth("530502FY")})
    assert r.status_code == 202, r.text
    assert r.json()["message_id"] == mid


def kept_in_quarantine(c: httpx.Client, qid: str, raw: bytes | None) -> dict[str, Any]:
    r = c.get(f"/api/v1/quarantine/{qid}", headers=auth(HUB), params={"reason": "supervision"})
    assert r.status_code == 200, r.text
    q = dict(r.json())
    assert q["problems"] and q["code"], q
    if raw is not None:
        kept = base64.b64decode(q["raw_base64"])
        if q.get("truncated"):
            assert raw.startswith(kept), "the kept prefix is not the start of the input"
        elif q.get("record_number") is None:
            assert kept == raw, "the quarantined bytes differ from the input"
    return q


def named(err: dict[str, Any]) -> None:
    assert isinstance(err.get("code"), str) and err["code"], err
    assert isinstance(err.get("message"), str) and err["message"], err
    assert err.get("details"), err
    assert all(isinstance(d.get("reason"), str) and d["reason"] for d in err["details"]), err


def refused_or_kept(c: httpx.Client, entry: str, r: httpx.Response, raw: bytes, *, may_accept: bool,
                    rows: bool) -> str:
    """Checks the answer; returns what happened: refused, rows-rejected or accepted."""
    assert r.status_code < 500, f"{r.status_code}: {r.text[:2000]}"
    body = r.json()
    if r.status_code >= 400:
        assert 400 <= r.status_code < 500
        if "error" in body:
            named(body["error"])
        if entry.startswith("registers/"):
            if "quarantine_id" in body:
                kept_in_quarantine(c, body["quarantine_id"], raw)
            else:
                assert "error" in body, body
                stored = c.get(body["status_url"], headers=auth(HUB))
                assert stored.status_code == 200, stored.text
            return "refused"
        if "error" in body:
            kept_in_quarantine(c, body["quarantine_id"], raw)
            if entry.startswith("inbound/") and "payload_id" in body:
                assert c.get(body["status_url"], headers=auth(HUB)).status_code == 200
            return "refused"
        assert entry.startswith("inbound/") and body["outcomes"], body
        for o in body["outcomes"]:
            assert o["status"] == "rejected" and o["problems"] and o.get("quarantine_id"), o
            kept_in_quarantine(c, o["quarantine_id"], None)
        return "rows-rejected"
    if entry.startswith("registers/"):
        snap = body["snapshot"]
        if snap.get("rows_rejected"):
            assert rows, body
            return "rows-rejected"
        assert may_accept, f"accepted a hostile input: {str(body)[:1500]}"
        return "accepted"
    rejected = [o for o in body.get("outcomes", []) if o["status"] == "rejected"]
    for o in rejected:
        assert o["problems"] and o.get("quarantine_id"), o
    if rejected and rows:
        return "rows-rejected"
    assert may_accept, f"accepted a hostile input: {str(body)[:1500]}"
    return "accepted"
