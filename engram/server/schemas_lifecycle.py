"""Request and response models of the lifecycle routes: facts, profile, episodes, consolidation,
forgetting and pinning, with converters from the library's results.

The JSON shapes follow ``engram --json`` (:mod:`engram.cli.render`): a fact version is the same
object whether it comes from ``GET /v1/facts``, a history or a context's ``facts``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from engram.model.episode import Episode
from engram.model.fact import FactVersion
from engram.model.profile import Profile
from engram.server.schemas import MAX_DELETE_IDS, FactOut, IdStr, _id, _Strict, fact_out
from engram.store.base import ForgetReceipt
from engram.write.consolidate import ConsolidationReport

#: A fact kind, as ``GET /v1/facts?kind=`` accepts it (the library's ``KINDS``; a test keeps them equal).
Kind = Literal[
    "identity", "location", "work", "family", "pet", "possession", "plan", "preference", "instruction", "other",
    "lesson", "world",
]
PinAction = Literal["pin", "unpin", "restore"]

# -- requests -------------------------------------------------------------------------------


class ConsolidateIn(_Strict):
    """Run the sleep-time work for one user (``Memory.consolidate``)."""

    user_id: str = _id("Whose memory to consolidate.")
    decay: bool = Field(
        default=True, description="Also archive memories whose retention fell below the policy's."
    )


class ForgetIn(_Strict):
    """What to forget (``Memory.forget``). With neither ``session_id`` nor ``ids``: the whole user."""

    user_id: str = _id("Whose memory.")
    session_id: str | None = _id("Forget this session (with ids: only those ids in it).", required=False)
    ids: list[IdStr] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_DELETE_IDS,
        description="Memory ids: turns (t_…), episodes (e_…: the turns they span) or facts (f_…: every version).",
    )


class PinIn(_Strict):
    """Pin, unpin or restore memories (``Memory.pin`` / ``unpin`` / ``restore``)."""

    user_id: str = _id("Whose memories.")
    ids: list[IdStr] = Field(
        min_length=1, max_length=MAX_DELETE_IDS, description="Turn (t_…), episode (e_…) or fact (f_…) ids."
    )
    action: PinAction = Field(
        description="pin: never fades; unpin: fades again; restore: back into default retrieval after archiving."
    )


# -- responses ------------------------------------------------------------------------------


class FactList(BaseModel):
    items: list[FactOut] = Field(description="Oldest first.")


class ProfileEntryOut(BaseModel):
    attribute: str
    value: str
    statement: str
    confidence: float
    since: datetime
    fact_id: str
    source_turn_ids: list[str]


class PersonOut(BaseModel):
    subject: str
    name: str | None = Field(description="The person's stated name, if any.")
    sections: dict[str, list[ProfileEntryOut]] = Field(
        description="identity, location, work, relationships, possessions, preferences, plans, other."
    )


class ProfileOut(BaseModel):
    user_id: str
    as_of: datetime
    people: list[PersonOut] = Field(description="One per person memory knows about, most mentioned first.")


class EpisodeOut(BaseModel):
    id: str
    session_id: str
    agent_id: str | None
    start: datetime
    end: datetime
    turn_ids: list[str]
    summary: str
    keyphrases: list[str]
    entities: list[str]
    visits: int
    last_visit: datetime | None
    importance: float
    pinned: bool
    archived_at: datetime | None


class EpisodePageOut(BaseModel):
    items: list[EpisodeOut]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null at the end.")


class ConsolidationOut(BaseModel):
    user_id: str
    turns_caught_up: int = Field(description="Turns the write path had not absorbed yet.")
    episodes_extracted: int = Field(description="Episodes read by the LLM (0 without one).")
    llm_calls: int = Field(description="LLM calls for this user so far.")
    llm_prompt_tokens: int
    llm_completion_tokens: int
    llm_calls_per_turn: float
    facts_added: int
    facts_superseded: int
    facts_reinforced: int
    duplicates_merged: int
    links: int
    archived: dict[str, int] = Field(description="Memories archived by decay, per kind.")
    archived_ids: dict[str, list[str]] = Field(default_factory=dict, description="Their ids, per kind.")
    retention_clock: datetime | None = Field(default=None, description="The time retention was measured at.")
    archive_reason: str = Field(default="", description="The rule decay applied.")
    turns_total: int
    elapsed_ms: float


class ForgetOut(BaseModel):
    turn_ids: list[str] = Field(description="Turns deleted.")
    episode_ids: list[str] = Field(description="Episodes deleted (those of touched sessions are rebuilt).")
    fact_ids: list[str] = Field(description="Fact versions deleted.")
    links: int = Field(description="Links between memories deleted.")
    sessions: list[str] = Field(description="Sessions that lost turns.")
    scrub_pending: bool = Field(default=False, description="True when another connection's open read kept the deleted bytes in the store's files for now: they are gone from every query already, and the store zeroes them at its next write, open or close.")


class PinOut(BaseModel):
    action: PinAction
    updated_ids: list[str] = Field(description="The ids found and set.")
    not_found_ids: list[str] = Field(description="Ids this user has no memory of.")


# -- library results → responses --------------------------------------------------------------


def fact_list(facts: list[FactVersion]) -> FactList:
    return FactList(items=[fact_out(fact) for fact in facts])


def profile_out(profile: Profile) -> ProfileOut:
    return ProfileOut.model_validate(profile, from_attributes=True)  # PersonProfile.name is a property


def episode_out(episode: Episode) -> EpisodeOut:
    return EpisodeOut(
        id=episode.id,
        session_id=episode.session_id,
        agent_id=episode.scope.agent_id,
        start=episode.start,
        end=episode.end,
        turn_ids=list(episode.turn_ids),
        summary=episode.summary,
        keyphrases=list(episode.keyphrases),
        entities=list(episode.entities),
        visits=episode.visits,
        last_visit=episode.last_visit,
        importance=episode.importance,
        pinned=episode.pinned,
        archived_at=episode.archived_at,
    )


def consolidation_out(report: ConsolidationReport) -> ConsolidationOut:
    out = ConsolidationOut.model_validate(report, from_attributes=True)
    return out.model_copy(update={"elapsed_ms": round(report.elapsed_ms, 3)})


def forget_out(receipt: ForgetReceipt) -> ForgetOut:
    return ForgetOut.model_validate(receipt, from_attributes=True)


def pin_out(action: PinAction, asked: list[str], updated: list[str]) -> PinOut:
    found = set(updated)
    return PinOut(
        action=action, updated_ids=updated, not_found_ids=[i for i in dict.fromkeys(asked) if i not in found]
    )
