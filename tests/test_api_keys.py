"""Agencies' API keys (hub.api_keys, hub.api.auth, ``xianjie keys``) and the failed-attempt limit (hub.auth_limit),
on SQLite and PostgreSQL: issue, list, revoke, expiry, rotation, the registry's bootstrap key, hash-only storage,
revocation seen by another hub process, 429 after repeated failures (API and console), logs and audit entries."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select

from hub import api_keys, auth_limit, operators
from hub.cli import main
from hub.migrate import upgrade
from hub.registry import key_hash, load_registry
from hub.store.api_key_schema import api_keys as api_keys_table
from hub.store.api_key_schema import auth_blocks, auth_failures
from hub.store.db import aware, make_engine, utcnow
from hub.store.schema import audit_log, metadata, quarantine
from tests.conftest import Stack
from tests.console_harness import PASSWORD, hidden
from tests.harness import api_key, auth, wait_until, write_registry
from tests.hubserver import InProcessHub, ProcessHub, hub_settings
from tests.services import fresh_postgres

T0 = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.UTC)
FY, GA, HUB = "530502FY", "530502GA", "530500ZX"


@pytest.fixture
def registry_file(tmp_path: Path) -> Path:
    return write_registry(tmp_path / "agencies.toml", recipients_url="http://127.0.0.1:9", drop_root=tmp_path / "drop")


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    def made(url: str) -> Iterator[tuple[str, Engine]]:
        upgrade(url)
        engine = make_engine(url, pool_size=2)
        yield url, engine
        engine.dispose()

    if request.param == "sqlite":
        yield from made(f"sqlite:///{tmp_path}/hub.db")
        return
    with fresh_postgres() as url:
        yield from made(url)


def audit(engine: Engine) -> list[tuple[str, str, str, dict[str, object]]]:
    with engine.connect() as conn:
        return [(r.actor, r.action, r.target, json.loads(r.detail or "{}"))
                for r in conn.execute(select(audit_log).order_by(audit_log.c.id))]


def quarantined(stack: Stack) -> int:
    engine = make_engine(stack.database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(quarantine)).scalar_one())
    finally:
        engine.dispose()


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ---- the key store -----------------------------------------------------------------------------------------


def test_a_key_is_issued_listed_used_and_revoked_with_audit_entries(db: tuple[str, Engine],
                                                                    registry_file: Path) -> None:
    _, engine = db
    directory = load_registry(registry_file)
    store = api_keys.KeyStore(engine, cache_seconds=0)
    # Given a key issued to a court
    issued = api_keys.issue(engine, directory=directory, agency=FY, by="cli", label="court system, server A",
                            expires_in=dt.timedelta(days=30), now=T0)
    assert issued.key.startswith(f"xjk_{issued.key_id}_") and len(issued.key) > 50
    assert api_keys.public_id(issued.key) == issued.key_id
    assert issued.expires_at == T0 + dt.timedelta(days=30)
    # Then it names the court, and the list shows it beside the registry's bootstrap key, as active
    found = store.check(issued.key, directory=directory, now=T0 + dt.timedelta(days=1))
    assert found.agency is not None and found.agency.code == FY and found.key_id == issued.key_id
    listed = {k.id: k for k in api_keys.list_keys(engine, directory=directory, agency=FY)}
    assert set(listed) == {issued.key_id, f"reg-{FY}"}
    assert listed[issued.key_id].label == "court system, server A" and listed[issued.key_id].state(T0) == "active"
    assert listed[f"reg-{FY}"].source == "registry" and listed[f"reg-{FY}"].expires_at is None
    assert len(api_keys.list_keys(engine, directory=directory)) == len(directory.agencies) + 1
    # When it is revoked
    info = api_keys.revoke(engine, directory=directory, key_id=issued.key_id, by="console:li", reason="server A sold",
                           now=T0 + dt.timedelta(days=2))
    assert info.revoked_at == T0 + dt.timedelta(days=2) and info.revoked_by == "console:li"
    # Then it is refused, named by its id, and says why
    refused = store.check(issued.key, directory=directory, now=T0 + dt.timedelta(days=3))
    assert refused.agency is None and refused.key_id == issued.key_id and refused.reason == "revoked key"
    assert api_keys.list_keys(engine, directory=directory, agency=FY)[1].state(T0) == "revoked"
    # And what cannot be done is refused, naming why
    for call, why in [
        (lambda: api_keys.revoke(engine, directory=directory, key_id=issued.key_id, by="cli", reason="again"),
         "revoked already"),
        (lambda: api_keys.revoke(engine, directory=directory, key_id="0000beef", by="cli", reason="x"), "no key"),
        (lambda: api_keys.revoke(engine, directory=directory, key_id="reg-999999XX", by="cli", reason="x"),
         "no bootstrap key"),
        (lambda: api_keys.revoke(engine, directory=directory, key_id=issued.key_id, by="cli", reason=" "), "say why"),
        (lambda: api_keys.issue(engine, directory=directory, agency="999999XX", by="cli"), "no agency"),
        (lambda: api_keys.issue(engine, directory=directory, agency=FY, by="cli", expires_in=dt.timedelta(0)),
         "1 to 3650 days"),
    ]:
        with pytest.raises(api_keys.ApiKeyError, match=why):
            call()
    # And the audit log has the issue and the revocation, with who and why, and never the key
    entries = audit(engine)
    assert [(a, act, t) for a, act, t, _ in entries] == [
        ("cli", "api_key_issue", f"api_key:{issued.key_id}"),
        ("console:li", "api_key_revoke", f"api_key:{issued.key_id}")]
    assert entries[0][3] == {"agency": FY, "label": "court system, server A",
                             "expires_at": (T0 + dt.timedelta(days=30)).isoformat()}
    assert entries[1][3] == {"agency": FY, "reason": "server A sold"}


def test_a_key_expires_by_the_clock_it_is_checked_with(db: tuple[str, Engine], registry_file: Path) -> None:
    _, engine = db
    directory = load_registry(registry_file)
    store = api_keys.KeyStore(engine, cache_seconds=0)
    issued = api_keys.issue(engine, directory=directory, agency=GA, by="cli", expires_in=dt.timedelta(days=10), now=T0)
    end = T0 + dt.timedelta(days=10)
    assert store.check(issued.key, directory=directory, now=end - dt.timedelta(seconds=1)).agency is not None
    refused = store.check(issued.key, directory=directory, now=end)
    assert refused.agency is None and refused.reason == f"key expired at {end.isoformat()}"
    [k] = [k for k in api_keys.list_keys(engine, directory=directory, agency=GA) if k.source == "issued"]
    assert k.state(end - dt.timedelta(seconds=1)) == "active" and k.state(end) == "expired"


def test_the_registry_can_give_a_bootstrap_key_an_expiry(db: tuple[str, Engine], tmp_path: Path) -> None:
    _, engine = db
    # Given a registry whose court key expires on a day, and whose police key expires at an hour with its offset
    path = write_registry(tmp_path / "agencies.toml", recipients_url="http://127.0.0.1:9", drop_root=tmp_path / "d")
    text = path.read_text(encoding="utf-8")
    for code, when in ((FY, "2026-12-01"), (GA, "2026-11-30T18:00:00+08:00")):
        text = text.replace(f'code = "{code}"', f'code = "{code}"\napi_key_expires = {when}', 1)
    path.write_text(text, encoding="utf-8")
    directory = load_registry(path)
    store = api_keys.KeyStore(engine, cache_seconds=0)
    court_ends = dt.datetime(2026, 11, 30, 16, 0, tzinfo=dt.UTC)  # 2026-12-01 00:00 in Beijing
    police_ends = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC)
    # Then each works until then and is refused from then on, naming the expiry; a key without one works on
    for code, end in ((FY, court_ends), (GA, police_ends)):
        ok = store.check(api_key(code), directory=directory, now=end - dt.timedelta(seconds=1))
        assert ok.agency is not None and ok.agency.code == code and ok.key_id == f"reg-{code}"
        refused = store.check(api_key(code), directory=directory, now=end)
        assert (refused.agency, refused.key_id, refused.reason) == (None, f"reg-{code}",
                                                                    f"key expired at {end.isoformat()}")
    assert store.check(api_key(HUB), directory=directory, now=T0 + dt.timedelta(days=3650)).agency is not None
    # And the list shows the expiry and the state it gives
    listed = {k.id: k for k in api_keys.list_keys(engine, directory=directory)}
    assert listed[f"reg-{FY}"].expires_at == court_ends and listed[f"reg-{FY}"].state(court_ends) == "expired"
    assert listed[f"reg-{HUB}"].expires_at is None and listed[f"reg-{HUB}"].state(T0) == "active"
    # And an expiry without its offset, or not a date, is refused when the registry is read
    for bad, says in (("2026-12-01T00:00:00", "needs its offset"), ('"soon"', "is a date")):
        path.write_text(text.replace("api_key_expires = 2026-12-01", f"api_key_expires = {bad}"), encoding="utf-8")
        with pytest.raises(ValueError, match=says):
            load_registry(path)


def test_rotation_keeps_both_keys_valid_until_the_old_one_is_revoked(db: tuple[str, Engine],
                                                                      registry_file: Path) -> None:
    _, engine = db
    directory = load_registry(registry_file)
    store = api_keys.KeyStore(engine, cache_seconds=0)
    old = api_keys.issue(engine, directory=directory, agency=FY, by="cli", label="2026", now=T0)
    # Given a second key issued while the first is in use
    new = api_keys.issue(engine, directory=directory, agency=FY, by="cli", label="2027",
                         now=T0 + dt.timedelta(days=300))
    # Then both are valid in between
    for k in (old, new):
        assert store.check(k.key, directory=directory, now=T0 + dt.timedelta(days=301)).agency == directory.get(FY)
    # When the client has switched and the old key is revoked
    api_keys.revoke(engine, directory=directory, key_id=old.key_id, by="cli", reason="rotated",
                    now=T0 + dt.timedelta(days=302))
    # Then the old one is refused and the new one still works
    assert store.check(old.key, directory=directory, now=T0 + dt.timedelta(days=303)).reason == "revoked key"
    assert store.check(new.key, directory=directory, now=T0 + dt.timedelta(days=303)).agency == directory.get(FY)


def test_the_registry_key_is_a_bootstrap_key_revoked_like_any_other(db: tuple[str, Engine],
                                                                     registry_file: Path) -> None:
    _, engine = db
    directory = load_registry(registry_file)
    store = api_keys.KeyStore(engine, cache_seconds=0)
    # Given the registry's key of the court
    found = store.check(api_key(FY), directory=directory, now=T0)
    assert found.agency == directory.get(FY) and found.key_id == f"reg-{FY}"
    # When it is revoked
    api_keys.revoke(engine, directory=directory, key_id=f"reg-{FY}", by="cli", reason="issued keys in use", now=T0)
    # Then it is refused, and every other agency's registry key still works
    assert store.check(api_key(FY), directory=directory, now=T0).reason == "revoked key"
    assert store.check(api_key(GA), directory=directory, now=T0).agency == directory.get(GA)
    [reg] = [k for k in api_keys.list_keys(engine, directory=directory, agency=FY) if k.source == "registry"]
    assert reg.state(T0) == "revoked" and reg.revoke_reason == "issued keys in use"
    with pytest.raises(api_keys.ApiKeyError, match="revoked already"):
        api_keys.revoke(engine, directory=directory, key_id=f"reg-{FY}", by="cli", reason="again")
    # And a registry edited to name a new bootstrap key has that key valid (the revoked one stays refused)
    edited = registry_file.with_name("edited.toml")
    edited.write_text(registry_file.read_text().replace(key_hash(api_key(FY)), key_hash("a new bootstrap key")))
    directory2 = load_registry(edited)
    assert store.check("a new bootstrap key", directory=directory2, now=T0).agency == directory2.get(FY)
    assert store.check(api_key(FY), directory=directory2, now=T0).reason == "unknown key"


def test_the_database_keeps_only_hashes(db: tuple[str, Engine], registry_file: Path) -> None:
    _, engine = db
    directory = load_registry(registry_file)
    store = api_keys.KeyStore(engine, cache_seconds=0, background=lambda write: write())
    # Given keys issued, used (their last use written), one revoked, and a bootstrap key used and revoked
    keys = [api_keys.issue(engine, directory=directory, agency=code, by="cli", label="x", now=T0)
            for code in (FY, GA, HUB)]
    for k in keys:
        found = store.check(k.key, directory=directory, now=T0)
        assert found.agency is not None and found.key_id is not None
        store.touch(found.key_id, agency=found.agency, key=k.key, now=T0 + dt.timedelta(hours=1))
    store.touch(f"reg-{FY}", agency=directory.get(FY), key=api_key(FY), now=T0)  # type: ignore[arg-type]
    api_keys.revoke(engine, directory=directory, key_id=keys[0].key_id, by="cli", reason="leaked", now=T0)
    api_keys.revoke(engine, directory=directory, key_id=f"reg-{FY}", by="cli", reason="done", now=T0)
    # Then no table holds any key's text or its secret part; the keys table holds each one's SHA-256
    dumped: list[str] = []
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                dumped.extend(str(v) for v in row)
        stored = {r.id: r for r in conn.execute(select(api_keys_table))}
    text = "\n".join(dumped)
    for k in keys:
        assert k.key not in text and k.key.split("_", 2)[2] not in text  # xjk_<id>_<secret>: the secret may hold "_"
        assert stored[k.key_id].key_sha256 == key_hash(k.key)
        assert aware(stored[k.key_id].last_used_at) == T0 + dt.timedelta(hours=1)
    assert api_key(FY) not in text
    assert stored[f"reg-{FY}"].key_sha256 == key_hash(api_key(FY)) and stored[f"reg-{FY}"].revoked_at is not None


def test_a_process_sees_another_process_s_revocation_within_its_cache_time(db: tuple[str, Engine],
                                                                          registry_file: Path) -> None:
    url, engine = db
    directory = load_registry(registry_file)
    ticks = Ticks()
    # Given a process's key store caching for 5 s, and a key it has seen
    store = api_keys.KeyStore(engine, cache_seconds=5, monotonic=ticks)
    issued = api_keys.issue(engine, directory=directory, agency=FY, by="cli", now=T0)
    assert store.check(issued.key, directory=directory, now=T0).agency is not None
    # When another process (its own engine) revokes it
    other = make_engine(url, pool_size=1)
    api_keys.revoke(other, directory=directory, key_id=issued.key_id, by="cli", reason="leaked", now=T0)
    other.dispose()
    # Then this process may accept it until its snapshot is 5 s old, and refuses it from then on
    ticks.now += 4.9
    assert store.check(issued.key, directory=directory, now=T0).agency is not None
    ticks.now += 0.1
    assert store.check(issued.key, directory=directory, now=T0).reason == "revoked key"
    # And a key issued elsewhere since the snapshot is found within a second, not five
    fresh = api_keys.issue(engine, directory=directory, agency=GA, by="cli", now=T0)
    ticks.now += 0.5
    assert store.check(fresh.key, directory=directory, now=T0).reason == "unknown key"
    ticks.now += 0.5
    assert store.check(fresh.key, directory=directory, now=T0).agency == directory.get(GA)


def test_the_last_use_is_written_at_most_once_a_minute(db: tuple[str, Engine], registry_file: Path) -> None:
    _, engine = db
    directory = load_registry(registry_file)
    ticks = Ticks()
    store = api_keys.KeyStore(engine, cache_seconds=0, monotonic=ticks, background=lambda write: write())
    issued = api_keys.issue(engine, directory=directory, agency=FY, by="cli", now=T0)
    agency = directory.get(FY)
    assert agency is not None

    def last_used() -> dt.datetime | None:
        with engine.connect() as conn:
            v = conn.execute(select(api_keys_table.c.last_used_at).where(api_keys_table.c.id == issued.key_id)).scalar()
        return aware(v)

    store.touch(issued.key_id, agency=agency, key=issued.key, now=T0)
    ticks.now += 59
    store.touch(issued.key_id, agency=agency, key=issued.key, now=T0 + dt.timedelta(seconds=59))
    assert last_used() == T0
    ticks.now += 1
    store.touch(issued.key_id, agency=agency, key=issued.key, now=T0 + dt.timedelta(seconds=60))
    assert last_used() == T0 + dt.timedelta(seconds=60)


# ---- the failed-attempt limit --------------------------------------------------------------------------------


def test_the_limiter_blocks_an_address_after_n_failures_in_its_window_and_lets_it_go_after() -> None:
    ticks = Ticks()
    lim = auth_limit.FailureLimiter(max_failures=3, window=60, block=120, clock=ticks)
    # failures spread wider than the window never block
    for _ in range(5):
        assert lim.failed("api", "10.0.0.1") == 0
        ticks.now += 31
    assert lim.blocked_for("api", "10.0.0.1") == 0
    # three within the window do; the address alone, in that realm alone
    assert [lim.failed("api", "10.0.0.2") for _ in range(3)] == [0, 0, 120]
    assert lim.blocked_for("api", "10.0.0.2") == 120
    assert lim.blocked_for("console", "10.0.0.2") == 0 and lim.blocked_for("api", "10.0.0.3") == 0
    ticks.now += 119.5
    assert lim.blocked_for("api", "10.0.0.2") == 1
    ticks.now += 0.5
    assert lim.blocked_for("api", "10.0.0.2") == 0
    # and the count starts again after a block
    assert [lim.failed("api", "10.0.0.2") for _ in range(3)] == [0, 0, 120]
    off = auth_limit.FailureLimiter(max_failures=0)
    assert all(off.failed("api", "x") == 0 for _ in range(100))


def test_the_limiter_remembers_a_bounded_number_of_addresses() -> None:
    lim = auth_limit.FailureLimiter(max_failures=2, window=60, block=60, clock=Ticks(), max_clients=100)
    for i in range(1000):
        lim.failed("api", f"10.1.{i // 256}.{i % 256}")
    assert len(lim._failures) == 100


class Wall:
    """A wall clock the test moves (the shared limiter's rows are written in it)."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def shared_state(engine: Engine) -> tuple[int, list[str]]:
    with engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(auth_failures)).scalar_one(),
                sorted(conn.execute(select(auth_blocks.c.key)).scalars()))


