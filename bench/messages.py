"""The notices every run posts: SentencingDecision notices from tests.harness, one person each, spread over
the six counties of 保山, so each fans out to that county's bureau, procuratorate and police (3 recipients)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from tests.harness import DIVISIONS, api_key, make_id, notice

SENDER = "530502FY"
FANOUT = 3
_MID = "00000000-0000-4000-8000-00000000beef"
_DOC = "BENCH-DOC-PLACEHOLDER"
_BASE_BIRTH = dt.date(1960, 1, 1)


@dataclass(frozen=True)
class Notice:
    message_id: str
    sender: str
    body: bytes


def person(i: int, division: str) -> str:
    """A distinct valid ID number for the i-th notice: a man's (odd sequence digit), as the sample's <sex> says."""
    birth = _BASE_BIRTH + dt.timedelta(days=i // 500)
    return make_id(division, birth.strftime("%Y%m%d"), 2 * (i % 500) + 1)


def build(count: int, *, start: int = 0) -> list[Notice]:
    """``count`` distinct notices (message id, sender document id and person), numbered from ``start``."""
    templates = {}
    for div in DIVISIONS:
        pid = person(0, div)
        _, xml = notice("SentencingDecision", sender=SENDER, id_number=pid, execution_division=div,
                        doc_id=_DOC, message_id=_MID)
        templates[div] = (xml, pid)
    out = []
    for i in range(start, start + count):
        div = DIVISIONS[i % len(DIVISIONS)]
        xml, pid0 = templates[div]
        pid = person(i, div)
        birth0 = f"{pid0[6:10]}-{pid0[10:12]}-{pid0[12:14]}".encode()
        birth = f"{pid[6:10]}-{pid[10:12]}-{pid[12:14]}".encode()
        mid = str(uuid.uuid4())
        body = (xml.replace(_MID.encode(), mid.encode()).replace(_DOC.encode(), f"BENCH-{mid}".encode())
                .replace(pid0.encode(), pid.encode()).replace(b"<birthDate>" + birth0, b"<birthDate>" + birth))
        out.append(Notice(mid, SENDER, body))
    return out


def headers(sender: str = SENDER) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key(sender)}", "Content-Type": "application/xml"}
