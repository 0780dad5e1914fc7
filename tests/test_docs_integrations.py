"""Every example of docs/integrations.md runs, offline, and prints what the doc says it prints."""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from tests.conftest import REPO

DOC = (REPO / "docs" / "integrations.md").read_text(encoding="utf-8")
SECTIONS = {m.group(1): m.group(2) for m in re.finditer(r"^## (.+?)\n(.*?)(?=^## |\Z)", DOC, re.S | re.M)}


def example(heading: str) -> str:
    (code,) = re.findall(r"```python\n(.*?)```", SECTIONS[heading], re.S)
    return code


def run(code: str, tmp_path, monkeypatch) -> str:
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "docs/integrations.md", "exec"), {"__name__": "docs_example"})
    return out.getvalue()


def test_every_section_with_code_is_tested():
    tested = {
        "Tool messages in `Memory.add`",
        "LangGraph: `EngramStore`",
        "LangChain: `EngramChatMessageHistory`",
        "OpenAI Agents SDK: `EngramSession` and `memory_tools`",
        "LlamaIndex: `EngramMemoryBlock`",
    }
    assert {h for h, body in SECTIONS.items() if "```python" in body} == tested
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "docs/integrations.md" in readme


def test_tool_messages(tmp_path, monkeypatch):
    out = run(example("Tool messages in `Memory.add`"), tmp_path, monkeypatch)
    assert out.splitlines() == ["get_weather(city: Lisbon)", "True"]


def test_langgraph_store(tmp_path, monkeypatch):
    pytest.importorskip("langgraph")
    out = run(example("LangGraph: `EngramStore`"), tmp_path, monkeypatch)
    assert out.splitlines() == ["Ana is vegetarian", "[('ana', 'memories')]"]


def test_langchain_history(tmp_path, monkeypatch):
    pytest.importorskip("langchain_core")
    out = run(example("LangChain: `EngramChatMessageHistory`"), tmp_path, monkeypatch)
    assert out.splitlines() == ["4", "trip"]


def test_openai_agents(tmp_path, monkeypatch):
    pytest.importorskip("agents")
    from agents import set_tracing_disabled
    from agents.models.multi_provider import MultiProvider

    from tests.test_integrations_openai_agents import ScriptedModel, call, say

    model = ScriptedModel(
        [[call("recall_memories", {"query": "allergies"}, "c1")], [say("Grilled fish with a lemon salad.")]]
    )
    set_tracing_disabled(True)  # nothing leaves the machine (the SDK reads its variable only once)
    monkeypatch.setattr(MultiProvider, "get_model", lambda self, name: model)  # the model the user would call
    out = run(example("OpenAI Agents SDK: `EngramSession` and `memory_tools`"), tmp_path, monkeypatch)
    assert out.splitlines() == [
        "Grilled fish with a lemon salad.",
        "['user', 'function_call', 'function_call_output', 'message']",
    ]
    tool_output = [i for i in model.inputs[-1] if isinstance(i, dict) and i.get("type") == "function_call_output"]
    assert "allergic to peanuts" in tool_output[0]["output"]


def test_llamaindex(tmp_path, monkeypatch):
    pytest.importorskip("llama_index.core")
    out = run(example("LlamaIndex: `EngramMemoryBlock`"), tmp_path, monkeypatch)
    assert "<engram>" in out and "allergic to peanuts" in out
