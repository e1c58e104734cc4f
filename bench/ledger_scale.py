"""The case ledger at national scale: ``python -m bench.ledger_scale [N_MESSAGES]`` (default 200000).

Writes N canonical messages about one province's persons into a fresh SQLite database, as the hub stores them
(the judgment, the bureau's receipt, the person reporting; for some a warning, a lost contact and a custody, a
release, or a receipt that arrives before its judgment), received over six months in acceptance order. Then, each
in a fresh child process so that its peak RSS is its own:

- rebuild: ``hub.casework.rebuild`` projects every message into cases, obligations and timeline (messages/s, and
  what 5,000,000 messages would take at that rate);
- clock: 700,000 open obligations (due dates around the day, some waiting for a calendar year) evaluated for a
  day, as the deadline clock does: every open obligation's status, and the alarm query (due soon, due today,
  overdue, calendar missing) through the index. Target < 10 s;
- clock run: the same day's real deadline clock, ``hub.alarming.run_clock`` through a ``hub.service.Hub`` over
  the database with the demo registry (the obligations belong to its five counties, grouped four to a case, each
  case a ledger row), twice: the first run plans, validates and stores every notice (with its deliveries), the
  second finds them sent and stores nothing new. Seconds, notices and peak RSS of each run.

Generating the messages, the obligations and their cases is not timed. ``python -m bench.ledger_scale N M`` uses
M open obligations instead of 700,000; ``--db PATH`` keeps the generated messages in PATH, and a later run with the
same N rebuilds from them without generating them again (5,000,000 take about 40 minutes to generate). While the
rebuild runs, a line on stderr each minute says how far it has got and at what rate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from hub.store.schema import messages
from tests.core.case_messages import CST, Case, id_number, message_id

PROVINCE_COUNTIES = [f"53{p:02d}{c:02d}" for p in range(1, 17) for c in range(2, 10)]
CLOCK_COUNTIES = ["530502", "530521", "530523", "530524", "530581"]  # the demo registry's counties
PER_CASE = 4  # open obligations per case
OPEN_OBLIGATIONS = 700_000
DAY = dt.timedelta(days=1)
TOKEN = "QQQQQQ"
TEMPLATE_ID = id_number("530581", dt.date(1988, 3, 14), 31)
# (kind, weight): each case follows one of these scripts
SCRIPTS = [("clean", 5), ("warned", 1), ("lost_then_held", 1), ("released", 1), ("receipt_first", 1)]


def peak_mib() -> float:
    """This process's peak resident set (VmHWM: unlike ru_maxrss, not inherited from the parent across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


Step = tuple[int, str, str, bytes]


def _script(kind: str, effective: dt.date) -> tuple[list[Step], list[str]]:
    """One case's messages as (day after the decision took effect, sender, type, XML) and their message ids: the
    case number, the ID number and the message ids are to be replaced per case."""
    c = Case(f"（2026）云0502刑初{TOKEN}号", "530502FY", "PROBATION", "530581", "杨国富", TEMPLATE_ID, True,
             dt.date(1988, 3, 14), effective - 10 * DAY, effective, effective + 730 * DAY)

    def mid(what: str) -> str:
        return message_id("bench-template", kind, effective, what)

    def at(days: int) -> dt.datetime:
        return dt.datetime.combine(effective + days * DAY, dt.time(10), tzinfo=CST)

    decision = (2, c.court, "SentencingDecision", c.decision(mid("decision"), at(2)))
    receipt = (3, c.bureau, "DocumentReceipt", c.receipt(mid("receipt"), at(3), of=mid("decision")))
    report = (6, c.bureau, "ReportingOutcome", c.reporting(mid("report"), at(6)))
    steps = [decision, receipt, report]
    if kind == "warned":
        steps.append((40, c.bureau, "SupervisionEvent", c.event(mid("warning"), at(40), kind="WARNING")))
    elif kind == "lost_then_held":
        steps.append((50, c.bureau, "SupervisionEvent", c.event(mid("lost"), at(50), kind="LOST_CONTACT")))
        steps.append((53, c.police, "CustodyNotice", c.custody(mid("custody"), at(53), started=effective + 52 * DAY)))
    elif kind == "released":
        steps.append((120, c.bureau, "ReleaseNotice", c.release(mid("release"), at(120))))
    elif kind == "receipt_first":
        steps = [(2, *receipt[1:]), (3, *decision[1:]), report]
    return steps, [mid(w) for w in ("decision", "receipt", "report", "warning", "lost", "custody", "release")]


