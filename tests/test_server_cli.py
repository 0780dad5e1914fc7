"""``engram keys`` through click's runner, and ``engram serve`` as a real uvicorn process."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from engram.server.cli import keys_group


def keys(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(keys_group, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    db = str(tmp_path / "keys.db")
    code, secret, note = keys("create", "--db", db, "--tenant", "acme", "--label", "ci")
    secret = secret.strip()
    assert code == 0 and secret.startswith("engram_") and "cannot be shown again" in note
    code, listing, _ = keys("list", "--db", db, "--json")
    [key] = json.loads(listing)
    assert key["tenant"] == "acme" and key["label"] == "ci" and key["active"]
    assert secret not in listing and secret.startswith(key["prefix"])
    code, table, _ = keys("list", "--db", db)
    assert key["id"] in table and "active" in table
    code, _, note = keys("revoke", "--db", db, key["id"])
    assert code == 0 and "revoked" in note
    assert not json.loads(keys("list", "--db", db, "--json")[1])[0]["active"]
    from engram import SQLiteStore

    store = SQLiteStore(db)
    try:  # only the hash is stored
        raw = store._conn.execute("SELECT * FROM api_keys").fetchall()
        assert secret not in repr(raw)
    finally:
        store.close()


def test_keys_refuse_bad_input(tmp_path: Path) -> None:
    db = str(tmp_path / "keys.db")
    result = CliRunner().invoke(keys_group, ["create", "--db", db, "--tenant", " spaced "])
    assert result.exit_code != 0 and "tenant" in str(result.exception)
    result = CliRunner().invoke(keys_group, ["revoke", "--db", db, "key_nope"])
    assert result.exit_code != 0 and "no API key" in str(result.exception)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(db: Path, *args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    command = [sys.executable, "-c", "from engram.server.cli import serve_command; serve_command()",
               "--db", str(db), "--port", str(port), "--log-level", "warning", *args]
    process = subprocess.Popen(command, env={**os.environ, "ENGRAM_EMBEDDER": "hashing"},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    import httpx

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"server did not start: {process.communicate()[1]}")
            time.sleep(0.2)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_serve_as_a_real_process(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    import anyio
    import httpx

    db = tmp_path / "served.db"
    # without keys: loopback only, whatever --host says, and it says so
    with serving(db, "--host", "0.0.0.0") as (url, process):
        assert httpx.get(f"{url}/v1/stats").status_code == 200
    stderr = process.stderr.read() if process.stderr else ""
    assert "binding to 127.0.0.1 instead of 0.0.0.0" in stderr and "WITHOUT authentication" in stderr

    secret = keys("create", "--db", str(db), "--tenant", "acme")[1].strip()
    auth = {"Authorization": f"Bearer {secret}"}
    with serving(db) as (url, process):
        assert httpx.get(f"{url}/v1/stats").status_code == 401
        added = httpx.post(f"{url}/v1/turns", headers=auth, json={
            "user_id": "ana", "session_id": "s1", "messages": [{"role": "user", "content": "I live in Porto"}]})
        assert added.status_code == 200 and added.json()["added"] == 1
        hits = httpx.post(f"{url}/v1/search", headers=auth, json={"user_id": "ana", "query": "Porto"}).json()["hits"]
        assert hits[0]["turn"]["content"] == "I live in Porto"
        assert httpx.get(f"{url}/ready").json()["status"] == "ready"
        assert "Engram" in httpx.get(f"{url}/docs").text

        if importlib.util.find_spec("mcp") is not None:
            from mcp import Client
            from mcp.client.streamable_http import streamable_http_client

            async def recall() -> dict:
                import httpx2

                async with (
                    httpx2.AsyncClient(headers=auth) as http,
                    Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
                ):
                    result = await client.call_tool("recall", {"user_id": "ana", "query": "where does she live"})
                    return result.structured_content or {}

            assert anyio.run(recall)["memories"][0]["content"] == "I live in Porto"
    stderr = process.stderr.read() if process.stderr else ""
    assert "1 active API key(s)" in stderr


def test_every_command_is_documented() -> None:
    from engram.server.cli import COMMANDS

    docs = (Path(__file__).resolve().parents[1] / "docs" / "server.md").read_text()
    for command in COMMANDS:
        subcommands = getattr(command, "commands", {None: command})
        for sub in subcommands:
            usage = f"engram {command.name}" + (f" {sub}" if sub else "")
            assert usage in docs, f"`{usage}` is not in docs/server.md"
        for param in command.params:
            if isinstance(param, click.Option) and param.opts[0].startswith("--") and command.name == "serve":
                assert param.opts[0] in docs, f"engram serve {param.opts[0]} is not in docs/server.md"
