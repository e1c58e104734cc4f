"""The demo's 保山 world: people and cases, canonical notices built from the shipped samples, and the
simulated agencies (endpoints on :8100 that answer with receipts and acks, the procuratorates'
inbox poller, the reader of 施甸县公安局's drop folder)."""

from __future__ import annotations

import base64
import calendar
import copy
import datetime as dt
import itertools
import random
import re
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from lxml import etree

from hub.core.idnumber import check_digit
from hub.core.model import Agency, Directory, OrganType, Transport
from hub.resources import data_dir

NS = "urn:xianjie:canonical:v1"
N = {"x": NS}
CST = dt.timezone(dt.timedelta(hours=8))
COUNTIES = {"530502": "隆阳区", "530521": "施甸县", "530523": "龙陵县", "530524": "昌宁县", "530581": "腾冲市"}
SHORT = {"530502": "隆", "530521": "施", "530523": "龙", "530524": "昌", "530581": "腾", "530500": "保中"}
TOWNS = {"530502": ("永昌街道", "兰城街道", "九隆街道", "板桥镇", "蒲缥镇"),
         "530521": ("甸阳镇", "由旺镇", "姚关镇", "仁和镇"), "530523": ("龙山镇", "镇安镇", "勐糯镇", "腊勐镇"),
         "530524": ("田园镇", "柯街镇", "卡斯镇", "漭水镇"), "530581": ("腾越街道", "和顺镇", "固东镇", "界头镇")}
STREETS = ("文化路", "新华路", "东风路", "团结路", "建设路", "正阳路", "太保路", "兴华村", "新村组")
# IDs keep the code of the office that issued them: 腾冲县 530522 (retired 2015), 保山地区's 5330xx (retired 2000)
OLD_CODES = {"530502": "533001", "530521": "533022", "530523": "533024", "530524": "533025", "530581": "530522"}
SURNAMES = "杨李张王赵段刘陈杜尹字何罗周董苏寸金黄龚"
GIVEN = {True: ("国富", "建华", "志强", "明军", "永德", "文斌", "成林", "海涛", "云龙", "家福", "正荣", "光明", "德贵",
                "学文", "兴华", "金山", "朝阳", "小平", "绍昌", "开元", "伟", "军", "强", "勇", "杰", "涛", "斌", "鹏"),
         False: ("玉兰", "丽芳", "秀英", "春梅", "艳琼", "红梅", "菊芬", "晓燕", "美仙", "萍", "娟", "燕", "琼")}
OFFENCES = ("盗窃罪", "危险驾驶罪", "交通肇事罪", "故意伤害罪", "诈骗罪", "寻衅滋事罪", "赌博罪", "开设赌场罪",
            "滥伐林木罪", "非法狩猎罪", "失火罪", "非法种植毒品原植物罪")
# (correction type, sentence, supervision months)
SENTENCES = (("PROBATION", "有期徒刑一年，缓刑二年", 24), ("PROBATION", "有期徒刑六个月，缓刑一年", 12),
             ("PROBATION", "有期徒刑三年，缓刑四年", 48), ("PROBATION", "拘役四个月，缓刑六个月", 6),
             ("PROBATION", "有期徒刑二年，缓刑三年，并处罚金人民币一万元", 36),
             ("CONTROL", "管制一年", 12), ("CONTROL", "管制六个月", 6))
PAROLE = ("PAROLE", "原判有期徒刑五年，裁定假释，假释考验期一年二个月", 14)
CTYPES = {"PROBATION": "缓刑", "CONTROL": "管制", "PAROLE": "假释", "TEMP_OUTSIDE": "暂予监外执行"}
LABELS = {"SentencingDecision": "判决", "DocumentReceipt": "回执", "ReportingOutcome": "报到情况",
          "SupervisionEvent": "监管事件", "RevocationProposal": "撤销建议", "PursuitRequest": "追逃请求",
          "ReleaseNotice": "解除矫正", "TechnicalAck": "技术回执"}
KINDS = {"RULING": "裁定", "LEAVE_APPROVED": "外出请假", "WARNING": "警告", "ADMONITION": "训诫",
         "LOST_CONTACT": "失去联系", "REPORTED": "已报到", "NOT_REPORTED": "未报到", "RELEASED": "期满解除"}
_say_lock = threading.Lock()


