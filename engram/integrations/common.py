"""What the framework adapters share: the memory they wrap, paging, strictly increasing times."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from engram.aio import AsyncMemory
from engram.engine import Memory
from engram.model import Turn
from engram.model.limits import MAX_PAGE_SIZE


def sync_memory(memory: Memory | AsyncMemory) -> Memory:
    """The :class:`Memory` behind either kind (an :class:`AsyncMemory` wraps one)."""
    return memory.sync if isinstance(memory, AsyncMemory) else memory


def session_turns(memory: Memory, *, user_id: str, session_id: str, agent_id: str | None = None) -> Iterator[Turn]:
    """Every turn of a session, oldest first, a page at a time."""
    cursor: str | None = None
    while True:
        page = memory.list(
            user_id=user_id, session_id=session_id, agent_id=agent_id, limit=MAX_PAGE_SIZE, cursor=cursor
        )
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def next_times(after: datetime | None, count: int) -> list[datetime]:
    """``count`` event times from now, each later than ``after`` and the one before.

    Frameworks append: the same words said twice are two messages. An explicit, strictly
    increasing time makes each its own turn (Engram takes a message without one, sent again,
    as a retry) and keeps them in the order given.
    """
    start = datetime.now(UTC)
    if after is not None and start <= after:
        start = after + timedelta(microseconds=1)
    return [start + timedelta(microseconds=i) for i in range(count)]
