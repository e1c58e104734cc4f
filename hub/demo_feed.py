"""The demo's feed: judgments from the 保山 courts and the bureau notices that follow them, built from the
canonical samples."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import hashlib
import io
import itertools
import random
import threading
import time
from pathlib import Path

import httpx
from lxml import etree

from hub.core.model import Directory
from hub.demo_agencies import (
    COUNTIES,
    CTYPES,
    NS,
    OFFENCES,
    SHORT,
    Case,
    N,
    World,
    add_months,
    as_native,
    auth,
    describe,
    el,
    fill,
    make_case,
    make_person,
    parse,
    post_native,
    refused,
    say,
    set_person_case,
    template,
    text,
    to_bytes,
    today,
)

HUB = "530500ZX"
FEED_EVERY = 0.5  # seconds between notices, on average
SUMMARY_EVERY = 10.0
# Short retries so a dead recipient becomes a failed transfer within a minute (production: 1 min … 72 h).
DEMO_TIERS = (2.0, 4.0, 8.0)
DEMO_MAX_AGE = dt.timedelta(seconds=30)
ACTIVE = ("at_bureau", "supervised", "missing", "revoked")
LEDGER_EVERY = 15.0  # seconds between the uploads of an office that keeps a spreadsheet ledger (台账)


def sentencing(c: Case, court_name: str) -> tuple[str, bytes]:
    """The court's SentencingDecision with its execution notice and documents (判决书 or 假释裁定书)."""
    mid, root = template("SentencingDecision", sender=c.court, doc_id=f"{c.number}-送达", correlation=c.number,
                         person_ref=f"{c.court}:RY{c.decided.year}-{c.serial:04d}")
    set_person_case(root, c)
    d = el(root, "x:decision")
    notice = f"{SHORT[c.court[:6]]}法执通〔{c.decided.year}〕{c.serial}号"
    ruling = c.ctype == "PAROLE"
    fill(d, {"x:decisionKind": "RULING" if ruling else "JUDGMENT", "x:documentNumber": c.number,
             "x:decidedOn": c.decided.isoformat(), "x:effectiveOn": c.effective.isoformat(),
             "x:executionNotice/x:noticeNumber": notice,
             "x:executionNotice/x:issuedOn": (c.effective + dt.timedelta(days=1)).isoformat(),
             "x:executionNotice/x:reportBy": (c.effective + dt.timedelta(days=10)).isoformat(),
             "x:sentence": c.sentence})
    docs = d.findall("x:documents/x:document", N)
    fill(docs[0], {"x:kind": "RULING" if ruling else "JUDGMENT", "x:documentNumber": c.number,
                   "x:title": f"{court_name}刑事{'裁定' if ruling else '判决'}书"})
    fill(docs[1], {"x:documentNumber": notice})
    if ruling:
        cert = copy.deepcopy(docs[0])
        fill(cert, {"x:kind": "PAROLE_CERTIFICATE", "x:title": "假释证明书", "x:documentNumber": None})
        docs[2].addprevious(cert)
        custody = etree.Element(f"{{{NS}}}originalCustody")
        custody.text = c.custody
        el(d, "x:documents").addnext(custody)
    for doc in d.findall("x:documents/x:document", N):
        fill(doc, {"x:sha256": hashlib.sha256(f"{c.number}{text(doc, 'x:title')}".encode()).hexdigest()})
    return mid, to_bytes(root)


WHERE = (("云南省昆明市盘龙区", "530103"), ("云南省大理市", "532901"), ("云南省瑞丽市", "533102"))
EVENTS = {"LEAVE_APPROVED": ("外", "因亲属住院申请外出陪护，经{town}司法所审核，批准外出七日，期间每日电话报告。"),
          "WARNING": ("警", "未经批准擅自离开{county}，经查属实，依法给予警告。"),
          "ADMONITION": ("训", "未按规定参加集中教育学习，依法予以训诫。"),
          "LOST_CONTACT": ("失", "自{since}起电话关机、未按规定报告，经{town}司法所走访家属未果，已失去联系，"
                           "请公安机关协助查找。")}


