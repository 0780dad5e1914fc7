"""Memory: the one implementation behind the Python API, the CLI and the servers.

It validates each call's arguments and wires a store, an embedder and a token counter to the
write path (:mod:`engram.write.ingest`: embed with a content-hash cache → persist in one
transaction → facts and episodes) and the read path (:mod:`engram.read.search`,
:mod:`engram.read.context`: BM25 + vectors → fusion → budgeted context). Facts, episodes and
forgetting are in :mod:`engram.lifecycle`, browsing in :mod:`engram.browse`, export and import in
:mod:`engram.portable`. :class:`engram.AsyncMemory` runs these same methods in worker threads.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from engram.agents import RunMethods, WorldMethods
from engram.browse import BrowseMethods
from engram.errors import ValidationError
from engram.lifecycle import LifecycleMethods
from engram.model import (
    DEFAULT_TENANT,
    AddResult,
    ContextItem,
    ContextResult,
    Scope,
    SearchFilters,
    SearchResult,
)
from engram.model.limits import (
    DEFAULT_EXCERPT_TOKENS,
    MAX_BUDGET_TOKENS,
    MAX_QUERY_CHARS,
    MAX_SEARCH_K,
    MIN_EXCERPT_TOKENS,
)
from engram.model.messages import parse_messages
from engram.model.options import ContextOptions
from engram.model.retention import RetentionPolicy
from engram.model.scope import check_id
from engram.model.timeutil import now, parse_timestamp
from engram.portable import PortableMethods
from engram.providers.embedder import Embedder
from engram.providers.llm import LLM
from engram.providers.tokens import TokenCounter, default_counter
from engram.read import search as read_search
from engram.read.context import build_context
from engram.read.retrieve import DEFAULT_RECIPE, RECIPES, RetrievalConfig
from engram.store.base import Store, UserScope
from engram.write.ingest import write_turns

Clock = Callable[[], datetime]


def default_path() -> Path:
    """The default store file: ``engram.db`` in the user's data directory."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("engram", appauthor=False)) / "engram.db"


