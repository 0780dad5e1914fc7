"""OpenAI's message formats in full: stored losslessly, indexed by their text, given back exactly."""

from __future__ import annotations

import io

import pytest

from engram import HashingEmbedder, Memory, ValidationError
from engram.model.chat import MESSAGE_KEY, call_text

CONVERSATION = [
    {"role": "developer", "content": "Answer briefly."},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What's the weather like in Lisbon this weekend?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/sky.png", "detail": "low"}},
        ],
    },
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_forecast", "arguments": '{"city": "Lisbon", "days": 2}'},
            },
            {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "Saturday 24C sunny, Sunday 19C showers"},
    {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "Friday 17:05"}]},
    {"role": "assistant", "content": "Sunny Saturday, showers on Sunday.", "refusal": None},
    {"role": "function", "name": "legacy_lookup", "content": "ok"},
    {"role": "user", "name": "Ana", "content": "Thanks!"},
]

ITEMS = [  # Responses API input items, as the OpenAI Agents SDK keeps them in a session
    {"role": "user", "content": "Book a table for two"},
    {
        "type": "function_call",
        "id": "__fake_id__",
        "call_id": "c1",
        "name": "book_table",
        "arguments": '{"people": 2, "restaurant": "Tasca do Chico"}',
    },
    {"type": "function_call_output", "call_id": "c1", "output": "Booked for 20:00"},
    {"type": "reasoning", "id": "__fake_id__", "summary": []},
    {
        "type": "message",
        "id": "__fake_id__",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "Your table is booked for 20:00.", "annotations": []}],
    },
]


@pytest.fixture
def mem(tmp_path, clock):
    with Memory(tmp_path / "tools.db", embedder=HashingEmbedder(), clock=clock) as memory:
        yield memory


@pytest.mark.parametrize("messages", [CONVERSATION, ITEMS], ids=["chat", "responses-items"])
def test_every_message_comes_back_exactly_from_the_store(mem, messages):
    added = mem.add(messages, user_id="ana", session_id="s1")
    assert added.added == len(messages)
    stored = mem.list(user_id="ana", session_id="s1").items
    assert [turn.to_message() for turn in stored] == messages
    assert [mem.get(t.id, user_id="ana").to_message() for t in added.turns] == messages
    again = mem.add(messages, user_id="ana", session_id="s1")
    assert again.added == 0


def test_the_turns_index_what_a_person_would_search_for(mem):
    turns = mem.add(CONVERSATION, user_id="ana", session_id="s1").turns
    roles = [t.role for t in turns]
    assert roles == ["system", "user", "assistant", "tool", "tool", "assistant", "tool", "user"]
    assert turns[1].content == "What's the weather like in Lisbon this weekend?\n[image]"
    assert turns[2].content == "get_forecast(city: Lisbon, days: 2)\nget_time()"
    assert turns[4].content == "Friday 17:05"
    assert turns[6].name is None  # a legacy function's name is a tool, not a speaker
    hits = mem.search("forecast Lisbon", user_id="ana", k=3).hits
    assert hits[0].turn.id == turns[2].id
    hits = mem.search("showers on Sunday", user_id="ana", k=2).hits
    assert {h.turn.id for h in hits} >= {turns[3].id}
    items = mem.add(ITEMS, user_id="ana", session_id="s2").turns
    assert [t.role for t in items] == ["user", "assistant", "tool", "assistant", "assistant"]
    assert items[1].content == "book_table(people: 2, restaurant: Tasca do Chico)"
    assert items[4].content == "Your table is booked for 20:00."


def test_plain_messages_keep_their_columns_and_ids(mem):
    # a tool result without a call id stays a plain message, as before (MCP, REST, CLI send them)
    tool = mem.add({"role": "tool", "content": "18C"}, user_id="u", session_id="s").turns[0]
    assert MESSAGE_KEY not in tool.metadata and tool.to_message() == {"role": "tool", "content": "18C"}
    turn = mem.add({"role": "user", "content": "hi"}, user_id="u", session_id="s").turns[0]
    assert MESSAGE_KEY not in turn.metadata and turn.to_message() == {"role": "user", "content": "hi"}
    # a plain message's id hashes only (role, name, content, time, ordinal), as before tool messages
    assert turn.id == "t_" + __import__("hashlib").sha256(
        b'["default","u",null,"s","user",null,"hi",null,0]'
    ).hexdigest()[:20]


