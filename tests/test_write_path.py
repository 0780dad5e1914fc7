"""The write path: crash recovery without gaps, facts for re-derived ids, the open tail only."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

import engram.write.absorb as absorb_module
import engram.write.ingest as ingest
from engram import HashingEmbedder, Memory, SQLiteStore
from engram.store.base import UserScope
from engram.write.absorb import AbsorbReport
from engram.write.segment import SegmentConfig, segment
from tests.conftest import FixedClock

T0 = datetime(2024, 1, 1, tzinfo=UTC)
TOPICS = (
    "We hiked the ridge trail above the lake with Anna and the dogs.",
    "My sister Clara starts her nursing job at the hospital in March.",
    "The quarterly budget spreadsheet still has broken formulas in column F.",
)


def said(index: int, text: str | None = None, *, minutes: int | None = None) -> dict:
    """Turn ``index`` of a session: a given text is the user's, a generated one alternates."""
    role = "user" if text or index % 2 == 0 else "assistant"
    text = text or f"{TOPICS[(index // 15) % len(TOPICS)]} Note {index}."
    when = T0 + timedelta(minutes=index if minutes is None else minutes)
    return {"role": role, "content": text, "timestamp": when}


def episode_spans(memory: Memory, user: str, session: str) -> list[tuple[str, ...]]:
    return [e.turn_ids for e in memory.episodes(user_id=user, session_id=session, limit=1000)]


def full_segmentation(memory: Memory, user: str, session: str) -> list[tuple[str, ...]]:
    turns, vectors = memory.store.session_turns(UserScope(memory.tenant, user), session)
    return [tuple(t.id for t in turns[a:b]) for a, b in segment([t.timestamp for t in turns], vectors)]


# -- crash recovery (issue 15 #2) --------------------------------------------------------------


def test_turns_a_crash_left_underived_get_facts_and_episodes_on_the_users_next_add(
    db_path: Path, clock: FixedClock, monkeypatch
):
    memory = Memory(db_path, embedder=HashingEmbedder(), clock=clock)
    monkeypatch.setattr(ingest, "absorb", lambda *a, **k: AbsorbReport())  # the process dies after the commit
    (orphan,) = memory.add([said(0, "I live in Oslo.")], user_id="sam", session_id="s1").turns
    memory.add([said(1, "My sister Clara is a nurse.")], user_id="sam", session_id="s2")
    monkeypatch.undo()
    assert memory.facts(user_id="sam") == [] and memory.episodes(user_id="sam").items == []
    result = memory.add([said(2, "I work as a teacher.")], user_id="sam", session_id="s3")
    facts = {f.attribute: f for f in memory.facts(user_id="sam")}
    assert facts["lives_in"].value == "Oslo" and facts["lives_in"].source_turn_ids == (orphan.id,)
    assert {"lives_in", "family:sister", "occupation"} <= set(facts)
    assert {e.session_id for e in memory.episodes(user_id="sam").items} == {"s1", "s2", "s3"}
    assert result.added == 1 and len(result.facts_added) >= 3
    report = memory.consolidate(user_id="sam", decay=False)
    assert report.turns_caught_up == 0 and report.facts_added == 0  # nothing was left behind
    memory.close()


def test_a_crash_in_the_middle_of_a_session_leaves_its_episodes_whole(db_path: Path, clock: FixedClock, monkeypatch):
    memory = Memory(db_path, embedder=HashingEmbedder(), clock=clock)
    memory.add([said(i) for i in range(20)], user_id="sam", session_id="s")
    monkeypatch.setattr(ingest, "absorb", lambda *a, **k: AbsorbReport())
    memory.add([said(20), said(21)], user_id="sam", session_id="s")
    monkeypatch.undo()
    memory.add([said(22)], user_id="sam", session_id="s")
    covered = [turn_id for span in episode_spans(memory, "sam", "s") for turn_id in span]
    assert len(covered) == 23 == len(set(covered))
    assert episode_spans(memory, "sam", "s") == full_segmentation(memory, "sam", "s")
    memory.close()


def test_other_users_turns_are_not_derived_by_an_add(db_path: Path, clock: FixedClock, monkeypatch):
    memory = Memory(db_path, embedder=HashingEmbedder(), clock=clock)
    monkeypatch.setattr(ingest, "absorb", lambda *a, **k: AbsorbReport())
    memory.add([said(0, "I live in Oslo.")], user_id="ann", session_id="s")
    monkeypatch.undo()
    memory.add([said(1, "I live in Rome.")], user_id="sam", session_id="s")
    assert memory.facts(user_id="ann") == []
    assert memory.consolidate(user_id="ann", decay=False).turns_caught_up == 1
    memory.close()


# -- re-derived ids (issue 15 #6) ----------------------------------------------------------------


