"""A county's half year, small enough to count by hand: the notices of eight persons of 腾冲市 (530581) stored as the
hub stores them on the days given, the ledger projected, two failed transfers, three discrepancy items and a
historical register of 2016. ``EXPECTED`` is what the joint-meeting report for 2026-01-01 – 2026-06-30, as of
2026-07-10, must say; each number was counted from the story below, not from the hub.

- A (缓刑), in effect 2025-11-01: papers 11-03, receipt 11-05, reported 11-08 (all on time, previous period);
  a warning 2026-03-10; a request to the police to help search for him 2026-05-01, never answered.
- B (缓刑), in effect 2026-02-01: papers 02-20 (notice 14 days late, documents 9 days late), receipt 02-22 (on
  time), reported 02-25 (14 days late); admonition 04-01, leave 04-15; released 2026-06-20.
- C (假释), in effect 2026-03-01: papers 03-02, receipt 03-03 (on time); never reported (at risk: 漏管).
- D (管制), in effect 2026-01-10: papers 01-11, receipt 01-12, reported 01-15 (on time); a change of residence
  within the county 02-01; moved to 隆阳区 (the change decided and its papers sent 2026-05-01, on time; reported
  there 05-06). 腾冲市 warned him 05-03, while he was still its own; 隆阳区 warned him 06-01.
- E (缓刑), in effect 2025-12-01: papers 12-02 (on time), receipt 12-12 (4 days late: due 12-07, a Sunday, so
  12-08), reported 12-05; revocation proposed 2026-03-20 and granted 04-10 (in custody); the bureau's notice of
  termination 04-12.
- H: an assessment commissioned by the court 2026-01-05, the opinion given 01-12 (due 01-19: on time).
- K (缓刑), in effect 2024-09-01 and reported then; moved to 隆阳区: he reported there 2026-03-05, before 腾冲市's
  transfer papers (the change decided 03-07, papers sent 03-08: on time) reached the hub. He is 隆阳区's from 03-05.
- J: under supervision since 2015-06-01, before the hub (imported, on the books on 2016-12-31, supervision to end
  2027-06-01): the hub never had his decision, but had his warning 2026-02-10 and his release 2026-03-15.
- F, G: imported from the bureau's register as of 2016-12-31: F on probation 2015-03-01, released 2016-03-01; G
  on parole from 2016-01-01, still on the books, supervision to end 2017-12-31.
- A failed transfer of A's papers in November 2025 belongs to the period before, not to this one.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert

from hub import casework, rulebook
from hub.canonical import load_schema
from hub.registry import load_registry
from hub.report.history import import_history
from hub.service import Hub
from hub.store.db import make_engine
from hub.store.ingest import store_message
from hub.store.ledger import open_failed_transfer, resolve_failed_transfers
from hub.store.register_schema import discrepancies
from hub.store.schema import deliveries
from tests.core.case_messages import CST, Case, at, id_number, message_id

FROM, TO, TODAY = dt.date(2026, 1, 1), dt.date(2026, 6, 30), dt.date(2026, 7, 10)
COURT, BUREAU, POLICE = "530502FY", "530581SF", "530581GA"


def person(n: int, correction: str, effective: dt.date, name: str) -> Case:
    birth = dt.date(1980, 1, 1) + dt.timedelta(days=131 * n)
    return Case(f"（2025）云0502刑初{900 + n}号", COURT, correction, "530581", name,
                id_number("530581", birth, 21 + 2 * n), True, birth, effective - dt.timedelta(days=10), effective,
                effective + dt.timedelta(days=730))


A = person(1, "PROBATION", dt.date(2025, 11, 1), "甲明")
B = person(2, "PROBATION", dt.date(2026, 2, 1), "乙华")
C = person(3, "PAROLE", dt.date(2026, 3, 1), "丙刚")
D = person(4, "CONTROL", dt.date(2026, 1, 10), "丁强")
E = person(5, "PROBATION", dt.date(2025, 12, 1), "戊军")
H = person(6, "PROBATION", dt.date(2026, 3, 1), "己磊")
K = person(7, "PROBATION", dt.date(2024, 9, 1), "壬杰")
J = person(8, "PROBATION", dt.date(2015, 6, 1), "癸琳")
F_ID = id_number("530581", dt.date(1975, 5, 5), 31)
G_ID = id_number("530581", dt.date(1977, 7, 7), 33)


def mid(c: Case, what: str) -> str:
    return message_id("report-scenario", c.number, what)


def d(y: int, m: int, day: int) -> dt.date:
    return dt.date(y, m, day)


def story() -> list[tuple[dt.date, str, bytes]]:
    """(day the hub receives it, sender, canonical XML) in the order received."""
    out: list[tuple[dt.date, str, bytes]] = []

    def add(day: dt.date, sender: str, xml: bytes) -> None:
        out.append((day, sender, xml))

    add(d(2024, 9, 2), COURT, K.decision(mid(K, "decision"), at(d(2024, 9, 2))))
    add(d(2024, 9, 3), BUREAU, K.receipt(mid(K, "receipt"), at(d(2024, 9, 3)), of=mid(K, "decision")))
    add(d(2024, 9, 5), BUREAU, K.reporting(mid(K, "report"), at(d(2024, 9, 5)), reported=d(2024, 9, 5)))
    add(d(2025, 11, 3), COURT, A.decision(mid(A, "decision"), at(d(2025, 11, 3))))
    add(d(2025, 11, 5), BUREAU, A.receipt(mid(A, "receipt"), at(d(2025, 11, 5)), of=mid(A, "decision")))
    add(d(2025, 11, 8), BUREAU, A.reporting(mid(A, "report"), at(d(2025, 11, 8)), reported=d(2025, 11, 8)))
    add(d(2025, 12, 2), COURT, E.decision(mid(E, "decision"), at(d(2025, 12, 2))))
    add(d(2025, 12, 5), BUREAU, E.reporting(mid(E, "report"), at(d(2025, 12, 5)), reported=d(2025, 12, 5)))
    add(d(2025, 12, 12), BUREAU, E.receipt(mid(E, "receipt"), at(d(2025, 12, 12)), of=mid(E, "decision")))
    add(d(2026, 1, 5), COURT, H.commission(mid(H, "commission"), at(d(2026, 1, 5))))
    add(d(2026, 1, 11), COURT, D.decision(mid(D, "decision"), at(d(2026, 1, 11))))
    add(d(2026, 1, 12), BUREAU, D.receipt(mid(D, "receipt"), at(d(2026, 1, 12)), of=mid(D, "decision")))
    add(d(2026, 1, 12), BUREAU, H.opinion(mid(H, "opinion"), at(d(2026, 1, 12)), commission=mid(H, "commission")))
    add(d(2026, 1, 15), BUREAU, D.reporting(mid(D, "report"), at(d(2026, 1, 15)), reported=d(2026, 1, 15)))
    add(d(2026, 2, 1), BUREAU, D.event(mid(D, "residence"), at(d(2026, 2, 1)), kind="RESIDENCE_CHANGE"))
    add(d(2026, 2, 10), BUREAU, J.event(mid(J, "warning"), at(d(2026, 2, 10)), kind="WARNING"))
    add(d(2026, 2, 20), COURT, B.decision(mid(B, "decision"), at(d(2026, 2, 20))))
    add(d(2026, 2, 22), BUREAU, B.receipt(mid(B, "receipt"), at(d(2026, 2, 22)), of=mid(B, "decision")))
    add(d(2026, 2, 25), BUREAU, B.reporting(mid(B, "report"), at(d(2026, 2, 25)), reported=d(2026, 2, 25)))
    add(d(2026, 3, 5), "530502SF", K.reporting(mid(K, "report-new"), at(d(2026, 3, 5)), reported=d(2026, 3, 5),
                                               due=d(2026, 3, 14), sender="530502SF"))
    add(d(2026, 3, 8), BUREAU, K.county_transfer(mid(K, "transfer"), at(d(2026, 3, 8)), to_division="530502",
                                                 decided=d(2026, 3, 7), served=d(2026, 3, 7)))
    add(d(2026, 3, 15), BUREAU, J.release(mid(J, "release"), at(d(2026, 3, 15)), on=d(2026, 3, 15)))
    add(d(2026, 3, 2), COURT, C.decision(mid(C, "decision"), at(d(2026, 3, 2))))
    add(d(2026, 3, 3), BUREAU, C.receipt(mid(C, "receipt"), at(d(2026, 3, 3)), of=mid(C, "decision")))
    add(d(2026, 3, 10), BUREAU, A.event(mid(A, "warning"), at(d(2026, 3, 10)), kind="WARNING"))
    add(d(2026, 3, 20), BUREAU, E.proposal(mid(E, "proposal"), at(d(2026, 3, 20))))
    add(d(2026, 4, 1), BUREAU, B.event(mid(B, "admonition"), at(d(2026, 4, 1)), kind="ADMONITION"))
    add(d(2026, 4, 10), COURT, E.revocation(mid(E, "revocation"), at(d(2026, 4, 10)), proposal=mid(E, "proposal"),
                                            in_custody=True))
    add(d(2026, 4, 12), BUREAU, E.release(mid(E, "termination"), at(d(2026, 4, 12)), kind="TERMINATED_REVOKED",
                                          on=d(2026, 4, 10)))
    add(d(2026, 4, 15), BUREAU, B.event(mid(B, "leave"), at(d(2026, 4, 15)), kind="LEAVE_APPROVED"))
    add(d(2026, 5, 1), BUREAU, A.pursuit_request(mid(A, "pursuit"), at(d(2026, 5, 1)), kind="ASSIST_SEARCH",
                                                 causation=None))
    add(d(2026, 5, 1), BUREAU, D.county_transfer(mid(D, "transfer"), at(d(2026, 5, 1)), to_division="530502",
                                                 decided=d(2026, 5, 1), served=d(2026, 5, 1)))
    add(d(2026, 5, 3), BUREAU, D.event(mid(D, "warning-old"), at(d(2026, 5, 3)), kind="WARNING"))
    add(d(2026, 5, 6), "530502SF", D.reporting(mid(D, "report-new"), at(d(2026, 5, 6)), reported=d(2026, 5, 6),
                                               due=d(2026, 5, 8), sender="530502SF"))
    add(d(2026, 6, 1), "530502SF", D.event(mid(D, "warning-new"), at(d(2026, 6, 1)), kind="WARNING",
                                           sender="530502SF"))
    add(d(2026, 6, 20), BUREAU, B.release(mid(B, "release"), at(d(2026, 6, 20)), on=d(2026, 6, 20)))
    return sorted(out, key=lambda x: x[0])


def history_csv() -> bytes:
    rows = [["序号", "姓名", "性别", "身份证号码", "矫正类别", "矫正起始日期", "矫正终止日期", "执行地", "状态",
             "状态日期"],
            ["1", "庚丽", "女", F_ID, "缓刑", "2015-03-01", "2016-03-01", "530581", "解除", "2016-03-01"],
            ["2", "辛伟", "男", G_ID, "假释", "2016-01-01", "2017-12-31", "530581", "在册", ""],
            ["3", J.name, "男", J.id_number, "缓刑", "2015-06-01", "2027-06-01", "530581", "在册", ""]]
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")


def build(database_url: str, registry: Path) -> tuple[Engine, Hub]:
    """The scenario stored in the (migrated, empty) database at ``database_url``; the engine and a Hub on it."""
    engine = make_engine(database_url, pool_size=2)
    directory = load_registry(registry)
    hub = Hub(engine=engine, directory=directory, schema=load_schema())
    for day, sender, xml in story():
        item = hub.prepare(xml, agency=directory.agencies[sender])
        with engine.begin() as conn:
            store_message(conn, item, directory=directory, now=at(day, 11).astimezone(dt.UTC))
    casework.catch_up(engine, rules=rulebook.rules_in_force(engine), calendar=rulebook.calendar_in_force(engine),
                      directory=directory, wait=True)
    with engine.begin() as conn:
        raised = dt.datetime(2026, 2, 20, 10, tzinfo=CST)
        delivery = _delivery(conn, mid(B, "decision"), BUREAU)
        open_failed_transfer(conn, message_id=mid(B, "decision"), delivery_id=delivery, recipient=BUREAU,
                             cause="retries_exhausted", detail="HTTP 503", now=raised)
        resolve_failed_transfers(conn, delivery_id=delivery, resolution="delivered after retry",
                                 now=raised + dt.timedelta(hours=6))
        earlier = dt.datetime(2025, 11, 3, 12, tzinfo=CST)  # the period before: not this period's
        delivery = _delivery(conn, mid(A, "decision"), BUREAU)
        open_failed_transfer(conn, message_id=mid(A, "decision"), delivery_id=delivery, recipient=BUREAU,
                             cause="rejected", detail="HTTP 400", now=earlier)
        resolve_failed_transfers(conn, delivery_id=delivery, resolution="delivered after retry",
                                 now=earlier + dt.timedelta(hours=1))
        open_failed_transfer(conn, message_id=mid(C, "decision"), delivery_id=_delivery(conn, mid(C, "decision"),
                                                                                        POLICE),
                             recipient=POLICE, cause="rejected", detail="HTTP 400",
                             now=dt.datetime(2026, 3, 2, 15, tzinfo=CST))
        conn.execute(insert(discrepancies), [
            _item("d-open", "decided_not_in_register", C, "530581", dt.datetime(2026, 2, 1, 9, tzinfo=CST), None),
            _item("d-done", "in_register_without_basis", A, "530581", dt.datetime(2025, 12, 15, 9, tzinfo=CST),
                  dt.datetime(2026, 3, 1, 9, tzinfo=CST)),
            _item("d-away", "decided_not_in_register", B, "530502", dt.datetime(2026, 2, 1, 9, tzinfo=CST), None)])
    report = import_history(engine, directory, history_csv(), agency=BUREAU, filename="名册2016.csv",
                            as_of=dt.date(2016, 12, 31), by="test", now=dt.datetime(2026, 7, 1, tzinfo=dt.UTC))
    assert report.get("rows_accepted") == 3, report
    return engine, hub


def _delivery(conn: Any, message: str, recipient: str) -> str:
    found = conn.execute(deliveries.select().where(deliveries.c.message_id == message,
                                                   deliveries.c.recipient == recipient)).mappings().first()
    assert found is not None, (message, recipient)
    return str(found["id"])


def _item(item_id: str, category: str, c: Case, division: str, first: dt.datetime,
          resolved: dt.datetime | None) -> dict[str, Any]:
    return dict(id=item_id, category=category, person_key=c.id_number, id_number=c.id_number, name=c.name,
                division=division, acting_agency=division + "SF", confirming_agency=None, match="id_number",
                sides="[]", snapshot_ids="[]", description_zh="", description_en="",
                status="resolved" if resolved else "open", first_seen=first, last_seen=resolved or first,
                resolved_at=resolved, resolved_by="test" if resolved else None, resolution=None, reopened=0)


# What the report must say, counted by hand from the story (figure id → value).
EXPECTED: dict[str, int | float | None] = {
    # cumulative, to 2026-06-30: A B D E K and the imported F G J were received; B, F and J released; E terminated
    "overview.received_total": 8, "overview.released_total": 3, "overview.terminated_total": 1,
    # in register on 2026-06-30: only A (C never reported, D and K moved away, G's supervision ended in 2017, J
    # released)
    "overview.in_register.CONTROL": 0, "overview.in_register.PROBATION": 1, "overview.in_register.PAROLE": 0,
    "overview.in_register.TEMP_OUTSIDE": 0, "overview.in_register.total": 1,
    # in the period
    "overview.new": 2, "overview.transferred_in": 0, "overview.released": 2, "overview.terminated": 1,
    "overview.admonitions": 1, "overview.warnings": 3, "overview.leave": 1, "overview.residence_changes": 1,
    "overview.transfers_out": 2, "overview.revoked": 1, "overview.recommitted": 0, "overview.pursuits": 1,
    "overview.assessments_commissioned": 1, "overview.assessments_done": 1, "overview.assessments_on_time": 1,
    "overview.assessments_late": 0,
    # timeliness: the court's notice and documents (B late; C, D on time; A, E last period on time)
    "timeliness.notify.530502FY.due": 3, "timeliness.notify.530502FY.on_time": 2,
    "timeliness.notify.530502FY.late": 1, "timeliness.notify.530502FY.rate": 66.7,
    "timeliness.notify.530502FY.previous_rate": 100.0, "timeliness.notify.530502FY.change": -33.3,
    "timeliness.notify.530502FY.median_delay": 14, "timeliness.notify.530502FY.worst_delay": 14,
    "timeliness.documents.530502FY.rate": 66.7, "timeliness.documents.530502FY.worst_delay": 9,
    # the bureau's receipts (all on time now; E's late last period) and reports (B late 14, C open 121 days)
    "timeliness.receipt.530581SF.due": 3, "timeliness.receipt.530581SF.rate": 100.0,
    "timeliness.receipt.530581SF.previous_rate": 50.0, "timeliness.receipt.530581SF.change": 50.0,
    "timeliness.receipt.530581SF.worst_delay": None,
    "timeliness.report.530581SF.due": 3, "timeliness.report.530581SF.late": 2,
    "timeliness.report.530581SF.rate": 33.3, "timeliness.report.530581SF.previous_rate": 100.0,
    "timeliness.report.530581SF.median_delay": 67.5, "timeliness.report.530581SF.worst_delay": 121,
    "timeliness.assessment.530581SF.rate": 100.0, "timeliness.assessment.530581SF.previous_rate": None,
    # D's and K's transfer papers, each due 5 days after the change decision: both on time
    "timeliness.transfer.530581SF.due": 2, "timeliness.transfer.530581SF.rate": 100.0,
    # per agency over every step: the court 4 of 6 (last period 4 of 4), the bureau 7 of 9 (3 of 4)
    "timeliness.agency.530502FY.due": 6, "timeliness.agency.530581SF.due": 9,
    "timeliness.agency.530502FY.rate": 66.7, "timeliness.agency.530502FY.previous_rate": 100.0,
    "timeliness.agency.530581SF.rate": 77.8, "timeliness.agency.530581SF.previous_rate": 75.0,
    "timeliness.agency.530581SF.change": 2.8,
    # at risk on 2026-07-10: C has not reported (漏管, the bureau); the police never answered A's search (脱管)
    "at_risk.530581SF.leak": 1, "at_risk.530581SF.lapse": 0, "at_risk.530581GA.lapse": 1,
    "at_risk.total": 2, "at_risk.530581SF.worst_delay": 121,
    # failed transfers: B's papers to the bureau delivered after 6 hours; C's papers refused by the police
    "failed_transfers.530581SF.retries_exhausted.raised": 1, "failed_transfers.530581SF.retries_exhausted.delivered": 1,
    "failed_transfers.530581SF.retries_exhausted.median_hours": 6.0, "failed_transfers.530581GA.rejected.open": 1,
    "failed_transfers.total.raised": 2, "failed_transfers.total.open": 1,
    # discrepancies of 530581: one found in the period and open, one found before and resolved in it
    "discrepancies.total.found": 1, "discrepancies.total.resolved": 1, "discrepancies.total.open": 1,
}
# persons behind some figures, by ID number
BEHIND: dict[str, set[str]] = {
    "overview.received_total": {A.id_number, B.id_number, D.id_number, E.id_number, K.id_number, F_ID, G_ID,
                                J.id_number},
    "overview.released": {B.id_number, J.id_number},
    "overview.warnings": {A.id_number, D.id_number, J.id_number},
    "overview.in_register.total": {A.id_number},
    "overview.new": {B.id_number, D.id_number},
    "timeliness.report.530581SF.late": {B.id_number, C.id_number},
    "at_risk.total": {A.id_number, C.id_number},
}
FLOWS_IN, FLOWS_OUT, ON_BOOKS = (1, 1, 0, 0, 0, 0), (0, 0, 1, 1, 0, 1), (5, 6, 4, 3, 2, 1)
