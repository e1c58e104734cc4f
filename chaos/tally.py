"""The accounting at the end of a chaos run, from the private database and from the recipients' own records.

Definitions (docs/security-chaos.md):

- **accepted**: notices the client got 202 for, or 200 with the same message id when it resent the same bytes
  because an earlier try got no answer (that try had stored it).
- **deliveries expected**: for each accepted notice, one per recipient DOMAIN.md §2 names for it
  (``chaos.stream.Builder.expect``, written out apart from the hub's routing table, which must agree).
- **delivered**: expected deliveries the hub records delivered or acknowledged; each must be in the recipient's own
  record (an HTTP endpoint's journal, the drop folder's files, the inbox collector's fetches).
- **acknowledged**: deliveries the hub records acknowledged (a TechnicalAck in the push answer, an inbox ack, or a
  回执); every ack a recipient gave must be recorded.
- **lost**: expected deliveries that are neither delivered (by both records) nor a failed transfer awaiting an
  operator; an accepted notice that is not stored counts once per expected delivery.
- **applied twice**: state changes recorded more than once: a delivery's ``delivered`` or ``acknowledged`` event,
  an attempt's outcome, a delivery's successful outcome, a lease expiry, a failed transfer opened for one delivery,
  a message or a delivery stored twice, a case-ledger ``applied`` line of a message in a case, an obligation opened
  twice.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select

from chaos.clients import InboxRecord, OperatorRecord, Results, read_journal
from chaos.stream import Stream
from hub.store.ledger_schema import case_events, ledger_cursor
from hub.store.schema import deliveries, events, failed_transfers, messages, outbox

FILE_NAME = re.compile(r"^\d{12}-[A-Za-z]+-([0-9a-f-]{36})\.")
NOT_FINAL = ("pending", "sending", "held", "available")


def folder_record(folder: Path, agency: str) -> Counter[tuple[str, str]]:
    """The drop folder's files as (message id, agency): what the folder agency has."""
    out: Counter[tuple[str, str]] = Counter()
    if folder.is_dir():
        for f in folder.iterdir():
            m = FILE_NAME.match(f.name)
            if m:
                out[(m.group(1), agency)] += 1
    return out


Pair = tuple[str, str]


def journal_record(paths: Iterable[Path]) -> tuple[Counter[Pair], set[Pair], list[dict[str, Any]]]:
    """Arrivals at the HTTP endpoints as (message id, agency) counts, the acks they answered with, every line."""
    arrivals: Counter[tuple[str, str]] = Counter()
    acks: set[tuple[str, str]] = set()
    lines: list[dict[str, Any]] = []
    for p in paths:
        recs, _ = read_journal(p)
        for r in recs:
            arrivals[(r["m"], r["a"])] += 1
            if r.get("ack"):
                acks.add((r["m"], r["a"]))
        lines.extend(recs)
    return arrivals, acks, lines


def _dupes(keys: Iterable[object]) -> list[str]:
    return [str(k) for k, n in Counter(keys).items() if n > 1]


def _shape(detail: str) -> str:
    """A failure's detail without its numbers and ids, so that alike failures group together."""
    s = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", detail)
    s = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", s)
    s = re.sub(r"/tmp/[^ ]*?/smalldisk", "<tmpfs>", s)
    s = re.sub(r"\d+(\.\d+)?", "N", s)
    return s[:220]


def timeline(engine: sa.Engine, delivery_id: str) -> list[str]:
    """One delivery's events, for the summary's examples of what went wrong."""
    with engine.connect() as c:
        rows = c.execute(select(events.c.at, events.c.kind, events.c.detail).where(
            events.c.delivery_id == delivery_id).order_by(events.c.id)).all()
    return [f"{e.at:%H:%M:%S.%f} {e.kind} {e.detail or ''}"[:300] for e in rows]


