"""The reference MCP memory server's knowledge graph, kept in Engram.

Agents know the tools of ``modelcontextprotocol/servers``' memory server: entities with a type
and observations, relations between entities, and ``search_nodes`` / ``open_nodes`` /
``read_graph`` to read them. :class:`KnowledgeGraph` gives the same operations, with the same
results, over one user's Engram memory; the MCP server exposes them under the same names
(:mod:`engram.server.mcp_graph`).

How the graph maps onto Engram: every entity, observation and relation is one turn of the
user's session ``memory-graph``, added through :meth:`engram.Memory.add` (so it is searched,
exported and forgotten like any memory) with what it is in its metadata (``graph``:
``entity``, ``observation`` or ``relation``, and the names). An entity's turn reads
``Ana (person)``, an observation's is the observation verbatim, a relation's ``Ana works_at
Acme``. A turn's id derives from what it records, so adding it again stores nothing new.
``search_nodes`` is Engram's hybrid search over those turns (plus the names and types that
contain the query, as the reference server matches), giving back whole entities and the
relations that touch them. Deleting forgets the turns (:meth:`engram.Memory.delete`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engram.engine import Memory
from engram.errors import NotFoundError
from engram.integrations.common import session_turns
from engram.model import Turn
from engram.text.stopwords import STOPWORDS

#: The session that holds a user's graph.
GRAPH_SESSION = "memory-graph"
_SEARCH_K = 50


@dataclass
class Entity:
    """A node: a name, a type and what is known about it."""

    name: str
    entityType: str
    observations: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Relation:
    """A directed, typed edge between two entities (in the active voice: ``works_at``)."""

    from_: str
    to: str
    relationType: str


@dataclass
class Graph:
    """Entities and the relations between them."""

    entities: list[Entity]
    relations: list[Relation]


@dataclass
class _Records:
    """The turns of a graph, by what they record."""

    entities: dict[str, tuple[Entity, Turn]] = field(default_factory=dict)
    observations: dict[tuple[str, str], Turn] = field(default_factory=dict)
    relations: dict[Relation, Turn] = field(default_factory=dict)


class KnowledgeGraph:
    """One user's knowledge graph in an Engram :class:`~engram.Memory`."""

    def __init__(self, memory: Memory, *, user_id: str) -> None:
        self.memory, self.user_id = memory, user_id

    def _records(self) -> _Records:
        records = _Records()
        turns = list(session_turns(self.memory, user_id=self.user_id, session_id=GRAPH_SESSION))
        for turn in turns:
            kind = turn.metadata.get("graph")
            if kind == "entity":
                entity = Entity(turn.metadata["entity"], turn.metadata["entityType"])
                records.entities[entity.name] = (entity, turn)
        for turn in turns:
            kind, meta = turn.metadata.get("graph"), turn.metadata
            if kind == "observation" and meta.get("entity") in records.entities:
                records.entities[meta["entity"]][0].observations.append(turn.content)
                records.observations[(meta["entity"], turn.content)] = turn
            elif kind == "relation":
                records.relations[Relation(meta["from"], meta["to"], meta["relationType"])] = turn
        return records

    def _add(self, records: Iterable[tuple[str, dict[str, Any]]]) -> None:
        messages = [
            {"role": "assistant", "content": text, "id": _record_id(meta, text), "metadata": meta}
            for text, meta in records
        ]
        if messages:
            self.memory.add(messages, user_id=self.user_id, session_id=GRAPH_SESSION)

    def _delete(self, turns: Iterable[Turn]) -> None:
        ids = [turn.id for turn in turns]
        if ids:
            self.memory.delete(ids, user_id=self.user_id)

    # -- the reference server's operations --------------------------------------------------------

    def create_entities(self, entities: Sequence[Entity]) -> list[Entity]:
        """Add the entities whose names are new (and their observations); returns those added."""
        existing = self._records().entities
        new: dict[str, Entity] = {}
        for entity in entities:
            if entity.name not in existing and entity.name not in new:
                new[entity.name] = Entity(entity.name, entity.entityType, _unique(entity.observations))
        self._add(
            [
                record
                for e in new.values()
                for record in [
                    (f"{e.name} ({e.entityType})", {"graph": "entity", "entity": e.name, "entityType": e.entityType}),
                    *((o, {"graph": "observation", "entity": e.name}) for o in e.observations),
                ]
            ]
        )
        return list(new.values())

    def create_relations(self, relations: Sequence[Relation]) -> list[Relation]:
        """Add the relations not yet known; both ends must exist. Returns those added."""
        records = self._records()
        for relation in relations:
            for name in (relation.from_, relation.to):
                if name not in records.entities:
                    raise NotFoundError(f"Entity with name {name} not found")
        new = [r for r in dict.fromkeys(relations) if r not in records.relations]
        self._add(
            (
                f"{r.from_} {r.relationType} {r.to}",
                {"graph": "relation", "from": r.from_, "to": r.to, "relationType": r.relationType},
            )
            for r in new
        )
        return new

    def add_observations(self, observations: Sequence[tuple[str, Sequence[str]]]) -> list[tuple[str, list[str]]]:
        """Add observations to existing entities; returns per entity those that were new."""
        records = self._records()
        added: list[tuple[str, list[str]]] = []
        for name, contents in observations:
            if name not in records.entities:
                raise NotFoundError(f"Entity with name {name} not found")
            known = set(records.entities[name][0].observations)
            added.append((name, [c for c in _unique(contents) if c not in known]))
        self._add((c, {"graph": "observation", "entity": name}) for name, new in added for c in new)
        return added

    def delete_entities(self, names: Sequence[str]) -> tuple[list[str], list[str]]:
        """Delete entities with their observations and relations; returns (deleted, not found)."""
        records = self._records()
        deleted = [n for n in dict.fromkeys(names) if n in records.entities]
        gone = set(deleted)
        self._delete(
            [
                *(records.entities[n][1] for n in deleted),
                *(t for (n, _), t in records.observations.items() if n in gone),
                *(t for r, t in records.relations.items() if r.from_ in gone or r.to in gone),
            ]
        )
        return deleted, [n for n in names if n not in gone]

    def delete_observations(self, deletions: Sequence[tuple[str, Sequence[str]]]) -> tuple[int, list[str]]:
        """Delete observations; returns how many and the entities that do not exist."""
        records = self._records()
        doomed = {
            records.observations[(name, text)].id: records.observations[(name, text)]
            for name, texts in deletions
            for text in texts
            if (name, text) in records.observations
        }
        self._delete(doomed.values())
        return len(doomed), [name for name, _ in deletions if name not in records.entities]

    def delete_relations(self, relations: Sequence[Relation]) -> int:
        """Delete relations; returns how many there were."""
        records = self._records()
        doomed = [records.relations[r] for r in dict.fromkeys(relations) if r in records.relations]
        self._delete(doomed)
        return len(doomed)

    def read_graph(self) -> Graph:
        """The whole graph."""
        records = self._records()
        return Graph([e for e, _ in records.entities.values()], list(records.relations))

    def open_nodes(self, names: Sequence[str]) -> Graph:
        """The named entities and every relation that touches one of them."""
        return _subgraph(self.read_graph(), set(names))

    def search_nodes(self, query: str) -> Graph:
        """Entities whose name, type or observations match ``query``, with their relations.

        Engram's hybrid search ranks the graph's turns, and those sharing a word stem with the
        query (``allergy`` finds ``allergic``) give their entities, best first; then come the
        entities whose name or type contains the query, as in the reference server.
        """
        graph = self.read_graph()
        result = self.memory.search(
            query, user_id=self.user_id, k=_SEARCH_K, filters={"session_id": GRAPH_SESSION}
        )
        wanted: dict[str, None] = {}
        for hit in result.hits:  # vectors rank every turn: keep those that share a word stem
            if hit.turn.metadata.get("graph") in ("entity", "observation") and _shares_a_stem(hit.turn.content, query):
                wanted[hit.turn.metadata["entity"]] = None
        needle = query.lower()
        for entity in graph.entities:
            if needle in entity.name.lower() or needle in entity.entityType.lower():
                wanted[entity.name] = None
        return _subgraph(graph, wanted)


def _subgraph(graph: Graph, names: Iterable[str]) -> Graph:
    order = list(dict.fromkeys(names))
    by_name = {e.name: e for e in graph.entities}
    chosen = [by_name[n] for n in order if n in by_name]
    picked = {e.name for e in chosen}
    return Graph(chosen, [r for r in graph.relations if r.from_ in picked or r.to in picked])


def _stems(text: str) -> set[str]:
    words = "".join(ch if ch.isalnum() else " " for ch in text.lower()).split()
    return {w[:5] for w in words if len(w) > 2 and w not in STOPWORDS}


def _shares_a_stem(text: str, query: str) -> bool:
    return bool(_stems(text) & _stems(query))


def _unique(texts: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(texts))


def _record_id(meta: dict[str, Any], text: str) -> str:
    """A message id for a graph record: the same record always gets the same turn."""
    digest = hashlib.sha256(json.dumps([meta, text], sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return "g_" + digest.hexdigest()[:40]


__all__ = ["GRAPH_SESSION", "Entity", "Graph", "KnowledgeGraph", "Relation"]
