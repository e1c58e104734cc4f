"""The authorisation matrix (hub.authz, hub.authz_routes, hub.api.guard), tested exhaustively on one hub per module:

(a) every route the app serves has a declared policy, and every policy a route;
(b) every organ type × every message type (and the kinds the matrix tells apart) through POST /api/v1/messages:
    202 exactly when the matrix allows it — and when a hand-written table, independent of the matrix, says so —,
    else 403 ``sender_not_authorised`` kept in quarantine; a native payload cannot carry what its sender may not send;
(c) every organ type × every agency-facing endpoint, against subjects it does and does not relate to (a
    procuratorate reads the copies it is owed and no other);
(d) every operator role × every operator action, through the operator API and the console's pages.
SQLite for the whole grid; one PostgreSQL pass of a representative slice at the end.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import datetime as dt
import io
import json
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from lxml import etree
from sqlalchemy import insert

from hub import identity_store, operators
from hub.api.app import create_app
from hub.authz import ACCESS, OPERATOR, ROLES, SEND, may_operate, may_send
from hub.authz_routes import ROUTES, route_key
from hub.canonical import load_schema, parse
from hub.cli_authz import render_markdown
from hub.core.model import OrganType
from hub.core.routing import MESSAGE_TYPES
from hub.settings import Settings
from hub.store.alarm_schema import pursuit_drafts
from hub.store.db import make_engine, utcnow
from hub.store.register_schema import discrepancies
from tests.console_harness import PASSWORD, hidden
from tests.harness import N, Recipients, auth, make_id, notice, wait_until, write_registry
from tests.hubserver import InProcessHub, hub_settings
from tests.services import fresh_postgres

ROOT = Path(__file__).resolve().parent.parent
BUREAU_SAMPLES = ROOT / "schemas" / "agencies" / "bureau" / "samples"
COURT_SAMPLES = ROOT / "schemas" / "agencies" / "court" / "samples"
COURT_JUDGMENT = Path(__file__).resolve().parent / "golden" / "court" / "sentencing-judgment.in.xml"
HUB = "530500ZX"

# ---- (b) the hand-written table: who may originate what, from DOMAIN.md §2 and docs/messages.md, written out
# independently of hub.authz. C court, J procuratorate, G police, S bureau, P prison, K detention centre, Z the hub.
LETTER = {OrganType.COURT: "C", OrganType.PROCURATORATE: "J", OrganType.POLICE: "G", OrganType.BUREAU: "S",
          OrganType.PRISON: "P", OrganType.DETENTION: "K", OrganType.HUB: "Z"}
EXPECTED_SENDERS = {
    "AssessmentCommission": "CJGP",  # row 1: court, procuratorate, police or prison commissions
    "AssessmentOpinion": "S",  # row 2
    "SentencingDecision:CONTROL": "C",  # 管制: only a court sentences
    "SentencingDecision:PROBATION": "C",  # 缓刑: only a court
    "SentencingDecision:PAROLE": "CP",  # 假释: the court's ruling, served by the releasing prison too
    "SentencingDecision:TEMP_OUTSIDE": "CGP",  # 暂外: decided by a court, approved by prison administration or police
    "DocumentReceipt": "S",  # row 5
    "ReportingOutcome": "S",  # row 7
    "TransferPapers:ESCORTED_HANDOVER": "GPK",  # row 8: prison, detention centre or police hand over
    "TransferPapers:COUNTY_TRANSFER": "S",  # row 11: bureau A to bureau B
    "TransferOpinion:REQUEST": "S",  # row 10
    "TransferOpinion:REPLY": "S",
    "CustodyNotice": "CJGK",  # row 14: police, procuratorate, court; the detention centre that takes them in
    "SupervisionEvent": "S",  # rows 13, 15
    "RevocationProposal": "S",  # row 16
    "RevocationDecision:REVOKE_PROBATION": "C",  # row 16: the court revokes probation or parole
    "RevocationDecision:REVOKE_PAROLE": "C",
    "RevocationDecision:RECOMMIT_TEMP_OUTSIDE": "CGP",  # Law 49: whoever decided or approved the 暂外
    "PursuitRequest": "S",  # row 18
    "PursuitResult": "G",  # row 18: only the police report a pursuit back
    "ReleaseNotice": "S",  # row 19
    "TechnicalAck": "CJGSPKZ",  # every receiving system acknowledges
    "DeadlineNotice": "Z",  # the hub's own notice
}
# how each case is made from a canonical sample: (sample, {element path: value})
CT, KIND = "x:case/x:correctionType", "x:decision/x:kind"
VARIANTS: dict[str, tuple[str, dict[str, str]]] = {
    "AssessmentCommission": ("AssessmentCommission", {}),
    "AssessmentOpinion": ("AssessmentOpinion", {}),
    "SentencingDecision:CONTROL": ("SentencingDecision", {CT: "CONTROL"}),
    "SentencingDecision:PROBATION": ("SentencingDecision", {CT: "PROBATION"}),
    "SentencingDecision:PAROLE": ("SentencingDecision", {CT: "PAROLE"}),
    "SentencingDecision:TEMP_OUTSIDE": ("SentencingDecision", {CT: "TEMP_OUTSIDE"}),
    "DocumentReceipt": ("DocumentReceipt", {}),
    "ReportingOutcome": ("ReportingOutcome", {}),
    "TransferPapers:ESCORTED_HANDOVER": ("TransferPapers", {}),
    "TransferPapers:COUNTY_TRANSFER": ("TransferPapers-county", {}),
    "TransferOpinion:REQUEST": ("TransferOpinion", {}),
    "TransferOpinion:REPLY": ("TransferOpinion-reply", {}),
    "CustodyNotice": ("CustodyNotice", {}),
    "SupervisionEvent": ("SupervisionEvent", {}),
    "RevocationProposal": ("RevocationProposal", {}),
    "RevocationDecision:REVOKE_PROBATION": ("RevocationDecision", {KIND: "REVOKE_PROBATION", CT: "PROBATION"}),
    "RevocationDecision:REVOKE_PAROLE": ("RevocationDecision", {KIND: "REVOKE_PAROLE", CT: "PAROLE"}),
    "RevocationDecision:RECOMMIT_TEMP_OUTSIDE": ("RevocationDecision", {KIND: "RECOMMIT_TEMP_OUTSIDE",
                                                                         CT: "TEMP_OUTSIDE"}),
    "PursuitRequest": ("PursuitRequest", {}),
    "PursuitResult": ("PursuitResult", {}),
    "ReleaseNotice": ("ReleaseNotice", {}),
    "TechnicalAck": ("TechnicalAck", {}),
    "DeadlineNotice": ("DeadlineNotice", {}),
}
# the agency of each organ type that sends in the grid
SENDER_OF = {OrganType.COURT: "530502FY", OrganType.PROCURATORATE: "530502JC", OrganType.POLICE: "530502GA",
             OrganType.BUREAU: "530581SF", OrganType.PRISON: "530502JY", OrganType.DETENTION: "530502KS",
             OrganType.HUB: HUB}
ORGANS = tuple(SENDER_OF)
SCHEMA = load_schema()


def build(variant: str, sender: str) -> tuple[str, bytes]:
    sample, edits = VARIANTS[variant]

    def edit(root: etree._Element) -> None:
        for path, value in edits.items():
            el = root.find(path, N)
            assert el is not None, (variant, path)
            el.text = value

    return notice(sample, sender=sender, edit=edit)


def facts_of(variant: str) -> tuple[str, dict[str, str]]:
    msg = parse(build(variant, SENDER_OF[OrganType.COURT])[1], schema=SCHEMA).canonical
    return msg.message_type, dict(msg.facts)


# ---- the hub the module shares ------------------------------------------------------------------------------------

P1, P2, P3 = make_id("530581", "19850101", 11), make_id("530523", "19790202", 14), make_id("530502", "19900303", 15)
# every organ type, with an agency that relates to the subjects and one that does not; 530500 is the city above
GRID = ("530502FY", "530581FY", "530502JC", "530523JC", "530581JC", "530500JC", "530502GA", "530581GA", "530502SF",
        "530523SF", "530581SF", "530502JY", "530502KS", HUB)
BUREAUS = frozenset(a for a in GRID if a.endswith("SF"))


@dataclass
class World:
    hub: InProcessHub
    recipients: Recipients
    url: str
    ids: dict[str, str] = field(default_factory=dict)  # the subjects' ids by name
    readers: dict[str, frozenset[str]] = field(default_factory=dict)  # each message's sender and recipients

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)


def _registry(path: Path, recipients: Recipients) -> Path:
    # 腾冲's bureau speaks the bureau format, 隆阳's court the court format; 腾冲's police may also send bureau-format
    # payloads — which must not let it send what only a bureau sends
    return write_registry(path / "agencies.toml", recipients_url=recipients.url, drop_root=path / "drop",
                          adapters={"530581SF": "bureau", "530502FY": "court"}, accepts={"530581GA": ["bureau"]})


@contextmanager
def running_hub(database_url: str, path: Path) -> Iterator[tuple[InProcessHub, Recipients]]:
    recipients = Recipients().start()
    registry = _registry(path, recipients)
    # the grid sends hundreds of requests without credentials from one address: the failed-attempt block, which has
    # tests of its own (test_api_keys), is off here so that each of them is answered for itself
    s = hub_settings(database_url=database_url, broker_url="database://", registry_path=registry, auth_max_failures=0)
    s = replace(s, retry=replace(s.retry, tiers=(0.5, 1.0, 2.0), inline_wait=0.05))
    h = InProcessHub(s, workers=True).start()
    engine = make_engine(s.database_url, pool_size=2)
    for role in ROLES:
        operators.create(engine, username=f"hub-{role}", password=PASSWORD, role=role, agency=HUB,
                         display_name=role, actor="test")
    operators.create(engine, username="sf-operator", password=PASSWORD, role="operator", agency="530581SF",
                     display_name="sf", actor="test")
    engine.dispose()
    try:
        yield h, recipients
    finally:
        h.stop()
        recipients.stop()


def _post(c: httpx.Client, xml: bytes, code: str) -> httpx.Response:
    return c.post("/api/v1/messages", content=xml, headers=auth(code) | {"content-type": "application/xml"})


def _subjects(w: World) -> None:
    """The messages, inputs, drafts, items and uploads the grid asks about, and who stands how to each."""
    engine = make_engine(w.hub.settings.database_url, pool_size=1)
    with w.client() as c:
        for name, sample, sender, division, person in (("M1", "SentencingDecision", "530502FY", "530581", P1),
                                                       ("M2", "TransferPapers", "530502JY", "530523", P2),
                                                       ("M3", "CustodyNotice", "530502KS", "530502", P3)):
            def own_ref(root: etree._Element, sender: str = sender, name: str = name) -> None:
                # the sender's own key of this person and a case of its own, not the sample's (which the grid's
                # messages share, and which would make their senders correspondents of this person's case)
                for path, value in (("x:envelope/x:personRef", f"{sender}:{name}"),
                                    ("x:envelope/x:correlationId", f"authz-{name}"),
                                    ("x:case/x:caseNumber", f"（2026）云0502刑初9{name[1]}号")):
                    el = root.find(path, N)
                    if el is not None:
                        el.text = value

            mid, xml = notice(sample, sender=sender, execution_division=division, id_number=person, edit=own_ref)
            assert _post(c, xml, sender).status_code == 202
            w.ids[name] = mid
        # M4: the court's own GB18030 judgment with its file inline, as the court's system sends it
        r = c.post("/api/v1/inbound/court", content=COURT_JUDGMENT.read_bytes(), headers=auth("530502FY"))
        assert r.status_code == 202, r.text
        w.ids["M4"], w.ids["N"] = r.json()["outcomes"][0]["message_id"], r.json()["payload_id"]
        for name in ("M1", "M2", "M3", "M4"):
            got = c.get(f"/api/v1/messages/{w.ids[name]}", headers=auth(HUB)).json()
            w.readers[name] = frozenset({got["sender"], *(d["recipient"] for d in got["recipients"])})
        # as routing by the place of execution has it: copies to that county's procuratorate (and police)
        assert w.readers["M1"] == w.readers["M4"] == {"530502FY", "530581SF", "530581JC", "530581GA"}
        assert w.readers["M2"] == {"530502JY", "530523SF", "530523JC"}
        assert w.readers["M3"] == {"530502KS", "530502SF", "530502JC"}
        # each procuratorate's inbox holds its copies
        for jc, name in (("530581JC", "M4"), ("530581JC", "M1"), ("530523JC", "M2"), ("530502JC", "M3")):
            def arrived(jc: str = jc, name: str = name) -> bool:
                items = c.get("/api/v1/inbox", headers=auth(jc)).json()["items"]
                found = [i["delivery_id"] for i in items if i["message_id"] == w.ids[name]]
                if found:
                    w.ids[f"D-{jc}"] = found[0]
                return bool(found)
            wait_until(arrived, what=f"{name} in {jc}'s inbox")
        # the file that came inline with M4
        native = c.get(f"/api/v1/messages/{w.ids['M4']}", headers=auth(HUB))
        assert native.status_code == 200
        wait_until(lambda: w.recipients.got("530581SF"), what="the bureau's copy")
        digest = re.search(rb"urn:xianjie:attachment:sha256:([0-9a-f]{64})",
                           b"".join(x.body for x in w.recipients.got("530581SF")))
        assert digest is not None
        w.ids["A"] = digest.group(1).decode()
        # a rejected input of 腾冲's bureau
        r = _post(c, b"<not xml", "530581SF")
        assert r.status_code == 400
        w.ids["Q"] = r.json()["quarantine_id"]
        # a register snapshot 腾冲's bureau uploaded
        register = f"姓名,身份证号码,矫正类别,矫正起始日期,状态,执行地\n张三,{P1},缓刑,2025-03-01,在册,530581\n"
        r = c.post("/api/v1/registers/bureau_register", content=register.encode(),
                   params={"as_of": "2025-06-30", "filename": "r.csv"}, headers=auth("530581SF"))
        assert r.status_code == 201, r.text
        w.ids["S"] = r.json()["snapshot"]["snapshot_id"]
        # a historical register 腾冲's bureau imported
        rows = [["序号", "姓名", "身份证号码", "出生日期", "决定机关", "矫正类别", "矫正起始日期", "矫正终止日期",
                 "执行地", "状态", "状态日期"],
                ["1", "王五", make_id("530581", "19700101", 17), "", "530581FY", "缓刑", "2014-03-01", "2016-02-29",
                 "530581", "期满解除", "2016-02-29"]]
        out = io.StringIO()
        csv.writer(out).writerows(rows)
        r = c.post("/api/v1/reports/history", content=out.getvalue().encode(),
                   params={"as_of": "2016-12-31", "filename": "h.csv"}, headers=auth("530581SF"))
        assert r.status_code == 201, r.text
        w.ids["H"] = r.json()["import_id"]
        # the person's records across agencies (the worker links them every 30 s, and waits a minute for a gap in
        # the messages' order to fill; here at once)
        identity_store.index_messages(engine, now=utcnow() + dt.timedelta(minutes=2))
        identity_store.relink(engine)
        assert c.get(f"/api/v1/persons/{P1}/records", headers=auth(HUB)).status_code == 200
        held = c.get(f"/api/v1/persons/{P1}/records", headers=auth(HUB)).json()["persons"]
        w.readers["R"] = frozenset(r["agency"] for p in held for r in p["records"])
        assert "530502FY" in w.readers["R"] and "530502JC" not in w.readers["R"]
        # and the obligations the case ledger opened for the judgment
        wait_until(lambda: c.get("/api/v1/obligations", headers=auth("530581SF")).json()["items"],
                   what="the ledger's obligations")
    # two drafted pursuit requests of 腾冲's bureau, and two discrepancy items it must act on (隆阳's court confirms)
    now = utcnow()
    _, draft_xml = notice("PursuitRequest", sender="530581SF", id_number=P1)
    with engine.begin() as conn:
        for name in ("D", "D2", "D3"):
            w.ids[name] = str(uuid.uuid4())
            conn.execute(insert(pursuit_drafts).values(
                id=w.ids[name], case_key=f"case-{name}", person_key=P1, person_name="杨国富",
                obligation_id=str(uuid.uuid4()), drafted_on=now.date(), drafted_at=now, kind="ASSIST_SEARCH",
                reason="test", bureau="530581SF", police="530581GA", status="drafted", message_id=str(uuid.uuid4()),
                canonical=draft_xml))
        for name in ("X", "X2"):
            w.ids[name] = str(uuid.uuid4())
            conn.execute(insert(discrepancies).values(
                id=w.ids[name], category="status_mismatch", person_key=P1, id_number=P1, name="杨国富",
                division="530581", acting_agency="530581SF", confirming_agency="530502FY", match="id_number",
                sides="[]", snapshot_ids="[]", description_zh="测试", description_en="test", status="open",
                first_seen=now, last_seen=now, reopened=0))
    engine.dispose()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    path = tmp_path_factory.mktemp("authz")
    with running_hub(f"sqlite:///{path}/hub.db", path) as (h, recipients):
        w = World(h, recipients, h.url)
        _subjects(w)
        yield w


# ---- (a) every route declares its policy ---------------------------------------------------------------------------

def served_routes(app: Any) -> set[str]:
    keys = set()
    for r in iter_route_contexts(app.routes):
        for method in sorted(r.methods or {"ANY"}):
            if method != "HEAD":
                keys.add(route_key(method, r.path))
    return keys


def test_every_route_the_app_serves_has_a_policy_and_every_policy_a_route(tmp_path: Path) -> None:
    # Given the app as the hub builds it
    app = create_app(Settings.from_env({"XIANJIE_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}), workers=False)
    served = served_routes(app)
    # Then no route goes without a row of the matrix, and no row names a route the app does not serve
    assert sorted(served - set(ROUTES)) == [], "routes without a policy: add their rows to hub.authz_routes.ROUTES"
    assert sorted(set(ROUTES) - served) == [], "policies of routes the app does not serve"


def test_a_route_without_a_policy_is_refused_before_its_endpoint_runs(world: World) -> None:
    # Given a route added to the app with no row in the matrix (as a new endpoint would be)
    ran: list[str] = []
    app = create_app(world.hub.settings, workers=False)

    @app.get("/api/v1/undeclared")
    async def undeclared() -> dict[str, str]:
        ran.append("ran")
        return {"ok": "yes"}

    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as c:
            return await c.get("/api/v1/undeclared", headers=auth(HUB))

    # When anyone calls it, even with the hub's own key
    r = asyncio.run(call())
    # Then it is refused, naming the table to fix, and the endpoint never ran
    assert r.status_code == 403 and "hub.authz_routes.ROUTES" in r.json()["error"]["message"]
    assert ran == []


def test_the_documented_tables_are_the_matrix() -> None:
    # Given the page that shows the matrix, Then its tables are exactly what `xianjie authz show` prints
    page = (ROOT / "docs" / "security-authz.md").read_text(encoding="utf-8")
    between = page.split("<!-- authz:begin -->\n", 1)[1].split("<!-- authz:end -->", 1)[0]
    assert between == render_markdown(), "regenerate the tables: xianjie authz show"


# ---- (b) every organ type × every message type ---------------------------------------------------------------------

@pytest.mark.parametrize("variant", sorted(EXPECTED_SENDERS))
def test_the_matrix_allows_exactly_what_the_hand_written_table_allows(variant: str) -> None:
    message_type, facts = facts_of(variant)
    for organ in ORGANS:
        decision = may_send(organ, message_type, facts)
        assert decision.allowed == (LETTER[organ] in EXPECTED_SENDERS[variant]), (variant, organ, decision.reason)
        if not decision:
            assert organ.value in decision.reason and message_type in decision.reason


def test_every_row_of_the_matrix_and_every_message_type_is_exercised() -> None:
    # Given the hand-written cases, Then each SEND row is the one that lets some case through, and every message type
    # the hub knows has a case
    used = set()
    for variant, letters in EXPECTED_SENDERS.items():
        message_type, facts = facts_of(variant)
        for organ in ORGANS:
            if LETTER[organ] in letters:
                used |= {r for r in SEND if r.organ is organ and r.message_type == message_type and r.admits(facts)}
    assert set(SEND) - used == set()
    assert {facts_of(v)[0] for v in VARIANTS} == MESSAGE_TYPES


@pytest.mark.parametrize(("variant", "organ"), [(v, o) for v in sorted(EXPECTED_SENDERS) for o in ORGANS],
                         ids=lambda x: x.value if isinstance(x, OrganType) else str(x))
def test_each_organ_type_sends_each_message_type_exactly_as_the_matrix_says(world: World, variant: str,
                                                                          organ: OrganType) -> None:
    sender = SENDER_OF[organ]
    mid, xml = build(variant, sender)
    message_type, facts = facts_of(variant)
    by_hand = LETTER[organ] in EXPECTED_SENDERS[variant]
    assert may_send(organ, message_type, facts).allowed == by_hand
    with world.client() as c:
        # When the agency sends it
        r = _post(c, xml, sender)
        if by_hand:
            # Then it is accepted
            assert r.status_code == 202, r.text
            assert r.json()["message_id"] == mid
            return
        # Then it is refused for good, naming who may send it, at the message type
        assert r.status_code == 403, r.text
        body = r.json()
        assert body["error"]["code"] == "sender_not_authorised"
        assert organ.value in body["error"]["message"] and message_type in body["error"]["message"]
        [detail] = body["error"]["details"]
        assert detail["path"] == f"/x:{message_type}/x:envelope/x:messageType"
        # And nothing was stored, and the input is kept in quarantine as it came, for the sender and the operators
        assert c.get(f"/api/v1/messages/{mid}", headers=auth(HUB)).status_code == 404
        for reader in (sender, HUB):
            q = c.get(f"/api/v1/quarantine/{body['quarantine_id']}", headers=auth(reader), params=WHY)
            assert q.status_code == 200
            assert (q.json()["code"], q.json()["status_code"]) == ("sender_not_authorised", 403)
            assert base64.b64decode(q.json()["raw_base64"]) == xml


def test_a_native_payload_cannot_carry_a_message_its_organ_type_may_not_send(world: World) -> None:
    # Given 腾冲's police, whose registry line lets it send bureau-format payloads, with a bureau-format pursuit
    # request naming itself as the sender
    raw = (BUREAU_SAMPLES / "2501-PursuitRequest.xml").read_bytes()
    smuggled = raw.replace(b"<FSDW>530581SF", b"<FSDW>530581GA")
    with world.client() as c:
        # When it posts it
        r = c.post("/api/v1/inbound/bureau", content=smuggled, headers=auth("530581GA"))
        # Then the record is refused after decoding, as the same message would be through POST /api/v1/messages
        assert r.status_code == 422, r.text
        [outcome] = r.json()["outcomes"]
        assert outcome["status"] == "rejected" and outcome["code"] == "sender_not_authorised"
        assert "POLICE" in outcome["problems"][0]["reason"] and "PursuitRequest" in outcome["problems"][0]["reason"]
        q = c.get(f"/api/v1/quarantine/{outcome['quarantine_id']}", headers=auth("530581GA")).json()
        assert q["code"] == "sender_not_authorised"
        # And the bureau itself sends the same payload through
        assert c.post("/api/v1/inbound/bureau", content=raw, headers=auth("530581SF")).status_code == 202
        # Given 隆阳's court, whose own format has a form for a document receipt (the one it receives)
        receipt = (COURT_SAMPLES / "2101-document-receipt.xml").read_bytes().replace(b"530523SF", b"530502FY")
        # When it sends one as its own, Then that record too is refused: a court returns no 回执
        r = c.post("/api/v1/inbound/court", content=receipt, headers=auth("530502FY"))
        assert r.status_code == 422, r.text
        assert r.json()["outcomes"][0]["code"] == "sender_not_authorised"
        # And a system that is not the agency's own is refused whole, and kept
        r = c.post("/api/v1/inbound/bureau", content=raw, headers=auth("530502FY"))
        assert r.status_code == 403 and "530502FY sends court payloads, not bureau" in r.json()["error"]["message"]
        assert c.get(f"/api/v1/quarantine/{r.json()['quarantine_id']}/raw", headers=auth("530502FY")).content == raw


# ---- (c) every organ type × every agency-facing endpoint -----------------------------------------------------------

@dataclass(frozen=True)
class Probe:
    """One request, and what each agency of the grid gets: a status, from the relations written out here."""

    method: str
    url: Callable[[World], str]
    expect: Callable[[World, str], int | set[int]]
    body: bytes | None = None
    params: dict[str, str] = field(default_factory=dict)
    check: Callable[[World, str, httpx.Response], None] | None = None


def _reads(name: str, hidden: int = 404) -> Callable[[World, str], int]:
    """200 for the message's sender, the agencies it was routed or copied to and the hub; else ``hidden``."""
    return lambda w, a: 200 if a == HUB or a in w.readers[name] else hidden


