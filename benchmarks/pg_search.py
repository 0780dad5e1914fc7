"""Search speed on PostgreSQL next to SQLite, retriever by retriever, on one user's store.

    PYTHONPATH=. .venv/bin/python benchmarks/pg_search.py --size 10000 --store embedded
    PYTHONPATH=/path/to/old/checkout .venv/bin/python benchmarks/pg_search.py ...   # before

Both stores get the same ``size`` synthetic turns of one user (``perf.fill_store``: LoCoMo
text repeated under new sessions, noisy real ONNX vectors), then the first ``--queries``
LoCoMo questions are asked, in rounds that alternate the two backends so that both meet the
same machine load:

- ``text``: ``text_matches`` with the read path's query terms (the bm25 retriever alone),
- ``vector``: ``vector_matches`` with the question's vector (exact: below the HNSW threshold),
- ``search``: ``Memory.search(k=10)``, default recipe, the question's vector cached.

A database just filled has not been vacuumed yet (its hint bits, visibility map and planner
statistics are not set); ``--vacuum`` runs ``VACUUM ANALYZE`` after the build, the state
autovacuum keeps a serving database in.

Each is ``limit=50`` (the default recipe's candidates). On PostgreSQL the statements a whole
search sends are counted too. The report gives p50/p95 per backend and the PostgreSQL/SQLite
ratio of p50s (the figure to compare between two checkouts run one after the other).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from perf import DATA, base_embeddings, fill_store, latency  # benchmarks/ is on the path
from perf_postgres import database

from engram import Memory, OnnxEmbedder, SQLiteStore
from engram.formats import load_locomo
from engram.model import SearchFilters
from engram.model.timeutil import now
from engram.read.analyze import analyze
from engram.store.base import UserScope
from engram.store.postgres import PostgresStore

SCOPE = UserScope("default", "bench")
POOL = 50


def statements_counter() -> Callable[[], int]:
    """Count the statements psycopg sends from now on (its cursors' ``execute``)."""
    import psycopg

    count = [0]
    original = psycopg.Cursor.execute

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        return original(self, *args, **kwargs)

    psycopg.Cursor.execute = counted  # type: ignore[method-assign]
    return lambda: count[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per backend")
    parser.add_argument("--store", default="embedded", help="a postgresql:// URL of an empty database, or 'embedded'")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "engram-pg-search")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--vacuum", action="store_true",
                        help="VACUUM ANALYZE the PostgreSQL tables after the build (autovacuum's steady state)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    embedder = OnnxEmbedder()
    dataset = load_locomo(DATA)
    base = [(m.get("name") or "", m["content"]) for c in dataset.conversations for s in c.sessions for m in s.messages]
    base_vectors = base_embeddings(embedder, base, args.work)
    questions = [q.question for q in dataset.questions][: args.queries]
    vectors = embedder.embed(questions)
    at = now()
    terms = [analyze(q, at).terms for q in questions]
    filters = SearchFilters()
    count = statements_counter()
    report: dict[str, Any] = {"size": args.size, "queries": len(questions)}
    with tempfile.TemporaryDirectory(dir=args.work) as tmp, database(args.store) as url:
        stores: dict[str, Any] = {}
        for name, make in (("sqlite", lambda: SQLiteStore(Path(tmp) / "s.db", synchronous="NORMAL")),
                           ("postgres", lambda: PostgresStore(url))):  # fmt: skip
            started = time.perf_counter()
            store = make()
            fill_store(store, args.size, base, base_vectors, embedder)
            report[f"{name}_build_s"] = round(time.perf_counter() - started, 1)
            stores[name] = store
        if args.vacuum:
            import psycopg

            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
        mems = {name: Memory(store=store, embedder=embedder) for name, store in stores.items()}
        for mem in mems.values():  # warm: caches, the question vectors, the planner
            for q in questions:
                mem.search(q, user_id="bench", k=10)
        times: dict[str, dict[str, list[float]]] = {n: {"text": [], "vector": [], "search": []} for n in stores}
        sent: list[int] = []
        for _ in range(args.rounds):
            for name, store in stores.items():
                for q, t, v in zip(questions, terms, vectors, strict=True):
                    started = time.perf_counter()
                    store.text_matches(SCOPE, t, filters=filters, until=at, limit=POOL)
                    times[name]["text"].append((time.perf_counter() - started) * 1000)
                    started = time.perf_counter()
                    store.vector_matches(SCOPE, v, filters=filters, until=at, limit=POOL)
                    times[name]["vector"].append((time.perf_counter() - started) * 1000)
                    before = count()
                    started = time.perf_counter()
                    mems[name].search(q, user_id="bench", k=10)
                    times[name]["search"].append((time.perf_counter() - started) * 1000)
                    if name == "postgres":
                        sent.append(count() - before)
        for name in stores:
            report[name] = {what: latency(values) for what, values in times[name].items()}
        report["postgres"]["statements_per_search"] = round(sum(sent) / len(sent), 1)
        report["ratio_p50"] = {
            what: round(report["postgres"][what]["p50_ms"] / report["sqlite"][what]["p50_ms"], 2)
            for what in ("text", "vector", "search")
        }
        for mem in mems.values():
            mem.close()
    for what in ("text", "vector", "search"):
        s, p = report["sqlite"][what], report["postgres"][what]
        print(f"{what:7} SQLite p50 {s['p50_ms']:7} / p95 {s['p95_ms']:7} ms   PostgreSQL p50 {p['p50_ms']:7} / "
              f"p95 {p['p95_ms']:7} ms   ratio {report['ratio_p50'][what]}")  # fmt: skip
    print(f"statements per PostgreSQL search: {report['postgres']['statements_per_search']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
