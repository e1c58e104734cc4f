"""The court case-management system's document types (文书类型) and their field mapping.

Every record (``<JL>``) carries the same envelope fields, case block (``<AJXX>``) and person block
(``<RYXX>``), then one body element named after its document type (``<SDXX>`` for a served judgment,
``<WTXX>`` for an assessment commission, …). Body field paths below are written relative to that body
element; ``spec`` prefixes them. The same tables drive inbound, outbound and the spec page
(docs/agencies/court.md).
"""

from __future__ import annotations

from collections.abc import Mapping

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

# ---- formats ---------------------------------------------------------------------------------------------

DATE = Date("%Y-%m-%d")
# 发送时间 in the batch header: Beijing time, no offset
SEND_TIME = DateTime("%Y-%m-%d %H:%M:%S")
YES_NO = Bool("1", "0")


def _uuid(value: str) -> str:
    v = text.halfwidth(value).strip().lower()
    if not v:
        raise ValueError("is blank")
    return v


def _sha256(value: str) -> str:
    v = text.halfwidth(value).strip().lower()
    if len(v) != 64 or any(c not in "0123456789abcdef" for c in v):
        raise ValueError(f"{value!r} is not a SHA-256 digest (64 hexadecimal digits)")
    return v


def _uri(value: str) -> str:
    v = value.strip()
    if not v:
        raise ValueError("is blank")
    return v


UUID = Func("UUID, lower-cased", _uuid)
SHA256 = Func("SHA-256, 64 hex digits, lower-cased", _sha256)
URI = Func("URI (trimmed)", _uri)

# ---- code lists (each is also an enumeration in schemas/agencies/court/court.xsd) -------------------------

SEX = Enum({"1": "MALE", "2": "FEMALE", "0": "UNKNOWN"}, "性别代码 (GB/T 2261.1)", aliases={"9": "UNKNOWN"})
CORRECTION_TYPE = Enum({"01": "CONTROL", "02": "PROBATION", "03": "PAROLE", "04": "TEMP_OUTSIDE"}, "矫正类别代码")
DOCUMENT_KIND = Enum({
    "01": "JUDGMENT", "02": "RULING", "03": "DECISION", "04": "EXECUTION_NOTICE", "05": "PAROLE_CERTIFICATE",
    "06": "TEMP_OUTSIDE_DECISION", "07": "CASE_CLOSING_FORM", "08": "INDICTMENT", "09": "COMMISSION_LETTER",
    "10": "ASSESSMENT_REPORT", "11": "PERSON_FILE", "12": "MEDICAL_REPORT", "13": "EVIDENCE", "14": "CERTIFICATE",
    "99": "OTHER",
}, "文书种类代码")
REVOCATION_KIND = Enum({"1": "REVOKE_PROBATION", "2": "REVOKE_PAROLE", "3": "RECOMMIT_TEMP_OUTSIDE"}, "撤销类别代码")
REVOCATION_OUTCOME = Enum({"1": "GRANTED", "2": "REFUSED"}, "处理结果代码")
CUSTODY_MEASURE = Enum({"1": "CRIMINAL_DETENTION", "2": "ARREST", "3": "ADMINISTRATIVE_DETENTION",
                        "4": "COMPULSORY_ISOLATION", "9": "OTHER"}, "强制措施代码")
COMPLETENESS = Enum({"1": "COMPLETE", "2": "INCOMPLETE"}, "材料齐全代码")
DOCUMENT_PROBLEM = Enum({"1": "MISSING", "2": "DEFECTIVE"}, "问题类型代码")
CONCLUSION = Enum({"1": "SUITABLE", "2": "UNSUITABLE"}, "评估意见代码")
REPORTING_RESULT = Enum({"1": "REPORTED", "2": "REPORTED_LATE", "3": "NOT_REPORTED"}, "报到情况代码")
RELEASE_KIND = Enum({"1": "RELEASED", "2": "TERMINATED_REVOKED", "3": "TERMINATED_RECOMMITTED",
                     "4": "TERMINATED_DEATH"}, "解除终止类别代码")
TRANSFER_KIND = Enum({"1": "ESCORTED_HANDOVER", "2": "COUNTY_TRANSFER"}, "移交类别代码")
EVENT_KIND = Enum({"1": "ADMONITION", "2": "WARNING", "3": "LEAVE_APPROVED", "4": "RESIDENCE_CHANGE",
                   "5": "LOST_CONTACT", "6": "CONTACT_RESTORED"}, "事件类别代码")

