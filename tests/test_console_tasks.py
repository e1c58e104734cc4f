"""Bulk tasks through the console and the operator API, on both stacks: failed transfers to a bureau that was down
are retried in bulk once it is back, with progress; pause holds the rest and resume finishes them; cancel leaves the
rest untouched; only supervisors and administrators may start or steer one; each operator sees the tasks of their
own scope; and a worker killed in the middle of an item leaves it untouched, so that no item is retried twice.

The workers' runner calls ``hub.bulk_tasks.run_some``; the tests meter it (``Meter``), so that each step the runner
takes is one the test allowed and a paused or cancelled task is seen not to move while the runner keeps calling."""

from __future__ import annotations

import datetime as dt
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from hub import bulk_tasks
from hub.canonical import load_schema
from hub.registry import load_registry
from hub.service import Hub
from hub.store.db import make_engine
from hub.store.schema import audit_log, events
from tests.conftest import Stack
from tests.console_harness import console_hub, sign_in
from tests.harness import Recipients, auth, make_id, notice, states, wait_until, write_registry
from tests.hubserver import InProcessHub

BUREAU = "530581SF"  # 腾冲's bureau: the recipient that was down
REAL_RUN_SOME = bulk_tasks.run_some


class Meter:
    """Stands in for ``run_some`` in the workers' runner: it works through only as many items as the test allowed,
    and counts the runner's calls."""

    def __init__(self) -> None:
        self.allowance = 0
        self.calls = 0
        self.lock = threading.Lock()

    def allow(self, n: int) -> None:
        with self.lock:
            self.allowance += n

    def __call__(self, hub: Hub, limit: int = 20) -> int:
        with self.lock:
            self.calls += 1
            n = min(limit, self.allowance)
        if n <= 0:
            return 0
        worked = REAL_RUN_SOME(hub, n)
        with self.lock:
            self.allowance -= worked
        return worked

    def idle_for(self, rounds: int) -> None:
        """Wait until the runner has called ``rounds`` more times (each call saw whatever was there to do)."""
        start = self.calls
        wait_until(lambda: self.calls >= start + rounds, what=f"{rounds} more rounds of the runner")


@pytest.fixture
def meter(monkeypatch: pytest.MonkeyPatch) -> Meter:
    m = Meter()
    monkeypatch.setattr(bulk_tasks, "run_some", m)
    return m


@pytest.fixture
def registry(tmp_path: Path, recipients: Recipients) -> Path:
    # 腾冲's procuratorate takes its copies over HTTP here, not from its inbox: with deliveries given up after 0.5 s
    # (below), an inbox copy nobody collects would become a failed transfer not_collected as soon as the sweeper
    # looks, and a task over every open failed transfer would find it or not by the sweeper's timing
    return write_registry(tmp_path / "agencies.toml", recipients_url=recipients.url, drop_root=tmp_path / "drop",
                          transports={"530521GA": "folder", "530581JC": "http"})


@pytest.fixture
def hub(stack: Stack, registry: Path, meter: Meter) -> Iterator[InProcessHub]:
    # a recipient that is down exhausts the retries at once: three attempts in line, then a failed transfer
    accounts = [("su", "supervisor", "530500ZX"), ("zhang", "operator", "530500ZX"), ("tcsup", "supervisor", BUREAU),
                ("tc", "operator", BUREAU), ("ly", "supervisor", "530502SF")]
    with console_hub(stack, registry, accounts, retry={"max_age": dt.timedelta(seconds=0.5)}) as h:
        yield h


@pytest.fixture
def db(hub: InProcessHub) -> Iterator[Engine]:
    engine = make_engine(hub.settings.database_url, pool_size=2)
    yield engine
    engine.dispose()


