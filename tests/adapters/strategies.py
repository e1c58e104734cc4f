"""Hypothesis strategies for valid canonical messages of every message type.

``canonical_messages(message_type, fixed=...)`` draws UTF-8 canonical XML that passes ``hub.canonical.parse``:
every optional element is sometimes present and sometimes absent, repeated elements vary in number, and the
texts are realistic Chinese (names outside the BMP, minority names with U+00B7, addresses, punctuation that
XML must escape). Element order is taken from the canonical XSDs, so it always follows their sequences.

``fixed`` maps leaf paths relative to the root (``case/correctionType``, ``decision/documents/document/kind``)
to values every example carries; a path inside a repeated element holds for every occurrence, and an optional
element on the way is always present. Values the generator couples (ID number, sex and birth date; completeness
and missing entries; paired dates; a body's kind and the correction type) are drawn to agree with what is fixed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn, SearchStrategy
from lxml import etree

from hub.core.idnumber import check_digit, check_id_number
from hub.resources import canonical_schema_path, default_registry_path

NS = "urn:xianjie:canonical:v1"
_NSB = "{" + NS + "}"
_XS = "{http://www.w3.org/2001/XMLSchema}"

MESSAGE_TYPES: tuple[str, ...] = (
    "AssessmentCommission",
    "AssessmentOpinion",
    "SentencingDecision",
    "DocumentReceipt",
    "ReportingOutcome",
    "TransferPapers",
    "TransferOpinion",
    "CustodyNotice",
    "SupervisionEvent",
    "RevocationProposal",
    "RevocationDecision",
    "PursuitRequest",
    "PursuitResult",
    "ReleaseNotice",
    "TechnicalAck",
)

FIRST_DAY = dt.date(2015, 1, 1)
LAST_DAY = dt.date(2026, 12, 31)
BIRTH_FIRST = dt.date(1950, 1, 1)
BIRTH_LAST = dt.date(2006, 12, 31)
Data = dict[str, Any]

# ---- the schema: element order, optionality, leaf types -------------------------------------------------


@dataclass(frozen=True)
class Node:
    """One element of a message type's tree, as the XSD declares it."""

    name: str
    optional: bool
    repeated: bool
    type_name: str
    children: tuple[Node, ...] | None  # None for a leaf


@cache
def _schema() -> dict[str, tuple[Node, ...]]:
    types: dict[str, etree._Element] = {}
    roots: dict[str, str] = {}
    for path in sorted(canonical_schema_path().parent.glob("*.xsd")):
        top = etree.parse(str(path)).getroot()
        for ct in top.findall(f"{_XS}complexType"):
            types[str(ct.get("name"))] = ct
        for el in top.findall(f"{_XS}element"):
            roots[str(el.get("name"))] = str(el.get("type"))

    def build(type_name: str) -> tuple[Node, ...] | None:
        ct = types.get(type_name)
        if ct is None:
            return None
        return tuple(
            Node(
                name=str(el.get("name")),
                optional=el.get("minOccurs", "1") == "0",
                repeated=el.get("maxOccurs", "1") not in ("0", "1"),
                type_name=str(el.get("type")),
                children=build(str(el.get("type"))),
            )
            for el in ct.findall(f"{_XS}sequence/{_XS}element")
        )

    out: dict[str, tuple[Node, ...]] = {}
    for name, type_name in roots.items():
        tree = build(type_name)
        assert tree is not None, f"root {name} has no complex type"
        out[name] = tree
    return out


def _schema_paths(message_type: str) -> dict[str, Node]:
    """Every element of a message type by its path relative to the root (``person/residence/address``)."""
    out: dict[str, Node] = {}

    def walk(prefix: str, nodes: tuple[Node, ...]) -> None:
        for node in nodes:
            path = f"{prefix}{node.name}"
            out[path] = node
            if node.children is not None:
                walk(path + "/", node.children)

    walk("", _schema()[message_type])
    return out


def _to_xml(message_type: str, data: Data, *, pretty: bool) -> bytes:
    root = etree.Element(_NSB + message_type, nsmap={None: NS})  # type: ignore[dict-item]
    _write(root, _schema()[message_type], data, message_type)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=pretty)


def _write(parent: etree._Element, nodes: tuple[Node, ...], data: Data, where: str) -> None:
    unknown = set(data) - {n.name for n in nodes}
    if unknown:
        raise KeyError(f"{where}: no element {sorted(unknown)} in the schema")
    for node in nodes:
        value = data.get(node.name)
        if value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            el = etree.SubElement(parent, _NSB + node.name)
            if node.children is None:
                el.text = item
            else:
                _write(el, node.children, item, f"{where}/{node.name}")


# ---- agencies of the demo registry ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Agency:
    code: str
    organ: str
    division: str
    name: str


@cache
def _agencies() -> tuple[_Agency, ...]:
    with default_registry_path().open("rb") as f:
        rows = tomllib.load(f)["agency"]
    return tuple(_Agency(r["code"], r["organ_type"], r["division"], r["name"]) for r in rows)


@cache
def _codes(*organs: str) -> tuple[str, ...]:
    return tuple(a.code for a in _agencies() if a.organ in organs)


def _organ_of(division: str, organ: str) -> str:
    for a in _agencies():
        if a.division == division and a.organ == organ:
            return a.code
    return next(a.code for a in _agencies() if a.organ == organ)


def _agency_name(code: str) -> str:
    return next((a.name for a in _agencies() if a.code == code), "")


EXEC_DIVISIONS = ("530502", "530521", "530523", "530524", "530581")
ID_DIVISIONS = ("530502", "530521", "530522", "530523", "530524", "530581", "533001")

# ---- vocabulary -------------------------------------------------------------------------------------------

_SURNAMES = (*"王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯董程曹袁邓许沈彭吕苏蒋蔡段雷钱尹番寸",
             "欧阳", "司马", "诸葛", "上官", "𠮷")
_GIVEN = tuple("国富玉兰建华志强秀英丽娟明军红梅海燕桂芳文杰永刚晓东春花金凤德明家豪子轩雨萱浩然欣怡俊嘉思远荣光")
_RARE = ("𠮷", "𡈼", "𪚥", "𬌗", "𫟦", "𬱖", "𬍤", "𫖮", "𬭚", "𠇔", "𡒄", "𬘭")
_UYGHUR = ("阿依古丽", "买买提", "热依拉", "艾力", "艾买提江", "吐尔逊", "古丽娜尔", "阿不都热合曼", "帕提古丽",
           "努尔", "迪丽娜尔", "阿卜杜拉", "伊力哈木", "再努尔")
