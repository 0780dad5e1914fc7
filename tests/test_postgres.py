"""The PostgreSQL backend: opening by URL, ranking parity with SQLite, schema, concurrency,
moving memory between backends. (The shared store and Memory behaviour is in the conformance
tests, which run on both backends.)"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from engram import HashingEmbedder, Memory, SearchFilters
from engram.cli import cli
from engram.errors import DISTRIBUTION, SchemaVersionError, StoreError, StoreNotFoundError
from engram.store.base import UserScope
from tests.conftest import FixedClock, postgres_url

HASHING = {"ENGRAM_EMBEDDER": "hashing", "ENGRAM_DB": None, "ENGRAM_TENANT": None, "ENGRAM_DEBUG": None}
CHAT = [
    {"role": "user", "name": "Caroline", "content": "I went to the LGBTQ support group yesterday, it was powerful."},
    {"role": "assistant", "name": "Melanie", "content": "That sounds amazing! Running a charity race next week."},
    {"role": "user", "name": "Caroline", "content": "I'm researching adoption agencies; I don't want to wait."},
    {"role": "assistant", "name": "Melanie", "content": "I painted a sunrise over the lake last summer."},
    {"role": "user", "name": "Caroline", "content": "My friends ran races; the race was in Sweden, Caroline said."},
]
QUERIES = [
    "When did Caroline go to the LGBTQ support group?",
    "What did Melanie paint?",
    "races running Sweden",
    "adoption agencies don't",
    "Caroline",
]


def fill(memory: Memory) -> None:
    for day, message in enumerate(CHAT):
        memory.add([message], user_id="u", session_id=f"s{day // 2}", timestamp=datetime(2024, 5, 1 + day, tzinfo=UTC))


def test_bm25_and_vector_rankings_match_sqlites_scores(tmp_path: Path) -> None:
    clock = FixedClock(datetime(2024, 6, 1, tzinfo=UTC))
    lite = Memory(tmp_path / "a.db", embedder=HashingEmbedder(), clock=clock)
    pg = Memory(postgres_url(), embedder=HashingEmbedder(), clock=clock)
    fill(lite)
    fill(pg)
    scope, flt, until = UserScope("default", "u"), SearchFilters(), datetime(2025, 1, 1, tzinfo=UTC)
    from engram.read.query import query_terms

    for query in QUERIES:
        terms = query_terms(query)
        a = lite.store.text_search(scope, terms, filters=flt, until=until, limit=10)
        b = pg.store.text_search(scope, terms, filters=flt, until=until, limit=10)
        assert [c.turn.content for c in a] == [c.turn.content for c in b], query
        np.testing.assert_allclose([c.score for c in a], [c.score for c in b], rtol=1e-5)
        vector = HashingEmbedder().embed([query])[0]
        a = lite.store.vector_search(scope, vector, filters=flt, until=until, limit=10)
        b = pg.store.vector_search(scope, vector, filters=flt, until=until, limit=10)
        np.testing.assert_allclose([c.score for c in a], [c.score for c in b], rtol=1e-5, atol=1e-6)
        scores = {c.turn.content: c.score for c in b}  # equal scores may come in either order
        np.testing.assert_allclose([scores[c.turn.content] for c in a], [c.score for c in a], rtol=1e-5, atol=1e-6)
        found = [[r.turn.content for r in m.search(query, user_id="u")] for m in (lite, pg)]
        assert found[0][0] == found[1][0] and set(found[0]) == set(found[1])  # ties may swap below
    for mem in (lite, pg):
        mem.consolidate(user_id="u")
    for query in QUERIES:
        terms = query_terms(query)
        a = lite.store.episode_text_search(scope, terms, until=until, limit=5)
        b = pg.store.episode_text_search(scope, terms, until=until, limit=5)
        assert [e.id for e, _ in a] == [e.id for e, _ in b]
        np.testing.assert_allclose([s for _, s in a], [s for _, s in b], rtol=1e-5)
        a2 = lite.store.fact_text_search(scope, terms, limit=5)
        b2 = pg.store.fact_text_search(scope, terms, limit=5)
        assert [f.id for f, _ in a2] == [f.id for f, _ in b2]
        np.testing.assert_allclose([s for _, s in a2], [s for _, s in b2], rtol=1e-5)
    lite.close()
    pg.close()


def test_the_cli_and_engram_db_open_a_url(tmp_path: Path) -> None:
    url = postgres_url()
    runner = CliRunner()
    added = runner.invoke(cli, ["--db", url, "add", "--user", "sam", "--session", "s", "I adopted a dog named Rex"], env=HASHING)
    assert added.exit_code == 0, added.output
    found = runner.invoke(cli, ["--json", "search", "dog", "--user", "sam"], env={**HASHING, "ENGRAM_DB": url})
    assert found.exit_code == 0, found.output
    assert "Rex" in found.stdout
    stats = json.loads(runner.invoke(cli, ["--json", "--db", url, "stats"], env=HASHING).stdout)
    assert stats["turns"] == 1 and stats["path"].startswith("postgresql://")


def test_a_missing_database_or_server_is_a_clear_error() -> None:
    url = postgres_url()
    missing = url.replace("/engram_test_", "/no_such_db_")
    with pytest.raises(StoreNotFoundError, match="no database"):
        Memory(missing, embedder=HashingEmbedder())
    with pytest.raises(StoreError, match="cannot reach"):
        Memory("postgresql://nobody@127.0.0.1:1/x?connect_timeout=1", embedder=HashingEmbedder())
    result = CliRunner().invoke(cli, ["--db", missing, "stats"], env=HASHING)
    assert result.exit_code == 4 and "no database" in result.output


def test_a_newer_schema_is_refused() -> None:
    import psycopg

    url = postgres_url(fresh=True)
    Memory(url, embedder=HashingEmbedder()).close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO engram_migrations(name) VALUES ('9999_from_the_future')")
    with pytest.raises(SchemaVersionError, match="newer version") as raised:
        Memory(url, embedder=HashingEmbedder())
    assert f"pip install --upgrade '{DISTRIBUTION}'" in str(raised.value)


def test_workers_retrying_the_same_turns_at_once_store_each_once_and_lose_nothing() -> None:
    url = postgres_url()
    workers = [Memory(url, embedder=HashingEmbedder()) for _ in range(4)]
    errors: list[BaseException] = []
    start = datetime(2024, 1, 1, tzinfo=UTC)

    def work(index: int, memory: Memory) -> None:
        try:
            for batch in range(10):
                shared = [{"role": "user", "content": f"shared {batch}", "timestamp": start + timedelta(minutes=batch)}]
                memory.add(shared, user_id="u", session_id="s")  # every worker retries the same turn
                own = [{"role": "user", "content": f"worker {index} says {batch}"}]
                memory.add(own, user_id="u", session_id=f"w{index}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i, m)) for i, m in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    turns = workers[0].store.list_turns(UserScope("default", "u"), limit=1000)
    assert len(turns) == 10 + 4 * 10
    assert len({t.id for t in turns}) == len(turns)
    seqs = sorted(t.seq for t in turns)
    assert seqs == sorted(set(seqs))
    assert workers[0].store.turns_after(UserScope("default", "u"), 0, limit=1000) == sorted(turns, key=lambda t: t.seq)
    for memory in workers:
        memory.close()


@pytest.mark.parametrize("direction", ["sqlite-to-postgres", "postgres-to-sqlite"])
def test_export_and_import_move_memory_between_backends_losslessly(tmp_path: Path, direction: str) -> None:
    file, url = tmp_path / "a.db", postgres_url()
    source, target = (str(file), url) if direction == "sqlite-to-postgres" else (url, str(file))
    runner = CliRunner()
    for message in CHAT:
        added = runner.invoke(cli, ["--db", source, "add", "--user", "u", "--session", "s", message["content"]], env=HASHING)
        assert added.exit_code == 0, added.output
    dump, back = tmp_path / "dump.jsonl", tmp_path / "back.jsonl"
    assert runner.invoke(cli, ["--db", source, "export", str(dump)], env=HASHING).exit_code == 0
    imported = runner.invoke(cli, ["--db", target, "import", "jsonl", str(dump)], env=HASHING)
    assert imported.exit_code == 0, imported.output
    assert runner.invoke(cli, ["--db", target, "export", str(back)], env=HASHING).exit_code == 0
    lines, again = dump.read_text().splitlines(), back.read_text().splitlines()
    assert len(lines) == len(CHAT) + 1
    assert lines[1:] == again[1:]  # every turn, vectors included, byte for byte
    assert json.loads(lines[1])["embedding"] is not None


def test_bench_store_runs_engram_on_postgresql_next_to_sqlite_with_the_same_recall(tmp_path: Path) -> None:
    from engram.bench.cli import bench
    from engram.bench.testing import synthetic_locomo

    data, out = tmp_path / "locomo_tiny.json", tmp_path / "out"
    data.write_text(json.dumps(synthetic_locomo()), encoding="utf-8")
    args = ["locomo", "--data", data, "--out", out, "--embedder", "hashing", "--quiet", "--systems", "engram"]
    result = CliRunner().invoke(bench, [str(a) for a in [*args, "--store", postgres_url()]], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["systems"]) == {"engram", "engram-postgres"}
    lite, pg = (summary["systems"][name]["overall"] for name in ("engram", "engram-postgres"))
    for metric in ("recall_all@10", "recall_any@5", "budget_recall@1000"):
        assert abs(lite[metric] - pg[metric]) <= 0.01, metric


def test_a_read_only_server_is_searched_and_refuses_writes_clearly() -> None:
    from urllib.parse import quote

    from engram.errors import StoreReadOnlyError

    url = postgres_url()
    read_only = f"{url}&options={quote('-c default_transaction_read_only=on')}"
    with Memory(url, embedder=HashingEmbedder()) as mem:
        mem.add("I keep bees on the roof", user_id="u", session_id="s")
    with Memory(read_only, embedder=HashingEmbedder()) as replica:
        assert replica.search("bees", user_id="u")[0].turn.content == "I keep bees on the roof"
        with pytest.raises(StoreReadOnlyError, match="read-only"):
            replica.add("more", user_id="u", session_id="s")
    with pytest.raises(StoreReadOnlyError, match="schema"):
        Memory(f"{postgres_url(fresh=True)}&options={quote('-c default_transaction_read_only=on')}")


def test_recall_bookkeeping_leaves_the_full_text_statistics_alone() -> None:
    """A search touches the turns it found (recall counts): no write to the shared term statistics."""
    import psycopg

    url = postgres_url()
    with Memory(url, embedder=HashingEmbedder()) as mem:
        mem.add("I keep bees on the roof", user_id="u", session_id="s")

        def totals() -> list[tuple[object, ...]]:
            with psycopg.connect(url) as conn:
                return conn.execute("SELECT xmin::text, * FROM fts_totals ORDER BY kind, shard").fetchall()

        before = totals()
        turn = mem.search("bees", user_id="u")[0].turn
        mem.store.touch("turn", UserScope("default", "u"), [turn.id], datetime(2024, 1, 1, tzinfo=UTC))
        mem.pin([turn.id], user_id="u")
        assert totals() == before


def test_a_workers_cached_term_counts_follow_another_workers_writes() -> None:
    url = postgres_url()
    scope, flt, until = UserScope("default", "u"), SearchFilters(), datetime(2030, 1, 1, tzinfo=UTC)
    with Memory(url, embedder=HashingEmbedder()) as a, Memory(url, embedder=HashingEmbedder()) as b:
        a.add([{"role": "user", "content": c} for c in ("bees on the roof", "a quiet garden", "rain again")],
              user_id="u", session_id="s")
        first = a.store.text_search(scope, ["bees"], filters=flt, until=until, limit=5)
        b.add([{"role": "user", "content": c} for c in ("more bees arrived", "bees everywhere")],
              user_id="u", session_id="s")  # another worker
        again = a.store.text_search(scope, ["bees"], filters=flt, until=until, limit=5)
        with Memory(url, embedder=HashingEmbedder()) as fresh:
            expected = fresh.store.text_search(scope, ["bees"], filters=flt, until=until, limit=5)
        assert len(again) == len(first) + 2
        assert [c.score for c in again] == pytest.approx([c.score for c in expected], rel=1e-9)
        assert again[0].score != pytest.approx(first[0].score)  # the IDF moved with the new rows


def test_an_embedded_server_it_started_leaves_no_folder_behind(tmp_path: Path) -> None:
    from engram.store.postgres.embedded import start_embedded_postgres

    postgres_url()  # skips (or fails under CI) with the reason when no server can start
    given = start_embedded_postgres(tmp_path / "given")
    given.stop()
    assert (tmp_path / "given").exists()  # a folder the caller named is the caller's
    own = start_embedded_postgres()
    folder = own.folder
    own.stop()
    assert not folder.exists()