def _owner(owner: str) -> Callable[[World, str], int]:
    return lambda w, a: 200 if a in (owner, HUB) else 404


def _organs(*allowed: str, yes: int = 200) -> Callable[[World, str], int]:
    """``yes`` for the hub and agencies of these kinds (by the code's two letters), else 403 (refused by organ type)."""
    return lambda w, a: yes if a == HUB or a[6:8] in allowed else 403


def _hub_only(yes: int) -> Callable[[World, str], int]:
    return lambda w, a: yes if a == HUB else 403


SENT_BY = {"M1": "530502FY", "M2": "530502JY", "M3": "530502KS", "M4": "530502FY"}


def _inbox_holds(w: World, agency: str, r: httpx.Response) -> None:
    # an inbox lists the deliveries made to the agency and not yet acknowledged, whatever their transport: never
    # another's; the procuratorates' (collected by pull) hold every copy they are owed
    mine = {i["message_id"] for i in r.json()["items"]} & {w.ids[n] for n in SENT_BY}
    owed = {w.ids[n] for n, sender in SENT_BY.items() if agency in w.readers[n] and agency != sender}
    assert mine <= owed, agency
    if agency.endswith("JC"):
        assert mine == owed, agency


def _only_related(key: str, fields: tuple[str, ...]) -> Callable[[World, str, httpx.Response], None]:
    def check(w: World, agency: str, r: httpx.Response) -> None:
        items = r.json()[key]
        if agency != HUB:
            assert all(agency in {i.get(f) for f in fields} for i in items), (agency, items[:2])
        else:
            assert items, "the hub sees them all"
    return check


