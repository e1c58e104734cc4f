"""Failed transfers in the console: the list with its filters and search, one transfer whole (with the person's
timeline, its edits and attached files), and its actions: retry, reroute, edit and resubmit (approved by a second
operator), resolve without delivery. The actions are hub.transfer_actions, which the operator API calls too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from lxml import etree
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from hub import payload_views as pv
from hub import transfer_actions as ta
from hub.canonical import NS, parse_tree
from hub.console import cases_data, data
from hub.console.permissions import may
from hub.console.session import actor
from hub.console.ui import Console, diff_rows
from hub.core.facts import legal_day
from hub.core.routing import MESSAGE_TYPES
from hub.operators import Session

WORDS: dict[str, tuple[str, str]] = {
    "fta.reroute": ("改投其他机关", "Reroute to another agency"),
    "fta.reroute_to": ("改投至", "Deliver to"),
    "fta.choose": ("请选择", "choose"),
    "fta.edit": ("编辑后重新提交", "Edit and resubmit"),
    "fta.edit_help": ("修改标准电文后提交；须经另一名有审批权限的操作员批准，"
                      "才作为新电文发给本条的收件机关，原电文保持不变。",
                      "Edit the canonical message and submit it; it is sent to this transfer's recipient as a new "
                      "message only once a second operator who may approve edits approves it. The original stays "
                      "as it was."),
    "fta.payload": ("标准电文（XML）", "Canonical XML"),
    "fta.submit_edit": ("提交审批", "Submit for approval"),
    "fta.resolve": ("不经投递办结", "Resolve without delivery"),
    "fta.scan": ("扫描件（PDF、JPEG 或 PNG，不超过 10 MB，可不附）", "Scan (PDF, JPEG or PNG, up to 10 MB; optional)"),
    "fta.edits": ("修改记录", "Edits"),
    "fta.edit_status.pending": ("待审批", "pending"),
    "fta.edit_status.approved": ("已批准", "approved"),
    "fta.edit_status.rejected": ("已驳回", "rejected"),
    "fta.edit_status.withdrawn": ("已撤销", "withdrawn"),
    "fta.submitted_by": ("提交人", "Submitted by"),
    "fta.decided_by": ("审批人", "Decided by"),
    "fta.note": ("审批意见", "Note"),
    "fta.approve": ("批准并发送", "Approve and send"),
    "fta.reject": ("驳回", "Reject"),
    "fta.own_edit": ("这是您提交的修改，须由另一名操作员审批。",
                     "You submitted this edit: another operator decides on it."),
    "fta.diff": ("与原电文的差异", "Difference from the original"),
    "fta.new_message": ("新电文", "New message"),
    "fta.files": ("附件", "Attachments"),
    "fta.download": ("下载", "Download"),
    "fta.resolution": ("处理结果", "Resolution"),
    "fta.no_timeline": ("暂无该人员的其他记录。", "Nothing else is on record about this person."),
    "fta.this_message": ("本电文", "this message"),
    "fta.problems": ("问题", "Problems"),
    "fta.line": ("行", "Line"),
    "fta.where": ("位置", "Where"),
    "fta.why": ("原因", "Why"),
    "fta.back": ("返回详情", "Back to the transfer"),
    "fta.done.rerouted": ("已改投，新的投递已排队。", "Rerouted: the new delivery is queued."),
    "fta.done.edit_submitted": ("修改已提交，等待另一名操作员审批。", "Edit submitted: waiting for a second operator."),
    "fta.done.edit_approved": ("修改已批准，新电文已发往收件机关。", "Edit approved: the new message is on its way."),
    "fta.done.edit_rejected": ("修改已驳回。", "Edit rejected."),
    "fta.done.edit_withdrawn": ("您已撤回这份修改，可以重新编辑。", "You withdrew the edit; you may edit again."),
    "fta.withdraw": ("撤回我的修改", "Withdraw my edit"),
    "fta.done.resolved": ("已办结（未经投递）。", "Resolved without delivery."),
    "fta.err.reason_required": ("请填写说明。", "A reason is required."),
    "fta.err.reason_too_long": ("说明过长。", "The reason is too long."),
    "fta.err.agency_required": ("请选择改投的机关。", "Choose the agency to deliver to."),
    "fta.err.unknown_agency": ("登记册中没有该机关。", "No such agency in the registry."),
    "fta.err.hub_agency": ("不能改投给平台自身。", "The hub itself is not an agency to deliver to."),
    "fta.err.same_recipient": ("这就是投递失败的收件机关，请选择其他机关。",
                               "That is the recipient that failed; choose another."),
    "fta.err.already_recipient": ("该机关已收到本电文。", "That agency already has this message."),
    "fta.err.may_not_receive": ("该机关不是本电文应送达的机关类别，不能改投。",
                                "That kind of agency may not receive this message instead."),
    "fta.err.already_resolved": ("本条投递失败已处理。", "This failed transfer is already resolved."),
    "fta.err.delivery_in_flight": ("正在投递中，请稍后再试。", "A delivery attempt is in progress; try again in a "
                                   "moment."),
    "fta.err.already_delivered": ("该投递已送达。", "The delivery got through."),
    "fta.err.payload_required": ("电文为空。", "The payload is empty."),
    "fta.err.too_large": ("电文过大。", "The payload is too large."),
    "fta.err.edit_pending": ("已有一份修改等待审批，请先审批或驳回。", "An edit is already waiting for approval; "
                             "approve or reject it first."),
    "fta.err.no_change": ("电文未作修改；如需原样再发，请用“重新投递”。", "Nothing was changed; to send it as it "
                          "is, retry."),
    "fta.err.type_changed": ("不能改变电文类型。", "The message type may not change."),
    "fta.err.sender_changed": ("不能改变发件机关。", "The sender may not change."),
    "fta.err.sender_not_authorised": ("修改后的电文不属于发件机关可以发送的种类。",
                                      "The edited message is not one its sender may send."),
    "fta.err.no_recipient": ("修改后的电文仍找不到新的收件机关。", "The edited message still finds no new "
                             "recipient."),
    "fta.err.not_the_sender": ("只有发文机关或中心操作员可以改投或修改此电文。", "Only the sender or the hub's "
                               "operators may reroute or edit this message."),
    "fta.err.approver_not_operator": ("修改须由登录操作台的操作员审批，不能用接口密钥审批。", "An edit is approved by "
                                      "an operator signed in to the console, not with an API key."),
    "fta.err.not_retried": ("未重新投递。", "Not sent again."),
    "fta.err.own_edit": ("提交人不能批准自己的修改，须由另一名操作员批准。", "You submitted this edit: a second "
                         "operator must approve it."),
    "fta.err.already_decided": ("该修改已审批。", "This edit is already decided."),
    "fta.err.edit_conflict": ("新电文编号冲突，请重新批准。", "The new message's ids clash; approve again."),
    "fta.err.not_submitter": ("只有提交人可以撤回修改；其他操作员请驳回。", "Only the operator who "
                              "submitted an edit may withdraw it; others reject it."),
    "fta.err.note_required": ("驳回须填写意见。", "Say why the edit is rejected."),
    "fta.err.empty_file": ("附件为空。", "The attached file is empty."),
    "fta.err.file_too_large": ("附件超过 10 MB。", "The attached file is over 10 MB."),
    "fta.err.file_type": ("附件须为 PDF、JPEG 或 PNG 文件。", "Attach a PDF, JPEG or PNG file."),
    "fta.err.invalid_payload": ("电文未通过标准电文校验，请按下列位置修改。", "The payload fails the canonical "
                                "checks: see each problem at its place."),
}
DONE = ("retried", "rerouted", "edit_submitted", "edit_approved", "edit_rejected", "edit_withdrawn", "resolved")


def register(api: APIRouter, ui: Console) -> None:
    @api.get("/failed", response_class=HTMLResponse)
    async def failed(request: Request, page_no: int = 1) -> Response:
        session = await ui.gate(request, "view")
        if not isinstance(session, Session):
            return session
        f = data.FailedFilter.of(dict(request.query_params))
        page_no = max(1, page_no)
        found = await run_in_threadpool(data.failed_list, ui.engine, f, scope=ui.scope(session),
                                        now=ui.clock(), limit=data.PAGE, offset=(page_no - 1) * data.PAGE)
        pages = max(1, -(-found["total"] // data.PAGE))
        agencies = sorted(ui.directory.agencies)
        return ui.page(request, session, "failed_list.html", f=f, found=found, page_no=page_no, pages=pages,
                       agencies=agencies, causes=data.CAUSES, ages=list(data.AGES), statuses=data.STATUSES,
                       message_types=sorted(MESSAGE_TYPES), filter_query=urlencode(f.query()))

    async def one_failed(request: Request, ft_id: str, action: str,
                         csrf: str | None = None) -> tuple[Session, dict[str, Any]] | Response:
        """The session and the failed transfer, when the role may take ``action`` and the transfer is in the
        operator's scope; else the page that says why."""
        session = await ui.gate(request, action, csrf)
        if not isinstance(session, Session):
            return session
        ft = await run_in_threadpool(data.failed_one, ui.engine, ft_id, scope=ui.scope(session),
                                     now=ui.clock())
        if ft is None:
            return ui.refused(request, session, "err.not_found", 404)
        return session, ft

    async def form_of(request: Request, action: str) -> tuple[Any, Response | None]:
        """The posted form, read only once the request has a session (a large body is read for no stranger)."""
        if await ui.signed_in(request) is None:
            stop = await ui.gate(request, action)
            if isinstance(stop, Response):
                return None, stop
        return await read_form(request), None

    async def detail(request: Request, session: Session, ft: dict[str, Any], *, status: int = 200, done: str = "",
                     refusal: Exception | None = None, form: dict[str, str] | None = None,
                     reveal: pv.Reason | None = None, reason_refused: str = "") -> HTMLResponse:
        """The transfer's page; its payloads (canonical, raw, the edits' differences, the files) only with
        ``reveal``, the operator's stated reason, and that view is on the record before the page is sent."""
        extra = await run_in_threadpool(_extras, ui, ft, ui.scope(session), actor(session), reveal)
        if reveal is None:  # not even in the template's hands
            ft = {k: v for k, v in ft.items() if k not in ("canonical", "raw")}
        return ui.page(request, session, "failed_detail.html", status=status, ft=ft,
                       done=done if done in DONE else "", refusal=_refusal(refusal), form=form or {}, reveal=reveal,
                       reason_refused=reason_refused, **_reason_form_words(), **extra)

    def after(ft_id: str, done: str) -> Response:
        return RedirectResponse(f"/console/failed/{ft_id}?done={done}", status_code=303)

    async def attempt(request: Request, session: Session, ft: dict[str, Any], call: Callable[[], dict[str, Any]],
                      done: str, form: dict[str, str]) -> Response:
        """Run one action; a refusal shows the transfer again with what was wrong and the operator's input."""
        try:
            result = await run_in_threadpool(call)
        except ta.NotFound:
            return ui.refused(request, session, "err.not_found", 404)
        except ta.Refused as e:
            return await detail(request, session, ft, status=e.status, refusal=e, form=form)
        return after(str(result.get("failed_transfer_id") or ft["id"]), done)

    @api.get("/failed/{ft_id}", response_class=HTMLResponse)
    async def failed_detail(request: Request, ft_id: str, done: str = "") -> Response:
        found = await one_failed(request, ft_id, "view")
        if not isinstance(found, tuple):
            return found
        session, ft = found
        return await detail(request, session, ft, done=done)

    @api.post("/failed/{ft_id}/retry")
    async def failed_retry(request: Request, ft_id: str, csrf: str = Form(""), reason: str = Form("")) -> Response:
        found = await one_failed(request, ft_id, "retry", csrf)
        if not isinstance(found, tuple):
            return found
        session, ft = found

        def retry() -> dict[str, Any]:
            res = ui.hub.retry_failed_transfer(ft_id, actor=actor(session), reason=reason or None)
            if res is None:
                raise ta.NotFound(f"no failed transfer {ft_id}")
            if res.get("note"):  # already resolved, the delivery not failed any more, still no recipient
                raise ta.Refused("not_retried", str(res["note"]), [], 409)
            return res

        return await attempt(request, session, ft, retry, "retried", {})

    @api.post("/failed/{ft_id}/reroute")
    async def failed_reroute(request: Request, ft_id: str, csrf: str = Form(""), agency: str = Form(""),
                             reason: str = Form("")) -> Response:
        found = await one_failed(request, ft_id, "reroute", csrf)
        if not isinstance(found, tuple):
            return found
        session, ft = found
        return await attempt(request, session, ft, lambda: ta.reroute(
            ui.hub, ft_id, agency=agency, reason=reason, actor=actor(session), scope=ui.scope(session)),
            "rerouted", {"agency": agency, "reroute_reason": reason})

    @api.get("/failed/{ft_id}/edit", response_class=HTMLResponse)
    async def failed_edit_form(request: Request, ft_id: str) -> Response:
        found = await one_failed(request, ft_id, "edit_submit")
        if not isinstance(found, tuple):
            return found
        session, ft = found
        if ft["status"] == "resolved":
            return await detail(request, session, ft, status=409, refusal=ta.Refused(
                "already_resolved", f"failed transfer {ft_id} is already resolved"))
        # the editor shows the payload: it opens once the operator has said why (failed_payload, then=edit)
        return ui.page(request, session, "failed_edit.html", ft=ft, text=None, reason="", refusal=None, lines=[],
                       reason_refused="", **_reason_form_words())

    @api.post("/failed/{ft_id}/payload", response_class=HTMLResponse)
    async def failed_payload(request: Request, ft_id: str, csrf: str = Form(""), reason_code: str = Form(""),
                             reason_note: str = Form(""), then: str = Form("")) -> Response:
        """The transfer's page with its payloads (or, with ``then=edit``, the editor filled with the canonical
        message), once the operator has stated why; the view is audited with the reason and what was shown."""
        editing = then == "edit"
        found = await one_failed(request, ft_id, "edit_submit" if editing else "view_payload", csrf)
        if not isinstance(found, tuple):
            return found
        session, ft = found
        if not may(session.operator, "view_payload"):
            return ui.refused(request, session, "err.forbidden", 403)
        try:
            why = pv.stated(reason_code, reason_note)
        except pv.ReasonRefused as e:
            if editing:
                return ui.page(request, session, "failed_edit.html", status=422, ft=ft, text=None, reason="",
                               refusal=None, lines=[], reason_refused=e.code_, **_reason_form_words())
            return await detail(request, session, ft, status=422, reason_refused=e.code_)
        if not editing:
            return await detail(request, session, ft, reveal=why)
        if ft["status"] == "resolved":
            return await detail(request, session, ft, status=409, refusal=ta.Refused(
                "already_resolved", f"failed transfer {ft_id} is already resolved"))
        await run_in_threadpool(lambda: ta.record_payload_view(
            ui.engine, ft_id, actor=actor(session), reason=why, channel="console",
            shown=ta.payload_parts(ft, [], raw=False)))
        return ui.page(request, session, "failed_edit.html", ft=ft, text=ft["canonical"], reason="", refusal=None,
                       lines=[], reason_refused="", reveal=why, **_reason_form_words())

    @api.post("/failed/{ft_id}/edit")
    async def failed_edit(request: Request, ft_id: str) -> Response:
        form, stop = await form_of(request, "edit_submit")
        if stop is not None:
            return stop
        found = await one_failed(request, ft_id, "edit_submit", _field(form, "csrf"))
        if not isinstance(found, tuple):
            return found
        session, ft = found
        text, reason = _field(form, "payload").replace("\r\n", "\n"), _field(form, "reason")
        try:
            await run_in_threadpool(lambda: ta.submit_edit(ui.hub, ft_id, payload=text, reason=reason,
                                                           actor=actor(session), scope=ui.scope(session)))
        except ta.NotFound:
            return ui.refused(request, session, "err.not_found", 404)
        except ta.Refused as e:  # the operator's own text shown back to them: no new view of what is stored
            return ui.page(request, session, "failed_edit.html", status=e.status, ft=ft, text=text, reason=reason,
                           refusal=_refusal(e), lines=_numbered(text, e.problems), reason_refused="",
                           **_reason_form_words())
        return after(ft_id, "edit_submitted")

    @api.post("/failed/{ft_id}/edits/{edit_id}/approve")
    async def failed_edit_approve(request: Request, ft_id: str, edit_id: str, csrf: str = Form(""),
                                  note: str = Form("")) -> Response:
        found = await one_failed(request, ft_id, "edit_approve", csrf)
        if not isinstance(found, tuple):
            return found
        session, ft = found
        return await attempt(request, session, ft, lambda: ta.approve_edit(
            ui.hub, edit_id, actor=actor(session), note=note, scope=ui.scope(session)), "edit_approved",
            {"edit": edit_id, "note": note})

    @api.post("/failed/{ft_id}/edits/{edit_id}/reject")
    async def failed_edit_reject(request: Request, ft_id: str, edit_id: str, csrf: str = Form(""),
                                 note: str = Form("")) -> Response:
        found = await one_failed(request, ft_id, "edit_approve", csrf)
        if not isinstance(found, tuple):
            return found
        session, ft = found
        return await attempt(request, session, ft, lambda: ta.reject_edit(
            ui.hub, edit_id, actor=actor(session), note=note, scope=ui.scope(session)), "edit_rejected",
            {"edit": edit_id, "note": note})

    @api.post("/failed/{ft_id}/edits/{edit_id}/withdraw")
    async def failed_edit_withdraw(request: Request, ft_id: str, edit_id: str, csrf: str = Form("")) -> Response:
        found = await one_failed(request, ft_id, "edit_submit", csrf)
        if not isinstance(found, tuple):
            return found
        session, ft = found
        return await attempt(request, session, ft, lambda: ta.withdraw_edit(
            ui.hub, edit_id, actor=actor(session), note=None, scope=ui.scope(session)), "edit_withdrawn",
            {"edit": edit_id})

    @api.post("/failed/{ft_id}/resolve")
    async def failed_resolve(request: Request, ft_id: str) -> Response:
        form, stop = await form_of(request, "resolve_by_hand")
        if stop is not None:
            return stop
        found = await one_failed(request, ft_id, "resolve_by_hand", _field(form, "csrf"))
        if not isinstance(found, tuple):
            return found
        session, ft = found
        reason = _field(form, "reason")
        upload = form.get("file")
        scan = upload if isinstance(upload, tuple) and (upload[0] or upload[1]) else None
        return await attempt(request, session, ft, lambda: ta.resolve_by_hand(
            ui.hub, ft_id, reason=reason, actor=actor(session), scope=ui.scope(session), file=scan), "resolved",
            {"resolve_reason": reason})

    @api.get("/failed/{ft_id}/files/{file_id}")
    async def failed_file_link(request: Request, ft_id: str, file_id: str) -> Response:
        """A file is downloaded for a stated reason (the form on the transfer's page): a bare link leads there."""
        found = await one_failed(request, ft_id, "view_payload")
        if not isinstance(found, tuple):
            return found
        return RedirectResponse(f"/console/failed/{ft_id}#payload-reason", status_code=303)

    @api.post("/failed/{ft_id}/files/{file_id}")
    async def failed_file(request: Request, ft_id: str, file_id: str, csrf: str = Form(""),
                          reason_code: str = Form(""), reason_note: str = Form("")) -> Response:
        found = await one_failed(request, ft_id, "view_payload", csrf)
        if not isinstance(found, tuple):
            return found
        session, ft = found
        try:
            why = pv.stated(reason_code, reason_note)
        except pv.ReasonRefused as e:
            return await detail(request, session, ft, status=422, reason_refused=e.code_)
        try:
            f = await run_in_threadpool(lambda: ta.get_file(ui.engine, file_id, actor=actor(session),
                                                            scope=ui.scope(session), reason=why, channel="console"))
        except ta.NotFound:
            return ui.refused(request, session, "err.not_found", 404)
        if f["target"] != f"failed_transfer:{ft_id}":
            return ui.refused(request, session, "err.not_found", 404)
        return Response(f["content"], media_type=f["content_type"], headers=ta.download_headers(f))