def say(line: str, *, stamp: bool = True) -> None:
    """One line on stdout, stamped with the time in Asia/Shanghai; threads never interleave."""
    with _say_lock:
        print(f"{dt.datetime.now(CST):%H:%M:%S}  {line}" if stamp else line, flush=True)


def today() -> dt.date:
    return dt.datetime.now(CST).date()


def add_months(d: dt.date, months: int) -> dt.date:
    y, m = divmod(d.month - 1 + months, 12)
    return dt.date(d.year + y, m + 1, min(d.day, calendar.monthrange(d.year + y, m + 1)[1]))


@dataclass(frozen=True)
class Person:
    name: str
    id_number: str
    male: bool
    birth: dt.date
    division: str
    town: str
    address: str


@dataclass
class Case:
    """One person's case as the feed follows it: sentenced → at_bureau → supervised / missing → revoked → done."""

    person: Person
    number: str
    court: str
    ctype: str
    sentence: str
    offence: str
    decided: dt.date
    effective: dt.date
    end: dt.date
    serial: int
    custody: str | None = None
    late: bool = False
    judgment_id: str = ""
    stage: str = "sentenced"
    events: int = 0
    due: float = 0.0  # time.monotonic() before which the feed leaves the case alone

    @property
    def bureau(self) -> str:
        return self.person.division + "SF"


def make_person(rng: random.Random, division: str) -> Person:
    """A resident of ``division`` with a valid ID number (GB 11643 check character), sometimes a historic code."""
    male = rng.random() < 0.85
    birth = dt.date(rng.randint(1960, 2004), rng.randint(1, 12), rng.randint(1, 28))
    issued = OLD_CODES[division] if rng.random() < (0.7 if division == "530581" else 0.15) else division
    body = f"{issued}{birth:%Y%m%d}{rng.randrange(0, 500) * 2 + (1 if male else 0):03d}"
    town = rng.choice(TOWNS[division])
    address = f"云南省保山市{COUNTIES[division]}{town}{rng.choice(STREETS)}{rng.randint(1, 120)}号"
    name = rng.choice(SURNAMES) + rng.choice(GIVEN[male])
    return Person(name, body + check_digit(body), male, birth, division, town, address)


def make_case(rng: random.Random, person: Person, court: str, serial: int, *, late: bool = False) -> Case:
    """A case decided two weeks ago (effective after the 10-day appeal period), or longer ago if ``late``."""
    ctype, sentence, months = PAROLE if court == "530500FY" else rng.choice(SENTENCES)
    decided = today() - dt.timedelta(days=rng.randint(14, 16) + (rng.randint(12, 20) if late else 0))
    effective = decided + dt.timedelta(days=11)
    if court == "530500FY":
        number, custody = f"（{decided.year}）云05刑更{serial}号", "530502JY"
        offence = rng.choice(("抢劫罪", "贩卖毒品罪", "故意伤害罪"))
    else:
        number, custody, offence = f"（{decided.year}）云{court[2:6]}刑初{serial}号", None, rng.choice(OFFENCES)
    end = add_months(effective, months) - dt.timedelta(days=1)
    return Case(person, number, court, ctype, sentence, offence, decided, effective, end, serial, custody, late)


# ---- canonical notices from the samples -------------------------------------------------------------

@lru_cache(maxsize=16)
def _sample(name: str) -> bytes:
    return (data_dir("schemas") / "canonical" / "v1" / "samples" / f"{name}.xml").read_bytes()


def parse(xml: bytes) -> etree._Element:
    """Parse XML the hub sent or a sample (no DTDs, no entities, no network)."""
    return etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))


def el(root: etree._Element, path: str) -> etree._Element:
    found = root.find(path, N)
    if found is None:
        raise LookupError(f"{path} not in <{etree.QName(root).localname}>")
    return found


def text(root: etree._Element, path: str) -> str:
    found = root.find(path, N)
    return (found.text or "") if found is not None else ""


def fill(root: etree._Element, values: dict[str, str | None]) -> None:
    """Set each path's text; None removes the element."""
    for path, value in values.items():
        node = el(root, path)
        if value is None:
            parent = node.getparent()
            assert parent is not None
            parent.remove(node)
        else:
            node.text = value