def _report(w: World, a: str) -> int:
    # 腾冲's joint meeting: its own county's agencies and the city's above it
    return 200 if a == HUB or a[:6] in ("530581", "530500") else 403


CSV_ROWS = "序号,姓名\n".encode()
WHY = {"reason": "supervision"}  # the hub's operators read another agency's rejected input only for a stated reason
PROBES: dict[str, Probe] = {
    # a message: its sender, the agencies it was routed to, the copies owed; nobody else
    **{f"message {n}": Probe("GET", lambda w, n=n: f"/api/v1/messages/{w.ids[n]}", _reads(n))  # type: ignore[misc]
       for n in ("M1", "M2", "M3")},
    "attachment": Probe("GET", lambda w: f"/api/v1/attachments/{w.ids['A']}", _reads("M4")),
    "native payload": Probe("GET", lambda w: f"/api/v1/inbound/payloads/{w.ids['N']}", _owner("530502FY")),
    "quarantine": Probe("GET", lambda w: f"/api/v1/quarantine/{w.ids['Q']}", _owner("530581SF"), params=WHY),
    "quarantine raw": Probe("GET", lambda w: f"/api/v1/quarantine/{w.ids['Q']}/raw", _owner("530581SF"),
                            params=WHY),
    "inbox": Probe("GET", lambda w: "/api/v1/inbox", lambda w, a: 200, check=_inbox_holds),
    # the receipt of a delivery: its recipient only — not even the hub acknowledges for it
    "inbox ack": Probe("POST", lambda w: f"/api/v1/inbox/{w.ids['D-530581JC']}/ack",
                       lambda w, a: 200 if a == "530581JC" else 404),
    **{f"timeline {n}": Probe("GET", lambda w, p=p: f"/api/v1/persons/{p}/timeline", _reads(n))  # type: ignore[misc]
       for n, p in (("M1", P1), ("M2", P2), ("M3", P3))},
    "person records": Probe("GET", lambda w: f"/api/v1/persons/{P1}/records", _reads("R")),
    "obligations": Probe("GET", lambda w: "/api/v1/obligations", lambda w, a: 200,
                         check=_only_related("items", ("obligor", "obligee"))),
    "obligations of another": Probe("GET", lambda w: "/api/v1/obligations", _hub_only(200),
                                    params={"agency": "530524SF"}),
    "alarms": Probe("GET", lambda w: "/api/v1/alarms", lambda w, a: 200),
    "alarms of another": Probe("GET", lambda w: "/api/v1/alarms", _hub_only(200), params={"agency": "530524SF"}),
    # pursuit drafts: only a bureau asks for a pursuit, and decides its own drafts
    "pursuit drafts": Probe("GET", lambda w: "/api/v1/pursuit-drafts", _organs("SF"),
                            check=lambda w, a, r: _drafts_seen(w, a, r)),
    "pursuit drafts of another": Probe("GET", lambda w: "/api/v1/pursuit-drafts", _hub_only(200),
                                       params={"bureau": "530524SF"}),
    "pursuit draft": Probe("GET", lambda w: f"/api/v1/pursuit-drafts/{w.ids['D']}",
                           lambda w, a: 200 if a in ("530581SF", HUB) else 404 if a in BUREAUS else 403),
    # (the owner dismisses it, or the hub's key when the owner has: then it is closed already)
    "pursuit dismiss": Probe("POST", lambda w: f"/api/v1/pursuit-drafts/{w.ids['D3']}/dismiss",
                             lambda w, a: 403 if a not in ("530581SF", HUB) else {200, 409},
                             body=json.dumps({"by": "x", "reason": "y"}).encode()),
    "identity reviews": Probe("GET", lambda w: "/api/v1/identity/reviews", _organs("SF")),
    "identity decision": Probe("POST", lambda w: "/api/v1/identity/reviews/nope/decide", _hub_only(422),
                               body=b"{}"),
    "register snapshot": Probe("GET", lambda w: f"/api/v1/registers/snapshots/{w.ids['S']}", _owner("530581SF")),
    "discrepancies": Probe("GET", lambda w: "/api/v1/discrepancies", lambda w, a: 200,
                           check=_only_related("items", ("acting_agency", "confirming_agency"))),
    "discrepancy": Probe("GET", lambda w: f"/api/v1/discrepancies/{w.ids['X']}",
                         lambda w, a: 200 if a in ("530581SF", "530502FY", HUB) else 404),
    # the confirming agency sees the item but does not resolve it; the acting agency's resolution is below
    "discrepancy resolve by others": Probe("POST", lambda w: f"/api/v1/discrepancies/{w.ids['X']}/resolve",
                                           lambda w, a: 403 if a == "530502FY" else 400 if a in ("530581SF", HUB)
                                           else 404, body=b"[]"),
    "report": Probe("GET", lambda w: "/api/v1/reports/joint-meeting", _report,
                    params={"division": "530581", "from": "2026-01-01", "to": "2026-03-31", "format": "json"}),
    "report figure": Probe("GET", lambda w: "/api/v1/reports/joint-meeting/figures/nope",
                           lambda w, a: 404 if _report(w, a) == 200 else 403,
                           params={"division": "530581", "from": "2026-01-01", "to": "2026-03-31"}),
    "history imports": Probe("GET", lambda w: "/api/v1/reports/history", lambda w, a: 200,
                             check=lambda w, a, r: _imports_seen(w, a, r)),
    "history import": Probe("GET", lambda w: f"/api/v1/reports/history/{w.ids['H']}", _owner("530581SF")),
    # only a bureau imports a historical register, and only its own (the refusal is kept in quarantine)
    "history import of another": Probe("POST", lambda w: "/api/v1/reports/history",
                                       lambda w, a: 400 if a == HUB else 403, body=CSV_ROWS,
                                       params={"as_of": "2016-12-31", "agency": "530524SF"}),
    "rules": Probe("GET", lambda w: "/api/v1/rules", lambda w, a: 200),
    "rule": Probe("GET", lambda w: "/api/v1/rules/nope", lambda w, a: 404),
    "calendar": Probe("GET", lambda w: "/api/v1/calendar/1999", lambda w, a: 404),
    "rule change": Probe("POST", lambda w: "/api/v1/rules/nope", _hub_only(422), body=b"{}"),
    "calendar load": Probe("PUT", lambda w: "/api/v1/calendar/2099", _hub_only(422), body=b"x"),
    # the operators' own views take the hub's key (or a console session), never another agency's key
    "failed transfers": Probe("GET", lambda w: "/api/v1/failed-transfers", _hub_only(200)),
    "quarantine queue": Probe("GET", lambda w: "/api/v1/quarantine", _hub_only(200)),
}


