"""Entity bridges: evidence that shares a name with the best turns rather than with the question.

A question about several things said apart finds the turns that share its words, and misses
the ones that share a name with those turns instead. "Which cities has Jon visited?" finds
"Paris?! That is really great Jon! ... Been only to Rome once.", and "Took a short trip last
week to Rome" says neither "city" nor "visited". The turn missed shares something with the one
found rather than with the question; when that is a rare name, searching for it finds the turn
(in LoCoMo a name is the link for a few multi-hop questions in ten: benchmarks/RESULTS.md).

So the names the best turns of a first fusion mention (:func:`~engram.text.keyphrases.entities`),
less the question's own words and the speakers' names, are searched again, each on its own,
and the turns they find are fused in as one more ranking. Two rules keep a long chat's topic
out (full-text feedback on all the best turns' words pulled in the superseded values of a
knowledge update on BEAM):

* a name weighs its turn's fused score shared among the names that turn mentions: a pasted
  document with forty capitalised headings gives each of them little, a chat line naming one
  place gives it all; only the ``bridge_names`` heaviest are searched;
* a name said in more than ``bridge_rarity`` turns bridges nothing (it is the chat's topic, not
  a link between two of its turns): it is counted (:meth:`~engram.store.base.Store.text_count`)
  before it is searched. A rarer one counts for more (``log((rarity + 1) / turns)``, over the
  turns the search may return).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from engram.model import SearchFilters
from engram.read.analyze import QueryAnalysis, speaker_words
from engram.read.feedback import content_words
from engram.read.routes import best_texts
from engram.store.base import Match, Store, UserScope
from engram.text.keyphrases import entities

if TYPE_CHECKING:
    from engram.read.retrieve import RetrievalConfig

#: A name as the full-text search is asked for it: its words.
Name = tuple[str, ...]


def bridge_names(
    best: Sequence[tuple[str, float]], *, exclude: Collection[str], limit: int
) -> list[tuple[Name, float]]:
    """The ``limit`` heaviest names the ``best`` turns mention (``(text, fused score)``, best
    first), each with its weight, heaviest first.

    A turn's score is shared among the distinct names it mentions, and a name's weight is the sum
    of its shares. Words of ``exclude`` (the question's terms, the speakers' names) are left out
    of a name, and a name left with no word is dropped. Ties keep the order names were seen in.
    """
    weights: dict[Name, float] = {}
    for text, score in best:
        names = [name for name in dict.fromkeys(_words(entity, exclude) for entity in entities(text)) if name]
        for name in names:
            weights[name] = weights.get(name, 0.0) + score / len(names)
    order = {name: place for place, name in enumerate(weights)}
    heaviest = sorted(weights, key=lambda name: (-weights[name], order[name]))[: max(0, limit)]
    return [(name, weights[name]) for name in heaviest]


def _words(name: str, exclude: Collection[str]) -> Name:
    """``name``'s words as full text is asked for them, less ``exclude``: "Caroline's Sweden"
    asked about Caroline bridges through "sweden" alone."""
    return tuple(dict.fromkeys(word for word in content_words(name) if word not in exclude))


def bridge_ranking(
    found: Sequence[tuple[float, Sequence[Match]]], *, rarity: int, skip: Collection[str]
) -> list[Match]:
    """The turns that the names found (``(name's weight, its full-text matches)``), best first.

    A name matched in more than ``rarity`` turns is left out. Each other one adds its weight
    times ``log((rarity + 1) / matches)`` to each turn it matched, but to none of ``skip`` (the
    turns the names came from). Ties keep the order turns were found in; a match's score is its
    sum.
    """
    scores: dict[str, float] = {}
    matches: dict[str, Match] = {}
    for weight, said in found:
        if not said or len(said) > rarity:
            continue
        rare = weight * math.log((rarity + 1) / len(said))
        for match in said:
            if match.id not in skip:
                scores[match.id] = scores.get(match.id, 0.0) + rare
                matches.setdefault(match.id, match)
    order = {turn_id: place for place, turn_id in enumerate(matches)}
    ranked = sorted(matches, key=lambda turn_id: (-scores[turn_id], order[turn_id]))
    return [replace(matches[turn_id], score=scores[turn_id]) for turn_id in ranked]


def bridge_route(
    store: Store,
    scope: UserScope,
    analysis: QueryAnalysis,
    best: Sequence[tuple[str, float]],
    *,
    filters: SearchFilters,
    until: datetime,
    config: RetrievalConfig,
) -> list[Match]:
    """The turns that share a rare name with the ``best`` turns of a first fusion (``(turn id,
    fused score)``, best first), found by full text one name at a time with the same filters.
    A name said in more than ``config.bridge_rarity`` of the user's turns, at any time, is not
    searched."""
    turns, said = best_texts(store, scope, best)
    speakers = speaker_words(store.speaker_names(scope))
    names = bridge_names(
        said, exclude={*analysis.terms, *analysis.names, *speakers}, limit=config.bridge_names
    )
    rarity = config.bridge_rarity
    found = [
        (weight, store.text_matches(scope, name, filters=filters, until=until, limit=rarity + 1))
        for name, weight in names
        if store.text_count(scope, name) <= rarity  # counting costs less than searching a common name
    ]
    return bridge_ranking(found, rarity=rarity, skip=turns)
