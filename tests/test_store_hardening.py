"""The store under attack and under stress: tenant isolation in every method, one transaction
helper, SQLite errors mapped onto Engram's tree, read-only stores, concurrent first opens,
and a forget whose receipt is true about what is left in the files."""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.synchronize
import os
import sqlite3
import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engram import HashingEmbedder, Memory, SearchFilters
from engram.errors import (
    CorruptStoreError,
    StoreBusyError,
    StoreError,
    StoreFullError,
    StoreNotFoundError,
    StoreReadOnlyError,
)
from engram.model import Scope
from engram.model.keys import ApiKey
from engram.model.messages import parse_messages
from engram.providers.embedder import text_key
from engram.store.base import Store, UserScope
from engram.store.sqlite import SQLiteStore, opening
from engram.store.sqlite.transactions import map_error
from tests.conftest import FixedClock

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
SECRET = "zqxjv7391"
PIN = f"My bank PIN is {SECRET}."


def memory_of(path: Path, tenant: str, **store_options: object) -> Memory:
    store = SQLiteStore(path, **store_options)  # type: ignore[arg-type]
    return Memory(store=store, embedder=HashingEmbedder(), tenant=tenant, clock=FixedClock(NOW))


# -- 1. no tenant reaches another's data ---------------------------------------------------------


def test_another_tenants_identical_text_is_embedded_not_reused(db_path):
    """The content-hash cache was global: ``embedded == 0`` told tenant A that B had said the text."""
    with memory_of(db_path, "B") as bank:
        bank.add(PIN, user_id="u", session_id="s")
    with memory_of(db_path, "A") as attacker:
        guess = attacker.add("My bank PIN is 1234.", user_id="u", session_id="s")
        hit = attacker.add(PIN, user_id="u", session_id="s")
    assert guess.embedded == 1 and hit.embedded == 1  # both guesses look the same


def seed_tenant_b(path: Path) -> None:
    """Tenant B's user ``u``: turns in two sessions, facts, episodes, links, a pin, recall state."""
    with memory_of(path, "B") as b:
        b.add(
            [
                {"role": "user", "content": PIN},
                {"role": "user", "content": "I live in Lisbon and my dog is called Rex."},
                {"role": "assistant", "content": "Noted: Lisbon, and Rex the dog."},
            ],
            user_id="u",
            session_id="s1",
        )
        b.add(
            "I moved to Porto last spring.", user_id="u", session_id="s2", timestamp=NOW - timedelta(days=3)
        )
        b.consolidate(user_id="u")
        b.context("where do I live and what is my dog called?", user_id="u")
        b.pin([b.list(user_id="u").items[0].id], user_id="u")


def tenant_rows(path: Path, tenant: str) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path) as conn:
        return {
            table: conn.execute(f"SELECT * FROM {table} WHERE tenant=? ORDER BY 1, 2", (tenant,)).fetchall()
            for table in ("turns", "episodes", "facts", "links", "lifecycle_state", "api_keys")
        }


