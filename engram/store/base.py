"""The store protocol: everything the engine needs from a database, and nothing more.

A backend (SQLite today, PostgreSQL next) implements this; the engine never sees SQL. The
same conformance tests run against every backend. Every method is bounded by a scope, and a
backend filters on it in every statement, never reading or writing by id or seq alone (ids
are hashes, but an imported file can carry any id):

- **one user** (:class:`UserScope`: tenant and user; its ``agent_id`` narrows the turn reads
  that document it): every method that takes a ``scope``. Ids, slots, keys or turns of
  another scope given to it are not found, not changed, and not revealed (``cached_vectors``
  answers only for the user's own texts; ``save_facts`` refuses another scope's versions
  with :class:`~engram.errors.StoreError`).
- **the turns' own scope**: ``insert_turns`` (one tenant per call); an id stored under
  another scope is neither overwritten nor revealed: the turn is stored under an id derived
  for its owner.
- **one tenant** (optionally one user): ``iter_turns``, ``list_users``, ``stats`` (whose
  ``store_bytes`` is the size of the whole file).
- **the store** (administration and wiring, not reachable with a tenant's request):
  ``bind_embedder``, ``atomic``, ``close``, and the API keys: ``find_api_key`` looks a key up
  by the hash of its secret (authentication), ``list_api_keys`` without a tenant and
  ``revoke_api_key`` serve the operator's ``engram keys``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

import numpy as np

from engram.model import NewTurn, SearchFilters, Stats, Turn
from engram.model.episode import Episode
from engram.model.fact import FactVersion
from engram.model.keys import ApiKey
from engram.model.results import SessionSummary, UserSummary
from engram.store.records import (
    Candidate,
    ForgetReceipt,
    Match,
    MemoryState,
    TurnChunks,
    TurnNotes,
    UserScope,
)

__all__ = [
    "Candidate",
    "ForgetReceipt",
    "Match",
    "MemoryState",
    "Store",
    "TurnChunks",
    "TurnNotes",
    "UserScope",
]


class Store(Protocol):
    """A database of turns with a full-text index and vectors."""

    #: Where the data lives, for messages ("/path/engram.db", "postgresql://host/db").
    location: str

    def bind_embedder(self, model_id: str, dim: int) -> None:
        """Record the embedding model on first use; refuse another one later.

        Raises:
            EmbedderMismatchError: the store holds vectors of another model or size.
        """

    def atomic(self, *, durable: bool = True) -> AbstractContextManager[None]:
        """A unit of work: every write inside commits together or not at all.

        Nests (an inner block is a savepoint). On an error the work is rolled back and the
        original error re-raised (mapped onto :class:`engram.errors.StoreError`'s tree).
        ``durable=False`` is for derived state that can be rebuilt from the turns (facts,
        episodes, counters): a backend may then commit without waiting for the disk.
        """

    def get_turns(
        self,
        scope: UserScope,
        ids: Sequence[str],
        *,
        filters: SearchFilters | None = None,
        until: datetime | None = None,
    ) -> list[Turn]:
        """The turns with these ids in this scope, in no particular order.

        With ``filters`` (and ``until``), only those a search with the same filters could
        return: the one filter implementation, archive rule included.
        """

    def cached_vectors(self, scope: UserScope, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """Vectors this user already stored for these embedding-text keys (sha256 digests), turns'
        and chunks' (:class:`TurnChunks`) alike.

        Scoped: another tenant's or user's text never answers (no existence oracle).
        """

    def insert_turns(
        self,
        turns: Sequence[NewTurn],
        vectors: np.ndarray,
        keys: Sequence[bytes],
        recorded_at: datetime,
        notes: Sequence[TurnNotes] | None = None,
        chunks: Sequence[TurnChunks | None] | None = None,
    ) -> list[tuple[Turn, bool]]:
        """Store turns with their vectors (and notes, and a long turn's chunk vectors) in one
        transaction, skipping ids already stored.

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

    def forget(
        self,
        scope: UserScope,
        *,
        session_id: str | None = None,
        ids: Sequence[str] | None = None,
        fact_ids: Sequence[str] | None = None,
    ) -> ForgetReceipt:
        """Delete turns (a user's, a session's, or these) and all that derives from them, everywhere;
        or, with ``fact_ids``, those facts' whole slot histories."""

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
        """Cosine similarity to ``vector``; a long turn scores its best chunk (:class:`TurnChunks`)
        when that beats its own vector. Best first, each turn once."""

    def text_matches(
        self,
        scope: UserScope,
        terms: Sequence[str],
        *,
        filters: SearchFilters,
        until: datetime,
        limit: int,
    ) -> list[Match]:
        """:meth:`text_search`'s ranking (the same turns, order and scores), as light matches."""

    def vector_matches(
        self,
        scope: UserScope,
        vector: np.ndarray,
        *,
        filters: SearchFilters,
        until: datetime,
        limit: int,
    ) -> list[Match]:
        """:meth:`vector_search`'s ranking (the same turns, order and scores), as light matches."""

    def vector_scores(self, scope: UserScope, turns: Sequence[Turn], vector: np.ndarray) -> dict[str, float]:
        """Cosine of ``vector`` to each (non-archived) turn's vector (or best chunk, as
        :meth:`vector_search` scores it)."""

    def adjacent_turns(self, scope: UserScope, turn: Turn, *, before: int = 1, after: int = 1) -> list[Turn]:
        """The turns just before and after ``turn`` in its session, in time order."""

    def text_count(self, scope: UserScope, terms: Sequence[str]) -> int:
        """How many of the user's stored turns hold any of ``terms`` in their full text (content,
        speaker, keys; matched as :meth:`text_matches` matches them), said at any time: how common
        a word is in the conversation. Nothing is scored or read, so it costs less than a search."""

    def speaker_names(self, scope: UserScope) -> frozenset[str]:
        """The speaker names (``Turn.name``) on the user's turns, as stored. Cheap: read once,
        then kept up to date by the store's own writes."""

    def iter_turns(
        self, tenant: str, user_id: str | None = None, *, batch: int = 500
    ) -> Iterator[tuple[Turn, np.ndarray | None]]:
        """Every turn of a tenant (or one user) with its vector, in insertion order."""

    def list_users(self, tenant: str, *, after: str | None = None, limit: int = 100) -> list[UserSummary]:
        """A tenant's users ordered by id, after ``after``."""

    def list_sessions(self, scope: UserScope, *, after: str | None = None, limit: int = 100) -> list[SessionSummary]:
        """A user's sessions, most recently active first, after ``after``."""

    def stats(self, tenant: str, user_id: str | None = None) -> Stats:
        """Counts and sizes."""

    # -- lifecycle: episodes, facts, memory state (see engram/store/sqlite/lifecycle.py) --------

    def session_turns(self, scope: UserScope, session_id: str) -> tuple[list[Turn], np.ndarray]:
        """Every turn of a session in time order, with vectors."""

    def session_tail(
        self, scope: UserScope, session_id: str, *, episodes: int = 1, known: Mapping[str, Turn] | None = None
    ) -> tuple[list[Episode], list[Turn], np.ndarray]:
        """The session's last ``episodes`` episodes in time order, and every turn of the session
        from the first of them on (all its turns when it has no episode), in time order, with
        vectors. Bounded by the tail, not the session. ``known``: turns the caller holds as
        stored, with their vectors, by id (the write path's, just written): their vector rows may
        be left zero, and each is given back as the caller's object, not built again."""

    def put_episodes(
        self,
        scope: UserScope,
        session_id: str,
        episodes: Sequence[Episode],
        vectors: np.ndarray,
        at: datetime,
        *,
        replacing: Sequence[str] | None = None,
    ) -> None:
        """Replace a session's episodes (only those in ``replacing``, when given: the open
        tail), keeping the state of ids that survive."""

    def list_episodes(
        self,
        scope: UserScope,
        *,
        session_id: str | None = None,
        ids: Sequence[str] | None = None,
        until: datetime | None = None,
        include_archived: bool = False,
        limit: int = 1000,
        after: tuple[int, int] | None = None,
    ) -> list[Episode]:
        """Episodes in time order."""

    def episode_text_search(
        self, scope: UserScope, terms: Sequence[str], *, until: datetime, limit: int
    ) -> list[tuple[Episode, float]]:
        """BM25 over episode keys."""

    def episode_vector_search(
        self, scope: UserScope, vector: np.ndarray, *, until: datetime, limit: int
    ) -> list[tuple[Episode, float]]:
        """Cosine similarity to episode centroids."""

    def slot_versions(self, scope: UserScope, slots: Sequence[str]) -> dict[str, list[FactVersion]]:
        """Every version of each of this user's fact slots."""

    def save_facts(self, scope: UserScope, versions: Sequence[FactVersion]) -> None:
        """Insert or update this user's fact versions by id (a version of another scope is refused)."""

    def list_facts(
        self,
        scope: UserScope,
        *,
        ids: Sequence[str] | None = None,
        slots: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        include_history: bool = False,
        include_archived: bool = False,
    ) -> list[FactVersion]:
        """Fact versions of a user (only of ``kinds`` when given)."""

    def fact_text_search(self, scope: UserScope, terms: Sequence[str], *, limit: int) -> list[tuple[FactVersion, float]]:
        """BM25 over fact statements."""

    def touch(self, kind: str, scope: UserScope, ids: Sequence[str], at: datetime) -> None:
        """Reinforce memories on recall."""

    def set_memory_flags(
        self,
        kind: str,
        scope: UserScope,
        ids: Sequence[str],
        *,
        pinned: bool | None = None,
        archived_at: datetime | bool | None = False,
    ) -> list[str]:
        """Pin, unpin, archive or restore memories; returns the ids changed."""

    def memory_states(self, kind: str, scope: UserScope) -> list[MemoryState]:
        """Retention inputs of every memory of a kind."""

    def put_links(self, scope: UserScope, links: Sequence[tuple[str, str, str, float]], at: datetime) -> int:
        """Upsert edges ``(src, dst, kind, weight)``."""

    def strengthen_links(self, scope: UserScope, pairs: Sequence[tuple[str, str]], kind: str, at: datetime) -> None:
        """Hebbian update of co-used memories."""

    def list_links(self, scope: UserScope, ids: Sequence[str] | None = None) -> list[tuple[str, str, str, float]]:
        """Edges of a user."""

    def lifecycle_state(self, scope: UserScope) -> dict[str, int]:
        """Watermarks and LLM counters of a user."""

    def update_lifecycle_state(self, scope: UserScope, **values: int) -> None:
        """Raise watermarks; add to LLM counters."""

    def turns_after(
        self, scope: UserScope, seq: int, *, limit: int = 1000, known: Mapping[str, Turn] | None = None
    ) -> list[Turn]:
        """Turns stored after a watermark, in insertion order; a turn in ``known`` (the caller's,
        as stored, by id) is given back as the caller's object, not built again."""

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
