"""The console's words in Chinese (first) and English. A template writes ``t("key")``; a key missing from the
catalogue shows as the key itself, which the console's tests look for. An area of the console brings its own words
(``WORDS``), added with ``extend`` when its pages are registered."""

from __future__ import annotations

LANGS = ("zh", "en")

CATALOGUE: dict[str, tuple[str, str]] = {
    # frame
    "app": ("衔接 · 社区矫正信息交换平台", "Xianjie · community-corrections data exchange"),
    "console": ("操作台", "Console"),
    "nav.dashboard": ("总览", "Dashboard"),
    "nav.failed": ("投递失败", "Failed transfers"),
    "nav.obligations": ("期限事项", "Obligations"),
    "nav.pursuits": ("协查草稿", "Pursuit drafts"),
    "nav.tasks": ("批量任务", "Bulk tasks"),
    "nav.quarantine": ("隔离区", "Quarantine"),
    "nav.discrepancies": ("台账差异", "Discrepancies"),
    "nav.identity": ("身份核查", "Identity review"),
    "nav.audit": ("审计日志", "Audit log"),
    "nav.person": ("人员：身份证号或案号", "Person: ID or case no."),
    "nav.person_page": ("人员时间线", "the person's timeline"),
    "switch_lang": ("English", "中文"),
    "sign_out": ("退出", "Sign out"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "role.operator": ("操作员", "operator"),
    "role.supervisor": ("主管", "supervisor"),
    "role.auditor": ("审计员", "auditor"),
    "role.administrator": ("管理员", "administrator"),
    "print": ("打印", "Print"),
    # sign-in
    "signin.title": ("登录", "Sign in"),
    "signin.username": ("用户名", "User name"),
    "signin.password": ("密码", "Password"),
    "signin.submit": ("登录", "Sign in"),
    "signin.failed": ("用户名或密码错误，或账户已停用、暂时锁定。", "Wrong user name or password, or the account is "
                      "disabled or locked for a while."),
    "signin.expired": ("会话已过期，请重新登录。", "Your session has ended; please sign in again."),
    # dashboard
    "dash.title": ("总览", "Dashboard"),
    "dash.flow": ("近14日各机关收发电文", "Messages in and out per agency, last 14 days"),
    "dash.daily": ("近14日每日收发", "Messages in and out per day, last 14 days"),
    "dash.hub_in": ("收到的电文", "messages received"),
    "dash.hub_out": ("发出的投递", "deliveries made"),
    "dash.in": ("发出", "sent"),
    "dash.out": ("收到", "received"),
    "dash.queue": ("待投递队列", "Delivery queue"),
    "dash.queue_pending": ("待投递", "pending"),
    "dash.queue_delivered": ("已送达未确认", "delivered, not acknowledged"),
    "dash.failed": ("投递失败（按原因、时长）", "Failed transfers by cause and age"),
    "dash.obligations": ("期限事项（按责任机关）", "Obligations per responsible agency"),
    "dash.due_soon": ("即将到期", "due soon"),
    "dash.due_today": ("今日到期", "due today"),
    "dash.overdue": ("已逾期", "overdue"),
    "dash.none": ("暂无", "none"),
    "age.lt1d": ("不足1天", "< 1 day"),
    "age.1to3d": ("1–3天", "1–3 days"),
    "age.3to7d": ("3–7天", "3–7 days"),
    "age.gt7d": ("7天以上", "> 7 days"),
    # failed transfers
    "ft.title": ("投递失败", "Failed transfers"),
    "ft.filter": ("筛选", "Filter"),
    "ft.search": ("姓名、身份证号或案号", "Name, ID number or case number"),
    "ft.agency": ("机关", "Agency"),
    "ft.type": ("电文类型", "Message type"),
    "ft.cause": ("原因", "Cause"),
    "ft.age": ("时长", "Age"),
    "ft.status": ("状态", "Status"),
    "ft.any": ("全部", "any"),
    "ft.created": ("发生时间", "Since"),
    "ft.recipient": ("收件机关", "Recipient"),
    "ft.sender": ("发件机关", "Sender"),
    "ft.person": ("人员", "Person"),
    "ft.case": ("案号", "Case number"),
    "ft.detail": ("详情", "Detail"),
    "ft.none": ("没有符合条件的投递失败记录。", "No failed transfer matches."),
    "ft.retry": ("重新投递", "Retry"),
    "ft.reason": ("说明", "Reason"),
    "ft.attempts": ("投递记录", "Attempts"),
    "ft.payload_raw": ("原始电文", "Raw payload"),
    "ft.payload_canonical": ("标准电文", "Canonical payload"),
    "ft.timeline": ("人员时间线", "Person timeline"),
    "ft.retried": ("已重新投递。", "Sent again."),
    "ft.bulk_retry": ("批量重新投递符合条件的全部记录", "Retry every one that matches, as a bulk task"),
    "cause.no_recipient": ("无收件机关", "no recipient"),
    "cause.rejected": ("对方拒收", "rejected"),
    "cause.retries_exhausted": ("重试用尽", "retries exhausted"),
    "cause.not_collected": ("未被取走", "not collected"),
    "status.open": ("待处理", "open"),
    "status.retrying": ("重新投递中", "retrying"),
    "status.resolved": ("已处理", "resolved"),
    "page.prev": ("上一页", "Previous"),
    "page.next": ("下一页", "Next"),
    "page.of": ("第 {page} 页，共 {total} 条", "page {page}, {total} in all"),
    # audit
    "audit.title": ("审计日志", "Audit log"),
    "audit.at": ("时间", "When"),
    "audit.actor": ("操作人", "Who"),
    "audit.action": ("操作", "Action"),
    "audit.target": ("对象", "Target"),
    "audit.detail": ("内容", "Detail"),
    # errors
    "err.forbidden": ("您的角色不能执行此操作。", "Your role may not do this."),
    "err.not_found": ("没有找到。", "Not found."),
    "err.csrf": ("表单已失效，请刷新页面后重试。", "The form has expired; reload the page and try again."),
    "err.throttled": ("登录失败次数过多，请稍后再试。", "Too many failed sign-ins from this address; try again later."),
    "err.reason_required": ("请填写说明。", "A reason is required."),
    # viewing a payload: only for a stated reason, each view in the audit log (hub.payload_views)
    "pv.title": ("电文内容", "Payload"),
    "pv.help": ("电文内容含有个人信息，须说明查看理由后方可显示；每次查看连同理由记入审计日志。",
                "The payload holds personal data: it is shown once you state why, and each view is written to the "
                "audit log with your reason."),
    "pv.reason": ("查看理由", "Reason for viewing"),
    "pv.choose": ("请选择", "choose"),
    "pv.reason.check_failure": ("核对转递失败原因", "Checking why a transfer failed"),
    "pv.reason.correct_data": ("更正数据", "Correcting the data"),
    "pv.reason.supervision": ("监督检查", "Supervision and inspection"),
    "pv.reason.other": ("其他（请在右侧说明）", "Other (say what beside)"),
    "pv.note": ("补充说明（选“其他”时必填，至少 {n} 个字）", "In your own words (required for “other”, at least {n} "
                "characters)"),
    "pv.show": ("说明理由并查看", "State the reason and view"),
    "pv.open_editor": ("说明理由并打开编辑", "State the reason and edit"),
    "pv.shown": ("已按理由“{reason}”显示电文内容，本次查看已记入审计日志。",
                 "Shown for the reason “{reason}”; this view is in the audit log."),
    "pv.diff_hidden": ("差异内容属于电文内容：请先说明查看理由。", "The difference is part of the payload: state a "
                       "reason to see it."),
    "pv.approve_hidden": ("审批前请先说明查看理由，查看修改差异。", "To decide on the edit, state a reason and read "
                          "its difference first."),
    "pv.edit_first": ("编辑会显示电文内容：请先说明查看理由（已预选“更正数据”）。",
                      "Editing shows the payload: state why first (“correcting the data” is chosen)."),
    "pv.correct_first": ("提交更正须先查看原始输入：请先说明查看理由。",
                         "A correction starts from the raw input: state why you view it first."),
    "pv.err.reason_required": ("请选择查看理由，或填写您自己的理由。", "Choose a reason, or write your own."),
    "pv.err.reason_too_short": ("自填理由至少 {n} 个字。", "A reason in your own words has at least {n} characters."),
    "pv.err.reason_too_long": ("理由过长。", "The reason is too long."),
    "pv.err.reason_unknown": ("没有这个理由选项。", "No such reason."),
}


def extend(words: dict[str, tuple[str, str]]) -> None:
    """Add an area's words (``WORDS`` of a ``hub.console.pages_*`` module); a key defined twice is an error."""
    twice = sorted(k for k, v in words.items() if k in CATALOGUE and CATALOGUE[k] != v)
    if twice:
        raise ValueError(f"console words defined twice: {', '.join(twice)}")
    CATALOGUE.update(words)


def translate(lang: str, key: str, **values: object) -> str:
    pair = CATALOGUE.get(key)
    if pair is None:
        return key
    text = pair[1] if lang == "en" else pair[0]
    return text.format(**values) if values else text
