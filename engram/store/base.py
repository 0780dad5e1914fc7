"""The store protocol: everything the engine needs from a database, and nothing more.

A backend (SQLite today, PostgreSQL next) implements this; the engine never sees SQL. The
same conformance tests run against every backend. All methods are scoped: ``tenant`` and
``user_id`` are always given and always filtered on.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np

from engram.model import NewTurn, SearchFilters, Stats, Turn
from engram.model.keys import ApiKey


@dataclass(frozen=True, slots=True)
class UserScope:
    """What a read is limited to: one user of one tenant, optionally one agent."""

    tenant: str
    user_id: str
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A turn found by one retriever, with that retriever's raw score (higher is better)."""

    turn: Turn
    score: float


class Store(Protocol):
    """A database of turns with a full-text index and vectors."""

    #: Where the data lives, for messages ("/path/engram.db", "postgresql://host/db").
    location: str

    def bind_embedder(self, model_id: str, dim: int) -> None:
        """Record the embedding model on first use; refuse another one later.

        Raises:
            EmbedderMismatchError: the store holds vectors of another model or size.
        """

    def get_turns(self, scope: UserScope, ids: Sequence[str]) -> list[Turn]:
        """The turns with these ids in this scope, in no particular order."""

    def cached_vectors(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """Vectors already stored for these embedding-text keys (sha256 digests)."""

    def insert_turns(
        self,
        turns: Sequence[NewTurn],
        vectors: np.ndarray,
        keys: Sequence[bytes],
        recorded_at: datetime,
    ) -> list[tuple[Turn, bool]]:
        """Store turns with their vectors in one transaction, skipping ids already stored.

        Returns each turn as stored, with ``True`` where it was written by this call.
        """

    def list_turns(
        self,
        scope: UserScope,
        *,
        session_id: str | None = None,
        after: tuple[int, int] | None = None,
        limit: int = 100,
    ) -> list[Turn]:
        """Turns in chronological order (timestamp, then seq), after the keyset ``after``."""

    def recent_turns(self, scope: UserScope, session_id: str, *, until: datetime, limit: int) -> list[Turn]:
        """The latest turns of a session said at or before ``until``, newest first."""

    def delete_turns(self, scope: UserScope, ids: Sequence[str]) -> list[str]:
        """Delete turns everywhere (rows, full-text, vectors, caches); returns deleted ids."""

    def text_search(
        self,
        scope: UserScope,
        terms: Sequence[str],
        *,
        filters: SearchFilters,
        until: datetime,
        limit: int,
    ) -> list[Candidate]:
        """BM25 over content and speaker name; any of ``terms`` may match. Best first."""

    def vector_search(
        self,
        scope: UserScope,
        vector: np.ndarray,
        *,
        filters: SearchFilters,
        until: datetime,
        limit: int,
    ) -> list[Candidate]:
        """Cosine similarity to ``vector``. Best first."""

    def iter_turns(
        self, tenant: str, user_id: str | None = None, *, batch: int = 500
    ) -> Iterator[tuple[Turn, np.ndarray | None]]:
        """Every turn of a tenant (or one user) with its vector, in insertion order."""

    def stats(self, tenant: str, user_id: str | None = None) -> Stats:
        """Counts and sizes."""

    def put_api_key(self, key: ApiKey, key_hash: str) -> None:
        """Store a new API key under the hash of its secret."""

    def find_api_key(self, key_hash: str) -> ApiKey | None:
        """The key whose secret hashes to ``key_hash`` (revoked or not), if any."""

    def list_api_keys(self, tenant: str | None = None) -> list[ApiKey]:
        """Every key, or a tenant's, oldest first."""

    def revoke_api_key(self, key_id: str, at: datetime) -> ApiKey | None:
        """Mark a key revoked; returns it, or ``None`` if there is no such key."""

    def close(self) -> None:
        """Release connections and caches."""
