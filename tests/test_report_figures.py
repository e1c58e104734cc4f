"""The joint-meeting report of a half year counted by hand (tests/report_scenario.py), on both stacks: every figure
as counted, in the report itself, in its JSON, in the XLSX (numbers as numbers at their places), in the HTML and
in the PDF's text; each drill-down lists exactly the persons its figure counts; the pure figures do not depend on
the order of the rows."""

from __future__ import annotations

import datetime as dt
import io
import json
import random
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pypdf
import pytest
from lxml import html as lxml_html

from hub.migrate import upgrade
from hub.report import build, figures
from hub.report.data import ReportData, load
from hub.report.model import Figure, Report
from hub.report.render_xlsx import heading, unescape_text
from hub.service import Hub
from tests.conftest import Stack
from tests.report_scenario import BEHIND, EXPECTED, FLOWS_IN, FLOWS_OUT, FROM, ON_BOOKS, TO, TODAY
from tests.report_scenario import build as build_scenario
from tests.test_report_xlsx import masked

NOW = dt.datetime(2026, 7, 10, 2, 30, tzinfo=dt.UTC)


@pytest.fixture
def scenario(stack: Stack, registry: Path) -> Iterator[Hub]:
    upgrade(stack.database_url)
    engine, hub = build_scenario(stack.database_url, registry)
    yield hub
    engine.dispose()


def report_of(hub: Hub, division: str = "530581") -> Report:
    return build.joint_meeting(hub.engine, hub.directory, division=division, period_from=FROM, period_to=TO,
                               today=TODAY, now=NOW)


def test_every_figure_is_what_was_counted_by_hand_and_lists_whom_it_counts(scenario: Hub) -> None:
    report = report_of(scenario)
    found = report.figures()
    assert {k: found[k].value if k in found else "missing" for k in EXPECTED} == EXPECTED
    for fid, people in BEHIND.items():
        assert {m.id_number for m in found[fid].members} == people, fid
    received = found["overview.received_total"]
    assert received.imported == 3 and {m.imported for m in received.members if m.id_number in BEHIND[
        "overview.received_total"]} == {True, False}
    # a count lists what it counts: persons each once, obligations, notices, transfers and items each
    for f in found.values():
        if f.unit == "人":
            assert f.value == len(f.members) == len({m.person_key for m in f.members}), f.id
        elif f.unit in ("件", "条", "人次"):
            assert f.value == len(f.members), f.id
    charts = {c.id: dict(c.series) for c in report.sections[-1].charts}
    assert charts["charts.flows"] == {"接收（含转入）": FLOWS_IN, "解除、终止": FLOWS_OUT}
    assert charts["charts.in_register"] == {"在册": ON_BOOKS}
    assert report.imported_note and "3 人" in report.imported_note
    # the county the person moved to sees them from the day they arrived
    other = report_of(scenario, "530502").figures()
    # (D, and K who reported there before the transfer papers came), and counts only its own warning of D
    assert other["overview.transferred_in"].value == 2 and other["overview.in_register.CONTROL"].value == 1
    assert other["overview.in_register.PROBATION"].value == 1 and other["overview.warnings"].value == 1
    # whoever moved is named wherever they are counted
    assert all(m.name and m.id_number for f in other.values() for m in f.members if not m.imported)


def test_the_same_figures_in_json_xlsx_html_and_pdf(scenario: Hub) -> None:
    report = report_of(scenario)
    found = report.figures()
    # JSON
    doc = json.loads(build.render(report, "json"))
    assert {k: doc["figures"][k]["value"] for k in EXPECTED} == EXPECTED
    # XLSX: each figure a number (a missing value "—") in its table's row and column
    book = openpyxl.load_workbook(io.BytesIO(build.render(report, "xlsx")))
    for section in report.sections:
        sheet = book[next(n for n in book.sheetnames if n.startswith(heading(section)[:8]))]
        cells = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
        for table in section.tables:  # its title row reads （一）title, its header follows
            at = next(i for i, row in enumerate(cells) if row and isinstance(row[0], str)
                      and unescape_text(row[0]).endswith(f"）{table.title}"))
            for r_no, row in enumerate(table.rows):
                got = cells[at + 2 + r_no]
                for j, cell in enumerate(row):
                    if isinstance(cell, Figure) and cell.id in EXPECTED:
                        want = EXPECTED[cell.id]
                        assert got[j] == ("—" if want is None else want), (cell.id, got)
                        assert want is None or isinstance(got[j], (int, float)), cell.id
    # and the appendix lists every figure's persons, one row each, in order, days as days
    rows = list(book["附录：明细"].iter_rows(min_row=2, values_only=True))
    pairs = [(f, m) for f in found.values() for m in f.members]
    assert len(rows) == len(pairs) > 100
    assert all(r[0] == f.id and (r[5] or None) == masked(m.id_number) and r[11] == ("是" if m.imported else "否")
               for r, (f, m) in zip(rows, pairs, strict=True))
    assert all(r[9] is None or isinstance(r[9], dt.datetime) for r in rows) and rows[-1][9] is not None
    # HTML: each figure's cell carries its id and its value as printed
    page = lxml_html.fromstring(build.render(report, "html"))
    for fid in EXPECTED:
        shown = page.xpath(f'//td[@data-figure="{fid}"]//*[contains(@class, "v")]/text()')
        assert shown and shown[0].strip().removesuffix("%").removesuffix("日") == found[fid].as_text(), (fid, shown)
    # PDF: each row of the overview reads as its label followed by its number
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(build.render(report, "pdf"))).pages)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    for label, fid in (("累计接收社区矫正对象", "overview.received_total"), ("累计解除矫正", "overview.released_total"),
                       ("期满解除", "overview.released"), ("训诫", "overview.admonitions"),
                       ("提请公安机关协助查找、追逃", "overview.pursuits")):
        assert any(line.startswith(f"{label} {EXPECTED[fid]}") for line in lines), (label, [
            line for line in lines if label in line])
    assert "2026年1月1日" in text and "第 1 页" in text


