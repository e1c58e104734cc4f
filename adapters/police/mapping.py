"""The police exchange's document types (文书类型) and how each maps to a canonical message.

Every record carries the same envelope fields, the person block ``ryxx`` (人员信息) and the case block
``ajxx`` (案件信息); only the body ``wsxx`` (文书信息) differs by type. Codes beginning ``GA`` are documents
the police issue; codes beginning ``JS`` (接收) are documents the police receive from the other organs. The
decoder reads both, so whatever the encoder writes can be read back.
"""

from __future__ import annotations

import re

from adapters.kit import text
from adapters.kit.mapping import (
    CASE_NUMBER,
    CODE,
    DOCUMENT_NUMBER,
    ID_NUMBER,
    NAME,
    TEXT,
    Bool,
    Codec,
    Date,
    DateTime,
    Enum,
    F,
    Func,
    Group,
    Spec,
    Specs,
)

# ---- codecs ---------------------------------------------------------------------------------------------

DATE = Date("%Y%m%d")
TIME = DateTime(None)
YES_NO = Bool("1", "0", aliases={})
UUID = Func("UUID, written in lower case", lambda v: text.halfwidth(v).strip().lower())
SHA256 = Func("SHA-256 hex digest, written in lower case", lambda v: v.strip().lower())

_POLICE_ORGAN = re.compile(r"[0-9]{6}GA([0-9]{2})?")


def _police_organ(value: str) -> str:
    code = text.halfwidth(value).strip()
    if not _POLICE_ORGAN.fullmatch(code):
        raise ValueError(f"{value!r} is not a police organ code (six-digit division + GA, e.g. 530581GA): "
                         "this document type is a decision approved by the police")
    return code


POLICE_ORGAN = Func("police organ code (……GA)", _police_organ)

# GB/T 2261.1-2003 个人基本信息分类与代码 第1部分：人的性别代码
SEX = Enum({"1": "MALE", "2": "FEMALE", "0": "UNKNOWN"}, "性别 (GB/T 2261.1)", aliases={"9": "UNKNOWN"})
CORRECTION_TYPE = Enum({"01": "CONTROL", "02": "PROBATION", "03": "PAROLE", "04": "TEMP_OUTSIDE"}, "矫正类别")
DOCUMENT_KIND = Enum({
    "01": "JUDGMENT", "02": "RULING", "03": "DECISION", "04": "EXECUTION_NOTICE", "05": "PAROLE_CERTIFICATE",
    "06": "TEMP_OUTSIDE_DECISION", "07": "CASE_CLOSING_FORM", "08": "INDICTMENT", "09": "COMMISSION_LETTER",
    "10": "ASSESSMENT_REPORT", "11": "PERSON_FILE", "12": "MEDICAL_REPORT", "13": "EVIDENCE", "14": "CERTIFICATE",
    "99": "OTHER",
}, "文书种类")
DECISION_KIND = Enum({"1": "JUDGMENT", "2": "RULING", "3": "DECISION"}, "裁判文书类型")
CONCLUSION = Enum({"1": "SUITABLE", "2": "UNSUITABLE"}, "评估意见")
COMPLETENESS = Enum({"1": "COMPLETE", "2": "INCOMPLETE"}, "材料是否齐全")
DOCUMENT_PROBLEM = Enum({"1": "MISSING", "2": "DEFECTIVE"}, "问题类型")
REPORTING_RESULT = Enum({"1": "REPORTED", "2": "REPORTED_LATE", "3": "NOT_REPORTED"}, "报到情况")
TRANSFER_KIND = Enum({"1": "ESCORTED_HANDOVER", "2": "COUNTY_TRANSFER"}, "移交类型")
CUSTODY_MEASURE = Enum({"01": "CRIMINAL_DETENTION", "02": "ARREST", "03": "ADMINISTRATIVE_DETENTION",
                        "04": "COMPULSORY_ISOLATION", "99": "OTHER"}, "强制措施类型")
EVENT_KIND = Enum({"1": "ADMONITION", "2": "WARNING", "3": "LEAVE_APPROVED", "4": "RESIDENCE_CHANGE",
                   "5": "LOST_CONTACT", "6": "CONTACT_RESTORED"}, "监管事件类型")
