"""The reference MCP memory server's tools on Engram: same names, same shapes, same answers."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("mcp")

import anyio
from mcp import Client

from engram import AsyncMemory, HashingEmbedder
from engram.integrations.knowledge_graph import GRAPH_SESSION
from engram.server.mcp import build_server


@pytest.fixture
def memory(tmp_path):
    mem = AsyncMemory(tmp_path / "graph.db", embedder=HashingEmbedder())
    yield mem
    mem.sync.close()


def serve(memory: AsyncMemory) -> Client:
    async def resolve(_ctx: Any) -> AsyncMemory:
        return memory

    return Client(build_server(resolve))


async def call(client: Client, tool: str, **arguments: Any) -> Any:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return result.structured_content


ANA = {"name": "Ana", "entityType": "person", "observations": ["Is allergic to peanuts", "Lives in Porto"]}
ACME = {"name": "Acme", "entityType": "organization", "observations": []}
WORKS = {"from": "Ana", "to": "Acme", "relationType": "works_at"}


def test_the_reference_tools_build_and_read_a_graph(memory):
    async def main() -> None:
        async with serve(memory) as client:
            listed = {t.name: t for t in (await client.list_tools()).tools}
            assert listed["read_graph"].annotations.read_only_hint
            assert listed["delete_entities"].annotations.destructive_hint
            assert set(listed["create_relations"].input_schema["$defs"]["RelationModel"]["properties"]) == {
                "from", "to", "relationType",
            }
            created = await call(client, "create_entities", entities=[ANA, ACME, {**ANA, "observations": []}])
            assert created == {"entities": [ANA, ACME]}  # a name that exists is skipped
            assert await call(client, "create_relations", relations=[WORKS, WORKS]) == {"relations": [WORKS]}
            added = await call(client, "add_observations", observations=[
                {"entityName": "Acme", "contents": ["Makes rockets"]},
                {"entityName": "Ana", "contents": ["Lives in Porto", "Plays the cello"]},
            ])
            assert added == {"results": [
                {"entityName": "Acme", "addedObservations": ["Makes rockets"]},
                {"entityName": "Ana", "addedObservations": ["Plays the cello"]},
            ]}
            ana = {**ANA, "observations": [*ANA["observations"], "Plays the cello"]}
            acme = {**ACME, "observations": ["Makes rockets"]}
            assert await call(client, "read_graph") == {"entities": [ana, acme], "relations": [WORKS]}
            assert await call(client, "open_nodes", names=["Acme"]) == {"entities": [acme], "relations": [WORKS]}
            assert await call(client, "search_nodes", query="peanut allergy") == {"entities": [ana], "relations": [WORKS]}
            assert await call(client, "search_nodes", query="organization") == {"entities": [acme], "relations": [WORKS]}
            assert await call(client, "search_nodes", query="zebra") == {"entities": [], "relations": []}
            # another user's graph is another graph
            assert await call(client, "read_graph", user_id="bob") == {"entities": [], "relations": []}

            missing = await client.call_tool("create_relations", {"relations": [{**WORKS, "to": "Nobody"}]})
            assert missing.is_error and "not_found: Entity with name Nobody not found" in missing.content[0].text
            bad_user = await client.call_tool("read_graph", {"user_id": "a\u0007"})
            assert bad_user.is_error and "validation_error" in bad_user.content[0].text

            gone = await call(client, "delete_observations", deletions=[{"entityName": "Ana", "observations": ["Plays the cello", "never said"]}])
            assert gone == {"success": True, "message": "Deleted 1 of 2 observations."}
            assert await call(client, "delete_relations", relations=[WORKS]) == {"success": True, "message": "Relations deleted successfully"}
            assert await call(client, "delete_entities", entityNames=["Acme", "Zed"]) == {
                "success": True, "message": "Deleted 1 of 2 entities. Not found: Zed",
            }
            assert await call(client, "read_graph") == {"entities": [ANA], "relations": []}

    anyio.run(main)
    # the graph is ordinary memory: turns of one session, found by Engram's own search
    turns = memory.sync.list(user_id="default", session_id=GRAPH_SESSION).items
    assert [t.content for t in turns] == ["Ana (person)", "Is allergic to peanuts", "Lives in Porto"]
    assert memory.sync.search("peanuts", user_id="default").hits[0].turn.content == "Is allergic to peanuts"


def test_deleting_an_entity_takes_its_relations_and_observations(memory):
    async def main() -> dict[str, Any]:
        async with serve(memory) as client:
            await call(client, "create_entities", entities=[ANA, ACME])
            await call(client, "create_relations", relations=[WORKS])
            await call(client, "delete_entities", entityNames=["Ana"])
            return await call(client, "read_graph")

    assert anyio.run(main) == {"entities": [ACME], "relations": []}
    assert memory.sync.stats(user_id="default").turns == 1


def test_the_client_configs_in_the_docs_are_valid_and_run_engram_mcp():
    import json
    import re
    import shlex

    from engram.cli import cli
    from engram.server.cli import mcp_command
    from tests.conftest import REPO

    docs = (REPO / "docs" / "server.md").read_text(encoding="utf-8")
    section = docs.split("### Client configurations")[1].split("## The inspector")[0]
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", section, re.S)]
    servers = [config for block in blocks for config in (block.get("mcpServers") or block["servers"]).values()]
    stdio = [s for s in servers if "command" in s]
    assert len(stdio) >= 3 and len(servers) - len(stdio) >= 2  # desktop/IDE clients, and over HTTP
    for config in stdio:
        assert config["command"] == "engram" and config["args"][0] == "mcp"
        mcp_command.make_context("mcp", list(config["args"][1:]))  # the options exist and parse
    for config in servers:
        if "url" in config:
            assert config["url"].endswith("/mcp") and "Authorization" in config["headers"]
    (claude_code,) = [line for line in section.splitlines() if "claude mcp add" in line]
    command = shlex.split(claude_code.strip())
    assert command[command.index("--") + 1 : command.index("--") + 3] == ["engram", "mcp"]
    assert "mcp" in cli.list_commands(None)  # type: ignore[arg-type]
