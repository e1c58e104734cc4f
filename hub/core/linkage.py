"""Linking agencies' records into persons: MATCH pairs joined, POSSIBLE pairs queued for a reviewer.

Only records that share a block are compared, never all pairs: the same normalised ID number, the same
birth date with a reading of the same surname (heteronyms each count: 单 under dan, chan and shan), or the
same case number. Pairs a reviewer has decided are compared whatever their blocks.

MATCH pairs are joined with union-find, strongest first and then by record key, so that the persons found
do not depend on the order of the input. A join that would put two records decided NOT_SAME into one person
is refused, and so is one that would give a person two different valid ID numbers without a reviewer's SAME
decision on that very pair; the pair goes to the review queue instead, marked with the reason.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import combinations

from hub.core.identity import (
    NO_DECISIONS,
    Decision,
    Decisions,
    Features,
    Judgement,
    MatchResult,
    PersonRecord,
    Reason,
    RecordKey,
    Verdict,
    features,
    match_features,
)

KEPT_APART = Reason("kept_apart", "关联将合并已判定非同一人的记录，未自动关联",
                    "linking would join records decided not the same person; not linked")
IDS_APART = Reason("ids_apart", "关联将合并身份证号码不同的记录，未自动关联",
                   "linking would join records with different ID numbers; not linked")


@dataclass(frozen=True)
class ReviewItem:
    """A pair of records a person must decide on: the same person or not."""

    a: RecordKey
    b: RecordKey
    result: MatchResult


@dataclass(frozen=True)
class Linkage:
    """Records grouped into persons (each group and the groups sorted by record key), and the review queue."""

    persons: tuple[tuple[RecordKey, ...], ...]
    review: tuple[ReviewItem, ...]
    _index: Mapping[RecordKey, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {k: p for p, group in enumerate(self.persons) for k in group})

    def person_of(self, key: RecordKey) -> tuple[RecordKey, ...]:
        """Every record linked with this one (itself included); KeyError for a record not linked."""
        return self.persons[self._index[key]]


def blocking_keys(f: Features) -> Iterator[Hashable]:
    """The blocks a record is compared within."""
    if f.id18:
        yield ("id", f.id18)
    if f.birth is not None:
        for surname in f.name.surname_keys:
            yield ("born", f.birth, surname)
    for case in f.cases:
        yield ("case", case)


class _Groups:
    """Union-find over record indices that keeps apart records decided NOT_SAME and different ID numbers."""

    def __init__(self, feats: list[Features], apart: Iterable[tuple[int, int]]) -> None:
        self.parent = list(range(len(feats)))
        self.size = [1] * len(feats)
        self.ids = {i: frozenset({f.id18}) for i, f in enumerate(feats) if f.id18}
        self.apart: dict[int, set[int]] = defaultdict(set)
        for i, j in apart:
            self.apart[i].add(j)
            self.apart[j].add(i)

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def union(self, i: int, j: int, *, decided: bool) -> Reason | None:
        """Join the groups of i and j, or say why not (and join nothing).

        A person has one ID number: groups holding different numbers are joined only by a SAME decision on
        the pair itself, never through a record that has none (two namesakes born the same day).
        """
        ri, rj = self.find(i), self.find(j)
        if ri == rj:
            return None
        if any(self.find(x) == rj for x in self.apart.get(ri, ())):
            return KEPT_APART
        ids_i, ids_j = self.ids.get(ri, frozenset()), self.ids.get(rj, frozenset())
        if ids_i and ids_j and not ids_i & ids_j and not decided:
            return IDS_APART
        if self.size[ri] < self.size[rj]:
            ri, rj = rj, ri
        self.parent[rj] = ri
        self.size[ri] += self.size[rj]
        if rj in self.apart:
            self.apart[ri] |= self.apart.pop(rj)
        if ids_i | ids_j:
            self.ids[ri] = ids_i | ids_j
            self.ids.pop(rj, None)
        return None


def link(records: Iterable[PersonRecord], *, decisions: Decisions | Iterable[Decision] = NO_DECISIONS,
         today: dt.date | None = None) -> Linkage:
    """Group records into persons by MATCH, never across a NOT_SAME decision; POSSIBLE pairs to review once each."""
    book = Decisions.of(decisions)
    feats = [features(r, today=today) for r in records]
    keys = [f.record.key for f in feats]
    where: dict[RecordKey, int] = {}
    for i, k in enumerate(keys):
        if where.setdefault(k, i) != i:
            raise ValueError(f"record {k} appears twice")
    n = len(feats)
    blocks: dict[Hashable, list[int]] = defaultdict(list)
    for i, f in enumerate(feats):
        for b in blocking_keys(f):
            blocks[b].append(i)
    pairs: set[int] = set()
    for members in blocks.values():
        for i, j in combinations(members, 2):
            pairs.add(i * n + j if i < j else j * n + i)
    apart: list[tuple[int, int]] = []
    for (ka, kb), d in book.by_pair.items():
        if ka in where and kb in where:
            i, j = sorted((where[ka], where[kb]))
            pairs.add(i * n + j)
            if d.judgement is Judgement.NOT_SAME:
                apart.append((i, j))
    joins: list[tuple[int, RecordKey, RecordKey, int, int, MatchResult]] = []
    possible: list[tuple[int, int, MatchResult]] = []
    for p in pairs:
        i, j = divmod(p, n)
        result = match_features(feats[i], feats[j], decisions=book)
        if result.verdict is Verdict.MATCH:
            ka, kb = sorted((keys[i], keys[j]))
            joins.append((-result.score, ka, kb, i, j, result))
        elif result.verdict is Verdict.POSSIBLE:
            possible.append((i, j, result))
    groups = _Groups(feats, apart)
    joins.sort(key=lambda e: e[:3])
    for _, _, _, i, j, result in joins:
        refused = groups.union(i, j, decided=result.codes == ("decided_same",))
        if refused is not None:
            possible.append((i, j, MatchResult(Verdict.POSSIBLE, result.score, (*result.reasons, refused))))
    review = [ReviewItem(min(keys[i], keys[j]), max(keys[i], keys[j]), result)
              for i, j, result in possible if groups.find(i) != groups.find(j)]
    review.sort(key=lambda r: (-r.result.score, r.a, r.b))
    by_root: dict[int, list[RecordKey]] = defaultdict(list)
    for i, k in enumerate(keys):
        by_root[groups.find(i)].append(k)
    return Linkage(tuple(sorted(tuple(sorted(g)) for g in by_root.values())), tuple(review))
