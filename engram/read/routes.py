"""Routes from a question to turns through what the write path derived from them.

Each gives :func:`~engram.read.retrieve.retrieve` one ranking of turns to fuse:

* :func:`episode_route`: episodes found by their summaries and centroids, routed to their
  turns that best match the question (H-MEM's top-down routing);
* :func:`fact_route`: facts whose statements match, routed to the turns they came from;
* :func:`instruction_route`: the user's standing instructions, ranked by meaning;
* :func:`feedback_route`: full text again, for the words of the best turns a first fusion
  found (:mod:`engram.read.feedback`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from engram.model import SearchFilters, Turn
from engram.model.episode import Episode
from engram.model.fact import FactVersion
from engram.read.analyze import QueryAnalysis, speaker_words
from engram.read.feedback import expansion_terms
from engram.read.fuse import reciprocal_rank_fusion
from engram.store.base import Match, Store, UserScope

if TYPE_CHECKING:
    from engram.read.retrieve import RetrievalConfig


def relevant_fact(fact: FactVersion, at: datetime, *, about_past: bool) -> bool:
    """Whether a fact version may be shown for a question asked at ``at``.

    Versions that start after ``at`` never are; versions that ended before ``at`` only when
    the question is about the past; otherwise what was true at ``at`` (in valid time: a
    version replaced by a later statement was still true before that statement's date).
    """
    if fact.valid_from > at or (fact.valid_to is not None and fact.valid_to <= fact.valid_from):
        return False  # from the future, or a merged duplicate (an empty span)
    return about_past or fact.true_at(at)


def episode_route(
    store: Store,
    scope: UserScope,
    analysis: QueryAnalysis,
    query_vector: np.ndarray,
    *,
    filters: SearchFilters,
    until: datetime,
    config: RetrievalConfig,
) -> tuple[list[tuple[Episode, float]], list[Match]]:
    """The episodes that best match the question (full text and centroid, fused), and their
    turns that best match it, ``config.turns_per_episode`` each (H-MEM's top-down routing)."""
    by_text = store.episode_text_search(scope, analysis.terms, until=until, limit=config.episodes * 2)
    by_vector = store.episode_vector_search(scope, query_vector, until=until, limit=config.episodes * 2)
    episodes = {e.id: e for e, _ in [*by_text, *by_vector]}
    fused = reciprocal_rank_fusion(
        {"text": [(e.id, s) for e, s in by_text], "vector": [(e.id, s) for e, s in by_vector]}, k=config.rrf_k
    )[: config.episodes]
    chosen = [(episodes[str(item.key)], item.score) for item in fused]
    wanted = [turn_id for episode, _ in chosen for turn_id in episode.turn_ids]
    found = store.get_turns(scope, wanted, filters=filters, until=until) if wanted else []
    turns = {t.id: t for t in sorted(found, key=lambda t: (t.timestamp, t.seq))}
    # In time order: the float32 scores of a batch depend (in their last bits) on its order.
    scores = store.vector_scores(scope, list(turns.values()), query_vector)
    ranking: list[Match] = []
    for episode, _ in chosen:
        inside = [Match.of(turns[tid], scores[tid]) for tid in episode.turn_ids if tid in scores]
        inside.sort(key=lambda match: -match.score)
        ranking += inside[: config.turns_per_episode]
    return chosen, ranking


def fact_route(
    store: Store,
    scope: UserScope,
    analysis: QueryAnalysis,
    *,
    filters: SearchFilters,
    until: datetime,
    config: RetrievalConfig,
) -> tuple[list[tuple[FactVersion, float]], list[Match]]:
    """The facts whose statements match the question (and may be shown at ``until``), and the
    turns they came from, in the facts' order."""
    # Facts are about people: a match on a person's name alone says nothing about the question.
    terms = [term for term in analysis.terms if term not in analysis.names]
    found = store.fact_text_search(scope, terms, limit=config.facts * 3)
    facts = [
        (fact, score) for fact, score in found if relevant_fact(fact, until, about_past=analysis.about_past)
    ]
    facts = facts[: config.facts]
    wanted = [fact.source_turn_ids[0] for fact, _ in facts if fact.source_turn_ids]
    turns = {t.id: t for t in store.get_turns(scope, wanted, filters=filters, until=until)} if wanted else {}
    ranking = [
        Match.of(turns[fact.source_turn_ids[0]], score)
        for fact, score in facts
        if fact.source_turn_ids and fact.source_turn_ids[0] in turns
    ]
    return facts, ranking


#: Most standing instructions the instruction route reads (the latest given).
MAX_INSTRUCTIONS = 500


def instruction_route(
    store: Store,
    scope: UserScope,
    query_vector: np.ndarray,
    *,
    filters: SearchFilters,
    until: datetime,
    config: RetrievalConfig,
) -> list[Match]:
    """The turns that gave the user's current standing instructions, the ``config.instructions``
    closest to the question's vector first (:mod:`engram.write.instructions`)."""
    given = [
        fact.source_turn_ids[0]
        for fact in store.list_facts(scope, kinds=("instruction",))
        if fact.source_turn_ids and fact.valid_from <= until
    ][-MAX_INSTRUCTIONS:]
    turns = store.get_turns(scope, given, filters=filters, until=until) if given else []
    if not turns:
        return []
    turns.sort(key=lambda t: (t.timestamp, t.seq))  # float32 scores of a batch depend on its order
    scores = store.vector_scores(scope, turns, query_vector)
    ranking = [Match.of(turn, scores[turn.id]) for turn in turns if turn.id in scores]
    ranking.sort(key=lambda match: -match.score)
    return ranking[: config.instructions]


def feedback_route(
    store: Store,
    scope: UserScope,
    analysis: QueryAnalysis,
    best: Sequence[tuple[str, float]],
    *,
    filters: SearchFilters,
    until: datetime,
    limit: int,
    config: RetrievalConfig,
) -> list[Match]:
    """Full text for the ``config.feedback_terms`` words that stand for the ``best`` turns of a
    first fusion (``(turn id, fused score)``, best first), the question's own terms and the
    speakers' names left out (the first pass searched the ones, the others are everywhere)."""
    _, feedback = best_texts(store, scope, best)
    names = speaker_words(store.speaker_names(scope))
    terms = expansion_terms(feedback, exclude={*analysis.terms, *names}, limit=config.feedback_terms)
    return store.text_matches(scope, terms, filters=filters, until=until, limit=limit) if terms else []


def best_texts(
    store: Store, scope: UserScope, best: Sequence[tuple[str, float]]
) -> tuple[dict[str, Turn], list[tuple[str, float]]]:
    """The ``best`` turns of a first fusion (``(turn id, fused score)``, best first), read in one
    call, and their texts with their scores in that order (a turn forgotten meanwhile left out):
    what the second-pass routes draw their words and names from."""
    turns = {turn.id: turn for turn in store.get_turns(scope, [turn_id for turn_id, _ in best])}
    return turns, [(turns[turn_id].content, score) for turn_id, score in best if turn_id in turns]
