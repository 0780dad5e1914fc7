"""What the inspector's pages show, built from library results. Pure: no I/O, no memory calls.

* a user's facts grouped into slots, each with its version history;
* a timeline of turns with the episodes they belong to interleaved;
* a search trace: every fused candidate, and the facts and episodes behind them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from engram.model import ContextResult, Hit, Turn
from engram.model.episode import Episode
from engram.model.fact import FactVersion

NOT_A_CANDIDATE = "ranked below the context's candidates"


@dataclass(frozen=True)
class FactSlot:
    """One fact slot (e.g. where Sam lives) and its versions, oldest first."""

    subject: str
    attribute: str
    kind: str
    versions: list[FactVersion]

    @property
    def current(self) -> FactVersion | None:
        return next((v for v in reversed(self.versions) if v.current), None)


def fact_slots(versions: Iterable[FactVersion]) -> list[FactSlot]:
    """Versions grouped by slot; slots in the order they were first true, versions oldest first."""
    by_slot: dict[str, list[FactVersion]] = {}
    for version in sorted(versions, key=lambda v: (v.valid_from, v.recorded_at, v.seq)):
        by_slot.setdefault(version.slot, []).append(version)
    return [FactSlot(vs[0].subject, vs[0].attribute, vs[0].kind, vs) for vs in by_slot.values()]


@dataclass(frozen=True)
class TimelineRow:
    """A turn of the timeline; ``episode`` is set on the first turn shown of each episode."""

    turn: Turn
    episode: Episode | None = None
    continued: bool = False  # the episode began before this page


def timeline(turns: Sequence[Turn], episodes: Iterable[Episode]) -> list[TimelineRow]:
    """Turns in their order, each episode announced before the first of its turns on the page."""
    episode_of = {turn_id: episode for episode in episodes for turn_id in episode.turn_ids}
    rows: list[TimelineRow] = []
    shown: set[str] = set()
    for turn in turns:
        episode = episode_of.get(turn.id)
        if episode is not None and episode.id not in shown:
            shown.add(episode.id)
            rows.append(TimelineRow(turn, episode, continued=episode.turn_ids[0] != turn.id))
        else:
            rows.append(TimelineRow(turn))
    return rows


@dataclass(frozen=True)
class TraceRow:
    """One fused candidate of a search: where it ranked, its signals, and what became of it."""

    rank: int
    turn: Turn
    score: float
    signals: dict[str, float]
    made_cut: bool
    context: str


@dataclass(frozen=True)
class FactCandidate:
    """A fact the context showed, and where the turns it came from ranked in the trace."""

    ref: str
    fact: FactVersion
    source_ranks: list[int]


@dataclass(frozen=True)
class EpisodeCandidate:
    """An episode the episode route opened, seen through the candidates it routed to."""

    episode: Episode
    ranks: list[int]  # trace ranks of its routed turns
    best_route_rank: int  # best episode_rank among them


def trace_rows(hits: Sequence[Hit], k: int, context: ContextResult) -> list[TraceRow]:
    """Every candidate, best first, with whether it made the top-``k`` cut and its fate in the context."""
    fate = {item.turn.id: f"in context as [{item.ref}]" for item in context.items}
    fate.update({turn.id: reason for turn, reason in context.left_out})
    return [
        TraceRow(
            rank, hit.turn, hit.score, dict(hit.signals), rank <= k, fate.get(hit.turn.id, NOT_A_CANDIDATE)
        )
        for rank, hit in enumerate(hits, start=1)
    ]


def fact_candidates(trace: Sequence[TraceRow], context: ContextResult) -> list[FactCandidate]:
    rank_of = {row.turn.id: row.rank for row in trace}
    return [
        FactCandidate(ref, fact, sorted(rank_of[t] for t in fact.source_turn_ids if t in rank_of))
        for ref, fact in context.facts
    ]


def episode_routed(trace: Sequence[TraceRow]) -> list[TraceRow]:
    """The candidates the episode route contributed."""
    return [row for row in trace if "episode_rank" in row.signals]


def episode_candidates(trace: Sequence[TraceRow], episodes: Iterable[Episode]) -> list[EpisodeCandidate]:
    """The episodes holding episode-routed candidates, best routed first."""
    routed = {row.turn.id: row for row in episode_routed(trace)}
    found: list[EpisodeCandidate] = []
    for episode in {e.id: e for e in episodes}.values():
        rows = [routed[t] for t in episode.turn_ids if t in routed]
        if rows:
            best = min(int(row.signals["episode_rank"]) for row in rows)
            found.append(EpisodeCandidate(episode, sorted(row.rank for row in rows), best))
    return sorted(found, key=lambda c: c.best_route_rank)
