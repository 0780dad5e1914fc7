"""The handle an agent loop records a run through: ``record`` steps, open and close subgoals,
``finish`` with an outcome. Each call stores one turn (see :mod:`engram.model.run_events`).

Example:
    >>> run = memory.start_run("Book a table for two", user_id="sam", agent_id="concierge")  # doctest: +SKIP
    >>> run.record(tool="find_restaurant", args={"cuisine": "thai"}, result="Baan, 19:00")  # doctest: +SKIP
    >>> run.finish("success", score=1.0)                                                     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from engram.agents.world import read_observation
from engram.errors import ValidationError
from engram.model.run import Outcome, RunContext, RunRecord, Step, StepKind, Subgoal
from engram.model.run_events import (
    check_number,
    check_outcome,
    finish_message,
    step_from_turn,
    step_message,
    subgoal_done_message,
    subgoal_message,
)
from engram.model.turn import Turn, check_text

if TYPE_CHECKING:
    from engram.engine import Memory


class SubgoalScope:
    """An open subgoal; as a context manager it closes with ``success``, or ``failure`` on an exception."""

    def __init__(self, run: Run, subgoal: Subgoal) -> None:
        self.run = run
        self.id = subgoal.id
        self.title = subgoal.title

    def close(self, outcome: Outcome | str = "success", *, summary: str | None = None) -> Subgoal:
        """Close this subgoal (and any still open inside it)."""
        return self.run.close_subgoal(outcome, summary=summary, subgoal_id=self.id)

    def __enter__(self) -> SubgoalScope:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if any(s.id == self.id for s in self.run.open_subgoals):
            self.close("failure" if exc is not None else "success", summary=f"stopped: {exc}" if exc is not None else None)


class Run:
    """A task run being recorded. Made by :meth:`engram.Memory.start_run` or ``resume_run``.

    As a context manager it finishes the run when the block ends, if the block did not:
    ``success``, or ``failure`` with the exception as summary.
    """

    def __init__(self, memory: Memory, record: RunRecord) -> None:
        self._memory = memory
        self._record = record
        self._steps = list(record.steps)
        self._subgoals = {s.id: s for s in record.subgoals}
        self._next = record.events

    @property
    def id(self) -> str:
        """The run id (also its session id)."""
        return self._record.id

    @property
    def open_subgoals(self) -> list[Subgoal]:
        """Subgoals not closed yet, outermost first."""
        return [s for s in self._subgoals.values() if s.open]

    @property
    def finished(self) -> bool:
        """Whether the run has an outcome."""
        return self._record.finished

    def _store(self, message: dict[str, Any]) -> Turn:
        if self._record.finished:
            raise ValidationError(f"run {self.id!r} is finished; start a new run")
        turn = self._memory._run_turn(self._record, message)
        self._next += 1
        return turn

    def record(
        self,
        content: str | None = None,
        *,
        role: str | None = None,
        tool: str | None = None,
        args: Any = None,
        result: Any = None,
        error: str | None = None,
        kind: StepKind | None = None,
        metadata: Mapping[str, Any] | None = None,
        timestamp: datetime | str | float | None = None,
    ) -> Step:
        """Record one step: a message (``content``), a tool call (``tool`` with ``args`` and
        ``result``, or ``error`` when it failed), or an observation (``kind="observation"``).
        ``role`` defaults to ``assistant`` for a message and ``tool`` otherwise.

        Returns:
            the step as stored (its ``turn_id`` is the turn that holds it).

        Raises:
            ValidationError: the step is malformed or the run is finished; nothing was stored.
        """
        chosen: StepKind = kind or ("tool_call" if tool is not None else "message")
        role = role or ("assistant" if chosen == "message" else "tool")
        if content is not None:
            check_text(content, "content")
        if error is not None and not isinstance(error, str):
            error = str(error)
        opened = self.open_subgoals
        message = step_message(
            self.id,
            self._next,
            kind=chosen,
            role=role,
            content=content,
            subgoal_id=opened[-1].id if opened else None,
            tool=tool,
            args=args,
            result=result,
            error=error,
            metadata=metadata,
            timestamp=self._memory._when(timestamp),
        )
        turn = self._store(message)
        step = step_from_turn(turn.metadata["run"], turn)
        self._steps.append(step)
        return step

    def observe(
        self,
        text: str | None = None,
        *,
        subject: str | None = None,
        attribute: str = "location",
        value: str | None = None,
        where: str | None = None,
        timestamp: datetime | str | float | None = None,
    ) -> Step:
        """Record an observation step that also updates the world state (see ``Memory.observe``):
        ``run.observe("the red mug is on the shelf")`` or ``run.observe(subject=..., value=...)``."""
        observed = read_observation(text, subject=subject, attribute=attribute, value=value, where=where)
        content = text or " ".join(o.statement.rstrip(".") + "." for o in observed)
        metadata = {"observation": [{"subject": o.subject, "attribute": o.attribute, "value": o.value} for o in observed]}
        step = self.record(content, kind="observation", metadata=metadata, timestamp=timestamp)
        self._memory._world_facts(self._record.user_id, self._record.agent_id, step.timestamp, step.turn_id, observed)
        return step

    def subgoal(self, title: str, *, timestamp: datetime | str | float | None = None) -> SubgoalScope:
        """Open a subgoal inside the innermost open one; ``with run.subgoal("..."):`` closes it."""
        check_text(title, "title")
        opened = self.open_subgoals
        subgoal_id, index = f"S{len(self._subgoals) + 1}", self._next
        turn = self._store(
            subgoal_message(
                self.id, self._next, subgoal_id, title, parent_id=opened[-1].id if opened else None,
                timestamp=self._memory._when(timestamp),
            )
        )
        subgoal = Subgoal(
            id=subgoal_id,
            title=title,
            opened_at=turn.timestamp,
            turn_id=turn.id,
            parent_id=opened[-1].id if opened else None,
            index=index,
        )
        self._subgoals[subgoal_id] = subgoal
        return SubgoalScope(self, subgoal)

    def close_subgoal(
        self,
        outcome: Outcome | str = "success",
        *,
        summary: str | None = None,
        subgoal_id: str | None = None,
        timestamp: datetime | str | float | None = None,
    ) -> Subgoal:
        """Close the innermost open subgoal (or ``subgoal_id``, and those open inside it).

        Its steps are summarised in one line (``summary`` if given, else by the configured
        LLM, else extractively) that stands for them in the run's working memory.

        Raises:
            ValidationError: no such open subgoal, or a bad outcome.
        """
        checked = check_outcome(outcome)
        opened = self.open_subgoals
        if not opened:
            raise ValidationError(f"run {self.id!r} has no open subgoal")
        target = subgoal_id or opened[-1].id
        if target not in {s.id for s in opened}:
            raise ValidationError(f"subgoal {target!r} is not open in run {self.id!r}")
        closed: Subgoal | None = None
        for subgoal in reversed(opened):  # inner ones first, down to the target
            line = summary if subgoal.id == target and summary else None
            closed = self._close(subgoal, checked if subgoal.id == target else "partial", line, timestamp)
            if subgoal.id == target:
                break
        assert closed is not None
        return closed

    def _close(
        self, subgoal: Subgoal, outcome: Outcome, summary: str | None, timestamp: datetime | str | float | None
    ) -> Subgoal:
        inside = self._subtree(subgoal.id)
        steps = [step for step in self._steps if step.subgoal_id in inside]
        line = summary or self._memory._summarise(subgoal.title, steps, outcome)
        index = self._next
        turn = self._store(
            subgoal_done_message(self.id, self._next, subgoal, outcome, line, timestamp=self._memory._when(timestamp))
        )
        closed = replace(subgoal, closed_at=turn.timestamp, outcome=outcome, summary=line, closed_index=index)
        self._subgoals[subgoal.id] = closed
        return closed

    def _subtree(self, root: str) -> set[str]:
        inside = {root}
        grew = True
        while grew:
            more = {s.id for s in self._subgoals.values() if s.parent_id in inside} - inside
            inside |= more
            grew = bool(more)
        return inside

    def finish(
        self,
        outcome: Outcome | str,
        *,
        score: float | None = None,
        cost: float | None = None,
        summary: str | None = None,
        timestamp: datetime | str | float | None = None,
    ) -> RunRecord:
        """End the run: close open subgoals with its outcome, store the outcome, learn its lessons.

        Returns:
            the run as stored.
        """
        checked = check_outcome(outcome)
        score, cost = check_number(score, "score"), check_number(cost, "cost")
        if summary is not None:
            check_text(summary, "summary")
        if self._record.finished:
            raise ValidationError(f"run {self.id!r} is finished already")
        for subgoal in reversed(self.open_subgoals):
            self._close(subgoal, checked, None, timestamp)
        self._store(
            finish_message(
                self.id, self._next, self._record.goal, checked, score=score, cost=cost, summary=summary,
                timestamp=self._memory._when(timestamp),
            )
        )
        self._record = self._memory.get_run(self.id, user_id=self._record.user_id, agent_id=self._record.agent_id)
        self._memory._learn(self._record)
        return self._record

    def get(self) -> RunRecord:
        """The run as stored now."""
        return self._memory.get_run(self.id, user_id=self._record.user_id, agent_id=self._record.agent_id)

    def context(self, *, budget_tokens: int = 500) -> RunContext:
        """The run's working memory inside ``budget_tokens`` (see :mod:`engram.read.run_context`)."""
        return self._memory.run_context(
            self.id, user_id=self._record.user_id, agent_id=self._record.agent_id, budget_tokens=budget_tokens
        )

    def __enter__(self) -> Run:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if not self._record.finished:
            if exc is not None:
                self.finish("failure", summary=f"stopped by {type(exc).__name__}: {exc}"[:500])
            else:
                self.finish("success")
