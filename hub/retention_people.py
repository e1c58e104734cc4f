"""The record classes tied to a person: a closed case with all it holds, messages the ledger tied to no case, the
identity records built from them, resolved discrepancy items.

Nothing of a person is deleted while any case of that person is open in the ledger: the person is everyone
identity linking put together (by ID number, by name, birth date and case, or a reviewer's SAME), so a case known
under an agency's own reference counts as well as one known by ID number. Case sweeps take the ledger's writer lock,
run only when the ledger is not being rebuilt, and leave any case a message not yet projected is about: a deleted
message is below the ledger's cursor and can never be projected again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, exists, func, or_, select

from hub.case_project import READABLE
from hub.case_project import lock as ledger_lock
from hub.core.facts import canonical_id_number, facts_of, legal_day, normalise_case_number
from hub.identity_store import lock as identity_lock
from hub.retention_sweep import Ctx, Doom, Dooms, Sweeper, chunks, judged
from hub.store.alarm_schema import alarm_notices, alarm_watch, draft_watch, pursuit_drafts
from hub.store.db import aware
from hub.store.identity_schema import identity_decisions, identity_reviews, person_links, person_records
from hub.store.ledger_schema import case_events, cases, ledger_cursor, obligations
from hub.store.operator_schema import obligation_notes
from hub.store.register_schema import discrepancies
from hub.store.schema import attachment_messages, attachments, deliveries, failed_transfers, messages

CLOSED = ("released", "terminated")
DONE = ("delivered", "acknowledged", "resolved")  # a delivery in any other state is still owed
BACKLOG_LIMIT = 1000  # unprojected messages read to find the cases they are about; more: case sweeps wait


def _in(conn: Connection, query: Any, column: Any, values: Iterable[Any]) -> list[Any]:
    """``query`` with ``column IN values``, in chunks."""
    out: list[Any] = []
    for part in chunks(set(values) - {None}):
        out.extend(conn.execute(query.where(column.in_(part))).all())
    return out


def _day(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return legal_day(aware(value))  # type: ignore[arg-type]
    return value if isinstance(value, dt.date) else None


def _cursor(c: Ctx) -> dict[str, Any] | None:
    row = c.conn.execute(select(ledger_cursor).where(ledger_cursor.c.id == 1)).mappings().first()
    return dict(row) if row is not None else None


def ledger_blocked(c: Ctx) -> str | None:
    cur = _cursor(c)
    if cur is not None and cur["rebuild_target"] is not None:
        return "waiting: the case ledger is being rebuilt"
    return None


def _unprojected_cases(c: Ctx) -> set[str] | None:
    """The cases that stored messages not yet projected are about; None when there are too many to read."""
    if "unprojected" in c.memo:
        return c.memo["unprojected"]  # type: ignore[no-any-return]
    cur = _cursor(c)
    found: set[str] | None = set()
    if cur is not None:
        gaps = [int(s) for s in json.loads(cur["gaps"] or "{}")]
        cond = messages.c.seq > int(cur["last_seq"])
        if gaps:
            cond = or_(cond, messages.c.seq.in_(gaps))
        rows = c.conn.execute(select(messages.c.id, messages.c.message_type, messages.c.canonical,
                                     messages.c.received_at).where(cond).limit(BACKLOG_LIMIT + 1)).all()
        if len(rows) > BACKLOG_LIMIT:
            found = None
        else:
            assert found is not None
            for r in rows:
                if r.message_type not in READABLE:
                    continue
                try:
                    key = facts_of(bytes(r.canonical), received_at=aware(r.received_at) or c.now).case_key
                except Exception:  # the ledger will find it unreadable too: it belongs to no case
                    continue
                if key:
                    found.add(key)
    c.memo["unprojected"] = found
    return found


def _open_keys(c: Ctx, keys: set[str]) -> set[str]:
    """Those of ``keys`` (person keys and ID numbers) that belong to a case still open."""
    q = select(cases.c.person_key, cases.c.id_number).where(cases.c.status.not_in(CLOSED))
    out: set[str] = set()
    for part in chunks(keys):
        for r in c.conn.execute(q.where(or_(cases.c.person_key.in_(part), cases.c.id_number.in_(part)))):
            out |= {r.person_key, r.id_number}
    return out & keys


def _open_case_numbers(c: Ctx, numbers: set[str]) -> set[str]:
    q = select(cases.c.case_number_key).where(cases.c.status.not_in(CLOSED))
    return {r.case_number_key for r in _in(c.conn, q, cases.c.case_number_key, numbers)}


def _open_discrepancy_keys(c: Ctx, keys: set[str]) -> set[str]:
    q = select(discrepancies.c.person_key, discrepancies.c.id_number).where(discrepancies.c.status == "open")
    out: set[str] = set()
    for part in chunks(keys):
        for r in c.conn.execute(q.where(or_(discrepancies.c.person_key.in_(part),
                                            discrepancies.c.id_number.in_(part)))):
            out |= {r.person_key, r.id_number}
    return out & keys


def _ledger_key(record_id: str, id_number: str | None) -> str | None:
    """The ledger's person key of an identity record (as hub.case_views has it)."""
    return id_number or (None if record_id.startswith(("id:", "case:", "msg:")) else f"ref|{record_id}")


