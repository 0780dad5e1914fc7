"""Agent memory over REST: task runs, experience, lessons, world state. Each route parses, makes
one :class:`~engram.AsyncMemory` call and renders (:mod:`engram.agents.serialize`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from engram.agents import serialize
from engram.model.limits import MAX_BUDGET_TOKENS, MAX_ID_CHARS
from engram.server.auth import TenantMemory
from engram.server.routes_turns import OptionalId, UserId
from engram.server.schemas import ERROR_RESPONSES, ID_PATTERN, ErrorOut
from engram.server.schemas_agents import (
    ExperienceIn,
    ExperienceOut,
    FinishIn,
    LessonList,
    ObservationOut,
    ObserveIn,
    RunContextOut,
    RunFilter,
    RunList,
    RunOut,
    RunStarted,
    RunStartIn,
    SeenInOut,
    StepIn,
    StepOut,
    SubgoalCloseIn,
    SubgoalIn,
    SubgoalOut,
    SubgoalStarted,
    WhereOut,
)

router = APIRouter(prefix="/v1", tags=["agents"], responses=ERROR_RESPONSES)

RunId = Annotated[str, Path(min_length=1, max_length=MAX_ID_CHARS, pattern=ID_PATTERN, description="The run id.")]
AsOf = Annotated[str | None, Query(min_length=1, max_length=64, description="Answer for this moment; default now.")]
Name = Annotated[str, Query(min_length=1, max_length=200, description="A subject or place, e.g. red mug.")]
NO_RUN: dict[int | str, dict[str, object]] = {404: {"model": ErrorOut, "description": "No such run."}}


@router.post("/runs", response_model=RunStarted, summary="Start a run")
async def start_run(memory: TenantMemory, body: RunStartIn) -> RunStarted:
    """Start recording a task run: its goal is stored as the first turn of the run's session."""
    run = await memory.start_run(
        body.goal,
        user_id=body.user_id,
        agent_id=body.agent_id,
        run_id=body.run_id,
        metadata=body.metadata,
        timestamp=body.timestamp,
    )
    record = await memory.get_run(run.id, user_id=body.user_id, agent_id=body.agent_id)
    return RunStarted(run_id=run.id, turn_id=record.turn_id)


@router.post("/runs/{run_id}/steps", response_model=StepOut, responses=NO_RUN, summary="Record a step")
async def record_step(memory: TenantMemory, run_id: RunId, body: StepIn) -> StepOut:
    """A message, a tool call (``tool``, ``args``, ``result`` or ``error``) or an observation."""
    run = await memory.resume_run(run_id, user_id=body.user_id, agent_id=body.agent_id)
    step = await run.record(
        body.content,
        role=body.role,
        tool=body.tool,
        args=body.args,
        result=body.result,
        error=body.error,
        kind=body.kind,
        metadata=body.metadata,
        timestamp=body.timestamp,
    )
    return StepOut.model_validate(serialize.step_json(step))


@router.post("/runs/{run_id}/subgoals", response_model=SubgoalStarted, responses=NO_RUN, summary="Open a subgoal")
async def open_subgoal(memory: TenantMemory, run_id: RunId, body: SubgoalIn) -> SubgoalStarted:
    """Open a subgoal inside the innermost open one."""
    run = await memory.resume_run(run_id, user_id=body.user_id, agent_id=body.agent_id)
    scope = await run.subgoal(body.title, timestamp=body.timestamp)
    return SubgoalStarted(subgoal_id=scope.id)


@router.post("/runs/{run_id}/subgoals/close", response_model=SubgoalOut, responses=NO_RUN, summary="Close a subgoal")
async def close_subgoal(memory: TenantMemory, run_id: RunId, body: SubgoalCloseIn) -> SubgoalOut:
    """Close the innermost open subgoal (or ``subgoal_id``) with its outcome and one summary line."""
    run = await memory.resume_run(run_id, user_id=body.user_id, agent_id=body.agent_id)
    closed = await run.close_subgoal(
        body.outcome, summary=body.summary, subgoal_id=body.subgoal_id, timestamp=body.timestamp
    )
    return SubgoalOut.model_validate(serialize.subgoal_json(closed))


@router.post("/runs/{run_id}/finish", response_model=RunOut, responses=NO_RUN, summary="Finish a run")
async def finish_run(memory: TenantMemory, run_id: RunId, body: FinishIn) -> RunOut:
    """End the run with its outcome; its lessons become facts about the agent."""
    run = await memory.resume_run(run_id, user_id=body.user_id, agent_id=body.agent_id)
    done = await run.finish(
        body.outcome, score=body.score, cost=body.cost, summary=body.summary, timestamp=body.timestamp
    )
    return RunOut.model_validate(serialize.run_json(done))


