"""Crash tests, on both stacks: workers SIGKILLed mid-stream, the broker (or the whole hub) stopped mid-stream.

Each test posts a stream of notices about several persons from one client while something breaks, waits
until every delivery is final, then checks the invariants against the recipients and the database:
every (message, recipient) arrived at least once (2, 3), no delivery failed or was lost (2, 4), each
delivery's state change happened once (3), and each person's messages first arrived in hub order (6).
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from hub.settings import Settings
from hub.store.schema import deliveries, events, failed_transfers, messages
from tests.conftest import Stack
from tests.harness import DIVISIONS, ORGANS, Recipients, auth, make_id, notice, write_registry
from tests.hubserver import ProcessHub, hub_settings
from tests.services import delete_topology

pytestmark = pytest.mark.slow

COUNTIES = ("530502", "530521", "530523", "530524", "530581")
COURT = "530502FY"
DETENTION = "530502KS"
LATER_TYPES = ("CustodyNotice", "SupervisionEvent", "SupervisionEvent", "PursuitRequest", "RevocationDecision",
               "SentencingDecision")
SUCCESS = ("delivered", "acknowledged")


# ---- the stream ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    mid: str
    kind: str
    sender: str
    person: str
    xml: bytes
    recipients: frozenset[str]


def sender_and_recipients(kind: str, county: str) -> tuple[str, frozenset[str]]:
    """Who sends a notice of ``kind`` about a person supervised in ``county``, and who must get it (DOMAIN §2)."""
    sf, jc, ga = county + "SF", county + "JC", county + "GA"
    table = {
        "SentencingDecision": (COURT, {sf, jc, ga}),
        "CustodyNotice": (ga, {sf, jc}),
        "SupervisionEvent": (sf, {jc}),  # LEAVE_APPROVED: the procuratorate only
        "PursuitRequest": (sf, {ga, jc}),
        "RevocationDecision": (COURT, {sf, ga, jc, DETENTION}),
    }
    sender, to = table[kind]
    return sender, frozenset(to)


def make_stream(rng: random.Random, *, persons: int, per_person: int) -> list[Notice]:
    """``persons`` people, each with a judgment first and then ``per_person - 1`` later notices, interleaved."""
    plans: list[list[Notice]] = []
    for p in range(persons):
        county = COUNTIES[p % len(COUNTIES)]
        id_number = make_id(county, f"19{60 + p:02d}0{1 + p % 9}1{p % 9}", 101 + 2 * p)
        kinds = ["SentencingDecision"] + [rng.choice(LATER_TYPES) for _ in range(per_person - 1)]
        plan = []
        for kind in kinds:
            sender, to = sender_and_recipients(kind, county)
            mid, xml = notice(kind, sender=sender, id_number=id_number, execution_division=county,
                              doc_id=f"CRASH-{uuid.uuid4()}")
            plan.append(Notice(mid, kind, sender, id_number, xml, to))
        plans.append(plan)
    order = [p for p in range(persons) for _ in range(per_person)]
    rng.shuffle(order)
    nexts = [iter(plan) for plan in plans]
    return [next(nexts[p]) for p in order]


@dataclass
class Poster:
    """One client posting the stream in order; retries the same notice while the hub is away."""

    url: str
    stream: list[Notice]
    pace: float  # seconds per notice, so the stream lasts long enough to be broken in the middle
    statuses: dict[str, int] = field(default_factory=dict)  # message id -> 202 or 200
    retries: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    refused: list[str] = field(default_factory=list)
    crashed: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)
    posted: int = 0

    def run(self) -> None:
        try:
            with httpx.Client(base_url=self.url, timeout=10) as c:
                for n in self.stream:
                    t0 = time.monotonic()
                    self._post(c, n)
                    self.posted += 1
                    time.sleep(max(0.0, self.pace - (time.monotonic() - t0)))
        except BaseException as e:  # handed to the test thread
            self.crashed = e
        finally:
            self.done.set()

    def _post(self, c: httpx.Client, n: Notice) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = c.post("/api/v1/messages", content=n.xml, headers=auth(n.sender))
            except httpx.HTTPError as e:
                why = type(e).__name__
            else:
                if r.status_code in (200, 202):
                    if r.json()["message_id"] != n.mid:
                        self.refused.append(f"{n.mid}: answered with another id {r.json()['message_id']}")
                    self.statuses[n.mid] = r.status_code
                    return
                if r.status_code < 500:
                    self.refused.append(f"{n.mid} ({n.kind}): HTTP {r.status_code} {r.text[:300]}")
                    return
                why = f"HTTP {r.status_code}"
            # the outcome is uncertain: send the same notice again (ingest is idempotent on senderDocumentId)
            self.failures[why] += 1
            self.retries += 1
            if time.monotonic() > deadline:
                self.refused.append(f"{n.mid}: gave up after 60 s of {why}")
                return
            time.sleep(0.2)

    @property
    def accepted(self) -> int:
        return len(self.statuses)


def start_thread(target: Callable[[], None], name: str) -> threading.Thread:
    t = threading.Thread(target=target, name=name, daemon=True)
    t.start()
    return t


# ---- the hub under test ---------------------------------------------------------------------------------


@dataclass
class Rig:
    stack: Stack
    settings: Settings
    hub: ProcessHub
    recipients: Recipients
    engine: sa.Engine
    log_dir: Path


def all_codes() -> list[str]:
    return [d + suffix for d in DIVISIONS for suffix in ORGANS] + ["530502JY", "530502KS", "530500ZX"]


def all_http_registry(path: Path, recipients: Recipients, drop_root: Path) -> Path:
    """The test registry with every agency, procuratorates included, receiving by HTTP push."""
    return write_registry(path, recipients_url=recipients.url, drop_root=drop_root,
                          transports=dict.fromkeys(all_codes(), "http"))


@pytest.fixture
def rig(stack: Stack, recipients: Recipients, tmp_path: Path) -> Iterator[Rig]:
    registry = all_http_registry(tmp_path / "agencies-http.toml", recipients, tmp_path / "drop")
    s = hub_settings(database_url=stack.database_url, broker_url=stack.broker_url, registry_path=registry,
                     queue_prefix=stack.queue_prefix, lease_seconds=3.0, redrive_after=1.5, sweep_interval=0.3,
                     http_timeout=3.0)
    s = replace(s, retry=replace(s.retry, tiers=(0.5, 1.0, 2.0)))
    # every recipient takes ~50 ms to answer, so a killed worker always dies with sends in flight
    recipients.slow_seconds = 0.05
    recipients.modes.update(dict.fromkeys(all_codes(), "slow"))
    assert recipients.server is not None  # a killed sender leaves a broken pipe: expected, not worth a traceback
    recipients.server.handle_error = lambda *_: None  # type: ignore[method-assign]
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    hub = ProcessHub(s, log_dir)
    engine = sa.create_engine(stack.database_url)
    try:
        hub.start_api()
        hub.start_worker()
        hub.start_worker()
        yield Rig(stack, s, hub, recipients, engine, log_dir)
    finally:
        hub.stop()
        engine.dispose()
        delete_topology(stack.broker_url, stack.queue_prefix)


def state_counts(engine: sa.Engine) -> Counter[str]:
    with engine.connect() as c:
        return Counter({str(s): int(n) for s, n in c.execute(
            select(deliveries.c.state, func.count()).group_by(deliveries.c.state))})


def wait_all_final(rig: Rig, *, deliveries_expected: int, timeout: float) -> float:
    """Wait until every expected delivery exists and none is pending, held or sending; returns seconds waited."""
    t0 = time.monotonic()
    counts: Counter[str] = Counter()
    while time.monotonic() - t0 < timeout:
        counts = state_counts(rig.engine)
        if sum(counts.values()) >= deliveries_expected and all(s in (*SUCCESS, "failed") for s in counts):
            return time.monotonic() - t0
        time.sleep(0.25)
    stuck = []
    with rig.engine.connect() as c:
        for d in c.execute(select(deliveries).where(deliveries.c.state.not_in(SUCCESS)).limit(8)).mappings():
            stuck.append(f"  {d['id']} {d['recipient']} {d['state']} attempts={d['attempts']} "
                         f"lease_until={d['lease_until']} next={d['next_attempt_at']} err={d['last_error']} "
                         f"hold={d['hold_reason']}")
    raise AssertionError(f"deliveries not final after {timeout}s: {dict(counts)} "
                         f"(expected {deliveries_expected})\n" + "\n".join(stuck) + "\n" + log_excerpt(rig.log_dir))


def log_excerpt(log_dir: Path, limit: int = 40) -> str:
    lines = []
    for f in sorted(log_dir.glob("*.log")):
        for line in f.read_text(errors="replace").splitlines():
            if re.search(r"ERROR|CRITICAL|Traceback|WARNING", line):
                lines.append(f"{f.name}: {line}")
    return "log excerpt:\n" + "\n".join(lines[:limit]) if lines else "logs: no warnings or errors"


# ---- the checks ---------------------------------------------------------------------------------------------


@dataclass
class Summary:
    notices: int
    accepted: int
    resubmitted: int
    deliveries: int
    arrivals: int
    duplicates: int
    truncated: int
    breaks: int
    seconds: float
    redriven: dict[str, int]

    def show(self, title: str) -> None:
        print(f"\n[{title}] notices={self.notices} accepted={self.accepted} (200 on resubmission: "
              f"{self.resubmitted}) deliveries={self.deliveries} arrivals={self.arrivals} "
              f"duplicates={self.duplicates} truncated={self.truncated} breaks={self.breaks} "
              f"redriven={self.redriven} took {self.seconds:.1f}s")


def redriven(engine: sa.Engine) -> dict[str, int]:
    """How often the sweeper redrove work, by reason: evidence that the crash recovery was exercised.

    Also counts lease-expiry redrives beyond one per expired claim (a delivery's claims are its
    ``attempts``, the last of which succeeded): two sweepers redriving the same lease record it twice."""
    with engine.connect() as c:
        rows = c.execute(select(events.c.delivery_id, events.c.detail).where(events.c.kind == "redriven")).all()
        claims = {str(d): int(a) for d, a in c.execute(select(deliveries.c.id, deliveries.c.attempts))}
    out = Counter(re.sub(r'.*"reason": "([^"]*)".*', r"\1", detail or "") for _, detail in rows)
    expiries = Counter(str(d) for d, detail in rows if detail and "lease expired" in detail)
    extra = sum(max(0, n - (claims.get(d, 0) - 1)) for d, n in expiries.items())
    return {**out, "lease expiries recorded twice": extra}


def check_invariants(rig: Rig, stream: list[Notice], poster: Poster) -> tuple[int, int, int]:
    """Assert invariants 2, 3, 4 and 6 against the recipients and the database; returns (arrivals, dups, cut)."""
    by_mid = {n.mid: n for n in stream}
    expected = {(n.mid, r) for n in stream for r in n.recipients}
    excerpt = log_excerpt(rig.log_dir)

    # Every notice was accepted: 202, or 200 for a resubmission after an uncertain failure.
    assert poster.crashed is None, repr(poster.crashed)
    assert poster.refused == [], poster.refused
    assert poster.accepted == len(stream)

    with rig.engine.connect() as c:
        seq = {str(m): int(s) for m, s in c.execute(select(messages.c.id, messages.c.seq))}
        rows = c.execute(select(deliveries.c.id, deliveries.c.message_id, deliveries.c.recipient,
                                deliveries.c.state)).all()
        failed = c.execute(select(failed_transfers.c.message_id, failed_transfers.c.recipient,
                                  failed_transfers.c.cause, failed_transfers.c.detail)).all()
        delivered_events = Counter(str(d) for (d,) in c.execute(
            select(events.c.delivery_id).where(events.c.kind == "delivered")))
        attempts = c.execute(select(events.c.delivery_id, events.c.detail).where(events.c.kind == "attempt")).all()

    # Stored once each, with exactly the deliveries routing calls for (invariants 1, 3).
    assert set(seq) == set(by_mid), f"{len(set(by_mid) - set(seq))} accepted notices not stored"
    assert {(str(r.message_id), str(r.recipient)) for r in rows} == expected
    assert len(rows) == len(expected)

    # None lost: every delivery ended delivered (or acknowledged); nothing in the operators' queue (2, 4).
    assert failed == [], f"{len(failed)} failed transfers, e.g. {failed[:3]}\n{excerpt}"
    states = Counter(str(r.state) for r in rows)
    assert set(states) <= set(SUCCESS), f"delivery states {dict(states)}\n{excerpt}"

    # The hub's own state changes happened once: one 'delivered' event per delivery, and one successful
    # attempt that changed state (a late duplicate is kept on the record with a note, changing nothing).
    twice = {d: n for d, n in delivered_events.items() if n != 1}
    assert twice == {}, f"deliveries with several 'delivered' events: {list(twice.items())[:5]}"
    assert set(delivered_events) == {str(r.id) for r in rows}
    winners: Counter[str] = Counter()
    for d, detail in attempts:
        if detail and re.search(r'"outcome": "(delivered|acknowledged)"', detail) and '"note"' not in detail:
            winners[str(d)] += 1
    doubled = {d: n for d, n in winners.items() if n != 1}
    assert doubled == {}, f"deliveries with several successful outcomes recorded: {list(doubled.items())[:5]}"
    assert len(winners) == len(rows)

    # Every (message, recipient) arrived at the recipient at least once, complete; nothing went elsewhere.
    arrivals = []
    cut = 0
    for got in rig.recipients.got():
        n = by_mid.get(got.message_id)
        assert n is not None, f"{got.agency} got a message the test never sent: {got.message_id}"
        if got.body != n.xml:
            assert n.xml.startswith(got.body), f"{got.agency} got a corrupted body for {got.message_id}"
            cut += 1  # a sender killed mid-request: the recipient saw a cut-off body, and the hub retried
            continue
        arrivals.append((got.message_id, got.agency))
    seen = set(arrivals)
    assert seen - expected == set(), f"unexpected arrivals: {sorted(seen - expected)[:5]}"
    missing = expected - seen
    assert missing == set(), f"{len(missing)} deliveries never arrived, e.g. {sorted(missing)[:5]}\n{excerpt}"

    # Per-person order: at each recipient, each person's messages first arrived in the hub's order (seq).
    firsts: dict[tuple[str, str], list[str]] = defaultdict(list)
    for mid, agency in dict.fromkeys(arrivals):
        firsts[(agency, by_mid[mid].person)].append(mid)
    overtaken = []
    for (agency, person), mids in firsts.items():
        if mids != sorted(mids, key=seq.__getitem__):
            overtaken.append(f"{agency}/{person}: arrived {[(by_mid[m].kind, seq[m]) for m in mids]}")
    assert overtaken == [], "per-person order broken:\n" + "\n".join(overtaken[:5])
    return len(arrivals), len(arrivals) - len(seen), cut


def run_stream(rig: Rig, *, notices: int, persons: int, seconds: float, seed: int) -> tuple[list[Notice], Poster]:
    rng = random.Random(seed)
    stream = make_stream(rng, persons=persons, per_person=notices // persons)
    return stream, Poster(rig.hub.url, stream, pace=seconds / len(stream))


# ---- the scenarios ------------------------------------------------------------------------------------------


def test_workers_sigkilled_mid_stream_lose_nothing_and_change_state_once(rig: Rig) -> None:
    # Given the API and two workers, and a client posting 300 notices about 10 persons over ~15 s
    t0 = time.monotonic()
    seed = random.randrange(1 << 30)
    print(f"\nseed {seed}")
    rng = random.Random(seed)
    stream, poster = run_stream(rig, notices=300, persons=10, seconds=15.0, seed=seed)
    kills = 0

    def chaos() -> None:
        # When a random worker is SIGKILLed at random moments (at least 4 times) and replaced
        nonlocal kills
        while kills < 4 or not poster.done.is_set():
            time.sleep(rng.uniform(0.8, 3.0))
            rig.hub.kill_worker(rng.choice(rig.hub.workers))
            kills += 1
            time.sleep(rng.uniform(0.0, 1.0))
            rig.hub.start_worker()

    posting = start_thread(poster.run, "poster")
    killing = start_thread(chaos, "chaos")
    posting.join(120)
    killing.join(60)
    assert not killing.is_alive()
    assert kills >= 4
    # Then every delivery becomes final, and the invariants hold
    expected = sum(len(n.recipients) for n in stream)
    settle = wait_all_final(rig, deliveries_expected=expected, timeout=60)
    time.sleep(0.5)  # let stale sends of killed workers' claims land, so duplicates are counted
    arrivals, dups, cut = check_invariants(rig, stream, poster)
    Summary(len(stream), poster.accepted, list(poster.statuses.values()).count(200), expected, arrivals, dups,
            cut, kills, time.monotonic() - t0, redriven(rig.engine)).show(
        f"{rig.stack.name}: worker SIGKILLs, settled in {settle:.1f}s")


def rabbitmqctl(*args: str, timeout: float = 60.0) -> str:
    """Run rabbitmqctl; on a timeout kill its process group (a shell and su; su's child finishes on its own)."""
    p = subprocess.Popen(["rabbitmqctl", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise AssertionError(f"rabbitmqctl {' '.join(args)} did not return within {timeout}s: the broker is "
                             "unwell (see /var/log/rabbitmq), not the hub") from None
    text = out.decode(errors="replace")
    assert p.returncode == 0, f"rabbitmqctl {' '.join(args)}: {text[-500:]}"
    return text


def check_rabbit_can_restart() -> None:
    """Refuse to restart a broker that would not come back (and would hang every other user of it).

    RabbitMQ 3.10's file-handle cache reserves 3 handles per quorum queue when the app boots, out of about
    0.9 x (open-files limit - 97) for sockets; past that budget the boot waits forever for a handle, and
    so does every new connection. Test suites that leave their prefixed queues behind fill it up."""
    quorum = rabbitmqctl("list_queues", "-q", "--no-table-headers", "type").split().count("quorum")
    ulimit = int(rabbitmqctl("eval", "file_handle_cache:ulimit().").strip())
    budget = int(0.9 * (ulimit - 97)) - 100  # keep room for the connections of this test and others
    if 3 * quorum > budget:
        pytest.fail(f"RabbitMQ has {quorum} quorum queues; with its open-files limit of {ulimit} a restarted "
                    f"app could not reserve their {3 * quorum} file handles (budget ~{budget}) and would hang. "
                    "Delete leftover test queues or raise the broker's nofile limit, then run this again.")


@pytest.mark.alone  # it stops the machine's RabbitMQ for 5 s: no other test may be using it then
def test_outage_mid_stream_loses_nothing_and_change_state_once(rig: Rig) -> None:
    # Given the API and two workers, and a client posting 300 notices about 10 persons over ~15 s
    t0 = time.monotonic()
    seed = random.randrange(1 << 30)
    print(f"\nseed {seed}")
    stream, poster = run_stream(rig, notices=300, persons=10, seconds=15.0, seed=seed)
    breaks = 0
    trouble: list[BaseException] = []
    rabbit = rig.stack.broker_url.startswith("amqp")
    if rabbit:
        check_rabbit_can_restart()
    hub = rig.hub

    def stop_everything(sig: signal.Signals) -> None:
        procs = [p for p in [hub.api, *hub.workers] if p is not None]
        for p in procs:
            p.send_signal(sig)
        for p in procs:
            p.wait(60)
        hub.workers.clear()

    def restart_everything() -> None:
        hub.start_api()
        hub.start_worker()
        hub.start_worker()

    def outage() -> None:
        nonlocal breaks
        try:
            time.sleep(4.0)
            if rabbit:
                # When RabbitMQ is stopped for a few seconds mid-stream
                try:
                    rabbitmqctl("stop_app")
                    breaks += 1
                    time.sleep(5.0)
                finally:
                    rabbitmqctl("start_app")
                return
            # When the API and workers are SIGKILLed mid-stream, restarted, later stopped cleanly and restarted
            stop_everything(signal.SIGKILL)
            breaks += 1
            time.sleep(2.0)
            restart_everything()
            time.sleep(3.0)
            stop_everything(signal.SIGTERM)
            breaks += 1
            time.sleep(1.0)
            restart_everything()
        except BaseException as e:  # handed to the test thread
            trouble.append(e)

    try:
        posting = start_thread(poster.run, "poster")
        breaking = start_thread(outage, "outage")
        breaking.join(180)
        posting.join(120)
    finally:
        if rabbit:
            rabbitmqctl("start_app", timeout=90)  # never leave the shared broker stopped
            rabbitmqctl("await_startup", timeout=60)
    if trouble:
        raise trouble[0]
    assert breaks == (1 if rabbit else 2)
    assert poster.posted == len(stream)
    # Then every delivery becomes final, and the invariants hold
    expected = sum(len(n.recipients) for n in stream)
    settle = wait_all_final(rig, deliveries_expected=expected, timeout=60)
    time.sleep(0.5)
    arrivals, dups, cut = check_invariants(rig, stream, poster)
    what = "RabbitMQ stop_app/start_app" if rabbit else "API+workers SIGKILL/SIGTERM restarts"
    Summary(len(stream), poster.accepted, list(poster.statuses.values()).count(200), expected, arrivals, dups,
            cut, breaks, time.monotonic() - t0, redriven(rig.engine)).show(
        f"{rig.stack.name}: {what}, settled in {settle:.1f}s; client retries {poster.retries} "
        f"{dict(poster.failures)}")
