"""The prison system's document types (文书类型, WSLX) and their fields, mapped to canonical messages.

Every record (罪犯信息, ZFXX) carries the same envelope fields, a 基本信息 block (JBXX, the person) and a
案件信息 block (AJXX, the case), then exactly one content block whose element name depends on the
document type (``BODY``). Dates are YYYY-MM-DD, times YYYY-MM-DD HH:MM:SS Beijing time.
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

DATE = Date("%Y-%m-%d")
SENT_AT = DateTime("%Y-%m-%d %H:%M:%S")
YES_NO = Bool("1", "0")
UUID = Func("UUID (lower-case hex)", lambda v: text.halfwidth(v).strip().lower())
SHA256 = Func("SHA-256 (lower-case hex)", lambda v: text.halfwidth(v).strip().lower())

# GB/T 2261.1-2003 人的性别代码; 9 未说明的性别 has no canonical counterpart of its own
SEX = Enum({"1": "MALE", "2": "FEMALE", "0": "UNKNOWN"}, "性别代码 GB/T 2261.1", aliases={"9": "UNKNOWN"})
CORRECTION_CODES = {"01": "CONTROL", "02": "PROBATION", "03": "PAROLE", "04": "TEMP_OUTSIDE"}
CORRECTION = Enum(CORRECTION_CODES, "矫正类别代码")
# a 假释裁定书 or a 暂予监外执行决定书 fixes the correction type: JZLB must agree with the document type
PAROLE_ONLY = Enum({"03": "PAROLE"}, "矫正类别代码 of a 假释裁定书送达")
TEMP_OUTSIDE_ONLY = Enum({"04": "TEMP_OUTSIDE"}, "矫正类别代码 of a 暂予监外执行决定书送达")
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
    "11": "PERSON_FILE",            # 罪犯档案材料
    "12": "MEDICAL_REPORT",         # 病情诊断、检查证明文件
    "13": "EVIDENCE",               # 证据材料
    "14": "CERTIFICATE",            # 证明书
    "99": "OTHER",                  # 其他
}, "材料类别代码")
CONCLUSION = Enum({"1": "SUITABLE", "2": "UNSUITABLE"}, "评估结论代码")
COMPLETENESS = Enum({"1": "COMPLETE", "0": "INCOMPLETE"}, "材料齐全代码")
DOCUMENT_PROBLEM = Enum({"1": "MISSING", "2": "DEFECTIVE"}, "补正问题代码")
REPORTING = Enum({"1": "REPORTED", "2": "REPORTED_LATE", "3": "NOT_REPORTED"}, "报到结果代码")
EVENT = Enum({"01": "ADMONITION", "02": "WARNING", "03": "LEAVE_APPROVED", "04": "RESIDENCE_CHANGE",
              "05": "LOST_CONTACT", "06": "CONTACT_RESTORED"}, "监管事件类型代码")
REVOCATION = Enum({"1": "REVOKE_PROBATION", "2": "REVOKE_PAROLE", "3": "RECOMMIT_TEMP_OUTSIDE"}, "撤销收监类别代码")
OUTCOME = Enum({"1": "GRANTED", "2": "REFUSED"}, "处理结果代码")
RELEASE = Enum({"1": "RELEASED", "2": "TERMINATED_REVOKED", "3": "TERMINATED_RECOMMITTED", "4": "TERMINATED_DEATH"},
               "解除终止类型代码")

# the content block of each document type
BODY = {
    "1001": "PGWT",  # 调查评估委托
    "1101": "JSCD",  # 假释裁定送达
    "1102": "ZWJD",  # 暂予监外执行决定送达
    "1201": "YSJF",  # 押送交付
    "2001": "PGYJ",  # 调查评估意见
    "2101": "SDHZ",  # 送达回执
    "2102": "BDQK",  # 报到情况
    "2201": "BGYJ",  # 执行地变更移交
    "2301": "JGSJ",  # 监管事件
    "2401": "CXJY",  # 撤销假释、收监执行建议
    "2402": "CXJD",  # 撤销假释裁定、收监执行决定
    "2501": "JCZZ",  # 解除、终止社区矫正
}

# the batch header (TXT): who sent the batch and when, for every record in it
HEADER = (
    F("FSDW", "envelope/sender", CODE, "发送单位代码", True),
    F("FSSJ", "envelope/sentAt", SENT_AT, "发送时间", True),
)

ENVELOPE = (
    F("XXBS", "envelope/messageId", UUID, "消息标识"),
    F("WSBH", "envelope/senderDocumentId", TEXT, "文书编号", True),
    F("YWGLH", "envelope/correlationId", TEXT, "业务关联号"),
    F("YYXXBS", "envelope/causationId", UUID, "引用消息标识"),
    F("ZFBH", "envelope/personRef", TEXT, "罪犯编号"),
)

PERSON = (
    F("JBXX/XM", "person/name", NAME, "姓名", True),
    F("JBXX/SFZHM", "person/idNumber", ID_NUMBER, "公民身份号码"),
    F("JBXX/XB", "person/sex", SEX, "性别", True),
    F("JBXX/CSRQ", "person/birthDate", DATE, "出生日期"),
    F("JBXX/JZDQH", "person/residence/divisionCode", CODE, "居住地区划代码"),
    F("JBXX/JZDXZ", "person/residence/address", TEXT, "居住地详址"),
)


def case_fields(correction: Enum = CORRECTION) -> tuple[F, ...]:
    """The 案件信息 block; ``correction`` narrows 矫正类别 for document types that imply it."""
    return (
        F("AJXX/AH", "case/caseNumber", CASE_NUMBER, "案号", True),
        F("AJXX/JDJG", "case/decidingOrgan", CODE, "决定机关代码", True),
        F("AJXX/JDRQ", "case/decisionDate", DATE, "决定日期"),
        F("AJXX/SXRQ", "case/effectiveDate", DATE, "生效日期"),
        F("AJXX/ZM", "case/offence", TEXT, "罪名"),
        F("AJXX/JZLB", "case/correctionType", correction, "矫正类别", True),
        F("AJXX/JZQXQ", "case/supervisionPeriod/start", DATE, "矫正期限起"),
        F("AJXX/JZQXZ", "case/supervisionPeriod/end", DATE, "矫正期限止"),
        F("AJXX/ZXDQH", "case/executionDivision", CODE, "执行地区划代码", True),
    )


CASE = case_fields()


def documents(native: str, canonical: str, label: str, required: bool = False) -> Group:
    """A 材料清单: one CL per document."""
    return Group(native, canonical, (
        F("CLLB", "kind", DOCUMENT_KIND, "材料类别", True),
        F("CLMC", "title", TEXT, "材料名称", True),
        F("WH", "documentNumber", DOCUMENT_NUMBER, "文号"),
        F("HXZ", "sha256", SHA256, "SHA-256 摘要"),
        F("CFDZ", "uri", TEXT, "存放地址"),
    ), label, required)


def _decision(body: str) -> tuple[F | Group, ...]:
    b = body
    return (
        F(f"{b}/WSH", "decision/documentNumber", DOCUMENT_NUMBER, "裁定书或决定书文号", True),
        F(f"{b}/ZCRQ", "decision/decidedOn", DATE, "作出日期", True),
        F(f"{b}/SXRQ", "decision/effectiveOn", DATE, "生效日期", True),
        F(f"{b}/ZXTZSBH", "decision/executionNotice/noticeNumber", DOCUMENT_NUMBER, "执行通知书编号", True),
        F(f"{b}/ZXTZSRQ", "decision/executionNotice/issuedOn", DATE, "执行通知书签发日期", True),
        F(f"{b}/BDQX", "decision/executionNotice/reportBy", DATE, "报到期限"),
        documents(f"{b}/CLQD/CL", "decision/documents/document", "送达材料清单", True),
        F(f"{b}/YFXCS", "decision/originalCustody", CODE, "原服刑场所代码"),
        F(f"{b}/XF", "decision/sentence", TEXT, "刑罚"),
    )


def _transfer(body: str) -> tuple[F | Group, ...]:
    b = body
    return (
        F(f"{b}/JCDQH", "transfer/fromDivision", CODE, "移出地区划代码"),
        F(f"{b}/JSDQH", "transfer/toDivision", CODE, "接收地区划代码"),
        F(f"{b}/JFRQ", "transfer/handoverDate", DATE, "交付日期"),
        F(f"{b}/BGJDSH", "transfer/changeDecisionNumber", DOCUMENT_NUMBER, "变更执行地决定书文号"),
        F(f"{b}/YSJG", "transfer/escortingAgency", CODE, "押送机关代码"),
        documents(f"{b}/DAQD/CL", "transfer/manifest/document", "档案材料清单", True),
        F(f"{b}/BGJDRQ", "transfer/changeDecidedOn", DATE, "变更决定日期"),
        F(f"{b}/JDSDRQ", "transfer/decisionServedOn", DATE, "决定送达日期"),
        F(f"{b}/BDQX", "transfer/reportBy", DATE, "报到期限"),
        F(f"{b}/BZ", "transfer/note", TEXT, "备注"),
    )


COMMON = ENVELOPE + PERSON

SPECS = Specs((
    Spec("1001", "AssessmentCommission", COMMON + CASE + (
        F("PGWT/WTJG", "commission/commissioningOrgan", CODE, "委托机关代码", True),
        F("PGWT/WTRQ", "commission/commissionDate", DATE, "委托日期", True),
        F("PGWT/SFSC", "commission/fastTrack", YES_NO, "是否速裁", True),
        F("PGWT/CBR", "commission/requestedBy", TEXT, "承办人"),
        documents("PGWT/CLQD/CL", "commission/documents/document", "委托材料清单"),
        F("PGWT/BZ", "commission/note", TEXT, "备注"),
    ), label="调查评估委托函"),
    Spec("1101", "SentencingDecision", COMMON + case_fields(PAROLE_ONLY) + _decision("JSCD"),
         fixed={"decision/decisionKind": "RULING", "case/correctionType": "PAROLE"}, label="假释裁定书送达"),
    Spec("1102", "SentencingDecision", COMMON + case_fields(TEMP_OUTSIDE_ONLY) + _decision("ZWJD"),
         fixed={"decision/decisionKind": "DECISION", "case/correctionType": "TEMP_OUTSIDE"},
         label="暂予监外执行决定书送达"),
    Spec("1201", "TransferPapers", COMMON + CASE + _transfer("YSJF"),
         fixed={"transfer/kind": "ESCORTED_HANDOVER"}, label="暂予监外执行罪犯押送交付"),
    Spec("2001", "AssessmentOpinion", COMMON + CASE + (
        F("PGYJ/WTJG", "opinion/commissioningOrgan", CODE, "委托机关代码", True),
        F("PGYJ/PGJL", "opinion/conclusion", CONCLUSION, "评估结论", True),
        F("PGYJ/PGRQ", "opinion/assessedOn", DATE, "评估日期", True),
        F("PGYJ/YJZY", "opinion/summary", TEXT, "评估意见摘要", True),
        documents("PGYJ/CLQD/CL", "opinion/documents/document", "评估材料清单"),
        F("PGYJ/PGDW", "opinion/assessingOffice", TEXT, "调查评估单位"),
    ), label="调查评估意见书"),
    Spec("2101", "DocumentReceipt", COMMON + CASE + (
        F("SDHZ/QSXXBS", "receipt/receiptOf", UUID, "签收消息标识", True),
        F("SDHZ/SDRQ", "receipt/receivedOn", DATE, "收到日期", True),
        F("SDHZ/CLQQ", "receipt/completeness", COMPLETENESS, "材料是否齐全", True),
        Group("SDHZ/BZCL/CL", "receipt/missing", (
            F("CLLB", "kind", DOCUMENT_KIND, "材料类别", True),
            F("CLMC", "title", TEXT, "材料名称", True),
            F("BZYY", "reason", TEXT, "补正原因", True),
            F("WTLX", "problem", DOCUMENT_PROBLEM, "问题类型"),
        ), "需补正材料"),
        F("SDHZ/BZ", "receipt/note", TEXT, "备注"),
    ), label="送达回执"),
    Spec("2102", "ReportingOutcome", COMMON + CASE + (
        F("BDQK/BDJG", "outcome/result", REPORTING, "报到结果", True),
        F("BDQK/BDQX", "outcome/dueDate", DATE, "报到期限", True),
        F("BDQK/BDRQ", "outcome/reportedOn", DATE, "报到日期"),
        F("BDQK/BZ", "outcome/note", TEXT, "备注"),
    ), label="报到情况通报"),
    Spec("2201", "TransferPapers", COMMON + CASE + _transfer("BGYJ"),
         fixed={"transfer/kind": "COUNTY_TRANSFER"}, label="执行地变更移交"),
    Spec("2301", "SupervisionEvent", COMMON + CASE + (
        F("JGSJ/SJLX", "event/kind", EVENT, "事件类型", True),
        F("JGSJ/FSRQ", "event/occurredOn", DATE, "发生日期", True),
        F("JGSJ/JDSH", "event/decisionNumber", DOCUMENT_NUMBER, "决定书文号"),
        F("JGSJ/SJQK", "event/details", TEXT, "事件情况", True),
        F("JGSJ/WCQJ/QSRQ", "event/leave/from", DATE, "外出起始日期"),
        F("JGSJ/WCQJ/JSRQ", "event/leave/to", DATE, "外出结束日期"),
        F("JGSJ/WCQJ/MDD", "event/leave/destination", TEXT, "外出目的地"),
        F("JGSJ/WCQJ/MDDQH", "event/leave/destinationDivision", CODE, "目的地区划代码"),
        F("JGSJ/XJZD/QH", "event/newResidence/divisionCode", CODE, "新居住地区划代码"),
        F("JGSJ/XJZD/XZ", "event/newResidence/address", TEXT, "新居住地详址"),
    ), label="监管事件通报"),
    Spec("2401", "RevocationProposal", COMMON + CASE + (
        F("CXJY/CXLB", "proposal/kind", REVOCATION, "撤销收监类别", True),
        F("CXJY/JYRQ", "proposal/proposedOn", DATE, "建议日期", True),
        F("CXJY/SSLY", "proposal/grounds", TEXT, "事实和理由", True),
        F("CXJY/SFTQDB", "proposal/requestArrest", YES_NO, "是否提请逮捕", True),
        documents("CXJY/ZJCL/CL", "proposal/evidence/document", "证据材料清单"),
        F("CXJY/JYSH", "proposal/documentNumber", DOCUMENT_NUMBER, "建议书文号"),
    ), label="撤销假释、收监执行建议书"),
    Spec("2402", "RevocationDecision", COMMON + CASE + (
        F("CXJD/CXLB", "decision/kind", REVOCATION, "撤销收监类别", True),
        F("CXJD/CLJG", "decision/outcome", OUTCOME, "处理结果", True),
        F("CXJD/JDRQ", "decision/decidedOn", DATE, "决定日期", True),
        F("CXJD/WSH", "decision/documentNumber", DOCUMENT_NUMBER, "裁定书或决定书文号", True),
        F("CXJD/SFZY", "decision/personInCustody", YES_NO, "是否在押", True),
        F("CXJD/SJJG", "decision/returnCustody", CODE, "收监机关代码"),
        F("CXJD/SFJDDB", "decision/arrestOrdered", YES_NO, "是否决定逮捕"),
        F("CXJD/LY", "decision/reason", TEXT, "理由"),
    ), label="撤销假释裁定、收监执行决定书"),
    Spec("2501", "ReleaseNotice", COMMON + CASE + (
        F("JCZZ/JCLX", "release/kind", RELEASE, "解除终止类型", True),
        F("JCZZ/JCRQ", "release/effectiveOn", DATE, "解除终止日期", True),
        F("JCZZ/ZMSBH", "release/certificateNumber", DOCUMENT_NUMBER, "解除社区矫正证明书编号"),
        F("JCZZ/YFXCS", "release/originalCustody", CODE, "原服刑场所代码"),
        F("JCZZ/BZ", "release/note", TEXT, "备注"),
    ), label="解除、终止社区矫正通知书"),
), name="文书类型 (WSLX)")
