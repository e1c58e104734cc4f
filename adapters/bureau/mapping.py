"""The bureau's document types (业务类型 YWLX) and their field tables.

Every record (<SJX>) has the same head: the envelope fields, the person block <JZDX> and the case block
<AJXX>; then one body block that depends on the business type. The head is shared by all types; the
body tables are shared between the types that differ only in a constant (e.g. the six supervision events
all use <JGSJ>, the kind coming from the YWLX code). Fields are listed in the order of the native schema
(schemas/agencies/bureau/jhbw.xsd), which is also the order outbound writes them.
"""

from __future__ import annotations

from adapters.kit import text
from adapters.kit.mapping import (
    CASE_NUMBER,
    CODE,
    DOCUMENT_NUMBER,
    ID_NUMBER,
    NAME,
    TEXT,
    Bool,
    Date,
    DateTime,
    Enum,
    F,
    Func,
    Group,
    Spec,
    Specs,
)

# ---- formats and code lists ------------------------------------------------------------------------------

DATE = Date("%Y-%m-%d")
TIME = DateTime("%Y-%m-%d %H:%M:%S")  # Beijing time, no offset
YES_NO = Bool("1", "0")


def _uuid(value: str) -> str:
    out = text.halfwidth(value).strip().lower()
    if not out:
        raise ValueError("is blank")
    return out


UUID = Func("UUID, lower-case", _uuid)
SHA256 = Func("SHA-256 hex, lower-case", lambda v: text.halfwidth(v).strip().lower())

SEX = Enum({"1": "MALE", "2": "FEMALE", "0": "UNKNOWN"}, "性别代码 GB/T 2261.1", aliases={"9": "UNKNOWN"})
CORRECTION_TYPE = Enum({"01": "CONTROL", "02": "PROBATION", "03": "PAROLE", "04": "TEMP_OUTSIDE"}, "矫正类别代码")
DOCUMENT_KIND = Enum({
    "01": "JUDGMENT",               # 判决书
    "02": "RULING",                 # 裁定书
    "03": "DECISION",               # 决定书
    "04": "EXECUTION_NOTICE",       # 执行通知书
    "05": "PAROLE_CERTIFICATE",     # 假释证明书
    "06": "TEMP_OUTSIDE_DECISION",  # 暂予监外执行决定书
    "07": "CASE_CLOSING_FORM",      # 结案登记表
    "08": "INDICTMENT",             # 起诉书
    "09": "COMMISSION_LETTER",      # 调查评估委托函
    "10": "ASSESSMENT_REPORT",      # 调查评估意见书
    "11": "PERSON_FILE",            # 档案材料
    "12": "MEDICAL_REPORT",         # 病情诊断
    "13": "EVIDENCE",               # 证据材料
    "14": "CERTIFICATE",            # 证明书
    "99": "OTHER",                  # 其他
}, "文书类型代码")
COMPLETENESS = Enum({"1": "COMPLETE", "2": "INCOMPLETE"}, "材料情况代码")
DOCUMENT_PROBLEM = Enum({"1": "MISSING", "2": "DEFECTIVE"}, "问题类型代码")
REPORTING_RESULT = Enum({"1": "REPORTED", "2": "REPORTED_LATE", "3": "NOT_REPORTED"}, "报到结果代码")
CONCLUSION = Enum({"1": "SUITABLE", "2": "UNSUITABLE"}, "评估结论代码")
CUSTODY_MEASURE = Enum({"01": "CRIMINAL_DETENTION", "02": "ARREST", "03": "ADMINISTRATIVE_DETENTION",
                        "04": "COMPULSORY_ISOLATION", "99": "OTHER"}, "羁押措施代码")
OUTCOME = Enum({"1": "GRANTED", "2": "REFUSED"}, "处理结果代码")
PURSUIT_STATUS = Enum({"1": "LOCATED", "2": "IN_CUSTODY", "3": "ONGOING", "4": "CLOSED"}, "查找状态代码")
TERMINATION = Enum({"1": "TERMINATED_REVOKED", "2": "TERMINATED_RECOMMITTED", "3": "TERMINATED_DEATH"},
                   "终止原因代码")
