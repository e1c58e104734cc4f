"""SQL and script injection in every free-text field the console shows, through the real paths on both stacks.

Agencies send notices whose person names, addresses, offences and sentences, receipt notes and missing-document
reasons, rejection reasons (a TechnicalAck's), register cells and upload file names carry classic payloads;
operators type them into notes, waiver and dismissal reasons, correction and resolution reasons, identity
decisions and their own display name. Then the database is intact (tables there, counts right, every text stored
as typed) and every console page that shows one of them, and the joint-meeting report, holds it as text: parsed
with lxml.html, no script element, no ``on*`` attribute, no ``javascript:`` link, no element the payload made, and
``{{7*7}}`` shown as written (never 49)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import lxml.html
import pytest
from lxml import etree
from sqlalchemy import Engine, func, inspect, select

from hub import casework, identity_store, operators, pursuits
from hub.canonical import load_schema
from hub.registry import load_registry
from hub.service import Hub
from hub.store.alarm_schema import pursuit_drafts
from hub.store.db import make_engine, utcnow
from hub.store.operator_schema import obligation_notes, quarantine_reviews
from hub.store.schema import audit_log, messages, quarantine
from tests.clock import today
from tests.conftest import stack_of
from tests.console_harness import PASSWORD, sign_in
from tests.core.case_messages import CST, Case, id_number
from tests.harness import N, Recipients, auth, notice, technical_ack, wait_until, write_registry
from tests.hubserver import InProcessHub, hub_settings

HUB, COURT, BUREAU = "530500ZX", "530502FY", "530581SF"
PAYLOADS = [
    "'; DROP TABLE messages; --",
    '" OR 1=1 --',
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    "{{7*7}}",
    "${7*7}",
    '" onmouseover="alert(1)" x="',
    "' onfocus='alert(1)' autofocus='",
    "</textarea><svg onload=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "{% print 7*7 %}#{7*7}",
    "\u202eexe.txt\u202c",
]
DAY = dt.timedelta(days=1)
ACCOUNTS = [("boss", "supervisor", HUB), ("shen", "auditor", HUB), ("zhang", "operator", HUB),
            ("tc", "operator", BUREAU), ("tcboss", "supervisor", BUREAU)]


def person(i: int, payload: str) -> Case:
    """A person on probation whose name carries ``payload``; the judgment in effect 40 days ago and sent only now,
    so that the person's report is overdue and a pursuit request is drafted."""
    effective = today() - 40 * DAY
    birth = dt.date(1980, 1, 1) + dt.timedelta(days=97 * i)
    return Case(f"（2026）云0502刑初{9400 + i}号", COURT, "PROBATION", "530581", f"赵{i}{payload}"[:100],
                id_number("530581", birth, 41 + 2 * i), True, birth, effective - 10 * DAY, effective,
                effective + 730 * DAY)


def with_texts(xml: bytes, payload: str) -> bytes:
    root = etree.fromstring(xml)
    for path in ("x:person/x:residence/x:address", "x:case/x:offence", "x:decision/x:sentence"):
        el = root.find(path, N)
        if el is not None:
            el.text = payload
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


@dataclass
class World:
    stack: str
    server: InProcessHub
    engine: Engine
    hub: Hub
    cases: list[Case]
    pages: dict[str, str] = field(default_factory=dict)  # console path → what it is
    mids: list[str] = field(default_factory=list)
    stored: dict[str, list[str]] = field(default_factory=dict)  # what was typed where


