"""Metric functions against tables of hand-computed cases."""

from __future__ import annotations

import math
import random

import pytest

from engram.bench.metrics import (
    dedupe_keep_order,
    locomo_f1,
    map_to_sessions,
    mean_or_none,
    ndcg_any_at_k,
    normalize_answer,
    percentile,
    recall_all_at_k,
    recall_any_at_k,
    stemming,
    token_f1,
)
from engram.errors import ValidationError

L3 = 1 / math.log2(3)  # 0.6309...


@pytest.mark.parametrize(
    ("ranked", "gold", "k", "all_", "any_"),
    [
        (["a", "b", "c"], {"a", "c"}, 2, 0.0, 1.0),
        (["a", "b", "c"], {"a", "c"}, 3, 1.0, 1.0),
        (["x", "y"], {"a"}, 2, 0.0, 0.0),
        ([], {"a"}, 5, 0.0, 0.0),
        (["a", "b"], {"a", "b"}, 10, 1.0, 1.0),  # k beyond the list
        (["a", "a", "b"], {"b"}, 2, 0.0, 0.0),  # a repeat takes a place
        (["a", "a", "b"], {"b"}, 3, 1.0, 1.0),
        (["a", "b"], set(), 1, None, None),  # nothing to recall
        (["a", "b"], [], 1, None, None),
    ],
)
def test_recall(ranked: list[str], gold: set[str], k: int, all_: float, any_: float) -> None:
    assert recall_all_at_k(ranked, gold, k) == all_
    assert recall_any_at_k(ranked, gold, k) == any_


@pytest.mark.parametrize("k", [0, -1])
def test_recall_rejects_k_below_one(k: int) -> None:
    with pytest.raises(ValidationError):
        recall_all_at_k(["a"], {"a"}, k)
    with pytest.raises(ValidationError):
        recall_any_at_k(["a"], {"a"}, k)
    with pytest.raises(ValidationError):
        ndcg_any_at_k(["a"], {"a"}, k)


# LongMemEval weights by rank: 1, 1, 1/log2(3), 1/log2(4) = 0.5, ...
# Standard weights by rank:    1, 1/log2(3), 1/log2(4) = 0.5, ...
@pytest.mark.parametrize(
    ("ranked", "gold", "k", "official", "standard"),
    [
        (["a", "b", "c"], {"a"}, 3, 1.0, 1.0),
        # rank 2 is not discounted by LongMemEval: 1/1; standard: (1/log2 3)/1
        (["x", "a", "c"], {"a"}, 3, 1.0, L3),
        # rank 3: official 1/log2(3); standard 1/log2(4) = 0.5
        (["x", "y", "a"], {"a"}, 3, L3, 0.5),
        # DCG 1 + 1/log2 3 over ideal 1 + 1 = 0.8155; standard (1 + 0.5) / (1 + 1/log2 3)
        (["a", "x", "b"], {"a", "b"}, 3, (1 + L3) / 2, 1.5 / (1 + L3)),
        # the repeat of a earns nothing: same as the case above
        (["a", "a", "b"], {"a", "b"}, 3, (1 + L3) / 2, 1.5 / (1 + L3)),
        # gold ranked below k
        (["x", "y", "z", "a"], {"a"}, 3, 0.0, 0.0),
        # k beyond the list; ideal has two gold: official 1 / 2; standard L3 / (1 + L3)
        (["x", "a"], {"a", "b"}, 10, 0.5, L3 / (1 + L3)),
        # more gold than k: the ideal holds only k gold ids
        (["a", "b"], {"a", "b", "c"}, 2, 1.0, 1.0),
        (["a", "b", "c", "d", "e"], {"e"}, 5, 1 / math.log2(5), 1 / math.log2(6)),
        ([], {"a"}, 5, 0.0, 0.0),
        (["a"], set(), 5, None, None),
    ],
)
def test_ndcg(
    ranked: list[str], gold: set[str], k: int, official: float | None, standard: float | None
) -> None:
    assert ndcg_any_at_k(ranked, gold, k) == pytest.approx(official)
    assert ndcg_any_at_k(ranked, gold, k, discount="standard") == pytest.approx(standard)


def _official_style_ndcg(ranked: list[str], gold: set[str], k: int) -> float:
    """An independent transcription of LongMemEval's formula for distinct rankings."""

    def dcg(relevances: list[int]) -> float:
        relevances = relevances[:k]
        if not relevances:
            return 0.0
        return relevances[0] + sum(r / math.log2(i + 1) for i, r in enumerate(relevances) if i)

    ideal = dcg(sorted((1 if i in gold else 0 for i in ranked), reverse=True))
    return dcg([1 if i in gold else 0 for i in ranked]) / ideal if ideal else 0.0


def test_ndcg_matches_the_official_formula_on_random_rankings() -> None:
    rng = random.Random(7)
    corpus = [f"d{i}" for i in range(30)]
    for _ in range(300):
        ranked = rng.sample(corpus, len(corpus))
        gold = set(rng.sample(corpus, rng.randint(1, 5)))
        k = rng.choice([1, 3, 5, 10, 50])
        assert ndcg_any_at_k(ranked, gold, k) == pytest.approx(_official_style_ndcg(ranked, gold, k))


