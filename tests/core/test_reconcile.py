"""Register reconciliation: a consistent county gives no item; each planted discrepancy is found
exactly once, in its category, naming the agency that must act; ids survive a re-run; items are tracked."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.core.idnumber import check_digit
from hub.core.reconcile import (
    ABSENT,
    Category,
    Discrepancy,
    LedgerPerson,
    MatchBy,
    RegisterKind,
    RegisterRow,
    Snapshot,
    Status,
    id_key,
    reconcile,
    resolve_items,
)

AS_OF = dt.date(2026, 6, 30)
COUNTY, OTHER_COUNTY = "530502", "530521"
BUREAU, COURT, POLICE, PRISON, HIGHER_COURT = "530502SF", "530502FY", "530502GA", "530502JY", "530500FY"
US, IC, AL, RV, RL = (Status.UNDER_SUPERVISION, Status.IN_CUSTODY, Status.AT_LARGE, Status.REVOKED,
                      Status.RELEASED)


def id_number(n: int, birth: dt.date) -> str:
    body = f"{COUNTY}{birth:%Y%m%d}{n % 1000:03d}"
    return body + check_digit(body)


@dataclass
class World:
    """A county's ledger and registers, keyed so that a plant can change one person's records."""

    ledger: dict[str, LedgerPerson] = field(default_factory=dict)
    bureau: dict[str, RegisterRow] = field(default_factory=dict)
    court: dict[str, RegisterRow] = field(default_factory=dict)
    prison: dict[str, RegisterRow] = field(default_factory=dict)
    custody: dict[str, RegisterRow] = field(default_factory=dict)
    wanted: dict[str, RegisterRow] = field(default_factory=dict)

    def snapshots(self) -> list[Snapshot]:
        def snap(kind: RegisterKind, agency: str, rows: dict[str, RegisterRow], start: dt.date | None = None
                 ) -> Snapshot:
            numbered = tuple(replace(r, number=i) for i, r in enumerate(rows.values(), 2))
            return Snapshot(kind, agency, AS_OF, numbered, period_start=start, digest=f"{kind}-digest")

        period = dt.date(2025, 1, 1)
        return [snap(RegisterKind.BUREAU_REGISTER, BUREAU, self.bureau),
                snap(RegisterKind.COURT_DECISIONS, COURT, self.court, period),
                snap(RegisterKind.PRISON_RELEASES, PRISON, self.prison, period),
                snap(RegisterKind.POLICE_CUSTODY, POLICE, self.custody),
                snap(RegisterKind.POLICE_WANTED, POLICE, self.wanted)]

    def run(self, **kw: int) -> list[Discrepancy]:
        return reconcile(ledger=list(self.ledger.values()), snapshots=self.snapshots(), as_of=AS_OF, **kw)


# kind: (correction type, ledger status, bureau status, deciding organ)
KINDS = {
    "probation": ("PROBATION", US, US, COURT),
    "control": ("CONTROL", US, US, COURT),
    "parole": ("PAROLE", US, US, HIGHER_COURT),
    "temp": ("TEMP_OUTSIDE", US, US, COURT),
    "custody": ("PROBATION", IC, IC, COURT),
    "at_large": ("PROBATION", AL, AL, COURT),
    "recommitted": ("PAROLE", RV, RV, HIGHER_COURT),
    "released": ("CONTROL", RL, RL, COURT),
    "fresh": ("PROBATION", US, None, COURT),
    "foreign": ("PROBATION", US, US, COURT),
    "elsewhere": ("PROBATION", US, None, COURT),
}


def clean_world(per_kind: int = 8) -> World:
    """Every agency's account agrees: persons of each kind, consistent across the ledger and every list."""
    w = World()
    n = 0
    for kind, (ctype, status, said, organ) in KINDS.items():
        for i in range(per_kind):
            n += 1
            key = f"{kind}-{i}"
            birth = dt.date(1960, 1, 1) + dt.timedelta(days=97 * n)
            start = dt.date(2025, 3, 1) if kind != "temp" else dt.date(2024, 6, 1)
            end = dt.date(2027, 2, 28) if kind != "released" else dt.date(2026, 1, 31)
            if kind == "fresh":
                start = AS_OF - dt.timedelta(days=3)
            idn = None if kind == "foreign" else id_number(n, birth)
            name = f"约翰·史密斯{n}" if kind == "foreign" else f"张{n}"
            case = f"（2025）云0502刑初{n}号"
            since = {IC: dt.date(2026, 6, 1), AL: dt.date(2026, 3, 1), RV: dt.date(2026, 3, 1)}.get(status)
            w.ledger[key] = LedgerPerson(key, idn, name, f"case-{n}", case, organ, ctype, start, end,
                                         OTHER_COUNTY if kind == "elsewhere" else COUNTY, status, BUREAU, True,
                                         birth_date=birth, effective_on=start, status_since=since)
            row = RegisterRow(0, name.replace("·", "・"), idn, birth_date=birth, case_number=case, deciding_organ=organ,
                              correction_type=ctype, period_start=start, period_end=end, division=COUNTY)
            if said is not None:
                w.bureau[key] = replace(row, status=said, since=since)
            if organ == COURT and start >= dt.date(2025, 1, 1) and kind not in ("fresh", "elsewhere"):
                w.court[key] = replace(row, effective_on=start, status=US)
            if status in (AL, RV):
                w.court[key + ":revoked"] = replace(row, case_number=f"（2026）云0502刑更{n}号", effective_on=since,
                                                    status=RV)
            if ctype == "PAROLE":
                w.prison[key] = replace(row, deciding_organ=organ, since=start, status=US)
            if status is IC:
                w.custody[key] = replace(row, since=since, organ="530502KS", status=IC)
            if status is AL:
                w.wanted[key] = replace(row, since=since, organ=POLICE, status=AL)
    return w