def bureau_notice(c: Case, kind: str, serial: int) -> tuple[str, bytes]:
    """The supervising bureau's next notice about ``c``: REPORTED / NOT_REPORTED (ReportingOutcome), a
    SupervisionEvent kind, REVOKE (RevocationProposal), PURSUE (PursuitRequest) or RELEASED (ReleaseNotice)."""
    now, p, y = today(), c.person, today().year
    short, county, since = SHORT[p.division], COUNTIES[p.division], (today() - dt.timedelta(days=3)).isoformat()
    revoked = f"（{y}）云{c.court[2:6] if c.court != '530500FY' else '05'}刑更{serial}号"
    body: dict[str, str | None]
    if kind in ("REPORTED", "NOT_REPORTED"):
        sample, doc = "ReportingOutcome", f"{short}司矫报〔{y}〕{serial}号"
        body = {"x:outcome/x:result": kind, "x:outcome/x:dueDate": (c.effective + dt.timedelta(days=10)).isoformat(),
                "x:outcome/x:reportedOn": now.isoformat() if kind == "REPORTED" else None,
                "x:outcome/x:note": f"已到{county}社区矫正中心报到登记，交由{p.town}司法所日常管理。"
                if kind == "REPORTED" else "报到期限届满未报到，经电话联系、走访查找未果，已通知公安机关协助查找。"}
    elif kind in EVENTS:
        letter, details = EVENTS[kind]
        sample, doc = "SupervisionEvent", f"{short}司矫{letter}字〔{y}〕{serial}号"
        dest, dest_code = WHERE[serial % len(WHERE)]
        body = {"x:event/x:kind": kind, "x:event/x:occurredOn": now.isoformat(),
                "x:event/x:decisionNumber": None if kind == "LOST_CONTACT" else doc,
                "x:event/x:details": details.format(town=p.town, county=county, since=since)}
        body.update({"x:event/x:leave/x:from": (now + dt.timedelta(days=2)).isoformat(),
                     "x:event/x:leave/x:to": (now + dt.timedelta(days=8)).isoformat(),
                     "x:event/x:leave/x:destination": dest, "x:event/x:leave/x:destinationDivision": dest_code}
                    if kind == "LEAVE_APPROVED" else {"x:event/x:leave": None})
    elif kind == "REVOKE":
        sample, doc = "RevocationProposal", f"{short}司矫撤建〔{y}〕{serial}号"
        what = CTYPES[c.ctype]
        body = {"x:proposal/x:kind": f"REVOKE_{c.ctype}", "x:proposal/x:proposedOn": now.isoformat(),
                "x:proposal/x:grounds": f"社区矫正对象{p.name}自{since}起失去联系，经{p.town}司法所、公安机关多方查找"
                f"仍下落不明，逃避监督管理，依法建议撤销{what}。", "x:proposal/x:documentNumber": doc,
                "x:proposal/x:evidence/x:document[2]/x:documentNumber": None}
    elif kind == "PURSUE":
        sample, doc = "PursuitRequest", f"{short}司矫追〔{y}〕{serial}号"
        body = {"x:pursuit/x:requestedOn": now.isoformat(), "x:pursuit/x:basisDocumentNumber": revoked,
                "x:pursuit/x:lastContactOn": since, "x:pursuit/x:lastKnownWhereabouts": f"{county}{p.town}一带。",
                "x:pursuit/x:details": f"原审法院已以{revoked}裁定撤销{p.name}{CTYPES[c.ctype]}，执行原判刑罚，"
                "其本人在逃。请依法追捕，抓获后送保山市隆阳区看守所羁押。",
                "x:pursuit/x:documents/x:document/x:documentNumber": revoked}
    else:
        sample, doc = "ReleaseNotice", f"{short}司矫解字〔{y}〕{serial}号"
        body = {"x:release/x:kind": "RELEASED", "x:release/x:effectiveOn": c.end.isoformat(),
                "x:release/x:certificateNumber": doc, "x:release/x:originalCustody": c.custody,
                "x:release/x:note": "暂予监外执行期间刑期届满，依法解除社区矫正。" if c.custody
                else f"{CTYPES[c.ctype]}考验期满，依法解除社区矫正。"}
    mid, root = template(sample, sender=c.bureau, doc_id=doc, correlation=c.number,
                         causation=c.judgment_id if sample == "ReportingOutcome" else None,
                         person_ref=f"{c.bureau}:JZ{c.decided.year}-{c.serial:04d}")
    set_person_case(root, c)
    fill(root, body)
    return mid, to_bytes(root)