def linked_keys(c: Ctx, keys: set[str]) -> dict[str, set[str]]:
    """For each person key or ID number: every key of the person identity linking made of it (itself included)."""
    pr, pl = person_records, person_links
    refs = {k[4:]: k for k in keys if k.startswith("ref|")}
    hit: dict[str, set[str]] = defaultdict(set)  # person id -> the keys asked about that led to it
    q = select(pr.c.id_number, pr.c.record_id, pl.c.person_id).join(pl, pl.c.record == pr.c.id)
    for r in [*_in(c.conn, q, pr.c.id_number, keys), *_in(c.conn, q, pr.c.record_id, refs)]:
        if r.id_number in keys:
            hit[r.person_id].add(r.id_number)
        if r.record_id in refs:
            hit[r.person_id].add(refs[r.record_id])
    out = {k: {k} for k in keys}
    q = select(pr.c.id_number, pr.c.record_id, pl.c.person_id).join(pl, pl.c.record == pr.c.id)
    for r in _in(c.conn, q, pl.c.person_id, hit):
        other = _ledger_key(r.record_id, r.id_number)
        for k in hit[r.person_id]:
            out[k] |= {x for x in (other, r.id_number) if x}
    return out


def person_kept(c: Ctx, own: dict[Any, set[str]]) -> dict[Any, str]:
    """For units each with its person's own keys: the reason a unit's person keeps it (a hold, an open case, an
    open discrepancy), for those kept."""
    every = set().union(*own.values()) if own else set()
    linked = linked_keys(c, every)
    widened = {u: set().union(*(linked[k] for k in ks)) if ks else set() for u, ks in own.items()}
    all_keys = set().union(*widened.values()) if widened else set()
    open_keys = _open_keys(c, all_keys)
    disputed = _open_discrepancy_keys(c, all_keys)
    out: dict[Any, str] = {}
    for u, ks in widened.items():
        if c.holds.person(ks):
            out[u] = "legal_hold"
        elif ks & open_keys:
            out[u] = "person_case_open"
        elif ks & disputed:
            out[u] = "open_discrepancy"
    return out


def message_checks(c: Ctx, ids: set[str]) -> dict[str, str]:
    """Messages that must stay for their deliveries: a delivery still owed, or a failed transfer open."""
    out: dict[str, str] = {}
    q = select(failed_transfers.c.message_id).where(failed_transfers.c.status != "resolved")
    for r in _in(c.conn, q, failed_transfers.c.message_id, ids):
        out[r.message_id] = "open_failed_transfer"
    q = select(deliveries.c.message_id).where(deliveries.c.state.not_in(DONE))
    for r in _in(c.conn, q, deliveries.c.message_id, ids):
        out.setdefault(r.message_id, "undelivered")
    return out


def message_dooms(c: Ctx, ids: set[str]) -> Dooms:
    """Every row that goes with these messages: deliveries and their announcements, timeline events, failed
    transfers with operators' edits and files, attachment links and the files no other kept message names."""
    conn = c.conn
    dl = {r.id for r in _in(conn, select(deliveries.c.id), deliveries.c.message_id, ids)}
    ft = {r.id for r in _in(conn, select(failed_transfers.c.id), failed_transfers.c.message_id, ids)}
    am = _in(conn, select(attachment_messages.c.sha256), attachment_messages.c.message_id, ids)
    shas = {r.sha256 for r in am}
    others = [r for r in _in(conn, select(attachment_messages.c.sha256, attachment_messages.c.message_id),
                             attachment_messages.c.sha256, shas) if r.message_id not in ids]
    kept_by = {r.id for r in _in(conn, select(messages.c.id).where(c.alive(messages.c.id)), messages.c.id,
                                 {r.message_id for r in others})}
    free = shas - {r.sha256 for r in others if r.message_id in kept_by}
    return {
        "outbox": Doom("delivery_id", dl, exact=False),
        "events": Doom("message_id", set(ids), exact=False),
        "operator_files": Doom("target", {f"failed_transfer:{f}" for f in ft}, exact=False),
        "failed_transfer_edits": Doom("failed_transfer_id", ft, exact=False),
        "failed_transfers": Doom("id", ft),
        "deliveries": Doom("id", dl),
        "attachment_messages": Doom("message_id", set(ids), exact=False),
        "attachments": Doom("sha256", {r.sha256 for r in _in(conn, select(attachments.c.sha256),
                                                              attachments.c.sha256, free)}),
        "messages": Doom("id", set(ids)),
    }


