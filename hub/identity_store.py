"""Identity in the hub: each stored message's person becomes (or updates) its agency's person record; records are
linked into persons by hub.core.linkage, never silently: a MATCH links, a POSSIBLE pair waits in the review queue
(once per pair; a decided pair is never queued again), a reviewer's NOT_SAME keeps two records apart for ever.

Writers take one lock (advisory on PostgreSQL; SQLite has one writer), so processes do not interleave. On
PostgreSQL a message can commit after one with a higher ``seq``: a gap stops the indexer until the message after
it is older than SETTLE (a rolled-back insert leaves a gap for ever), so no message is passed over."""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, insert, or_, select, tuple_, update

from hub import audit
from hub.core.facts import MessageFacts, facts_of, legal_day
from hub.core.facts import normalise_case_number as case_key
from hub.core.identity import Decision, Decisions, Judgement, PersonRecord, RecordKey, Sex
from hub.core.idnumber import normalise_id
from hub.core.linkage import ReviewItem, link
from hub.core.namematch import normalise_case_number, normalise_name
from hub.core.routing import HUB_MESSAGE_TYPES
from hub.store.db import aware, utcnow, writer_lock
from hub.store.identity_schema import identity_cursor, identity_decisions, identity_reviews, person_links
from hub.store.identity_schema import person_records as records_t
from hub.store.schema import messages

log = logging.getLogger("xianjie.identity")
SETTLE = dt.timedelta(seconds=60)
CURSOR = "messages"


@dataclass(frozen=True)
class IndexResult:
    """One indexing pass: messages read, records created or updated, unreadable messages skipped, the cursor."""

    read: int
    records: int
    skipped: tuple[str, ...]
    cursor: int
    caught_up: bool


@dataclass(frozen=True)
class RelinkResult:
    """One relink: records, persons, links that changed, review items opened (or reopened) and withdrawn."""

    records: int
    persons: int
    links_changed: int
    queued: int
    withdrawn: int


def lock(conn: Connection) -> None:
    """Serialise identity writers across processes."""
    writer_lock(conn, "identity")


def record_id_of(f: MessageFacts) -> str:
    """The sender's key of the message's person: its person reference, else the ID number, else case and name."""
    assert f.person is not None
    number = normalise_id(f.person.id_number, today=f.received_on) if f.person.id_number else None
    if f.person_ref or number:
        return f.person_ref or f"id:{number}"
    if f.case is not None:
        return f"case:{case_key(f.case.case_number)}|{normalise_name(f.person.name)}"
    return f"msg:{f.message_id}"


def index_messages(engine: Engine, *, limit: int = 1000, now: dt.datetime | None = None) -> IndexResult:
    """Apply up to ``limit`` stored messages after the cursor to the person records; any process, any time."""
    now = now or utcnow()
    with engine.begin() as conn:
        lock(conn)
        cursor = conn.execute(select(identity_cursor.c.seq).where(identity_cursor.c.name == CURSOR)).scalar()
        start = int(cursor or 0)
        m = messages.c
        rows = conn.execute(select(m.seq, m.id, m.received_at, m.message_type, m.canonical)
                            .where(messages.c.seq > start).order_by(messages.c.seq).limit(limit)).all()
        taken, expected = [], start + 1
        for row in rows:
            if row.seq != expected and (aware(row.received_at) or now) > now - SETTLE:
                break  # an earlier message may still be committing
            taken.append(row)
            expected = row.seq + 1
        found: dict[tuple[str, str], list[tuple[int, MessageFacts]]] = {}
        skipped = []
        for row in taken:
            if row.message_type in HUB_MESSAGE_TYPES:
                continue  # the hub's own notices say nothing new about anyone
            try:
                f = facts_of(bytes(row.canonical), received_at=aware(row.received_at) or now)
            except Exception as e:  # one message the reader cannot read must not stop the others
                log.warning("identity index skips message %s: it cannot be read (%s)", row.id, type(e).__name__)
                skipped.append(row.id)
                continue
            if f.person is not None:
                found.setdefault((f.sender, record_id_of(f)), []).append((int(row.seq), f))
        _upsert(conn, found, now)
        end = int(taken[-1].seq) if taken else start
        if cursor is None or end != start:
            at = identity_cursor.c.name == CURSOR
            conn.execute(insert(identity_cursor) if cursor is None else update(identity_cursor).where(at),
                         {"name": CURSOR, "seq": end, "updated_at": now})
    return IndexResult(len(taken), len(found), tuple(skipped), end, len(taken) == len(rows) < limit)