# code list name in the native XSD → its table (a test checks that the two agree)
CODE_LISTS: Mapping[str, Enum] = {
    "XBDM": SEX, "JZLBDM": CORRECTION_TYPE, "WSZLDM": DOCUMENT_KIND, "CXLBDM": REVOCATION_KIND,
    "CLJGDM": REVOCATION_OUTCOME, "QZCSDM": CUSTODY_MEASURE, "CLQQDM": COMPLETENESS, "WTLXDM": DOCUMENT_PROBLEM,
    "PGYJDM": CONCLUSION, "BDQKDM": REPORTING_RESULT, "JCLBDM": RELEASE_KIND, "YJLBDM": TRANSFER_KIND,
    "SJLBDM": EVENT_KIND,
}

# ---- field lists shared by every document type -------------------------------------------------------------

ENVELOPE: tuple[F, ...] = (
    F("XXBS", "envelope/messageId", UUID, "消息标识"),
    F("YWBH", "envelope/senderDocumentId", TEXT, "业务编号", required=True),
    F("GLBS", "envelope/correlationId", TEXT, "关联标识"),
    F("YXXBS", "envelope/causationId", UUID, "原消息标识"),
    F("RYBH", "envelope/personRef", TEXT, "人员编号"),
)

CASE: tuple[F, ...] = (
    F("AJXX/AH", "case/caseNumber", CASE_NUMBER, "案号", required=True),
    F("AJXX/JDJG", "case/decidingOrgan", CODE, "决定机关", required=True),
    F("AJXX/JDRQ", "case/decisionDate", DATE, "决定日期"),
    F("AJXX/SXRQ", "case/effectiveDate", DATE, "生效日期"),
    F("AJXX/ZM", "case/offence", TEXT, "罪名"),
    F("AJXX/JZLB", "case/correctionType", CORRECTION_TYPE, "矫正类别", required=True),
    F("AJXX/JZQX/QSRQ", "case/supervisionPeriod/start", DATE, "矫正起始日期"),
    F("AJXX/JZQX/ZZRQ", "case/supervisionPeriod/end", DATE, "矫正终止日期"),
    F("AJXX/ZXD", "case/executionDivision", CODE, "执行地", required=True),
)

PERSON: tuple[F, ...] = (
    F("RYXX/XM", "person/name", NAME, "姓名", required=True),
    F("RYXX/SFZHM", "person/idNumber", ID_NUMBER, "身份证号码"),
    F("RYXX/XB", "person/sex", SEX, "性别", required=True),
    F("RYXX/CSRQ", "person/birthDate", DATE, "出生日期"),
    F("RYXX/JZDQH", "person/residence/divisionCode", CODE, "居住地区划"),
    F("RYXX/JZDXZ", "person/residence/address", TEXT, "居住地详址"),
)

# one document (文书) of a list: an attachment is a reference (DZ) with its digest, or inline (NR, inbound only)
DOCUMENT: tuple[F, ...] = (
    F("WSZL", "kind", DOCUMENT_KIND, "文书种类", required=True),
    F("WSMC", "title", TEXT, "文书名称", required=True),
    F("WH", "documentNumber", DOCUMENT_NUMBER, "文号"),
    F("HASH", "sha256", SHA256, "SHA-256 摘要"),
    F("DZ", "uri", URI, "文件地址"),
)
INLINE_CONTENT = "NR"  # 文件内容 (base64), next to DZ in a document item
INLINE_URI = "urn:xianjie:attachment:sha256:"


def documents(native: str, canonical: str, label: str) -> Group:
    """A list of documents: ``native`` is the list element (e.g. WSQD), its items are ``<WS>``."""
    return Group(f"{native}/WS", f"{canonical}/document", DOCUMENT, label)


# ---- document types -----------------------------------------------------------------------------------------

Field = F | Group


def _under(body: str, item: Field) -> Field:
    if isinstance(item, F):
        return F(f"{body}/{item.native}", item.canonical, item.codec, item.label, item.required)
    return Group(f"{body}/{item.native}", item.canonical, item.fields, item.label)


# native document type code → the body element its record carries
BODY: dict[str, str] = {}


def spec(code: str, message_type: str, body: str, fields: tuple[Field, ...], label: str,
         fixed: Mapping[str, str] | None = None) -> Spec:
    """A document type: shared envelope, case and person fields, then ``fields`` inside ``<body>``."""
    BODY[code] = body
    return Spec(code, message_type, (*ENVELOPE, *CASE, *PERSON, *(_under(body, f) for f in fields)),
                dict(fixed or {}), label)


def _f(native: str, canonical: str, codec: Codec = TEXT, label: str = "", required: bool = False) -> F:
    return F(native, canonical, codec, label, required)


