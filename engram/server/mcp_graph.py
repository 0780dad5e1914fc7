"""The reference MCP memory server's tools, on Engram: the names and shapes agents already know.

``create_entities``, ``create_relations``, ``add_observations``, ``delete_entities``,
``delete_observations``, ``delete_relations``, ``read_graph``, ``search_nodes`` and
``open_nodes`` take and return what ``modelcontextprotocol/servers``' memory server does, plus
an optional ``user_id`` (the reference server keeps one graph; here each user has one, and
``default`` is the one an agent gets when it names none). Each tool makes one
:class:`~engram.integrations.knowledge_graph.KnowledgeGraph` call; see that module for how
the graph maps onto Engram's turns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from engram.aio import AsyncMemory
from engram.integrations.knowledge_graph import Entity, Graph, KnowledgeGraph, Relation
from engram.model.limits import MAX_ID_CHARS

try:
    from mcp.server.mcpserver import Context, MCPServer
    from mcp.types import ToolAnnotations
except ImportError as exc:  # pragma: no cover - exercised by the no-extras CI run
    from engram.errors import MissingDependencyError

    raise MissingDependencyError("the MCP server", "mcp", "mcp") from exc

#: The user whose graph the tools use when a call names none.
DEFAULT_GRAPH_USER = "default"
T = TypeVar("T")

GraphUser = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_ID_CHARS,
        description="Whose knowledge graph (each user has one; omit for the default graph).",
    ),
]


class EntityModel(BaseModel):
    name: str = Field(min_length=1, description="The name of the entity")
    entityType: str = Field(min_length=1, description="The type of the entity")
    observations: list[str] = Field(description="An array of observation contents associated with the entity")


class RelationModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    from_: str = Field(alias="from", min_length=1, description="The name of the entity where the relation starts")
    to: str = Field(min_length=1, description="The name of the entity where the relation ends")
    relationType: str = Field(min_length=1, description="The type of the relation")


class ObservationsModel(BaseModel):
    entityName: str = Field(description="The name of the entity to add the observations to")
    contents: list[str] = Field(description="An array of observation contents to add")


class DeletionModel(BaseModel):
    entityName: str = Field(description="The name of the entity containing the observations")
    observations: list[str] = Field(description="An array of observations to delete")


class GraphModel(BaseModel):
    entities: list[EntityModel]
    relations: list[RelationModel]


class CreatedEntities(BaseModel):
    entities: list[EntityModel]


class CreatedRelations(BaseModel):
    relations: list[RelationModel]


class AddedObservations(BaseModel):
    entityName: str
    addedObservations: list[str]


class ObservationResults(BaseModel):
    results: list[AddedObservations]


class Done(BaseModel):
    success: bool
    message: str


def _relation(model: RelationModel) -> Relation:
    return Relation(model.from_, model.to, model.relationType)


def _graph(graph: Graph) -> GraphModel:
    return GraphModel(
        entities=[EntityModel(name=e.name, entityType=e.entityType, observations=e.observations) for e in graph.entities],
        relations=[RelationModel.model_validate({"from": r.from_, "to": r.to, "relationType": r.relationType}) for r in graph.relations],
    )


def register_graph_tools(
    server: MCPServer,
    resolve: Callable[[Context], Awaitable[AsyncMemory]],
    tool_errors: Callable[[], Any],
) -> None:
    """Add the reference memory server's tools to ``server``."""
    write = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
    delete = ToolAnnotations(destructive_hint=True, idempotent_hint=True, open_world_hint=False)
    read = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)

    async def run(ctx: Context, user_id: str, call: Callable[[KnowledgeGraph], T]) -> T:
        memory = await resolve(ctx)
        with tool_errors():
            return await asyncio.to_thread(call, KnowledgeGraph(memory.sync, user_id=user_id))

    @server.tool(annotations=write)
    async def create_entities(
        ctx: Context, entities: list[EntityModel], user_id: GraphUser = DEFAULT_GRAPH_USER
    ) -> CreatedEntities:
        """Create multiple new entities in the knowledge graph (a person, a place, a project), each with its observations.

        Entities whose name already exists are left as they are; returns the entities created.
        """
        new = [Entity(e.name, e.entityType, e.observations) for e in entities]
        created = await run(ctx, user_id, lambda kg: kg.create_entities(new))
        return CreatedEntities(entities=_graph(Graph(created, [])).entities)

    @server.tool(annotations=write)
    async def create_relations(
        ctx: Context, relations: list[RelationModel], user_id: GraphUser = DEFAULT_GRAPH_USER
    ) -> CreatedRelations:
        """Create multiple new relations between entities in the knowledge graph. Relations should be in active voice.

        Both entities must exist; relations already known are skipped. Returns those created.
        """
        wanted = [_relation(r) for r in relations]
        created = await run(ctx, user_id, lambda kg: kg.create_relations(wanted))
        return CreatedRelations(relations=_graph(Graph([], created)).relations)

    @server.tool(annotations=write)
    async def add_observations(
        ctx: Context, observations: list[ObservationsModel], user_id: GraphUser = DEFAULT_GRAPH_USER
    ) -> ObservationResults:
        """Add new observations (facts, in plain sentences) to existing entities in the knowledge graph.

        Returns, per entity, the observations that were new.
        """
        wanted = [(o.entityName, o.contents) for o in observations]
        added = await run(ctx, user_id, lambda kg: kg.add_observations(wanted))
        return ObservationResults(
            results=[AddedObservations(entityName=name, addedObservations=new) for name, new in added]
        )

    @server.tool(annotations=delete)
    async def delete_entities(
        ctx: Context,
        entityNames: Annotated[list[str], Field(description="An array of entity names to delete")],
        user_id: GraphUser = DEFAULT_GRAPH_USER,
    ) -> Done:
        """Delete multiple entities and their associated relations and observations from the knowledge graph, for good."""
        deleted, missing = await run(ctx, user_id, lambda kg: kg.delete_entities(entityNames))
        message = (
            "Entities deleted successfully"
            if not missing
            else f"Deleted {len(deleted)} of {len(entityNames)} entities. Not found: {', '.join(missing)}"
        )
        return Done(success=True, message=message)

    @server.tool(annotations=delete)
    async def delete_observations(
        ctx: Context, deletions: list[DeletionModel], user_id: GraphUser = DEFAULT_GRAPH_USER
    ) -> Done:
        """Delete specific observations from entities in the knowledge graph, for good (the entities stay)."""
        wanted = [(d.entityName, d.observations) for d in deletions]
        count, missing = await run(ctx, user_id, lambda kg: kg.delete_observations(wanted))
        requested = sum(len(d.observations) for d in deletions)
        message = "Observations deleted successfully" if count == requested else (
            f"Deleted {count} of {requested} observations."
            + (f" Entities not found: {', '.join(missing)}" if missing else "")
        )
        return Done(success=True, message=message)

    @server.tool(annotations=delete)
    async def delete_relations(
        ctx: Context,
        relations: Annotated[list[RelationModel], Field(description="An array of relations to delete")],
        user_id: GraphUser = DEFAULT_GRAPH_USER,
    ) -> Done:
        """Delete multiple relations from the knowledge graph, for good (the entities stay)."""
        wanted = [_relation(r) for r in relations]
        count = await run(ctx, user_id, lambda kg: kg.delete_relations(wanted))
        message = "Relations deleted successfully" if count == len(relations) else (
            f"Deleted {count} of {len(relations)} relations. The rest matched nothing."
        )
        return Done(success=True, message=message)

    @server.tool(annotations=read)
    async def read_graph(ctx: Context, user_id: GraphUser = DEFAULT_GRAPH_USER) -> GraphModel:
        """Read the entire knowledge graph: every entity with its observations, and every relation."""
        return _graph(await run(ctx, user_id, lambda kg: kg.read_graph()))

    @server.tool(annotations=read)
    async def search_nodes(
        ctx: Context,
        query: Annotated[
            str,
            Field(
                min_length=1,
                max_length=2048,
                description="The search query to match against entity names, types, and observation content",
            ),
        ],
        user_id: GraphUser = DEFAULT_GRAPH_USER,
    ) -> GraphModel:
        """Search for nodes in the knowledge graph based on a query, with Engram's full-text and semantic search.

        Returns the matching entities (best first) and the relations that touch them.
        """
        return _graph(await run(ctx, user_id, lambda kg: kg.search_nodes(query)))

    @server.tool(annotations=read)
    async def open_nodes(
        ctx: Context,
        names: Annotated[list[str], Field(description="An array of entity names to retrieve")],
        user_id: GraphUser = DEFAULT_GRAPH_USER,
    ) -> GraphModel:
        """Open specific nodes in the knowledge graph by their names, with every relation that touches them."""
        return _graph(await run(ctx, user_id, lambda kg: kg.open_nodes(names)))


__all__ = ["DEFAULT_GRAPH_USER", "register_graph_tools"]
