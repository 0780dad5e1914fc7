"""Pseudo-relevance feedback on full text: words of the best first-pass turns, searched again.

In a conversation the evidence for a question is often spread over turns that say it in
different words: "Where did Caroline move from?" finds "since I moved from my home country",
and the answer, "my home country, Sweden", shares no word with the question but two with
that turn. The best turns of a first fusion give a few expansion words (RM3's relevance model
without the original query: each word weighted by its share of each turn, times the turn's
fused score), and a second full-text search for them is fused in as one more ranking. Pure:
the caller reads the turns and runs the search.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence

from engram.read.query import search_words


def content_words(text: str) -> list[str]:
    """``text``'s words as the full-text search is asked for them (:func:`search_words`),
    leaving out numbers and single letters too: they carry no topic."""
    return [word for word in search_words(text) if len(word) > 1 and not word.isdigit()]


def expansion_terms(
    feedback: Sequence[tuple[str, float]], *, exclude: Collection[str], limit: int
) -> list[str]:
    """The ``limit`` words that best stand for the feedback turns (``(text, fused score)``, best
    first), none of ``exclude`` (the question's own terms, the speakers' names).

    A word weighs its share of each turn's words times the turn's share of the feedback's
    fused score, summed: what the best turns are mostly about, in proportion to how sure the
    first pass is of each. Ties go to the word seen first, so the terms are deterministic.
    """
    total = sum(score for _, score in feedback)
    if total <= 0:
        return []
    weights: dict[str, float] = {}
    for text, score in feedback:
        words = content_words(text)
        share = score / total / max(len(words), 1)
        for word, count in Counter(words).items():
            if word not in exclude:
                weights[word] = weights.get(word, 0.0) + share * count
    order = {word: place for place, word in enumerate(weights)}
    return sorted(weights, key=lambda word: (-weights[word], order[word]))[:limit]
