"""The distribution name is ours, and every install hint names it with an extra that exists."""

from __future__ import annotations

import importlib
import re
import sys
import tomllib

import pytest

from engram.errors import DISTRIBUTION, MissingDependencyError, install_hint
from tests.conftest import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
EXTRAS = set(PYPROJECT["project"]["optional-dependencies"])
#: Names on PyPI that belong to other projects (each also installs an ``engram`` package).
TAKEN = {"engram", "engram-memory", "engram-mem"}


def _texts() -> list[tuple[str, str]]:
    files = [REPO / "README.md", REPO / "pyproject.toml"]
    for folder in ("engram", "docs", "benchmarks", "tests"):
        files += [p for p in (REPO / folder).rglob("*") if p.suffix in {".py", ".md", ".toml"}]
    return [(str(p.relative_to(REPO)), p.read_text(encoding="utf-8")) for p in files]


def test_the_distribution_is_named_once_and_not_a_taken_name():
    assert PYPROJECT["project"]["name"] == DISTRIBUTION
    assert DISTRIBUTION not in TAKEN
    assert f"{DISTRIBUTION}[" in " ".join(PYPROJECT["project"]["optional-dependencies"]["test"])


def test_every_pip_install_hint_names_our_distribution_and_a_real_extra():
    hints = [
        (path, match)
        for path, text in _texts()
        for match in re.findall(r"pip install '([a-z0-9_.-]+)(?:\[([a-z0-9_,-]+)\])?'", text)
    ]
    assert hints, "no install hints found: the pattern is out of date"
    for path, (name, extras) in hints:
        assert name == DISTRIBUTION, f"{path}: pip install '{name}' installs someone else's package"
        for extra in filter(None, extras.split(",")):
            assert extra in EXTRAS, f"{path}: extra [{extra}] is not in pyproject.toml"


def test_every_extra_the_code_asks_for_exists():
    asked = set()
    for path, text in _texts():
        if path.startswith("engram"):
            asked |= set(re.findall(r"feature=[^\n]*?extra=\"([a-z0-9_-]+)\"", text))
            asked |= set(re.findall(r"MissingDependencyError\([^,]+, \"([a-z0-9_-]+)\"", text))
    assert {"server", "mcp", "openai", "bench"} <= asked
    assert asked <= EXTRAS, f"hints name extras that do not exist: {sorted(asked - EXTRAS)}"


@pytest.mark.parametrize(("extra", "command"), [("mcp", "[mcp]'"), (None, f"'{DISTRIBUTION}'")])
def test_the_missing_dependency_message_is_a_command_that_works(extra, command):
    message = str(MissingDependencyError("a feature", extra, "somemodule"))
    assert message.endswith(install_hint(extra)) and message.endswith(command)
    assert "[None]" not in message


@pytest.mark.parametrize(
    ("module", "needs", "extra"),
    [
        ("engram.integrations.langgraph", "langgraph.store.base", "langgraph"),
        ("engram.integrations.langchain", "langchain_core.chat_history", "langgraph"),
        ("engram.integrations.openai_agents", "agents", "openai-agents"),
        ("engram.integrations.llamaindex", "llama_index.core.base.llms.types", "llamaindex"),
    ],
)
def test_an_integration_without_its_framework_names_the_extra(monkeypatch, module, needs, extra):
    monkeypatch.setitem(sys.modules, needs, None)  # import of it fails, as when not installed
    monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(MissingDependencyError, match=re.escape(install_hint(extra))):
        importlib.import_module(module)
    assert extra in EXTRAS