_DAI = ("岩温", "岩罕", "玉香", "玉儿", "刀志明", "依香叫", "木春花", "者来", "普光荣", "扎西次仁", "排布")

_COUNTIES = {
    "530502": ("保山市隆阳区", ("永昌街道", "兰城街道", "九隆街道", "板桥镇", "金鸡乡", "汉庄镇")),
    "530521": ("施甸县", ("甸阳镇", "由旺镇", "姚关镇", "太平镇")),
    "530522": ("腾冲县", ("腾越镇", "和顺乡", "固东镇")),
    "530523": ("龙陵县", ("龙山镇", "镇安镇", "勐糯镇", "象达镇")),
    "530524": ("昌宁县", ("田园镇", "柯街镇", "卡斯镇", "漭水镇")),
    "530581": ("腾冲市", ("腾越街道", "和顺镇", "固东镇", "猴桥镇", "界头镇")),
    "530103": ("昆明市盘龙区", ("拓东街道", "东华街道", "联盟街道")),
    "533102": ("瑞丽市", ("勐卯街道", "姐相镇")),
}
_PROVINCE_OF = {"530103": "云南省", "533102": "云南省德宏傣族景颇族自治州"}
_RESIDENCE_DIVISIONS = tuple(_COUNTIES)
_PLACES = ("社区", "村委会", "居委会")
_ROADS = ("文星路", "保岫东路", "九龙路", "青华路", "正阳北路", "白塔路", "来凤巷", "永昌路", "兰城路")
_ABBR = {"530502": "隆", "530521": "施", "530522": "腾", "530523": "龙", "530524": "昌", "530581": "腾",
         "530500": "保"}
_CASE_DIVS = ("0502", "0521", "0523", "0524", "0581", "05", "0522")
_CASE_KINDS = ("刑初", "刑终", "刑执", "刑更")
_OFFENCES = ("盗窃罪", "诈骗罪", "危险驾驶罪", "故意伤害罪", "交通肇事罪", "开设赌场罪", "寻衅滋事罪",
             "非法吸收公众存款罪", "走私、贩卖、运输、制造毒品罪", "帮助信息网络犯罪活动罪",
             "掩饰、隐瞒犯罪所得罪", "非法采矿罪", "滥伐林木罪", "非法狩猎罪", "容留他人吸毒罪")
_NUMERALS = "一二三四五六七八九十"
_DOC_TITLES = {
    "JUDGMENT": ("刑事判决书", "刑事附带民事判决书"),
    "RULING": ("刑事裁定书", "假释裁定书", "撤销缓刑刑事裁定书"),
    "DECISION": ("暂予监外执行决定书", "变更执行地决定书", "收监执行决定书"),
    "EXECUTION_NOTICE": ("执行通知书", "社区矫正执行通知书"),
    "PAROLE_CERTIFICATE": ("假释证明书",),
    "TEMP_OUTSIDE_DECISION": ("暂予监外执行决定书",),
    "CASE_CLOSING_FORM": ("结案登记表",),
    "INDICTMENT": ("起诉书", "量刑建议书"),
    "COMMISSION_LETTER": ("调查评估委托函",),
    "ASSESSMENT_REPORT": ("调查评估意见书", "社会调查评估报告"),
    "PERSON_FILE": ("罪犯档案材料", "社区矫正档案（报到登记、矫正方案、考核奖惩材料）"),
    "MEDICAL_REPORT": ("病情诊断、检查证明文件", "保外就医病情鉴定（三级甲等医院）"),
    "EVIDENCE": ("谈话笔录", "定位轨迹截图（2026年6月）", "证人证言", "电话查找记录&走访记录"),
    "CERTIFICATE": ("出监证明书", "释放证明书"),
    "OTHER": ("暂予监外执行保证书", "保证人资格审查表", "照片2张", "其他材料"),
}
DOCUMENT_KINDS = tuple(_DOC_TITLES)
_SENTENCES = (
    "该社区矫正对象到案后如实供述犯罪事实，认罪悔罪态度较好。",
    "经走访其所在社区及村（居）民委员会，群众反映一般。",
    "依据《中华人民共和国社区矫正法》第二十八条之规定，予以训诫。",
    "其家庭成员表示愿意协助监督，具备监管条件。",
    "因其母在昆明住院治疗，申请外出陪护，期间每日电话报告。",
    "多次电话联系未果，经手机定位查询亦无结果！",
    "体温38.5℃，收缩压>160mmHg，需继续治疗。",
    "材料编号A&B两份已随卷移送，请查收。",
    "请于五日内补正上述材料；逾期未补正的，退回原决定机关。",
    "经核实，实际居住地与登记地址不一致（已搬迁）。",
    "联系电话：0875-2212345，承办人：李警官。",
    "再犯罪风险评估得分<30分（低风险），对所居住社区无重大不良影响。",
    "“保证人”已签署保证书，并附身份证复印件。",
    "该对象于凌晨2:30被查获，现羁押于看守所。",
    "矫正期间表现良好，未发现违反监督管理规定的情形。",
    "罪犯𠮷祥因患严重疾病，经鉴定符合保外就医条件。",
)
_SHORT = (
    "隆阳区永昌司法所", "腾越司法所", "甸阳司法所", "承办人：张明 0875-2212345", "承办人：欧阳𫖮，电话13987500001",
    "保山市隆阳区看守所", "保山市公安局隆阳分局", "保山监狱第三监区", "云南省昆明市盘龙区", "广东省深圳市南山区",
    "四川省成都市锦江区",
)
_DESTINATIONS = (("云南省昆明市盘龙区", "530103"), ("云南省德宏州瑞丽市", "533102"), ("四川省成都市锦江区", "510104"),
                 ("广东省深圳市南山区", "440305"), ("云南省大理市下关镇", "532901"))

# ---- text strategies --------------------------------------------------------------------------------------


def _join(parts: Sequence[str]) -> str:
    return "".join(parts)


_han_names = st.builds(
    lambda s, g: s + _join(g),
    st.sampled_from(_SURNAMES),
    st.lists(st.sampled_from(_GIVEN + _RARE), min_size=1, max_size=2),
)
_rare_names = st.builds(
    lambda s, r, g: s + r + g,
    st.sampled_from(_SURNAMES),
    st.sampled_from(_RARE),
    st.sampled_from(("", *_GIVEN)),
)
_dot_names = st.lists(st.sampled_from(_UYGHUR), min_size=2, max_size=3, unique=True).map("·".join)
names = st.one_of(_rare_names, _dot_names, _han_names, st.sampled_from(_DAI))