class Memory(BrowseMethods, LifecycleMethods, PortableMethods, RunMethods, WorldMethods):
    """Long- and short-term memory for an LLM agent, in one embedded store.

    Args:
        path: the SQLite file to open or create, or a ``postgresql://`` URL (the PostgreSQL
            store, extra ``[postgres]``); default :func:`default_path`. Ignored when ``store``
            is given.
        store: a store instance (e.g. a PostgreSQL store); default an :class:`SQLiteStore`.
        embedder: default the local all-MiniLM-L6-v2 ONNX model, loaded on first use.
        token_counter: default the embedder's WordPiece tokenizer.
        tenant: the isolation boundary every call of this instance works in.
        retrieval: a named recipe (``"hybrid"``, ``"bm25"``, ``"vector"``) or a config.
        llm: an OpenAI-compatible LLM for consolidation's fact extraction; none by default
            (everything works without one).
        retention: the forgetting curve; default :class:`RetentionPolicy`.
        clock: returns "now" (tests pass a fixed clock).

    Example:
        >>> mem = Memory("demo.db")                                  # doctest: +SKIP
        >>> mem.add([{"role": "user", "content": "I moved to Lisbon"}],
        ...         user_id="alice", session_id="s1")                  # doctest: +SKIP
        >>> mem.search("where does alice live?", user_id="alice")[0].turn.content  # doctest: +SKIP
        'I moved to Lisbon'
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        store: Store | None = None,
        embedder: Embedder | None = None,
        token_counter: TokenCounter | None = None,
        tenant: str = DEFAULT_TENANT,
        retrieval: str | RetrievalConfig = DEFAULT_RECIPE,
        llm: LLM | None = None,
        retention: RetentionPolicy | None = None,
        clock: Clock = now,
    ) -> None:
        self.tenant = check_id(tenant, "tenant") or DEFAULT_TENANT
        if store is None:
            from engram.store.opening import open_store_at

            store = open_store_at(path if path is not None else default_path())
        self.store: Store = store
        self.retrieval = _recipe(retrieval)
        self.llm = llm
        self.retention_policy = retention or RetentionPolicy()
        self._embedder = embedder
        self._counter = token_counter
        self._clock = clock
        self._lazy_lock = threading.Lock()

    # -- providers, created on first use so that reads of plain data start fast ----------

    @property
    def embedder(self) -> Embedder:
        """The embedder; the default ONNX model is loaded on first use."""
        with self._lazy_lock:
            if self._embedder is None:
                from engram.providers.onnx import OnnxEmbedder

                self._embedder = OnnxEmbedder()
            if not getattr(self, "_bound", False):
                self.store.bind_embedder(self._embedder.model_id, self._embedder.dim)
                self._bound = True
        return self._embedder

    @property
    def token_counter(self) -> TokenCounter:
        """The token counter used for budgets."""
        if self._counter is None:
            self._counter = default_counter()
        return self._counter

    # -- write path -----------------------------------------------------------------------

    def add(
        self,
        messages: str | Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        user_id: str,
        session_id: str,
        agent_id: str | None = None,
        timestamp: datetime | str | float | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> AddResult:
        """Store messages losslessly; adding the same messages again stores nothing new.

        Args:
            messages: chat-format messages (``{"role", "content"}`` plus optional ``name``,
                ``timestamp``, ``metadata``, ``id``), one such dict, or a plain string (a user
                message). OpenAI's formats are taken in full (an assistant's ``tool_calls``,
                ``tool`` results, content parts, Responses API items: :mod:`engram.model.chat`);
                :meth:`Turn.to_message` gives each message back exactly.
            user_id: whose memory this is.
            session_id: the conversation the messages belong to.
            agent_id: the agent, when a user talks to several.
            timestamp: when the messages were said, for those without their own; default now.
            metadata: merged under each message's own metadata.

        Returns:
            every turn of the call as stored, with counts of new and duplicate turns.

        Raises:
            ValidationError: nothing was written.
        """
        started = time.perf_counter()
        scope = Scope(self.tenant, user_id, agent_id, session_id)
        turns = parse_messages(messages, scope, timestamp=timestamp, metadata=metadata, now=self._clock())
        return write_turns(self.store, self.embedder, turns, clock=self._clock, started=started)

    # -- read path ------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        user_id: str,
        agent_id: str | None = None,
        k: int = 10,
        filters: SearchFilters | Mapping[str, Any] | None = None,
        reference_time: datetime | str | float | None = None,
        explain: bool = False,
        config: str | RetrievalConfig | None = None,
    ) -> SearchResult:
        """Find the turns that answer ``query``: hybrid BM25 + vector, fused by rank.

        Args:
            query: the question or topic.
            user_id: whose memory to search.
            agent_id: only this agent's turns.
            k: how many hits.
            filters: e.g. ``{"session_id": "s1", "role": "user", "since": "2024-01-01",
                "metadata": {"topic": "travel"}}``.
            reference_time: when the question is asked (default now): turns said later are
                invisible, so a stored history can be queried as of its own dates.
            explain: fill each hit's signals and list the candidates below the cut.
            config: a retrieval recipe overriding the instance's.
        """
        started = time.perf_counter()
        scope, at, flt = self._read_scope(user_id, agent_id, reference_time, filters)
        query = _check_query(query)
        if not 1 <= k <= MAX_SEARCH_K:
            raise ValidationError(f"k must be between 1 and {MAX_SEARCH_K}")
        recipe = _recipe(config) if config is not None else self.retrieval
        return read_search.search(
            self.store,
            lambda: self.embedder,
            scope,
            query,
            k=k,
            filters=flt,
            at=at,
            config=recipe,
            explain=explain,
            started=started,
        )

    def context(
        self,
        query: str,
        *,
        user_id: str,
        session_id: str | None = None,
        agent_id: str | None = None,
        budget_tokens: int = 2000,
        reference_time: datetime | str | float | None = None,
        filters: SearchFilters | Mapping[str, Any] | None = None,
        working_share: float = 0.5,
        candidates: int = 50,
        facts_share: float = 0.15,
        include_profile: bool = True,
        expand: bool = True,
        reinforce: bool = True,
        config: str | RetrievalConfig | None = None,
        excerpt_tokens: int | None = DEFAULT_EXCERPT_TOKENS,
    ) -> ContextResult:
        """A prompt-ready memory for the next turn, inside ``budget_tokens``.

        Facts come first with the dates they held (those retrieval found, then the profile's;
        at most ``facts_share`` of the budget); then the current session's latest turns,
        verbatim (working memory, at most ``working_share``); then the retrieved turns that
        fit, with the turns around the strongest hits (``expand``), in chronological order with
        their dates. A retrieved turn longer than ``excerpt_tokens`` (for the user's own words
        four times that, at most a tenth of the budget; a third of it for a neighbour) is
        shown as an excerpt: its sentences that best match the question (``None`` shows every
        turn whole). A fact whose value never changed and that only repeats shown turns is
        left out. Each line carries a citation id (``F1``, ``W1``, ``M3``) that
        :attr:`ContextResult.citations` maps to a memory id. Using a memory reinforces it
        (``reinforce``): its recall count grows, so it fades more slowly. ``config`` picks a
        retrieval recipe for this call.
        """
        started = time.perf_counter()
        scope, at, flt = self._read_scope(user_id, agent_id, reference_time, filters)
        query = _check_query(query)
        if not 1 <= budget_tokens <= MAX_BUDGET_TOKENS:
            raise ValidationError(f"budget_tokens must be between 1 and {MAX_BUDGET_TOKENS:,}")
        if not 0.0 <= working_share <= 1.0 or not 0.0 <= facts_share <= 1.0:
            raise ValidationError("working_share and facts_share must be between 0 and 1")
        if excerpt_tokens is not None and excerpt_tokens < MIN_EXCERPT_TOKENS:
            raise ValidationError(
                f"excerpt_tokens must be at least {MIN_EXCERPT_TOKENS} (or None for whole turns)"
            )
        check_id(session_id, "session_id", required=False)
        options = ContextOptions(
            budget_tokens=budget_tokens,
            working_share=working_share,
            candidates=candidates,
            facts_share=facts_share,
            include_profile=include_profile,
            expand=expand,
            reinforce=reinforce,
            excerpt_tokens=excerpt_tokens,
        )
        return build_context(
            self.store,
            lambda: self.embedder,
            self.token_counter,
            scope,
            query,
            options,
            recipe=_recipe(config) if config is not None else self.retrieval,
            session_id=session_id,
            filters=flt,
            at=at,
            clock=self._clock,
            started=started,
        )

    def _read_scope(
        self,
        user_id: str,
        agent_id: str | None,
        reference_time: datetime | str | float | None,
        filters: SearchFilters | Mapping[str, Any] | None,
    ) -> tuple[UserScope, datetime, SearchFilters]:
        check_id(user_id, "user_id")
        check_id(agent_id, "agent_id", required=False)
        at = (
            parse_timestamp(reference_time, "reference_time") if reference_time is not None else self._clock()
        )
        return UserScope(self.tenant, user_id, agent_id), at, SearchFilters.coerce(filters)

    # -- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _recipe(value: str | RetrievalConfig) -> RetrievalConfig:
    if isinstance(value, RetrievalConfig):
        return value
    if not isinstance(value, str):
        raise ValidationError(
            f"config must be a recipe name ({', '.join(RECIPES)}) or a RetrievalConfig, not {type(value).__name__}"
        )
    if value not in RECIPES:
        raise ValidationError(f"unknown retrieval recipe {value!r}; choose one of {', '.join(RECIPES)}")
    return RECIPES[value]


def _check_query(query: object) -> str:
    if not isinstance(query, str) or not query.strip():
        raise ValidationError("query must be a non-empty string")
    if len(query) > MAX_QUERY_CHARS:
        raise ValidationError(f"query is longer than {MAX_QUERY_CHARS:,} characters")
    try:
        query.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError("query is not valid UTF-8") from exc
    return query


__all__ = ["ContextItem", "Memory", "default_path"]