def _upsert(conn: Connection, found: dict[tuple[str, str], list[tuple[int, MessageFacts]]], now: dt.datetime) -> None:
    existing = {(r["agency"], r["record_id"]): dict(r) for r in conn.execute(
        select(records_t).where(tuple_(records_t.c.agency, records_t.c.record_id).in_(list(found)))).mappings()}
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for key, seen in found.items():
        row = existing.get(key)
        for seq, f in seen:  # in seq order: the cursor only moves forward
            row = _merge(row, key, seq, f, now)
        assert row is not None
        (changed if key in existing else new).append(row)
    if new:
        conn.execute(insert(records_t), new)
    if changed:
        conn.execute(update(records_t).where(records_t.c.id == bindparam("_id")),
                     [{**r, "_id": r["id"]} for r in changed])


def _merge(row: dict[str, Any] | None, key: tuple[str, str], seq: int, f: MessageFacts,
           now: dt.datetime) -> dict[str, Any]:
    """The record with one more message applied: values of the latest message, case numbers of all of them."""
    p = f.person
    assert p is not None
    number = normalise_id(p.id_number, today=f.received_on) if p.id_number else None
    row = dict(row or {"id": str(uuid.uuid4()), "agency": key[0], "record_id": key[1], "id_number": number,
                       "name": p.name, "sex": p.sex, "birth_date": p.birth_date, "case_numbers": "[]",
                       "first_message_id": f.message_id, "first_seq": seq, "last_seq": seq})
    cases = json.loads(row["case_numbers"])
    if f.case is not None and normalise_case_number(f.case.case_number) not in map(normalise_case_number, cases):
        row["case_numbers"] = json.dumps([*cases, f.case.case_number], ensure_ascii=False)
    # a later message's values win, but one that leaves a field out does not erase it
    row.update(name=p.name, last_seq=seq, id_number=number or row["id_number"],
               sex=p.sex if p.sex != Sex.UNKNOWN else row["sex"], birth_date=p.birth_date or row["birth_date"])
    return row | {"updated_at": now}


def relink(engine: Engine, *, now: dt.datetime | None = None) -> RelinkResult:
    """Link all records anew with the decisions kept; write the links that changed and the review queue."""
    now = now or utcnow()
    with engine.begin() as conn:
        lock(conn)
        recs = {r.id: PersonRecord(r.agency, r.record_id, r.id_number, r.name, Sex(r.sex), r.birth_date,
                                   tuple(json.loads(r.case_numbers))) for r in conn.execute(select(records_t))}
        uid = {r.key: i for i, r in recs.items()}
        book = Decisions.of(Decision(recs[d.record_a].key, recs[d.record_b].key, Judgement(d.judgement.lower()),
                                     d.decided_by, aware(d.decided_at) or now, d.reason)
                            for d in conn.execute(select(identity_decisions)))
        linkage = link(recs.values(), decisions=book, today=legal_day(now))
        old = {r.record: (r.person_id, r.how) for r in conn.execute(select(person_links))}
        same = {pair for pair, d in book.by_pair.items() if d.judgement is Judgement.SAME}
        writes: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
        used: set[str] = set()
        for group in sorted(linkage.persons, key=lambda g: (-len(g), g)):
            # the person keeps the id most of its records had, so that links survive a relink
            claims = Counter(old[uid[k]][0] for k in group if uid[k] in old)
            free = sorted((-n, pid) for pid, n in claims.items() if pid not in used)
            person = free[0][1] if free else str(uuid.uuid4())
            used.add(person)
            numbers = Counter(recs[uid[k]].id_number for k in group)
            for k in group:
                number = recs[uid[k]].id_number
                how = ("alone" if len(group) == 1 else "decision" if any((min(k, g), max(k, g)) in same for g in group)
                       else "id" if number is not None and numbers[number] > 1 else "match")
                if old.get(uid[k]) != (person, how):
                    writes[uid[k] in old].append({"r": uid[k], "person_id": person, "how": how, "linked_at": now})
        if writes[True]:
            conn.execute(update(person_links).where(person_links.c.record == bindparam("r")), writes[True])
        if writes[False]:
            conn.execute(insert(person_links), [{"record" if k == "r" else k: v for k, v in w.items()}
                                                for w in writes[False]])
        queued, withdrawn = _queue(conn, linkage.review, uid, now)
    return RelinkResult(len(recs), len(linkage.persons), len(writes[True]) + len(writes[False]), queued, withdrawn)


