"""The audit log (invariant 7): every operator action and every view of a payload is appended here, through
``record`` and nowhere else, as a hash chain (hub.core.audit_chain) that ``verify`` walks; ``take_anchor`` and
``DailyAnchor`` export the chain's head so that a rewrite of the whole chain shows too (docs/security-audit.md)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from hub.core.audit_chain import Anchor, Break, Entry, Head, entry_hash, utc_text, walk
from hub.core.facts import SHANGHAI, legal_day
from hub.settings import DEFAULT_VAR, Settings
from hub.store.db import READ_ONLY, aware
from hub.store.schema import audit_head, audit_log

log = logging.getLogger("xianjie.audit")

ACTOR_MAX = 100
TARGET_MAX = 80
WALK_BATCH = 2000  # rows fetched at a time while verifying: the memory a walk holds does not grow with the log
GUARDS = {"postgresql": ("audit_log_append_only", "audit_log_no_truncate"),  # the triggers of migration 0019
          "sqlite": ("audit_log_no_update", "audit_log_no_delete")}

# Advancing the head first takes its lock (PostgreSQL: the row's; SQLite: the database's write lock, which
# make_engine's BEGIN IMMEDIATE holds already) until the caller's transaction ends: no two writers read one head.
_ADVANCE = (update(audit_head).where(audit_head.c.id == 1).values(seq=audit_head.c.seq + 1)
            .returning(audit_head.c.seq, audit_head.c.hash))
_APPEND = insert(audit_log)  # built once, executed with parameters: the statement is compiled once, not per entry
_SET_HASH = update(audit_head).where(audit_head.c.id == 1).values(hash=bindparam("new_hash"))


def detail_text(detail: Mapping[str, Any] | str | None) -> str | None:
    """The stored form of an entry's detail: JSON for a mapping (Chinese kept readable), text as it is."""
    if detail is None or isinstance(detail, str):
        return detail
    return json.dumps(dict(detail), ensure_ascii=False, default=str)


def command_line_actor() -> str:
    """Who a command-line action is recorded as when it names nobody with ``--by``: the operating-system account
    that ran it (``cli:root``), never an anonymous ``cli``."""
    try:
        import getpass
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no name for this uid (a container's bare uid)
        return f"cli:uid{os.getuid()}"


def record(conn: Connection, *, at: dt.datetime, actor: str, action: str, target: str,
           detail: Mapping[str, Any] | str | None = None) -> None:
    """Append one entry in the caller's transaction: it is written if and only if the action it records is, as the
    next link of the chain (a rolled-back transaction leaves neither an entry nor a gap)."""
    at = at.astimezone(dt.UTC) if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)
    actor, target, text_ = actor[:ACTOR_MAX], target[:TARGET_MAX], detail_text(detail)
    head = conn.execute(_ADVANCE).first()
    if head is None:
        raise LookupError("the audit log has no head row (table audit_head): the database predates migration 0019; "
                          "run `xianjie migrate`")
    seq, prev = int(head.seq), str(head.hash)
    h = entry_hash(seq=seq, at=at, actor=actor, action=action, target=target, detail=text_, prev_hash=prev)
    conn.execute(_APPEND, {"seq": seq, "at": at, "actor": actor, "action": action, "target": target,
                           "detail": text_, "prev_hash": prev, "hash": h})
    conn.execute(_SET_HASH, {"new_hash": h})


def read_head(conn: Connection) -> Head | None:
    row = conn.execute(select(audit_head.c.seq, audit_head.c.hash, audit_head.c.chain)
                       .where(audit_head.c.id == 1)).first()
    return None if row is None else Head(int(row.seq), str(row.hash), str(row.chain))


def _entry(r: Any) -> Entry:
    return Entry(int(r.id), None if r.seq is None else int(r.seq), aware(r.at) or r.at, r.actor, r.action, r.target,
                 r.detail, r.prev_hash, r.hash)