def test_every_store_method_in_tenant_a_sees_and_changes_nothing_of_tenant_b(db_path):
    seed_tenant_b(db_path)
    store = SQLiteStore(db_path)
    emb = HashingEmbedder()
    store.bind_embedder(emb.model_id, emb.dim)
    key, _ = _b_key(store)
    theirs = UserScope("B", "u")
    b_turns = store.list_turns(theirs, limit=100)
    b_episodes = store.list_episodes(theirs, include_archived=True)
    b_facts = store.list_facts(theirs, include_history=True, include_archived=True)
    b_links = store.list_links(theirs)
    assert b_turns and b_episodes and b_facts and b_links  # there is something to leak
    before = tenant_rows(db_path, "B")

    a = UserScope("A", "u")  # same user id, another tenant
    turn_ids = [t.id for t in b_turns]
    memory_ids = turn_ids + [e.id for e in b_episodes] + [f.id for f in b_facts]
    vector = emb.embed(["Lisbon dog Rex PIN"])[0]
    until = NOW + timedelta(days=1)
    words = ["lisbon", "rex", "pin", SECRET, "porto"]
    wide = SearchFilters(include_archived=True)
    probed: dict[str, object] = {
        "bind_embedder": store.bind_embedder(emb.model_id, emb.dim),
        "get_turns": store.get_turns(a, turn_ids) + store.get_turns(a, turn_ids, filters=wide, until=until),
        "cached_vectors": store.cached_vectors(a, [text_key(t.embedding_text()) for t in b_turns]),
        "list_turns": store.list_turns(a),
        "recent_turns": store.recent_turns(a, "s1", until=until, limit=10),
        "text_search": store.text_search(a, words, filters=wide, until=until, limit=10),
        "vector_search": store.vector_search(a, vector, filters=wide, until=until, limit=10),
        "text_matches": store.text_matches(a, words, filters=wide, until=until, limit=10),
        "vector_matches": store.vector_matches(a, vector, filters=wide, until=until, limit=10),
        "vector_scores": store.vector_scores(a, b_turns, vector),
        "adjacent_turns": store.adjacent_turns(a, b_turns[1]),
        "speaker_names": list(store.speaker_names(a)),
        "text_count": store.text_count(a, words),
        "iter_turns": list(store.iter_turns("A")),
        "list_users": store.list_users("A"),
        "list_sessions": store.list_sessions(a),
        "session_turns": store.session_turns(a, "s1")[0],
        "session_tail": [*store.session_tail(a, "s1", episodes=3)[0], *store.session_tail(a, "s1")[1]],
        "list_episodes": store.list_episodes(a, ids=[e.id for e in b_episodes], include_archived=True),
        "episode_text_search": store.episode_text_search(a, words, until=until, limit=10),
        "episode_vector_search": store.episode_vector_search(a, vector, until=until, limit=10),
        "slot_versions": [v for vs in store.slot_versions(a, [f.slot for f in b_facts]).values() for v in vs],
        "list_facts": store.list_facts(
            a, ids=[f.id for f in b_facts], include_history=True, include_archived=True
        ),
        "fact_text_search": store.fact_text_search(a, words, limit=10),
        "memory_states": [s for kind in ("turn", "episode", "fact") for s in store.memory_states(kind, a)],
        "list_links": store.list_links(a, memory_ids),
        "turns_after": store.turns_after(a, 0),
        "list_api_keys": store.list_api_keys("A"),
        "lifecycle_state": [v for v in store.lifecycle_state(a).values() if v],
        "stats": store.stats("A").turns + store.stats("A", "u").turns,
    }
    # Writes in A's scope aimed at B's ids change nothing of B's.
    probed["touch"] = [store.touch(kind, a, memory_ids, NOW) for kind in ("turn", "episode", "fact")] and []
    probed["set_memory_flags"] = [
        i
        for kind in ("turn", "episode", "fact")
        for i in store.set_memory_flags(kind, a, memory_ids, pinned=True, archived_at=NOW)
    ]
    receipt = store.forget(a, ids=turn_ids, fact_ids=[f.id for f in b_facts])
    probed["forget"] = (
        receipt.turn_ids + receipt.episode_ids + receipt.fact_ids + [receipt.links] * bool(receipt.links)
    )
    probed["forget"] += store.forget(a).turn_ids  # the whole of A's user "u"
    probed["put_links"] = store.put_links(a, b_links, NOW) and []  # same (src, dst, kind) keys as B's edges
    probed["strengthen_links"] = (
        store.strengthen_links(a, [(s, d) for s, d, _, _ in b_links], "co_used", NOW) or []
    )
    probed["update_lifecycle_state"] = store.update_lifecycle_state(a, processed_seq=10**9, llm_calls=7) or []
    for version in b_facts[:1]:
        with pytest.raises(StoreError, match="another scope"):
            store.save_facts(a, [version])  # B's version, as it is
        with pytest.raises(StoreError, match="another scope"):
            store.save_facts(a, [replace(version, tenant="A", value="hijacked")])  # B's id, relabelled
    probed["save_facts"] = []
    with store.atomic():  # A's own writes: new turns, episodes, a key
        theirs_again = parse_messages(
            [{"role": "user", "content": PIN}], Scope("A", "u", None, "s1"), now=NOW
        )
        texts = [t.embedding_text() for t in theirs_again]
        probed["insert_turns"] = [
            t.scope.tenant
            for t, _ in store.insert_turns(theirs_again, emb.embed(texts), [text_key(x) for x in texts], NOW)
        ] == ["A"] and []
        probed["put_api_key"] = (
            store.put_api_key(ApiKey("k_a", "A", None, "engram_a", NOW, None), "hash-a") or []
        )
    probed["atomic"] = []
    new_turns, vectors = store.session_turns(a, "s1")
    episode = replace(
        b_episodes[0], id="e_a_own", scope=Scope("A", "u", None, "s1"), turn_ids=(new_turns[0].id,)
    )
    probed["put_episodes"] = store.put_episodes(a, "s1", [episode], vectors[:1], NOW) or []
    probed["find_api_key"] = [] if store.find_api_key("no-such-hash") is None else ["?"]
    probed["revoke_api_key"] = [] if store.revoke_api_key("k_missing", NOW) is None else ["?"]
    probed["close"] = store.close() or []

    leaks = {name: found for name, found in probed.items() if found}
    assert leaks == {}
    assert tenant_rows(db_path, "B") == before
    assert key.tenant == "B"
    protocol = {name for name in vars(Store) if not name.startswith("_") and callable(getattr(Store, name))}
    assert protocol - set(probed) == set(), "a store method without a cross-tenant probe"


