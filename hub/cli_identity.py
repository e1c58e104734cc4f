"""``xianjie identity``: catch up with the stored messages and relink, the review queue of possible matches, a
reviewer's decision (kept for ever, audited), and the records behind a person key."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

HOW_ZH = {"alone": "单独", "id": "身份证号码", "match": "比对一致", "decision": "人工判定", None: "未关联"}
STATUS_ZH = {"open": "待核查", "decided": "已判定", "withdrawn": "已撤回"}


def cmd_index(args: argparse.Namespace, engine: Engine) -> int:
    from hub.identity_store import index_messages, relink

    read = records = 0
    skipped: list[str] = []
    while True:
        done = index_messages(engine, limit=args.batch)
        read, records, skipped = read + done.read, records + done.records, skipped + list(done.skipped)
        if done.caught_up or not done.read:
            break
    linked = relink(engine)
    print(f"索引 indexed {read} messages up to seq {done.cursor}: {records} person records created or updated"
          + (f"; {len(skipped)} unreadable, skipped: {', '.join(skipped)}" if skipped else ""))
    if not done.caught_up:
        print("  (stopped at a message that may still be committing; run again in a minute)")
    print(f"关联 linked {linked.records} records into {linked.persons} persons ({linked.links_changed} links "
          f"changed); 待核查 review queue: {linked.queued} new, {linked.withdrawn} withdrawn")
    return 0


def _record(r: dict[str, Any]) -> str:
    return (f"{r['agency']} {r['record_id']}  {r['name']}  {r['id_number'] or '无身份证号 no ID'}  "
            f"{r['birth_date'] or '-'}  {'、'.join(r['case_numbers']) or '-'}")


def cmd_reviews(args: argparse.Namespace, engine: Engine) -> int:
    from hub.identity_store import reviews

    items = reviews(engine, status=None if args.status == "all" else args.status, limit=args.limit)
    if args.json:
        print(json.dumps(items, ensure_ascii=False, indent=2))
        return 0
    print(f"身份核查 identity reviews ({args.status}): {len(items)}")
    for i in items:
        print(f"{i['id']}  {STATUS_ZH[i['status']]} {i['status']}  score {i['score']}")
        print(f"    A {_record(i['a'])}\n    B {_record(i['b'])}")
        for reason in i["reasons"]:
            print(f"    · {reason['zh']} ({reason['en']})")
    return 0


def cmd_decide(args: argparse.Namespace, engine: Engine) -> int:
    from hub.identity_store import decide, reviews

    found = reviews(engine, status=None, review_id=args.review_id)
    if not found:
        print(f"no identity review {args.review_id!r}", file=sys.stderr)
        return 2
    try:
        out = decide(engine, found[0]["a"]["id"], found[0]["b"]["id"], same=args.same, by=args.by,
                     reason=args.reason)
    except ValueError as e:
        print(f"refused, nothing stored: {e}", file=sys.stderr)
        return 2
    verdict = "同一人 the same person" if args.same else "非同一人 not the same person"
    print(f"判定 decision #{out['decision_id']}: {verdict} (recorded, audited"
          + (f"; supersedes {out['supersedes']})" if out["supersedes"] else ")"))
    print(f"关联 relinked: {out['relink']['persons']} persons, {out['relink']['links_changed']} links changed")
    return 0


def cmd_person(args: argparse.Namespace, engine: Engine) -> int:
    from hub.identity_store import person_of

    persons = person_of(engine, args.ref)
    if args.json:
        print(json.dumps(persons, ensure_ascii=False, indent=2))
        return 0 if persons else 1
    if not persons:
        print(f"no person record for {args.ref!r} (run `xianjie identity index` to catch up)", file=sys.stderr)
        return 1
    for p in persons:
        print(f"人员 person {p['person_id'] or '(not linked yet)'}: {len(p['records'])} records")
        for r in p["records"]:
            print(f"    {_record(r)}  [{HOW_ZH[r['how']]} {r['how'] or 'unlinked'}]")
    return 0


def register(sub: Any, engine_of: Callable[[argparse.Namespace], Engine]) -> None:
    """Add ``identity`` to the ``xianjie`` command."""

    def bind(parser: argparse.ArgumentParser, fn: Callable[[argparse.Namespace, Engine], int]) -> None:
        def run(args: argparse.Namespace) -> int:
            engine = engine_of(args)
            try:
                return fn(args, engine)
            finally:
                engine.dispose()  # a command's connections close with it

        parser.set_defaults(func=run)

    ip = sub.add_parser("identity", help="link agencies' records of a person; review possible matches")
    isub = ip.add_subparsers(dest="identity_command", required=True)
    p = isub.add_parser("index", help="read the messages stored since the last run, then relink")
    p.add_argument("--batch", type=int, default=1000, help="messages per transaction")
    bind(p, cmd_index)
    p = isub.add_parser("reviews", help="possible matches waiting for a reviewer")
    p.add_argument("--status", choices=["open", "decided", "withdrawn", "all"], default="open")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")
    bind(p, cmd_reviews)
    p = isub.add_parser("decide", help="decide a review item: the same person or not (kept, audited)")
    p.add_argument("review_id")
    verdict = p.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--same", dest="same", action="store_true", help="the two records are one person")
    verdict.add_argument("--not-same", dest="same", action="store_false", help="two different persons")
    p.add_argument("--by", required=True, help="who decides (audited)")
    p.add_argument("--reason", required=True, help="why, e.g. what was checked (audited)")
    bind(p, cmd_decide)
    p = isub.add_parser("person", help="every agency's record of a person, by ID number, person key or record")
    p.add_argument("ref")
    p.add_argument("--json", action="store_true")
    bind(p, cmd_person)
