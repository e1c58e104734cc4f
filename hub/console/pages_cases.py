"""Obligations, pursuit drafts and a person's timeline in the console: the lists with their filters, one obligation
with its notes, a note recorded and a waiver; one pursuit draft with the message it would send, confirmed or
dismissed; everything about one person in order. Each action goes through the same function the operator API
calls (``hub.console.cases_data``), after the role check and the session's CSRF token."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from hub import casework, pursuits
from hub.console import cases_data
from hub.console.i18n import translate
from hub.console.session import actor
from hub.console.ui import Console
from hub.core.facts import legal_day
from hub.errors import Forbidden
from hub.operators import Session

WORDS: dict[str, tuple[str, str]] = {
    # obligations
    "ob.title": ("期限事项", "Obligations"),
    "ob.detail": ("期限事项详情", "Obligation"),
    "ob.state": ("状态", "Status"),
    "ob.state.urgent": ("即将到期、今日到期和已逾期", "due soon, due today and overdue"),
    "ob.state.open": ("全部未履行", "all open"),
    "ob.state.any": ("全部", "any"),
    "ob.status.pending": ("未到期", "pending"),
    "ob.status.due_soon": ("即将到期", "due soon"),
    "ob.status.due_today": ("今日到期", "due today"),
    "ob.status.overdue": ("已逾期", "overdue"),
    "ob.status.met": ("已按期履行", "met"),
    "ob.status.met_late": ("逾期履行", "met late"),
    "ob.status.waived": ("已免除", "waived"),
    "ob.status.calendar_missing": ("缺少工作日历", "calendar missing"),
    "ob.agency": ("机关（义务或权利方）", "Agency (owes or is owed)"),
    "ob.county": ("县（市、区）", "County"),
    "ob.rule": ("事项", "Step"),
    "ob.any": ("全部", "any"),
    "ob.filter": ("筛选", "Filter"),
    "ob.person": ("人员", "Person"),
    "ob.case": ("案号", "Case number"),
    "ob.parties": ("义务机关 → 权利机关", "Owed by → to"),
    "ob.obligor": ("义务机关", "Owed by"),
    "ob.obligee": ("权利机关", "Owed to"),
    "ob.owes": ("应履行", "What discharges it"),
    "ob.due": ("期限", "Due"),
    "ob.days_overdue": ("逾期天数", "Days overdue"),
    "ob.trigger": ("起算日", "Counted from"),
    "ob.trigger_message": ("引起该事项的电文", "Message that opened it"),
    "ob.opened": ("产生时间", "Opened"),
    "ob.basis": ("法律依据", "Legal basis"),
    "ob.met": ("履行", "Met"),
    "ob.waived": ("免除", "Waived"),
    "ob.calendar_year": ("缺少{year}年工作日历", "the {year} calendar is missing"),
    "ob.none": ("没有符合条件的期限事项。", "No obligation matches."),
    "ob.today": ("按{day}计算", "as of {day}"),
    "ob.notes": ("处理记录", "What happened"),
    "ob.no_notes": ("尚无处理记录。", "Nothing recorded yet."),
    "ob.note": ("处理情况", "What happened"),
    "ob.note_hint": ("如：已电话联系本人，约定明日报到", "e.g. called the person, who will report tomorrow"),
    "ob.record": ("记录", "Record"),
    "ob.reason": ("免除理由", "Reason for waiving"),
    "ob.waive": ("免除此事项", "Waive this obligation"),
    "ob.waive_hint": ("免除后该事项不再预警。", "Once waived it raises no more alarms."),
    "ob.noted": ("已记录。", "Recorded."),
    "ob.done_waived": ("已免除。", "Waived."),
    "ob.timeline": ("人员时间线", "Person timeline"),
    "ob.drafts": ("协查草稿", "Pursuit drafts"),
    "ob.by": ("记录人", "By"),
    "ob.at": ("时间", "When"),
    "ob.err.note_required": ("请填写处理情况。", "Write what happened: the note is empty."),
    "ob.err.note_long": ("处理情况过长（最多{max}字）。", "The note is too long (at most {max} characters)."),
    "ob.err.reason_required": ("请填写免除理由。", "A reason is required to waive an obligation."),
    "ob.err.closed": ("该事项已履行或已免除，不能再免除。", "This obligation is already met or waived; it cannot be "
                      "waived."),
    "ob.err.invalid": ("无法免除该事项。", "The obligation cannot be waived."),
    "ob.err.rebuilding": ("台账正在重建，暂不能免除；重建完成后再试。", "The ledger is being rebuilt; waive the "
                          "obligation when the rebuild is done."),
    # pursuit drafts
    "pu.title": ("协查草稿", "Pursuit drafts"),
    "pu.detail": ("协查草稿详情", "Pursuit draft"),
    "pu.status": ("状态", "Status"),
    "pu.any": ("全部", "any"),
    "pu.filter": ("筛选", "Filter"),
    "pu.status.drafted": ("待确认", "waiting for confirmation"),
    "pu.status.confirmed": ("已确认发送", "confirmed and sent"),
    "pu.status.sent": ("已自动发送", "sent automatically"),
    "pu.status.dismissed": ("已驳回", "dismissed"),
    "pu.status.withdrawn": ("已撤回", "withdrawn"),
    "pu.kind": ("类别", "Kind"),
    "pu.kind.assist_search": ("提请协助查找", "request to assist a search"),
    "pu.kind.pursue_absconder": ("提请追逃", "request to pursue an absconder"),
    "pu.drafted": ("起草日期", "Drafted"),
    "pu.person": ("人员", "Person"),
    "pu.case": ("案号", "Case number"),
    "pu.from_to": ("发件机关 → 收件机关", "From → to"),
    "pu.bureau": ("发件机关（司法局）", "From (bureau)"),
    "pu.police": ("收件机关（公安机关）", "To (police)"),
    "pu.why": ("起草原因", "Why drafted"),
    "pu.details": ("请求内容", "The request"),
    "pu.message": ("拟发送的电文", "The message to be sent"),
    "pu.decided": ("处理", "Decision"),
    "pu.obligation": ("对应期限事项", "The obligation it discharges"),
    "pu.confirm": ("确认并发送", "Confirm and send"),
    "pu.confirm_hint": ("确认后平台以本局名义将请求发送至公安机关。",
                        "Once confirmed, the hub sends the request to the police as the bureau's."),
    "pu.dismiss": ("驳回", "Dismiss"),
    "pu.reason": ("驳回理由", "Reason for dismissing"),
    "pu.none": ("没有符合条件的协查草稿。", "No pursuit draft matches."),
    "pu.confirmed": ("已确认，请求已发送。", "Confirmed: the request is sent."),
    "pu.dismissed": ("已驳回。", "Dismissed."),
    "pu.obligation_closed": ("对应期限事项已履行或已免除，该草稿将被撤回，无需确认。",
                             "The obligation it discharges is met or waived: the draft will be withdrawn, there is "
                             "nothing to confirm."),
    "pu.sent_message": ("已发送的电文", "The message sent"),
    "pu.err.reason_required": ("请填写驳回理由。", "A reason is required to dismiss a draft."),
    "pu.err.closed": ("该草稿已处理或已撤回，不能再确认或驳回。", "This draft is already decided or withdrawn."),
    "pu.err.not_bureau": ("该草稿应由其所属司法局处理。", "This draft is its bureau's to decide."),
    "pu.err.invalid": ("无法处理该草稿。", "The draft cannot be decided."),
    # a person
    "pe.title": ("人员时间线", "Person timeline"),
    "pe.search": ("查询人员", "Find a person"),
    "pe.ref": ("身份证号、人员编号或案号", "ID number, person key or case number"),
    "pe.find": ("查询", "Find"),
    "pe.not_found": ("没有找到该人员，或本机关未收发过有关该人员的电文。",
                     "No such person, or none your agency sent or received a message about."),
    "pe.id_number": ("身份证号", "ID number"),
    "pe.person_key": ("人员编号", "Person key"),
    "pe.cases": ("案件", "Cases"),
    "pe.case": ("案号", "Case number"),
    "pe.deciding": ("决定机关", "Deciding organ"),
    "pe.status": ("状态", "Status"),
    "pe.responsible": ("责任机关", "Answering for the person"),
    "pe.obligations": ("期限事项", "Obligations"),
    "pe.drafts": ("协查草稿", "Pursuit drafts"),
    "pe.failed": ("投递失败", "Failed transfers"),
    "pe.timeline": ("时间线", "Timeline"),
    "pe.at": ("时间", "When"),
    "pe.source": ("来源", "Source"),
    "pe.what": ("内容", "What"),
    "pe.who": ("机关或操作人", "Agency or operator"),
    "pe.linked": ("关联记录", "linked record"),
    "pe.none": ("暂无", "none"),
    "pe.source.message": ("电文", "message"),
    "pe.source.delivery": ("投递", "delivery"),
    "pe.source.ledger": ("台账", "ledger"),
    "pe.source.note": ("处理记录", "note"),
    "pe.source.operator": ("操作", "operator"),
    "pe.received": ("收到", "received"),
    "pe.to": ("至", "to"),
    "pe.held_for": ("等待", "waiting for"),
    "pe.kind.routed": ("已分发", "routed"),
    "pe.kind.attempt": ("投递尝试", "attempt"),
    "pe.kind.rescheduled": ("稍后重试", "retry scheduled"),
    "pe.kind.available": ("待对方取件", "waiting in the recipient's inbox"),
    "pe.kind.delivered": ("已送达", "delivered"),
    "pe.kind.acknowledged": ("对方已确认", "acknowledged"),
    "pe.kind.failed": ("投递失败", "failed"),
    "pe.kind.retried": ("重新投递", "retried"),
    "pe.kind.redriven": ("重新派发", "redriven"),
    "pe.kind.held": ("暂缓（等待前序电文）", "held (waiting for an earlier message)"),
    "pe.kind.released": ("放行", "released"),
    "pe.kind.applied": ("记入台账", "applied"),
    "pe.kind.not_applied": ("未记入台账", "not applied"),
    "pe.kind.unreadable": ("无法读取", "unreadable"),
    "pe.kind.obligation_opened": ("产生期限事项", "obligation opened"),
    "pe.kind.obligation_met": ("期限事项已履行", "obligation met"),
    "pe.kind.obligation_waived": ("期限事项已免除", "obligation waived"),
    "pe.kind.obligation_rescheduled": ("期限重新计算", "obligation rescheduled"),
    "pe.kind.note": ("记录处理情况", "note recorded"),
    "pe.kind.obligation_note": ("记录处理情况", "note recorded"),
    "pe.kind.obligation_waive": ("免除期限事项", "obligation waived"),
    "pe.kind.pursuit_confirm": ("确认协查请求", "pursuit request confirmed"),
    "pe.kind.pursuit_dismiss": ("驳回协查草稿", "pursuit draft dismissed"),
    "pe.kind.pursuit_send": ("自动发送协查请求", "pursuit request sent automatically"),
    "pe.kind.pursuit_withdraw": ("撤回协查草稿", "pursuit draft withdrawn"),
    "pe.kind.retry_failed_transfer": ("重新投递", "failed transfer retried"),
}


def register(api: APIRouter, ui: Console) -> None:
    """Add this area's pages to the console."""

    def today() -> dt.date:
        return legal_day(ui.clock())

    def word(session: Session) -> Any:
        """``say(prefix, value)``: the word for ``prefix.value`` in the session's language, else the value."""
        def say(prefix: str, value: str | None) -> str:
            key = f"{prefix}.{(value or '').lower()}"
            text = translate(session.lang, key)
            return (value or "") if text == key else text
        return say

    # ---- obligations ----------------------------------------------------------------------------------------

    @api.get("/obligations", response_class=HTMLResponse)
    async def obligation_list(request: Request, page_no: int = 1) -> Response:
        session = await ui.gate(request, "view")
        if not isinstance(session, Session):
            return session
        f = cases_data.ObligationFilter.of(dict(request.query_params))
        page_no = max(1, page_no)
        day = today()
        found = await run_in_threadpool(cases_data.obligation_list, ui.engine, f, scope=ui.scope(session),
                                        today=day, limit=cases_data.PAGE, offset=(page_no - 1) * cases_data.PAGE)
        return ui.page(request, session, "obligation_list.html", f=f, found=found, page_no=page_no,
                       pages=max(1, -(-found["total"] // cases_data.PAGE)), total=found["total"],
                       states=cases_data.STATES, agencies=sorted(ui.directory.agencies),
                       counties=cases_data.counties(ui.directory), rules=cases_data.rule_titles(), today=day,
                       filter_query=urlencode(f.query()))

    async def one_obligation(request: Request, obligation_id: str, action: str,
                             csrf: str | None = None) -> tuple[Session, dict[str, Any]] | Response:
        session = await ui.gate(request, action, csrf)
        if not isinstance(session, Session):
            return session
        ob = await run_in_threadpool(cases_data.obligation_one, ui.engine, obligation_id, scope=ui.scope(session),
                                     today=today())
        if ob is None:
            return ui.refused(request, session, "err.not_found", 404)
        return session, ob

    def obligation_page(request: Request, session: Session, ob: dict[str, Any], *, status: int = 200,
                        done: str = "", error: str = "", problem: str = "", note: str = "",
                        reason: str = "") -> HTMLResponse:
        return ui.page(request, session, "obligation_detail.html", status=status, ob=ob, done=done, error=error,
                       problem=problem, note=note, reason=reason, today=today(), max_note=cases_data.NOTE_MAX)

    @api.get("/obligations/{obligation_id}", response_class=HTMLResponse)
    async def obligation_detail(request: Request, obligation_id: str, done: str = "") -> Response:
        found = await one_obligation(request, obligation_id, "view")
        if not isinstance(found, tuple):
            return found
        session, ob = found
        return obligation_page(request, session, ob, done=done if done in ("noted", "waived") else "")

    @api.post("/obligations/{obligation_id}/notes")
    async def obligation_note(request: Request, obligation_id: str, csrf: str = Form(""),
                              note: str = Form("")) -> Response:
        found = await one_obligation(request, obligation_id, "record_outcome", csrf)
        if not isinstance(found, tuple):
            return found
        session, ob = found
        try:
            await run_in_threadpool(lambda: cases_data.add_note(ui.engine, obligation_id, note=note,
                                                                by=actor(session), scope=ui.scope(session)))
        except LookupError:
            return ui.refused(request, session, "err.not_found", 404)
        except ValueError as e:
            key = "ob.err.note_required" if not note.strip() else "ob.err.note_long"
            return obligation_page(request, session, ob, status=422, error=key, problem=str(e), note=note)
        return RedirectResponse(f"/console/obligations/{obligation_id}?done=noted", status_code=303)

    @api.post("/obligations/{obligation_id}/waive")
    async def obligation_waive(request: Request, obligation_id: str, csrf: str = Form(""),
                               reason: str = Form("")) -> Response:
        found = await one_obligation(request, obligation_id, "waive", csrf)
        if not isinstance(found, tuple):
            return found
        session, ob = found
        try:
            await run_in_threadpool(lambda: cases_data.waive(ui.engine, obligation_id, reason=reason,
                                                             by=actor(session), scope=ui.scope(session),
                                                             today=today()))
        except casework.LedgerRebuilding as e:
            return obligation_page(request, session, ob, status=409, error="ob.err.rebuilding", problem=str(e),
                                   reason=reason)
        except casework.ObligationClosed as e:
            return obligation_page(request, session, ob, status=409, error="ob.err.closed", problem=str(e))
        except LookupError:
            return ui.refused(request, session, "err.not_found", 404)
        except ValueError as e:
            key = "ob.err.reason_required" if not reason.strip() else "ob.err.invalid"
            return obligation_page(request, session, ob, status=422, error=key, problem=str(e), reason=reason)
        return RedirectResponse(f"/console/obligations/{obligation_id}?done=waived", status_code=303)

    # ---- pursuit drafts -------------------------------------------------------------------------------------

    @api.get("/pursuits", response_class=HTMLResponse)
    async def pursuit_list(request: Request, status: str = "drafted", page_no: int = 1) -> Response:
        session = await ui.gate(request, "view")
        if not isinstance(session, Session):
            return session
        status = status if status in cases_data.DRAFT_STATUSES else "any"
        page_no = max(1, page_no)
        found = await run_in_threadpool(lambda: cases_data.draft_list(
            ui.engine, status=None if status == "any" else status, scope=ui.scope(session),
            limit=cases_data.PAGE, offset=(page_no - 1) * cases_data.PAGE))
        return ui.page(request, session, "pursuit_list.html", found=found, pu_status=status, page_no=page_no,
                       pages=max(1, -(-found["total"] // cases_data.PAGE)), total=found["total"],
                       statuses=cases_data.DRAFT_STATUSES, filter_query=urlencode({"status": status}))

    async def one_draft(request: Request, draft_id: str, action: str,
                        csrf: str | None = None) -> tuple[Session, dict[str, Any]] | Response:
        session = await ui.gate(request, action, csrf)
        if not isinstance(session, Session):
            return session
        draft = await run_in_threadpool(lambda: cases_data.draft_one(ui.engine, draft_id, scope=ui.scope(session),
                                                                     today=today()))
        if draft is None:
            return ui.refused(request, session, "err.not_found", 404)
        return session, draft

    def draft_page(request: Request, session: Session, draft: dict[str, Any], *, status: int = 200, done: str = "",
                   error: str = "", problem: str = "", reason: str = "") -> HTMLResponse:
        return ui.page(request, session, "pursuit_detail.html", status=status, dr=draft, done=done, error=error,
                       problem=problem, reason=reason, say=word(session))

    @api.get("/pursuits/{draft_id}", response_class=HTMLResponse)
    async def pursuit_detail(request: Request, draft_id: str, done: str = "") -> Response:
        found = await one_draft(request, draft_id, "view")
        if not isinstance(found, tuple):
            return found
        session, draft = found
        return draft_page(request, session, draft, done=done if done in ("confirmed", "dismissed") else "")

    async def decide(request: Request, draft_id: str, csrf: str, action: str, reason: str = "") -> Response:
        found = await one_draft(request, draft_id, "confirm_pursuit", csrf)
        if not isinstance(found, tuple):
            return found
        session, draft = found
        scope = ui.scope(session)
        now = ui.clock()

        def run() -> dict[str, Any]:
            agency = cases_data.acting_agency(ui.directory, operator_agency=session.operator.agency, scope=scope)
            if action == "confirm":
                return cases_data.confirm_draft(ui.hub, draft_id, by=actor(session), agency=agency, scope=scope,
                                                now=now)
            return cases_data.dismiss_draft(ui.hub, draft_id, by=actor(session), reason=reason, agency=agency,
                                            scope=scope)

        try:
            await run_in_threadpool(run)
        except LookupError:
            return ui.refused(request, session, "err.not_found", 404)
        except Forbidden as e:
            return draft_page(request, session, draft, status=403, error="pu.err.not_bureau", problem=str(e))
        except pursuits.DraftClosed as e:
            return draft_page(request, session, draft, status=409, error="pu.err.closed", problem=str(e))
        except ValueError as e:
            key = "pu.err.reason_required" if action == "dismiss" and not reason.strip() else "pu.err.invalid"
            return draft_page(request, session, draft, status=422, error=key, problem=str(e), reason=reason)
        return RedirectResponse(f"/console/pursuits/{draft_id}?done={action}ed", status_code=303)

    @api.post("/pursuits/{draft_id}/confirm")
    async def pursuit_confirm(request: Request, draft_id: str, csrf: str = Form("")) -> Response:
        return await decide(request, draft_id, csrf, "confirm")

    @api.post("/pursuits/{draft_id}/dismiss")
    async def pursuit_dismiss(request: Request, draft_id: str, csrf: str = Form(""),
                              reason: str = Form("")) -> Response:
        return await decide(request, draft_id, csrf, "dismiss", reason)

    # ---- a person -------------------------------------------------------------------------------------------

    @api.get("/persons", response_class=HTMLResponse)
    async def person_search(request: Request, ref: str = "") -> Response:
        session = await ui.gate(request, "view")
        if not isinstance(session, Session):
            return session
        ref = ref.strip()
        if ref:
            return RedirectResponse(f"/console/persons/{quote(ref, safe='')}", status_code=303)
        return ui.page(request, session, "person_search.html", ref="", missing=False)

    @api.get("/persons/{ref:path}", response_class=HTMLResponse)
    async def person_timeline(request: Request, ref: str, page_no: int = 1) -> Response:
        session = await ui.gate(request, "view")
        if not isinstance(session, Session):
            return session
        found = await run_in_threadpool(lambda: cases_data.person(ui.engine, ref, scope=ui.scope(session),
                                                                  today=today()))
        if found is None:
            return ui.page(request, session, "person_search.html", status=404, ref=ref, missing=True)
        lines = found["lines"]
        pages = max(1, -(-len(lines) // cases_data.TIMELINE_PAGE))
        page_no = min(max(1, page_no), pages)
        start = (page_no - 1) * cases_data.TIMELINE_PAGE
        return ui.page(request, session, "person_timeline.html", p=found,
                       shown=lines[start:start + cases_data.TIMELINE_PAGE], page_no=page_no, pages=pages,
                       total=len(lines), filter_query="", say=word(session))
