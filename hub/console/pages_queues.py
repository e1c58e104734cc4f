"""The console's queues: rejected inputs in quarantine (each problem at its line of the raw input; dismiss with a
reason, or a corrected payload proposed by one operator and sent through the hub's ingest once a second approves
it), discrepancy items (resolve with a note) and identity review items (decide same or not the same, with a
reason). Inputs in quarantine are hostile by definition: they are shown only as escaped text (control and
bidirectional characters made visible) or as a hex preview, under a content security policy that allows no script
at all."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from hub import identity_store, payload_views, register_items
from hub.console import queues_data as qd
from hub.console.permissions import may
from hub.console.session import actor
from hub.console.ui import Console, diff_rows
from hub.core.reconcile_values import CATEGORY_EN, CATEGORY_LABELS, Category
from hub.errors import InvalidMessage
from hub.operators import Session

_SOURCES = {"ledger": ("案件台账", "the case ledger"), "bureau_register": ("社区矫正对象名册", "bureau register"),
            "court_decisions": ("判决、裁定、决定清单", "court decisions"),
            "police_custody": ("在押人员名单", "custody list"),
            "police_wanted": ("网上追逃人员名单", "wanted list"),
            "prison_releases": ("假释、暂予监外执行出监人员名单", "prison releases")}

WORDS: dict[str, tuple[str, str]] = {
    # quarantine
    "qu.title": ("隔离区", "Quarantine"),
    "qu.intro": ("平台拒收的输入，连同拒收原因（行号、XPath）。",
                 "Inputs the hub refused, with the reasons (line, XPath)."),
    "qu.received": ("收到时间", "Received"), "qu.agency": ("来源机关", "From agency"),
    "qu.no_agency": ("未认证", "not authenticated"), "qu.code": ("错误代码", "Error code"),
    "qu.channel": ("渠道", "Channel"), "qu.reviewed": ("处理情况", "Reviewed"),
    "qu.reviewed.no": ("待处理", "not reviewed"), "qu.reviewed.yes": ("已处理", "reviewed"),
    "qu.message": ("原因", "Reason"), "qu.size": ("大小", "Size"),
    "qu.none": ("没有符合条件的拒收输入。", "No input matches."),
    "qu.outcome.dismissed": ("已驳回", "dismissed"), "qu.outcome.resubmitted": ("已更正重发", "resubmitted"),
    "qu.status": ("HTTP 状态", "HTTP status"), "qu.record": ("批量文件中的记录", "Record of a batch"),
    "qu.problems": ("问题", "Problems"), "qu.line": ("行", "line"), "qu.path": ("XPath", "XPath"),
    "qu.located": ("按 XPath 定位", "placed by its XPath"),
    "qu.unplaced": ("无法定位到行的问题", "Problems without a line"),
    "qu.raw": ("原始输入（以文本显示，已转义）", "Raw input (shown as text, escaped)"),
    "qu.raw_lossy": ("输入无法按 UTF-8 或 GB18030 解码，无法解码的字节以 � 显示。",
                     "The input is neither UTF-8 nor GB18030; bytes that do not decode show as �."),
    "qu.binary": ("输入不是文本，以下为前 4096 字节的十六进制预览。",
                  "The input is not text; a hex preview of its first 4096 bytes follows."),
    "qu.encoding": ("编码", "Encoding"),
    "qu.truncated": ("输入过大，仅保留了前 1 MiB。", "The input was too large; only its first 1 MiB is kept."),
    "qu.skipped": ("（省略 {n} 行）", "({n} lines not shown)"),
    "qu.cut": ("……（另有 {n} 个字符）", "… ({n} more characters)"),
    "qu.no_payload_view": ("您的角色不能查看原始输入。", "Your role may not view raw inputs."),
    "qu.dismiss": ("驳回", "Dismiss"), "qu.reason": ("说明", "Reason"),
    "qu.resubmit": ("提交更正，等待审批", "Propose the correction"),
    "qu.resubmit_help": ("按平台接收电文的同一流程校验；经另一名主管批准后，以原机关 {agency} 的名义保存并发送。",
                         "Checked exactly as the hub checks a message; once a second supervisor approves it, it is "
                         "stored and sent as {agency}'s message."),
    "qu.corrections": ("更正记录", "Corrections"),
    "qu.correction.pending": ("待审批", "waiting for approval"), "qu.correction.approved": ("已批准", "approved"),
    "qu.correction.rejected": ("已驳回", "rejected"), "qu.correction.withdrawn": ("已撤回", "withdrawn"),
    "qu.proposed_by": ("提交人", "Proposed by"), "qu.decided_by": ("审批人", "Decided by"),
    "qu.diff": ("与原始输入的差异", "Changes against the raw input"),
    "qu.own_correction": ("这是您提交的更正，须由另一名主管审批。",
                          "You proposed this correction: another supervisor decides on it."),
    "qu.approve": ("批准并发送", "Approve and send"), "qu.reject": ("驳回更正", "Reject"),
    "qu.withdraw": ("撤回我的更正", "Withdraw my correction"), "qu.note": ("意见", "Note"),
    "qu.proposed": ("更正已提交，等待另一名主管审批。", "Correction proposed: waiting for a second supervisor."),
    "qu.rejected": ("更正已驳回。", "Correction rejected."),
    "qu.withdrawn": ("您已撤回更正。", "You withdrew the correction."),
    "qu.err.reason_required": ("请填写更正说明。", "Say why the input is corrected."),
    "qu.err.correction_pending": ("已有一份更正等待审批，请先审批、驳回或撤回。",
                                  "A correction is waiting for approval already: approve, reject or withdraw it "
                                  "first."),
    "qu.err.already_decided": ("该更正已处理。", "This correction is decided already."),
    "qu.err.own_correction": ("提交人不能批准自己的更正，须由另一名主管批准。",
                              "You proposed this correction: a second supervisor approves it."),
    "qu.err.approver_not_operator": ("更正须由登录操作台的操作员批准。",
                                     "A correction is approved by an operator signed in to the console."),
    "qu.err.note_required": ("驳回须填写意见。", "Say why the correction is rejected."),
    "qu.err.not_submitter": ("只有提交人可以撤回更正；其他主管请驳回。",
                             "Only the operator who proposed a correction may withdraw it; others reject it."),
    "qu.err.invalid": ("更正后的电文已不能通过校验（规则可能已变更），未作任何记录：",
                       "The correction no longer passes the checks (the rules may have changed); nothing was "
                       "recorded:"),
    "qu.payload": ("更正后的电文", "Corrected payload"),
    "qu.cannot_resubmit": ("此输入没有可识别的来源机关，不能重发。",
                           "This input came without an agency the hub knows; it cannot be resubmitted."),
    "qu.dismissed": ("已驳回。", "Dismissed."),
    "qu.resubmitted": ("已更正重发，生成电文 {id}。", "Resubmitted as message {id}."),
    "qu.review": ("处理记录", "Review"), "qu.by": ("处理人", "By"), "qu.at": ("时间", "When"),
    "qu.new_message": ("新电文", "New message"),
    "qu.refused": ("更正后的电文仍未通过校验，未作任何记录：",
                   "The corrected payload was refused; nothing was recorded:"),
    "qu.attempt": ("提交的电文及其问题", "The payload submitted, with its problems"),
    "qu.already": ("此输入已处理：", "This input was reviewed already:"),
    "qu.too_large": ("提交的内容过大。", "What was submitted is too large."),
    # discrepancies
    "di.title": ("台账差异", "Discrepancies"),
    "di.category": ("类别", "Category"), "di.acting": ("处理机关", "Must act"),
    "di.confirming": ("确认机关", "Confirms"),
    "di.county": ("县（市、区）", "County"), "di.person": ("人员", "Person"), "di.status": ("状态", "Status"),
    "di.status.open": ("待处理", "open"), "di.status.resolved": ("已解决", "resolved"),
    "di.first_seen": ("首次发现", "First found"), "di.last_seen": ("最近发现", "Last found"),
    "di.none": ("没有符合条件的差异。", "No discrepancy matches."),
    "di.description": ("说明", "Description"), "di.match": ("匹配依据", "Matched by"),
    "di.match.id_number": ("身份证号", "ID number"), "di.match.name_and_birth": ("姓名与出生日期（可信度较低）",
                                                                           "name and birth date (less certain)"),
    "di.match.unmatched": ("未匹配", "unmatched"),
    "di.sides": ("各方记载", "The accounts"), "di.source": ("来源", "Source"), "di.value": ("记载", "Says"),
    "di.row": ("行号", "Row"), "di.as_of": ("截至", "As of"), "di.snapshot": ("上传文件", "File uploaded"),
    "di.reopened": ("重新打开次数", "Reopened"), "di.resolution": ("处理结果", "Resolution"),
    "di.resolved_by": ("处理人", "Resolved by"), "di.resolve": ("标记为已解决", "Resolve"),
    "di.note": ("处理说明", "Note"), "di.note_required": ("请填写处理说明。", "A note is required."),
    "di.resolved": ("已标记为已解决。", "Resolved."),
    "di.already": ("此差异已解决：", "This item was resolved already:"),
    "di.timeline": ("人员时间线", "Person timeline"),
    # identity review
    "id.title": ("身份核查", "Identity review"),
    "id.score": ("相似度", "Score"), "id.reasons": ("判断依据", "Why they may be one person"),
    "id.record_a": ("记录一", "Record A"), "id.record_b": ("记录二", "Record B"),
    "id.status": ("状态", "Status"), "id.status.open": ("待核查", "open"), "id.status.decided": ("已判定", "decided"),
    "id.status.withdrawn": ("已撤回", "withdrawn"), "id.none": ("没有待核查的记录。", "No review item matches."),
    "id.agency": ("机关", "Agency"), "id.record_id": ("机关人员编号", "Agency's key"), "id.name": ("姓名", "Name"),
    "id.id_number": ("身份证号", "ID number"), "id.sex": ("性别", "Sex"), "id.birth_date": ("出生日期", "Birth date"),
    "id.case_numbers": ("案号", "Case numbers"), "id.first_message": ("首条电文", "First message"),
    "id.person": ("关联人员", "Linked person"), "id.how": ("关联方式", "Linked by"),
    "id.created": ("进入队列", "Queued"), "id.decided_by": ("判定人", "Decided by"),
    "id.decide": ("作出判定", "Decide"), "id.same": ("同一人", "The same person"),
    "id.not_same": ("非同一人", "Not the same person"), "id.reason": ("理由", "Reason"),
    "id.judgement_required": ("请选择“同一人”或“非同一人”。", "Choose “the same person” or “not the same person”."),
    "id.reason_required": ("请填写判定理由。", "A reason is required."),
    "id.decided": ("判定已记录，人员关联已更新。", "The decision is recorded and the records are linked anew."),
    "id.redecide": ("更改判定（原判定保留在记录中）", "Change the decision (the earlier one stays on record)"),
    "id.differ": ("两条记录不同之处已标出。", "Where the records differ is marked."),
    "id.withdrawn_note": ("这两条记录已不再疑似，无需判定。", "The records no longer look alike; nothing to decide."),
} | {f"di.cat.{c.value}": (CATEGORY_LABELS[c], CATEGORY_EN[c]) for c in Category} | {
    f"di.src.{k}": v for k, v in _SOURCES.items()}



def _when(item: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The item with its times (ISO text, as the API gives them) as datetimes, for the ``local`` filter."""
    return item | {k: dt.datetime.fromisoformat(item[k]) for k in keys if item.get(k)}


