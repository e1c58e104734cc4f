"""The procuratorate's notice types (通知类型) and their field codes (字段代码), as mapping tables.

Every notice (通知, ``<TZ LX="…">``) is a flat list of coded fields (``<ZD DM="XM">``) plus coded field
groups for repeated items (``<ZDZ DM="WSQD">``). The envelope, person and case fields are shared by all
notice types; each type adds the fields of its body. The same tables drive decoding, encoding and the
mapping table of ``docs/agencies/procuratorate.md``.
"""

from __future__ import annotations

from adapters.kit import text
from adapters.kit.mapping import (
    CASE_NUMBER,
    CODE,
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
TIME = DateTime("%Y-%m-%d %H:%M:%S")
YES_NO = Bool("1", "0")
# canonical ids are lower-case; systems that print UUIDs upper-case are still understood
UUID = Func("UUID (lower-case)", lambda v: text.halfwidth(v).strip().lower())
SHA256 = Func("SHA-256, 64 hex digits (lower-case)", lambda v: text.halfwidth(v).strip().lower())

# ---- code lists (代码表) --------------------------------------------------------------------------------

SEX = Enum({"1": "MALE", "2": "FEMALE", "0": "UNKNOWN"}, "性别代码 GB/T 2261.1",
           aliases={"9": "UNKNOWN", "男": "MALE", "女": "FEMALE"})
CORRECTION_TYPE = Enum({"01": "CONTROL", "02": "PROBATION", "03": "PAROLE", "04": "TEMP_OUTSIDE"}, "矫正类别代码",
                       aliases={"1": "CONTROL", "2": "PROBATION", "3": "PAROLE", "4": "TEMP_OUTSIDE"})
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
}, "文书类别代码")
CONCLUSION = Enum({"1": "SUITABLE", "2": "UNSUITABLE"}, "评估意见代码")
COMPLETENESS = Enum({"1": "COMPLETE", "2": "INCOMPLETE"}, "材料齐全代码")
DOCUMENT_PROBLEM = Enum({"1": "MISSING", "2": "DEFECTIVE"}, "材料问题代码")
REPORTING_RESULT = Enum({"1": "REPORTED", "2": "REPORTED_LATE", "3": "NOT_REPORTED"}, "报到情况代码")
CUSTODY_MEASURE = Enum({"1": "CRIMINAL_DETENTION", "2": "ARREST", "3": "ADMINISTRATIVE_DETENTION",
                        "4": "COMPULSORY_ISOLATION", "9": "OTHER"}, "羁押措施代码")
EVENT_KIND = Enum({"1": "ADMONITION", "2": "WARNING", "3": "LEAVE_APPROVED", "4": "RESIDENCE_CHANGE",
                   "5": "LOST_CONTACT", "6": "CONTACT_RESTORED"}, "监管事件代码")
REVOCATION_KIND = Enum({"1": "REVOKE_PROBATION", "2": "REVOKE_PAROLE", "3": "RECOMMIT_TEMP_OUTSIDE"},
                       "撤销收监类型代码")
REVOCATION_OUTCOME = Enum({"1": "GRANTED", "2": "REFUSED"}, "处理结果代码")
PURSUIT_KIND = Enum({"1": "ASSIST_SEARCH", "2": "PURSUE_ABSCONDER"}, "追查类型代码")
PURSUIT_STATUS = Enum({"1": "LOCATED", "2": "IN_CUSTODY", "3": "ONGOING", "4": "CLOSED"}, "追查结果代码")
RELEASE_KIND = Enum({"1": "RELEASED", "2": "TERMINATED_REVOKED", "3": "TERMINATED_RECOMMITTED",
                     "4": "TERMINATED_DEATH"}, "解除终止类型代码")

# ---- shared field lists ---------------------------------------------------------------------------------

