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
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engram.providers.embedder import Embedder, Vectors, text_key

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class DiskCachedEmbedder:
    """Wraps an embedder with a content-hash cache persisted under ``directory``.

    Args:
        inner: the embedder that computes missing vectors.
        directory: the cache root.
        shard_size: new vectors per shard file.
    """

    def __init__(self, inner: Embedder, directory: str | Path, *, shard_size: int = 2000) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dim = inner.dim
        self.folder = Path(directory) / f"{_UNSAFE.sub('_', self.model_id)}-{self.dim}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.shard_size = shard_size
        self.loaded = 0
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._vectors: dict[bytes, np.ndarray] = {}
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
                self._vectors[bytes(key)] = vector
        self.loaded = len(self._vectors)

    def embed(self, texts: Sequence[str]) -> Vectors:
        keys = [text_key(text) for text in texts]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        missing: dict[bytes, list[int]] = {}
        with self._lock:
            for row, key in enumerate(keys):
                vector = self._vectors.get(key)
                if vector is None:
                    missing.setdefault(key, []).append(row)
                else:
                    out[row] = vector
            self.hits += len(texts) - sum(len(rows) for rows in missing.values())
            self.misses += len(missing)
        if missing:
            vectors = self.inner.embed([texts[rows[0]] for rows in missing.values()])
            with self._lock:
                for (key, rows), vector in zip(missing.items(), vectors, strict=True):
                    out[rows] = vector
                    if key not in self._vectors:
                        self._vectors[key] = vector
                        self._pending_keys.append(key)
                        self._pending_vectors.append(vector)
                if len(self._pending_keys) >= self.shard_size:
                    self._flush_locked()
        return out

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
