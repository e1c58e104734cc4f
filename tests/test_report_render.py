"""The joint-meeting report's HTML and PDF renderers, on the hand-built sample report."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pypdf
import pypdfium2
import pytest

from hub.report.model import Chart, Figure, Member, Report, Section, Table
from hub.report.render_html import beijing_time, chinese_numeral, html, report_css
from hub.report.render_pdf import offline_fetcher, pdf
from tests.report_sample import sample_report

SCREENSHOTS = Path(__file__).resolve().parents[1] / "var" / "screenshots"
SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert(1)</script>"


def link(figure: Figure) -> str:
    return f"/console/reports/530581/2017-01-01/figures/{figure.id}"


class Cells(HTMLParser):
    """The figure cells of a rendered report: id → (text, href or None), in order of appearance."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[tuple[str, str, str | None]] = []
        self._figure: str | None = None
        self._text: list[str] = []
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "td" and a.get("data-figure"):
            self._figure, self._text, self._href = a["data-figure"], [], None
        elif tag == "a" and self._figure is not None:
            self._href = a.get("href")

    def handle_data(self, data: str) -> None:
        if self._figure is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._figure is not None:
            self.cells.append((self._figure, "".join(self._text).strip(), self._href))
            self._figure = None


def figure_cells(document: str) -> list[tuple[str, str, str | None]]:
    parser = Cells()
    parser.feed(document)
    return parser.cells


def svg(document: str, chart_id: str) -> ET.Element:
    match = re.search(r'<svg [^>]*data-chart="' + re.escape(chart_id) + r'".*?</svg>', document, re.S)
    assert match, chart_id
    return ET.fromstring(match.group(0))


def hostile_report() -> Report:
    """The sample with markup in every kind of text a report carries."""
    r = sample_report()
    overview, timeliness, at_risk, charts = r.sections
    table = overview.tables[0]
    rows = ((HOSTILE, table.rows[0][1]), *table.rows[1:])
    overview = dataclasses.replace(overview, title=HOSTILE, note=HOSTILE, tables=(dataclasses.replace(
        table, title=HOSTILE, columns=(HOSTILE, "人数"), rows=rows, note=HOSTILE),))
    odd = at_risk.tables[0].rows[0][1]
    assert isinstance(odd, Figure)
    odd = dataclasses.replace(odd, label=HOSTILE, members=(*odd.members, Member("k", HOSTILE, None, HOSTILE,
                                                                                 agency=HOSTILE, note=HOSTILE)))
    at_risk = dataclasses.replace(at_risk, tables=(dataclasses.replace(at_risk.tables[0], rows=(
        ("530581SF", odd, HOSTILE),)),))
    flows = dataclasses.replace(charts.charts[0], title=HOSTILE, categories=(HOSTILE, "2017-02", "2017-03"),
                                series=((HOSTILE, (3, 0, 5)), ("解除", (1, 2, None))))
    charts = dataclasses.replace(charts, charts=(flows, charts.charts[1]))
    return dataclasses.replace(r, area_name=HOSTILE, imported_note=HOSTILE, notes=(HOSTILE,),
                               sections=(overview, timeliness, at_risk, charts))


