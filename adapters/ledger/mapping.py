"""The ledger's 事项 (what a row records) and the columns each one maps to canonical elements.

A ledger row is flat: one cell per column, keyed by its Chinese header. Every row carries the same head
(the envelope, person and case columns); the 事项 word in the row says which canonical type and kind the row
is, and which body columns it fills. Some body columns are shared between 事项 with a meaning that depends on
the 事项: 日期 is the date of the thing recorded (报到日期 for a 报到, 收到日期 for a 回执, 发生日期 for a 警告 …),
文号 the number of its written document, 情况说明 its main text, 备注 its note.

The codecs convert the normal form the column check (``columns.py``) leaves in each cell — dates as
YYYY-MM-DD, code words as the column spec lists them, county names already turned into codes — to canonical
values and back; outbound writes exactly that normal form.
"""

from __future__ import annotations

import datetime as dt

from adapters.kit.mapping import (
    CASE_NUMBER,
    DOCUMENT_KINDS,
    DOCUMENT_NUMBER,
    ID_NUMBER,
    NAME,
    SHANGHAI,
    TEXT,
    Bool,
    Date,
    Enum,
    F,
    Func,
    Group,
    Spec,
    Specs,
)

# ---- formats and code lists ------------------------------------------------------------------------------


def _as_is(value: str) -> str:
    return value


def _beijing(value: str) -> str:
    """A canonical timestamp as Beijing wall-clock time, the way a clerk reads it (seconds kept)."""
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(SHANGHAI)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text}.{moment.microsecond:06d}".rstrip("0") if moment.microsecond else text


DATE = Date("%Y-%m-%d")
TIME = Func("time YYYY-MM-DD HH:MM:SS, Beijing time (an offset may be typed)", _as_is, _beijing)
UUID = Func("UUID, lower-case", _as_is)
AGENCY = Func("agency code, e.g. 530502FY", _as_is)
DIVISION = Func("county code, 6 digits (a 保山 county name is read as its code)", _as_is)
SHA256 = Func("SHA-256 hex, lower-case", _as_is)
YES_NO = Bool("是", "否", aliases={})

SEX = Enum({"男": "MALE", "女": "FEMALE", "未知": "UNKNOWN"}, "性别")
CORRECTION_TYPE = Enum({"管制": "CONTROL", "缓刑": "PROBATION", "假释": "PAROLE", "暂予监外执行": "TEMP_OUTSIDE"},
                       "矫正类别")
DOCUMENT_KIND = Enum(DOCUMENT_KINDS, "文书类型")
COMPLETENESS = Enum({"齐全": "COMPLETE", "不齐全": "INCOMPLETE"}, "材料是否齐全")
DOCUMENT_PROBLEM = Enum({"缺少": "MISSING", "有误": "DEFECTIVE"}, "问题")
CONCLUSION = Enum({"适宜社区矫正": "SUITABLE", "不适宜社区矫正": "UNSUITABLE"}, "评估结论")
CUSTODY_MEASURE = Enum({"刑事拘留": "CRIMINAL_DETENTION", "逮捕": "ARREST", "行政拘留": "ADMINISTRATIVE_DETENTION",
                        "强制隔离戒毒": "COMPULSORY_ISOLATION", "其他强制措施": "OTHER"}, "羁押措施")
OUTCOME = Enum({"准予": "GRANTED", "不予准许": "REFUSED"}, "处理结果")
PURSUIT_STATUS = Enum({"已查找到": "LOCATED", "已抓获羁押": "IN_CUSTODY", "正在查找": "ONGOING", "已结束": "CLOSED"},
                      "查找状态")

# every code list by the name columns.json gives it (a test holds the two equal)
CODE_LISTS: dict[str, Enum] = {
    "性别": SEX, "矫正类别": CORRECTION_TYPE, "文书类型": DOCUMENT_KIND, "材料是否齐全": COMPLETENESS,
    "问题": DOCUMENT_PROBLEM, "评估结论": CONCLUSION, "羁押措施": CUSTODY_MEASURE, "处理结果": OUTCOME,
    "查找状态": PURSUIT_STATUS,
}

# ---- the head every row carries --------------------------------------------------------------------------

