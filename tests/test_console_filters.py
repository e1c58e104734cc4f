"""The failed-transfer list's filters and search, on the console's page and through the API alike, on both stacks:
two failed transfers that differ in age, message type, sender, recipient, person and case number, and each filter
keeps one and leaves the other out; an agency's operator filters only within their own agency's."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from hub.store.db import make_engine
from hub.store.schema import failed_transfers
from tests.conftest import Stack
from tests.console_harness import console_hub, sign_in
from tests.harness import Recipients, auth, make_id, notice, states, wait_until
from tests.hubserver import InProcessHub
from tests.test_console import PERSON, failed_transfer

ACCOUNTS = [("zhang", "operator", "530500ZX"), ("tc", "operator", "530581SF")]
OTHER = make_id("530502", "19791102", 51)  # the person of the custody notice


@pytest.fixture
def hub(stack: Stack, registry: Path) -> Iterator[InProcessHub]:
    with console_hub(stack, registry, ACCOUNTS) as h:
        yield h


def custody_refused(c: httpx.Client, recipients: Recipients) -> tuple[str, str]:
    """A custody notice about OTHER from 隆阳's police that 隆阳's bureau rejects: (message id, failed transfer id)."""
    recipients.modes["530502SF"] = "reject"
    mid, xml = notice("CustodyNotice", sender="530502GA", id_number=OTHER)
    assert c.post("/api/v1/messages", content=xml, headers=auth("530502GA")).status_code == 202
    wait_until(lambda: states(c, mid).get("530502SF") == "failed", what="failed transfer")
    fts = c.get("/api/v1/failed-transfers", headers=auth("530500ZX")).json()["items"]
    return mid, next(f["id"] for f in fts if f["message_id"] == mid)


def listed(c: httpx.Client, **params: str) -> set[str]:
    """The failed transfers the console's list shows for ``params``, checked against what the API lists."""
    page = c.get("/console/failed", params=params)
    assert page.status_code == 200, page.text
    shown = set(re.findall(r'href="/console/failed/([0-9a-f-]{36})"', page.text))
    api = c.get("/api/v1/failed-transfers", params=params)
    assert api.status_code == 200, api.text
    assert {x["id"] for x in api.json()["items"]} == shown and api.json()["total"] == len(shown), params
    return shown


def test_each_filter_and_search_of_the_failed_transfer_list_keeps_what_matches_and_only_that(
        hub: InProcessHub, recipients: Recipients) -> None:
    with hub.client() as c:
        # Given a judgment about 杨国富 (PERSON) from 隆阳's court that 腾冲's bureau refused five days ago,
        # and a custody notice about 李春华 (OTHER) from 隆阳's police that 隆阳's bureau refused just now
        _, old = failed_transfer(c, recipients)
        _, new = custody_refused(c, recipients)
        engine = make_engine(hub.settings.database_url, pool_size=1)
        with engine.begin() as conn:
            conn.execute(update(failed_transfers).where(failed_transfers.c.id == old).values(
                created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=5)))
        engine.dispose()
        sign_in(c, "zhang")  # the hub's operator sees both
        assert listed(c) == {old, new}
        cases: list[tuple[dict[str, Any], set[str]]] = [
            # by age
            ({"age": "3to7d"}, {old}), ({"age": "lt1d"}, {new}), ({"age": "1to3d"}, set()), ({"age": "gt7d"}, set()),
            # by message type
            ({"message_type": "SentencingDecision"}, {old}), ({"message_type": "CustodyNotice"}, {new}),
            ({"message_type": "ReleaseNotice"}, set()),
            # by agency, as sender or recipient
            ({"agency": "530502FY"}, {old}), ({"agency": "530581SF"}, {old}), ({"agency": "530502GA"}, {new}),
            ({"agency": "530502SF"}, {new}), ({"agency": "530521SF"}, set()),
            # by a person's name, whole or in part
            ({"q": "杨国富"}, {old}), ({"q": "国富"}, {old}), ({"q": "李春华"}, {new}), ({"q": "王"}, set()),
            # by ID number
            ({"q": PERSON}, {old}), ({"q": OTHER}, {new}), ({"q": make_id("530581", "19900101", 11)}, set()),
            # by case number, whole or in part
            ({"q": "（2026）云0502刑初123号"}, {old}), ({"q": "刑初456"}, {new}), ({"q": "刑初999"}, set()),
            # together
            ({"agency": "530502SF", "message_type": "SentencingDecision"}, set()),
            ({"age": "lt1d", "q": "李春华"}, {new}), ({"age": "lt1d", "q": "杨国富"}, set()),
        ]
        for params, expected in cases:
            assert listed(c, **params) == expected, params
    with hub.client() as c:
        sign_in(c, "tc")  # 腾冲's bureau: only the judgment it refused, whatever the filter asks
        assert listed(c) == {old}
        assert listed(c, q="李春华") == set() and listed(c, agency="530502GA") == set()
        assert listed(c, message_type="CustodyNotice") == set() and listed(c, age="3to7d") == {old}