def to_bytes(root: etree._Element) -> bytes:
    etree.indent(root, space="  ")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def template(sample: str, *, sender: str, doc_id: str, correlation: str | None = None,
             causation: str | None = None, person_ref: str | None = None) -> tuple[str, etree._Element]:
    """A sample with a fresh envelope: new message id, sender, now, the sender's document id."""
    root = parse(_sample(sample))
    env = el(root, "x:envelope")
    mid = str(uuid.uuid4())
    fill(env, {"x:messageId": mid, "x:sender": sender, "x:sentAt": dt.datetime.now(CST).isoformat("T", "seconds"),
               "x:senderDocumentId": f"{doc_id}-{mid[:8]}"})
    for tag in ("to", "cc", "correlationId", "causationId", "personRef"):
        for node in env.findall(f"x:{tag}", N):
            env.remove(node)
    for tag, value in (("correlationId", correlation), ("causationId", causation), ("personRef", person_ref)):
        if value:
            etree.SubElement(env, f"{{{NS}}}{tag}").text = value
    return mid, root


def set_person_case(root: etree._Element, c: Case) -> None:
    p = c.person
    fill(el(root, "x:person"), {"x:name": p.name, "x:idNumber": p.id_number, "x:sex": "MALE" if p.male else "FEMALE",
                                "x:birthDate": p.birth.isoformat(), "x:residence/x:divisionCode": p.division,
                                "x:residence/x:address": p.address})
    fill(el(root, "x:case"), {
        "x:caseNumber": c.number, "x:decidingOrgan": c.court, "x:decisionDate": c.decided.isoformat(),
        "x:effectiveDate": c.effective.isoformat(), "x:offence": c.offence, "x:correctionType": c.ctype,
        "x:supervisionPeriod/x:start": c.effective.isoformat(), "x:supervisionPeriod/x:end": c.end.isoformat(),
        "x:executionDivision": p.division})


def receipt(received: etree._Element, *, bureau: str, message_id: str, serial: int) -> bytes:
    """The bureau's 回执 for a SentencingDecision: person and case as received, all documents listed."""
    year = today().year
    _, root = template("DocumentReceipt", sender=bureau, doc_id=f"{SHORT[bureau[:6]]}司矫回〔{year}〕{serial}号",
                       correlation=text(received, "x:case/x:caseNumber"), causation=message_id,
                       person_ref=f"{bureau}:JZ{year}-{serial:04d}")
    for part in ("x:person", "x:case"):
        el(root, part).getparent().replace(el(root, part), copy.deepcopy(el(received, part)))  # type: ignore[union-attr]
    titles = "、".join(text(d, "x:title") for d in received.findall("x:decision/x:documents/x:document", N))
    fill(el(root, "x:receipt"), {"x:receiptOf": message_id, "x:receivedOn": today().isoformat(),
                                 "x:completeness": "COMPLETE", "x:note": f"{titles}均已收到，材料齐全。"})
    return to_bytes(root)


def technical_ack(sender: str, message_id: str, correlation: str | None) -> bytes:
    """A TechnicalAck (ACCEPTED) naming ``message_id``."""
    _, root = template("TechnicalAck", sender=sender, doc_id=f"ACK-{message_id}", correlation=correlation,
                       causation=message_id)
    fill(el(root, "x:ack"), {"x:ackOf": message_id, "x:status": "ACCEPTED",
                             "x:receivedAt": dt.datetime.now(CST).isoformat("T", "seconds")})
    return to_bytes(root)


def describe(root: etree._Element) -> str:
    """'SentencingDecision 判决·缓刑 杨国富 （2026）云0502刑初123号' — what a clerk would say about a notice."""
    kind = etree.QName(root).localname
    detail = text(root, "x:decision/x:decisionKind") or text(root, "*/x:kind") or text(root, "*/x:result")
    if kind == "SentencingDecision":
        label = f"{KINDS.get(detail, '判决')}·{CTYPES.get(text(root, 'x:case/x:correctionType'), '')}"
    else:
        label = "·".join(x for x in (LABELS.get(kind, ""), KINDS.get(detail, "")) if x)
    who = " ".join(x for x in (text(root, "x:person/x:name"), text(root, "x:case/x:caseNumber")) if x)
    return f"{kind} {label} {who}".rstrip()