def _drafts_seen(w: World, agency: str, r: httpx.Response) -> None:
    seen = {d["id"] for d in r.json()["drafts"]}
    assert (w.ids["D"] in seen) == (agency in ("530581SF", HUB)), agency
    assert agency == HUB or all(d["bureau"] == agency for d in r.json()["drafts"])


def _imports_seen(w: World, agency: str, r: httpx.Response) -> None:
    seen = {i["import_id"] for i in r.json()["imports"]}
    assert (w.ids["H"] in seen) == (agency in ("530581SF", HUB)), agency


@pytest.mark.parametrize("agency", GRID)
@pytest.mark.parametrize("probe", sorted(PROBES))
def test_each_agency_reaches_exactly_what_it_relates_to(world: World, probe: str, agency: str) -> None:
    p = PROBES[probe]
    expected = p.expect(world, agency)
    with world.client() as c:
        r = c.request(p.method, p.url(world), params=p.params, content=p.body, headers=auth(agency))
    assert r.status_code in (expected if isinstance(expected, set) else {expected}), (
        probe, agency, r.status_code, r.text[:300])
    if r.status_code == 403:
        # a refusal names what was refused and who may
        assert r.json()["error"]["message"], r.text
    if p.check is not None and r.status_code == 200:
        p.check(world, agency, r)


