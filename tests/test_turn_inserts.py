"""A batch of turns goes into SQLite as a few multi-row INSERTs (issue 16, item 2, sixth pass).

FTS5 writes its pending terms out at every statement that changes its table, so one INSERT a
turn wrote one segment a turn and merged them again and again. The batch is now placed first
(which id each turn is stored under, and whether it is new) exactly as inserting the turns one
by one decided, then written many rows a statement: the same rows, the same seqs, and a
full-text index that holds the same terms (its segments are fewer).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engram import HashingEmbedder
from engram.errors import StoreError
from engram.model import NewTurn, Scope, SearchFilters, Turn
from engram.model.turn import content_hash
from engram.providers.embedder import text_key
from engram.store.base import UserScope
from engram.store.sqlite import SQLiteStore
from engram.store.sqlite.store import ROWS_PER_INSERT, _rederived_id

T0 = datetime(2024, 1, 1, tzinfo=UTC)
EMB = HashingEmbedder(32)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "m.db")
    s.bind_embedder(EMB.model_id, EMB.dim)
    yield s
    s.close()


def turn(turn_id: str, user: str, text: str, *, tenant: str = "B", minute: int = 0) -> NewTurn:
    return NewTurn(
        id=turn_id,
        scope=Scope(tenant, user, None, "s"),
        role="user",
        content=text,
        timestamp=T0 + timedelta(minutes=minute),
        content_hash=content_hash(text),
        name=None,
        metadata={"n": minute},
    )


def insert(store: SQLiteStore, turns: list[NewTurn]) -> list[tuple[Turn, bool]]:
    texts = [t.embedding_text() for t in turns]
    return store.insert_turns(turns, EMB.embed(texts), [text_key(text) for text in texts], T0)


def rows(store: SQLiteStore) -> list[tuple[int, str, str, str, str]]:
    return store._conn.execute("SELECT seq, id, tenant, user_id, content FROM turns ORDER BY seq").fetchall()


def test_ids_taken_elsewhere_and_repeats_are_placed_as_one_by_one_inserts_placed_them(
    store: SQLiteStore,
) -> None:
    insert(store, [turn("t_x", "u1", "held by A", tenant="A")])
    batch = [
        turn("t_1", "u1", "new"),
        turn("t_x", "u1", "A's id", minute=1),  # another tenant's: derived again for (B, u1)
        turn("t_1", "u1", "new, again", minute=2),  # the same owner: that turn, not inserted
        turn("t_y", "u1", "first of two users", minute=3),
        turn("t_y", "u2", "second of two users", minute=4),  # taken by u1 a row before: derived again
        turn("t_2", "u2", "last", minute=5),
    ]
    result = insert(store, batch)
    x, y = _rederived_id("t_x", "B", "u1"), _rederived_id("t_y", "B", "u2")
    assert rows(store) == [
        (1, "t_x", "A", "u1", "held by A"),
        (2, "t_1", "B", "u1", "new"),
        (3, x, "B", "u1", "A's id"),
        (4, "t_y", "B", "u1", "first of two users"),
        (5, y, "B", "u2", "second of two users"),
        (6, "t_2", "B", "u2", "last"),
    ]
    assert [(t.id, t.seq, new) for t, new in result] == [
        ("t_1", 2, True),
        (x, 3, True),
        ("t_1", 2, True),  # the repeat is reported as the turn its id is (new in this call)
        ("t_y", 4, True),
        (y, 5, True),
        ("t_2", 6, True),
    ]
    again = insert(store, batch)  # everything is held now: nothing new, the same ids
    assert [(t.id, new) for t, new in again] == [(t.id, False) for t, _ in result]
    assert len(rows(store)) == 6


def test_a_rederived_id_taken_by_someone_else_too_fails_and_writes_nothing(store: SQLiteStore) -> None:
    insert(store, [turn("t_x", "u1", "A's", tenant="A")])
    insert(store, [turn(_rederived_id("t_x", "B", "u1"), "u9", "someone else's", tenant="C")])
    with pytest.raises(StoreError, match="another scope"):
        insert(store, [turn("t_new", "u1", "would be stored"), turn("t_x", "u1", "collides twice", minute=1)])
    assert [row[1] for row in rows(store)] == ["t_x", _rederived_id("t_x", "B", "u1")]


def test_a_large_batch_is_a_few_statements_with_every_turn_in_order_and_indexed(store: SQLiteStore) -> None:
    insert(store, [turn("t_5", "u1", "held by A", tenant="A")])
    count = 2 * ROWS_PER_INSERT + 45
    batch = [turn(f"t_{n}", "u1", f"message {n} about kayak{n}", minute=n) for n in range(count)]
    statements: list[str] = []
    store._conn.set_trace_callback(statements.append)
    result = insert(store, batch)
    store._conn.set_trace_callback(None)
    # a statement is traced again for each row its full-text trigger runs on: count them once
    inserts = {sql for sql in statements if " INTO turns(" in sql}
    assert len(inserts) == math.ceil(count / ROWS_PER_INSERT)  # was one a turn
    assert [t.seq for t, _ in result] == list(range(2, count + 2))
    assert result[5][0].id == _rederived_id("t_5", "B", "u1")
    read = store.get_turns(UserScope("B", "u1"), [t.id for t, _ in result])
    assert [t for t, _ in result] == sorted(read, key=lambda t: t.seq)  # what a read gives
    store._conn.execute("INSERT INTO turns_fts(turns_fts, rank) VALUES ('integrity-check', 1)")
    scope = UserScope("B", "u1")
    for n in (0, ROWS_PER_INSERT, count - 1):
        found = store.text_matches(
            scope, [f"kayak{n}"], filters=SearchFilters(), until=T0 + timedelta(days=1), limit=5
        )
        assert [match.id for match in found] == [result[n][0].id]


def test_the_full_text_index_holds_what_one_by_one_inserts_gave_it(
    store: SQLiteStore, tmp_path: Path
) -> None:
    batch = [turn(f"t_{n}", "u1", f"the {n % 7} quick foxes jumped {n}", minute=n) for n in range(300)]
    insert(store, batch)
    one_by_one = SQLiteStore(tmp_path / "one.db")
    one_by_one.bind_embedder(EMB.model_id, EMB.dim)
    for single in batch:
        insert(one_by_one, [single])
    one_by_one.close()
    store._conn.execute("ATTACH ? AS other", (str(tmp_path / "one.db"),))
    terms = []
    for schema in ("main", "other"):
        store._conn.execute(
            f"CREATE VIRTUAL TABLE temp.{schema}_terms USING fts5vocab({schema}, turns_fts, instance)"
        )
        terms.append(store._conn.execute(f"SELECT * FROM temp.{schema}_terms ORDER BY 1, 2, 3, 4").fetchall())
    assert terms[0] == terms[1] and len(terms[0]) > 1000
    segments = [
        store._conn.execute(f"SELECT count(*) FROM {schema}.turns_fts_data").fetchone()[0]
        for schema in ("main", "other")
    ]
    assert segments[0] < segments[1]


def test_a_build_allowing_few_bound_values_writes_fewer_rows_a_statement(store: SQLiteStore) -> None:
    store._conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 40)  # two rows of 17 values
    result = insert(store, [turn(f"t_{n}", "u1", f"text {n}", minute=n) for n in range(5)])
    assert [t.seq for t, _ in result] == [1, 2, 3, 4, 5]


def test_long_messages_are_written_fewer_a_statement(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engram.store.sqlite import store as module

    monkeypatch.setattr(module, "CHARS_PER_INSERT", 100)  # SQLite copies what a statement binds
    texts = ["x" * 40, "y" * 40, "z" * 40, "w" * 150, "v" * 10, "u" * 10]
    statements: list[str] = []
    store._conn.set_trace_callback(statements.append)
    result = insert(store, [turn(f"t_{n}", "u1", text, minute=n) for n, text in enumerate(texts)])
    store._conn.set_trace_callback(None)
    inserts = [sql for sql in dict.fromkeys(statements) if " INTO turns(" in sql]
    assert [sql.count("RETURNING") and sql.count("'t_") for sql in inserts] == [2, 1, 1, 2]  # 150 alone
    assert [t.seq for t, _ in result] == [1, 2, 3, 4, 5, 6]