TRANSFER_CONCLUSION = Enum({"1": "AGREE", "2": "DISAGREE"}, "意见结论代码")

# every code list of the format by the native simple type that carries it in jhbw.xsd
CODE_LISTS: dict[str, Enum] = {
    "XBDM": SEX, "JZLBDM": CORRECTION_TYPE, "WSLXDM": DOCUMENT_KIND, "CLQKDM": COMPLETENESS,
    "WTLXDM": DOCUMENT_PROBLEM, "BDJGDM": REPORTING_RESULT, "PGJLDM": CONCLUSION, "JYCSDM": CUSTODY_MEASURE,
    "CLJGDM": OUTCOME, "ZTDM": PURSUIT_STATUS, "ZZYYDM": TERMINATION, "YJJLDM": TRANSFER_CONCLUSION,
}

# ---- the head shared by every record ---------------------------------------------------------------------

ENVELOPE: tuple[F, ...] = (
    F("XXID", "envelope/messageId", UUID, "消息标识"),
    F("WSBH", "envelope/senderDocumentId", TEXT, "文书编号", required=True),
    F("FWSJ", "envelope/sentAt", TIME, "发文时间"),
    F("GLBS", "envelope/correlationId", TEXT, "案件关联标识"),
    F("YYXXID", "envelope/causationId", UUID, "引用消息标识"),
    F("JZDXBH", "envelope/personRef", TEXT, "对象编号"),
)

PERSON: tuple[F, ...] = (
    F("JZDX/XM", "person/name", NAME, "姓名", required=True),
    F("JZDX/SFZHM", "person/idNumber", ID_NUMBER, "身份证号码"),
    F("JZDX/XB", "person/sex", SEX, "性别", required=True),
    F("JZDX/CSRQ", "person/birthDate", DATE, "出生日期"),
    F("JZDX/JZD/XZQH", "person/residence/divisionCode", CODE, "居住地行政区划代码"),
    F("JZDX/JZD/XXDZ", "person/residence/address", TEXT, "居住地详细地址"),
)

CASE: tuple[F, ...] = (
    F("AJXX/AH", "case/caseNumber", CASE_NUMBER, "案号", required=True),
    F("AJXX/JDJG", "case/decidingOrgan", CODE, "决定机关代码", required=True),
    F("AJXX/JDRQ", "case/decisionDate", DATE, "决定日期"),
    F("AJXX/SXRQ", "case/effectiveDate", DATE, "生效日期"),
    F("AJXX/ZM", "case/offence", TEXT, "罪名"),
    F("AJXX/JZLB", "case/correctionType", CORRECTION_TYPE, "矫正类别", required=True),
    F("AJXX/JZQX/QSRQ", "case/supervisionPeriod/start", DATE, "矫正起始日期"),
    F("AJXX/JZQX/ZZRQ", "case/supervisionPeriod/end", DATE, "矫正终止日期"),
    F("AJXX/ZXD", "case/executionDivision", CODE, "执行地行政区划代码", required=True),
)

HEAD = ENVELOPE + PERSON + CASE


def documents(native: str, canonical: str, label: str) -> Group:
    """A document list: <WS> items (文书) under ``native``."""
    return Group(f"{native}/WS", f"{canonical}/document", (
        F("WSLX", "kind", DOCUMENT_KIND, "文书类型", required=True),
        F("WSMC", "title", TEXT, "文书名称", required=True),
        F("WSWH", "documentNumber", DOCUMENT_NUMBER, "文书文号"),
        F("HXZ", "sha256", SHA256, "文件哈希值"),
        F("CCLJ", "uri", TEXT, "存储地址"),
    ), label)


# ---- bodies ----------------------------------------------------------------------------------------------

