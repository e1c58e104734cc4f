"""Retention by record class with legal holds, on SQLite and PostgreSQL: the sweep deletes what is past its period
and keeps what the hard rules protect (a person with a case open, a legal hold, a message with a failed transfer
open, a message the ledger has not yet projected), ``plan`` says exactly what ``apply`` then does, a second
``apply`` deletes nothing, each batch is audited, the ledger neither projects a deleted message again nor brings a
deleted case back on a rebuild; the policy file is checked field by field."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select

from hub import casework, inbound, retention, retention_holds, rulebook
from hub.canonical import load_schema
from hub.cli import main
from hub.core.facts import SHANGHAI
from hub.migrate import upgrade
from hub.registry import load_registry
from hub.retention_files import SCAN_BYTES, WAITING, id_numbers_in
from hub.retention_sweep import RunReport, _sweepers
from hub.service import Hub
from hub.settings import Settings
from hub.store.db import make_engine
from hub.store.identity_schema import person_records
from hub.store.ledger_schema import cases
from hub.store.schema import (
    attachment_messages,
    attachments,
    audit_log,
    deliveries,
    messages,
    metadata,
    native_payloads,
    outbox,
)
from hub.workers.retention import DailySweep, daily_sweep
from tests.conftest import Stack
from tests.core.case_messages import Case, at
from tests.harness import write_registry
from tests.retention_world import (
    BUREAU,
    NOW,
    P1,
    P2,
    P3_NEW,
    P3_OLD,
    P4,
    P5,
    PROCURATORATE,
    World,
    build,
    d,
    deliver,
    mid,
    project,
    store,
)

COURT_JUDGMENT = Path(__file__).resolve().parent / "golden" / "court" / "sentencing-judgment.in.xml"
AUDIT = {"audit_log", "audit_head"}


def counts(engine: Engine) -> Counter[str]:
    """Rows in every table of the schema."""
    with engine.connect() as conn:
        return Counter({name: int(conn.execute(select(func.count()).select_from(t)).scalar() or 0)
                        for name, t in metadata.tables.items()})


def outcome(report: RunReport) -> dict[str, Any]:
    """What a run decided, class by class (what batches it took aside)."""
    return {c.name: (c.deleted, dict(c.rows), dict(c.kept), c.note) for c in report.classes}


def of(report: RunReport, name: str) -> Any:
    return next(c for c in report.classes if c.name == name)


def stored(engine: Engine, ids: list[str]) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(messages.c.id).where(messages.c.id.in_(ids))).scalars())


def case_ids(c: Case) -> list[str]:
    return [mid(c, w) for w in ("decision", "receipt", "report", "release")]


@pytest.fixture
def world(stack: Stack, tmp_path: Path) -> Iterator[World]:
    w = build(stack.database_url, tmp_path)
    yield w
    w.engine.dispose()


# ---- the policy file ---------------------------------------------------------------------------------------------


def test_the_shipped_policy_names_every_table_and_each_sweep_stays_in_its_class() -> None:
    # Given the policy shipped with the hub
    policy = retention.policy_in_force(None)
    # Then every table of the schema is in some class, and every class the hub sweeps is in the file
    assert retention.unclassified(policy, metadata.tables) == []
    assert {c.name for c in policy.classes} == set(retention.SPECS)
    assert policy.tables() <= set(metadata.tables)
    # And the audit log, its chain head and the accounts are kept for ever, never swept
    for name in ("audit_log", "api_keys", "operator_accounts", "legal_holds"):
        assert policy.of(name).keep.forever
    assert "audit_log" not in _sweepers() and "audit_head" not in {t for c in policy.classes if not c.keep.forever
                                                                    for t in c.tables}
    # And each class has its reason written out
    assert all(len(c.basis) > 40 for c in policy.classes)
    assert not policy.daily


def _edited(old: str, new: str, count: int = 1) -> str:
    text = retention.shipped_policy_text()
    assert old in text, old
    return text.replace(old, new, count)


@pytest.mark.parametrize(("text", "expected"), [
    ("[[class]\n", "mine.toml: not TOML"),
    ("[sweep]\ndaily = true\n[other]\n", "mine.toml: unknown top-level key(s) other"),
    (_edited('keep = "5y"', 'keep = "5 years"'), "mine.toml: class row 1 (case_records): keep: '5 years' is not a "
                                                 "period"),
    (_edited('keep = "5y"\nclock = "case_closed"', 'clock = "case_closed"'),
     "mine.toml: class row 1 (case_records): keep: missing"),
    (_edited('clock = "case_closed"', 'clock = "received"'),
     "mine.toml: class row 1 (case_records): clock: 'received', but the clock of case_records starts at "
     "'case_closed'"),
    (_edited('"deliveries", "events", "outbox",', '"deliveries", "events",'),
     "mine.toml: class row 1 (case_records): tables: missing: outbox"),
    (_edited('tables = ["audit_log", "audit_head"]\nkeep = "forever"', 'tables = ["audit_log", "audit_head"]\nkeep = '
                                                                      '"10y"'),
     'mine.toml: class row 13 (audit_log): keep: must be "forever": the audit log is a hash chain'),
    (_edited('name = "outbox"', 'name = "outbox_rows"'), "mine.toml: class row 10 (outbox_rows): name: unknown "
                                                         "record class 'outbox_rows'"),
    (_edited('subject = "operational"', 'subject = "person"'),
     "mine.toml: class row 10 (outbox): subject: 'person', but outbox is 'operational'"),
    (_edited('batch = 50', 'batch = "50"'), "mine.toml: [sweep]: batch: must be int, not '50'"),
    (_edited('at = "03:30"', 'at = "25:00"'), "mine.toml: [sweep]: at: '25:00' is not a time of day HH:MM"),
    (_edited('keep = "7d"', 'keep = "7d"\nowner = "ops"'), "mine.toml: class row 10 (outbox): unknown key(s) owner"),
    (retention.shipped_policy_text() + '\n[[class]]\nname = "outbox"\n', "mine.toml: class row 21 (outbox): "
                                                                         "subject: missing"),
    (retention.shipped_policy_text().split('[[class]]\nname = "legal_holds"')[0],
     "mine.toml: no row for the class(es) legal_holds"),
])
def test_the_loader_names_the_file_the_row_and_the_field(text: str, expected: str) -> None:
    # When a policy file is wrong, Then loading it fails and says where
    with pytest.raises(ValueError) as e:
        retention.load_policy(text, source="mine.toml")
    assert str(e.value).startswith(expected), str(e.value)


def test_an_empty_basis_a_duplicate_row_and_a_missing_file_are_refused(tmp_path: Path) -> None:
    text = retention.shipped_policy_text()
    basis_start = text.index('basis = """Announcements')
    end = text.index('"""', basis_start + 12) + 3
    with pytest.raises(ValueError, match=r"class row 10 \(outbox\): basis: say why"):
        retention.load_policy(text[:basis_start] + 'basis = "  "' + text[end:])
    twice = text + text[text.index('[[class]]\nname = "outbox"'):text.index('[[class]]\nname = "operator_sessions"')]
    with pytest.raises(ValueError, match=r"class row 21 \(outbox\): name: the class is already in the file"):
        retention.load_policy(twice)
    with pytest.raises(ValueError, match=r"nowhere\.toml: cannot be read"):
        retention.policy_in_force(tmp_path / "nowhere.toml")
    # And a file of the same form with other periods is the policy in force
    (tmp_path / "ours.toml").write_text(_edited('keep = "30d"', 'keep = "90d"'), encoding="utf-8")
    assert str(retention.policy_in_force(tmp_path / "ours.toml").of("operator_sessions").keep) == "90d"