SENTENCING: tuple[Field, ...] = (
    _f("WH", "decision/documentNumber", DOCUMENT_NUMBER, "文号", True),
    _f("ZCRQ", "decision/decidedOn", DATE, "作出日期", True),
    _f("SXRQ", "decision/effectiveOn", DATE, "生效日期", True),
    _f("PCXF", "decision/sentence", TEXT, "判处刑罚"),
    _f("YJYDW", "decision/originalCustody", CODE, "原羁押（服刑）单位"),
    _f("ZXTZS/TZSH", "decision/executionNotice/noticeNumber", DOCUMENT_NUMBER, "执行通知书文号", True),
    _f("ZXTZS/QFRQ", "decision/executionNotice/issuedOn", DATE, "执行通知书签发日期", True),
    _f("ZXTZS/BDQX", "decision/executionNotice/reportBy", DATE, "报到期限"),
    documents("WSQD", "decision/documents", "送达文书清单"),
)

COMMISSION: tuple[Field, ...] = (
    _f("WTJG", "commission/commissioningOrgan", CODE, "委托机关", True),
    _f("WTRQ", "commission/commissionDate", DATE, "委托日期", True),
    _f("SFSC", "commission/fastTrack", YES_NO, "是否速裁", True),
    _f("CBR", "commission/requestedBy", TEXT, "承办人"),
    documents("WSQD", "commission/documents", "委托材料清单"),
    _f("BZ", "commission/note", TEXT, "备注"),
)

REVOCATION_DECISION: tuple[Field, ...] = (
    _f("CXLB", "decision/kind", REVOCATION_KIND, "撤销类别", True),
    _f("CLJG", "decision/outcome", REVOCATION_OUTCOME, "处理结果", True),
    _f("WH", "decision/documentNumber", DOCUMENT_NUMBER, "文号", True),
    _f("ZCRQ", "decision/decidedOn", DATE, "作出日期", True),
    _f("SFZY", "decision/personInCustody", YES_NO, "是否在押", True),
    _f("SJDW", "decision/returnCustody", CODE, "收监执行单位"),
    _f("JDDB", "decision/arrestOrdered", YES_NO, "是否决定逮捕"),
    _f("LY", "decision/reason", TEXT, "理由"),
)

CUSTODY: tuple[Field, ...] = (
    _f("QZCS", "custody/measure", CUSTODY_MEASURE, "强制措施", True),
    _f("WH", "custody/documentNumber", DOCUMENT_NUMBER, "文号"),
    _f("KSRQ", "custody/startedOn", DATE, "羁押开始日期", True),
    _f("JSRQ", "custody/endedOn", DATE, "羁押结束日期"),
    _f("JYDW", "custody/custodyAgency", CODE, "羁押单位"),
    _f("JYCS", "custody/place", TEXT, "羁押场所"),
    _f("YY", "custody/reason", TEXT, "羁押原因", True),
)

RECEIPT: tuple[Field, ...] = (
    _f("HZDX", "receipt/receiptOf", UUID, "回执所对应的消息标识", True),
    _f("SDRQ", "receipt/receivedOn", DATE, "收到日期", True),
    _f("CLQQ", "receipt/completeness", COMPLETENESS, "材料是否齐全", True),
    Group("BZQD/CL", "receipt/missing", (
        F("WSZL", "kind", DOCUMENT_KIND, "文书种类", True),
        F("WSMC", "title", TEXT, "文书名称", True),
        F("YY", "reason", TEXT, "补正原因", True),
        F("WTLX", "problem", DOCUMENT_PROBLEM, "问题类型"),
    ), "补正材料清单"),
    _f("BZ", "receipt/note", TEXT, "备注"),
)

OPINION: tuple[Field, ...] = (
    _f("WTJG", "opinion/commissioningOrgan", CODE, "委托机关", True),
    _f("PGYJ", "opinion/conclusion", CONCLUSION, "评估意见", True),
    _f("PGRQ", "opinion/assessedOn", DATE, "评估日期", True),
    _f("YJZY", "opinion/summary", TEXT, "意见摘要", True),
    _f("DCDW", "opinion/assessingOffice", TEXT, "调查单位"),
    documents("WSQD", "opinion/documents", "评估材料清单"),
)

REPORTING: tuple[Field, ...] = (
    _f("BDQK", "outcome/result", REPORTING_RESULT, "报到情况", True),
    _f("BDQX", "outcome/dueDate", DATE, "报到期限", True),
    _f("BDRQ", "outcome/reportedOn", DATE, "报到日期"),
    _f("BZ", "outcome/note", TEXT, "备注"),
)

PROPOSAL: tuple[Field, ...] = (
    _f("CXLB", "proposal/kind", REVOCATION_KIND, "撤销类别", True),
    _f("WH", "proposal/documentNumber", DOCUMENT_NUMBER, "建议书文号"),
    _f("JYRQ", "proposal/proposedOn", DATE, "建议日期", True),
    _f("SSLY", "proposal/grounds", TEXT, "事实和理由", True),
    _f("TQDB", "proposal/requestArrest", YES_NO, "是否提请逮捕", True),
    documents("ZJQD", "proposal/evidence", "证据材料清单"),
)

