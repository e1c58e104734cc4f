"""The notices of a chaos run: persons under community corrections in the five counties of 保山, each with a
judgment first and the later notices of their case (leave approvals, custody, revocation and pursuit), built from
the canonical samples with the person's own name, ID number, court and case number; plus the 回执 and 报到 outcome
each bureau sends once a judgment has reached it (posted by the bureau clerk, chaos.clients.Clerk).

Each notice's recipients are written out here from the exchanges of DOMAIN.md §2 (``Builder.expect``), not taken
from the hub: the deliveries each accepted notice must produce are known before the hub sees it, and the build
stops if the hub's own routing table, asked as well, disagrees about any notice."""

from __future__ import annotations

import copy
import datetime as dt
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from lxml import etree

from hub.canonical import load_schema, parse
from hub.core.model import Directory
from hub.core.routing import route
from tests.harness import NS, SAMPLES, make_id

N = {"x": NS}
COUNTIES = ("530502", "530521", "530523", "530524", "530581")
SURNAMES = ("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢"
            "蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段")
GIVEN = "国富建华春明志强文军平德海永红玉兰英秀云芳丽娟伟刚勇毅俊峰磊鹏涛斌辉杰浩宇晨阳光荣贵福寿林森兴旺成功"
TYPES = ("CONTROL", "PROBATION")


@dataclass(frozen=True)
class Notice:
    mid: str
    kind: str
    sender: str
    person: int
    xml: bytes
    recipients: frozenset[str]  # as DOMAIN.md §2 says (Builder.expect), and as the hub's routing agrees
    unrouted: int  # required roles no agency fills (each a failed transfer no_recipient): 0 in a chaos registry


@dataclass(frozen=True)
class Person:
    index: int
    county: str
    court: str
    name: str
    id_number: str
    case_number: str


@dataclass
class Stream:
    persons: list[Person]
    main: list[list[Notice]]  # one list per poster, each person's notices in their order
    responses: dict[str, list[Notice]]  # judgment message id -> the bureau's 回执 and 报到 outcome
    receipting: frozenset[str]  # bureaus that answer a judgment with a 回执 (their clerk posts it)
    by_mid: dict[str, Notice] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.by_mid)


def _sample(kind: str) -> etree._Element:
    return etree.parse(str(SAMPLES / f"{kind}.xml")).getroot()


def _text(root: etree._Element, path: str, value: str) -> None:
    el = root.find(path, N)
    if el is None:
        raise ValueError(f"{etree.QName(root).localname} sample has no {path}")
    el.text = value