def test_periods_count_back_by_the_calendar() -> None:
    P = retention.Period.parse
    assert P("5y").cutoff(dt.date(2031, 6, 15)) == dt.date(2026, 6, 15)
    assert P("1y").cutoff(dt.date(2028, 2, 29)) == dt.date(2027, 2, 28)
    assert P("18m").cutoff(dt.date(2026, 8, 31)) == dt.date(2025, 2, 28)
    assert P("30d").cutoff(dt.date(2026, 3, 1)) == dt.date(2026, 1, 30)
    assert P("0d").cutoff(dt.date(2026, 3, 1)) == dt.date(2026, 3, 1)


# ---- the sweep ---------------------------------------------------------------------------------------------------


def test_the_sweep_deletes_what_is_past_its_period_and_keeps_what_the_rules_protect(world: World) -> None:
    w, policy = world, retention.policy_in_force(None)
    # Given a legal hold on P4, and a late warning about P1 stored but not yet projected into P1's case
    hold = retention_holds.place(w.engine, kind="person", subject=P4.id_number, reason="行政诉讼 (2031) 云05行初1号",
                                 by="张敏", now=NOW)
    store(w, d(2026, 1, 20), BUREAU, P1.event(mid(P1, "late"), at(d(2026, 1, 20)), kind="WARNING"))
    deliver(w)
    before = counts(w.engine)

    # When the sweep is planned on 2031-06-15 (case records: closed before 2026-06-15)
    plan = retention.plan(w.engine, policy, now=NOW)
    # Then it deletes nothing itself, and keeps every closed case: P1 (a message about it not yet projected), P3's
    # old case (P3 has a case open), P4 (held), P5 (a failed transfer open); P2 closed too late to be due
    assert counts(w.engine) == before
    cr = of(plan, "case_records")
    assert (cr.examined, cr.deleted) == (4, 0)
    assert cr.kept == {"not_yet_projected": 1, "person_case_open": 1, "legal_hold": 1, "open_failed_transfer": 1}

    # When the ledger has caught up and the sweep is planned again
    project(w)
    before = counts(w.engine)
    plan = retention.plan(w.engine, policy, now=NOW)
    cr = of(plan, "case_records")
    assert cr.deleted == 1 and cr.kept == {"person_case_open": 1, "legal_hold": 1, "open_failed_transfer": 1}
    # P1's TechnicalAck goes with P1's judgment; P3's stays while the judgment it acknowledges is kept
    assert (of(plan, "loose_messages").deleted, dict(of(plan, "loose_messages").kept)) == (
        1, {"acknowledges_kept_message": 1})
    # P1's identity records (the court's and the bureau's) go with its messages; those of P3, P4, P5 and the court's
    # of P2 (not updated since before the cutoff) stay with theirs
    assert of(plan, "identity_records").deleted == 2
    assert of(plan, "identity_records").kept == {"messages_kept": 7}
    assert of(plan, "discrepancies").deleted == 1
    assert (of(plan, "quarantine").deleted, of(plan, "operator_sessions").deleted) == (1, 1)
    assert of(plan, "outbox").deleted > 0
    assert counts(w.engine) == before

    # When it is applied, a few units to a transaction
    applied = retention.apply(w.engine, policy, by="retention-test", now=NOW, batch=2)
    # Then it did exactly what the plan said, and the rows that went are the rows it counted
    assert outcome(applied) == outcome(plan)
    after = counts(w.engine)
    gone = {t: before[t] - after[t] for t in before if t not in AUDIT and before[t] != after[t]}
    assert gone == dict(sum((c.rows for c in applied.classes), Counter()))
    # the expired console session, the year-old quarantined input and P1's resolved discrepancy went; P2's open
    # discrepancy stayed
    assert (after["operator_sessions"], after["quarantine"], after["discrepancies"]) == (0, 0, 1)
    # P1's messages and its ack are gone; the others' stay, and so do P2's open discrepancy and P3's identity
    assert stored(w.engine, case_ids(P1)) == set()
    for c in (P2, P3_OLD, P3_NEW, P4, P5):
        assert stored(w.engine, case_ids(c)[:3]) == set(case_ids(c)[:3]), c.name
    with w.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(messages).where(
            messages.c.sender == PROCURATORATE)).scalar() == 1
        ids = set(conn.execute(select(person_records.c.id_number)).scalars())
        assert P1.id_number not in ids and {P3_OLD.id_number, P4.id_number, P5.id_number} <= ids
        # the outbox keeps only the rows of deliveries still waiting (P5's, behind its refused judgment)
        waiting = conn.execute(select(deliveries.c.state).join(outbox, outbox.c.delivery_id == deliveries.c.id)).all()
        assert waiting and {s for (s,) in waiting} <= set(WAITING)
        # each batch's audit entry in the transaction that deleted it, and the run's summary
        entries = conn.execute(select(audit_log.c.actor, audit_log.c.target, audit_log.c.detail).where(
            audit_log.c.action == "retention_delete").order_by(audit_log.c.id)).all()
        summary = conn.execute(select(audit_log.c.detail).where(audit_log.c.action == "retention_apply")).scalars()
        summary_detail = json.loads(next(iter(summary)))
    assert {e.actor for e in entries} == {"retention-test"}
    audited: Counter[str] = Counter()
    for e in entries:
        audited.update(json.loads(e.detail)["rows"])
    assert audited == sum((c.rows for c in applied.classes), Counter())
    assert "retention:case_records" in {e.target for e in entries}
    assert summary_detail["classes"]["case_records"]["deleted"] == 1

    # When it is applied again, Then nothing more goes
    again = retention.apply(w.engine, policy, by="retention-test", now=NOW)
    assert all(c.deleted == 0 and not c.rows for c in again.classes), outcome(again)
    # And the ledger neither projects a deleted message again nor has lost its place
    assert project(w) == 0
    assert casework.status(w.engine)["cases"] == 5

    # When P4's hold is released, Then the next sweep takes P4's records
    retention_holds.release(w.engine, hold["id"], reason="判决已生效", by="张敏", now=NOW)
    plan = retention.plan(w.engine, policy, now=NOW)
    applied = retention.apply(w.engine, policy, by="retention-test", now=NOW)
    assert outcome(applied) == outcome(plan)
    assert of(applied, "case_records").deleted == 1 and stored(w.engine, case_ids(P4)) == set()
    with w.engine.connect() as conn:
        actions = [r.action for r in conn.execute(select(audit_log.c.action).where(
            audit_log.c.target == f"legal_hold:{hold['id']}").order_by(audit_log.c.id))]
    assert actions == ["legal_hold_place", "legal_hold_release"]

    # And a rebuild of the ledger from the messages kept brings no deleted case back
    with w.engine.connect() as conn:
        kept_cases = set(conn.execute(select(cases.c.case_key)).scalars())
    casework.rebuild(w.engine, rules=rulebook.rules_in_force(w.engine), calendar=rulebook.calendar_in_force(w.engine),
                     directory=w.directory)
    with w.engine.connect() as conn:
        assert set(conn.execute(select(cases.c.case_key)).scalars()) == kept_cases
    assert len(kept_cases) == 4


