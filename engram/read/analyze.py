"""Query analysis: what a question is about, when, and whether it asks about the past.

Pure. Time phrases are resolved against the question's own date (LongMemEval's time-aware
query expansion): "what did I buy last weekend?" asked on 2023-05-30 looks at 2023-05-20..21,
and the phrase's relative words leave the question's search terms.
A question about the past ("where did I live before", "what did I use to drink") keeps
superseded facts in play; by default only current facts are. Who the question is about
(a speaker it names, or the user when it says "my") lets retrieval favour that speaker's turns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from engram.read.query import query_terms
from engram.text.keyphrases import entities
from engram.text.timeexpr import TimeMention, find_time_mentions

_PAST = re.compile(
    r"\b(used to|previous(ly)?|before (?:that|moving|switching|changing)|formerly|originally|at first|"
    r"first (?:time|job|car|pet)|old (?:job|place|home|apartment|city)|earlier|in the past|back then|"
    r"anymore|no longer|change[sd]?|switch(?:ed)?|how long|since when|when did)\b",
    re.IGNORECASE,
)


_FIRST_PERSON = re.compile(r"\b(?:i|me|my|mine|myself|i'm|i've|i'd|i'll)\b", re.IGNORECASE)
_ASKS_ASSISTANT = re.compile(
    r"\byou (?:\w+ )?(?:said|told|suggested|recommended|mentioned|gave|shared|wrote|listed|proposed)\b|"
    r"\bdid you (?:\w+ )?(?:say|tell|suggest|recommend|mention|give|share|write|list|propose)\b|"
    r"\byour (?:suggestion|recommendation|advice|answer|list)\b",
    re.IGNORECASE,
)
#: A new request ("can you suggest something I'd like?"): what the user said about themselves
#: (their tastes, plans, constraints) is what answers it, not what the assistant said before.
_REQUEST = re.compile(
    r"\b(?:can|could|would|will) you (?:please )?(?:suggest|recommend|give|list|propose|help|find|plan|"
    r"come up)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class QueryAnalysis:
    """What retrieval needs to know about a question."""

    text: str
    terms: list[str]
    entities: list[str]
    times: list[TimeMention]
    about_past: bool
    speaker_role: str | None = None

    @property
    def names(self) -> frozenset[str]:
        """Each word of the names the question mentions, case-folded ("caroline")."""
        return frozenset(word.casefold() for name in self.entities for word in name.split())

    @property
    def time_range(self) -> tuple[datetime, datetime] | None:
        """The span covered by the question's time phrases, if it has any."""
        if not self.times:
            return None
        return min(t.begin for t in self.times), max(t.until for t in self.times)


#: Words of a time phrase that say only how far back it is; names (months, weekdays, years)
#: stay search terms, because turns say them too ("we went camping in June").
_RELATIVE = frozenset(
    "ago week weeks day days month months year years last past next previous recent recently "  # noqa: SIM905
    "yesterday today tonight tomorrow weekend couple few earlier later this".split()
)


def _without_times(query: str, times: list[TimeMention]) -> str:
    """The query without the relative words of its time phrases: "a week ago" narrows by time,
    and as words it would only match other turns that happen to say "week" or "ago"."""
    for mention in reversed(times):
        kept = " ".join(w for w in mention.text.split() if w.lower().strip(",.?!") not in _RELATIVE)
        query = f"{query[: mention.start]} {kept} {query[mention.end :]}"
    return query


def analyze(query: str, reference_time: datetime) -> QueryAnalysis:
    """Analyse ``query`` asked at ``reference_time``."""
    times = find_time_mentions(query, reference_time)
    return QueryAnalysis(
        text=query,
        terms=query_terms(_without_times(query, times)),
        entities=entities(query),
        times=times,
        about_past=bool(_PAST.search(query)) or any(t.direction == "past" for t in times),
        speaker_role=_speaker_role(query),
    )


_PUNCTUATION = "?!.,;:\"'()[]"
_POSSESSIVE = re.compile(r"['’]s$")


def embedding_text(analysis: QueryAnalysis, speakers: frozenset[str]) -> str:
    """The question as it is embedded: without the names of the speakers it names.

    The speaker prior already favours a named speaker's turns; left in the vector, the name
    pulls in every turn that greets or thanks them ("Thanks, Melanie!") and crowds out the
    turns about what was asked. ``speakers`` are the speakers' names (``Turn.name``); a word
    of one that the question names as an entity is left out, possessive "'s" and all.
    """
    named = analysis.names & speaker_words(speakers)
    words = analysis.text.split()
    kept = [word for word in words if _POSSESSIVE.sub("", word.strip(_PUNCTUATION)).casefold() not in named]
    return " ".join(kept) if kept and len(kept) < len(words) else analysis.text


def speaker_words(speakers: Iterable[str]) -> frozenset[str]:
    """Each word of the speakers' names (``Turn.name``), case-folded: what a question's names
    are matched against."""
    return frozenset(word.casefold() for name in speakers for word in name.split())


def _speaker_role(query: str) -> str | None:
    """Whose words answer the question: the assistant's when it asks what "you said", the
    user's when it asks about "me"/"my" (what I did is in what I said) or makes a request
    about themselves ("can you suggest something I can do tonight?"), else anyone's."""
    if _ASKS_ASSISTANT.search(query):
        return "assistant"
    if _FIRST_PERSON.search(query) and (
        _REQUEST.search(query) or not re.search(r"\byou\b", query, re.IGNORECASE)
    ):
        return "user"
    return None