def _ref_key(row: Any) -> str | None:
    """The ledger's key (``ref|…``) of a message's person known by the sender's own reference."""
    prefix = f"{row.sender}:"
    return f"ref|{row.person_key[len(prefix):]}" if row.person_key.startswith(prefix) else None


def _worst(reasons: set[str]) -> str | None:
    """Of a case's messages' reasons to stay, the one to report: an open failed transfer before a delivery owed."""
    return next((r for r in ("open_failed_transfer", "undelivered") if r in reasons), None)


class CaseRecords(Sweeper):
    """A closed case, its messages and everything the ledger and the operators hold about it."""

    name = "case_records"

    def lock(self, conn: Connection) -> None:
        ledger_lock(conn, wait=True)

    def blocked(self, c: Ctx) -> str | None:
        return ledger_blocked(c)

    def candidates(self, c: Ctx, after: Any, limit: int) -> Sequence[Any]:
        q = select(cases.c.case_key, cases.c.person_key, cases.c.id_number, cases.c.case_number_key,
                   cases.c.status_since).where(cases.c.status.in_(CLOSED), cases.c.status_since < c.cutoff)
        if after is not None:
            q = q.where(cases.c.case_key > after)
        return c.conn.execute(q.order_by(cases.c.case_key).limit(limit)).all()

    def key(self, row: Any) -> Any:
        return row.case_key

    def _messages(self, c: Ctx, keys: set[str]) -> dict[str, set[str]]:
        """Each case's stored messages: those the ledger applied (or held) to it, its deadline notices and the
        pursuit requests drafted for it."""
        found: dict[str, set[str]] = defaultdict(set)
        for t in (case_events, alarm_notices, pursuit_drafts):
            q = select(t.c.case_key, t.c.message_id).where(t.c.message_id.is_not(None)).distinct()
            for r in _in(c.conn, q, t.c.case_key, keys):
                found[r.case_key].add(r.message_id)
        stored = {r.id for r in _in(c.conn, select(messages.c.id), messages.c.id, set().union(*found.values()))}
        return {k: found.get(k, set()) & stored for k in keys}

    def _last_day(self, c: Ctx, keys: set[str]) -> dict[str, dt.date]:
        """The last day anything happened in each case: a message received, a notice sent, a note, a draft."""
        last: dict[str, dt.date] = {}
        for col, key in ((case_events.c.day, case_events.c.case_key), (alarm_notices.c.day, alarm_notices.c.case_key),
                         (obligation_notes.c.at, obligation_notes.c.case_key),
                         (func.coalesce(pursuit_drafts.c.status_at, pursuit_drafts.c.drafted_at),
                          pursuit_drafts.c.case_key)):
            for r in _in(c.conn, select(key, func.max(col)).group_by(key), key, keys):
                d = _day(r[1])
                if d is not None and (r[0] not in last or d > last[r[0]]):
                    last[r[0]] = d
        return last

    def judge(self, c: Ctx, rows: Sequence[Any]) -> tuple[list[Any], Counter[str]]:
        keys = {r.case_key for r in rows}
        last = self._last_day(c, keys)
        msgs = self._messages(c, keys)
        mine = {m: k for k, ms in msgs.items() for m in ms}
        every = set(mine)
        shared = {r.message_id for r in _in(c.conn, select(case_events.c.message_id, case_events.c.case_key)
                                            .where(case_events.c.case_key.is_not(None)), case_events.c.message_id,
                                            every) if r.case_key != mine[r.message_id]}
        held_by_delivery = message_checks(c, every)
        open_obligations = {r.case_key for r in _in(c.conn, select(obligations.c.case_key).where(
            obligations.c.is_open == 1), obligations.c.case_key, keys)}
        drafts = {r.case_key for r in _in(c.conn, select(pursuit_drafts.c.case_key).where(
            pursuit_drafts.c.status == "drafted"), pursuit_drafts.c.case_key, keys)}
        persons = person_kept(c, {r.case_key: {k for k in (r.person_key, r.id_number) if k} for r in rows})
        unprojected = _unprojected_cases(c)

        def why(r: Any) -> str | None:
            k, ms = r.case_key, msgs[r.case_key]
            started = max(d for d in (r.status_since, last.get(k)) if d is not None)
            return ("not_due" if started >= c.cutoff
                    else "legal_hold" if c.holds.case(k, r.case_number_key) or c.holds.ids(ms)
                    else persons.get(k) or (
                        "open_obligation" if k in open_obligations
                        else "pursuit_draft_waiting" if k in drafts
                        else _worst({held_by_delivery[m] for m in ms if m in held_by_delivery})
                        or ("message_shared" if ms & shared else None)
                        or ("ledger_behind" if unprojected is None
                            else "not_yet_projected" if k in unprojected else None)))

        return judged(rows, why)

    def doom(self, c: Ctx, rows: Sequence[Any]) -> Dooms:
        keys = {r.case_key for r in rows}
        ids = set().union(*self._messages(c, keys).values())
        obs = {r.id for r in _in(c.conn, select(obligations.c.id), obligations.c.case_key, keys)}
        return message_dooms(c, ids) | {
            "case_events": Doom("case_key", keys, exact=False),
            "case_facts": Doom("case_key", keys, exact=False),
            "alarm_watch": Doom("obligation_id", {r.obligation_id for r in _in(
                c.conn, select(alarm_watch.c.obligation_id), alarm_watch.c.obligation_id, obs)}),
            "alarm_notices": Doom("case_key", keys, exact=False),
            "obligation_notes": Doom("case_key", keys, exact=False),
            "pursuit_drafts": Doom("case_key", keys, exact=False),
            "draft_watch": Doom("case_key", {r.case_key for r in _in(c.conn, select(draft_watch.c.case_key),
                                                                       draft_watch.c.case_key, keys)}),
            "obligations": Doom("id", obs),
            "cases": Doom("case_key", keys),
        }


