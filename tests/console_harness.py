"""What the console's tests share: a hub on loopback with operators' accounts, signing in through the form, and
the hidden fields of a page."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from hub import operators
from hub.store.db import make_engine
from tests.conftest import Stack
from tests.hubserver import InProcessHub, hub_settings

PASSWORD = "a long enough password"


@contextmanager
def console_hub(stack: Stack, registry: Path, accounts: Iterable[tuple[str, str, str]], *, workers: bool = True,
                settings: dict[str, Any] | None = None, retry: dict[str, Any] | None = None) -> Iterator[InProcessHub]:
    """A hub on ``stack`` with quick retries (``retry`` overrides them) and an account for each (user name, role,
    agency), all with PASSWORD."""
    s = hub_settings(database_url=stack.database_url, broker_url=stack.broker_url, registry_path=registry,
                     queue_prefix=stack.queue_prefix, **(settings or {}))
    s = replace(s, retry=replace(s.retry, **({"tiers": (0.5, 1.0, 2.0), "inline_wait": 0.05} | (retry or {}))))
    h = InProcessHub(s, workers=workers).start()
    engine = make_engine(s.database_url, pool_size=2)
    for username, role, agency in accounts:
        operators.create(engine, username=username, password=PASSWORD, role=role, agency=agency,
                         display_name=username, actor="test")
    engine.dispose()
    try:
        yield h
    finally:
        h.stop()


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden field {name}"
    return found.group(1)


def sign_in(c: httpx.Client, username: str, password: str = PASSWORD) -> str:
    """Sign in through the form; the session's CSRF token (from the next page's forms)."""
    form = c.get("/console/signin")
    assert form.status_code == 200 and "登录" in form.text
    r = c.post("/console/signin", data={"username": username, "password": password,
                                        "csrf": hidden(form.text, "csrf"), "next": "/console/dashboard"})
    assert r.status_code == 303, r.text
    page = c.get(r.headers["location"])
    assert page.status_code == 200
    return hidden(page.text, "csrf")