REVOCATION_KIND = Enum({"1": "REVOKE_PROBATION", "2": "REVOKE_PAROLE", "3": "RECOMMIT_TEMP_OUTSIDE"}, "撤销类型")
REVOCATION_OUTCOME = Enum({"1": "GRANTED", "2": "REFUSED"}, "处理结果")
PURSUIT_KIND = Enum({"1": "ASSIST_SEARCH", "2": "PURSUE_ABSCONDER"}, "请求类型")
PURSUIT_STATUS = Enum({"1": "LOCATED", "2": "IN_CUSTODY", "3": "ONGOING", "4": "CLOSED"}, "协查追逃状态")
RELEASE_KIND = Enum({"1": "RELEASED", "2": "TERMINATED_REVOKED", "3": "TERMINATED_RECOMMITTED",
                     "4": "TERMINATED_DEATH"}, "解除终止类型")

# code list name (as in the JSON Schema's $defs) → codec; the schema's enums must equal these codes
CODE_LISTS: dict[str, Enum] = {
    "XB": SEX, "JZLB": CORRECTION_TYPE, "WSZL": DOCUMENT_KIND, "CPLX": DECISION_KIND, "PGYJ": CONCLUSION,
    "CLQQ": COMPLETENESS, "WTLX": DOCUMENT_PROBLEM, "BDQK": REPORTING_RESULT, "YJLX": TRANSFER_KIND,
    "QZCS": CUSTODY_MEASURE, "SJLX": EVENT_KIND, "CXLX": REVOCATION_KIND, "CLJG": REVOCATION_OUTCOME,
    "QQLX": PURSUIT_KIND, "CCZT": PURSUIT_STATUS, "JCLX": RELEASE_KIND,
}

# ---- shared blocks --------------------------------------------------------------------------------------

ENVELOPE: tuple[F, ...] = (
    F("xxbh", "envelope/messageId", UUID, "信息编号"),
    F("wsbh", "envelope/senderDocumentId", TEXT, "文书编号", required=True),
    F("fssj", "envelope/sentAt", TIME, "发送时间"),
    F("ajglbh", "envelope/correlationId", TEXT, "案件关联编号"),
    F("yxxbh", "envelope/causationId", UUID, "原信息编号"),
    F("rybh", "envelope/personRef", TEXT, "人员编号"),
)

PERSON: tuple[F, ...] = (
    F("ryxx/xm", "person/name", NAME, "姓名", required=True),
    F("ryxx/sfzhm", "person/idNumber", ID_NUMBER, "公民身份号码"),
    F("ryxx/xb", "person/sex", SEX, "性别", required=True),
    F("ryxx/csrq", "person/birthDate", DATE, "出生日期"),
    F("ryxx/jzdqh", "person/residence/divisionCode", CODE, "居住地区划"),
    F("ryxx/jzdxz", "person/residence/address", TEXT, "居住地详址"),
)


def case_fields(*, police_decision: bool = False) -> tuple[F, ...]:
    """The case block; for a police-approved 暂外 decision the deciding organ must be a police organ and the
    correction type is implied by the document type (so ``jzlb`` is not read)."""
    head = (
        F("ajxx/ah", "case/caseNumber", CASE_NUMBER, "案号", required=True),
        F("ajxx/jdjg", "case/decidingOrgan", POLICE_ORGAN if police_decision else CODE, "决定机关", required=True),
        F("ajxx/jdrq", "case/decisionDate", DATE, "决定日期"),
        F("ajxx/sxrq", "case/effectiveDate", DATE, "生效日期"),
        F("ajxx/zm", "case/offence", TEXT, "罪名"),
    )
    kind = () if police_decision else (F("ajxx/jzlb", "case/correctionType", CORRECTION_TYPE, "矫正类别",
                                         required=True),)
    tail = (
        F("ajxx/jzqxqr", "case/supervisionPeriod/start", DATE, "矫正期限起日"),
        F("ajxx/jzqxzr", "case/supervisionPeriod/end", DATE, "矫正期限止日"),
        F("ajxx/zxdqh", "case/executionDivision", CODE, "执行地区划", required=True),
    )
    return head + kind + tail