class Builder:
    """Builds valid canonical notices for persons, each routed with the hub's table against ``directory``."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.schema = load_schema()
        self.samples = {k: _sample(k) for k in ("SentencingDecision", "DocumentReceipt", "ReportingOutcome",
                                                "SupervisionEvent", "CustodyNotice", "RevocationDecision",
                                                "PursuitRequest")}
        self.judgments: dict[int, etree._Element] = {}

    def _new(self, kind: str, *, sender: str, doc_id: str, person: Person, causation: str | None,
             edit: Callable[[etree._Element], None] | None = None) -> etree._Element:
        root = copy.deepcopy(self.samples[kind])
        env = root.find("x:envelope", N)
        assert env is not None
        for tag in ("to", "cc"):
            for el in env.findall(f"x:{tag}", N):
                env.remove(el)
        _text(root, "x:envelope/x:messageId", str(uuid.uuid4()))
        _text(root, "x:envelope/x:sender", sender)
        _text(root, "x:envelope/x:senderDocumentId", doc_id)
        _text(root, "x:envelope/x:correlationId", person.case_number)
        ref = env.find("x:personRef", N)
        if ref is not None:
            ref.text = f"{sender}:RY{person.index:06d}"
        cause = env.find("x:causationId", N)
        if cause is not None:
            if causation is None:
                env.remove(cause)
            else:
                cause.text = causation
        if kind != "SentencingDecision":  # the person and the case as the judgment states them
            judgment = self.judgments[person.index]
            for tag in ("person", "case"):
                old, new = root.find(f"x:{tag}", N), judgment.find(f"x:{tag}", N)
                assert old is not None and new is not None
                root.replace(old, copy.deepcopy(new))
        if edit:
            edit(root)
        return root

    @staticmethod
    def expect(kind: str, p: Person) -> frozenset[str]:
        """Who must receive a notice of ``kind`` about ``p``, as DOMAIN.md §2 has it (the sender never): a judgment
        or a revocation goes to the bureau of the place of execution, with copies to its procuratorate and police
        (a revocation to that police to act on, and to the detention centre that takes the person back, as the
        sample names it); a 回执 and a 报到 outcome to the deciding court, copied to the procuratorate; a leave
        approval to the procuratorate; a custody notice to the bureau, copied to the procuratorate; a pursuit
        request to the police, copied to the procuratorate."""
        c = p.county
        return frozenset({
            "SentencingDecision": {c + "SF", c + "JC", c + "GA"},
            "DocumentReceipt": {p.court, c + "JC"},
            "ReportingOutcome": {p.court, c + "JC"},  # the sample's result is REPORTED: no police
            "SupervisionEvent": {c + "JC"},  # LEAVE_APPROVED: neither police nor court
            "CustodyNotice": {c + "SF", c + "JC"},
            "RevocationDecision": {c + "SF", c + "GA", c + "JC", "530502KS"},
            "PursuitRequest": {c + "GA", c + "JC"},
        }[kind])

    def _notice(self, root: etree._Element, person: Person) -> Notice:
        xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        msg = parse(xml, schema=self.schema).canonical
        expected = self.expect(msg.message_type, person)
        missing = sorted(a for a in expected if self.directory.get(a) is None)
        routes = route(msg, self.directory)
        routed = frozenset(r.agency for r in routes if r.agency)
        if missing or routed != expected or any(r.agency is None for r in routes):
            raise AssertionError(f"{msg.message_type} of person {person.index}: DOMAIN.md says {sorted(expected)}"
                                 f"{f' (not in the registry: {missing})' if missing else ''}, the hub's routing "
                                 f"{sorted(routed)} and {sum(1 for r in routes if r.agency is None)} unfilled")
        return Notice(msg.message_id, msg.message_type, msg.sender, person.index, xml, expected, 0)

    def judgment(self, p: Person, rng: random.Random) -> Notice:
        def edit(root: etree._Element) -> None:
            _text(root, "x:person/x:name", p.name)
            _text(root, "x:person/x:idNumber", p.id_number)
            _text(root, "x:person/x:birthDate", f"{p.id_number[6:10]}-{p.id_number[10:12]}-{p.id_number[12:14]}")
            _text(root, "x:person/x:residence/x:divisionCode", p.county)
            _text(root, "x:case/x:caseNumber", p.case_number)
            _text(root, "x:case/x:decidingOrgan", p.court)
            _text(root, "x:case/x:executionDivision", p.county)
            _text(root, "x:case/x:correctionType", rng.choice(TYPES))
            _text(root, "x:decision/x:documentNumber", p.case_number)
            _text(root, "x:decision/x:executionNotice/x:noticeNumber", f"保法执通〔2026〕{p.index}号")
            for doc in root.findall("x:decision/x:documents/x:document/x:documentNumber", N):
                doc.text = p.case_number

        root = self._new("SentencingDecision", sender=p.court, doc_id=f"{p.case_number}-送达-1", person=p,
                         causation=None, edit=edit)
        self.judgments[p.index] = root
        return self._notice(root, p)

    def receipt(self, p: Person, judgment: str) -> Notice:
        def edit(root: etree._Element) -> None:
            _text(root, "x:receipt/x:receiptOf", judgment)

        return self._notice(self._new("DocumentReceipt", sender=p.county + "SF", doc_id=f"司矫回〔2026〕{p.index}号",
                                      person=p, causation=judgment, edit=edit), p)

    def reported(self, p: Person, judgment: str) -> Notice:
        return self._notice(self._new("ReportingOutcome", sender=p.county + "SF", doc_id=f"司矫报〔2026〕{p.index}号",
                                      person=p, causation=judgment), p)

    def leave(self, p: Person, k: int) -> Notice:
        number = f"司矫外字〔2026〕{p.index}-{k}号"

        def edit(root: etree._Element) -> None:
            _text(root, "x:event/x:decisionNumber", number)

        return self._notice(self._new("SupervisionEvent", sender=p.county + "SF", doc_id=number, person=p,
                                      causation=None, edit=edit), p)

    def custody(self, p: Person) -> Notice:
        number = f"公（刑）拘字〔2026〕{p.index}号"

        def edit(root: etree._Element) -> None:
            _text(root, "x:custody/x:documentNumber", number)

        return self._notice(self._new("CustodyNotice", sender=p.county + "GA", doc_id=f"公拘通〔2026〕{p.index}号",
                                      person=p, causation=None, edit=edit), p)

    def revocation(self, p: Person) -> tuple[Notice, str]:
        number = f"（2026）云{p.court[2:6]}刑更{p.index}号"

        def edit(root: etree._Element) -> None:
            _text(root, "x:decision/x:documentNumber", number)

        n = self._notice(self._new("RevocationDecision", sender=p.court, doc_id=f"{number}-送达-1", person=p,
                                   causation=None, edit=edit), p)
        return n, number

    def pursuit(self, p: Person, revocation: str, basis: str) -> Notice:
        def edit(root: etree._Element) -> None:
            _text(root, "x:pursuit/x:basisDocumentNumber", basis)
            for doc in root.findall("x:pursuit/x:documents/x:document/x:documentNumber", N):
                doc.text = basis

        return self._notice(self._new("PursuitRequest", sender=p.county + "SF", doc_id=f"司矫追〔2026〕{p.index}号",
                                      person=p, causation=revocation, edit=edit), p)


def person(i: int, rng: random.Random) -> Person:
    county = rng.choice(COUNTIES)
    court = rng.choice([county + "FY"] * 3 + ["530500FY"])
    birth = dt.date(1960, 1, 1) + dt.timedelta(days=i)
    id_number = make_id(county, birth.strftime("%Y%m%d"), 101 + 2 * (i % 400))  # odd: a man, as the samples say
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return Person(i, county, court, name, id_number, f"（2026）云{court[2:6]}刑初{1000 + i}号")


def build(*, total: int, posters: int, directory: Directory, receipting: frozenset[str], seed: int) -> Stream:
    """``total`` notices (judgments, later notices and the bureaus' responses), the main ones split over
    ``posters`` clients by person and interleaved, each person's in order."""
    if total < 20:
        raise ValueError("a chaos stream needs at least 20 notices")
    rng = random.Random(seed)
    b = Builder(directory)
    persons: list[Person] = []
    plans: list[list[Notice]] = []
    responses: dict[str, list[Notice]] = {}
    count = 0
    while count < total:
        p = person(len(persons), rng)
        persons.append(p)
        plan = [b.judgment(p, rng)]
        if p.county + "SF" in receipting:
            responses[plan[0].mid] = [b.receipt(p, plan[0].mid), b.reported(p, plan[0].mid)]
        plan.extend(b.leave(p, k) for k in range(rng.choice((0, 0, 1, 1, 1, 2, 3))))
        if rng.random() < 0.15:
            plan.insert(rng.randrange(1, len(plan) + 1), b.custody(p))
        if rng.random() < 0.08:
            rev, number = b.revocation(p)
            plan.extend([rev, b.pursuit(p, rev.mid, number)])
        plans.append(plan)
        count += len(plan) + len(responses.get(plan[0].mid, ()))
    # one too many persons' worth: drop leave approvals (each stands alone) until the total is exact
    leaves = [(i, n) for i, plan in enumerate(plans) for n in plan if n.kind == "SupervisionEvent"]
    rng.shuffle(leaves)
    for i, n in leaves[:count - total]:
        plans[i].remove(n)
    count -= min(count - total, len(leaves))
    if count != total:
        raise AssertionError(f"the stream has {count} notices, not {total}")
    main: list[list[Notice]] = []
    for k in range(posters):
        mine = [plan for i, plan in enumerate(plans) if i % posters == k]
        order = [j for j, plan in enumerate(mine) for _ in plan]
        rng.shuffle(order)
        nexts = [iter(plan) for plan in mine]
        main.append([next(nexts[j]) for j in order])
    s = Stream(persons, main, responses, receipting)
    for lst in [*main, *responses.values()]:
        for n in lst:
            s.by_mid[n.mid] = n
    return s