@dataclass
class Tally:
    summary: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def count(engine: sa.Engine, *, stream: Stream, results: Results, journals: list[Path],
          folders: dict[str, Counter[tuple[str, str]]], inbox: InboxRecord, operator: OperatorRecord,
          faulted: set[str]) -> Tally:
    t = Tally()
    p = t.problems
    with engine.connect() as c:
        msgs = c.execute(select(messages.c.id, messages.c.seq, messages.c.sender, messages.c.sender_document_id,
                                messages.c.content_sha256, messages.c.message_type)).all()
        dels = c.execute(select(deliveries.c.id, deliveries.c.message_id, deliveries.c.recipient,
                                deliveries.c.transport, deliveries.c.state, deliveries.c.attempts,
                                deliveries.c.ack_message_id)).all()
        fts = c.execute(select(failed_transfers)).mappings().all()
        evs = c.execute(select(events.c.delivery_id, events.c.kind, events.c.detail).where(
            events.c.kind.in_(("delivered", "acknowledged", "attempt", "redriven", "retried", "failed")))
            .order_by(events.c.id)).all()
        ledger = c.execute(select(case_events.c.kind, case_events.c.case_key, case_events.c.message_id,
                                  case_events.c.detail).where(
            case_events.c.kind.in_(("applied", "held", "not_applied", "unreadable", "obligation_opened")))).all()
        outbox_rows = int(c.execute(select(func.count()).select_from(outbox)).scalar_one())
        cursor = c.execute(select(ledger_cursor.c.last_seq)).scalar()

    # ---- notices -------------------------------------------------------------------------------------------
    accepted = set(results.accepted)
    stored = {str(m.id) for m in msgs}
    ours = set(stream.by_mid)
    not_stored = accepted - stored
    strangers = stored - ours  # messages the run did not send (the hub's own notices: none with the clock off)
    status = Counter(results.accepted.values())
    resent = sum(1 for mid in accepted if results.tries[mid] > 1)
    # ---- deliveries: expected from routing, present in the database -----------------------------------------
    expected = {(mid, r) for mid in accepted for r in stream.by_mid[mid].recipients}
    rows_by_pair: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for d in dels:
        rows_by_pair[(str(d.message_id), str(d.recipient))].append(d)
    row: dict[Pair, Any] = {k: v[0] for k, v in rows_by_pair.items()}
    states = Counter(str(d.state) for d in dels)
    ft_by_delivery: dict[str, list[Any]] = defaultdict(list)
    for f in fts:
        if f["delivery_id"]:
            ft_by_delivery[str(f["delivery_id"])].append(f)
    # ---- the recipients' own records ---------------------------------------------------------------------------
    http, http_acks, lines = journal_record(journals)
    folder: Counter[tuple[str, str]] = Counter()
    for files in folders.values():
        folder.update(files)
    fetched = inbox.fetched
    arrived = set(http) | set(folder) | set(fetched)
    duplicates = sum(n - 1 for n in (http + fetched).values() if n > 1)
    # ---- lost ----------------------------------------------------------------------------------------------
    lost: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)

    def lose(why: str, what: str) -> None:
        lost[why] += 1
        if len(examples[why]) < 5:
            examples[why].append(what)

    awaiting = 0
    for mid in not_stored:
        for r in stream.by_mid[mid].recipients:
            lose("accepted but not stored", f"{mid} → {r}")
    for pair in sorted(expected):
        mid, r = pair
        if mid in not_stored:
            continue
        got = row.get(pair)
        if got is None:
            lose("no delivery row", f"{mid} → {r}")
        elif got.state in ("delivered", "acknowledged"):
            if pair not in arrived:
                lose(f"hub says {got.state}, {r} has no record of it", f"{mid} → {r} ({got.transport})")
        elif got.state == "failed":
            if any(f["status"] != "resolved" for f in ft_by_delivery.get(str(got.id), [])):
                awaiting += 1
            else:
                lose("failed with no open failed transfer", f"{mid} → {r}")
        else:
            lose(f"still {got.state} at the end", f"{mid} → {r}")
    unexpected_rows = sorted(set(row) - expected - {k for k in row if k[0] not in accepted})
    # ---- acknowledged -----------------------------------------------------------------------------------------
    acked = {k for k, d in row.items() if d.state == "acknowledged"}
    how: Counter[str] = Counter()
    for k in acked:
        d = row[k]
        how["回执 (DocumentReceipt)" if d.ack_message_id else
            "inbox ack" if d.transport == "inbox" else "TechnicalAck in the push answer"] += 1
    inbox_acked = {(str(d.message_id), str(d.recipient)) for d in dels if str(d.id) in inbox.acked}
    receipts = {(stream.by_mid[mid].xml.split(b"<receiptOf>")[1].split(b"<")[0].decode(), stream.by_mid[mid].sender)
                for mid in accepted if stream.by_mid[mid].kind == "DocumentReceipt"}
    given = (http_acks | inbox_acked | receipts) & expected
    ack_unrecorded = sorted(given - acked)
    # ---- applied twice ------------------------------------------------------------------------------------------
    # A delivery may succeed again after it failed (a 回执 REJECTED, an uncollected inbox item) and an operator
    # retried it: its events are counted per episode, which a 'failed' or 'retried' event ends.
    episode: Counter[str] = Counter()
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    attempt_outcomes: Counter[tuple[str, int]] = Counter()
    successes: Counter[str] = Counter()
    expiries: Counter[str] = Counter()
    redriven: Counter[str] = Counter()
    attempt_errors: Counter[str] = Counter()
    disk_full = 0
    for d_id, kind, detail in evs:
        if kind in ("failed", "retried"):
            episode[str(d_id)] += 1
        ep = f"{d_id}" + (f"@{episode[str(d_id)]}" if episode[str(d_id)] else "")
        by_kind[kind][ep] += 1
        info = json.loads(detail) if detail else {}
        if kind == "attempt" and "note" not in info:
            attempt_outcomes[(str(d_id), int(info.get("attempt", 0)))] += 1
            if info.get("outcome") in ("delivered", "acknowledged", "available"):
                successes[ep] += 1
            elif info.get("error"):
                attempt_errors[_shape(str(info["error"]))] += 1
                disk_full += "disk full" in str(info["error"])
        elif kind == "redriven":
            redriven[str(info.get("reason"))] += 1
            if info.get("reason") == "lease expired":
                expiries[str(d_id)] += 1
    claims = {str(d.id): int(d.attempts) for d in dels}
    applied: Counter[tuple[str, str]] = Counter()
    opened: Counter[str] = Counter()
    projected: set[str] = set()
    for kind, case_key, mid, detail in ledger:
        projected.add(str(mid))
        if kind == "applied":
            applied[(str(case_key), str(mid))] += 1
        elif kind == "obligation_opened":
            opened[str(json.loads(detail or "{}").get("obligation_id"))] += 1
    # which deliveries (or messages, cases, obligations) each check finds: counted, and a few shown with their timeline
    found: dict[str, list[str]] = {
        "delivery marked delivered twice": [d for d, n in by_kind["delivered"].items() if n > 1],
        "delivery marked acknowledged twice": [d for d, n in by_kind["acknowledged"].items() if n > 1],
        "one attempt's outcome recorded twice": [f"{d}#{a}" for (d, a), n in attempt_outcomes.items() if n > 1],
        "delivery succeeded twice": [d for d, n in successes.items() if n > 1],
        # each expiry ends one claim, and every claim not handed back counts in ``attempts``
        "lease expiry redriven twice": [d for d, n in expiries.items() if n > claims.get(d, 0)],
        "failed transfer opened twice for one delivery": [d for d, v in ft_by_delivery.items() if len(v) > 1],
        "message stored twice": _dupes((m.sender, m.sender_document_id) for m in msgs)
        + _dupes(m.content_sha256 for m in msgs),
        "delivery stored twice": [f"{k[0]}→{k[1]}" for k, v in rows_by_pair.items() if len(v) > 1],
        "ledger: message applied to its case twice": [f"{m} in {k}" for (k, m), n in applied.items() if n > 1],
        "ledger: obligation opened twice": [o for o, n in opened.items() if n > 1],
    }
    twice = {k: len(v) for k, v in found.items()}
    twice_examples = {check: [{"ref": ref, "timeline": timeline(engine, re.split("[#@]", ref)[0])} for ref in ids[:2]]
                      for check, ids in found.items() if ids}
    # ---- failed transfers ---------------------------------------------------------------------------------------
    groups: dict[tuple[str, str, str, str], Counter[str]] = defaultdict(Counter)
    for f in fts:
        key = (str(f["cause"]), str(f["recipient"]), str(f["status"]), str(f["resolution"] or ""))
        groups[key][_shape(str(f["detail"]))] += 1
    ft_groups = [{"cause": k[0], "recipient": k[1], "status": k[2], "resolution": k[3] or None,
                  "count": sum(v.values()), "details": dict(v.most_common(3))}
                 for k, v in sorted(groups.items(), key=lambda kv: -sum(kv[1].values()))]
    open_fts = [f for f in fts if f["status"] != "resolved"]
    unexpected_fts = [f for f in fts if not (f["recipient"] in faulted and f["cause"] == "retries_exhausted")
                      and f["cause"] != "not_collected"]
    # ---- per-person order at the HTTP endpoints --------------------------------------------------------------------
    seq = {str(m.id): int(m.seq) for m in msgs}
    firsts: dict[tuple[str, int], list[str]] = defaultdict(list)  # (agency, person) -> first arrivals in order
    seen: set[tuple[str, str]] = set()
    for line in sorted(lines, key=lambda r: r["at"]):
        k = (line["m"], line["a"])
        if k in seen or line["m"] not in stream.by_mid:
            continue
        seen.add(k)
        firsts[(line["a"], stream.by_mid[line["m"]].person)].append(line["m"])
    overtaken = sum(1 for mids in firsts.values() if mids != sorted(mids, key=lambda m: seq.get(m, 0)))
    ledger_types = {"SentencingDecision", "DocumentReceipt", "ReportingOutcome", "SupervisionEvent",
                    "CustodyNotice", "RevocationDecision", "PursuitRequest"}
    unprojected = sorted(m for m in stored & ours if stream.by_mid[m].kind in ledger_types and m not in projected)

    t.summary = {
        "notices": {
            "planned": stream.total, "accepted": len(accepted), "accepted_202": status[202],
            "accepted_200_on_resend": status[200], "resent_after_no_answer": resent,
            "refused": len(results.refused), "gave_up": len(results.gave_up), "stored": len(stored & ours),
            "stored_but_never_answered": len((stored & ours) - accepted), "stored_not_sent_by_the_run": len(strangers),
            "by_type": dict(Counter(stream.by_mid[m].kind for m in accepted).most_common()),
            "client_retries": dict(results.retry_reasons.most_common()),
        },
        "deliveries": {
            "expected": len(expected), "in_database": len(dels), "by_state": dict(states.most_common()),
            "delivered": sum(1 for k in expected if k in row and row[k].state in ("delivered", "acknowledged")),
            "arrived_per_recipients": len(arrived & expected), "duplicate_arrivals": duplicates,
            "unexpected_rows": len(unexpected_rows), "outbox_rows_left": outbox_rows,
            "per_person_order_broken": overtaken,
        },
        "acknowledged": {"total": len(acked & expected), "how": dict(how.most_common()),
                         "acks_given_by_recipients": len(given), "acks_not_recorded": len(ack_unrecorded)},
        "failed_transfers": {"total": len(fts), "open_at_end": len(open_fts),
                             "by_cause": dict(Counter(str(f["cause"]) for f in fts).most_common()),
                             "groups": ft_groups, "operator_retries": sum(operator.retried.values()),
                             "retried_and_delivered": dict(Counter(
                                 str(f["recipient"]) for f in fts if f["cause"] == "retries_exhausted"
                                 and f["resolution"] == "delivered after retry" and f["id"] in operator.retried)),
                             "operator_passes": operator.passes,
                             "operator_answers": dict(operator.answers.most_common()),
                             "operator_errors": dict(operator.errors.most_common())},
        "lost": sum(lost.values()), "lost_by_reason": dict(lost.most_common()),
        "lost_examples": dict(examples), "awaiting_operator": awaiting,
        "unexpected_failed_examples": [{"cause": f["cause"], "recipient": f["recipient"], "detail": f["detail"],
                                        "timeline": timeline(engine, str(f["delivery_id"]))}
                                       for f in unexpected_fts[:3] if f["delivery_id"]],
        "applied_twice": sum(twice.values()), "applied_twice_by_check": twice,
        "applied_twice_examples": twice_examples,
        "redriven": dict(redriven.most_common()),
        "failed_attempts": dict(attempt_errors.most_common(8)), "failed_attempts_disk_full": disk_full,
        "inbox": {"fetched": sum(fetched.values()), "acked": len(inbox.acked), "ack_changed": inbox.ack_changed,
                  "errors": dict(inbox.errors.most_common())},
        "ledger": {"messages_projected": len(projected & ours), "not_projected": len(unprojected),
                   "applied_lines": sum(applied.values()), "cursor": cursor,
                   "max_seq": max(seq.values(), default=0)},
    }
    # ---- what makes the run fail ----------------------------------------------------------------------------------
    if results.refused:
        p.append(f"{len(results.refused)} notices refused by the hub, e.g. {next(iter(results.refused.values()))}")
    if results.gave_up:
        p.append(f"{len(results.gave_up)} notices never answered, e.g. {next(iter(results.gave_up.values()))}")
    if len(accepted) != stream.total:
        p.append(f"{len(accepted)} of {stream.total} notices accepted")
    if sum(lost.values()):
        p.append(f"lost {sum(lost.values())}: {dict(lost)}; e.g. {dict(examples)}")
    if sum(twice.values()):
        p.append(f"state changes applied twice: { {k: v for k, v in twice.items() if v} }")
    if unexpected_rows:
        p.append(f"{len(unexpected_rows)} deliveries routing did not call for, e.g. {unexpected_rows[:3]}")
    if ack_unrecorded:
        p.append(f"{len(ack_unrecorded)} acks the recipients gave are not recorded, e.g. {ack_unrecorded[:3]}")
    if open_fts:
        p.append(f"{len(open_fts)} failed transfers still open at the end (each should have been retried), e.g. "
                 f"{[(f['cause'], f['recipient'], f['detail'][:120]) for f in open_fts[:3]]}")
    if unexpected_fts:
        p.append(f"{len(unexpected_fts)} failed transfers no injected fault explains, e.g. "
                 f"{[(f['cause'], f['recipient'], f['detail'][:120]) for f in unexpected_fts[:3]]}")
    if overtaken:
        p.append(f"per-person order broken at {overtaken} (recipient, person) pairs")
    if strangers:
        p.append(f"{len(strangers)} stored messages the run did not send")
    if unprojected:
        p.append(f"{len(unprojected)} stored messages the case ledger never read, e.g. {unprojected[:3]}")
    return t
