"""Request and response models of the agent-memory routes (:mod:`engram.server.routes_agents`).

Responses are the JSON forms of :mod:`engram.agents.serialize` validated into these models, so
the CLI's ``--json``, the REST API and the MCP tools say the same thing.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from engram.agents.world import OBSERVATIONS_SESSION
from engram.model.limits import MAX_BUDGET_TOKENS, MAX_CONTENT_BYTES, MAX_ID_CHARS, MAX_QUERY_CHARS
from engram.server.schemas import ID_PATTERN, Int, Recipe, Role, TimeIn, _id, _Strict

Outcome = Literal["success", "failure", "partial"]
RunFilter = Literal["success", "failure", "partial", "unfinished"]
StepKind = Literal["message", "tool_call", "observation"]


class RunStartIn(_Strict):
    """Start a run (``Memory.start_run``)."""

    goal: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="What the run is for.")
    user_id: str = _id("Whose memory.")
    agent_id: str | None = _id("The agent whose run it is.", required=False)
    run_id: str | None = _id("The run's id; default a new random one.", required=False)
    metadata: dict[str, Any] | None = Field(default=None, description="Any JSON object to keep with the goal.")
    timestamp: TimeIn | None = Field(default=None, description="When it started; default now.")


class RunRef(_Strict):
    """Which run (the run id is in the path)."""

    user_id: str = _id("Whose memory.")
    agent_id: str | None = _id("The agent whose run it is.", required=False)
    timestamp: TimeIn | None = Field(default=None, description="When it happened; default now.")


class StepIn(RunRef):
    """Record a step (``Run.record``): a message, a tool call, or an observation."""

    content: str | None = Field(default=None, min_length=1, max_length=MAX_CONTENT_BYTES)
    role: Role | None = Field(default=None, description="Default: assistant for a message, tool otherwise.")
    tool: str | None = _id("A tool call: the tool's name.", required=False)
    args: Any = Field(default=None, description="The call's arguments (any JSON value).")
    result: Any = Field(default=None, description="The call's result (any JSON value).")
    error: str | None = Field(default=None, min_length=1, max_length=4000, description="Why the call failed.")
    kind: StepKind | None = Field(default=None, description="Default: tool_call with a tool, else message.")
    metadata: dict[str, Any] | None = None


class SubgoalIn(RunRef):
    """Open a subgoal (``Run.subgoal``)."""

    title: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)


class SubgoalCloseIn(RunRef):
    """Close a subgoal (``Run.close_subgoal``)."""

    outcome: Outcome = "success"
    summary: str | None = Field(default=None, min_length=1, max_length=4000)
    subgoal_id: str | None = _id("Which subgoal; default the innermost open one.", required=False)


class FinishIn(RunRef):
    """End a run (``Run.finish``)."""

    outcome: Outcome
    score: float | None = None
    cost: float | None = None
    summary: str | None = Field(default=None, min_length=1, max_length=4000)


class ExperienceIn(_Strict):
    """Past runs for a new goal (``Memory.experience``)."""

    goal: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    user_id: str = _id("Whose memory.")
    agent_id: str | None = _id("Only this agent's runs and lessons.", required=False)
    budget_tokens: Int = Field(default=800, ge=1, le=MAX_BUDGET_TOKENS)
    k: Int = Field(default=5, ge=1, le=100, description="Most past runs.")
    reference_time: TimeIn | None = None
    include_failures: bool = True
    config: Recipe | None = Field(default=None, description="Retrieval recipe; default the server's.")


class ObserveIn(_Strict):
    """Store an observation (``Memory.observe``): a text, or its structure."""

    text: str | None = Field(default=None, min_length=1, max_length=MAX_CONTENT_BYTES)
    user_id: str = _id("Whose memory.")
    agent_id: str | None = _id("The agent that observed it.", required=False)
    subject: str | None = Field(default=None, min_length=1, max_length=200)
    attribute: str = Field(default="location", min_length=1, max_length=200)
    value: str | None = Field(default=None, min_length=1, max_length=2000)
    where: str | None = Field(default=None, min_length=1, max_length=200)
    when: TimeIn | None = None
    session_id: str = Field(
        default=OBSERVATIONS_SESSION,
        min_length=1,
        max_length=MAX_ID_CHARS,
        pattern=ID_PATTERN,
        description="The session the observation turn goes to.",
    )


class StepOut(BaseModel):
    index: int
    kind: StepKind
    role: str
    content: str
    tool: str | None
    args: Any
    result: Any
    error: str | None
    ok: bool | None
    subgoal_id: str | None
    timestamp: str
    turn_id: str
    metadata: dict[str, Any]


class SubgoalOut(BaseModel):
    id: str
    title: str
    parent_id: str | None
    opened_at: str
    closed_at: str | None
    outcome: Outcome | None
    summary: str | None
    turn_id: str
    index: int = Field(description="The event number that opened it.")
    closed_index: int | None = Field(description="The event number that closed it.")


class RunOut(BaseModel):
    id: str
    goal: str
    user_id: str
    agent_id: str | None
    started_at: str
    finished_at: str | None
    outcome: Outcome | None
    score: float | None
    cost: float | None
    summary: str | None
    metadata: dict[str, Any]
    turn_id: str
    step_count: int
    subgoals: list[SubgoalOut]
    steps: list[StepOut] = Field(description="Empty in lists; every step in GET /v1/runs/{run_id}.")


class RunList(BaseModel):
    runs: list[RunOut]


class RunStarted(BaseModel):
    run_id: str
    turn_id: str


class SubgoalStarted(BaseModel):
    subgoal_id: str


class RunContextOut(BaseModel):
    text: str
    tokens: int
    budget_tokens: int
    citations: dict[str, str]
    verbatim_steps: int
    left_out_steps: int
    summarised: int
    trace_tokens: int


class LessonOut(BaseModel):
    id: str
    statement: str
    attribute: str
    value: str
    valid_from: str
    valid_to: str | None
    mentions: int
    source_turn_ids: list[str]


class LessonList(BaseModel):
    lessons: list[LessonOut]


class RankedRunOut(BaseModel):
    ref: str
    score: float
    similarity: float
    run: RunOut
    key_steps: list[StepOut]


class ExperienceOut(BaseModel):
    text: str
    tokens: int
    budget_tokens: int
    citations: dict[str, str]
    runs: list[RankedRunOut]
    lessons: list[LessonOut]


class WorldFactOut(BaseModel):
    id: str
    subject: str
    attribute: str
    value: str
    statement: str
    valid_from: str
    valid_to: str | None


class ObservationOut(BaseModel):
    turn_id: str
    facts: list[WorldFactOut]


class WhereOut(BaseModel):
    subject: str
    places: list[str] = Field(description="Innermost first; empty when never seen.")
    since: str | None


class SightingOut(BaseModel):
    subject: str
    path: list[str]
    since: str


class SeenInOut(BaseModel):
    seen: list[SightingOut]