@dataclass
class World:
    """What the simulated bureaus have received; the feed follows up only on those cases."""

    at_bureau: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mark(self, message_id: str) -> None:
        with self.lock:
            self.at_bureau.add(message_id)

    def has(self, message_id: str) -> bool:
        with self.lock:
            return message_id in self.at_bureau


AGENCY_PORT = 8100


def auth(code: str) -> dict[str, str]:
    """The demo's public API key for an agency (``demo-<code>``, hashed in the registry)."""
    return {"Authorization": f"Bearer demo-{code}"}


def as_native(agency: Agency, xml: bytes) -> tuple[str, bytes] | None:
    """(system, payload) of a canonical notice in ``agency``'s own format, or None if the format has no form
    for it (a TechnicalAck: those stay canonical)."""
    if agency.adapter == "canonical":
        return None
    from adapters import get_adapter

    try:
        return agency.adapter, get_adapter(agency.adapter).encode(xml, message_type=etree.QName(parse(xml)).localname
                                                                  ).body
    except ValueError:
        return None


def post_native(client: httpx.Client, agency: Agency, xml: bytes) -> httpx.Response:
    """Send a canonical notice the way ``agency``'s system does: in its own format to
    /api/v1/inbound/{system}, or as canonical XML when its format has no form for it."""
    native = as_native(agency, xml)
    if native is None:
        return client.post("/api/v1/messages", content=xml, headers=auth(agency.code))
    return client.post(f"/api/v1/inbound/{native[0]}", content=native[1], headers=auth(agency.code))


def refused(r: httpx.Response) -> str | None:
    """Why the hub refused a post (None if it took it): a canonical error or the first rejected record."""
    if r.status_code in (200, 202):
        return None
    try:
        body = r.json()
    except ValueError:
        return f"HTTP {r.status_code}: {r.text[:300]}"
    bad = [o for o in body.get("outcomes", []) if o.get("status") == "rejected"]
    if bad:
        return f"HTTP {r.status_code}: record {bad[0]['record']}: {bad[0].get('problems')}"
    return f"HTTP {r.status_code}: {str(body.get('error', body))[:300]}"


def read_native(agency: Agency, body: bytes) -> etree._Element:
    """The canonical root of a notice as ``agency``'s system received it in its own format (the simulated system
    reads its format with the same adapter the hub wrote it with)."""
    if agency.adapter == "canonical" or (body.lstrip()[:1] == b"<" and b"urn:xianjie:canonical:v1" in body[:400]):
        return parse(body)
    from adapters import DecodeContext, get_adapter

    records = list(get_adapter(agency.adapter).decode(body, DecodeContext(None, dt.datetime.now(dt.UTC))))
    if not records or records[0].canonical is None:
        raise ValueError(f"cannot read its own format: {records[0].problems if records else 'no record'}")
    return parse(records[0].canonical)


