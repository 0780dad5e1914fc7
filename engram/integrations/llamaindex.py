"""A LlamaIndex memory block on Engram: ``EngramMemoryBlock``.

Install with ``pip install 'engram-recall[llamaindex]'``.

Put it in a LlamaIndex ``Memory`` (``Memory.from_defaults(memory_blocks=[block])``). The
``Memory`` keeps the latest messages itself; those it flushes out of its short-term window
reach the block's ``aput``, which adds them to the user's Engram session (through
:meth:`engram.Memory.add`: text, tool calls and tool results, in order). Each time the agent
reads its memory, the block's ``aget`` asks :meth:`engram.Memory.context` about the latest
messages and returns its budgeted, dated, cited text (facts first, then the past turns that
matter), which the ``Memory`` inserts into the prompt. ``atruncate`` asks again with a
smaller budget.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

from engram.errors import MissingDependencyError
from engram.integrations.common import next_times, sync_memory

try:
    from llama_index.core.base.llms.types import ChatMessage, TextBlock
    from llama_index.core.bridge.pydantic import Field, PrivateAttr
    from llama_index.core.memory.memory import BaseMemoryBlock
except ImportError as exc:  # pragma: no cover - exercised by the no-extras CI run
    raise MissingDependencyError("engram.integrations.llamaindex", "llamaindex", "llama_index.core") from exc

#: LlamaIndex roles that Engram stores under another name.
_ROLES = {"chatbot": "assistant", "model": "assistant"}
_MIN_BUDGET = 50


class EngramMemoryBlock(BaseMemoryBlock[str]):
    """Long-term memory for a LlamaIndex ``Memory``: Engram's context in, flushed messages out.

    Args:
        memory: the Engram memory (``Memory`` or ``AsyncMemory``).
        user_id: whose memory it is.
        session_id: the Engram session flushed messages go to; default the LlamaIndex
            ``Memory``'s session id.
        budget_tokens: most tokens of the memory text.
        query_messages: how many of the latest messages make the question asked of memory.
    """

    name: str = Field(default="engram", description="The name of the memory block.")
    memory: Any = Field(description="The Engram Memory or AsyncMemory.", exclude=True)
    user_id: str = Field(description="Whose memory it is.")
    session_id: str | None = Field(default=None, description="The Engram session for flushed messages.")
    budget_tokens: int = Field(default=1000, description="Most tokens of the memory text.")
    query_messages: int = Field(default=3, description="Latest messages that make the query.")
    _last_query: tuple[str, str | None] | None = PrivateAttr(default=None)
    _last_time: datetime | None = PrivateAttr(default=None)

    async def _aget(self, messages: list[ChatMessage] | None = None, **block_kwargs: Any) -> str:
        """The memory text for the latest messages ("" when there is nothing to ask about)."""
        query = " ".join(_text(m) for m in (messages or [])[-self.query_messages :]).strip()
        if not query:
            return ""
        session = self.session_id or block_kwargs.get("session_id")
        self._last_query = (query[-4000:], session)
        return await self._context(self.budget_tokens)

    async def _context(self, budget: int) -> str:
        assert self._last_query is not None
        query, session = self._last_query
        memory = sync_memory(self.memory)
        result = await asyncio.to_thread(
            memory.context, query, user_id=self.user_id, session_id=session, budget_tokens=budget
        )
        return result.text

    async def _aput(self, messages: list[ChatMessage]) -> None:
        """Add the messages to the user's Engram session, in order."""
        by_session: dict[str, list[dict[str, Any]]] = {}
        for message in messages:
            chat = _chat(message)
            if chat is not None:
                session = self.session_id or str(message.additional_kwargs.get("session_id") or "llamaindex")
                by_session.setdefault(session, []).append(chat)
        if by_session:
            await asyncio.to_thread(self._add, by_session)

    def _add(self, by_session: dict[str, list[dict[str, Any]]]) -> None:
        memory = sync_memory(self.memory)
        for session, batch in by_session.items():
            times = next_times(self._last_time, len(batch))
            memory.add(
                [{**chat, "timestamp": at} for chat, at in zip(batch, times, strict=True)],
                user_id=self.user_id,
                session_id=session,
            )
            self._last_time = times[-1]

    async def atruncate(self, content: str, tokens_to_truncate: int) -> str | None:
        """The memory text again, in a budget ``tokens_to_truncate`` smaller (``None`` if too small)."""
        if self._last_query is None:
            return None
        used = sync_memory(self.memory).token_counter.count(content)
        budget = used - tokens_to_truncate
        return await self._context(budget) if budget >= _MIN_BUDGET else None


def _text(message: ChatMessage) -> str:
    return "\n".join(block.text for block in message.blocks if isinstance(block, TextBlock) and block.text)


def _chat(message: ChatMessage) -> dict[str, Any] | None:
    """A LlamaIndex message in OpenAI's chat format (``None`` when it has nothing to keep)."""
    role = _ROLES.get(message.role.value, message.role.value)
    chat: dict[str, Any] = {"role": role, "content": _text(message)}
    extra = message.additional_kwargs
    calls = extra.get("tool_calls")
    if role == "assistant" and calls:
        chat["tool_calls"] = [_plain(call) for call in calls]
        chat["content"] = chat["content"] or None
    if role == "tool" and extra.get("tool_call_id"):
        chat["tool_call_id"] = str(extra["tool_call_id"])
    if not chat["content"] and "tool_calls" not in chat:
        return None
    return chat


def _plain(value: Any) -> Any:
    """A tool call as JSON data (LLM clients give pydantic objects)."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude_none=True)
    return json.loads(json.dumps(value, default=str))


__all__ = ["EngramMemoryBlock"]
