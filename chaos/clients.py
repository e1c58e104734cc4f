"""The agencies' side of a chaos run: senders posting notices (resending the same bytes, so the same message id and
sender document id, whenever an answer did not come), bureau clerks answering judgments with a 回执 and a 报到
outcome, procuratorates collecting their pull inboxes, and an operator retrying failed transfers through the API."""

from __future__ import annotations

import heapq
import itertools
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from chaos.stream import Notice, Stream
from tests.harness import auth

HUB_AGENCY = "530500ZX"


@dataclass
class Results:
    """What the clients saw, shared by every client thread (under ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    accepted: dict[str, int] = field(default_factory=dict)  # message id -> 202, or 200 (stored by an earlier try)
    tries: Counter[str] = field(default_factory=Counter)  # message id -> POSTs made
    refused: dict[str, str] = field(default_factory=dict)  # message id -> a 4xx answer (the stream must change)
    gave_up: dict[str, str] = field(default_factory=dict)  # message id -> why no answer came in time
    retry_reasons: Counter[str] = field(default_factory=Counter)

    def note(self, mid: str, *, status: int | None = None, refused: str | None = None, retry: str | None = None,
             gave_up: str | None = None) -> None:
        with self.lock:
            if status is not None:
                self.accepted[mid] = status
            if refused is not None:
                self.refused[mid] = refused
            if retry is not None:
                self.retry_reasons[retry] += 1
            if gave_up is not None:
                self.gave_up[mid] = gave_up


class Apis:
    """The API processes' URLs; each request goes to the next one (a client-side balancer)."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.urls = list(urls)
        self.turn = itertools.count()

    def pick(self) -> str:
        return self.urls[next(self.turn) % len(self.urls)]


def _why(e: Exception) -> str:
    return type(e).__name__


def post_notice(client: httpx.Client, apis: Apis, n: Notice, results: Results, *, stop: threading.Event,
                give_up_after: float) -> None:
    """POST ``n`` until the hub answers it: 202 (stored now) or 200 (stored by an earlier try whose answer was lost);
    no answer, a 5xx or a 429 means the same bytes again, to the next API process."""
    deadline = time.monotonic() + give_up_after
    wait = 0.2
    while True:
        with results.lock:
            results.tries[n.mid] += 1
        try:
            r = client.post(apis.pick() + "/api/v1/messages", content=n.xml,
                            headers={**auth(n.sender), "Content-Type": "application/xml"})
        except httpx.HTTPError as e:
            why = _why(e)
        else:
            if r.status_code in (200, 202):
                got = r.json().get("message_id")
                if got != n.mid:
                    results.note(n.mid, refused=f"answered {r.status_code} with another message id {got}")
                else:
                    results.note(n.mid, status=r.status_code)
                return
            if r.status_code < 500 and r.status_code != 429:
                results.note(n.mid, refused=f"{n.kind} from {n.sender}: HTTP {r.status_code} {r.text[:400]}")
                return
            why = f"HTTP {r.status_code}"
        results.note(n.mid, retry=why)
        if time.monotonic() > deadline or stop.is_set():
            results.note(n.mid, gave_up=f"no answer within {give_up_after:.0f} s (last: {why})")
            return
        time.sleep(wait * random.uniform(0.5, 1.5))
        wait = min(wait * 2, 2.0)


def _client() -> httpx.Client:
    return httpx.Client(timeout=httpx.Timeout(30.0, connect=3.0),
                        limits=httpx.Limits(max_connections=4, max_keepalive_connections=4))


