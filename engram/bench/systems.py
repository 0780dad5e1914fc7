"""The memory systems a benchmark compares, behind one small interface.

Each system is built for one conversation (one haystack), ingests it, and then answers two
kinds of request for every question about it:

* ``search``: a ranking of *message ids* (the dataset's ids, never a system's own), best
  first, of the turns said at or before ``reference_time``;
* ``context``: the text a reader would be given inside a token budget, with the message
  ids of the turns it shows.

Built in:

* ``engram``: :class:`engram.Memory` through its public API, one SQLite file per
  conversation, turns ingested session by session with the haystack's own timestamps;
* ``bm25``: plain BM25 (``bm25s``) over the same turn texts;
* ``dense``: plain cosine similarity over the same embeddings (the shared cached embedder,
  so no text is embedded twice).

The baselines live in :mod:`engram.bench.baselines`, the optional ``mem0`` adapter in
:mod:`engram.bench.mem0_system`.
"""

from __future__ import annotations

import inspect
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from engram.errors import ValidationError
from engram.formats.dataset import Conversation
from engram.providers.embedder import Embedder
from engram.providers.tokens import CachedCounter, TokenCounter

if TYPE_CHECKING:
    from engram.engine import Memory

#: The user every benchmark conversation is stored under (each has a store of its own).
BENCH_USER = "bench"
#: Retrieved turns the context is assembled from, for every system alike (Memory.context's default).
CONTEXT_CANDIDATES = 50
#: The built-in systems, in report order.
BUILTIN_SYSTEMS = ("engram", "bm25", "dense")
#: Every system name ``--systems`` accepts.
KNOWN_SYSTEMS = (*BUILTIN_SYSTEMS, "mem0", "engram-postgres")


#: Most messages one ``Memory.add`` of a benchmark takes (a session may hold more).
ADD_BATCH = 1000


def add_conversation(memory: Memory, conversation: Conversation, *, user_id: str = BENCH_USER) -> dict[str, str]:
    """Add every session of ``conversation`` as the benchmark's user, in batches of
    :data:`ADD_BATCH` messages; returns each stored turn's message id, by turn id."""
    to_message: dict[str, str] = {}
    for session in conversation.sessions:
        for start in range(0, len(session.messages), ADD_BATCH):
            batch = session.messages[start : start + ADD_BATCH]
            result = memory.add(batch, user_id=user_id, session_id=session.id, timestamp=session.timestamp)
            to_message.update({turn.id: message["id"] for message, turn in zip(batch, result.turns, strict=True)})
    return to_message


@dataclass(frozen=True, slots=True)
class IngestStats:
    """What ingesting one conversation cost a system."""

    turns: int
    seconds: float
    store_bytes: int | None = None
    llm_calls: int = 0
    llm_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Shown:
    """A context as a reader would get it: its size and which turns it shows."""

    text: str
    tokens: int
    message_ids: list[str]
    excerpt_ids: frozenset[str] = frozenset()  # shown as excerpts of the turns, not whole


@dataclass(frozen=True, slots=True)
class Shared:
    """Resources every system of a run shares.

    Attributes:
        embedder: one embedder for all stores (a :class:`engram.CachedEmbedder`, so a text
            seen in any haystack is embedded once per run).
        counter: the token counter budgets are measured with.
        recipe: Engram's retrieval recipe (``--config``); None for ``Memory``'s default.
        workdir: where per-conversation stores are created (removed on close).
        llm: a language model for Engram's write path (``Memory(llm=...)``), or None; its
            ``usage`` counters give the LLM calls and tokens per ingested turn.
        store_url: the PostgreSQL database of the ``engram-postgres`` system (``--store``).
    """

    embedder: Embedder
    counter: TokenCounter
    recipe: str | None = None
    workdir: Path | None = None
    llm: Any = None
    store_url: str | None = None


class System(Protocol):
    """One memory system holding one conversation."""

    name: str

    def ingest(self, conversation: Conversation) -> IngestStats:
        """Store every message of the conversation."""
        ...

    def search(self, query: str, *, k: int, reference_time: datetime | None, user_only: bool) -> list[str]:
        """Message ids of the best ``k`` turns, best first."""
        ...

    def query_texts(self, query: str, *, reference_time: datetime | None) -> list[str]:
        """The texts its search embeds for ``query`` (the runner embeds every system's ahead,
        timed apart, so that no system's search latency holds its question's embedding)."""
        ...

    def context(self, query: str, *, budget_tokens: int, reference_time: datetime | None) -> Shown:
        """A prompt-ready context inside ``budget_tokens``."""
        ...

    def close(self) -> None:
        """Release the store."""
        ...


def parse_systems(value: str) -> list[str]:
    """``"engram,bm25"`` → ``["engram", "bm25"]``, validated, without repeats."""
    names = list(dict.fromkeys(part.strip().lower() for part in value.split(",") if part.strip()))
    if not names:
        raise ValidationError("--systems is empty; name at least one of " + ", ".join(KNOWN_SYSTEMS))
    unknown = [name for name in names if name not in KNOWN_SYSTEMS]
    if unknown:
        raise ValidationError(
            f"unknown system(s) {', '.join(unknown)}; choose from {', '.join(KNOWN_SYSTEMS)}"
        )
    return names


