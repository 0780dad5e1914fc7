"""An optional benchmark adapter for the open-source Mem0 library (``pip install mem0ai``).

Mem0 stores each raw turn as a memory (``infer=False``: no LLM extracts facts, so the
comparison is retrieval against retrieval), embedded with the run's own embedder (the same
all-MiniLM-L6-v2 vectors Engram and ``dense`` use), in a local embedded Qdrant collection
per conversation. Telemetry is switched off before Mem0 is imported.

Mem0's open-source SDK has no event time (its ``timestamp`` is platform-only), so the time
cut-off at ``reference_time`` is applied to its results here, from each memory's metadata;
the search over-fetches by the number of hidden turns so that ``k`` visible ones remain.
Not run in CI: the package and its dependencies are an optional extra.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from engram.bench.baselines import RankingBaseline, conversation_turns
from engram.bench.systems import BENCH_USER, IngestStats, Shared
from engram.errors import require
from engram.formats.dataset import Conversation
from engram.model import Hit, Turn


class _SharedEmbedder:
    """Mem0's embedder interface (``embed(text, memory_action)``) over the run's embedder."""

    def __init__(self, inner: Any, config: Any) -> None:
        self.inner = inner
        self.config = config

    def embed(self, text: str, memory_action: str | None = None) -> list[float]:
        vector: list[float] = self.inner.embed([text])[0].tolist()
        return vector


class Mem0System(RankingBaseline):
    """Mem0 (open source) with raw turns, the shared embedder and a local Qdrant."""

    name = "mem0"

    def __init__(self, shared: Shared) -> None:
        super().__init__(shared)
        os.environ["MEM0_TELEMETRY"] = "False"  # before the first import of mem0
        self._mem0 = require("mem0", feature="the mem0 benchmark adapter", extra="mem0")
        self._dir: str | None = None
        self._memory: Any = None
        self._by_id: dict[str, Turn] = {}

    def ingest(self, conversation: Conversation) -> IngestStats:
        self._dir = tempfile.mkdtemp(prefix="mem0-bench-", dir=self._shared.workdir)
        dim = self._shared.embedder.dim
        config = {
            "vector_store": {
                "provider": "qdrant",
                "config": {
                    "collection_name": "bench",
                    "embedding_model_dims": dim,
                    "path": str(Path(self._dir) / "qdrant"),
                    "on_disk": True,
                },
            },
            # Placeholders that are never called: infer=False needs no LLM, and the embedder
            # is replaced below by the run's own (no key is used, nothing leaves the machine).
            "embedder": {"provider": "openai", "config": {"api_key": "unused", "embedding_dims": dim}},
            "llm": {"provider": "openai", "config": {"api_key": "unused"}},
            "history_db_path": str(Path(self._dir) / "history.db"),
        }
        self._memory = self._mem0.Memory.from_config(config)
        self._memory.embedding_model = _SharedEmbedder(
            self._shared.embedder, getattr(self._memory.embedding_model, "config", None)
        )
        self._turns = conversation_turns(conversation)
        self._by_id = {turn.id: turn for turn in self._turns}
        started = time.perf_counter()
        for turn in self._turns:
            self._memory.add(
                [{"role": turn.role, "content": turn.embedding_text()}],
                user_id=BENCH_USER,
                metadata={
                    "message_id": turn.id,
                    "session": turn.session_id,
                    "said_at": turn.timestamp.timestamp(),
                },
                infer=False,
            )
        seconds = time.perf_counter() - started
        size = sum(p.stat().st_size for p in Path(self._dir).rglob("*") if p.is_file())
        return IngestStats(turns=len(self._turns), seconds=seconds, store_bytes=size)

    def _ranked(
        self, query: str, *, limit: int, reference_time: datetime | None, user_only: bool
    ) -> list[Hit]:
        candidates = [t for t in self._turns if not user_only or t.role == "user"]
        hidden = 0 if reference_time is None else sum(t.timestamp > reference_time for t in candidates)
        filters: dict[str, Any] = {"user_id": BENCH_USER}
        if user_only:
            filters["role"] = "user"
        found = self._memory.search(query, top_k=limit + hidden, filters=filters, threshold=0.0)
        hits: list[Hit] = []
        for item in _results(found):
            metadata = item.get("metadata") or {}
            turn = self._by_id.get(str(metadata.get("message_id") or item.get("message_id")))
            if turn is None or (reference_time is not None and turn.timestamp > reference_time):
                continue
            if user_only and turn.role != "user":
                continue
            hits.append(Hit(turn, float(item.get("score") or 0.0)))
        return hits[:limit]

    def close(self) -> None:
        if self._memory is not None:
            client = getattr(getattr(self._memory, "vector_store", None), "client", None)
            if client is not None and hasattr(client, "close"):
                client.close()
            self._memory = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def _results(found: Any) -> Sequence[dict[str, Any]]:
    if isinstance(found, dict):
        return list(found.get("results") or [])
    return list(found or [])


__all__ = ["Mem0System"]
