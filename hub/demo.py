"""``xianjie demo``: the hub on the embedded default (SQLite + kombu's SQLAlchemy transport) with simulated
保山 agencies and a stream of notices, so a newcomer sees the whole path — accepted, routed by 执行地,
delivered, acknowledged, retried, failed — within a minute."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import itertools
import logging
import math
import os
import random
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from types import FrameType
from urllib.parse import urlsplit

import httpx
import uvicorn
from lxml import etree
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url

from hub.core.model import Directory, Transport
from hub.demo_agencies import (
    AGENCY_PORT,
    COUNTIES,
    CTYPES,
    LABELS,
    NS,
    OFFENCES,
    SHORT,
    Agencies,
    Case,
    N,
    World,
    add_months,
    auth,
    describe,
    el,
    fill,
    make_case,
    make_person,
    parse,
    say,
    set_person_case,
    template,
    text,
    to_bytes,
    today,
)
from hub.registry import load_registry
from hub.settings import Settings
from hub.store.db import make_engine
from hub.store.schema import deliveries, failed_transfers, messages

HUB = "530500ZX"
FEED_EVERY = 0.5  # seconds between notices, on average
SUMMARY_EVERY = 10.0
# Short retries so a dead recipient becomes a failed transfer within a minute (production: 1 min … 72 h).
DEMO_TIERS = (2.0, 4.0, 8.0)
DEMO_MAX_AGE = dt.timedelta(seconds=30)
ACTIVE = ("at_bureau", "supervised", "missing", "revoked")


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


class Feed:
    """Judgments from the five counties' courts (a quarter for residents of another county, some parole rulings
    of 中院), then the bureaus' follow-ups on the cases they received, and now and then a release."""

    def __init__(self, *, client: httpx.Client, directory: Directory, world: World, rng: random.Random) -> None:
        self.client, self.directory, self.world, self.rng = client, directory, world, rng
        self.serial = itertools.count(rng.randint(100, 700))
        self.cases: list[Case] = []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="demo-feed", daemon=True)

    def post(self, sender: str, xml: bytes) -> bool:
        """Post one notice as ``sender``; says what went and whether the hub took it."""
        agency = self.directory.get(sender)
        say(f"{agency.name if agency else ''} {sender} → 衔接 {describe(parse(xml))}")  # before its deliveries
        r = self.client.post("/api/v1/messages", content=xml, headers=auth(sender))
        if r.status_code not in (200, 202):
            say(f"  ✗ the hub refused it: HTTP {r.status_code}: {r.text[:300]}")
        return r.status_code in (200, 202)

    def judgment(self, division: str | None = None, court: str | None = None) -> str:
        rng = self.rng
        division = division or rng.choices(list(COUNTIES), weights=(35, 13, 13, 14, 25))[0]
        court = court or rng.choices((division + "FY", "530502FY", "530500FY"), weights=(67, 25, 8))[0]
        c = make_case(rng, make_person(rng, division), court, next(self.serial),
                      late=court != "530500FY" and rng.random() < 0.1)
        agency = self.directory.get(court)
        c.judgment_id, xml = sentencing(c, agency.name if agency else court)
        if self.post(court, xml):
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
            self.post(c.bureau, bureau_notice(c, self._next_kind(c), next(self.serial))[1])
        else:
            self.judgment()

    def _run(self) -> None:
        self.judgment("530524", "530524FY")  # 昌宁县司法局 is down: this one will retry, then fail
        while not self.stop_event.wait(FEED_EVERY * self.rng.uniform(0.6, 1.4)):
            try:
                self.step()
            except httpx.HTTPError as e:
                say(f"feed: the hub did not answer ({type(e).__name__}); trying again")

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join(15)


def summary(engine: Engine, after_seq: int) -> str:
    """One line of counts for the notices accepted since the demo started, read from the hub's database."""
    with engine.connect() as conn:
        kinds = {bool(k): int(n) for k, n in conn.execute(
            select(messages.c.message_type == "TechnicalAck", func.count()).where(messages.c.seq > after_seq)
            .group_by(messages.c.message_type == "TechnicalAck")).all()}
        states = {str(s): int(n) for s, n in conn.execute(
            select(deliveries.c.state, func.count()).where(deliveries.c.seq > after_seq)
            .group_by(deliveries.c.state)).all()}
        retrying = int(conn.execute(select(func.count()).select_from(deliveries).where(
            deliveries.c.seq > after_seq, deliveries.c.state == "pending", deliveries.c.failures > 0)).scalar() or 0)
        failed = conn.execute(
            select(failed_transfers.c.recipient, func.count())
            .join(messages, messages.c.id == failed_transfers.c.message_id)
            .where(messages.c.seq > after_seq, failed_transfers.c.status == "open")
            .group_by(failed_transfers.c.recipient)).all()
    moving = sum(states.get(k, 0) for k in ("pending", "sending", "held", "available")) - retrying
    who = ", ".join(f"{r or '—'} ×{n}" for r, n in failed)
    return (f"── 汇总 summary: 已接收 accepted {kinds.get(False, 0)} notices + {kinds.get(True, 0)} technical acks"
            f" · 投递 deliveries {sum(states.values())}: 已确认 acknowledged {states.get('acknowledged', 0)}, "
            f"已送达 delivered {states.get('delivered', 0)}, 待投递 pending {moving}, 重试中 retrying {retrying}"
            f" · 传输失败 failed transfers {sum(int(n) for _, n in failed)}" + (f" ({who})" if who else "") + " ──")


