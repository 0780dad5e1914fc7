"""The read path's context: a prompt-ready memory for the next turn, inside a token budget.

1. **Working memory**: the current session's latest turns, verbatim.
2. **Retrieval** (:func:`engram.read.search.find`), with the turns around the strongest hits
   pulled in (EM-LLM's contiguity, :func:`~engram.read.retrieve.expand_neighbours`).
3. **Facts** that bear on the question: those retrieval went through (their statements match
   the question's words), then the profile's of the kinds the question is about ("where ...
   live": location; "job": work; :func:`~engram.read.fact_guard.kinds_asked`) that hold at the
   question's time (or held, for a question about the past). A fact a later memory in the
   context contradicts is never shown as current: it is shown with its end and what was said
   after it (:func:`~engram.read.fact_guard.contradictions`).
4. **Excerpts**: a long retrieved turn is shown as its sentences that best match the question
   (:func:`shortener`), in a cap that shares a small budget among the best memories.
5. **Assembly** (:func:`~engram.read.assemble.assemble_context`), then **reinforcement**
   (:func:`reinforce`): recall strengthens what was used (MemoryBank's forgetting curve).
6. **Filling the budget**: when the ``candidates`` best memories leave more than
   :data:`FILL_SLACK` of the budget unused, the context takes the next best ones of the same
   fused ranking (:attr:`~engram.read.retrieve.Retrieved.tail`), then of deeper retrievals
   (:func:`next_memories`), until the budget is used or they run out. Assembly is greedy by
   rank, so what the first candidates placed stays as it was: only the tail grows.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import datetime
from itertools import combinations

from engram.model import ContextItem, ContextResult, Hit, SearchFilters, Turn
from engram.model.fact import FactVersion
from engram.model.limits import MAX_SEARCH_K, MIN_EXCERPT_TOKENS
from engram.model.options import ContextOptions
from engram.providers.embedder import Embedder
from engram.providers.tokens import TokenCounter, additive
from engram.read.assemble import CountTokens, assemble_context
from engram.read.excerpt import excerpt
from engram.read.fact_guard import contradictions, kinds_asked
from engram.read.query import query_terms
from engram.read.retrieve import RetrievalConfig, Retrieved, expand_neighbours, with_turns
from engram.read.routes import relevant_fact
from engram.read.search import find
from engram.store.base import Store, UserScope

FactRef = tuple[str, FactVersion]

#: How many of a context's top memories strengthen their co-use links.
CO_USED = 5
#: The user's own words are cut only when this many times longer than other turns.
USER_EXCERPT_FACTOR = 4
#: A neighbour pulled in around a strong hit is shown in a third of the excerpt cap.
NEIGHBOUR_EXCERPT_DIVISOR = 3
#: A budget is shared by at least this many memories (the ten best, as search's default ``k``):
#: the user's larger excerpt cap is at most a tenth of the budget.
SHARED_BY = 10
#: When the best memories do not all fit, the context tries again with excerpt caps this many
#: times smaller.
SQUEEZE = 2
#: The most working-memory turns read (the budget share decides how many are shown).
WORKING_TURNS = 200
#: A context that leaves more than this share of its budget unused takes more memories.
FILL_SLACK = 0.05
#: The deepest ranking a context fills its budget from.
MAX_FILL_DEPTH = MAX_SEARCH_K


def build_context(
    store: Store,
    embedder: Callable[[], Embedder],
    counter: TokenCounter,
    scope: UserScope,
    query: str,
    options: ContextOptions,
    *,
    recipe: RetrievalConfig,
    session_id: str | None,
    filters: SearchFilters,
    at: datetime,
    clock: Callable[[], datetime],
    started: float,
) -> ContextResult:
    """The context for ``query`` asked at ``at`` with ``options`` (validated by the caller; see
    ``Memory.context`` and the module docstring). ``recipe`` and ``filters`` are the resolved
    forms of ``options.config`` and ``options.filters``."""
    working: list[Turn] = []
    if session_id is not None and options.working_share > 0:
        working = store.recent_turns(scope, session_id, until=at, limit=WORKING_TURNS)
    found = find(store, embedder, scope, query, k=max(options.candidates, 1), filters=filters, at=at, config=recipe)
    ranked = expand_neighbours(store, scope, found.hits, filters=filters, until=at) if options.expand else found.hits
    facts = [fact for fact, _ in found.facts]
    asked = kinds_asked(query)
    if options.include_profile:
        facts += profile_facts(store, scope, at, facts, kinds=asked)
    later = contradictions(facts, [*working, *(hit.turn for hit in ranked)], at)
    notes = {fid: f"until {c.until:%Y-%m-%d}; later said: {c.said}" for fid, c in later.items()}
    shorten = shortener(query, options.excerpt_tokens, counter.count, budget_tokens=options.budget_tokens)
    settled = settled_facts(store, scope, [fact for fact in facts if fact.kind not in asked])

    def assemble(hits: Sequence[Hit]) -> tuple[str, int, list[ContextItem], list[tuple[Turn, str]], list[FactRef]]:
        return assemble_context(
            user_id=scope.user_id,
            working=working,
            ranked=hits,
            budget_tokens=options.budget_tokens,
            count=counter.count,
            reference_time=at,
            working_share=options.working_share,
            facts=facts,
            facts_share=options.facts_share,
            fact_notes=notes,
            shorten=shorten,
            settled=settled,
            count_lines=(lambda lines: sum(counter.count_many(lines))) if additive(counter) else None,
        )

    text, tokens, items, left_out, fact_refs = assemble(ranked)
    best = best_memories(ranked)
    if shorten is not None and shown_of(best, items) < len(best):
        # The best memories do not all fit: tighter excerpts, if that shows more of them.
        loose = shorten
        shorten = shortener(
            query, options.excerpt_tokens, counter.count, budget_tokens=options.budget_tokens, squeeze=SQUEEZE
        )
        tighter = assemble(ranked)
        if shown_of(best, tighter[2]) > shown_of(best, items):
            text, tokens, items, left_out, fact_refs = tighter
        else:
            shorten = loose
    if tokens < (1 - FILL_SLACK) * options.budget_tokens:

        def deeper(depth: int) -> Retrieved:
            return find(store, embedder, scope, query, k=depth, filters=filters, at=at, config=recipe)

        offered = list(ranked)
        for more in next_memories(store, scope, found, deeper, {hit.turn.id for hit in ranked}, options.candidates):
            offered += more
            text, tokens, items, left_out, fact_refs = assemble(offered)
            if tokens >= (1 - FILL_SLACK) * options.budget_tokens:
                break
    if options.reinforce:
        reinforce(store, scope, items, [fact for _, fact in fact_refs], found, at=clock())
    return ContextResult(
        text=text,
        tokens=tokens,
        budget_tokens=options.budget_tokens,
        items=items,
        left_out=left_out,
        reference_time=at,
        took_ms=(time.perf_counter() - started) * 1000,
        facts=fact_refs,
    )


def next_memories(
    store: Store,
    scope: UserScope,
    found: Retrieved,
    deeper: Callable[[int], Retrieved],
    placed: set[str],
    depth: int,
) -> Iterator[list[Hit]]:
    """Batches of the next best memories after ``placed``, best first: the rest of ``found``'s
    fused ranking, then deeper retrievals (four times as deep each, up to :data:`MAX_FILL_DEPTH`)
    until the user's memories run out. ``placed`` is updated with what is handed out."""
    tail = found.tail
    while True:
        if tail:
            more = with_turns(store, scope, [r for r in tail if r.turn.id not in placed])
            tail = []
        elif depth < MAX_FILL_DEPTH:
            depth = min(4 * max(depth, 1), MAX_FILL_DEPTH)
            again = deeper(depth)
            more = [hit for hit in again.hits if hit.turn.id not in placed]
            tail = again.tail
            if len(again.hits) < depth and not tail:
                depth = MAX_FILL_DEPTH  # every memory the question can reach is in hand
        else:
            return
        placed.update(hit.turn.id for hit in more)
        if more:
            yield more