ENVELOPE: tuple[F, ...] = (
    F("文书编号", "envelope/senderDocumentId", DOCUMENT_NUMBER, "文书编号", required=True),
    F("消息编号", "envelope/messageId", UUID, "消息编号"),
    F("发送单位", "envelope/sender", AGENCY, "发送单位"),
    F("填报时间", "envelope/sentAt", TIME, "填报时间"),
    F("案件关联号", "envelope/correlationId", TEXT, "案件关联号"),
    F("引用消息编号", "envelope/causationId", UUID, "引用消息编号"),
    F("对象编号", "envelope/personRef", TEXT, "对象编号"),
)

PERSON: tuple[F, ...] = (
    F("姓名", "person/name", NAME, "姓名", required=True),
    F("性别", "person/sex", SEX, "性别", required=True),
    F("身份证号码", "person/idNumber", ID_NUMBER, "身份证号码"),
    F("出生日期", "person/birthDate", DATE, "出生日期"),
    F("居住地区划", "person/residence/divisionCode", DIVISION, "居住地区划"),
    F("居住地址", "person/residence/address", TEXT, "居住地址"),
)

CASE: tuple[F, ...] = (
    F("案号", "case/caseNumber", CASE_NUMBER, "案号", required=True),
    F("决定机关", "case/decidingOrgan", AGENCY, "决定机关", required=True),
    F("决定日期", "case/decisionDate", DATE, "决定日期"),
    F("生效日期", "case/effectiveDate", DATE, "生效日期"),
    F("罪名", "case/offence", TEXT, "罪名"),
    F("矫正类别", "case/correctionType", CORRECTION_TYPE, "矫正类别", required=True),
    F("矫正起始日期", "case/supervisionPeriod/start", DATE, "矫正起始日期"),
    F("矫正终止日期", "case/supervisionPeriod/end", DATE, "矫正终止日期"),
    F("执行地", "case/executionDivision", DIVISION, "执行地", required=True),
)

HEAD: tuple[F, ...] = ENVELOPE + PERSON + CASE

# the fields of one line of a 文书清单 cell (类型｜名称｜文号｜SHA256｜地址) and of a 缺少材料 cell
# (类型｜名称｜原因｜问题)
DOCUMENT_FIELDS: tuple[F, ...] = (
    F("类型", "kind", DOCUMENT_KIND, "文书类型", required=True),
    F("名称", "title", TEXT, "文书名称", required=True),
    F("文号", "documentNumber", DOCUMENT_NUMBER, "文书文号"),
    F("SHA256", "sha256", SHA256, "文件哈希值"),
    F("地址", "uri", TEXT, "文件地址"),
)
MISSING_FIELDS: tuple[F, ...] = (
    F("类型", "kind", DOCUMENT_KIND, "材料类型", required=True),
    F("名称", "title", TEXT, "材料名称", required=True),
    F("原因", "reason", TEXT, "缺少或有误的原因", required=True),
    F("问题", "problem", DOCUMENT_PROBLEM, "问题"),
)


def documents(canonical: str, label: str, required: bool = False) -> Group:
    """The 文书清单 cell as the document list at ``canonical`` (…/documents, transfer/manifest, …)."""
    return Group("文书清单", f"{canonical}/document", DOCUMENT_FIELDS, label, required)


# ---- bodies ----------------------------------------------------------------------------------------------

COMMISSION: tuple[F | Group, ...] = (
    F("日期", "commission/commissionDate", DATE, "委托日期", required=True),
    F("委托机关", "commission/commissioningOrgan", AGENCY, "委托机关", required=True),
    F("是否速裁", "commission/fastTrack", YES_NO, "是否速裁", required=True),
    F("承办人", "commission/requestedBy", TEXT, "承办人"),
    documents("commission/documents", "委托材料"),
    F("备注", "commission/note", TEXT, "备注"),
)

OPINION: tuple[F | Group, ...] = (
    F("日期", "opinion/assessedOn", DATE, "评估日期", required=True),
    F("情况说明", "opinion/summary", TEXT, "评估意见摘要", required=True),
    F("委托机关", "opinion/commissioningOrgan", AGENCY, "委托机关", required=True),
    F("评估结论", "opinion/conclusion", CONCLUSION, "评估结论", required=True),
    F("调查单位", "opinion/assessingOffice", TEXT, "调查单位"),
    documents("opinion/documents", "评估材料"),
)

