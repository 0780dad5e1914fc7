"""The loaded vector indexes of a store's users, under a memory budget (least recently used
evicted first)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any, Generic, TypeVar

from engram.store.vectors import ScopeVectors

#: The default memory budget of the loaded vector indexes of one store, in MiB.
VECTOR_CACHE_MB = 1024

_Key = TypeVar("_Key", bound=Hashable)


class VectorCache(OrderedDict[_Key, ScopeVectors], Generic[_Key]):
    """Loaded vector indexes by user, least recently used first, under a memory budget.

    Each index is derived state (rebuilt from the store's rows when next searched), so an
    index evicted here (closed: its background HNSW build stops) costs only its reload (about 1.5 s per 100k vectors, and its HNSW graph
    rebuilt in the background). The index in use is never evicted: a single user larger than
    the budget stays loaded alone, so the memory held is at most the larger of the budget
    and the largest user's index.
    """

    def __init__(self, budget_bytes: int = VECTOR_CACHE_MB * 2**20) -> None:
        super().__init__()
        if budget_bytes < 0:
            raise ValueError("the vector cache's budget cannot be negative")
        self.budget_bytes = budget_bytes
        self._sizes: dict[_Key, int] = {}  # each index's size when last used (an HNSW graph grows it)
        self._total = 0

    def use(self, key: _Key) -> ScopeVectors | None:
        """The index of ``key`` (now the most recently used), or None when not loaded."""
        index = self.get(key)
        if index is not None:
            self.move_to_end(key)
            self._account(key, index)
            if self._total > self.budget_bytes:
                self.trim()
        return index

    def __setitem__(self, key: _Key, index: ScopeVectors) -> None:
        replaced = self.get(key)
        if replaced is not None and replaced is not index:
            replaced.close()
        super().__setitem__(key, index)
        self.move_to_end(key)
        self._account(key, index)
        self.trim()

    def __delitem__(self, key: _Key) -> None:
        self[key].close()
        super().__delitem__(key)
        self._forget(key)

    def pop(self, key: _Key, *default: Any) -> Any:  # type: ignore[override]
        self._forget(key)
        index = super().pop(key, *default)
        if isinstance(index, ScopeVectors):
            index.close()
        return index

    def popitem(self, last: bool = True) -> tuple[_Key, ScopeVectors]:
        key, index = super().popitem(last)
        self._forget(key)
        index.close()
        return key, index

    def clear(self) -> None:
        for index in self.values():
            index.close()
        super().clear()
        self._sizes.clear()
        self._total = 0

    @property
    def nbytes(self) -> int:
        """The memory the loaded indexes hold (each as of its last use)."""
        return self._total

    def trim(self) -> None:
        """Evict the least recently used indexes until the rest fit the budget (keeping the
        most recently used one whatever its size)."""
        while len(self) > 1 and self._total > self.budget_bytes:
            self.popitem(last=False)

    def _account(self, key: _Key, index: ScopeVectors) -> None:
        size = index.nbytes
        self._total += size - self._sizes.get(key, 0)
        self._sizes[key] = size

    def _forget(self, key: _Key) -> None:
        self._total -= self._sizes.pop(key, 0)