def test_a_procuratorate_reads_the_copies_it_is_owed_and_no_other(world: World) -> None:
    with world.client() as c:
        for jc, owed in (("530581JC", {"M1", "M4"}), ("530523JC", {"M2"}), ("530502JC", {"M3"}), ("530500JC", set())):
            for name in ("M1", "M2", "M3", "M4"):
                got = c.get(f"/api/v1/messages/{world.ids[name]}", headers=auth(jc))
                assert got.status_code == (200 if name in owed else 404), (jc, name)
                if name in owed:
                    mine = [d for d in got.json()["recipients"] if d["recipient"] == jc]
                    assert [d["role"] for d in mine] == ["cc"], (jc, name)


def test_the_owners_decide_their_own_subjects(world: World) -> None:
    with world.client() as c:
        # the bureau dismisses its own draft; the acting agency resolves its own item
        r = c.post(f"/api/v1/pursuit-drafts/{world.ids['D2']}/dismiss", json={"by": "李", "reason": "已到案"},
                   headers=auth("530581SF"))
        assert r.status_code == 200 and r.json()["status"] == "dismissed", r.text
        r = c.post(f"/api/v1/discrepancies/{world.ids['X2']}/resolve", json={"by": "李", "note": "已核实"},
                   headers=auth("530581SF"))
        assert r.status_code == 200 and r.json()["status"] == "resolved", r.text
        # the recipient acknowledges its own inbox item; nobody else could
        r = c.post(f"/api/v1/inbox/{world.ids['D-530523JC']}/ack", headers=auth("530523JC"))
        assert r.status_code == 200 and r.json()["acknowledged"] is True


