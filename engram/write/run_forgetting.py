"""Forgetting for runs: a failed run fades faster than a successful one, unless pinned.

A failed run is worth keeping for a while (its failure is what the next run avoids, and the
lesson it taught is a fact, which never fades while it holds), but its many steps should not
crowd retrieval for as long as the steps of a run that worked. So, at consolidation, a
failed run's turns are archived when their retention, with the stability divided by
:data:`FAILED_RUN_FACTOR`, falls under the policy's threshold: the forgetting curve of
:mod:`engram.model.retention`, four times steeper. Pinned turns never fade. Archived turns
stay stored and restorable, like every archived memory.
"""

from __future__ import annotations

import math
from datetime import datetime

from engram.model.retention import RetentionPolicy
from engram.model.run import MEMORY_KIND, RUN_KIND
from engram.store.base import Store, UserScope

#: How many times faster a failed run's turns fade.
FAILED_RUN_FACTOR = 4.0


def failed_run_sessions(store: Store, scope: UserScope, *, now: datetime) -> list[str]:
    """The sessions of ``scope`` that are runs whose last event is a failed finish."""
    failed: list[str] = []
    after: str | None = None
    while True:
        sessions = store.list_sessions(scope, after=after, limit=100)
        for session in sessions:
            last = store.recent_turns(scope, session.session_id, until=max(now, session.last_timestamp), limit=1)
            meta = last[0].metadata if last else {}
            event = meta.get("run")
            if (
                meta.get(MEMORY_KIND) == RUN_KIND
                and meta.get("run_event") == "finish"
                and isinstance(event, dict)
                and event.get("outcome") == "failure"
            ):
                failed.append(session.session_id)
        if len(sessions) < 100:
            return failed
        after = sessions[-1].session_id


def fade_failed_runs(store: Store, scope: UserScope, policy: RetentionPolicy, *, now: datetime) -> list[str]:
    """Archive the turns of failed runs whose steeper retention fell under the threshold; their ids."""
    sessions = failed_run_sessions(store, scope, now=now)
    if not sessions:
        return []
    in_failed = {
        turn.id for session_id in sessions for turn in store.list_turns(scope, session_id=session_id, limit=100_000)
    }
    fading = []
    for state in store.memory_states("turn", scope):
        if state.id not in in_failed or state.pinned or state.archived_at is not None:
            continue
        stability = policy.stability_days(state.importance, state.recalls) / FAILED_RUN_FACTOR
        elapsed = max((now - state.reinforced_at).total_seconds(), 0.0) / 86_400.0
        if math.exp(-elapsed / stability) < policy.archive_below:
            fading.append(state.id)
    return store.set_memory_flags("turn", scope, fading, archived_at=now) if fading else []
