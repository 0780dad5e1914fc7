"""Concurrent embed calls share forward passes: in the embedder wrapper and through the server."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from engram import AsyncMemory, HashingEmbedder
from engram.errors import ProviderError
from engram.providers.batching import BatchingEmbedder
from engram.providers.embedder import Vectors


class GatedEmbedder(HashingEmbedder):
    """A hashing embedder that records each call's texts; the first call waits for ``gate``."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[list[str]] = []
        self.gate = threading.Event()
        self.started = threading.Event()

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.seen.append(list(texts))
        if len(self.seen) == 1:
            self.started.set()
            self.gate.wait(timeout=10)
        return super().embed(texts)


def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_calls_waiting_together_are_embedded_in_one_call() -> None:
    inner = GatedEmbedder()
    batcher = BatchingEmbedder(inner)
    results: dict[str, np.ndarray] = {}

    def call(*texts: str) -> None:
        results[texts[0]] = batcher.embed(list(texts))

    first = threading.Thread(target=call, args=("alpha",))
    first.start()
    assert inner.started.wait(5)
    others = [threading.Thread(target=call, args=texts) for texts in (("beta", "gamma"), ("delta",))]
    for thread in others:
        thread.start()
    assert wait_until(lambda: batcher._queue.qsize() == 2)  # both wait while the model is busy
    inner.gate.set()
    for thread in [first, *others]:
        thread.join(5)
    assert inner.seen == [["alpha"], ["beta", "gamma", "delta"]]
    expected = HashingEmbedder()
    for key, texts in (("alpha", ["alpha"]), ("beta", ["beta", "gamma"]), ("delta", ["delta"])):
        np.testing.assert_array_equal(results[key], expected.embed(texts))
    batcher.close()


def test_an_error_reaches_every_caller_of_the_batch_and_the_next_call_works() -> None:
    class Failing(HashingEmbedder):
        fail = True

        def embed(self, texts: Sequence[str]) -> Vectors:
            if self.fail:
                self.fail = False
                raise ProviderError("embedding failed: model gone")
            return super().embed(texts)

    batcher = BatchingEmbedder(Failing())
    with pytest.raises(ProviderError, match="model gone"):
        batcher.embed(["one"])
    assert batcher.embed(["two"]).shape == (1, batcher.dim)
    batcher.close()


def test_a_large_call_runs_alone_and_the_inner_embedder_loads_on_first_need() -> None:
    made: list[GatedEmbedder] = []

    def make() -> GatedEmbedder:
        made.append(GatedEmbedder())
        made[-1].gate.set()
        return made[-1]

    batcher = BatchingEmbedder(make, max_texts=4)
    assert not made
    assert batcher.dim == HashingEmbedder().dim and len(made) == 1
    assert batcher.embed([f"text {i}" for i in range(5)]).shape == (5, batcher.dim)
    assert batcher._thread is None  # no batching thread for a call of max_texts or more
    assert batcher.embed([]).shape == (0, batcher.dim)


def test_the_server_embeds_concurrent_requests_together(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    import httpx

    from engram.server import create_app

    inner = GatedEmbedder()
    inner.gate.set()  # the warm-up's bind does not embed; released again below
    memory = AsyncMemory(tmp_path / "server.db", embedder=inner)
    app = create_app(memory, require_keys=False, mcp=False, inspector=False, warm_up=False)
    batcher = app.state.engram.base.sync.embedder

    async def scenario() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            inner.gate.clear()

            def add(n: int) -> asyncio.Task[httpx.Response]:
                body = {"user_id": f"u{n}", "session_id": "s", "messages": [{"role": "user", "content": f"message {n}"}]}
                return asyncio.create_task(http.post("/v1/turns", json=body))

            first = add(0)
            assert await asyncio.to_thread(inner.started.wait, 5)
            rest = [add(n) for n in (1, 2, 3)]
            queued = await asyncio.to_thread(wait_until, lambda: batcher._queue.qsize() == 3)
            inner.gate.set()
            responses = await asyncio.gather(first, *rest)
            assert queued and all(r.status_code == 200 for r in responses)
            return [len(call) for call in inner.seen]

    try:
        assert asyncio.run(scenario()) == [1, 3]  # was four calls of one text
    finally:
        batcher.close()
        memory.sync.close()
