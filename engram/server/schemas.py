"""Request and response models of the REST API, with their limits, and converters from results.

Requests are checked here for shape and size only (types, lengths, batch sizes); the library
validates meaning (identifiers, timestamps, filters) and its :class:`~engram.ValidationError`
becomes a 422 like any other. Responses are built from the library's frozen results by the
``*_out`` functions at the bottom, so routes stay one call and one conversion.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict

from engram.model import AddResult, ContextResult, DeleteReceipt, Hit, SearchResult, Stats, Turn
from engram.model.fact import FactVersion
from engram.model.limits import (
    MAX_BUDGET_TOKENS,
    MAX_ID_CHARS,
    MAX_PAGE_SIZE,
    MAX_QUERY_CHARS,
    MAX_SEARCH_K,
    MIN_EXCERPT_TOKENS,
)
from engram.model.options import CONTEXT, SEARCH
from engram.read.retrieve import RECIPES

#: Default largest request body, in bytes (``engram serve --max-body-bytes``): a message of the
#: largest size (1 MiB) fits even with its text JSON-escaped (up to six bytes per byte).
MAX_BODY_BYTES = 8 * 1024 * 1024
#: Default largest ``POST /v1/import`` body, in bytes.
MAX_IMPORT_BYTES = 64 * 1024 * 1024
#: Most messages one ``POST /v1/turns`` may carry (the library allows more per call).
MAX_REQUEST_MESSAGES = 500
#: Most turn ids one delete may name.
MAX_DELETE_IDS = 1_000

#: Identifiers: no control characters, no leading or trailing white space. (The library also
#: refuses format, private-use and unassigned characters, which a pattern cannot express.)
ID_PATTERN = r"^[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$"
IdStr = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS, pattern=ID_PATTERN)]
Role = Literal["user", "assistant", "system", "tool"]
#: The roles a message may come with: Engram's, and OpenAI's that map onto them.
ChatRole = Literal["user", "assistant", "system", "tool", "developer", "function"]
if TYPE_CHECKING:
    Recipe = str
else:  # the library's recipe names, so that a recipe cannot exist in one door and not another
    Recipe = Literal[tuple(RECIPES)]
Scalar = str | int | float | bool | None
#: An ISO 8601 date or date-time (``2024-05-08``, ``2024-05-08T13:56:00Z``) or Unix seconds.
TimeIn = str | float


def _id(description: str, *, required: bool = True) -> Any:
    if required:
        return Field(min_length=1, max_length=MAX_ID_CHARS, pattern=ID_PATTERN, description=description)
    return Field(
        default=None, min_length=1, max_length=MAX_ID_CHARS, pattern=ID_PATTERN, description=description
    )


def _json_number(value: object) -> object:
    if isinstance(value, (bool, str)):
        raise ValueError("must be a JSON number")
    return value


#: A JSON integer: 3 or 3.0 (JSON Schema counts both as integers), never "3" or true.
Int = Annotated[int, BeforeValidator(_json_number), Strict(False)]


class _Strict(BaseModel):
    """Request bodies: unknown fields and type coercions (0 for false, "3" for 3) are refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


# -- requests -------------------------------------------------------------------------------


class MessageIn(_Strict):
    """One chat message to remember: plain, or OpenAI's chat-completions format in full (an
    assistant's ``tool_calls``, a ``tool`` result's ``tool_call_id``, ``content`` as a list of
    parts), kept exactly as sent (see ``engram.model.chat``)."""

    role: ChatRole = Field(description="Who said it (``developer`` is stored as system, ``function`` as tool).")
    content: str | list[dict[str, Any]] | None = Field(
        default=None,
        description="What was said, verbatim: text, or a list of content parts; null only beside tool_calls.",
    )
    tool_calls: list[dict[str, Any]] | None = Field(default=None, description="An assistant's tool calls.")
    tool_call_id: str | None = Field(default=None, description="The call a tool message answers.")
    function_call: dict[str, Any] | None = Field(default=None, description="The legacy form of a tool call.")
    refusal: str | None = Field(default=None, description="An assistant's refusal.")
    name: str | None = _id("The speaker's name.", required=False)
    timestamp: TimeIn | None = Field(default=None, description="When it was said; default the call's.")
    metadata: dict[str, Any] | None = Field(default=None, description="Any JSON object, stored as given.")
    id: str | None = _id(
        "Your idempotency key: the same key in the same session stores once.", required=False
    )


