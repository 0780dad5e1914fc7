"""The read path's search: analyse the question, retrieve with the question embedded meanwhile.

The question is analysed (:mod:`engram.read.analyze`: terms, names, time window, whether it
asks about the past), embedded in a worker thread (:func:`~engram.providers.background.embed_all_later`)
while the full-text ranking runs, and the rankings are fused (:func:`~engram.read.retrieve.retrieve`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import numpy as np

from engram.model import Hit, SearchFilters, SearchResult
from engram.providers.background import embed_all_later
from engram.providers.embedder import Embedder
from engram.read.analyze import QueryAnalysis, analyze, embedding_text
from engram.read.aspects import question_aspects
from engram.read.retrieve import RetrievalConfig, Retrieved, retrieve
from engram.store.base import Store, UserScope

#: Retrievers that need the question's vector (the embedder is loaded only for them).
VECTOR_RETRIEVERS = frozenset({"vector", "time", "episode", "aspects"})


def find(
    store: Store,
    embedder: Callable[[], Embedder],
    scope: UserScope,
    query: str,
    *,
    k: int,
    filters: SearchFilters,
    at: datetime,
    config: RetrievalConfig,
    explain: bool = False,
) -> Retrieved:
    """The top ``k`` turns for ``query`` asked at ``at``, and the routes retrieval took.

    ``embedder`` gives the embedder on first need (a recipe of full text alone loads none).
    With ``explain``, the fused candidates below the cut too (their turns read).
    """
    analysis = analyze(query, at)
    vector = None
    aspects: list[Callable[[], np.ndarray]] = []
    texts = _embedded_texts(store, scope, analysis, config)
    if texts:  # the question and its parts, in one call
        vector, *aspects = embed_all_later(embedder(), texts)
    return retrieve(
        store,
        scope,
        analysis,
        vector,
        k=k,
        filters=filters,
        until=at,
        config=config,
        explain=explain,
        aspects=aspects,
    )


def query_texts(store: Store, scope: UserScope, query: str, *, at: datetime, config: RetrievalConfig) -> list[str]:
    """The texts :func:`find` embeds for ``query``: the question as it is embedded (the names
    of the speakers it names left out), then each of its parts; none for a recipe without
    vectors. A benchmark embeds them ahead, to time a search without its question's embedding."""
    return _embedded_texts(store, scope, analyze(query, at), config)


def _embedded_texts(store: Store, scope: UserScope, analysis: QueryAnalysis, config: RetrievalConfig) -> list[str]:
    if not VECTOR_RETRIEVERS & set(config.retrievers):
        return []
    speakers = store.speaker_names(scope) if analysis.names else frozenset()
    # Each part of a question about several things is embedded with it.
    parts = question_aspects(analysis.text) if "aspects" in config.retrievers else []
    return [embedding_text(analysis, speakers), *parts]


def search(
    store: Store,
    embedder: Callable[[], Embedder],
    scope: UserScope,
    query: str,
    *,
    k: int,
    filters: SearchFilters,
    at: datetime,
    config: RetrievalConfig,
    explain: bool,
    started: float,
) -> SearchResult:
    """:func:`find`, as the search result the API returns (signals and routes with ``explain``)."""
    found = find(store, embedder, scope, query, k=k, filters=filters, at=at, config=config, explain=explain)
    hits = found.hits if explain else [Hit(hit.turn, hit.score) for hit in found.hits]
    return SearchResult(
        query=query,
        hits=hits,
        reference_time=at,
        took_ms=(time.perf_counter() - started) * 1000,
        left_out=found.rest if explain else [],
        facts=found.facts if explain else [],
        episodes=found.episodes if explain else [],
    )
