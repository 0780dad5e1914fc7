"""Embeddings from any OpenAI-compatible ``/embeddings`` endpoint (optional extra ``[openai]``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engram.errors import ProviderError, require
from engram.providers.embedder import Vectors, normalise


class OpenAIEmbedder:
    """Calls ``POST {base_url}/embeddings`` in batches.

    Args:
        model: the model name the endpoint knows, e.g. ``text-embedding-3-small``.
        dim: the vector size that model returns.
        base_url: e.g. ``https://api.openai.com/v1`` or a local vLLM/Ollama server.
        api_key: sent as a bearer token when given.
        batch_size: texts per request.
        timeout: seconds per request.
    """

    def __init__(
        self,
        model: str,
        dim: int,
        *,
        base_url: str = "https://api.openai.com/v1",
        api_key: str | None = None,
        batch_size: int = 128,
        timeout: float = 60.0,
    ) -> None:
        httpx = require("httpx", feature="the OpenAI-compatible embedder", extra="openai")
        self.model_id = f"openai:{model}"
        self.model = model
        self.dim = dim
        self.batch_size = batch_size
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)
        self._httpx = httpx

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            try:
                response = self._client.post("/embeddings", json={"model": self.model, "input": batch})
                response.raise_for_status()
                data = sorted(response.json()["data"], key=lambda item: item["index"])
                vectors = np.array([item["embedding"] for item in data], dtype=np.float32)
            except (self._httpx.HTTPError, KeyError, ValueError, TypeError) as exc:
                raise ProviderError(f"embedding request to {self._client.base_url} failed: {exc}") from exc
            if vectors.shape != (len(batch), self.dim):
                raise ProviderError(
                    f"endpoint returned vectors of shape {vectors.shape}, expected ({len(batch)}, {self.dim})"
                )
            out[start : start + len(batch)] = normalise(vectors)
        return out

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()