def _cn_number(n: int) -> str:
    if n <= 10:
        return _NUMERALS[n - 1]
    if n < 20:
        return "十" + _NUMERALS[n - 11]
    return _NUMERALS[n // 10 - 1] + "十" + (_NUMERALS[n % 10 - 1] if n % 10 else "")


def _sentence_text(correction: str, years: int, months: int, test: int, fine: int) -> str:
    """刑罚 as a decision states it, e.g. 有期徒刑一年六个月，缓刑二年，并处罚金人民币五千元."""
    term = (f"{_cn_number(years)}年" if years else "") + (f"{_cn_number(months)}个月" if months else "") or "六个月"
    if correction == "CONTROL":
        text = f"管制{term}"
    elif correction == "PROBATION":
        jail = f"拘役{_cn_number(months % 6 + 1)}个月"
        text = f"{f'有期徒刑{term}' if years else jail}，缓刑{_cn_number(test)}年"
    elif correction == "PAROLE":
        text = f"有期徒刑{_cn_number(years + 3)}年，假释考验期限{term}"
    else:
        text = f"有期徒刑{_cn_number(years + 1)}年"
    return text + (f"，并处罚金人民币{_cn_number(fine)}千元" if fine else "")


@cache
def sentences(correction: str) -> SearchStrategy[str]:
    return st.builds(_sentence_text, st.just(correction), st.integers(0, 3), st.integers(0, 11),
                     st.integers(1, 5), st.integers(0, 9))


free_texts = st.lists(st.sampled_from(_SENTENCES), min_size=1, max_size=3, unique=True).map(_join)
short_texts = st.sampled_from(_SHORT)
sha256s = st.binary(min_size=0, max_size=8).map(lambda b: hashlib.sha256(b).hexdigest())
uuids = st.uuids(version=4).map(str)


# Strategies are built once and reused: building a new one for every draw costs more than drawing from it.
_BOOL = st.booleans()
_sampled = cache(st.sampled_from)
_integers = cache(st.integers)


@cache
def _unique_lists(strategy: SearchStrategy[str], hi: int) -> SearchStrategy[list[str]]:
    return st.lists(strategy, max_size=hi, unique=True)


@cache
def _one_of(*options: SearchStrategy[str]) -> SearchStrategy[str]:
    return st.one_of(options)


@cache
@st.composite
def case_numbers(draw: DrawFn, year: int | None = None) -> str:
    """A case number in canonical form, e.g. （2026）云0502刑初123号."""
    y = year if year is not None else draw(_integers(2015, 2026))
    div = draw(_sampled(_CASE_DIVS))
    kind = draw(_sampled(_CASE_KINDS))
    return f"（{y}）云{div}{kind}{draw(_integers(1, 9999))}号"


@cache
@st.composite
def document_numbers(draw: DrawFn, year: int | None = None) -> str:
    """A 文号 like 隆法执通〔2026〕123号 (ASCII digits, no spaces)."""
    y = year if year is not None else draw(_integers(2015, 2026))
    abbr = draw(_sampled(tuple(sorted(set(_ABBR.values())))))
    mid = draw(_sampled(("法执通", "司矫回", "司矫变字", "司矫外字", "司矫建字", "公（刑）拘字", "狱暂字",
                                "司矫解字", "司矫警字")))
    return f"{abbr}{mid}〔{y}〕{draw(_integers(1, 999))}号"


@cache
@st.composite
def addresses(draw: DrawFn, division: str) -> str:
    county, towns = _COUNTIES.get(division, ("保山市隆阳区", ("永昌街道",)))
    province = _PROVINCE_OF.get(division, "云南省")
    town = draw(_sampled(towns))
    place = draw(_sampled(("来凤", "文笔", "下巷", "白塔", "新城", "太保"))) + draw(_sampled(_PLACES))
    road = draw(_sampled(_ROADS))
    tail = draw(_sampled(("号", "号附1号", "号3-2-501室", "号A栋1201室", "号（门面）")))
    group = "" if draw(_BOOL) else f"{draw(_integers(1, 12))}组"
    prefix = "" if draw(_BOOL) else province
    return f"{prefix}{county}{town}{place}{group}{road}{draw(_integers(1, 300))}{tail}"


def _iso_date(d: dt.date) -> str:
    return d.isoformat()


def _zoned(moment: dt.datetime, utc: bool) -> str:
    """``2026-04-02T09:30:00+08:00`` or the same instant as ``2026-04-02T01:30:00Z``."""
    local = moment.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))
    if utc:
        return local.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return local.isoformat()


# ---- drawing with fixed values ----------------------------------------------------------------------------


class _Ctx:
    """Draws values, taking each one from ``fixed`` when its path is there."""

    def __init__(self, draw: DrawFn, message_type: str, fixed: dict[str, str]) -> None:
        self.draw = draw
        self.message_type = message_type
        self.fixed = fixed

    def has(self, path: str) -> bool:
        """Whether a fixed value lives at or below ``path`` (so the element must be present)."""
        return path in self.fixed or any(k.startswith(path + "/") for k in self.fixed)

    def value(self, path: str, strategy: SearchStrategy[str]) -> str:
        return self.fixed[path] if path in self.fixed else self.draw(strategy)

    def keep(self, path: str, value: str) -> str:
        return self.fixed.get(path, value)

    def derive(self, path: str, make: Callable[[], str]) -> str:
        """The fixed value, else ``make()`` (which may draw)."""
        return self.fixed[path] if path in self.fixed else make()

    def flag(self) -> bool:
        return self.draw(_BOOL)

    def choice(self, path: str, options: Sequence[str]) -> str:
        return self.value(path, _sampled(tuple(options)))

    def opt(self, path: str, when: bool = True, *, always: bool = False) -> bool:
        """Whether an optional element is present: forced by ``fixed`` (or ``always``), else drawn when
        ``when`` says it makes sense."""
        if self.has(path) or (when and always):
            return True
        return when and self.draw(_BOOL)

    def count(self, path: str, lo: int, hi: int) -> int:
        if path in self.fixed:
            return 1
        return int(self.draw(_sampled(range(max(lo, 1) if self.has(path) else lo, hi + 1))))

    def many(self, path: str, strategy: SearchStrategy[str], hi: int) -> list[str] | None:
        if path in self.fixed:
            return [self.fixed[path]]
        items = self.draw(_unique_lists(strategy, hi))
        return items or None

    def date(self, path: str, lo: dt.date, hi: dt.date, *, floor: dt.date = FIRST_DAY) -> dt.date:
        """A day in ``[lo, hi]`` kept within ``[floor, LAST_DAY]``."""
        if path in self.fixed:
            return dt.date.fromisoformat(self.fixed[path])
        lo = min(max(lo, floor), LAST_DAY)
        hi = max(lo, min(hi, LAST_DAY))
        return lo + _days(self.draw(_integers(0, (hi - lo).days)))

    def pair(self, first: str, second: str, lo: dt.date, hi: dt.date, gap: int) -> tuple[dt.date, dt.date]:
        """Two dates with ``first <= second`` (either may be fixed)."""
        if second in self.fixed and first not in self.fixed:
            b = dt.date.fromisoformat(self.fixed[second])
            return min(self.date(first, min(lo, b), min(hi, b)), b), b
        a = self.date(first, lo, hi)
        return a, self.date(second, a, a + dt.timedelta(days=gap))


