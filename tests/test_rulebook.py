"""The rules and the calendar in force, as stored: changes by province or county from a date, audited and
refused when inconsistent; next year's calendar loaded by an operator; the same through `xianjie rules`,
`xianjie calendar` and the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from hub import rulebook
from hub.cli import main
from hub.core.calendar import CalendarMissing
from hub.core.rules import RuleBook, dump_rules
from hub.migrate import upgrade
from hub.store.db import make_engine
from hub.store.schema import audit_log, rule_changes
from tests.conftest import Stack
from tests.harness import auth, write_registry
from tests.hubserver import InProcessHub, hub_settings

D = dt.date
CALENDAR_2027 = """
year = 2027

[[day]]
kind = "holiday"
name = "元旦 New Year's Day"
from = 2027-01-01
to = 2027-01-03

[[day]]
kind = "holiday"
name = "国庆节 National Day"
from = 2027-10-01
to = 2027-10-07

[[day]]
kind = "workday"
name = "国庆节 National Day"
date = 2027-10-09
"""


@pytest.fixture
def engine(stack: Stack) -> Iterator[Engine]:
    upgrade(stack.database_url)
    e = make_engine(stack.database_url, pool_size=2)
    yield e
    e.dispose()


def test_a_county_sets_its_own_period_from_a_date_and_the_change_is_audited(engine: Engine) -> None:
    # Given the national 5-day receipt rule
    national = rulebook.rules_in_force(engine).rule("receipt", division="530521", on=D(2026, 12, 1))
    assert (national.amount, national.scope) == (5, "")
    # When 施甸县 sets 7 days from 2026-12-01
    change = dataclasses.replace(national, scope="530521", amount=7, effective_from=D(2026, 12, 1))
    rulebook.change_rule(engine, change, actor="530500ZX:王科长", reason="县联席会议纪要〔2026〕3号")
    book = rulebook.rules_in_force(engine)
    # Then 施甸县 has 7 days from that day, still 5 the day before, and other counties keep 5
    assert book.rule("receipt", division="530521", on=D(2026, 12, 1)).amount == 7
    assert book.rule("receipt", division="530521", on=D(2026, 11, 30)).amount == 5
    assert book.rule("receipt", division="530523", on=D(2026, 12, 1)).amount == 5
    # And the change is in the audit log with who, why, before and after
    with engine.connect() as conn:
        entry = conn.execute(select(audit_log).where(audit_log.c.action == "rule_change")).mappings().one()
    detail = json.loads(entry["detail"])
    assert entry["actor"] == "530500ZX:王科长" and entry["target"] == "rule:receipt:530521"
    assert detail["reason"] == "县联席会议纪要〔2026〕3号" and detail["before"] is None
    assert detail["after"]["amount"] == 7
    # And a later change from a later date supersedes it from then on, keeping the history
    rulebook.change_rule(engine, dataclasses.replace(change, amount=6, effective_from=D(2027, 3, 1)),
                         actor="530500ZX:王科长", reason="省厅通知")
    book = rulebook.rules_in_force(engine)
    assert book.rule("receipt", division="530521", on=D(2027, 2, 28)).amount == 7
    assert book.rule("receipt", division="530521", on=D(2027, 3, 1)).amount == 6
    assert [h["rule"]["amount"] for h in rulebook.rule_history(engine, "receipt")] == [7, 6]


def test_an_inconsistent_or_unexplained_change_is_refused_and_nothing_is_stored(engine: Engine) -> None:
    base = rulebook.rules_in_force(engine).rule("cure_documents", division="530521", on=D(2026, 12, 1))
    first = dataclasses.replace(base, scope="530521", amount=12, effective_from=D(2026, 12, 1),
                                effective_to=D(2026, 12, 31))
    rulebook.change_rule(engine, first, actor="x", reason="试行", supersede=False)
    overlapping = dataclasses.replace(first, amount=15, effective_from=D(2026, 12, 15), effective_to=None)
    with pytest.raises(ValueError, match="overlap"):
        rulebook.change_rule(engine, overlapping, actor="x", reason="again", supersede=False)
    with pytest.raises(ValueError, match="reason"):
        rulebook.change_rule(engine, dataclasses.replace(first, effective_from=D(2027, 1, 1), effective_to=None),
                             actor="x", reason=" ")
    assert [h["rule"]["amount"] for h in rulebook.rule_history(engine, "cure_documents")] == [12]
    # And a county may not set its own period for a deadline the law fixes (Law 21's 10 days to report)
    report = rulebook.rules_in_force(engine).rule("report", division="530521", on=D(2026, 12, 1))
    with pytest.raises(ValueError, match="national law"):
        rulebook.change_rule(engine, dataclasses.replace(report, scope="530521", amount=15,
                                                         effective_from=D(2026, 12, 1)), actor="x", reason="试行")
    assert rulebook.rule_history(engine, "report") == []


def test_a_stored_change_that_no_longer_fits_is_left_out_loudly_not_fatally(engine: Engine,
                                                                             caplog: pytest.LogCaptureFixture) -> None:
    # Given two overlapping rows for one county written straight into the table (never through change_rule)
    base = rulebook.rules_in_force(engine).rule("receipt", division="530521", on=D(2026, 12, 1))
    first = dataclasses.replace(base, scope="530521", amount=7, effective_from=D(2026, 12, 1))
    rulebook.change_rule(engine, first, actor="x", reason="a")
    with engine.begin() as conn:
        conn.execute(rule_changes.insert().values(
            rule_id="receipt", scope="530521", effective_from=D(2026, 12, 15), row=dump_rules(RuleBook([
                dataclasses.replace(first, amount=9, effective_from=D(2026, 12, 15))])), supersede=0,
            changed_at=dt.datetime.now(dt.UTC), changed_by="y", reason="b"))
    # When the rules in force are read, Then the first stands, the second is left out and logged
    book = rulebook.rules_in_force(engine)
    assert book.rule("receipt", division="530521", on=D(2026, 12, 20)).amount == 7
    assert "not applied" in caplog.text


def test_next_years_calendar_is_loaded_by_an_operator_and_used(engine: Engine) -> None:
    book = rulebook.rules_in_force(engine)
    rule = book.rule("receipt", division="530521", on=D(2026, 12, 28))
    # Given no calendar for 2027: a deadline that reaches into it is an error, never a guess
    with pytest.raises(CalendarMissing):
        book.due(rule, trigger=D(2026, 12, 28), calendar=rulebook.calendar_in_force(engine))
    # When an operator loads the 2027 schedule
    rulebook.load_calendar_year(engine, CALENDAR_2027, actor="530500ZX:李")
    cal = rulebook.calendar_in_force(engine)
    # Then 5 days from 2026-12-28 is 2027-01-02, a day off, so the deadline moves to Monday 2027-01-04
    assert book.due(rule, trigger=D(2026, 12, 28), calendar=cal) == D(2027, 1, 4)
    # And the make-up Saturday after National Day counts as a working day
    assert cal.is_working_day(D(2027, 10, 9)) and not cal.is_working_day(D(2027, 10, 4))
    # And loading it again keeps the schedule it replaces in the audit log
    rulebook.load_calendar_year(engine, CALENDAR_2027.replace("date = 2027-10-09", "date = 2027-10-10"),
                                actor="530500ZX:王")
    with engine.connect() as conn:
        entries = conn.execute(select(audit_log.c.detail).where(audit_log.c.action == "calendar_load")
                               .order_by(audit_log.c.id)).scalars().all()
    assert json.loads(entries[0])["replaced"] is None
    assert "date = 2027-10-09" in json.loads(entries[1])["replaced"]["source"]
    # And a file that is inconsistent is refused, naming the entry, and the loaded year stays as it was
    with pytest.raises(ValueError, match="day entry 1"):
        rulebook.load_calendar_year(engine, "year = 2027\n[[day]]\nkind = 'workday'\ndate = 2027-10-08\n",
                                    actor="530500ZX:李")
    assert rulebook.calendar_in_force(engine).is_working_day(D(2027, 10, 10))


def test_the_cli_lists_changes_and_computes_due_dates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--database-url", f"sqlite:///{tmp_path}/hub.db"]
    # a 10-working-day assessment commissioned on 30 September 2026 is due after the National Day holiday
    assert main([*db, "calendar", "due", "--rule", "assessment_opinion", "--from", "2026-09-30"]) == 0
    assert "due 2026-10-20" in capsys.readouterr().out
    assert main([*db, "rules", "set", "receipt", "--scope", "530521", "--amount", "7", "--from", "2026-12-01",
                 "--by", "王科长", "--reason", "县联席会议纪要"]) == 0
    capsys.readouterr()
    assert main([*db, "rules", "list", "--division", "530521", "--on", "2026-12-02", "--json"]) == 0
    receipt = next(r for r in json.loads(capsys.readouterr().out) if r["id"] == "receipt")
    assert (receipt["amount"], receipt["scope"]) == (7, "530521")
    # the same change again is refused with the reason, exit code 2
    assert main([*db, "rules", "set", "receipt", "--scope", "530521", "--amount", "9", "--from", "2026-12-01",
                 "--by", "王科长", "--reason", "again"]) == 2
    assert "refused" in capsys.readouterr().err
    # without a 2027 calendar, a due date in 2027 cannot be computed; after loading it, it can
    assert main([*db, "calendar", "due", "--rule", "receipt", "--from", "2026-12-28", "--division", "530521"]) == 2
    assert "2027" in capsys.readouterr().err
    (tmp_path / "2027.toml").write_text(CALENDAR_2027, encoding="utf-8")
    assert main([*db, "calendar", "load", str(tmp_path / "2027.toml"), "--by", "李"]) == 0
    capsys.readouterr()
    assert main([*db, "calendar", "due", "--rule", "receipt", "--from", "2026-12-28", "--division", "530521"]) == 0
    assert "due 2027-01-04" in capsys.readouterr().out  # 7 days → 2027-01-04, a Monday
    assert main([*db, "calendar", "show", "2027"]) == 0
    assert "2027-10-09" in capsys.readouterr().out


def test_the_api_serves_rules_and_calendars_and_only_hub_operators_change_them(tmp_path: Path,
                                                                              stack: Stack) -> None:
    registry = write_registry(tmp_path / "registry.toml", recipients_url="http://127.0.0.1:9", drop_root=tmp_path)
    hub = InProcessHub(hub_settings(database_url=stack.database_url, broker_url=stack.broker_url,
                                    queue_prefix=stack.queue_prefix, registry_path=registry)).start()
    try:
        with hub.client() as client:
            rules = client.get("/api/v1/rules", params={"division": "530521", "on": "2026-12-02"},
                               headers=auth("530521SF")).json()["rules"]
            assert {r["id"]: r["amount"] for r in rules}["assessment_opinion"] == 10
            change = {"scope": "530521", "effective_from": "2026-12-01", "amount": 7, "by": "王科长",
                      "reason": "县联席会议纪要"}
            # a bureau may read but not change the rules
            r = client.post("/api/v1/rules/receipt", json=change, headers=auth("530521SF"))
            assert r.status_code == 403
            r = client.post("/api/v1/rules/receipt", json=change, headers=auth("530500ZX"))
            assert r.status_code == 201, r.text
            rows = client.get("/api/v1/rules/receipt", headers=auth("530521JC")).json()
            assert [c["reason"] for c in rows["changes"]] == ["县联席会议纪要"]
            assert rows["changes"][0]["changed_by"] == "530500ZX:王科长"
            r = client.post("/api/v1/rules/receipt", json={**change, "reason": ""}, headers=auth("530500ZX"))
            assert r.status_code == 422 and "reason" in r.json()["error"]["message"]
            # calendars: 2027 is missing until an operator loads it
            assert client.get("/api/v1/calendar/2027", headers=auth("530521SF")).status_code == 404
            r = client.put("/api/v1/calendar/2027", content=CALENDAR_2027.encode(),
                           headers=auth("530500ZX"), params={"by": "李"})
            assert r.status_code == 201, r.text
            days = client.get("/api/v1/calendar/2027", headers=auth("530521SF")).json()["days"]
            oct9 = next(d for d in days if d["date"] == "2027-10-09")
            assert oct9["kind"] == "workday" and "国庆节" in oct9["name"], oct9
            assert client.put("/api/v1/calendar/2028", content=CALENDAR_2027.encode(),
                              headers=auth("530500ZX"), params={"by": "李"}).status_code == 422
    finally:
        hub.stop()
