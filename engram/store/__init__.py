"""Stores: the protocol every backend implements, and the backends."""

from engram.store.base import Candidate, Store, UserScope
from engram.store.sqlite import SQLiteStore

__all__ = ["Candidate", "SQLiteStore", "Store", "UserScope"]