ENVELOPE: tuple[F, ...] = (
    F("XXBH", "envelope/messageId", UUID, "消息编号"),
    F("FSJG", "envelope/sender", CODE, "发送机关"),
    F("FSSJ", "envelope/sentAt", TIME, "发送时间"),
    F("TZBH", "envelope/senderDocumentId", TEXT, "通知编号", required=True),
    F("GLBS", "envelope/correlationId", TEXT, "案件关联标识"),
    F("YYXXBH", "envelope/causationId", UUID, "引用消息编号"),
    F("RYBH", "envelope/personRef", TEXT, "人员编号"),
)
PERSON: tuple[F, ...] = (
    F("XM", "person/name", NAME, "姓名", required=True),
    F("SFZHM", "person/idNumber", ID_NUMBER, "身份证号码"),
    F("XB", "person/sex", SEX, "性别", required=True),
    F("CSRQ", "person/birthDate", DATE, "出生日期"),
    F("JZDQH", "person/residence/divisionCode", CODE, "居住地行政区划"),
    F("JZDXZ", "person/residence/address", TEXT, "居住地详址"),
)
CASE: tuple[F, ...] = (
    F("AH", "case/caseNumber", CASE_NUMBER, "案号", required=True),
    F("JDJG", "case/decidingOrgan", CODE, "决定机关", required=True),
    F("JDRQ", "case/decisionDate", DATE, "判决（裁定、决定）日期"),
    F("SXRQ", "case/effectiveDate", DATE, "生效日期"),
    F("ZM", "case/offence", TEXT, "罪名"),
    F("JZLB", "case/correctionType", CORRECTION_TYPE, "矫正类别", required=True),
    F("JZQSRQ", "case/supervisionPeriod/start", DATE, "矫正起始日期"),
    F("JZZZRQ", "case/supervisionPeriod/end", DATE, "矫正终止日期"),
    F("ZXD", "case/executionDivision", CODE, "执行地（行政区划）", required=True),
)
COMMON = ENVELOPE + PERSON + CASE


def documents(native: str, canonical: str, label: str, *, required: bool = False) -> Group:
    """A document list (文书清单): one item per document; ``required``: at least one."""
    return Group(native, f"{canonical}/document", (
        F("WSLB", "kind", DOCUMENT_KIND, "文书类别", required=True),
        F("WSMC", "title", TEXT, "文书名称", required=True),
        F("WH", "documentNumber", TEXT, "文号"),
        F("JYZ", "sha256", SHA256, "文件校验值"),
        F("CFDZ", "uri", TEXT, "存放地址"),
    ), label, required)


MISSING = Group("QSCL", "receipt/missing", (
    F("WSLB", "kind", DOCUMENT_KIND, "文书类别", required=True),
    F("WSMC", "title", TEXT, "文书名称", required=True),
    F("YY", "reason", TEXT, "原因", required=True),
    F("WTLX", "problem", DOCUMENT_PROBLEM, "问题类型"),
), "缺少或有误材料")

# ---- notice types ---------------------------------------------------------------------------------------

