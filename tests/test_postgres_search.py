"""PostgreSQL searches against the SQLite store's, on a store large enough for the shortcuts
(full-text pruning of common terms, exact vectors read in SQL) to matter."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from engram import HashingEmbedder, SearchFilters, SQLiteStore
from engram.model import Scope
from engram.model.messages import parse_messages
from engram.providers.embedder import text_key
from engram.store.base import UserScope
from tests.conftest import postgres_url

T0 = datetime(2024, 1, 1, tzinfo=UTC)
SCOPE = UserScope("default", "u")
RARE = [f"word{i}" for i in range(300)]
QUERIES = [
    ["caroline", "word3"],
    ["caroline", "melanie", "word17"],
    ["caroline", "melanie"],
    ["caroline"],
    ["painting", "word250", "word251"],
    ["caroline", "painting", "sunrise", "don't"],
    ["melanie", "word1", "word2", "word3", "word4"],
]


def corpus(count: int) -> list[dict[str, object]]:
    """Turns where two names and a few words are common and the rest rare (Zipf-like)."""
    rng = random.Random(7)
    out = []
    for i in range(count):
        words = [rng.choice(RARE[: rng.choice([5, 40, 300])]) for _ in range(rng.randint(3, 12))]
        if rng.random() < 0.5:
            words.append("Caroline")
        if rng.random() < 0.3:
            words += ["painting", "a", "sunrise"]
        if rng.random() < 0.05:
            words.append("don't")
        out.append({"role": "user", "name": rng.choice(["Caroline", "Melanie"]), "content": " ".join(words),
                    "timestamp": T0 + timedelta(minutes=i)})  # fmt: skip
    return out


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from engram.store.postgres import PostgresStore

    embedder = HashingEmbedder()
    lite = SQLiteStore(tmp_path_factory.mktemp("lite") / "a.db")
    pg = PostgresStore(postgres_url(fresh=True))
    turns = parse_messages(corpus(600), Scope("default", "u", None, "s"), now=T0)
    vectors = embedder.embed([t.embedding_text() for t in turns])
    for store in (lite, pg):
        store.bind_embedder(embedder.model_id, embedder.dim)
        store.insert_turns(turns, vectors, [text_key(t.embedding_text()) for t in turns], T0)
    yield lite, pg, embedder
    lite.close()
    pg.close()


@pytest.mark.parametrize("terms", QUERIES)
@pytest.mark.parametrize("limit", [1, 5, 50])
def test_bm25_with_common_terms_left_out_ranks_as_fts5(stores, terms: list[str], limit: int) -> None:  # type: ignore[no-untyped-def]
    lite, pg, _ = stores
    until = T0 + timedelta(days=10)
    a = lite.text_matches(SCOPE, terms, filters=SearchFilters(), until=until, limit=limit)
    b = pg.text_matches(SCOPE, terms, filters=SearchFilters(), until=until, limit=limit)
    assert [m.id for m in a] == [m.id for m in b]
    np.testing.assert_allclose([m.score for m in a], [m.score for m in b], rtol=1e-5)


def test_exact_vector_search_ranks_as_sqlite(stores) -> None:  # type: ignore[no-untyped-def]
    lite, pg, embedder = stores
    until = T0 + timedelta(days=10)
    only_melanie = SearchFilters(roles=["user"], since=T0 + timedelta(minutes=100))
    for query in ("caroline painting", "word3 word17", "sunrise"):
        vector = embedder.embed([query])[0]
        for filters in (SearchFilters(), only_melanie):
            a = lite.vector_matches(SCOPE, vector, filters=filters, until=until, limit=20)
            b = pg.vector_matches(SCOPE, vector, filters=filters, until=until, limit=20)
            np.testing.assert_allclose([m.score for m in a], [m.score for m in b], rtol=1e-5, atol=1e-6)
            assert {m.id for m in a[:10]} <= {m.id for m in b}


def test_a_long_turns_chunks_are_searched_through_the_index_and_forgotten_with_it() -> None:
    import psycopg

    from engram.store.base import TurnChunks
    from engram.store.postgres import PostgresStore

    embedder = HashingEmbedder()
    url = postgres_url(fresh=True)
    store = PostgresStore(url, hnsw_threshold=1)  # every user through the HNSW indexes
    store.bind_embedder(embedder.model_id, embedder.dim)
    messages = [{"role": "user", "content": f"note {i} about the bakery", "timestamp": T0 + timedelta(minutes=i)}
                for i in range(30)]  # fmt: skip
    messages[3]["content"] = "a long document about gardening"
    turns = parse_messages(messages, Scope("default", "u", None, "s"), now=T0)
    windows = ["observatory vault launch code zanzibar", "compost heaps"]
    chunks = [None] * len(turns)
    chunks[3] = TurnChunks([text_key(w) for w in windows], embedder.embed(windows))
    texts = [t.embedding_text() for t in turns]
    store.insert_turns(turns, embedder.embed(texts), [text_key(t) for t in texts], T0, chunks=chunks)
    query = embedder.embed(["observatory vault launch code zanzibar"])[0]
    until = T0 + timedelta(days=1)
    found = store.vector_matches(SCOPE, query, filters=SearchFilters(), until=until, limit=5)
    assert found[0].id == turns[3].id and found[0].score == pytest.approx(1.0, abs=1e-5)
    assert len({m.id for m in found}) == len(found)
    store.forget(SCOPE, ids=[turns[3].id])
    found = store.vector_matches(SCOPE, query, filters=SearchFilters(), until=until, limit=5)
    assert turns[3].id not in {m.id for m in found}
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM turn_chunks").fetchone()[0] == 0
    store.close()


def test_a_database_of_the_first_schema_upgrades_with_its_vectors_inside_their_rows(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import psycopg
    from pgvector.psycopg import register_vector

    from engram.store.postgres import PostgresStore, schema

    url = postgres_url(fresh=True)
    with psycopg.connect(url, autocommit=True) as conn:  # a database as the first release left it
        monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:1])
        schema.migrate(conn, "test")
        monkeypatch.undo()
        register_vector(conn)
        embedder = HashingEmbedder()
        conn.execute(
            "INSERT INTO engram_meta(key, value) VALUES ('embedding_model', %s)",
            (f'{{"id": "{embedder.model_id}", "dim": {embedder.dim}}}',),
        )
        vector = embedder.embed(["the quokka at dawn"])[0]
        conn.execute(
            "INSERT INTO turns(tenant, user_id, id, session_id, role, content, content_hash, ts, recorded_at, "
            "embedding, fts_terms, fts_freqs, fts_len) VALUES ('default', 'u', 't1', 's', 'user', "
            "'the quokka at dawn', 'h', 1, 1, %s, '{quokka,dawn}', '{1,1}', 5)",
            (vector,),
        )
        assert conn.execute("SELECT attstorage FROM pg_attribute WHERE attrelid = 'turns'::regclass "
                            "AND attname = 'embedding'").fetchone()[0] == "e"  # fmt: skip
    store = PostgresStore(url)  # applies 0002
    ((turn, stored),) = list(store.iter_turns("default"))
    assert turn.content == "the quokka at dawn"
    np.testing.assert_array_equal(stored, vector)
    found = store.vector_matches(SCOPE, vector, filters=SearchFilters(), until=T0 + timedelta(days=99999), limit=1)
    assert [m.id for m in found] == ["t1"] and found[0].score == pytest.approx(1.0, abs=1e-5)
    with psycopg.connect(url) as conn:
        storage = conn.execute("SELECT attstorage FROM pg_attribute WHERE attrelid = 'turns'::regclass "
                               "AND attname = 'embedding'").fetchone()[0]  # fmt: skip
        assert conn.execute("SELECT to_regclass('turn_chunks_embedding') IS NOT NULL").fetchone()[0]
    assert storage == "m"  # MAIN: kept in the row unless the row outgrows a page
    store.close()