def _days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


# ---- blocks shared by the business messages ---------------------------------------------------------------


def _person(c: _Ctx) -> Data:
    p: Data = {"name": c.value("person/name", names)}
    fixed_id = c.fixed.get("person/idNumber")
    fixed_sex = c.fixed.get("person/sex")
    fixed_birth = c.fixed.get("person/birthDate")
    if fixed_id is not None:
        chk = check_id_number(fixed_id)
        male, birth = chk.male, chk.birth_date
        p["idNumber"] = fixed_id
    elif fixed_sex != "UNKNOWN" and c.draw(_integers(0, 4)) > 0:
        male = fixed_sex == "MALE" if fixed_sex in ("MALE", "FEMALE") else c.draw(_BOOL)
        birth = c.date("person/birthDate", BIRTH_FIRST, BIRTH_LAST, floor=BIRTH_FIRST)
        division = c.draw(_sampled(ID_DIVISIONS))
        seq = f"{c.draw(_integers(0, 99)):02d}{c.draw(_sampled('13579' if male else '02468'))}"
        if 1900 <= birth.year <= 1999 and c.draw(_integers(0, 4)) == 0:
            p["idNumber"] = f"{division}{birth:%y%m%d}{seq}"  # legacy 15-digit number
        else:
            body = f"{division}{birth:%Y%m%d}{seq}"
            p["idNumber"] = body + check_digit(body)
    else:
        male, birth = None, None
    if male is None:
        p["sex"] = c.choice("person/sex", ("MALE", "FEMALE", "UNKNOWN"))
    else:
        p["sex"] = fixed_sex or ("MALE" if male else "FEMALE")
    if fixed_birth is not None:
        p["birthDate"] = fixed_birth
    elif c.opt("person/birthDate"):
        d = birth or c.date("person/birthDate", BIRTH_FIRST, BIRTH_LAST, floor=BIRTH_FIRST)
        p["birthDate"] = _iso_date(d)
    if c.opt("person/residence"):
        div = c.choice("person/residence/divisionCode", _RESIDENCE_DIVISIONS)
        p["residence"] = {"divisionCode": div, "address": c.value("person/residence/address", addresses(div))}
    return p


@dataclass
class _Case:
    data: Data
    decided: dt.date
    effective: dt.date
    end: dt.date
    division: str
    deciding: str
    correction: str

    @property
    def number(self) -> str:
        return str(self.data["caseNumber"])


def _case(c: _Ctx, corrections: Sequence[str], division: str | None = None) -> _Case:
    correction = c.choice("case/correctionType", corrections)
    organs = _codes("COURT", "PRISON", "POLICE") if correction == "TEMP_OUTSIDE" else _codes("COURT")
    deciding = c.choice("case/decidingOrgan", organs)
    decided, effective = c.pair("case/decisionDate", "case/effectiveDate", FIRST_DAY, dt.date(2025, 12, 31), 30)
    division = c.choice("case/executionDivision", (division,) if division else EXEC_DIVISIONS)
    year = max(2015, decided.year - c.draw(_sampled((0, 0, 0, 1))))
    data: Data = {
        "caseNumber": c.value("case/caseNumber", case_numbers(min(year, 2026))),
        "decidingOrgan": deciding,
        "correctionType": correction,
        "executionDivision": division,
    }
    if c.opt("case/decisionDate"):
        data["decisionDate"] = _iso_date(decided)
    if c.opt("case/effectiveDate"):
        data["effectiveDate"] = _iso_date(effective)
    if c.opt("case/offence"):
        data["offence"] = c.value("case/offence", _sampled(_OFFENCES))
    start, end = c.pair("case/supervisionPeriod/start", "case/supervisionPeriod/end", effective,
                        effective + _days(20), 1800)
    if c.opt("case/supervisionPeriod"):
        data["supervisionPeriod"] = {"start": _iso_date(start), "end": _iso_date(end)}
    return _Case(data, decided, effective, end, division, deciding, correction)


def _documents(c: _Ctx, path: str, case: _Case | None = None) -> Data:
    """A DocumentList of 1..4 documents at ``path``."""
    docs = []
    year = case.decided.year if case else None
    for _ in range(c.count(f"{path}/document", 1, 4)):
        p = f"{path}/document"
        kind = c.choice(f"{p}/kind", DOCUMENT_KINDS)
        title = c.draw(_sampled(_DOC_TITLES.get(kind, ("其他材料",))))
        if case is not None and kind in ("JUDGMENT", "RULING") and c.draw(_BOOL):
            title = _agency_name(case.deciding) + title
        doc: Data = {"kind": kind, "title": c.keep(f"{p}/title", title)}
        if c.opt(f"{p}/documentNumber"):
            doc["documentNumber"] = c.derive(f"{p}/documentNumber", lambda: case.number if case and c.flag()
                                             else c.draw(document_numbers(year)))
        if c.opt(f"{p}/sha256"):
            doc["sha256"] = c.value(f"{p}/sha256", sha256s)
        if c.opt(f"{p}/uri"):
            doc["uri"] = c.derive(f"{p}/uri", lambda: f"https://files.example.org/xianjie/{c.draw(sha256s)[:16]}.pdf"
                                  if c.flag() else f"urn:uuid:{c.draw(uuids)}")
        docs.append(doc)
    return {"document": docs}


def _set_optional(c: _Ctx, body: Data, block: str, name: str, source: SearchStrategy[str] | str,
                  when: bool = True, *, always: bool = False) -> None:
    """Sets ``body[name]`` from ``source`` (a strategy or the value itself) when the element is present."""
    path = f"{block}/{name}"
    if c.opt(path, when, always=always):
        body[name] = c.keep(path, source) if isinstance(source, str) else c.value(path, source)


def _set_date(c: _Ctx, body: Data, block: str, name: str, lo: dt.date, hi: dt.date, when: bool = True, *,
              always: bool = False) -> dt.date:
    path = f"{block}/{name}"
    d = c.date(path, lo, hi)
    if c.opt(path, when, always=always):
        body[name] = _iso_date(d)
    return d


