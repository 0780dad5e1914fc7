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


@dataclass(slots=True)
class Fusion:
    """Rankings fused by weighted RRF: each key's fused score (keys in order of first
    appearance), and each ranking's ``(rank, raw score)`` of the keys it holds.

    A :class:`Fused` is made only for the keys asked about (:meth:`item`): a search fuses a
    few hundred candidates and returns ten.
    """

    scores: dict[Hashable, float]
    places: dict[str, dict[Hashable, tuple[int, float]]]

    def order(self) -> list[Hashable]:
        """The keys, best fused score first; ties keep the order of first appearance."""
        scores = self.scores
        return sorted(scores, key=lambda key: -scores[key])

    def item(self, key: Hashable) -> Fused:
        """``key``'s fused item, with its rank and raw score in each ranking that holds it."""
        fused = Fused(key, self.scores[key])
        for name, places in self.places.items():
            place = places.get(key)
            if place is not None:
                fused.ranks[name], fused.raw[name] = place
        return fused


def fuse(
    rankings: Mapping[str, Sequence[tuple[Hashable, float]]],
    *,
    k: int = RRF_K,
    weights: Mapping[str, float] | None = None,
) -> Fusion:
    """Fuse named rankings of ``(key, raw_score)``, each best first (a key counts once per
    ranking, at its best rank)."""
    scores: dict[Hashable, float] = {}
    places: dict[str, dict[Hashable, tuple[int, float]]] = {}
    for name, ranking in rankings.items():
        weight = 1.0 if weights is None else weights.get(name, 1.0)
        seen = places[name] = {}
        for rank, (key, raw) in enumerate(ranking, start=1):
            if key in seen:
                continue
            seen[key] = (rank, raw)
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
    return Fusion(scores, places)


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[tuple[Hashable, float]]],
    *,
    k: int = RRF_K,
    weights: Mapping[str, float] | None = None,
) -> list[Fused]:
    """Fuse named rankings of ``(key, raw_score)``, each best first, into one, best first.

    Ties in fused score keep the order of first appearance across rankings (deterministic).
    """
    fusion = fuse(rankings, k=k, weights=weights)
    return [fusion.item(key) for key in fusion.order()]
