"""LangGraph's long-term memory store on Engram: ``EngramStore``, a ``BaseStore``.

Install with ``pip install 'engram-recall[langgraph]'``.

How LangGraph's model maps onto Engram's:

* **Namespaces → scopes.** The label at ``user_label`` (default the first) names the Engram
  user; the label at ``agent_label`` (if set) the agent; the other labels, joined with ``.``
  (a character LangGraph forbids in labels), name the session: ``("ana", "memories")`` is user
  ``ana``, session ``langgraph.memories``. The tenant is the memory's.
* **Items → turns.** ``put`` stores the value as one turn whose text is the value's strings
  (or the fields ``index`` names, with LangGraph's path syntax); the value itself, its key,
  namespace and creation time go in the turn's metadata (so a value is limited to Engram's
  16 KiB of metadata). The turn's id derives from the key, so ``get`` is one lookup. A put
  over an existing key deletes the old turn and adds the new one (Engram's turns are
  immutable); ``delete`` deletes it everywhere (:meth:`engram.Memory.delete`).
* **Search** with a ``query`` is Engram's hybrid retrieval (full text + vectors, fused),
  restricted to the namespace prefix's sessions, with ``score`` its fused score; without a
  query it lists the items, most recently updated first. ``filter`` compares the value's
  top-level keys (exact values, or ``$eq``, ``$ne``, ``$gt``, ``$gte``, ``$lt``, ``$lte``),
  applied to the best ``(offset + limit) * 4`` hits.
* Items are stored as the assistant's (unnamed) turns, so fact extraction, which reads what
  people say, leaves them alone. TTLs are not supported (``supports_ttl`` is false).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from engram.aio import AsyncMemory
from engram.engine import Memory
from engram.errors import MissingDependencyError, NotFoundError
from engram.integrations.common import next_times, session_turns, sync_memory
from engram.model import Turn
from engram.model.limits import MAX_PAGE_SIZE, MAX_SEARCH_K
from engram.model.results import SessionSummary
from engram.model.scope import Scope
from engram.model.turn import turn_id

try:
    from langgraph.store.base import (
        BaseStore,
        GetOp,
        InvalidNamespaceError,
        Item,
        ListNamespacesOp,
        MatchCondition,
        Op,
        PutOp,
        Result,
        SearchItem,
        SearchOp,
    )
    from langgraph.store.base.embed import get_text_at_path
except ImportError as exc:  # pragma: no cover - exercised by the no-extras CI run
    raise MissingDependencyError("engram.integrations.langgraph", "langgraph", "langgraph") from exc

#: Sessions that hold LangGraph items start with this label.
SESSION_ROOT = "langgraph"
_META = "langgraph"  # the metadata key holding an item's namespace, key, value and creation time
_INDEXED = "langgraph_indexed"  # whether a query search may find the item


class EngramStore(BaseStore):
    """A LangGraph ``BaseStore`` on an Engram :class:`~engram.Memory` (or ``AsyncMemory``).

    Args:
        memory: the memory to keep items in (its tenant is the store's).
        user_label: which namespace label names the Engram user.
        agent_label: which label names the agent, if any.
        index: the value fields to search by default (LangGraph paths such as ``"text"`` or
            ``"notes[*].body"``); default every string in the value.

    Example:
        >>> store = EngramStore(Memory("agent.db"))                          # doctest: +SKIP
        >>> store.put(("ana", "memories"), "m1", {"text": "Ana is vegetarian"})  # doctest: +SKIP
        >>> store.search(("ana", "memories"), query="what does Ana eat?")  # doctest: +SKIP
    """

    supports_ttl = False

    def __init__(
        self,
        memory: Memory | AsyncMemory,
        *,
        user_label: int = 0,
        agent_label: int | None = None,
        index: list[str] | None = None,
    ) -> None:
        if user_label < 0 or (agent_label is not None and (agent_label < 0 or agent_label == user_label)):
            raise ValueError("user_label and agent_label must be distinct, non-negative positions")
        self.memory = sync_memory(memory)
        self.user_label, self.agent_label = user_label, agent_label
        self.index = index

    # -- the BaseStore contract --------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run the operations in order; results match them one for one."""
        results: list[Result] = []
        for op in ops:
            if isinstance(op, GetOp):
                results.append(self._get(op.namespace, op.key))
            elif isinstance(op, PutOp):
                self._put(op)
                results.append(None)
            elif isinstance(op, SearchOp):
                results.append(self._search(op))
            elif isinstance(op, ListNamespacesOp):
                results.append(self._list_namespaces(op))
            else:
                raise TypeError(f"unknown store operation {type(op).__name__}")
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """:meth:`batch` in a worker thread (the memory does blocking I/O)."""
        return await asyncio.to_thread(self.batch, list(ops))

    # -- namespaces <-> scopes -------------------------------------------------------------------

    def _split(self, namespace: tuple[str, ...]) -> tuple[str | None, str | None, tuple[str, ...]]:
        """User, agent (``None`` when the namespace is too short to say) and the other labels."""
        special = {self.user_label, self.agent_label}
        user = namespace[self.user_label] if len(namespace) > self.user_label else None
        agent = None
        if self.agent_label is not None and len(namespace) > self.agent_label:
            agent = namespace[self.agent_label]
        return user, agent, tuple(label for i, label in enumerate(namespace) if i not in special)

    def _scope(self, namespace: tuple[str, ...]) -> tuple[str, str | None, str]:
        user, agent, rest = self._split(namespace)
        if user is None or (self.agent_label is not None and agent is None):
            raise InvalidNamespaceError(
                f"namespace {namespace} is too short: label {self.user_label} names the user"
                + (f" and label {self.agent_label} the agent" if self.agent_label is not None else "")
            )
        return user, agent, ".".join((SESSION_ROOT, *rest))

    def _namespace(self, user: str, agent: str | None, session: str) -> tuple[str, ...]:
        labels = list(session.split(".")[1:])
        for position, label in sorted([(self.user_label, user), (self.agent_label, agent)], key=_position):
            if position is not None and label is not None:
                labels.insert(position, label)
        return tuple(labels)

    def _turn_id(self, namespace: tuple[str, ...], key: str) -> tuple[str, str | None, str, str]:
        user, agent, session = self._scope(namespace)
        caller_id = _caller_id(key)
        return user, agent, session, turn_id(Scope(self.memory.tenant, user, agent, session), "id", caller_id)

    # -- operations ------------------------------------------------------------------------------

    def _get(self, namespace: tuple[str, ...], key: str) -> Item | None:
        user, agent, _session, tid = self._turn_id(namespace, key)
        try:
            turn = self.memory.get(tid, user_id=user, agent_id=agent)
        except NotFoundError:
            return None
        found = _item(turn)
        return Item(
            value=found.value,
            key=found.key,
            namespace=found.namespace,
            created_at=found.created_at,
            updated_at=found.updated_at,
        )

    def _put(self, op: PutOp) -> None:
        user, agent, session, tid = self._turn_id(op.namespace, op.key)
        old = self._get(op.namespace, op.key)
        if old is not None:
            self.memory.delete([tid], user_id=user)
        if op.value is None:
            return
        value = dict(op.value)
        fields = self.index if op.index is None else op.index
        text = _text(value, fields or None) if fields is not False else op.key
        (at,) = next_times(None, 1)
        record = {
            "namespace": list(op.namespace),
            "key": op.key,
            "value": value,
            "created_at": (old.created_at if old else at).isoformat(),
        }
        self.memory.add(
            {
                "role": "assistant",
                "content": text,
                "id": _caller_id(op.key),
                "metadata": {_META: record, _INDEXED: fields is not False},
            },
            user_id=user,
            agent_id=agent,
            session_id=session,
            timestamp=at,
        )

    def _search(self, op: SearchOp) -> list[SearchItem]:
        found: list[SearchItem] = []
        wanted = op.offset + op.limit
        for user, agent, summaries in self._sessions(op.namespace_prefix):
            sessions = [s.session_id for s in summaries]
            if op.query:
                result = self.memory.search(
                    op.query,
                    user_id=user,
                    agent_id=agent,
                    k=min(MAX_SEARCH_K, wanted * 4),
                    filters={"session_ids": sessions, "metadata": {_INDEXED: True}},
                )
                found += [_item(hit.turn, hit.score) for hit in result.hits]
            else:
                for session in sessions:
                    found += [_item(t) for t in session_turns(self.memory, user_id=user, session_id=session)]
        found = [item for item in found if _matches(item.value, op.filter or {})]
        if op.query:
            found.sort(key=lambda item: -(item.score or 0.0))
        else:
            found.sort(key=lambda item: item.updated_at, reverse=True)
        return found[op.offset : wanted]

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        spaces: set[tuple[str, ...]] = set()
        for user, _agent, sessions in self._sessions(()):
            for session in sessions:
                agents: list[str | None] = list(session.agent_ids) if self.agent_label is not None else [None]
                for agent in agents:
                    namespace = self._namespace(user, agent, session.session_id)
                    if all(_does_match(condition, namespace) for condition in op.match_conditions or ()):
                        spaces.add(namespace[: op.max_depth] if op.max_depth is not None else namespace)
        return sorted(spaces)[op.offset : op.offset + op.limit]

    def _sessions(self, prefix: tuple[str, ...]) -> Iterator[tuple[str, str | None, list[SessionSummary]]]:
        """For each user the prefix may cover: the user, agent and the sessions under the prefix."""
        user, agent, rest = self._split(prefix)
        users = [user] if user is not None else list(self._all_users())
        for name in users:
            sessions = [
                s
                for s in self._all_sessions(name)
                if tuple(s.session_id.split("."))[: len(rest) + 1] == (SESSION_ROOT, *rest)
                and (agent is None or agent in s.agent_ids)
            ]
            if sessions:
                yield name, agent, sessions

    def _all_users(self) -> Iterator[str]:
        after: str | None = None
        while True:
            page = self.memory.users(after=after, limit=MAX_PAGE_SIZE)
            yield from (u.user_id for u in page)
            if len(page) < MAX_PAGE_SIZE:
                return
            after = page[-1].user_id

    def _all_sessions(self, user: str) -> list[SessionSummary]:
        found: list[SessionSummary] = []
        after: str | None = None
        while True:
            page = self.memory.sessions(user_id=user, after=after, limit=MAX_PAGE_SIZE)
            found += page
            if len(page) < MAX_PAGE_SIZE:
                return found
            after = page[-1].session_id


def _position(pair: tuple[int | None, str | None]) -> int:
    return pair[0] if pair[0] is not None else -1


def _caller_id(key: str) -> str:
    """A message id for an item key: fixed length, whatever the key's characters."""
    return "lg_" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]


