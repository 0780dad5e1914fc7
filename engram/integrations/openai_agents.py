"""OpenAI Agents SDK sessions and memory tools on Engram.

Install with ``pip install 'engram-recall[openai-agents]'``.

* :class:`EngramSession` implements the SDK's ``Session`` protocol (``get_items``,
  ``add_items``, ``pop_item``, ``clear_session``). Each item (a user message, an assistant
  message, a function call, its output, a reasoning item, ...) is one turn of an Engram
  session, added through :meth:`engram.Memory.add`, which takes Responses API items as they
  are: the turn indexes the item's readable text (a call as ``book_table(people: 2)``, an
  output, a message's text) and keeps the item verbatim, so ``get_items`` returns exactly
  what was added. Items are appended in order, with strictly increasing times: the same item
  twice is two items, as in the SDK's own sessions.
* :func:`memory_tools` gives an agent two tools over the user's whole memory (every session,
  facts included): ``recall_memories`` (search) and ``memory_context`` (a cited, budgeted
  memory block).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from engram.aio import AsyncMemory
from engram.engine import Memory
from engram.errors import EngramError, MissingDependencyError
from engram.integrations.common import next_times, session_turns, sync_memory
from engram.model import Turn
from engram.model.limits import MAX_BATCH_MESSAGES

try:
    from agents import FunctionTool, function_tool
    from agents.memory import SessionSettings
    from agents.memory.session_settings import resolve_session_limit
except ImportError as exc:  # pragma: no cover - exercised by the no-extras CI run
    raise MissingDependencyError("engram.integrations.openai_agents", "openai-agents", "agents") from exc


class EngramSession:
    """An Agents SDK session kept in Engram: one Engram session of one user.

    Args:
        session_id: the conversation (the Engram session).
        memory: the Engram memory (``Memory`` or ``AsyncMemory``).
        user_id: whose conversation it is.
        agent_id: the agent, when a user talks to several.
        session_settings: the SDK's settings (``limit``: how many items ``get_items`` returns
            by default).

    Example:
        >>> session = EngramSession("trip-1", Memory("agent.db"), user_id="ana")  # doctest: +SKIP
        >>> await Runner.run(agent, "Book a table for two", session=session)    # doctest: +SKIP
    """

    def __init__(
        self,
        session_id: str,
        memory: Memory | AsyncMemory,
        *,
        user_id: str,
        agent_id: str | None = None,
        session_settings: SessionSettings | None = None,
    ) -> None:
        self.session_id = session_id
        self.memory = sync_memory(memory)
        self.user_id, self.agent_id = user_id, agent_id
        self.session_settings = session_settings
        self._last: datetime | None = None

    def _turns(self) -> list[Turn]:
        return list(
            session_turns(self.memory, user_id=self.user_id, session_id=self.session_id, agent_id=self.agent_id)
        )

    async def get_items(self, limit: int | None = None) -> list[Any]:
        """The session's items, oldest first; the latest ``limit`` when given."""
        wanted = resolve_session_limit(limit, self.session_settings)
        turns = await asyncio.to_thread(self._turns)
        if wanted is not None and wanted >= 0:
            turns = turns[len(turns) - wanted :] if wanted else []
        return [turn.to_message() for turn in turns]

    async def add_items(self, items: list[Any]) -> None:
        """Append items (each call's items in one transaction, up to 2,000 at a time)."""
        if items:
            await asyncio.to_thread(self._add, items)

    def _add(self, items: Sequence[Any]) -> None:
        if self._last is None:
            turns = self._turns()
            self._last = turns[-1].timestamp if turns else None
        times = next_times(self._last, len(items))
        for start in range(0, len(items), MAX_BATCH_MESSAGES):
            chunk = [
                {**dict(item), "timestamp": at}
                for item, at in zip(items[start : start + MAX_BATCH_MESSAGES], times[start:], strict=False)
            ]
            self.memory.add(chunk, user_id=self.user_id, session_id=self.session_id, agent_id=self.agent_id)
        self._last = times[-1]

    async def pop_item(self) -> Any | None:
        """Remove the latest item and return it (``None`` when the session is empty)."""
        return await asyncio.to_thread(self._pop)

    def _pop(self) -> Any | None:
        turns = self._turns()
        if not turns:
            return None
        self.memory.delete([turns[-1].id], user_id=self.user_id)
        return turns[-1].to_message()

    async def clear_session(self) -> None:
        """Forget every item of the session (and what Engram derived from them)."""
        await asyncio.to_thread(self.memory.forget, user_id=self.user_id, session_id=self.session_id)
        self._last = None


def memory_tools(
    memory: Memory | AsyncMemory, *, user_id: str, session_id: str | None = None, k: int = 5
) -> list[FunctionTool]:
    """Tools an agent calls to read the user's long-term memory.

    The user is fixed here, not chosen by the model. ``session_id`` names the current
    conversation, whose latest turns ``memory_context`` shows first.

    Returns:
        ``recall_memories(query)``: the ``k`` best stored messages, dated, one per line;
        ``memory_context(query, budget_tokens)``: a cited memory block with facts first.
    """
    sync = sync_memory(memory)

    @function_tool
    async def recall_memories(query: str) -> str:
        """Search the user's memory of past conversations; returns the best matches, dated, best first.

        Args:
            query: what you want to know, in plain words.
        """
        try:
            result = await asyncio.to_thread(sync.search, query, user_id=user_id, k=k)
        except EngramError as exc:
            return f"error: {exc}"
        lines = [f"[{h.turn.timestamp:%Y-%m-%d}] {h.turn.speaker}: {h.turn.content}" for h in result.hits]
        return "\n".join(lines) or "no memories found"

    @function_tool
    async def memory_context(query: str, budget_tokens: int = 800) -> str:
        """Get a compact memory block about the user for your next reply: known facts, then relevant past messages.

        Args:
            query: what the reply is about.
            budget_tokens: most tokens the block may take.
        """
        try:
            result = await asyncio.to_thread(
                sync.context, query, user_id=user_id, session_id=session_id, budget_tokens=budget_tokens
            )
        except EngramError as exc:
            return f"error: {exc}"
        return result.text or "no memories found"

    return [recall_memories, memory_context]


__all__ = ["EngramSession", "memory_tools"]
