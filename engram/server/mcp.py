"""Memory as MCP tools for agents: remember, recall, context, facts, profile, forget.

Plus the reference MCP memory server's knowledge-graph tools under their own names
(:mod:`engram.server.mcp_graph`).

Built on the official MCP Python SDK (``MCPServer``). The same tools serve stdio
(``engram mcp``, one tenant chosen at start) and streamable HTTP (``engram serve`` at
``/mcp``, the tenant chosen per request by its API key; see :mod:`engram.server.mcp_http`).
Each tool parses its typed input, makes one :class:`~engram.AsyncMemory` call and returns a
typed result; library errors become tool errors through the one mapping in
:mod:`engram.server.errors`.

Run over stdio with ``python -m engram.server.mcp --db PATH`` (same as ``engram mcp``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from engram.errors import EngramError, MissingDependencyError

try:
    from mcp.server.mcpserver import Context, MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import ToolAnnotations
except ImportError as exc:  # pragma: no cover - exercised by the no-extras CI run
    raise MissingDependencyError("the MCP server", "mcp", "mcp") from exc

from engram import __version__
from engram.aio import AsyncMemory
from engram.build import with_next_step
from engram.model.limits import MAX_BUDGET_TOKENS, MAX_CONTENT_BYTES, MAX_ID_CHARS, MAX_QUERY_CHARS
from engram.model.options import CONTEXT, SEARCH
from engram.server.errors import classify
from engram.server.mcp_graph import register_graph_tools

#: Finds the memory a tool call works in (its tenant's).
Resolver = Callable[[Context], Awaitable[AsyncMemory]]

INSTRUCTIONS = """\
Engram is your long-term memory of the people you talk with. Call `remember` with what the \
user tells you (and your replies worth keeping); call `context` at the start of a reply to get \
a compact, cited memory block for the current conversation, or `recall` to search past \
conversations. `facts` and `profile` say what is known about the user now (or at a past date), \
with when each fact held. Always pass the same `user_id` for the same person and one \
`session_id` per conversation. Memories are kept verbatim with their dates; `forget` deletes \
them for good. The knowledge-graph tools (`create_entities`, `add_observations`, \
`create_relations`, `search_nodes`, `open_nodes`, `read_graph`, `delete_*`) work as in the \
reference MCP memory server, over the same memory."""

UserId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_ID_CHARS,
        description="Stable id of the person whose memory this is; use the same one in every call.",
    ),
]
SessionId = Annotated[
    str,
    Field(min_length=1, max_length=MAX_ID_CHARS, description="Id of the current conversation."),
]
AsOf = Annotated[
    str | None,
    Field(
        max_length=64,
        description="A past moment to answer for (ISO 8601, e.g. 2024-05-08); omit for what is true now.",
    ),
]
Query = Annotated[
    str,
    Field(min_length=1, max_length=MAX_QUERY_CHARS, description="What you want to know, in plain words."),
]


class Remembered(BaseModel):
    ids: list[str] = Field(description="The stored turn ids (pass them to forget to delete).")
    added: int = Field(description="1 if this was new, 0 if it was already remembered.")


class MemoryItem(BaseModel):
    id: str
    content: str
    role: str
    speaker: str
    session_id: str
    timestamp: datetime
    score: float


class Recalled(BaseModel):
    memories: list[MemoryItem] = Field(description="Best match first.")


class ContextBlock(BaseModel):
    text: str = Field(description="Ready to paste into your prompt; lines carry ids such as [F1] or [M3].")
    citations: dict[str, str] = Field(description="Citation id in the text → memory id (turn t_…, fact f_…).")
    tokens: int


class FactItem(BaseModel):
    id: str = Field(description="The fact's id (pass it to forget to delete the fact).")
    statement: str
    subject: str = Field(description="Who it is about ('user' when the speaker was not named).")
    attribute: str
    value: str
    valid_from: datetime = Field(description="Since when it holds.")
    valid_to: datetime | None = Field(description="Until when it held; null while it still does.")
    source_turn_ids: list[str] = Field(description="The messages it was learned from.")


class Facts(BaseModel):
    facts: list[FactItem] = Field(description="True at the moment asked for, oldest first.")


class ProfileLine(BaseModel):
    statement: str
    since: datetime
    fact_id: str


class Person(BaseModel):
    subject: str
    name: str | None
    sections: dict[str, list[ProfileLine]] = Field(description="identity, location, work, relationships, ...")


class UserProfile(BaseModel):
    as_of: datetime
    people: list[Person] = Field(description="Most mentioned first; usually just the user.")


class Forgotten(BaseModel):
    turn_ids: list[str] = Field(description="Messages deleted.")
    episode_ids: list[str] = Field(description="Conversation summaries deleted (rebuilt from what is left).")
    fact_ids: list[str] = Field(description="Facts deleted.")
    sessions: list[str] = Field(description="Conversations that lost messages.")
    scrub_pending: bool = Field(
        default=False,
        description="True when another reader kept the deleted bytes on disk for now; they are already "
        "gone from every query and are zeroed at the store's next write.",
    )


@contextlib.contextmanager
def tool_errors() -> Iterator[None]:
    """Turn a library error into a tool error the model can read and act on."""
    try:
        yield
    except EngramError as exc:
        _status, code = classify(exc)
        raise ToolError(f"{code}: {with_next_step(exc)}") from exc


def build_server(resolve: Resolver) -> MCPServer:
    """The MCP server with Engram's tools; ``resolve`` picks each call's memory."""
    # WARNING: the SDK sets up root logging at this level if nothing else has
    server: MCPServer = MCPServer(
        name="engram", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING"
    )

    @server.tool(annotations=ToolAnnotations(idempotent_hint=True, open_world_hint=False))
    async def remember(
        ctx: Context,
        user_id: UserId,
        session_id: SessionId,
        content: Annotated[
            str, Field(min_length=1, max_length=MAX_CONTENT_BYTES, description="The message, verbatim.")
        ],
        role: Annotated[
            Literal["user", "assistant", "system", "tool"], Field(description="Who said it.")
        ] = "user",
        name: Annotated[str | None, Field(max_length=MAX_ID_CHARS, description="Speaker's name.")] = None,
        timestamp: Annotated[
            str | None, Field(description="When it was said (ISO 8601); default now.")
        ] = None,
        metadata: Annotated[dict[str, Any] | None, Field(description="Any JSON object to keep with it.")] = None,
    ) -> Remembered:
        """Store one message of the conversation so it can be recalled in later conversations.

        Call it for each user message worth keeping (facts about them, preferences, plans,
        events) and for your own replies when they matter. The text is kept verbatim with
        its date; remembering the same message twice stores it once.
        """
        memory = await resolve(ctx)
        message: dict[str, Any] = {"role": role, "content": content, "name": name, "metadata": metadata}
        with tool_errors():
            result = await memory.add(
                {k: v for k, v in message.items() if v is not None},
                user_id=user_id,
                session_id=session_id,
                timestamp=timestamp,
            )
        return Remembered(ids=[turn.id for turn in result.turns], added=result.added)

    @server.tool(annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False))
    async def recall(
        ctx: Context,
        query: Query,
        user_id: UserId,
        k: Annotated[int, Field(ge=1, le=50, description="How many memories to return.")] = SEARCH.k,
        session_id: Annotated[
            str | None, Field(max_length=MAX_ID_CHARS, description="Only this conversation's memories.")
        ] = None,
        as_of: Annotated[
            str | None, Field(description="Search as of this time (ISO 8601): later memories are ignored.")
        ] = None,
    ) -> Recalled:
        """Search the user's long-term memory; returns the most relevant stored messages, best first.

        Use it before answering anything about the user's past, preferences or earlier
        conversations. Each memory has its date and id.
        """
        memory = await resolve(ctx)
        with tool_errors():
            result = await memory.search(
                query,
                user_id=user_id,
                k=k,
                filters={"session_id": session_id} if session_id else None,
                reference_time=as_of,
            )
        return Recalled(
            memories=[
                MemoryItem(
                    id=hit.turn.id,
                    content=hit.turn.content,
                    role=hit.turn.role,
                    speaker=hit.turn.speaker,
                    session_id=hit.turn.session_id,
                    timestamp=hit.turn.timestamp,
                    score=hit.score,
                )
                for hit in result.hits
            ]
        )

    @server.tool(annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False))
    async def context(
        ctx: Context,
        query: Query,
        user_id: UserId,
        session_id: Annotated[
            str | None,
            Field(max_length=MAX_ID_CHARS, description="The current conversation: its latest turns come first."),
        ] = None,
        budget_tokens: Annotated[
            int, Field(ge=50, le=MAX_BUDGET_TOKENS, description="Most tokens the block may take.")
        ] = CONTEXT.budget_tokens,
    ) -> ContextBlock:
        """Get a compact memory block for your next reply, within a token budget.

        It holds the current conversation's latest turns, then the older memories most
        relevant to ``query``, oldest first with their dates; known facts come first with the
        dates they held. Each line carries a citation id such as [F1] or [M3]; ``citations``
        maps it to the stored fact or message.
        """
        memory = await resolve(ctx)
        with tool_errors():
            result = await memory.context(
                query, user_id=user_id, session_id=session_id, budget_tokens=budget_tokens
            )
        return ContextBlock(text=result.text, citations=result.citations, tokens=result.tokens)

    @server.tool(annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False))
    async def facts(ctx: Context, user_id: UserId, as_of: AsOf = None) -> Facts:
        """List what is known about the user as short facts: where they live, their work, family, pets, preferences, plans.

        Each fact has the date since when it holds; pass ``as_of`` to ask what was true at a
        past date (e.g. where they lived last year). Facts are learned from remembered
        messages and update when the user says something new (a move replaces the old city).
        """
        memory = await resolve(ctx)
        with tool_errors():
            found = await memory.facts(user_id=user_id, as_of=as_of)
        return Facts(facts=[FactItem.model_validate(fact, from_attributes=True) for fact in found])

    @server.tool(annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False))
    async def profile(ctx: Context, user_id: UserId, as_of: AsOf = None) -> UserProfile:
        """Get a compact profile of the user (and of people they mention), grouped by topic.

        Sections such as identity, location, work, relationships and preferences list the
        facts true now (or at ``as_of``), each with the date since when it holds; the
        instructions section lists what the user told the assistant to always or never do.
        Use it to personalise a reply without searching.
        """
        memory = await resolve(ctx)
        with tool_errors():
            result = await memory.profile(user_id=user_id, as_of=as_of)
        return UserProfile.model_validate(result, from_attributes=True)

    @server.tool(annotations=ToolAnnotations(destructive_hint=True, idempotent_hint=True, open_world_hint=False))
    async def forget(
        ctx: Context,
        user_id: UserId,
        ids: Annotated[
            list[str] | None,
            Field(
                min_length=1,
                max_length=1000,
                description="Ids to delete: message ids (t_…) from remember, recall or context citations, "
                "fact ids (f_…) from facts or profile, episode ids (e_…).",
            ),
        ] = None,
        session_id: Annotated[
            str | None,
            Field(min_length=1, max_length=MAX_ID_CHARS, description="Delete this whole conversation."),
        ] = None,
    ) -> Forgotten:
        """Delete memories of the user for good: specific messages or facts by id, or a whole conversation.

        Use it when the user asks you to forget something: find the ids with ``recall`` or
        ``facts`` first. Forgetting a message also removes the facts learned only from it (an
        older fact it replaced becomes current again). Give ``ids``, ``session_id`` or both
        (then only those ids in that conversation). Gone from search, facts and context at once.
        """
        if ids is None and session_id is None:
            raise ToolError("validation_error: give ids or session_id (or both) to say what to forget")
        memory = await resolve(ctx)
        with tool_errors():
            receipt = await memory.forget(user_id=user_id, session_id=session_id, ids=ids)
        return Forgotten.model_validate(receipt, from_attributes=True)

    register_graph_tools(server, resolve, tool_errors)
    from engram.server.mcp_agents import register_agent_tools  # here: it imports this module

    register_agent_tools(server, resolve)
    return server


async def run_stdio(memory: AsyncMemory) -> None:
    """Serve ``memory`` (one tenant) over stdin/stdout until the client closes the stream."""

    async def resolve(_ctx: Context) -> AsyncMemory:
        return memory

    await build_server(resolve).run_stdio_async()


if __name__ == "__main__":  # python -m engram.server.mcp --db PATH
    from engram.server.cli import mcp_command

    mcp_command()