@pytest.fixture(scope="module", params=["sqlite", "postgres-rabbitmq"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("injection")
    recipients = Recipients().start()
    registry = write_registry(tmp / "agencies.toml", recipients_url=recipients.url, drop_root=tmp / "drop",
                              accepts={"530521SF": ["ledger"]})
    with stack_of(request.param, tmp) as stack:
        s = hub_settings(database_url=stack.database_url, broker_url=stack.broker_url, registry_path=registry,
                         queue_prefix=stack.queue_prefix, ledger_poll=0.2)
        s = replace(s, retry=replace(s.retry, tiers=(0.5, 1.0, 2.0), inline_wait=0.05))
        server = InProcessHub(s).start()
        engine = make_engine(s.database_url, pool_size=2)
        for username, role, agency in ACCOUNTS:
            operators.create(engine, username=username, password=PASSWORD, role=role, agency=agency,
                             display_name=username, actor="test")
        operators.create(engine, username="evil", password=PASSWORD, role="supervisor", agency=HUB,
                         display_name=PAYLOADS[2] + PAYLOADS[7], actor="test")
        hub = Hub(engine=engine, directory=load_registry(registry), schema=load_schema())
        try:
            w = World(stack.name, server, engine, hub, [person(i, p) for i, p in enumerate(PAYLOADS)])
            build(w)
            yield w
        finally:
            engine.dispose()
            server.stop()
    recipients.stop()


def build(w: World) -> None:
    with w.server.client() as c:
        _notices(w, c)
        _quarantine(w, c)
        _register(w, c)
        _identity(w, c)
    _operators(w)


def _notices(w: World, c: httpx.Client) -> None:
    now = dt.datetime.now(CST)
    for case, p in zip(w.cases, PAYLOADS, strict=True):
        mid = str(uuid.uuid4())
        r = c.post("/api/v1/messages", content=with_texts(case.decision(mid, now), p), headers=auth(COURT))
        assert r.status_code == 202, r.text
        w.mids.append(mid)
    # the bureau refuses some of them, saying why in the payload's words: failed transfers
    for mid, p in zip(w.mids[:6], PAYLOADS[:6], strict=True):
        ack = etree.fromstring(technical_ack(BUREAU, mid, "REJECTED"))
        status = ack.find("x:ack/x:status", N)
        assert status is not None
        reason = etree.Element(f"{{{N['x']}}}reason")
        reason.text = p
        status.addnext(reason)
        r = c.post("/api/v1/messages", content=etree.tostring(ack, xml_declaration=True, encoding="UTF-8"),
                   headers=auth(BUREAU))
        assert r.status_code == 202, r.text
    # and acknowledges others with a receipt whose note and missing document's reason carry the payload
    for case, mid, p in zip(w.cases[6:], w.mids[6:], PAYLOADS[6:], strict=True):
        root = etree.fromstring(case.receipt(str(uuid.uuid4()), now, of=mid, missing=["JUDGMENT"]))
        for path in ("x:receipt/x:note", "x:receipt/x:missing/x:reason", "x:receipt/x:missing/x:title"):
            el = root.find(path, N)
            if el is not None:
                el.text = p
        r = c.post("/api/v1/messages", content=etree.tostring(root, xml_declaration=True, encoding="UTF-8"),
                   headers=auth(BUREAU))
        assert r.status_code == 202, r.text

    def projected() -> bool:
        s = casework.status(w.engine)
        return bool(s["last_seq"] >= s["latest_seq"] and s["gaps"] == 0)

    wait_until(projected, 60, what="the ledger to catch up")
    wait_until(lambda: len(_failed(c)) >= 6, 60, what="six failed transfers")
    assert pursuits.refresh_drafts(w.hub, today=today(), now=utcnow()) >= 1


def _failed(c: httpx.Client) -> list[dict[str, Any]]:
    r = c.get("/api/v1/failed-transfers", params={"limit": 100}, headers=auth(HUB))
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def _quarantine(w: World, c: httpx.Client) -> None:
    for i, p in enumerate(PAYLOADS[:5]):
        def edit(root: etree._Element, p: str = p, i: int = i) -> None:
            root.find("x:person/x:name", N).text = p
            root.find("x:person/x:idNumber", N).text = "53058119800101001X" if i % 2 else "not-an-id" + p[:10]

        _, xml = notice("SentencingDecision", sender=COURT, execution_division="530581", edit=edit)
        r = c.post("/api/v1/messages", content=xml, headers=auth(COURT))
        assert r.status_code in (400, 422), r.text
        w.pages[f"/console/quarantine/{r.json()['quarantine_id']}"] = "quarantined notice"
    for p in PAYLOADS[5:9]:  # a ledger that cannot be read, under a hostile file name
        r = c.post("/api/v1/inbound/ledger", content=f"{p},<not-a-ledger>\n1,2\n".encode(),
                   params={"filename": p + ".csv"}, headers=auth("530521SF"))
        assert r.status_code == 400, r.text
        w.pages[f"/console/quarantine/{r.json()['quarantine_id']}"] = "quarantined native payload"


REGISTER_HEADER = ["序号", "姓名", "身份证号码", "案号", "决定机关", "矫正类别", "矫正起始日期", "矫正终止日期",
                   "执行地", "状态"]


def _register(w: World, c: httpx.Client) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REGISTER_HEADER)
    for n, p in enumerate(PAYLOADS, 1):
        writer.writerow([str(n), f"钱{n}{p}", id_number("530581", dt.date(1970, 1, 1) + dt.timedelta(days=n), 11 + n),
                         f"（2025）云0502刑初{700 + n}号", COURT, "缓刑", "2026-01-01", "2027-12-31", "530581", "在册"])
    r = c.post("/api/v1/registers/bureau_register", content=out.getvalue().encode(),
               params={"as_of": today().isoformat(), "filename": PAYLOADS[3] + "名册.csv"}, headers=auth(BUREAU))
    assert r.status_code == 201, r.text


def _identity(w: World, c: httpx.Client) -> None:
    def post(sample: str, sender: str, ref: str, name: str, idn: str | None, case: str) -> None:
        def edit(root: etree._Element) -> None:
            root.find("x:envelope/x:personRef", N).text = ref
            who = root.find("x:person", N)
            who.find("x:name", N).text = name
            who.find("x:sex", N).text = "MALE"
            who.find("x:birthDate", N).text = "1988-03-14"
            if idn is None:
                who.remove(who.find("x:idNumber", N))
            root.find("x:case/x:caseNumber", N).text = case
            addr = root.find("x:person/x:residence/x:address", N)
            if addr is not None:
                addr.text = PAYLOADS[1] + PAYLOADS[9]

        _, xml = notice(sample, sender=sender, id_number=idn, edit=edit)
        r = c.post("/api/v1/messages", content=xml, headers=auth(sender))
        assert r.status_code == 202, r.text

    post("SentencingDecision", COURT, "530502FY:RY-1", "杨国富", "530522198803140310", "（2026）云0502刑初123号")
    post("PursuitResult", "530581GA", "530581GA:ZT-9", "阳国富", None, "（2025）云0581刑初77号")
    while not identity_store.index_messages(w.engine).caught_up:
        pass
    identity_store.relink(w.engine)


def answered(r: httpx.Response) -> None:
    """An operator's form answered: done (303) or refused saying why (4xx), the page inert either way."""
    assert r.status_code == 303 or 400 <= r.status_code < 500, r.text[:2000]
    if r.status_code != 303:
        _inert(r.text, f"the answer to {r.request.url.path}")


def _operators(w: World) -> None:
    """What operators type: notes, reasons, decisions, through the console's forms."""
    with w.server.client() as c:
        csrf = sign_in(c, "boss")
        obligations = casework.list_obligations(w.engine, today=today(), limit=1000)["items"]
        mine = [o for o in obligations if o["case_number"] in {k.number for k in w.cases}]
        assert len(mine) >= len(PAYLOADS)
        for o, p in zip(mine, PAYLOADS, strict=False):
            url = f"/console/obligations/{o['id']}"
            r = c.post(f"{url}/notes", data={"csrf": csrf, "note": p})
            assert r.status_code == 303, r.text
            w.pages[url] = "obligation"
        for o, p in zip(mine[len(PAYLOADS):], PAYLOADS[:3], strict=False):
            r = c.post(f"/console/obligations/{o['id']}/waive", data={"csrf": csrf, "reason": p})
            answered(r)
            w.pages[f"/console/obligations/{o['id']}"] = "obligation waived"
        with w.engine.connect() as conn:
            drafts = [dict(d) for d in conn.execute(select(pursuit_drafts)).mappings()]
        for d, p in zip(drafts, PAYLOADS, strict=False):
            r = c.post(f"/console/pursuits/{d['id']}/dismiss", data={"csrf": csrf, "reason": p})
            answered(r)
            w.pages[f"/console/pursuits/{d['id']}"] = "pursuit draft"
        failed = _failed(c)
        for ft, p in zip(failed[:3], PAYLOADS[3:6], strict=False):
            r = c.post(f"/console/failed/{ft['id']}/resolve", data={"csrf": csrf, "reason": p})
            answered(r)
        for ft, p in zip(failed[3:5], PAYLOADS[6:8], strict=False):
            r = c.post(f"/console/failed/{ft['id']}/retry", data={"csrf": csrf, "reason": p})
            answered(r)
        ft = failed[-1]
        mid = ft["message_id"]
        with w.engine.connect() as conn:
            raw = conn.execute(select(messages.c.raw).where(messages.c.id == mid)).scalar()
        r = c.post(f"/console/failed/{ft['id']}/edit",
                   data={"csrf": csrf, "payload": bytes(raw).decode(), "reason": PAYLOADS[9] + PAYLOADS[10]})
        assert r.status_code < 500, r.text
        _inert(r.text, "the edit form's answer")
        for ft in failed:
            w.pages[f"/console/failed/{ft['id']}"] = "failed transfer"
            w.pages[f"/console/failed/{ft['id']}/edit"] = "failed transfer edit"
        for q, p in zip([k for k in w.pages if k.startswith("/console/quarantine/")][:4], PAYLOADS[9:], strict=False):
            r = c.post(f"{q}/dismiss", data={"csrf": csrf, "reason": p})
            answered(r)
        items = c.get("/api/v1/operator/discrepancies", params={"limit": 100}).json()["items"]
        assert items
        for item, p in zip(items, PAYLOADS, strict=False):
            r = c.post(f"/console/discrepancies/{item['id']}/resolve", data={"csrf": csrf, "note": p})
            assert r.status_code == 303, r.text
            w.pages[f"/console/discrepancies/{item['id']}"] = "discrepancy"
        for review in identity_store.reviews(w.engine, status="open"):
            w.pages[f"/console/identity/{review['id']}"] = "identity review"
            r = c.post(f"/console/identity/{review['id']}/decide",
                       data={"csrf": csrf, "judgement": "not_same", "reason": PAYLOADS[5] + PAYLOADS[2]})
            assert r.status_code == 303, r.text
    for case in w.cases:
        w.pages[f"/console/persons/{case.id_number}"] = "person timeline"
    w.pages.update({
        "/console/dashboard": "dashboard", "/console/failed": "failed transfers",
        "/console/failed?q=" + PAYLOADS[2]: "failed transfers searched",
        "/console/obligations": "obligations", "/console/pursuits": "pursuits",
        "/console/pursuits?status=dismissed": "dismissed pursuits",
        "/console/quarantine": "quarantine", "/console/quarantine?reviewed=yes": "reviewed quarantine",
        "/console/discrepancies": "discrepancies", "/console/discrepancies?status=resolved": "resolved discrepancies",
        "/console/identity": "identity reviews", "/console/identity?status=decided": "decided reviews",
        "/console/persons?q=" + PAYLOADS[0]: "person search",
        f"/console/reports/view?division=530581&from={today().year}-01-01&to={today().isoformat()}": "report",
    })


# --- checks ---------------------------------------------------------------------------------------------------

_URL_ATTRS = ("href", "src", "action", "formaction", "xlink:href", "data", "background", "poster")


def _inert(html: str, where: str) -> lxml.html.HtmlElement:
    """The page parsed; fails if any payload became markup."""
    doc = lxml.html.document_fromstring(html)
    assert not doc.xpath("//script"), f"a script element on {where}"
    for tag in ("iframe", "object", "embed", "svg//*[@onload]", "img[@src='x']", "a[starts-with(@href,'javascript')]"):
        assert not doc.xpath(f"//{tag}"), f"<{tag}> on {where}"
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        for name, value in el.attrib.items():
            assert not name.lower().startswith("on"), f"an {name} attribute on <{el.tag}> on {where}"
            assert name.lower() != "autofocus", f"an autofocus attribute made by a payload on {where}"
            if name.lower() in _URL_ATTRS:
                assert not re.match(r"\s*(javascript|vbscript|data):", value, re.I), f"{name}={value!r} on {where}"
        assert el.tag not in ("textarea",) or not el.getchildren(), f"markup inside a textarea on {where}"
    return doc


def _text(doc: lxml.html.HtmlElement) -> str:
    return "".join(doc.itertext()) + " ".join(v for el in doc.iter() if isinstance(el.tag, str)
                                              for v in el.attrib.values())


def test_every_page_with_a_payload_shows_it_as_text(world: World) -> None:
    shown: set[str] = set()
    with world.server.client() as c:
        sign_in(c, "boss")
        for path, what in sorted(world.pages.items()):
            r = c.get(path)
            # a resolved transfer's edit form answers that it cannot be edited any more
            assert r.status_code == 200 or (path.endswith("/edit") and r.status_code == 409), f"{what} {path}"
            text = _text(_inert(r.text, f"{what} {path}"))
            assert "赵5" + "49" not in text and "钱6" + "49" not in text, f"a template expression ran on {path}"
            shown.update(p for p in PAYLOADS if p in text)
        with world.server.client() as auditor:
            sign_in(auditor, "shen")
            for path in ("/console/audit", "/console/audit?page=2"):
                r = auditor.get(path)
                assert r.status_code == 200, path
                shown.update(p for p in PAYLOADS if p in _text(_inert(r.text, f"audit log {path}")))
        # the same pages in English
        c.post("/console/lang", data={"lang": "en", "csrf": sign_in(c, "boss")})
        for path in list(world.pages)[:12]:
            _inert(c.get(path).text, f"{path} (en)")
    # the account whose display name is a payload sees its own name as text
    with world.server.client() as c:
        sign_in(c, "evil")
        _inert(c.get("/console/dashboard").text, "the dashboard of an operator named with a payload")
    # every payload reached some page as the text it was
    assert shown == set(PAYLOADS), set(PAYLOADS) - shown


def test_the_joint_meeting_report_holds_the_names_as_text(world: World) -> None:
    with world.server.client() as c:
        params = {"division": "530581", "from": f"{today().year}-01-01", "to": today().isoformat()}
        r = c.get("/api/v1/reports/joint-meeting", params=params | {"format": "html"}, headers=auth(HUB))
        assert r.status_code == 200, r.text[:500]
        _inert(r.text, "the report (HTML)")
        figures = re.findall(r"/figures/([0-9a-zA-Z_.:-]+)", r.text)
        sign_in(c, "boss")
        page = c.get("/console/reports/view", params=params)
        doc = _inert(page.text, "the report in the console")
        links = [a for a in doc.xpath("//a/@href") if "figure" in a]
        names = 0
        for href in links[:30]:
            fig = c.get(href)
            assert fig.status_code == 200, href
            names += sum(p in _text(_inert(fig.text, href)) for p in PAYLOADS)
        assert figures or links
        assert names > 0, "no figure's persons listed a payload name"


def test_the_database_is_intact_and_holds_each_text_as_typed(world: World) -> None:
    tables = set(inspect(world.engine).get_table_names())
    assert {"messages", "quarantine", "audit_log", "obligation_notes", "operators"} <= tables
    with world.engine.connect() as conn:
        # every notice sent was stored (the ids the hub answered), and nothing else under them
        stored = conn.execute(select(func.count()).select_from(messages)
                              .where(messages.c.id.in_(world.mids))).scalar()
        assert stored == len(world.mids)
        notes = set(conn.execute(select(obligation_notes.c.note)).scalars())
        reasons = set(conn.execute(select(quarantine_reviews.c.reason)).scalars())
        audit = [str(d) for d in conn.execute(select(audit_log.c.detail)).scalars() if d]
        q = conn.execute(select(func.count()).select_from(quarantine)).scalar()
        (dismissed,) = conn.execute(select(func.count()).select_from(pursuit_drafts)
                                    .where(pursuit_drafts.c.status == "dismissed")).one()
    assert set(PAYLOADS) <= notes
    assert reasons and reasons <= set(PAYLOADS)
    assert q and q >= 9 and dismissed >= 1
    for p in PAYLOADS:  # as typed, or as JSON writes it
        forms = {p, json.dumps(p, ensure_ascii=False)[1:-1], json.dumps(p)[1:-1]}
        assert any(f in d for d in audit for f in forms), f"{p!r} not in the audit log as typed"
    # and the names as the agencies wrote them, read back through the API
    with world.server.client() as c:
        for case in world.cases:
            r = c.get(f"/api/v1/persons/{case.id_number}/timeline", headers=auth(HUB))
            assert r.status_code == 200, r.text
            assert case.name in _strings(r.json()), f"{case.name!r} not in the timeline as sent"


def _strings(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return set().union(*(_strings(v) for v in value)) if value else set()
    return set()


@pytest.mark.browser
def test_no_page_with_a_payload_runs_script_in_a_browser(world: World) -> None:
    """Chromium opens each page (and the report) signed in, listening for a dialog (alert, confirm, prompt), a page
    error and a request anywhere but the hub; hovering and focusing every element the payloads might have hooked."""
    if world.stack != "sqlite":
        pytest.skip("the pages are the same on both stacks: the browser looks at them once, on SQLite")
    from playwright.sync_api import sync_playwright

    from tests.test_console_browser import chromium_path

    dialogs: list[str] = []
    strays: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context(locale="zh-CN")
            page = context.new_page()
            page.on("dialog", lambda d: (dialogs.append(f"{d.type}: {d.message} on {page.url}"), d.dismiss()))
            page.on("pageerror", lambda e: dialogs.append(f"page error {e} on {page.url}"))
            page.on("request", lambda r: None if r.url.startswith(world.server.url) else strays.append(r.url))
            page.goto(f"{world.server.url}/console/signin")
            page.fill("input[name=username]", "boss")
            page.fill("input[name=password]", PASSWORD)
            page.click("#signin-submit")
            page.wait_for_url("**/console/dashboard")
            first: dict[str, str] = {}  # one page of each kind (the others are the same template)
            for path, what in sorted(world.pages.items()):
                first.setdefault(what, path)
            for path in sorted(first.values()):
                page.goto(world.server.url + path)
                page.evaluate("""() => { for (const el of document.querySelectorAll('body *')) {
                    el.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
                    el.dispatchEvent(new FocusEvent('focus')); } }""")
        finally:
            browser.close()
    assert dialogs == [], dialogs
    assert strays == [], strays


def test_a_nul_character_typed_or_searched_is_stored_or_refused_never_taken_for_a_database_outage(
        world: World) -> None:
    """SQLite stores a NUL character; a PostgreSQL text column refuses it. Either way the answer says what happened:
    stored (303, 200), or refused for the text (400 ``invalid_text``), never 503 "database not available", which
    a sender would retry for ever."""
    nul = "备注\x00'; DROP TABLE messages; --"
    obligation = next(p for p in world.pages if p.startswith("/console/obligations/"))
    quarantined = [p for p in world.pages if p.startswith("/console/quarantine/")][-1]  # not dismissed in build
    with world.server.client() as c:
        csrf = sign_in(c, "boss")
        answers = {
            "note": c.post(f"{obligation}/notes", data={"csrf": csrf, "note": nul}),
            "dismissal": c.post(f"{quarantined}/dismiss", data={"csrf": csrf, "reason": nul}),
            "search": c.get("/console/failed", params={"q": nul}),
            "api search": c.get("/api/v1/failed-transfers", params={"q": nul}, headers=auth(HUB)),
        }
    for what, r in answers.items():
        if world.stack == "sqlite":
            assert r.status_code in (200, 303), f"{what}: {r.status_code} {r.text[:300]}"
        else:
            assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_text", f"{what}: {r.text[:300]}"
    with world.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(messages)).scalar()
        stored = set(conn.execute(select(obligation_notes.c.note)).scalars())
    assert (nul in stored) == (world.stack == "sqlite")
