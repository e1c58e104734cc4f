"""The joint-meeting report through the API, the console and the command line, on the hand-counted half year
(tests/report_scenario.py): every format downloads; a figure's drill-down lists exactly its persons; the agencies
of the area (and of the city above it) may read it, others may not; every report made and figure opened is
audited; a request that does not fit is refused naming the parameter."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, unquote

import openpyxl
import pytest
from sqlalchemy import select

from hub.cli import main
from hub.store.schema import audit_log
from tests.conftest import Stack
from tests.console_harness import console_hub, sign_in
from tests.harness import auth
from tests.hubserver import InProcessHub
from tests.report_scenario import BEHIND, EXPECTED, FROM, TO, TODAY
from tests.report_scenario import build as build_scenario
from tests.test_report_xlsx import masked

ACCOUNTS = [("office", "operator", "530500ZX"), ("tc", "operator", "530581SF"), ("ly", "operator", "530502SF")]
PERIOD = {"from": FROM.isoformat(), "to": TO.isoformat(), "today": TODAY.isoformat()}


@pytest.fixture
def hub(stack: Stack, registry: Path) -> Iterator[InProcessHub]:
    with console_hub(stack, registry, ACCOUNTS, workers=False) as h:
        engine, _ = build_scenario(stack.database_url, registry)
        engine.dispose()
        yield h


def audited(h: InProcessHub, action: str) -> list[tuple[str, str]]:
    from hub.store.db import make_engine
    engine = make_engine(h.settings.database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            return [(r.actor, r.target) for r in conn.execute(
                select(audit_log.c.actor, audit_log.c.target).where(audit_log.c.action == action))]
    finally:
        engine.dispose()


def test_the_api_gives_every_format_and_each_figure_s_persons(hub: InProcessHub) -> None:
    url = "/api/v1/reports/joint-meeting"
    with hub.client() as c:
        r = c.get(url, params={"division": "530581", **PERIOD}, headers=auth("530500ZX"))
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
        figures = r.json()["figures"]
        assert {k: figures[k]["value"] for k in EXPECTED} == EXPECTED
        r = c.get(url, params={"division": "530581", "format": "pdf", **PERIOD}, headers=auth("530500ZX"))
        assert r.status_code == 200 and r.content.startswith(b"%PDF") and r.headers["content-type"] == \
            "application/pdf"
        assert "联席会议对账报告-530581-20260101-20260630.pdf" in unquote(r.headers["content-disposition"])
        r = c.get(url, params={"division": "530581", "format": "xlsx", **PERIOD}, headers=auth("530500ZX"))
        book = openpyxl.load_workbook(io.BytesIO(r.content))
        assert book.sheetnames[0] == "封面" and book.sheetnames[-1] == "附录：明细"
        r = c.get(url, params={"division": "530581", "format": "html", **PERIOD}, headers=auth("530500ZX"))
        assert r.status_code == 200 and "社区矫正工作联席会议对账报告" in r.text and "530581" in r.text
        # the persons behind a figure
        for fid, people in BEHIND.items():
            r = c.get(f"{url}/figures/{fid}", params={"division": "530581", **PERIOD}, headers=auth("530581SF"))
            assert r.status_code == 200, r.text
            assert r.json()["value"] == EXPECTED[fid]
            assert {m["id_number"] for m in r.json()["members"]} == {masked(p) for p in people}
        assert c.get(f"{url}/figures/no.such", params={"division": "530581", **PERIOD},
                     headers=auth("530500ZX")).status_code == 404
    assert ("530581SF", "report:530581") in audited(hub, "report_figure")
    assert len(audited(hub, "report_joint_meeting")) == 4


def test_the_agencies_of_the_area_may_read_it_and_no_one_else(hub: InProcessHub) -> None:
    url = "/api/v1/reports/joint-meeting"
    with hub.client() as c:
        for agency, division, status in (("530581SF", "530581", 200), ("530581FY", "530581", 200),
                                         ("530581JC", "530581", 200), ("530500JC", "530581", 200),
                                         ("530500JC", "530500", 200), ("530502SF", "530581", 403),
                                         ("530581SF", "530500", 403), ("530502FY", "530581", 403)):
            r = c.get(url, params={"division": division, **PERIOD}, headers=auth(agency))
            assert r.status_code == status, (agency, division, r.text)
        assert c.get(url, params={"division": "530581", **PERIOD}).status_code == 401
        # a division that does not fit is named before the reader's right to it
        r = c.get(url, params={"division": "abc", **PERIOD}, headers=auth("530581SF"))
        assert r.status_code == 422 and r.json()["error"]["details"][0]["path"] == "division"
        # a request that does not fit names what is wrong
        for params, field in (({"division": "5305", **PERIOD}, "division"),
                              ({"division": "530581", "from": "2026-13-01", "to": "2026-06-30"}, "from"),
                              ({"division": "530581", "from": "2026-06-30", "to": "2026-01-01"}, "to"),
                              ({"division": "530581", "to": "2026-06-30"}, "from"),
                              ({"division": "530581", "format": "docx", **PERIOD}, "format"),
                              ({"division": "530581", "from": "9999-01-01", "to": "9999-12-31"}, "from"),
                              ({"division": "530581", "from": "0001-01-01", "to": "2026-06-30"}, "from")):
            r = c.get(url, params=params, headers=auth("530500ZX"))
            assert r.status_code == 422, (params, r.text)
            assert r.json()["error"]["details"][0]["path"] == field, r.json()


def test_the_console_shows_the_report_with_each_figure_opening_its_persons(hub: InProcessHub) -> None:
    with hub.client() as c:
        sign_in(c, "office")
        form = c.get("/console/reports")
        assert form.status_code == 200 and 'value="530500"' in form.text and 'value="530581"' in form.text
        page = c.get("/console/reports/view", params={"division": "530581", **PERIOD})
        assert page.status_code == 200 and "default-src 'none'" in page.headers["content-security-policy"]
        assert '/console/reports/report.css' in page.text and "<script" not in page.text
        links = dict(re.findall(r'data-figure="([^"]+)">\s*<a class="v" href="([^"]+)"', page.text))
        assert "overview.received_total" in links and "overview.transferred_in" not in links  # nothing behind 0
        shown = c.get(links["at_risk.total"].replace("&amp;", "&"))
        assert shown.status_code == 200
        # the ID numbers masked as the printed report shows them, none whole as text of the page
        assert set(re.findall(r"<td>(\d{6}\*{8}\d{3}[\dX])</td>", shown.text)) == {
            masked(p) for p in BEHIND["at_risk.total"]}
        assert not re.findall(r">[^<]*\d{17}[\dX][^<]*<", shown.text)
        # and each person's link names them by their case number, so that no address carries an ID number; it
        # opens that person's page
        hrefs = [unquote(h) for h in re.findall(r'href="/console/persons/([^"]+)"', shown.text)]
        assert len(hrefs) == len(BEHIND["at_risk.total"]) and not [h for h in hrefs if re.search(r"\d{17}", h)], hrefs
        person = c.get("/console/persons/" + quote(hrefs[0], safe=""))
        assert person.status_code == 200 and re.search(r"\d{17}[\dX]", person.text)  # whole on the person's page
        assert c.get("/console/reports/report.css").headers["content-type"].startswith("text/css")
        r = c.get("/console/reports/download", params={"division": "530581", "format": "pdf", **PERIOD})
        assert r.status_code == 200 and r.content.startswith(b"%PDF")
        bad = c.get("/console/reports/view", params={"division": "530581", "from": "2026-06-30", "to": "2026-01-01"})
        assert bad.status_code == 422 and 'id="report-problem"' in bad.text
    with hub.client() as c:
        sign_in(c, "ly")  # 隆阳's bureau: its own county only
        form = c.get("/console/reports")
        assert 'value="530502"' in form.text and 'value="530581"' not in form.text
        assert c.get("/console/reports/view", params={"division": "530581", **PERIOD}).status_code == 403
        assert c.get("/api/v1/reports/joint-meeting", params={"division": "530581", **PERIOD}).status_code == 403
        assert c.get("/api/v1/reports/joint-meeting", params={"division": "530502", **PERIOD}).status_code == 200
    assert ("console:office", "report:530581") in audited(hub, "report_figure")


def test_the_command_line_writes_the_report_and_shows_a_figure_s_persons(
        hub: InProcessHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--database-url", hub.settings.database_url, "--registry", str(hub.settings.registry_path)]
    command = [*db, "report", "joint-meeting", "--division", "530581", "--from", FROM.isoformat(), "--to",
               TO.isoformat(), "--today", TODAY.isoformat()]
    out = tmp_path / "report.xlsx"
    assert main([*command, "--format", "xlsx", "--out", str(out)]) == 0
    assert "report.xlsx" in capsys.readouterr().out
    book = openpyxl.load_workbook(out)
    assert "附录：明细" in book.sheetnames
    assert main([*command, "--figure", "overview.new"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["value"] == 2 and {m["id_number"] for m in shown["members"]} == {
        masked(p) for p in BEHIND["overview.new"]}
    assert main([*db, "report", "joint-meeting", "--division", "530581", "--from", "2026-06-30", "--to",
                 "2026-01-01"]) == 2
    assert "--to" in capsys.readouterr().err