COMMISSION: tuple[F | Group, ...] = (
    F("DCPGWT/WTJG", "commission/commissioningOrgan", CODE, "委托机关代码", required=True),
    F("DCPGWT/WTRQ", "commission/commissionDate", DATE, "委托日期", required=True),
    F("DCPGWT/SFSC", "commission/fastTrack", YES_NO, "是否速裁", required=True),
    F("DCPGWT/CBR", "commission/requestedBy", TEXT, "承办人"),
    documents("DCPGWT/FJLB", "commission/documents", "附件列表"),
    F("DCPGWT/BZ", "commission/note", TEXT, "备注"),
)

OPINION: tuple[F | Group, ...] = (
    F("DCPGYJ/WTJG", "opinion/commissioningOrgan", CODE, "委托机关代码", required=True),
    F("DCPGYJ/PGJL", "opinion/conclusion", CONCLUSION, "评估结论", required=True),
    F("DCPGYJ/PGRQ", "opinion/assessedOn", DATE, "评估日期", required=True),
    F("DCPGYJ/YJZY", "opinion/summary", TEXT, "意见摘要", required=True),
    documents("DCPGYJ/FJLB", "opinion/documents", "附件列表"),
    F("DCPGYJ/DCDW", "opinion/assessingOffice", TEXT, "调查单位（司法所）"),
)

SENTENCING: tuple[F | Group, ...] = (
    F("FLWS/WH", "decision/documentNumber", DOCUMENT_NUMBER, "文号", required=True),
    F("FLWS/ZCRQ", "decision/decidedOn", DATE, "作出日期", required=True),
    F("FLWS/SXRQ", "decision/effectiveOn", DATE, "生效日期", required=True),
    F("FLWS/ZXTZS/TZSBH", "decision/executionNotice/noticeNumber", DOCUMENT_NUMBER, "执行通知书编号",
      required=True),
    F("FLWS/ZXTZS/QFRQ", "decision/executionNotice/issuedOn", DATE, "执行通知书签发日期", required=True),
    F("FLWS/ZXTZS/BDQX", "decision/executionNotice/reportBy", DATE, "报到期限"),
    documents("FLWS/FJLB", "decision/documents", "送达文书列表"),
    F("FLWS/YJYJG", "decision/originalCustody", CODE, "原羁押机关代码"),
    F("FLWS/XF", "decision/sentence", TEXT, "刑罚"),
)

RECEIPT: tuple[F | Group, ...] = (
    F("WSHZ/SDXXID", "receipt/receiptOf", UUID, "送达消息标识", required=True),
    F("WSHZ/JSRQ", "receipt/receivedOn", DATE, "收到日期", required=True),
    F("WSHZ/CLQK", "receipt/completeness", COMPLETENESS, "材料情况", required=True),
    Group("WSHZ/QSCL/CL", "receipt/missing", (
        F("CLLX", "kind", DOCUMENT_KIND, "材料类型", required=True),
        F("CLMC", "title", TEXT, "材料名称", required=True),
        F("QSYY", "reason", TEXT, "缺少或有误原因", required=True),
        F("WTLX", "problem", DOCUMENT_PROBLEM, "问题类型"),
    ), "缺少材料"),
    F("WSHZ/BZ", "receipt/note", TEXT, "备注"),
)

REPORTING: tuple[F | Group, ...] = (
    F("BDQK/BDJG", "outcome/result", REPORTING_RESULT, "报到结果", required=True),
    F("BDQK/BDQX", "outcome/dueDate", DATE, "报到期限", required=True),
    F("BDQK/BDRQ", "outcome/reportedOn", DATE, "报到日期"),
    F("BDQK/BZ", "outcome/note", TEXT, "备注"),
)

