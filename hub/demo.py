"""``xianjie demo``: the hub on the embedded default (SQLite, the database as the queue) with simulated
保山 agencies and a stream of notices, so a newcomer sees the whole path — accepted, routed by 执行地,
delivered, acknowledged, retried, failed — within a minute."""
from __future__ import annotations

import logging
import math
import os
import random
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from types import FrameType
from urllib.parse import urlsplit

import httpx
import uvicorn
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url

from hub.core.model import Directory, Transport
from hub.demo_agencies import (
    AGENCY_PORT,
    LABELS,
    Agencies,
    World,
    say,
)
from hub.demo_feed import DEMO_MAX_AGE, DEMO_TIERS, HUB, SUMMARY_EVERY, Feed
from hub.registry import load_registry
from hub.settings import DEFAULT_VAR, Settings
from hub.store.db import make_engine
from hub.store.schema import deliveries, failed_transfers, messages


def summary(engine: Engine, after_seq: int) -> str:
    """One line of counts for the notices accepted since the demo started, read from the hub's database."""
    with engine.connect() as conn:
        kinds = {bool(k): int(n) for k, n in conn.execute(
            select(messages.c.message_type == "TechnicalAck", func.count()).where(messages.c.seq > after_seq)
            .group_by(messages.c.message_type == "TechnicalAck")).all()}
        states = {str(s): int(n) for s, n in conn.execute(
            select(deliveries.c.state, func.count()).where(deliveries.c.seq > after_seq)
            .group_by(deliveries.c.state)).all()}
        retrying = int(conn.execute(select(func.count()).select_from(deliveries).where(
            deliveries.c.seq > after_seq, deliveries.c.state == "pending", deliveries.c.failures > 0)).scalar() or 0)
        failed = conn.execute(
            select(failed_transfers.c.recipient, func.count())
            .join(messages, messages.c.id == failed_transfers.c.message_id)
            .where(messages.c.seq > after_seq, failed_transfers.c.status == "open")
            .group_by(failed_transfers.c.recipient)).all()
    moving = sum(states.get(k, 0) for k in ("pending", "sending", "held", "available")) - retrying
    who = ", ".join(f"{r or '—'} ×{n}" for r, n in failed)
    return (f"── 汇总 summary: 已接收 accepted {kinds.get(False, 0)} notices + {kinds.get(True, 0)} technical acks"
            f" · 投递 deliveries {sum(states.values())}: 已确认 acknowledged {states.get('acknowledged', 0)}, "
            f"已送达 delivered {states.get('delivered', 0)}, 待投递 pending {moving}, 重试中 retrying {retrying}"
            f" · 传输失败 failed transfers {sum(int(n) for _, n in failed)}" + (f" ({who})" if who else "") + " ──")


def report_trouble(engine: Engine, after_seq: int, seen: set[str], directory: Directory) -> None:
    """Say once when a delivery first fails (the hub retries it) and when one becomes a failed transfer."""
    about = (messages.c.message_type, messages.c.person_name, messages.c.case_number)
    with engine.connect() as conn:
        retrying = conn.execute(
            select(deliveries.c.id, deliveries.c.recipient, deliveries.c.last_error.label("detail"), *about)
            .join(messages, messages.c.id == deliveries.c.message_id)
            .where(deliveries.c.seq > after_seq, deliveries.c.state == "pending", deliveries.c.failures == 1)).all()
        failed = conn.execute(
            select(failed_transfers.c.id, failed_transfers.c.recipient, failed_transfers.c.detail,
                   failed_transfers.c.cause, *about)
            .join(messages, messages.c.id == failed_transfers.c.message_id)
            .where(messages.c.seq > after_seq, failed_transfers.c.status == "open")).all()
    tiers = ", ".join(f"{t:g}s" for t in DEMO_TIERS)
    for r, first_failure in [*((r, True) for r in retrying), *((r, False) for r in failed)]:
        if r.id in seen:
            continue
        seen.add(r.id)
        agency = directory.get(r.recipient or "")
        what = f"{r.message_type} {LABELS.get(r.message_type, '')} {r.person_name} {r.case_number} → " \
               f"{agency.name if agency else ''} {r.recipient}"
        error = (r.detail or "").rsplit(": ", 1)[-1]  # e.g. "[Errno 111] Connection refused"
        if first_failure:
            say(f"↻ 未送达 not delivered: {what}: {error} — 衔接 will retry ({tiers} … for {DEMO_MAX_AGE.seconds}s)")
        else:
            say(f"⚠ 传输失败 FAILED TRANSFER: {what}: {r.cause}, {(r.detail or '').split(';')[0]} ({error})"
                " — 运维 operators: GET /api/v1/failed-transfers")


