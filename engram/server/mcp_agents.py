"""Agent memory as MCP tools: record a task run, bring back experience, track the world.

Registered on the server of :mod:`engram.server.mcp` by :func:`register_agent_tools`. Like the
other tools, each parses its typed input, makes one :class:`~engram.AsyncMemory` call and
returns a typed result; library errors become tool errors through ``tool_errors``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from engram.agents import serialize
from engram.model.limits import MAX_BUDGET_TOKENS, MAX_CONTENT_BYTES, MAX_ID_CHARS, MAX_QUERY_CHARS
from engram.server.mcp import Resolver, tool_errors
from engram.server.schemas_agents import (
    ExperienceOut,
    ObservationOut,
    RunContextOut,
    RunOut,
    RunStarted,
    StepOut,
    SubgoalOut,
    SubgoalStarted,
    WhereOut,
)

UserId = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS, description="Whose memory (the same id in every call).")]
AgentId = Annotated[str | None, Field(min_length=1, max_length=MAX_ID_CHARS, description="Your agent id.")]
RunId = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS, description="The run id start_run returned.")]
Outcome = Literal["success", "failure", "partial"]


def register_agent_tools(server: MCPServer, resolve: Resolver) -> None:
    """Add the agent-memory tools to ``server``."""
    writes = ToolAnnotations(open_world_hint=False)
    reads = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    @server.tool(annotations=writes)
    async def start_run(
        ctx: Context,
        goal: Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS, description="What the task is.")],
        user_id: UserId,
        agent_id: AgentId = None,
    ) -> RunStarted:
        """Start recording a task: call it once at the start, then record_step for each step and
        finish_run at the end. Call experience first to learn from similar past tasks."""
        memory = await resolve(ctx)
        with tool_errors():
            run = await memory.start_run(goal, user_id=user_id, agent_id=agent_id)
            record = await memory.get_run(run.id, user_id=user_id, agent_id=agent_id)
        return RunStarted(run_id=run.id, turn_id=record.turn_id)

    @server.tool(annotations=writes)
    async def record_step(
        ctx: Context,
        run_id: RunId,
        user_id: UserId,
        agent_id: AgentId = None,
        content: Annotated[str | None, Field(max_length=MAX_CONTENT_BYTES, description="A message or observation.")] = None,
        tool: Annotated[str | None, Field(max_length=MAX_ID_CHARS, description="The tool you called.")] = None,
        args: Annotated[Any, Field(description="The call's arguments.")] = None,
        result: Annotated[Any, Field(description="What the call returned.")] = None,
        error: Annotated[str | None, Field(max_length=4000, description="Why the call failed.")] = None,
    ) -> StepOut:
        """Record one step of a run: a tool call (tool, args, and result or error) or a message or observation
        (content). Record failures too: a failed call that a later call fixes becomes a lesson."""
        memory = await resolve(ctx)
        with tool_errors():
            run = await memory.resume_run(run_id, user_id=user_id, agent_id=agent_id)
            step = await run.record(content, tool=tool, args=args, result=result, error=error)
        return StepOut.model_validate(serialize.step_json(step))

    @server.tool(annotations=writes)
    async def open_subgoal(
        ctx: Context,
        run_id: RunId,
        user_id: UserId,
        title: Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS, description="What the subgoal is.")],
        agent_id: AgentId = None,
    ) -> SubgoalStarted:
        """Open a subgoal of the run. Its steps stay verbatim in run_context until close_subgoal, after which
        one summary line stands for them, so a long task fits a small context."""
        memory = await resolve(ctx)
        with tool_errors():
            run = await memory.resume_run(run_id, user_id=user_id, agent_id=agent_id)
            scope = await run.subgoal(title)
        return SubgoalStarted(subgoal_id=scope.id)

    @server.tool(annotations=writes)
    async def close_subgoal(
        ctx: Context,
        run_id: RunId,
        user_id: UserId,
        outcome: Outcome = "success",
        summary: Annotated[str | None, Field(max_length=4000, description="One line: what it found.")] = None,
        agent_id: AgentId = None,
    ) -> SubgoalOut:
        """Close the current subgoal with its outcome; from now on one summary line (yours, or one made from
        its steps) stands for its steps in run_context."""
        memory = await resolve(ctx)
        with tool_errors():
            run = await memory.resume_run(run_id, user_id=user_id, agent_id=agent_id)
            closed = await run.close_subgoal(outcome, summary=summary)
        return SubgoalOut.model_validate(serialize.subgoal_json(closed))

    @server.tool(annotations=writes)
    async def finish_run(
        ctx: Context,
        run_id: RunId,
        user_id: UserId,
        outcome: Outcome,
        score: float | None = None,
        cost: float | None = None,
        summary: Annotated[str | None, Field(max_length=4000)] = None,
        agent_id: AgentId = None,
    ) -> RunOut:
        """End the run with its outcome (success, failure or partial) and an optional score and cost; failed
        tool calls the run fixed become lessons that experience shows next time."""
        memory = await resolve(ctx)
        with tool_errors():
            run = await memory.resume_run(run_id, user_id=user_id, agent_id=agent_id)
            done = await run.finish(outcome, score=score, cost=cost, summary=summary)
        return RunOut.model_validate(serialize.run_json(done, steps=False))

    @server.tool(annotations=reads)
    async def run_context(
        ctx: Context,
        run_id: RunId,
        user_id: UserId,
        agent_id: AgentId = None,
        budget_tokens: Annotated[int, Field(ge=1, le=MAX_BUDGET_TOKENS)] = 500,
    ) -> RunContextOut:
        """Your working memory of a long run inside a token budget: the goal, each finished subgoal in one
        line with its outcome, and the current subgoal's steps verbatim."""
        memory = await resolve(ctx)
        with tool_errors():
            context = await memory.run_context(run_id, user_id=user_id, agent_id=agent_id, budget_tokens=budget_tokens)
        return RunContextOut.model_validate(serialize.run_context_json(context))

    @server.tool(annotations=reads)
    async def experience(
        ctx: Context,
        goal: Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS, description="The task at hand.")],
        user_id: UserId,
        agent_id: AgentId = None,
        budget_tokens: Annotated[int, Field(ge=1, le=MAX_BUDGET_TOKENS)] = 800,
    ) -> ExperienceOut:
        """Past runs of similar tasks, best first (successful ones before failures), with the tool calls that
        worked, the failure that ended a failed run, and the lessons learned, as a cited block."""
        memory = await resolve(ctx)
        with tool_errors():
            found = await memory.experience(goal, user_id=user_id, agent_id=agent_id, budget_tokens=budget_tokens)
        return ExperienceOut.model_validate(serialize.experience_json(found))

    @server.tool(annotations=writes)
    async def observe(
        ctx: Context,
        user_id: UserId,
        text: Annotated[str | None, Field(max_length=MAX_CONTENT_BYTES, description="e.g. 'the mug is on the shelf'.")] = None,
        subject: Annotated[str | None, Field(max_length=200, description="Structured: what you saw.")] = None,
        attribute: Annotated[str, Field(max_length=200, description="Structured: which property.")] = "location",
        value: Annotated[str | None, Field(max_length=2000, description="Structured: its value.")] = None,
        agent_id: AgentId = None,
    ) -> ObservationOut:
        """Remember where something is or what state it is in ("the red mug is on the kitchen shelf");
        a newer observation replaces the old one, which stays answerable for its time."""
        memory = await resolve(ctx)
        with tool_errors():
            result = await memory.observe(
                text, user_id=user_id, agent_id=agent_id, subject=subject, attribute=attribute, value=value
            )
        return ObservationOut.model_validate(serialize.observation_json(result))

    @server.tool(annotations=reads)
    async def where(
        ctx: Context,
        subject: Annotated[str, Field(min_length=1, max_length=200, description="What to find, e.g. 'red mug'.")],
        user_id: UserId,
        as_of: Annotated[str | None, Field(max_length=64, description="A past moment (ISO 8601).")] = None,
    ) -> WhereOut:
        """Where something was last seen (now, or at a past moment), with the places that contain that place,
        innermost first (shelf, kitchen, house)."""
        memory = await resolve(ctx)
        with tool_errors():
            found = await memory.where(subject, user_id=user_id, as_of=as_of)
        return WhereOut.model_validate(serialize.whereabouts_json(found))


#: The tools :func:`register_agent_tools` adds.
AGENT_TOOLS = frozenset(
    {"start_run", "record_step", "open_subgoal", "close_subgoal", "finish_run", "run_context", "experience", "observe", "where"}
)