class Poster(threading.Thread):
    """One sending client: its notices in order, paced to last ``seconds``, each until answered."""

    def __init__(self, name: str, notices: Sequence[Notice], apis: Apis, results: Results, *, seconds: float,
                 stop: threading.Event, give_up_after: float) -> None:
        super().__init__(name=name, daemon=True)
        self.notices, self.apis, self.results, self.stop = notices, apis, results, stop
        self.pace = seconds / max(1, len(notices))
        self.give_up_after = give_up_after
        self.posted = 0
        self.crashed: BaseException | None = None

    def run(self) -> None:
        try:
            with _client() as c:
                t0 = time.monotonic()
                for i, n in enumerate(self.notices):
                    if self.stop.is_set():
                        return
                    post_notice(c, self.apis, n, self.results, stop=self.stop, give_up_after=self.give_up_after)
                    self.posted += 1
                    ahead = t0 + (i + 1) * self.pace - time.monotonic()
                    if ahead > 0:
                        time.sleep(ahead)
        except BaseException as e:  # reported by the run
            self.crashed = e


def read_journal(path: Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Complete JSON lines of a recipient journal from ``offset``; returns them and the offset after them."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1
    return [json.loads(line) for line in data[:end].splitlines() if line], offset + end


class Clerk(threading.Thread):
    """The receipting bureaus' clerks: when a judgment reaches a bureau (its arrival in a recipient journal), the
    bureau sends its 回执 and, a little later, the person's 报到 outcome."""

    def __init__(self, stream: Stream, journals: Sequence[Path], apis: Apis, results: Results, *,
                 stop: threading.Event, give_up_after: float, rng: random.Random, delay: tuple[float, float]) -> None:
        super().__init__(name="clerk", daemon=True)
        self.stream, self.journals, self.apis, self.results, self.stop = stream, journals, apis, results, stop
        self.give_up_after, self.rng, self.delay = give_up_after, rng, delay
        self.offsets = dict.fromkeys(journals, 0)
        self.seen: set[str] = set()
        self.due: list[tuple[float, int, Notice]] = []
        self.order = itertools.count()
        self.posted = 0
        self.crashed: BaseException | None = None
        self.lock = threading.Lock()

    @property
    def waiting(self) -> int:
        with self.lock:
            return len(self.due)

    def _read(self) -> None:
        for j in self.journals:
            lines, self.offsets[j] = read_journal(j, self.offsets[j])
            for rec in lines:
                mid = rec.get("m", "")
                answers = self.stream.responses.get(mid)
                if answers is None or mid in self.seen:
                    continue
                if rec.get("a") != self.stream.persons[self.stream.by_mid[mid].person].county + "SF":
                    continue
                self.seen.add(mid)
                at = time.monotonic() + self.rng.uniform(*self.delay)
                with self.lock:
                    for n in answers:
                        heapq.heappush(self.due, (at, next(self.order), n))
                        at += self.rng.uniform(*self.delay)

    def run(self) -> None:
        try:
            with _client() as c:
                while not self.stop.is_set():
                    self._read()
                    with self.lock:
                        ready = self.due and self.due[0][0] <= time.monotonic()
                        item = heapq.heappop(self.due) if ready else None
                    if item is None:
                        time.sleep(0.1)
                        continue
                    post_notice(c, self.apis, item[2], self.results, stop=self.stop,
                                give_up_after=self.give_up_after)
                    self.posted += 1
        except BaseException as e:
            self.crashed = e


@dataclass
class InboxRecord:
    fetched: Counter[tuple[str, str]] = field(default_factory=Counter)  # (message id, agency) -> times fetched
    acked: set[str] = field(default_factory=set)  # delivery ids whose ack the hub answered
    ack_changed: int = 0  # acks that changed the delivery (the others: already acknowledged)
    errors: Counter[str] = field(default_factory=Counter)


class InboxCollector(threading.Thread):
    """A procuratorate collecting its pull inbox: fetch in hub order, acknowledge each item."""

    def __init__(self, agency: str, apis: Apis, record: InboxRecord, lock: threading.Lock, *,
                 stop: threading.Event) -> None:
        super().__init__(name=f"inbox-{agency}", daemon=True)  # several may collect one inbox
        self.agency, self.apis, self.record, self.lock, self.stop = agency, apis, record, lock, stop
        self.crashed: BaseException | None = None

    def run(self) -> None:
        try:
            with _client() as c:
                while not self.stop.is_set():
                    if not self._round(c):
                        self.stop.wait(0.5)
        except BaseException as e:
            self.crashed = e

    def _round(self, c: httpx.Client) -> bool:
        try:
            r = c.get(self.apis.pick() + "/api/v1/inbox", params={"limit": 50}, headers=auth(self.agency))
        except httpx.HTTPError as e:
            self._error(_why(e))
            return False
        if r.status_code != 200:
            self._error(f"inbox HTTP {r.status_code}")
            return False
        items = r.json()["items"]
        with self.lock:
            for it in items:
                self.record.fetched[(it["message_id"], self.agency)] += 1
        for it in items:
            try:
                a = c.post(self.apis.pick() + f"/api/v1/inbox/{it['delivery_id']}/ack", headers=auth(self.agency))
            except httpx.HTTPError as e:
                self._error(_why(e))
                continue
            if a.status_code == 200:
                with self.lock:
                    self.record.acked.add(it["delivery_id"])
                    self.record.ack_changed += bool(a.json().get("changed"))
            else:
                self._error(f"ack HTTP {a.status_code}")
        return bool(items)

    def _error(self, why: str) -> None:
        with self.lock:
            self.record.errors[why] += 1


@dataclass
class OperatorRecord:
    retried: Counter[str] = field(default_factory=Counter)  # failed transfer id -> retry calls answered
    answers: Counter[str] = field(default_factory=Counter)  # the retry answers' status
    passes: int = 0
    errors: Counter[str] = field(default_factory=Counter)


class Operator(threading.Thread):
    """The hub's operator: once a fault is over, retries the open failed transfers of the recipients it hit
    (``retries_exhausted``), and inbox items that went uncollected (``not_collected``: the procuratorates collect
    all the time, so only the drill's compressed maximum age against real-time leases can cause one), through
    ``POST /api/v1/failed-transfers/{id}/retry`` with the hub's key (audited by the hub)."""

    def __init__(self, apis: Apis, record: OperatorRecord, *, healed: Callable[[], set[str]],
                 stop: threading.Event, every: float) -> None:
        super().__init__(name="operator", daemon=True)
        self.apis, self.record, self.healed, self.stop, self.every = apis, record, healed, stop, every
        self.crashed: BaseException | None = None

    def run(self) -> None:
        try:
            with _client() as c:
                while not self.stop.wait(self.every):
                    self.pass_once(c)
        except BaseException as e:
            self.crashed = e

    def open_transfers(self, c: httpx.Client) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            r = c.get(self.apis.pick() + "/api/v1/failed-transfers",
                      params={"status": "open", "limit": 1000, "offset": len(out)}, headers=auth(HUB_AGENCY))
            if r.status_code != 200:
                raise httpx.HTTPStatusError(f"failed-transfers HTTP {r.status_code}: {r.text[:200]}",
                                            request=r.request, response=r)
            page = r.json()
            items = page["items"]
            out.extend(items)
            if len(items) < 1000 or len(out) >= int(page["total"]):
                return out

    def pass_once(self, c: httpx.Client) -> int:
        """One look at the queue: retry what the healed faults left; returns how many were retried."""
        healed = self.healed()
        try:
            items = self.open_transfers(c)
        except httpx.HTTPError as e:
            self.record.errors[_why(e)] += 1
            return 0
        self.record.passes += 1
        n = 0
        for ft in items:
            exhausted = ft.get("cause") == "retries_exhausted" and ft.get("recipient") in healed
            if not (exhausted or ft.get("cause") == "not_collected"):
                continue
            try:
                r = c.post(self.apis.pick() + f"/api/v1/failed-transfers/{ft['id']}/retry",
                           json={"reason": "recipient back after the outage"}, headers=auth(HUB_AGENCY))
            except httpx.HTTPError as e:
                self.record.errors[_why(e)] += 1
                continue
            if r.status_code in (200, 202):
                self.record.retried[ft["id"]] += 1
                self.record.answers[str(r.json().get("status"))] += 1
                n += 1
            else:
                self.record.errors[f"retry HTTP {r.status_code}"] += 1
        return n
