"""LangChain chat history on Engram's lossless turns: ``EngramChatMessageHistory``.

Install with ``pip install 'engram-recall[langgraph]'`` (it needs ``langchain-core``).

Each LangChain message becomes one turn of the session, added through
:meth:`engram.Memory.add` in OpenAI's chat format (so a human message's text, an AI message's
tool calls and a tool's result are indexed, searched and put in contexts like any turn); what
that format does not carry (message ids, ``additional_kwargs``, ``response_metadata``, usage,
a tool call's parsed ``args``) is kept in the turn's metadata under ``langchain``, so
``messages`` gives back messages equal to those added. Messages are appended: the same words
twice are two turns. ``clear`` forgets the session (:meth:`engram.Memory.forget`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from engram.aio import AsyncMemory
from engram.engine import Memory
from engram.errors import MissingDependencyError
from engram.integrations.common import next_times, session_turns, sync_memory
from engram.model import Turn

try:
    from langchain_core.chat_history import BaseChatMessageHistory
    from langchain_core.messages import (
        BaseMessage,
        convert_to_messages,
        convert_to_openai_messages,
        message_to_dict,
        messages_from_dict,
    )
except ImportError as exc:  # pragma: no cover - exercised by the no-extras CI run
    raise MissingDependencyError("engram.integrations.langchain", "langgraph", "langchain_core") from exc

_META = "langchain"


class EngramChatMessageHistory(BaseChatMessageHistory):
    """The messages of one conversation (a user's session), stored in Engram.

    Args:
        memory: the Engram memory (``Memory`` or ``AsyncMemory``).
        user_id: whose conversation it is.
        session_id: the conversation.
        agent_id: the agent, when a user talks to several.

    Example:
        >>> history = EngramChatMessageHistory(Memory("chat.db"), user_id="ana", session_id="s1")  # doctest: +SKIP
        >>> history.add_user_message("I moved to Lisbon")                # doctest: +SKIP
    """

    def __init__(
        self, memory: Memory | AsyncMemory, *, user_id: str, session_id: str, agent_id: str | None = None
    ) -> None:
        self.memory = sync_memory(memory)
        self.user_id, self.session_id, self.agent_id = user_id, session_id, agent_id
        self._last: datetime | None = None

    def _turns(self) -> list[Turn]:
        return list(
            session_turns(self.memory, user_id=self.user_id, session_id=self.session_id, agent_id=self.agent_id)
        )

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        """Every message of the conversation, oldest first, as it was added."""
        return [_message(turn) for turn in self._turns()]

    async def aget_messages(self) -> list[BaseMessage]:
        """:attr:`messages`, in a worker thread."""
        return await asyncio.to_thread(lambda: self.messages)

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append messages (one call: one transaction)."""
        if not messages:
            return
        if self._last is None:
            turns = self._turns()
            self._last = turns[-1].timestamp if turns else None
        times = next_times(self._last, len(messages))
        batch = []
        for message, at in zip(messages, times, strict=True):
            chat: dict[str, Any] = convert_to_openai_messages(message)  # type: ignore[assignment]
            record = message_to_dict(message)
            if record["data"].get("content") == chat.get("content"):
                del record["data"]["content"]  # kept once, in the turn
            batch.append({**chat, "timestamp": at, "metadata": {_META: record}})
        self.memory.add(batch, user_id=self.user_id, session_id=self.session_id, agent_id=self.agent_id)
        self._last = times[-1]

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        """:meth:`add_messages`, in a worker thread."""
        await asyncio.to_thread(self.add_messages, messages)

    def clear(self) -> None:
        """Forget the conversation everywhere (turns, facts learned from them, episodes)."""
        self.memory.forget(user_id=self.user_id, session_id=self.session_id)
        self._last = None

    async def aclear(self) -> None:
        """:meth:`clear`, in a worker thread."""
        await asyncio.to_thread(self.clear)


def _message(turn: Turn) -> BaseMessage:
    record = turn.metadata.get(_META)
    if not isinstance(record, dict):  # a turn added another way: read it as a chat message
        record = message_to_dict(convert_to_messages([turn.to_message()])[0])
    elif "content" not in record["data"]:
        record = {**record, "data": {**record["data"], "content": turn.to_message().get("content")}}
    return messages_from_dict([record])[0]


__all__ = ["EngramChatMessageHistory"]