def run_demo(settings: Settings, *, duration: float = 0) -> int:
    """Run the hub, the simulated agencies and the feed for ``duration`` seconds (0: until Ctrl-C or SIGTERM),
    then stop them cleanly; returns the exit status (2 if a port is taken)."""
    s = replace(settings, retry=replace(settings.retry, tiers=DEMO_TIERS, max_age=DEMO_MAX_AGE),
                inbound_root=settings.inbound_root or DEFAULT_VAR / "inbound")
    busy = [p for p, h in ((s.port, s.host), (AGENCY_PORT, "127.0.0.1")) if not port_free(h, p)]
    if busy:
        them = "them" if len(busy) > 1 else "it"
        print(f"端口被占用 port {' and '.join(map(str, busy))} already in use. The demo needs port {s.port} for the "
              f"hub and {AGENCY_PORT} for the simulated agencies:\nstop what holds {them} — perhaps another "
              f"`xianjie demo` or `xianjie serve` (lsof -i :{busy[0]} shows it) — and run the demo again.",
              file=sys.stderr)
        return 2
    # one line per request, migration step or dropped file would drown the story
    for noisy in ("httpx", "alembic", "xianjie.dropfolder"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    stop = threading.Event()
    restore = _on_signals(stop)
    try:
        return _run(s, stop, duration)
    finally:
        restore()


def _run(s: Settings, stop: threading.Event, duration: float) -> int:
    host = "127.0.0.1" if s.host in ("0.0.0.0", "::", "") else s.host
    hub_url = f"http://{host}:{s.port}"
    from hub.api.app import create_app
    from hub.migrate import upgrade  # imported here, after the log levels are set: alembic talks on import

    say(f"衔接 Xianjie demo: 准备数据库 migrating the database {shown(s.database_url)} …")
    upgrade(s.database_url)
    directory = load_registry(s.registry_path)
    engine = make_engine(s.database_url, pool_size=2)
    demo_operators(engine)
    with engine.connect() as conn:
        after_seq = int(conn.execute(select(func.max(messages.c.seq))).scalar() or 0)
    world = World()
    agencies = Agencies(directory=directory, hub_url=hub_url, world=world)
    agencies.start()
    server = uvicorn.Server(uvicorn.Config(create_app(s, workers=True), host=s.host, port=s.port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="xianjie-hub", daemon=True)
    thread.start()
    say(f"启动衔接中心 starting the hub on {hub_url} and simulated agencies on http://127.0.0.1:{AGENCY_PORT} …")
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            print(f"the hub did not start on {hub_url}; see the log above", file=sys.stderr)
            agencies.stop()
            return 1
        time.sleep(0.05)
    agencies.start_collectors()
    client = httpx.Client(base_url=hub_url, timeout=30.0)
    feed = Feed(client=client, directory=directory, world=world, rng=random.Random(), inbound_root=s.inbound_root)
    seen: set[str] = set()
    try:
        first = feed.judgment("530581", "530502FY")  # 隆阳区 court, a person living in 腾冲市: routed by 执行地
        settle = time.monotonic() + 6.0  # let the first notice's whole journey print before the banner
        while not stop.wait(0.2) and not _settled(engine, after_seq) and time.monotonic() < settle:
            pass
        say(banner(s, hub_url, first, directory), stamp=False)
        feed.thread.start()
        end = time.monotonic() + duration if duration > 0 else math.inf
        next_summary = time.monotonic() + SUMMARY_EVERY
        while not stop.wait(1.0) and time.monotonic() < end:
            report_trouble(engine, after_seq, seen, directory)
            if time.monotonic() >= next_summary:
                say(summary(engine, after_seq))
                next_summary += SUMMARY_EVERY
    finally:
        say("正在停止 stopping: the feed, the agencies' replies, then the hub (it finishes deliveries in flight) …")
        feed.stop()
        time.sleep(2.0)  # let the last notices arrive, be collected from the inboxes and answered
        agencies.quiesce()
        server.should_exit = True
        thread.join(60)
        agencies.stop()
        client.close()
        report_trouble(engine, after_seq, seen, directory)
        say(summary(engine, after_seq))
        engine.dispose()
        say("已停止 stopped. The hub's record stays in its database; `make run` starts the demo again.")
    return 0


DEMO_PASSWORD = "demo-password"
# (user name, role, agency, name): the joint-meeting office's staff see every agency; 昌宁's operator only 昌宁
DEMO_OPERATORS = [("demo-admin", "administrator", HUB, "管理员"), ("demo-supervisor", "supervisor", HUB, "李主管"),
                  ("demo-operator", "operator", "530524SF", "昌宁操作员"), ("demo-auditor", "auditor", HUB, "审计员")]


def demo_operators(engine: Engine) -> None:
    """The demo's console accounts (public, like its API keys), made once."""
    from hub import operators

    for username, role, agency, name in DEMO_OPERATORS:
        if operators.get(engine, username) is None:
            operators.create(engine, username=username, password=DEMO_PASSWORD, role=role, agency=agency,
                             display_name=name, actor="demo")


def _settled(engine: Engine, after_seq: int) -> bool:
    """The judgment, the police's ack and the bureau's 回执 are in, and every delivery of them is acknowledged."""
    with engine.connect() as conn:
        notices = conn.execute(select(func.count()).select_from(messages).where(messages.c.seq > after_seq)).scalar()
        open_ = conn.execute(select(func.count()).select_from(deliveries).where(
            deliveries.c.seq > after_seq, deliveries.c.state != "acknowledged")).scalar()
    return (notices or 0) >= 3 and open_ == 0


def banner(s: Settings, hub_url: str, first: str, directory: Directory) -> str:
    """Where to look, in Chinese and English, with commands ready to paste."""
    hub_key = f"-H 'Authorization: Bearer demo-{HUB}'"
    pretty = "| python3 -m json.tool --no-ensure-ascii"
    down = [a for a in directory.agencies.values()
            if a.transport is Transport.HTTP and a.endpoint and urlsplit(a.endpoint).port != AGENCY_PORT]
    folders = [f"{a.name} {a.code} reads {a.endpoint}" for a in directory.agencies.values()
               if a.transport is Transport.FOLDER]
    tiers = "/".join(f"{t:g}s" for t in DEMO_TIERS)
    rule = "═" * 100
    lines = [
        rule,
        " 衔接 Xianjie 演示 demo — 保山市社区矫正衔接数据交换中心 · the community-corrections data-exchange hub",
        rule,
        " 上面是第一条通知的全程 Above: the first notice's whole path — a court posts a judgment; the hub routes it",
        " by the person's county (执行地) to that county's bureau, police and procuratorate; the bureau sends a 回执.",
        "",
        f" 接口文档 API docs, try it out:   {hub_url}/docs",
        " 第一条通知的状态 the first notice: each recipient's state and the full timeline",
        f"   curl -s {hub_key} {hub_url}/api/v1/messages/{first} {pretty}",
        " 传输失败 failed transfers, the operators' queue:"
        + "".join(f" {a.name} {a.code} is down 停机" for a in down) + f" (retries {tiers}, gives up after "
        f"{DEMO_MAX_AGE.seconds}s)",
        f"   curl -s {hub_key} {hub_url}/api/v1/failed-transfers {pretty}",
        " 收件箱 a procuratorate's pull inbox (the simulated 检察院 collect theirs every second):",
        f"   curl -s -H 'Authorization: Bearer demo-530581JC' {hub_url}/api/v1/inbox {pretty}",
        f" 健康检查 health:   curl -s {hub_url}/healthz   ·   curl -s {hub_url}/readyz",
        f" 操作台 operator console:   {hub_url}/console   — "
        + ", ".join(u for u, *_ in DEMO_OPERATORS) + f" / {DEMO_PASSWORD}",
        f" 联席会议报告 joint-meeting report:   {hub_url}/console/reports   ·   "
        f"curl -s {hub_key} '{hub_url}/api/v1/reports/joint-meeting?division=530500&from=<YYYY-MM-DD>&to=<YYYY-MM-DD>"
        "&format=pdf' -o report.pdf",
        "",
        f" 模拟单位 simulated agencies: http://127.0.0.1:{AGENCY_PORT}/agencies/<code>/notices; " + "; ".join(folders),
        " 密钥 API keys: demo-<agency code>, e.g. demo-530502FY (`xianjie agencies` lists the codes)",
        f" 数据 data: {shown(s.database_url)} — kept between runs"
        + (" (`make clean` resets it)" if s.is_sqlite else ""),
        f" A → 衔接: A sent a notice to the hub · A ← : A received one · 汇总 summary every {SUMMARY_EVERY:g}s · "
        "Ctrl-C 停止 stops",
        rule,
    ]
    return "\n".join(lines)


def shown(url: str) -> str:
    """A database URL without its password."""
    return make_url(url).render_as_string(hide_password=True)


def port_free(host: str, port: int) -> bool:
    """True if nothing listens on (host, port) — bound the way uvicorn and http.server bind."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _on_signals(stop: threading.Event) -> Callable[[], None]:
    """Ctrl-C or SIGTERM asks for a clean stop; a second one exits at once."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(_sig: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            say("再次中断 interrupted again: exiting now")
            os._exit(130)
        stop.set()

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, h in old.items():
            signal.signal(sig, h)

    return restore
