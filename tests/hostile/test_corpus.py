"""Every case of the corpus through its entry point, each followed by a good message."""

from __future__ import annotations

import base64

import pytest

from tests.harness import auth
from tests.hostile.checks import good_goes_through, refused_or_kept
from tests.hostile.conftest import RSS_BOUND_MB, HostileHub, peak_mb, reset_peak, rss_mb
from tests.hostile.corpus import Case, all_cases

CASES = all_cases()


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_hostile_input(hostile: HostileHub, case: Case) -> None:
    run_case(hostile, case)


def run_case(hostile: HostileHub, case: Case) -> None:
    c = hostile.client
    before = rss_mb()
    reset_peak()
    raw = case.body(hostile.canary.url)
    hits_before = len(hostile.canary.hits)
    r = c.post(f"/api/v1/{case.entry}", content=raw, params=case.params,
               headers={"Content-Type": "application/octet-stream", **auth(case.agency), **case.headers})
    outcome = refused_or_kept(c, case.entry, r, raw, may_accept=case.may_accept, rows=case.rows)
    if case.entry == "messages" and len(raw) <= hostile.hub.settings.max_body_bytes and r.status_code >= 400:
        # within the body limit, the parser itself refuses it: nesting and blow-ups are not waved off as too large
        assert r.json()["error"]["code"] != "too_large", r.text[:500]
    assert hostile.canary.hits[hits_before:] == [], "the hub fetched an external reference"
    if outcome == "accepted" and "/etc/passwd" in raw.decode("latin-1"):
        assert "root:x:0:0" not in r.text
    for o in r.json().get("outcomes", []) if isinstance(r.json(), dict) else []:
        if o.get("quarantine_id"):
            q = c.get(f"/api/v1/quarantine/{o['quarantine_id']}", headers=auth("530500ZX"),
                          params={"reason": "supervision"}).json()
            assert b"root:x:0:0" not in base64.b64decode(q["raw_base64"])
    good_goes_through(c)
    after, peak = rss_mb(), peak_mb()
    print(f"RSS {case.id}: {before:.0f} -> {after:.0f} MB, peak {peak:.0f} MB")
    assert peak - before < RSS_BOUND_MB, f"RSS peaked {peak - before:.0f} MB above its start on {case.id}"
