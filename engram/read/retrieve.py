"""Retrieval: candidates at every granularity, fused by reciprocal rank.

Rankings over turns, each from one signal (MemGAS's multi-granularity candidates):

* ``bm25``: full text over content, speaker and the turn's keys (fact-augmented keys);
* ``vector``: cosine similarity of the turn to the question;
* ``time``: cosine similarity among the turns said inside the question's time window, when
  the question names one ("last weekend", "in May");
* ``episode``: episodes found by their summaries and centroids, routed to their turns that
  best match the question (H-MEM's top-down routing);
* ``fact``: facts whose statements match, routed to the turns they came from; superseded
  facts only when the question asks about the past.
* ``instruction``: the user's current standing instructions ("Always include cost details
  when I ask about travel", :mod:`engram.write.instructions`), routed to the turns that gave
  them and ranked by meaning against the question: an instruction governs requests that share
  few words with it, so full text alone rarely finds it.
* ``aspects``: for a question about several things at once ("between A and B", "A, B and
  C"), cosine similarity to each part on its own (:mod:`engram.read.aspects`), so that the
  turn answering one part is not crowded out by several answering the other;
* ``feedback``: full text again, for the words that stand for the best turns of a first
  fusion (pseudo-relevance feedback): evidence spread over several turns shares words with
  the evidence found first more often than with the question.
* ``bridge``: full text again, for the rare names the best turns of a first fusion mention
  (:mod:`engram.read.bridge`): the second half of a multi-hop answer often shares a name with
  the first rather than a word with the question.

The episode, fact, instruction and feedback routes live in :mod:`engram.read.routes`.

Fused by weighted RRF, then priors raise the fused scores of turns that fit what the question
says about them:

* who: the user's turns when it says "my" (``role_boost``), a speaker's it names
  (``name_boost``; in LoCoMo 96% of the evidence for a question naming one speaker is that
  speaker's own words, but so are half of all turns);
* when: turns inside the time window it names ("a week ago", ``window_boost``), so that a
  window narrows as well as adds candidates.

Every hit keeps every signal for ``explain``. The rankings are fused, and the priors applied,
on light matches (id, score, role, speaker, time: :class:`~engram.store.base.Match`); whole
turns are read only for the hits returned.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

import numpy as np

from engram.model import Hit, SearchFilters, Turn
from engram.model.episode import Episode
from engram.model.fact import FactVersion
from engram.read.analyze import QueryAnalysis
from engram.read.bridge import bridge_route
from engram.read.fuse import Fused, Fusion, fuse
from engram.read.routes import episode_route, fact_route, feedback_route, instruction_route
from engram.store.base import Match, Store, UserScope


@dataclass(frozen=True, slots=True)
class RetrievalConfig:
    """How retrieval gathers and fuses candidates.

    Attributes:
        retrievers: the rankings to fuse (see the module docstring).
        candidates: how many candidates each turn ranking contributes (at least ``k``).
        rrf_k: the RRF constant.
        weights: per-ranking RRF weights.
        episodes: how many episodes the episode route opens.
        turns_per_episode: how many of an opened episode's turns it ranks.
        facts: how many facts the fact route follows.
        instructions: how many standing instructions the instruction route ranks.
        aspects: the RRF weight of the ranking of each part of a question (``aspects``).
        feedback_turns: how many of the first fusion's best turns the feedback ranking
            draws its words from.
        feedback_terms: how many words it searches for.
        bridge_turns: how many of the first fusion's best turns the bridge ranking takes names
            from (:mod:`engram.read.bridge`).
        bridge_names: how many of their names it searches for.
        bridge_rarity: the most turns a name may be said in and still bridge two of them.
        role_boost: how much the speaker prior by role raises a fused score (0: off).
        name_boost: the same for a speaker the question names.
        window_boost: the same for turns inside the question's time window.
        vector_confidence: the best cosine at which the vector ranking keeps its weight; for
            each question its weight is scaled by the question's best cosine over this,
            within :data:`CONFIDENCE_RANGE` (0: fixed weights; see :func:`query_weights`).
    """

    retrievers: tuple[str, ...] = ("bm25", "vector")
    candidates: int = 50
    rrf_k: int = 60
    weights: tuple[tuple[str, float], ...] = (
        ("bm25", 1.0),
        ("vector", 1.0),
        ("time", 0.5),
        ("episode", 0.3),
        ("fact", 0.3),
    )
    episodes: int = 8
    turns_per_episode: int = 3
    facts: int = 10
    instructions: int = 5
    aspects: float = 0.5
    feedback_turns: int = 3
    feedback_terms: int = 20
    bridge_turns: int = 5
    bridge_names: int = 5
    bridge_rarity: int = 20
    role_boost: float = 0.0
    name_boost: float = 0.0
    window_boost: float = 0.0
    vector_confidence: float = 0.0


#: Named recipes for ``search(..., config=...)`` and ``engram bench --config``.
#: The default weighs full text and vectors alike, and lets each question's own vector
#: ranking say how far to trust it (``vector_confidence``). A fixed lean either way was a
#: bet on one kind of conversation: full text over vectors (2 : 1.5) was best on LoCoMo's
#: chit-chat, where question and evidence share words, and wrong on long user-assistant
#: chats (BEAM), where they often do not; measured on all three development sets with
#: benchmarks/retrieval_lab.py (benchmarks/RESULTS.md). A question about several things at
#: once also searches each part (``aspects``). Two second-pass rankings are not in the default,
#: for a recipe to switch on: ``feedback`` gained on LoCoMo and lost on BEAM; ``bridge`` (the
#: rare names of the best turns searched again, weight 0.5) gained a few questions on every set
#: (LoCoMo 0.704 → 0.708, multi-hop 0.255 → 0.266) for 26-51% more search CPU, and cost BEAM
#: three questions of evidence inside 1,000 tokens.
ENGRAM_WEIGHTS = (("bm25", 1.5), ("vector", 1.5), ("time", 0.5), ("fact", 0.3), ("instruction", 0.75), ("bridge", 0.5))

#: With a small RRF constant, a turn one retriever ranks first is not overtaken by turns
#: both rank middling; the priors favour whom and when the question is about. Each ranking
#: offers 80 candidates, so a turn two rankings both place past 50 can still fuse into the top.
ENGRAM_RRF_K, ENGRAM_SPEAKER_BOOST, ENGRAM_WINDOW_BOOST, ENGRAM_CANDIDATES = 10, 0.6, 0.5, 80

#: The best cosine at which the vector ranking keeps its weight (all-MiniLM-L6-v2: a close
#: paraphrase scores about 0.5-0.7 against a question; unrelated text 0.1-0.3).
ENGRAM_VECTOR_CONFIDENCE = 0.5

#: How far a question's vector confidence may scale the vector ranking's weight.
CONFIDENCE_RANGE = (0.5, 2.0)

RECIPES: dict[str, RetrievalConfig] = {
    "engram": RetrievalConfig(
        retrievers=("bm25", "vector", "time", "fact", "instruction", "aspects"),
        weights=ENGRAM_WEIGHTS,
        rrf_k=ENGRAM_RRF_K,
        candidates=ENGRAM_CANDIDATES,
        role_boost=ENGRAM_SPEAKER_BOOST,
        name_boost=ENGRAM_SPEAKER_BOOST,
        window_boost=ENGRAM_WINDOW_BOOST,
        vector_confidence=ENGRAM_VECTOR_CONFIDENCE,
    ),
    "engram-episodes": RetrievalConfig(
        retrievers=("bm25", "vector", "time", "episode", "fact", "instruction", "aspects"),
        weights=(*ENGRAM_WEIGHTS, ("episode", 0.3)),
        rrf_k=ENGRAM_RRF_K,
        candidates=ENGRAM_CANDIDATES,
        role_boost=ENGRAM_SPEAKER_BOOST,
        name_boost=ENGRAM_SPEAKER_BOOST,
        window_boost=ENGRAM_WINDOW_BOOST,
        vector_confidence=ENGRAM_VECTOR_CONFIDENCE,
    ),
    "hybrid": RetrievalConfig(),
    "bm25": RetrievalConfig(retrievers=("bm25",)),
    "vector": RetrievalConfig(retrievers=("vector",)),
}
DEFAULT_RECIPE = "engram"


@dataclass(slots=True)
class Retrieved:
    """What retrieval found: ranked turns, and the facts and episodes it went through.

    ``tail`` is the fused ranking below the cut, light (no turn read): a context that has room
    left after the hits takes its next best memories from it.
    """

    hits: list[Hit]
    rest: list[Hit]
    facts: list[tuple[FactVersion, float]] = field(default_factory=list)
    episodes: list[tuple[Episode, float]] = field(default_factory=list)
    tail: list[Ranked] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Ranked:
    """A fused candidate before its turn is read: what the priors and the cut need of it.

    Its signals (:attr:`signals`) are assembled only when asked for, from ``fused`` or, when
    it came out of a whole :class:`Fusion`, from that: most candidates are cut.
    """

    turn: Match
    score: float
    fused: Fused | None = None
    priors: Mapping[str, float] = field(default_factory=dict)
    fusion: Fusion | None = None

    @property
    def signals(self) -> dict[str, float]:
        """The fusion's signals (:meth:`Fused.signals`) and the priors that raised the score."""
        fused = self.fused if self.fused is not None or self.fusion is None else self.fusion.item(self.turn.id)
        return {**(fused.signals() if fused is not None else {}), **self.priors}