def stranded(c: httpx.Client, recipients: Recipients, n: int) -> dict[str, str]:
    """``n`` judgments about different persons to 腾冲's bureau while it is down, each a failed transfer with its
    retries exhausted; then the bureau comes back. {failed transfer id: message id}, in the list's order (the
    oldest first)."""
    recipients.modes[BUREAU] = "down"
    mids = []
    for i in range(n):
        mid, xml = notice("SentencingDecision", sender="530502FY", execution_division="530581",
                          id_number=make_id("530581", "19850707", 101 + 2 * i))
        assert c.post("/api/v1/messages", content=xml, headers=auth("530502FY")).status_code == 202
        mids.append(mid)
    wait_until(lambda: all(states(c, m).get(BUREAU) == "failed" for m in mids), what="failed transfers")
    recipients.modes[BUREAU] = "ok"
    listed = c.get("/api/v1/failed-transfers", params={"recipient": BUREAU, "limit": 1000},
                   headers=auth("530500ZX")).json()["items"]
    assert all(f["cause"] == "retries_exhausted" for f in listed)
    assert sorted(f["message_id"] for f in listed) == sorted(mids)
    return {f["id"]: f["message_id"] for f in listed}


def task_of(c: httpx.Client, task_id: str, **params: Any) -> dict[str, Any]:
    r = c.get(f"/api/v1/bulk-tasks/{task_id}", headers=auth("530500ZX"), params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


def start(c: httpx.Client, reason: str | None = None, **f: str) -> dict[str, Any]:
    """A bulk retry through the API with the hub's own key."""
    r = c.post("/api/v1/bulk-tasks", headers=auth("530500ZX"),
               json={"kind": "retry", "filter": {"recipient": BUREAU, **f}, "reason": reason})
    assert r.status_code == 202, r.text
    return dict(r.json())


def retries(db: Engine, ft_id: str) -> list[str]:
    """Who retried one failed transfer, once per retry, as the audit log says."""
    with db.connect() as conn:
        return list(conn.execute(select(audit_log.c.actor).where(
            audit_log.c.action == "retry_failed_transfer", audit_log.c.target == f"failed_transfer:{ft_id}")).scalars())


def audited(db: Engine, action: str, task_id: str) -> list[tuple[str, str | None]]:
    with db.connect() as conn:
        return [(r.actor, r.detail) for r in conn.execute(select(audit_log.c.actor, audit_log.c.detail).where(
            audit_log.c.action == action, audit_log.c.target == f"bulk_task:{task_id}"))]


def test_a_supervisor_retries_every_failed_transfer_to_a_bureau_that_is_back(
        hub: InProcessHub, recipients: Recipients, meter: Meter, db: Engine) -> None:
    with hub.client() as c:
        # Given four failed transfers to a bureau that was down and is back
        fts = stranded(c, recipients, 4)
        csrf = sign_in(c, "su")
        # When a supervisor follows the list's bulk link and confirms
        listing = c.get("/console/failed", params={"recipient": BUREAU, "cause": "retries_exhausted"})
        link = re.search(r'href="(/console/tasks/new\?[^"]*)" id="bulk-retry"', listing.text)
        assert link, "no bulk link for a supervisor"
        confirm = c.get(link.group(1).replace("&amp;", "&"))
        assert confirm.status_code == 200
        assert "当前符合条件的投递失败记录：4 条" in confirm.text
        assert "重试用尽" in confirm.text and BUREAU in confirm.text
        task_form = re.search(r'<form [^>]*id="task-form">(.*?)</form>', confirm.text, re.S)
        assert task_form, "no form to start the task"
        form = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', task_form.group(1)))
        assert form == {"csrf": csrf, "status": "open", "cause": "retries_exhausted", "recipient": BUREAU}
        r = c.post("/console/tasks/new", data={**form, "reason": "腾冲县司法局系统已恢复"})
        assert r.status_code == 303
        task_id = r.headers["location"].rsplit("/", 1)[1]
        # Then the task page shows it running at 0 of 4, refreshing itself, with its buttons
        page = c.get(r.headers["location"])
        assert f'http-equiv="refresh" content="2; url=/console/tasks/{task_id}?page_no=1&amp;poll=1"' in page.text
        assert 'data-done="0" data-total="4"' in page.text
        assert 'id="task-pause"' in page.text and 'id="task-cancel"' in page.text and "进行中" in page.text
        # and when the runner goes on, every one is retried in order and delivered
        meter.allow(1000)
        wait_until(lambda: task_of(c, task_id)["status"] == "done", what="the task done")
        task = task_of(c, task_id)
        assert (task["total"], task["done"], task["failed"]) == (4, 4, 0)
        assert [i["failed_transfer_id"] for i in task["items"]] == list(fts)
        assert {i["state"] for i in task["items"]} == {"done"}
        wait_until(lambda: all(states(c, m)[BUREAU] == "delivered" for m in fts.values()), what="all delivered")
        assert {r.message_id for r in recipients.got(BUREAU)} == set(fts.values())
        page = c.get(f"/console/tasks/{task_id}")
        assert "http-equiv" not in page.text and 'data-done="4" data-total="4"' in page.text
        assert "已完成" in page.text and page.text.count("已重新投递") >= 4 and 'id="task-pause"' not in page.text
        listed = c.get("/console/tasks")
        assert f"/console/tasks/{task_id}" in listed.text and "4/4" in listed.text and "批量重新投递" in listed.text
        # in English too
        c.post("/console/lang", data={"lang": "en", "csrf": csrf, "back": f"/console/tasks/{task_id}"})
        assert "4 of 4 worked through" in c.get(f"/console/tasks/{task_id}").text
    # and it is all on the record: who started it and why, each retry in the task's name, the end
    actor = f"console:su (bulk task {task_id})"
    assert all(retries(db, ft) == [actor] for ft in fts)
    [(who, detail)] = audited(db, "bulk_task_create", task_id)
    assert who == "console:su" and detail is not None and "腾冲县司法局系统已恢复" in detail and '"total": 4' in detail
    assert [a for a, _ in audited(db, "bulk_task_done", task_id)] == [actor]


def test_pause_holds_the_rest_and_resume_finishes_them_fifty_items_to_a_page(
        hub: InProcessHub, recipients: Recipients, meter: Meter, db: Engine) -> None:
    with hub.client() as c:
        fts = stranded(c, recipients, 51)
        ids = list(fts)
        csrf = sign_in(c, "su")
        task_id = start(c)["id"]
        meter.allow(2)
        wait_until(lambda: task_of(c, task_id)["done"] == 2, what="two items done")
        # When the supervisor pauses it
        assert c.post(f"/console/tasks/{task_id}/pause", data={"csrf": csrf}).status_code == 303
        page = c.get(f"/console/tasks/{task_id}")
        assert "已暂停" in page.text and 'id="task-resume"' in page.text and "http-equiv" not in page.text
        # Then the runner, called again and again with room to go on, moves nothing
        meter.allow(1000)
        meter.idle_for(3)
        task = task_of(c, task_id, limit=1000)
        assert (task["status"], task["done"]) == ("paused", 2)
        assert [i["state"] for i in task["items"]] == ["done"] * 2 + ["pending"] * 49
        assert retries(db, ids[2]) == [] and states(c, fts[ids[2]])[BUREAU] == "failed"
        # pausing twice is refused, and says why
        r = c.post(f"/api/v1/bulk-tasks/{task_id}/pause", headers=auth("530500ZX"))
        assert r.status_code == 409 and "paused" in r.json()["error"]["message"]
        # the items, fifty to a page
        first = c.get(f"/console/tasks/{task_id}")
        assert first.text.count('<tr class="item-') == 50 and 'id="next-page"' in first.text
        second = c.get(f"/console/tasks/{task_id}", params={"page_no": 2})
        assert second.text.count('<tr class="item-') == 1 and f"/console/failed/{ids[50]}" in second.text
        # When resumed, it finishes from where it stopped
        assert c.post(f"/console/tasks/{task_id}/resume", data={"csrf": csrf}).status_code == 303
        wait_until(lambda: task_of(c, task_id)["status"] == "done", what="the task done")
        assert task_of(c, task_id)["done"] == 51
        assert all(len(retries(db, ft)) == 1 for ft in ids)
        wait_until(lambda: all(states(c, m)[BUREAU] == "delivered" for m in fts.values()), what="all delivered")
    assert [a for a, _ in audited(db, "bulk_task_pause", task_id)] == ["console:su"]
    assert [a for a, _ in audited(db, "bulk_task_resume", task_id)] == ["console:su"]


def test_cancel_leaves_the_rest_untouched(hub: InProcessHub, recipients: Recipients, meter: Meter,
                                         db: Engine) -> None:
    with hub.client() as c:
        fts = stranded(c, recipients, 4)
        ids = list(fts)
        csrf = sign_in(c, "su")
        task_id = start(c, reason="试一条")["id"]
        meter.allow(1)
        wait_until(lambda: task_of(c, task_id)["done"] == 1, what="one item done")
        # When the supervisor cancels it (through the API, with the session's CSRF token)
        assert c.post(f"/api/v1/bulk-tasks/{task_id}/cancel").status_code == 403  # no CSRF token
        r = c.post(f"/api/v1/bulk-tasks/{task_id}/cancel", headers={"x-csrf-token": csrf})
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        meter.allow(1000)
        meter.idle_for(3)
        # Then the first was retried and delivered, and the other three are as they were
        task = task_of(c, task_id)
        assert (task["status"], task["done"]) == ("cancelled", 1) and task["finished_at"]
        assert [i["state"] for i in task["items"]] == ["done", "pending", "pending", "pending"]
        wait_until(lambda: states(c, fts[ids[0]])[BUREAU] == "delivered", what="the first delivered")
        for ft in ids[1:]:
            assert retries(db, ft) == [] and states(c, fts[ft])[BUREAU] == "failed"
        assert {r.message_id for r in recipients.got(BUREAU)} == {fts[ids[0]]}
        open_now = c.get("/api/v1/failed-transfers", params={"recipient": BUREAU}, headers=auth("530500ZX"))
        assert {f["id"] for f in open_now.json()["items"]} == set(ids[1:])
        # a cancelled task cannot be resumed; the page says why
        r = c.post(f"/console/tasks/{task_id}/resume", data={"csrf": csrf})
        assert r.status_code == 409 and "任务当前已取消，不能继续" in r.text
        assert 'id="task-resume"' not in c.get(f"/console/tasks/{task_id}").text
    assert [a for a, _ in audited(db, "bulk_task_cancel", task_id)] == ["console:su"]


def test_only_supervisors_and_administrators_start_or_steer_a_task(hub: InProcessHub, recipients: Recipients,
                                                                   meter: Meter) -> None:
    with hub.client() as c:
        stranded(c, recipients, 2)
        task_id = start(c)["id"]
    with hub.client() as c:
        csrf = sign_in(c, "zhang")  # an operator of the joint-meeting office
        listing = c.get("/console/failed", params={"recipient": BUREAU})
        assert listing.status_code == 200 and "/console/failed/" in listing.text
        assert 'id="bulk-retry"' not in listing.text
        assert c.get("/console/tasks/new", params={"recipient": BUREAU}).status_code == 403
        assert c.post("/console/tasks/new", data={"csrf": csrf, "recipient": BUREAU}).status_code == 403
        # the task is there to read, without its buttons
        page = c.get(f"/console/tasks/{task_id}")
        assert page.status_code == 200 and "进行中" in page.text
        assert not re.search(r'id="task-(pause|resume|cancel)"', page.text)
        assert c.post(f"/console/tasks/{task_id}/pause", data={"csrf": csrf}).status_code == 403
        assert c.get("/api/v1/bulk-tasks").json()["total"] == 1
        r = c.post("/api/v1/bulk-tasks", json={"kind": "retry", "filter": {"recipient": BUREAU}},
                   headers={"x-csrf-token": csrf})
        assert r.status_code == 403 and "operator" in r.json()["error"]["message"]
        for action in ("pause", "resume", "cancel"):
            assert c.post(f"/api/v1/bulk-tasks/{task_id}/{action}", headers={"x-csrf-token": csrf}).status_code == 403
    with hub.client() as c:
        # an agency's own key is not an operator's
        r = c.post("/api/v1/bulk-tasks", json={"filter": {"recipient": BUREAU}}, headers=auth(BUREAU))
        assert r.status_code == 403
        assert c.get("/api/v1/bulk-tasks").status_code == 401  # no key, no session
        assert task_of(c, task_id)["done"] == 0  # nothing above moved it


def test_each_operator_sees_the_tasks_of_their_own_scope(hub: InProcessHub, recipients: Recipients,
                                                         meter: Meter) -> None:
    with hub.client() as c:
        fts = stranded(c, recipients, 2)
        office_task = start(c)["id"]  # the hub's key: every agency
    with hub.client() as c:
        csrf = sign_in(c, "ly")  # 隆阳's bureau: neither sender nor recipient
        assert "/console/failed/" not in c.get("/console/failed").text
        confirm = c.get("/console/tasks/new", params={"recipient": BUREAU})
        assert "0 条" in confirm.text and 'id="task-start"' not in confirm.text
        r = c.post("/console/tasks/new", data={"csrf": csrf, "recipient": BUREAU, "status": "open"})
        assert r.status_code == 422 and "没有符合条件的投递失败记录" in r.text
        assert c.get(f"/console/tasks/{office_task}").status_code == 404
    with hub.client() as c:
        csrf = sign_in(c, "tcsup")  # 腾冲's bureau: the recipient
        r = c.post("/api/v1/bulk-tasks", json={"kind": "retry", "filter": {"recipient": BUREAU}},
                   headers={"x-csrf-token": csrf})
        assert r.status_code == 202 and r.json()["scope"] == BUREAU and r.json()["total"] == 2
        bureau_task = r.json()["id"]
        assert [i["failed_transfer_id"] for i in r.json()["items"]] == list(fts)
        # the office's task is beyond this bureau's scope: not listed, not found, not steered
        assert [t["id"] for t in c.get("/api/v1/bulk-tasks").json()["items"]] == [bureau_task]
        assert c.get(f"/api/v1/bulk-tasks/{office_task}").status_code == 404
        assert c.post(f"/api/v1/bulk-tasks/{office_task}/pause", headers={"x-csrf-token": csrf}).status_code == 404
        assert f"/console/tasks/{office_task}" not in c.get("/console/tasks").text
    with hub.client() as c:
        sign_in(c, "tc")  # an operator of the same bureau reads it
        assert c.get(f"/console/tasks/{bureau_task}").status_code == 200
    with hub.client() as c:
        sign_in(c, "ly")
        assert c.get(f"/console/tasks/{bureau_task}").status_code == 404
        assert c.get("/api/v1/bulk-tasks").json() == {"total": 0, "items": []}
    with hub.client() as c:
        sign_in(c, "zhang")  # the joint-meeting office sees both
        assert c.get("/api/v1/bulk-tasks").json()["total"] == 2


def test_a_request_the_hub_cannot_take_is_refused_with_the_reason(hub: InProcessHub, recipients: Recipients,
                                                                  meter: Meter, db: Engine) -> None:
    with hub.client() as c:
        stranded(c, recipients, 1)
        key = auth("530500ZX")

        def refused(body: Any, status: int, code: str) -> list[dict[str, Any]]:
            r = c.post("/api/v1/bulk-tasks", json=body, headers=key)
            assert r.status_code == status and r.json()["error"]["code"] == code, r.text
            return list(r.json()["error"]["details"])

        # a misspelt value or key would widen the filter: refused, naming it
        assert refused({"filter": {"cause": "retry_exhausted"}}, 422, "invalid_filter")[0]["path"] == "cause"
        assert refused({"filter": {"recipent": BUREAU}}, 422, "invalid_filter")[0]["path"] == "recipent"
        assert refused({"filter": {"recipient": 530581}}, 422, "invalid_filter")[0]["path"] == "recipient"
        refused({"kind": "delete", "filter": {"recipient": BUREAU}}, 422, "unknown_kind")
        refused({"filter": {"recipient": "530502SF"}}, 422, "nothing_matches")
        refused({"filter": [BUREAU]}, 422, "invalid_request")
        refused({"filter": {}, "colour": "red"}, 422, "invalid_request")
        r = c.post("/api/v1/bulk-tasks", content=b"recipient=530581SF", headers=key)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
        assert c.get("/api/v1/bulk-tasks/no-such-task", headers=key).status_code == 404
        assert c.get("/api/v1/bulk-tasks", headers=key).json()["total"] == 0  # none of them made a task
        sign_in(c, "su")
        r = c.get("/console/tasks/new", params={"recipient": BUREAU, "cause": "nonsense"})
        assert r.status_code == 422 and "筛选条件无效：cause" in r.text
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(audit_log).where(
            audit_log.c.action == "bulk_task_create")).scalar_one() == 0



