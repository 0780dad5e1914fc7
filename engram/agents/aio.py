"""Agent memory for :class:`engram.AsyncMemory`: the same methods, awaited in worker threads.

No second implementation: each method runs :class:`engram.Memory`'s own (see
:mod:`engram.agents.runs`, :mod:`engram.agents.world`), and :class:`AsyncRun` wraps the run
handle the same way.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from engram.agents.run import Run, SubgoalScope
from engram.agents.world import OBSERVATIONS_SESSION
from engram.model.fact import FactVersion
from engram.model.run import Experience, Outcome, RunContext, RunRecord, Step, Subgoal
from engram.model.world import ObservationResult, Sighting, Whereabouts
from engram.read.retrieve import RetrievalConfig
from engram.write.observe import LOCATION

if TYPE_CHECKING:
    from engram.engine import Memory


class AsyncSubgoal:
    """An open subgoal of an :class:`AsyncRun`; ``async with`` closes it like :class:`SubgoalScope`."""

    def __init__(self, scope: SubgoalScope) -> None:
        self.sync = scope
        self.id = scope.id
        self.title = scope.title

    async def close(self, outcome: Outcome | str = "success", *, summary: str | None = None) -> Subgoal:
        """See :meth:`SubgoalScope.close`."""
        return await asyncio.to_thread(self.sync.close, outcome, summary=summary)

    async def __aenter__(self) -> AsyncSubgoal:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.sync.__exit__, kind, exc, tb)


class AsyncRun:
    """The awaited twin of :class:`engram.agents.Run`."""

    def __init__(self, run: Run) -> None:
        self.sync = run

    @property
    def id(self) -> str:
        """The run id."""
        return self.sync.id

    async def record(self, content: str | None = None, **kwargs: Any) -> Step:
        """See :meth:`Run.record`."""
        return await asyncio.to_thread(self.sync.record, content, **kwargs)

    async def observe(self, text: str | None = None, **kwargs: Any) -> Step:
        """See :meth:`Run.observe`."""
        return await asyncio.to_thread(self.sync.observe, text, **kwargs)

    async def subgoal(self, title: str, *, timestamp: datetime | str | float | None = None) -> AsyncSubgoal:
        """See :meth:`Run.subgoal`; ``async with await run.subgoal("...")`` closes it."""
        return AsyncSubgoal(await asyncio.to_thread(self.sync.subgoal, title, timestamp=timestamp))

    async def close_subgoal(self, outcome: Outcome | str = "success", **kwargs: Any) -> Subgoal:
        """See :meth:`Run.close_subgoal`."""
        return await asyncio.to_thread(self.sync.close_subgoal, outcome, **kwargs)

    async def finish(self, outcome: Outcome | str, **kwargs: Any) -> RunRecord:
        """See :meth:`Run.finish`."""
        return await asyncio.to_thread(self.sync.finish, outcome, **kwargs)

    async def context(self, *, budget_tokens: int = 500) -> RunContext:
        """See :meth:`Run.context`."""
        return await asyncio.to_thread(self.sync.context, budget_tokens=budget_tokens)

    async def __aenter__(self) -> AsyncRun:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.sync.__exit__, kind, exc, tb)


class AsyncAgentMethods:
    """Runs, experience, lessons and world state for :class:`engram.AsyncMemory`."""

    sync: Memory

    async def start_run(
        self,
        goal: str,
        *,
        user_id: str,
        agent_id: str | None = None,
        run_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        timestamp: datetime | str | float | None = None,
    ) -> AsyncRun:
        """See :meth:`Memory.start_run`."""
        run = await asyncio.to_thread(
            self.sync.start_run,
            goal,
            user_id=user_id,
            agent_id=agent_id,
            run_id=run_id,
            metadata=metadata,
            timestamp=timestamp,
        )
        return AsyncRun(run)

    async def resume_run(self, run_id: str, *, user_id: str, agent_id: str | None = None) -> AsyncRun:
        """See :meth:`Memory.resume_run`."""
        return AsyncRun(await asyncio.to_thread(self.sync.resume_run, run_id, user_id=user_id, agent_id=agent_id))

    async def get_run(self, run_id: str, *, user_id: str, agent_id: str | None = None) -> RunRecord:
        """See :meth:`Memory.get_run`."""
        return await asyncio.to_thread(self.sync.get_run, run_id, user_id=user_id, agent_id=agent_id)

    async def runs(
        self, *, user_id: str, agent_id: str | None = None, outcome: str | None = None, limit: int = 100
    ) -> builtins.list[RunRecord]:
        """See :meth:`Memory.runs`."""
        return await asyncio.to_thread(self.sync.runs, user_id=user_id, agent_id=agent_id, outcome=outcome, limit=limit)

    async def run_context(
        self, run_id: str, *, user_id: str, agent_id: str | None = None, budget_tokens: int = 500
    ) -> RunContext:
        """See :meth:`Memory.run_context`."""
        return await asyncio.to_thread(
            self.sync.run_context, run_id, user_id=user_id, agent_id=agent_id, budget_tokens=budget_tokens
        )

    async def experience(
        self,
        goal: str,
        *,
        user_id: str,
        agent_id: str | None = None,
        budget_tokens: int = 800,
        k: int = 5,
        reference_time: datetime | str | float | None = None,
        include_failures: bool = True,
        config: str | RetrievalConfig | None = None,
    ) -> Experience:
        """See :meth:`Memory.experience`."""
        return await asyncio.to_thread(
            self.sync.experience,
            goal,
            user_id=user_id,
            agent_id=agent_id,
            budget_tokens=budget_tokens,
            k=k,
            reference_time=reference_time,
            include_failures=include_failures,
            config=config,
        )

    async def lessons(
        self,
        *,
        user_id: str,
        agent_id: str | None = None,
        as_of: datetime | str | float | None = None,
        include_history: bool = False,
    ) -> builtins.list[FactVersion]:
        """See :meth:`Memory.lessons`."""
        return await asyncio.to_thread(
            self.sync.lessons, user_id=user_id, agent_id=agent_id, as_of=as_of, include_history=include_history
        )

    async def observe(
        self,
        text: str | None = None,
        *,
        user_id: str,
        agent_id: str | None = None,
        subject: str | None = None,
        attribute: str = LOCATION,
        value: str | None = None,
        where: str | None = None,
        when: datetime | str | float | None = None,
        session_id: str = OBSERVATIONS_SESSION,
        metadata: Mapping[str, Any] | None = None,
    ) -> ObservationResult:
        """See :meth:`Memory.observe`."""
        return await asyncio.to_thread(
            self.sync.observe,
            text,
            user_id=user_id,
            agent_id=agent_id,
            subject=subject,
            attribute=attribute,
            value=value,
            where=where,
            when=when,
            session_id=session_id,
            metadata=metadata,
        )

    async def where(self, subject: str, *, user_id: str, as_of: datetime | str | float | None = None) -> Whereabouts:
        """See :meth:`Memory.where`."""
        return await asyncio.to_thread(self.sync.where, subject, user_id=user_id, as_of=as_of)

    async def seen_in(
        self, place: str, *, user_id: str, as_of: datetime | str | float | None = None
    ) -> builtins.list[Sighting]:
        """See :meth:`Memory.seen_in`."""
        return await asyncio.to_thread(self.sync.seen_in, place, user_id=user_id, as_of=as_of)

    async def moves(self, subject: str, *, user_id: str) -> builtins.list[FactVersion]:
        """See :meth:`Memory.moves`."""
        return await asyncio.to_thread(self.sync.moves, subject, user_id=user_id)


__all__ = ["AsyncAgentMethods", "AsyncRun", "AsyncSubgoal"]
