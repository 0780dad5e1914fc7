"""The MCP server, driven by the official SDK's own client: over stdio and streamable HTTP."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")
pytest.importorskip("fastapi")

import anyio
import httpx2
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from engram import AsyncMemory, HashingEmbedder
from engram.auth import create_key
from engram.server import create_app
from engram.server.mcp_agents import AGENT_TOOLS

GRAPH_TOOLS = {  # the reference MCP memory server's names (engram.server.mcp_graph)
    "create_entities", "create_relations", "add_observations", "delete_entities", "delete_observations",
    "delete_relations", "read_graph", "search_nodes", "open_nodes",
}
TOOLS = {"remember", "recall", "context", "facts", "profile", "forget"} | GRAPH_TOOLS | AGENT_TOOLS


async def exercise(client: Client) -> None:
    """The same conversation through every tool, with checks on what comes back."""
    listed = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(listed) == TOOLS
    for tool in listed.values():
        assert tool.description and len(tool.description) > 80  # written for an agent
        assert tool.input_schema["properties"]["user_id"]["description"]
    for name in ("recall", "context", "facts", "profile"):
        assert listed[name].annotations and listed[name].annotations.read_only_hint, name
    assert listed["forget"].annotations and listed["forget"].annotations.destructive_hint
    assert {"ids", "session_id"} <= set(listed["forget"].input_schema["properties"])

    said = await client.call_tool("remember", {"user_id": "ana", "session_id": "s1",
                                               "content": "I am allergic to peanuts", "timestamp": "2024-03-01"})
    assert not said.is_error
    turn_id = said.structured_content["ids"][0]  # type: ignore[index]
    await client.call_tool("remember", {"user_id": "ana", "session_id": "s1", "role": "assistant",
                                        "content": "Noted: no peanuts in the recipes."})
    again = await client.call_tool("remember", {"user_id": "ana", "session_id": "s1",
                                                "content": "I am allergic to peanuts", "timestamp": "2024-03-01"})
    assert again.structured_content == {"ids": [turn_id], "added": 0}

    found = await client.call_tool("recall", {"user_id": "ana", "query": "peanut allergy", "k": 2})
    memories = found.structured_content["memories"]  # type: ignore[index]
    (mine,) = [m for m in memories if m["id"] == turn_id]  # the hashing test embedder ranks loosely
    assert mine["timestamp"].startswith("2024-03-01")

    block = await client.call_tool("context", {"user_id": "ana", "query": "what can she eat?", "session_id": "s1"})
    content: dict[str, Any] = block.structured_content  # type: ignore[assignment]
    assert "peanuts" in content["text"] and turn_id in content["citations"].values()

    bad = await client.call_tool("recall", {"user_id": "ana\u0007", "query": "x"})
    assert bad.is_error and "validation_error" in bad.content[0].text  # type: ignore[union-attr]
    bad_type = await client.call_tool("recall", {"user_id": "ana", "query": "x", "k": 500})
    assert bad_type.is_error

    gone: dict[str, Any] = (await client.call_tool("forget", {"user_id": "ana", "ids": [turn_id, "t_unknown"]})
                            ).structured_content  # type: ignore[assignment]
    assert gone["turn_ids"] == [turn_id] and gone["fact_ids"] == [] and gone["sessions"] == ["s1"]
    after = await client.call_tool("recall", {"user_id": "ana", "query": "peanut allergy"})
    assert turn_id not in {m["id"] for m in after.structured_content["memories"]}  # type: ignore[index]

    await lifecycle(client)


async def lifecycle(client: Client) -> None:
    """Ana moves: facts and profile now and then; forgetting the move brings the old city back."""
    await client.call_tool("remember", {"user_id": "ana", "session_id": "s2", "content": "I live in Lisbon.",
                                        "timestamp": "2024-01-05T10:00:00Z"})
    moved = await client.call_tool("remember", {"user_id": "ana", "session_id": "s3", "timestamp": "2024-06-01",
                                                "content": "I moved to Porto last week."})
    move_id = moved.structured_content["ids"][0]  # type: ignore[index]

    async def cities(**args: Any) -> list[str]:
        result = await client.call_tool("facts", {"user_id": "ana", **args})
        assert not result.is_error, result.content
        items = result.structured_content["facts"]  # type: ignore[index]
        return [fact["value"] for fact in items if fact["attribute"] == "lives_in"]

    assert await cities() == ["Porto"]
    assert await cities(as_of="2024-03-01") == ["Lisbon"]
    facts = (await client.call_tool("facts", {"user_id": "ana"})).structured_content["facts"]  # type: ignore[index]
    porto = next(fact for fact in facts if fact["value"] == "Porto")
    assert porto["source_turn_ids"] == [move_id] and porto["valid_to"] is None and "Porto" in porto["statement"]

    profile = (await client.call_tool("profile", {"user_id": "ana"})).structured_content
    (person,) = profile["people"]  # type: ignore[index]
    assert [line["fact_id"] for line in person["sections"]["location"]] == [porto["id"]]
    then = (await client.call_tool("profile", {"user_id": "ana", "as_of": "2024-03-01"})).structured_content
    assert "Lisbon" in then["people"][0]["sections"]["location"][0]["statement"]  # type: ignore[index]

    forgot = await client.call_tool("forget", {"user_id": "ana", "ids": [move_id]})
    assert forgot.structured_content["turn_ids"] == [move_id]  # type: ignore[index]
    assert porto["id"] in forgot.structured_content["fact_ids"]  # type: ignore[index]
    assert await cities() == ["Lisbon"]  # the move is forgotten

    vague = await client.call_tool("forget", {"user_id": "ana"})
    assert vague.is_error and "give ids or session_id" in vague.content[0].text  # type: ignore[union-attr]
    bad = await client.call_tool("facts", {"user_id": "ana", "as_of": "someday"})
    assert bad.is_error and "validation_error" in bad.content[0].text  # type: ignore[union-attr]
    session = await client.call_tool("forget", {"user_id": "ana", "session_id": "s2"})
    assert session.structured_content["sessions"] == ["s2"] and await cities() == []  # type: ignore[index]


@pytest.mark.slow
def test_stdio_server_spawned_as_a_process(tmp_path: Path) -> None:
    db = tmp_path / "stdio.db"
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "engram.server.mcp", "--db", str(db), "--tenant", "agents"],
        env={**os.environ, "ENGRAM_EMBEDDER": "hashing"},
    )

    async def main() -> None:
        async with Client(params, read_timeout_seconds=60) as client:
            await exercise(client)

    anyio.run(main)
    memory = AsyncMemory(db, embedder=HashingEmbedder(), tenant="agents")
    try:
        assert memory.sync.stats().turns == 1  # one remembered turn left after forget
    finally:
        memory.sync.close()


@asynccontextmanager
async def http_client(app: Any, key: str | None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with (
            httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1", headers=headers) as http,
            Client(streamable_http_client("http://127.0.0.1/mcp", http_client=http)) as client,
        ):
            yield client


def test_streamable_http_with_tenants(tmp_path: Path) -> None:
    memory = AsyncMemory(tmp_path / "http.db", embedder=HashingEmbedder())
    _, key_a = create_key(memory.sync.store, "acme")
    _, key_b = create_key(memory.sync.store, "globex")

    async def main() -> None:
        async with http_client(create_app(memory, require_keys=True), key_a) as client:
            await exercise(client)
        async with http_client(create_app(memory, require_keys=True), key_b) as client:
            found = await client.call_tool("recall", {"user_id": "ana", "query": "peanuts recipes"})
            assert found.structured_content == {"memories": []}  # acme's memories stay acme's

    anyio.run(main)
    assert memory.sync.stats().turns == 0  # nothing landed in the default tenant
    memory.sync.close()


def test_streamable_http_needs_a_key(tmp_path: Path) -> None:
    memory = AsyncMemory(tmp_path / "http.db", embedder=HashingEmbedder())
    create_key(memory.sync.store, "acme")
    app = create_app(memory, require_keys=True)

    async def main() -> None:
        async with app.router.lifespan_context(app):
            transport = httpx2.ASGITransport(app=app)
            async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
                response = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                                           headers={"accept": "application/json, text/event-stream"})
                assert response.status_code == 401
                assert response.json()["error"]["code"] == "unauthorized"

    anyio.run(main)
    memory.sync.close()


def test_every_tool_is_documented() -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "server.md").read_text()
    for tool in TOOLS:
        assert f"| `{tool}` |" in docs, f"MCP tool {tool} is not in docs/server.md"
    assert '"mcpServers"' in docs and '"command": "engram"' in docs