def _queue(conn: Connection, review: Iterable[ReviewItem], uid: dict[RecordKey, str],
           now: dt.datetime) -> tuple[int, int]:
    rows = {(r.record_a, r.record_b): r for r in conn.execute(select(identity_reviews))}
    decided = {tuple(d) for d in conn.execute(select(identity_decisions.c.record_a, identity_decisions.c.record_b))}
    wanted, queued = set(), 0
    for item in review:
        pair = (uid[item.a], uid[item.b])
        if pair in decided:
            continue
        wanted.add(pair)
        reasons = json.dumps([vars(r) for r in item.result.reasons], ensure_ascii=False)  # code, zh, en
        row = rows.get(pair)
        if row is None:
            conn.execute(insert(identity_reviews).values(
                id=str(uuid.uuid4()), record_a=pair[0], record_b=pair[1], score=item.result.score, reasons=reasons,
                status="open", created_at=now, updated_at=now))
        elif (row.status, row.score, row.reasons) != ("open", item.result.score, reasons):
            conn.execute(update(identity_reviews).where(identity_reviews.c.id == row.id).values(
                status="open", score=item.result.score, reasons=reasons, updated_at=now))
        queued += row is None or row.status != "open"
    gone = [r.id for p, r in rows.items() if r.status == "open" and p not in wanted]
    if gone:
        conn.execute(update(identity_reviews).where(identity_reviews.c.id.in_(gone))
                     .values(status="withdrawn", updated_at=now))
    return queued, len(gone)


def decide(engine: Engine, a: str, b: str, *, same: bool, by: str, reason: str,
           now: dt.datetime | None = None) -> dict[str, Any]:
    """Keep a reviewer's decision on two records (audited), close their review item, relink.

    ValueError, nothing stored, without a reviewer or a reason, for one record twice or a record not known."""
    if not by.strip() or not reason.strip():
        raise ValueError(f"{'by' if not by.strip() else 'reason'}: required for every identity decision")
    now = now or utcnow()
    judgement = "SAME" if same else "NOT_SAME"
    with engine.begin() as conn:
        lock(conn)
        recs = {r["id"]: dict(r) for r in conn.execute(select(records_t).where(records_t.c.id.in_([a, b]))).mappings()}
        if a == b or a not in recs or b not in recs:
            raise ValueError(f"a decision needs two different known person records, not {a!r} and {b!r}")
        a, b = sorted((a, b), key=lambda x: (recs[x]["agency"], recs[x]["record_id"]))
        r, d = identity_reviews.c, identity_decisions.c  # both keep a pair in (agency, record id) order
        review = conn.execute(select(r.id).where(r.record_a == a, r.record_b == b)).scalar()
        before = conn.execute(select(d.judgement).where(d.record_a == a, d.record_b == b)
                              .order_by(d.id.desc())).scalar()
        decision_id = conn.execute(insert(identity_decisions).values(
            record_a=a, record_b=b, judgement=judgement, decided_by=by, decided_at=now, reason=reason,
            review_id=review).returning(identity_decisions.c.id)).scalar_one()
        if review is not None:
            conn.execute(update(identity_reviews).where(identity_reviews.c.id == review).values(
                status="decided", decided_by=by, decided_at=now, decision_id=decision_id, updated_at=now))
        audit.record(conn, at=now, actor=by, action="identity_decision", target=f"identity_decision:{decision_id}",
                     detail={"judgement": judgement, "reason": reason, "review_id": review, "supersedes": before,
                             "records": [{k: recs[x][k] for k in ("id", "agency", "record_id", "name")}
                                         for x in (a, b)]})
    return {"decision_id": decision_id, "judgement": judgement, "records": [a, b], "review_id": review,
            "supersedes": before, "relink": relink(engine, now=now).__dict__}