def _pop(d: dict[str, RegisterRow] | dict[str, LedgerPerson], key: str) -> None:
    del d[key]


def _revoke(w: World, key: str) -> None:
    row = w.bureau[key]
    w.court[key + ":revoked"] = replace(row, case_number="（2026）云0502刑更999号", effective_on=dt.date(2026, 5, 1),
                                        status=RV)


def _hold(w: World, key: str) -> None:
    w.custody[key] = replace(w.bureau[key], since=dt.date(2026, 6, 20), organ="530502KS", status=IC)


def _want(w: World, key: str) -> None:
    w.wanted[key] = replace(w.bureau[key], since=dt.date(2026, 6, 1), organ=POLICE, status=AL)


@dataclass(frozen=True)
class Plant:
    name: str
    person: str
    change: Callable[[World, str], None]
    category: Category
    acting: str
    confirming: str | None = None


PLANTS = [
    Plant("decided, served, not in register", "probation-0", lambda w, k: _pop(w.bureau, k),
          Category.DECIDED_NOT_IN_REGISTER, BUREAU),
    Plant("decided, never served, not in register", "probation-1",
          lambda w, k: (_pop(w.bureau, k), w.ledger.__setitem__(k, replace(w.ledger[k], documents_served=False))),
          Category.DECIDED_NOT_IN_REGISTER, COURT),
    Plant("court decision unknown to ledger and register", "control-0",
          lambda w, k: (_pop(w.bureau, k), _pop(w.ledger, k)), Category.DECIDED_NOT_IN_REGISTER, COURT),
    Plant("prison release unknown to ledger and register", "parole-0",
          lambda w, k: (_pop(w.bureau, k), _pop(w.ledger, k)), Category.DECIDED_NOT_IN_REGISTER, HIGHER_COURT),
    Plant("in register, no decision anywhere", "temp-0", lambda w, k: _pop(w.ledger, k),
          Category.IN_REGISTER_WITHOUT_BASIS, BUREAU, COURT),
    Plant("register's type differs", "probation-2",
          lambda w, k: w.bureau.__setitem__(k, replace(w.bureau[k], correction_type="CONTROL")),
          Category.TYPE_OR_PERIOD_MISMATCH, BUREAU, COURT),
    Plant("court's list differs from what the court sent", "probation-3",
          lambda w, k: w.court.__setitem__(k, replace(w.court[k], period_end=dt.date(2028, 2, 28))),
          Category.TYPE_OR_PERIOD_MISMATCH, COURT),
    Plant("released per register, supervised per ledger", "probation-4",
          lambda w, k: w.bureau.__setitem__(k, replace(w.bureau[k], status=RL)), Category.STATUS_MISMATCH, BUREAU,
          COURT),
    Plant("revoked per court, unknown to ledger and register", "control-1", _revoke, Category.STATUS_MISMATCH, COURT),
    Plant("wanted per police, supervised per register", "probation-5", _want, Category.STATUS_MISMATCH, BUREAU,
          POLICE),
    Plant("at large per ledger, not wanted by police", "at_large-0", lambda w, k: _pop(w.wanted, k),
          Category.STATUS_MISMATCH, POLICE, BUREAU),
    Plant("at large per ledger, in custody per police", "at_large-1", _hold, Category.STATUS_MISMATCH, POLICE,
          BUREAU),
    Plant("in custody per police, supervised per register", "probation-6", _hold,
          Category.CUSTODY_VS_SUPERVISION, BUREAU, POLICE),
    Plant("in custody per police and register, custody notice never sent", "custody-0",
          lambda w, k: w.ledger.__setitem__(k, replace(w.ledger[k], status=US, status_since=None)),
          Category.STATUS_MISMATCH, POLICE, BUREAU),
    Plant("recommitted per ledger, still wanted", "recommitted-0", _want, Category.STATUS_MISMATCH, POLICE, BUREAU),
    Plant("revoked per ledger, supervised per register", "recommitted-1",
          lambda w, k: w.bureau.__setitem__(k, replace(w.bureau[k], status=US)), Category.STATUS_MISMATCH, BUREAU,
          HIGHER_COURT),
]


