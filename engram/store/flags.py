"""The SET clause of a pin/archive update, the same on every backend (only the placeholder differs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engram.model.timeutil import to_micros


def flag_sets(pinned: bool | None, archived_at: datetime | bool | None, mark: str) -> tuple[list[str], list[Any]]:
    """The ``column = <mark>`` clauses and their values for :meth:`Store.set_memory_flags`'s arguments.

    ``pinned=None`` leaves the pin alone; ``archived_at=False`` leaves the archive mark alone,
    ``None`` clears it (restore), a time sets it (archive).
    """
    sets: list[str] = []
    params: list[Any] = []
    if pinned is not None:
        sets.append(f"pinned = {mark}")
        params.append(int(pinned))
    if archived_at is not False:
        sets.append(f"archived_at = {mark}")
        params.append(to_micros(archived_at) if isinstance(archived_at, datetime) else None)
    return sets, params