def long_report() -> Report:
    """The sample with a table of 120 rows and a chart of many counties."""
    r = sample_report()
    rows = tuple((f"长表第{i:03d}行", "530581SF", Figure(f"long.{i}.received", "接收", i * 7),
                  Figure(f"long.{i}.rate", "按期率", (i % 10) * 10.5, unit="%")) for i in range(1, 121))
    long = Table("long.rows", "各单位接收明细", ("单位名称列", "机关", "接收人数列", "按期率列"), rows,
                 note="每行一个单位。")
    counties = ("保山市隆阳区社区矫正管理局永昌司法所第一工作站", "施甸县", "龙陵县", "昌宁县", "腾冲市",
                "保山市社区矫正管理局", "五华区", "盘龙区", "官渡区", "西山区", "东川区", "呈贡区", "晋宁区", "富民县",
                "宜良县", "石林彝族自治县")
    many = Chart("long.chart", "各县（市、区）接收、解除与在册", "bar", counties, (
        ("接收", tuple(10 + i * 37 for i in range(16))), ("解除", tuple(None if i % 5 == 0 else i * 11 for i in
                                                                        range(16))),
        ("在册", tuple(500 + i * 13 for i in range(16)))))
    rates = Chart("long.rates", "按期率月度变化", "line", tuple(f"2017-{m:02d}" for m in range(1, 13)), (
        ("报到", (80.0, 82.5, None, 90.0, 91.2, 88.0, 95.5, 96.0, None, 97.1, 99.0, 100.0)),
        ("送达回执", (60.0, 70.0, 75.0, 72.5, 80.0, 85.0, 84.0, 88.0, 90.0, 91.0, 92.0, 93.0))), unit="%")
    section = Section("counties", 4, "各县（市、区）情况", tables=(long,), charts=(many, rates))
    return dataclasses.replace(r, sections=(*r.sections[:3], section, r.sections[3]),
                               notes=("在册人数以统计期末为准。", "按期率以应履行件数为分母。"))


# ---------------------------------------------------------------- HTML


def test_html_is_a_chinese_document_with_official_headings() -> None:
    out = html(sample_report())
    assert out.startswith("<!doctype html>")
    assert '<html lang="zh-CN">' in out
    assert "<title>保山市腾冲市社区矫正工作联席会议对账报告</title>" in out
    assert "统计期间：2017年1月1日至2017年6月30日" in out
    assert "生成时间：2017年7月3日 09:02" in out
    assert "累计数含 2016-12-31 前历史名册导入 1 人（标注“导入”）。" in out
    for heading in ("一、总体情况", "二、衔接时效", "三、脱管漏管风险", "六、图表"):
        assert f"<h2>{heading}</h2>" in out
    assert "（一）累计与在册" in out and "（一）各机关按期情况" in out
    assert "注：累计数含历史名册导入 1 人。" in out
    assert "（一）月度接收与解除" in out and "（二）在册人数" in out


def test_html_has_no_script_no_inline_style_and_no_external_asset() -> None:
    for out in (html(sample_report(), figure_link=link), html(long_report())):
        assert "<script" not in out.lower()
        assert "<style" not in out and "style=" not in out
        assert not re.search(r'(src|href)="(https?:)?//', out)
        assert "<link" not in out
    linked = html(sample_report(), stylesheet="/console/static/report.css")
    assert '<link rel="stylesheet" href="/console/static/report.css">' in linked
    assert "<style" not in linked


def test_html_for_print_inlines_the_stylesheet() -> None:
    out = html(sample_report(), for_print=True, stylesheet="/ignored.css")
    assert "<style>" in out and "@page" in out and "counter(pages)" in out
    assert "<link" not in out
    assert report_css() in out
    assert "style=" not in out


def test_html_escapes_hostile_text() -> None:
    out = html(sample_report())
    assert "=HYPERLINK(&#34;http://x&#34;)" in out
    assert '=HYPERLINK("http://x")' not in out
    assert "+1 -1 @SUM(A1)" in out and "=1+1" in out and "@机关" in out

    out = html(hostile_report(), figure_link=link, for_print=True)
    assert "<script" not in out
    assert out.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 12
    ET.fromstring(re.search(r"<svg .*?</svg>", out, re.S).group(0))  # type: ignore[union-attr]


def test_every_figure_value_appears_in_its_cell() -> None:
    report = sample_report()
    cells = figure_cells(html(report))
    shown = {figure_id for figure_id, _, _ in cells}
    assert shown == set(report.figures())
    for figure_id, text, _ in cells:
        figure = report.figures()[figure_id]
        assert text.startswith(figure.as_text()), (figure_id, text)
    by_id = {figure_id: text for figure_id, text, _ in cells}
    assert by_id["timeliness.report.530581SF.rate"] == "66.7%"
    assert by_id["timeliness.report.530581SF.worst"] == "3日"
    assert by_id["timeliness.receipt.530581SF.rate"] == "—"
    assert by_id["overview.released_total"] == "0"


