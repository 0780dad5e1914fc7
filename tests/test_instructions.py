"""Standing instructions: found on the write path, kept as facts, ranked for the requests they govern."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engram import Memory
from engram.write.extract import extract_facts
from engram.write.instructions import instruction_facts_of, standing_instructions

T0 = datetime(2024, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "Always include cost details when I ask about travel arrangements.",
        "Never use semicolons in code you write for me.",
        "From now on, answer in French.",
        "Please always cite your sources.",
        "Whenever I ask about recipes, list the calories.",
        "Going forward, keep answers under five sentences.",
        "Don't ever recommend Python 2.",
    ],
)
def test_an_instruction_to_the_assistant_is_found(text):
    assert standing_instructions(text) == [text]


@pytest.mark.parametrize(
    "text",
    [
        "Never give up! You're doing great.",
        "No prob! Always here to help.",
        "I always go hiking on Sundays.",
        "Whenever I hear that song I cry.",
        "Should I always use type hints?",
        "Thanks, that helps a lot.",
    ],
)
def test_advice_habits_and_questions_are_not_instructions(text):
    assert standing_instructions(text) == []


def test_an_instruction_inside_a_longer_message_is_its_own_sentence():
    text = "Thanks for the help with the API. Always include type hints when I ask for Python code. See you!"
    assert standing_instructions(text) == ["Always include type hints when I ask for Python code."]


def test_pasted_material_gives_no_instructions():
    transcript = "Interviewer: what is your rule?\nGuest: Always use a checklist.\nInterviewer: why?\nGuest: it works."
    assert standing_instructions(transcript) == []


def test_saying_an_instruction_again_names_the_same_memory():
    (first,) = instruction_facts_of("Always cite your sources.")
    (again,) = instruction_facts_of("always cite your sources!")
    (other,) = instruction_facts_of("Always cite page numbers.")
    assert first[0] == again[0] != other[0]


def test_only_the_users_messages_give_instructions():
    said = extract_facts("Always include cost details.", speaker=None, role="user", timestamp=T0)
    assert [(f.kind, f.value, f.multi) for f in said] == [("instruction", "Always include cost details.", True)]
    assert said[0].statement == "The user's standing instruction: Always include cost details."
    assert extract_facts("Always include cost details.", speaker=None, role="assistant", timestamp=T0) == []


def _chat(memory: Memory) -> str:
    said = "Always include cost details when I ask about travel arrangements."
    (instruction,) = memory.add(said, user_id="ana", session_id="s1", timestamp=T0).turns
    filler = [
        {"role": "user", "content": f"Note {n}: the garden needs water and the fence needs paint."} for n in range(30)
    ]
    memory.add(filler, user_id="ana", session_id="s2", timestamp=T0 + timedelta(days=1))
    return instruction.id


def test_an_instruction_is_a_fact_in_the_profile(memory: Memory):
    _chat(memory)
    (fact,) = memory.facts(user_id="ana", kind="instruction")
    assert fact.value == "Always include cost details when I ask about travel arrangements."
    profile = memory.profile(user_id="ana")
    sections = {name for person in profile.people for name, entries in person.sections.items() if entries}
    assert "instructions" in sections


def test_a_governed_request_ranks_the_instruction_by_meaning(memory: Memory):
    instruction = _chat(memory)
    request = "Can you plan my travel arrangements to Porto?"
    found = memory.search(request, user_id="ana", k=5, explain=True).hits
    by_id = {hit.turn.id: hit for hit in found}
    assert instruction in by_id
    assert "instruction" in by_id[instruction].signals
    without = memory.search(request, user_id="ana", k=5, config="bm25").hits
    assert all("instruction" not in hit.signals for hit in without)


def test_a_forgotten_or_later_instruction_is_not_ranked(memory: Memory):
    instruction = _chat(memory)
    request = "Can you plan my travel arrangements to Porto?"
    before = memory.search(request, user_id="ana", k=5, reference_time=T0 - timedelta(days=1)).hits
    assert instruction not in [hit.turn.id for hit in before]
    memory.forget(ids=[instruction], user_id="ana")
    assert memory.facts(user_id="ana", kind="instruction") == []
    assert instruction not in [hit.turn.id for hit in memory.search(request, user_id="ana", k=5).hits]