# ---- (d) every operator role × every operator action ---------------------------------------------------------------

def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: "nobody" if m.group(0).startswith("{ref") else str(uuid.uuid4()), path)


OPERATOR_ROUTES = sorted(k for k, p in ROUTES.items() if p.operator is not None and p.agency is None)
PAGES = sorted(k for k, p in ROUTES.items() if p.console is not None)


Sessions = dict[str, tuple[httpx.Client, str]]  # role: (a client signed in with that role, its CSRF token)


@pytest.fixture(scope="module")
def sessions(world: World) -> Iterator[Sessions]:
    out = {}
    for role in ROLES:
        c = world.client()
        form = c.get("/console/signin")
        r = c.post("/console/signin", data={"username": f"hub-{role}", "password": PASSWORD,
                                            "csrf": hidden(form.text, "csrf"), "next": "/console/dashboard"})
        assert r.status_code == 303, r.text
        out[role] = (c, hidden(c.get("/console/dashboard").text, "csrf"))
    yield out
    for c, _ in out.values():
        c.close()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", OPERATOR_ROUTES)
def test_each_role_takes_exactly_its_actions_through_the_api(world: World, sessions: Sessions, route: str,
                                                            role: str) -> None:
    method, path = route.split(" ", 1)
    action = ROUTES[route].operator
    assert action is not None
    c, csrf = sessions[role]
    r = c.request(method, _fill(path), content=b"[]" if method != "GET" else None,
                  headers={"x-csrf-token": csrf, "content-type": "application/json"})
    if action in MAY[role]:
        assert r.status_code not in (401, 403), (route, role, r.text[:300])
    else:
        assert r.status_code == 403, (route, role, r.text[:300])
        assert f"the role {role!r} may not" in r.json()["error"]["message"]


