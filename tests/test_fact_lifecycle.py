"""Facts you can trust (issue 10): history survives retention, late history does not fade at
once, and the context never presents a contradicted fact as current."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from engram import HashingEmbedder, Memory
from engram.cli.importers import ImportSummary, ingest
from engram.formats.dataset import Conversation, Session
from tests.conftest import FixedClock, shared_data

TODAY = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def say(memory: Memory, clock: FixedClock, when: datetime, text: str, session: str) -> None:
    clock.moment = when
    memory.add([{"role": "user", "name": "Sam", "content": text}], user_id="sam", session_id=session, timestamp=when)


# -- finding 3: a version that was true stays answerable as of its time --------------------------


def test_consolidate_keeps_superseded_versions_answerable_as_of_their_time(db_path: Path):
    clock = FixedClock()
    memory = Memory(db_path, embedder=HashingEmbedder(), clock=clock)
    say(memory, clock, datetime(2023, 1, 10, tzinfo=UTC), "I live in Paris.", "s1")
    say(memory, clock, datetime(2024, 1, 10, tzinfo=UTC), "I just moved to Berlin.", "s2")
    for years in (0, 3, 10):  # today, and long after: retention never takes a version away
        clock.moment = TODAY + timedelta(days=365 * years)
        report = memory.consolidate(user_id="sam")
        assert report.archived.get("fact", 0) == 0
        then = memory.facts(user_id="sam", as_of=datetime(2023, 6, 1, tzinfo=UTC))
        assert [f.value for f in then if f.attribute == "lives_in"] == ["Paris"]
        history = memory.facts(user_id="sam", include_history=True)
        assert [f.value for f in history if f.attribute == "lives_in"] == ["Paris", "Berlin"]
        assert [f.value for f in memory.facts(user_id="sam") if f.attribute == "lives_in"] == ["Berlin"]
        assert memory.retention(then[0].id, user_id="sam") == 1.0
    memory.close()


def test_an_archived_version_is_still_answered_as_of_its_time(db_path: Path):
    """Archive (by hand, or by the decay of older versions) leaves a version out of retrieval,
    never out of questions about time."""
    clock = FixedClock()
    memory = Memory(db_path, embedder=HashingEmbedder(), clock=clock)
    say(memory, clock, datetime(2023, 1, 10, tzinfo=UTC), "I live in Paris.", "s1")
    say(memory, clock, datetime(2024, 1, 10, tzinfo=UTC), "I just moved to Berlin.", "s2")
    (paris,) = [f for f in memory.facts(user_id="sam", include_history=True) if f.value == "Paris"]
    assert memory.archive([paris.id], user_id="sam") == [paris.id]
    then = memory.facts(user_id="sam", as_of=datetime(2023, 6, 1, tzinfo=UTC))
    assert [f.id for f in then] == [paris.id] and then[0].archived_at is not None
    assert paris.id in {f.id for f in memory.facts(user_id="sam", include_history=True)}
    person = memory.profile(user_id="sam", as_of=datetime(2023, 6, 1, tzinfo=UTC)).person("Sam")
    assert person is not None and [e.value for e in person.sections["location"]] == ["Paris"]
    memory.close()


# -- finding 4: history that arrives late is measured from when memory learned it -----------------


SMALL_TALK = ["ok", "haha yes", "sure thing", "lol", "cool", "nice", "hmm okay", "right"]


def old_conversation() -> Conversation:
    """A 2023 chat between two people over six months: facts, plans and a lot of small talk."""
    sessions = []
    start = datetime(2023, 3, 4, 18, 0, tzinfo=UTC)
    for number in range(6):
        when = start + timedelta(days=30 * number)
        messages = []
        for index in range(12):
            speaker = "Ana" if index % 2 == 0 else "Ben"
            text = (
                f"In month {number} I started pottery class number {number} at the community studio."
                if index == 0
                else SMALL_TALK[(index + number) % len(SMALL_TALK)]
            )
            messages.append(
                {"role": "user", "name": speaker, "content": text, "timestamp": when + timedelta(minutes=index)}
            )
        sessions.append(Session(f"s{number}", when, messages))
    return Conversation("ana", sessions)


def search_ids(memory: Memory, user_id: str, queries: list[str]) -> list[list[str]]:
    return [[h.turn.id for h in memory.search(q, user_id=user_id, k=10)] for q in queries]


def test_consolidate_on_history_imported_today_archives_nothing_and_search_is_unchanged(db_path: Path):
    clock = FixedClock(TODAY)
    memory = Memory(db_path, embedder=HashingEmbedder(), clock=clock)
    conversation = old_conversation()
    ingest(memory, [conversation], summary=ImportSummary("test", "old"))
    queries = ["pottery class at the studio", "haha yes", "sure thing"]
    before = search_ids(memory, "ana", queries)
    report = memory.consolidate(user_id="ana")
    assert sum(report.archived.values()) == 0, report.archived
    assert report.retention_clock == TODAY and not any(report.archived_ids.values())
    assert search_ids(memory, "ana", queries) == before
    clock.moment = TODAY + timedelta(days=3 * 365)  # years later, never recalled: small talk fades
    later = memory.consolidate(user_id="ana")
    assert later.archived["turn"] > 0 and set(later.archived_ids["turn"]) and later.archive_reason
    assert len(later.archived_ids["turn"]) == later.archived["turn"]
    memory.close()


def test_consolidate_on_locomo_imported_today_archives_nothing(db_path: Path):
    from engram.formats.locomo import load_locomo

    dataset = load_locomo(shared_data("locomo10.json"))
    conversation = dataset.conversations[0]
    memory = Memory(db_path, embedder=HashingEmbedder(), clock=FixedClock(TODAY))
    ingest(memory, [conversation], summary=ImportSummary("locomo", "locomo10.json"))
    queries = [q.question for q in dataset.questions if q.conversation_id == conversation.id][:20]
    before = search_ids(memory, conversation.id, queries)
    report = memory.consolidate(user_id=conversation.id)
    assert sum(report.archived.values()) == 0, report.archived
    assert search_ids(memory, conversation.id, queries) == before
    memory.close()


# -- with an LLM, consolidation states ends and past spans through the same reconciler ---------


def test_llm_extraction_can_end_a_value_and_place_a_past_span(db_path: Path):
    import json

    from engram import ScriptedLLM

    def fact(turn: int, attribute: str, value: str, **extra: object) -> dict[str, object]:
        return {
            "turn": turn, "subject": "Sam", "attribute": attribute, "value": value,
            "statement": f"Sam {attribute} {value}", "kind": "location" if attribute == "lives_in" else "work",
            "multi": False, "valid_from": None, **extra,
        }  # fmt: skip

    replies = [
        json.dumps({"facts": [fact(1, "lives_in", "Chicago"), fact(1, "employer", "Google")]}),
        json.dumps(
            {
                "facts": [
                    fact(1, "lives_in", "Chicago", ends=True),
                    fact(1, "lives_in", "Seattle"),
                    fact(1, "employer", "", ends=True),
                    fact(1, "lives_in", "Paris", valid_from="2015-01-01", valid_to="2018-01-01"),
                    fact(1, "lives_in", "Rome", valid_from="2019-01-01", valid_to="2012-01-01"),  # dropped
                ]
            }
        ),
    ]
    clock = FixedClock()
    memory = Memory(db_path, embedder=HashingEmbedder(), clock=clock, llm=ScriptedLLM(replies))
    say(memory, clock, datetime(2024, 1, 10, tzinfo=UTC), "Hello there, it is a quiet day.", "s1")
    memory.consolidate(user_id="sam")
    say(memory, clock, datetime(2024, 5, 10, tzinfo=UTC), "Lots of change lately, more soon.", "s2")
    memory.consolidate(user_id="sam")
    now = {f.attribute: f.value for f in memory.facts(user_id="sam")}
    assert now == {"lives_in": "Seattle"}  # Chicago ended and replaced; Google ended, nothing added
    history = [(f.value, f.valid_from.year, f.valid_to.year if f.valid_to else None)
               for f in memory.facts(user_id="sam", include_history=True) if f.attribute == "lives_in"]  # fmt: skip
    assert history == [("Paris", 2015, 2018), ("Chicago", 2024, 2024), ("Seattle", 2024, None)]
    (google,) = [f for f in memory.facts(user_id="sam", include_history=True) if f.attribute == "employer"]
    assert google.valid_to == datetime(2024, 5, 10, tzinfo=UTC) and google.superseded_by is None
    memory.close()
