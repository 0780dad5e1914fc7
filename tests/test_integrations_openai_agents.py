"""EngramSession keeps the Agents SDK's Session protocol; memory_tools work in a real run (no network)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

pytest.importorskip("agents")

from agents import Agent, Model, ModelResponse, RunConfig, Runner, SQLiteSession, Usage, function_tool
from agents.memory import Session, SessionSettings
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

from engram import AsyncMemory, HashingEmbedder, Memory
from engram.integrations.openai_agents import EngramSession, memory_tools


class ScriptedModel(Model):
    """Answers each call with the next scripted output; records what it was given."""

    def __init__(self, script: list[list[Any]]) -> None:
        self.script = list(script)
        self.inputs: list[Any] = []

    async def get_response(self, system_instructions, input, *args: Any, **kwargs: Any) -> ModelResponse:
        self.inputs.append(input)
        return ModelResponse(output=self.script.pop(0), usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:  # pragma: no cover
        raise NotImplementedError


def say(text: str, id: str = "__fake_id__") -> ResponseOutputMessage:
    return ResponseOutputMessage(
        id=id,
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
    )


def call(name: str, arguments: dict[str, Any], call_id: str) -> ResponseFunctionToolCall:
    return ResponseFunctionToolCall(
        type="function_call", id="__fake_id__", call_id=call_id, name=name, arguments=json.dumps(arguments)
    )


@function_tool
def book_table(restaurant: str, people: int) -> str:
    """Book a table."""
    return f"Booked {restaurant} for {people} at 20:00"


def script() -> list[list[Any]]:
    return [
        [call("book_table", {"restaurant": "Tasca do Chico", "people": 2}, "c1")],
        [say("Your table at Tasca do Chico is booked for 20:00.")],
        [say("Booked.")],  # the same words in two turns are two items
        [say("Booked.")],
    ]


async def converse(session: Any) -> ScriptedModel:
    model = ScriptedModel(script())
    agent = Agent(name="host", instructions="Book tables.", model=model, tools=[book_table])
    config = RunConfig(tracing_disabled=True)
    await Runner.run(agent, "Book a table for two at Tasca do Chico", session=session, run_config=config)
    await Runner.run(agent, "Thanks! Is it booked?", session=session, run_config=config)
    await Runner.run(agent, "Thanks! Is it booked?", session=session, run_config=config)
    return model


@pytest.fixture
def memory(tmp_path):
    with Memory(tmp_path / "agents.db", embedder=HashingEmbedder()) as mem:
        yield mem


def test_a_run_stores_the_same_items_as_the_sdks_own_session(memory):
    ours = EngramSession("dinner", memory, user_id="ana")
    assert isinstance(ours, Session)
    reference = SQLiteSession("dinner")  # the SDK's own, in memory

    async def main():
        mine, theirs = await converse(ours), await converse(reference)
        return mine, theirs, await ours.get_items(), await reference.get_items()

    mine, theirs, got, expected = asyncio.run(main())
    assert got == expected  # every item, tool call and result included, exactly
    assert mine.inputs == theirs.inputs  # the model saw the same history
    kinds = [item.get("type", item.get("role")) for item in got]
    assert kinds[:4] == ["user", "function_call", "function_call_output", "message"]
    assert len(got) == 8
    # the items are ordinary turns, found by Engram's search
    turns = memory.list(user_id="ana", session_id="dinner").items
    assert turns[1].content == "book_table(restaurant: Tasca do Chico, people: 2)"
    assert turns[2].content == "Booked Tasca do Chico for 2 at 20:00"
    assert memory.search("table booked", user_id="ana", k=8).hits


def test_the_session_protocol_get_limit_pop_and_clear(memory):
    session = EngramSession("s", memory, user_id="ana", session_settings=SessionSettings(limit=2))
    items = [
        {"role": "user", "content": "hi"},
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}", "id": "__fake_id__"},
        {"type": "function_call_output", "call_id": "c", "output": "done"},
        {"role": "user", "content": "hi"},
    ]

    async def main():
        await session.add_items(items[:2])
        await session.add_items(items[2:])
        return (
            await session.get_items(),
            await session.get_items(limit=10),
            await session.get_items(limit=0),
            await session.pop_item(),
            await session.get_items(limit=10),
        )

    default, everything, none, popped, after = asyncio.run(main())
    assert default == items[2:] and everything == items and none == []
    assert popped == items[3] and after == items[:3]
    asyncio.run(session.clear_session())
    assert asyncio.run(session.get_items()) == [] and asyncio.run(session.pop_item()) is None
    assert memory.stats(user_id="ana").turns == 0


def test_sessions_of_different_users_and_an_async_memory_are_apart(tmp_path):
    memory = AsyncMemory(tmp_path / "a.db", embedder=HashingEmbedder())
    ana, bob = EngramSession("s", memory, user_id="ana"), EngramSession("s", memory, user_id="bob")

    async def main():
        await ana.add_items([{"role": "user", "content": "I am Ana"}])
        await bob.add_items([{"role": "user", "content": "I am Bob"}])
        return await ana.get_items(), await bob.get_items()

    assert asyncio.run(main()) == ([{"role": "user", "content": "I am Ana"}], [{"role": "user", "content": "I am Bob"}])


def test_memory_tools_answer_from_the_users_memory(memory):
    memory.add(
        [{"role": "user", "content": "I'm allergic to peanuts and I live in Porto."}],
        user_id="ana",
        session_id="old",
    )
    model = ScriptedModel(
        [
            [call("recall_memories", {"query": "allergies"}, "c1")],
            [call("memory_context", {"query": "allergies", "budget_tokens": 300}, "c2")],
            [say("No peanuts, then.")],
        ]
    )
    agent = Agent(name="chef", model=model, tools=memory_tools(memory, user_id="ana", session_id="now"))
    result = asyncio.run(Runner.run(agent, "Suggest a dinner", run_config=RunConfig(tracing_disabled=True)))
    assert result.final_output == "No peanuts, then."
    outputs = [i for i in model.inputs[-1] if isinstance(i, dict) and i.get("type") == "function_call_output"]
    assert "allergic to peanuts" in outputs[0]["output"] and "] " in outputs[0]["output"]
    assert "allergic to peanuts" in outputs[1]["output"]
    names = {tool.name for tool in memory_tools(memory, user_id="ana")}
    assert names == {"recall_memories", "memory_context"}