@pytest.mark.parametrize("route", OPERATOR_ROUTES)
def test_the_operators_api_takes_the_hubs_key_and_no_other_agencys(world: World, route: str) -> None:
    method, path = route.split(" ", 1)
    with world.client() as c:
        for agency in ("530581SF", "530502FY", "530581JC"):
            r = c.request(method, _fill(path), content=b"[]" if method != "GET" else None, headers=auth(agency))
            assert r.status_code == 403 and "hub's operators" in r.json()["error"]["message"], (route, agency)
        r = c.request(method, _fill(path), content=b"[]" if method != "GET" else None, headers=auth(HUB))
        assert r.status_code not in (401, 403), (route, r.text[:300])
        # and without any credential, who it is must be said first
        assert c.request(method, _fill(path), content=b"[]" if method != "GET" else None).status_code == 401


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", PAGES)
def test_each_role_takes_exactly_its_actions_on_the_console(world: World, sessions: Sessions, route: str,
                                                           role: str) -> None:
    method, path = route.split(" ", 1)
    action = ROUTES[route].console
    assert action is not None
    c, csrf = sessions[role]
    data = {"csrf": csrf, "status": "not-a-status"} if method == "POST" else None
    r = c.request(method, _fill(path), data=data, follow_redirects=False)
    if action in MAY[role]:
        assert r.status_code not in (401, 403), (route, role, r.status_code)
    else:
        assert r.status_code == 403, (route, role, r.status_code)


def test_a_session_change_without_its_csrf_token_is_refused(world: World, sessions: Sessions) -> None:
    c, _ = sessions["administrator"]
    r = c.post(f"/api/v1/failed-transfers/{uuid.uuid4()}/retry")
    assert r.status_code == 403 and "CSRF" in r.json()["error"]["message"]