@router.get("/runs", response_model=RunList, summary="List runs")
async def list_runs(
    memory: TenantMemory,
    user_id: UserId,
    agent_id: OptionalId = None,
    outcome: Annotated[RunFilter | None, Query(description="Only runs that ended so.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> RunList:
    """Runs, most recently active first (without their steps)."""
    runs = await memory.runs(user_id=user_id, agent_id=agent_id, outcome=outcome, limit=limit)
    return RunList.model_validate({"runs": [serialize.run_json(r, steps=False) for r in runs]})


@router.get("/runs/{run_id}", response_model=RunOut, responses=NO_RUN, summary="Get a run")
async def get_run(memory: TenantMemory, run_id: RunId, user_id: UserId, agent_id: OptionalId = None) -> RunOut:
    """A run's timeline: goal, subgoals, every step with its tool call and result, outcome."""
    return RunOut.model_validate(serialize.run_json(await memory.get_run(run_id, user_id=user_id, agent_id=agent_id)))


@router.get("/runs/{run_id}/context", response_model=RunContextOut, responses=NO_RUN, summary="A run's working memory")
async def run_context(
    memory: TenantMemory,
    run_id: RunId,
    user_id: UserId,
    agent_id: OptionalId = None,
    budget_tokens: Annotated[int, Query(ge=1, le=MAX_BUDGET_TOKENS)] = 500,
) -> RunContextOut:
    """The open subgoal's steps verbatim and each finished subgoal as one line, inside the budget."""
    context = await memory.run_context(run_id, user_id=user_id, agent_id=agent_id, budget_tokens=budget_tokens)
    return RunContextOut.model_validate(serialize.run_context_json(context))


@router.post("/experience", response_model=ExperienceOut, summary="Experience for a goal")
async def experience(memory: TenantMemory, body: ExperienceIn) -> ExperienceOut:
    """Past runs ranked for a new goal, with the steps that mattered and the agent's lessons."""
    found = await memory.experience(
        body.goal,
        user_id=body.user_id,
        agent_id=body.agent_id,
        budget_tokens=body.budget_tokens,
        k=body.k,
        reference_time=body.reference_time,
        include_failures=body.include_failures,
        config=body.config,
    )
    return ExperienceOut.model_validate(serialize.experience_json(found))


@router.get("/lessons", response_model=LessonList, summary="An agent's lessons")
async def lessons(
    memory: TenantMemory,
    user_id: UserId,
    agent_id: OptionalId = None,
    as_of: AsOf = None,
    include_history: bool = False,
) -> LessonList:
    """Lessons (facts about the agent) that hold at ``as_of``; every version with ``include_history``."""
    held = await memory.lessons(user_id=user_id, agent_id=agent_id, as_of=as_of, include_history=include_history)
    return LessonList.model_validate({"lessons": [serialize.lesson_json(f) for f in held]})


@router.post("/observations", response_model=ObservationOut, summary="Store an observation")
async def observe(memory: TenantMemory, body: ObserveIn) -> ObservationOut:
    """An observation of any subject, as text or structured; returns the world-state facts it set."""
    result = await memory.observe(
        body.text,
        user_id=body.user_id,
        agent_id=body.agent_id,
        subject=body.subject,
        attribute=body.attribute,
        value=body.value,
        where=body.where,
        when=body.when,
        session_id=body.session_id,
    )
    return ObservationOut.model_validate(serialize.observation_json(result))


@router.get("/world/where", response_model=WhereOut, summary="Where something is")
async def where(memory: TenantMemory, subject: Name, user_id: UserId, as_of: AsOf = None) -> WhereOut:
    """Where a subject was last seen at ``as_of``, with the places that contain that place."""
    return WhereOut.model_validate(serialize.whereabouts_json(await memory.where(subject, user_id=user_id, as_of=as_of)))


@router.get("/world/seen-in", response_model=SeenInOut, summary="What is in a place")
async def seen_in(memory: TenantMemory, place: Name, user_id: UserId, as_of: AsOf = None) -> SeenInOut:
    """What was last seen in a place, or in a place inside it, most recent first."""
    seen = await memory.seen_in(place, user_id=user_id, as_of=as_of)
    return SeenInOut.model_validate({"seen": [serialize.sighting_json(s) for s in seen]})
