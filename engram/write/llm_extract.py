"""Fact extraction with an LLM, one call per episode, off the hot path (consolidation only).

The model sees the episode's turns (numbered, dated, with speakers) and the facts memory
already holds about these people (so it reuses attribute names), and answers in a JSON schema.
Replies are validated and repaired by the provider; each fact must cite a turn of the episode
and a known kind, or it is dropped. The result goes through the same reconciler as rule-based
facts: add, supersede, reinforce, end or no-op. A fact can say that a value stopped holding
(``ends``: "I don't live in Chicago anymore") or that it held over a closed span in the past
(``valid_to``: "I lived in Paris from 2015 to 2018"), as rule-based candidates can.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time

from pydantic import BaseModel, Field

from engram.model import Turn
from engram.model.fact import KINDS, FactVersion
from engram.model.timeutil import UTC
from engram.providers.llm import LLM
from engram.write.reconcile import Candidate

MAX_EXISTING = 40


class ExtractedFact(BaseModel):
    """One fact as the LLM states it."""

    turn: int = Field(description="number of the turn the fact comes from")
    subject: str = Field(description="who it is about: the speaker's name, or 'user'")
    attribute: str = Field(
        description="slot name, snake_case: name, lives_in, hometown, occupation, employer, pet, "
        "family:<relation>, owns, plan, preference:<thing>, favorite:<category>, relationship_status, "
        "or another short snake_case attribute"
    )
    value: str = Field(description="the value, a few words")
    statement: str = Field(description="one short third-person sentence stating the fact")
    kind: str = Field(description="one of: " + ", ".join(KINDS))
    multi: bool = Field(description="true when several values can hold at once (pets, family members)")
    valid_from: str | None = Field(description="YYYY-MM-DD when the fact became true, if said; else null")
    valid_to: str | None = Field(
        default=None,
        description="YYYY-MM-DD when it stopped being true, for a fact about the past "
        "('I lived in Paris from 2015 to 2018' gives 2018-01-01); else null",
    )
    ends: bool = Field(
        default=False,
        description="true when the turn says the value no longer holds ('I don't live in Chicago "
        "anymore', 'I quit my job at X', 'Rex passed away'): the fact is the value that ended, "
        "valid_from when it ended",
    )


class ExtractedFacts(BaseModel):
    """The reply schema."""

    facts: list[ExtractedFact]


SYSTEM = (
    "You extract durable personal facts from a conversation for a long-term memory. Extract only "
    "what a speaker states about themselves or people and animals close to them: identity, where they "
    "live, work, family, pets, possessions, plans, likes and dislikes. Never guess, never extract "
    "questions, hypotheticals or things said about the listener. Resolve relative dates ('last May') "
    "against the turn's date. When a speaker says something stopped ('I don't live in Chicago anymore', "
    "'I quit my job at X'), give that value with ends=true; a new value said with it is a fact of its own. "
    "A fact about the past with an end ('I lived in Paris from 2015 to 2018') gets valid_to. Prefer the attribute names memory already uses. If nothing qualifies, "
    'return {"facts": []}.'
)


def build_messages(turns: Sequence[Turn], existing: Sequence[FactVersion]) -> list[dict[str, str]]:
    """The chat messages of one extraction call."""
    lines = [
        f"[{number}] {turn.timestamp:%Y-%m-%d} {turn.speaker}: {' '.join(turn.content.split())}"
        for number, turn in enumerate(turns, start=1)
    ]
    known = [f"- {f.subject} | {f.attribute} | {f.value}" for f in list(existing)[-MAX_EXISTING:]]
    user = "Facts memory already holds (subject | attribute | value):\n" + ("\n".join(known) or "- none")
    user += "\n\nConversation:\n" + "\n".join(lines)
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def _date(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.combine(date.fromisoformat(text[:10]), time(), tzinfo=UTC)
    except ValueError:
        return None


def extract_with_llm(llm: LLM, turns: Sequence[Turn], existing: Sequence[FactVersion]) -> list[Candidate]:
    """Candidates from one LLM call over an episode's turns; invalid items are dropped."""
    reply = llm.complete_json(build_messages(turns, existing), ExtractedFacts, name="extracted_facts")
    out: list[Candidate] = []
    for item in reply.facts:
        if not 1 <= item.turn <= len(turns) or item.kind not in KINDS:
            continue
        if not item.attribute.strip() or not (item.ends or (item.value.strip() and item.statement.strip())):
            continue  # an end may name no value ("I quit my job"); anything else states one
        turn = turns[item.turn - 1]
        valid_from = _date(item.valid_from) or turn.timestamp
        valid_to = None if item.ends else _date(item.valid_to)
        if valid_to is not None and valid_to <= valid_from:
            continue  # an end before the start: nothing to place
        out.append(
            Candidate(
                tenant=turn.scope.tenant,
                user_id=turn.scope.user_id,
                agent_id=turn.scope.agent_id,
                subject=item.subject.strip() or "user",
                attribute=item.attribute.strip().lower().replace(" ", "_"),
                value=item.value.strip(),
                statement=item.statement.strip(),
                kind=item.kind,
                multi=item.multi,
                valid_from=valid_from,
                confidence=0.7,
                source="llm",
                source_turn_id=turn.id,
                ends=item.ends,
                valid_to=valid_to,
            )
        )
    return out