RECORDS = select(records_t, person_links.c.person_id, person_links.c.how).outerjoin(
    person_links, person_links.c.record == records_t.c.id).order_by(records_t.c.agency, records_t.c.record_id)


def _view(r: Any) -> dict[str, Any]:
    return {"id": r.id, "agency": r.agency, "record_id": r.record_id, "id_number": r.id_number, "name": r.name,
            "sex": r.sex, "birth_date": r.birth_date.isoformat() if r.birth_date else None,
            "case_numbers": json.loads(r.case_numbers), "first_message_id": r.first_message_id,
            "person_id": r.person_id, "how": r.how}


def person_of(engine: Engine, ref: str) -> list[dict[str, Any]]:
    """The persons behind a key (ID number, ``ref|<person reference>``, ``<agency>:<record id>``, a person or
    record id), each with all its linked records across agencies; usually one, none if the key is unknown."""
    number = normalise_id(ref, today=legal_day(utcnow()))
    agency, _, own = ref.partition(":")
    c = records_t.c
    hit = or_(c.record_id.in_({ref, ref.removeprefix("ref|")}), c.id == ref, person_links.c.person_id == ref,
              tuple_(c.agency, c.record_id) == (agency, own), c.id_number == (number or "-"))
    with engine.connect() as conn:
        rows = list(conn.execute(RECORDS.where(hit)))  # then every record linked with those found
        persons = {r.person_id for r in rows if r.person_id}
        if persons:
            rows += conn.execute(RECORDS.where(person_links.c.person_id.in_(persons))).all()
    out: dict[str, dict[str, Any]] = {}
    for r in sorted({r.id: r for r in rows}.values(), key=lambda r: (r.agency, r.record_id)):
        out.setdefault(r.person_id or r.id, {"person_id": r.person_id, "records": []})["records"].append(_view(r))
    return list(out.values())


def reviews(engine: Engine, *, status: str | None = "open", agency: str | None = None, review_id: str | None = None,
            limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """Review items, highest score first, each with both records; ``agency``: only those involving its records."""
    q = select(identity_reviews).order_by(identity_reviews.c.score.desc(), identity_reviews.c.created_at,
                                          identity_reviews.c.id).limit(limit).offset(offset)
    if status:
        q = q.where(identity_reviews.c.status == status)
    if review_id is not None:
        q = q.where(identity_reviews.c.id == review_id)
    if agency is not None:
        own = select(records_t.c.id).where(records_t.c.agency == agency)
        q = q.where(or_(identity_reviews.c.record_a.in_(own), identity_reviews.c.record_b.in_(own)))
    with engine.connect() as conn:
        items = conn.execute(q).mappings().all()
        ids = {i[k] for i in items for k in ("record_a", "record_b")}
        views = {r.id: _view(r) for r in conn.execute(RECORDS.where(records_t.c.id.in_(ids)))} if ids else {}
    return [{"id": i["id"], "status": i["status"], "score": i["score"], "reasons": json.loads(i["reasons"]),
             "a": views[i["record_a"]], "b": views[i["record_b"]], "decided_by": i["decided_by"],
             "decision_id": i["decision_id"], **{k: _iso(i[k]) for k in ("created_at", "updated_at", "decided_at")}}
            for i in items]


def _iso(t: dt.datetime | None) -> str | None:
    return None if t is None else t.replace(tzinfo=t.tzinfo or dt.UTC).isoformat()
