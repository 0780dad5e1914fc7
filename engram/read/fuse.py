"""Reciprocal rank fusion (Cormack et al., 2009): combine rankings by rank, not raw score.

Raw BM25 and cosine scores live on different scales; RRF adds ``weight / (k + rank)`` over
the rankings an item appears in, so an item ranked well by both retrievers rises above one
ranked first by only one. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

#: The RRF constant; 60 is the value of the original paper and works across datasets.
RRF_K = 60


@dataclass(slots=True)
class Fused:
    """One fused item: its key, fused score, and per-ranking rank (1-based) and raw score."""

    key: Hashable
    score: float = 0.0
    ranks: dict[str, int] = field(default_factory=dict)
    raw: dict[str, float] = field(default_factory=dict)

    def signals(self) -> dict[str, float]:
        """Every signal as a flat dict, e.g. ``{"rrf": 0.03, "bm25_rank": 2, "bm25": 7.1}``."""
        out: dict[str, float] = {"rrf": self.score}
        for name, rank in self.ranks.items():
            out[f"{name}_rank"] = rank
            out[name] = self.raw[name]
        return out


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[tuple[Hashable, float]]],
    *,
    k: int = RRF_K,
    weights: Mapping[str, float] | None = None,
) -> list[Fused]:
    """Fuse named rankings of ``(key, raw_score)``, each best first, into one, best first.

    Ties in fused score keep the order of first appearance across rankings (deterministic).
    """
    fused: dict[Hashable, Fused] = {}
    for name, ranking in rankings.items():
        weight = 1.0 if weights is None else weights.get(name, 1.0)
        for rank, (key, raw) in enumerate(ranking, start=1):
            item = fused.get(key)
            if item is None:
                item = fused[key] = Fused(key)
            if name in item.ranks:
                continue  # a key counts once per ranking, at its best rank
            item.ranks[name] = rank
            item.raw[name] = raw
            item.score += weight / (k + rank)
    return sorted(fused.values(), key=lambda item: -item.score)