def test_links_only_for_figures_with_members_when_asked() -> None:
    report = sample_report()
    cells = figure_cells(html(report, figure_link=link))
    with_members = {f.id for f in report.figures().values() if f.members}
    assert {figure_id for figure_id, _, href in cells if href} == with_members
    for figure_id, _, href in cells:
        if href:
            assert href == link(report.figures()[figure_id])

    assert all(href is None for _, _, href in figure_cells(html(report)))
    assert "<a " not in html(report)
    assert "<a " not in html(report, figure_link=lambda f: None)
    assert "<a " not in html(report, figure_link=lambda f: "javascript:alert(1)")


def test_imported_figures_are_marked() -> None:
    out = html(sample_report())
    by_id = {figure_id: text for figure_id, text, _ in figure_cells(out)}
    assert by_id["overview.received_total"] == "2含导入 1"
    assert out.count("含导入") == 1
    assert "李四" not in out  # the imported person counts in the overview, which lists nobody


def test_persons_behind_problem_figures_are_listed_with_masked_id_numbers() -> None:
    r = sample_report()
    wang = r.sections[0].tables[0].rows[0][1]
    assert isinstance(wang, Figure)
    at_risk = dataclasses.replace(r.sections[2], tables=(Table("at_risk.x", "逾期未报到", ("机关", "人数"), (
        ("530581SF", dataclasses.replace(wang, id="at_risk.530581SF.total", label="逾期未报到")),)),))
    out = html(dataclasses.replace(r, sections=(*r.sections[:2], at_risk)))
    assert "附：相关人员名单" in out
    assert "逾期未报到 · 530581SF（2 人）" in out
    assert "王小明" in out and "李四" in out
    assert "530581********0337" in out and "530581198803140337" not in out
    assert "（2026）云0502刑初123号" in out and "迟延 3 日" in out and "2017年3月2日" in out
    assert ">导入</span>" in out


def test_section_numbers_and_beijing_time() -> None:
    assert [chinese_numeral(n) for n in (1, 2, 6, 10, 11, 20, 23, 99, 100, 105, 110)] == [
        "一", "二", "六", "十", "十一", "二十", "二十三", "九十九", "一百", "一百零五", "一百一十"]
    assert beijing_time(dt.datetime(2017, 6, 30, 16, 30, tzinfo=dt.UTC)) == "2017年7月1日 00:30"
    assert beijing_time(dt.datetime(2017, 6, 30, 16, 30)) == "2017年7月1日 00:30"


def test_bar_chart_has_one_bar_per_value_and_a_legend() -> None:
    out = html(sample_report())
    chart = svg(out, "charts.flows")
    bars = [e for e in chart.iter(f"{SVG}rect") if "bar" in (e.get("class") or "").split()]
    assert len(bars) == 5  # 接收 3, 0, 5; 解除 1, 2 and a gap
    assert sorted(float(b.get("height") or 0) for b in bars)[0] == 0.0
    texts = [e.text for e in chart.iter(f"{SVG}text")]
    for text in ("2017-01", "2017-02", "2017-03", "接收", "解除", "3", "5", "1", "2", "0", "人"):
        assert text in texts
    tips = [e.text for b in bars for e in b.iter(f"{SVG}title")]
    assert "2017-03 接收 5人" in tips and not any("2017-03 解除" in (t or "") for t in tips)
    assert chart.get("viewBox", "").startswith("0 0 640")


def test_line_chart_is_a_polyline_broken_at_gaps() -> None:
    chart = svg(html(sample_report()), "charts.in_register")
    lines = list(chart.iter(f"{SVG}polyline"))
    assert len(lines) == 1 and len((lines[0].get("points") or "").split()) == 3
    assert len(list(chart.iter(f"{SVG}circle"))) == 3
    assert {"40", "41", "45", "在册"} <= {e.text for e in chart.iter(f"{SVG}text")}

    rates = svg(html(long_report()), "long.rates")
    lines = list(rates.iter(f"{SVG}polyline"))
    assert [len((p.get("points") or "").split()) for p in lines] == [2, 5, 3, 12]
    assert len(list(rates.iter(f"{SVG}circle"))) == 10 + 12
    many = svg(html(long_report()), "long.chart")
    assert len([e for e in many.iter(f"{SVG}rect") if "bar" in (e.get("class") or "")]) == 16 * 3 - 4