# ---- bodies: each returns (block name, body, sender, the day the message is about) -------------------------

Body = tuple[str, Data, str, dt.date]


def _assessment_commission(c: _Ctx, case: _Case) -> Body:
    b = "commission"
    organ = c.choice(f"{b}/commissioningOrgan", _codes("COURT", "PROCURATORATE", "POLICE", "PRISON"))
    day = c.date(f"{b}/commissionDate", case.decided - _days(60), case.decided)
    body: Data = {"commissioningOrgan": organ, "commissionDate": _iso_date(day),
                  "fastTrack": c.choice(f"{b}/fastTrack", ("true", "false"))}
    _set_optional(c, body, b, "requestedBy", short_texts)
    if c.opt(f"{b}/documents"):
        body["documents"] = _documents(c, f"{b}/documents", case)
    _set_optional(c, body, b, "note", free_texts)
    return b, body, organ, day


def _assessment_opinion(c: _Ctx, case: _Case) -> Body:
    b = "opinion"
    organ = c.choice(f"{b}/commissioningOrgan", _codes("COURT", "PROCURATORATE", "POLICE", "PRISON"))
    day = c.date(f"{b}/assessedOn", case.decided - _days(50), case.decided)
    body: Data = {"commissioningOrgan": organ, "conclusion": c.choice(f"{b}/conclusion", ("SUITABLE", "UNSUITABLE")),
                  "assessedOn": _iso_date(day), "summary": c.value(f"{b}/summary", free_texts)}
    if c.opt(f"{b}/documents"):
        body["documents"] = _documents(c, f"{b}/documents", case)
    _set_optional(c, body, b, "assessingOffice", short_texts)
    return b, body, _organ_of(case.division, "BUREAU"), day


_DECISION_KINDS = {"CONTROL": ("JUDGMENT", "RULING"), "PROBATION": ("JUDGMENT", "RULING"), "PAROLE": ("RULING",),
                   "TEMP_OUTSIDE": ("DECISION",)}


def _sentencing(c: _Ctx, case: _Case) -> Body:
    b = "decision"
    kind = c.choice(f"{b}/decisionKind", _DECISION_KINDS.get(case.correction, ("JUDGMENT", "RULING", "DECISION")))
    issued = c.date(f"{b}/executionNotice/issuedOn", case.effective, case.effective + _days(5))
    notice: Data = {"noticeNumber": c.value(f"{b}/executionNotice/noticeNumber", document_numbers(issued.year)),
                    "issuedOn": _iso_date(issued)}
    _set_date(c, notice, f"{b}/executionNotice", "reportBy", issued, issued + _days(10))
    body: Data = {
        "decisionKind": kind,
        "documentNumber": c.derive(f"{b}/documentNumber",
                                   lambda: case.number if c.flag() else c.draw(document_numbers(case.decided.year))),
        "decidedOn": _iso_date(c.date(f"{b}/decidedOn", case.decided, case.decided)),
        "effectiveOn": _iso_date(c.date(f"{b}/effectiveOn", case.effective, case.effective)),
        "executionNotice": notice,
        "documents": _documents(c, f"{b}/documents", case),
    }
    _set_optional(c, body, b, "originalCustody", _sampled(_codes("PRISON", "DETENTION")),
                  when=case.correction in ("PAROLE", "TEMP_OUTSIDE"))
    _set_optional(c, body, b, "sentence", sentences(case.correction))
    return b, body, case.deciding, issued


def _receipt(c: _Ctx, case: _Case) -> Body:
    b = "receipt"
    day = c.date(f"{b}/receivedOn", case.effective, case.effective + _days(15))
    forced = c.has(f"{b}/missing")
    completeness = "INCOMPLETE" if forced else c.choice(f"{b}/completeness", ("COMPLETE", "INCOMPLETE"))
    body: Data = {"receiptOf": c.value(f"{b}/receiptOf", uuids), "receivedOn": _iso_date(day),
                  "completeness": completeness}
    if completeness == "INCOMPLETE":
        missing = []
        for _ in range(c.count(f"{b}/missing", 1, 3)):
            p = f"{b}/missing"
            kind = c.choice(f"{p}/kind", DOCUMENT_KINDS)
            entry: Data = {"kind": kind,
                           "title": c.value(f"{p}/title", _sampled(_DOC_TITLES.get(kind, ("其他材料",)))),
                           "reason": c.value(f"{p}/reason", free_texts)}
            _set_optional(c, entry, p, "problem", _sampled(("MISSING", "DEFECTIVE")))
            missing.append(entry)
        body["missing"] = missing
    _set_optional(c, body, b, "note", free_texts)
    return b, body, _organ_of(case.division, "BUREAU"), day


def _reporting(c: _Ctx, case: _Case) -> Body:
    b = "outcome"
    result = c.choice(f"{b}/result", ("REPORTED", "REPORTED_LATE", "NOT_REPORTED"))
    due = c.date(f"{b}/dueDate", case.effective, case.effective + _days(10))
    body: Data = {"result": result, "dueDate": _iso_date(due)}
    day = due
    if result == "REPORTED":
        day = _set_date(c, body, b, "reportedOn", due - _days(10), due, always=True)
    elif result == "REPORTED_LATE":
        day = _set_date(c, body, b, "reportedOn", due + _days(1), due + _days(40), always=True)
    elif c.has(f"{b}/reportedOn"):
        day = _set_date(c, body, b, "reportedOn", due, due)
    _set_optional(c, body, b, "note", free_texts)
    return b, body, _organ_of(case.division, "BUREAU"), max(day, due)


def _transfer(c: _Ctx, case: _Case) -> Body:
    b = "transfer"
    # an escorted handover delivers a person serving outside prison (暂予监外执行)
    kinds = ("ESCORTED_HANDOVER", "COUNTY_TRANSFER") if case.correction == "TEMP_OUTSIDE" else ("COUNTY_TRANSFER",)
    kind = c.choice(f"{b}/kind", kinds)
    county = kind == "COUNTY_TRANSFER"
    body: Data = {"kind": kind}
    others = [d for d in EXEC_DIVISIONS if d != case.division] or list(EXEC_DIVISIONS)
    origin = c.choice(f"{b}/fromDivision", others if county else ("530502", *others))
    if c.opt(f"{b}/fromDivision", when=not county or c.draw(_integers(0, 5)) > 0):
        body["fromDivision"] = origin
    if c.opt(f"{b}/toDivision", when=not county or c.draw(_integers(0, 5)) > 0):
        body["toDivision"] = c.keep(f"{b}/toDivision", case.division)
    decided = c.date(f"{b}/changeDecidedOn", case.effective + _days(30), case.effective + _days(400))
    served = c.date(f"{b}/decisionServedOn", decided, decided + _days(5))
    handover = _set_date(c, body, b, "handoverDate", served, served + _days(7))
    _set_optional(c, body, b, "changeDecisionNumber", document_numbers(decided.year), when=county)
    escort = c.choice(f"{b}/escortingAgency", _codes("PRISON", "DETENTION", "POLICE"))
    if c.opt(f"{b}/escortingAgency", when=not county):
        body["escortingAgency"] = escort
    body["manifest"] = _documents(c, f"{b}/manifest", case)
    _set_date(c, body, b, "changeDecidedOn", decided, decided, when=county)
    _set_date(c, body, b, "decisionServedOn", served, served)
    _set_date(c, body, b, "reportBy", served + _days(7), served + _days(7), when=county)
    _set_optional(c, body, b, "note", free_texts)
    sender = _organ_of(origin, "BUREAU") if county else escort
    return b, body, sender, max(handover, served)


