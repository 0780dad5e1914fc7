"""Write and recall: ``POST /v1/turns`` (add), ``/v1/search`` and ``/v1/context``."""

from __future__ import annotations

from fastapi import APIRouter

from engram.server.auth import TenantMemory
from engram.server.schemas import (
    ERROR_RESPONSES,
    AddIn,
    AddOut,
    ContextIn,
    ContextOut,
    SearchIn,
    SearchOut,
    add_out,
    context_out,
    search_out,
)

router = APIRouter(prefix="/v1", tags=["memory"], responses=ERROR_RESPONSES)


@router.post("/turns", response_model=AddOut, summary="Remember messages")
async def add(body: AddIn, memory: TenantMemory) -> AddOut:
    """Store messages of one session losslessly; sending the same messages again stores nothing new."""
    result = await memory.add(
        [message.model_dump(exclude_unset=True) for message in body.messages],
        user_id=body.user_id,
        session_id=body.session_id,
        agent_id=body.agent_id,
        timestamp=body.timestamp,
        metadata=body.metadata,
    )
    return add_out(result)


@router.post("/search", response_model=SearchOut, summary="Search memory")
async def search(body: SearchIn, memory: TenantMemory) -> SearchOut:
    """Hybrid BM25 + vector search over a user's turns, best first; ``explain`` adds the trace."""
    result = await memory.search(
        body.query,
        user_id=body.user_id,
        agent_id=body.agent_id,
        k=body.k,
        filters=body.filters.as_dict() if body.filters else None,
        reference_time=body.reference_time,
        explain=body.explain,
        config=body.config,
    )
    return search_out(result)


@router.post("/context", response_model=ContextOut, summary="Build a prompt-ready context")
async def context(body: ContextIn, memory: TenantMemory) -> ContextOut:
    """The live session's latest turns and the retrieved memories that fit in ``budget_tokens``."""
    result = await memory.context(
        body.query,
        user_id=body.user_id,
        session_id=body.session_id,
        agent_id=body.agent_id,
        budget_tokens=body.budget_tokens,
        reference_time=body.reference_time,
        filters=body.filters.as_dict() if body.filters else None,
        working_share=body.working_share,
        candidates=body.candidates,
        facts_share=body.facts_share,
        include_profile=body.include_profile,
        expand=body.expand,
        reinforce=body.reinforce,
        config=body.config,
        excerpt_tokens=body.excerpt_tokens,
    )
    return context_out(result)
