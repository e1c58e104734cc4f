"""Retry policy (pure) and the HTTP sender's sorting of failures, against a real loopback server."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.bus.topology import retry_policy
from hub.core.model import Agency, OrganType, Transport
from hub.core.retry import RetryPolicy, gives_up, is_retryable_status, next_delay
from hub.store.work import Claimed
from hub.transports.senders import send
from tests.harness import free_port, notice, technical_ack

# ---- which answers are worth retrying ---------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 501, 502, 503, 504, 507, 599, 408, 425, 429])
def test_server_errors_timeouts_and_throttling_are_retryable(status: int) -> None:
    assert is_retryable_status(status)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 410, 413, 415, 422])
def test_client_errors_are_permanent(status: int) -> None:
    assert not is_retryable_status(status)


# ---- when the next attempt is due ---------------------------------------------------------------------

TIERS = (60.0, 300.0, 1800.0, 7200.0, 21600.0)


def test_the_shipped_topology_declares_the_documented_tiers() -> None:
    p = retry_policy()
    assert p.tiers == TIERS
    assert p.jitter == 0.2
    assert p.max_age == dt.timedelta(hours=72)


@settings(max_examples=300, deadline=None)
@given(failures=st.integers(min_value=1, max_value=50), seed=st.integers(min_value=0, max_value=2**32))
def test_delay_is_the_tier_within_its_jitter_and_capped_at_the_last_tier(failures: int, seed: int) -> None:
    policy = RetryPolicy(tiers=TIERS, jitter=0.2)
    delay = next_delay(policy, failures, rng=random.Random(seed))
    tier = TIERS[min(failures, len(TIERS)) - 1]
    assert tier * 0.8 <= delay <= tier * 1.2
    assert delay <= TIERS[-1] * 1.2


@settings(max_examples=300, deadline=None)
@given(tiers=st.lists(st.floats(min_value=0.01, max_value=1e6, allow_nan=False), min_size=1, max_size=6),
       jitter=st.floats(min_value=0.0, max_value=0.99), failures=st.integers(min_value=1, max_value=30),
       seed=st.integers(min_value=0, max_value=2**32))
def test_delay_for_any_policy_is_never_below_one_second_and_never_beyond_the_jittered_tier(
        tiers: list[float], jitter: float, failures: int, seed: int) -> None:
    policy = RetryPolicy(tiers=tuple(tiers), jitter=jitter)
    delay = next_delay(policy, failures, rng=random.Random(seed))
    tier = tiers[min(failures, len(tiers)) - 1]
    eps = 1e-9 * max(1.0, tier)
    assert delay >= 1.0
    assert max(1.0, tier * (1 - jitter)) - eps <= delay <= max(1.0, tier * (1 + jitter)) + eps


def test_jitter_spreads_delays_on_both_sides_of_the_tier() -> None:
    policy = RetryPolicy(tiers=(100.0,), jitter=0.2)
    rng = random.Random(7)
    delays = [next_delay(policy, 1, rng=rng) for _ in range(500)]
    assert min(delays) < 90 and max(delays) > 110
    assert all(80 <= d <= 120 for d in delays)


def test_without_jitter_the_delay_is_exactly_the_tier() -> None:
    policy = RetryPolicy(tiers=(5.0, 10.0), jitter=0.0)
    assert [next_delay(policy, f) for f in (1, 2, 3, 99)] == [5.0, 10.0, 10.0, 10.0]


def test_tiny_tiers_still_wait_at_least_one_second() -> None:
    policy = RetryPolicy(tiers=(0.05,), jitter=0.5)
    assert next_delay(policy, 1, rng=random.Random(1)) == 1.0


@pytest.mark.parametrize("failures", [0, -1])
def test_failures_count_from_one(failures: int) -> None:
    with pytest.raises(ValueError, match="from 1"):
        next_delay(RetryPolicy(), failures)


def test_a_delivery_gives_up_only_past_its_maximum_age() -> None:
    policy = RetryPolicy(max_age=dt.timedelta(hours=72))
    first = dt.datetime(2026, 4, 2, 1, 30, tzinfo=dt.UTC)
    assert not gives_up(policy, first_attempt=first, next_attempt=first + dt.timedelta(hours=71, minutes=59))
    assert not gives_up(policy, first_attempt=first, next_attempt=first + dt.timedelta(hours=72))
    assert gives_up(policy, first_attempt=first, next_attempt=first + dt.timedelta(hours=72, seconds=1))


@pytest.mark.parametrize(("kw", "match"), [
    ({"tiers": ()}, "positive"),
    ({"tiers": (60.0, 0.0)}, "positive"),
    ({"tiers": (-1.0,)}, "positive"),
    ({"jitter": 1.0}, "jitter"),
    ({"jitter": -0.1}, "jitter"),
])
def test_a_nonsensical_policy_is_refused(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RetryPolicy(**kw)


@pytest.mark.parametrize("kw", [
    {"max_age": dt.timedelta(0)},
    {"max_age": dt.timedelta(hours=-1)},
    {"inline_attempts": 0},
    {"inline_wait": -0.2},
])
def test_a_policy_that_would_fail_every_delivery_or_crash_the_sender_is_refused(kw: dict[str, Any]) -> None:
    # A zero or negative max age turns every transient failure into a failed transfer at once;
    # a negative inline wait makes tenacity call time.sleep(-0.2), which raises inside send().
    with pytest.raises(ValueError):
        RetryPolicy(**kw)


# ---- the HTTP sender against a real loopback server -----------------------------------------------------


@dataclass
class Script:
    """A loopback agency endpoint answering a scripted sequence of (status, body, delay) and recording requests."""

    answers: list[tuple[int, bytes, float]]
    port: int = field(default_factory=free_port)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/agencies/530581SF/notices"

    def start(self) -> Script:
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                outer.requests.append((dict(self.headers.items()), body))
                i = min(len(outer.requests), len(outer.answers)) - 1
                code, answer, delay = outer.answers[i]
                time.sleep(delay)
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the client gave up waiting

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), H)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=0.5) as c:
        yield c


POLICY = RetryPolicy(tiers=(1.0,), inline_attempts=3, inline_wait=0.05)


def claim(payload: bytes | None = None) -> Claimed:
    mid, xml = notice("SentencingDecision", sender="530502FY", execution_division="530581")
    return Claimed(delivery_id=str(uuid.uuid4()), seq=1, message_id=mid, message_type="SentencingDecision",
                   recipient="530581SF", transport="http", person_key="530522198803140310", attempt=1,
                   payload=payload or xml)


def bureau(endpoint: str | None, transport: Transport = Transport.HTTP) -> Agency:
    return Agency(code="530581SF", organ_type=OrganType.BUREAU, division="530581", name="腾冲市司法局",
                  transport=transport, endpoint=endpoint)


def serve(*answers: tuple[int, bytes, float]) -> Script:
    return Script(list(answers)).start()


def test_a_503_then_200_succeeds_within_one_attempt(client: httpx.Client) -> None:
    # Given a bureau whose first answer is 503 and second is 200
    s = serve((503, b"busy", 0.0), (200, b"", 0.0))
    try:
        c = claim()
        # When the hub sends one attempt
        kind, detail, status = send(c, bureau(s.url), client=client, policy=POLICY)
    finally:
        s.stop()
    # Then tenacity's inline retry made it: delivered, after exactly two requests carrying the same payload
    assert (kind, detail, status) == ("delivered", None, 200)
    assert len(s.requests) == 2
    assert [body for _, body in s.requests] == [c.payload, c.payload]
    headers = s.requests[1][0]
    assert headers["X-Xianjie-Message-Id"] == c.message_id
    assert headers["X-Xianjie-Delivery-Id"] == c.delivery_id
    assert headers["X-Xianjie-Message-Type"] == "SentencingDecision"


def test_a_bureau_that_stays_at_503_is_transient_after_the_inline_attempts(client: httpx.Client) -> None:
    s = serve((503, b"down for maintenance", 0.0))
    try:
        kind, detail, status = send(claim(), bureau(s.url), client=client, policy=POLICY)
    finally:
        s.stop()
    assert (kind, status) == ("transient", 503)
    assert "503" in str(detail) and "maintenance" in str(detail)
    assert len(s.requests) == POLICY.inline_attempts


def test_a_400_is_permanent_and_not_retried(client: httpx.Client) -> None:
    s = serve((400, b"payload refused: unknown document kind", 0.0), (200, b"", 0.0))
    try:
        kind, detail, status = send(claim(), bureau(s.url), client=client, policy=POLICY)
    finally:
        s.stop()
    assert (kind, status) == ("permanent", 400)
    assert "HTTP 400" in str(detail) and "unknown document kind" in str(detail)
    assert len(s.requests) == 1


@pytest.mark.parametrize("code", [408, 429])
def test_throttling_is_transient_but_left_to_the_rescheduled_retry(client: httpx.Client, code: int) -> None:
    s = serve((code, b"slow down", 0.0), (200, b"", 0.0))
    try:
        kind, _detail, status = send(claim(), bureau(s.url), client=client, policy=POLICY)
    finally:
        s.stop()
    assert (kind, status) == ("transient", code)
    assert len(s.requests) == 1


def test_connection_refused_is_transient(client: httpx.Client) -> None:
    # Given an endpoint where nothing listens
    url = f"http://127.0.0.1:{free_port()}/agencies/530581SF/notices"
    kind, detail, status = send(claim(), bureau(url), client=client, policy=POLICY)
    assert (kind, status) == ("transient", None)
    assert "cannot reach" in str(detail)


def test_a_timeout_is_transient(client: httpx.Client) -> None:
    # Given a bureau that answers after 2 s, and a client that waits 0.5 s
    s = serve((200, b"", 2.0))
    try:
        started = time.monotonic()
        kind, detail, status = send(claim(), bureau(s.url), client=client, policy=POLICY)
        took = time.monotonic() - started
    finally:
        s.stop()
    assert (kind, status) == ("transient", None)
    assert "timed out" in str(detail)
    assert took < 1.9  # did not wait for the slow answer


def test_an_ack_in_the_response_acknowledges_at_once(client: httpx.Client) -> None:
    c = claim()
    s = serve((200, technical_ack("530581SF", c.message_id), 0.0))
    try:
        assert send(c, bureau(s.url), client=client, policy=POLICY) == ("acknowledged", None, 200)
    finally:
        s.stop()


def test_a_rejecting_ack_in_the_response_is_a_permanent_failure(client: httpx.Client) -> None:
    c = claim()
    s = serve((200, technical_ack("530581SF", c.message_id, status="REJECTED"), 0.0))
    try:
        kind, detail, status = send(c, bureau(s.url), client=client, policy=POLICY)
        assert (kind, status) == ("permanent", 200)
        assert "REJECTED" in str(detail)
    finally:
        s.stop()


def test_inbox_recipients_are_made_available_without_any_request(client: httpx.Client) -> None:
    assert send(claim(), bureau(None, Transport.INBOX), client=client, policy=POLICY) == ("available", None, None)


def test_folder_recipients_get_the_payload_as_a_file(client: httpx.Client, tmp_path: Path) -> None:
    c = claim()
    kind, detail, status = send(c, bureau(str(tmp_path / "drop"), Transport.FOLDER), client=client, policy=POLICY)
    assert (kind, status) == ("delivered", None)
    name = f"{c.seq:012d}-SentencingDecision-{c.message_id}.xml"
    assert name in str(detail)
    assert (tmp_path / "drop" / name).read_bytes() == c.payload
    assert [p.name for p in (tmp_path / "drop").iterdir()] == [name]


def test_an_unwritable_drop_folder_is_transient(client: httpx.Client, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    kind, detail, _ = send(claim(), bureau(str(blocker / "drop"), Transport.FOLDER), client=client, policy=POLICY)
    assert kind == "transient"
    assert "drop folder" in str(detail)