def generate(url: str, n: int, *, seed: int = 4) -> dict[str, Any]:
    """Store ``n`` messages in acceptance order; returns what was written. Only each message's time and place in
    its case's script are kept in memory; the bodies are written out chunk by chunk, so 5,000,000 messages fit."""
    from hub.migrate import upgrade
    from hub.store.db import make_engine

    upgrade(url)
    engine = make_engine(url, pool_size=1)
    rng = random.Random(seed)
    start = dt.date(2026, 1, 5)
    templates: dict[tuple[str, int], tuple[list[Step], list[str]]] = {}
    kinds = [k for k, w in SCRIPTS for _ in range(w)]
    people: list[tuple[tuple[str, int], str]] = []  # per case: its script and its person's ID number
    order: list[tuple[dt.datetime, int, int]] = []  # per message: received, case, step of the script
    made = 0
    t0 = time.perf_counter()
    while made < n:
        kind, week = rng.choice(kinds), rng.randrange(26)
        if (kind, week) not in templates:
            templates[(kind, week)] = _script(kind, start + week * 7 * DAY)
        script, _ = templates[(kind, week)]
        county = rng.choice(PROVINCE_COUNTIES)
        case = len(people)
        people.append(((kind, week), id_number(county, dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(20000)),
                                               case)))
        effective = start + week * 7 * DAY
        for step, (day, *_rest) in enumerate(script[:n - made]):
            order.append((dt.datetime.combine(effective + day * DAY, dt.time(9), tzinfo=CST).astimezone(dt.UTC)
                          + dt.timedelta(seconds=rng.randrange(28800)), case, step))
        made += min(len(script), n - made)
    order.sort()
    fresh: dict[int, dict[str, str]] = {}  # the message ids of a case, made when its first message is written
    with engine.begin() as conn:
        for i in range(0, len(order), 5000):
            conn.execute(insert(messages), [_row(received, case, step, people, templates, fresh)
                                            for received, case, step in order[i:i + 5000]])
    engine.dispose()
    return {"messages": made, "cases": len(people), "seconds": round(time.perf_counter() - t0, 1)}


def _row(received: dt.datetime, case: int, step: int, people: list[tuple[tuple[str, int], str]],
         templates: dict[tuple[str, int], tuple[list[Step], list[str]]],
         fresh: dict[int, dict[str, str]]) -> dict[str, Any]:
    """The ``messages`` row of step ``step`` of case ``case``'s script."""
    key, person = people[case]
    script, ids = templates[key]
    mine = fresh.setdefault(case, {old: str(uuid.uuid4()) for old in ids})
    _, sender, mtype, raw = script[step]
    text = raw.decode().replace(TOKEN, f"{case:06d}").replace(TEMPLATE_ID, person)
    for old, new in mine.items():
        text = text.replace(old, new)
    body = text.encode()
    message = text[text.index("<messageId>") + 11:text.index("</messageId>")]
    return dict(id=message, message_type=mtype, sender=sender, sender_document_id=f"{sender}-{message}",
                correlation_id=None, causation_id=None, person_key=person, person_name="杨国富", id_number=person,
                case_number=f"（2026）云0502刑初{case:06d}号", execution_division="530581", channel="api",
                sent_at=received, received_at=received, content_sha256=hashlib.sha256(body).hexdigest(), raw=body,
                canonical=body)