def test_imported_turns_whose_ids_belong_to_another_tenant_get_their_facts(db_path: Path, clock: FixedClock):
    store = SQLiteStore(db_path)
    theirs = Memory(store=store, embedder=HashingEmbedder(), clock=clock, tenant="a")
    theirs.add([said(0, "I live in Oslo."), said(1, "I work as a nurse.")], user_id="sam", session_id="s")
    dump = io.StringIO()
    theirs.export(dump)
    mine = Memory(store=store, embedder=HashingEmbedder(), clock=clock, tenant="b")
    result = mine.import_(io.StringIO(dump.getvalue()))
    assert result.added == 2
    stored = {t.id for t in mine.list(user_id="sam")}
    given = {t.id for t in theirs.list(user_id="sam")}
    assert stored and not stored & given  # the ids were taken: the store derived new ones
    facts = mine.facts(user_id="sam")
    assert sorted(f.value for f in facts) == ["Oslo", "nurse"]
    assert all(set(f.source_turn_ids) <= stored for f in facts)
    assert {turn_id for e in mine.episodes(user_id="sam").items for turn_id in e.turn_ids} == stored
    store.close()


# -- the open tail only (issue 15 #7) ---------------------------------------------------------------


class CountingStore:
    """Wraps a store and counts the turns its reads of a session return."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self.turns_read = 0

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    def session_turns(self, scope, session_id):
        turns, vectors = self._store.session_turns(scope, session_id)
        self.turns_read += len(turns)
        return turns, vectors

    def session_tail(self, scope, session_id, **options):
        episodes, turns, vectors = self._store.session_tail(scope, session_id, **options)
        self.turns_read += len(turns)
        return episodes, turns, vectors


def test_an_add_to_a_long_session_reads_and_segments_only_its_open_tail(db_path: Path, clock: FixedClock, monkeypatch):
    counting = CountingStore(SQLiteStore(db_path))
    memory = Memory(store=counting, embedder=HashingEmbedder(), clock=clock)  # type: ignore[arg-type]
    segmented: list[int] = []
    real_segment = absorb_module.segment

    def counting_segment(timestamps, vectors, config=None):
        segmented.append(len(timestamps))
        return real_segment(timestamps, vectors, config)

    monkeypatch.setattr(absorb_module, "segment", counting_segment)
    cost: dict[int, tuple[int, int]] = {}
    memory.add([said(i) for i in range(9)], user_id="sam", session_id="s")
    for index in (9, 10):
        counting.turns_read, segmented[:] = 0, []
        memory.add([said(index)], user_id="sam", session_id="s")
        cost[index + 1] = (counting.turns_read, sum(segmented))
    memory.add([said(i) for i in range(11, 999)], user_id="sam", session_id="s")
    for index in (999, 1000):
        counting.turns_read, segmented[:] = 0, []
        memory.add([said(index)], user_id="sam", session_id="s")
        cost[index + 1] = (counting.turns_read, sum(segmented))
    bound = SegmentConfig().max_turns + 1  # the open episode and the new turn
    assert all(read <= bound and seg <= bound for read, seg in cost.values()), cost
    assert episode_spans(memory, "sam", "s") == full_segmentation(memory, "sam", "s")
    memory.close()


@pytest.mark.parametrize("patience", [1, 2, 3])
def test_adding_one_turn_at_a_time_gives_the_episodes_of_a_full_segmentation(
    db_path: Path, clock: FixedClock, monkeypatch, patience: int
):
    config = SegmentConfig(patience=patience, max_turns=12, min_turns=3)
    monkeypatch.setattr(absorb_module, "SegmentConfig", lambda: config)
    memory = Memory(db_path, embedder=HashingEmbedder(), clock=clock)
    gaps = {40: 120, 41: 121}  # a pause ends an event
    for index in range(90):
        memory.add([said(index, minutes=gaps.get(index, index + (100 if index > 41 else 0)))], user_id="sam", session_id="s")
    turns, vectors = memory.store.session_turns(UserScope(memory.tenant, "sam"), "s")
    expected = [tuple(t.id for t in turns[a:b]) for a, b in segment([t.timestamp for t in turns], vectors, config)]
    assert len(expected) > 5 and episode_spans(memory, "sam", "s") == expected
    memory.close()


def test_a_backdated_turn_re_segments_its_session_whole(db_path: Path, clock: FixedClock):
    memory = Memory(db_path, embedder=HashingEmbedder(), clock=clock)
    memory.add([said(i) for i in range(60)], user_id="sam", session_id="s")
    before = episode_spans(memory, "sam", "s")
    memory.add([said(999, "Back then we argued about the budget spreadsheet.", minutes=7)], user_id="sam", session_id="s")
    after = episode_spans(memory, "sam", "s")
    assert after == full_segmentation(memory, "sam", "s") and after != before
    memory.close()


def test_consolidate_can_run_the_full_segmentation_pass(db_path: Path, clock: FixedClock):
    from engram.write.consolidate import consolidate

    memory = Memory(db_path, embedder=HashingEmbedder(), clock=clock)
    for index in range(50):
        memory.add([said(index)], user_id="sam", session_id="s")
    spans = episode_spans(memory, "sam", "s")
    scope = UserScope(memory.tenant, "sam")
    memory.store.put_episodes(scope, "s", [], np.zeros((0, 256), dtype=np.float32), clock())
    assert episode_spans(memory, "sam", "s") == []
    consolidate(memory.store, scope, now=clock(), decay=False, resegment_all=True)
    assert episode_spans(memory, "sam", "s") == spans
    memory.close()
