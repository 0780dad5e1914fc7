"""Retrieval and answer metrics of the LongMemEval and LoCoMo papers. Pure: no I/O.

The functions reproduce the official scoring code so that numbers are comparable with
published ones:

* retrieval (LongMemEval ``src/retrieval/eval_utils.py``): ``recall_all@k``,
  ``recall_any@k`` and ``ndcg_any@k`` over a ranking of ids against a set of gold ids;
  turn rankings are scored at session level by mapping each turn to its session and keeping
  the first occurrence (:func:`map_to_sessions`);
* answers (LoCoMo ``task_eval/evaluation.py``): token F1 after SQuAD-style normalisation,
  with LoCoMo's per-category rules (:func:`locomo_f1`).

Retrieval metrics return None when there is no gold to find, so that such questions are
left out of averages (:func:`mean_or_none`) instead of counting as perfect or as failures.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Literal

from engram.errors import ValidationError

#: Phrases whose presence makes an answer to a LoCoMo adversarial (category 5) question right.
ABSTENTION_PHRASES = ("no information available", "not mentioned")

_ARTICLES = re.compile(r"\b(a|an|the|and)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def _top_k(ranked_ids: Sequence[str], k: int) -> set[str]:
    if k < 1:
        raise ValidationError(f"k must be at least 1, not {k}")
    return set(ranked_ids[:k])


def recall_all_at_k(ranked_ids: Sequence[str], gold: Collection[str], k: int) -> float | None:
    """1.0 when every gold id is among the first ``k`` ranked ids, else 0.0.

    Repeated ids take a place each, as in the official code; dedupe first
    (:func:`dedupe_keep_order`, :func:`map_to_sessions`) to score distinct items.

    Returns:
        None when ``gold`` is empty: there is nothing to recall.

    Raises:
        ValidationError: ``k`` is below 1.
    """
    top = _top_k(ranked_ids, k)
    if not gold:
        return None
    return float(all(item in top for item in gold))


def recall_any_at_k(ranked_ids: Sequence[str], gold: Collection[str], k: int) -> float | None:
    """1.0 when at least one gold id is among the first ``k`` ranked ids, else 0.0.

    Returns:
        None when ``gold`` is empty.

    Raises:
        ValidationError: ``k`` is below 1.
    """
    top = _top_k(ranked_ids, k)
    if not gold:
        return None
    return float(any(item in top for item in gold))


def ndcg_any_at_k(
    ranked_ids: Sequence[str],
    gold: Collection[str],
    k: int,
    *,
    discount: Literal["longmemeval", "standard"] = "longmemeval",
) -> float | None:
    """Binary-relevance nDCG@k: how near the top the gold ids are ranked.

    Gold ids have relevance 1, others 0; a gold id repeated in the ranking counts once, at
    its first place. The ideal ranking puts ``min(len(gold), k)`` gold ids first (the
    official code derives it from the whole corpus, which holds every gold id).

    The discount of the 1-based rank ``r`` is, with ``discount="longmemeval"`` (the default,
    LongMemEval's ``dcg``: ``rel[0] + sum(rel[1:] / log2(arange(2, k + 1)))``), 1 for
    ``r = 1`` and ``log2(r)`` after, so ranks 1 and 2 weigh the same; with
    ``discount="standard"`` it is the textbook ``log2(r + 1)``.

    Returns:
        A value in [0, 1], or None when ``gold`` is empty.

    Raises:
        ValidationError: ``k`` is below 1 or ``discount`` is unknown.
    """
    if k < 1:
        raise ValidationError(f"k must be at least 1, not {k}")
    weight = _DISCOUNTS.get(discount)
    if weight is None:
        raise ValidationError(f"discount must be 'longmemeval' or 'standard', not {discount!r}")
    if not gold:
        return None
    gold_set, found = set(gold), set()
    gain = 0.0
    for rank, item in enumerate(ranked_ids[:k], start=1):
        if item in gold_set and item not in found:
            found.add(item)
            gain += weight(rank)
    ideal = sum(weight(rank) for rank in range(1, min(len(gold_set), k) + 1))
    return gain / ideal


_DISCOUNTS: dict[str, Callable[[int], float]] = {
    "longmemeval": lambda rank: 1.0 if rank == 1 else 1.0 / math.log2(rank),
    "standard": lambda rank: 1.0 / math.log2(rank + 1),
}


def dedupe_keep_order(ids: Iterable[str]) -> list[str]:
    """The ids without repeats, each at its first place."""
    return list(dict.fromkeys(ids))


def map_to_sessions(ranked_turn_ids: Iterable[str], turn_to_session: Mapping[str, str]) -> list[str]:
    """Turn a ranking of turns into a ranking of sessions, by each session's best turn.

    This is LongMemEval's ``evaluate_retrieval_turn2session``: the top k sessions are the
    first k distinct sessions of the turn ranking.

    Raises:
        ValidationError: a ranked turn id has no session in ``turn_to_session``; rankings
            must hold turn ids only (map derived memories to their source turns first).
    """
    sessions = []
    for turn_id in ranked_turn_ids:
        session = turn_to_session.get(turn_id)
        if session is None:
            raise ValidationError(f"ranked id {turn_id!r} names no turn of a known session")
        sessions.append(session)
    return dedupe_keep_order(sessions)


@lru_cache(maxsize=1)
def _stemmer() -> Callable[[str], str]:
    """NLTK's Porter stemmer when ``nltk`` is installed, else the identity."""
    try:
        from nltk.stem import PorterStemmer  # type: ignore[import-not-found]
    except ImportError:
        return lambda word: word
    stem: Callable[[str], str] = PorterStemmer().stem
    return stem


def normalize_answer(text: str) -> str:
    """LoCoMo's answer normalisation, applied before token F1.

    Drops commas, lower-cases, strips punctuation and the words a/an/the/and, and collapses
    white space.
    """
    text = text.replace(",", "").lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def token_f1(prediction: str, gold: str) -> float:
    """LoCoMo's official token F1 between a predicted and a gold answer.

    Both are normalised (:func:`normalize_answer`), split on white space and Porter-stemmed;
    F1 is computed over the token multisets. Stemming uses NLTK's ``PorterStemmer`` when
    ``nltk`` is importable, as the official code does; Engram does not depend on it, and
    without it tokens are compared unstemmed, which can only lower scores where inflections
    differ (``"paints"`` vs ``"painting"``). Report which was used with :func:`stemming`.

    Returns:
        A value in [0, 1]; 0.0 when nothing matches or either side is empty.
    """
    stem = _stemmer()
    predicted = [stem(word) for word in normalize_answer(prediction).split()]
    expected = [stem(word) for word in normalize_answer(gold).split()]
    same = sum((Counter(predicted) & Counter(expected)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(expected)
    return 2 * precision * recall / (precision + recall)


def stemming() -> bool:
    """Whether :func:`token_f1` stems (``nltk`` is importable), to record in reports."""
    return _stemmer()("running") != "running"


def locomo_f1(prediction: str, gold: str, category: str | int) -> float:
    """Score an answer to a LoCoMo question the way LoCoMo's ``eval_question_answering`` does.

    * category 1 (multi-hop): prediction and gold are split on ``,``; the score is the mean,
      over gold parts, of the best :func:`token_f1` against any predicted part;
    * category 3 (open-domain): only the gold before the first ``;`` counts;
    * categories 2 and 4: plain :func:`token_f1`;
    * category 5 (adversarial): 1.0 when the prediction says ``"no information available"``
      or ``"not mentioned"`` (case-insensitive), else 0.0; the gold is not used, because
      ``adversarial_answer`` is the tempting wrong answer.

    Raises:
        ValidationError: the category is not 1 to 5.
    """
    category = str(category)
    if category == "1":
        predictions = [part.strip() for part in prediction.split(",")]
        golds = [part.strip() for part in gold.split(",")]
        return sum(max(token_f1(p, g) for p in predictions) for g in golds) / len(golds)
    if category == "3":
        return token_f1(prediction, gold.split(";")[0].strip())
    if category in ("2", "4"):
        return token_f1(prediction, gold)
    if category == "5":
        lowered = prediction.lower()
        return float(any(phrase in lowered for phrase in ABSTENTION_PHRASES))
    raise ValidationError(f"LoCoMo category must be 1 to 5, not {category!r}")


def percentile(values: Iterable[float], p: float) -> float | None:
    """The ``p``-th percentile with linear interpolation (numpy's default method).

    Args:
        values: the sample; need not be sorted.
        p: percent, 0 to 100.

    Returns:
        The percentile, or None for an empty sample.

    Raises:
        ValidationError: ``p`` is outside [0, 100].
    """
    if not 0 <= p <= 100:
        raise ValidationError(f"percentile must be between 0 and 100, not {p}")
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * p / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mean_or_none(values: Iterable[float | None]) -> float | None:
    """The mean of the values that are not None, or None when there are none.

    None marks a question a metric does not apply to (no gold), so it is skipped rather
    than counted as 0 or 1.
    """
    present = [value for value in values if value is not None]
    if not present:
        return None
    return sum(present) / len(present)