def make_system(name: str, shared: Shared) -> System:
    """A fresh, empty system of the given name."""
    if name == "engram":
        return EngramSystem(shared)
    if name == "engram-postgres":
        if shared.store_url is None:
            raise ValidationError("the engram-postgres system needs --store postgresql://...")
        return EngramSystem(shared, store_url=shared.store_url)
    if name == "bm25":
        from engram.bench.baselines import BM25System

        return BM25System(shared)
    if name == "dense":
        from engram.bench.baselines import DenseSystem

        return DenseSystem(shared)
    if name == "mem0":
        from engram.bench.mem0_system import Mem0System

        return Mem0System(shared)
    raise ValidationError(f"unknown system {name!r}; choose from {', '.join(KNOWN_SYSTEMS)}")


# -- Engram ---------------------------------------------------------------------------------


class EngramSystem:
    """Engram's public API, one store file per conversation; or, given ``store_url``, one
    PostgreSQL tenant per conversation (its own term statistics, as a file has), removed on close."""

    name = "engram"

    def __init__(self, shared: Shared, *, store_url: str | None = None) -> None:
        self._shared = shared
        self._store_url = store_url
        if store_url is not None:
            self.name = "engram-postgres"
        self._dir: str | None = None
        self._memory: Any = None
        self._to_message: dict[str, str] = {}

    def ingest(self, conversation: Conversation) -> IngestStats:
        from engram import Memory, SQLiteStore
        from engram.store.base import Store

        options: dict[str, Any] = {"llm": self._shared.llm} if self._shared.llm is not None else {}
        store: Store
        if self._store_url is not None:
            from engram.store.postgres import PostgresStore

            store = PostgresStore(self._store_url, max_connections=2)
            options["tenant"] = f"bench-{uuid.uuid4().hex[:12]}"
        else:
            self._dir = tempfile.mkdtemp(prefix="engram-bench-", dir=self._shared.workdir)
            store = SQLiteStore(Path(self._dir) / "engram.db")
        if self._shared.recipe is not None:
            options["retrieval"] = self._shared.recipe
        self._memory = Memory(
            store=store,
            embedder=self._shared.embedder,
            token_counter=self._shared.counter,
            **options,
        )
        calls, tokens = _llm_usage(self._shared.llm)
        started = time.perf_counter()
        added = add_conversation(self._memory, conversation)
        self._to_message.update(added)
        turns = sum(len(session.messages) for session in conversation.sessions)
        seconds = time.perf_counter() - started
        size = self._memory.stats().store_bytes
        calls_after, tokens_after = _llm_usage(self._shared.llm)
        return IngestStats(
            turns=turns,
            seconds=seconds,
            store_bytes=size,
            llm_calls=calls_after - calls,
            llm_tokens=tokens_after - tokens,
        )

    def search(self, query: str, *, k: int, reference_time: datetime | None, user_only: bool) -> list[str]:
        result = self._memory.search(
            query,
            user_id=BENCH_USER,
            k=k,
            reference_time=reference_time,
            filters={"role": "user"} if user_only else None,
        )
        return [self._to_message[hit.turn.id] for hit in result.hits]

    def query_texts(self, query: str, *, reference_time: datetime | None) -> list[str]:
        from engram.read.search import query_texts
        from engram.store.base import UserScope

        memory = self._memory
        scope = UserScope(memory.tenant, BENCH_USER)
        at = reference_time or datetime.now(UTC)  # the texts do not depend on it
        return query_texts(memory.store, scope, query, at=at, config=memory.retrieval)

    def context(self, query: str, *, budget_tokens: int, reference_time: datetime | None) -> Shown:
        result = self._memory.context(
            query,
            user_id=BENCH_USER,
            budget_tokens=budget_tokens,
            reference_time=reference_time,
            candidates=CONTEXT_CANDIDATES,
            **_probe_options(self._memory.context),
        )
        return Shown(
            result.text,
            result.tokens,
            [self._to_message[i] for i in result.turn_ids],
            frozenset(self._to_message[item.turn.id] for item in result.items if item.excerpt),
        )

    def close(self) -> None:
        if self._memory is not None:
            if self._store_url is not None:
                from engram.store.base import UserScope

                self._memory.store.forget(UserScope(self._memory.tenant, BENCH_USER))
            self._memory.close()
            self._memory = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


class MemoCounter(CachedCounter):
    """A :class:`~engram.providers.tokens.CachedCounter` sized for a benchmark run: every text
    the run counts is remembered (every budget, every question, every system counts the same
    lines)."""

    def __init__(self, inner: TokenCounter, max_items: int = 1_000_000) -> None:
        super().__init__(inner.inner if isinstance(inner, CachedCounter) else inner, max_items=max_items, max_chars=None)


def _probe_options(method: Any) -> dict[str, Any]:
    """Options that keep a benchmark question from changing the store: no reinforcement.

    Each question is an independent probe; if asking reinforced what was shown, the order of
    the questions (and the number of budgets measured) would change later answers.
    """
    parameters = inspect.signature(method).parameters
    return {"reinforce": False} if "reinforce" in parameters else {}


def _llm_usage(llm: Any) -> tuple[int, int]:
    """Calls and tokens an LLM has counted so far (``usage.calls``, prompt + completion tokens)."""
    usage = getattr(llm, "usage", None)
    if usage is None:
        return 0, 0
    tokens = int(getattr(usage, "prompt_tokens", 0)) + int(getattr(usage, "completion_tokens", 0))
    return int(getattr(usage, "calls", 0)), tokens