class AddIn(_Strict):
    """Messages of one session to store (``Memory.add``)."""

    user_id: str = _id("Whose memory this is.")
    session_id: str = _id("The conversation the messages belong to.")
    agent_id: str | None = _id("The agent, when a user talks to several.", required=False)
    messages: list[MessageIn] = Field(min_length=1, max_length=MAX_REQUEST_MESSAGES)
    timestamp: TimeIn | None = Field(default=None, description="When, for messages without their own.")
    metadata: dict[str, Any] | None = Field(default=None, description="Merged under each message's.")


class FiltersIn(_Strict):
    """Conditions every hit must meet (the library's ``SearchFilters``, field for field)."""

    session_ids: list[IdStr] | None = Field(default=None, min_length=1, max_length=MAX_PAGE_SIZE)
    roles: list[Role] | None = Field(default=None, min_length=1, max_length=4)
    since: TimeIn | None = None
    until: TimeIn | None = None
    metadata: dict[str, Scalar] | None = Field(default=None, description="Exact values of metadata keys.")
    include_archived: bool = Field(default=False, description="Also turns that forgetting archived.")

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class SearchIn(_Strict):
    """A hybrid search (``Memory.search``)."""

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    user_id: str = _id("Whose memory to search.")
    agent_id: str | None = _id("Only this agent's turns.", required=False)
    k: Int = Field(default=SEARCH.k, ge=1, le=MAX_SEARCH_K, description="How many hits.")
    filters: FiltersIn | None = None
    reference_time: TimeIn | None = Field(default=None, description="Search as of this time; default now.")
    explain: bool = Field(default=SEARCH.explain, description="Return each hit's signals and the candidates cut.")
    config: Recipe | None = Field(default=SEARCH.config, description="Retrieval recipe; default the server's.")


class ContextIn(_Strict):
    """A budgeted, prompt-ready context (``Memory.context``)."""

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    user_id: str = _id("Whose memory to use.")
    session_id: str | None = _id("The live session: its latest turns come first.", required=False)
    agent_id: str | None = _id("Only this agent's turns.", required=False)
    budget_tokens: Int = Field(default=CONTEXT.budget_tokens, ge=1, le=MAX_BUDGET_TOKENS)
    reference_time: TimeIn | None = None
    filters: FiltersIn | None = None
    working_share: float = Field(
        default=CONTEXT.working_share, ge=0.0, le=1.0, description="Most of the budget the live session may take."
    )
    candidates: Int = Field(default=CONTEXT.candidates, ge=1, le=MAX_SEARCH_K)
    facts_share: float = Field(
        default=CONTEXT.facts_share, ge=0.0, le=1.0, description="Most of the budget facts may take."
    )
    include_profile: bool = Field(
        default=CONTEXT.include_profile, description="Add the profile's facts of the kinds the question asks about."
    )
    expand: bool = Field(default=CONTEXT.expand, description="Add the turns around the strongest hits.")
    reinforce: bool = Field(default=CONTEXT.reinforce, description="Using a memory strengthens it.")
    config: Recipe | None = Field(default=CONTEXT.config, description="Retrieval recipe; default the server's.")
    excerpt_tokens: Int | None = Field(
        default=CONTEXT.excerpt_tokens,
        ge=MIN_EXCERPT_TOKENS,
        le=MAX_BUDGET_TOKENS,
        description="Longer retrieved turns are shown as excerpts (the user's own: 4x longer); null: whole turns.",
    )


class DeleteIn(_Strict):
    """Turns to delete everywhere they are stored."""

    user_id: str = _id("Whose turns.")
    ids: list[IdStr] = Field(min_length=1, max_length=MAX_DELETE_IDS)


# -- responses ------------------------------------------------------------------------------


class TurnOut(BaseModel):
    id: str
    user_id: str
    agent_id: str | None
    session_id: str
    role: str
    name: str | None
    content: str
    timestamp: datetime
    recorded_at: datetime
    metadata: dict[str, Any]