def planted(plants: list[Plant], per_kind: int = 8) -> World:
    w = clean_world(per_kind)
    for p in plants:
        p.change(w, p.person)
    return w


def person_key_of(p: Plant, per_kind: int = 8) -> str:
    """The key an item about ``p``'s person carries: the ledger's, or the ID number when the ledger lacks them."""
    world = planted([p], per_kind)
    return p.person if p.person in world.ledger else "id:" + str(clean_world(per_kind).ledger[p.person].id_number)


def test_a_consistent_county_gives_no_item() -> None:
    # Given a county where the ledger and every agency's list agree (including a person matched by name and birth
    # date only, a decision still within its grace period and a person supervised in a county without a register)
    world = clean_world()
    # When reconciled
    items = world.run()
    # Then nothing is reported
    assert items == []


@pytest.mark.parametrize("plant", PLANTS, ids=[p.name for p in PLANTS])
def test_each_planted_discrepancy_is_found_once_with_its_acting_agency(plant: Plant) -> None:
    # Given a consistent county with one planted discrepancy
    world = planted([plant])
    # When reconciled
    items = world.run()
    # Then exactly one item is found, about that person, in its category, naming who acts and who confirms
    assert [(i.category, i.person_key, i.acting_agency, i.confirming_agency) for i in items] == [
        (plant.category, person_key_of(plant), plant.acting, plant.confirming)]
    item = items[0]
    assert item.division == COUNTY
    assert item.match is MatchBy.ID_NUMBER
    assert len(item.sides) >= 2 and item.sides[0] != item.sides[1]
    assert item.description_zh and item.description_en and plant.acting in item.description_zh


