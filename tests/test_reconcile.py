"""Fact reconciliation: a table of timelines and what a new statement does to them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from engram.write.reconcile import Candidate, reconcile

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
