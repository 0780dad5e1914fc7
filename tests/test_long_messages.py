"""Long messages (issue 11, item 2): 1 MiB accepted at every door, chunk vectors, migration, forget."""

from __future__ import annotations

import importlib.util
import io
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from engram import HashingEmbedder, Memory, SQLiteStore
from engram.errors import ValidationError
from engram.formats.longmemeval import parse_longmemeval
from engram.model.limits import MAX_CONTENT_BYTES
from engram.providers.chunking import (
    CHUNK_MIN_PIECES,
    OVERLAP_PIECES,
    WINDOW_PIECES,
    chunk_texts,
    text_windows,
)
from engram.read.excerpt import excerpt
from engram.store.vectors import ScopeVectors

TAIL = "Finally, the launch code for the observatory vault is zanzibar quokka."
SENTENCE = "Paragraph about gardening, compost heaps and seasonal planting in the café.\n"


def document(size: int = MAX_CONTENT_BYTES, tail: str = TAIL) -> str:
    """A text of exactly ``size`` UTF-8 bytes that says ``tail`` only at its very end."""
    room = size - len(tail.encode()) - 1
    body = (SENTENCE * (room // len(SENTENCE.encode()) + 1)).encode()[:room].decode("utf-8", "ignore")
    text = body + " " * (room - len(body.encode())) + " " + tail
    assert len(text.encode()) == size
    return text


def other_turns(memory: Memory, user: str = "u") -> None:
    memory.add(
        [{"role": "user", "content": f"Note {n}: the bakery on Elm street opens at {n} am."} for n in range(40)],
        user_id=user,
        session_id="s2",
    )


def vector_ids(memory: Memory, query: str, user: str = "u") -> list[tuple[str, float]]:
    hits = memory.search(query, user_id=user, k=5, config="vector").hits
    return [(hit.turn.id, round(hit.score, 6)) for hit in hits]


def test_a_1_mib_message_round_trips_and_its_last_part_is_found_then_forgotten(tmp_path: Path) -> None:
    text = document()
    memory = Memory(tmp_path / "a.db", embedder=HashingEmbedder())
    (turn,) = memory.add(text, user_id="u", session_id="s").turns
    other_turns(memory)
    assert memory.get(turn.id, user_id="u").content == text
    # only its last window says it: found by its chunk vector, and by full text
    assert vector_ids(memory, "observatory vault launch code zanzibar quokka")[0][0] == turn.id
    assert memory.search("zanzibar quokka", user_id="u", k=3, config="bm25").hits[0].turn.id == turn.id
    # the context shows it as a query-focused excerpt that holds the answer
    context = memory.context("What is the launch code of the observatory vault?", user_id="u", budget_tokens=400)
    assert "zanzibar quokka" in context.text and context.tokens <= 400

    exported = io.StringIO()
    assert memory.export(exported, with_vectors=True) == 41
    copy = Memory(tmp_path / "b.db", embedder=HashingEmbedder())
    copy.import_(io.StringIO(exported.getvalue()))
    assert copy.get(turn.id, user_id="u").content == text
    # chunk vectors are embedded again on import: the same search, the same scores
    query = "observatory vault launch code zanzibar quokka"
    assert vector_ids(copy, query) == vector_ids(memory, query)
    copy.close()

    store = memory.store
    assert isinstance(store, SQLiteStore)
    assert store._conn.execute("SELECT count(*) FROM turn_chunks").fetchone()[0] == len(chunk_texts(text))
    memory.forget(user_id="u", ids=[turn.id])
    assert store._conn.execute("SELECT count(*) FROM turn_chunks").fetchone()[0] == 0
    assert turn.id not in [found for found, _ in vector_ids(memory, query)]
    memory.close()


def test_a_long_message_is_kept_whole_and_found_by_its_words_on_every_backend(memory: Memory) -> None:
    # 64 KiB: chunked on both backends; only its last window says it
    text = document(64 * 1024)
    (turn,) = memory.add(text, user_id="u", session_id="s").turns
    other_turns(memory)
    assert memory.get(turn.id, user_id="u").content == text
    assert vector_ids(memory, "observatory vault launch code zanzibar quokka")[0][0] == turn.id
    assert memory.search("zanzibar quokka", user_id="u", k=3, config="bm25").hits[0].turn.id == turn.id
    assert "zanzibar quokka" in memory.context("What is the vault's launch code?", user_id="u", budget_tokens=400).text
    memory.forget(user_id="u", ids=[turn.id])
    assert turn.id not in [hit.turn.id for hit in memory.search("zanzibar quokka", user_id="u", k=5).hits]


def test_over_the_limit_is_refused_and_writes_nothing(memory: Memory) -> None:
    memory.add("kept", user_id="u", session_id="s")
    with pytest.raises(ValidationError, match=r"1,048,577 bytes; the limit is 1,048,576 bytes \(1 MiB\)"):
        memory.add(
            [{"role": "user", "content": "fine"}, {"role": "user", "content": document(MAX_CONTENT_BYTES + 1)}],
            user_id="u",
            session_id="s",
        )
    assert memory.stats(user_id="u").turns == 1


def test_rest_accepts_a_1_mib_message_and_refuses_a_longer_one(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from engram import AsyncMemory
    from engram.server import create_app

    text = document()
    amem = AsyncMemory(tmp_path / "server.db", embedder=HashingEmbedder())
    with TestClient(create_app(amem, require_keys=False)) as client:
        added = client.post("/v1/turns", json={"user_id": "u", "session_id": "s", "messages": [{"role": "user", "content": text}]})
        assert added.status_code == 200, added.text[:300]
        turn_id = added.json()["ids"][0]
        assert client.get(f"/v1/turns/{turn_id}", params={"user_id": "u"}).json()["content"] == text
        too_long = {"user_id": "u", "session_id": "s", "messages": [{"role": "user", "content": text + "!"}]}
        refused = client.post("/v1/turns", json=too_long)
        assert refused.status_code == 422 and "1 MiB" in refused.text
        assert client.get("/v1/stats", params={"user_id": "u"}).json()["turns"] == 1
    amem.sync.close()


def test_windows_cover_the_text_in_order_with_overlap() -> None:
    assert text_windows("short text") == ["short text"] and chunk_texts("short text") == []
    assert chunk_texts("word " * CHUNK_MIN_PIECES) == []  # a long chat reply keeps one vector
    assert len(chunk_texts("word " * (CHUNK_MIN_PIECES + 1))) == 21  # 22 windows, the first is its own
    words = [f"w{n}" for n in range(1000)]
    windows = text_windows(" ".join(words))
    assert windows[0].startswith("w0 ") and windows[-1].endswith("w999")
    stride = WINDOW_PIECES - OVERLAP_PIECES
    assert [w.split()[0] for w in windows] == [f"w{n}" for n in range(0, 1000 - OVERLAP_PIECES, stride)]
    assert all(len(w.split()) <= WINDOW_PIECES for w in windows)
    with pytest.raises(ValueError):
        text_windows("x", pieces=4, overlap=4)


def test_a_turn_scores_its_best_row_and_is_returned_once() -> None:
    index = ScopeVectors(2)
    rows = np.array([[1, 0], [0.6, 0.8], [0, 1], [0.8, 0.6]], dtype=np.float32)
    # seq 1 has its own vector and two chunk rows; seq 2 one vector
    index.append(np.array([1, 1, 1, 2]), np.array([5, 5, 5, 6]), rows)
    query = np.array([0, 1], dtype=np.float32)
    assert index.search(query, 5, until=10) == [(1, 1.0), (2, pytest.approx(0.6))]
    assert index.search(query, 1, until=10) == [(1, 1.0)]
    assert index.best_scores(np.array([2, 1, 7]), query) == {2: pytest.approx(0.6), 1: 1.0}
    index.set_active(np.array([1]), False)
    assert index.search(query, 5, until=10) == [(2, pytest.approx(0.6))]
    assert index.best_scores(np.array([1, 2]), query) == {2: pytest.approx(0.6)}


# Not pytest.importorskip: importing usearch before onnxruntime crashes the process (the
# store imports them in the right order), so a test run that imported usearch first died.
@pytest.mark.skipif(importlib.util.find_spec("usearch") is None, reason="usearch not installed")
def test_hnsw_search_returns_each_chunked_turn_once() -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(600, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    seqs = np.repeat(np.arange(200), 3)  # every turn: its vector and two chunks
    index = ScopeVectors(16, hnsw_threshold=100)
    index.append(seqs, np.zeros(600, dtype=np.int64), vectors)
    assert index.build_index(wait=True)
    query = vectors[301]
    found = index.search(query, 10, until=1)
    assert len({seq for seq, _ in found}) == 10 and found[0] == (100, pytest.approx(1.0))


def test_an_older_store_file_is_upgraded_and_its_turns_stay_searchable(db_path: Path) -> None:
    memory = Memory(db_path, embedder=HashingEmbedder())
    (old,) = memory.add("I keep my bicycle in the garden shed.", user_id="u", session_id="s").turns
    memory.close()
    with sqlite3.connect(db_path) as conn:  # as the previous version left it
        conn.execute("DROP TRIGGER turn_chunks_delete")
        conn.execute("DROP TABLE turn_chunks")
        conn.execute("DELETE FROM engram_migrations WHERE name='0005_turn_chunks'")
    conn.close()
    memory = Memory(db_path, embedder=HashingEmbedder())
    assert memory.search("bicycle garden shed", user_id="u", config="vector").hits[0].turn.id == old.id
    (long,) = memory.add(document(20_000), user_id="u", session_id="s").turns
    assert vector_ids(memory, "observatory vault launch code zanzibar quokka")[0][0] == long.id
    memory.close()


def test_longmemeval_s_longest_message_loads_and_is_stored_whole(memory: Memory) -> None:
    text = document(76_719)  # LongMemEval_S's longest message, in bytes
    raw = [
        {
            "question_id": "q1",
            "question_type": "single-session-user",
            "question": "What is the launch code?",
            "answer": "zanzibar quokka",
            "question_date": "2023/05/30 (Tue) 10:00",
            "haystack_session_ids": ["a1"],
            "haystack_dates": ["2023/05/20 (Sat) 10:00"],
            "haystack_sessions": [[{"role": "user", "content": text, "has_answer": True}]],
            "answer_session_ids": ["a1"],
        }
    ]
    (conversation,) = parse_longmemeval(raw).conversations
    (session,) = conversation.sessions
    (turn,) = memory.add(session.messages, user_id="u", session_id=session.id).turns
    assert memory.get(turn.id, user_id="u").content == text


def test_an_excerpt_of_a_1_mib_turn_is_the_part_the_question_asks_about() -> None:
    text = document()

    def count(piece: str) -> int:
        return len(piece.split())

    shown = excerpt(text, ["launch", "code", "observatory"], max_tokens=60, count=count)
    assert "zanzibar quokka" in shown and count(shown) <= 60
    assert excerpt(text, ["nothing", "matches"], max_tokens=30, count=count).startswith("Paragraph about")


def test_a_large_budget_takes_the_next_best_memories_and_a_small_one_keeps_the_best(memory: Memory) -> None:
    """Issue 11 item 3: the context used to stop at its ``candidates`` best memories."""
    memory.add(
        [{"role": "user", "content": f"Trip {n}: we hiked the ridge trail near lake {n} and camped."} for n in range(150)],
        user_id="u",
        session_id="s",
    )
    question = "Which ridge trail did we hike near the lake?"
    small = memory.context(question, user_id="u", budget_tokens=300, candidates=10, reinforce=False)
    large = memory.context(question, user_id="u", budget_tokens=3000, candidates=10, reinforce=False)
    assert large.tokens >= 0.9 * 3000  # not the ~10 turns the candidates alone would give
    assert {i.turn.id for i in small.items} <= {i.turn.id for i in large.items}
    head = [hit.turn.id for hit in memory.search(question, user_id="u", k=10).hits]
    assert set(head) <= {i.turn.id for i in large.items}  # the best memories first


def test_a_longmemeval_message_over_the_limit_is_cut_and_counted_not_a_crash(memory: Memory) -> None:
    from engram.formats.dataset import CUT_KEY

    raw = [
        {
            "question_id": "q1",
            "question_type": "single-session-user",
            "question": "What did I paste?",
            "answer": "a document",
            "question_date": "2023/05/30 (Tue) 10:00",
            "haystack_session_ids": ["a1"],
            "haystack_dates": ["2023/05/20 (Sat) 10:00"],
            "haystack_sessions": [[{"role": "user", "content": "é" * (MAX_CONTENT_BYTES // 2 + 1)}]],
            "answer_session_ids": ["a1"],
        }
    ]
    (message,) = parse_longmemeval(raw).conversations[0].sessions[0].messages
    assert message["metadata"][CUT_KEY] == MAX_CONTENT_BYTES + 2
    assert len(message["content"].encode()) == MAX_CONTENT_BYTES
    memory.add([message], user_id="u", session_id="s")  # the store takes it