COMMISSION = (
    F("WTJG", "commission/commissioningOrgan", CODE, "委托机关", required=True),
    F("WTRQ", "commission/commissionDate", DATE, "委托日期", required=True),
    F("SFSC", "commission/fastTrack", YES_NO, "是否速裁", required=True),
    F("CBR", "commission/requestedBy", TEXT, "承办部门及承办人"),
    documents("WSQD", "commission/documents", "文书清单"),
    F("BZ", "commission/note", TEXT, "备注"),
)
OPINION = (
    F("WTJG", "opinion/commissioningOrgan", CODE, "委托机关", required=True),
    F("PGYJ", "opinion/conclusion", CONCLUSION, "评估意见", required=True),
    F("PGRQ", "opinion/assessedOn", DATE, "评估日期", required=True),
    F("YJZY", "opinion/summary", TEXT, "意见摘要", required=True),
    documents("WSQD", "opinion/documents", "文书清单"),
    F("PGDW", "opinion/assessingOffice", TEXT, "评估单位"),
)
SENTENCING = (
    F("FLWSH", "decision/documentNumber", TEXT, "法律文书号", required=True),
    F("WSRQ", "decision/decidedOn", DATE, "文书作出日期", required=True),
    F("WSSXRQ", "decision/effectiveOn", DATE, "文书生效日期", required=True),
    F("ZXTZSH", "decision/executionNotice/noticeNumber", TEXT, "执行通知书号", required=True),
    F("ZXTZRQ", "decision/executionNotice/issuedOn", DATE, "执行通知书日期", required=True),
    F("BDQX", "decision/executionNotice/reportBy", DATE, "报到期限"),
    documents("WSQD", "decision/documents", "送达文书清单", required=True),
    F("YJYDW", "decision/originalCustody", CODE, "原羁押单位"),
    F("XF", "decision/sentence", TEXT, "刑罚"),
)
RECEIPT = (
    F("HZXXBH", "receipt/receiptOf", UUID, "回执所涉消息编号", required=True),
    F("SDRQ", "receipt/receivedOn", DATE, "收到日期", required=True),
    F("CLQQ", "receipt/completeness", COMPLETENESS, "材料是否齐全", required=True),
    MISSING,
    F("BZ", "receipt/note", TEXT, "备注"),
)
REPORTING = (
    F("BDQK", "outcome/result", REPORTING_RESULT, "报到情况", required=True),
    F("BDQX", "outcome/dueDate", DATE, "报到期限", required=True),
    F("BDRQ", "outcome/reportedOn", DATE, "报到日期"),
    F("BZ", "outcome/note", TEXT, "备注"),
)
TRANSFER = (
    F("YZXD", "transfer/fromDivision", CODE, "原执行地"),
    F("XZXD", "transfer/toDivision", CODE, "新执行地"),
    F("JFRQ", "transfer/handoverDate", DATE, "交付（移送）日期"),
    F("BGJDSH", "transfer/changeDecisionNumber", TEXT, "变更执行地决定书号"),
    F("YSJG", "transfer/escortingAgency", CODE, "押送机关"),
    documents("YJQD", "transfer/manifest", "移交材料清单", required=True),
    F("BGJDRQ", "transfer/changeDecidedOn", DATE, "变更执行地决定日期"),
    F("JDSDRQ", "transfer/decisionServedOn", DATE, "决定送达日期"),
    F("BDQX", "transfer/reportBy", DATE, "报到期限"),
    F("BZ", "transfer/note", TEXT, "备注"),
)
CUSTODY = (
    F("JYCS", "custody/measure", CUSTODY_MEASURE, "羁押措施", required=True),
    F("JYJG", "custody/custodyAgency", CODE, "羁押机关"),
    F("JYKSRQ", "custody/startedOn", DATE, "羁押开始日期", required=True),
    F("JYJSRQ", "custody/endedOn", DATE, "羁押结束日期"),
    F("JYDD", "custody/place", TEXT, "羁押场所"),
    F("JYYY", "custody/reason", TEXT, "羁押原因", required=True),
    F("WH", "custody/documentNumber", TEXT, "文号"),
)
EVENT = (
    F("SJLX", "event/kind", EVENT_KIND, "事件类型", required=True),
    F("FSRQ", "event/occurredOn", DATE, "发生（决定）日期", required=True),
    F("JDSH", "event/decisionNumber", TEXT, "决定书号"),
    F("SJQK", "event/details", TEXT, "事件情况", required=True),
    F("WCQSRQ", "event/leave/from", DATE, "外出起始日期"),
    F("WCJSRQ", "event/leave/to", DATE, "外出结束日期"),
    F("WCMDD", "event/leave/destination", TEXT, "外出目的地"),
    F("WCMDDQH", "event/leave/destinationDivision", CODE, "外出目的地行政区划"),
    F("XJZDQH", "event/newResidence/divisionCode", CODE, "新居住地行政区划"),
    F("XJZDXZ", "event/newResidence/address", TEXT, "新居住地详址"),
)
PROPOSAL = (
    F("CXLX", "proposal/kind", REVOCATION_KIND, "撤销收监类型", required=True),
    F("JYRQ", "proposal/proposedOn", DATE, "建议日期", required=True),
    F("SSLY", "proposal/grounds", TEXT, "事实和理由", required=True),
    F("TQDB", "proposal/requestArrest", YES_NO, "是否提请逮捕", required=True),
    documents("ZJCL", "proposal/evidence", "证据材料"),
    F("JYSH", "proposal/documentNumber", TEXT, "建议书号"),
)
REVOCATION = (
    F("CXLX", "decision/kind", REVOCATION_KIND, "撤销收监类型", required=True),
    F("CLJG", "decision/outcome", REVOCATION_OUTCOME, "处理结果", required=True),
    F("CDRQ", "decision/decidedOn", DATE, "作出日期", required=True),
    F("CDWSH", "decision/documentNumber", TEXT, "裁定（决定）书号", required=True),
    F("SFZY", "decision/personInCustody", YES_NO, "是否在押", required=True),
    F("SJCS", "decision/returnCustody", CODE, "收监场所"),
    F("JDDB", "decision/arrestOrdered", YES_NO, "是否决定逮捕"),
    F("LY", "decision/reason", TEXT, "理由"),
)
PURSUIT = (
    F("ZCLX", "pursuit/kind", PURSUIT_KIND, "追查类型", required=True),
    F("TQRQ", "pursuit/requestedOn", DATE, "提请日期", required=True),
    F("YJWSH", "pursuit/basisDocumentNumber", TEXT, "依据文书号"),
    F("ZHLXRQ", "pursuit/lastContactOn", DATE, "最后联系日期"),
    F("ZHQX", "pursuit/lastKnownWhereabouts", TEXT, "最后已知去向"),
    F("QQNR", "pursuit/details", TEXT, "请求内容", required=True),
    documents("WSQD", "pursuit/documents", "文书清单"),
)
PURSUIT_RESULT = (
    F("ZCJG", "result/status", PURSUIT_STATUS, "追查结果", required=True),
    F("BGRQ", "result/reportedOn", DATE, "报告日期", required=True),
    F("JYJG", "result/custodyAgency", CODE, "羁押机关"),
    F("ZCQK", "result/details", TEXT, "追查情况", required=True),
    F("CHRQ", "result/locatedOn", DATE, "查获日期"),
)
RELEASE = (
    F("JCLX", "release/kind", RELEASE_KIND, "解除终止类型", required=True),
    F("JCRQ", "release/effectiveOn", DATE, "解除（终止）日期", required=True),
    F("ZMSBH", "release/certificateNumber", TEXT, "解除社区矫正证明书编号"),
    F("YJYDW", "release/originalCustody", CODE, "原羁押单位"),
    F("BZ", "release/note", TEXT, "备注"),
)

