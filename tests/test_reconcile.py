"""Fact reconciliation: a table of timelines and what a new statement does to them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from engram.write.reconcile import Candidate, addressed, reconcile

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def day(month: int, year: int = 2024) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def cand(value: str, when: datetime, *, turn: str = "t1", attribute: str = "lives_in", multi: bool = False) -> Candidate:
    return Candidate("t", "u", None, "Sam", attribute, value, f"Sam lives in {value}", "location", multi, when, 0.8, "rules", turn)


def apply(versions, candidate, now=NOW):
    by_id = {v.id: v for v in versions}
    ops = reconcile(candidate, [v for v in by_id.values() if v.slot == candidate.slot], now=now)
    for op in ops:
        by_id[op.version.id] = op.version
    return ops, sorted(by_id.values(), key=lambda v: v.valid_from)


def build(*steps):
    versions = []
    for value, when, turn in steps:
        _, versions = apply(versions, cand(value, when, turn=turn))
    return versions


def test_first_statement_adds_a_current_version():
    ops, versions = apply([], cand("Portland", day(1)))
    assert [op.action for op in ops] == ["add"]
    (v,) = versions
    assert (v.value, v.valid_from, v.valid_to, v.recorded_at, v.current) == ("Portland", day(1), None, NOW, True)


def test_a_new_value_supersedes_and_closes_the_old_one():
    versions = build(("Portland", day(1), "t1"), ("Denver", day(4), "t2"))
    old, new = versions
    assert (old.value, old.valid_to, old.superseded_at, old.superseded_by) == ("Portland", day(4), NOW, new.id)
    assert (new.value, new.valid_from, new.valid_to, new.current) == ("Denver", day(4), None, True)
    assert old.true_at(day(2)) and not old.true_at(day(5)) and new.true_at(day(5))


def test_saying_it_again_reinforces_without_a_new_version():
    versions = build(("Denver", day(4), "t1"), ("denver", day(6), "t2"))
    (v,) = versions
    assert v.mentions == 2 and v.confidence > 0.8 and v.source_turn_ids == ("t1", "t2")


def test_the_same_turn_twice_is_a_no_op():
    versions = build(("Denver", day(4), "t1"))
    ops, _ = apply(versions, cand("Denver", day(4), turn="t1"))
    assert ops == []


def test_an_older_statement_arriving_late_goes_before_the_newer_one():
    versions = build(("Denver", day(4), "t2"), ("Portland", day(1), "t1"))
    portland, denver = versions
    assert (portland.valid_from, portland.valid_to, portland.current) == (day(1), day(4), False)
    assert denver.current and denver.superseded_at is None


def test_an_earlier_mention_of_the_same_value_moves_its_start_back():
    versions = build(("Denver", day(4), "t2"), ("Denver", day(2), "t1"))
    (v,) = versions
    assert v.valid_from == day(2) and v.mentions == 2


def test_a_value_that_returns_is_a_third_version():
    versions = build(("Portland", day(1), "t1"), ("Denver", day(4), "t2"), ("Portland", day(9), "t3"))
    assert [v.value for v in versions] == ["Portland", "Denver", "Portland"]
    assert [v.current for v in versions] == [False, False, True]


def test_multi_valued_slots_keep_every_value():
    dog = cand("dog named Rex", day(1), attribute="pet", multi=True)
    cat = cand("cat named Mo", day(3), attribute="pet", multi=True, turn="t2")
    _, versions = apply([], dog)
    _, versions = apply(versions, cat)
    assert {v.value for v in versions} == {"dog named Rex", "cat named Mo"} and all(v.current for v in versions)
    assert dog.slot != cat.slot


def test_preference_reversal_supersedes():
    likes = replace(cand("likes", day(1), attribute="preference:sushi"), statement="Sam likes sushi")
    dislikes = replace(cand("dislikes", day(5), attribute="preference:sushi", turn="t2"), statement="Sam dislikes sushi")
    _, versions = apply([], likes)
    _, versions = apply(versions, dislikes)
    assert [(v.value, v.current) for v in versions] == [("likes", False), ("dislikes", True)]


def test_rechain_reopens_the_version_before_a_forgotten_one():
    from engram.write.reconcile import rechain

    portland, _denver, austin = build(("Portland", day(1), "t1"), ("Denver", day(4), "t2"), ("Austin", day(8), "t3"))
    changed = {v.value: v for v in rechain([portland, austin], now=NOW)}  # Denver was forgotten
    assert changed["Portland"].valid_to == day(8) and changed["Portland"].superseded_by == austin.id
    assert "Austin" not in changed  # already open and last
    (reopened,) = rechain([portland], now=NOW)
    assert reopened.current and reopened.valid_to is None and reopened.superseded_by is None


# -- statements that a value ended, and closed past versions (issue 10) -------------------------


def ends(value: str, when: datetime, *, turn: str = "t9", attribute: str = "lives_in", multi: bool = False) -> Candidate:
    return replace(cand(value, when, turn=turn, attribute=attribute, multi=multi), ends=True)


def past(value: str, start: datetime, end: datetime, *, turn: str = "t8") -> Candidate:
    return replace(cand(value, start, turn=turn), valid_to=end)


def run(steps):
    """Apply candidates in order; returns every version, by valid_from."""
    versions: list = []
    for candidate in steps:
        _, versions = apply(versions, candidate)
    return versions


def timeline(versions):
    """(value, valid_from month/year, valid_to month/year or None) per version, oldest first."""
    return [
        (v.value, (v.valid_from.year, v.valid_from.month), (v.valid_to.year, v.valid_to.month) if v.valid_to else None)
        for v in versions
        if v.valid_to is None or v.valid_to > v.valid_from
    ]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param(  # "I don't live in Chicago anymore"
            [cand("Chicago", day(1)), ends("Chicago", day(5))],
            [("Chicago", (2024, 1), (2024, 5))],
            id="ends-closes-the-current-version",
        ),
        pytest.param(  # "I quit my job": no value named
            [cand("barista", day(1), attribute="occupation"), ends("", day(5), attribute="occupation")],
            [("barista", (2024, 1), (2024, 5))],
            id="ends-without-a-value-closes-the-current-version",
        ),
        pytest.param(  # "I don't live in Boston anymore" while memory holds Chicago
            [cand("Chicago", day(1)), ends("Boston", day(5))],
            [("Chicago", (2024, 1), None)],
            id="ends-of-another-value-is-a-no-op",
        ),
        pytest.param([ends("Chicago", day(5))], [], id="ends-with-nothing-stored-adds-nothing"),
        pytest.param(  # "I don't live in Chicago anymore, I'm in Seattle now": both orders
            [cand("Chicago", day(1)), ends("Chicago", day(5)), cand("Seattle", day(5), turn="t9")],
            [("Chicago", (2024, 1), (2024, 5)), ("Seattle", (2024, 5), None)],
            id="ends-then-new-value",
        ),
        pytest.param(
            [cand("Chicago", day(1)), cand("Seattle", day(5), turn="t9"), ends("Chicago", day(5))],
            [("Chicago", (2024, 1), (2024, 5)), ("Seattle", (2024, 5), None)],
            id="new-value-then-ends",
        ),
        pytest.param(  # "Rex passed away": only Rex's version of the multi-valued pet slot
            [
                cand("dog named Rex", day(1), attribute="pet", multi=True),
                cand("cat named Mo", day(2), attribute="pet", multi=True, turn="t2"),
                ends("dog named Rex", day(6), attribute="pet", multi=True),
            ],
            [("dog named Rex", (2024, 1), (2024, 6)), ("cat named Mo", (2024, 2), None)],
            id="ends-in-a-multi-valued-slot-closes-that-value-only",
        ),
        pytest.param(  # said again later: nothing more to close
            [cand("Chicago", day(1)), ends("Chicago", day(5)), ends("Chicago", day(7), turn="t10")],
            [("Chicago", (2024, 1), (2024, 5))],
            id="ends-twice-keeps-the-first-end",
        ),
        pytest.param(  # "I lived in Paris from 2015 to 2018", said after "I live in Berlin"
            [cand("Berlin", day(1)), past("Paris", day(1, 2015), day(1, 2018))],
            [("Paris", (2015, 1), (2018, 1)), ("Berlin", (2024, 1), None)],
            id="a-past-span-said-late-goes-in-its-place-and-current-stays",
        ),
        pytest.param(  # the past span inside the current version: the current value resumes after it
            [cand("London", day(1, 2010)), past("Paris", day(1, 2015), day(1, 2018))],
            [("London", (2010, 1), (2015, 1)), ("Paris", (2015, 1), (2018, 1)), ("London", (2018, 1), None)],
            id="a-past-span-inside-the-current-version-splits-it",
        ),
        pytest.param(  # a past span that runs into the next version ends where it starts
            [cand("Berlin", day(1, 2018)), past("Paris", day(1, 2015), day(1, 2020))],
            [("Paris", (2015, 1), (2018, 1)), ("Berlin", (2018, 1), None)],
            id="a-past-span-stops-at-the-next-version",
        ),
        pytest.param(  # "I lived in Paris until 2018" after "I live in Paris" (2015)
            [cand("Paris", day(1, 2015)), past("Paris", day(1, 2015), day(1, 2018))],
            [("Paris", (2015, 1), (2018, 1))],
            id="a-past-span-of-the-current-value-closes-it",
        ),
        pytest.param(  # Paris 2015-2018, then back in Paris since 2024: two versions, not one
            [cand("Paris", day(1, 2024)), past("Paris", day(1, 2015), day(1, 2018))],
            [("Paris", (2015, 1), (2018, 1)), ("Paris", (2024, 1), None)],
            id="a-past-span-of-the-same-value-long-before-stays-separate",
        ),
        pytest.param(  # nothing to place: the end is not after the start
            [cand("Berlin", day(1)), past("Paris", day(1, 2018), day(1, 2015))],
            [("Berlin", (2024, 1), None)],
            id="a-span-that-ends-before-it-starts-is-a-no-op",
        ),
    ],
)
def test_ends_and_past_spans_on_the_timeline(steps, expected):
    assert timeline(run(steps)) == expected


def test_an_ended_version_is_no_longer_current_and_nothing_is_added():
    versions = run([cand("Chicago", day(1))])
    ops, after = apply(versions, ends("Chicago", day(5)))
    assert [op.action for op in ops] == ["end"]
    (chicago,) = after
    assert not chicago.current and chicago.true_at(day(3)) and not chicago.true_at(day(6))
    assert apply(after, ends("Chicago", day(5)))[0] == []  # the same statement twice: no-op


def test_a_past_span_said_twice_is_a_no_op_and_keeps_the_current_version_current():
    versions = run([cand("London", day(1, 2010)), past("Paris", day(1, 2015), day(1, 2018))])
    ops, again = apply(versions, past("Paris", day(1, 2015), day(1, 2018)))
    assert ops == [] and [v.value for v in again if v.current] == ["London"]


def test_rechain_keeps_an_end_that_a_statement_made():
    from engram.write.reconcile import rechain

    chicago, _seattle = run([cand("Chicago", day(1)), ends("Chicago", day(3)), cand("Seattle", day(5), turn="t2")])
    assert chicago.valid_to == day(3) and chicago.superseded_by is None
    assert rechain([chicago], now=NOW) == []  # Seattle forgotten: Chicago stays ended
    portland, _denver = build(("Portland", day(1), "t1"), ("Denver", day(4), "t2"))
    (reopened,) = rechain([portland], now=NOW)  # a successor's end is undone with it
    assert reopened.current


# -- an end that names its value by a name alone (issue 10: "Rex passed away") -----------------


def held(attribute: str, value: str) -> Candidate:
    return cand(value, day(1), attribute=attribute, multi=True)


@pytest.mark.parametrize(
    ("held_facts", "said", "ended"),
    [
        # a pet of any species, by its name; only that pet
        (
            [held("pet", "dog named Rex"), held("pet", "cat named Mo"), held("pet", "dog")],
            ("pet", "pet named Rex"),
            [("pet", "dog named Rex")],
        ),
        ([held("pet", "hamster named Peanut")], ("pet", "pet named peanut"), [("pet", "hamster named Peanut")]),
        ([held("pet", "dog named Rex")], ("pet", "pet named Max"), []),
        ([held("family:sister", "Rex")], ("pet", "pet named Rex"), []),  # a sister is no pet
        # a partner under whichever relation memory holds, by name, or every one of a relation
        (
            [held("family:boyfriend", "Jake"), held("family:brother", "Jake"), held("family:girlfriend", "Mia")],
            ("family:partner", "Jake"),
            [("family:boyfriend", "Jake")],
        ),
        ([held("family:boyfriend", "Jake")], ("family:boyfriend", ""), [("family:boyfriend", "Jake")]),
        (
            [held("family:boyfriend", "Jake"), held("family:sister", "Ana")],
            ("family:partner", ""),
            [("family:boyfriend", "Jake")],
        ),
        # an end that names the whole value is its own slot, as before
        ([held("pet", "dog named Rex")], ("pet", "dog named Rex"), [("pet", "dog named Rex")]),
        ([held("owns", "red car")], ("owns", "car"), [("owns", "car")]),
    ],
)
def test_an_end_named_by_a_name_finds_the_value_memory_holds(held_facts, said, ended) -> None:
    candidate = ends(said[1], day(6), attribute=said[0], multi=True)
    found = addressed(candidate, held_facts)
    assert [(c.attribute, c.value) for c in found] == ended
    assert all(c.ends and c.valid_from == day(6) for c in found)


def test_an_end_named_by_a_name_ignores_another_subject_and_single_valued_slots() -> None:
    other = replace(held("pet", "dog named Rex"), subject="Ana")
    assert addressed(ends("pet named Rex", day(6), attribute="pet", multi=True), [other]) == []
    single = ends("", day(6), attribute="occupation")
    assert addressed(single, [held("pet", "dog named Rex")]) == [single]
