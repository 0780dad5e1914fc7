"""docs/agents.md runs: the agent loop with a scripted LLM, and the world-state example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engram import HashingEmbedder, Memory

DOC = (Path(__file__).resolve().parents[1] / "docs" / "agents.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", DOC, re.S)


def test_the_agent_loop_runs_and_the_second_run_learns_from_the_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(BLOCKS[0], "docs/agents.md", "exec"), namespace)
    assert namespace["first"] == "Booked AF83, confirmation XK12"
    assert namespace["second"] == "Booked AF83 again"
    assert namespace["lesson_seen"] is True
    with Memory(tmp_path / "agent.db", embedder=HashingEmbedder()) as memory:
        runs = memory.runs(user_id="sam", agent_id="travel")
        assert [r.outcome for r in runs] == ["success", "success"]
        assert sorted(len(r.steps) for r in runs) == [1, 3]
        (lesson,) = memory.lessons(user_id="sam", agent_id="travel")
        assert "use search_flights(to=\"CDG\")" in lesson.statement


def test_the_world_state_example_says_what_it_shows(tmp_path: Path):
    with Memory(tmp_path / "home.db", embedder=HashingEmbedder()) as memory:
        namespace: dict = {"memory": memory}
        lines = BLOCKS[1].splitlines()
        exec(compile(BLOCKS[1], "docs/agents.md", "exec"), namespace)
        for line in lines:
            if ".places" in line and "# [" in line:
                code, shown = line.split("#", 1)
                assert str(eval(code, namespace)) == shown.strip(), line
        assert [f.value for f in memory.moves("red mug", user_id="home")] == ["kitchen shelf", "sink"]
        assert {s.subject for s in memory.seen_in("kitchen", user_id="home")} == {"kitchen shelf", "sink", "red mug"}