def _transfer_opinion(c: _Ctx, case: _Case) -> Body:
    b = "opinion"
    kind = c.choice(f"{b}/kind", ("REQUEST", "REPLY"))
    reply = kind == "REPLY"
    # bureau A of the place of execution asks bureau B of another county; B replies
    origin = c.keep(f"{b}/fromDivision", case.division)
    target = c.choice(f"{b}/toDivision", [d for d in EXEC_DIVISIONS if d != origin] or ["530502"])
    body: Data = {"kind": kind, "fromDivision": origin, "toDivision": target}
    asked = c.date(f"{b}/requestedOn", case.effective + _days(30), case.effective + _days(400))
    body["requestedOn"] = _iso_date(asked)
    _set_optional(c, body, b, "requestNumber", document_numbers(asked.year))
    if c.opt(f"{b}/plannedResidence", when=not reply):
        body["plannedResidence"] = {"divisionCode": c.keep(f"{b}/plannedResidence/divisionCode", target),
                                    "address": c.value(f"{b}/plannedResidence/address", addresses(target))}
    _set_optional(c, body, b, "reason", free_texts, when=not reply)
    if c.opt(f"{b}/conclusion", when=reply, always=reply):
        body["conclusion"] = c.choice(f"{b}/conclusion", ("AGREE", "DISAGREE"))
    answered = _set_date(c, body, b, "repliedOn", asked, asked + _days(10), when=reply, always=reply)
    _set_optional(c, body, b, "note", free_texts)
    sender = _organ_of(target if reply else origin, "BUREAU")
    return b, body, sender, answered if reply else asked


def _custody(c: _Ctx, case: _Case) -> Body:
    b = "custody"
    body: Data = {"measure": c.choice(f"{b}/measure", ("CRIMINAL_DETENTION", "ARREST", "ADMINISTRATIVE_DETENTION",
                                                       "COMPULSORY_ISOLATION", "OTHER"))}
    holder = c.choice(f"{b}/custodyAgency", _codes("DETENTION", "POLICE", "PRISON"))
    if c.opt(f"{b}/custodyAgency"):
        body["custodyAgency"] = holder
    started, ended = c.pair(f"{b}/startedOn", f"{b}/endedOn", case.effective, case.end, 60)
    body["startedOn"] = _iso_date(started)
    day = started
    if c.opt(f"{b}/endedOn"):
        body["endedOn"] = _iso_date(ended)
        day = ended
    places = (_agency_name(holder),) if holder in _codes("DETENTION", "PRISON") else _CUSTODY_PLACES
    _set_optional(c, body, b, "place", _sampled(places))
    body["reason"] = c.value(f"{b}/reason", free_texts)
    _set_optional(c, body, b, "documentNumber", document_numbers(started.year))
    sender = c.draw(_sampled((_organ_of(case.division, "POLICE"), _organ_of(case.division, "PROCURATORATE"),
                                     _organ_of(case.division, "COURT"), holder)))
    return b, body, sender, day


_CUSTODY_PLACES = ("保山市拘留所", "保山市强制隔离戒毒所", "昆明市第一看守所", "保山市隆阳区看守所")
_EVENT_KINDS = ("ADMONITION", "WARNING", "LEAVE_APPROVED", "RESIDENCE_CHANGE", "LOST_CONTACT", "CONTACT_RESTORED")


def _event(c: _Ctx, case: _Case) -> Body:
    b = "event"
    kind = c.choice(f"{b}/kind", _EVENT_KINDS)
    day = c.date(f"{b}/occurredOn", case.effective, case.end)
    body: Data = {"kind": kind, "occurredOn": _iso_date(day)}
    _set_optional(c, body, b, "decisionNumber", document_numbers(day.year))
    body["details"] = c.value(f"{b}/details", free_texts)
    if c.opt(f"{b}/leave", when=kind == "LEAVE_APPROVED", always=True):
        p = f"{b}/leave"
        start, end = c.pair(f"{p}/from", f"{p}/to", day, day + _days(5), 30)
        place, division = c.draw(_sampled(_DESTINATIONS))
        leave: Data = {"from": _iso_date(start), "to": _iso_date(end),
                       "destination": c.keep(f"{p}/destination", place)}
        _set_optional(c, leave, p, "destinationDivision", division)
        body["leave"] = leave
    if c.opt(f"{b}/newResidence", when=kind == "RESIDENCE_CHANGE", always=True):
        p = f"{b}/newResidence"
        div = c.keep(f"{p}/divisionCode", case.division)
        body["newResidence"] = {"divisionCode": div, "address": c.value(f"{p}/address", addresses(div))}
    return b, body, _organ_of(case.division, "BUREAU"), day


_REVOCATION_KINDS = {"PROBATION": "REVOKE_PROBATION", "PAROLE": "REVOKE_PAROLE",
                     "TEMP_OUTSIDE": "RECOMMIT_TEMP_OUTSIDE"}


def _proposal(c: _Ctx, case: _Case) -> Body:
    b = "proposal"
    kind = c.choice(f"{b}/kind", (_REVOCATION_KINDS.get(case.correction, "REVOKE_PROBATION"),))
    day = c.date(f"{b}/proposedOn", case.effective + _days(30), case.end)
    body: Data = {"kind": kind, "proposedOn": _iso_date(day), "grounds": c.value(f"{b}/grounds", free_texts),
                  "requestArrest": c.choice(f"{b}/requestArrest", ("true", "false"))}
    if c.opt(f"{b}/evidence"):
        body["evidence"] = _documents(c, f"{b}/evidence", case)
    _set_optional(c, body, b, "documentNumber", document_numbers(day.year))
    return b, body, _organ_of(case.division, "BUREAU"), day