def old_case(rng: random.Random, serial: int) -> Case:
    """A case whose supervision ends about now (for a ReleaseNotice); a quarter are 暂予监外执行 from the prison."""
    division = rng.choice(list(COUNTIES))
    temp = rng.random() < 0.25
    end = today() - dt.timedelta(days=rng.randint(0, 2))
    effective = add_months(end + dt.timedelta(days=1), -rng.choice((6, 12, 24)))
    decided = effective - dt.timedelta(days=11)
    return Case(make_person(rng, division), f"（{decided.year}）云{division[2:]}刑初{serial}号",
                "530502JY" if temp else division + "FY", "TEMP_OUTSIDE" if temp else "PROBATION",
                "", rng.choice(OFFENCES), decided, effective, end, serial, "530502JY" if temp else None)


LEDGER_TYPES = frozenset({"ReportingOutcome", "SupervisionEvent"})


def ledger_workbook(notices: list[bytes]) -> bytes:
    """An XLSX 台账 with one row per canonical notice: each written as the ledger format's row, under the union
    of their headers."""
    from openpyxl import Workbook

    from adapters import get_adapter

    ledger = get_adapter("ledger")
    rows: list[dict[str, str]] = []
    for xml in notices:
        enc = ledger.encode(xml, message_type=etree.QName(parse(xml)).localname)
        rows.extend(csv.DictReader(io.StringIO(enc.body.decode("utf-8-sig"))))
    headers = list(dict.fromkeys(h for row in rows for h in row))
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("台账")
    ws.append(headers)
    for row in rows:
        ws.append([row.get(h) or None for h in headers])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