TRANSFER: tuple[F | Group, ...] = (
    F("YJCL/YZXD", "transfer/fromDivision", CODE, "原执行地"),
    F("YJCL/XZXD", "transfer/toDivision", CODE, "新执行地"),
    F("YJCL/JFRQ", "transfer/handoverDate", DATE, "交付日期"),
    F("YJCL/BGJDSWH", "transfer/changeDecisionNumber", DOCUMENT_NUMBER, "变更执行地决定书文号"),
    F("YJCL/YSJG", "transfer/escortingAgency", CODE, "押送机关代码"),
    documents("YJCL/YJQD", "transfer/manifest", "移交材料清单"),
    F("YJCL/BGJDRQ", "transfer/changeDecidedOn", DATE, "变更决定日期"),
    F("YJCL/JDSDRQ", "transfer/decisionServedOn", DATE, "决定送达日期"),
    F("YJCL/BDQX", "transfer/reportBy", DATE, "报到期限"),
    F("YJCL/BZ", "transfer/note", TEXT, "备注"),
)


def _transfer_opinion(reply: bool) -> tuple[F | Group, ...]:
    """执行地变更征求意见 <ZQYJ>: bureau A's request (征求意见函) and bureau B's reply (回复意见) share the block;
    a reply must state its conclusion and its date. Both carry every field, so whatever a request or reply
    holds goes from one bureau to the other unchanged."""
    return (
        F("ZQYJ/YZXD", "opinion/fromDivision", CODE, "原执行地", required=True),
        F("ZQYJ/NZXD", "opinion/toDivision", CODE, "拟执行地", required=True),
        F("ZQYJ/ZQRQ", "opinion/requestedOn", DATE, "征求日期", required=True),
        F("ZQYJ/ZQWH", "opinion/requestNumber", DOCUMENT_NUMBER, "征求意见函文号"),
        F("ZQYJ/NJZD/XZQH", "opinion/plannedResidence/divisionCode", CODE, "拟居住地行政区划代码"),
        F("ZQYJ/NJZD/XXDZ", "opinion/plannedResidence/address", TEXT, "拟居住地详细地址"),
        F("ZQYJ/BGLY", "opinion/reason", TEXT, "变更理由"),
        F("ZQYJ/YJJL", "opinion/conclusion", TRANSFER_CONCLUSION, "意见结论", required=reply),
        F("ZQYJ/HFRQ", "opinion/repliedOn", DATE, "回复日期", required=reply),
        F("ZQYJ/BZ", "opinion/note", TEXT, "备注"),
    )


TRANSFER_OPINION_REQUEST = _transfer_opinion(reply=False)
TRANSFER_OPINION_REPLY = _transfer_opinion(reply=True)

CUSTODY: tuple[F | Group, ...] = (
    F("JYTZ/JYCS", "custody/measure", CUSTODY_MEASURE, "羁押措施", required=True),
    F("JYTZ/JYJG", "custody/custodyAgency", CODE, "羁押机关代码"),
    F("JYTZ/KSRQ", "custody/startedOn", DATE, "羁押开始日期", required=True),
    F("JYTZ/JSRQ", "custody/endedOn", DATE, "羁押结束日期"),
    F("JYTZ/JYDD", "custody/place", TEXT, "羁押地点"),
    F("JYTZ/JYYY", "custody/reason", TEXT, "羁押原因", required=True),
    F("JYTZ/WH", "custody/documentNumber", DOCUMENT_NUMBER, "文号"),
)

EVENT: tuple[F | Group, ...] = (
    F("JGSJ/FSRQ", "event/occurredOn", DATE, "发生日期", required=True),
    F("JGSJ/JDSWH", "event/decisionNumber", DOCUMENT_NUMBER, "决定书文号"),
    F("JGSJ/SJMS", "event/details", TEXT, "事件描述", required=True),
    F("JGSJ/WCQJ/QSRQ", "event/leave/from", DATE, "外出起始日期"),
    F("JGSJ/WCQJ/JSRQ", "event/leave/to", DATE, "外出结束日期"),
    F("JGSJ/WCQJ/MDD", "event/leave/destination", TEXT, "外出目的地"),
    F("JGSJ/WCQJ/MDDQH", "event/leave/destinationDivision", CODE, "目的地行政区划代码"),
    F("JGSJ/XJZD/XZQH", "event/newResidence/divisionCode", CODE, "新居住地行政区划代码"),
    F("JGSJ/XJZD/XXDZ", "event/newResidence/address", TEXT, "新居住地详细地址"),
)