def _revocation(c: _Ctx, case: _Case) -> Body:
    b = "decision"
    kind = c.choice(f"{b}/kind", (_REVOCATION_KINDS.get(case.correction, "REVOKE_PROBATION"),))
    outcome = c.choice(f"{b}/outcome", ("GRANTED", "REFUSED"))
    day = c.date(f"{b}/decidedOn", case.effective + _days(30), case.end + _days(30))
    body: Data = {"kind": kind, "outcome": outcome, "decidedOn": _iso_date(day),
                  "documentNumber": c.value(f"{b}/documentNumber", _one_of(case_numbers(day.year),
                                                                              document_numbers(day.year))),
                  "personInCustody": c.choice(f"{b}/personInCustody", ("true", "false"))}
    _set_optional(c, body, b, "returnCustody", _sampled(_codes("PRISON", "DETENTION")),
                  when=outcome == "GRANTED")
    _set_optional(c, body, b, "arrestOrdered", _sampled(("true", "false")))
    _set_optional(c, body, b, "reason", free_texts)
    return b, body, case.deciding, day


def _pursuit_request(c: _Ctx, case: _Case) -> Body:
    b = "pursuit"
    kind = c.choice(f"{b}/kind", ("ASSIST_SEARCH", "PURSUE_ABSCONDER"))
    day = c.date(f"{b}/requestedOn", case.effective + _days(10), case.end + _days(60))
    body: Data = {"kind": kind, "requestedOn": _iso_date(day)}
    _set_optional(c, body, b, "basisDocumentNumber", _one_of(case_numbers(day.year), document_numbers(day.year)),
                  when=kind == "PURSUE_ABSCONDER", always=True)
    _set_date(c, body, b, "lastContactOn", day - _days(60), day)
    _set_optional(c, body, b, "lastKnownWhereabouts", free_texts)
    body["details"] = c.value(f"{b}/details", free_texts)
    if c.opt(f"{b}/documents"):
        body["documents"] = _documents(c, f"{b}/documents", case)
    return b, body, _organ_of(case.division, "BUREAU"), day


def _pursuit_result(c: _Ctx, case: _Case) -> Body:
    b = "result"
    status = c.choice(f"{b}/status", ("LOCATED", "IN_CUSTODY", "ONGOING", "CLOSED"))
    day = c.date(f"{b}/reportedOn", case.effective + _days(10), case.end + _days(90))
    body: Data = {"status": status, "reportedOn": _iso_date(day)}
    _set_optional(c, body, b, "custodyAgency", _sampled(_codes("DETENTION", "PRISON", "POLICE")),
                  when=status == "IN_CUSTODY")
    body["details"] = c.value(f"{b}/details", free_texts)
    _set_date(c, body, b, "locatedOn", day - _days(20), day, when=status in ("LOCATED", "IN_CUSTODY"))
    return b, body, _organ_of(case.division, "POLICE"), day


_RELEASE_KINDS = {"CONTROL": ("RELEASED", "TERMINATED_DEATH"),
                  "PROBATION": ("RELEASED", "TERMINATED_REVOKED", "TERMINATED_DEATH"),
                  "PAROLE": ("RELEASED", "TERMINATED_REVOKED", "TERMINATED_DEATH"),
                  "TEMP_OUTSIDE": ("RELEASED", "TERMINATED_RECOMMITTED", "TERMINATED_DEATH")}


def _release(c: _Ctx, case: _Case) -> Body:
    b = "release"
    kind = c.choice(f"{b}/kind", _RELEASE_KINDS.get(case.correction, ("RELEASED",)))
    day = c.date(f"{b}/effectiveOn", case.end if kind == "RELEASED" else case.effective, case.end)
    body: Data = {"kind": kind, "effectiveOn": _iso_date(day)}
    _set_optional(c, body, b, "certificateNumber", document_numbers(day.year), when=kind == "RELEASED")
    _set_optional(c, body, b, "originalCustody", _sampled(_codes("PRISON", "DETENTION")),
                  when=case.correction == "TEMP_OUTSIDE")
    _set_optional(c, body, b, "note", free_texts)
    return b, body, _organ_of(case.division, "BUREAU"), day


_BodyFn = Callable[[_Ctx, _Case], Body]
# body builder and the correction types its message may concern
_BODIES: dict[str, tuple[_BodyFn, tuple[str, ...]]] = {
    "AssessmentCommission": (_assessment_commission, ("CONTROL", "PROBATION", "PAROLE", "TEMP_OUTSIDE")),
    "AssessmentOpinion": (_assessment_opinion, ("CONTROL", "PROBATION", "PAROLE", "TEMP_OUTSIDE")),
    "SentencingDecision": (_sentencing, ("CONTROL", "PROBATION", "PAROLE", "TEMP_OUTSIDE")),
    "DocumentReceipt": (_receipt, ("CONTROL", "PROBATION", "PAROLE", "TEMP_OUTSIDE")),
    "ReportingOutcome": (_reporting, ("CONTROL", "PROBATION", "PAROLE", "TEMP_OUTSIDE")),
    "TransferPapers": (_transfer, ("CONTROL", "PROBATION", "PAROLE", "TEMP_OUTSIDE")),
    "TransferOpinion": (_transfer_opinion, ("CONTROL", "PROBATION", "PAROLE", "TEMP_OUTSIDE")),
    "CustodyNotice": (_custody, ("CONTROL", "PROBATION", "PAROLE", "TEMP_OUTSIDE")),
    "SupervisionEvent": (_event, ("CONTROL", "PROBATION", "PAROLE", "TEMP_OUTSIDE")),
    "RevocationProposal": (_proposal, ("PROBATION", "PAROLE", "TEMP_OUTSIDE")),
    "RevocationDecision": (_revocation, ("PROBATION", "PAROLE", "TEMP_OUTSIDE")),
    "PursuitRequest": (_pursuit_request, ("CONTROL", "PROBATION", "PAROLE", "TEMP_OUTSIDE")),
    "PursuitResult": (_pursuit_result, ("CONTROL", "PROBATION", "PAROLE", "TEMP_OUTSIDE")),
    "ReleaseNotice": (_release, ("CONTROL", "PROBATION", "PAROLE", "TEMP_OUTSIDE")),
}