def test_an_item_resolved_meanwhile_is_skipped_and_one_still_without_a_recipient_is_an_error(
        hub: InProcessHub, recipients: Recipients, meter: Meter, db: Engine) -> None:
    with hub.client() as c:
        fts = stranded(c, recipients, 3)
        ids = list(fts)
        # a notice for a county the registry has no bureau for: a failed transfer without a recipient
        mid, xml = notice("SentencingDecision", sender="530502FY", execution_division="530599",
                          id_number=make_id("530581", "19850707", 201))
        assert c.post("/api/v1/messages", content=xml, headers=auth("530502FY")).status_code == 202
        nowhere = c.get("/api/v1/failed-transfers", params={"cause": "no_recipient"}, headers=auth("530500ZX"))
        orphans = [f["id"] for f in nowhere.json()["items"] if f["message_id"] == mid]
        assert orphans
        r = c.post("/api/v1/bulk-tasks", headers=auth("530500ZX"), json={"filter": {"status": "open"}})
        assert r.status_code == 202 and r.json()["total"] == 3 + len(orphans)
        task_id = r.json()["id"]
        # Given the second is retried by hand and delivered before the task reaches it
        assert c.post(f"/api/v1/failed-transfers/{ids[1]}/retry", headers=auth("530500ZX")).status_code == 202
        wait_until(lambda: states(c, fts[ids[1]])[BUREAU] == "delivered", what="the second delivered by hand")
        # When the task runs
        meter.allow(1000)
        wait_until(lambda: task_of(c, task_id)["status"] == "done", what="the task done")
        # Then the second is skipped, the one without a recipient is an error that says why, the rest retried
        task = task_of(c, task_id)
        by_ft = {i["failed_transfer_id"]: i for i in task["items"]}
        assert [by_ft[ft]["state"] for ft in ids] == ["done", "skipped", "done"]
        assert by_ft[ids[1]]["detail"].startswith("already resolved")
        assert all(by_ft[o]["state"] == "error" and "no recipient" in by_ft[o]["detail"] for o in orphans)
        n = len(orphans)
        assert (task["done"], task["failed"], task["items_by_state"]) == (
            3 + n, n, {"pending": 0, "done": 2, "skipped": 1, "error": n})
        assert retries(db, ids[1]) == ["530500ZX"]  # the hand's retry only
        page = c.get(f"/console/tasks/{task_id}", headers=auth("530500ZX"))
        assert page.status_code == 303  # the console wants a session, not a key