CASE = case_fields()
POLICE_DECISION_CASE = case_fields(police_decision=True)


def documents(native: str, canonical: str, label: str, *, required: bool = False) -> Group:
    """A document list (文书列表): each item kind, title, 文号, SHA-256 digest and file address."""
    return Group(f"wsxx/{native}", canonical, (
        F("wszl", "kind", DOCUMENT_KIND, "文书种类", required=True),
        F("wsmc", "title", TEXT, "文书名称", required=True),
        F("wh", "documentNumber", DOCUMENT_NUMBER, "文号"),
        F("sha256", "sha256", SHA256, "文件摘要"),
        F("wjdz", "uri", TEXT, "文件地址"),
    ), label, required)


def _w(native: str, canonical: str, codec: Codec = TEXT, label: str = "", required: bool = False) -> F:
    """A body field: native under ``wsxx``."""
    return F(f"wsxx/{native}", canonical, codec, label, required)


# ---- bodies ---------------------------------------------------------------------------------------------

COMMISSION = (
    _w("wtjg", "commission/commissioningOrgan", CODE, "委托机关", True),
    _w("wtrq", "commission/commissionDate", DATE, "委托日期", True),
    _w("sfsc", "commission/fastTrack", YES_NO, "是否速裁", True),
    _w("cbr", "commission/requestedBy", TEXT, "承办人"),
    documents("wslb", "commission/documents/document", "随附文书"),
    _w("bz", "commission/note", TEXT, "备注"),
)

OPINION = (
    _w("wtjg", "opinion/commissioningOrgan", CODE, "委托机关", True),
    _w("pgyj", "opinion/conclusion", CONCLUSION, "评估意见", True),
    _w("pgrq", "opinion/assessedOn", DATE, "评估日期", True),
    _w("yjzy", "opinion/summary", TEXT, "意见摘要", True),
    documents("wslb", "opinion/documents/document", "随附文书"),
    _w("pgdw", "opinion/assessingOffice", TEXT, "评估单位"),
)


def sentencing_body(*, with_kind: bool) -> tuple[F | Group, ...]:
    kind: tuple[F, ...] = (_w("cplx", "decision/decisionKind", DECISION_KIND, "裁判文书类型", True),) if with_kind \
        else ()
    return (*kind,
            _w("wh", "decision/documentNumber", DOCUMENT_NUMBER, "判决、裁定、决定文号", True),
            _w("zcrq", "decision/decidedOn", DATE, "作出日期", True),
            _w("sxrq", "decision/effectiveOn", DATE, "生效日期", True),
            _w("zxtzsh", "decision/executionNotice/noticeNumber", DOCUMENT_NUMBER, "执行通知书文号", True),
            _w("zxtzrq", "decision/executionNotice/issuedOn", DATE, "执行通知书签发日期", True),
            _w("bdqx", "decision/executionNotice/reportBy", DATE, "报到期限"),
            documents("wslb", "decision/documents/document", "送达文书", required=True),
            _w("yjycs", "decision/originalCustody", CODE, "原羁押场所"),
            _w("xf", "decision/sentence", TEXT, "刑罚"))


RECEIPT = (
    _w("hzdx", "receipt/receiptOf", UUID, "回执对象信息编号", True),
    _w("sdrq", "receipt/receivedOn", DATE, "收到日期", True),
    _w("clqq", "receipt/completeness", COMPLETENESS, "材料是否齐全", True),
    Group("wsxx/qswslb", "receipt/missing", (
        F("wszl", "kind", DOCUMENT_KIND, "文书种类", required=True),
        F("wsmc", "title", TEXT, "文书名称", required=True),
        F("yy", "reason", TEXT, "原因", required=True),
        F("wtlx", "problem", DOCUMENT_PROBLEM, "问题类型"),
    ), "缺失或有误文书"),
    _w("bz", "receipt/note", TEXT, "备注"),
)

