"""EngramMemoryBlock inside a real LlamaIndex Memory: context in, flushed messages out (offline)."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("llama_index.core.memory")

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.memory import Memory as LlamaMemory
from llama_index.core.memory.memory import BaseMemoryBlock

from engram import AsyncMemory, HashingEmbedder, Memory
from engram.integrations.llamaindex import EngramMemoryBlock


def words(text: str) -> list[str]:  # LlamaIndex's default tokenizer would download tiktoken's files
    return text.split()


@pytest.fixture
def memory(tmp_path):
    with Memory(tmp_path / "li.db", embedder=HashingEmbedder()) as mem:
        mem.add(
            [{"role": "user", "content": "I'm allergic to peanuts, and I live in Porto."}],
            user_id="ana",
            session_id="last-year",
        )
        yield mem


def llama_memory(block: EngramMemoryBlock) -> LlamaMemory:
    return LlamaMemory.from_defaults(
        session_id="chat-1",
        token_limit=80,
        chat_history_token_ratio=0.5,
        token_flush_size=20,
        memory_blocks=[block],
        tokenizer_fn=words,
    )


def test_the_block_puts_engram_context_into_the_prompt(memory):
    block = EngramMemoryBlock(memory=memory, user_id="ana", budget_tokens=200)
    assert isinstance(block, BaseMemoryBlock)
    chat = llama_memory(block)
    messages = asyncio.run(chat.aget(input="What am I allergic to?"))
    system = messages[0]
    assert system.role.value == "system" and "<engram>" in system.content
    assert "allergic to peanuts" in system.content and "[" in system.content  # dated, cited lines


def test_messages_flushed_from_short_term_memory_are_stored_in_order(memory):
    block = EngramMemoryBlock(memory=memory, user_id="ana")
    chat = llama_memory(block)

    async def main():
        for n in range(8):
            await chat.aput(ChatMessage(role="user", content=f"note {n}: the Kyoto trip needs a rail pass"))
        return await chat.aget()

    kept = asyncio.run(main())
    stored = [t.content for t in memory.list(user_id="ana", session_id="chat-1").items]
    assert stored and stored == [f"note {n}: the Kyoto trip needs a rail pass" for n in range(len(stored))]
    assert len(stored) + sum(1 for m in kept if m.role.value == "user") == 8  # every note: flushed or kept


def test_tool_calls_and_results_are_stored_in_chat_format(memory):
    block = EngramMemoryBlock(memory=memory, user_id="ana", session_id="tools")
    call = {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Porto"}'}}
    asyncio.run(
        block.aput(
            [
                ChatMessage(role="user", content="Weather in Porto?"),
                ChatMessage(role="assistant", content="", additional_kwargs={"tool_calls": [call]}),
                ChatMessage(role="tool", content="21C, sunny", additional_kwargs={"tool_call_id": "c1"}),
                ChatMessage(role="assistant", content=""),  # nothing to keep
            ]
        )
    )
    turns = memory.list(user_id="ana", session_id="tools").items
    assert [t.to_message() for t in turns] == [
        {"role": "user", "content": "Weather in Porto?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "21C, sunny"},
    ]


def test_truncation_asks_again_with_a_smaller_budget(tmp_path):
    memory = AsyncMemory(tmp_path / "t.db", embedder=HashingEmbedder())
    memory.sync.add(
        [{"role": "user", "content": f"Fact {n}: I collect stamps from country number {n}."} for n in range(30)],
        user_id="ana",
        session_id="s",
    )
    block = EngramMemoryBlock(memory=memory, user_id="ana", budget_tokens=400)
    assert asyncio.run(block.atruncate("anything", 10)) is None  # nothing asked yet
    full = asyncio.run(block.aget([ChatMessage(role="user", content="Which stamps do I collect?")]))
    counter = memory.sync.token_counter
    smaller = asyncio.run(block.atruncate(full, 200))
    assert smaller and counter.count(smaller) <= counter.count(full) - 150
    assert asyncio.run(block.atruncate(full, counter.count(full))) is None
    assert asyncio.run(block.aget([])) == ""