# ---------------------------------------------------------------- PDF


@pytest.fixture(scope="module")
def sample_pdf() -> bytes:
    return pdf(sample_report())


@pytest.fixture(scope="module")
def long_pdf() -> bytes:
    return pdf(long_report())


def page_texts(data: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def save_page(data: bytes, index: int, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    document = pypdfium2.PdfDocument(data)
    try:
        image = document[index].render(scale=2).to_pil()
    finally:
        document.close()
    path = SCREENSHOTS / name
    image.save(path)
    return path


def test_pdf_is_a4_with_chinese_text_and_page_footer(sample_pdf: bytes) -> None:
    reader = pypdf.PdfReader(io.BytesIO(sample_pdf))
    box = reader.pages[0].mediabox
    assert (round(float(box.width) / 72 * 25.4), round(float(box.height) / 72 * 25.4)) == (210, 297)
    texts = page_texts(sample_pdf)
    everything = "\n".join(texts)
    assert "保山市腾冲市社区矫正工作联席会议对账报告" in everything
    for i, text in enumerate(texts, 1):
        assert f"第 {i} 页 共 {len(texts)} 页" in text
        assert "统计期间：2017年1月1日至2017年6月30日" in text
        assert "生成时间：2017年7月3日 09:02" in text
    for label in ("一、总体情况", "累计接收", "累计解除", "按期率", "最长迟延", "66.7%", "3日", "含导入 1",
                  "逾期未履行", "=1+1", "月度接收与解除", "在册人数", "接收", "解除", "2017-01",
                  '=HYPERLINK("http://x")'):
        assert label in everything, label
    assert "\ufffd" not in everything and "□" not in everything


def test_pdf_page_one_screenshot(sample_pdf: bytes) -> None:
    path = save_page(sample_pdf, 0, "report-page-1.png")
    from PIL import Image

    with Image.open(path) as image:
        assert image.size[0] < image.size[1]
        lo, hi = image.convert("L").getextrema()
        assert lo < 60 and hi > 240
        # the title and the tables are drawn: the top fifth (the title) and the page as a whole carry ink
        grey = image.convert("L")
        width, height = grey.size
        top = grey.crop((0, 0, width, height // 5))
        assert sum(1 for v in top.tobytes() if v < 128) > 0.002 * top.size[0] * top.size[1]
        assert sum(1 for v in grey.tobytes() if v < 128) > 0.005 * width * height


def test_pdf_fetches_nothing() -> None:
    fetcher = offline_fetcher()
    for url in ("http://127.0.0.1:9/x.png", "https://example.com/a.css", "file:///etc/passwd", "ftp://x/y"):
        with pytest.raises(ValueError):
            fetcher.fetch(url)
    assert fetcher.fetch("data:text/plain,ok").read() == b"ok"


def test_long_table_spans_pages_with_footer_and_repeated_header(long_pdf: bytes) -> None:
    texts = page_texts(long_pdf)
    assert len(texts) >= 4
    for i, text in enumerate(texts, 1):
        assert f"第 {i} 页 共 {len(texts)} 页" in text
        assert "统计期间：2017年1月1日至2017年6月30日" in text
    with_rows = [i for i, text in enumerate(texts) if "长表第" in text]
    assert len(with_rows) >= 2
    for i in with_rows:
        assert "单位名称列" in texts[i] and "接收人数列" in texts[i], i
    everything = "\n".join(texts)
    for n in range(1, 121):
        assert everything.count(f"长表第{n:03d}行") == 1
    save_page(long_pdf, with_rows[1], "report-long-page-2.png")
    charts = next(i for i, text in enumerate(texts) if "各县（市、区）接收、解除与在册" in text)
    assert "石林彝族自治县" in texts[charts] and "按期率月度变化" in "\n".join(texts[charts:])
    save_page(long_pdf, charts, "report-long-charts.png")
