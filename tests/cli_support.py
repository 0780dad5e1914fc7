"""What the CLI tests share: an in-process runner over one store file, and assertions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from engram.cli import cli

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
HASHING = {"ENGRAM_EMBEDDER": "hashing", "ENGRAM_DB": None, "ENGRAM_TENANT": None, "ENGRAM_DEBUG": None}
COMMANDS = ["add", "context", "delete", "demo", "export", "get", "import", "list", "search", "stats"]


class Engram:
    """Runs the CLI in-process against one store file."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.runner = CliRunner()

    def __call__(
        self, *args: str, input: str | None = None, db: Path | None = None, **env: str | None
    ) -> Result:
        return self.runner.invoke(
            cli, ["--db", str(db or self.db), *args], input=input, env={**HASHING, **env}
        )

    def json(self, *args: str, **kw: object) -> object:
        result = self("--json", *args, **kw)  # type: ignore[arg-type]
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


@pytest.fixture
def engram(tmp_path: Path) -> Engram:
    return Engram(tmp_path / "cli.db")


def one_line_error(result: Result, code: int, *fragments: str) -> str:
    """Assert the run failed with ``code`` and exactly one line on stderr containing ``fragments``."""
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def seed(engram: Engram) -> list[str]:
    """Three turns of alice in two sessions; returns their ids."""
    ids = []
    for session, ts, text in [
        ("s1", "2024-01-10T09:00:00Z", "I live in Porto and work as a nurse"),
        ("s1", "2024-01-10T09:01:00Z", "My cat is called Pixel"),
        ("s2", "2024-03-05T18:00:00Z", "I moved to Lisbon last week"),
    ]:
        out = engram.json("add", "--user", "alice", "--session", session, "--timestamp", ts, text)
        ids.extend(out["ids"])  # type: ignore[index]
    return ids
