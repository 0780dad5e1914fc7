"""Embedders and token counters: the real packaged model offline, the cache, the test fake."""

from __future__ import annotations

import numpy as np
import pytest

from engram import CachedEmbedder, HashingEmbedder, OnnxEmbedder
from engram.providers.onnx import MODEL_ID, default_model_path, default_tokenizer_path, length_batches
from engram.providers.tokens import (
    ApproximateCounter,
    CachedCounter,
    WordPieceCounter,
    additive,
    default_counter,
)


@pytest.fixture(scope="module")
def onnx() -> OnnxEmbedder:
    return OnnxEmbedder()


def test_the_packaged_model_and_tokenizer_are_found_by_path():
    assert default_model_path().is_file() and default_model_path().name == "model.onnx"
    assert default_tokenizer_path().is_file()


def test_onnx_embeddings_are_unit_length_deterministic_and_meaningful(onnx):
    texts = ["I moved to Berlin last year", "She lives in Germany now", "The cat is eating pasta"]
    vectors = onnx.embed(texts)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32 and onnx.model_id == MODEL_ID
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2] + 0.2  # related sentences are closer than unrelated ones
    np.testing.assert_allclose(onnx.embed(texts[::-1])[::-1], vectors, atol=1e-5)  # order-independent


def test_batching_does_not_change_vectors(onnx):
    texts = [f"sentence number {i} " + "word " * (i % 17) for i in range(70)]
    one_by_one = np.vstack([onnx.embed([t]) for t in texts[:5]])
    np.testing.assert_allclose(onnx.embed(texts)[:5], one_by_one, atol=1e-4)
    assert onnx.embed([]).shape == (0, 384)


def test_length_sorted_batches_return_vectors_in_input_order(onnx):
    # Lengths interleaved so that the length-sorted batches reorder them.
    texts = ["word " * (40 if i % 3 else 2) + f"item {i}" for i in range(12)] + ["ok", "a much longer " * 9]
    one_by_one = np.vstack([onnx.embed([t]) for t in texts])
    np.testing.assert_allclose(onnx.embed(texts), one_by_one, atol=1e-4)


@pytest.mark.parametrize(
    ("lengths", "size", "expected"),
    [
        ([], 4, []),
        ([7], 4, [[0]]),
        ([10, 10, 10, 10, 10], 2, [[0, 1], [2, 3], [4]]),  # at most ``size`` per batch
        ([30, 10, 11, 32], 8, [[1, 2], [0, 3]]),  # similar lengths together, shortest first
        ([10, 100, 10], 8, [[0, 2], [1]]),  # a long text is not padded onto short ones
        ([10, 12, 14, 16], 8, [[0, 1], [2, 3]]),  # padding stays within the slack
        ([40] * 7, 8, [[0, 1], [2, 3], [4, 5], [6]]),  # at most 100 pieces a batch
        ([150, 150], 8, [[0], [1]]),  # one text over the piece cap is a batch of its own
    ],
)
def test_length_batches_group_similar_lengths(lengths, size, expected):
    batches = length_batches(lengths, size, slack=0.1, pieces=100)
    assert batches == expected
    for batch in batches:
        real = sum(lengths[i] for i in batch)
        padded = len(batch) * max(lengths[i] for i in batch)
        assert len(batch) <= size and (len(batch) == 1 or (padded <= 1.1 * real and padded <= 100))


def test_very_long_text_is_truncated_not_rejected(onnx):
    assert onnx.embed(["word " * 5000]).shape == (1, 384)


def test_cache_embeds_each_text_once():
    inner = HashingEmbedder(16)
    cached = CachedEmbedder(inner, max_items=3)
    first = cached.embed(["a", "b", "a"])
    assert inner.texts_embedded == 2
    np.testing.assert_array_equal(first[0], first[2])
    cached.embed(["b", "c"])
    assert inner.texts_embedded == 3 and cached.hits == 1  # "b" came from the cache
    cached.embed(["d", "e"])  # evicts the oldest
    cached.embed(["a"])
    assert inner.texts_embedded == 6


def test_hashing_embedder_is_deterministic_and_lexical():
    emb = HashingEmbedder(128)
    a, b, c = emb.embed(["red apples", "apples red", "blue ocean"])
    np.testing.assert_allclose(a, b)
    assert float(a @ c) < 0.5


@pytest.mark.parametrize("text", ["", "hello", "Hello, world! It's 2024.", "naïve café", "word " * 100])
def test_token_counters_agree_roughly(text):
    exact = WordPieceCounter().count(text)
    approx = ApproximateCounter().count(text)
    assert exact == WordPieceCounter().count_many([text])[0]
    assert abs(exact - approx) <= max(3, 0.35 * exact)


class _CountingCounter(ApproximateCounter):
    def __init__(self) -> None:
        self.counted: list[str] = []

    def count_many(self, texts):
        self.counted.extend(texts)
        return super().count_many(texts)


def test_cached_counter_counts_each_text_once_and_keeps_the_most_recent():
    inner = _CountingCounter()
    cached = CachedCounter(inner, max_items=2, max_chars=20)
    texts = ["one two", "three", "one two", "a line far longer than twenty characters"]
    assert cached.count_many(texts) == ApproximateCounter().count_many(texts)
    assert cached.count("three") == ApproximateCounter().count("three")
    assert cached.count("one two") == ApproximateCounter().count("one two")
    assert inner.counted == ["one two", "three", "one two", "a line far longer than twenty characters"]
    cached.count("four")  # past two texts: the least recently used ("three") is dropped
    cached.count("three")
    cached.count(texts[-1])  # too long to keep: counted again
    assert inner.counted[-3:] == ["four", "three", texts[-1]]
    assert cached.name == inner.name


def test_the_default_counter_caches_wordpiece_counts():
    counter = default_counter()
    assert isinstance(counter, CachedCounter) and isinstance(counter.inner, WordPieceCounter)
    assert counter.count("Caroline went to the support group") == WordPieceCounter().count(
        "Caroline went to the support group"
    )


@pytest.mark.parametrize("make", [WordPieceCounter, ApproximateCounter])
def test_counts_add_up_over_lines_for_an_additive_counter(make):
    # A context's size is counted line by line (cached), not as one new text each try.
    counter = make()
    lines = [
        "# Memory for caroline (as of 2023-05-08 13:56 UTC)",
        "[M1] Mon 8 May 2023, 13:56 Caroline: I went to the LGBTQ support group yesterday [2023-05-07].",
        "### Tue 9 May 2023, 10:02",
        "[M12] 10:05 Melanie: Ça va? 東京で会いましょう… supercalifragilisticexpialidocious" + "x" * 120,
        "  indented, with trailing space   ",
        "",
        "[F3] The user's dog is named Rex (since 2023-05-08)",
    ]
    assert additive(counter)
    assert counter.count("\n".join(lines)) == sum(counter.count_many(lines))
    assert additive(CachedCounter(counter)) and not additive(object())  # type: ignore[arg-type]
