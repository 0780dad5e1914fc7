"""Providers: embedders and token counters (and, later, language models)."""

from engram.providers.embedder import CachedEmbedder, Embedder
from engram.providers.hashing import HashingEmbedder
from engram.providers.onnx import OnnxEmbedder
from engram.providers.tokens import ApproximateCounter, TokenCounter, WordPieceCounter, default_counter

__all__ = [
    "ApproximateCounter",
    "CachedEmbedder",
    "Embedder",
    "HashingEmbedder",
    "OnnxEmbedder",
    "TokenCounter",
    "WordPieceCounter",
    "default_counter",
]
