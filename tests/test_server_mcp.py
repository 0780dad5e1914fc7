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

TOOLS = {"remember", "recall", "context", "forget"}


async def exercise(client: Client) -> None:
    """The same conversation through every tool, with checks on what comes back."""
    listed = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(listed) == TOOLS
    for tool in listed.values():
        assert tool.description and len(tool.description) > 80  # written for an agent
        assert tool.input_schema["properties"]["user_id"]["description"]
    assert listed["recall"].annotations and listed["recall"].annotations.read_only_hint
    assert listed["forget"].annotations and listed["forget"].annotations.destructive_hint

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
    assert memories[0]["id"] == turn_id and memories[0]["timestamp"].startswith("2024-03-01")

    block = await client.call_tool("context", {"user_id": "ana", "query": "what can she eat?", "session_id": "s1"})
    content: dict[str, Any] = block.structured_content  # type: ignore[assignment]
    assert "peanuts" in content["text"] and turn_id in content["citations"].values()

    bad = await client.call_tool("recall", {"user_id": "ana\u0007", "query": "x"})
    assert bad.is_error and "validation_error" in bad.content[0].text  # type: ignore[union-attr]
    bad_type = await client.call_tool("recall", {"user_id": "ana", "query": "x", "k": 500})
    assert bad_type.is_error

    gone = await client.call_tool("forget", {"user_id": "ana", "turn_ids": [turn_id, "t_unknown"]})
    assert gone.structured_content == {"deleted_ids": [turn_id], "not_found_ids": ["t_unknown"]}
    after = await client.call_tool("recall", {"user_id": "ana", "query": "peanut allergy"})
    assert turn_id not in {m["id"] for m in after.structured_content["memories"]}  # type: ignore[index]


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
