"""Write- and read-path speed of the embedded default, measured on LoCoMo text.

    .venv/bin/python benchmarks/perf.py                 # ingest + search at 10k and 100k turns
    .venv/bin/python benchmarks/perf.py --sizes 10000   # quicker
    .venv/bin/python benchmarks/perf.py --json out.json
    .venv/bin/python benchmarks/perf.py --store embedded   # and the same on PostgreSQL, side by side
    .venv/bin/python benchmarks/perf.py --store postgresql://user@host/empty_db
    .venv/bin/python benchmarks/perf.py --many-users 8x12500 --vector-cache-mb 64 --work /tmp/w

1. LoCoMo, in a process of its own: every conversation is added session by session through
   ``Memory.add`` into a fresh store with a cold embedding cache (validate, embed, persist,
   index, lifecycle): turns/s end to end, model load excluded and reported apart; then every
   LoCoMo question searches its conversation. The process's peak RSS is the memory of this
   workload alone (the one Mem0 was measured on), apart from the large synthetic stores below.
2. The same ingest with the lifecycle step off (core only), and the embedder alone on the
   same texts in one length-sorted call, to compare against.
3. Search: a store of N turns (LoCoMo turns repeated under new sessions; their vectors are
   the real embeddings plus small noise, so no two are identical) is searched with the real
   LoCoMo questions through ``Memory.search`` (query embedding included), default recipe:
   p50/p95 latency, for the exact index and for HNSW (timed once its graph, built in the
   background from the first search on, is ready; its build time is reported apart). Then
   50 searches each right after another user's write (the full-text index changed: the
   plan of a chat that writes between searches).
4. With ``--store``, steps 1 and 3 again on PostgreSQL (``benchmarks/perf_postgres.py``), in
   the same run: LoCoMo ingest and search (a tenant per conversation), and search at each size.
5. With ``--many-users``: one store of many synthetic users searched round-robin, with the
   vector cache under ``--vector-cache-mb`` and without a bound: the RSS each reaches.
Search figures are the wall clock and the process's CPU time, for each recipe of
``--recipes`` (the default, and the one before per-question fusion) side by side.
Peak RSS of the whole run and store sizes are reported. Timings on a shared machine are
noisy: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np

from engram import Memory, OnnxEmbedder, SQLiteStore
from engram.formats import load_locomo
from engram.model import Scope
from engram.model.messages import parse_messages
from engram.model.timeutil import now
from engram.providers.embedder import text_key
from engram.read.retrieve import RECIPES, RetrievalConfig

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo10.json"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_ingest(embedder: OnnxEmbedder, dataset, workdir: Path) -> dict:
    turns = 0
    elapsed = 0.0
    per_conv = []
    for conv in dataset.conversations:
        mem = Memory(workdir / f"ingest-{conv.id}.db", embedder=embedder)
        _ = mem.embedder  # load and bind the model before timing
        started = time.perf_counter()
        count = 0
        for session in conv.sessions:
            result = mem.add(session.messages, user_id=conv.id, session_id=session.id)
            count += result.added
        took = time.perf_counter() - started
        per_conv.append(round(count / took, 1))
        turns += count
        elapsed += took
        mem.close()
    return {
        "turns": turns,
        "seconds": round(elapsed, 2),
        "turns_per_s": round(turns / elapsed, 1),
        "per_conversation_turns_per_s": per_conv,
    }


def bench_ingest_core_only(embedder: OnnxEmbedder, dataset, workdir: Path) -> dict:
    """The same ingest with the lifecycle step (fact extraction, keys, episodes) switched off:
    what the core alone costs, to compare the full write path against in the same run."""
    import engram.write.ingest as ingest
    from engram.store.base import TurnNotes
    from engram.write.absorb import AbsorbReport

    saved = (ingest.absorb, ingest.turn_facts, ingest.annotate)
    ingest.absorb = lambda *args, **kwargs: AbsorbReport()
    ingest.turn_facts = lambda *args, **kwargs: []
    ingest.annotate = lambda *args, **kwargs: TurnNotes("", 0.5)
    try:
        return bench_ingest(embedder, dataset, workdir / "core")
    finally:
        ingest.absorb, ingest.turn_facts, ingest.annotate = saved


def build_store(path: Path, size: int, base_texts, base_vectors: np.ndarray, embedder) -> SQLiteStore:
    """A store of ``size`` synthetic turns of one user, written through ``insert_turns`` in
    batches of 2,000 (one transaction each).

    Texts: the real LoCoMo turns (speaker and content) repeated in order under new sessions
    of 200 turns, a minute apart, so the full-text index has real term statistics at every
    size. Vectors: each turn's real embedding is a cluster centre, and each copy of it is
    that centre plus Gaussian noise (σ 0.02 a dimension, cosine about 0.93 to the centre),
    normalised: the store holds one cluster of similar vectors per LoCoMo turn, which is the
    structure HNSW meets in real data, and no two vectors are equal.
    """
    store = SQLiteStore(path, synchronous="NORMAL")
    fill_store(store, size, base_texts, base_vectors, embedder)
    return store


def fill_store(store, size: int, base_texts, base_vectors: np.ndarray, embedder, user: str = "bench") -> None:
    """``size`` turns of LoCoMo text (repeated under new sessions) with noisy real vectors for
    ``user``, in any store (SQLite or PostgreSQL): see :func:`build_store`."""
    store.bind_embedder(embedder.model_id, embedder.dim)
    rng = np.random.default_rng(0)
    start = now() - timedelta(days=3650)
    batch = 2000
    for offset in range(0, size, batch):
        count = min(batch, size - offset)
        rows = [(offset + i) % len(base_texts) for i in range(count)]
        session = f"s{offset // 200}"
        messages = [
            {
                "role": "user",
                "name": base_texts[r][0],
                "content": base_texts[r][1],
                "timestamp": start + timedelta(minutes=offset + i),
            }
            for i, r in enumerate(rows)
        ]
        turns = parse_messages(messages, Scope("default", user, None, session), now=start)
        vectors = base_vectors[rows] + rng.normal(scale=0.02, size=(count, embedder.dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        store.insert_turns(turns, vectors, [text_key(t.embedding_text() + str(offset)) for t in turns], start)


def latency(times: list[float]) -> dict:
    times = sorted(times)
    return {
        "queries": len(times),
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
        "mean_ms": round(statistics.fmean(times), 2),
    }


#: The default recipe before per-question fusion and the instruction route (issue 11): full
#: text over vectors, 2 : 1.5, fixed weights. ``--recipes engram,previous`` times both side by
#: side, question by question.
PREVIOUS_RECIPE = replace(
    RECIPES["engram"],
    retrievers=("bm25", "vector", "time", "fact"),
    weights=(("bm25", 2.0), ("vector", 1.5), ("time", 0.5), ("fact", 0.3)),
    vector_confidence=0.0,
)


def recipe_config(name: str) -> str | RetrievalConfig:
    """A named recipe, or ``previous`` (:data:`PREVIOUS_RECIPE`)."""
    return PREVIOUS_RECIPE if name == "previous" else name


def bench_search(mem: Memory, questions: list[str], repeats: int, recipes: tuple[str, ...] = ("engram",)) -> dict:
    """Search latency with the question's embedding left out: a first, untimed pass embeds
    every question (``Memory.search`` then finds its vector among the recent questions').

    Each recipe searches every question in turn (alternating, so that the machine's drift
    falls on all alike); wall clock and the process's CPU time are both reported. The
    first recipe's wall-clock figures are the top-level ones.
    """
    for q in questions:
        for recipe in recipes:
            mem.search(q, user_id="bench", k=10, config=recipe_config(recipe))
    walls: dict[str, list[float]] = {recipe: [] for recipe in recipes}
    cpus: dict[str, list[float]] = {recipe: [] for recipe in recipes}
    for _ in range(repeats):
        for q in questions:
            for recipe in recipes:
                config = recipe_config(recipe)
                started, cpu = time.perf_counter(), time.process_time()
                mem.search(q, user_id="bench", k=10, config=config)
                walls[recipe].append((time.perf_counter() - started) * 1000)
                cpus[recipe].append((time.process_time() - cpu) * 1000)
    out = latency(walls[recipes[0]])
    out["cpu"] = latency(cpus[recipes[0]])
    if len(recipes) > 1:
        out["recipes"] = {recipe: {"wall": latency(walls[recipe]), "cpu": latency(cpus[recipe])} for recipe in recipes}
    return out


#: Searches timed right after a write, at each size.
AFTER_WRITE_QUERIES = 50


def bench_after_write(mem: Memory, questions: list[str]) -> dict:
    """Search latency right after a write: before each search, another user adds one message
    (untimed), as when one process serves a chat that writes a turn between searches. A
    write changes the full-text index, so the search cannot use what earlier searches kept
    (the terms' posting lists): this is the first-search-after-a-write plan. The question's
    embedding is left out as in :func:`bench_search` (each question was searched before)."""
    walls, cpus = [], []
    run = time.time_ns()  # a kept store already holds an earlier run's notes: these must be new
    for n, q in enumerate(questions):
        added = mem.add([{"role": "user", "content": f"note {n} of run {run}: {q}"}], user_id="writer", session_id="live")
        if added.added != 1:
            raise RuntimeError(f"the write before search {n} stored nothing: the search would not follow a write")
        started, cpu = time.perf_counter(), time.process_time()
        mem.search(q, user_id="bench", k=10)
        walls.append((time.perf_counter() - started) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    out = latency(walls)
    out["cpu"] = latency(cpus)
    return out


def current_rss_mb() -> float:
    """The process's resident memory now (``VmRSS``), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def scale_run(
    data: Path, size: int, work: Path, queries: int, exact_up_to: int, recipes: tuple[str, ...], keep: bool
) -> dict:
    """One store size, in a process of its own (its peak RSS is this size's): build the
    store, open it afresh, search it exactly (up to ``exact_up_to`` turns) and with HNSW.

    With ``keep`` the store is left in ``work`` (``scale-<size>.db``) and reused by the
    next run that keeps it (no build figures then)."""
    embedder = OnnxEmbedder()
    dataset = load_locomo(data)
    base = [(m.get("name") or "", m["content"]) for c in dataset.conversations for s in c.sessions for m in s.messages]
    questions = [q.question for q in dataset.questions][:queries]
    base_vectors = base_embeddings(embedder, base, work)
    report: dict = {"turns": size}
    embeds = []
    for q in questions:  # the question's embedding, measured apart
        started = time.perf_counter()
        embedder.embed([q])
        embeds.append((time.perf_counter() - started) * 1000)
    report["question_embedding"] = latency(embeds)
    path = work / f"scale-{size}.db"
    if not (keep and path.exists()):
        path.unlink(missing_ok=True)
        t0 = time.perf_counter()
        build_store(path, size, base, base_vectors, embedder).close()
        took = time.perf_counter() - t0
        report["insert"] = {"seconds": round(took, 1), "turns_per_s": round(size / took, 1)}
        report["rss_after_build_mb"] = current_rss_mb()
        report["add_into_store"] = add_into(path, embedder, dataset.conversations[0])
    del base_vectors
    report["store_mb"] = round(sum(p.stat().st_size for p in work.glob(f"scale-{size}.db*")) / 2**20, 1)
    for label, threshold in (("exact", 10**12), ("hnsw", 20_000)):
        if (label == "hnsw" and size < 20_000) or (label == "exact" and size > exact_up_to):
            continue
        store = SQLiteStore(path, hnsw_threshold=threshold, synchronous="NORMAL")
        mem = Memory(store=store, embedder=embedder)
        t0 = time.perf_counter()
        store.build_vector_index("default", "bench", wait=False)  # loads the vectors
        result: dict = {"vectors_load_s": round(time.perf_counter() - t0, 2)}
        if label == "hnsw":  # built in the background; exact search answers meanwhile
            t0 = time.perf_counter()
            store.build_vector_index("default", "bench", wait=True)
            result["hnsw_build_s"] = round(time.perf_counter() - t0 + result["vectors_load_s"], 1)
        result.update(bench_search(mem, questions, repeats=1, recipes=recipes))
        result["rss_mb"] = current_rss_mb()
        if label == ("hnsw" if size >= 20_000 else "exact"):  # once a size, on the store's default plan
            result["after_write"] = bench_after_write(mem, questions[:AFTER_WRITE_QUERIES])
        report[label] = result
        mem.close()
    report["peak_rss_mb"] = round(rss_mb(), 1)
    if not keep:
        path.unlink(missing_ok=True)
    return report


def many_users_run(data: Path, work: Path, users: int, per_user: int, budget_mb: float, queries: int) -> dict:
    """Memory held by the loaded vector indexes of many users, under a budget: ``users``
    users of ``per_user`` synthetic turns each in one store, searched round-robin (three
    rounds of ``queries`` questions a user), in a process of its own."""
    embedder = OnnxEmbedder()
    dataset = load_locomo(data)
    base = [(m.get("name") or "", m["content"]) for c in dataset.conversations for s in c.sessions for m in s.messages]
    base_vectors = base_embeddings(embedder, base, work)
    path = work / f"users-{users}x{per_user}.db"
    if not path.exists():
        store = SQLiteStore(path.with_suffix(".partial"), synchronous="NORMAL")
        for number in range(users):
            fill_store(store, per_user, base, base_vectors, embedder, user=f"u{number}")
        store.close()
        path.with_suffix(".partial").rename(path)
    del base_vectors
    questions = [q.question for q in dataset.questions][:queries]
    store = SQLiteStore(path, synchronous="NORMAL", vector_cache_mb=budget_mb)
    mem = Memory(store=store, embedder=embedder)
    for q in questions:
        embedder.embed([q])
    rss_before = current_rss_mb()
    times = []
    for _ in range(3):
        for number in range(users):
            for q in questions:
                started = time.perf_counter()
                mem.search(q, user_id=f"u{number}", k=10)
                times.append((time.perf_counter() - started) * 1000)
    report = {
        "users": users,
        "turns_per_user": per_user,
        "vector_cache_mb": budget_mb,
        "rss_before_searches_mb": rss_before,
        "rss_after_mb": current_rss_mb(),
        "peak_rss_mb": round(rss_mb(), 1),
        "loaded_users": len(store._vectors),
        "loaded_mb": round(store._vectors.nbytes / 2**20, 1),
        "search": latency(times),
    }
    mem.close()
    return report


def add_into(path: Path, embedder: OnnxEmbedder, conversation) -> dict:
    """``Memory.add`` into the store of this size, session by session (embedding, lifecycle and
    indexing included, cold embedding cache), for a new user: whether writing slows as the
    store (its full-text index, its tables) grows. The synthetic user is not written to: its
    turns were inserted without episodes, which a first ``add`` would build for them all."""
    mem = Memory(store=SQLiteStore(path, synchronous="NORMAL"), embedder=embedder)
    turns = 0
    started = time.perf_counter()
    for session in conversation.sessions[:8]:
        turns += mem.add(session.messages, user_id="added", session_id=session.id).added
    took = time.perf_counter() - started
    mem.close()
    return {"turns": turns, "seconds": round(took, 2), "turns_per_s": round(turns / took, 1)}


def base_embeddings(embedder: OnnxEmbedder, base: list[tuple[str, str]], work: Path) -> np.ndarray:
    """The real embeddings of the LoCoMo turns, computed once per run (kept in ``work``)."""
    cached = work / "base-vectors.npy"
    if cached.exists():
        return np.load(cached)
    vectors = np.asarray(embedder.embed([f"{n}: {t}" if n else t for n, t in base]), dtype=np.float32)
    np.save(cached, vectors)
    return vectors


def run_scale(
    data: Path, size: int, work: Path, queries: int, exact_up_to: int, recipes: tuple[str, ...], keep: bool
) -> dict:
    """:func:`scale_run` in a fresh process."""
    done = subprocess.run(
        [sys.executable, __file__, "--data", str(data), "--scale-size", str(size), "--work", str(work),
         "--queries", str(queries), "--exact-up-to", str(exact_up_to), "--recipes", ",".join(recipes),
         *(["--keep-stores"] if keep else [])],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict = json.loads(done.stdout)
    return result


def locomo_workload(data: Path) -> dict:
    """Ingest every LoCoMo conversation, then ask each question of its conversation."""
    started = time.perf_counter()
    embedder = OnnxEmbedder()
    report: dict = {"model_load_s": round(time.perf_counter() - started, 2)}
    dataset = load_locomo(data)
    with tempfile.TemporaryDirectory() as tmp:
        report["ingest"] = bench_ingest(embedder, dataset, Path(tmp))
        times = []
        for conv in dataset.conversations:
            mem = Memory(Path(tmp) / f"ingest-{conv.id}.db", embedder=embedder)
            for question in (q for q in dataset.questions if q.conversation_id == conv.id):
                started = time.perf_counter()
                mem.search(question.question, user_id=conv.id, k=10, reference_time=question.question_date)
                times.append((time.perf_counter() - started) * 1000)
            mem.close()
        report["search"] = latency(times)
    report["peak_rss_mb"] = round(rss_mb(), 1)
    return report


def run_locomo_workload(data: Path) -> dict:
    """:func:`locomo_workload` in a fresh process, so that its peak RSS is its own."""
    done = subprocess.run(
        [sys.executable, __file__, "--data", str(data), "--locomo-workload"],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict = json.loads(done.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--exact-up-to", type=int, default=100_000,
                        help="largest store also searched with exact vectors (default 100000)")
    parser.add_argument("--work", type=Path, help="where the synthetic stores are written (default: a temporary folder)")
    parser.add_argument("--skip-locomo", action="store_true", help="only the synthetic stores")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--recipes", default="engram,previous",
                        help="recipes timed side by side at every size, the first the headline (default "
                             "engram,previous: the default and the one before per-question fusion)")
    parser.add_argument("--many-users", help="USERSxTURNS: RSS of many users' vector indexes under "
                        "--vector-cache-mb, and without a bound, each in a process of its own (then exit)")
    parser.add_argument("--vector-cache-mb", type=float, default=64.0)
    parser.add_argument("--keep-stores", action="store_true",
                        help="keep the synthetic stores in --work and reuse them in later runs")
    parser.add_argument("--store", help="also measure on PostgreSQL: a postgresql:// URL (empty database) or 'embedded'")
    parser.add_argument("--locomo-workload", action="store_true", help=argparse.SUPPRESS)  # step 1's process
    parser.add_argument("--scale-size", type=int, help=argparse.SUPPRESS)  # step 3's process, one size
    args = parser.parse_args()
    recipes = tuple(args.recipes.split(","))
    if args.keep_stores and args.work is None:
        parser.error("--keep-stores needs --work")
    if not args.data.exists():
        print(f"error: {args.data} not found (the LoCoMo file of ../shared/data)", file=sys.stderr)
        return 2
    if args.locomo_workload:
        print(json.dumps(locomo_workload(args.data)))
        return 0
    if args.many_users:
        users, per_user = (int(n) for n in args.many_users.split("x"))
        if args.scale_size == -1:  # the child process
            print(json.dumps(many_users_run(args.data, args.work, users, per_user, args.vector_cache_mb, 20)))
            return 0
        if args.work is None:
            parser.error("--many-users needs --work")
        for budget in (args.vector_cache_mb, 10**6):
            done = subprocess.run(
                [sys.executable, __file__, "--data", str(args.data), "--work", str(args.work), "--scale-size", "-1",
                 "--many-users", args.many_users, "--vector-cache-mb", str(budget)],
                check=True, capture_output=True, text=True,
            )
            print(done.stdout.strip(), flush=True)
        return 0
    if args.scale_size:
        print(json.dumps(scale_run(
            args.data, args.scale_size, args.work, args.queries, args.exact_up_to, recipes, args.keep_stores
        )))
        return 0
    report: dict = {
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()}
    }
    if not args.skip_locomo:
        locomo_steps(args.data, report)
    report["search"] = {}
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        stores = args.work if args.keep_stores else Path(tmp)
        for size in (int(s) for s in args.sizes.split(",")):
            result = run_scale(args.data, size, stores, args.queries, args.exact_up_to, recipes, args.keep_stores)
            report["search"][str(size)] = result
            line = f"{size:>8} turns: "
            if "insert" in result:
                line += f"insert {result['insert']['turns_per_s']} turns/s, "
            line += (
                f"store {result['store_mb']} MB, "
                f"question embedding p50 {result['question_embedding']['p50_ms']} ms (apart)"
            )
            for label in ("exact", "hnsw"):
                if label in result:
                    r = result[label]
                    line += f"; {label} p50 {r['p50_ms']} / p95 {r['p95_ms']} ms (CPU {r['cpu']['p50_ms']} / {r['cpu']['p95_ms']})"
                    if "hnsw_build_s" in r:
                        line += f" (graph built in {r['hnsw_build_s']} s)"
                    for recipe, figures in r.get("recipes", {}).items():
                        line += (
                            f"\n           {label} {recipe:>9}: wall p50 {figures['wall']['p50_ms']} / p95 "
                            f"{figures['wall']['p95_ms']} ms, CPU p50 {figures['cpu']['p50_ms']} / p95 {figures['cpu']['p95_ms']} ms"
                        )
                    if "after_write" in r:
                        w = r["after_write"]
                        line += (
                            f"\n           {label} right after a write: wall p50 {w['p50_ms']} / p95 {w['p95_ms']} ms, "
                            f"CPU p50 {w['cpu']['p50_ms']} / p95 {w['cpu']['p95_ms']} ms"
                        )
            print(line + f"\n           peak RSS {result['peak_rss_mb']} MB", flush=True)
        if args.store:
            report["postgres"] = postgres_section(args, Path(tmp))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


def postgres_section(args: argparse.Namespace, work: Path) -> dict:
    """Step 4: LoCoMo and search on PostgreSQL, next to SQLite's numbers of this run."""
    import perf_postgres

    embedder = OnnxEmbedder()
    dataset = load_locomo(args.data)
    base = [(m.get("name") or "", m["content"]) for c in dataset.conversations for s in c.sessions for m in s.messages]
    base_vectors = base_embeddings(embedder, base, work)
    questions = [q.question for q in dataset.questions][: args.queries]
    out: dict = {}
    with perf_postgres.database(args.store) as url:
        out["locomo"] = perf_postgres.locomo(url, embedder, dataset, latency)
        print(
            f"PostgreSQL LoCoMo: ingest {out['locomo']['ingest']['turns_per_s']} turns/s, search p50 "
            f"{out['locomo']['search']['p50_ms']} ms, p95 {out['locomo']['search']['p95_ms']} ms",
            flush=True,
        )
        out["search"] = {}
        for size in (int(s) for s in args.sizes.split(",")):
            result = perf_postgres.search(
                url,
                size,
                embedder,
                lambda store, n: fill_store(store, n, base, base_vectors, embedder),
                lambda mem: bench_search(mem, questions, repeats=1),
            )
            out["search"][str(size)] = result
            for label in ("exact", "hnsw"):
                if label in result:
                    print(
                        f"PostgreSQL search {size:>7} turns {label:5}: p50 {result[label]['p50_ms']} ms, "
                        f"p95 {result[label]['p95_ms']} ms (built in {result['build_s']} s, "
                        f"database {result['database_mb']} MB)",
                        flush=True,
                    )
    return out


def locomo_steps(data: Path, report: dict) -> None:
    """Steps 1 and 2: the LoCoMo workload in its own process, core-only ingest, the embedder alone."""
    locomo = run_locomo_workload(data)
    report["model_load_s"] = locomo["model_load_s"]
    report["ingest"] = locomo["ingest"]
    report["locomo_search"] = locomo["search"]
    report["locomo_peak_rss_mb"] = locomo["peak_rss_mb"]
    print(
        f"LoCoMo in its own process: ingest {report['ingest']['turns']} turns at "
        f"{report['ingest']['turns_per_s']} turns/s, search p50 {locomo['search']['p50_ms']} ms, "
        f"p95 {locomo['search']['p95_ms']} ms; peak RSS {locomo['peak_rss_mb']} MB",
        flush=True,
    )
    embedder = OnnxEmbedder()
    dataset = load_locomo(data)
    with tempfile.TemporaryDirectory() as tmp:
        report["ingest_core_only"] = bench_ingest_core_only(embedder, dataset, Path(tmp))
    report["ingest"]["ratio_to_core_only"] = round(
        report["ingest"]["turns_per_s"] / report["ingest_core_only"]["turns_per_s"], 3
    )
    print(
        f"ingest, core only (no lifecycle): {report['ingest_core_only']['turns_per_s']} turns/s; "
        f"with the lifecycle: {report['ingest']['turns_per_s']} turns/s "
        f"(ratio {report['ingest']['ratio_to_core_only']})",
        flush=True,
    )
    texts = [
        f"{m['name']}: {m['content']}" if m.get("name") else m["content"]
        for c in dataset.conversations
        for s in c.sessions
        for m in s.messages
    ]
    started = time.perf_counter()
    embedder.embed(texts)
    raw = len(texts) / (time.perf_counter() - started)
    report["ingest"]["raw_embed_texts_per_s"] = round(raw, 1)
    report["ingest"]["ratio_to_raw_embedding"] = round(report["ingest"]["turns_per_s"] / raw, 3)
    print(f"the embedder alone: {raw:.1f} texts/s; ingest/raw = {report['ingest']['ratio_to_raw_embedding']}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