class LooseMessages(Sweeper):
    """Messages the ledger tied to no case, counted from the day received."""

    name = "loose_messages"

    def lock(self, conn: Connection) -> None:
        ledger_lock(conn, wait=True)

    def blocked(self, c: Ctx) -> str | None:
        return ledger_blocked(c)  # while a rebuild runs every message looks loose

    def candidates(self, c: Ctx, after: Any, limit: int) -> Sequence[Any]:
        cur = _cursor(c)
        if cur is None:
            return []
        m = messages.c
        q = select(m.seq, m.id, m.sender, m.person_key, m.id_number, m.case_number).where(
            m.received_at < c.cutoff_at, m.seq <= int(cur["last_seq"]),
            ~exists().where(case_events.c.message_id == m.id, case_events.c.case_key.is_not(None)),
            ~exists().where(alarm_notices.c.message_id == m.id),
            ~exists().where(pursuit_drafts.c.message_id == m.id))
        if after is not None:
            q = q.where(m.seq > after)
        c.memo["gaps"] = {int(s) for s in json.loads(cur["gaps"] or "{}")}
        return c.conn.execute(q.order_by(m.seq).limit(limit)).all()

    def key(self, row: Any) -> Any:
        return row.seq

    def judge(self, c: Ctx, rows: Sequence[Any]) -> tuple[list[Any], Counter[str]]:
        ids = {r.id for r in rows}
        numbers = {r.id: canonical_id_number(r.id_number.upper(), today=c.today) if r.id_number else None
                   for r in rows}
        case_numbers = {r.id: normalise_case_number(r.case_number) if r.case_number else None for r in rows}
        persons = person_kept(c, {r.id: {k for k in (numbers[r.id], r.person_key, _ref_key(r)) if k} for r in rows})
        open_numbers = _open_case_numbers(c, {n for n in case_numbers.values() if n})
        acks = {r.ack_message_id for r in _in(c.conn, select(deliveries.c.ack_message_id).where(
            c.alive(deliveries.c.message_id)), deliveries.c.ack_message_id, ids)}
        held_by_delivery = message_checks(c, ids)

        def why(r: Any) -> str | None:
            return ("not_yet_projected" if r.seq in c.memo.get("gaps", ())
                    else "legal_hold" if c.holds.ids([r.id]) or c.holds.case(None, case_numbers[r.id])
                    else persons.get(r.id) or (
                        "person_case_open" if case_numbers[r.id] in open_numbers
                        else "acknowledges_kept_message" if r.id in acks
                        else held_by_delivery.get(r.id)))

        return judged(rows, why)

    def doom(self, c: Ctx, rows: Sequence[Any]) -> Dooms:
        ids = {r.id for r in rows}
        return message_dooms(c, ids) | {"case_events": Doom("message_id", ids, exact=False)}


