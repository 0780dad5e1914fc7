"""Full-text search right after a write, in a large store: CPU per search, and every ranking
checked against FTS5 scoring every match (issue 16, item 1).

    .venv/bin/python benchmarks/perf.py --sizes 1000000 --skip-locomo --work /tmp/scale --keep-stores  # once
    .venv/bin/python benchmarks/fulltext_after_write.py /tmp/scale/scale-1000000.db --check
    PYTHONPATH=/tmp/before .venv/bin/python benchmarks/fulltext_after_write.py /tmp/scale/scale-1000000.db

The store is one of ``perf.py``'s synthetic stores (user ``bench``). As in ``perf.py``'s
searches after a write, every LoCoMo question is searched once first (the process's first
search and the kept posting lists), then before each timed search another user adds one turn
holding the question (``insert_turns``, untimed): the chat plan, where the newest message is
what the next search is about. Timed: ``text_matches`` (the bm25 ranking of 80 candidates,
as ``Memory.search`` asks it), wall clock and CPU. With ``--check``, each ranking (turn ids and
scores) is compared with FTS5 scoring every match of the user (``ORDER BY rank, seq``).
The writes stay in the store (user ``writer``): each run's are new.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from engram import HashingEmbedder, Scope, SearchFilters, SQLiteStore
from engram.formats import load_locomo
from engram.model.messages import parse_messages
from engram.providers.embedder import text_key
from engram.read.query import query_terms
from engram.store.base import UserScope
from engram.store.sqlite.sql import match_expression

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo10.json"
EVERY_MATCH = (
    "SELECT t.id, bm25(turns_fts, 1.0, 0.5, 0.6, 0.0) AS rank FROM turns_fts "
    "CROSS JOIN turns t ON t.seq = turns_fts.rowid WHERE turns_fts MATCH ? ORDER BY rank, t.seq LIMIT ?"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", type=Path, help="a perf.py synthetic store (user 'bench')")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--searches", type=int, default=50, help="searches timed, each after a write")
    parser.add_argument("--limit", type=int, default=80)
    parser.add_argument("--check", action="store_true", help="compare each ranking with FTS5 scoring every match")
    args = parser.parse_args()
    if not args.store.exists():
        parser.error(f"{args.store} does not exist: build it with benchmarks/perf.py --keep-stores")
    questions = [q.question for q in load_locomo(args.data).questions]
    store = SQLiteStore(args.store, synchronous="NORMAL")
    embedder = HashingEmbedder(store._model[1] if store._model else 384)  # the write only needs a vector of its size
    scope, until, filters = UserScope("default", "bench"), datetime.now(UTC) + timedelta(days=1), SearchFilters()
    started = time.perf_counter()
    store.text_matches(scope, query_terms(questions[0]), filters=filters, until=until, limit=args.limit)
    first = time.perf_counter()
    store.text_matches(scope, query_terms(questions[1]), filters=filters, until=until, limit=args.limit)
    second = time.perf_counter()
    for question in questions[: max(200, args.searches)]:  # as perf.py: every question searched once
        store.text_matches(scope, query_terms(question), filters=filters, until=until, limit=args.limit)
    walls, cpus, differ, run = [], [], 0, time.time_ns()
    for n, question in enumerate(questions[: args.searches]):
        turns = parse_messages(
            [{"role": "user", "content": f"note {n} of run {run}: {question}"}],
            Scope("default", "writer", None, "live"),
            now=datetime.now(UTC),
        )
        text = turns[0].embedding_text()
        store.insert_turns(turns, embedder.embed([text]), [text_key(text)], datetime.now(UTC))
        terms = query_terms(question)
        wall, cpu = time.perf_counter(), time.process_time()
        found = store.text_matches(scope, terms, filters=filters, until=until, limit=args.limit)
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
        if args.check:
            expected = store._conn.execute(
                EVERY_MATCH, (match_expression(scope, "{content name keys}", terms), args.limit)
            ).fetchall()
            differ += [(m.id, m.score) for m in found] != [(tid, -rank) for tid, rank in expected]
    store.close()

    def pct(values: list[float], q: int) -> float:
        return round(float(np.percentile(values, q)), 2)

    print(
        json.dumps(
            {
                "store": str(args.store),
                "first_search_ms": round((first - started) * 1000, 1),
                "second_search_ms": round((second - first) * 1000, 1),
                "searches_after_a_write": args.searches,
                "wall_ms": {"p50": pct(walls, 50), "p95": pct(walls, 95)},
                "cpu_ms": {"p50": pct(cpus, 50), "p95": pct(cpus, 95)},
                "rankings_differing_from_every_match": differ if args.check else None,
                "load": [round(x, 2) for x in os.getloadavg()],
            },
            indent=2,
        )
    )
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