def profile_facts(
    store: Store, scope: UserScope, at: datetime, found: Sequence[FactVersion], *, kinds: Collection[str]
) -> list[FactVersion]:
    """The profile's facts of ``kinds`` (those the question is about) that retrieval did not find
    and that may be shown at ``at``: past versions too when a found fact no longer holds (the
    question is about then). No kinds, no facts: a fact that does not bear on the question is
    noise a reader may still believe."""
    if not kinds:
        return []
    about_past = any(not fact.true_at(at) for fact in found)
    known = {fact.id for fact in found}
    return [
        fact
        for fact in store.list_facts(scope, include_history=True)
        if fact.id not in known and fact.kind in kinds and relevant_fact(fact, at, about_past=about_past)
    ]


def settled_facts(store: Store, scope: UserScope, facts: Sequence[FactVersion]) -> set[str]:
    """The ids of ``facts`` whose slot never held another value: such a fact says nothing its
    source turns do not (a changed one also says which value is current). The caller leaves
    out the facts of the kinds the question asks about: they are its answer, stated plainly."""
    if not facts:
        return set()
    versions = Counter(f.slot for f in store.list_facts(scope, slots=sorted({f.slot for f in facts}), include_history=True))
    return {fact.id for fact in facts if versions[fact.slot] <= 1}


