"""The memory lifecycle, as a user lives it: facts that change, forgetting, consolidation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engram import HashingEmbedder, Memory, NotFoundError, RetentionPolicy, ScriptedLLM, ValidationError
from tests.conftest import FixedClock

T0 = datetime(2024, 1, 10, 9, 0, tzinfo=UTC)

# (days after T0, what the user says); Sam's year.
LIFE = [
    (0, "I live in Portland and I work as a barista."),
    (0, "I love espresso, I drink a double every morning."),
    (40, "Big news: I moved to Denver last week!"),
    (70, "I got a job as a product designer at Trailmark."),
    (120, "I adopted a dog named Biscuit."),
    (150, "I don't like espresso anymore, it keeps me awake."),
]


def live(memory: Memory, clock: FixedClock, life=LIFE) -> None:
    for number, (days, text) in enumerate(life):
        clock.moment = T0 + timedelta(days=days)
        memory.add(
            [{"role": "user", "name": "Sam", "content": text}],
            user_id="sam",
            session_id=f"s{number}",
            timestamp=clock.moment,
        )
    clock.moment = T0 + timedelta(days=200)


@pytest.fixture
def sam(memory: Memory, clock: FixedClock) -> Memory:
    live(memory, clock)
    return memory


def values(facts, attribute):
    return [f.value for f in facts if f.attribute == attribute]


def test_facts_now_reflect_every_change(sam: Memory):
    now = sam.facts(user_id="sam")
    assert values(now, "lives_in") == ["Denver"]
    assert values(now, "occupation") == ["product designer"]
    assert values(now, "employer") == ["Trailmark"]
    assert any("Biscuit" in v for v in values(now, "pet"))
    assert values(now, "preference:espresso") == ["dislikes"]


def test_facts_as_of_a_past_date_answer_for_that_date(sam: Memory):
    then = sam.facts(user_id="sam", as_of=T0 + timedelta(days=20))
    assert values(then, "lives_in") == ["Portland"]
    assert values(then, "occupation") == ["barista"]
    assert values(then, "pet") == []
    assert values(then, "preference:espresso") in (["loves"], ["likes"])


def test_a_move_closes_the_old_version_and_history_keeps_both(sam: Memory):
    (denver,) = [f for f in sam.facts(user_id="sam") if f.attribute == "lives_in"]
    history = sam.history(denver.id, user_id="sam")
    assert [v.value for v in history] == ["Portland", "Denver"]
    portland = history[0]
    assert portland.valid_to == denver.valid_from and portland.superseded_by == denver.id
    assert portland.superseded_at is not None and not portland.current and denver.current
    assert denver.valid_from < T0 + timedelta(days=40)  # "last week" dates the move before it was told
    assert denver.source_turn_ids and sam.get(denver.source_turn_ids[0], user_id="sam").content.startswith("Big news")
    with pytest.raises(NotFoundError):
        sam.history("f_nope", user_id="sam")


def test_profile_is_a_typed_view_of_current_facts(sam: Memory):
    profile = sam.profile(user_id="sam")
    person = profile.person("Sam")
    assert person is not None
    assert [e.value for e in person.sections["location"]] == ["Denver"]
    assert {e.value for e in person.sections["work"]} == {"product designer", "Trailmark"}
    assert any("Biscuit" in e.value for e in person.sections["relationships"])
    entry = person.sections["location"][0]
    assert entry.source_turn_ids and 0 < entry.confidence <= 1
    past = sam.profile(user_id="sam", as_of=T0 + timedelta(days=1)).person("Sam")
    assert past is not None and [e.value for e in past.sections["location"]] == ["Portland"]


def test_context_shows_current_facts_with_dates_and_past_facts_for_past_questions(sam: Memory):
    now = sam.context("Where does Sam live?", user_id="sam", budget_tokens=400)
    assert "[F1]" in now.text and "Denver" in now.text.split("## Relevant memories")[0]
    assert "lives in Portland" not in now.text
    past = sam.context("Where did Sam live before moving?", user_id="sam", budget_tokens=400)
    assert "Portland" in past.text and "to 20" in past.text  # a closed version shows its span
    ids = past.citations
    assert all(ids[ref].startswith(("t_", "f_")) for ref in ids)


def test_episodes_are_built_and_listed_with_summaries(sam: Memory):
    page = sam.episodes(user_id="sam")
    assert len(page) == len(LIFE)  # one short session each
    episode = page.items[2]
    assert "Denver" in episode.summary and episode.turn_ids
    assert episode.start == T0 + timedelta(days=40)
    assert sam.episodes(user_id="sam", session_id="s2").items[0].id == episode.id
    first = sam.episodes(user_id="sam", limit=4)
    rest = sam.episodes(user_id="sam", limit=4, cursor=first.next_cursor)
    assert [e.id for e in first] + [e.id for e in rest] == [e.id for e in page]


def test_context_reinforces_what_it_uses(sam: Memory):
    (turn,) = [h.turn for h in sam.search("Biscuit dog", user_id="sam", k=1)]
    before = sam.retention(turn.id, user_id="sam", at=T0 + timedelta(days=400))
    sam.context("Tell me about Biscuit the dog", user_id="sam", budget_tokens=200)
    after = sam.retention(turn.id, user_id="sam", at=T0 + timedelta(days=400))
    assert after > before


def test_forgetting_over_a_year_archives_what_was_never_recalled(db_path: Path):
    clock = FixedClock(T0)
    policy = RetentionPolicy(base_days=20, importance_weight=1.0, archive_below=0.05)
    memory = Memory(db_path, embedder=HashingEmbedder(), clock=clock, retention=policy)
    kept = memory.add("The rooftop garden plan uses tomato seedlings", user_id="u", session_id="s1").turns[0]
    faded = memory.add("The parking garage ticket machine was broken", user_id="u", session_id="s2").turns[0]
    pinned = memory.add("My blood type is O negative", user_id="u", session_id="s3").turns[0]
    memory.pin([pinned.id], user_id="u")
    for month in range(1, 13):  # a year; the garden comes up every month
        clock.moment = T0 + timedelta(days=30 * month)
        memory.context("rooftop garden tomato seedlings", user_id="u", budget_tokens=60, expand=False)
        memory.consolidate(user_id="u")
    assert memory.retention(faded.id, user_id="u") < 0.05 <= memory.retention(kept.id, user_id="u")
    assert memory.retention(pinned.id, user_id="u") == 1.0
    found = {h.turn.id for h in memory.search("parking garage ticket machine", user_id="u")}
    assert faded.id not in found and kept.id in {h.turn.id for h in memory.search("garden", user_id="u")}
    assert pinned.id in {h.turn.id for h in memory.search("blood type", user_id="u")}
    archived = memory.search("parking garage ticket machine", user_id="u", filters={"include_archived": True})
    assert faded.id in {h.turn.id for h in archived}  # still stored, visible on request
    assert memory.restore([faded.id], user_id="u") == [faded.id]
    assert faded.id in {h.turn.id for h in memory.search("parking garage ticket", user_id="u")}
    memory.close()


def test_forget_a_user_leaves_no_trace_in_the_database_files(db_path: Path, clock: FixedClock):
    memory = Memory(db_path, embedder=HashingEmbedder(), clock=clock)
    secret = "zanzibarquokka 7781 lives in Reykjavik"
    for number in range(30):
        memory.add(f"I live in Reykjavik, note {number}: {secret}", user_id="victim", session_id=f"s{number % 3}")
    memory.add("My notes. " + "The garden needs water. " * 600 + secret, user_id="victim", session_id="s0")
    memory.add("I live in Lima and love quinoa", user_id="other", session_id="s1")
    chunk_rows = "SELECT count(*) FROM turn_chunks"
    assert memory.store._conn.execute(chunk_rows).fetchone()[0] > 0  # type: ignore[attr-defined]
    memory.consolidate(user_id="victim")
    assert memory.facts(user_id="victim")
    receipt = memory.forget(user_id="victim")
    assert len(receipt.turn_ids) == 31 and receipt.fact_ids and receipt.episode_ids
    assert memory.store._conn.execute(chunk_rows).fetchone()[0] == 0  # type: ignore[attr-defined]
    assert memory.stats(user_id="victim").turns == 0
    assert not memory.search("zanzibarquokka Reykjavik", user_id="victim").hits
    assert memory.facts(user_id="victim") == [] and len(memory.episodes(user_id="victim")) == 0
    assert memory.search("Lima quinoa", user_id="other").hits  # others untouched
    memory.close()
    for path in db_path.parent.glob(db_path.name + "*"):
        data = path.read_bytes()
        assert b"zanzibarquokka" not in data and b"Reykjavik" not in data, f"forgotten text left in {path.name}"


def test_forget_one_session_or_some_ids(sam: Memory):
    receipt = sam.forget(user_id="sam", session_id="s2")
    assert receipt.sessions == ["s2"] and len(receipt.turn_ids) == 1
    assert values(sam.facts(user_id="sam"), "lives_in") == ["Portland"]  # the move is forgotten
    (pet,) = [f for f in sam.facts(user_id="sam") if f.attribute == "pet"]
    assert sam.forget(user_id="sam", ids=[pet.id]).fact_ids == [pet.id]
    assert not [f for f in sam.facts(user_id="sam") if f.attribute == "pet"]
    with pytest.raises(ValidationError, match="memory id"):
        sam.forget(user_id="sam", ids=["nonsense"])


def test_consolidation_is_idempotent_and_counts_llm_cost(db_path: Path, clock: FixedClock):
    replies = [
        '{"facts": [{"turn": 1, "subject": "Sam", "attribute": "hobby", "value": "bouldering", '
        '"statement": "Sam goes bouldering", "kind": "preference", "multi": true, "valid_from": null}]}'
    ] * 10
    llm = ScriptedLLM(replies)
    memory = Memory(db_path, embedder=HashingEmbedder(), clock=clock, llm=llm)
    live(memory, clock, LIFE[:3])
    first = memory.consolidate(user_id="sam")
    assert first.episodes_extracted == 3 and first.llm_calls == 3 == len(llm.requests)
    assert first.llm_calls_per_turn == 1.0 and first.links > 0
    assert any(f.attribute == "hobby" and f.source == "llm" for f in memory.facts(user_id="sam"))
    second = memory.consolidate(user_id="sam")
    assert second.episodes_extracted == 0 and len(llm.requests) == 3  # nothing new: no new calls
    assert len(memory.facts(user_id="sam")) == len({f.id for f in memory.facts(user_id="sam")})
    memory.close()


def test_consolidation_catches_up_turns_the_write_path_missed(db_path: Path, clock: FixedClock, monkeypatch):
    import engram.write.ingest as ingest
    from engram.write.absorb import AbsorbReport

    memory = Memory(db_path, embedder=HashingEmbedder(), clock=clock)
    monkeypatch.setattr(ingest, "absorb", lambda *a, **k: AbsorbReport())  # a crash after commit
    memory.add([{"role": "user", "name": "Sam", "content": "I live in Oslo."}], user_id="sam", session_id="s")
    assert memory.facts(user_id="sam") == [] and len(memory.episodes(user_id="sam")) == 0
    monkeypatch.undo()
    report = memory.consolidate(user_id="sam")
    assert report.turns_caught_up == 1
    assert values(memory.facts(user_id="sam"), "lives_in") == ["Oslo"] and len(memory.episodes(user_id="sam")) == 1
    memory.close()


def test_forgetting_a_move_after_archive_makes_the_old_home_current_and_visible(db_path: Path, clock: FixedClock):
    memory = Memory(db_path, embedder=HashingEmbedder(), clock=clock)
    live(memory, clock, LIFE[:3])
    clock.moment = T0 + timedelta(days=3650)  # ten years on: decay keeps the closed Portland version
    memory.consolidate(user_id="sam")
    (portland,) = [f for f in memory.facts(user_id="sam", include_history=True) if f.value == "Portland"]
    assert portland.archived_at is None
    memory.archive([portland.id], user_id="sam")  # archived by hand instead
    memory.forget(user_id="sam", session_id="s2")  # forget the move
    assert values(memory.facts(user_id="sam"), "lives_in") == ["Portland"]
    memory.close()


@pytest.mark.parametrize("cursor", ["1.99999999999999999999999", "99999999999999999999999.1", "x.y", "1", "-1.-1"])
def test_cursors_that_this_api_never_made_are_validation_errors(sam: Memory, cursor: str):
    with pytest.raises(ValidationError, match="cursor"):
        sam.list(user_id="sam", cursor=cursor)
    with pytest.raises(ValidationError, match="cursor"):
        sam.episodes(user_id="sam", cursor=cursor)


def test_explained_search_reports_the_facts_and_episodes_it_went_through(sam: Memory):
    result = sam.search("Where does Sam live now?", user_id="sam", explain=True, config="engram-episodes")
    assert any(f.attribute == "lives_in" for f, _ in result.facts)
    assert result.episodes and all(score > 0 for _, score in result.episodes)
    plain = sam.search("Where does Sam live now?", user_id="sam")
    assert plain.facts == [] and plain.episodes == []
