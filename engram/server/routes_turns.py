"""Browse and delete: turns (paginated), one turn, users and sessions of the tenant."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query

from engram.errors import NotFoundError
from engram.model.limits import MAX_ID_CHARS, MAX_PAGE_SIZE
from engram.server.auth import TenantMemory
from engram.server.directory import list_sessions, list_users
from engram.server.schemas import (
    ERROR_RESPONSES,
    ID_PATTERN,
    DeleteIn,
    DeleteOut,
    ErrorOut,
    SessionOut,
    SessionPage,
    TurnOut,
    TurnPage,
    UserOut,
    UserPage,
    delete_out,
    turn_out,
)

router = APIRouter(prefix="/v1", tags=["turns"], responses=ERROR_RESPONSES)

UserId = Annotated[
    str, Query(min_length=1, max_length=MAX_ID_CHARS, pattern=ID_PATTERN, description="Whose memory.")
]
OptionalId = Annotated[str | None, Query(min_length=1, max_length=MAX_ID_CHARS, pattern=ID_PATTERN)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size.")]
Cursor = Annotated[
    str | None,
    Query(min_length=1, max_length=MAX_ID_CHARS, description="The next_cursor of the previous page."),
]
TurnId = Annotated[str, Path(min_length=1, max_length=MAX_ID_CHARS, pattern=ID_PATTERN)]
NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"model": ErrorOut, "description": "No such turn."}}


@router.get("/turns", response_model=TurnPage, summary="List turns")
async def list_turns(
    memory: TenantMemory,
    user_id: UserId,
    session_id: OptionalId = None,
    agent_id: OptionalId = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> TurnPage:
    """A user's turns in chronological order (optionally one session's), one page at a time."""
    page = await memory.list(user_id=user_id, session_id=session_id, agent_id=agent_id, limit=limit, cursor=cursor)
    return TurnPage(items=[turn_out(turn) for turn in page.items], next_cursor=page.next_cursor)


@router.get("/turns/{turn_id}", response_model=TurnOut, responses=NOT_FOUND, summary="Get a turn")
async def get_turn(memory: TenantMemory, turn_id: TurnId, user_id: UserId, agent_id: OptionalId = None) -> TurnOut:
    """One turn by id."""
    return turn_out(await memory.get(turn_id, user_id=user_id, agent_id=agent_id))


@router.delete("/turns/{turn_id}", response_model=DeleteOut, responses=NOT_FOUND, summary="Delete a turn")
async def delete_turn(memory: TenantMemory, turn_id: TurnId, user_id: UserId) -> DeleteOut:
    """Delete one turn everywhere it is stored; 404 if this user has no such turn."""
    receipt = await memory.delete([turn_id], user_id=user_id)
    if not receipt.deleted_ids:
        raise NotFoundError(f"no turn {turn_id!r} for user {user_id!r}")
    return delete_out(receipt)


@router.post("/delete", response_model=DeleteOut, summary="Delete turns")
async def delete_turns(body: DeleteIn, memory: TenantMemory) -> DeleteOut:
    """Delete several turns everywhere they are stored (rows, full-text index, vectors, caches)."""
    return delete_out(await memory.delete(body.ids, user_id=body.user_id))


@router.get("/users", response_model=UserPage, summary="List users")
async def users(memory: TenantMemory, limit: Limit = 100, cursor: Cursor = None) -> UserPage:
    """The tenant's users, ordered by id, with their turn and session counts."""
    page, next_cursor = await asyncio.to_thread(
        list_users, memory.sync.store, memory.tenant, after=cursor, limit=limit
    )
    return UserPage(
        items=[UserOut(user_id=u.user_id, turns=u.turns, sessions=u.sessions,
                       first_timestamp=u.first_timestamp, last_timestamp=u.last_timestamp) for u in page],
        next_cursor=next_cursor,
    )


@router.get("/sessions", response_model=SessionPage, summary="List a user's sessions")
async def sessions(memory: TenantMemory, user_id: UserId, limit: Limit = 100, cursor: Cursor = None) -> SessionPage:
    """A user's sessions, the most recently active first."""
    page, next_cursor = await asyncio.to_thread(
        list_sessions, memory.sync.store, memory.tenant, user_id, after=cursor, limit=limit
    )
    return SessionPage(
        items=[SessionOut(session_id=s.session_id, agent_ids=list(s.agent_ids), turns=s.turns,
                          first_timestamp=s.first_timestamp, last_timestamp=s.last_timestamp) for s in page],
        next_cursor=next_cursor,
    )