class AddOut(BaseModel):
    ids: list[str] = Field(description="Every message's turn id, in order (new or already stored).")
    added: int
    duplicates: int
    embedded: int
    elapsed_ms: float
    facts_added: list[str] = Field(description="Ids of the fact versions the messages added.")
    facts_superseded: list[str] = Field(description="Ids of the versions they replaced (now closed).")
    facts_reinforced: list[str] = Field(description="Ids of known facts they stated again.")
    episodes: int = Field(description="Episodes built or rebuilt.")


class HitOut(BaseModel):
    rank: int
    score: float
    signals: dict[str, float] = Field(
        description="With explain: per ranking (bm25, vector, time, episode, fact) its rank (NAME_rank) and raw "
        "score (NAME), and the fused rrf."
    )
    turn: TurnOut


class SearchOut(BaseModel):
    query: str
    reference_time: datetime
    took_ms: float
    hits: list[HitOut]
    left_out: list[HitOut] = Field(description="With explain: candidates ranked below the cut.")


class ContextItemOut(BaseModel):
    ref: str = Field(description="The citation id the text shows, e.g. W1 or M3.")
    section: str
    tokens: int
    score: float | None
    excerpt: bool = Field(description="Shown as a query-focused excerpt of a long turn, not whole.")
    turn: TurnOut


class FactOut(BaseModel):
    """One version of a fact: what, about whom, when it was true, when Engram learned it, from where."""

    id: str
    subject: str
    attribute: str
    value: str
    statement: str
    kind: str
    valid_from: datetime = Field(description="When it became true in the world.")
    valid_to: datetime | None = Field(description="When it stopped being true; null while it still is.")
    recorded_at: datetime = Field(description="When Engram learned it.")
    superseded_at: datetime | None = Field(description="When a newer version replaced it; null if none has.")
    superseded_by: str | None = Field(description="The id of the version that replaced it.")
    current: bool = Field(description="Still true and not replaced.")
    confidence: float
    mentions: int
    source: str = Field(description="rules, llm or manual.")
    source_turn_ids: list[str] = Field(description="The turns it was learned from.")
    pinned: bool
    archived_at: datetime | None


class ContextFactOut(FactOut):
    ref: str = Field(description="The citation id the text shows, e.g. F1.")


class LeftOutOut(BaseModel):
    turn_id: str
    reason: str


class ContextOut(BaseModel):
    text: str
    tokens: int
    budget_tokens: int
    citations: dict[str, str] = Field(description="Citation id → memory id: W/M → turn id, F → fact id.")
    items: list[ContextItemOut]
    facts: list[ContextFactOut] = Field(description="The fact versions the text shows, with their F ids.")
    left_out: list[LeftOutOut]
    reference_time: datetime
    took_ms: float


class TurnPage(BaseModel):
    items: list[TurnOut]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null at the end.")


class DeleteOut(BaseModel):
    deleted_ids: list[str]
    not_found_ids: list[str]
    removed_from: list[str]
    scrub_pending: bool = Field(default=False, description="True when another connection's open read kept the deleted bytes in the store's files for now: they are gone from every query already, and the store zeroes them at its next write, open or close.")


class ImportOut(BaseModel):
    turns: int
    added: int
    duplicates: int
    embedded: int
    elapsed_ms: float


class StatsOut(BaseModel):
    turns: int
    users: int
    sessions: int
    first_timestamp: datetime | None
    last_timestamp: datetime | None
    embedding_model: str | None
    by_role: dict[str, int]


class UserOut(BaseModel):
    user_id: str
    turns: int
    sessions: int
    first_timestamp: datetime
    last_timestamp: datetime


class SessionOut(BaseModel):
    session_id: str
    agent_ids: list[str]
    turns: int
    first_timestamp: datetime
    last_timestamp: datetime


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None


class SessionPage(BaseModel):
    items: list[SessionOut]
    next_cursor: str | None


class HealthOut(BaseModel):
    status: str
    version: str


