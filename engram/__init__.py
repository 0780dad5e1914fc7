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
    StoreBusyError,
    StoreError,
    StoreFullError,
    StoreNotFoundError,
    StoreReadOnlyError,
    ValidationError,
)
from engram.model import (
    AddResult,
    ContextItem,
    ContextResult,
    DeleteReceipt,
    EpisodePage,
    Hit,
    Page,
    Scope,
    SearchFilters,
    SearchResult,
    Stats,
    Turn,
)
from engram.model.episode import Episode
from engram.model.fact import FactVersion
from engram.model.profile import Profile
from engram.model.retention import RetentionPolicy
from engram.providers import CachedEmbedder, HashingEmbedder, OnnxEmbedder
from engram.providers.llm import OpenAICompatibleLLM, ScriptedLLM
from engram.read.retrieve import RetrievalConfig
from engram.store import SQLiteStore
from engram.store.base import ForgetReceipt
from engram.write.consolidate import ConsolidationReport

__version__ = "0.1.0"

__all__ = [
    "AddResult",
    "AsyncMemory",
    "CachedEmbedder",
    "ConsolidationReport",
    "ContextItem",
    "ContextResult",
    "CorruptStoreError",
    "DeleteReceipt",
    "EmbedderMismatchError",
    "EngramError",
    "Episode",
    "EpisodePage",
    "FactVersion",
    "ForgetReceipt",
    "HashingEmbedder",
    "Hit",
    "Memory",
    "MissingDependencyError",
    "NotFoundError",
    "OnnxEmbedder",
    "OpenAICompatibleLLM",
    "Page",
    "Profile",
    "ProviderError",
    "RetentionPolicy",
    "RetrievalConfig",
    "SQLiteStore",
    "SchemaVersionError",
    "Scope",
    "ScriptedLLM",
    "SearchFilters",
    "SearchResult",
    "Stats",
    "StoreBusyError",
    "StoreError",
    "StoreFullError",
    "StoreNotFoundError",
    "StoreReadOnlyError",
    "Turn",
    "ValidationError",
    "__version__",
    "default_path",
]
