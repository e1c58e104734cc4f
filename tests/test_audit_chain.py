"""The audit log as a hash chain (hub.audit, hub.core.audit_chain, migration 0019, ``xianjie audit``), on SQLite and
PostgreSQL: real actions chain; each kind of tampering an attacker with database access can do is named at the
first entry it touched; anchors catch a rewrite of the whole chain; triggers refuse changes; concurrent writers and
rolled-back transactions leave no gap; the migration chains an older log; the hub anchors once a day."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from hub import audit, operators
from hub.api.reports import audit as report_audit
from hub.cli import main
from hub.console.queues_data import audit as console_audit
from hub.core.audit_chain import GENESIS, Anchor, Entry, Head, canonical, entry_hash, walk
from hub.core.facts import legal_day
from hub.migrate import upgrade
from hub.store.db import make_engine, utcnow
from hub.store.schema import audit_head, audit_log
from tests.services import fresh_postgres

T0 = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.UTC)


@dataclass
class Db:
    name: str
    url: str
    engine: Engine


@contextmanager
def _database(name: str, tmp_path: Path, *, revision: str = "head") -> Iterator[Db]:
    if name == "sqlite":
        url = f"sqlite:///{tmp_path}/hub.db"
        upgrade(url, revision)
        engine = make_engine(url, pool_size=12)
        yield Db(name, url, engine)
        engine.dispose()
        return
    with fresh_postgres() as url:
        upgrade(url, revision)
        engine = make_engine(url, pool_size=12)
        yield Db(name, url, engine)
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    with _database(request.param, tmp_path) as d:
        yield d


def write(engine: Engine, n: int, *, action: str = "probe") -> None:
    """``n`` entries, each in its own transaction, with the kinds of detail the hub writes."""
    details: list[Any] = [None, "a plain reason", {"reason": "核对身份", "n": 1}, {"records": [{"name": "张三"}]}]
    for i in range(n):
        with engine.begin() as conn:
            audit.record(conn, at=T0 + dt.timedelta(seconds=i, microseconds=i * 7), actor=f"console:op{i % 3}",
                         action=action, target=f"thing:{i}", detail=details[i % len(details)])


def rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(audit_log).order_by(audit_log.c.seq, audit_log.c.id)))


def by_seq(engine: Engine, seq: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(audit_log).where(audit_log.c.seq == seq)).one()


@contextmanager
def attacker(db: Db, *, drop_unique: bool = False) -> Iterator[Connection]:
    """A connection of someone with full access to the database: the guard triggers (and, if asked, the unique
    index on seq) are out of the way first."""
    with db.engine.begin() as conn:
        if db.name == "postgres":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            conn.execute(text("ALTER TABLE audit_head DISABLE TRIGGER USER"))
        else:
            for name in ("audit_log_no_update", "audit_log_no_delete", "audit_head_forward", "audit_head_no_delete"):
                conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        if drop_unique:
            conn.execute(text("DROP INDEX ix_audit_log_seq"))
        yield conn


def forged_hash(r: Any, *, seq: int | None = None, prev: str | None = None, **changes: Any) -> str:
    """The hash an attacker computes for row ``r`` with ``changes`` (they know the documented form)."""
    values = {k: r._mapping[k] for k in ("at", "actor", "action", "target", "detail")} | changes
    return entry_hash(seq=r.seq if seq is None else seq, prev_hash=r.prev_hash if prev is None else prev, **values)


def named(db: Db, **kw: Any) -> tuple[str, int | None, int | None]:
    v = audit.verify(db.engine, **kw)
    assert v.first_break is not None, "the tampering was not detected"
    b = v.first_break
    return b.kind, b.seq, None if b.entry is None else b.entry.id


def cli(db: Db, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["--database-url", db.url, "audit", *args])
    return code, capsys.readouterr().out


# ---- the serialisation ---------------------------------------------------------------------------------------

def test_an_entry_hashes_as_the_documented_example() -> None:
    # Given the first example entry of docs/security-audit.md
    kw: dict[str, Any] = dict(seq=1, at=T0, actor="console:admin", action="sign_in", target="operator:admin",
                              detail='{"client": "10.0.0.5"}', prev_hash=GENESIS)
    # Then its canonical bytes and hash are the ones the document prints
    assert canonical(**kw) == (b'xianjie-audit-v1\n1:1\n27:2026-11-26T02:00:00.000000Z\n13:console:admin\n7:sign_in\n'
                               b'14:operator:admin\n22:{"client": "10.0.0.5"}\n64:' + b"0" * 64 + b"\n")
    first = entry_hash(**kw)
    assert first == "cad5b411c8f335723b4cdac8b7e394917800d0bb89f81e90ee9cb2e1be2d1edd"
    # and the second (a time given in Beijing time, Chinese in the detail) and third (no detail) follow it
    shanghai = dt.timezone(dt.timedelta(hours=8))
    second = entry_hash(**kw | dict(seq=2, at=dt.datetime(2026, 11, 26, 10, 5, 30, 250000, tzinfo=shanghai),
                                    action="view_payload", target="failed_transfer:42",
                                    detail='{"reason": "核对身份"}', prev_hash=first))
    assert second == "b35af6e466434c26e8011340220bcd6dc4b8051441511d72edd79ef324b8f410"
    assert entry_hash(**kw | dict(seq=3, detail=None, prev_hash=second)) == \
        "84933c3c8bbe030518eb933b00e9152b3b0c4c06dde1e5b65485537fb280e035"
    # and no two different entries share a canonical form: the fields are length-prefixed
    assert canonical(**kw | dict(actor="a", action="bc")) != canonical(**kw | dict(actor="ab", action="c"))
    assert canonical(**kw | dict(detail="")) != canonical(**kw | dict(detail=None))
    assert canonical(**kw | dict(detail="-")) != canonical(**kw | dict(detail=None))


# ---- real actions ------------------------------------------------------------------------------------------

def test_entries_written_by_real_actions_form_an_intact_chain(db: Db, capsys: pytest.CaptureFixture[str]) -> None:
    # Given an account made, a good and a bad sign-in, a role change, a sign-out, a report opened, a payload viewed
    e = db.engine
    operators.create(e, username="li", password="correct horse battery", role="operator", agency="530500ZX",
                     display_name="李", actor="cli")
    _token, session = operators.sign_in(e, "li", "correct horse battery", client="10.0.0.5")
    with pytest.raises(operators.SignInRefused):
        operators.sign_in(e, "li", "wrong password!", client="10.0.0.6")
    operators.change(e, "li", actor="cli", role="supervisor")
    operators.sign_out(e, session)
    report_audit(e, actor="console:li", action="report_view", target="report:530581", detail={"from": "2026-01-01"})
    console_audit(e, by="console:li", action="view_payload", target="failed_transfer:1", reason="核对")
    # Then every entry is a link of one chain: seq 1..n in the order written, each after the one before
    chain = rows(e)
    assert [r.action for r in chain] == ["operator_create", "sign_in", "sign_in_failed", "operator_change",
                                         "sign_out", "report_view", "view_payload"]
    assert [r.seq for r in chain] == list(range(1, len(chain) + 1))
    assert [r.id for r in chain] == sorted(r.id for r in chain)
    prev = GENESIS
    for r in chain:
        assert r.prev_hash == prev and r.hash == forged_hash(r)
        prev = r.hash
    with e.connect() as conn:
        head = audit.read_head(conn)
    assert head is not None and (head.seq, head.hash) == (len(chain), prev) and len(head.chain) == 32
    # And verify says so, as does the command (exit 0)
    v = audit.verify(e)
    assert (v.ok, v.entries, v.guards) == (True, len(chain), True)
    code, out = cli(db, "verify", capsys=capsys)
    assert code == 0 and f"INTACT: entries seq 1 to {len(chain)}" in out and "guard triggers: in place" in out


# ---- tampering, each named at its first entry --------------------------------------------------------------

@pytest.mark.parametrize("column", ["detail", "actor", "at"])
def test_an_entry_changed_in_place_is_named(db: Db, column: str, capsys: pytest.CaptureFixture[str]) -> None:
    # Given ten entries
    write(db.engine, 10)
    victim = by_seq(db.engine, 4)
    new = {"detail": '{"reason": "nothing to see"}', "actor": "console:someone-else",
           "at": victim.at + dt.timedelta(hours=-3)}[column]
    # When an attacker changes one column of entry 4, leaving its hash
    with attacker(db) as conn:
        conn.execute(update(audit_log).where(audit_log.c.id == victim.id).values({column: new}))
    # Then verify names entry 4, altered, and the command exits 1 saying so
    assert named(db) == ("altered", 4, victim.id)
    code, out = cli(db, "verify", capsys=capsys)
    assert code == 1
    assert f"BROKEN, the first problem: altered: entry seq 4 (seq 4, id {victim.id}, at " in out
    assert "action probe, target thing:3" in out and "does not match its hash" in out


def test_an_entry_changed_with_its_hash_recomputed_is_named(db: Db) -> None:
    # Given ten entries, and an attacker who changes entry 4 and computes its hash again
    write(db.engine, 10)
    victim = by_seq(db.engine, 4)
    with attacker(db) as conn:
        conn.execute(update(audit_log).where(audit_log.c.id == victim.id).values(
            detail="rewritten", hash=forged_hash(victim, detail="rewritten")))
    # Then entry 5 no longer follows it, and verify names entry 4
    assert named(db) == ("altered", 4, victim.id)
    # And the same done to the last entry is caught by the head
    last = by_seq(db.engine, 10)
    with attacker(db) as conn:
        conn.execute(update(audit_log).where(audit_log.c.id == last.id).values(
            actor="x", hash=forged_hash(last, actor="x")))
    assert named(db) == ("altered", 4, victim.id)  # still the first
    with attacker(db) as conn:
        conn.execute(update(audit_log).where(audit_log.c.id == victim.id).values(
            detail=victim.detail, hash=victim.hash))
    assert named(db) == ("altered", 10, last.id)


@pytest.mark.parametrize("renumber", [False, True], ids=["gap", "renumbered"])
def test_a_removed_entry_is_named(db: Db, renumber: bool) -> None:
    # Given ten entries
    write(db.engine, 10)
    after = by_seq(db.engine, 7)
    # When an attacker deletes entry 6 (and perhaps moves the later ones down to close the gap)
    with attacker(db) as conn:
        conn.execute(audit_log.delete().where(audit_log.c.seq == 6))
        if renumber:
            for s in range(7, 11):
                conn.execute(update(audit_log).where(audit_log.c.seq == s).values(seq=s - 1))
            conn.execute(update(audit_head).values(seq=9))
    # Then verify names seq 6 as removed, with the entry found in its place
    assert named(db) == ("removed", 6, after.id)


def test_entries_removed_from_the_end_are_named(db: Db) -> None:
    # Given ten entries, the last two deleted (the head left as it was)
    write(db.engine, 10)
    with attacker(db) as conn:
        conn.execute(audit_log.delete().where(audit_log.c.seq >= 9))
    # Then verify names seq 9 as removed
    v = audit.verify(db.engine)
    assert v.first_break is not None
    assert (v.first_break.kind, v.first_break.seq) == ("removed", 9)
    assert "2 entries were removed from its end" in v.first_break.reason


def _forge(conn: Connection, *, seq: int, prev: str, id_: int | None = None) -> int:
    """Put a well-formed entry in at ``seq`` after a hash ``prev``; its id."""
    content: dict[str, Any] = dict(at=T0, actor="console:forger", action="forged", target="thing:forged", detail=None)
    values = content | dict(seq=seq, prev_hash=prev, hash=entry_hash(seq=seq, prev_hash=prev, **content))
    if id_ is not None:
        values["id"] = id_
    return int(conn.execute(insert(audit_log).values(**values).returning(audit_log.c.id)).scalar_one())


def _hash_of(conn: Connection, seq: int) -> str:
    return str(conn.execute(select(audit_log.c.hash).where(audit_log.c.seq == seq)).scalar_one())


def test_an_entry_inserted_in_the_middle_is_named(db: Db) -> None:
    # Given ten entries, and an attacker who moves 5..10 up by one and puts a well-formed entry in at seq 5
    write(db.engine, 10)
    with attacker(db) as conn:
        for s in range(10, 4, -1):
            conn.execute(update(audit_log).where(audit_log.c.seq == s).values(seq=s + 1))
        forged = _forge(conn, seq=5, prev=_hash_of(conn, 4))
        conn.execute(update(audit_head).values(seq=11))
    # Then verify names it
    assert named(db) == ("inserted", 5, forged)


@pytest.mark.parametrize("lower_id", [False, True], ids=["after", "before"])
def test_an_entry_inserted_with_a_seq_already_taken_is_named(db: Db, lower_id: bool) -> None:
    # Given ten entries, the unique index on seq dropped, and a forged entry at seq 5 that follows entry 4 exactly
    write(db.engine, 10)
    with attacker(db, drop_unique=True) as conn:
        # read before the genuine entry 5 (a lower id), or after it
        forged = _forge(conn, seq=5, prev=_hash_of(conn, 4), id_=-1 if lower_id else None)
    # Then verify names the forged one, not the genuine entry 5
    assert named(db) == ("inserted", 5, forged)


def test_an_entry_appended_behind_the_head_s_back_is_named(db: Db) -> None:
    # Given ten entries and a forged, well-linked eleventh, the head not moved
    write(db.engine, 10)
    with attacker(db) as conn:
        forged = _forge(conn, seq=11, prev=conn.execute(select(audit_head.c.hash)).scalar_one())
    assert named(db) == ("inserted", 11, forged)


@pytest.mark.parametrize("apart", [1, 4])
def test_two_entries_swapped_are_named_at_the_first_place(db: Db, apart: int) -> None:
    # Given ten entries, and entries 3 and 3 + apart exchanging their places in the chain
    write(db.engine, 10)
    a, b = by_seq(db.engine, 3), by_seq(db.engine, 3 + apart)
    with attacker(db) as conn:
        conn.execute(update(audit_log).where(audit_log.c.id == a.id).values(seq=-1))
        conn.execute(update(audit_log).where(audit_log.c.id == b.id).values(seq=3))
        conn.execute(update(audit_log).where(audit_log.c.id == a.id).values(seq=3 + apart))
    # Then verify names seq 3, where the entry now there was not written
    assert named(db) == ("altered", 3, b.id)


def test_two_entries_contents_swapped_are_named_at_the_first(db: Db) -> None:
    write(db.engine, 10)
    a, b = by_seq(db.engine, 3), by_seq(db.engine, 8)
    with attacker(db) as conn:
        for row, other in ((a, b), (b, a)):
            conn.execute(update(audit_log).where(audit_log.c.id == row.id).values(
                at=other.at, actor=other.actor, target=other.target, detail=other.detail))
    assert named(db) == ("altered", 3, a.id)


# ---- a rewrite of the whole chain, and the anchors -----------------------------------------------------------

def _rewrite_from(conn: Connection, seq: int, **changes: Any) -> None:
    """Change entry ``seq`` and compute every hash from there on again, and the head: a consistent chain."""
    prev = conn.execute(select(audit_log.c.hash).where(audit_log.c.seq == seq - 1)).scalar() or GENESIS
    for r in conn.execute(select(audit_log).where(audit_log.c.seq >= seq).order_by(audit_log.c.seq)).all():
        mine = changes if r.seq == seq else {}
        h = forged_hash(r, prev=prev, **mine)
        conn.execute(update(audit_log).where(audit_log.c.id == r.id).values(prev_hash=prev, hash=h, **mine))
        prev = h
    conn.execute(update(audit_head).values(hash=prev))


def test_a_consistent_rewrite_of_the_whole_chain_is_caught_by_the_anchors_only(
        db: Db, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given ten entries anchored (as the daily anchor does), then five more
    anchors = tmp_path / "anchors"
    write(db.engine, 10)
    first = audit.write_anchor(audit.take_anchor(db.engine, now=T0), anchors)
    write(db.engine, 5)
    assert audit.verify(db.engine, anchors=anchors).ok
    # When an attacker changes entry 3 and computes every hash after it again, and the head
    with attacker(db) as conn:
        _rewrite_from(conn, 3, detail='{"reason": "a different story"}')
    # Then the chain alone looks intact: that is what the anchors are for
    assert audit.verify(db.engine).ok
    # But against the anchor it is not: the anchor's entry (seq 10) has another hash, the change lies in 1..10
    v = audit.verify(db.engine, anchors=anchors)
    assert v.first_break is not None
    assert (v.first_break.kind, v.first_break.seq) == ("rewritten", 10)
    assert str(first) in v.first_break.reason and "somewhere in seq 1 to 10" in v.first_break.reason
    code, out = cli(db, "verify", "--anchors", str(anchors), capsys=capsys)
    assert code == 1 and "BROKEN, the first problem: rewritten: entry seq 10" in out


def test_anchors_narrow_a_rewrite_and_catch_a_truncated_chain(db: Db, tmp_path: Path) -> None:
    # Given anchors after entries 5, 10 and 15
    anchors = tmp_path / "anchors"
    for day in range(3):
        write(db.engine, 5)
        audit.write_anchor(audit.take_anchor(db.engine, now=T0 + dt.timedelta(days=day)), anchors)
    assert len(list(anchors.iterdir())) == 3
    # When entry 7 is rewritten consistently: the anchor at 5 agrees, the one at 10 does not
    original = by_seq(db.engine, 7).actor
    with attacker(db) as conn:
        _rewrite_from(conn, 7, actor="console:nobody")
    b = audit.verify(db.engine, anchors=anchors).first_break
    assert b is not None and (b.kind, b.seq) == ("rewritten", 10) and "somewhere in seq 6 to 10" in b.reason
    # When instead the last five entries are removed and the head set back to entry 10, consistently
    with attacker(db) as conn:
        _rewrite_from(conn, 7, actor=original)  # undo the change: the hashes are the original ones again
        conn.execute(audit_log.delete().where(audit_log.c.seq > 10))
        conn.execute(update(audit_head).values(seq=10, hash=select(audit_log.c.hash).where(
            audit_log.c.seq == 10).scalar_subquery()))
    assert audit.verify(db.engine).ok  # the chain alone cannot tell
    b = audit.verify(db.engine, anchors=anchors).first_break
    assert b is not None and (b.kind, b.seq) == ("removed", 11) and "records seq 15" in b.reason


def test_anchors_of_no_chain_of_this_database_fail(db: Db, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given an anchor taken of this chain
    anchors = tmp_path / "anchors"
    write(db.engine, 3)
    audit.write_anchor(audit.take_anchor(db.engine, now=T0), anchors)
    # When the attacker replaces the chain's id (so that no anchor would seem to apply)
    with attacker(db) as conn:
        conn.execute(update(audit_head).values(chain="f" * 32))
    # Then verify with the anchors fails, saying none belongs to this chain
    b = audit.verify(db.engine, anchors=anchors).first_break
    assert b is not None and b.kind == "rewritten" and "none of the anchors given belongs" in b.reason
    # And an empty anchor directory, or a file that is not an anchor, fails too
    (tmp_path / "empty").mkdir()
    assert not audit.verify(db.engine, anchors=tmp_path / "empty").ok
    (anchors / "audit-anchor-bad.json").write_text('{"format": "xianjie-audit-anchor-v1", "seq": "x"}')
    code, _out = cli(db, "verify", "--anchors", str(anchors), capsys=capsys)
    assert code == 1


# ---- the triggers ------------------------------------------------------------------------------------------

def test_the_triggers_refuse_update_and_delete(db: Db, capsys: pytest.CaptureFixture[str]) -> None:
    write(db.engine, 3)
    refused = [update(audit_log).where(audit_log.c.seq == 2).values(detail="x"), audit_log.delete(),
               audit_head.delete(), update(audit_head).values(seq=1), update(audit_head).values(chain="0" * 32)]
    if db.name == "postgres":
        refused += [text("TRUNCATE audit_log"), text("TRUNCATE audit_head")]
    for statement in refused:
        with pytest.raises(IntegrityError, match=r"append-only|only moves forward"), db.engine.begin() as conn:
            conn.execute(statement)
    assert audit.verify(db.engine).ok and len(rows(db.engine)) == 3
    # And verify reports the triggers gone once an attacker has removed them (the chain still intact)
    with attacker(db):
        pass
    v = audit.verify(db.engine)
    assert v.ok and not v.guards
    # And the command says so and exits 2, so that a scheduled check cannot read it as all well
    code, out = cli(db, "verify", capsys=capsys)
    assert code == 2 and "INTACT" in out and "guard triggers: MISSING" in out and "UNGUARDED" in out, out


# ---- transactions --------------------------------------------------------------------------------------------

def test_a_rolled_back_transaction_leaves_no_entry_and_no_gap(db: Db) -> None:
    write(db.engine, 3)
    # When an action fails after auditing itself, in a transaction and in a savepoint of one that commits
    with pytest.raises(RuntimeError), db.engine.begin() as conn:
        audit.record(conn, at=T0, actor="a", action="lost", target="t")
        raise RuntimeError("the action failed")
    with db.engine.begin() as conn:
        audit.record(conn, at=T0, actor="a", action="kept", target="t")
        try:
            with conn.begin_nested():
                audit.record(conn, at=T0, actor="a", action="lost", target="t")
                raise RuntimeError("the retry failed")
        except RuntimeError:
            pass
    write(db.engine, 1, action="after")
    # Then neither lost entry is there, and the chain goes on without a gap
    assert [(r.seq, r.action) for r in rows(db.engine)][3:] == [(4, "kept"), (5, "after")]
    assert audit.verify(db.engine).ok


def test_concurrent_writers_leave_one_gap_free_chain(db: Db) -> None:
    # Given 8 writers of 50 entries each (a transaction each), and a verifier walking the chain meanwhile
    errors: list[BaseException] = []
    verdicts: list[audit.Verdict] = []
    done = threading.Event()

    def writer(w: int) -> None:
        try:
            for i in range(50):
                with db.engine.begin() as conn:
                    audit.record(conn, at=utcnow(), actor=f"writer{w}", action="probe", target=f"w{w}:{i}",
                                 detail={"i": i})
        except BaseException as e:
            errors.append(e)

    def verifier() -> None:
        while not done.is_set():
            verdicts.append(audit.verify(db.engine))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    checker = threading.Thread(target=verifier)
    checker.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    done.set()
    checker.join(60)
    # Then every entry is in, once, in one chain 1..400
    assert not errors, errors
    chain = rows(db.engine)
    assert [r.seq for r in chain] == list(range(1, 401))
    assert sorted(r.target for r in chain) == sorted(f"w{w}:{i}" for w in range(8) for i in range(50))
    final = audit.verify(db.engine)
    assert final.ok and final.entries == 400 and final.head is not None and final.head.seq == 400
    # And no walk made while they wrote saw a break (each saw one moment of the chain)
    assert verdicts and all(v.ok for v in verdicts), [v.first_break for v in verdicts if not v.ok][:1]


# ---- the migration -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_migration_chains_an_older_log(backend: str, tmp_path: Path) -> None:
    # Given a database at revision 0018 holding 4,500 entries (more than two chunks), some deleted (gaps in id)
    with _database(backend, tmp_path, revision="0018") as d:
        old = sa.table("audit_log", sa.column("at", sa.DateTime(timezone=True)), sa.column("actor"),
                       sa.column("action"), sa.column("target"), sa.column("detail"))
        with d.engine.begin() as conn:
            conn.execute(insert(old), [{"at": T0 + dt.timedelta(minutes=i), "actor": f"console:op{i % 5}",
                                        "action": "legacy", "target": f"thing:{i}",
                                        "detail": None if i % 3 else json.dumps({"名": i}, ensure_ascii=False)}
                                       for i in range(4500)])
            conn.execute(text("DELETE FROM audit_log WHERE id % 97 = 0"))
            kept = conn.execute(select(func.count()).select_from(old)).scalar_one()
        # When it is migrated
        upgrade(d.url)
        # Then the entries are chained in id order, from seq 1 without a gap, and verify agrees
        chain = rows(d.engine)
        assert len(chain) == kept and [r.seq for r in chain] == list(range(1, kept + 1))
        assert [r.id for r in chain] == sorted(r.id for r in chain)
        v = audit.verify(d.engine)
        assert v.ok and v.guards and v.entries == kept
        # And new entries follow the old ones
        write(d.engine, 2, action="new")
        assert [r.seq for r in rows(d.engine)][-2:] == [kept + 1, kept + 2] and audit.verify(d.engine).ok


# ---- the daily anchor ----------------------------------------------------------------------------------------

def test_the_daily_anchor_is_written_once_a_day(db: Db, tmp_path: Path) -> None:
    # Given a hub's daily anchor, at 23:59 in Beijing on 26 November
    out = tmp_path / "anchors"
    daily = audit.DailyAnchor(out)
    write(db.engine, 3)
    late = dt.datetime(2026, 11, 26, 15, 59, tzinfo=dt.UTC)
    first = daily.tick(db.engine, now=late)
    assert first is not None and first.name.endswith("-2026-11-26.json")
    # When more entries come and it ticks again that day (and another process's anchor ticks too): nothing new
    write(db.engine, 2)
    assert daily.tick(db.engine, now=late + dt.timedelta(seconds=30)) is None
    assert audit.DailyAnchor(out).tick(db.engine, now=late + dt.timedelta(seconds=40)) is None
    assert json.loads(first.read_text())["seq"] == 3
    # Then after midnight in Beijing (16:00 UTC) the next day's is written, with the head then
    second = daily.tick(db.engine, now=late + dt.timedelta(minutes=2))
    assert second is not None and second.name.endswith("-2026-11-27.json")
    assert daily.tick(db.engine, now=late + dt.timedelta(hours=5)) is None
    anchor = Anchor.parse(second.read_text(), source=str(second))
    assert (anchor.seq, anchor.count, anchor.date) == (5, 5, dt.date(2026, 11, 27))
    assert sorted(p.name for p in out.iterdir()) == sorted([first.name, second.name])
    assert audit.verify(db.engine, anchors=out).anchors_agreed == 2


def test_a_daily_anchor_that_cannot_be_written_is_tried_again_and_never_raises(db: Db, tmp_path: Path,
                                                                              caplog: pytest.LogCaptureFixture) -> None:
    # Given the anchor directory's place taken by a file (as a full or read-only disk would refuse it)
    blocked = tmp_path / "anchors"
    blocked.write_text("not a directory")
    daily = audit.DailyAnchor(blocked, retry_after=0.0)
    write(db.engine, 1)
    # When the sweeper ticks: nothing is written, nothing raised, the failure logged
    assert daily.tick(db.engine, now=T0) is None
    assert "audit anchor of" in caplog.text and "not written" in caplog.text
    # Then once the directory can be made, the next tick writes the day's anchor
    blocked.unlink()
    written = daily.tick(db.engine, now=T0)
    assert written is not None and json.loads(written.read_text())["seq"] == 1


def test_the_running_hub_writes_the_daily_anchor(db: Db, tmp_path: Path) -> None:
    from hub.bus.kombu_bus import DatabaseQueue
    from hub.registry import load_registry
    from hub.settings import Settings
    from hub.workers.runtime import Workers

    # Given the worker runtime with its sweeper, its anchors going to a directory of the settings
    write(db.engine, 4)
    s = Settings.from_env({"XIANJIE_AUDIT_ANCHOR_DIR": str(tmp_path / "a")}, database_url=db.url,
                          sweep_interval=0.05)
    w = Workers(settings=s, engine=db.engine, bus=DatabaseQueue(), directory=load_registry(s.registry_path),
                relay=False, deliver=False, folders=False, casework=False, tasks=False)
    w.start()
    try:
        deadline = time.monotonic() + 20
        while not list((tmp_path / "a").glob("audit-anchor-*.json")) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # several more sweeps
    finally:
        w.stop()
    # Then one anchor of today's date holds the head
    (written,) = list((tmp_path / "a").glob("audit-anchor-*.json"))
    a = Anchor.parse(written.read_text(), source=str(written))
    assert (a.seq, a.date) == (4, legal_day(utcnow()))


def test_the_anchor_command_writes_the_head(db: Db, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(db.engine, 2)
    for _ in range(2):  # a second one the same day gets a name with the time, never overwrites the first
        code, out = cli(db, "anchor", "--out", str(tmp_path / "x"), capsys=capsys)
        assert code == 0 and "anchor written" in out
    files = sorted((tmp_path / "x").glob("audit-anchor-*.json"))
    assert len(files) == 2
    assert [json.loads(f.read_text())["seq"] for f in files] == [2, 2]
    code, out = cli(db, "verify", "--anchors", str(tmp_path / "x"), capsys=capsys)
    assert code == 0 and "anchors of this chain: 2, agreeing so far: 2" in out


# ---- the walk, property-based ------------------------------------------------------------------------------

texts = st.text(max_size=12)
contents = st.tuples(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1),
                                  timezones=st.just(dt.UTC)), texts, texts, texts, st.none() | texts)


def _chain(items: list[tuple[Any, ...]]) -> list[Entry]:
    out, prev = [], GENESIS
    for i, (at, actor, action, target, detail) in enumerate(items, start=1):
        h = entry_hash(seq=i, at=at, actor=actor, action=action, target=target, detail=detail, prev_hash=prev)
        out.append(Entry(i * 10, i, at, actor, action, target, detail, prev, h))
        prev = h
    return out


def _forged(seq: int, prev: str, id_: int, *, valid: bool = True) -> Entry:
    e = Entry(id_, seq, T0, "console:forger", "forged", "thing", None, prev, "")
    return dataclasses.replace(e, hash=e.computed() if valid else "f" * 64)


def _sorted(entries: list[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda x: (x.seq, x.id))


def _renumber(entries: list[Entry], from_seq: int, by: int) -> list[Entry]:
    return [dataclasses.replace(x, seq=x.seq + by) if x.seq is not None and x.seq >= from_seq else x
            for x in entries]


def _tamper(chain: list[Entry], op: str, k: int, j: int) -> tuple[list[Entry], Head, tuple[str, int, int | None]]:
    """Apply ``op`` at entry ``k`` (and ``j``); the tampered rows, the head, and the (kind, seq, id) to be named."""
    n = len(chain)
    head = Head(n, chain[-1].hash or "", "c" * 32)
    at = {x.seq: x for x in chain}
    rest = [x for x in chain if x.seq != k]
    if op == "alter":
        x = at[k]
        return [*rest, dataclasses.replace(x, actor=x.actor + "!")], head, ("altered", k, x.id)
    if op == "alter_rehash":
        x = dataclasses.replace(at[k], detail=(at[k].detail or "") + "!")
        return [*rest, dataclasses.replace(x, hash=x.computed())], head, ("altered", k, x.id)
    if op == "delete":
        return rest, head, ("removed", k, at[k + 1].id if k < n else None)
    if op == "delete_renumber":
        return _renumber(rest, k + 1, -1), head, ("removed", k, at[k + 1].id if k < n else None)
    if op in ("insert", "insert_junk"):
        prev = at[k - 1].hash if k > 1 else GENESIS
        forged = _forged(k, prev or "", 5, valid=op == "insert")
        return [*_renumber(chain, k, 1), forged], head, ("inserted", k, 5)
    if op in ("duplicate_after", "duplicate_before"):
        prev = at[k - 1].hash if k > 1 else GENESIS
        forged = _forged(k, prev or "", 10 * k + (1 if op == "duplicate_after" else -1))
        return [*chain, forged], head, ("inserted", k, forged.id)
    if op == "swap":
        a, b = at[k], at[j]
        return [x for x in chain if x.seq not in (k, j)] + [dataclasses.replace(a, seq=j),
                                                           dataclasses.replace(b, seq=k)], head, ("altered", k, b.id)
    if op == "truncate":
        return [x for x in chain if x.seq is not None and x.seq < k], head, ("removed", k, None)
    assert op == "append"
    forged = _forged(n + 1, head.hash, 10 * (n + 1))
    return [*chain, forged], head, ("inserted", n + 1, forged.id)


OPS = ["alter", "alter_rehash", "delete", "delete_renumber", "insert", "insert_junk", "duplicate_after",
       "duplicate_before", "swap", "truncate", "append"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(contents, min_size=2, max_size=25), st.sampled_from(OPS), st.data())
def test_the_walk_names_the_first_entry_of_any_one_tampering(items: list[tuple[Any, ...]], op: str,
                                                             data: st.DataObject) -> None:
    chain = _chain(items)
    n = len(chain)
    assert walk(chain, head=Head(n, chain[-1].hash or "", "c" * 32)).first_break is None
    k = data.draw(st.integers(1, n - 1 if op == "swap" else n), label="k")
    j = data.draw(st.integers(k + 1, n), label="j") if op == "swap" else 0
    tampered, head, expected = _tamper(chain, op, k, j)
    found = walk(_sorted(tampered), head=head).first_break
    assert found is not None
    assert (found.kind, found.seq, None if found.entry is None else found.entry.id) == expected, found.text()


@settings(max_examples=100, deadline=None)
@given(st.lists(contents, min_size=1, max_size=20), st.data())
def test_the_walk_finds_a_consistent_rewrite_only_through_an_anchor_at_or_after_it(
        items: list[tuple[Any, ...]], data: st.DataObject) -> None:
    chain = _chain(items)
    n = len(chain)
    anchored = data.draw(st.integers(1, n), label="anchored")
    k = data.draw(st.integers(1, n), label="rewritten")
    a = chain[anchored - 1]
    anchor = Anchor("c" * 32, T0.date(), a.seq or 0, a.hash or "", None, a.seq or 0, "t", "a.json")
    rewritten = _chain([(x.at, x.actor + ("!" if x.seq == k else ""), x.action, x.target, x.detail) for x in chain])
    head = Head(n, rewritten[-1].hash or "", "c" * 32)
    assert walk(rewritten, head=head).first_break is None
    found = walk(rewritten, head=head, anchors=[anchor]).first_break
    if k <= anchored:
        assert found is not None and (found.kind, found.seq) == ("rewritten", anchored)
    else:
        assert found is None