class ReadyOut(BaseModel):
    status: str
    checks: dict[str, str]


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. validation_error, not_found.")
    message: str = Field(description="What went wrong and what to do next.")
    details: list[dict[str, str]] | None = None


class ErrorOut(BaseModel):
    error: ErrorBody


# -- library results → responses --------------------------------------------------------------


def turn_out(turn: Turn) -> TurnOut:
    return TurnOut(
        id=turn.id,
        user_id=turn.scope.user_id,
        agent_id=turn.scope.agent_id,
        session_id=turn.session_id,
        role=turn.role,
        name=turn.name,
        content=turn.content,
        timestamp=turn.timestamp,
        recorded_at=turn.recorded_at,
        metadata=dict(turn.metadata),
    )


def add_out(result: AddResult) -> AddOut:
    return AddOut(
        ids=[turn.id for turn in result.turns],
        added=result.added,
        duplicates=result.duplicates,
        embedded=result.embedded,
        elapsed_ms=round(result.elapsed_ms, 3),
        facts_added=result.facts_added,
        facts_superseded=result.facts_superseded,
        facts_reinforced=result.facts_reinforced,
        episodes=result.episodes,
    )


def fact_out(fact: FactVersion) -> FactOut:
    return FactOut.model_validate(fact, from_attributes=True)  # current is a property, read like a field


def hit_out(rank: int, hit: Hit) -> HitOut:
    return HitOut(rank=rank, score=hit.score, signals=dict(hit.signals), turn=turn_out(hit.turn))


def search_out(result: SearchResult) -> SearchOut:
    below = len(result.hits) + 1
    return SearchOut(
        query=result.query,
        reference_time=result.reference_time,
        took_ms=round(result.took_ms, 3),
        hits=[hit_out(rank, hit) for rank, hit in enumerate(result.hits, start=1)],
        left_out=[hit_out(rank, hit) for rank, hit in enumerate(result.left_out, start=below)],
    )


def context_out(result: ContextResult) -> ContextOut:
    return ContextOut(
        text=result.text,
        tokens=result.tokens,
        budget_tokens=result.budget_tokens,
        citations=result.citations,
        items=[
            ContextItemOut(
                ref=item.ref,
                section=item.section,
                tokens=item.tokens,
                score=item.score,
                excerpt=item.excerpt,
                turn=turn_out(item.turn),
            )
            for item in result.items
        ],
        facts=[ContextFactOut(ref=ref, **fact_out(fact).model_dump()) for ref, fact in result.facts],
        left_out=[LeftOutOut(turn_id=turn.id, reason=reason) for turn, reason in result.left_out],
        reference_time=result.reference_time,
        took_ms=round(result.took_ms, 3),
    )


def delete_out(receipt: DeleteReceipt) -> DeleteOut:
    return DeleteOut(
        deleted_ids=receipt.deleted_ids,
        not_found_ids=receipt.not_found_ids,
        removed_from=list(receipt.removed_from),
        scrub_pending=receipt.scrub_pending,
    )


def import_out(result: AddResult) -> ImportOut:
    return ImportOut(
        turns=len(result.turns),
        added=result.added,
        duplicates=result.duplicates,
        embedded=result.embedded,
        elapsed_ms=round(result.elapsed_ms, 3),
    )


def stats_out(stats: Stats) -> StatsOut:
    """Counts of the caller's tenant; the file path and size of the shared store are left out."""
    return StatsOut(
        turns=stats.turns,
        users=stats.users,
        sessions=stats.sessions,
        first_timestamp=stats.first_timestamp,
        last_timestamp=stats.last_timestamp,
        embedding_model=stats.embedding_model,
        by_role=dict(stats.by_role),
    )


#: The error responses every /v1 route documents in the OpenAPI schema.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Malformed request (e.g. invalid JSON)."},
    401: {"model": ErrorOut, "description": "Missing, unknown or revoked API key."},
    413: {"model": ErrorOut, "description": "Request body over the server's limit."},
    422: {"model": ErrorOut, "description": "Invalid input; nothing was written."},
    503: {
        "model": ErrorOut,
        "description": "The store cannot be used (store_busy: retry; store_read_only: check permissions; "
        "store_full: free disk space).",
    },
}
