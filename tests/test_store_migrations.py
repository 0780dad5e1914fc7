"""The migrations both backends share: pending ones in order, a newer store refused with the
distribution's own upgrade command."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from engram import HashingEmbedder, Memory
from engram.errors import DISTRIBUTION, SchemaVersionError
from engram.store.migrations import pending


def test_pending_migrations_keep_their_order() -> None:
    assert pending({"0001_a"}, ["0001_a", "0002_b", "0003_c"]) == ["0002_b", "0003_c"]
    assert pending(set(), ["0001_a"]) == ["0001_a"]


def test_a_newer_sqlite_store_names_the_upgrade_command(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    Memory(path, embedder=HashingEmbedder()).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO engram_migrations VALUES ('9999_from_the_future', 'now')")
    with pytest.raises(SchemaVersionError, match="9999_from_the_future") as raised:
        Memory(path, embedder=HashingEmbedder())
    assert f"pip install --upgrade '{DISTRIBUTION}'" in str(raised.value)