def test_the_hubs_processes_count_failures_together_and_audit_a_block_once(stack: Stack) -> None:
    upgrade(stack.database_url)
    engine = make_engine(stack.database_url, pool_size=2)
    wall = Wall()
    # Given two processes of one hub (a limiter each, on the same database), a limit of 4 in 300 s, a block of 60 s
    a, b = (auth_limit.SharedFailureLimiter(max_failures=4, window=300, block=60, clock=lambda: wall.now.timestamp(),
                                            wall=wall, engine=engine) for _ in range(2))
    try:
        # When an address fails twice at each, neither reaching the limit alone
        for lim, reason in ((a, "unknown key"), (a, "unknown key"), (b, "no credentials"), (b, "revoked key")):
            assert lim.failed("api", "10.0.0.9", {"last_reason": reason}) == 0
            wall.now += dt.timedelta(seconds=1)
        assert a.blocked_for("api", "10.0.0.9") == 0 and b.blocked_for("api", "10.0.0.9") == 0
        # Then the sync after the fourth failure counts all four and blocks the address for all processes
        a.sync()
        b.sync()
        a.sync()  # (what a process learns at its next sync)
        assert b.blocked_for("api", "10.0.0.9") == 60 and a.blocked_for("api", "10.0.0.9") == 60
        assert a.blocked_for("console", "10.0.0.9") == 0 and a.blocked_for("api", "10.0.0.8") == 0
        blocks = [e for e in audit(engine) if e[1] == "auth_block"]
        assert len(blocks) == 1, blocks
        assert blocks[0][2] == "client:10.0.0.9" and blocks[0][3] == {
            "realm": "api", "failures": 4, "window_seconds": 300, "block_seconds": 60,
            "counted_in": "all processes", "last_reason": "revoked key"}
        # And when the block has run out (its failures still in the window), the count starts again from nothing,
        # in the database and in each process's memory
        wall.now += dt.timedelta(seconds=61)
        assert b.blocked_for("api", "10.0.0.9") == 0
        for lim in (a, b, a):
            lim.failed("api", "10.0.0.9")
            lim.sync()
        assert a.blocked_for("api", "10.0.0.9") == 0 and b.blocked_for("api", "10.0.0.9") == 0
        # And failures past the window, and blocks a window past their end, are deleted by the next sync
        wall.now += dt.timedelta(seconds=400)
        a.failed("api", "10.0.0.7")
        a.sync()
        assert shared_state(engine) == (1, [])
    finally:
        engine.dispose()