@contextmanager
def _entries(conn: Connection) -> Iterator[Iterator[Entry]]:
    """Every chained entry in seq order (then id), streamed (PostgreSQL: a server-side cursor, closed after)."""
    q = select(audit_log).where(audit_log.c.seq.is_not(None)).order_by(audit_log.c.seq, audit_log.c.id)
    result = conn.execution_options(yield_per=WALK_BATCH).execute(q)
    try:
        yield (_entry(r) for r in result)
    finally:
        result.close()


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction that sees one moment: entries committed while it reads are not half seen (PostgreSQL:
    REPEATABLE READ; SQLite in WAL: a read transaction of make_engine, which holds no write lock)."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        else:
            conn = conn.execution_options(**{READ_ONLY: True})
        with conn.begin():
            yield conn


def guards_present(conn: Connection) -> bool:
    """Whether the triggers refusing UPDATE and DELETE of audit entries are in place and enabled."""
    names: tuple[str, ...] = GUARDS.get(conn.dialect.name, ())
    if conn.dialect.name == "postgresql":
        found = conn.execute(text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass "
                                  "AND NOT tgisinternal AND tgenabled <> 'D'")).scalars()
    else:
        found = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                  "AND tbl_name = 'audit_log'")).scalars()
    return bool(names) and set(names) <= set(found)


@dataclass(frozen=True)
class Verdict:
    """What ``verify`` found: entries read, the head, the guard triggers, anchors, and the first break."""

    entries: int
    head: Head | None
    guards: bool
    anchors_mine: int
    anchors_agreed: int
    other_chains: tuple[str, ...]
    first_break: Break | None
    last: Entry | None

    @property
    def ok(self) -> bool:
        return self.first_break is None

    def plain(self) -> dict[str, object]:
        return {"ok": self.ok, "entries": self.entries,
                "head": None if self.head is None else vars(self.head),
                "last": None if self.last is None else self.last.plain(), "guard_triggers": self.guards,
                "anchors": {"of_this_chain": self.anchors_mine, "agreed": self.anchors_agreed,
                            "other_chains": list(self.other_chains)},
                "first_break": None if self.first_break is None else self.first_break.plain()}


def read_anchors(path: Path) -> list[Anchor]:
    """Every anchor in ``path`` (a directory of ``audit-anchor-*.json``, or one file); ValueError naming the file
    that is not an anchor, or a path that is neither."""
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(path.glob("audit-anchor-*.json"))
    else:
        raise ValueError(f"{path}: no such anchor file or directory")
    return [Anchor.parse(f.read_text(encoding="utf-8"), source=str(f)) for f in files]


def verify(engine: Engine, *, anchors: Path | Sequence[Anchor] | None = None) -> Verdict:
    """Walk the whole chain in seq order, reading it in batches inside one snapshot, and check it against the
    head and, given ``anchors`` (a directory, or anchors read already), against every anchor of this chain: the
    first entry altered, removed or inserted, or None. Anchors given but none of this chain is a break too."""
    loaded = read_anchors(anchors) if isinstance(anchors, Path) else list(anchors or ())
    with _snapshot(engine) as conn:
        head = read_head(conn)
        guards = guards_present(conn)
        chain = head.chain if head is not None else None
        mine = [a for a in loaded if a.chain == chain]
        others = tuple(sorted({a.chain for a in loaded if a.chain != chain}))
        with _entries(conn) as entries:
            walked = walk(entries, head=head, anchors=mine)
        found = walked.first_break
        if found is None:
            stray = conn.execute(select(audit_log).where(audit_log.c.seq.is_(None)).order_by(audit_log.c.id)
                                 .limit(1)).first()
            if stray is not None:
                found = Break("inserted", None, _entry(stray), "it has no seq: it was put in beside the chain")
        if found is None and anchors is not None and not mine:
            named = ", ".join(c[:8] for c in others[:3]) + (" …" if len(others) > 3 else "")
            where = f"{len(loaded)} anchors of {len(others)} other chains: {named}" if loaded else "no anchor at all"
            found = Break("rewritten", None, None, f"none of the anchors given belongs to this database's chain "
                                                   f"{chain} ({where}): the chain was replaced, or the anchors are "
                                                   "another hub's")
    return Verdict(walked.entries, head, guards, len(mine), walked.anchors_agreed, others, found, walked.last)