SENTENCING: tuple[F | Group, ...] = (
    F("日期", "decision/decidedOn", DATE, "作出日期", required=True),
    F("文号", "decision/documentNumber", DOCUMENT_NUMBER, "判决书、裁定书或决定书文号", required=True),
    F("报到期限", "decision/executionNotice/reportBy", DATE, "报到期限"),
    F("文书生效日期", "decision/effectiveOn", DATE, "文书生效日期", required=True),
    F("执行通知书文号", "decision/executionNotice/noticeNumber", DOCUMENT_NUMBER, "执行通知书文号",
      required=True),
    F("执行通知书日期", "decision/executionNotice/issuedOn", DATE, "执行通知书日期", required=True),
    F("刑罚", "decision/sentence", TEXT, "刑罚"),
    F("原羁押机关", "decision/originalCustody", AGENCY, "原羁押机关"),
    documents("decision/documents", "送达文书", required=True),
)

RECEIPT: tuple[F | Group, ...] = (
    F("日期", "receipt/receivedOn", DATE, "收到日期", required=True),
    F("回执对应消息编号", "receipt/receiptOf", UUID, "回执对应消息编号", required=True),
    F("材料是否齐全", "receipt/completeness", COMPLETENESS, "材料是否齐全", required=True),
    Group("缺少材料", "receipt/missing", MISSING_FIELDS, "缺少材料"),
    F("备注", "receipt/note", TEXT, "备注"),
)

REPORTED: tuple[F | Group, ...] = (
    F("日期", "outcome/reportedOn", DATE, "报到日期", required=True),
    F("报到期限", "outcome/dueDate", DATE, "报到期限", required=True),
    F("备注", "outcome/note", TEXT, "备注"),
)
NOT_REPORTED: tuple[F | Group, ...] = (
    F("报到期限", "outcome/dueDate", DATE, "报到期限", required=True),
    F("备注", "outcome/note", TEXT, "备注"),
)

TRANSFER: tuple[F | Group, ...] = (
    F("日期", "transfer/handoverDate", DATE, "交付（移交）日期"),
    F("文号", "transfer/changeDecisionNumber", DOCUMENT_NUMBER, "变更执行地决定书文号"),
    F("报到期限", "transfer/reportBy", DATE, "报到期限"),
    documents("transfer/manifest", "移交材料清单", required=True),
    F("原执行地", "transfer/fromDivision", DIVISION, "原执行地"),
    F("新执行地", "transfer/toDivision", DIVISION, "新执行地"),
    F("押送机关", "transfer/escortingAgency", AGENCY, "押送机关"),
    F("变更决定日期", "transfer/changeDecidedOn", DATE, "变更决定日期"),
    F("决定送达日期", "transfer/decisionServedOn", DATE, "决定送达日期"),
    F("备注", "transfer/note", TEXT, "备注"),
)

CUSTODY: tuple[F | Group, ...] = (
    F("日期", "custody/startedOn", DATE, "羁押开始日期", required=True),
    F("文号", "custody/documentNumber", DOCUMENT_NUMBER, "羁押文书文号"),
    F("情况说明", "custody/reason", TEXT, "羁押原因", required=True),
    F("羁押措施", "custody/measure", CUSTODY_MEASURE, "羁押措施", required=True),
    F("羁押机关", "custody/custodyAgency", AGENCY, "羁押机关"),
    F("羁押结束日期", "custody/endedOn", DATE, "羁押结束日期"),
    F("羁押地点", "custody/place", TEXT, "羁押地点"),
)

EVENT: tuple[F | Group, ...] = (
    F("日期", "event/occurredOn", DATE, "发生日期", required=True),
    F("文号", "event/decisionNumber", DOCUMENT_NUMBER, "决定书文号"),
    F("情况说明", "event/details", TEXT, "事件情况", required=True),
)
LEAVE: tuple[F | Group, ...] = (
    *EVENT,
    F("外出起止日期/起", "event/leave/from", DATE, "外出起始日期", required=True),
    F("外出起止日期/止", "event/leave/to", DATE, "外出结束日期", required=True),
    F("目的地", "event/leave/destination", TEXT, "目的地", required=True),
    F("目的地区划", "event/leave/destinationDivision", DIVISION, "目的地区划"),
)
RESIDENCE_CHANGE: tuple[F | Group, ...] = (
    *EVENT,
    F("新居住地区划", "event/newResidence/divisionCode", DIVISION, "新居住地区划", required=True),
    F("新居住地址", "event/newResidence/address", TEXT, "新居住地址", required=True),
)

