"""Embedding in the background: the read path embeds a question while full-text search runs.

ONNX Runtime and SQLite both release the GIL, so on two cores the question's embedding mostly
hides behind the search (100k turns: search p50 26.2 -> 20.6 ms, benchmarks/RESULTS.md).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

import numpy as np

from engram.providers.embedder import QUERY_VECTORS, Embedder

_T = TypeVar("_T")


class WorkerThreads:
    """A thread pool started on first use, and again in a forked child (which inherits none of
    its parent's threads: the parent's pool would take work and never run it)."""

    def __init__(self, name: str, workers: int) -> None:
        self._name, self._workers = name, workers
        self._pool: ThreadPoolExecutor | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., _T], /, *args: Any) -> Future[_T]:
        with self._lock:
            if self._pool is None or self._pid != os.getpid():
                self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix=self._name)
                self._pid = os.getpid()
            return self._pool.submit(fn, *args)


_QUERY_EMBEDDING = WorkerThreads("engram-query-embedding", workers=4)


def embed_all_later(embedder: Embedder, texts: Sequence[str]) -> list[Callable[[], np.ndarray]]:
    """Start embedding ``texts`` in a worker thread, in one call of the embedder (one request
    to a remote one); a function for each text waits for its vector (and raises what
    embedding raised). Texts embedded recently by the same embedder are answered from
    :data:`~engram.providers.embedder.QUERY_VECTORS` without the model."""
    remembered = [QUERY_VECTORS.get(embedder, text) for text in texts]
    if all(vector is not None for vector in remembered):
        return [partial(_given, vector) for vector in remembered if vector is not None]
    pending = _QUERY_EMBEDDING.submit(QUERY_VECTORS.embed_many, embedder, list(texts))
    return [partial(_nth, pending, n) for n in range(len(texts))]


def _given(vector: np.ndarray) -> np.ndarray:
    return vector


def _nth(pending: Future[list[np.ndarray]], n: int) -> np.ndarray:
    return pending.result()[n]
