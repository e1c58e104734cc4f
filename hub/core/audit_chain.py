"""The audit log's hash chain as pure functions: the canonical form of an entry, its hash, and the walk that names
the first entry altered, removed or inserted (docs/security-audit.md describes the form and the verdicts).

An entry's hash is SHA-256 over ``xianjie-audit-v1\\n`` followed by seven fields in this order: seq, at, actor,
action, target, detail, prev_hash. A field is its UTF-8 bytes prefixed by their length in decimal and a colon and
followed by a newline (``7:sign_in\\n``); an absent value (only detail may be absent) is ``-\\n``. seq is decimal;
at is UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``; prev_hash is the previous entry's hash in lower-case hex, 64 zeros
before the first entry."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

FORMAT = b"xianjie-audit-v1\n"
GENESIS = "0" * 64
ANCHOR_FORMAT = "xianjie-audit-anchor-v1"
MOVED_WINDOW = 1000  # how far from its place an entry's written seq is looked for, to explain a hash mismatch
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CHAIN = re.compile(r"[0-9a-f]{32}")


def utc_text(at: dt.datetime) -> str:
    """``at`` in UTC with microseconds and a Z; a naive value is taken as UTC (the store's convention)."""
    if at.tzinfo is not None:
        at = at.astimezone(dt.UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds") + "Z"


def _field(value: str | None) -> bytes:
    if value is None:
        return b"-\n"
    data = value.encode("utf-8")
    return str(len(data)).encode("ascii") + b":" + data + b"\n"


def canonical(*, seq: int | None, at: dt.datetime, actor: str | None, action: str | None, target: str | None,
              detail: str | None, prev_hash: str | None) -> bytes:
    """The bytes an entry's hash is taken over (the module docstring gives the form)."""
    return FORMAT + b"".join(_field(v) for v in (None if seq is None else str(seq), utc_text(at), actor, action,
                                                  target, detail, prev_hash))


def entry_hash(*, seq: int | None, at: dt.datetime, actor: str | None, action: str | None, target: str | None,
               detail: str | None, prev_hash: str | None) -> str:
    """SHA-256 of the entry's canonical form, lower-case hex."""
    return hashlib.sha256(canonical(seq=seq, at=at, actor=actor, action=action, target=target, detail=detail,
                                    prev_hash=prev_hash)).hexdigest()


@dataclass(frozen=True)
class Entry:
    """One stored audit entry as the walk reads it (any column may hold what an attacker put there)."""

    id: int
    seq: int | None
    at: dt.datetime
    actor: str
    action: str
    target: str
    detail: str | None
    prev_hash: str | None
    hash: str | None

    def computed(self, seq: int | None = None) -> str:
        """The hash this entry's content gives, at its own seq or at ``seq``."""
        return entry_hash(seq=self.seq if seq is None else seq, at=self.at, actor=self.actor, action=self.action,
                          target=self.target, detail=self.detail, prev_hash=self.prev_hash)

    def fits(self, seq: int, prev_hash: str) -> bool:
        """Whether this entry was written at ``seq`` after an entry whose hash is ``prev_hash``."""
        return self.prev_hash == prev_hash and self.hash == self.computed(seq)

    def label(self) -> str:
        return f"seq {self.seq}, id {self.id}, at {utc_text(self.at)}, action {self.action}, target {self.target}"

    def plain(self) -> dict[str, object]:
        return {"seq": self.seq, "id": self.id, "at": utc_text(self.at), "actor": self.actor, "action": self.action,
                "target": self.target}


@dataclass(frozen=True)
class Head:
    """The one-row head of the chain: the last seq, its hash, and the chain's id (anchors name it)."""

    seq: int
    hash: str
    chain: str


@dataclass(frozen=True)
class Anchor:
    """A chain head exported off the database: whoever rewrites the chain later cannot make it agree again."""

    chain: str
    date: dt.date
    seq: int
    hash: str
    at: str | None
    count: int
    taken_at: str
    source: str = ""  # the file it was read from

    def text(self) -> str:
        return json.dumps({"format": ANCHOR_FORMAT, "chain": self.chain, "date": self.date.isoformat(),
                           "seq": self.seq, "hash": self.hash, "at": self.at, "count": self.count,
                           "taken_at": self.taken_at}, indent=2) + "\n"

    @classmethod
    def parse(cls, text: str, *, source: str) -> Anchor:
        """An anchor from its JSON; ValueError naming the file and the field when it is not one."""
        try:
            d = json.loads(text)
        except ValueError as e:
            raise ValueError(f"{source}: not JSON ({e})") from None
        if not isinstance(d, dict) or d.get("format") != ANCHOR_FORMAT:
            raise ValueError(f"{source}: not an audit anchor (format must be {ANCHOR_FORMAT!r})")
        def ok(name: str, v: object) -> bool:
            if name in ("chain", "hash"):
                return isinstance(v, str) and bool((_CHAIN if name == "chain" else _HEX64).fullmatch(v))
            if name in ("seq", "count"):
                return type(v) is int and v >= 0
            if name == "date":
                return isinstance(v, str) and bool(re.fullmatch(r"\d{4}-\d\d-\d\d", v))
            return isinstance(v, str) or (name == "at" and v is None)

        for name in ("chain", "date", "seq", "hash", "at", "count", "taken_at"):
            if not ok(name, d.get(name)):
                raise ValueError(f"{source}: field {name!r} is missing or malformed ({d.get(name)!r})")
        return cls(d["chain"], dt.date.fromisoformat(d["date"]), d["seq"], d["hash"], d["at"], d["count"],
                   d["taken_at"], source)


@dataclass(frozen=True)
class Break:
    """The first place the chain fails: ``kind`` is altered, removed, inserted, rewritten (an anchor disagrees) or
    head (the head row is missing or wrong); ``seq`` the entry named; ``entry`` the row named, or for a removal
    the row found after the gap (None at the end)."""

    kind: str
    seq: int | None
    entry: Entry | None
    reason: str

    def text(self) -> str:
        where = f" ({self.entry.label()})" if self.entry is not None else ""
        if self.kind == "removed":
            at = f"entry seq {self.seq}" if self.seq is not None else "an entry"
            after = f"; the next entry present is {self.entry.label()}" if self.entry is not None else ""
            return f"removed: {at}: {self.reason}{after}"
        if self.seq is None and self.entry is None:
            return f"{self.kind}: {self.reason}"
        return f"{self.kind}: entry seq {self.seq}{where}: {self.reason}"

    def plain(self) -> dict[str, object]:
        return {"kind": self.kind, "seq": self.seq, "entry": None if self.entry is None else self.entry.plain(),
                "reason": self.reason}


@dataclass(frozen=True)
class Walked:
    """What a walk read: entries, the last one accepted, anchors that agreed, and the first break (None: intact)."""

    entries: int
    last: Entry | None
    anchors_agreed: int
    first_break: Break | None


def _written_seq(e: Entry, near: int) -> int | None:
    """The seq an entry whose content does not hash at its own seq was written with, if it is near ``near``."""
    for d in range(1, MOVED_WINDOW + 1):
        for s in (near + d, near - d):
            if s >= 1 and e.hash == e.computed(s):
                return s
    return None


def _judge(cur: Entry, nxt: Entry | None, *, e: int, p: str, pp: str, prev: Entry | None,
           head: Head | None) -> Break | None:
    """Whether ``cur``, read where seq ``e`` after a hash ``p`` is due, belongs there; if not, the first entry
    wrong and why (the look at ``nxt`` tells an insertion or a swap from an alteration)."""
    s = cur.seq
    assert s is not None
    if prev is not None and s == prev.seq:  # the same seq twice: the one the chain goes on from is genuine
        after = nxt.prev_hash if nxt is not None else head.hash if head is not None and head.seq == s else None
        if after is not None and after == cur.hash != prev.hash and cur.fits(s, pp):
            return Break("inserted", s, prev, f"seq {s} appears twice (ids {prev.id} and {cur.id}) and the chain "
                                              f"goes on from id {cur.id}")
        return Break("inserted", s, cur, f"seq {s} appears twice (ids {prev.id} and {cur.id}) and the chain goes on "
                                         f"from id {prev.id}")
    if s > e:
        gap = f"entry seq {e} is missing" if s == e + 1 else f"entries seq {e} to {s - 1} are missing"
        return Break("removed", e, cur, gap)
    if cur.fits(s, p):
        return None
    if cur.hash == cur.computed():  # intact in itself, but the entry before is not the one it was written after
        if prev is None:
            return Break("altered", s, cur, "the first entry does not begin from the genesis hash (64 zeros)")
        return Break("altered", prev.seq, prev, f"the next entry (seq {s}, id {cur.id}) was written after an entry "
                                                "with another hash: this one was rewritten and its hash recomputed")
    written = _written_seq(cur, s)
    nxt_belongs_here = nxt is not None and nxt.seq in (s, s + 1) and nxt.fits(s, p)
    if written == s + 1 and nxt_belongs_here:
        return Break("altered", s, cur, f"out of order: it was written as seq {s + 1} and has changed places with "
                                        f"the entry now at seq {s + 1}")
    if nxt_belongs_here:
        return Break("inserted", s, cur, f"the entry after it (id {nxt.id if nxt else '?'}) was written at "
                                         f"seq {s}, after seq {s - 1}")
    if written == s + 1 and cur.prev_hash != p:
        return Break("removed", s, cur, f"the entries after it were renumbered: the one now at seq {s} was "
                                        f"written as seq {s + 1}")
    if written == s - 1 and prev is not None and cur.prev_hash == pp:
        return Break("inserted", prev.seq, prev, f"the entries after it were renumbered: the one now at seq {s} "
                                                 f"(id {cur.id}) was written as seq {s - 1}, after seq {s - 2}")
    if written is not None:
        return Break("altered", s, cur, f"moved: it was written as seq {written}")
    return Break("altered", s, cur, "its content does not match its hash")


def walk(entries: Iterable[Entry], *, head: Head | None, anchors: Sequence[Anchor] = ()) -> Walked:
    """Check ``entries`` (in seq order, then id) against each other, the head and ``anchors`` (all of this chain),
    reading each once and keeping two entries in hand: the first break, or none."""
    by_seq: dict[int, list[Anchor]] = {}
    for a in anchors:
        by_seq.setdefault(a.seq, []).append(a)
    agreed: list[Anchor] = []
    for a in by_seq.get(0, ()):
        if a.hash != GENESIS:
            return Walked(0, None, 0, Break("rewritten", 0, None, f"anchor {a.source} of an empty chain records hash "
                                                                  f"{a.hash}, not the genesis hash"))
        agreed.append(a)
    it: Iterator[Entry] = iter(entries)
    cur = next(it, None)
    e, p, pp, prev, n = 1, GENESIS, GENESIS, None, 0
    while cur is not None:
        nxt = next(it, None)
        n += 1
        if cur.seq is None:
            return Walked(n, prev, len(agreed), Break("inserted", None, cur, "it has no seq: it is not in the chain"))
        found = _judge(cur, nxt, e=e, p=p, pp=pp, prev=prev, head=head)
        past_head = head is not None and cur.seq > head.seq
        if past_head and (found is None or (found.entry is cur and found.kind != "removed")):
            found = Break("inserted", cur.seq, cur, f"the head records seq {head.seq if head else 0} as the last: "
                                                    "this entry was added after it")
        if found is not None:
            return Walked(n, prev, len(agreed), found)
        for a in by_seq.get(cur.seq, ()):
            if a.hash != cur.hash:
                since = max((x.seq for x in agreed), default=0)
                return Walked(n, prev, len(agreed), Break("rewritten", cur.seq, cur, (
                    f"anchor {a.source} (taken {a.taken_at}) records hash {a.hash} for seq {a.seq}, the chain now "
                    f"has {cur.hash}: the chain was rewritten after the anchor was taken, somewhere in seq "
                    f"{since + 1} to {a.seq} (the last anchor that agrees is at seq {since})")))
            agreed.append(a)
        pp, p, prev, e = p, cur.hash or "", cur, e + 1
        cur = nxt
    last = e - 1
    if head is None:
        return Walked(n, prev, len(agreed), Break("head", None, None, "the head row (audit_head) is missing"))
    if head.seq > last:
        return Walked(n, prev, len(agreed), Break("removed", last + 1, None, (
            f"the head records seq {head.seq} as the last entry but the chain ends at seq {last}: "
            f"{head.seq - last} entries were removed from its end")))
    if head.hash != p:
        return Walked(n, prev, len(agreed), Break("altered", last, prev, (
            f"the head records hash {head.hash} for the last entry: it was rewritten and its hash recomputed "
            "(or the head was changed)")))
    beyond = [a for a in anchors if a.seq > last]
    if beyond:
        a = min(beyond, key=lambda x: x.seq)
        return Walked(n, prev, len(agreed), Break("removed", last + 1, None, (
            f"anchor {a.source} (taken {a.taken_at}) records seq {a.seq}, but the chain ends at seq {last}: "
            "entries were removed from its end and the head set back")))
    return Walked(n, prev, len(agreed), None)
