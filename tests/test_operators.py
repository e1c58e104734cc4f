"""Operator accounts and sessions of the console (hub.operators) and ``xianjie users``, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from hub import operators
from hub.cli import main
from hub.migrate import upgrade
from hub.store.db import make_engine
from hub.store.operator_schema import operator_sessions
from hub.store.operator_schema import operators as operators_table
from hub.store.schema import audit_log
from tests.services import fresh_postgres

T0 = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.UTC)
GOOD = "correct horse battery"


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/hub.db"
        upgrade(url)
        engine = make_engine(url, pool_size=2)
        yield url, engine
        engine.dispose()
        return
    with fresh_postgres() as url:
        upgrade(url)
        engine = make_engine(url, pool_size=2)
        yield url, engine
        engine.dispose()


def audit(engine: Engine) -> list[tuple[str, str, dict[str, object]]]:
    with engine.connect() as conn:
        return [(r.action, r.target, json.loads(r.detail or "{}"))
                for r in conn.execute(select(audit_log).order_by(audit_log.c.id))]


@settings(max_examples=20, deadline=None)
@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_a_password_verifies_only_itself_and_is_stored_salted(password: str, other: str) -> None:
    stored = operators.hash_password(password)
    assert operators.verify_password(password, stored)
    assert operators.verify_password(other, stored) == (other == password)
    assert stored != operators.hash_password(password)  # a new salt each time
    assert operators.hash_password(password, salt=b"s" * 16) == operators.hash_password(password, salt=b"s" * 16)


def test_a_stored_hash_that_is_not_one_never_verifies() -> None:
    for junk in ("", "plain", "scrypt$1$2$3", "md5$x$y$z$a$b", "scrypt$16384$8$1$!!$!!"):
        assert not operators.verify_password("anything", junk)


def test_accounts_are_created_checked_and_audited(db: tuple[str, Engine]) -> None:
    _, engine = db
    op = operators.create(engine, username="wang", password=GOOD, role="operator", agency="530581SF",
                          display_name="王芳", actor="cli", now=T0)
    assert op == operators.Operator("wang", "王芳", "operator", "530581SF", False)
    with engine.connect() as conn:
        stored = conn.execute(select(operators_table.c.password_hash)).scalar_one()
    assert stored.startswith("scrypt$") and GOOD not in stored
    for bad, why in [(dict(username="wang"), "exists"), (dict(password="short"), "at least 10"),
                     (dict(role="boss"), "unknown role"), (dict(username="two words"), "without spaces")]:
        args = dict(username="li", password=GOOD, role="operator", agency="530581SF", display_name="李",
                    actor="cli") | bad
        with pytest.raises(operators.OperatorError, match=why):
            operators.create(engine, **args)  # type: ignore[arg-type]
    assert [(a, t) for a, t, _ in audit(engine)] == [("operator_create", "operator:wang")]


def test_sign_in_gives_a_session_that_ends_when_idle_or_at_its_end(db: tuple[str, Engine]) -> None:
    _, engine = db
    operators.create(engine, username="wang", password=GOOD, role="supervisor", agency="530581SF",
                     display_name="王芳", actor="cli", now=T0)
    token, s = operators.sign_in(engine, "wang", GOOD, lang="en", client="127.0.0.1", now=T0)
    assert s.operator.role == "supervisor" and s.lang == "en" and len(s.csrf) >= 40
    with engine.connect() as conn:  # the table keeps only the token's hash
        assert conn.execute(select(operator_sessions.c.token_hash)).scalar_one() == s.token_hash != token
    # a request within the idle time keeps it alive, and starts the idle time again
    assert operators.session_of(engine, token, now=T0 + operators.IDLE - dt.timedelta(seconds=1)) is not None
    assert operators.session_of(engine, token, now=T0 + 2 * operators.IDLE - dt.timedelta(seconds=2)) is not None
    assert operators.session_of(engine, "not a token", now=T0) is None
    # a page refreshing itself is not the operator at work: it finds the session but does not keep it alive
    polled, _ = operators.sign_in(engine, "wang", GOOD, now=T0)
    assert operators.session_of(engine, polled, now=T0 + operators.IDLE - dt.timedelta(seconds=1), touch=False)
    assert operators.session_of(engine, polled, now=T0 + operators.IDLE + dt.timedelta(seconds=1)) is None
    # idle for longer than IDLE: gone
    assert operators.session_of(engine, token, now=T0 + 3 * operators.IDLE) is None
    assert operators.session_of(engine, token, now=T0 + 3 * operators.IDLE - dt.timedelta(minutes=1)) is None
    # however busy, a session ends LIFETIME after sign-in
    token, _ = operators.sign_in(engine, "wang", GOOD, now=T0)
    t = T0
    while t + dt.timedelta(minutes=20) < T0 + operators.LIFETIME:
        t += dt.timedelta(minutes=20)
        assert operators.session_of(engine, token, now=t) is not None
    assert operators.session_of(engine, token, now=T0 + operators.LIFETIME) is None
    # signing out ends it at once
    token, s = operators.sign_in(engine, "wang", GOOD, now=T0)
    operators.sign_out(engine, s, now=T0)
    assert operators.session_of(engine, token, now=T0) is None
    assert [a for a, _, _ in audit(engine)].count("sign_in") == 4 and ("sign_out", "operator:wang", {}) in audit(engine)


def test_wrong_passwords_are_logged_and_lock_the_account_for_a_while(db: tuple[str, Engine]) -> None:
    _, engine = db
    operators.create(engine, username="wang", password=GOOD, role="operator", agency="530581SF",
                     display_name="王芳", actor="cli", now=T0)
    for i in range(operators.MAX_FAILURES):
        with pytest.raises(operators.SignInRefused):
            operators.sign_in(engine, "wang", f"guess {i}", client="10.0.0.9", now=T0)
    # locked: even the right password is refused until LOCKOUT has passed
    with pytest.raises(operators.SignInRefused, match="locked"):
        operators.sign_in(engine, "wang", GOOD, now=T0 + operators.LOCKOUT - dt.timedelta(seconds=1))
    operators.sign_in(engine, "wang", GOOD, now=T0 + operators.LOCKOUT)
    # a lock that ran out starts the count again: one more wrong password does not lock the account at once
    for i in range(operators.MAX_FAILURES):
        with pytest.raises(operators.SignInRefused):
            operators.sign_in(engine, "wang", f"again {i}", now=T0 + operators.LOCKOUT)
    with pytest.raises(operators.SignInRefused, match=r"^wrong password$"):
        operators.sign_in(engine, "wang", "one more", now=T0 + 2 * operators.LOCKOUT)
    operators.sign_in(engine, "wang", GOOD, now=T0 + 2 * operators.LOCKOUT)
    with pytest.raises(operators.SignInRefused, match="unknown user"):
        operators.sign_in(engine, "nobody", GOOD, now=T0)
    failed = [(t, d) for a, t, d in audit(engine) if a == "sign_in_failed"]
    assert len(failed) == 2 * operators.MAX_FAILURES + 3
    assert failed[0] == ("operator:wang", {"reason": "wrong password", "client": "10.0.0.9"})
    assert "locked until" in str(failed[operators.MAX_FAILURES - 1][1]["reason"])
    assert failed[-1] == ("operator:nobody", {"reason": "unknown user", "client": ""})


def test_a_new_password_role_or_disabling_ends_the_account_s_sessions(db: tuple[str, Engine]) -> None:
    _, engine = db
    operators.create(engine, username="wang", password=GOOD, role="operator", agency="530581SF",
                     display_name="王芳", actor="cli", now=T0)
    password = GOOD
    for change in (dict(password="another good one"), dict(role="auditor"), dict(disabled=True)):
        token, _ = operators.sign_in(engine, "wang", password, now=T0)
        operators.change(engine, "wang", actor="admin", now=T0, **change)  # type: ignore[arg-type]
        password = str(change.get("password", password))
        assert operators.session_of(engine, token, now=T0) is None, change
    with pytest.raises(operators.SignInRefused, match="disabled"):
        operators.sign_in(engine, "wang", "another good one", now=T0)
    operators.change(engine, "wang", actor="admin", disabled=False, now=T0)
    operators.sign_in(engine, "wang", "another good one", now=T0)
    with pytest.raises(operators.OperatorError, match="no user"):
        operators.change(engine, "li", actor="admin", role="auditor")
    changes = [d for a, _, d in audit(engine) if a == "operator_change"]
    assert changes == [{"password": "changed"}, {"role": "auditor"}, {"disabled": True}, {"disabled": False}]


def test_the_users_command_manages_accounts(db: tuple[str, Engine], monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    url, engine = db
    base = ["--database-url", url, "users"]
    monkeypatch.setattr("sys.stdin", io.StringIO(GOOD + "\n"))
    assert main([*base, "add", "zhao", "--role", "administrator", "--agency", "530500ZX", "--name", "赵强",
                 "--password-stdin", "--by", "setup"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(GOOD + "\n"))
    assert main([*base, "add", "sun", "--role", "operator", "--agency", "530599SF", "--password-stdin"]) == 2
    assert "no agency '530599SF'" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main([*base, "add", "qian", "--role", "operator", "--agency", "530581SF", "--password-stdin"]) == 2
    assert "at least 10" in capsys.readouterr().err
    assert main([*base, "role", "zhao", "auditor", "--by", "setup"]) == 0
    assert main([*base, "disable", "zhao"]) == 0
    capsys.readouterr()
    assert main([*base, "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"username": "zhao", "display_name": "赵强", "role": "auditor",
                                                   "agency": "530500ZX", "disabled": True}]
    assert main([*base, "list"]) == 0
    listed = capsys.readouterr().out
    assert "赵强" in listed and "审计员 auditor" in listed and "停用 disabled" in listed
    actors = [a for a, _, _ in audit(engine)]
    assert actors == ["operator_create", "operator_change", "operator_change"]
