"""Shared parts of the reliability benchmark: paths, child processes, constants."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from engram.model import SearchFilters  # noqa: E402

#: Far enough ahead that every stored turn is "already said".
FUTURE = datetime(2200, 1, 1, tzinfo=UTC)
EVERYTHING = SearchFilters(include_archived=True)


def child(script: str, *args: object, stdin: bool = False) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(proc: subprocess.Popen[str], word: str, timeout: float = 60.0) -> bool:
    """Read the child's stdout until a line holding ``word``; False if it ended first."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            return False
        if word in line:
            return True
    return False


def short(message: str, limit: int = 200) -> str:
    return " ".join(message.split())[:limit]