PROPOSAL: tuple[F | Group, ...] = (
    F("CXJY/JYRQ", "proposal/proposedOn", DATE, "建议日期", required=True),
    F("CXJY/SSLY", "proposal/grounds", TEXT, "事实和理由", required=True),
    F("CXJY/TQDB", "proposal/requestArrest", YES_NO, "是否提请逮捕", required=True),
    documents("CXJY/ZJCL", "proposal/evidence", "证据材料"),
    F("CXJY/JYSWH", "proposal/documentNumber", DOCUMENT_NUMBER, "建议书文号"),
)

REVOCATION: tuple[F | Group, ...] = (
    F("CXJD/CLJG", "decision/outcome", OUTCOME, "处理结果", required=True),
    F("CXJD/JDRQ", "decision/decidedOn", DATE, "决定日期", required=True),
    F("CXJD/WH", "decision/documentNumber", DOCUMENT_NUMBER, "文号", required=True),
    F("CXJD/SFZY", "decision/personInCustody", YES_NO, "是否在押", required=True),
    F("CXJD/SJJG", "decision/returnCustody", CODE, "收监机关代码"),
    F("CXJD/JDDB", "decision/arrestOrdered", YES_NO, "是否决定逮捕"),
    F("CXJD/LY", "decision/reason", TEXT, "理由"),
)

PURSUIT: tuple[F | Group, ...] = (
    F("TQZT/TQRQ", "pursuit/requestedOn", DATE, "提请日期", required=True),
    F("TQZT/YJWH", "pursuit/basisDocumentNumber", DOCUMENT_NUMBER, "依据文书文号"),
    F("TQZT/ZHLXRQ", "pursuit/lastContactOn", DATE, "最后联系日期"),
    F("TQZT/ZHQX", "pursuit/lastKnownWhereabouts", TEXT, "最后已知去向"),
    F("TQZT/QKSM", "pursuit/details", TEXT, "情况说明", required=True),
    documents("TQZT/FJLB", "pursuit/documents", "附件列表"),
)

PURSUIT_RESULT: tuple[F | Group, ...] = (
    F("ZTJG/ZT", "result/status", PURSUIT_STATUS, "查找状态", required=True),
    F("ZTJG/BGRQ", "result/reportedOn", DATE, "报告日期", required=True),
    F("ZTJG/JYJG", "result/custodyAgency", CODE, "羁押机关代码"),
    F("ZTJG/QKSM", "result/details", TEXT, "情况说明", required=True),
    F("ZTJG/CHRQ", "result/locatedOn", DATE, "查获日期"),
)

_RELEASE_TAIL: tuple[F, ...] = (
    F("JCZZ/JCRQ", "release/effectiveOn", DATE, "解除（终止）日期", required=True),
    F("JCZZ/ZMSBH", "release/certificateNumber", DOCUMENT_NUMBER, "证明书编号"),
    F("JCZZ/YJYJG", "release/originalCustody", CODE, "原羁押机关代码"),
    F("JCZZ/BZ", "release/note", TEXT, "备注"),
)
RELEASE: tuple[F | Group, ...] = _RELEASE_TAIL
TERMINATION_BODY: tuple[F | Group, ...] = (
    F("JCZZ/ZZYY", "release/kind", TERMINATION, "终止原因", required=True),
    *_RELEASE_TAIL,
)


def _spec(code: str, message_type: str, body: tuple[F | Group, ...], label: str,
          fixed: dict[str, str] | None = None) -> Spec:
    return Spec(code, message_type, HEAD + body, fixed or {}, label)