RELEASE: tuple[Field, ...] = (
    _f("JCLB", "release/kind", RELEASE_KIND, "解除终止类别", True),
    _f("JCRQ", "release/effectiveOn", DATE, "解除（终止）日期", True),
    _f("ZMSBH", "release/certificateNumber", DOCUMENT_NUMBER, "解除矫正证明书编号"),
    _f("YFXDW", "release/originalCustody", CODE, "原服刑单位"),
    _f("BZ", "release/note", TEXT, "备注"),
)

TRANSFER: tuple[Field, ...] = (
    _f("YJLB", "transfer/kind", TRANSFER_KIND, "移交类别", True),
    _f("YZXD", "transfer/fromDivision", CODE, "原执行地"),
    _f("XZXD", "transfer/toDivision", CODE, "新执行地"),
    _f("BGJDSH", "transfer/changeDecisionNumber", DOCUMENT_NUMBER, "变更执行地决定书文号"),
    _f("BGRQ", "transfer/changeDecidedOn", DATE, "变更决定日期"),
    _f("SDRQ", "transfer/decisionServedOn", DATE, "决定送达日期"),
    _f("JFRQ", "transfer/handoverDate", DATE, "交付（移送）日期"),
    _f("YSJG", "transfer/escortingAgency", CODE, "押送机关"),
    _f("BDQX", "transfer/reportBy", DATE, "报到期限"),
    documents("YJQD", "transfer/manifest", "移交材料清单"),
    _f("BZ", "transfer/note", TEXT, "备注"),
)

EVENT: tuple[Field, ...] = (
    _f("SJLB", "event/kind", EVENT_KIND, "事件类别", True),
    _f("FSRQ", "event/occurredOn", DATE, "发生日期", True),
    _f("WH", "event/decisionNumber", DOCUMENT_NUMBER, "文号"),
    _f("QKSM", "event/details", TEXT, "情况说明", True),
    _f("WCQJ/QSRQ", "event/leave/from", DATE, "外出起始日期"),
    _f("WCQJ/ZZRQ", "event/leave/to", DATE, "外出终止日期"),
    _f("WCQJ/MDD", "event/leave/destination", TEXT, "外出目的地"),
    _f("WCQJ/MDDQH", "event/leave/destinationDivision", CODE, "目的地区划"),
    _f("XJZD/JZDQH", "event/newResidence/divisionCode", CODE, "新居住地区划"),
    _f("XJZD/JZDXZ", "event/newResidence/address", TEXT, "新居住地详址"),
)

SPECS = Specs((
    # sent by the court
    spec("1101", "SentencingDecision", "SDXX", SENTENCING, "刑事判决书送达",
         {"decision/decisionKind": "JUDGMENT"}),
    spec("1102", "SentencingDecision", "SDXX", SENTENCING, "刑事裁定书送达",
         {"decision/decisionKind": "RULING"}),
    spec("1103", "SentencingDecision", "SDXX", SENTENCING, "决定书送达（暂予监外执行决定书）",
         {"decision/decisionKind": "DECISION"}),
    spec("1201", "AssessmentCommission", "WTXX", COMMISSION, "调查评估委托函"),
    spec("1301", "RevocationDecision", "CXJD", REVOCATION_DECISION, "撤销缓刑/假释裁定书、收监执行决定书"),
    spec("1401", "CustodyNotice", "JYXX", CUSTODY, "羁押（逮捕）通知"),
    # received by the court
    spec("2101", "DocumentReceipt", "HZXX", RECEIPT, "送达回执"),
    spec("2201", "AssessmentOpinion", "PGXX", OPINION, "调查评估意见书"),
    spec("2301", "ReportingOutcome", "BDXX", REPORTING, "报到情况通报"),
    spec("2401", "RevocationProposal", "CXJY", PROPOSAL, "撤销缓刑/假释建议书、收监执行建议书"),
    spec("2501", "ReleaseNotice", "JCXX", RELEASE, "解除/终止社区矫正通知书"),
    spec("2601", "TransferPapers", "YJXX", TRANSFER, "移交（执行地变更）通知"),
    spec("2701", "SupervisionEvent", "JGSJ", EVENT, "监管事件（失去联系）通报"),
), name="文书类型 (document type)")

SENDS = frozenset({"SentencingDecision", "AssessmentCommission", "RevocationDecision", "CustodyNotice"})
RECEIVES = frozenset({"DocumentReceipt", "AssessmentOpinion", "ReportingOutcome", "RevocationProposal",
                      "ReleaseNotice", "TransferPapers", "SupervisionEvent"})
