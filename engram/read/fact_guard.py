"""Which facts a context may show, and which a later memory contradicts. Pure: no I/O.

A context that says "Sam lives in Portland" while its own retrieved turns say Sam moved to
Denver is worse than no fact at all: a reader believes the fact. Two guards:

* **Relevance** (:func:`kinds_asked`): the profile's facts are shown only for the kinds of
  fact the question is about ("where ... live" → location, "job" → work, "dog" → pet); a
  question about nothing in particular gets none.
* **Contradiction** (:func:`contradictions`): a fact shown as current is checked against the
  turns the context holds that were said after it started. The rule extractor
  (:func:`engram.write.extract.extract_facts`) reads each such turn; a statement of another
  value for the same single-valued slot, or that the value ended ("I don't live in Chicago
  anymore"), dated after the fact's start, means the fact is no longer current. The context
  then shows it with its end and what was said ("until 2024-03-25; later said: ..."). This
  holds even when the write path missed the change (a phrasing the rules did not know when
  the turn was stored, an import without extraction), since the check runs on what is shown.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from engram.model import Turn
from engram.model.fact import PERSON_KINDS, FactVersion
from engram.write.extract import FactCandidate, extract_facts

#: Words that show what kind of fact a question is about.
_KIND_TEXT = {
    "location": (
        "live lives living lived reside resides resided move moved moving relocate relocated city town "
        "hometown home address neighborhood neighbourhood based located country"
    ),
    "work": (
        "job jobs work works working worked career employer employed company occupation profession boss "
        "office colleague colleagues coworker coworkers position role salary hired quit fired startup"
    ),
    "identity": (
        "name named called nickname age birthday born married single divorced engaged relationship "
        "girlfriend boyfriend dating identity"
    ),
    "family": (
        "family sister sisters brother brothers sibling siblings mother mom mum father dad parent parents son "
        "sons daughter daughters kid kids child children wife husband partner spouse cousin aunt uncle "
        "grandmother grandfather grandma grandpa niece nephew baby"
    ),
    "pet": "pet pets dog dogs cat cats puppy kitten animal animals",
    "possession": "own owns owned car bike house bought drive drives",
    "preference": (
        "like likes liked love loves favorite favourite prefer prefers enjoy enjoys hate hates dislike "
        "dislikes drink drinks eat eats food taste"
    ),
    "plan": "plan plans planning planned upcoming future trip",
}
_KIND_WORDS = {kind: frozenset(words.split()) for kind, words in _KIND_TEXT.items()}
_WORD = re.compile(r"[^\W\d_]+")
#: Phrases that ask for the whole profile.
_WHOLE_PROFILE = re.compile(r"\b(?:profile|about (?:me|myself)|know about|everything about)\b", re.I)
_WHERE_FROM = re.compile(r"\bwhere\b.*\bfrom\b", re.I)
_WHO_IS = re.compile(r"\bwho (?:is|am|are)\b", re.I)


def kinds_asked(question: str) -> frozenset[str]:
    """The fact kinds (:data:`~engram.model.fact.KINDS`) ``question`` is about; empty for none."""
    if _WHOLE_PROFILE.search(question):
        return frozenset(PERSON_KINDS)
    words = set(_WORD.findall(question.lower()))
    kinds = {kind for kind, triggers in _KIND_WORDS.items() if not triggers.isdisjoint(words)}
    if _WHERE_FROM.search(question):
        kinds.add("location")
    if _WHO_IS.search(question):
        kinds.add("identity")
    return frozenset(kinds)


@dataclass(frozen=True, slots=True)
class Contradiction:
    """A later memory that says a fact no longer holds.

    Attributes:
        until: when it stopped holding, as the later memory dates it.
        said: what was said: the new value's statement, or the words that ended it.
        turn_id: the turn that says it.
    """

    until: datetime
    said: str
    turn_id: str


@functools.lru_cache(maxsize=4096)
def _extracted(
    content: str, speaker: str | None, role: str, timestamp: datetime
) -> tuple[FactCandidate, ...]:
    return tuple(extract_facts(content, speaker=speaker, role=role, timestamp=timestamp))


def _stated(turn: Turn) -> tuple[FactCandidate, ...]:
    """What ``turn`` states about its speaker (cached: the same turns come back question after question)."""
    return _extracted(turn.content, turn.name, turn.role, turn.timestamp)


def _same(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def _contradicts(fact: FactVersion, candidate: FactCandidate) -> bool:
    if candidate.subject.casefold() != fact.subject.casefold() or candidate.attribute != fact.attribute:
        return False
    if candidate.ends:
        return not candidate.value.strip() or _same(candidate.value, fact.value)
    return not fact.multi and not _same(candidate.value, fact.value)


def _dated_after(candidate: FactCandidate, fact: FactVersion) -> bool:
    return candidate.valid_from is None or candidate.valid_from > fact.valid_from


def contradictions(
    facts: Iterable[FactVersion], turns: Sequence[Turn], at: datetime
) -> dict[str, Contradiction]:
    """The facts shown as current at ``at`` that a later turn among ``turns`` contradicts, by fact id.

    Only turns said after the fact started and by ``at`` count, and only statements dated
    after the fact started (a statement about the past, "I lived in Paris in 2015", leaves a
    later fact alone). The earliest contradiction wins.
    """
    ordered = sorted((t for t in turns if t.timestamp <= at), key=lambda t: (t.timestamp, t.seq))
    found: dict[str, Contradiction] = {}
    for fact in facts:
        if fact.valid_to is not None and fact.valid_to <= at:
            continue  # shown with its end already
        for turn in ordered:
            if turn.timestamp <= fact.valid_from or turn.id in fact.source_turn_ids:
                continue
            hit = next((c for c in _stated(turn) if _contradicts(fact, c) and _dated_after(c, fact)), None)
            if hit is None:
                continue
            until = hit.valid_from or turn.timestamp
            said = f'"{hit.evidence}"' if hit.ends else hit.statement
            found[fact.id] = Contradiction(until, said, turn.id)
            break
    return found