def open_obligations(url: str, count: int, today: dt.date, *, seed: int = 7) -> None:
    """``count`` open obligations with due dates from a month before ``today`` to two months after it (1% waiting
    for a calendar year), over the demo registry's counties and the rules of DOMAIN §2, ``PER_CASE`` to a case;
    each case a ``cases`` row (as ``hub.case_rows.case_row`` writes it) holding its obligations."""
    from hub.case_rows import case_row, obligation_row
    from hub.core.case_state import CaseState, CaseStatus, Progress
    from hub.core.fact_bodies import CaseFacts, PersonFacts
    from hub.core.obligations import Obligation, obligation_id
    from hub.core.rules import national
    from hub.migrate import upgrade
    from hub.store.db import make_engine
    from hub.store.ledger_schema import cases, obligations

    upgrade(url)
    engine = make_engine(url, pool_size=1)
    rng = random.Random(seed)
    rules = [r for r in national().rows() if r.scope == ""]
    opened = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with engine.begin() as conn:
        obs: list[dict[str, Any]] = []
        rows: list[dict[str, Any]] = []
        for k in range(0, count, PER_CASE):
            county = rng.choice(CLOCK_COUNTIES)
            birth = dt.date(1950, 1, 1) + dt.timedelta(days=k // PER_CASE % 20000)
            case_key, person = f"{county}FY|(2026)云刑初{k}号", id_number(county, birth, k // PER_CASE // 20000)
            mine = []
            for i in range(k, min(k + PER_CASE, count)):
                rule = rng.choice(rules)
                due = None if rng.random() < 0.01 else today + dt.timedelta(days=rng.randrange(-30, 61))
                mine.append(Obligation(
                    id=obligation_id(case_key, rule.id, str(i)), case_key=case_key, person_key=person,
                    rule_id=rule.id, step=rule.step, obligor=county + "SF", obligee=county + "FY", owes=rule.owes,
                    division=county, trigger_message=str(uuid.UUID(int=i)),
                    trigger_date=(due or today) - dt.timedelta(days=rule.amount), due_date=due,
                    due_soon_days=rule.due_soon_days, calendar_missing=2027 if due is None else None))
            obs += [obligation_row(o, opened_at=opened) for o in mine]
            sex = "MALE" if int(person[16]) % 2 else "FEMALE"  # as the ID number's sequence digit says
            state = CaseState(case_key, person, PersonFacts("杨国富", person, sex, birth, county),
                              CaseFacts(f"（2026）云刑初{k}号", county + "FY", "PROBATION", today - 90 * DAY,
                                        today - 80 * DAY, today - 80 * DAY, today + 650 * DAY, county),
                              CaseStatus.UNDER_SUPERVISION, county + "SF", Progress(decision_known=True), (),
                              tuple(mine), ())
            rows.append(case_row(state, since=today - 80 * DAY, seq=0, now=opened))
            if len(obs) >= 10000:
                conn.execute(insert(obligations), obs)
                conn.execute(insert(cases), rows)
                obs, rows = [], []
        if obs:
            conn.execute(insert(obligations), obs)
            conn.execute(insert(cases), rows)
    engine.dispose()


def _progress(url: str, started: float, done: threading.Event, every: float = 60.0) -> None:
    """Print to stderr, every ``every`` seconds, how far the rebuild has got and its rate since the last line."""
    from sqlalchemy import select

    from hub.store.db import make_engine
    from hub.store.ledger_schema import ledger_cursor

    engine = make_engine(url, pool_size=1)
    last_n, last_t = 0, started
    while not done.wait(every):
        with engine.connect() as conn:
            n = int(conn.execute(select(ledger_cursor.c.last_seq)).scalar() or 0)
        now = time.perf_counter()
        print(f"  rebuild at {n:,} messages after {now - started:.0f} s: {(n - last_n) / (now - last_t):,.0f} "
              f"messages/s since the last line", file=sys.stderr, flush=True)
        last_n, last_t = n, now
    engine.dispose()


def phase_rebuild(url: str) -> dict[str, Any]:
    from hub import casework, rulebook
    from hub.registry import load_registry
    from hub.resources import default_registry_path
    from hub.store.db import make_engine

    engine = make_engine(url, pool_size=1)
    inputs = dict(rules=rulebook.rules_in_force(engine), calendar=rulebook.calendar_in_force(engine),
                  directory=load_registry(default_registry_path()))
    t = time.perf_counter()
    done = threading.Event()
    watcher = threading.Thread(target=_progress, args=(url, t, done), daemon=True)
    watcher.start()
    n = casework.rebuild(engine, **inputs)  # type: ignore[arg-type]
    took = time.perf_counter() - t
    done.set()
    status = casework.status(engine)
    engine.dispose()
    return {"messages": n, "seconds": round(took, 1), "messages_per_s": round(n / took),
            "cases": status["cases"], "open_obligations": status["open_obligations"],
            "not_applied": status["not_applied"], "peak_rss_mib": round(peak_mib())}


def phase_clock(url: str, today: dt.date) -> dict[str, Any]:
    from hub.case_views import due_obligations, open_status_counts
    from hub.store.db import make_engine

    engine = make_engine(url, pool_size=1)
    t = time.perf_counter()
    counts = open_status_counts(engine, today=today)
    every = time.perf_counter() - t
    t = time.perf_counter()
    due = due_obligations(engine, today=today)
    alarm = time.perf_counter() - t
    engine.dispose()
    return {"open": sum(counts.values()), "statuses": {k.value: v for k, v in sorted(counts.items())},
            "every_open_s": round(every, 2), "alarm_query_s": round(alarm, 2), "alarming": len(due),
            "peak_rss_mib": round(peak_mib())}


def phase_clock_run(url: str, today: dt.date) -> dict[str, Any]:
    """``hub.alarming.run_clock`` at 10:00 in Beijing on ``today``, twice."""
    from sqlalchemy import func, select

    from hub.alarming import run_clock
    from hub.canonical import load_schema
    from hub.registry import load_registry
    from hub.resources import default_registry_path
    from hub.service import Hub
    from hub.store.db import make_engine
    from hub.store.schema import deliveries

    engine = make_engine(url, pool_size=1)
    hub = Hub(engine=engine, directory=load_registry(default_registry_path()), schema=load_schema())
    now = dt.datetime.combine(today, dt.time(10), tzinfo=CST)
    runs = []
    for _ in range(2):
        t = time.perf_counter()
        sent = run_clock(hub=hub, now=now)
        runs.append({"seconds": round(time.perf_counter() - t, 1), "notices": sent})
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(deliveries)).scalar_one()
    engine.dispose()
    return {"runs": runs, "deliveries": stored, "peak_rss_mib": round(peak_mib())}


def stored_messages(path: Path) -> int:
    """How many messages a kept database holds (0 when there is none yet)."""
    if not path.exists():
        return 0
    from sqlalchemy import func, select

    from hub.store.db import make_engine

    engine = make_engine(f"sqlite:///{path}", pool_size=1)
    with engine.connect() as conn:
        n = int(conn.execute(select(func.count()).select_from(messages)).scalar_one())
    engine.dispose()
    return n


def child(*args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "bench.ledger_scale", *args], stdout=subprocess.PIPE, text=True,
                         check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--phase":
        if argv[1] == "rebuild":
            print(json.dumps(phase_rebuild(argv[2])))
        elif argv[1] == "clock-run":
            print(json.dumps(phase_clock_run(argv[2], dt.date.fromisoformat(argv[3]))))
        else:
            print(json.dumps(phase_clock(argv[2], dt.date.fromisoformat(argv[3]))))
        return 0
    kept = None
    if "--db" in argv:  # keep the generated messages in this file, and reuse them when it already holds n
        i = argv.index("--db")
        kept, argv = Path(argv[i + 1]).resolve(), argv[:i] + argv[i + 2:]
    n = int(argv[0]) if argv else 200_000
    count = int(argv[1]) if len(argv) > 1 else OPEN_OBLIGATIONS
    today = dt.date(2026, 6, 30)
    with tempfile.TemporaryDirectory(prefix="xianjie-ledger-") as tmp:
        url = f"sqlite:///{kept or f'{tmp}/ledger.db'}"
        stored = stored_messages(kept) if kept else 0
        if stored == n:
            print(f"reusing the {n:,} messages stored in {kept}", flush=True)
        elif stored:
            raise SystemExit(f"{kept} holds {stored:,} messages, not {n:,}: remove it or name another file")
        else:
            made = generate(url, n)
            print(f"generated {made['messages']:,} messages about {made['cases']:,} cases in {made['seconds']} s "
                  f"(not counted)", flush=True)
        r = child("--phase", "rebuild", url)
        print(f"rebuild: {r['messages']:,} messages in {r['seconds']} s = {r['messages_per_s']:,} messages/s "
              f"→ {r['cases']:,} cases, {r['open_obligations']:,} open obligations, {r['not_applied']} not applied; "
              f"peak RSS {r['peak_rss_mib']} MiB", flush=True)
        if n < 5_000_000:
            minutes = 5_000_000 / r["messages_per_s"] / 60
            print(f"rebuild of 5,000,000 messages at this rate: about {minutes:.0f} min (not run)", flush=True)
        url2 = f"sqlite:///{tmp}/clock.db"
        t = time.perf_counter()
        open_obligations(url2, count, today)
        print(f"wrote {count:,} open obligations and their cases in {time.perf_counter() - t:.0f} s (not counted)",
              flush=True)
        c = child("--phase", "clock", url2, today.isoformat())
        verdict = "meets" if c["every_open_s"] < 10 else "misses"
        print(f"clock on {today}: every one of {c['open']:,} open obligations evaluated in {c['every_open_s']} s "
              f"({verdict} the 10 s target); the alarm query finds {c['alarming']:,} due soon / today / overdue / "
              f"calendar missing in {c['alarm_query_s']} s; statuses {c['statuses']}; peak RSS {c['peak_rss_mib']} MiB")
        k = child("--phase", "clock-run", url2, today.isoformat())
        first, second = k["runs"]
        print(f"clock run on {today} (hub.alarming.run_clock): first {first['seconds']} s, {first['notices']:,} "
              f"notices sent ({k['deliveries']:,} deliveries stored); second {second['seconds']} s, "
              f"{second['notices']:,} new; peak RSS {k['peak_rss_mib']} MiB", flush=True)
    print(f"generator's own peak RSS {peak_mib():.0f} MiB (each message's time and place in its script are kept in "
          "memory to store them in acceptance order)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
