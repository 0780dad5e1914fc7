"""The lifecycle step of the write path: from stored turns to facts and episodes.

Runs after the turns are committed, so a crash here loses no turn. Cheap and LLM-free:
rule-based facts reconciled into their versioned slots, and the touched sessions' open tails
re-segmented into episodes (EM-LLM's surprise-based event segmentation, :mod:`segment`).

**No gaps after a crash.** The per-user watermark ``processed_seq`` only ever advances over a
contiguous run of processed turns: each absorb first derives the user's turns stored after
the watermark that are not in its batch (turns a crashed process committed but never
absorbed), then moves the watermark over all of them. Deriving is idempotent (the reconciler
ignores a turn it has read; segmentation is a function of the session), so a turn read twice,
e.g. by two writers of one user, changes nothing.

**Only the open tail.** A session's episodes are closed except its last: appending turns in
time order can only extend or split the last episode, never move an earlier cut (each cut
depends on the turns since the previous cut and ``patience`` turns of look-ahead, see
:func:`~engram.write.segment.segment`). So the write path re-segments the last episode(s) and
the turns after them, with the vectors it holds for the new turns, and leaves the closed
episodes unread and unwritten: an add costs the same at turn 10,000 as at turn 10. A turn that
lands inside the closed part (a backdated import, a crashed turn older than the tail) makes
that session's pass a full one, so the result is always what a full re-segmentation gives;
``consolidate(..., resegment_all=True)`` runs the full pass on every session of a user.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from engram.model import Turn
from engram.model.fact import FactVersion
from engram.store.base import Store, UserScope
from engram.write.episodes import TextSignals, build_episode
from engram.write.extract import FactCandidate, turn_facts
from engram.write.reconcile import Candidate, addressed, reconcile
from engram.write.segment import SegmentConfig, segment

#: Most turns left behind by a crash that one absorb derives (consolidate finishes the rest).
CATCH_UP_LIMIT = 1000


@dataclass(slots=True)
class AbsorbReport:
    """What the lifecycle step changed."""

    facts_added: list[str] = field(default_factory=list)
    facts_superseded: list[str] = field(default_factory=list)
    facts_reinforced: list[str] = field(default_factory=list)
    episodes: int = 0


def to_candidate(turn: Turn, fact: FactCandidate, *, source: str = "rules") -> Candidate:
    """A reconcilable candidate from an extracted fact and the turn it came from."""
    return Candidate(
        tenant=turn.scope.tenant,
        user_id=turn.scope.user_id,
        agent_id=turn.scope.agent_id,
        subject=fact.subject,
        attribute=fact.attribute,
        value=fact.value,
        statement=fact.statement,
        kind=fact.kind,
        multi=fact.multi,
        valid_from=fact.valid_from or turn.timestamp,
        confidence=fact.confidence,
        source=source,
        source_turn_id=turn.id,
        ends=fact.ends,
        valid_to=fact.valid_to,
    )


def absorb_facts(
    store: Store, scope: UserScope, candidates: Sequence[Candidate], *, now: datetime, report: AbsorbReport
) -> list[FactVersion]:
    """Reconcile candidates (in valid-time order) into their slots and save what changed."""
    if not candidates:
        return []
    if any(c.ends and c.multi for c in candidates):  # "Rex passed away": the pet memory holds of that name
        held: list[FactVersion | Candidate] = [*store.list_facts(scope), *candidates]
        candidates = [each for c in candidates for each in addressed(c, held)]
    slots = store.slot_versions(scope, sorted({c.slot for c in candidates}))
    changed: dict[str, FactVersion] = {}
    for candidate in sorted(candidates, key=lambda c: c.valid_from):
        versions = {v.id: v for v in slots[candidate.slot]}
        for operation in reconcile(candidate, list(versions.values()), now=now):
            versions[operation.version.id] = operation.version
            changed[operation.version.id] = operation.version
            {
                "add": report.facts_added,
                "supersede": report.facts_superseded,
                "reinforce": report.facts_reinforced,
                "end": report.facts_superseded,
            }[operation.action].append(operation.version.id)
        slots[candidate.slot] = list(versions.values())
    if changed:
        store.save_facts(scope, list(changed.values()))
    return list(changed.values())


def resegment(
    store: Store,
    scope: UserScope,
    sessions: Sequence[str],
    *,
    now: datetime,
    config: SegmentConfig,
    report: AbsorbReport,
    signals: Mapping[str, TextSignals] | None = None,
) -> None:
    """Re-segment each of ``sessions`` whole into episodes (the full pass)."""
    for session_id in sessions:
        turns, vectors = store.session_turns(scope, session_id)
        _put_episodes(store, scope, session_id, turns, vectors, now=now, config=config, report=report, signals=signals)


def extend_episodes(
    store: Store,
    scope: UserScope,
    session_id: str,
    new: Sequence[Turn],
    *,
    vectors: Mapping[str, np.ndarray],
    now: datetime,
    config: SegmentConfig,
    report: AbsorbReport,
    signals: Mapping[str, TextSignals] | None = None,
) -> None:
    """Fold ``new`` turns of a session into its episodes by re-segmenting only the open tail.

    The tail is the last episodes holding at least ``patience - 1`` turns (the look-ahead of a
    cut) and every turn after their start; ``vectors`` (by turn id) spare reading the new
    turns back with their vectors (the write path holds both, just written), and ``signals``
    computing their text signals again. Falls back to :func:`resegment` when a new turn sorts
    before the tail's last episode ends (then an earlier cut may move).
    """
    held = {t.id: t for t in new if t.id in vectors}
    tail, turns, matrix = store.session_tail(
        scope, session_id, episodes=max(1, config.patience - 1), known=held
    )
    covered = [turn_id for episode in tail for turn_id in episode.turn_ids]
    position = {turn.id: row for row, turn in enumerate(turns)}
    appended = [t.id for t in turns[: len(covered)]] == covered and all(
        position.get(t.id, -1) >= len(covered) for t in new
    )
    if not appended:
        resegment(store, scope, [session_id], now=now, config=config, report=report, signals=signals)
        return
    for turn_id in held:
        matrix[position[turn_id]] = vectors[turn_id]
    replacing = [episode.id for episode in tail]
    _put_episodes(
        store, scope, session_id, turns, matrix, now=now, config=config, report=report, replacing=replacing, signals=signals
    )


def _put_episodes(
    store: Store,
    scope: UserScope,
    session_id: str,
    turns: Sequence[Turn],
    vectors: np.ndarray,
    *,
    now: datetime,
    config: SegmentConfig,
    report: AbsorbReport,
    replacing: Sequence[str] | None = None,
    signals: Mapping[str, TextSignals] | None = None,
) -> None:
    if not turns:
        return
    built = [
        build_episode(turns[start:end], vectors[start:end], signals)
        for start, end in segment([t.timestamp for t in turns], vectors, config)
    ]
    episodes = [episode for episode, _ in built]
    store.put_episodes(scope, session_id, episodes, np.stack([v for _, v in built]), now, replacing=replacing)
    report.episodes += len(built)


def absorb(
    store: Store,
    turns: Sequence[Turn],
    facts: Mapping[str, Sequence[FactCandidate]],
    *,
    now: datetime,
    config: SegmentConfig | None = None,
    vectors: Mapping[str, np.ndarray] | None = None,
    signals: Mapping[str, TextSignals] | None = None,
) -> AbsorbReport:
    """Fold newly stored turns into facts and episodes, user by user, then advance the watermark.

    Args:
        turns: the turns just stored (as stored: their ids are the stored ids).
        facts: the facts extracted from each of them, by stored turn id.
        vectors: the vectors in hand, by stored turn id (read from the store when missing).
        signals: the text signals in hand, by stored turn id (computed when missing).
    """
    report = AbsorbReport()
    by_user: dict[tuple[str, str], list[Turn]] = {}
    for turn in turns:
        by_user.setdefault((turn.scope.tenant, turn.scope.user_id), []).append(turn)
    for (tenant, user_id), mine in by_user.items():
        with store.atomic(durable=False):  # facts, episodes and watermark commit together
            absorb_user(
                store,
                UserScope(tenant, user_id),
                mine,
                facts,
                now=now,
                config=config,
                vectors=vectors,
                signals=signals,
                report=report,
            )
    return report


def absorb_user(
    store: Store,
    scope: UserScope,
    turns: Sequence[Turn],
    facts: Mapping[str, Sequence[FactCandidate]],
    *,
    now: datetime,
    report: AbsorbReport,
    config: SegmentConfig | None = None,
    vectors: Mapping[str, np.ndarray] | None = None,
    signals: Mapping[str, TextSignals] | None = None,
) -> int:
    """Derive one user's ``turns`` and the turns left behind after the watermark; returns how
    many of the latter there were. Advances the watermark over a contiguous run only.

    Its writes (facts, episodes, watermark) form one unit of work: callers run it inside
    ``store.atomic()``, which also makes its reads of the tail and watermark consistent with
    another writer of the same user (the write lock is taken before the first read).
    """
    watermark = store.lifecycle_state(scope)["processed_seq"]
    given = {turn.id: turn for turn in turns}
    # the turns in hand are only counted here, not read back: behind are the others
    after = store.turns_after(scope, watermark, limit=CATCH_UP_LIMIT, known=given)
    behind = [turn for turn in after if turn.id not in given]
    every = [*turns, *behind]
    if not every:
        return 0
    found = {**{t.id: turn_facts(t) for t in behind}, **{t.id: list(facts.get(t.id, ())) for t in turns}}
    candidates = [to_candidate(turn, fact) for turn in every for fact in found[turn.id]]
    absorb_facts(store, scope, candidates, now=now, report=report)
    by_session: dict[str, list[Turn]] = {}
    for turn in every:
        by_session.setdefault(turn.session_id, []).append(turn)
    for session_id, new in sorted(by_session.items()):
        extend_episodes(
            store,
            scope,
            session_id,
            new,
            vectors=vectors or {},
            now=now,
            config=config or SegmentConfig(),
            report=report,
            signals=signals,
        )
    # Every turn after the watermark up to the last one read is processed now; past a full
    # read, the rest wait for the next absorb (or consolidate).
    done = after if len(after) == CATCH_UP_LIMIT else every
    store.update_lifecycle_state(scope, processed_seq=max(turn.seq for turn in done))
    return len(behind)