def test_a_hold_names_what_the_hub_holds_and_is_released_once(world: World) -> None:
    w = world
    # A hold on nothing the hub knows, without a reason, or twice, is refused
    with pytest.raises(retention_holds.HoldError, match="holds no person"):
        retention_holds.place(w.engine, kind="person", subject="110101199003070014", reason="x", by="张敏")
    with pytest.raises(retention_holds.HoldError, match="reason"):
        retention_holds.place(w.engine, kind="case", subject=P1.number, reason=" ", by="张敏")
    h = retention_holds.place(w.engine, kind="case", subject=P1.number.replace("（", "(").replace("）", ")"),
                              reason="信访", by="张敏")
    with pytest.raises(retention_holds.HoldError, match="already under an active hold"):
        retention_holds.place(w.engine, kind="case", subject=P1.number, reason="again", by="李强")
    m = retention_holds.place(w.engine, kind="message", subject=mid(P5, "decision"), reason="复核", by="李强")
    # Then the case hold keeps P1 (found by its case number, however the brackets are written)
    plan = retention.plan(w.engine, retention.policy_in_force(None), now=NOW)
    assert of(plan, "case_records").kept["legal_hold"] == 2  # P1 by case number, P5 by its message
    assert [x["id"] for x in retention_holds.list_holds(w.engine)] == [h["id"], m["id"]]
    retention_holds.release(w.engine, h["id"], reason="结案", by="张敏")
    with pytest.raises(retention_holds.HoldError, match="was released"):
        retention_holds.release(w.engine, h["id"], reason="again", by="张敏")
    assert [x["id"] for x in retention_holds.list_holds(w.engine)] == [m["id"]]
    assert len(retention_holds.list_holds(w.engine, include_released=True)) == 2


