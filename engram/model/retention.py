"""Forgetting: an Ebbinghaus-style retention curve with reinforcement (MemoryBank).

``R = exp(-Δt / S)``: Δt is the time since the memory was last reinforced, ``S`` its
stability. Each recall multiplies stability (spaced repetition), and importance stretches
it; pinned memories never fade. Below ``archive_below`` a memory is *archived*: left out of
default retrieval, still stored, shown by ``explain``, restorable. Pure: no I/O.

**Which clock.** A memory is reinforced when it is *learned* and when it is *recalled*: Δt
runs from the latest of when it happened, when memory learned it (a turn's ``recorded_at``,
the time it was stored) and its last recall, to the consolidation's ``now``. For a live
conversation the first two are the same moment. For history that arrives late (a 2023
conversation imported today) they are not, and the age of the events is not the age of the
memory: a person told today about 2023 remembers it as freshly as anything else told today.
Measuring from the event time instead archived 354 of the 419 turns of a LoCoMo
conversation the day it was imported, and changed what search found. So imported history
starts its forgetting curve when it is imported and fades like everything else after that.

**Facts never fade.** Fact versions are small, few, and their history is the point: a
version that was true stays answerable as of its time (``facts(as_of=...)``,
``include_history``), so decay never archives one; the store reports every fact version as
pinned. Archiving a fact by hand leaves it out of retrieval and of the current facts list,
never out of questions about time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How fast memories fade.

    With the defaults an unrecalled turn of importance 0.5 keeps R above the archive threshold
    for about 2.2 years, small talk ("ok", "haha", importance ~0.1) for about a year, a turn
    that states facts (importance ≥ 0.8) for over 3 years; each recall doubles those spans.
    Fact versions never decay (see the module docstring).

    Attributes:
        base_days: stability of an unrecalled memory of importance 0, in days.
        importance_weight: stability multiplier per unit of importance (0..1).
        recall_growth: stability multiplier per recall.
        max_days: cap on stability.
        archive_below: retention under which consolidation archives a memory.
    """

    base_days: float = 90.0
    importance_weight: float = 4.0
    recall_growth: float = 2.0
    max_days: float = 3650.0
    archive_below: float = 0.05

    def stability_days(self, importance: float, recalls: int) -> float:
        """S in days."""
        importance = min(max(importance, 0.0), 1.0)
        stability = self.base_days * (1.0 + self.importance_weight * importance)
        stability *= self.recall_growth ** min(recalls, 30)
        return min(stability, self.max_days)

    def retention(
        self,
        *,
        reinforced_at: datetime,
        at: datetime,
        importance: float,
        recalls: int,
        pinned: bool = False,
    ) -> float:
        """R in [0, 1] at time ``at``; 1.0 for pinned memories and for memories from the future."""
        if pinned:
            return 1.0
        elapsed_days = max((at - reinforced_at).total_seconds(), 0.0) / 86_400.0
        return math.exp(-elapsed_days / self.stability_days(importance, recalls))

    def archived(self, **kwargs: object) -> bool:
        """Whether a memory with these properties falls under the archive threshold."""
        return self.retention(**kwargs) < self.archive_below  # type: ignore[arg-type]


def heat(*, visits: int, turns: int, last_visit: datetime | None, at: datetime, half_life_days: float = 30.0) -> float:
    """MemoryOS heat: visits, interaction length and recency of the last visit, combined.

    ``heat = visits + 0.1 * turns + recency`` with ``recency = 0.5 ** (days since visit /
    half_life_days)`` (0 when never visited).
    """
    recency = 0.0
    if last_visit is not None:
        days = max((at - last_visit).total_seconds(), 0.0) / 86_400.0
        recency = 0.5 ** (days / half_life_days)
    return visits + 0.1 * turns + recency