SPECS = Specs((
    Spec("1101", "AssessmentCommission", COMMON + COMMISSION, label="调查评估委托"),
    Spec("1102", "AssessmentOpinion", COMMON + OPINION, label="调查评估意见"),
    Spec("1201", "SentencingDecision", COMMON + SENTENCING, {"decision/decisionKind": "JUDGMENT"},
         label="判决交付执行"),
    Spec("1202", "SentencingDecision", COMMON + SENTENCING, {"decision/decisionKind": "RULING"},
         label="裁定交付执行（假释等）"),
    Spec("1203", "SentencingDecision", COMMON + SENTENCING, {"decision/decisionKind": "DECISION"},
         label="决定交付执行（暂予监外执行）"),
    Spec("1301", "DocumentReceipt", COMMON + RECEIPT, label="送达回执"),
    Spec("1302", "ReportingOutcome", COMMON + REPORTING, label="报到情况"),
    Spec("1401", "TransferPapers", COMMON + TRANSFER, {"transfer/kind": "ESCORTED_HANDOVER"},
         label="暂予监外执行押送交付"),
    Spec("1402", "TransferPapers", COMMON + TRANSFER, {"transfer/kind": "COUNTY_TRANSFER"},
         label="执行地变更移交"),
    Spec("1501", "CustodyNotice", COMMON + CUSTODY, label="羁押通知"),
    Spec("1502", "SupervisionEvent", COMMON + EVENT, label="监管事件"),
    Spec("1601", "RevocationProposal", COMMON + PROPOSAL, label="撤销缓刑、假释或收监执行建议"),
    Spec("1602", "RevocationDecision", COMMON + REVOCATION, label="撤销缓刑、假释裁定或收监执行决定"),
    Spec("1701", "PursuitRequest", COMMON + PURSUIT, label="提请协助查找、追逃"),
    Spec("1702", "PursuitResult", COMMON + PURSUIT_RESULT, label="协查、追逃结果"),
    Spec("1801", "ReleaseNotice", COMMON + RELEASE, label="解除、终止社区矫正通知"),
), name="通知类型 (notice type)")


def field_codes() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """The field codes (notice level), group codes and item field codes the specs use; the native XSD's
    enumerations list exactly these."""
    fields: set[str] = set()
    groups: set[str] = set()
    items: set[str] = set()
    for spec in SPECS.items:
        for f in spec.fields:
            if isinstance(f, Group):
                groups.add(f.native)
                items.update(x.native for x in f.fields)
            else:
                fields.add(f.native)
    return frozenset(fields), frozenset(groups), frozenset(items)