def xlsx_naming(number: str) -> bytes:
    import openpyxl
    book = openpyxl.Workbook()
    book.active.append(["姓名", "身份证号码"])
    book.active.append(["张三", number])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_id_numbers_are_read_from_a_file_as_it_was_sent() -> None:
    number = P3_NEW.id_number
    # Given one number written in every way an agency's file may carry it
    for raw in (f"<idNumber>{number}</idNumber>".encode(), f"张三,{number}\n".encode("gbk"),
                f"张三,{number.lower()}\n".encode("utf-16"), xlsx_naming(number)):
        # Then it is found, and only it
        assert id_numbers_in(raw) == {number}, raw[:40]
    # And a legacy 15-digit number is read in its 18-character form
    assert id_numbers_in(f"张三 {number[:6]}{number[8:17]} 男".encode()) == {number}
    # And digit runs that are not an ID number (too long, too short, a leading 0) are not
    assert id_numbers_in(b"1" + number.encode() + b" 12345678901234567 012345678901234567") == set()
    # And a ZIP that inflates past the bound is read only up to it, and a damaged one as its bytes
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/a.xml", b"0" * (SCAN_BYTES + 1024) + number.encode())
        z.writestr("xl/b.xml", number.encode())
    assert id_numbers_in(bomb.getvalue()) == set()
    assert id_numbers_in(b"PK\x03\x04 broken " + number.encode()) == {number}


