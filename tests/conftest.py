"""Shared fixtures: real SQLite files, a deterministic embedder, a fixed clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engram import HashingEmbedder, Memory, SQLiteStore

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def shared_data(name: str) -> Path:
    """A file of ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} not found: the tests that use ../shared/data need it")
    return path


class FixedClock:
    """A clock tests can move."""

    def __init__(self, moment: datetime = NOW) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "engram.db"


@pytest.fixture
def memory(db_path: Path, clock: FixedClock) -> Iterator[Memory]:
    mem = Memory(db_path, embedder=HashingEmbedder(), clock=clock)
    yield mem
    mem.close()


def make_store(kind: str, tmp_path: Path) -> SQLiteStore:
    """A store of each backend the conformance tests run against."""
    if kind == "sqlite":
        return SQLiteStore(tmp_path / "conformance.db")
    if kind == "sqlite-memory":
        return SQLiteStore(":memory:")
    raise ValueError(kind)


BACKENDS = ["sqlite", "sqlite-memory"]
