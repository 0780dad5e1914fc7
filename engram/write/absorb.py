"""The lifecycle step of the write path: from stored turns to facts and episodes.

Runs after the turns are committed (so a crash here loses no turn: the per-user watermark
``processed_seq`` stays behind and ``consolidate`` finishes the work later). Cheap and
LLM-free: rule-based facts reconciled into their versioned slots, and the touched sessions
re-segmented into episodes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from engram.model import Turn
from engram.model.fact import FactVersion
from engram.store.base import Store, UserScope
from engram.write.episodes import build_episode
from engram.write.extract import FactCandidate
from engram.write.reconcile import Candidate, reconcile
from engram.write.segment import SegmentConfig, segment


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
    )


def absorb_facts(
    store: Store, scope: UserScope, candidates: Sequence[Candidate], *, now: datetime, report: AbsorbReport
) -> list[FactVersion]:
    """Reconcile candidates (in valid-time order) into their slots and save what changed."""
    if not candidates:
        return []
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
            }[operation.action].append(operation.version.id)
        slots[candidate.slot] = list(versions.values())
    store.save_facts(scope, list(changed.values()))
    return list(changed.values())


def absorb_episodes(
    store: Store,
    scope: UserScope,
    sessions: Sequence[str],
    *,
    now: datetime,
    config: SegmentConfig,
    report: AbsorbReport,
) -> None:
    """Re-segment each touched session into episodes."""
    for session_id in sessions:
        turns, vectors = store.session_turns(scope, session_id)
        if not turns:
            continue
        built = [
            build_episode(turns[start:end], vectors[start:end])
            for start, end in segment([t.timestamp for t in turns], vectors, config)
        ]
        store.put_episodes(scope, session_id, [e for e, _ in built], np.stack([v for _, v in built]), now)
        report.episodes += len(built)


def absorb(
    store: Store,
    turns: Sequence[Turn],
    facts: Mapping[str, Sequence[FactCandidate]],
    *,
    now: datetime,
    config: SegmentConfig | None = None,
) -> AbsorbReport:
    """Fold newly stored turns into facts and episodes, user by user, then advance the watermark."""
    report = AbsorbReport()
    by_user: dict[tuple[str, str], list[Turn]] = {}
    for turn in turns:
        by_user.setdefault((turn.scope.tenant, turn.scope.user_id), []).append(turn)
    for (tenant, user_id), mine in by_user.items():
        scope = UserScope(tenant, user_id)
        candidates = [to_candidate(turn, fact) for turn in mine for fact in facts.get(turn.id, ())]
        absorb_facts(store, scope, candidates, now=now, report=report)
        sessions = sorted({turn.session_id for turn in mine})
        absorb_episodes(store, scope, sessions, now=now, config=config or SegmentConfig(), report=report)
        store.update_lifecycle_state(scope, processed_seq=max(turn.seq for turn in mine))
    return report