#: What the priors re-rank: whole hits or light ones.
H = TypeVar("H", Hit, Ranked)


def retrieve(
    store: Store,
    scope: UserScope,
    analysis: QueryAnalysis,
    embedded: Callable[[], np.ndarray] | None,
    *,
    k: int,
    filters: SearchFilters,
    until: datetime,
    config: RetrievalConfig,
    explain: bool = False,
    aspects: Sequence[Callable[[], np.ndarray]] = (),
) -> Retrieved:
    """The top ``k`` turns for an analysed question, the fused candidates below the cut, and the routes.

    ``embedded`` waits for the question's vector (``None`` without one): it is called after
    the full-text search, so the question can be embedded meanwhile. ``aspects`` wait for the
    vectors of the question's parts (:mod:`engram.read.aspects`). The rankings are fused
    on ids and scores (:class:`~engram.store.base.Match`); whole turns are read only for the
    top ``k``, and for the candidates below the cut (``rest``) only with ``explain``.
    """
    pool = max(config.candidates, k)
    use = set(config.retrievers)
    rankings: dict[str, list[Match]] = {}
    result = Retrieved(hits=[], rest=[])
    if "bm25" in use:
        rankings["bm25"] = store.text_matches(scope, analysis.terms, filters=filters, until=until, limit=pool)
    query_vector = embedded() if embedded is not None else None
    if query_vector is not None and "vector" in use:
        rankings["vector"] = store.vector_matches(scope, query_vector, filters=filters, until=until, limit=pool)
    window = analysis.time_range
    if query_vector is not None and "time" in use and window is not None:
        since = max(window[0], filters.since) if filters.since else window[0]
        end = min(window[1], filters.until) if filters.until else window[1]
        if since < end:
            narrowed = replace(filters, since=since, until=end)
            rankings["time"] = store.vector_matches(scope, query_vector, filters=narrowed, until=until, limit=pool)
    if query_vector is not None and "episode" in use:
        result.episodes, rankings["episode"] = episode_route(
            store, scope, analysis, query_vector, filters=filters, until=until, config=config
        )
    if "fact" in use:
        result.facts, rankings["fact"] = fact_route(store, scope, analysis, filters=filters, until=until, config=config)
    for number, part_vector in enumerate(aspects, start=1):
        rankings[f"aspect{number}"] = store.vector_matches(
            scope, part_vector(), filters=filters, until=until, limit=pool
        )
    if query_vector is not None and "instruction" in use:
        rankings["instruction"] = instruction_route(
            store, scope, query_vector, filters=filters, until=until, config=config
        )
    ranked = apply_priors(fuse_matches(rankings, config), analysis, config)
    if "feedback" in use and config.feedback_turns > 0 and ranked:
        best = [(item.turn.id, item.score) for item in ranked[: config.feedback_turns]]
        rankings["feedback"] = feedback_route(
            store, scope, analysis, best, filters=filters, until=until, limit=pool, config=config
        )
    if "bridge" in use and config.bridge_turns > 0 and ranked:
        best = [(item.turn.id, item.score) for item in ranked[: config.bridge_turns]]
        rankings["bridge"] = bridge_route(
            store, scope, analysis, best, filters=filters, until=until, config=config
        )
    if rankings.get("feedback") or rankings.get("bridge"):
        ranked = apply_priors(fuse_matches(rankings, config), analysis, config)
    result.hits = with_turns(store, scope, ranked[:k])
    result.rest = with_turns(store, scope, ranked[k:]) if explain else []
    result.tail = ranked[k:]
    return result


