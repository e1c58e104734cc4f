"""A hub with something on every console page, and the pages to look at: an input in quarantine, two discrepancy
items, an identity review, an overdue and a due-soon obligation with a drafted pursuit request, failed transfers
retried by a bulk task, and a person with messages about them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from lxml import etree

from hub import pursuits
from hub.core.calendar import Calendar, CalendarMissing
from hub.store.db import utcnow
from tests.clock import today
from tests.harness import N, auth, make_id, notice, states, wait_until
from tests.test_console_cases import Env, late
from tests.test_console_queues import discrepancies, possible_match

HUB, COURT, BUREAU = "530500ZX", "530502FY", "530581SF"


@dataclass(frozen=True)
class Stop:
    """One page to look at: its screenshot's name, its path, what its heading holds in Chinese and in English
    (None: only that it is there), and what must be visible on it in either language."""

    name: str
    path: str
    zh: str | None = None
    en: str | None = None
    marks: tuple[str, ...] = ()


def reported_soon() -> int | None:
    """How many days ago a judgment took effect for its person's report (due ten days on, moved past days off) to
    be due in one to three days, due soon; None when no working day is that near (a long holiday)."""
    calendar = Calendar.seeded()
    for ahead in (1, 2, 3):
        try:
            if calendar.is_working_day(today() + dt.timedelta(days=ahead)):
                return 10 - ahead
        except CalendarMissing:
            return None
    return None


def quarantined(env: Env) -> str:
    """A court's judgment whose ID number breaks the schema, and a note that is not XML at all: the first's id."""
    def bad_id(root: etree._Element) -> None:
        el = root.find("x:person/x:idNumber", N)
        assert el is not None
        el.text = "ID-530581"

    _, raw = notice("SentencingDecision", sender=COURT, execution_division="530581",
                    id_number=make_id("530581", "19850707", 33), edit=bad_id)
    with env.client() as c:
        first = c.post("/api/v1/messages", content=raw, headers={"Content-Type": "application/xml", **auth(COURT)})
        assert first.status_code == 422, first.text
        second = c.post("/api/v1/messages", content="判决书见附件，请查收。\n".encode(),
                        headers={"Content-Type": "application/xml", **auth(COURT)})
        assert second.status_code == 400, second.text
    return str(first.json()["quarantine_id"])


def bulk_retried(env: Env, message_ids: list[str]) -> str:
    """腾冲's bureau refused the messages; back, it gets them again through one bulk retry: the task's id."""
    with env.client() as c:
        wait_until(lambda: all(states(c, m).get(BUREAU) == "failed" for m in message_ids), what="failed transfers")
        env.recipients.modes[BUREAU] = "ok"
        r = c.post("/api/v1/bulk-tasks", headers=auth(HUB),
                   json={"kind": "retry", "filter": {"recipient": BUREAU}, "reason": "腾冲县司法局系统已恢复"})
        assert r.status_code == 202, r.text
        task = str(r.json()["id"])
        wait_until(lambda: c.get(f"/api/v1/bulk-tasks/{task}", headers=auth(HUB)).json()["status"] == "done",
                   what="the bulk task done")
    return task


def seed(env: Env) -> list[Stop]:
    """Fill the hub behind ``env``; the pages to look at, the audit log last (it then has the others' views)."""
    review = possible_match(env.server, env.engine)
    item = discrepancies(env.engine)[0]
    qid = quarantined(env)
    env.recipients.modes[BUREAU] = "reject"
    overdue, soon = late(21), reported_soon()
    mids = [env.post(c) for c in (overdue, *([late(22, days=soon)] if soon else []))]
    env.projected()
    assert pursuits.refresh_drafts(env.hub, today=today(), now=utcnow()) >= 1
    task = bulk_retried(env, mids)
    return [
        Stop("dashboard", "/console/dashboard", "总览", "Dashboard"),
        Stop("quarantine-list", "/console/quarantine", "隔离区", "Quarantine", ("#qu-table tbody tr",)),
        Stop("quarantine-detail", f"/console/quarantine/{qid}"),
        Stop("discrepancy-list", "/console/discrepancies", "台账差异", "Discrepancies", ("#di-table tbody tr",)),
        Stop("discrepancy-detail", f"/console/discrepancies/{item['id']}", item["name"], item["name"]),
        Stop("identity-list", "/console/identity", "身份核查", "Identity review", ("#id-table tbody tr",)),
        Stop("identity-detail", f"/console/identity/{review['id']}", "杨国富", "杨国富"),
        Stop("obligations", "/console/obligations", "期限事项", "Obligations",
             (".ob-status.ob-overdue", *([".ob-status.ob-due_soon"] if soon else []))),
        Stop("pursuits", "/console/pursuits", "协查草稿", "Pursuit drafts", ("#pu-table tbody tr",)),
        Stop("person", f"/console/persons/{overdue.id_number}", overdue.name, overdue.name, ("#pe-timeline",)),
        Stop("tasks", "/console/tasks"),
        Stop("task-detail", f"/console/tasks/{task}"),
        Stop("audit", "/console/audit", "审计日志", "Audit log", ("#audit-table tbody tr",)),
    ]
