"""Consolidation: the batched, sleep-time work (LightMem's offline update, MemoryOS's promotion).

Decoupled from the conversation and safe to run any time, twice, or after a crash: every step
is idempotent and driven by watermarks stored per user.

1. **Catch up**: turns stored after the write path's watermark (a crash between storing turns
   and absorbing them) get their rule-based facts and episodes. With ``resegment_all``, every
   session of the user is then segmented again whole (the write path re-segments only each
   session's open tail, which gives the same episodes; this is the full pass, e.g. after the
   segmentation settings changed).
2. **LLM extraction** (only when an LLM is configured): one call per episode that has turns
   newer than the consolidation watermark; facts go through the same reconciler.
3. **Duplicate merging** (CAMELoT, TiM's merge): current facts of one subject whose statements
   are the same after normalisation are merged into the oldest, which is reinforced.
4. **Links** (A-MEM, Zettelkasten): episode → next episode in time (``follows``), episodes
   that share a name (``same_entity``), fact version → the version that replaced it
   (``supersedes``), fact → the turns it came from (``derived_from``).
5. **Decay** (MemoryBank): turns and episodes whose retention fell under the policy's
   threshold are archived: left out of default retrieval, kept, restorable. Pinned memories
   and fact versions never are. Age runs from when memory learned a memory (or last recalled
   it), not from when it happened, so history imported late does not fade on arrival (see
   :mod:`engram.model.retention`). The report says what was archived (``archived`` counts
   and ``archived_ids`` per kind), against which clock (``retention_clock``) and why
   (``archive_reason``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from itertools import combinations, pairwise
from typing import Any

from engram.model.fact import FactVersion
from engram.model.retention import RetentionPolicy
from engram.providers.llm import LLM
from engram.store.base import Store, UserScope
from engram.write.absorb import AbsorbReport, absorb_facts, absorb_user, resegment
from engram.write.llm_extract import extract_with_llm
from engram.write.run_forgetting import fade_failed_runs
from engram.write.segment import SegmentConfig

#: Most episodes one entity links together (a name said everywhere links nothing useful).
MAX_ENTITY_FANOUT = 12


@dataclass(slots=True)
class ConsolidationReport:
    """What a consolidation run did and what it cost.

    ``archived`` counts the memories decay archived per kind (``turn``, ``episode``, ``fact``:
    always 0), ``archived_ids`` names them, ``retention_clock`` is the time retention was
    measured at (``None`` when decay did not run) and ``archive_reason`` the rule applied.
    """

    user_id: str
    turns_caught_up: int = 0
    episodes_extracted: int = 0
    llm_calls: int = 0
    llm_prompt_tokens: int = 0
    llm_completion_tokens: int = 0
    facts_added: int = 0
    facts_superseded: int = 0
    facts_reinforced: int = 0
    duplicates_merged: int = 0
    links: int = 0
    archived: dict[str, int] = field(default_factory=dict)
    archived_ids: dict[str, list[str]] = field(default_factory=dict)
    retention_clock: datetime | None = None
    archive_reason: str = ""
    turns_total: int = 0
    elapsed_ms: float = 0.0

    @property
    def llm_calls_per_turn(self) -> float:
        """LLM calls per stored turn of the user, over the user's whole history."""
        return self.llm_calls / self.turns_total if self.turns_total else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (times as ISO 8601 strings), ``llm_calls_per_turn`` included."""
        data = asdict(self)
        data["retention_clock"] = self.retention_clock.isoformat() if self.retention_clock else None
        return {**data, "llm_calls_per_turn": self.llm_calls_per_turn}


def consolidate(
    store: Store,
    scope: UserScope,
    *,
    now: datetime,
    llm: LLM | None = None,
    policy: RetentionPolicy | None = None,
    decay: bool = True,
    batch: int = 2000,
    resegment_all: bool = False,
) -> ConsolidationReport:
    """Run every consolidation step for one user; returns the report."""
    started = time.perf_counter()
    report = ConsolidationReport(user_id=scope.user_id)
    facts_report = AbsorbReport()
    _catch_up(store, scope, now=now, report=report, facts_report=facts_report)
    if resegment_all:
        sessions = [s.session_id for s in store.list_sessions(scope, limit=1_000_000)]
        resegment(store, scope, sessions, now=now, config=SegmentConfig(), report=AbsorbReport())
    if llm is not None:
        _llm_extract(store, scope, llm, now=now, batch=batch, report=report, facts_report=facts_report)
    report.duplicates_merged = _merge_duplicates(store, scope, now=now)
    report.links = _build_links(store, scope, now=now)
    if decay:
        policy = policy or RetentionPolicy()
        report.archived_ids = _decay(store, scope, policy, now=now)
        report.archived_ids["turn"] += fade_failed_runs(store, scope, policy, now=now)  # faster: see its module
        report.archived = {kind: len(ids) for kind, ids in report.archived_ids.items()}
        report.retention_clock = now
        report.archive_reason = (
            f"retention under {policy.archive_below} at {now:%Y-%m-%d %H:%M} UTC, counted from when memory "
            "learned each memory or last recalled it; pinned memories and fact versions never fade"
        )
    report.facts_added = len(facts_report.facts_added)
    report.facts_superseded = len(facts_report.facts_superseded)
    report.facts_reinforced = len(facts_report.facts_reinforced)
    state = store.lifecycle_state(scope)
    report.turns_total = store.stats(scope.tenant, scope.user_id).turns
    report.llm_calls = state["llm_calls"]
    report.elapsed_ms = (time.perf_counter() - started) * 1000
    return report


def _catch_up(
    store: Store, scope: UserScope, *, now: datetime, report: ConsolidationReport, facts_report: AbsorbReport
) -> None:
    while True:
        with store.atomic(durable=False):  # one unit of work per batch caught up
            caught = absorb_user(store, scope, [], {}, now=now, report=facts_report)
        if not caught:
            return
        report.turns_caught_up += caught


def _llm_extract(
    store: Store,
    scope: UserScope,
    llm: LLM,
    *,
    now: datetime,
    batch: int,
    report: ConsolidationReport,
    facts_report: AbsorbReport,
) -> None:
    while True:
        watermark = store.lifecycle_state(scope)["consolidated_seq"]
        turns = store.turns_after(scope, watermark, limit=batch)
        if not turns:
            return
        new_ids = {t.id for t in turns}
        for session_id in sorted({t.session_id for t in turns}):
            for episode in store.list_episodes(scope, session_id=session_id, include_archived=True):
                if not new_ids.intersection(episode.turn_ids):
                    continue
                episode_turns = sorted(store.get_turns(scope, episode.turn_ids), key=lambda t: (t.timestamp, t.seq))
                existing = store.list_facts(scope)
                before = (llm.usage.calls, llm.usage.prompt_tokens, llm.usage.completion_tokens)
                candidates = extract_with_llm(llm, episode_turns, existing)
                absorb_facts(store, scope, candidates, now=now, report=facts_report)
                calls = llm.usage.calls - before[0]
                store.update_lifecycle_state(
                    scope,
                    llm_calls=calls,
                    llm_prompt_tokens=llm.usage.prompt_tokens - before[1],
                    llm_completion_tokens=llm.usage.completion_tokens - before[2],
                )
                report.episodes_extracted += 1
                report.llm_prompt_tokens += llm.usage.prompt_tokens - before[1]
                report.llm_completion_tokens += llm.usage.completion_tokens - before[2]
        store.update_lifecycle_state(scope, consolidated_seq=max(t.seq for t in turns))


def _normal(text: str) -> str:
    return " ".join("".join(ch for ch in text.casefold() if ch.isalnum() or ch.isspace()).split())


def _merge_duplicates(store: Store, scope: UserScope, *, now: datetime) -> int:
    groups: dict[tuple[str, str], list[FactVersion]] = {}
    for fact in store.list_facts(scope):
        if fact.current:
            groups.setdefault((fact.subject.casefold(), _normal(fact.statement)), []).append(fact)
    changed: list[FactVersion] = []
    merged = 0
    for versions in groups.values():
        if len(versions) < 2:
            continue
        keeper, *rest = sorted(versions, key=lambda v: (v.valid_from, v.seq))
        sources = list(keeper.source_turn_ids)
        for other in rest:
            sources += [t for t in other.source_turn_ids if t not in sources]
            changed.append(replace(other, superseded_at=now, superseded_by=keeper.id, valid_to=other.valid_from))
            merged += 1
        changed.append(
            replace(
                keeper,
                source_turn_ids=tuple(sources),
                mentions=keeper.mentions + sum(o.mentions for o in rest),
                confidence=max(v.confidence for v in versions),
            )
        )
    if changed:
        store.save_facts(scope, changed)
    return merged


def _build_links(store: Store, scope: UserScope, *, now: datetime) -> int:
    links: list[tuple[str, str, str, float]] = []
    episodes = store.list_episodes(scope, include_archived=True, limit=1_000_000)
    for earlier, later in pairwise(episodes):
        links.append((earlier.id, later.id, "follows", 1.0))
    by_entity: dict[str, list[str]] = {}
    for episode in episodes:
        for name in episode.entities:
            by_entity.setdefault(name.casefold(), []).append(episode.id)
    for ids in by_entity.values():
        if 1 < len(ids) <= MAX_ENTITY_FANOUT:
            links += [(a, b, "same_entity", 1.0) for a, b in combinations(ids, 2)]
    for fact in store.list_facts(scope, include_history=True, include_archived=True):
        if fact.superseded_by:
            links.append((fact.superseded_by, fact.id, "supersedes", 1.0))
        links += [(fact.id, turn_id, "derived_from", 1.0) for turn_id in fact.source_turn_ids]
    return store.put_links(scope, _dedupe(links), now) if links else 0


def _dedupe(links: Sequence[tuple[str, str, str, float]]) -> list[tuple[str, str, str, float]]:
    return list({(src, dst, kind): (src, dst, kind, weight) for src, dst, kind, weight in links}.values())


def _decay(store: Store, scope: UserScope, policy: RetentionPolicy, *, now: datetime) -> dict[str, list[str]]:
    """Archive the memories whose retention at ``now`` fell under the policy's threshold; their ids by kind."""
    archived: dict[str, list[str]] = {}
    for kind in ("turn", "episode", "fact"):
        fading = [
            state.id
            for state in store.memory_states(kind, scope)
            if state.archived_at is None
            and policy.archived(
                reinforced_at=state.reinforced_at,
                at=now,
                importance=state.importance,
                recalls=state.recalls,
                pinned=state.pinned,
            )
        ]
        archived[kind] = store.set_memory_flags(kind, scope, fading, archived_at=now) if fading else []
    return archived
