"""Identity linking throughput: ``python -m bench.identity [RECORDS]`` (default 100000; not in ``make bench``).

Generates the records several agencies hold about the same people: each person has one to four records
(court, police, bureau, prison, detention centre), most with the 18-digit ID number, some with the legacy
15-digit number or a lower-case x, about one in eight without a number (the bureau's record is linked by
name, birth date, sex and case number then), about one in twenty with a homophone typed for one character
of the name, and minority names with a middle dot written in several ways. Links them with
``hub.core.linkage.link`` in one process and prints records/s, persons found and review items. At national
scale (about 700,000 persons in register) the time grows with the records, not with their pairs: only
records sharing an ID number, a birth date and surname reading, or a case number are compared.
"""

from __future__ import annotations

import datetime as dt
import random
import resource
import sys
import time

from hub.core.identity import PersonRecord, Sex
from hub.core.idnumber import check_digit
from hub.core.linkage import link

TODAY = dt.date(2026, 6, 1)
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯"
            "邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢段单")
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英建国华红志文斌波辉玉萍鹏宇浩晓小春海燕云飞龙"
# homophones an input method offers for the same syllable: the usual typing slips between agencies
HOMOPHONES = {"晓": "小", "小": "晓", "明": "鸣", "国": "果", "华": "化", "红": "宏", "军": "君", "伟": "炜",
              "芳": "方", "静": "靖", "丽": "莉", "杰": "洁", "海": "亥", "云": "芸", "张": "章", "林": "琳"}
MINORITY = ["阿依古丽·买买提", "买买提·艾力", "古丽娜尔·吐尔逊", "热依拉·阿不都"]
DOTS = "·•・ "
AGENCIES = ("530502FY", "530502GA", "530502SF", "530500JY", "530502KS")
DIVISIONS = ("530502", "530521", "530581", "530522", "533001", "530523", "530524")


def people(n_records: int, seed: int = 7) -> list[PersonRecord]:
    """About n_records records of n_records / 2.5 generated persons, as the agencies would hold them."""
    rng = random.Random(seed)
    out: list[PersonRecord] = []
    issued: set[str] = set()
    person = 0
    while len(out) < n_records:
        person += 1
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(57 * 365))
        seq = rng.randrange(1000)
        division = rng.choice(DIVISIONS)
        body = f"{division}{birth:%Y%m%d}{seq:03d}"
        if body in issued:  # a number is issued once
            continue
        issued.add(body)
        number = body + check_digit(body)
        if rng.random() < 0.02:
            name = rng.choice(MINORITY)
        else:
            name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
        sex = Sex.MALE if seq % 2 else Sex.FEMALE
        case = f"({birth.year + rng.randrange(20, 40)})云{division}刑初{rng.randrange(1, 3000)}号"
        for agency in rng.sample(AGENCIES, rng.randint(1, 4)):
            written, id_number = name, number
            roll = rng.random()
            if roll < 0.05:
                i = rng.randrange(len(name))
                written = name[:i] + HOMOPHONES.get(name[i], name[i]) + name[i + 1:]
            if "·" in written:
                written = written.replace("·", rng.choice(DOTS))
            roll = rng.random()
            if roll < 0.125:
                id_number = None
            elif roll < 0.2 and birth.year < 2000:
                id_number = number[:6] + number[8:17]  # the legacy 15-digit form
            elif roll < 0.25:
                id_number = number.lower()
            out.append(PersonRecord(agency, f"{agency}-{person}", id_number, written,
                                    sex if id_number is None or rng.random() < 0.5 else Sex.UNKNOWN,
                                    birth if id_number is None else None, (case,)))
    return out[:n_records]


def main(n: int) -> None:
    records = people(n)
    started = time.perf_counter()
    linkage = link(records, today=TODAY)
    seconds = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"identity link: {n} records in {seconds:.2f} s = {n / seconds:,.0f} records/s; "
          f"{len(linkage.persons)} persons, {len(linkage.review)} review items; peak RSS {rss_mb:.0f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
