"""Agent memory through every door: the CLI, the REST API and the MCP tools, on real SQLite files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from engram import AsyncMemory, HashingEmbedder
from engram.cli import cli

HASHING = {"ENGRAM_EMBEDDER": "hashing", "ENGRAM_DB": None, "ENGRAM_TENANT": None, "ENGRAM_DEBUG": None}


def run_cli(db: Path, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["--db", str(db), "--json", *args], env=HASHING)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_cli_records_a_run_and_brings_back_its_experience(tmp_path: Path):
    db = tmp_path / "cli.db"
    who = ["--user", "sam", "--agent", "travel"]
    run_id = run_cli(db, "run", "start", "Book a flight to Paris", *who, "--at", "2024-06-01T10:00:00Z")["run_id"]
    assert run_cli(db, "run", "subgoal", run_id, "find flights", *who)["subgoal_id"] == "S1"
    run_cli(db, "run", "step", run_id, *who, "--tool", "search", "--args", '{"to": "PAR"}', "--error", "unknown airport")
    step = run_cli(db, "run", "step", run_id, *who, "--tool", "search", "--args", '{"to": "CDG"}', "--result", '["AF83"]')
    assert step["args"] == {"to": "CDG"} and step["result"] == ["AF83"] and step["ok"] is True
    assert run_cli(db, "run", "done", run_id, *who)["outcome"] == "success"
    assert run_cli(db, "run", "finish", run_id, "success", *who, "--score", "0.9")["score"] == 0.9
    shown = run_cli(db, "run", "show", run_id, *who)
    assert [s["tool"] for s in shown["steps"]] == ["search", "search"] and shown["subgoals"][0]["outcome"] == "success"
    assert [r["id"] for r in run_cli(db, "run", "list", *who)["runs"]] == [run_id]
    assert "Goal: Book a flight to Paris" in run_cli(db, "run", "context", run_id, *who)["text"]
    found = run_cli(db, "run", "experience", "Fly to Paris", *who)
    assert found["runs"][0]["run"]["id"] == run_id and found["lessons"]
    assert run_cli(db, "run", "lessons", *who)["lessons"][0]["value"] == 'use search(to="CDG")'

    human = CliRunner().invoke(cli, ["--db", str(db), "run", "show", run_id, *who], env=HASHING)
    assert human.exit_code == 0 and "▸ [S1] find flights" in human.output
    bad = CliRunner().invoke(cli, ["--db", str(db), "run", "step", run_id, *who, "--tool", "x", "--args", "{"], env=HASHING)
    assert bad.exit_code == 2 and "--args is not valid JSON" in bad.stderr
    missing = CliRunner().invoke(cli, ["--db", str(db), "run", "show", "nope", *who], env=HASHING)
    assert missing.exit_code == 3


def test_the_cli_tracks_the_world(tmp_path: Path):
    db = tmp_path / "cli.db"
    run_cli(db, "world", "observe", "--subject", "kitchen shelf", "--value", "kitchen", "--user", "u", "--at", "2024-01-01")
    run_cli(db, "world", "observe", "The red mug is on the kitchen shelf", "--user", "u", "--at", "2024-06-01")
    run_cli(db, "world", "observe", "The red mug is in the sink", "--user", "u", "--at", "2024-06-02")
    assert run_cli(db, "world", "where", "red mug", "--user", "u", "--as-of", "2024-06-01T12:00:00Z")["places"] == [
        "kitchen shelf",
        "kitchen",
    ]
    assert run_cli(db, "world", "where", "red mug", "--user", "u")["places"] == ["sink"]
    assert [s["subject"] for s in run_cli(db, "world", "seen-in", "kitchen", "--user", "u")["seen"]] == ["kitchen shelf"]


@pytest.fixture
def amem(tmp_path: Path) -> Iterator[AsyncMemory]:
    memory = AsyncMemory(tmp_path / "server.db", embedder=HashingEmbedder())
    yield memory
    memory.sync.close()


def test_the_rest_api_records_a_run_and_tracks_the_world(amem: AsyncMemory):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from engram.server import create_app

    with TestClient(create_app(amem, require_keys=False)) as client:
        who = {"user_id": "sam", "agent_id": "travel"}
        started = client.post("/v1/runs", json={"goal": "Book a flight to Paris", **who, "run_id": "r1"})
        assert started.status_code == 200, started.text
        assert client.post("/v1/runs/r1/subgoals", json={**who, "title": "search"}).json() == {"subgoal_id": "S1"}
        failed = client.post("/v1/runs/r1/steps", json={**who, "tool": "search", "args": {"to": "PAR"}, "error": "unknown"})
        assert failed.json()["ok"] is False
        client.post("/v1/runs/r1/steps", json={**who, "tool": "search", "args": {"to": "CDG"}, "result": {"flights": ["AF83"]}})
        assert client.post("/v1/runs/r1/subgoals/close", json=who).json()["outcome"] == "success"
        done = client.post("/v1/runs/r1/finish", json={**who, "outcome": "success", "cost": 0.1}).json()
        assert done["outcome"] == "success" and done["steps"][1]["result"] == {"flights": ["AF83"]}
        assert client.get("/v1/runs/r1", params=who).json()["cost"] == 0.1
        assert [r["id"] for r in client.get("/v1/runs", params={**who, "outcome": "success"}).json()["runs"]] == ["r1"]
        assert client.get("/v1/runs/r1/context", params={**who, "budget_tokens": 100}).json()["tokens"] <= 100
        found = client.post("/v1/experience", json={"goal": "Fly to Paris", **who}).json()
        assert found["runs"][0]["run"]["id"] == "r1"
        assert client.get("/v1/lessons", params=who).json()["lessons"][0]["mentions"] == 1

        assert client.get("/v1/runs/nope", params=who).status_code == 404
        again = client.post("/v1/runs/r1/steps", json={**who, "content": "more"})
        assert again.status_code == 422 and "finished" in again.json()["error"]["message"]
        assert client.post("/v1/runs/r1/finish", json={**who, "outcome": "great"}).status_code == 422

        seen = client.post("/v1/observations", json={"text": "The red mug is on the desk", "user_id": "sam"})
        assert seen.json()["facts"][0]["value"] == "desk"
        assert client.get("/v1/world/where", params={"subject": "red mug", "user_id": "sam"}).json()["places"] == ["desk"]
        assert client.get("/v1/world/seen-in", params={"place": "desk", "user_id": "sam"}).json()["seen"][0]["subject"] == "red mug"
        unreadable = client.post("/v1/observations", json={"text": "hello there", "user_id": "sam"})
        assert unreadable.status_code == 422


def test_the_mcp_tools_record_a_run_and_track_the_world(amem: AsyncMemory):
    pytest.importorskip("mcp")
    import anyio
    from mcp import Client

    from engram.server.mcp import build_server

    async def resolve(_ctx: object) -> AsyncMemory:
        return amem

    async def main() -> None:
        async with Client(build_server(resolve)) as client:  # type: ignore[arg-type]

            async def call(name: str, **arguments: Any) -> Any:
                result = await client.call_tool(name, arguments)
                assert not result.is_error, result.content
                return result.structured_content

            run_id = (await call("start_run", goal="Clean the kitchen", user_id="u", agent_id="robot"))["run_id"]
            await call("open_subgoal", run_id=run_id, user_id="u", agent_id="robot", title="dishes")
            await call("record_step", run_id=run_id, user_id="u", agent_id="robot", tool="wash", args={"n": 3}, result="clean")
            closed = await call("close_subgoal", run_id=run_id, user_id="u", agent_id="robot")
            assert closed["summary"].startswith("wash(n=3)")
            await call("finish_run", run_id=run_id, user_id="u", agent_id="robot", outcome="success")
            context = await call("run_context", run_id=run_id, user_id="u", agent_id="robot")
            assert "[S1] dishes: success" in context["text"]
            found = await call("experience", goal="Clean the kitchen again", user_id="u", agent_id="robot")
            assert found["runs"][0]["run"]["id"] == run_id
            await call("observe", user_id="u", text="The sponge is under the sink")
            assert (await call("where", subject="sponge", user_id="u"))["places"] == ["sink"]
            bad = await client.call_tool("finish_run", {"run_id": "nope", "user_id": "u", "outcome": "success"})
            assert bad.is_error and "not_found" in bad.content[0].text  # type: ignore[union-attr]

    anyio.run(main)


def test_the_inspector_shows_a_runs_timeline(amem: AsyncMemory):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from engram.server import create_app

    run = amem.sync.start_run("Clean <the> kitchen", user_id="u", agent_id="robot", run_id="k1")
    with run.subgoal("dishes"):
        run.record(tool="wash", args={"n": 3}, error="no soap")
        run.record(tool="wash", args={"n": 3, "soap": "new"}, result="clean")
    run.finish("partial", score=0.5)
    with TestClient(create_app(amem, require_keys=False)) as client:
        assert 'href="/runs?user_id=u"' in client.get("/user", params={"user_id": "u"}).text
        listing = client.get("/runs", params={"user_id": "u"}).text
        assert 'href="/run?user_id=u&amp;run_id=k1"' in listing and "partial" in listing
        page = client.get("/run", params={"user_id": "u", "run_id": "k1"}).text
        assert "Clean &lt;the&gt; kitchen" in page  # escaped
        opened, failed, worked, closed = (page.index(s) for s in ("opened", "no soap", "→ clean", "closed"))
        assert opened < failed < worked < closed
        assert 'badge no">failed' in page and "0.5" in page
        assert client.get("/run", params={"user_id": "u", "run_id": "nope"}).status_code == 404


def test_agent_json_writes_times_as_every_other_json_does():
    from datetime import datetime, timedelta, timezone

    from engram.agents.serialize import step_json
    from engram.model.run import Step

    lisbon_summer = timezone(timedelta(hours=1))
    step = Step(0, "message", "user", "Fix the build", "t_1", datetime(2024, 6, 1, 10, 0, tzinfo=lisbon_summer))
    assert step_json(step)["timestamp"] == "2024-06-01T09:00:00.000000+00:00"
