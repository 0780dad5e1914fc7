"""AsyncMemory: the same implementation as :class:`engram.Memory`, awaited in worker threads.

The store and the embedder do blocking I/O and CPU work; running each call in a thread
keeps an event loop (a web server, an agent framework) responsive. There is no second
pipeline: every method delegates to the one in :class:`Memory`, and a parity test holds them
to the same results.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import IO, Any

from engram.agents.aio import AsyncAgentMethods
from engram.engine import Memory
from engram.model import (
    AddResult,
    ContextResult,
    DeleteReceipt,
    EpisodePage,
    Page,
    SearchFilters,
    SearchResult,
    Stats,
    Turn,
)
from engram.model.fact import FactVersion
from engram.model.limits import DEFAULT_EXCERPT_TOKENS
from engram.model.profile import Profile
from engram.model.results import SessionSummary, UserSummary
from engram.read.retrieve import RetrievalConfig
from engram.store.base import ForgetReceipt
from engram.write.consolidate import ConsolidationReport


class AsyncMemory(AsyncAgentMethods):
    """``await``-able Memory. Takes the same arguments as :class:`Memory`, or one via ``memory=``."""

    def __init__(self, *args: Any, memory: Memory | None = None, **kwargs: Any) -> None:
        self.sync = memory if memory is not None else Memory(*args, **kwargs)

    @property
    def tenant(self) -> str:
        """The tenant every call works in."""
        return self.sync.tenant

    async def add(
        self,
        messages: str | Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        user_id: str,
        session_id: str,
        agent_id: str | None = None,
        timestamp: datetime | str | float | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> AddResult:
        """See :meth:`Memory.add`."""
        return await asyncio.to_thread(
            self.sync.add,
            messages,
            user_id=user_id,
            session_id=session_id,
            agent_id=agent_id,
            timestamp=timestamp,
            metadata=metadata,
        )

    async def search(
        self,
        query: str,
        *,
        user_id: str,
        agent_id: str | None = None,
        k: int = 10,
        filters: SearchFilters | Mapping[str, Any] | None = None,
        reference_time: datetime | str | float | None = None,
        explain: bool = False,
        config: str | RetrievalConfig | None = None,
    ) -> SearchResult:
        """See :meth:`Memory.search`."""
        return await asyncio.to_thread(
            self.sync.search,
            query,
            user_id=user_id,
            agent_id=agent_id,
            k=k,
            filters=filters,
            reference_time=reference_time,
            explain=explain,
            config=config,
        )

    async def context(
        self,
        query: str,
        *,
        user_id: str,
        session_id: str | None = None,
        agent_id: str | None = None,
        budget_tokens: int = 2000,
        reference_time: datetime | str | float | None = None,
        filters: SearchFilters | Mapping[str, Any] | None = None,
        working_share: float = 0.5,
        candidates: int = 50,
        facts_share: float = 0.15,
        include_profile: bool = True,
        expand: bool = True,
        reinforce: bool = True,
        config: str | RetrievalConfig | None = None,
        excerpt_tokens: int | None = DEFAULT_EXCERPT_TOKENS,
    ) -> ContextResult:
        """See :meth:`Memory.context`."""
        return await asyncio.to_thread(
            self.sync.context,
            query,
            user_id=user_id,
            session_id=session_id,
            agent_id=agent_id,
            budget_tokens=budget_tokens,
            reference_time=reference_time,
            filters=filters,
            working_share=working_share,
            candidates=candidates,
            facts_share=facts_share,
            include_profile=include_profile,
            expand=expand,
            reinforce=reinforce,
            config=config,
            excerpt_tokens=excerpt_tokens,
        )

    async def get(self, turn_id: str, *, user_id: str, agent_id: str | None = None) -> Turn:
        """See :meth:`Memory.get`."""
        return await asyncio.to_thread(self.sync.get, turn_id, user_id=user_id, agent_id=agent_id)

    async def list(
        self,
        *,
        user_id: str,
        session_id: str | None = None,
        agent_id: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        """See :meth:`Memory.list`."""
        return await asyncio.to_thread(
            self.sync.list,
            user_id=user_id,
            session_id=session_id,
            agent_id=agent_id,
            limit=limit,
            cursor=cursor,
        )

    async def delete(self, ids: str | Iterable[str], *, user_id: str) -> DeleteReceipt:
        """See :meth:`Memory.delete`."""
        return await asyncio.to_thread(self.sync.delete, ids, user_id=user_id)

    async def stats(self, *, user_id: str | None = None) -> Stats:
        """See :meth:`Memory.stats`."""
        return await asyncio.to_thread(self.sync.stats, user_id=user_id)

    async def export(self, dest: IO[str], *, user_id: str | None = None, with_vectors: bool = True) -> int:
        """See :meth:`Memory.export`."""
        return await asyncio.to_thread(self.sync.export, dest, user_id=user_id, with_vectors=with_vectors)

    async def import_(
        self, source: Iterable[str], *, batch: int = 1000, progress: Callable[[int], None] | None = None
    ) -> AddResult:
        """See :meth:`Memory.import_` (``progress`` is called from the worker thread)."""
        return await asyncio.to_thread(self.sync.import_, source, batch=batch, progress=progress)

    async def users(self, *, after: str | None = None, limit: int = 100) -> builtins.list[UserSummary]:
        """See :meth:`Memory.users`."""
        return await asyncio.to_thread(self.sync.users, after=after, limit=limit)

    async def sessions(
        self, *, user_id: str, after: str | None = None, limit: int = 100
    ) -> builtins.list[SessionSummary]:
        """See :meth:`Memory.sessions`."""
        return await asyncio.to_thread(self.sync.sessions, user_id=user_id, after=after, limit=limit)

    # -- lifecycle ------------------------------------------------------------------------------

    async def facts(
        self,
        *,
        user_id: str,
        agent_id: str | None = None,
        as_of: datetime | str | float | None = None,
        subject: str | None = None,
        kind: str | None = None,
        include_history: bool = False,
        include_archived: bool = False,
    ) -> builtins.list[FactVersion]:
        """See :meth:`Memory.facts`."""
        return await asyncio.to_thread(
            self.sync.facts,
            user_id=user_id,
            agent_id=agent_id,
            as_of=as_of,
            subject=subject,
            kind=kind,
            include_history=include_history,
            include_archived=include_archived,
        )

    async def history(self, fact_id: str, *, user_id: str) -> builtins.list[FactVersion]:
        """See :meth:`Memory.history`."""
        return await asyncio.to_thread(self.sync.history, fact_id, user_id=user_id)

    async def profile(
        self, *, user_id: str, agent_id: str | None = None, as_of: datetime | str | float | None = None
    ) -> Profile:
        """See :meth:`Memory.profile`."""
        return await asyncio.to_thread(self.sync.profile, user_id=user_id, agent_id=agent_id, as_of=as_of)

    async def episodes(
        self,
        *,
        user_id: str,
        session_id: str | None = None,
        agent_id: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
        include_archived: bool = False,
    ) -> EpisodePage:
        """See :meth:`Memory.episodes`."""
        return await asyncio.to_thread(
            self.sync.episodes,
            user_id=user_id,
            session_id=session_id,
            agent_id=agent_id,
            limit=limit,
            cursor=cursor,
            include_archived=include_archived,
        )

    async def consolidate(self, *, user_id: str, decay: bool = True) -> ConsolidationReport:
        """See :meth:`Memory.consolidate`."""
        return await asyncio.to_thread(self.sync.consolidate, user_id=user_id, decay=decay)

    async def forget(
        self, *, user_id: str, session_id: str | None = None, ids: Iterable[str] | None = None
    ) -> ForgetReceipt:
        """See :meth:`Memory.forget`."""
        return await asyncio.to_thread(self.sync.forget, user_id=user_id, session_id=session_id, ids=ids)

    async def pin(self, ids: Iterable[str], *, user_id: str) -> builtins.list[str]:
        """See :meth:`Memory.pin`."""
        return await asyncio.to_thread(self.sync.pin, ids, user_id=user_id)

    async def unpin(self, ids: Iterable[str], *, user_id: str) -> builtins.list[str]:
        """See :meth:`Memory.unpin`."""
        return await asyncio.to_thread(self.sync.unpin, ids, user_id=user_id)

    async def restore(self, ids: Iterable[str], *, user_id: str) -> builtins.list[str]:
        """See :meth:`Memory.restore`."""
        return await asyncio.to_thread(self.sync.restore, ids, user_id=user_id)

    async def archive(self, ids: Iterable[str], *, user_id: str) -> builtins.list[str]:
        """See :meth:`Memory.archive`."""
        return await asyncio.to_thread(self.sync.archive, ids, user_id=user_id)

    async def retention(
        self, memory_id: str, *, user_id: str, at: datetime | str | float | None = None
    ) -> float:
        """See :meth:`Memory.retention`."""
        return await asyncio.to_thread(self.sync.retention, memory_id, user_id=user_id, at=at)

    async def close(self) -> None:
        """Close the store."""
        await asyncio.to_thread(self.sync.close)

    async def __aenter__(self) -> AsyncMemory:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