PROPOSAL: tuple[F | Group, ...] = (
    F("日期", "proposal/proposedOn", DATE, "建议日期", required=True),
    F("文号", "proposal/documentNumber", DOCUMENT_NUMBER, "建议书文号"),
    F("情况说明", "proposal/grounds", TEXT, "事实和理由", required=True),
    documents("proposal/evidence", "证据材料"),
    F("提请逮捕", "proposal/requestArrest", YES_NO, "是否提请逮捕", required=True),
)

REVOCATION: tuple[F | Group, ...] = (
    F("日期", "decision/decidedOn", DATE, "决定日期", required=True),
    F("文号", "decision/documentNumber", DOCUMENT_NUMBER, "裁定书或决定书文号", required=True),
    F("情况说明", "decision/reason", TEXT, "理由"),
    F("处理结果", "decision/outcome", OUTCOME, "处理结果", required=True),
    F("是否在押", "decision/personInCustody", YES_NO, "是否在押", required=True),
    F("收监机关", "decision/returnCustody", AGENCY, "收监机关"),
    F("决定逮捕", "decision/arrestOrdered", YES_NO, "是否决定逮捕"),
)

_PURSUIT_TAIL: tuple[F | Group, ...] = (
    F("情况说明", "pursuit/details", TEXT, "情况说明", required=True),
    documents("pursuit/documents", "附件材料"),
    F("最后联系日期", "pursuit/lastContactOn", DATE, "最后联系日期"),
    F("最后去向", "pursuit/lastKnownWhereabouts", TEXT, "最后已知去向"),
)
ASSIST_SEARCH: tuple[F | Group, ...] = (
    F("日期", "pursuit/requestedOn", DATE, "提请日期", required=True),
    *_PURSUIT_TAIL,
)
PURSUE_ABSCONDER: tuple[F | Group, ...] = (
    F("日期", "pursuit/requestedOn", DATE, "提请日期", required=True),
    *_PURSUIT_TAIL,
    F("依据文号", "pursuit/basisDocumentNumber", DOCUMENT_NUMBER, "依据文书文号（撤销裁定、收监决定）",
      required=True),
)

PURSUIT_RESULT: tuple[F | Group, ...] = (
    F("日期", "result/reportedOn", DATE, "报告日期", required=True),
    F("情况说明", "result/details", TEXT, "查找情况", required=True),
    F("查找状态", "result/status", PURSUIT_STATUS, "查找状态", required=True),
    F("羁押机关", "result/custodyAgency", AGENCY, "羁押机关"),
    F("查获日期", "result/locatedOn", DATE, "查获日期"),
)

_RELEASE_TAIL: tuple[F | Group, ...] = (
    F("原羁押机关", "release/originalCustody", AGENCY, "原羁押机关（暂予监外执行）"),
    F("备注", "release/note", TEXT, "备注"),
)
RELEASE: tuple[F | Group, ...] = (
    F("日期", "release/effectiveOn", DATE, "解除日期", required=True),
    F("文号", "release/certificateNumber", DOCUMENT_NUMBER, "解除社区矫正证明书编号"),
    *_RELEASE_TAIL,
)
TERMINATION: tuple[F | Group, ...] = (
    F("日期", "release/effectiveOn", DATE, "终止日期", required=True),
    *_RELEASE_TAIL,
)


def _spec(word: str, message_type: str, body: tuple[F | Group, ...], fixed: dict[str, str] | None = None) -> Spec:
    return Spec(word, message_type, HEAD + body, fixed or {}, word)


