"""Hybrid retrieval: BM25 and vector candidates from the store, fused by reciprocal rank."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from engram.model import Hit, SearchFilters
from engram.read.fuse import reciprocal_rank_fusion
from engram.read.query import query_terms
from engram.store.base import Candidate, Store, UserScope


@dataclass(frozen=True, slots=True)
class RetrievalConfig:
    """How hybrid search gathers and fuses candidates.

    Attributes:
        retrievers: which rankings to fuse: ``"bm25"``, ``"vector"`` or both.
        candidates: how many candidates each retriever contributes (at least ``k``).
        rrf_k: the RRF constant.
        weights: per-retriever RRF weights.
    """

    retrievers: tuple[str, ...] = ("bm25", "vector")
    candidates: int = 50
    rrf_k: int = 60
    weights: tuple[tuple[str, float], ...] = (("bm25", 1.0), ("vector", 1.0))


#: Named recipes for ``search(..., config=...)`` and ``engram bench --config``.
RECIPES: dict[str, RetrievalConfig] = {
    "hybrid": RetrievalConfig(),
    "bm25": RetrievalConfig(retrievers=("bm25",)),
    "vector": RetrievalConfig(retrievers=("vector",)),
}


def hybrid_search(
    store: Store,
    scope: UserScope,
    query: str,
    query_vector: np.ndarray | None,
    *,
    k: int,
    filters: SearchFilters,
    until: datetime,
    config: RetrievalConfig,
) -> tuple[list[Hit], list[Hit]]:
    """Top ``k`` hits for ``query``, and the fused candidates below the cut.

    Every hit carries its signals: per retriever its rank and raw score, and the fused score.
    """
    pool = max(config.candidates, k)
    rankings: dict[str, list[Candidate]] = {}
    if "bm25" in config.retrievers:
        rankings["bm25"] = store.text_search(
            scope, query_terms(query), filters=filters, until=until, limit=pool
        )
    if "vector" in config.retrievers and query_vector is not None:
        rankings["vector"] = store.vector_search(
            scope, query_vector, filters=filters, until=until, limit=pool
        )
    turns = {c.turn.id: c.turn for ranking in rankings.values() for c in ranking}
    fused = reciprocal_rank_fusion(
        {name: [(c.turn.id, c.score) for c in ranking] for name, ranking in rankings.items()},
        k=config.rrf_k,
        weights=dict(config.weights),
    )
    hits = [Hit(turns[item.key], item.score, item.signals()) for item in fused]  # type: ignore[index]
    return hits[:k], hits[k:]