async def read_form(request: Request) -> dict[str, str | tuple[str, bytes]]:
    """A posted form as text fields and (file name, content) pairs, a file read to one byte past FILE_LIMIT (so
    that a larger one is refused as such); the spooled parts are closed before the action runs."""
    out: dict[str, str | tuple[str, bytes]] = {}
    async with request.form(max_part_size=ta.EDIT_LIMIT + 4096) as form:
        for name, value in form.multi_items():
            if name in out:
                continue
            if isinstance(value, UploadFile):
                out[name] = (value.filename or "", await value.read(ta.FILE_LIMIT + 1))
            else:
                out[name] = value
    return out


def _field(form: Any, name: str) -> str:
    value = form.get(name) if form is not None else None
    return value if isinstance(value, str) else ""


def _refusal(e: Exception | None) -> dict[str, Any] | None:
    """A refusal as a page shows it: the catalogue's words for its code, the message and each problem."""
    if not isinstance(e, ta.Refused):
        return None
    key = f"fta.err.{e.code_}"
    return {"code": e.code_, "key": key if key in WORDS else "fta.err.invalid_payload", "message": e.message,
            "problems": [p.as_dict() for p in e.problems]}


def _numbered(text: str, problems: list[Any]) -> list[dict[str, Any]]:
    """The submitted text line by line, each line with the problems found on it (a problem named only by XPath
    at the line of the element it names)."""
    at: dict[int, list[str]] = {}
    for p in problems:
        line = p.line if p.line is not None else _line_of_path(text, p.path)
        if line is not None:
            at.setdefault(int(line), []).append(f"{p.path or ''} {p.reason}".strip())
    return [{"no": n, "text": line, "problems": at.get(n, [])} for n, line in enumerate(text.split("\n"), start=1)]