SPECS = Specs((
    # what the hub delivers to the office (the CSV it downloads), and what it may also enter itself
    _spec("调查评估委托", "AssessmentCommission", COMMISSION),
    _spec("判决送达", "SentencingDecision", SENTENCING, {"decision/decisionKind": "JUDGMENT"}),
    _spec("裁定送达", "SentencingDecision", SENTENCING, {"decision/decisionKind": "RULING"}),
    _spec("决定送达", "SentencingDecision", SENTENCING, {"decision/decisionKind": "DECISION"}),
    _spec("暂外交付", "TransferPapers", TRANSFER, {"transfer/kind": "ESCORTED_HANDOVER"}),
    _spec("羁押通知", "CustodyNotice", CUSTODY),
    _spec("撤销缓刑裁定", "RevocationDecision", REVOCATION, {"decision/kind": "REVOKE_PROBATION"}),
    _spec("撤销假释裁定", "RevocationDecision", REVOCATION, {"decision/kind": "REVOKE_PAROLE"}),
    _spec("收监执行决定", "RevocationDecision", REVOCATION, {"decision/kind": "RECOMMIT_TEMP_OUTSIDE"}),
    _spec("追逃结果", "PursuitResult", PURSUIT_RESULT),
    # what the office reports
    _spec("调查评估意见", "AssessmentOpinion", OPINION),
    _spec("回执", "DocumentReceipt", RECEIPT),
    _spec("报到", "ReportingOutcome", REPORTED, {"outcome/result": "REPORTED"}),
    _spec("逾期报到", "ReportingOutcome", REPORTED, {"outcome/result": "REPORTED_LATE"}),
    _spec("未报到", "ReportingOutcome", NOT_REPORTED, {"outcome/result": "NOT_REPORTED"}),
    _spec("训诫", "SupervisionEvent", EVENT, {"event/kind": "ADMONITION"}),
    _spec("警告", "SupervisionEvent", EVENT, {"event/kind": "WARNING"}),
    _spec("外出请假", "SupervisionEvent", LEAVE, {"event/kind": "LEAVE_APPROVED"}),
    _spec("变更居住地", "SupervisionEvent", RESIDENCE_CHANGE, {"event/kind": "RESIDENCE_CHANGE"}),
    _spec("失去联系", "SupervisionEvent", EVENT, {"event/kind": "LOST_CONTACT"}),
    _spec("恢复联系", "SupervisionEvent", EVENT, {"event/kind": "CONTACT_RESTORED"}),
    _spec("执行地变更移交", "TransferPapers", TRANSFER, {"transfer/kind": "COUNTY_TRANSFER"}),
    _spec("提请撤销缓刑", "RevocationProposal", PROPOSAL, {"proposal/kind": "REVOKE_PROBATION"}),
    _spec("提请撤销假释", "RevocationProposal", PROPOSAL, {"proposal/kind": "REVOKE_PAROLE"}),
    _spec("提请收监执行", "RevocationProposal", PROPOSAL, {"proposal/kind": "RECOMMIT_TEMP_OUTSIDE"}),
    _spec("提请协助查找", "PursuitRequest", ASSIST_SEARCH, {"pursuit/kind": "ASSIST_SEARCH"}),
    _spec("提请追逃", "PursuitRequest", PURSUE_ABSCONDER, {"pursuit/kind": "PURSUE_ABSCONDER"}),
    _spec("解除矫正", "ReleaseNotice", RELEASE, {"release/kind": "RELEASED"}),
    _spec("终止（撤销缓刑、假释）", "ReleaseNotice", TERMINATION, {"release/kind": "TERMINATED_REVOKED"}),
    _spec("终止（收监执行）", "ReleaseNotice", TERMINATION, {"release/kind": "TERMINATED_RECOMMITTED"}),
    _spec("终止（死亡）", "ReleaseNotice", TERMINATION, {"release/kind": "TERMINATED_DEATH"}),
), name="事项")


def columns_of(spec: Spec) -> list[str]:
    """The ledger columns a 事项 fills (a 外出起止日期/起 field is the column 外出起止日期), head first."""
    out: list[str] = []
    for item in spec.fields:
        header = item.native.split("/", 1)[0]
        if header not in out:
            out.append(header)
    return out


def required_columns(spec: Spec) -> list[str]:
    """The columns a row of this 事项 must fill."""
    out: list[str] = []
    for item in spec.fields:
        header = item.native.split("/", 1)[0]
        if item.required and header not in out:
            out.append(header)
    return out