def _b_key(store: SQLiteStore) -> tuple[ApiKey, str]:
    from engram.auth import create_key

    return create_key(store, "B", "b's key")


def test_a_turn_id_of_another_tenant_is_stored_under_a_new_id_and_gets_its_facts(db_path):
    with memory_of(db_path, "B") as b:
        (theirs,) = b.add("I live in Lisbon.", user_id="u", session_id="s").turns
    store = SQLiteStore(db_path)
    emb = HashingEmbedder()
    store.bind_embedder(emb.model_id, emb.dim)
    (mine,) = parse_messages(
        [{"role": "user", "content": "I live in Oslo.", "id": theirs.id}], Scope("A", "u", None, "s"), now=NOW
    )
    ((stored, new),) = store.insert_turns(
        [mine], emb.embed(["I live in Oslo."]), [text_key("I live in Oslo.")], NOW
    )
    assert new and stored.id != theirs.id and stored.scope.tenant == "A"
    assert store.get_turns(UserScope("B", "u"), [theirs.id])[0].content == "I live in Lisbon."
    store.close()


# -- 2. one transaction helper ------------------------------------------------------------------


def put_key(store: SQLiteStore, key_id: str) -> None:
    store.put_api_key(ApiKey(key_id, "t", None, "engram_x", NOW, None), f"hash-{key_id}")


def test_atomic_nests_as_savepoints_and_rolls_back_only_what_failed(db_path):
    store = SQLiteStore(db_path)
    with store.atomic():
        put_key(store, "k1")
        with pytest.raises(ValueError, match="inner"), store.atomic():
            put_key(store, "k2")
            raise ValueError("inner")
        put_key(store, "k3")
    with pytest.raises(RuntimeError, match="outer"), store.atomic():
        put_key(store, "k4")
        raise RuntimeError("outer")  # the original error, not a rollback's
    assert [k.id for k in store.list_api_keys()] == ["k1", "k3"]
    assert not store._conn.in_transaction
    store.close()


def test_a_failed_statement_inside_atomic_keeps_its_own_error_and_nothing_of_the_unit(db_path):
    store = SQLiteStore(db_path)
    put_key(store, "k1")
    with pytest.raises(StoreError) as caught, store.atomic():
        put_key(store, "k2")
        put_key(store, "k1")  # UNIQUE constraint: mapped, and the unit is rolled back
    assert "UNIQUE" in str(caught.value) and isinstance(caught.value.__cause__, sqlite3.IntegrityError)
    assert [k.id for k in store.list_api_keys()] == ["k1"]
    store.close()


# -- 3. SQLite errors mapped at one boundary ------------------------------------------------------


def test_a_locked_store_raises_store_busy_naming_the_file_and_loses_nothing(db_path):
    with memory_of(db_path, "t") as mem:
        mem.add("kept before the lock", user_id="u", session_id="s")
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with memory_of(db_path, "t", timeout=0.1) as mem:
            with pytest.raises(StoreBusyError, match=f"{db_path}.*another process.*[Rr]etry"):
                mem.add("written while locked", user_id="u", session_id="s")
            assert [h.turn.content for h in mem.search("kept", user_id="u")] == ["kept before the lock"]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with memory_of(db_path, "t") as mem:
        assert mem.add("written after", user_id="u", session_id="s").added == 1
        assert mem.stats(user_id="u").turns == 2