OUTCOME = (
    _w("bdqk", "outcome/result", REPORTING_RESULT, "报到情况", True),
    _w("bdqx", "outcome/dueDate", DATE, "报到期限", True),
    _w("bdrq", "outcome/reportedOn", DATE, "报到日期"),
    _w("bz", "outcome/note", TEXT, "备注"),
)

TRANSFER = (
    _w("yjlx", "transfer/kind", TRANSFER_KIND, "移交类型", True),
    _w("yzxdqh", "transfer/fromDivision", CODE, "原执行地区划"),
    _w("xzxdqh", "transfer/toDivision", CODE, "新执行地区划"),
    _w("jfrq", "transfer/handoverDate", DATE, "交付日期"),
    _w("bgjdsh", "transfer/changeDecisionNumber", DOCUMENT_NUMBER, "变更执行地决定书文号"),
    _w("ysjg", "transfer/escortingAgency", CODE, "押送机关"),
    documents("yjqd", "transfer/manifest/document", "移交材料清单", required=True),
    _w("bgjdrq", "transfer/changeDecidedOn", DATE, "变更决定日期"),
    _w("jdsdrq", "transfer/decisionServedOn", DATE, "决定送达日期"),
    _w("bdqx", "transfer/reportBy", DATE, "报到期限"),
    _w("bz", "transfer/note", TEXT, "备注"),
)

CUSTODY = (
    _w("qzcs", "custody/measure", CUSTODY_MEASURE, "强制措施类型", True),
    _w("jycs", "custody/custodyAgency", CODE, "羁押场所代码"),
    _w("ksrq", "custody/startedOn", DATE, "羁押开始日期", True),
    _w("jsrq", "custody/endedOn", DATE, "羁押结束日期"),
    _w("jydd", "custody/place", TEXT, "羁押地点"),
    _w("yy", "custody/reason", TEXT, "羁押原因", True),
    _w("wh", "custody/documentNumber", DOCUMENT_NUMBER, "法律文书文号"),
)

EVENT = (
    _w("sjlx", "event/kind", EVENT_KIND, "监管事件类型", True),
    _w("fsrq", "event/occurredOn", DATE, "发生日期", True),
    _w("jdsh", "event/decisionNumber", DOCUMENT_NUMBER, "决定书文号"),
    _w("qkms", "event/details", TEXT, "情况描述", True),
    _w("wcqr", "event/leave/from", DATE, "外出起日"),
    _w("wczr", "event/leave/to", DATE, "外出止日"),
    _w("wcmdd", "event/leave/destination", TEXT, "外出目的地"),
    _w("wcmddqh", "event/leave/destinationDivision", CODE, "外出目的地区划"),
    _w("xjzdqh", "event/newResidence/divisionCode", CODE, "新居住地区划"),
    _w("xjzdxz", "event/newResidence/address", TEXT, "新居住地详址"),
)

PROPOSAL = (
    _w("cxlx", "proposal/kind", REVOCATION_KIND, "撤销类型", True),
    _w("jyrq", "proposal/proposedOn", DATE, "建议日期", True),
    _w("sshly", "proposal/grounds", TEXT, "事实和理由", True),
    _w("tqdb", "proposal/requestArrest", YES_NO, "是否提请逮捕", True),
    documents("zjcl", "proposal/evidence/document", "证据材料"),
    _w("wh", "proposal/documentNumber", DOCUMENT_NUMBER, "建议书文号"),
)

REVOCATION = (
    _w("cxlx", "decision/kind", REVOCATION_KIND, "撤销类型", True),
    _w("cljg", "decision/outcome", REVOCATION_OUTCOME, "处理结果", True),
    _w("zcrq", "decision/decidedOn", DATE, "作出日期", True),
    _w("wh", "decision/documentNumber", DOCUMENT_NUMBER, "裁定、决定文号", True),
    _w("sfzy", "decision/personInCustody", YES_NO, "是否在押", True),
    _w("sjcs", "decision/returnCustody", CODE, "收监场所"),
    _w("jddb", "decision/arrestOrdered", YES_NO, "是否决定逮捕"),
    _w("ly", "decision/reason", TEXT, "理由"),
)