@settings(max_examples=40, deadline=None)
@given(chosen=st.sets(st.sampled_from(range(len(PLANTS)))), per_kind=st.integers(min_value=8, max_value=12))
def test_any_set_of_plants_is_found_exactly_and_nothing_else(chosen: set[int], per_kind: int) -> None:
    # Given a consistent county of any size with any set of planted discrepancies (each on its own person)
    plants = [PLANTS[i] for i in sorted(chosen)]
    world = planted(plants, per_kind)
    # When reconciled
    items = world.run()
    # Then the items are exactly the plants
    found = sorted((i.category, i.person_key, i.acting_agency) for i in items)
    assert found == sorted((p.category, person_key_of(p, per_kind), p.acting) for p in plants)


def test_decided_not_in_register_names_the_register_and_the_ledger() -> None:
    # Given a decision in the ledger missing from the register
    world = planted([PLANTS[0]])
    # When reconciled
    (item,) = world.run()
    # Then the reference side is the ledger's decision and the other the register's absence, as of its day
    ledger_side, register_side = item.sides
    assert (ledger_side.source, ledger_side.value) == ("ledger", "PROBATION 2025-03-01/2027-02-28")
    assert (register_side.source, register_side.agency, register_side.value, register_side.as_of) == (
        "bureau_register", BUREAU, ABSENT, AS_OF)
    assert "缓刑 2025-03-01至2027-02-28" in item.description_zh and "无此人" in item.description_zh


def test_the_rows_that_disagree_are_named() -> None:
    # Given a register row whose type disagrees with the ledger
    world = planted([PLANTS[5]])
    # When reconciled
    (item,) = world.run()
    # Then the register's side names its row in the file and the snapshot it came from
    register_side = item.sides[1]
    expected_row = list(world.bureau).index("probation-2") + 2
    assert (register_side.row, register_side.snapshot, register_side.value) == (
        expected_row, "bureau_register-digest", "CONTROL 2025-03-01/2027-02-28")


def test_a_decision_within_its_grace_period_is_not_yet_expected() -> None:
    # Given a decision that took effect 3 days before the register's day, and not in the register
    world = clean_world()
    # When reconciled with the 10-day grace, then with a 2-day grace
    assert world.run() == []
    items = world.run(grace_days=2)
    # Then only the shorter grace finds the fresh decisions missing
    assert {(i.category, i.person_key.split("-")[0]) for i in items} == {
        (Category.DECIDED_NOT_IN_REGISTER, "fresh")}
    assert len(items) == 8


def test_a_match_by_name_and_birth_date_is_reported_as_lower_confidence() -> None:
    # Given a person with no ID number, registered under a variant spelling of the dot, and a type disagreement
    world = clean_world()
    world.bureau["foreign-0"] = replace(world.bureau["foreign-0"], correction_type="CONTROL")
    # When reconciled
    (item,) = world.run()
    # Then the item is found and says the match rests on name and birth date
    assert (item.category, item.person_key, item.match) == (
        Category.TYPE_OR_PERIOD_MISMATCH, "foreign-0", MatchBy.NAME_AND_BIRTH)


def test_a_record_without_id_joins_the_one_id_of_its_name_and_birth_date() -> None:
    # Given a register row without an ID number for a person whom the ledger knows by ID, with a status disagreement
    world = clean_world()
    world.bureau["probation-7"] = replace(world.bureau["probation-7"], id_number=None, status=RL)
    # When reconciled
    (item,) = world.run()
    # Then the row is matched to the ledger person (no 漏管, no 无依据 item), at lower confidence
    assert (item.category, item.person_key, item.match) == (
        Category.STATUS_MISMATCH, "probation-7", MatchBy.NAME_AND_BIRTH)


