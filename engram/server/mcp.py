"""Memory as MCP tools for agents: remember, recall, context, forget.

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
from engram.model.limits import MAX_BUDGET_TOKENS, MAX_CONTENT_BYTES, MAX_ID_CHARS, MAX_QUERY_CHARS
from engram.server.errors import classify

#: Finds the memory a tool call works in (its tenant's).
Resolver = Callable[[Context], Awaitable[AsyncMemory]]

INSTRUCTIONS = """\
Engram is your long-term memory of the people you talk with. Call `remember` with what the \
user tells you (and your replies worth keeping); call `context` at the start of a reply to get \
a compact, cited memory block for the current conversation, or `recall` to search past \
conversations. Always pass the same `user_id` for the same person and one `session_id` per \
conversation. Memories are kept verbatim with their dates; `forget` deletes them for good."""

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
    text: str = Field(description="Ready to paste into your prompt; lines carry ids such as [M3].")
    citations: dict[str, str] = Field(description="Citation id in the text → turn id.")
    tokens: int


class Forgotten(BaseModel):
    deleted_ids: list[str]
    not_found_ids: list[str]


@contextlib.contextmanager
def tool_errors() -> Iterator[None]:
    """Turn a library error into a tool error the model can read and act on."""
    try:
        yield
    except EngramError as exc:
        _status, code = classify(exc)
        raise ToolError(f"{code}: {exc}") from exc


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
        k: Annotated[int, Field(ge=1, le=50, description="How many memories to return.")] = 5,
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
        ] = 1000,
    ) -> ContextBlock:
        """Get a compact memory block for your next reply, within a token budget.

        It holds the current conversation's latest turns, then the older memories most
        relevant to ``query``, oldest first with their dates. Each line carries a citation
        id such as [M3]; ``citations`` maps it to the stored turn.
        """
        memory = await resolve(ctx)
        with tool_errors():
            result = await memory.context(
                query, user_id=user_id, session_id=session_id, budget_tokens=budget_tokens
            )
        return ContextBlock(text=result.text, citations=result.citations, tokens=result.tokens)

    @server.tool(annotations=ToolAnnotations(destructive_hint=True, idempotent_hint=True, open_world_hint=False))
    async def forget(
        ctx: Context,
        user_id: UserId,
        turn_ids: Annotated[
            list[str],
            Field(min_length=1, max_length=1000, description="Ids from remember, recall or context citations."),
        ],
    ) -> Forgotten:
        """Delete specific memories of the user, for good, by their ids.

        Use it when the user asks you to forget something: find the ids with ``recall``
        first. Deleted memories are gone from search and context at once.
        """
        memory = await resolve(ctx)
        with tool_errors():
            receipt = await memory.delete(turn_ids, user_id=user_id)
        return Forgotten(deleted_ids=receipt.deleted_ids, not_found_ids=receipt.not_found_ids)

    return server


async def run_stdio(memory: AsyncMemory) -> None:
    """Serve ``memory`` (one tenant) over stdin/stdout until the client closes the stream."""

    async def resolve(_ctx: Context) -> AsyncMemory:
        return memory

    await build_server(resolve).run_stdio_async()


if __name__ == "__main__":  # python -m engram.server.mcp --db PATH
    from engram.server.cli import mcp_command

    mcp_command()