def test_a_refused_input_naming_a_person_with_a_case_open_is_kept(world: World) -> None:
    w = world
    # Given year-old refused inputs: three naming P3, whose case is open (UTF-8, UTF-16, a spreadsheet), one naming
    # nobody the hub supervises, one naming P1 (no case open) under a legal hold, and a refused spreadsheet naming P3
    for raw in (f"<x><idNumber>{P3_NEW.id_number}</idNumber>".encode(),
                f"<x><idNumber>{P3_NEW.id_number}</idNumber>".encode("utf-16"), xlsx_naming(P3_NEW.id_number),
                b"<x><idNumber>110101199003070014</idNumber>", f"<x><idNumber>{P1.id_number}</idNumber>".encode()):
        w.hub.quarantine(raw, agency=BUREAU, channel="api", status=400, code="not_xml", message="not well-formed",
                         problems=[], content_type="application/xml")
    with w.engine.begin() as conn:
        conn.execute(insert(native_payloads).values(
            id="np-refused", received_at=at(d(2026, 1, 2)).astimezone(dt.UTC), agency=BUREAU, system="ledger",
            channel="api", filename="台账.xlsx", content_type=None, size=1, sha256="0" * 64, records=1, accepted=0,
            rejected=1, summary="{}", raw=xlsx_naming(P3_NEW.id_number)))
    retention_holds.place(w.engine, kind="person", subject=P1.id_number, reason="信访复查", by="张敏", now=NOW)
    # When the sweep is planned five years on
    plan = retention.plan(w.engine, retention.policy_in_force(None), now=NOW)
    # Then the inputs naming P3 or the held P1 stay, and the others (the world's own unreadable input among them) go
    q = of(plan, "quarantine")
    assert (q.deleted, dict(q.kept)) == (2, {"person_case_open": 4}), outcome(plan)["quarantine"]
    assert dict(of(plan, "refused_files").kept) == {"person_case_open": 1}
    applied = retention.apply(w.engine, retention.policy_in_force(None), by="retention-test", now=NOW)
    assert outcome(applied) == outcome(plan)
    assert counts(w.engine)["quarantine"] == 4
    with w.engine.connect() as conn:
        assert "np-refused" in set(conn.execute(select(native_payloads.c.id)).scalars())


