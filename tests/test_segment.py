"""Segmentation: time gaps, topic drift with patience, size limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import numpy as np
import pytest

from engram.write.segment import SegmentConfig, segment

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def topics(*labels: int, dim: int = 8) -> np.ndarray:
    """One unit vector per turn, on the axis of its topic label."""
    out = np.zeros((len(labels), dim), dtype=np.float32)
    for row, label in enumerate(labels):
        out[row, label] = 1.0
    return out


def minutes(*values: int) -> list[datetime]:
    return [T0 + timedelta(minutes=v) for v in values]


CFG = SegmentConfig(min_turns=3, patience=2, surprise=0.5)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ([], []),
        ([0], [(0, 1)]),
        ([0, 0, 0, 0, 0], [(0, 5)]),
        ([0, 0, 0, 1, 1, 1], [(0, 3), (3, 6)]),  # a shift that lasts
        ([0, 0, 0, 1, 0, 0], [(0, 6)]),  # one aside does not cut
        ([0, 1, 1, 1], [(0, 4)]),  # too early to cut (min_turns): the new topic absorbs the first turn
        ([0, 0, 0, 1, 1], [(0, 3), (3, 5)]),
        ([0, 0, 0, 1], [(0, 4)]),  # not enough turns left to confirm a shift
    ],
)
def test_topic_shifts(labels, expected):
    assert segment(minutes(*range(len(labels))), topics(*labels), CFG) == expected


def test_a_long_pause_cuts_even_on_one_topic():
    stamps = minutes(0, 1, 2, 120, 121)
    assert segment(stamps, topics(0, 0, 0, 0, 0), CFG) == [(0, 3), (3, 5)]


def test_episodes_have_a_maximum_length():
    cfg = SegmentConfig(max_turns=4)
    assert segment(minutes(*range(10)), topics(*[0] * 10), cfg) == [(0, 4), (4, 8), (8, 10)]


def test_ranges_cover_every_turn_in_order():
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(200, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ranges = segment(minutes(*range(200)), vectors)
    assert ranges[0][0] == 0 and ranges[-1][1] == 200
    assert all(a[1] == b[0] for a, b in pairwise(ranges))


def test_cuts_as_before_the_vectors_were_widened_once() -> None:
    """The cuts the code gave when it widened each row to float64 a turn (pinned), and the same for
    float64 vectors of the same values."""
    rng = np.random.default_rng(16)
    vectors = rng.normal(size=(60, 16)).astype(np.float32)
    vectors[20:] += 1.5 * rng.normal(size=16).astype(np.float32)
    vectors[45:] -= 2.0 * rng.normal(size=16).astype(np.float32)
    stamps = [T0 + timedelta(minutes=2 * n + (60 if n == 33 else 0)) for n in range(60)]
    loose = SegmentConfig(surprise=0.6, min_turns=3)
    for given in (vectors, vectors.astype(np.float64)):
        assert segment(stamps, given) == [(0, 7), (7, 16), (16, 33), (33, 60)]
        assert segment(stamps, given, loose) == [(0, 5), (5, 8), (8, 12), (12, 15), (15, 20), (20, 33), (33, 60)]
    assert vectors.dtype == np.float32  # the caller's array is not changed
