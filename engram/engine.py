"""Memory: the one implementation behind the Python API, the CLI and the servers.

It wires a store, an embedder and a token counter to the write path (validate → embed with a
content-hash cache → persist in one transaction) and the read path (BM25 + vectors → fusion →
budgeted context). :class:`engram.AsyncMemory` runs these same methods in worker threads.
"""

from __future__ import annotations

import builtins
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from engram.errors import NotFoundError, ValidationError
from engram.lifecycle import LifecycleMethods
from engram.model import (
    DEFAULT_TENANT,
    AddResult,
    ContextItem,
    ContextResult,
    DeleteReceipt,
    Hit,
    NewTurn,
    Page,
    Scope,
    SearchFilters,
    SearchResult,
    Stats,
    Turn,
)
from engram.model.fact import FactVersion
from engram.model.limits import (
    DEFAULT_EXCERPT_TOKENS,
    MAX_BUDGET_TOKENS,
    MAX_PAGE_SIZE,
    MAX_QUERY_CHARS,
    MAX_SEARCH_K,
    MIN_EXCERPT_TOKENS,
)
from engram.model.messages import parse_messages
from engram.model.results import SessionSummary, UserSummary, decode_cursor, encode_cursor
from engram.model.retention import RetentionPolicy
from engram.model.scope import check_id
from engram.model.timeutil import now, parse_timestamp, to_micros
from engram.portable import PortableMethods
from engram.providers.background import embed_later
from engram.providers.embedder import Embedder, text_key
from engram.providers.llm import LLM
from engram.providers.tokens import TokenCounter, default_counter
from engram.read.analyze import analyze, embedding_text
from engram.read.assemble import assemble_context
from engram.read.excerpt import excerpt
from engram.read.query import query_terms
from engram.read.retrieve import (
    DEFAULT_RECIPE,
    RECIPES,
    RetrievalConfig,
    Retrieved,
    expand_neighbours,
    relevant_fact,
    retrieve,
)
from engram.store.base import Store, UserScope
from engram.write.absorb import AbsorbReport, absorb
from engram.write.annotate import annotate
from engram.write.extract import extract_facts

Clock = Callable[[], datetime]

#: Fact kinds the context adds from the profile when retrieval found none of them.
PROFILE_KINDS = ("identity", "location", "work")
#: How many of a context's top memories strengthen their co-use links.
CO_USED = 5
#: The user's own words are cut only when this many times longer than other turns.
USER_EXCERPT_FACTOR = 4
#: A neighbour pulled in around a strong hit is shown in a third of the excerpt cap.
NEIGHBOUR_EXCERPT_DIVISOR = 3