def test_a_native_payload_and_its_attachment_go_with_the_messages_they_became(stack: Stack, tmp_path: Path) -> None:
    # Given the court's judgment as a native batch with the judgment file inline, received and projected today
    upgrade(stack.database_url)
    registry = write_registry(tmp_path / "agencies.toml", recipients_url="http://127.0.0.1:9",
                              drop_root=tmp_path / "drop", adapters={"530502FY": "court"})
    engine = make_engine(stack.database_url, pool_size=2)
    directory = load_registry(registry)
    w = World(engine, Hub(engine=engine, directory=directory, schema=load_schema()), directory, registry)
    try:
        report = inbound.receive(w.hub, COURT_JUDGMENT.read_bytes(), agency=directory.agencies["530502FY"],
                                 system="court", channel="http")
        assert report.accepted == 1, report.as_dict()
        project(w)
        with engine.connect() as conn:
            row = conn.execute(select(cases)).mappings().one()
        policy = retention.policy_in_force(None)
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=5 * 366 + 30)  # over 5 years on: due, once closed
        tomorrow = dt.datetime.now(SHANGHAI).date() + dt.timedelta(days=1)  # the sends come after the storing
        deliver(w, on=tomorrow)
        # When the case is still open, Then the payload stays with its message
        plan = retention.plan(engine, policy, now=later)
        assert of(plan, "native_payloads").kept == {"messages_kept": 1}
        assert of(plan, "case_records").examined == 0
        # Given the bureau's release of the person, today
        c = Case(row["case_number"], row["deciding_organ"], row["correction_type"], row["division"],
                 row["person_name"], row["id_number"], True, row["birth_date"], row["effective_on"],
                 row["effective_on"], row["period_end"])
        release_id = "5d2b6a9e-0c55-4f0e-9a43-0b7d1c3e2f10"
        today = dt.datetime.now(SHANGHAI).date()
        w.hub.store_many([w.hub.prepare(c.release(release_id, at(today), on=today),
                                        agency=directory.agencies[c.bureau])])
        deliver(w, on=tomorrow)
        project(w)
        with engine.connect() as conn:
            assert conn.execute(select(cases.c.status)).scalar() == "released"
        before = counts(engine)
        # When the sweep is planned over five years on, Then the case goes, with its messages the payload and the file
        plan = retention.plan(engine, policy, now=later)
        assert of(plan, "case_records").deleted == 1
        assert of(plan, "native_payloads").deleted == 1
        assert of(plan, "case_records").rows["attachments"] == 1
        assert counts(engine) == before
        applied = retention.apply(engine, policy, by="retention-test", now=later)
        assert outcome(applied) == outcome(plan)
        with engine.connect() as conn:
            for t in (native_payloads, attachments, attachment_messages, messages):
                assert conn.execute(select(func.count()).select_from(t)).scalar() == 0, t.name
    finally:
        engine.dispose()


