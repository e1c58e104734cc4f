"""A joint-meeting report built by hand, for the renderers' tests: every kind of cell, a chart of each kind, a
figure with members (one imported), a rate with no value, and text that a spreadsheet would take for a formula."""

from __future__ import annotations

import datetime as dt

from hub.report.model import Chart, Figure, Member, Report, Section, Table

WANG = Member("530581198803140337", "王小明", "530581198803140337", "530502FY|（2026）云0502刑初123号",
              agency="530581SF", message_ids=("m-1", "m-2"), on=dt.date(2017, 3, 2), note="迟延 3 日")
LI = Member("530581199001011234", "李四", "530581199001011234", None, on=dt.date(2016, 5, 1), imported=True)
FORMULA = Member("ref|530581SF|X-1", "=HYPERLINK(\"http://x\")", None, None, note="+1 -1 @SUM(A1)")


def sample_report() -> Report:
    received = Figure("overview.received_total", "累计接收", 2, members=(WANG, LI), imported=1)
    released = Figure("overview.released_total", "累计解除", 0)
    probation = Figure("overview.in_register.PROBATION", "在册 · 缓刑", 1, members=(WANG,))
    rate = Figure("timeliness.report.530581SF.rate", "按期率", 66.7, unit="%", members=(WANG,))
    empty_rate = Figure("timeliness.receipt.530581SF.rate", "按期率", None, unit="%")
    worst = Figure("timeliness.report.530581SF.worst", "最长迟延", 3, unit="日", members=(WANG,))
    odd = Figure("at_risk.530581SF.total", "逾期未履行", 1, members=(FORMULA,))
    overview = Section("overview", 1, "总体情况", tables=(
        Table("overview.totals", "累计与在册", ("项目", "人数"), (
            ("累计接收", received), ("累计解除", released), ("在册 · 缓刑", probation)),
            note="累计数含历史名册导入 1 人。"),
    ))
    timeliness = Section("timeliness", 2, "衔接时效", tables=(
        Table("timeliness.by_agency", "各机关按期情况", ("事项", "机关", "按期率", "最长迟延"), (
            ("报到", "530581SF", rate, worst), ("送达回执", "530581SF", empty_rate, Figure(
                "timeliness.receipt.530581SF.worst", "最长迟延", None, unit="日"))),),
    ))
    at_risk = Section("at_risk", 3, "脱管漏管风险", tables=(
        Table("at_risk.by_agency", "逾期未履行", ("机关", "人数", "说明"), (("530581SF", odd, "-5 天"),
                                                                      ("@机关", odd, "=1+1"))),))
    charts = Section("charts", 6, "图表", charts=(
        Chart("charts.flows", "月度接收与解除", "bar", ("2017-01", "2017-02", "2017-03"),
              (("接收", (3, 0, 5)), ("解除", (1, 2, None)))),
        Chart("charts.in_register", "在册人数", "line", ("2017-01", "2017-02", "2017-03"),
              (("在册", (40, 41, 45)),)),
    ))
    return Report(division="530581", area_name="保山市腾冲市", counties=(("530581", "腾冲市"),),
                  period_from=dt.date(2017, 1, 1), period_to=dt.date(2017, 6, 30),
                  previous_from=dt.date(2016, 7, 1), previous_to=dt.date(2016, 12, 31), today=dt.date(2017, 7, 3),
                  generated_at=dt.datetime(2017, 7, 3, 1, 2, 3, tzinfo=dt.UTC),
                  sections=(overview, timeliness, at_risk, charts),
                  imported_note="累计数含 2016-12-31 前历史名册导入 1 人（标注“导入”）。")