def best_memories(ranked: Sequence[Hit]) -> set[str]:
    """The best memories: the first :data:`SHARED_BY` hits retrieval itself ranked (turns
    pulled in around them are not counted)."""
    return set([hit.turn.id for hit in ranked if "neighbour_of_rank" not in hit.signals][:SHARED_BY])


def shown_of(best: set[str], items: Sequence[ContextItem]) -> int:
    """How many of ``best`` ``items`` show."""
    return len(best.intersection(item.turn.id for item in items))


def shortener(
    query: str,
    excerpt_tokens: int | None,
    count: CountTokens,
    *,
    budget_tokens: int | None = None,
    squeeze: int = 1,
) -> Callable[[Hit], str] | None:
    """Shows long turns as query-focused excerpts (``None``: every turn whole).

    The user's own words are the memory itself, so they get a cap four times larger: only a
    pasted document is cut. A turn pulled in as a hit's neighbour is context for it, so it gets
    a third of the cap. In a small ``budget_tokens`` the user's larger cap shrinks to the
    budget's share of one of :data:`SHARED_BY` memories (never below ``excerpt_tokens``): a
    few long turns shown whole would crowd out the memories ranked after them. ``squeeze``
    divides every cap (never below :data:`~engram.model.limits.MIN_EXCERPT_TOKENS`): the
    context's second try when its best memories did not all fit.
    """
    if excerpt_tokens is None:
        return None
    terms = query_terms(query)
    around = max(MIN_EXCERPT_TOKENS, excerpt_tokens // NEIGHBOUR_EXCERPT_DIVISOR)
    user_cap = excerpt_tokens * USER_EXCERPT_FACTOR
    if budget_tokens is not None:
        user_cap = min(user_cap, max(excerpt_tokens, budget_tokens // SHARED_BY))
    user_cap, other_cap = (max(MIN_EXCERPT_TOKENS, cap // squeeze) for cap in (user_cap, excerpt_tokens))
    around = min(around, other_cap)

    made: dict[tuple[str, int], str] = {}  # a context assembles again as it fills its budget

    def shorten(hit: Hit) -> str:
        turn = hit.turn
        cap = user_cap if turn.role == "user" else other_cap
        if "neighbour_of_rank" in hit.signals:
            cap = min(cap, around)
        key = (turn.id, cap)
        if key not in made:
            made[key] = excerpt(turn.content, terms, max_tokens=cap, count=count)
        return made[key]

    return shorten


def reinforce(
    store: Store,
    scope: UserScope,
    items: Sequence[ContextItem],
    facts: Sequence[FactVersion],
    found: Retrieved,
    *,
    at: datetime,
) -> None:
    """Recall strengthens what was used (MemoryBank: recall count up, forgetting slower), its
    episodes' heat (MemoryOS) and the links between memories used together (Memoria's Hebbian
    rule)."""
    turn_ids = [item.turn.id for item in items if item.section == "memories"]
    store.touch("turn", scope, turn_ids, at)
    store.touch("fact", scope, [fact.id for fact in facts], at)
    shown = set(turn_ids)
    episodes = [episode.id for episode, _ in found.episodes if shown.intersection(episode.turn_ids)]
    store.touch("episode", scope, episodes, at)
    top = turn_ids[:CO_USED]
    store.strengthen_links(scope, list(combinations(sorted(top), 2)), "co_used", at)
