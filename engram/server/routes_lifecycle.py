"""The memory lifecycle: facts and their history, the profile, episodes, consolidation,
forgetting, and pinning. Each route parses, makes one :class:`~engram.AsyncMemory` call, renders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from engram.model.limits import MAX_ID_CHARS
from engram.server.auth import TenantMemory
from engram.server.routes_turns import Limit, OptionalId, UserId
from engram.server.schemas import ERROR_RESPONSES, ID_PATTERN, ErrorOut
from engram.server.schemas_lifecycle import (
    ConsolidateIn,
    ConsolidationOut,
    EpisodePageOut,
    FactList,
    ForgetIn,
    ForgetOut,
    Kind,
    PinIn,
    PinOut,
    ProfileOut,
    consolidation_out,
    episode_out,
    fact_list,
    forget_out,
    pin_out,
    profile_out,
)

router = APIRouter(prefix="/v1", tags=["lifecycle"], responses=ERROR_RESPONSES)

AsOf = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=64,
        description="Answer for this moment (ISO 8601 date or date-time, e.g. 2024-05-08); default now.",
    ),
]
FactId = Annotated[
    str, Path(min_length=1, max_length=MAX_ID_CHARS, pattern=ID_PATTERN, description="Any version's id.")
]
#: Episode cursors are ``<start micros>.<seq>``; the pattern keeps both inside a 64-bit integer.
EpisodeCursor = Annotated[
    str | None,
    Query(
        pattern=r"^-?\d{1,18}\.\d{1,18}$", max_length=40, description="The next_cursor of the previous page."
    ),
]
NO_FACT: dict[int | str, dict[str, object]] = {404: {"model": ErrorOut, "description": "No such fact."}}


@router.get("/facts", response_model=FactList, summary="List facts")
async def facts(
    memory: TenantMemory,
    user_id: UserId,
    as_of: AsOf = None,
    subject: Annotated[
        str | None, Query(min_length=1, max_length=MAX_ID_CHARS, description="Only facts about this person.")
    ] = None,
    kind: Annotated[Kind | None, Query(description="Only facts of this kind.")] = None,
    include_history: Annotated[
        bool, Query(description="Every version, also those no longer true or replaced.")
    ] = False,
    include_archived: Annotated[
        bool,
        Query(
            description="Also facts archived by hand. Decay never archives fact versions, and with as_of "
            "or include_history archived versions are always returned."
        ),
    ] = False,
    agent_id: OptionalId = None,
) -> FactList:
    """The facts true at ``as_of`` (default now), oldest first; with ``include_history``, every version.

    Not paginated: a user's facts are one version per change of a statement, returned whole.
    """
    found = await memory.facts(
        user_id=user_id,
        agent_id=agent_id,
        as_of=as_of,
        subject=subject,
        kind=kind,
        include_history=include_history,
        include_archived=include_archived,
    )
    return fact_list(found)


@router.get(
    "/facts/{fact_id}/history", response_model=FactList, responses=NO_FACT, summary="A fact's history"
)
async def history(memory: TenantMemory, fact_id: FactId, user_id: UserId) -> FactList:
    """Every version of the fact's slot, oldest first: what was true when, and when Engram learned it."""
    return fact_list(await memory.history(fact_id, user_id=user_id))


@router.get("/profile", response_model=ProfileOut, summary="A user's profile")
async def profile(
    memory: TenantMemory, user_id: UserId, as_of: AsOf = None, agent_id: OptionalId = None
) -> ProfileOut:
    """The facts true at ``as_of`` grouped per person and section (identity, location, work, ...)."""
    return profile_out(await memory.profile(user_id=user_id, agent_id=agent_id, as_of=as_of))


@router.get("/episodes", response_model=EpisodePageOut, summary="List episodes")
async def episodes(
    memory: TenantMemory,
    user_id: UserId,
    session_id: OptionalId = None,
    agent_id: OptionalId = None,
    limit: Limit = 100,
    cursor: EpisodeCursor = None,
    include_archived: Annotated[bool, Query(description="Also episodes that decay archived.")] = False,
) -> EpisodePageOut:
    """A user's episodes (spans of one session about one topic, with summaries), oldest first."""
    page = await memory.episodes(
        user_id=user_id,
        session_id=session_id,
        agent_id=agent_id,
        limit=limit,
        cursor=cursor,
        include_archived=include_archived,
    )
    return EpisodePageOut(
        items=[episode_out(episode) for episode in page.items], next_cursor=page.next_cursor
    )


@router.post("/consolidate", response_model=ConsolidationOut, summary="Consolidate a user's memory")
async def consolidate(body: ConsolidateIn, memory: TenantMemory) -> ConsolidationOut:
    """Run the sleep-time work: catch up, extract (with an LLM), merge duplicates, link, decay.

    Idempotent and safe to run any time; the report says what it did and what it cost.
    """
    return consolidation_out(await memory.consolidate(user_id=body.user_id, decay=body.decay))


@router.post("/forget", response_model=ForgetOut, summary="Forget memories")
async def forget(body: ForgetIn, memory: TenantMemory) -> ForgetOut:
    """Delete memories everywhere, for good: these ids, one session, or (with neither) the whole user.

    Turn ids delete those turns and what derives from them; episode ids the turns they span;
    fact ids every version of the fact. Facts lose the forgotten turns from their provenance
    (a fact learned only from them goes, and the version it replaced is current again);
    the episodes of touched sessions are rebuilt from what is left.
    """
    return forget_out(await memory.forget(user_id=body.user_id, session_id=body.session_id, ids=body.ids))


@router.post("/pin", response_model=PinOut, summary="Pin, unpin or restore memories")
async def pin(body: PinIn, memory: TenantMemory) -> PinOut:
    """``pin``: the memories never fade; ``unpin``: they fade again; ``restore``: archived ones
    come back into default retrieval."""
    call = {"pin": memory.pin, "unpin": memory.unpin, "restore": memory.restore}[body.action]
    return pin_out(body.action, body.ids, await call(body.ids, user_id=body.user_id))