def test_an_agencys_operator_sees_its_own_agencys_only(world: World) -> None:
    with world.client() as c:
        form = c.get("/console/signin")
        c.post("/console/signin", data={"username": "sf-operator", "password": PASSWORD,
                                        "csrf": hidden(form.text, "csrf"), "next": "/console/dashboard"})
        # a bureau's operator reads the timeline of a person its bureau received a message about, not another's
        assert c.get(f"/api/v1/persons/{P1}/timeline").status_code == 200
        assert c.get(f"/api/v1/persons/{P3}/timeline").status_code == 404
        drafts = c.get("/api/v1/pursuit-drafts").json()["drafts"]
        assert drafts and all(d["bureau"] == "530581SF" for d in drafts)
        assert c.get("/api/v1/pursuit-drafts", params={"bureau": "530502SF"}).status_code == 403


# What each console role may do, written out here from the roles' descriptions (docs/security-authz.md), not read
# from hub.authz: the grids above expect these answers, so a change to the matrix shows as a failing test until this
# table is changed too, on purpose.
_OPERATOR_MAY = frozenset({"view", "view_payload", "retry", "edit_submit", "resolve_by_hand", "record_outcome",
                           "confirm_pursuit", "correct_quarantine", "resolve_discrepancy"})
MAY: dict[str, frozenset[str]] = {
    "operator": _OPERATOR_MAY,
    "supervisor": _OPERATOR_MAY | {"bulk_retry", "reroute", "edit_approve", "waive", "release_quarantine",
                                   "decide_identity"},
    "auditor": frozenset({"view", "view_payload", "view_audit"}),
    "administrator": _OPERATOR_MAY | {"bulk_retry", "reroute", "edit_approve", "waive", "release_quarantine",
                                      "decide_identity", "view_audit", "manage_operators"},
}


def test_the_role_table_is_the_one_written_here_and_the_consoles() -> None:
    from hub.console import permissions

    # Given the matrix's role table, Then it grants each role exactly the actions written out above
    assert set(MAY) == set(ROLES)
    for role in ROLES:
        assert {name for name in OPERATOR if may_operate(role, name)} == MAY[role], role
    assert not may_operate("operator", "no such action") and not may_operate("visitor", "view")
    # And the console's names for it are the matrix's own, and every route's resource is in the access table
    assert {name: frozenset(r for r in ROLES if name in MAY[r]) for name in OPERATOR} == permissions.ALLOWED
    assert set(ACCESS) >= {p.agency for p in ROUTES.values() if p.agency}


# ---- one PostgreSQL pass of a representative slice -----------------------------------------------------------------

@pytest.fixture(scope="module")
def pg_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    path = tmp_path_factory.mktemp("authz-pg")
    with fresh_postgres() as url, running_hub(url, path) as (h, recipients):
        w = World(h, recipients, h.url)
        with w.client() as c:
            mid, xml = notice("SentencingDecision", sender="530502FY", execution_division="530581", id_number=P1)
            assert _post(c, xml, "530502FY").status_code == 202
            w.ids["M1"] = mid
        yield w


@pytest.mark.parametrize(("variant", "organ", "status"), [
    ("SentencingDecision:PROBATION", OrganType.COURT, 202),
    ("SentencingDecision:PROBATION", OrganType.POLICE, 403),
    ("SentencingDecision:TEMP_OUTSIDE", OrganType.POLICE, 202),
    ("PursuitResult", OrganType.COURT, 403),
    ("PursuitResult", OrganType.POLICE, 202),
    ("TransferPapers:ESCORTED_HANDOVER", OrganType.BUREAU, 403),
    ("DeadlineNotice", OrganType.BUREAU, 403),
    ("TechnicalAck", OrganType.DETENTION, 202),
], ids=str)
def test_on_postgresql_sends_are_held_to_the_matrix(pg_world: World, variant: str, organ: OrganType,
                                                    status: int) -> None:
    sender = SENDER_OF[organ]
    _, xml = build(variant, sender)
    with pg_world.client() as c:
        r = _post(c, xml, sender)
        assert r.status_code == status, r.text
        if status == 403:
            q = c.get(f"/api/v1/quarantine/{r.json()['quarantine_id']}", headers=auth(sender)).json()
            assert q["code"] == "sender_not_authorised"


def test_on_postgresql_reads_and_roles_are_held_to_the_matrix(pg_world: World) -> None:
    with pg_world.client() as c:
        mid = pg_world.ids["M1"]
        # the copy owed to 腾冲's procuratorate, and no copy to 隆阳's
        assert c.get(f"/api/v1/messages/{mid}", headers=auth("530581JC")).status_code == 200
        assert c.get(f"/api/v1/messages/{mid}", headers=auth("530502JC")).status_code == 404
        wait_until(lambda: any(i["message_id"] == mid for i in c.get(
            "/api/v1/inbox", headers=auth("530581JC")).json()["items"]), what="the copy in the inbox")
        [item] = [i for i in c.get("/api/v1/inbox", headers=auth("530581JC")).json()["items"] if i["message_id"] == mid]
        assert c.post(f"/api/v1/inbox/{item['delivery_id']}/ack", headers=auth("530502JC")).status_code == 404
        assert c.post(f"/api/v1/inbox/{item['delivery_id']}/ack", headers=auth("530581JC")).status_code == 200
        assert c.get(f"/api/v1/persons/{P1}/timeline", headers=auth("530502KS")).status_code == 404
        assert c.get("/api/v1/pursuit-drafts", headers=auth("530581GA")).status_code == 403
    for role, status in (("auditor", 403), ("supervisor", 404)):
        with pg_world.client() as c:
            form = c.get("/console/signin")
            c.post("/console/signin", data={"username": f"hub-{role}", "password": PASSWORD,
                                            "csrf": hidden(form.text, "csrf"), "next": "/console/dashboard"})
            csrf = hidden(c.get("/console/dashboard").text, "csrf")
            r = c.post(f"/api/v1/failed-transfers/{uuid.uuid4()}/retry", headers={"x-csrf-token": csrf})
            assert r.status_code == status, (role, r.text)