def fuse_matches(rankings: Mapping[str, Sequence[Match]], config: RetrievalConfig) -> list[Ranked]:
    """The rankings fused by weighted reciprocal rank (:func:`reciprocal_rank_fusion`), best first."""
    said = {match.id: match for ranking in rankings.values() for match in ranking}
    fusion = fuse(
        {name: [(match.id, match.score) for match in ranking] for name, ranking in rankings.items() if ranking},
        k=config.rrf_k,
        weights=query_weights(rankings, config),
    )
    scores = fusion.scores
    return [Ranked(said[str(key)], scores[key], fusion=fusion) for key in fusion.order()]


def query_weights(rankings: Mapping[str, Sequence[Match]], config: RetrievalConfig) -> dict[str, float]:
    """The fusion weights for one question: the recipe's, with the vector ranking's scaled by
    how well the question's best match fits it (its top cosine over ``vector_confidence``).

    A question whose words differ from the evidence's (a request governed by a standing
    instruction, a paraphrase) finds close vectors and weak word matches; one about a name or
    a rare word finds the reverse. Scaling by the ranking's own top score is a query
    performance predictor: it needs no labels and no per-dataset constant.
    """
    weights = dict(config.weights)
    weights.update((name, config.aspects) for name in rankings if name.startswith("aspect"))
    vector = rankings.get("vector")
    if config.vector_confidence > 0 and vector and "vector" in weights:
        low, high = CONFIDENCE_RANGE
        weights["vector"] *= min(high, max(low, vector[0].score / config.vector_confidence))
    return weights