class Feed:
    """Judgments from the five counties' courts (a quarter for residents of another county, some parole rulings
    of 中院), then the bureaus' follow-ups on the cases they received, and now and then a release."""

    def __init__(self, *, client: httpx.Client, directory: Directory, world: World, rng: random.Random,
                 inbound_root: Path | None = None) -> None:
        self.client, self.directory, self.world, self.rng = client, directory, world, rng
        self.inbound_root = inbound_root  # courts drop some of their judgments here as files
        self.dropped = 0
        # bureaus that keep a 台账: their follow-ups are written down and uploaded as a workbook now and then
        self.ledger_rows: dict[str, list[bytes]] = {
            code: [] for code, a in directory.agencies.items() if a.adapter != "ledger" and "ledger" in a.also_accepts}
        try:
            from adapters import get_adapter

            get_adapter("ledger")
        except (KeyError, AttributeError, ImportError):
            self.ledger_rows = {}
        self.next_upload = time.monotonic() + LEDGER_EVERY
        self.serial = itertools.count(rng.randint(100, 700))
        self.cases: list[Case] = []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="demo-feed", daemon=True)

    def post(self, sender: str, xml: bytes) -> bool:
        """Send one notice as ``sender``'s system does (its own format, to the inbound endpoint); says what
        went and whether the hub took it."""
        agency = self.directory.get(sender)
        assert agency is not None
        say(f"{agency.name} {sender} → 衔接 {describe(parse(xml))}  ({agency.adapter})")  # before its deliveries
        why = refused(post_native(self.client, agency, xml))
        if why:
            say(f"  ✗ the hub refused it: {why}")
        return why is None

    def drop(self, sender: str, xml: bytes) -> bool:
        """Write one notice in ``sender``'s format into its drop folder (temporary name, then renamed)."""
        agency = self.directory.get(sender)
        native = as_native(agency, xml) if agency is not None and self.inbound_root is not None else None
        if native is None or self.inbound_root is None or agency is None:
            return self.post(sender, xml)
        incoming = self.inbound_root / sender / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        self.dropped += 1
        name = f"{sender}-{time.strftime('%Y%m%d-%H%M%S')}-{self.dropped}.xml"
        (incoming / f".{name}").write_bytes(native[1])
        (incoming / f".{name}").rename(incoming / name)
        say(f"{agency.name} {sender} → 投递文件夹 drop folder {name}: {describe(parse(xml))}")
        return True

    def judgment(self, division: str | None = None, court: str | None = None) -> str:
        rng = self.rng
        division = division or rng.choices(list(COUNTIES), weights=(35, 13, 13, 14, 25))[0]
        court = court or rng.choices((division + "FY", "530502FY", "530500FY"), weights=(67, 25, 8))[0]
        c = make_case(rng, make_person(rng, division), court, next(self.serial),
                      late=court != "530500FY" and rng.random() < 0.1)
        agency = self.directory.get(court)
        c.judgment_id, xml = sentencing(c, agency.name if agency else court)
        # a fifth of the courts' judgments come as files in the court's drop folder, the rest by HTTP
        send = self.drop if self.inbound_root is not None and self.rng.random() < 0.2 else self.post
        if send(court, xml):
            self.cases = [*self.cases[-300:], c]
        return c.judgment_id

    def _next_kind(self, c: Case) -> str:
        """What the bureau reports next about ``c`` (and where the case goes from there)."""
        if c.stage == "at_bureau":
            c.stage = "missing" if c.late else "supervised"
            return "NOT_REPORTED" if c.late else "REPORTED"
        if c.stage == "missing" and c.ctype == "CONTROL":  # 管制 cannot be revoked: the police are asked to search
            c.stage = "done"
            return "LOST_CONTACT"
        if c.stage in ("missing", "revoked"):
            c.stage = "revoked" if c.stage == "missing" else "done"
            return "REVOKE" if c.stage == "revoked" else "PURSUE"
        c.events += 1
        c.stage = "done" if c.events >= 3 else c.stage
        if c.ctype != "CONTROL" and self.rng.random() < 0.15:
            c.stage = "missing"
            return "LOST_CONTACT"
        return self.rng.choice(("LEAVE_APPROVED", "LEAVE_APPROVED", "WARNING", "ADMONITION"))

    def step(self) -> None:
        now = time.monotonic()
        for c in self.cases:
            if c.stage == "sentenced" and self.world.has(c.judgment_id):
                c.stage, c.due = "at_bureau", now + 3.0  # the person reports after the bureau's 回执
        active = [c for c in self.cases if c.stage in ACTIVE and c.due <= now]
        urgent = [c for c in active if c.stage == "at_bureau"]
        r = self.rng.random()
        if r < 0.05:
            c = old_case(self.rng, next(self.serial))
            self.post(c.bureau, bureau_notice(c, "RELEASED", next(self.serial))[1])
        elif active and r < 0.55:
            c = urgent[0] if urgent else self.rng.choice(active)
            c.due = now + self.rng.uniform(4.0, 10.0)  # compressed time, but one thing after another
            xml = bureau_notice(c, self._next_kind(c), next(self.serial))[1]
            if c.bureau in self.ledger_rows and etree.QName(parse(xml)).localname in LEDGER_TYPES:
                self.ledger_rows[c.bureau].append(xml)
            else:
                self.post(c.bureau, xml)
        else:
            self.judgment()
        if now >= self.next_upload:
            self.next_upload = now + LEDGER_EVERY
            for code, pending in self.ledger_rows.items():
                if pending:
                    self.upload_ledger(code, pending)
                    pending.clear()

    def upload_ledger(self, code: str, notices: list[bytes]) -> None:
        """Upload the office's 台账: one workbook row per notice, as the clerk would have typed them."""
        agency = self.directory.get(code)
        assert agency is not None
        name = f"{agency.name}社区矫正台账-{time.strftime('%Y%m%d-%H%M%S')}.xlsx"
        r = self.client.post("/api/v1/inbound/ledger", content=ledger_workbook(notices), headers=auth(code),
                             params={"filename": name})
        try:
            body = r.json()
            said = f"{body['records']} 行 rows: 已接收 accepted {body['accepted']}, 被拒 rejected {body['rejected']}"
        except (ValueError, KeyError):
            said = f"HTTP {r.status_code}: {r.text[:200]}"
        say(f"{agency.name} {code} → 衔接 台账上传 spreadsheet upload {name}: {said}")

    def _run(self) -> None:
        self.judgment("530524", "530524FY")  # 昌宁县司法局 is down: this one will retry, then fail
        for code in self.ledger_rows:  # someone for each 台账 office to write down from the start
            self.judgment(code[:6])
        while not self.stop_event.wait(FEED_EVERY * self.rng.uniform(0.6, 1.4)):
            try:
                self.step()
            except httpx.HTTPError as e:
                say(f"feed: the hub did not answer ({type(e).__name__}); trying again")

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join(15)