class Agencies:
    """Simulated agency systems. Endpoints on 127.0.0.1:8100 log each notice and answer 200; a bureau then
    posts a 回执 for a judgment, police post a TechnicalAck, the others put the TechnicalAck in the answer.
    Procuratorates pull their inbox; 施甸县公安局 reads its drop folder."""

    def __init__(self, *, directory: Directory, hub_url: str, world: World, port: int = AGENCY_PORT) -> None:
        self.directory, self.world, self.port = directory, world, port
        self.client = httpx.Client(base_url=hub_url, timeout=30.0)
        self.replies = ThreadPoolExecutor(max_workers=8, thread_name_prefix="demo-reply")
        self.quiet = threading.Event()
        self.serial = itertools.count(random.randint(100, 700))
        self.server: ThreadingHTTPServer | None = None
        self.collectors: list[threading.Thread] = []

    def start(self) -> None:
        """Listen on the agencies' port (OSError if it is taken)."""
        receive = self.receive

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                m = re.fullmatch(r"/agencies/(\w+)/notices", self.path)
                status, answer = receive(m.group(1) if m else "", self.headers.get("X-Xianjie-Message-Id"), body)
                self.send_response(status)
                self.send_header("Content-Type", "application/xml; charset=utf-8" if answer else "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="demo-agencies", daemon=True).start()

    def start_collectors(self) -> None:
        """Start pulling inboxes and reading drop folders (once the hub answers)."""
        for target, name in ((self._collect_inboxes, "demo-inboxes"), (self._collect_folders, "demo-folders")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self.collectors.append(t)

    def receive(self, code: str, message_id: str | None, body: bytes) -> tuple[int, bytes]:
        """One pushed notice: (status, answer body)."""
        agency = self.directory.get(code)
        if agency is None:
            return 404, f"no agency {code} on this simulator".encode()
        try:
            root = read_native(agency, body)
        except (etree.XMLSyntaxError, ValueError) as e:
            return 400, f"unreadable: {e}".encode()
        mid = message_id or text(root, "x:envelope/x:messageId")
        corr = text(root, "x:envelope/x:correlationId") or None
        say(f"{agency.name} {code} ← {describe(root)}")
        if agency.organ_type is OrganType.BUREAU and etree.QName(root).localname == "SentencingDecision":
            self.world.mark(mid)
            self._later(random.uniform(0.5, 2.0), lambda: self._post(agency, receipt(
                root, bureau=code, message_id=mid, serial=next(self.serial)), say_it=True))
            return 200, b""
        if agency.organ_type is OrganType.POLICE:
            self._later(random.uniform(0.2, 1.0), lambda: self._post(agency, technical_ack(code, mid, corr)))
            return 200, b""
        return 200, technical_ack(code, mid, corr)

    def _later(self, delay: float, action: Callable[[], object]) -> None:
        def run() -> None:
            if self.quiet.wait(delay):
                return
            try:
                action()
            except Exception as e:  # a demo agency's hiccup must not end the demo
                say(f"(simulated agency: {type(e).__name__}: {e})")

        if not self.quiet.is_set():
            self.replies.submit(run)

    def _post(self, agency: Agency, xml: bytes, *, say_it: bool = False) -> bool:
        if say_it:
            say(f"{agency.name} {agency.code} → 衔接 {describe(parse(xml))}")
        why = refused(post_native(self.client, agency, xml))
        if why:
            say(f"  ✗ the hub refused {agency.code}'s {describe(parse(xml))}: {why}")
        return why is None

    def _collect_inboxes(self) -> None:
        pullers = [a for a in self.directory.agencies.values()
                   if a.transport is Transport.INBOX and a.organ_type is not OrganType.HUB]
        while not self.quiet.wait(1.0):
            for a in pullers:
                try:
                    for item in self.client.get("/api/v1/inbox", headers=auth(a.code)).json()["items"]:
                        raw = (item["payload"].encode("utf-8") if "payload" in item
                               else base64.b64decode(item["payload_base64"]))
                        say(f"{a.name} {a.code} ← {describe(read_native(a, raw))}  (收件箱 inbox)")
                        self.client.post(f"/api/v1/inbox/{item['delivery_id']}/ack", headers=auth(a.code))
                except (httpx.HTTPError, KeyError, ValueError) as e:
                    if not self.quiet.is_set():
                        say(f"(simulated {a.code} could not read its inbox: {type(e).__name__})")

    def _collect_folders(self) -> None:
        readers = [a for a in self.directory.agencies.values() if a.transport is Transport.FOLDER and a.endpoint]
        while not self.quiet.wait(1.0):
            for a in readers:
                folder = Path(str(a.endpoint))
                # oldest first: the hub writes one person's notices in order (the names do not sort that way)
                files = sorted((f for f in folder.iterdir() if f.is_file() and not f.name.startswith(".")),
                               key=lambda f: f.stat().st_mtime_ns) if folder.is_dir() else []
                for f in files:
                    try:
                        root = read_native(a, f.read_bytes())
                        say(f"{a.name} {a.code} ← {describe(root)}  (投递文件夹 drop folder)")
                        ack = technical_ack(a.code, text(root, "x:envelope/x:messageId"),
                                            text(root, "x:envelope/x:correlationId") or None)
                        if self._post(a, ack):
                            (folder / "done").mkdir(exist_ok=True)
                            f.replace(folder / "done" / f.name)
                    except (OSError, ValueError, etree.XMLSyntaxError, httpx.HTTPError) as e:
                        say(f"(simulated {a.code} could not take {f.name}: {type(e).__name__}: {e})")

    def quiesce(self) -> None:
        """Stop replying and collecting; pending replies are dropped (the endpoints still answer)."""
        self.quiet.set()
        self.replies.shutdown(wait=True, cancel_futures=True)
        for t in self.collectors:
            t.join(10)

    def stop(self) -> None:
        self.quiesce()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        self.client.close()