def test_a_block_reached_in_one_process_is_audited_once_however_many_processes_sync_at_once(stack: Stack) -> None:
    upgrade(stack.database_url)
    engine = make_engine(stack.database_url, pool_size=8)
    wall = Wall()
    limiters = [auth_limit.SharedFailureLimiter(max_failures=3, window=60, block=60, clock=Ticks(), wall=wall,
                                                engine=engine) for _ in range(6)]
    try:
        # Given six processes, each of which has counted the limit on its own (each blocks at once, here)
        for lim in limiters:
            assert [lim.failed("console", "10.0.0.5", {"last_reason": "wrong password"}) for _ in range(3)] == [
                0, 0, 60]
        # When all six sync at the same moment
        threads = [threading.Thread(target=lim.sync) for lim in limiters]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        # Then one block is written and audited, counted in a process of its own; all six know it
        blocks = [e for e in audit(engine) if e[1] == "auth_block"]
        assert len(blocks) == 1 and blocks[0][3]["counted_in"] == "this process", blocks
        assert shared_state(engine) == (18, ["console 10.0.0.5"])
        assert all(lim.blocked_for("console", "10.0.0.5") == 60 for lim in limiters)
    finally:
        engine.dispose()


def test_a_limiter_whose_database_is_away_still_blocks_by_its_own_count(tmp_path: Path,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/no-schema.db")  # no tables: every write fails
    lim = auth_limit.SharedFailureLimiter(max_failures=2, window=60, block=60, clock=Ticks(), engine=engine)
    caplog.set_level(logging.ERROR, logger="xianjie.auth")
    assert [lim.failed("api", "10.0.0.4") for _ in range(2)] == [0, 60]
    lim.sync()
    assert lim.blocked_for("api", "10.0.0.4") == 60
    assert any("could not share 2 failures through the database: OperationalError" in r.getMessage()
               for r in caplog.records)
    engine.dispose()


# ---- through the hub's HTTP API and the command line -----------------------------------------------------------


def keys_cli(stack: Stack, registry: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["--database-url", stack.database_url, "--registry", str(registry), "keys", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def one_hub(stack: Stack, registry: Path) -> Iterator[InProcessHub]:
    s = hub_settings(database_url=stack.database_url, broker_url=stack.broker_url, registry_path=registry,
                     queue_prefix=stack.queue_prefix, api_key_cache_seconds=0.0)
    h = InProcessHub(s, workers=False).start()
    yield h
    h.stop()


def test_keys_issued_rotated_and_revoked_on_the_command_line_work_at_once_in_the_api(
        one_hub: InProcessHub, stack: Stack, registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with one_hub.client() as c:
        def inbox(key: str, header: str = "authorization") -> httpx.Response:
            value = f"Bearer {key}" if header == "authorization" else key
            return c.get("/api/v1/inbox", headers={header: value})

        # Given a key issued on the command line: printed once, alone on stdout
        code, out, err = keys_cli(stack, registry, "issue", FY, "--label", "court system", "--expires-in-days", "90",
                                  "--by", "ops:zhang", capsys=capsys)
        assert code == 0, err
        first = out.strip()
        first_id = api_keys.public_id(first)
        assert first_id is not None and f"issued key {first_id} for {FY}" in err and first not in err
        # Then it works in either header, as does the registry's key
        assert inbox(first).status_code == 200 and inbox(first, "x-api-key").status_code == 200
        assert inbox(api_key(FY)).status_code == 200
        # (their last use is written beside the requests, not before the answers)

        def last_used() -> dict[str, object]:
            return {k["id"]: k["last_used_at"] for k in json.loads(keys_cli(stack, registry, "list", FY, "--json",
                                                                            capsys=capsys)[1])}

        wait_until(lambda: last_used()[first_id] is not None and last_used()[f"reg-{FY}"] is not None, timeout=10,
                   what="the keys' last use")
        # When a second key is issued, both work; the list shows both (never their text)
        code, out, _ = keys_cli(stack, registry, "issue", FY, capsys=capsys)
        second = out.strip()
        assert inbox(first).status_code == 200 and inbox(second).status_code == 200
        code, out, _ = keys_cli(stack, registry, "list", FY, "--json", capsys=capsys)
        listed = {k["id"]: k for k in json.loads(out)}
        assert set(listed) == {first_id, api_keys.public_id(second), f"reg-{FY}"}
        assert listed[first_id]["label"] == "court system" and listed[first_id]["state"] == "active"
        assert first not in out and second not in out and key_hash(first) not in out
        # When the first is revoked (and the registry's key too), they are refused at once; the second works
        code, out, err = keys_cli(stack, registry, "revoke", first_id, "--reason", "rotated", "--by", "ops:zhang",
                                  capsys=capsys)
        assert code == 0 and f"revoked key {first_id} of {FY}" in out
        assert keys_cli(stack, registry, "revoke", f"reg-{FY}", "--reason", "issued keys in use",
                        capsys=capsys)[0] == 0
        r = inbox(first)
        assert r.status_code == 401 and r.json()["error"]["message"] == "API key refused: revoked key"
        assert inbox(api_key(FY)).status_code == 401
        assert inbox(second).status_code == 200
        # And a refused revocation says why, changing nothing
        code, _, err = keys_cli(stack, registry, "revoke", first_id, "--reason", "again", capsys=capsys)
        assert code == 2 and "revoked already" in err
        code, _, err = keys_cli(stack, registry, "issue", "999999XX", capsys=capsys)
        assert code == 2 and "no agency '999999XX'" in err
        # And the text listing names state and reason
        code, out, _ = keys_cli(stack, registry, "list", FY, capsys=capsys)
        assert f"{first_id}" in out and "revoked" in out and "rotated" in out and "3 keys" in out
    engine = make_engine(stack.database_url, pool_size=1)
    entries = audit(engine)
    engine.dispose()
    me = f"cli:{getpass.getuser()}"
    assert [(a, act) for a, act, _, _ in entries] == [
        ("ops:zhang", "api_key_issue"), (me, "api_key_issue"), ("ops:zhang", "api_key_revoke"),
        (me, "api_key_revoke")]  # without --by, the account that ran the command
    assert all(first not in json.dumps(d) and second not in json.dumps(d) for _, _, _, d in entries)


def test_an_expired_key_is_refused_by_the_api(one_hub: InProcessHub, registry: Path) -> None:
    engine = make_engine(one_hub.settings.database_url, pool_size=1)
    directory = load_registry(registry)
    lapsed = api_keys.issue(engine, directory=directory, agency=GA, by="cli", expires_in=dt.timedelta(days=365),
                            now=utcnow() - dt.timedelta(days=366))
    engine.dispose()
    with one_hub.client() as c:
        r = c.get("/api/v1/inbox", headers={"Authorization": f"Bearer {lapsed.key}"})
    assert r.status_code == 401 and "API key refused: key expired at" in r.json()["error"]["message"]


def test_a_revocation_reaches_another_hub_process(stack: Stack, registry: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # Given a hub API in its own process (the default key cache: 5 s)
    s = hub_settings(database_url=stack.database_url, broker_url=stack.broker_url, registry_path=registry,
                     queue_prefix=stack.queue_prefix)
    hub = ProcessHub(s, tmp_path)
    hub.start_api()
    try:
        # When a key is issued in this process, the hub accepts it (within a second: a miss reloads its keys)
        code, out, _ = keys_cli(stack, registry, "issue", FY, capsys=capsys)
        key = out.strip()
        key_id = api_keys.public_id(key)
        assert code == 0 and key_id is not None

        def status() -> int:
            return httpx.get(hub.url + "/api/v1/inbox", headers={"Authorization": f"Bearer {key}"}).status_code

        started = time.monotonic()
        wait_until(lambda: status() == 200, timeout=30, what="the other process to accept the new key")
        accepted_after = time.monotonic() - started
        # When it is revoked here
        assert keys_cli(stack, registry, "revoke", key_id, "--reason", "leaked", capsys=capsys)[0] == 0
        started = time.monotonic()
        # Then the other process refuses it (within its cache time), and keeps refusing it
        wait_until(lambda: status() == 401, timeout=30, what="the other process to refuse the revoked key")
        refused_after = time.monotonic() - started
        assert all(status() == 401 for _ in range(5))
        print(f"\n[{stack.name}] a new key accepted by the other process after {accepted_after:.2f} s; "
              f"its revocation seen after {refused_after:.2f} s (bound: XIANJIE_API_KEY_CACHE_SECONDS = 5)")
    finally:
        hub.stop()


def test_two_hub_processes_behind_one_balancer_block_an_address_at_the_limit_of_both(stack: Stack, registry: Path,
                                                                                    tmp_path: Path) -> None:
    # Given two `xianjie serve` processes on one database, a limit of 4 failures
    hubs = [ProcessHub(hub_settings(database_url=stack.database_url, broker_url=stack.broker_url,
                                    registry_path=registry, queue_prefix=stack.queue_prefix, auth_max_failures=4,
                                    auth_window_seconds=300.0, auth_block_seconds=600.0), tmp_path)
            for _ in range(2)]
    engine = make_engine(stack.database_url, pool_size=1)
    try:
        for h in hubs:
            h.start_api()

        def inbox(h: ProcessHub) -> int:
            return httpx.get(h.url + "/api/v1/inbox", headers={"Authorization": "Bearer guess-530502FY"}).status_code

        # When one address fails twice at each, as a balancer would spread its requests (each failure shared
        # before the next is sent)
        for i, h in enumerate((hubs[0], hubs[1], hubs[0], hubs[1]), 1):
            assert inbox(h) == 401
            wait_until(lambda i=i: shared_state(engine)[0] == i, timeout=10, what=f"failure {i} shared")
        # Then the block is in the database, audited once, and the process that counted the fourth failure refuses
        wait_until(lambda: shared_state(engine)[1] == ["api 127.0.0.1"], timeout=10, what="the shared block")
        assert inbox(hubs[1]) == 429
        # And the other learns it at the sync that follows its next failure (beside the answer): a failure or two
        # more are answered 401, not the 4 its own count would allow
        answers: list[int] = []
        while 429 not in answers and len(answers) < 4:
            answers.append(inbox(hubs[0]))
            time.sleep(0.3)
        assert answers[-1] == 429 and answers.count(401) <= 2, answers
        blocks = [e for e in audit(engine) if e[1] == "auth_block"]
        assert len(blocks) == 1 and blocks[0][3]["counted_in"] == "all processes", blocks
        # (each process alone saw 2 or 3 failures: in memory only, neither would have blocked)
        assert blocks[0][3]["failures"] == 4
    finally:
        for h in hubs:
            h.stop()
        engine.dispose()


def test_an_anonymous_body_is_kept_with_its_first_64_kib_and_its_size(stack: Stack, registry: Path) -> None:
    s = hub_settings(database_url=stack.database_url, broker_url=stack.broker_url, registry_path=registry,
                     queue_prefix=stack.queue_prefix)
    h = InProcessHub(s, workers=False).start()
    try:
        with h.client() as c:
            # Given posts without a key, one with its length declared and one streamed in chunks
            declared = c.post("/api/v1/messages", content=b"<x>" + b"a" * 200_000)

            def chunks() -> Iterator[bytes]:
                for _ in range(30):
                    yield b"b" * 30_000

            streamed = c.post("/api/v1/messages", content=chunks())
    finally:
        h.stop()
    # Then each is 401, and kept with its first 64 KiB, its size and truncated
    engine = make_engine(stack.database_url, pool_size=1)
    with engine.connect() as conn:
        kept = {r.id: r for r in conn.execute(select(quarantine))}
    engine.dispose()
    for r, starts in ((declared, b"<x>aa"), (streamed, b"bbbb")):
        assert r.status_code == 401, r.text
        row = kept[r.json()["quarantine_id"]]
        assert (len(row.raw), bool(row.truncated), row.code) == (65536, True, "unauthorised")
        assert row.raw.startswith(starts) and row.size >= 65536
    assert kept[declared.json()["quarantine_id"]].size == 200_003


def test_repeated_failures_from_one_address_are_logged_blocked_and_audited_once(
        stack: Stack, registry: Path, caplog: pytest.LogCaptureFixture) -> None:
    s = hub_settings(database_url=stack.database_url, broker_url=stack.broker_url, registry_path=registry,
                     queue_prefix=stack.queue_prefix, auth_max_failures=3, auth_window_seconds=600.0,
                     auth_block_seconds=900.0)
    h = InProcessHub(s, workers=False).start()
    engine = make_engine(stack.database_url, pool_size=1)
    issued = api_keys.issue(engine, directory=load_registry(registry), agency=FY, by="test")
    engine.dispose()
    wrong = ["xjk_deadbeef_" + "A" * 43, "guess-530502FY"]
    caplog.set_level(logging.INFO, logger="xianjie.auth")
    try:
        with h.client() as c:
            # Given a request without any key and two wrong keys from one address
            assert c.get("/api/v1/inbox").status_code == 401
            for k in wrong:
                r = c.get("/api/v1/inbox", headers={"Authorization": f"Bearer {k}"})
                assert r.status_code == 401 and r.json()["error"]["message"] == "unknown API key"
            # Then that address's failing requests are blocked: 429 with Retry-After, keyless ones too, and an
            # anonymous body is neither read nor kept
            before = quarantined(stack)
            for headers in ({"Authorization": f"Bearer {wrong[0]}"}, {}):
                r = c.post("/api/v1/messages", content=b"<x/>", headers=headers)
                assert r.status_code == 429, r.text
                assert r.json()["error"]["code"] == "too_many_attempts"
                assert 0 < int(r.headers["retry-after"]) <= 900
            assert c.get("/api/v1/inbox", headers={"X-Api-Key": "demo-530502FY"}).status_code == 429
            assert quarantined(stack) == before
            # But an issued key from the same address is served: one client behind a shared address cannot shut
            # the agencies behind it out; a registry bootstrap key (which may be guessable) is not, right or wrong
            assert c.get("/api/v1/inbox", headers={"Authorization": f"Bearer {issued.key}"}).status_code == 200
            assert c.get("/api/v1/inbox", headers=auth(FY)).status_code == 429
            # And a client behind the trusted proxy (loopback) is counted by the address it forwards: not blocked
            r = c.get("/api/v1/inbox", headers={"Authorization": f"Bearer {wrong[1]}", "X-Forwarded-For": "10.9.8.7"})
            assert r.status_code == 401
    finally:
        h.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "xianjie.auth"]
    failed = [m for m in lines if m.startswith("agency authentication failed")]
    assert len(failed) == 4, lines
    assert "client=127.0.0.1" in failed[0] and "reason=no credentials" in failed[0]
    assert "key_id=deadbeef" in failed[1] and "reason=unknown key" in failed[1]
    assert all("client=127.0.0.1" in m and "reason=unknown key" in m for m in failed[1:3])
    assert "client=10.9.8.7" in failed[3]
    assert len([m for m in lines if "blocked for 900s after 3 failures" in m]) == 1
    refused = [m for m in lines if m.startswith("agency authentication refused: client=127.0.0.1 blocked")]
    assert len(refused) == 4 and "reason=no credentials" in refused[1] and "registry key" in refused[3], refused
    for record in caplog.records:
        assert not any(k in record.getMessage() for k in [*wrong, api_key(FY)])
    engine = make_engine(stack.database_url, pool_size=1)
    # (the block's entry is written beside the request, not before its answer)
    wait_until(lambda: any(e[1] == "auth_block" for e in audit(engine)), timeout=10, what="the block's audit entry")
    blocks = [e for e in audit(engine) if e[1] == "auth_block"]
    engine.dispose()
    assert len(blocks) == 1, blocks
    actor, _, target, detail = blocks[0]
    assert actor == "hub:auth" and target == "client:127.0.0.1"
    assert detail["realm"] == "api" and detail["failures"] == 3 and detail["block_seconds"] == 900


def test_repeated_console_sign_in_failures_are_logged_and_blocked(stack: Stack, registry: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    s = hub_settings(database_url=stack.database_url, broker_url=stack.broker_url, registry_path=registry,
                     queue_prefix=stack.queue_prefix, auth_max_failures=3, auth_block_seconds=600.0)
    h = InProcessHub(s, workers=False).start()
    engine = make_engine(s.database_url, pool_size=1)
    operators.create(engine, username="wang", password=PASSWORD, role="operator", agency="530581SF",
                     display_name="王芳", actor="test")
    caplog.set_level(logging.INFO, logger="xianjie.auth")
    try:
        with h.client() as c:
            def attempt(username: str, password: str) -> httpx.Response:
                form = c.get("/console/signin")
                return c.post("/console/signin", data={"username": username, "password": password,
                                                       "csrf": hidden(form.text, "csrf"), "next": "/console/dashboard"})

            # Given three failed sign-ins from one address, at different accounts
            for user, pw in (("wang", "not the password"), ("li", "whatever it is"), ("wang", "still not it")):
                r = attempt(user, pw)
                assert r.status_code == 303 and "failed=1" in r.headers["location"]
            # Then the address is blocked, for the right password too: a 429 page that says so
            r = attempt("wang", PASSWORD)
            assert r.status_code == 429 and 0 < int(r.headers["retry-after"]) <= 600
            assert "登录失败次数过多" in r.text
    finally:
        h.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "xianjie.auth"]
    failed = [m for m in lines if m.startswith("console sign-in failed")]
    assert len(failed) == 3 and all("client=127.0.0.1" in m for m in failed)
    assert "reason=wrong password" in failed[0] and "reason=unknown user" in failed[1]
    assert len([m for m in lines if m.startswith("console sign-in refused: client=127.0.0.1 blocked")]) == 1
    for record in caplog.records:
        assert not any(p in record.getMessage() for p in ("not the password", "whatever it is", PASSWORD))
    blocks = [e for e in audit(engine) if e[1] == "auth_block"]
    signed_in = [e for e in audit(engine) if e[1] == "sign_in"]
    engine.dispose()
    assert len(blocks) == 1 and blocks[0][2] == "client:127.0.0.1" and blocks[0][3]["realm"] == "console"
    assert signed_in == []