def report_trouble(engine: Engine, after_seq: int, seen: set[str], directory: Directory) -> None:
    """Say once when a delivery first fails (the hub retries it) and when one becomes a failed transfer."""
    about = (messages.c.message_type, messages.c.person_name, messages.c.case_number)
    with engine.connect() as conn:
        retrying = conn.execute(
            select(deliveries.c.id, deliveries.c.recipient, deliveries.c.last_error.label("detail"), *about)
            .join(messages, messages.c.id == deliveries.c.message_id)
            .where(deliveries.c.seq > after_seq, deliveries.c.state == "pending", deliveries.c.failures == 1)).all()
        failed = conn.execute(
            select(failed_transfers.c.id, failed_transfers.c.recipient, failed_transfers.c.detail,
                   failed_transfers.c.cause, *about)
            .join(messages, messages.c.id == failed_transfers.c.message_id)
            .where(messages.c.seq > after_seq, failed_transfers.c.status == "open")).all()
    tiers = ", ".join(f"{t:g}s" for t in DEMO_TIERS)
    for r, first_failure in [*((r, True) for r in retrying), *((r, False) for r in failed)]:
        if r.id in seen:
            continue
        seen.add(r.id)
        agency = directory.get(r.recipient or "")
        what = f"{r.message_type} {LABELS.get(r.message_type, '')} {r.person_name} {r.case_number} → " \
               f"{agency.name if agency else ''} {r.recipient}"
        error = (r.detail or "").rsplit(": ", 1)[-1]  # e.g. "[Errno 111] Connection refused"
        if first_failure:
            say(f"↻ 未送达 not delivered: {what}: {error} — 衔接 will retry ({tiers} … for {DEMO_MAX_AGE.seconds}s)")
        else:
            say(f"⚠ 传输失败 FAILED TRANSFER: {what}: {r.cause}, {(r.detail or '').split(';')[0]} ({error})"
                " — 运维 operators: GET /api/v1/failed-transfers")


def run_demo(settings: Settings, *, duration: float = 0) -> int:
    """Run the hub, the simulated agencies and the feed for ``duration`` seconds (0: until Ctrl-C or SIGTERM),
    then stop them cleanly; returns the exit status (2 if a port is taken)."""
    s = replace(settings, retry=replace(settings.retry, tiers=DEMO_TIERS, max_age=DEMO_MAX_AGE))
    busy = [p for p, h in ((s.port, s.host), (AGENCY_PORT, "127.0.0.1")) if not port_free(h, p)]
    if busy:
        them = "them" if len(busy) > 1 else "it"
        print(f"端口被占用 port {' and '.join(map(str, busy))} already in use. The demo needs port {s.port} for the "
              f"hub and {AGENCY_PORT} for the simulated agencies:\nstop what holds {them} — perhaps another "
              f"`xianjie demo` or `xianjie serve` (lsof -i :{busy[0]} shows it) — and run the demo again.",
              file=sys.stderr)
        return 2
    for noisy in ("httpx", "alembic"):  # one line per request or migration step would drown the story
        logging.getLogger(noisy).setLevel(logging.WARNING)
    stop = threading.Event()
    restore = _on_signals(stop)
    try:
        return _run(s, stop, duration)
    finally:
        restore()