def default_path() -> Path:
    """The default store file: ``engram.db`` in the user's data directory."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("engram", appauthor=False)) / "engram.db"


class Memory(LifecycleMethods, PortableMethods):
    """Long- and short-term memory for an LLM agent, in one embedded store.

    Args:
        path: the SQLite file to open or create; default :func:`default_path`. Ignored when
            ``store`` is given.
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
            from engram.store.sqlite import SQLiteStore

            store = SQLiteStore(path if path is not None else default_path())
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
                message).
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
        return self._write(turns, started=started)

    def _write(
        self,
        turns: Sequence[NewTurn],
        *,
        started: float,
        vectors: Mapping[str, np.ndarray] | None = None,
    ) -> AddResult:
        embedder = self.embedder
        known = {t.id: t for t in self._existing(turns)}
        fresh = [t for t in turns if t.id not in known]
        fresh = list({t.id: t for t in fresh}.values())  # one id twice in a call: keep one
        texts = [t.embedding_text() for t in fresh]
        keys = [text_key(text) for text in texts]
        matrix = np.empty((len(fresh), embedder.dim), dtype=np.float32)
        missing: list[int] = []
        cached: dict[tuple[str, bytes], np.ndarray] = {}
        for owner in {(t.scope.tenant, t.scope.user_id) for t in fresh}:  # each user's own cache only
            mine = [key for t, key in zip(fresh, keys, strict=True) if (t.scope.tenant, t.scope.user_id) == owner]
            cached.update({(owner[1], k): v for k, v in self.store.cached_vectors(UserScope(*owner), mine).items()})
        for row, (turn, key) in enumerate(zip(fresh, keys, strict=True)):
            given = vectors.get(turn.id) if vectors else None
            vector = given if given is not None else cached.get((turn.scope.user_id, key))
            if vector is None:
                missing.append(row)
            else:
                matrix[row] = vector
        if missing:
            matrix[missing] = embedder.embed([texts[row] for row in missing])
        facts = {
            t.id: extract_facts(t.content, speaker=t.name, role=t.role, timestamp=t.timestamp) for t in fresh
        }
        previous = self._previous_texts(fresh)
        notes = [annotate(t, facts[t.id], previous.get(t.id)) for t in fresh]
        now = self._clock()
        stored = self.store.insert_turns(fresh, matrix, keys, now, notes) if fresh else []
        by_id = {**known, **{given.id: turn for given, (turn, _) in zip(fresh, stored, strict=True)}}
        new_turns = [turn for turn, was_new in stored if was_new]
        report = absorb(self.store, new_turns, facts, now=now) if new_turns else AbsorbReport()
        return AddResult(
            turns=[by_id[t.id] for t in turns],
            added=len(new_turns),
            duplicates=len(turns) - len(new_turns),
            embedded=len(missing),
            elapsed_ms=(time.perf_counter() - started) * 1000,
            facts_added=report.facts_added,
            facts_superseded=report.facts_superseded,
            facts_reinforced=report.facts_reinforced,
            episodes=report.episodes,
        )

    def _previous_texts(self, turns: Sequence[NewTurn]) -> dict[str, str]:
        """For each turn, the text of the turn said just before it in its session (for round keys)."""
        out: dict[str, str] = {}
        last: dict[tuple[str, str, str], str] = {}
        for turn in sorted(turns, key=lambda t: t.timestamp):
            session = turn.scope.session_id or ""
            key = (turn.scope.user_id, turn.scope.agent_id or "", session)
            if key not in last:
                before = self.store.recent_turns(
                    UserScope(self.tenant, turn.scope.user_id, turn.scope.agent_id),
                    session,
                    until=turn.timestamp,
                    limit=1,
                )
                if before:
                    last[key] = before[0].content
            if key in last:
                out[turn.id] = last[key]
            last[key] = turn.content
        return out

    def _existing(self, turns: Sequence[NewTurn]) -> list[Turn]:
        found: list[Turn] = []
        by_user: dict[str, list[str]] = {}
        for turn in turns:
            by_user.setdefault(turn.scope.user_id, []).append(turn.id)
        for user_id, ids in by_user.items():
            found.extend(self.store.get_turns(UserScope(self.tenant, user_id), ids))
        return found

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
        found = self._retrieve(scope, query, k, flt, at, recipe)
        hits, rest = found.hits, found.rest
        if not explain:
            hits = [Hit(hit.turn, hit.score) for hit in hits]
        return SearchResult(
            query=query,
            hits=hits,
            reference_time=at,
            took_ms=(time.perf_counter() - started) * 1000,
            left_out=rest if explain else [],
            facts=found.facts if explain else [],
            episodes=found.episodes if explain else [],
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
        their dates. A retrieved turn longer than ``excerpt_tokens`` (four times that for the
        user's own words; a third of it for a neighbour) is shown as an excerpt: its sentences
        that best match the question (``None`` shows every turn whole). Each line carries a citation id (``F1``, ``W1``, ``M3``) that
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
        working: list[Turn] = []
        if session_id is not None and working_share > 0:
            working = self.store.recent_turns(scope, session_id, until=at, limit=200)
        recipe = _recipe(config) if config is not None else self.retrieval
        found = self._retrieve(scope, query, max(candidates, 1), flt, at, recipe)
        ranked = expand_neighbours(self.store, scope, found.hits) if expand else found.hits
        facts = [fact for fact, _ in found.facts]
        if include_profile:
            analysis_past = any(not f.true_at(at) for f in facts)
            known = {f.id for f in facts}
            facts += [
                f
                for f in self.store.list_facts(scope, include_history=True)
                if f.id not in known
                and relevant_fact(f, at, about_past=analysis_past)
                and f.kind in PROFILE_KINDS
            ]
        text, tokens, items, left_out, fact_refs = assemble_context(
            user_id=user_id,
            working=working,
            ranked=ranked,
            budget_tokens=budget_tokens,
            count=self.token_counter.count,
            reference_time=at,
            working_share=working_share,
            facts=facts,
            facts_share=facts_share,
            shorten=self._shortener(query, excerpt_tokens),
        )
        if reinforce:
            self._reinforce(scope, items, [fact for _, fact in fact_refs], found)
        return ContextResult(
            text=text,
            tokens=tokens,
            budget_tokens=budget_tokens,
            items=items,
            left_out=left_out,
            reference_time=at,
            took_ms=(time.perf_counter() - started) * 1000,
            facts=fact_refs,
        )

    def _shortener(self, query: str, excerpt_tokens: int | None) -> Callable[[Hit], str] | None:
        """Shows long turns as query-focused excerpts. The user's own words are the memory
        itself, so they get a cap four times larger: only a pasted document is cut. A turn
        pulled in as a hit's neighbour is context for it, so it gets a third of the cap."""
        if excerpt_tokens is None:
            return None
        terms, count = query_terms(query), self.token_counter.count
        around = max(MIN_EXCERPT_TOKENS, excerpt_tokens // NEIGHBOUR_EXCERPT_DIVISOR)

        def shorten(hit: Hit) -> str:
            turn = hit.turn
            cap = excerpt_tokens * USER_EXCERPT_FACTOR if turn.role == "user" else excerpt_tokens
            if "neighbour_of_rank" in hit.signals:
                cap = min(cap, around)
            return excerpt(turn.content, terms, max_tokens=cap, count=count)

        return shorten

    def _reinforce(
        self, scope: UserScope, items: Sequence[ContextItem], facts: Sequence[FactVersion], found: Retrieved
    ) -> None:
        """Recall strengthens what was used (MemoryBank), its episodes' heat (MemoryOS) and the
        links between memories used together (Memoria's Hebbian rule)."""
        now = self._clock()
        turn_ids = [item.turn.id for item in items if item.section == "memories"]
        self.store.touch("turn", scope, turn_ids, now)
        self.store.touch("fact", scope, [fact.id for fact in facts], now)
        shown = set(turn_ids)
        episodes = [e.id for e, _ in found.episodes if shown.intersection(e.turn_ids)]
        self.store.touch("episode", scope, episodes, now)
        top = turn_ids[:CO_USED]
        self.store.strengthen_links(scope, list(combinations(sorted(top), 2)), "co_used", now)

    def _retrieve(
        self,
        scope: UserScope,
        query: str,
        k: int,
        filters: SearchFilters,
        at: datetime,
        recipe: RetrievalConfig,
    ) -> Retrieved:
        """The question is embedded in the background (:func:`embed_later`) while full-text
        search runs."""
        analysis = analyze(query, at)
        vector = None
        if {"vector", "time", "episode"} & set(recipe.retrievers):
            speakers = self.store.speaker_names(scope) if analysis.names else frozenset()
            vector = embed_later(self.embedder, embedding_text(analysis, speakers))
        return retrieve(self.store, scope, analysis, vector, k=k, filters=filters, until=at, config=recipe)

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

    # -- turns ------------------------------------------------------------------------------

    def get(self, turn_id: str, *, user_id: str, agent_id: str | None = None) -> Turn:
        """One turn by id.

        Raises:
            NotFoundError: no such turn for this user.
        """
        check_id(user_id, "user_id")
        found = self.store.get_turns(UserScope(self.tenant, user_id, agent_id), [turn_id])
        if not found:
            raise NotFoundError(f"no turn {turn_id!r} for user {user_id!r}")
        return found[0]

    def list(
        self,
        *,
        user_id: str,
        session_id: str | None = None,
        agent_id: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        """Turns in chronological order, one page at a time (pass ``next_cursor`` back)."""
        check_id(user_id, "user_id")
        check_id(session_id, "session_id", required=False)
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValidationError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        after = decode_cursor(cursor) if cursor else None
        turns = self.store.list_turns(
            UserScope(self.tenant, user_id, agent_id), session_id=session_id, after=after, limit=limit + 1
        )
        more = len(turns) > limit
        turns = turns[:limit]
        next_cursor = _encode_cursor(turns[-1]) if more and turns else None
        return Page(items=turns, next_cursor=next_cursor)

    def delete(self, ids: str | Iterable[str], *, user_id: str) -> DeleteReceipt:
        """Delete turns everywhere they are held: rows, indexes, vectors, and what derives from them.

        Episodes that contained them are rebuilt from the turns left; facts keep only the
        sources left (and go when none is). See :meth:`forget` to drop a session or a user.
        """
        check_id(user_id, "user_id")
        wanted = [ids] if isinstance(ids, str) else list(ids)
        if not wanted:
            raise ValidationError("no turn ids given to delete")
        scope = UserScope(self.tenant, user_id)
        receipt = self.store.forget(scope, ids=wanted)
        self._repair_after_forget(scope, receipt, rebuild_episodes=True)
        gone = set(receipt.turn_ids)
        return DeleteReceipt(
            deleted_ids=receipt.turn_ids,
            not_found_ids=[turn_id for turn_id in wanted if turn_id not in gone],
            removed_from=("turns", "full-text index", "vectors", "episodes", "facts", "links"),
            scrub_pending=receipt.scrub_pending,
        )

    def users(self, *, after: str | None = None, limit: int = 100) -> builtins.list[UserSummary]:
        """This tenant's users (id, turns, sessions, time span), ordered by id, a page at a time."""
        check_id(after, "after", required=False)
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValidationError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        return self.store.list_users(self.tenant, after=after, limit=limit)

    def sessions(
        self, *, user_id: str, after: str | None = None, limit: int = 100
    ) -> builtins.list[SessionSummary]:
        """A user's sessions, the most recently active first, a page at a time."""
        check_id(user_id, "user_id")
        check_id(after, "after", required=False)
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValidationError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        return self.store.list_sessions(UserScope(self.tenant, user_id), after=after, limit=limit)

    def stats(self, *, user_id: str | None = None) -> Stats:
        """Counts and sizes for this tenant, or one user."""
        check_id(user_id, "user_id", required=False)
        return self.store.stats(self.tenant, user_id)

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


def _encode_cursor(turn: Turn) -> str:
    return encode_cursor(to_micros(turn.timestamp), turn.seq)


__all__ = ["ContextItem", "Memory", "default_path"]
