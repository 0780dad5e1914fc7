"""Event segmentation: cut a session's turns into episodes (EM-LLM's surprise boundaries).

Pure. Walking a session in time order, a new episode starts when

* the gap since the previous turn exceeds ``max_gap`` (a pause ends an event);
* the episode reached ``max_turns`` (keeps summaries and keys focused);
* topic drift: the turn's *surprise* (1 - cosine to the running centroid of the current
  episode) exceeds ``surprise`` for ``patience`` consecutive turns, and the episode has at
  least ``min_turns`` turns. Requiring a run of surprising turns, not one, keeps a single
  aside ("brb", a joke) from splitting an event; the boundary goes before the first of them.

Sessions are always boundaries: this function sees one session at a time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np


@dataclass(frozen=True, slots=True)
class SegmentConfig:
    """Where episodes are cut."""

    max_gap: timedelta = timedelta(minutes=45)
    max_turns: int = 40
    min_turns: int = 6
    surprise: float = 0.88
    patience: int = 2


def segment(
    timestamps: Sequence[datetime], vectors: np.ndarray, config: SegmentConfig | None = None
) -> list[tuple[int, int]]:
    """Episode boundaries as half-open index ranges ``[(0, 7), (7, 12), ...]`` covering all turns."""
    config = config or SegmentConfig()
    count = len(timestamps)
    if count == 0:
        return []
    # Widened once: the sums and products below took each row to float64 a turn (the same values)
    wide = np.asarray(vectors, dtype=np.float64)
    ranges: list[tuple[int, int]] = []
    start = 0
    total = wide[0].copy()
    index = 1
    while index < count:
        length = index - start
        cut = False
        if timestamps[index] - timestamps[index - 1] > config.max_gap or length >= config.max_turns:
            cut = True
        elif length >= config.min_turns and index + config.patience <= count:
            # the norm as np.linalg.norm computes it for a vector (the root of its dot product with
            # itself), without its checks: a call a turn
            centroid = total / max(math.sqrt(total.dot(total)), 1e-9)
            surprises = 1.0 - wide[index : index + config.patience] @ centroid
            cut = bool((surprises > config.surprise).all())
        if cut:
            ranges.append((start, index))
            start = index
            total = wide[index].copy()
        else:
            total += wide[index]
        index += 1
    ranges.append((start, count))
    return ranges