def _run(s: Settings, stop: threading.Event, duration: float) -> int:
    host = "127.0.0.1" if s.host in ("0.0.0.0", "::", "") else s.host
    hub_url = f"http://{host}:{s.port}"
    from hub.api.app import create_app
    from hub.migrate import upgrade  # imported here, after the log levels are set: alembic talks on import

    say(f"衔接 Xianjie demo: 准备数据库 migrating the database {shown(s.database_url)} …")
    upgrade(s.database_url)
    directory = load_registry(s.registry_path)
    engine = make_engine(s.database_url, pool_size=2)
    with engine.connect() as conn:
        after_seq = int(conn.execute(select(func.max(messages.c.seq))).scalar() or 0)
    world = World()
    agencies = Agencies(directory=directory, hub_url=hub_url, world=world)
    agencies.start()
    server = uvicorn.Server(uvicorn.Config(create_app(s, workers=True), host=s.host, port=s.port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="xianjie-hub", daemon=True)
    thread.start()
    say(f"启动衔接中心 starting the hub on {hub_url} and simulated agencies on http://127.0.0.1:{AGENCY_PORT} …")
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            print(f"the hub did not start on {hub_url}; see the log above", file=sys.stderr)
            agencies.stop()
            return 1
        time.sleep(0.05)
    agencies.start_collectors()
    client = httpx.Client(base_url=hub_url, timeout=30.0)
    feed = Feed(client=client, directory=directory, world=world, rng=random.Random())
    seen: set[str] = set()
    try:
        first = feed.judgment("530581", "530502FY")  # 隆阳区 court, a person living in 腾冲市: routed by 执行地
        settle = time.monotonic() + 6.0  # let the first notice's whole journey print before the banner
        while not stop.wait(0.2) and not _settled(engine, after_seq) and time.monotonic() < settle:
            pass
        say(banner(s, hub_url, first, directory), stamp=False)
        feed.thread.start()
        end = time.monotonic() + duration if duration > 0 else math.inf
        next_summary = time.monotonic() + SUMMARY_EVERY
        while not stop.wait(1.0) and time.monotonic() < end:
            report_trouble(engine, after_seq, seen, directory)
            if time.monotonic() >= next_summary:
                say(summary(engine, after_seq))
                next_summary += SUMMARY_EVERY
    finally:
        say("正在停止 stopping: the feed, the agencies' replies, then the hub (it finishes deliveries in flight) …")
        feed.stop()
        time.sleep(2.0)  # let the last notices arrive, be collected from the inboxes and answered
        agencies.quiesce()
        server.should_exit = True
        thread.join(60)
        agencies.stop()
        client.close()
        report_trouble(engine, after_seq, seen, directory)
        say(summary(engine, after_seq))
        engine.dispose()
        say("已停止 stopped. The hub's record stays in its database; `make run` starts the demo again.")
    return 0


def _settled(engine: Engine, after_seq: int) -> bool:
    """The judgment, the police's ack and the bureau's 回执 are in, and every delivery of them is acknowledged."""
    with engine.connect() as conn:
        notices = conn.execute(select(func.count()).select_from(messages).where(messages.c.seq > after_seq)).scalar()
        open_ = conn.execute(select(func.count()).select_from(deliveries).where(
            deliveries.c.seq > after_seq, deliveries.c.state != "acknowledged")).scalar()
    return (notices or 0) >= 3 and open_ == 0


def banner(s: Settings, hub_url: str, first: str, directory: Directory) -> str:
    """Where to look, in Chinese and English, with commands ready to paste."""
    hub_key = f"-H 'Authorization: Bearer demo-{HUB}'"
    pretty = "| python3 -m json.tool --no-ensure-ascii"
    down = [a for a in directory.agencies.values()
            if a.transport is Transport.HTTP and a.endpoint and urlsplit(a.endpoint).port != AGENCY_PORT]
    folders = [f"{a.name} {a.code} reads {a.endpoint}" for a in directory.agencies.values()
               if a.transport is Transport.FOLDER]
    tiers = "/".join(f"{t:g}s" for t in DEMO_TIERS)
    rule = "═" * 100
    lines = [
        rule,
        " 衔接 Xianjie 演示 demo — 保山市社区矫正衔接数据交换中心 · the community-corrections data-exchange hub",
        rule,
        " 上面是第一条通知的全程 Above: the first notice's whole path — a court posts a judgment; the hub routes it",
        " by the person's county (执行地) to that county's bureau, police and procuratorate; the bureau sends a 回执.",
        "",
        f" 接口文档 API docs, try it out:   {hub_url}/docs",
        " 第一条通知的状态 the first notice: each recipient's state and the full timeline",
        f"   curl -s {hub_key} {hub_url}/api/v1/messages/{first} {pretty}",
        " 传输失败 failed transfers, the operators' queue:"
        + "".join(f" {a.name} {a.code} is down 停机" for a in down) + f" (retries {tiers}, gives up after "
        f"{DEMO_MAX_AGE.seconds}s)",
        f"   curl -s {hub_key} {hub_url}/api/v1/failed-transfers {pretty}",
        " 收件箱 a procuratorate's pull inbox (the simulated 检察院 collect theirs every second):",
        f"   curl -s -H 'Authorization: Bearer demo-530581JC' {hub_url}/api/v1/inbox {pretty}",
        f" 健康检查 health:   curl -s {hub_url}/healthz   ·   curl -s {hub_url}/readyz",
        "",
        f" 模拟单位 simulated agencies: http://127.0.0.1:{AGENCY_PORT}/agencies/<code>/notices; " + "; ".join(folders),
        " 密钥 API keys: demo-<agency code>, e.g. demo-530502FY (`xianjie agencies` lists the codes)",
        f" 数据 data: {shown(s.database_url)} — kept between runs"
        + (" (`make clean` resets it)" if s.is_sqlite else ""),
        f" A → 衔接: A sent a notice to the hub · A ← : A received one · 汇总 summary every {SUMMARY_EVERY:g}s · "
        "Ctrl-C 停止 stops",
        rule,
    ]
    return "\n".join(lines)


def shown(url: str) -> str:
    """A database URL without its password."""
    return make_url(url).render_as_string(hide_password=True)


def port_free(host: str, port: int) -> bool:
    """True if nothing listens on (host, port) — bound the way uvicorn and http.server bind."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _on_signals(stop: threading.Event) -> Callable[[], None]:
    """Ctrl-C or SIGTERM asks for a clean stop; a second one exits at once."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(_sig: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            say("再次中断 interrupted again: exiting now")
            os._exit(130)
        stop.set()

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, h in old.items():
            signal.signal(sig, h)

    return restore
