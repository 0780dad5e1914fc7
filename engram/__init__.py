"""Engram: long- and short-term memory for LLM agents, embedded and offline by default.

The public API is what this module exports; everything else may change between versions.
"""

from engram.aio import AsyncMemory
from engram.engine import Memory, default_path
from engram.errors import (
    CorruptStoreError,
    EmbedderMismatchError,
    EngramError,
    MissingDependencyError,
    NotFoundError,
    ProviderError,
    SchemaVersionError,
    StoreError,
    ValidationError,
)
from engram.model import (
    AddResult,
    ContextItem,
    ContextResult,
    DeleteReceipt,
    Hit,
    Page,
    Scope,
    SearchFilters,
    SearchResult,
    Stats,
    Turn,
)
from engram.providers import CachedEmbedder, HashingEmbedder, OnnxEmbedder
from engram.read.retrieve import RetrievalConfig
from engram.store import SQLiteStore

__version__ = "0.1.0"

__all__ = [
    "AddResult",
    "AsyncMemory",
    "CachedEmbedder",
    "ContextItem",
    "ContextResult",
    "CorruptStoreError",
    "DeleteReceipt",
    "EmbedderMismatchError",
    "EngramError",
    "HashingEmbedder",
    "Hit",
    "Memory",
    "MissingDependencyError",
    "NotFoundError",
    "OnnxEmbedder",
    "Page",
    "ProviderError",
    "RetrievalConfig",
    "SQLiteStore",
    "SchemaVersionError",
    "Scope",
    "SearchFilters",
    "SearchResult",
    "Stats",
    "StoreError",
    "Turn",
    "ValidationError",
    "__version__",
    "default_path",
]