def test_a_city_report_sums_its_counties_and_shows_each(scenario: Hub) -> None:
    city = report_of(scenario, "530500")
    assert [c for c, _ in city.counties] == ["530502", "530521", "530523", "530524", "530581"]
    assert city.sections[0].id == "counties"
    found = city.figures()
    by_county = {c: report_of(scenario, c).figures() for c, _ in city.counties}
    for fid in ("overview.new", "overview.in_register.total", "overview.released", "overview.admonitions"):
        assert found[fid].value == sum(f[fid].value for f in by_county.values()), fid  # type: ignore[misc]
    for code, _ in city.counties:
        assert found[f"counties.{code}.in_register"].value == by_county[code]["overview.in_register.total"].value
        assert found[f"counties.{code}.at_risk"].value == by_county[code]["at_risk.total"].value


def test_the_previous_period_is_as_many_whole_months_or_days_just_before() -> None:
    assert figures.Period(FROM, TO).before() == figures.Period(dt.date(2025, 7, 1), dt.date(2025, 12, 31))
    assert figures.Period(dt.date(2026, 3, 1), dt.date(2026, 3, 31)).before() == figures.Period(
        dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert figures.Period(dt.date(2026, 3, 10), dt.date(2026, 3, 19)).before() == figures.Period(
        dt.date(2026, 2, 28), dt.date(2026, 3, 9))


def test_the_figures_do_not_depend_on_the_order_of_the_rows(scenario: Hub) -> None:
    rows = load(scenario.engine, ["530581"], since=figures.Period(FROM, TO).before().start, upto=TO)
    first = _values(rows)
    rng = random.Random(7)
    for _ in range(3):
        shuffled = ReportData(rows.divisions, *(tuple(rng.sample(list(x), len(x))) for x in (
            rows.facts, rows.obligations, rows.failed, rows.discrepancies, rows.history)))
        assert _values(shuffled) == first


def _values(rows: ReportData) -> dict[str, object]:
    report = figures.joint_meeting(rows, division="530581", area_name="腾冲市", counties_covered=[("530581", "腾冲市")],
                                   period=figures.Period(FROM, TO), today=TODAY, generated_at=NOW,
                                   agency_name=lambda code: code)
    return {k: (f.value, sorted(m.person_key for m in f.members)) for k, f in report.figures().items()}


def test_a_period_that_makes_no_sense_is_refused_saying_which_part(scenario: Hub) -> None:
    for kw, field in ((dict(division="5305"), "division"), (dict(division="110101"), "division"),
                      (dict(period_from=TO, period_to=FROM), "to"),
                      (dict(period_from=dt.date(9999, 1, 1), period_to=dt.date(9999, 12, 31)), "from"),
                      (dict(period_from=dt.date(1, 1, 1)), "from")):
        args = dict(division="530581", period_from=FROM, period_to=TO) | kw
        with pytest.raises(build.ReportRequestError) as e:
            build.joint_meeting(scenario.engine, scenario.directory, today=TODAY, now=NOW, **args)  # type: ignore
        assert e.value.field == field



def test_a_ledger_written_before_the_facts_existed_is_rebuilt_with_them(scenario: Hub) -> None:
    from sqlalchemy import delete, func, select, update

    from hub import casework, rulebook
    from hub.store.ledger_schema import case_facts, ledger_cursor

    before = _values(load(scenario.engine, ["530581"], since=figures.Period(FROM, TO).before().start, upto=TO))
    with scenario.engine.begin() as conn:  # as a ledger of the hub before format 2 looks
        conn.execute(delete(case_facts))
        conn.execute(update(ledger_cursor).values(format=None))
    engine = scenario.engine
    casework.catch_up(engine, rules=rulebook.rules_in_force(engine), calendar=rulebook.calendar_in_force(engine),
                      directory=scenario.directory, wait=True)
    with engine.connect() as conn:
        assert conn.execute(select(ledger_cursor.c.format)).scalar_one() == casework.LEDGER_FORMAT
        assert conn.execute(select(func.count()).select_from(case_facts)).scalar_one() > 0
    assert _values(load(engine, ["530581"], since=figures.Period(FROM, TO).before().start, upto=TO)) == before


def test_the_report_s_reads_hold_up_no_writer(scenario: Hub) -> None:
    import threading
    import time

    from sqlalchemy import select

    from hub import audit
    from hub.store.db import READ_ONLY
    from hub.store.schema import audit_log

    engine = scenario.engine
    with engine.connect() as reader:
        reader.execution_options(**{READ_ONLY: True})
        reader.execute(select(audit_log.c.id)).all()  # the read's transaction is open from here
        done = threading.Event()

        def write() -> None:
            with engine.begin() as conn:
                audit.record(conn, at=NOW, actor="test", action="write", target="x")
            done.set()

        started = time.monotonic()
        threading.Thread(target=write, daemon=True).start()
        assert done.wait(10), "a writer waited for a read-only transaction"
        assert time.monotonic() - started < 10