def test_a_full_disk_raises_store_full_and_rolls_the_write_back(db_path):
    with memory_of(db_path, "t") as mem:
        mem.add("kept before the disk filled", user_id="u", session_id="s")
        store = mem.store
        assert isinstance(store, SQLiteStore)
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(f"PRAGMA max_page_count={pages + 1}")  # the "disk" holds one more page
        with pytest.raises(StoreFullError, match="full"):
            mem.add(
                [{"role": "user", "content": f"long text {i} " * 400} for i in range(20)],
                user_id="u",
                session_id="s",
            )
        assert not store._conn.in_transaction
        assert mem.stats(user_id="u").turns == 1
        store._conn.execute("PRAGMA max_page_count=1073741823")
        assert mem.add("written after space was freed", user_id="u", session_id="s").added == 1


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda c: c.execute("SELECT * FROM nowhere"), StoreError),
        (
            lambda c: sqlite3.connect("file:/nonexistent/dir/x.db?mode=ro", uri=True).execute("SELECT 1"),
            StoreError,
        ),
    ],
)
def test_other_sqlite_errors_map_to_store_error(make, expected):
    conn = sqlite3.connect(":memory:")
    with pytest.raises(sqlite3.Error) as caught:
        make(conn)
    error = map_error(caught.value, "x.db")
    assert type(error) is expected and "x.db" in str(error)


def test_a_damaged_file_is_a_corrupt_store(db_path):
    db_path.write_bytes(b"SQLite format 3\x00" + b"\x07" * 4000)
    with pytest.raises(CorruptStoreError, match=f"cannot open {db_path}"):
        SQLiteStore(db_path)


# -- 4. read-only stores, and reads that never create one ------------------------------------------


def unwritable(monkeypatch: pytest.MonkeyPatch, *paths: Path) -> None:
    """Make ``paths`` read-only for this user (also when the tests run as root, who may write anything)."""
    for path in paths:
        path.chmod(0o555 if path.is_dir() else 0o444)
    if os.geteuid() == 0:
        real = os.access
        denied = {str(p) for p in paths}
        monkeypatch.setattr(
            opening.os,
            "access",
            lambda p, mode: False if str(p) in denied and mode & os.W_OK else real(p, mode),
        )


def side_files(path: Path) -> dict[str, int]:
    return {
        suffix: stat.S_IMODE(Path(f"{path}{suffix}").stat().st_mode)
        for suffix in ("-wal", "-shm")
        if Path(f"{path}{suffix}").exists()
    }


def test_a_read_only_file_is_searched_refuses_writes_and_leaves_no_unwritable_wal_files(db_path, monkeypatch):
    with memory_of(db_path, "t") as mem:
        mem.add("the lighthouse keeper's log", user_id="u", session_id="s")
    unwritable(monkeypatch, db_path)
    with memory_of(db_path, "t") as mem:
        assert mem.store.read_only  # type: ignore[attr-defined]
        assert [h.turn.content for h in mem.search("lighthouse", user_id="u")] == [
            "the lighthouse keeper's log"
        ]
        assert mem.context("lighthouse", user_id="u").text  # recall is not recorded, and does not fail
        with pytest.raises(StoreReadOnlyError, match=r"read-only.*writable"):
            mem.add("a write", user_id="u", session_id="s")
    assert all(mode & stat.S_IWUSR for mode in side_files(db_path).values()), side_files(db_path)
    monkeypatch.undo()
    db_path.chmod(0o644)
    with memory_of(db_path, "t") as mem:  # writable again: the -wal/-shm left behind do not break writes
        assert mem.add("a write, later", user_id="u", session_id="s").added == 1


def test_a_store_in_a_read_only_folder_can_be_searched(tmp_path, monkeypatch):
    folder = tmp_path / "archive"
    path = folder / "engram.db"
    with memory_of(path, "t") as mem:
        mem.add("the archived expedition notes", user_id="u", session_id="s")
    unwritable(monkeypatch, path, folder)
    try:
        with memory_of(path, "t") as mem:
            assert [h.turn.content for h in mem.search("expedition", user_id="u")] == [
                "the archived expedition notes"
            ]
            with pytest.raises(StoreReadOnlyError):
                mem.forget(user_id="u")
        assert sorted(p.name for p in folder.iterdir()) == ["engram.db"]
    finally:
        folder.chmod(0o755)


def test_read_only_option_and_a_missing_store_that_is_not_created(tmp_path):
    missing = tmp_path / "typo" / "engram.db"
    for options in ({"create": False}, {"read_only": True}):
        with pytest.raises(StoreNotFoundError, match=f"no Engram store at {missing}.*typo"):
            SQLiteStore(missing, **options)  # type: ignore[arg-type]
    assert not (tmp_path / "typo").exists()
    with memory_of(missing, "t") as mem:  # the default still creates it
        mem.add("hello", user_id="u", session_id="s")
    with memory_of(missing, "t", read_only=True) as mem:
        assert mem.stats().turns == 1
        with pytest.raises(StoreReadOnlyError):
            mem.delete(mem.list(user_id="u").items[0].id, user_id="u")


# -- 5. concurrent first opens --------------------------------------------------------------------


