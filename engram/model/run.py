"""Task runs: what an agent did for one goal (HiAgent, TME, STE, GoalfyMax in ``SEEDS.md``).

A run is not a second store. It is a session of turns in the agent's scope (``session_id`` is
the run id), one turn per event, with the structured event in the turn's metadata, so the
turn store, its indexes, retrieval, forgetting, export and tenant isolation all apply to runs
unchanged. :mod:`engram.model.run_events` turns events into messages and turns back into a
:class:`RunRecord`, losslessly. Pure data: no I/O.

Events: ``start`` (the goal), ``step`` (a message, a tool call with its arguments and result,
an observation), ``subgoal`` (one opens), ``subgoal_done`` (one closes, with its outcome and
a one-line summary: HiAgent's chunk), ``finish`` (the outcome, with an optional score and
cost).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from engram.model.fact import FactVersion

#: How a run or a subgoal ended.
OUTCOMES = ("success", "failure", "partial")
Outcome = Literal["success", "failure", "partial"]
#: What a step is.
STEP_KINDS = ("message", "tool_call", "observation")
StepKind = Literal["message", "tool_call", "observation"]
#: The metadata key (and value) that marks a run's turns, so a search can keep to them.
MEMORY_KIND = "memory_kind"
RUN_KIND = "run"
OBSERVATION_KIND = "observation"


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a run.

    Attributes:
        index: the step's event number in the run (0 is the goal).
        kind: ``message``, ``tool_call`` or ``observation``.
        role: the turn's role (``assistant``, ``user``, ``tool``, ...).
        content: what was said or observed; for a tool call, its rendering.
        turn_id: the turn that holds it.
        timestamp: when it happened.
        subgoal_id: the subgoal open when it happened, if any.
        tool: the tool called.
        args: the call's arguments, exactly as given (any JSON value).
        result: the call's result, exactly as given (any JSON value).
        error: why the call failed, when it did.
        metadata: the caller's own metadata for the step.
    """

    index: int
    kind: StepKind
    role: str
    content: str
    turn_id: str
    timestamp: datetime
    subgoal_id: str | None = None
    tool: str | None = None
    args: Any = None
    result: Any = None
    error: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool | None:
        """For a tool call: whether it worked (no error); ``None`` for other steps."""
        return None if self.kind != "tool_call" else self.error is None


@dataclass(frozen=True, slots=True)
class Subgoal:
    """A subgoal of a run: opened, worked on by steps, closed with an outcome.

    Attributes:
        id: the subgoal's id inside its run (``S1``, ``S2``, ...).
        title: what it is for.
        parent_id: the subgoal it is part of, if any.
        opened_at, closed_at: when it opened and closed (``None``: still open).
        outcome: how it ended, once closed.
        summary: one line that stands for its steps once closed (extractive, or the LLM's).
        turn_id: the turn that opened it.
        index, closed_index: the event numbers that opened and closed it (a run's timeline order).
    """

    id: str
    title: str
    opened_at: datetime
    turn_id: str
    parent_id: str | None = None
    closed_at: datetime | None = None
    outcome: Outcome | None = None
    summary: str | None = None
    index: int = 0
    closed_index: int | None = None

    @property
    def open(self) -> bool:
        """Whether it is still being worked on."""
        return self.closed_at is None


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A task run as stored: its goal, subgoals, steps and outcome.

    Attributes:
        id: the run id (also its session id).
        goal: what the run was for.
        user_id, agent_id: whose run.
        started_at: when it started.
        turn_id: the turn that holds the goal.
        steps: every step, in order.
        subgoals: every subgoal, in the order they opened.
        finished_at, outcome, score, cost, summary: how it ended (``None`` while it runs).
        metadata: the caller's metadata given at the start.
        events: how many events (turns) the run has.
    """

    id: str
    goal: str
    user_id: str
    agent_id: str | None
    started_at: datetime
    turn_id: str
    steps: tuple[Step, ...] = ()
    subgoals: tuple[Subgoal, ...] = ()
    finished_at: datetime | None = None
    outcome: Outcome | None = None
    score: float | None = None
    cost: float | None = None
    summary: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    events: int = 1

    @property
    def finished(self) -> bool:
        """Whether the run has an outcome."""
        return self.outcome is not None

    @property
    def open_subgoals(self) -> list[Subgoal]:
        """The subgoals not closed yet, outermost first."""
        return [s for s in self.subgoals if s.open]

    def steps_of(self, subgoal_id: str | None) -> list[Step]:
        """The steps taken while ``subgoal_id`` was the innermost open subgoal."""
        return [step for step in self.steps if step.subgoal_id == subgoal_id]

    def timeline(self) -> list[tuple[int, str, Step | Subgoal]]:
        """Every event in order: ``(index, "open" | "step" | "close", the subgoal or step)``."""
        events: list[tuple[int, str, Step | Subgoal]] = [(s.index, "open", s) for s in self.subgoals]
        events += [(s.index, "step", s) for s in self.steps]
        events += [(s.closed_index, "close", s) for s in self.subgoals if s.closed_index is not None]
        return sorted(events, key=lambda event: event[0])

    @property
    def tool_calls(self) -> list[Step]:
        """The steps that called a tool."""
        return [step for step in self.steps if step.kind == "tool_call"]


@dataclass(frozen=True, slots=True)
class RunContext:
    """A run's working memory inside a token budget (HiAgent): see :mod:`engram.read.run_context`.

    Attributes:
        text: the prompt-ready text.
        tokens: its size in tokens.
        budget_tokens: the budget it fits.
        citations: citation id in the text (``#12`` a step, ``S2`` a subgoal) → turn id.
        verbatim_steps: how many steps are shown whole.
        left_out_steps: how many steps of open work did not fit.
        summarised: how many closed subgoals are shown as one line each.
        trace_tokens: the size of the run's full trace, for comparison.
    """

    text: str
    tokens: int
    budget_tokens: int
    citations: dict[str, str]
    verbatim_steps: int
    left_out_steps: int
    summarised: int
    trace_tokens: int


@dataclass(frozen=True, slots=True)
class RankedRun:
    """A past run that :meth:`engram.Memory.experience` brings back.

    Attributes:
        run: the run.
        score: how useful it is for the new goal (similarity weighted by outcome).
        similarity: how similar its goal and steps are (retrieval's fused score, 0..1 of the best).
        key_steps: the steps that mattered: its successful tool calls, and the failure that
            ended a failed run.
        ref: its citation id in the text (``R1``).
    """

    run: RunRecord
    score: float
    similarity: float
    key_steps: tuple[Step, ...]
    ref: str


@dataclass(frozen=True, slots=True)
class Experience:
    """Past runs and lessons for a new goal, as a budgeted, cited context (STE, GoalfyMax).

    Attributes:
        text: the prompt-ready text.
        tokens: its size in tokens.
        budget_tokens: the budget it fits.
        runs: the past runs ranked, best first (also those the text had no room for).
        lessons: the lessons shown (facts about the agent, kind ``lesson``).
        citations: citation id in the text (``R1``, ``R1.4``, ``L1``) → memory id.
    """

    text: str
    tokens: int
    budget_tokens: int
    runs: list[RankedRun]
    lessons: list[FactVersion]
    citations: dict[str, str]
