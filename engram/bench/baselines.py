"""The baselines Engram is compared with: plain BM25 and plain dense retrieval.

Both hold a conversation's turns in memory and rank all of them for a query, with the same
time cut-off and user-only option as Engram. They build their contexts with Engram's own
assembler (same layout, same token counter, same number of candidates), so the
evidence-in-budget metric compares rankings, not formatting; as plain top-k retrieval does,
they show every turn whole (Engram's query-focused excerpts of long turns are its own).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from engram.bench.systems import BENCH_USER, CONTEXT_CANDIDATES, IngestStats, Shared, Shown
from engram.errors import ValidationError, require
from engram.formats.dataset import Conversation
from engram.model import Hit, Scope, Turn
from engram.read.assemble import assemble_context


def conversation_turns(conversation: Conversation) -> list[Turn]:
    """Every message of a conversation as a :class:`Turn` whose id is the message id.

    Used by the baselines, which keep turns in memory and rank them themselves.
    """
    turns: list[Turn] = []
    for session in conversation.sessions:
        scope = Scope("default", BENCH_USER, None, session.id)
        for message in session.messages:
            moment = message.get("timestamp") or session.timestamp
            if moment is None:
                raise ValidationError(f"message {message['id']!r} has no timestamp")
            turns.append(
                Turn(
                    id=message["id"],
                    scope=scope,
                    role=message["role"],
                    content=message["content"],
                    timestamp=moment,
                    recorded_at=moment,
                    content_hash="",
                    name=message.get("name"),
                    seq=len(turns),
                )
            )
    return turns


class RankingBaseline:
    """Scores every turn for a query; subclasses say how. Filters and context are shared."""

    name = "baseline"

    def __init__(self, shared: Shared) -> None:
        self._shared = shared
        self._turns: list[Turn] = []
        self._times = np.empty(0, dtype="datetime64[us]")
        self._user = np.empty(0, dtype=bool)

    def ingest(self, conversation: Conversation) -> IngestStats:
        started = time.perf_counter()
        self._turns = conversation_turns(conversation)
        self._times = np.array([_naive_utc(t.timestamp) for t in self._turns], dtype="datetime64[us]")
        self._user = np.array([t.role == "user" for t in self._turns], dtype=bool)
        size = self._index([t.embedding_text() for t in self._turns])
        return IngestStats(turns=len(self._turns), seconds=time.perf_counter() - started, store_bytes=size)

    def _index(self, texts: Sequence[str]) -> int:
        """Index the texts; returns the index's size in bytes."""
        raise NotImplementedError

    def _scores(self, query: str, user_only: bool) -> np.ndarray:
        """A score per turn (higher is better); ``-inf`` for a turn that cannot match."""
        raise NotImplementedError

    def _ranked(
        self, query: str, *, limit: int, reference_time: datetime | None, user_only: bool
    ) -> list[Hit]:
        scores = self._scores(query, user_only).astype(np.float64, copy=True)
        visible = np.ones(len(self._turns), dtype=bool)
        if reference_time is not None:
            visible &= self._times <= np.datetime64(_naive_utc(reference_time), "us")
        if user_only:
            visible &= self._user
        scores[~visible] = -np.inf
        order = np.argsort(-scores, kind="stable")[:limit]
        return [Hit(self._turns[i], float(scores[i])) for i in order if np.isfinite(scores[i])]

    def search(self, query: str, *, k: int, reference_time: datetime | None, user_only: bool) -> list[str]:
        hits = self._ranked(query, limit=k, reference_time=reference_time, user_only=user_only)
        return [hit.turn.id for hit in hits]

    def query_texts(self, query: str, *, reference_time: datetime | None) -> list[str]:
        """The question itself (a system searching by words alone embeds nothing)."""
        return [query]

    def context(self, query: str, *, budget_tokens: int, reference_time: datetime | None) -> Shown:
        hits = self._ranked(query, limit=CONTEXT_CANDIDATES, reference_time=reference_time, user_only=False)
        at = reference_time or max((t.timestamp for t in self._turns), default=None)
        if at is None:
            return Shown("", 0, [])
        assembled = assemble_context(
            user_id=BENCH_USER,
            working=[],
            ranked=hits,
            budget_tokens=budget_tokens,
            count=self._shared.counter.count,
            reference_time=at,
        )
        text, tokens, items = assembled[0], assembled[1], assembled[2]
        return Shown(text, tokens, [item.turn.id for item in items])

    def close(self) -> None:
        self._turns = []


class BM25System(RankingBaseline):
    """Plain BM25 (``bm25s``, Lucene variant, English stop words, no stemming).

    Two indexes, as the official LongMemEval retrieval builds its corpus from user turns
    only: one over every turn (contexts, LoCoMo) and one over user turns (``user_only``),
    so that document frequencies come from the corpus being searched.
    """

    name = "bm25"

    def query_texts(self, query: str, *, reference_time: datetime | None) -> list[str]:
        return []

    def _index(self, texts: Sequence[str]) -> int:
        self._bm25s = require("bm25s", feature="the bm25 benchmark baseline", extra="bench")
        self._all = self._build(list(texts))
        users = [i for i, turn in enumerate(self._turns) if turn.role == "user"]
        self._user_rows = np.array(users, dtype=np.int64)
        self._users = self._build([texts[i] for i in users])
        return sum(len(text.encode("utf-8")) for text in texts)

    def _tokenize(self, texts: list[str]) -> list[list[str]]:
        tokens: list[list[str]] = self._bm25s.tokenize(
            texts, stopwords="en", return_ids=False, show_progress=False
        )
        return tokens

    def _build(self, texts: list[str]) -> Any:
        if not texts:
            return None
        index = self._bm25s.BM25()
        index.index(self._tokenize(texts), show_progress=False)
        return index

    def _scores(self, query: str, user_only: bool) -> np.ndarray:
        out = np.full(len(self._turns), -np.inf)
        terms = self._tokenize([query])[0]
        index = self._users if user_only else self._all
        if not terms or index is None:
            return out
        scores = np.asarray(index.get_scores(terms), dtype=np.float64)
        scores[scores <= 0] = -np.inf  # BM25 finds only turns that share a term with the query
        if user_only:
            out[self._user_rows] = scores
        else:
            out = scores
        return out


class DenseSystem(RankingBaseline):
    """Plain cosine similarity of unit vectors, from the run's shared embedder."""

    name = "dense"

    def _index(self, texts: Sequence[str]) -> int:
        self._matrix = self._shared.embedder.embed(list(texts)) if texts else np.empty((0, 1), np.float32)
        return int(self._matrix.nbytes) + sum(len(text.encode("utf-8")) for text in texts)

    def _scores(self, query: str, user_only: bool) -> np.ndarray:
        if not len(self._turns):
            return np.empty(0)
        vector = self._shared.embedder.embed([query])[0]
        scores: np.ndarray = self._matrix @ vector
        return scores


def _naive_utc(moment: datetime) -> datetime:
    """The UTC wall time of an aware datetime, without tzinfo (numpy's datetime64 has none)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