def test_ndcg_rejects_unknown_discount() -> None:
    with pytest.raises(ValidationError):
        ndcg_any_at_k(["a"], {"a"}, 1, discount="exp")  # type: ignore[arg-type]


def test_dedupe_keep_order() -> None:
    assert dedupe_keep_order(["b", "a", "b", "c", "a"]) == ["b", "a", "c"]
    assert dedupe_keep_order([]) == []


def test_map_to_sessions_keeps_each_session_at_its_best_turn() -> None:
    turn_to_session = {"t1": "s1", "t2": "s2", "t3": "s1", "t4": "s3"}
    assert map_to_sessions(["t3", "t1", "t2", "t4"], turn_to_session) == ["s1", "s2", "s3"]
    assert map_to_sessions(["t4", "t3"], turn_to_session) == ["s3", "s1"]
    assert map_to_sessions([], turn_to_session) == []
    # Session-level recall of a turn ranking: top 2 sessions of [t1, t3, t2] are s1, s2.
    ranked = map_to_sessions(["t1", "t3", "t2"], turn_to_session)
    assert recall_all_at_k(ranked, {"s1", "s2"}, 2) == 1.0


def test_map_to_sessions_rejects_unknown_turns() -> None:
    with pytest.raises(ValidationError, match="t9"):
        map_to_sessions(["t1", "t9"], {"t1": "s1"})


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("The Cat, and a Dog!", "cat dog"),
        ("Paris, France", "paris france"),
        ("  7 May   2023. ", "7 may 2023"),
        ("an apple", "apple"),
        ("banana", "banana"),  # articles only as whole words
    ],
)
def test_normalize_answer(text: str, normal: str) -> None:
    assert normalize_answer(text) == normal


@pytest.mark.parametrize(
    ("prediction", "gold", "f1"),
    [
        ("The cat", "cat", 1.0),
        ("Paris, France", "paris france", 1.0),
        ("red blue", "red green", 0.5),  # P = R = 1/2
        ("red red blue", "red blue", 0.8),  # multiset: P = 2/3, R = 1
        ("It's 7 May 2023!", "7 May 2023", 6 / 7),  # "its" extra: P = 3/4, R = 1
        ("", "cat", 0.0),
        ("cat", "", 0.0),
        ("a an the and", "the", 0.0),  # both empty after normalisation
        ("dog", "cat", 0.0),
    ],
)
def test_token_f1(prediction: str, gold: str, f1: float) -> None:
    assert token_f1(prediction, gold) == pytest.approx(f1)


def test_token_f1_stems_only_when_nltk_is_there() -> None:
    assert token_f1("painting", "paint") == (1.0 if stemming() else 0.0)


@pytest.mark.parametrize(
    ("prediction", "gold", "category", "score"),
    [
        # multi-hop: mean over gold parts of the best F1 against any predicted part
        ("Paris, Rome", "Rome, Paris, London", "1", 2 / 3),
        ("Paris Rome", "Paris, Rome", "1", 2 / 3),  # each gold part: P = 1/2, R = 1
        ("London", "London", 1, 1.0),
        ("7 May 2023", "7 May 2023", "2", 1.0),
        # open-domain: only the gold before the first ';'
        ("yes", "Yes; because she likes it", "3", 1.0),
        ("red", "red blue", "4", 2 / 3),
        # adversarial: the abstention phrase decides; the gold is the trap answer
        ("Not mentioned in the conversation", "self-care is important", "5", 1.0),
        ("No information available.", "x", "5", 1.0),
        ("self-care is important", "self-care is important", "5", 0.0),
    ],
)
def test_locomo_f1(prediction: str, gold: str, category: str | int, score: float) -> None:
    assert locomo_f1(prediction, gold, category) == pytest.approx(score)


def test_locomo_f1_rejects_unknown_category() -> None:
    with pytest.raises(ValidationError):
        locomo_f1("a", "a", "6")


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([1, 2, 3, 4], 50, 2.5),
        ([1, 2, 3, 4], 0, 1.0),
        ([1, 2, 3, 4], 100, 4.0),
        ([1, 2, 3, 4], 25, 1.75),  # position 3 * 0.25 = 0.75
        ([10, 20, 30, 40, 50], 90, 46.0),  # position 4 * 0.9 = 3.6
        ([3, 1, 2], 50, 2.0),  # unsorted input
        ([5], 90, 5.0),
        ([], 50, None),
    ],
)
def test_percentile(values: list[float], p: float, expected: float | None) -> None:
    assert percentile(values, p) == pytest.approx(expected)


@pytest.mark.parametrize("p", [-1, 100.5])
def test_percentile_rejects_p_out_of_range(p: float) -> None:
    with pytest.raises(ValidationError):
        percentile([1.0], p)


@pytest.mark.parametrize(
    ("values", "expected"),
    [([1.0, None, 0.0], 0.5), ([], None), ([None, None], None), ([0.25], 0.25)],
)
def test_mean_or_none(values: list[float | None], expected: float | None) -> None:
    assert mean_or_none(values) == expected
