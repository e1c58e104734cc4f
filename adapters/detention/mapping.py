"""The detention-centre system's business types (业务类型, YWLX) and their fields, mapped to canonical messages.

A record (人员信息, RYXX) is flat: every field is a direct child, whatever the business type, and only the
document list nests (文书清单 WSQD/WS). Code lists are written as Chinese words (性别 男/女, 矫正类别 缓刑 …)
except the custody measure (羁押类型, one digit). Dates are YYYYMMDD, times YYYYMMDDHHMMSS Beijing time.
"""

from __future__ import annotations

from adapters.kit import text
from adapters.kit.mapping import (
    CASE_NUMBER,
    CODE,
    DOCUMENT_KINDS,
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

DATE = Date("%Y%m%d")
SENT_AT = DateTime("%Y%m%d%H%M%S")
YES_NO = Bool("是", "否")
UUID = Func("UUID (lower-case hex)", lambda v: text.halfwidth(v).strip().lower())
SHA256 = Func("SHA-256 (lower-case hex)", lambda v: text.halfwidth(v).strip().lower())

SEX = Enum({"男": "MALE", "女": "FEMALE", "未知": "UNKNOWN"}, "性别", aliases={"未说明": "UNKNOWN"})
CORRECTION = Enum({"管制": "CONTROL", "缓刑": "PROBATION", "假释": "PAROLE", "暂予监外执行": "TEMP_OUTSIDE"},
                  "矫正类别")
DOCUMENT_KIND = Enum(DOCUMENT_KINDS, "文书种类")
MEASURE = Enum({"1": "CRIMINAL_DETENTION", "2": "ARREST", "3": "ADMINISTRATIVE_DETENTION", "4": "COMPULSORY_ISOLATION",
                "9": "OTHER"}, "羁押类型代码")
REVOCATION = Enum({"撤销缓刑": "REVOKE_PROBATION", "撤销假释": "REVOKE_PAROLE", "收监执行": "RECOMMIT_TEMP_OUTSIDE"},
                  "撤销收监类别")
OUTCOME = Enum({"准予": "GRANTED", "不予准许": "REFUSED"}, "处理结果")
RELEASE = Enum({"期满解除": "RELEASED", "撤销缓刑假释终止": "TERMINATED_REVOKED",
                "收监执行终止": "TERMINATED_RECOMMITTED", "死亡终止": "TERMINATED_DEATH"}, "解除终止类别")

# the message header (BWT): who sent the message and when, for every record in it
HEADER = (
    F("FSJGDM", "envelope/sender", CODE, "发送机关代码", True),
    F("FSSJ", "envelope/sentAt", SENT_AT, "发送时间", True),
)

ENVELOPE = (
    F("XXID", "envelope/messageId", UUID, "消息ID"),
    F("WSBH", "envelope/senderDocumentId", TEXT, "文书编号", True),
    F("AJGLH", "envelope/correlationId", TEXT, "案件关联号"),
    F("YXXID", "envelope/causationId", UUID, "原消息ID"),
    F("ZYRYBH", "envelope/personRef", TEXT, "在押人员编号"),
)

PERSON = (
    F("XM", "person/name", NAME, "姓名", True),
    F("SFZH", "person/idNumber", ID_NUMBER, "身份证号"),
    F("XB", "person/sex", SEX, "性别", True),
    F("CSRQ", "person/birthDate", DATE, "出生日期"),
    F("XZZQH", "person/residence/divisionCode", CODE, "现住址区划"),
    F("XZZXZ", "person/residence/address", TEXT, "现住址详址"),
)

CASE = (
    F("AH", "case/caseNumber", CASE_NUMBER, "案号", True),
    F("JDJG", "case/decidingOrgan", CODE, "决定机关代码", True),
    F("JDRQ", "case/decisionDate", DATE, "决定日期"),
    F("SXRQ", "case/effectiveDate", DATE, "生效日期"),
    F("ZM", "case/offence", TEXT, "罪名"),
    F("JZLB", "case/correctionType", CORRECTION, "矫正类别", True),
    F("JZQSRQ", "case/supervisionPeriod/start", DATE, "矫正起始日期"),
    F("JZJZRQ", "case/supervisionPeriod/end", DATE, "矫正截止日期"),
    F("ZXDQH", "case/executionDivision", CODE, "执行地区划", True),
)

COMMON = ENVELOPE + PERSON + CASE

TRANSFER = (
    F("YCDQH", "transfer/fromDivision", CODE, "移出地区划"),
    F("JSDQH", "transfer/toDivision", CODE, "接收地区划"),
    F("JFRQ", "transfer/handoverDate", DATE, "交付日期"),
    F("BGJDSH", "transfer/changeDecisionNumber", DOCUMENT_NUMBER, "变更执行地决定书号"),
    F("YSJG", "transfer/escortingAgency", CODE, "押送机关代码"),
    Group("WSQD/WS", "transfer/manifest/document", (
        F("WSZL", "kind", DOCUMENT_KIND, "文书种类", True),
        F("WSMC", "title", TEXT, "文书名称", True),
        F("WSWH", "documentNumber", DOCUMENT_NUMBER, "文号"),
        F("WSZY", "sha256", SHA256, "文件摘要 SHA-256"),
        F("WSDZ", "uri", TEXT, "文件地址"),
    ), "文书清单", required=True),
    F("BGJDRQ", "transfer/changeDecidedOn", DATE, "变更决定日期"),
    F("JDSDRQ", "transfer/decisionServedOn", DATE, "决定送达日期"),
    F("BDQX", "transfer/reportBy", DATE, "报到期限"),
    F("BZ", "transfer/note", TEXT, "备注"),
)

CUSTODY = (
    F("JYLX", "custody/measure", MEASURE, "羁押类型", True),
    F("JYJG", "custody/custodyAgency", CODE, "羁押机关代码"),
    F("RSRQ", "custody/startedOn", DATE, "入所日期", True),
    F("LSRQ", "custody/endedOn", DATE, "离所日期"),
    F("JYCS", "custody/place", TEXT, "羁押场所"),
    F("JYYY", "custody/reason", TEXT, "羁押原因", True),
    F("JYWSH", "custody/documentNumber", DOCUMENT_NUMBER, "羁押文书号"),
)

REVOCATION_DECISION = (
    F("CXLB", "decision/kind", REVOCATION, "撤销收监类别", True),
    F("CLJG", "decision/outcome", OUTCOME, "处理结果", True),
    F("CXRQ", "decision/decidedOn", DATE, "决定日期", True),
    F("CXWSH", "decision/documentNumber", DOCUMENT_NUMBER, "裁定书或决定书号", True),
    F("SFZY", "decision/personInCustody", YES_NO, "是否在押", True),
    F("SJJG", "decision/returnCustody", CODE, "收监机关代码"),
    F("SFDB", "decision/arrestOrdered", YES_NO, "是否决定逮捕"),
    F("CXLY", "decision/reason", TEXT, "理由"),
)

RELEASE_NOTICE = (
    F("JCLB", "release/kind", RELEASE, "解除终止类别", True),
    F("JCRQ", "release/effectiveOn", DATE, "解除终止日期", True),
    F("ZMSBH", "release/certificateNumber", DOCUMENT_NUMBER, "解除矫正证明书编号"),
    F("YJYCS", "release/originalCustody", CODE, "原羁押场所代码"),
    F("BZ", "release/note", TEXT, "备注"),
)

SPECS = Specs((
    Spec("JF01", "TransferPapers", COMMON + TRANSFER, fixed={"transfer/kind": "ESCORTED_HANDOVER"},
         label="暂予监外执行罪犯交付"),
    Spec("JF02", "TransferPapers", COMMON + TRANSFER, fixed={"transfer/kind": "COUNTY_TRANSFER"},
         label="执行地变更移交（抄送）"),
    Spec("JY01", "CustodyNotice", COMMON + CUSTODY, label="社区矫正对象羁押通报"),
    Spec("SJ01", "RevocationDecision", COMMON + REVOCATION_DECISION, label="撤销缓刑假释、收监执行通知"),
    Spec("JC01", "ReleaseNotice", COMMON + RELEASE_NOTICE, label="解除、终止社区矫正通知"),
), name="业务类型 (YWLX)")
