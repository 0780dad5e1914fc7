"""The embedded SQLite backend."""

from engram.store.sqlite.store import SQLiteStore

__all__ = ["SQLiteStore"]