def test_two_lists_saying_the_same_decision_is_missing_give_one_item() -> None:
    # Given a person the ledger and the prison both place in the county, missing from the register
    world = clean_world()
    del world.bureau["parole-1"]
    world.prison["parole-1"] = replace(world.prison["parole-1"], correction_type="PAROLE")
    world.court["parole-1:x"] = replace(world.prison["parole-1"], case_number="（2025）云05刑更1号",
                                        deciding_organ=HIGHER_COURT, effective_on=dt.date(2025, 3, 1))
    # When reconciled
    items = world.run()
    # Then one item carries both accounts
    assert [(i.category, i.person_key) for i in items] == [(Category.DECIDED_NOT_IN_REGISTER, "parole-1")]
    assert [s.source for s in items[0].sides] == ["ledger", "court_decisions", "bureau_register"]


def test_a_prefecture_register_covers_its_counties_and_the_county_bureau_acts() -> None:
    # Given the prefecture's bureau's register, which lacks a person supervised in 施甸县
    world = clean_world()
    snapshots = [*world.snapshots(), Snapshot(RegisterKind.BUREAU_REGISTER, "530500SF", AS_OF, ())]
    # When reconciled
    items = reconcile(ledger=list(world.ledger.values()), snapshots=snapshots, as_of=AS_OF)
    # Then the persons supervised in 530521 are missing from it, and the county's own bureau must act
    assert {(i.category, i.division, i.acting_agency) for i in items} == {
        (Category.DECIDED_NOT_IN_REGISTER, OTHER_COUNTY, "530521SF")}
    assert len(items) == 8


def test_rerunning_finds_the_same_ids() -> None:
    # Given a county with every plant
    world = planted(PLANTS)
    # When reconciled twice, the second time with the ledger and rows in another order
    first = world.run()
    world.ledger = dict(reversed(world.ledger.items()))
    world.bureau = dict(reversed(world.bureau.items()))
    second = world.run()
    # Then every item has the same id
    assert len(first) == len(PLANTS)
    assert sorted(str(i.id) for i in first) == sorted(str(i.id) for i in second)


def test_items_are_tracked_to_resolution() -> None:
    # Given the items open after a run with two plants
    opened = planted([PLANTS[0], PLANTS[7]]).run()
    # When the next run finds one fixed and another new
    now = planted([PLANTS[7], PLANTS[12]]).run()
    still, resolved, new = resolve_items(opened, now)
    # Then each is sorted out by id
    assert [i.category for i in still] == [Category.STATUS_MISMATCH]
    assert [i.category for i in resolved] == [Category.DECIDED_NOT_IN_REGISTER]
    assert [i.category for i in new] == [Category.CUSTODY_VS_SUPERVISION]
    assert still[0].id == next(i.id for i in opened if i.category is Category.STATUS_MISMATCH)


def test_a_snapshot_dated_after_the_run_is_refused() -> None:
    # Given a register dated after the reconciliation day
    world = clean_world()
    # When reconciled as of the day before, then it is refused
    with pytest.raises(ValueError, match="after"):
        reconcile(ledger=[], snapshots=world.snapshots(), as_of=AS_OF - dt.timedelta(days=1))


@pytest.mark.parametrize(("raw", "expected"), [
    ("530502198001011236", None),  # wrong check character
    (None, None),
    ("", None),
])
def test_id_key_refuses_what_is_not_an_id(raw: str | None, expected: str | None) -> None:
    # Given something typed as an ID number, when keyed, then nothing is matched on it
    assert id_key(raw) is expected


def test_id_key_normalises_full_width_lower_case_and_legacy_numbers() -> None:
    # Given one valid number written three ways
    number = id_number(7, dt.date(1968, 3, 5))
    legacy = number[:6] + number[8:17]
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in number)
    # When keyed, then all give the 18-character form
    assert id_key(full_width) == number
    assert id_key(" " + number.lower() + " ") == number
    assert id_key(legacy) == number


def test_ledger_person_and_register_row_are_frozen_and_compact() -> None:
    # Given a row, when changed or given a new attribute, then it refuses
    row = RegisterRow(1, "张三")
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.name = "李四"  # type: ignore[misc]
    assert not hasattr(row, "__dict__")