def _item(turn: Turn, score: float | None = None) -> SearchItem:
    record = turn.metadata[_META]
    return SearchItem(
        namespace=tuple(record["namespace"]),
        key=record["key"],
        value=record["value"],
        created_at=datetime.fromisoformat(record["created_at"]),
        updated_at=turn.timestamp,
        score=score,
    )


def _text(value: Mapping[str, Any], fields: list[str] | None) -> str:
    """The searchable text of a value: the strings at ``fields``, or every string in it."""
    if fields is not None and fields != ["$"]:
        texts = [t for path in fields for t in get_text_at_path(value, path)]
    else:
        texts = list(_strings(value))
    text = "\n".join(t for t in texts if t.strip())
    return text or json.dumps(value, ensure_ascii=False, sort_keys=True)


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for inner in value.values():
            yield from _strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner)


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "$eq": lambda a, b: a == b,
    "$ne": lambda a, b: a != b,
    "$gt": lambda a, b: a is not None and a > b,
    "$gte": lambda a, b: a is not None and a >= b,
    "$lt": lambda a, b: a is not None and a < b,
    "$lte": lambda a, b: a is not None and a <= b,
}


def _matches(value: Mapping[str, Any], conditions: Mapping[str, Any]) -> bool:
    """Whether a value meets a LangGraph filter (exact values or comparison operators)."""
    for key, wanted in conditions.items():
        have = value.get(key)
        if isinstance(wanted, Mapping) and wanted and all(str(op).startswith("$") for op in wanted):
            for op, operand in wanted.items():
                if op not in _OPERATORS:
                    raise ValueError(f"unsupported filter operator {op!r}; use one of {', '.join(_OPERATORS)}")
                try:
                    if not _OPERATORS[op](have, operand):
                        return False
                except TypeError:
                    return False
        elif isinstance(wanted, Mapping):
            if not isinstance(have, Mapping) or not _matches(have, wanted):
                return False
        elif have != wanted:
            return False
    return True


def _does_match(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    """A ``prefix`` / ``suffix`` match condition, ``*`` matching any one label."""
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    labels = namespace[: len(path)] if condition.match_type == "prefix" else namespace[len(namespace) - len(path) :]
    return all(p == "*" or p == label for p, label in zip(path, labels, strict=True))


__all__ = ["EngramStore"]