def _line_of_path(text: str, path: str | None) -> int | None:
    if not path or not path.startswith("/x:"):
        return None
    try:
        found = parse_tree(text.encode("utf-8")).xpath(path, namespaces={"x": NS})
    except (etree.XMLSyntaxError, etree.XPathError, ValueError):
        return None
    node = found[0] if isinstance(found, list) and found else None
    return node.sourceline if isinstance(node, etree._Element) and isinstance(node.sourceline, int) else None


def _reason_form_words() -> dict[str, Any]:
    """What the form asking why a payload is viewed offers: the preset reasons, and the least of one's own words."""
    return {"pv_codes": list(pv.REASONS), "pv_min": pv.MIN_NOTE}


def _extras(ui: Console, ft: dict[str, Any], scope: str | None, me: str,
            reveal: pv.Reason | None) -> dict[str, Any]:
    """What the detail page shows beside the transfer itself. With ``reveal`` the edits' differences are shown
    too, and the view of the payloads goes on the record first; without it, only what the edits are about."""
    edits = ta.list_edits(ui.engine, ft["id"], scope=scope)
    if reveal is not None:
        ta.record_payload_view(ui.engine, ft["id"], actor=me, reason=reveal, channel="console",
                               shown=ta.payload_parts(ft, edits, raw=ft["raw"] != ft["canonical"]))
    edits = [{k: v for k, v in e.items() if k not in ("payload", "diff")}
             | {"diff_rows": diff_rows(e["diff"]) if reveal is not None else []} for e in edits]
    have = {d["recipient"] for d in ft["deliveries"]}
    may, _meant = ta.receivers(ui.directory, ft["recipient"], ft["canonical"])  # the same rule as ta.reroute's
    choices = [a for code, a in sorted(ui.directory.agencies.items())
               if a.organ_type in may and code not in have and code != ft["recipient"]]
    return {"edits": edits, "pending_edit": any(e["status"] == "pending" for e in edits), "me": me,
            "files": ta.files_of(ui.engine, ft["id"]), "reroute_choices": choices,
            "timeline": cases_data.transfer_timeline(ui.engine, ft, scope=scope, today=legal_day(ui.clock()))}
