"""Vectors kept on disk between benchmark runs (opt-in with ``--embedding-cache DIR``).

Embedding a haystack is most of a cold run's time; a retrieval change does not change any
vector, so a rerun can reuse them. Vectors are keyed by the sha256 of the text and stored
per model (``<dir>/<model_id>-<dim>/``) in append-only ``.npz`` shards: a crash loses at
most the shard being written, and no file is ever rewritten.

A run records how many vectors came from the cache, so that ingest throughput measured
with a warm cache is never mistaken for a cold one.
"""

from __future__ import annotations

import re
import sys
import uuid
from pathlib import Path

import numpy as np

from engram.providers.embedder import CachedEmbedder, Embedder

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class DiskCachedEmbedder(CachedEmbedder):
    """A :class:`CachedEmbedder` (unbounded) whose vectors are also persisted under ``directory``.

    Args:
        inner: the embedder that computes missing vectors.
        directory: the cache root.
        shard_size: new vectors per shard file.
    """

    def __init__(self, inner: Embedder, directory: str | Path, *, shard_size: int = 2000) -> None:
        super().__init__(inner, max_items=sys.maxsize)
        self.folder = Path(directory) / f"{_UNSAFE.sub('_', self.model_id)}-{self.dim}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.shard_size = shard_size
        self._pending_keys: list[bytes] = []
        self._pending_vectors: list[np.ndarray] = []
        for shard in sorted(self.folder.glob("*.npz")):
            try:
                with np.load(shard) as data:
                    keys, vectors = data["keys"], data["vectors"]
            except (OSError, ValueError, KeyError):
                continue  # a shard cut short by a crash
            if vectors.ndim != 2 or vectors.shape[1] != self.dim:
                continue
            for key, vector in zip(keys, vectors, strict=True):
                self._cache[bytes(key)] = vector
        self.loaded = len(self._cache)

    def _remember(self, key: bytes, vector: np.ndarray) -> None:
        self._pending_keys.append(key)
        self._pending_vectors.append(vector)
        if len(self._pending_keys) >= self.shard_size:
            self._flush_locked()

    def flush(self) -> None:
        """Write the vectors computed since the last flush."""
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if not self._pending_keys:
            return
        keys = np.frombuffer(b"".join(self._pending_keys), dtype=np.uint8).reshape(-1, 32)
        vectors = np.stack(self._pending_vectors).astype(np.float32)
        final = self.folder / f"{uuid.uuid4().hex}.npz"
        temporary = final.with_suffix(".tmp")
        with temporary.open("wb") as handle:
            np.savez(handle, keys=keys, vectors=vectors)
        temporary.replace(final)
        self._pending_keys, self._pending_vectors = [], []