def _open_when_released(
    barrier: multiprocessing.synchronize.Barrier, paths: list[str], errors: multiprocessing.Queue
) -> None:  # type: ignore[type-arg]
    for path in paths:
        barrier.wait()
        try:
            store = SQLiteStore(path, timeout=10)
            store.bind_embedder("m", 4)
            store.close()
        except Exception as exc:
            errors.put(f"{type(exc).__name__}: {exc}")


def test_processes_opening_a_new_file_at_once_all_succeed(tmp_path):
    context = multiprocessing.get_context("fork")
    workers, rounds = 8, 6
    barrier = context.Barrier(workers)
    errors = context.Queue()
    paths = [str(tmp_path / f"round{r}" / "new.db") for r in range(rounds)]
    processes = [
        context.Process(target=_open_when_released, args=(barrier, paths, errors)) for _ in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    assert failures == [] and [p.exitcode for p in processes] == [0] * workers
    for path in paths:
        with contextlib.closing(SQLiteStore(path)) as store:
            assert store.embedding_model == "m"


# -- 6. forget that always scrubs ---------------------------------------------------------------


def leftovers(path: Path) -> dict[str, int]:
    """Where the forgotten secret's bytes still are: file suffix -> occurrences."""
    found = {}
    for suffix in ("", "-wal", "-shm"):
        file = Path(f"{path}{suffix}")
        if file.exists():
            count = file.read_bytes().count(SECRET.encode())
            if count:
                found[suffix or "db"] = count
    return found


def remember_the_pin(path: Path) -> None:
    with memory_of(path, "t") as mem:
        mem.add(
            [{"role": "user", "content": PIN}, {"role": "user", "content": "I walk to work."}],
            user_id="u",
            session_id="s",
        )
        mem.add("Something else entirely.", user_id="u", session_id="s2")
        assert leftovers(path)  # the test can see the secret when it is there


def test_forget_without_readers_scrubs_every_file(db_path):
    remember_the_pin(db_path)
    with memory_of(db_path, "t") as mem:
        receipt = mem.forget(user_id="u", session_id="s")
        assert receipt.turn_ids and not receipt.scrub_pending
        assert leftovers(db_path) == {}  # db, -wal and -shm, full-text shadow tables included
        deleted = mem.delete(mem.list(user_id="u").items[0].id, user_id="u")
        assert deleted.deleted_ids and not deleted.scrub_pending


def test_forget_while_another_connection_reads_says_the_scrub_is_pending_then_finishes_it(db_path):
    remember_the_pin(db_path)
    reader = sqlite3.connect(db_path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM turns").fetchone()  # holds a snapshot with the secret in it
    with memory_of(db_path, "t", scrub_wait=0.2) as mem:
        receipt = mem.forget(user_id="u", session_id="s")
        assert receipt.turn_ids and receipt.scrub_pending  # the receipt is true: it could not scrub yet
        assert all(SECRET not in h.turn.content for h in mem.search(SECRET, user_id="u"))  # no query finds it
        assert leftovers(db_path)  # still in the main file: the checkpoint that overwrites it must wait
        assert not mem.store.finish_scrub(wait=0)  # type: ignore[attr-defined]
        reader.execute("COMMIT")
        assert mem.store.finish_scrub()  # type: ignore[attr-defined]
        assert leftovers(db_path) == {}
    reader.close()


def test_a_pending_scrub_is_finished_by_the_next_write(db_path):
    remember_the_pin(db_path)
    reader = sqlite3.connect(db_path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM turns").fetchone()
    with memory_of(db_path, "t", scrub_wait=0) as mem:
        assert mem.forget(user_id="u", session_id="s").scrub_pending
        reader.execute("COMMIT")
        mem.add("an unrelated write", user_id="u", session_id="s3")
        assert leftovers(db_path) == {}
    reader.close()


def test_a_pending_scrub_is_finished_by_another_process_or_the_next_run(db_path):
    remember_the_pin(db_path)
    reader = sqlite3.connect(db_path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM turns").fetchone()
    forgetting = memory_of(db_path, "t", scrub_wait=0)
    assert forgetting.forget(user_id="u", session_id="s").scrub_pending
    other = memory_of(db_path, "t")  # another process's store: it sees the pending flag in the file
    reader.execute("COMMIT")
    reader.close()
    other.add("an unrelated write", user_id="v", session_id="s")
    assert leftovers(db_path) == {}
    other.close()
    forgetting.close()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM engram_meta WHERE key='scrub_pending'").fetchone()[0] == 0