class IdentityRecords(Sweeper):
    """An agency's record of a person once no message that fed it is kept."""

    name = "identity_records"

    def lock(self, conn: Connection) -> None:
        identity_lock(conn)

    def candidates(self, c: Ctx, after: Any, limit: int) -> Sequence[Any]:
        pr = person_records.c
        q = select(pr.id, pr.agency, pr.record_id, pr.id_number, pr.case_numbers, pr.first_message_id,
                   pr.last_seq).where(pr.updated_at < c.cutoff_at)
        if after is not None:
            q = q.where(pr.id > after)
        return c.conn.execute(q.order_by(pr.id).limit(limit)).all()

    def key(self, row: Any) -> Any:
        return row.id

    def _fed(self, c: Ctx, rows: Sequence[Any]) -> set[str]:
        """The records some kept message still feeds (its first or last message, or any by its ID number or its
        agency's reference)."""
        m = messages.c
        alive = c.alive(m.id)
        firsts = {r.id for r in _in(c.conn, select(m.id).where(alive), m.id, {r.first_message_id for r in rows})}
        lasts = {r.seq for r in _in(c.conn, select(m.seq).where(alive), m.seq, {r.last_seq for r in rows})}
        keys = {r.id_number for r in rows if r.id_number} | {f"{r.agency}:{r.record_id}" for r in rows}
        known = {r.person_key for r in _in(c.conn, select(m.person_key).where(alive).distinct(), m.person_key, keys)}
        return {r.id for r in rows if r.first_message_id in firsts or r.last_seq in lasts
                or r.id_number in known or f"{r.agency}:{r.record_id}" in known}

    def judge(self, c: Ctx, rows: Sequence[Any]) -> tuple[list[Any], Counter[str]]:
        fed = self._fed(c, rows)
        numbers = {r.id: {normalise_case_number(n) for n in json.loads(r.case_numbers)} for r in rows}
        open_numbers = _open_case_numbers(c, set().union(*numbers.values()) if numbers else set())
        persons = person_kept(c, {r.id: {k for k in (_ledger_key(r.record_id, r.id_number), r.id_number) if k}
                                  for r in rows})

        def why(r: Any) -> str | None:
            return ("messages_kept" if r.id in fed
                    else "legal_hold" if c.holds.ids([r.first_message_id]) or any(
                        c.holds.case(None, n) for n in numbers[r.id])
                    else persons.get(r.id) or ("person_case_open" if numbers[r.id] & open_numbers else None))

        return judged(rows, why)

    def doom(self, c: Ctx, rows: Sequence[Any]) -> Dooms:
        ids = {r.id for r in rows}
        found: dict[str, set[Any]] = {}
        for t in (identity_reviews, identity_decisions):
            found[t.name] = {r.id for r in [*_in(c.conn, select(t.c.id), t.c.record_a, ids),
                                            *_in(c.conn, select(t.c.id), t.c.record_b, ids)]}
        return {"identity_reviews": Doom("id", found["identity_reviews"]),
                "identity_decisions": Doom("id", found["identity_decisions"]),
                "person_links": Doom("record", ids, exact=False),
                "person_records": Doom("id", ids)}


class Discrepancies(Sweeper):
    """Resolved discrepancy items, counted from the day resolved."""

    name = "discrepancies"

    def candidates(self, c: Ctx, after: Any, limit: int) -> Sequence[Any]:
        d = discrepancies.c
        q = select(d.id, d.person_key, d.id_number).where(d.status == "resolved", d.resolved_at < c.cutoff_at)
        if after is not None:
            q = q.where(d.id > after)
        return c.conn.execute(q.order_by(d.id).limit(limit)).all()

    def key(self, row: Any) -> Any:
        return row.id

    def judge(self, c: Ctx, rows: Sequence[Any]) -> tuple[list[Any], Counter[str]]:
        own = {r.id: {k for k in (r.person_key, r.id_number) if k} for r in rows}
        every = set().union(*own.values()) if own else set()
        linked = linked_keys(c, every)
        widened = {u: set().union(*(linked[k] for k in ks)) if ks else set() for u, ks in own.items()}
        open_keys = _open_keys(c, set().union(*widened.values()) if widened else set())

        def why(r: Any) -> str | None:
            return ("legal_hold" if c.holds.person(widened[r.id])
                    else "person_case_open" if widened[r.id] & open_keys else None)

        return judged(rows, why)

    def doom(self, c: Ctx, rows: Sequence[Any]) -> Dooms:
        return {"discrepancies": Doom("id", {r.id for r in rows})}


PERSON_SWEEPERS: tuple[Sweeper, ...] = (CaseRecords(), LooseMessages(), IdentityRecords(), Discrepancies())