# ---- a worker that dies --------------------------------------------------------------------------------------

DYING_WORKER = """
import os, signal, sys
from pathlib import Path
from hub import bulk_tasks
from hub.canonical import load_schema
from hub.registry import load_registry
from hub.service import Hub
from hub.store.db import make_engine

url, registry, point = sys.argv[1:4]
hub = Hub(engine=make_engine(url, pool_size=2), directory=load_registry(Path(registry)), schema=load_schema())
retry, state = Hub.retry_failed_transfer, {"retries": 0, "commits": 0}

def dies_in_the_third_retry(self, ft_id, **kw):
    res = retry(self, ft_id, **kw)  # its writes are made in the item's transaction, not committed
    state["retries"] += 1
    if point == "before-commit" and state["retries"] == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return res

def dies_after_the_first_commit():
    state["commits"] += 1
    if point == "after-commit":
        os.kill(os.getpid(), signal.SIGKILL)

Hub.retry_failed_transfer = dies_in_the_third_retry
hub.on_commit = dies_after_the_first_commit
bulk_tasks.run_some(hub, limit=100)
"""


def dying_worker(hub: InProcessHub, registry: Path, point: str) -> None:
    done = subprocess.run([sys.executable, "-c", DYING_WORKER, hub.settings.database_url, str(registry), point],
                          capture_output=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()


def retried_events(db: Engine) -> dict[str, int]:
    with db.connect() as conn:
        return {m: int(n) for m, n in conn.execute(select(events.c.message_id, func.count()).where(
            events.c.kind == "retried").group_by(events.c.message_id))}


def test_a_worker_killed_mid_item_leaves_it_untouched_and_no_item_is_retried_twice(
        hub: InProcessHub, recipients: Recipients, meter: Meter, db: Engine, registry: Path) -> None:
    with hub.client() as c:
        fts = stranded(c, recipients, 6)
        ids = list(fts)
        task_id = start(c)["id"]  # the runner of the hub is metered shut: only the workers below take items
        # When a worker is killed inside the third item, after the retry's writes and before their commit
        dying_worker(hub, registry, "before-commit")
        # Then the third is as it was: pending, its failed transfer still open, nothing on the record
        task = task_of(c, task_id)
        assert [i["state"] for i in task["items"]] == ["done", "done"] + ["pending"] * 4 and task["done"] == 2
        assert retries(db, ids[2]) == [] and states(c, fts[ids[2]])[BUREAU] == "failed"
        assert task["items"][2]["ft_status"] == "open"
        # When the next worker is killed just after its first item commits
        dying_worker(hub, registry, "after-commit")
        task = task_of(c, task_id)
        assert [i["state"] for i in task["items"]] == ["done"] * 3 + ["pending"] * 3 and task["done"] == 3
        # Then a worker that lives finishes the rest
        worker = Hub(engine=db, directory=load_registry(registry), schema=load_schema())
        assert REAL_RUN_SOME(worker, 100) == 3
        task = task_of(c, task_id)
        assert (task["status"], task["done"], task["failed"]) == ("done", 6, 0)
        # and each failed transfer was retried once, in the task's name
        assert all(retries(db, ft) == [f"530500ZX (bulk task {task_id})"] for ft in ids)
        assert retried_events(db) == dict.fromkeys(fts.values(), 1)
        wait_until(lambda: all(states(c, m)[BUREAU] == "delivered" for m in fts.values()), what="all delivered")


def test_workers_side_by_side_take_each_item_once(hub: InProcessHub, recipients: Recipients, meter: Meter,
                                                 db: Engine, registry: Path) -> None:
    with hub.client() as c:
        fts = stranded(c, recipients, 8)
        task_id = start(c)["id"]
    worked: list[int] = []

    def worker() -> None:
        engine = make_engine(hub.settings.database_url, pool_size=2)
        mine = Hub(engine=engine, directory=load_registry(registry), schema=load_schema())
        n = 0
        try:
            while True:
                task = bulk_tasks.get(engine, task_id, scope=None)
                assert task is not None
                if task["status"] == "done":
                    break
                n += REAL_RUN_SOME(mine, 1)
        finally:
            engine.dispose()
            worked.append(n)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sum(worked) == 8 and len(worked) == 3
    task = bulk_tasks.get(db, task_id, scope=None)
    assert task is not None and (task["done"], task["total"]) == (8, 8)
    assert all(len(retries(db, ft)) == 1 for ft in fts)
    assert retried_events(db) == dict.fromkeys(fts.values(), 1)


def test_the_runner_stops_with_the_other_workers(hub: InProcessHub, recipients: Recipients, meter: Meter) -> None:
    wait_until(lambda: meter.calls > 0, what="the runner polling")
    assert any(t.name == "xianjie-bulk-tasks" for t in threading.enumerate())
    hub.stop()
    assert not any(t.name == "xianjie-bulk-tasks" and t.is_alive() for t in threading.enumerate())


def test_the_task_pages_own_refresh_does_not_keep_an_idle_session_alive(
        hub: InProcessHub, recipients: Recipients, meter: Meter, db: Engine) -> None:
    from hub import operators
    from hub.store.operator_schema import operator_sessions

    def last_seen() -> dt.datetime:
        with db.connect() as conn:
            return conn.execute(select(operator_sessions.c.last_seen)).scalar_one()  # type: ignore[no-any-return]

    def idle_since(t: dt.datetime) -> None:
        with db.begin() as conn:
            conn.execute(operator_sessions.update().values(last_seen=t))

    with hub.client() as c:
        stranded(c, recipients, 1)
        task_id = start(c)["id"]  # held by the meter: it stays running
        sign_in(c, "su")
        now = dt.datetime.now(dt.UTC)
        # idle for all but a minute of the idle time: the refresh still finds the session, and leaves it idle
        idle_since(now - operators.IDLE + dt.timedelta(minutes=1))
        before = last_seen()
        page = c.get(f"/console/tasks/{task_id}", params={"poll": "1"})
        assert page.status_code == 200 and "?poll=1" in page.text
        assert last_seen() == before
        # the operator's own request starts the idle time again
        assert c.get(f"/console/tasks/{task_id}").status_code == 200
        assert last_seen() > before
        # idle past the idle time with the page refreshing itself: the next refresh is sent to sign in
        idle_since(now - operators.IDLE - dt.timedelta(minutes=1))
        r = c.get(f"/console/tasks/{task_id}", params={"poll": "1"})
        assert r.status_code in (302, 303) and "/console/signin" in r.headers["location"]
        assert c.get(f"/console/tasks/{task_id}").status_code in (302, 303)