def with_turns(store: Store, scope: UserScope, ranked: Sequence[Ranked]) -> list[Hit]:
    """``ranked`` as hits, their whole turns read in one call (a turn forgotten meanwhile is left out)."""
    if not ranked:
        return []
    turns = {turn.id: turn for turn in store.get_turns(scope, [item.turn.id for item in ranked])}
    return [Hit(turns[item.turn.id], item.score, item.signals) for item in ranked if item.turn.id in turns]


def speaker_boost(
    turn: Turn | Match, names: Collection[str], role: str | None, *, by_role: float, by_name: float
) -> float:
    """How much the speaker prior raises ``turn`` for a question that names ``names`` (first
    names, case-folded) or speaks of ``role``'s turns ("my"): 0 when someone else said it."""
    if turn.name and turn.name.split()[0].casefold() in names:
        return by_name
    return by_role if role is not None and turn.role == role else 0.0


def apply_priors(hits: list[H], analysis: QueryAnalysis, config: RetrievalConfig) -> list[H]:
    """``hits`` (whole or light) re-ranked with the fused scores of the question's speaker's
    turns, and of the turns inside its time window, raised (see the module docstring)."""
    window = analysis.time_range if config.window_boost else None
    names, role = analysis.names, analysis.speaker_role
    by_speaker = bool((config.role_boost or config.name_boost) and (names or role))
    if window is None and not by_speaker:
        return hits
    raised = []
    boosts: dict[tuple[str | None, str], float] = {}  # by (speaker, role): a few speakers, many turns
    for hit in hits:
        priors: dict[str, float] = {}
        factor = 1.0
        if by_speaker:
            said_by = (hit.turn.name, hit.turn.role)
            boost = boosts.get(said_by)
            if boost is None:
                boost = boosts[said_by] = speaker_boost(
                    hit.turn, names, role, by_role=config.role_boost, by_name=config.name_boost
                )
        if by_speaker and boost:
            priors["speaker"] = boost
            factor *= 1 + boost
        if window is not None and window[0] <= hit.turn.timestamp < window[1]:
            priors["in_window"] = config.window_boost
            factor *= 1 + config.window_boost
        raised.append(_raised(hit, factor, priors) if factor != 1.0 else hit)
    return sorted(raised, key=lambda hit: -hit.score)  # stable: ties keep the fused order


def _raised(hit: H, factor: float, priors: dict[str, float]) -> H:
    if isinstance(hit, Ranked):
        return Ranked(hit.turn, hit.score * factor, hit.fused, {**hit.priors, **priors}, hit.fusion)
    return Hit(hit.turn, hit.score * factor, {**hit.signals, **priors})


#: The share of its hit's score a pulled-in neighbour is ranked at.
NEIGHBOUR_SHARE = 0.5


def expand_neighbours(
    store: Store,
    scope: UserScope,
    hits: Sequence[Hit],
    *,
    filters: SearchFilters,
    until: datetime,
    strong: int = 5,
) -> list[Hit]:
    """EM-LLM's contiguity: each of the ``strong`` best hits pulls in the turns just before and
    after it, ranked at half the hit's score. A strong hit's context so comes before the weak
    hits, but not before the next strong one (which, in a small budget, it would crowd out).
    A neighbour passes the same filters as the hits (and is not said after ``until``)."""
    pulled: list[Hit] = []
    seen = {hit.turn.id for hit in hits}
    for rank, hit in enumerate(hits[:strong]):
        for neighbour in store.adjacent_turns(scope, hit.turn):
            if neighbour.id not in seen:
                seen.add(neighbour.id)
                pulled.append(Hit(neighbour, hit.score * NEIGHBOUR_SHARE, {"neighbour_of_rank": rank + 1}))
    wanted = [hit.turn.id for hit in pulled]
    allowed = {t.id for t in store.get_turns(scope, wanted, filters=filters, until=until)} if wanted else set()
    out = [*hits, *(hit for hit in pulled if hit.turn.id in allowed)]
    return sorted(out, key=lambda hit: -hit.score)  # stable: a neighbour follows hits of its score