PURSUIT = (
    _w("qqlx", "pursuit/kind", PURSUIT_KIND, "请求类型", True),
    _w("tqrq", "pursuit/requestedOn", DATE, "提请日期", True),
    _w("yjwh", "pursuit/basisDocumentNumber", DOCUMENT_NUMBER, "依据文书文号"),
    _w("zhlxrq", "pursuit/lastContactOn", DATE, "最后联系日期"),
    _w("zhqx", "pursuit/lastKnownWhereabouts", TEXT, "最后已知去向"),
    _w("qkms", "pursuit/details", TEXT, "情况描述", True),
    documents("wslb", "pursuit/documents/document", "随附文书"),
)

RESULT = (
    _w("cczt", "result/status", PURSUIT_STATUS, "协查追逃状态", True),
    _w("bgrq", "result/reportedOn", DATE, "报告日期", True),
    _w("jycs", "result/custodyAgency", CODE, "羁押场所代码"),
    _w("qkms", "result/details", TEXT, "情况描述", True),
    _w("chrq", "result/locatedOn", DATE, "查获日期"),
)

RELEASE = (
    _w("jclx", "release/kind", RELEASE_KIND, "解除终止类型", True),
    _w("jcrq", "release/effectiveOn", DATE, "解除终止日期", True),
    _w("zmsbh", "release/certificateNumber", DOCUMENT_NUMBER, "解除矫正证明书编号"),
    _w("yjycs", "release/originalCustody", CODE, "原羁押场所"),
    _w("bz", "release/note", TEXT, "备注"),
)


def _spec(code: str, message_type: str, label: str, body: tuple[F | Group, ...], *,
          case: tuple[F, ...] = CASE, fixed: dict[str, str] | None = None) -> Spec:
    return Spec(code, message_type, (*ENVELOPE, *PERSON, *case, *body), fixed or {}, label)


# Order matters outbound: the first spec matching a canonical message is written, so the general JS01 comes
# before the police's own GA21 (which is read inbound by its code).
SPECS = Specs((
    _spec("JS01", "SentencingDecision", "判决、裁定、决定送达", sentencing_body(with_kind=True)),
    _spec("JS02", "AssessmentOpinion", "调查评估意见", OPINION),
    _spec("JS03", "DocumentReceipt", "文书回执", RECEIPT),
    _spec("JS04", "ReportingOutcome", "报到情况通报", OUTCOME),
    _spec("JS05", "TransferPapers", "移交材料", TRANSFER),
    _spec("JS06", "SupervisionEvent", "监管事件通报", EVENT),
    _spec("JS07", "RevocationProposal", "撤销缓刑/假释、收监执行建议", PROPOSAL),
    _spec("JS08", "RevocationDecision", "撤销缓刑/假释裁定、收监执行决定", REVOCATION),
    _spec("JS09", "PursuitRequest", "提请协助查找、追逃", PURSUIT),
    _spec("JS10", "ReleaseNotice", "解除、终止社区矫正通知", RELEASE),
    _spec("GA11", "AssessmentCommission", "调查评估委托", COMMISSION),
    _spec("GA21", "SentencingDecision", "暂予监外执行决定（公安机关批准）", sentencing_body(with_kind=False),
          case=POLICE_DECISION_CASE,
          fixed={"decision/decisionKind": "DECISION", "case/correctionType": "TEMP_OUTSIDE"}),
    _spec("GA31", "CustodyNotice", "羁押通知（刑事拘留、逮捕、行政拘留、强制隔离戒毒）", CUSTODY),
    _spec("GA41", "PursuitResult", "协查、追逃结果反馈", RESULT),
), name="document type (wslx)")

SENDS = frozenset({"SentencingDecision", "CustodyNotice", "PursuitResult", "AssessmentCommission"})
RECEIVES = frozenset({"PursuitRequest", "SentencingDecision", "ReportingOutcome", "TransferPapers",
                      "SupervisionEvent", "RevocationDecision", "ReleaseNotice", "DocumentReceipt",
                      "RevocationProposal", "AssessmentOpinion"})