def test_two_results_with_one_text_are_two_turns(mem):
    first = {"role": "tool", "tool_call_id": "a", "content": "done"}
    second = {"role": "tool", "tool_call_id": "b", "content": "done"}
    assert mem.add([first], user_id="u", session_id="s").added == 1
    assert mem.add([second], user_id="u", session_id="s").added == 1
    assert mem.add([first], user_id="u", session_id="s").added == 0


def test_export_and_import_keep_the_messages(mem, tmp_path, clock):
    mem.add(CONVERSATION + ITEMS, user_id="ana", session_id="s1")
    buffer = io.StringIO()
    mem.export(buffer, user_id="ana")
    with Memory(tmp_path / "copy.db", embedder=HashingEmbedder(), clock=clock) as copy:
        copy.import_(buffer.getvalue().splitlines())
        got = [t.to_message() for t in copy.list(user_id="ana").items]
    assert got == CONVERSATION + ITEMS


@pytest.mark.parametrize(
    ("message", "says"),
    [
        ({"role": "tool", "tool_call_id": 7, "content": "18C"}, "tool_call_id must be a string"),
        ({"role": "user", "content": "x", "tool_calls": []}, "only an assistant"),
        ({"role": "assistant", "content": None, "tool_calls": []}, "non-empty list"),
        ({"role": "assistant", "content": None, "tool_calls": [{"id": "c", "function": {"arguments": "{}"}}]}, "'name'"),
        ({"role": "assistant", "content": None, "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": {}}}]}, "arguments must be a string"),
        ({"role": "user", "content": [{"text": "no type"}]}, r"content\[0\] must be an object with a 'type'"),
        ({"role": "user", "content": 3}, "must be a string"),
        ({"type": "message", "role": "user", "content": 3}, "string or a list of parts"),
        ({"role": "user", "contnet": "typo"}, "unknown field"),
        ({"role": "user", "content": "x", "metadata": {MESSAGE_KEY: {}}}, "reserved"),
        ({"role": "assistant", "content": None}, "must be a string"),
        ({"role": "assistant", "content": [], "refusal": None}, "empty"),
        ({"type": "function_call", "arguments": "{}"}, "needs a string 'name'"),
    ],
)
def test_bad_tool_messages_are_refused_and_nothing_is_written(mem, message, says):
    good = {"role": "user", "content": "first"}
    with pytest.raises(ValidationError, match=says):
        mem.add([good, message], user_id="u", session_id="s")
    assert mem.stats(user_id="u").turns == 0


def test_a_call_reads_as_its_name_and_arguments():
    assert call_text("f", '{"a": "b", "n": [1, 2]}') == "f(a: b, n: [1, 2])"
    assert call_text("f", "not json") == "f(not json)"
    assert call_text("f", "") == "f()"
    assert call_text("f", "[1]") == "f([1])"


def test_the_rest_api_takes_tool_messages_and_keeps_them_exactly(tmp_path):
    from fastapi.testclient import TestClient

    from engram import AsyncMemory
    from engram.server.app import create_app

    memory = AsyncMemory(tmp_path / "rest.db", embedder=HashingEmbedder())
    with TestClient(create_app(memory, require_keys=False)) as client:
        body = {"user_id": "ana", "session_id": "s1", "messages": CONVERSATION}
        response = client.post("/v1/turns", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["added"] == len(CONVERSATION)
        assert client.post("/v1/turns", json=body).json()["added"] == 0
        typo = {**body, "messages": [{"role": "tool", "tool_call_id": "c", "contnet": "x"}]}
        assert client.post("/v1/turns", json=typo).status_code == 422
    stored = memory.sync.list(user_id="ana", session_id="s1").items
    assert [turn.to_message() for turn in stored] == CONVERSATION
    memory.sync.close()