SPECS = Specs((
    # received by the bureau (下行)
    _spec("1001", "AssessmentCommission", COMMISSION, "调查评估委托"),
    _spec("1101", "SentencingDecision", SENTENCING, "判决书送达", {"decision/decisionKind": "JUDGMENT"}),
    _spec("1102", "SentencingDecision", SENTENCING, "裁定书送达", {"decision/decisionKind": "RULING"}),
    _spec("1103", "SentencingDecision", SENTENCING, "决定书送达", {"decision/decisionKind": "DECISION"}),
    _spec("1201", "CustodyNotice", CUSTODY, "羁押通知"),
    _spec("1301", "RevocationDecision", REVOCATION, "撤销缓刑裁定", {"decision/kind": "REVOKE_PROBATION"}),
    _spec("1302", "RevocationDecision", REVOCATION, "撤销假释裁定", {"decision/kind": "REVOKE_PAROLE"}),
    _spec("1303", "RevocationDecision", REVOCATION, "收监执行决定", {"decision/kind": "RECOMMIT_TEMP_OUTSIDE"}),
    _spec("1401", "PursuitResult", PURSUIT_RESULT, "协查追逃结果"),
    _spec("1501", "TransferPapers", TRANSFER, "暂予监外执行交付", {"transfer/kind": "ESCORTED_HANDOVER"}),
    # sent by the bureau (上行); 2301-2303 pass from one bureau to another, so a bureau receives them too
    _spec("2001", "AssessmentOpinion", OPINION, "调查评估意见"),
    _spec("2101", "DocumentReceipt", RECEIPT, "法律文书回执"),
    _spec("2102", "ReportingOutcome", REPORTING, "报到情况"),
    _spec("2201", "SupervisionEvent", EVENT, "训诫", {"event/kind": "ADMONITION"}),
    _spec("2202", "SupervisionEvent", EVENT, "警告", {"event/kind": "WARNING"}),
    _spec("2203", "SupervisionEvent", EVENT, "外出请假审批", {"event/kind": "LEAVE_APPROVED"}),
    _spec("2204", "SupervisionEvent", EVENT, "居住地变更（执行地内）", {"event/kind": "RESIDENCE_CHANGE"}),
    _spec("2205", "SupervisionEvent", EVENT, "失去联系", {"event/kind": "LOST_CONTACT"}),
    _spec("2206", "SupervisionEvent", EVENT, "恢复联系", {"event/kind": "CONTACT_RESTORED"}),
    _spec("2301", "TransferPapers", TRANSFER, "执行地变更移交", {"transfer/kind": "COUNTY_TRANSFER"}),
    _spec("2302", "TransferOpinion", TRANSFER_OPINION_REQUEST, "执行地变更征求意见函", {"opinion/kind": "REQUEST"}),
    _spec("2303", "TransferOpinion", TRANSFER_OPINION_REPLY, "执行地变更征求意见回复", {"opinion/kind": "REPLY"}),
    _spec("2401", "RevocationProposal", PROPOSAL, "撤销缓刑建议", {"proposal/kind": "REVOKE_PROBATION"}),
    _spec("2402", "RevocationProposal", PROPOSAL, "撤销假释建议", {"proposal/kind": "REVOKE_PAROLE"}),
    _spec("2403", "RevocationProposal", PROPOSAL, "收监执行建议", {"proposal/kind": "RECOMMIT_TEMP_OUTSIDE"}),
    _spec("2501", "PursuitRequest", PURSUIT, "提请协助查找", {"pursuit/kind": "ASSIST_SEARCH"}),
    _spec("2502", "PursuitRequest", PURSUIT, "提请追逃", {"pursuit/kind": "PURSUE_ABSCONDER"}),
    # RELEASED first: outbound takes the first spec whose constants match, and 2602 has none
    _spec("2601", "ReleaseNotice", RELEASE, "解除社区矫正", {"release/kind": "RELEASED"}),
    _spec("2602", "ReleaseNotice", TERMINATION_BODY, "终止社区矫正"),
), name="业务类型 (YWLX)")


def body_block(spec: Spec) -> str:
    """The name of the body element a record of this type carries (<DCPGWT>, <FLWS>, …)."""
    head = {f.native for f in HEAD}
    for item in spec.fields:
        if item.native not in head:
            return item.native.split("/", 1)[0]
    raise AssertionError(f"spec {spec.native_type} has no body")


BODY_BLOCKS = frozenset(body_block(s) for s in SPECS.items)