# ---- anchors ------------------------------------------------------------------------------------------------


def anchor_directory(settings: Settings) -> Path:
    """Where the running hub writes its daily anchors: the setting, else beside a SQLite database file, else
    var/audit-anchors."""
    if settings.audit_anchor_dir is not None:
        return settings.audit_anchor_dir
    u = make_url(settings.database_url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        return Path(u.database).parent / "audit-anchors"
    return DEFAULT_VAR / "audit-anchors"


def take_anchor(engine: Engine, *, now: dt.datetime) -> Anchor:
    """The chain's head now, with the day (Asia/Shanghai) it was taken on; LookupError before migration 0019."""
    with _snapshot(engine) as conn:
        head = read_head(conn)
        if head is None:
            raise LookupError("the audit log has no head row (table audit_head): run `xianjie migrate`")
        at = conn.execute(select(audit_log.c.at).where(audit_log.c.seq == head.seq)).scalar()
        count = int(conn.execute(select(func.count()).select_from(audit_log)
                                 .where(audit_log.c.seq <= head.seq)).scalar_one())
    return Anchor(head.chain, legal_day(now), head.seq, head.hash, None if at is None else utc_text(at), count,
                  utc_text(now))


def daily_path(directory: Path, anchor: Anchor) -> Path:
    return directory / f"audit-anchor-{anchor.chain[:8]}-{anchor.date.isoformat()}.json"


def _write_new(path: Path, content: str) -> None:
    """Write ``path`` whole or not at all, never over an existing file (FileExistsError)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, path)
    finally:
        tmp.unlink()


def write_anchor(anchor: Anchor, directory: Path, *, daily_only: bool = False) -> Path | None:
    """Store ``anchor`` in ``directory`` as the day's file, or, when the day has one, as a file named by the time
    too (``daily_only``: None then); an anchor already written is never overwritten."""
    directory.mkdir(parents=True, exist_ok=True)
    try:
        path = daily_path(directory, anchor)
        _write_new(path, anchor.text())
        return path
    except FileExistsError:
        if daily_only:
            return None
    stamp = dt.datetime.fromisoformat(anchor.taken_at.replace("Z", "+00:00")).astimezone(SHANGHAI)
    for n in range(1, 1000):
        suffix = "" if n == 1 else f"-{n}"
        path = directory / f"audit-anchor-{anchor.chain[:8]}-{anchor.date.isoformat()}T{stamp:%H%M%S}{suffix}.json"
        try:
            _write_new(path, anchor.text())
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"{directory}: too many anchors taken in the same second")


class DailyAnchor:
    """Writes the chain head to ``directory`` once a day (Asia/Shanghai): the first ``tick`` of a day whose file is
    not there yet writes it; a failure (a full disk, the database away) is logged and tried again later."""

    def __init__(self, directory: Path, *, retry_after: float = 60.0) -> None:
        self.directory, self.retry_after = directory, retry_after
        self.done: dt.date | None = None
        self._not_before = 0.0

    def tick(self, engine: Engine, *, now: dt.datetime) -> Path | None:
        """The file written now, or None (already written today, or it failed). Never raises: it runs in the
        sweeper's loop, which must go on sweeping whatever happens here."""
        if time.monotonic() < self._not_before:
            return None
        try:
            day = legal_day(now)
            if day == self.done:
                return None
            path = write_anchor(take_anchor(engine, now=now), self.directory, daily_only=True)
        except Exception as e:
            log.warning("audit anchor of %s not written to %s (%s: %s); trying again in %.0f s", now,
                        self.directory, type(e).__name__, e, self.retry_after,
                        exc_info=not isinstance(e, (OSError, SQLAlchemyError, LookupError)))
            self._not_before = time.monotonic() + self.retry_after
            return None
        self.done = day
        if path is not None:
            log.info("audit anchor for %s written: %s", day, path)
        return path
