"""The embedder interface, and a content-hash cache that wraps any embedder."""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

Vectors = np.ndarray  # shape (n, dim), float32, rows L2-normalised


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors.

    ``model_id`` names the model (a store remembers it and refuses vectors from another);
    ``dim`` is the vector size.
    """

    model_id: str
    dim: int

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts``; returns an array of shape ``(len(texts), dim)``."""
        ...


def text_key(text: str) -> bytes:
    """The cache key of a text: its sha256 digest."""
    return hashlib.sha256(text.encode("utf-8")).digest()


def normalise(vectors: np.ndarray) -> Vectors:
    """Scale rows to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    result: Vectors = vectors / norms
    return result


class CachedEmbedder:
    """An embedder that remembers vectors by the sha256 of their text (LRU, thread-safe).

    Share one instance between stores to embed a text once per process, e.g. when a benchmark
    builds one store per question over overlapping histories.
    """

    def __init__(self, inner: Embedder, max_items: int = 200_000) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dim = inner.dim
        self.max_items = max_items
        self.hits = 0
        self.misses = 0
        self._cache: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> Vectors:
        keys = [text_key(text) for text in texts]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        missing: dict[bytes, list[int]] = {}
        with self._lock:
            for row, key in enumerate(keys):
                vector = self._cache.get(key)
                if vector is None:
                    missing.setdefault(key, []).append(row)
                else:
                    self._cache.move_to_end(key)
                    out[row] = vector
            self.hits += len(texts) - sum(len(rows) for rows in missing.values())
            self.misses += len(missing)
        if missing:
            todo = [texts[rows[0]] for rows in missing.values()]
            vectors = self.inner.embed(todo)
            with self._lock:
                for (key, rows), vector in zip(missing.items(), vectors, strict=True):
                    out[rows] = vector
                    if key not in self._cache:
                        self._cache[key] = vector
                        self._remember(key, vector)
                while len(self._cache) > self.max_items:
                    self._cache.popitem(last=False)
        return out

    def _remember(self, key: bytes, vector: np.ndarray) -> None:
        """Called, under the lock, for each newly computed vector; subclasses persist it."""


class QueryVectors:
    """The vectors of recent questions, so that a question asked again is not embedded again.

    One small LRU per embedder instance (held weakly: it goes with its embedder), keyed by the
    model id and the exact text, so two embedders never answer for each other. The vectors
    handed out are read-only: they are shared by every caller that asks the same question.
    An embedder that cannot be weakly referenced is simply not cached.
    """

    def __init__(self, max_items: int = 512) -> None:
        self.max_items = max_items
        self._caches: dict[int, tuple[weakref.ref[Embedder], OrderedDict[tuple[str, str], np.ndarray]]] = {}
        self._lock = threading.Lock()

    def get(self, embedder: Embedder, text: str) -> np.ndarray | None:
        """The remembered vector of ``text`` by ``embedder``, or None."""
        cache = self._cache(embedder)
        if cache is None:
            return None
        key = (embedder.model_id, text)
        with self._lock:
            vector = cache.get(key)
            if vector is not None:
                cache.move_to_end(key)
            return vector

    def embed(self, embedder: Embedder, text: str) -> np.ndarray:
        """The vector of ``text``: remembered, else embedded now (and remembered)."""
        return self.embed_many(embedder, [text])[0]

    def embed_many(self, embedder: Embedder, texts: Sequence[str]) -> list[np.ndarray]:
        """The vectors of ``texts``: those remembered, and the others embedded now in one call
        of the embedder (one request to a remote one), and remembered."""
        found = [self.get(embedder, text) for text in texts]
        missing = list(dict.fromkeys(text for text, vector in zip(texts, found, strict=True) if vector is None))
        if missing:
            cache = self._cache(embedder)
            fresh = {}
            for text, row in zip(missing, embedder.embed(missing), strict=True):
                vector = np.array(row, dtype=np.float32)
                vector.setflags(write=False)
                fresh[text] = vector
            if cache is not None:
                with self._lock:
                    for text, vector in fresh.items():
                        cache[(embedder.model_id, text)] = vector
                    while len(cache) > self.max_items:
                        cache.popitem(last=False)
            found = [vector if vector is not None else fresh[text] for text, vector in zip(texts, found, strict=True)]
        return [vector for vector in found if vector is not None]

    def _cache(self, embedder: Embedder) -> OrderedDict[tuple[str, str], np.ndarray] | None:
        number = id(embedder)
        with self._lock:
            held = self._caches.get(number)
            if held is not None and held[0]() is embedder:
                return held[1]
            try:
                ref = weakref.ref(embedder, lambda _ref: self._forget(number, _ref))
            except TypeError:  # no __weakref__ slot
                return None
            cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
            self._caches[number] = (ref, cache)
            return cache

    def _forget(self, number: int, ref: weakref.ref[Embedder]) -> None:
        with self._lock:
            held = self._caches.get(number)
            if held is not None and held[0] is ref:
                del self._caches[number]


#: The read path's question vectors (:func:`engram.providers.background.embed_all_later`).
QUERY_VECTORS = QueryVectors()