def _corrections_for(message_type: str, fixed: dict[str, str]) -> tuple[str, ...]:
    """The correction types that agree with a fixed body kind (decision, transfer, revocation or release kind)."""
    allowed = _BODIES[message_type][1]
    revocation: dict[str, tuple[str, ...]] = {k: (v,) for k, v in _REVOCATION_KINDS.items()}
    kinds: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {
        "SentencingDecision": ("decision/decisionKind", _DECISION_KINDS),
        "RevocationProposal": ("proposal/kind", revocation),
        "RevocationDecision": ("decision/kind", revocation),
        "ReleaseNotice": ("release/kind", _RELEASE_KINDS),
        "TransferPapers": ("transfer/kind", {"TEMP_OUTSIDE": ("ESCORTED_HANDOVER",)}),
    }
    pinned = kinds.get(message_type)
    if pinned is not None and pinned[0] in fixed:
        path, table = pinned
        agree = tuple(t for t in allowed if fixed[path] in table.get(t, ()))
        return agree or allowed
    return allowed


# ---- the envelope ----------------------------------------------------------------------------------------


def _envelope(c: _Ctx, sender: str, day: dt.date, case: _Case | None, causation: str | None) -> Data:
    e = "envelope"
    last = max(day, min(day + _days(3), LAST_DAY))
    start = dt.datetime.combine(day, dt.time(7))
    span = int((dt.datetime.combine(last, dt.time(22, 59, 59)) - start).total_seconds())
    when = start + dt.timedelta(seconds=c.draw(_integers(0, span)))
    sent = c.derive(f"{e}/sentAt", lambda: _zoned(when, c.flag()))
    recipients = _sampled(_codes("COURT", "PROCURATORATE", "POLICE", "BUREAU", "PRISON", "DETENTION"))
    year = day.year
    number = case.number if case else None
    doc_ids: list[Callable[[], str]] = [lambda: c.draw(document_numbers(year)),
                                        lambda: f"RY{year}-{c.draw(_integers(1, 9999)):04d}"]
    if number:
        doc_ids.append(lambda: f"{number}-送达-{c.draw(_integers(1, 9))}")
    if causation:
        doc_ids.append(lambda: f"ACK-{causation}")
    env: Data = {
        "messageId": c.value(f"{e}/messageId", uuids),
        "messageType": c.message_type,
        "schemaVersion": "1.0",
        "sender": c.keep(f"{e}/sender", sender),
        "to": c.many(f"{e}/to", recipients, 2),
        "cc": c.many(f"{e}/cc", recipients, 2),
        "sentAt": sent,
        "senderDocumentId": c.derive(f"{e}/senderDocumentId",
                                     lambda: doc_ids[c.draw(_integers(0, len(doc_ids) - 1))]()),
    }
    if c.opt(f"{e}/correlationId"):
        env["correlationId"] = c.derive(f"{e}/correlationId", lambda: number or c.draw(case_numbers()))
    if c.opt(f"{e}/causationId"):
        env["causationId"] = c.derive(f"{e}/causationId", lambda: causation or c.draw(uuids))
    if c.opt(f"{e}/personRef"):
        env["personRef"] = c.derive(f"{e}/personRef",
                                    lambda: f"{env['sender']}:JZ{year}-{c.draw(_integers(1, 9999)):04d}")
    return env


def _ack(c: _Ctx) -> Data:
    b = "ack"
    status = c.choice(f"{b}/status", ("ACCEPTED", "REJECTED"))
    ack_of = c.value(f"{b}/ackOf", uuids)
    day = FIRST_DAY + _days(c.draw(_integers(0, (LAST_DAY - FIRST_DAY).days)))
    body: Data = {"ackOf": ack_of, "status": status}
    _set_optional(c, body, b, "reason", free_texts, when=status == "REJECTED")
    sender = c.draw(_sampled(_codes("COURT", "PROCURATORATE", "POLICE", "BUREAU", "PRISON", "DETENTION", "HUB")))
    env = _envelope(c, sender, day, None, ack_of)
    if c.opt(f"{b}/receivedAt"):
        sent = dt.datetime.fromisoformat(str(env["sentAt"]).replace("Z", "+00:00"))
        seconds = c.draw(_integers(0, 3600))
        received = (sent - dt.timedelta(seconds=seconds)).astimezone(dt.timezone(dt.timedelta(hours=8)))
        utc = c.draw(_BOOL)
        body["receivedAt"] = c.keep(f"{b}/receivedAt", _zoned(received.replace(tzinfo=None), utc))
    return {"envelope": env, "ack": body}


def _business(c: _Ctx) -> Data:
    build, _ = _BODIES[c.message_type]
    person = _person(c)
    # the receiving county of a transfer is the place of execution
    receiving = c.fixed.get("transfer/toDivision") if c.message_type == "TransferPapers" else None
    case = _case(c, _corrections_for(c.message_type, c.fixed), receiving)
    block, body, sender, day = build(c, case)
    causation = body.get("receiptOf") if c.message_type == "DocumentReceipt" else None
    env = _envelope(c, sender, day, case, causation)
    return {"envelope": env, "person": person, "case": case.data, block: body}


# ---- the public strategy ---------------------------------------------------------------------------------


def _leaves(data: Data, prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in data.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict):
                for k, v in _leaves(item, f"{prefix}{name}/").items():
                    out.setdefault(k, []).extend(v)
            elif item is not None:
                out.setdefault(f"{prefix}{name}", []).append(item)
    return out


@st.composite
def _messages(draw: DrawFn, message_type: str, fixed: dict[str, str]) -> bytes:
    c = _Ctx(draw, message_type, fixed)
    data = _ack(c) if message_type == "TechnicalAck" else _business(c)
    leaves = _leaves(data)
    for path, value in fixed.items():
        got = leaves.get(path)
        assert got and all(v == value for v in got), f"fixed {path}={value!r} not honoured: {got}"
    return _to_xml(message_type, data, pretty=draw(_BOOL))


def _check_fixed(message_type: str, fixed: dict[str, str]) -> None:
    paths = _schema_paths(message_type)
    for path, value in fixed.items():
        node = paths.get(path)
        if node is None or node.children is not None:
            raise ValueError(f"{path} is no leaf element of {message_type}")
        if node.type_name == "xs:date":
            dt.date.fromisoformat(value)
    if fixed.get("envelope/messageType", message_type) != message_type:
        raise ValueError(f"envelope/messageType of a {message_type} is {message_type}")
    if fixed.get("envelope/schemaVersion", "1.0") != "1.0":
        raise ValueError("envelope/schemaVersion is fixed to 1.0 by the schema")


def canonical_messages(message_type: str, *, fixed: dict[str, str] | None = None) -> SearchStrategy[bytes]:
    """Valid canonical XML (UTF-8, declared) of ``message_type``; ``fixed`` pins leaf values by path."""
    if message_type not in MESSAGE_TYPES:
        raise ValueError(f"{message_type} is not a canonical message type")
    pins = dict(fixed or {})
    _check_fixed(message_type, pins)
    return _messages(message_type, pins)