def test_the_command_line_holds_plans_and_applies_with_a_policy_file(
        world: World, stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a policy file of the bureau's own that keeps case records 6 months (the run is today, 2026-11 or later)
    ours = tmp_path / "retention.toml"
    ours.write_text(_edited('keep = "5y"\nclock = "case_closed"', 'keep = "6m"\nclock = "case_closed"'),
                    encoding="utf-8")
    monkeypatch.setenv("XIANJIE_RETENTION_POLICY", str(ours))
    db = ["--database-url", stack.database_url]

    def run(*args: str) -> tuple[int, str, str]:
        code = main([*db, "retention", *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    # When a hold is placed on P4 by the command line
    code, out, _ = run("hold", "add", "--person", P4.id_number, "--reason", "诉讼保全", "--by", "张敏")
    assert code == 0 and "hold placed" in out
    code, out, _ = run("hold", "list", "--json")
    holds = json.loads(out)
    assert [(h["kind"], h["subject"]) for h in holds] == [("person", P4.id_number)]
    # And the sweep is planned (the default) and applied
    code, out, _ = run()
    assert code == 0 and "retention plan (nothing deleted)" in out and "case_records" in out
    code, out, _ = run("plan", "--json", "--class", "case_records")
    planned = json.loads(out)["classes"]
    # (P2, closed 2026-08-03, is due too once the run is after 2027-02-03)
    assert [c["class"] for c in planned] == ["case_records"] and planned[0]["deleted"] >= 1
    assert planned[0]["kept"] == {"legal_hold": 1, "person_case_open": 1, "open_failed_transfer": 1}
    code, out, _ = run("apply", "--by", "cli-test", "--json", "--class", "case_records")
    assert code == 0 and json.loads(out)["classes"][0]["deleted"] == planned[0]["deleted"]
    assert stored(world.engine, case_ids(P1)) == set()
    assert stored(world.engine, case_ids(P4)[:1]) and stored(world.engine, case_ids(P3_OLD)[:1])
    # And a hold that does not exist, or a policy file that is wrong, is refused with the reason
    code, _, err = run("hold", "release", "no-such-hold", "--reason", "x", "--by", "张敏")
    assert code == 2 and "no legal hold 'no-such-hold'" in err
    code, out, _ = run("hold", "release", holds[0]["id"], "--reason", "解除保全", "--by", "张敏")
    assert code == 0 and "hold released" in out
    ours.write_text(_edited('keep = "1y"\nclock = "received"', 'keep = "1 year"\nclock = "received"'),
                    encoding="utf-8")
    with pytest.raises(SystemExit, match=r"retention\.toml: class row 8 \(quarantine\): keep"):
        main([*db, "retention", "plan"])


def test_the_daily_sweep_runs_once_a_day_from_its_time(world: World, tmp_path: Path) -> None:
    # Given the shipped policy, Then the worker has no daily sweep; given a file that asks for one, it has
    assert daily_sweep(Settings(), world.engine, lambda: NOW) is None
    ours = tmp_path / "daily.toml"
    ours.write_text(_edited("daily = false", "daily = true"), encoding="utf-8")
    assert isinstance(daily_sweep(Settings(retention_policy=ours), world.engine, lambda: NOW), DailySweep)
    ours.write_text(_edited("daily = false", "daily = 1"), encoding="utf-8")  # refused: logged, no sweep
    assert daily_sweep(Settings(retention_policy=ours), world.engine, lambda: NOW) is None
    # Given a policy that asks for a daily sweep at 03:30
    policy = dataclasses.replace(retention.policy_in_force(None), daily=True, at=dt.time(3, 30))
    times = iter([dt.datetime(2031, 6, 15, 3, 0, tzinfo=SHANGHAI), dt.datetime(2031, 6, 15, 3, 31, tzinfo=SHANGHAI),
                  dt.datetime(2031, 6, 15, 9, 0, tzinfo=SHANGHAI), dt.datetime(2031, 6, 16, 3, 31, tzinfo=SHANGHAI)])
    sweep = DailySweep(engine=world.engine, policy=policy, clock=lambda: next(times).astimezone(dt.UTC))
    # Then it waits for its time, sweeps once that day, and again the next
    assert [sweep.run_once() for _ in range(4)] == [False, True, False, True]
    with world.engine.connect() as conn:
        runs = conn.execute(select(audit_log.c.actor).where(audit_log.c.action == "retention_apply")).scalars().all()
    assert runs == ["worker:retention", "worker:retention"]
    assert stored(world.engine, case_ids(P1)) == set()