def _pages(total: int) -> int:
    return max(1, -(-total // qd.PAGE))


def register(api: APIRouter, ui: Console) -> None:
    """Add this area's pages to the console."""
    _quarantine(api, ui)
    _discrepancies(api, ui)
    _identity(api, ui)


# ---- quarantine ---------------------------------------------------------------------------------------------

def _quarantine(api: APIRouter, ui: Console) -> None:
    engine = ui.engine

    @api.get("/quarantine", response_class=HTMLResponse)
    async def quarantine_list(request: Request, page_no: int = 1) -> Response:
        session = await ui.gate(request, "view")
        if not isinstance(session, Session):
            return session
        scope = ui.scope(session)
        f = qd.QuarantineFilter.of(dict(request.query_params))
        page_no = max(1, page_no)
        found = await run_in_threadpool(qd.quarantine_list, engine, f, scope=scope, offset=(page_no - 1) * qd.PAGE)
        facets = await run_in_threadpool(qd.quarantine_facets, engine, scope=scope)
        return ui.page(request, session, "quarantine_list.html", f=f, found=found, page_no=page_no,
                       pages=_pages(found["total"]), total=found["total"], facets=facets, scoped=scope,
                       agencies=sorted(ui.directory.agencies), filter_query=urlencode(f.query()))

    async def one(request: Request, qid: str, action: str,
                  csrf: str | None = None) -> tuple[Session, dict[str, Any]] | Response:
        session = await ui.gate(request, action, csrf)
        if not isinstance(session, Session):
            return session
        q = await run_in_threadpool(qd.quarantine_one, engine, qid, scope=ui.scope(session))
        if q is None:
            return ui.refused(request, session, "err.not_found", 404)
        return session, q

    async def show(request: Request, session: Session, q: dict[str, Any], *, status: int = 200,
                   reveal: payload_views.Reason | None = None, **context: Any) -> Response:
        """The entry's page. Its raw input, the corrections' payloads and differences, and the correction form
        filled with the input are shown only with ``reveal``, the operator's stated reason; that view is on the
        record (who, why, each part by size and SHA-256) before the page is sent."""
        view = None
        corrections = await run_in_threadpool(qd.corrections_of, engine, q["id"], q["raw"])
        pending = next((c for c in corrections if c["status"] == "pending"), None)
        if reveal is not None and may(session.operator, "view_payload"):
            why = reveal
            view = await run_in_threadpool(qd.raw_view, q["raw"], q["problems"])
            shown = [payload_views.part("raw", q["raw"])] + [
                payload_views.part("correction", c["payload"], correction_id=c["id"]) for c in corrections]
            await run_in_threadpool(lambda: payload_views.record(
                engine, actor=actor(session), target=f"quarantine:{q['id']}", reason=why, shown=shown,
                channel="console", code=q["code"]))
            context.setdefault("payload_text", pending["payload"] if pending else view.editable)
        else:  # the reasons stay, without the values they quote from the input
            reveal = None
            q = {k: v for k, v in q.items() if k != "raw"} | {
                "message": payload_views.without_values(q["message"] or ""), "problems": [
                    p | {"reason": payload_views.without_values(str(p.get("reason") or ""))} for p in q["problems"]]}
        corrections = [{k: v for k, v in c.items() if k not in ("payload", "diff")}
                       | {"diff_rows": diff_rows(c["diff"]) if reveal is not None else []} for c in corrections]
        pending = next((c for c in corrections if c["status"] == "pending"), None)
        agency = ui.directory.agencies.get(q["agency"] or "")
        return ui.page(request, session, "quarantine_detail.html", status=status, q=q, view=view,
                       resubmittable=agency is not None, corrections=corrections, pending=pending,
                       me=actor(session), reveal=reveal, pv_codes=list(payload_views.REASONS),
                       pv_min=payload_views.MIN_NOTE, **context)

    @api.get("/quarantine/{qid}", response_class=HTMLResponse)
    async def quarantine_detail(request: Request, qid: str, done: str = "") -> Response:
        found = await one(request, qid, "view")
        if not isinstance(found, tuple):
            return found
        return await show(request, *found, done=done)

    @api.post("/quarantine/{qid}/payload", response_class=HTMLResponse)
    async def quarantine_payload(request: Request, qid: str, csrf: str = Form(""), reason_code: str = Form(""),
                                 reason_note: str = Form("")) -> Response:
        """The entry's page with its raw input and corrections shown, once the operator has stated why."""
        found = await one(request, qid, "view_payload", csrf)
        if not isinstance(found, tuple):
            return found
        session, q = found
        try:
            why = payload_views.stated(reason_code, reason_note)
        except payload_views.ReasonRefused as e:
            return await show(request, session, q, status=422, reason_refused=e.code_)
        return await show(request, session, q, reveal=why)

    @api.post("/quarantine/{qid}/dismiss")
    async def quarantine_dismiss(request: Request, qid: str, csrf: str = Form(""), reason: str = Form("")) -> Response:
        found = await one(request, qid, "release_quarantine", csrf)
        if not isinstance(found, tuple):
            return found
        session, q = found
        if not reason.strip():
            return await show(request, session, q, status=422, reason_missing=True)
        try:
            await run_in_threadpool(lambda: qd.dismiss(engine, qid, by=actor(session), reason=reason))
        except qd.AlreadyReviewed as e:
            return await show(request, session, q, status=409, already=str(e))
        return RedirectResponse(f"/console/quarantine/{qid}?done=dismissed", status_code=303)

    @api.post("/quarantine/{qid}/corrections")
    async def quarantine_propose(request: Request, qid: str) -> Response:
        if (stranger := await ui.before_form(request)) is not None:
            return stranger
        limit = int(request.app.state.settings.max_body_bytes)  # as POST /api/v1/messages
        try:  # percent-encoded, a payload's form field is up to three times its size
            form = await request.form(max_part_size=3 * limit + 1024)
        except HTTPException:
            session = await ui.signed_in(request)
            return ui.refused(request, session, "qu.too_large", 413)
        found = await one(request, qid, "correct_quarantine", str(form.get("csrf") or ""))
        if not isinstance(found, tuple):
            return found
        session, q = found
        # a browser sends a textarea's line breaks as CRLF: the payload as the operator typed it has LF
        text = str(form.get("payload") or "").replace("\r\n", "\n")
        reason = str(form.get("reason") or "")
        payload = text.encode("utf-8")
        try:
            await run_in_threadpool(lambda: qd.propose(ui.hub, q, payload, by=actor(session), reason=reason,
                                                       max_bytes=limit))
        except InvalidMessage as e:
            attempt = await run_in_threadpool(qd.raw_view, payload, [p.as_dict() for p in e.problems])
            return await show(request, session, q, status=e.status if 400 <= e.status < 500 else 422,
                              attempt=attempt, refusal=e, payload_text=text, reason_text=reason)
        except qd.AlreadyReviewed as e:
            return await show(request, session, q, status=409, already=str(e))
        except qd.CannotResubmit:
            return await show(request, session, q, status=409, cannot=True)
        except qd.CorrectionRefused as e:
            return await show(request, session, q, status=e.status, correction_refused=e.code, payload_text=text,
                              reason_text=reason)
        return RedirectResponse(f"/console/quarantine/{qid}?done=proposed", status_code=303)

    async def decide(request: Request, qid: str, action: str, csrf: str, call: Any, done: str) -> Response:
        found = await one(request, qid, action, csrf)
        if not isinstance(found, tuple):
            return found
        session, q = found
        try:
            await run_in_threadpool(lambda: call(session))
        except qd.NoSuchCorrection:
            return ui.refused(request, session, "err.not_found", 404)
        except qd.CorrectionRefused as e:
            return await show(request, session, q, status=e.status, correction_refused=e.code)
        except InvalidMessage as e:
            return await show(request, session, q, status=e.status if 400 <= e.status < 500 else 422,
                              correction_refused="invalid", refusal=e)
        except qd.AlreadyReviewed as e:
            return await show(request, session, q, status=409, already=str(e))
        except qd.CannotResubmit:
            return await show(request, session, q, status=409, cannot=True)
        return RedirectResponse(f"/console/quarantine/{qid}?done={done}", status_code=303)

    @api.post("/quarantine/{qid}/corrections/{cid}/approve")
    async def quarantine_approve(request: Request, qid: str, cid: str, csrf: str = Form(""),
                                 note: str = Form("")) -> Response:
        limit = int(request.app.state.settings.max_body_bytes)
        return await decide(request, qid, "release_quarantine", csrf, lambda session: qd.approve(
            ui.hub, cid, by=actor(session), note=note, scope=ui.scope(session), max_bytes=limit, qid=qid),
            "resubmitted")

    @api.post("/quarantine/{qid}/corrections/{cid}/reject")
    async def quarantine_reject(request: Request, qid: str, cid: str, csrf: str = Form(""),
                                note: str = Form("")) -> Response:
        return await decide(request, qid, "release_quarantine", csrf, lambda session: qd.reject(
            engine, cid, by=actor(session), note=note, scope=ui.scope(session), qid=qid), "rejected")

    @api.post("/quarantine/{qid}/corrections/{cid}/withdraw")
    async def quarantine_withdraw(request: Request, qid: str, cid: str, csrf: str = Form("")) -> Response:
        return await decide(request, qid, "correct_quarantine", csrf, lambda session: qd.withdraw(
            engine, cid, by=actor(session), scope=ui.scope(session), qid=qid), "withdrawn")


# ---- discrepancies ------------------------------------------------------------------------------------------

def _discrepancies(api: APIRouter, ui: Console) -> None:
    engine = ui.engine

    @api.get("/discrepancies", response_class=HTMLResponse)
    async def discrepancy_list(request: Request, page_no: int = 1) -> Response:
        session = await ui.gate(request, "view")
        if not isinstance(session, Session):
            return session
        scope = ui.scope(session)
        f = qd.DiscrepancyFilter.of(dict(request.query_params))
        page_no = max(1, page_no)
        found = await run_in_threadpool(qd.discrepancy_list, engine, f, scope=scope, offset=(page_no - 1) * qd.PAGE)
        found["items"] = [_when(i, "first_seen") for i in found["items"]]
        return ui.page(request, session, "discrepancy_list.html", f=f, found=found, page_no=page_no,
                       pages=_pages(found["total"]), total=found["total"], scoped=scope,
                       categories=[c.value for c in Category], statuses=qd.DISCREPANCY_STATUSES,
                       agencies=sorted(ui.directory.agencies), filter_query=urlencode(f.query()))

    async def one(request: Request, item_id: str, action: str,
                  csrf: str | None = None) -> tuple[Session, dict[str, Any]] | Response:
        session = await ui.gate(request, action, csrf)
        if not isinstance(session, Session):
            return session
        item = await run_in_threadpool(qd.discrepancy_one, engine, item_id, scope=ui.scope(session))
        if item is None:
            return ui.refused(request, session, "err.not_found", 404)
        return session, _when(item, "first_seen", "last_seen", "resolved_at")

    @api.get("/discrepancies/{item_id}", response_class=HTMLResponse)
    async def discrepancy_detail(request: Request, item_id: str, done: str = "") -> Response:
        found = await one(request, item_id, "view")
        if not isinstance(found, tuple):
            return found
        session, item = found
        return ui.page(request, session, "discrepancy_detail.html", item=item, done=done)

    @api.post("/discrepancies/{item_id}/resolve")
    async def discrepancy_resolve(request: Request, item_id: str, csrf: str = Form(""),
                                  note: str = Form("")) -> Response:
        found = await one(request, item_id, "resolve_discrepancy", csrf)
        if not isinstance(found, tuple):
            return found
        session, item = found
        if not note.strip():
            return ui.page(request, session, "discrepancy_detail.html", status=422, item=item, note_missing=True)
        try:
            await run_in_threadpool(lambda: register_items.resolve(engine, item_id, by=actor(session),
                                                                   note=note.strip()))
        except register_items.AlreadyResolved as e:
            return ui.page(request, session, "discrepancy_detail.html", status=409, item=item, already=str(e))
        return RedirectResponse(f"/console/discrepancies/{item_id}?done=resolved", status_code=303)


# ---- identity review ----------------------------------------------------------------------------------------

def _identity(api: APIRouter, ui: Console) -> None:
    engine = ui.engine

    @api.get("/identity", response_class=HTMLResponse)
    async def identity_list(request: Request, page_no: int = 1, status: str = "open") -> Response:
        session = await ui.gate(request, "view")
        if not isinstance(session, Session):
            return session
        status = status if status in (*qd.IDENTITY_STATUSES, "any") else "open"
        page_no = max(1, page_no)
        found = await run_in_threadpool(lambda: qd.identity_list(
            engine, status=None if status == "any" else status, scope=ui.scope(session),
            offset=(page_no - 1) * qd.PAGE))
        found["items"] = [_when(i, "created_at") for i in found["items"]]
        return ui.page(request, session, "identity_list.html", found=found, state=status, page_no=page_no,
                       pages=_pages(found["total"]), total=found["total"], statuses=qd.IDENTITY_STATUSES,
                       filter_query=urlencode({"status": status}))

    async def one(request: Request, review_id: str, action: str,
                  csrf: str | None = None) -> tuple[Session, dict[str, Any]] | Response:
        session = await ui.gate(request, action, csrf)
        if not isinstance(session, Session):
            return session
        item = await run_in_threadpool(qd.identity_one, engine, review_id, scope=ui.scope(session))
        if item is None:
            return ui.refused(request, session, "err.not_found", 404)
        return session, _when(item, "created_at", "decided_at")

    @api.get("/identity/{review_id}", response_class=HTMLResponse)
    async def identity_detail(request: Request, review_id: str, done: str = "") -> Response:
        found = await one(request, review_id, "view")
        if not isinstance(found, tuple):
            return found
        session, item = found
        return ui.page(request, session, "identity_detail.html", item=item, done=done)

    @api.post("/identity/{review_id}/decide")
    async def identity_decide(request: Request, review_id: str, csrf: str = Form(""), judgement: str = Form(""),
                              reason: str = Form("")) -> Response:
        found = await one(request, review_id, "decide_identity", csrf)
        if not isinstance(found, tuple):
            return found
        session, item = found
        problem = ("id.judgement_required" if judgement not in ("same", "not_same") else
                   "id.reason_required" if not reason.strip() else
                   "id.withdrawn_note" if item["status"] == "withdrawn" else None)
        if problem is not None:
            return ui.page(request, session, "identity_detail.html", status=422 if "required" in problem else 409,
                           item=item, problem=problem, reason=reason)
        await run_in_threadpool(lambda: identity_store.decide(
            engine, item["a"]["id"], item["b"]["id"], same=judgement == "same", by=actor(session),
            reason=reason.strip()))
        return RedirectResponse(f"/console/identity/{review_id}?done=decided", status_code=303)
