"""The README is true: its commands, its command table, its Python example, the public API."""

from __future__ import annotations

import os
import re
import subprocess
import types

import engram
from engram.cli import cli
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_the_first_lines_give_the_two_fresh_machine_commands():
    head = "\n".join(README.splitlines()[:15])
    assert "python3 -m venv .venv" in head and ".venv/bin/engram demo" in head
    assert "<!-- test-command -->" in head and "pytest" in head


def test_ci_runs_exactly_the_readme_test_command():
    # The same extraction .ci/run performs, run with the shell so the two cannot diverge.
    script = (REPO / ".ci" / "run").read_text()
    extraction = re.search(r"command=\$\((.*?)\)\n", script, re.S)
    assert extraction, ".ci/run no longer extracts the test command from README.md"
    out = subprocess.run(
        ["bash", "-c", f"cd {REPO} && {extraction.group(1)}"], capture_output=True, text=True, check=True
    ).stdout.strip()
    block = README.split("<!-- test-command -->")[1].split("<!-- /test-command -->")[0].strip()
    assert out == block
    assert 'bash -c "$command"' in script


def test_every_cli_command_is_documented_in_the_readme():
    table = README.split("| command | what it does |")[1].split("\n\n")[0]
    first_cells = [row.split("|")[1] for row in table.splitlines() if row.startswith("| `")]
    names = {name for cell in first_cells for name in re.findall(r"`([a-z]+)`", cell)}
    for command in cli.list_commands(None):  # type: ignore[arg-type]
        assert command in names, f"`engram {command}` is missing from the README command table"
        assert f"engram {command}" in README, f"no example of `engram {command}` in the README"


def test_the_python_quickstart_runs(tmp_path, monkeypatch):
    code = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    ctx = namespace["ctx"]
    assert "Biscuit" in ctx.text and ctx.tokens <= 300
    assert os.path.exists(tmp_path / "quickstart.db")


def test_the_public_api_is_exactly_what_init_exports():
    public = {
        name
        for name in dir(engram)
        if not name.startswith("_") and not isinstance(getattr(engram, name), types.ModuleType)
    }
    assert public == set(engram.__all__) - {"__version__"}
    assert sorted(engram.__all__) == list(engram.__all__)
